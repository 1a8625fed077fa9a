//! Tidemark's Kafka offsets are Kafka Connect's: a real Connect 4.4 distributed worker with
//! Debezium 3.6.1's Postgres connector (`tests/support/kafka/connect.rs`) reads the offset
//! Tidemark wrote to `offset.storage.topic` and Debezium resumes from it, and Tidemark resumes
//! from the offset Debezium committed through Connect, with no second snapshot. The two share
//! the connector name, `topic.prefix`, slot and publication (Debezium's defaults `debezium` and
//! `dbz_publication`), so they share the change topics too: what Debezium wrote and what
//! Tidemark wrote are told apart by their position in the topic (everything before the
//! hand-over is the first one's), which also keeps the comparison on one topic and one key
//! schema, as a consumer sees it during a migration.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use tidemark_tests::capture::{normalize, pg_properties};
use tidemark_tests::kafka::{Connect, ConnectOptions, Consumed, InitialState, Kafka, read_topics};
use tidemark_tests::postgres::Postgres;
use tidemark_tests::process::{signal, spawn_tidemark};
use tidemark_tests::write_properties;

const TIMEOUT: Duration = Duration::from_secs(90);
/// Debezium's defaults, which Tidemark is given too.
const SLOT: &str = "debezium";
const PUBLICATION: &str = "dbz_publication";

/// A server with database `shop` and table `orders` holding rows `1..=rows`.
fn shop(rows: i64) -> Postgres {
    let server = Postgres::start();
    server.create_database("shop");
    server.psql(
        "shop",
        &format!(
            "CREATE TABLE orders (id int PRIMARY KEY, note text);
             INSERT INTO orders SELECT g, 'n' || g FROM generate_series(1, {rows}) g"
        ),
    );
    server
}

/// The connector's properties, the same for Tidemark and for Debezium on Connect.
fn connector_properties(server: &Postgres, name: &str, prefix: &str) -> Vec<(String, String)> {
    let mut props = pg_properties(
        server,
        "shop",
        Path::new("/nonexistent"),
        &[
            ("name", name),
            ("topic.prefix", prefix),
            ("slot.name", SLOT),
            ("publication.name", PUBLICATION),
            ("snapshot.mode", "initial"),
            ("topic.creation.default.partitions", "1"),
            ("topic.creation.default.replication.factor", "1"),
        ],
    );
    // Worker settings, given to each its own way.
    props.retain(|(k, _)| {
        ![
            "sink.file",
            "offset.storage.file.filename",
            "offset.flush.interval.ms",
        ]
        .contains(&k.as_str())
    });
    props
}

/// The connector's properties as the JSON config POSTed to Connect.
fn connect_config(props: &[(String, String)]) -> Json {
    Json::Object(
        props
            .iter()
            .map(|(k, v)| (k.clone(), Json::String(v.clone())))
            .collect(),
    )
}

