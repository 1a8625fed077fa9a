//! The Kafka sink and the Kafka offset store against throwaway Apache Kafka brokers
//! (`tests/support/kafka/`): output equal to the file sink's and Debezium's with tombstones
//! kept on compacted topics, topic creation, a kill -9 and restart with offsets in Kafka, a
//! broker outage, a bounded producer queue while the broker is away, and exactly-once with
//! Kafka transactions across a crash. Tests that stop their broker start one of their own;
//! the others share one broker, each with topics of its own.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rdkafka::producer::Producer;
use serde_json::Value as Json;
use tidemark::config::Properties;
use tidemark::event::{Data, JsonOptions, Record, Value};
use tidemark::sinks::Sink;
use tidemark::sinks::kafka::{KafkaConfig, KafkaSink};
use tidemark_tests::capture::{Capture, normalize, pg_properties, read_offset};
use tidemark_tests::kafka::{
    Consumed, Kafka, create_topic, partitions, read_topics, topic_config, wait_for,
};
use tidemark_tests::postgres::Postgres;
use tidemark_tests::process::spawn_tidemark;
use tidemark_tests::shop::{shop, stop_writer, write_orders, write_orders_until_stopped};
use tidemark_tests::{golden_lines, workload, write_properties};

const TIMEOUT: Duration = Duration::from_secs(90);
/// How long the broker is away in the outage test.
const OUTAGE: Duration = Duration::from_secs(30);

/// Connector properties writing to Kafka at `bootstrap` instead of the file sink.
fn kafka_properties(
    server: &Postgres,
    db: &str,
    dir: &Path,
    bootstrap: &str,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut props = pg_properties(server, db, dir, extra);
    props.retain(|(k, _)| k != "sink.file");
    props.push(("bootstrap.servers".into(), bootstrap.into()));
    props
}

/// Lines grouped by topic and key, each group in order: what Kafka keeps in order.
fn by_topic_and_key(lines: &[String]) -> BTreeMap<(String, String), Vec<Json>> {
    let mut groups: BTreeMap<(String, String), Vec<Json>> = BTreeMap::new();
    for line in lines {
        let event: Json = serde_json::from_str(line).unwrap();
        let topic = event["topic"].as_str().unwrap().to_owned();
        let key = event["key"].to_string();
        let mut normalized = normalize(line);
        normalized["headers"] = event["headers"].clone();
        groups.entry((topic, key)).or_default().push(normalized);
    }
    groups
}

fn same_groups(ours: &[String], theirs: &[String], compare_headers: bool, what: &str) {
    let strip = |mut groups: BTreeMap<(String, String), Vec<Json>>| {
        if !compare_headers {
            for events in groups.values_mut() {
                for e in events {
                    e.as_object_mut().unwrap().remove("headers");
                }
            }
        }
        groups
    };
    let (a, b) = (
        strip(by_topic_and_key(ours)),
        strip(by_topic_and_key(theirs)),
    );
    for (group, events) in &b {
        assert_eq!(
            a.get(group),
            Some(events),
            "{what}: events of {group:?} differ"
        );
    }
    assert_eq!(a.len(), b.len(), "{what}: the same topics and keys");
}

