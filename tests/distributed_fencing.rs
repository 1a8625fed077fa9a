//! A distributed worker's connector fenced while the worker still owns it (as a worker woken
//! inside `init_transactions` fences the new owner) is started again by its owner, on a real
//! Apache Kafka (KRaft) and a real Postgres. A binary of its own, with its own broker: beside
//! the thirty-connector group of `tests/distributed.rs` on one broker, a new group's statuses
//! were seen to stay unread (see `docs/scaling.md`).

use std::time::{Duration, Instant};

use tidemark_tests::group::{Group, SETTLE, Writers, connector, databases, tallies};
use tidemark_tests::kafka::Kafka;
use tidemark_tests::postgres::Postgres;

/// A connector fenced while its worker still owns it (a newer producer of its transactional
/// id, as a worker frozen inside `init_transactions` makes when it wakes) fails, and its owner
/// starts it again a few seconds later: RUNNING, and every row arrives exactly once.
#[test]
fn a_connector_fenced_while_its_worker_owns_it_is_started_again() {
    use rdkafka::producer::{BaseProducer, Producer};
    let kafka = Kafka::shared();
    let bootstrap = kafka.bootstrap();
    let server = Postgres::start();
    let dbs = databases(&server, "fenced", 1);
    let name = dbs[0].clone();
    let group = Group::new(
        1,
        "tm-fenced",
        &bootstrap,
        "scheduled.rebalance.max.delay.ms=0\n",
    );
    let (code, body) =
        group
            .worker(0)
            .call("POST", "/connectors", Some(connector(&server, &name, true)));
    assert_eq!(code, 201, "{body}");
    group.wait_running(0, 1, |_| true);
    let mut writers = Writers::start(&server, &dbs);
    writers.write_for(Duration::from_secs(2));

    let zombie: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("transactional.id", format!("tidemark-{name}"))
        .create()
        .unwrap();
    zombie
        .init_transactions(Duration::from_secs(30))
        .expect("a newer producer of the connector's transactional id");
    drop(zombie);
    let failed = |group: &Group| {
        let (connector, task, _) = group.statuses(0)[&name].clone();
        connector == "FAILED" || task == "FAILED"
    };
    let deadline = Instant::now() + SETTLE;
    while !failed(&group) {
        assert!(Instant::now() < deadline, "not fenced:\n{}", group.logs());
        writers.round();
        std::thread::sleep(Duration::from_millis(100));
    }
    let failed_at = Instant::now();
    while failed(&group) {
        assert!(
            Instant::now() < deadline,
            "left FAILED once fenced:\n{}",
            group.logs()
        );
        writers.round();
        std::thread::sleep(Duration::from_millis(100));
    }
    let (running_at, _) = group.wait_running(0, 1, |_| true);
    eprintln!(
        "fenced, then RUNNING again {:.1} s later",
        (running_at - failed_at).as_secs_f64()
    );
    writers.write_for(Duration::from_secs(2));
    let counts = writers.finish();
    let (tally, _) = tallies(&bootstrap, &dbs, &counts).remove(0);
    assert!(tally.missing.is_empty(), "rows lost: {tally:?}");
    assert!(tally.exactly_once(), "rows twice: {tally:?}");
    assert!(
        group
            .worker(0)
            .log()
            .contains("fenced while this worker owns it"),
        "the worker says why it started the connector again"
    );
}