/// `tidemark run` with the Kafka sink and the offsets in `offset_topic`; killed on drop, its
/// log printed when the test fails.
struct Tidemark {
    child: Option<Child>,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tidemark {
    fn start(props: &[(String, String)], kafka: &Kafka, offset_topic: &str) -> Tidemark {
        let dir = tempfile::tempdir().unwrap();
        let mut props = props.to_vec();
        props.extend(
            [
                ("bootstrap.servers", kafka.bootstrap().as_str()),
                ("offset.storage.topic", offset_topic),
                ("offset.storage.replication.factor", "1"),
                ("offset.flush.interval.ms", "100"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        let config = dir.path().join("connector.properties");
        write_properties(&config, &props);
        let log = dir.path().join("tidemark.log");
        let child = spawn_tidemark(&config, &log);
        Tidemark {
            child: Some(child),
            log,
            _dir: dir,
        }
    }

    /// SIGTERM (a final flush and commit); it must end cleanly.
    fn stop(&mut self) {
        let mut child = self.child.take().expect("running");
        signal(&child, "-TERM");
        let status = child.wait().unwrap();
        assert!(
            status.success(),
            "tidemark ended with {status}:\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }
}

impl Drop for Tidemark {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "tidemark's log:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}

/// Reads `topic` until `done` holds; panics after [`TIMEOUT`] with what it holds.
fn wait_records(kafka: &Kafka, topic: &str, what: &str, done: impl Fn(&[Consumed]) -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let records = read_topics(&kafka.bootstrap(), &[topic], false);
        if done(&records) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no {what} in {topic} after {TIMEOUT:?}: {:#?}",
            records.iter().map(Consumed::line).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until no one holds the replication slot (the previous connector let it go).
fn wait_slot_released(server: &Postgres) {
    let deadline = Instant::now() + TIMEOUT;
    let sql = format!("SELECT active FROM pg_replication_slots WHERE slot_name = '{SLOT}'");
    while server.psql("shop", &sql).trim() != "f" {
        assert!(Instant::now() < deadline, "slot {SLOT} is still held");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `(op, id)` of each change event (`id` of `after`, else `before`); tombstones as `("", id)`
/// with the key's id.
fn changes(records: &[Consumed]) -> Vec<(String, i64)> {
    records
        .iter()
        .map(|r| {
            let value = r.value_json();
            let key: Json = serde_json::from_slice(r.key.as_deref().unwrap()).unwrap();
            let id = value["payload"]["after"]["id"]
                .as_i64()
                .or(value["payload"]["before"]["id"].as_i64())
                .or(key["payload"]["id"].as_i64())
                .unwrap();
            let op = value["payload"]["op"].as_str().unwrap_or("").to_owned();
            (op, id)
        })
        .collect()
}

/// The offsets-topic key Connect writes for `name`'s Postgres partition.
fn offset_key(name: &str, prefix: &str) -> String {
    format!(r#"["{name}",{{"server":"{prefix}"}}]"#)
}

/// The offset records of `key` in the offsets topic, in the order written.
fn offset_records(kafka: &Kafka, topic: &str, key: &str) -> Vec<Consumed> {
    read_topics(&kafka.bootstrap(), &[topic], false)
        .into_iter()
        .filter(|r| r.key.as_deref() == Some(key.as_bytes()))
        .collect()
}

/// The one offset Connect reports for `name`, checked to be for partition `{"server": prefix}`.
fn connect_offset(connect: &Connect, name: &str, prefix: &str) -> Json {
    let answer = connect.offsets(name);
    let offsets = answer["offsets"].as_array().expect("offsets: an array");
    assert_eq!(offsets.len(), 1, "one source partition: {answer:#}");
    assert_eq!(
        offsets[0]["partition"],
        json!({"server": prefix}),
        "{answer:#}"
    );
    offsets[0]["offset"].clone()
}

#[test]
fn connect_reads_the_offset_tidemark_wrote_and_debezium_resumes_from_it() {
    let started = Instant::now();
    let kafka = Kafka::shared();
    let (name, prefix) = ("to-connect", "toconnect");
    let topic = format!("{prefix}.public.orders");
    let offsets_topic = "to-connect-offsets";
    let server = shop(3);
    let props = connector_properties(&server, name, prefix);

    // Tidemark snapshots rows 1-3, streams 4-6 and commits its offset to Kafka.
    let mut tidemark = Tidemark::start(&props, kafka, offsets_topic);
    server.wait_slot_active("shop", SLOT);
    server.psql(
        "shop",
        "INSERT INTO orders SELECT g, 'n' || g FROM generate_series(4, 6) g",
    );
    wait_records(kafka, &topic, "six rows", |r| r.len() == 6);
    tidemark.stop();
    let key = offset_key(name, prefix);
    let written = offset_records(kafka, offsets_topic, &key);
    let ours = written
        .last()
        .expect("Tidemark committed an offset")
        .value_json();
    let lsn = ours["lsn"].as_u64().expect("an lsn in Tidemark's offset");
    eprintln!("Tidemark's offset: {ours}");
    let last_event = read_topics(&kafka.bootstrap(), &[topic.as_str()], false)
        .last()
        .map(|r| r.value_json()["payload"]["source"]["lsn"].clone());
    assert!(
        last_event.and_then(|lsn| lsn.as_u64()) <= Some(lsn),
        "the offset covers the last event"
    );
    wait_slot_released(&server);

    // A Connect worker on the same offsets topic reports exactly that offset for the
    // connector of the same name, created stopped so that it does not run.
    let mut connect = Connect::start(
        kafka,
        ConnectOptions {
            offset_topic: offsets_topic.into(),
            ..ConnectOptions::default()
        },
    );
    connect.create(name, &connect_config(&props), InitialState::Stopped);
    connect.wait_state(name, "STOPPED");
    let theirs = connect_offset(&connect, name, prefix);
    assert_eq!(
        theirs["lsn"].as_u64(),
        Some(lsn),
        "Connect reads Tidemark's lsn"
    );
    assert_eq!(theirs, ours, "Connect reads Tidemark's whole offset");

    // Debezium resumes from it: rows written while neither ran arrive once, nothing is
    // snapshotted again.
    server.psql(
        "shop",
        "INSERT INTO orders SELECT g, 'n' || g FROM generate_series(7, 8) g",
    );
    connect.resume(name);
    connect.wait_running(name);
    wait_records(kafka, &topic, "rows 7 and 8", |r| r.len() >= 8);
    std::thread::sleep(Duration::from_secs(1));
    let records = read_topics(&kafka.bootstrap(), &[topic.as_str()], false);
    let expected: Vec<(String, i64)> = (1..=8)
        .map(|id| (if id <= 3 { "r" } else { "c" }.to_owned(), id))
        .collect();
    assert_eq!(
        changes(&records),
        expected,
        "Debezium took over where Tidemark stopped"
    );
    connect.stop_connector(name);
    connect.wait_state(name, "STOPPED");
    connect.stop();
    eprintln!(
        "connect_reads_the_offset_tidemark_wrote_and_debezium_resumes_from_it: {:.1?}",
        started.elapsed()
    );
}

#[test]
fn tidemark_resumes_from_the_offset_debezium_committed_without_a_second_snapshot() {
    let started = Instant::now();
    let kafka = Kafka::shared();
    let (name, prefix) = ("from-debezium", "fromdebezium");
    let topic = format!("{prefix}.public.orders");
    let server = shop(3);
    let props = connector_properties(&server, name, prefix);

    // Debezium on Connect snapshots rows 1-3 and streams 4-6 and 10.
    let connect = Connect::start(
        kafka,
        ConnectOptions {
            offset_flush_interval_ms: 200,
            ..ConnectOptions::default()
        },
    );
    let offsets_topic = connect.options.offset_topic.clone();
    connect.create(name, &connect_config(&props), InitialState::Running);
    connect.wait_running(name);
    wait_records(kafka, &topic, "the snapshot", |r| r.len() == 3);
    server.psql(
        "shop",
        "INSERT INTO orders SELECT g, 'n' || g FROM generate_series(4, 6) g;
         INSERT INTO orders VALUES (10, 'same')",
    );
    wait_records(kafka, &topic, "seven rows", |r| r.len() == 7);
    let debezium = read_topics(&kafka.bootstrap(), &[topic.as_str()], false);
    let last_lsn = debezium[6].value_json()["payload"]["source"]["lsn"]
        .as_u64()
        .unwrap();
    // Connect commits the offset of the last event within offset.flush.interval.ms.
    let deadline = Instant::now() + TIMEOUT;
    while connect_offset(&connect, name, prefix)["lsn"].as_u64() != Some(last_lsn) {
        assert!(
            Instant::now() < deadline,
            "Connect never committed lsn {last_lsn}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    connect.stop_connector(name);
    connect.wait_state(name, "STOPPED");
    let debezium_offset = connect_offset(&connect, name, prefix);
    wait_slot_released(&server);

    // While neither runs: rows 7-9 arrive, row 10 is deleted and inserted again as it was.
    server.psql(
        "shop",
        "INSERT INTO orders SELECT g, 'n' || g FROM generate_series(7, 9) g;
         DELETE FROM orders WHERE id = 10;
         INSERT INTO orders VALUES (10, 'same')",
    );

    // Tidemark, same name and offsets topic, resumes after Debezium's last event.
    let mut tidemark = Tidemark::start(&props, kafka, &offsets_topic);
    let new = [("c", 7), ("c", 8), ("c", 9), ("d", 10), ("", 10), ("c", 10)]
        .map(|(op, id)| (op.to_owned(), id));
    wait_records(kafka, &topic, "the rows written in between", |r| {
        changes(r).ends_with(&new)
    });
    std::thread::sleep(Duration::from_secs(1));
    tidemark.stop();
    let records = read_topics(&kafka.bootstrap(), &[topic.as_str()], false);
    let (theirs, ours) = records.split_at(7);
    assert_eq!(
        changes(theirs),
        [
            ("r", 1),
            ("r", 2),
            ("r", 3),
            ("c", 4),
            ("c", 5),
            ("c", 6),
            ("c", 10)
        ]
        .map(|(op, id)| (op.to_owned(), id))
    );
    // Debezium's offset lies inside its last transaction (`txId`, `lsn_proc`; its
    // `lsn_commit` is an earlier transaction's commit, or absent as here): Tidemark skips
    // that transaction's changes up to `lsn_proc`, so nothing comes twice, and nothing is
    // snapshotted again.
    let ours_changes = changes(ours);
    let (repeated, rest) = ours_changes.split_at(ours_changes.len() - new.len());
    assert_eq!(rest, new, "every row written in between, once, no snapshot");
    assert!(
        repeated.is_empty(),
        "nothing Debezium delivered comes again: {repeated:?}"
    );
    let ours = &ours[repeated.len()..];
    // Row 10 inserted again as it was: Tidemark's event is Debezium's, but for the fields
    // that differ between runs and the version (Debezium 3.6.1 here; Tidemark says 3.6.3).
    let same = |record: &Consumed| {
        let mut event = normalize(&record.line());
        event["value"]["payload"]["source"]["version"] = json!("<X>");
        event
    };
    assert_eq!(same(&ours[5]), same(&theirs[6]));
    assert_eq!(ours[5].key, theirs[6].key, "the key's bytes are the same");

    // Tidemark's offset went to the partition Connect's producer chose for the key
    // (murmur2), so compaction keeps the newest, and Connect reads it.
    let key = offset_key(name, prefix);
    let written = offset_records(kafka, &offsets_topic, &key);
    assert!(written.len() >= 2, "Debezium's and Tidemark's offsets");
    assert!(
        written.iter().all(|r| r.partition == written[0].partition),
        "one partition for the key: {:?}",
        written.iter().map(|r| r.partition).collect::<Vec<_>>()
    );
    let ours_offset = written.last().unwrap().value_json();
    assert_ne!(ours_offset, debezium_offset, "Tidemark committed");
    assert!(
        ours_offset["lsn"].as_u64() >= ours[5].value_json()["payload"]["source"]["lsn"].as_u64(),
        "Tidemark's offset covers its last event: {ours_offset}"
    );
    // The worker, still up, reads Tidemark's offset too.
    assert_eq!(connect_offset(&connect, name, prefix), ours_offset);
    eprintln!(
        "tidemark_resumes_from_the_offset_debezium_committed_without_a_second_snapshot: {:.1?}",
        started.elapsed()
    );
}