#[test]
fn postgres_to_kafka_equals_the_file_sink_and_debezium() {
    let broker = Kafka::shared();
    let server = Postgres::start();
    server.create_database("dbz");
    server.psql_file("dbz", &workload("pg-basic.sql"));
    let theirs = golden_lines("dbz/pg-basic.jsonl");

    let file_dir = tempfile::tempdir().unwrap();
    let mut file = Capture::start(
        file_dir.path().to_owned(),
        pg_properties(&server, "dbz", file_dir.path(), &[]),
    );
    // One connector sets the publication up before the other starts (both would create it).
    server.wait_slot_active("dbz", "tidemark_slot");
    let kafka_dir = tempfile::tempdir().unwrap();
    let kafka = Capture::start(
        kafka_dir.path().to_owned(),
        kafka_properties(
            &server,
            "dbz",
            kafka_dir.path(),
            &broker.bootstrap(),
            &[
                ("slot.name", "kafka_slot"),
                ("topic.creation.default.partitions", "1"),
                ("topic.creation.default.replication.factor", "1"),
                // Compacted, as Debezium's topics usually are: tombstones stay.
                ("topic.creation.default.cleanup.policy", "compact"),
                ("topic.creation.groups", "scratch"),
                ("topic.creation.scratch.include", "dbz\\.public\\.scratch"),
                ("topic.creation.scratch.partitions", "2"),
                // Its TRUNCATE event has no key, which a compacted topic refuses.
                ("topic.creation.scratch.cleanup.policy", "delete"),
            ],
        ),
    );
    server.wait_slot_active("dbz", "kafka_slot");
    server.psql_file("dbz", &workload("pg-basic-stream.sql"));
    let from_file = file.wait_lines(theirs.len(), TIMEOUT);
    let topics = ["dbz.public.customers", "dbz.public.scratch"];
    wait_for(
        &broker.bootstrap(),
        &topics,
        false,
        TIMEOUT,
        "every event in Kafka",
        |r| r.len() >= theirs.len(),
    );
    std::thread::sleep(Duration::from_millis(500));
    kafka.stop().expect("the Kafka connector stops cleanly");
    file.stop().expect("the file connector stops cleanly");
    let records = read_topics(&broker.bootstrap(), &topics, false);
    let from_kafka: Vec<String> = records.iter().map(Consumed::line).collect();

    same_groups(&from_kafka, &from_file, true, "Kafka against the file sink");
    same_groups(&from_kafka, &theirs, false, "Kafka against Debezium");
    // Tombstones are records with a key and no value, kept by the compacted topics.
    assert_eq!(
        topic_config(
            &broker.bootstrap(),
            "dbz.public.customers",
            "cleanup.policy"
        )
        .as_deref(),
        Some("compact")
    );
    let tombstones = |lines: &[String]| {
        lines
            .iter()
            .filter(|l| serde_json::from_str::<Json>(l).unwrap()["value"].is_null())
            .count()
    };
    assert!(tombstones(&theirs) > 0, "the workload deletes rows");
    assert_eq!(
        records
            .iter()
            .filter(|r| r.value.is_none() && r.key.is_some())
            .count(),
        tombstones(&theirs),
        "every tombstone is in Kafka, as a null value with its key"
    );
    // Topics were created with topic.creation.* (the scratch group has 2 partitions).
    assert_eq!(
        partitions(&broker.bootstrap(), "dbz.public.customers"),
        Some(1)
    );
    assert_eq!(
        partitions(&broker.bootstrap(), "dbz.public.scratch"),
        Some(2)
    );
}

/// A field of a change event's value, with or without the JsonConverter's schema.
fn field(record: &Consumed, path: &str) -> Option<Json> {
    let value = record.value_json();
    value
        .pointer(&format!("/payload{path}"))
        .or_else(|| value.pointer(path))
        .cloned()
}

/// The `after.id` of each change event, in order.
fn ids(records: &[Consumed]) -> Vec<i64> {
    records
        .iter()
        .filter_map(|r| field(r, "/after/id").and_then(|v| v.as_i64()))
        .collect()
}

fn counts(ids: &[i64]) -> BTreeMap<i64, usize> {
    let mut counts = BTreeMap::new();
    for id in ids {
        *counts.entry(*id).or_default() += 1;
    }
    counts
}

#[test]
fn a_kill_9_mid_stream_then_restart_loses_nothing_with_offsets_in_kafka() {
    let broker = Kafka::shared();
    let server = shop();
    let dir = tempfile::tempdir().unwrap();
    let mut props = kafka_properties(
        &server,
        "shop",
        dir.path(),
        &broker.bootstrap(),
        &[
            ("topic.prefix", "kill9"),
            ("offset.flush.interval.ms", "200"),
            ("topic.creation.default.partitions", "1"),
            ("topic.creation.default.replication.factor", "1"),
            ("offset.storage.topic", "kill9-offsets"),
            ("offset.storage.partitions", "3"),
            ("offset.storage.replication.factor", "1"),
        ],
    );
    props.retain(|(k, _)| k != "offset.storage.file.filename");
    let config = dir.path().join("connector.properties");
    write_properties(&config, &props);
    let topic = ["kill9.public.orders"];

    let mut first = spawn_tidemark(&config, &dir.path().join("first.log"));
    server.wait_slot_active("shop", "tidemark_slot");
    let writer = write_orders(&server, 0.01);
    let before_kill = wait_for(
        &broker.bootstrap(),
        &topic,
        false,
        TIMEOUT,
        "800 events",
        |r| r.len() >= 800,
    );
    first.kill().unwrap();
    first.wait().unwrap();
    let written_by_first = read_topics(&broker.bootstrap(), &topic, false).len();
    assert!(written_by_first >= before_kill.len());

    let mut second = spawn_tidemark(&config, &dir.path().join("second.log"));
    assert!(writer.join().unwrap().success());
    let records = wait_for(
        &broker.bootstrap(),
        &topic,
        false,
        TIMEOUT,
        "every row",
        |r| counts(&ids(r)).len() == 3000,
    );
    Command::new("kill")
        .args(["-TERM", &second.id().to_string()])
        .status()
        .unwrap();
    assert!(
        second.wait().unwrap().success(),
        "the second run stops cleanly"
    );

    let ids = ids(&records);
    let counts = counts(&ids);
    assert_eq!(counts.len(), 3000, "every row is in Kafka");
    assert!(
        counts.values().all(|&n| n <= 2),
        "a row arrives at most twice"
    );
    let (first_run, second_run) = ids.split_at(written_by_first.min(ids.len()));
    let first_max = first_run.iter().max().copied().unwrap_or(0);
    assert!(
        second_run.first().copied().unwrap_or(0) <= first_max + 1,
        "no gap at the restart"
    );
    assert!(
        second_run.windows(2).all(|w| w[0] < w[1]),
        "the resumed stream is in order"
    );

    // The offsets topic holds Connect's key and Debezium's offset.
    let offsets = read_topics(&broker.bootstrap(), &["kill9-offsets"], false);
    let last = offsets.last().expect("offsets were committed to Kafka");
    assert_eq!(
        String::from_utf8(last.key.clone().unwrap()).unwrap(),
        r#"["test-connector",{"server":"kill9"}]"#
    );
    let offset = last.value_json();
    assert!(
        offset["lsn"].is_u64() && offset["lsn_commit"].is_u64(),
        "{offset}"
    );
    assert_eq!(partitions(&broker.bootstrap(), "kill9-offsets"), Some(3));
    assert_eq!(
        topic_config(&broker.bootstrap(), "kill9-offsets", "cleanup.policy").as_deref(),
        Some("compact"),
        "the offsets topic is compacted, as Connect's"
    );
}

#[test]
fn a_broker_outage_pauses_the_pipeline_and_loses_nothing() {
    let mut broker = Kafka::start();
    let bootstrap = broker.bootstrap();
    let server = shop();
    let dir = tempfile::tempdir().unwrap();
    let mut capture = Capture::start(
        dir.path().to_owned(),
        kafka_properties(
            &server,
            "shop",
            dir.path(),
            &bootstrap,
            &[
                ("offset.flush.interval.ms", "200"),
                ("topic.creation.default.partitions", "1"),
                ("topic.creation.default.replication.factor", "1"),
            ],
        ),
    );
    capture.wait_streaming(&server, "shop");
    let topic = ["dbz.public.orders"];
    server.psql(
        "shop",
        "INSERT INTO orders SELECT g, 'a' FROM generate_series(1, 500) g",
    );
    wait_for(
        &bootstrap,
        &topic,
        false,
        TIMEOUT,
        "the first 500 rows",
        |r| r.len() >= 500,
    );
    // The first rows' offset is committed.
    let deadline = Instant::now() + TIMEOUT;
    while capture.offset().is_none() {
        assert!(Instant::now() < deadline, "no offset committed");
        std::thread::sleep(Duration::from_millis(50));
    }

    broker.stop();
    let down = Instant::now();
    server.psql(
        "shop",
        "INSERT INTO orders SELECT g, 'b' FROM generate_series(501, 1500) g",
    );
    std::thread::sleep(Duration::from_secs(2));
    let offset_during = capture.offset();
    let confirmed_during = server.confirmed_flush("shop", "tidemark_slot");
    std::thread::sleep(OUTAGE.saturating_sub(down.elapsed()));
    assert_eq!(
        capture.offset(),
        offset_during,
        "no offset is committed while the broker cannot acknowledge"
    );
    assert_eq!(
        server.confirmed_flush("shop", "tidemark_slot"),
        confirmed_during,
        "the slot is not confirmed past what Kafka acknowledged"
    );
    broker.resume();

    server.psql(
        "shop",
        "INSERT INTO orders SELECT g, 'c' FROM generate_series(1501, 2000) g",
    );
    let records = wait_for(
        &bootstrap,
        &topic,
        false,
        TIMEOUT,
        "every row after the outage",
        |r| counts(&ids(r)).len() == 2000,
    );
    capture.stop().expect("the connector stops cleanly");
    let ids = ids(&records);
    assert_eq!(counts(&ids).len(), 2000, "nothing was lost");
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "in order, without duplicates"
    );
    let offset = read_offset(&dir.path().join("offsets.json")).unwrap();
    assert!(offset != offset_during.unwrap(), "committing resumed");
}

#[test]
fn the_producer_queue_bounds_memory_and_backpressure_reaches_the_writer() {
    let mut broker = Kafka::start();
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "t", 1);
    let props = Properties::from_pairs([
        ("bootstrap.servers", bootstrap.as_str()),
        ("producer.queue.buffering.max.messages", "100"),
        ("topic.creation.enable", "false"),
    ]);
    let config = KafkaConfig::from_properties(&props, "bounded", JsonOptions::default())
        .unwrap()
        .unwrap();
    let mut sink = KafkaSink::open(config).unwrap();
    let shared = sink.shared();
    broker.stop();
    let records: Vec<Record> = (0..1000)
        .map(|i| Record::new("t", None, Some(Data::schemaless(Value::Int32(i)))))
        .collect();
    let writer = std::thread::spawn(move || {
        sink.write(&records).unwrap();
        sink.flush().unwrap();
        sink
    });
    let mut most = 0;
    let watch_until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < watch_until {
        most = most.max(shared.producer.in_flight_count());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !writer.is_finished(),
        "the writer waits while the broker is away"
    );
    assert!(most <= 100, "at most the queue's bound is held: {most}");
    assert!(most > 0);
    broker.resume();
    let sink = writer.join().unwrap();
    drop(sink);
    let values: Vec<Json> = read_topics(&bootstrap, &["t"], false)
        .iter()
        .map(Consumed::value_json)
        .collect();
    assert_eq!(values.len(), 1000);
    assert_eq!(
        values[999],
        serde_json::json!({"schema": null, "payload": 999})
    );
    drop(shared);
}

#[test]
fn exactly_once_resumes_after_a_crash_exactly_where_the_committed_transaction_ended() {
    let broker = Kafka::shared();
    let bootstrap = broker.bootstrap();
    let server = shop();
    let dir = tempfile::tempdir().unwrap();
    let mut props = kafka_properties(
        &server,
        "shop",
        dir.path(),
        &bootstrap,
        &[
            ("topic.prefix", "eos"),
            // Transactions long enough for the crash to come inside one.
            ("offset.flush.interval.ms", "2000"),
            ("exactly.once.support", "required"),
            ("topic.creation.default.partitions", "1"),
            ("topic.creation.default.replication.factor", "1"),
            ("offset.storage.topic", "eos-offsets"),
            // The writer's stop flag (`writer_stop`) stays out of the stream.
            ("table.include.list", "public.orders"),
        ],
    );
    props.retain(|(k, _)| k != "offset.storage.file.filename");
    let config = dir.path().join("connector.properties");
    write_properties(&config, &props);
    let data = ["eos.public.orders"];
    let offsets = ["eos-offsets"];

    let mut first = spawn_tidemark(&config, &dir.path().join("first.log"));
    server.wait_slot_active("shop", "tidemark_slot");
    // Writes go on until after the crash, so it comes mid-stream.
    let writer = write_orders_until_stopped(&server, 0.06);
    wait_for(&bootstrap, &data, true, TIMEOUT, "800 events", |r| {
        r.len() >= 800
    });
    // Half an interval after a fresh commit, the next transaction is open with records and
    // without its offset: the process dies there.
    let committed = read_topics(&bootstrap, &offsets, true).len();
    wait_for(&bootstrap, &offsets, true, TIMEOUT, "a fresh commit", |r| {
        r.len() > committed
    });
    std::thread::sleep(Duration::from_millis(1000));
    first.kill().unwrap();
    first.wait().unwrap();
    let last_offset = read_topics(&bootstrap, &offsets, false)
        .last()
        .expect("the first run committed")
        .value_json();

    // The second run fences the first's transactional id, which aborts its open transaction.
    let mut second = spawn_tidemark(&config, &dir.path().join("second.log"));
    // The second run streams live rows too before the writer stops.
    std::thread::sleep(Duration::from_secs(2));
    let written = stop_writer(&server, writer);
    wait_for(&bootstrap, &data, true, TIMEOUT, "every row", |r| {
        counts(&ids(r)).len() as i64 == written
    });
    Command::new("kill")
        .args(["-TERM", &second.id().to_string()])
        .status()
        .unwrap();
    assert!(
        second.wait().unwrap().success(),
        "the second run stops cleanly"
    );

    let committed = read_topics(&bootstrap, &data, true);
    let ids = ids(&committed);
    let seen = counts(&ids);
    let missing: Vec<i64> = (1..=written).filter(|i| !seen.contains_key(i)).collect();
    let twice: Vec<i64> = seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(i, _)| *i)
        .collect();
    assert!(
        missing.is_empty() && twice.is_empty() && ids.windows(2).all(|w| w[0] < w[1]),
        "every row once, in order: missing {missing:?}, repeated {twice:?} (the first run's \
         last committed offset: {last_offset})"
    );
    // What the first run wrote after its last committed offset is in the log, in a
    // transaction the broker aborted: read_uncommitted sees it, read_committed does not.
    let everything = read_topics(&bootstrap, &data, false);
    assert!(
        everything.len() > committed.len(),
        "the crash came inside an open transaction: {} records in the log, {} committed",
        everything.len(),
        committed.len()
    );
    assert_eq!(
        counts(&self::ids(&everything)).len() as i64,
        written,
        "aborted records are rows the committed view holds too"
    );
}

#[test]
fn a_keyless_record_for_a_compacted_topic_is_a_clear_error_not_a_stall() {
    let broker = Kafka::shared();
    let server = shop();
    server.psql("shop", "INSERT INTO orders VALUES (1, 'a')");
    let dir = tempfile::tempdir().unwrap();
    let mut capture = Capture::start(
        dir.path().to_owned(),
        kafka_properties(
            &server,
            "shop",
            dir.path(),
            &broker.bootstrap(),
            &[
                ("topic.prefix", "keyless"),
                ("offset.storage.topic", "keyless-offsets"),
                ("topic.creation.default.partitions", "1"),
                ("topic.creation.default.replication.factor", "1"),
                ("topic.creation.default.cleanup.policy", "compact"),
            ],
        ),
    );
    capture.wait_streaming(&server, "shop");
    // A TRUNCATE event has no key (skipped.operations=none lets it through).
    server.psql("shop", "TRUNCATE orders");
    let error = capture
        .end_within(TIMEOUT)
        .expect_err("the connector stops")
        .to_string();
    assert!(
        error.contains("keyless.public.orders")
            && error.contains("cleanup.policy=compact")
            && error.contains("skipped.operations=t"),
        "the error names the topic, the policy and a way out: {error}"
    );
}

#[test]
fn sigterm_during_a_broker_outage_ends_the_process_within_the_graceful_timeout() {
    let mut broker = Kafka::start();
    let server = shop();
    let dir = tempfile::tempdir().unwrap();
    let props = kafka_properties(
        &server,
        "shop",
        dir.path(),
        &broker.bootstrap(),
        &[
            ("topic.creation.default.partitions", "1"),
            ("topic.creation.default.replication.factor", "1"),
            ("task.shutdown.graceful.timeout.ms", "3000"),
        ],
    );
    let config = dir.path().join("connector.properties");
    write_properties(&config, &props);
    let log = dir.path().join("run.log");
    let mut child = spawn_tidemark(&config, &log);
    server.wait_slot_active("shop", "tidemark_slot");
    server.psql("shop", "INSERT INTO orders VALUES (1, 'before')");
    wait_for(
        &broker.bootstrap(),
        &["dbz.public.orders"],
        false,
        TIMEOUT,
        "the first record",
        |records| !records.is_empty(),
    );
    broker.stop();
    // Records the broker cannot take: the final flush of a stop cannot finish.
    server.psql(
        "shop",
        "INSERT INTO orders SELECT g, 'during' FROM generate_series(2, 100) g",
    );
    std::thread::sleep(Duration::from_secs(2));
    let asked = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = asked + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 15 s after SIGTERM with the broker down"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let took = asked.elapsed();
    assert!(
        took < Duration::from_secs(6),
        "took {took:?} to end after SIGTERM with task.shutdown.graceful.timeout.ms=3000"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !status.success() && text.contains("task.shutdown.graceful.timeout.ms"),
        "ends with an error naming the timeout ({status}): {text}"
    );
}
