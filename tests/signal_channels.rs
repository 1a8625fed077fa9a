//! Debezium's signal channels outside the database, against a worker and a real Postgres or
//! MariaDB: a signal POSTed to `/connectors/{name}/signals` (the REST channel), a line appended
//! to `signal.file` (the file channel) and a record of `signal.kafka.topic` on a real Apache
//! Kafka (the kafka channel) each start an incremental snapshot; bad signals, other
//! connectors' records and connectors that take none are refused or skipped with a reason.

use std::io::Write;

use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::{Value as Json, json};
use tidemark_tests::kafka::{Kafka, create_topic};
use tidemark_tests::postgres::Postgres;
use tidemark_tests::process::{free_port, read_lines, wait_until};
use tidemark_tests::worker::{TIMEOUT, WorkerProcess, pg_connector};

/// The ids of the snapshot reads (`op` r) of `items` in the sink, in order.
fn reads(sink: &std::path::Path) -> Vec<i64> {
    read_lines(sink)
        .iter()
        .map(|l| serde_json::from_str::<Json>(l).unwrap())
        .filter(|r| r["value"]["op"] == "r" && r["topic"] == "dbz.public.items")
        .filter_map(|r| r["value"]["after"]["id"].as_i64())
        .collect()
}

#[test]
fn rest_and_file_signals_start_incremental_snapshots() {
    let server = Postgres::start();
    server.create_database("dbz");
    server.psql(
        "dbz",
        "CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL); \
         INSERT INTO items SELECT g, g FROM generate_series(1, 50) g",
    );
    let dir = tempfile::tempdir().unwrap();
    let worker = WorkerProcess::start(dir.path(), free_port());
    let sink = dir.path().join("dbz.jsonl");
    let signals = dir.path().join("signals.txt");
    let config = pg_connector(
        &server,
        "dbz",
        &sink,
        &[
            ("snapshot.mode", json!("no_data")),
            ("signal.enabled.channels", json!("rest,file")),
            ("signal.file", json!(signals.display().to_string())),
            ("signal.poll.interval.ms", json!("100")),
            ("incremental.snapshot.chunk.size", json!("7")),
        ],
    );
    let (code, body) = worker.call(
        "POST",
        "/connectors",
        Some(json!({"name": "dbz", "config": config})),
    );
    assert_eq!(code, 201, "{body}");
    worker.wait_state("dbz", "RUNNING", Some("RUNNING"));
    server.wait_slot_active("dbz", "slot_dbz");

    // REST: the whole table, in key order.
    let (code, body) = worker.call(
        "POST",
        "/connectors/dbz/signals",
        Some(json!({"id": "rest-1", "type": "execute-snapshot",
                    "data": {"data-collections": ["public.items"], "type": "incremental"}})),
    );
    assert_eq!(code, 202, "{body}");
    wait_until("the REST signal's snapshot", TIMEOUT, || {
        reads(&sink).len() >= 50
    });
    assert_eq!(reads(&sink), (1..=50).collect::<Vec<_>>());

    // File: a filtered snapshot; the line is taken once and the file emptied.
    let mut file = std::fs::File::create(&signals).unwrap();
    writeln!(
        file,
        r#"{{"id":"file-1","type":"execute-snapshot","data":"{{\"data-collections\": [\"public.items\"], \"additional-conditions\": [{{\"data-collection\": \"public.items\", \"filter\": \"qty > 45\"}}]}}"}}"#
    )
    .unwrap();
    drop(file);
    wait_until("the file signal's snapshot", TIMEOUT, || {
        reads(&sink).len() >= 55
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(reads(&sink)[50..], [46, 47, 48, 49, 50]);
    assert_eq!(std::fs::read_to_string(&signals).unwrap(), "");

    // Refusals, each with its reason.
    let (code, body) = worker.call(
        "POST",
        "/connectors/dbz/signals",
        Some(json!({"id": "bad", "type": "execute-snapshot", "data": {}})),
    );
    assert_eq!(code, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("data-collections"),
        "{body}"
    );
    let (code, body) = worker.call(
        "POST",
        "/connectors/dbz/signals",
        Some(json!({"type": "log"})),
    );
    assert_eq!(code, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("\"id\""),
        "{body}"
    );
    let (code, _) = worker.call(
        "POST",
        "/connectors/nobody/signals",
        Some(json!({"id": "x", "type": "log"})),
    );
    assert_eq!(code, 404);

    // A stopped connector, then one whose channels leave out rest.
    let log = json!({"id": "x", "type": "log", "data": {"message": "hello"}});
    let (code, body) = worker.call("PUT", "/connectors/dbz/stop", None);
    assert_eq!(code, 204, "{body}");
    worker.wait_state("dbz", "STOPPED", None);
    let (code, body) = worker.call("POST", "/connectors/dbz/signals", Some(log.clone()));
    assert_eq!(code, 409, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("STOPPED"),
        "{body}"
    );
    let mut source_only = config.clone();
    source_only["signal.enabled.channels"] = json!("source");
    let (code, body) = worker.call("PUT", "/connectors/dbz/config", Some(source_only));
    assert!(code == 200 || code == 201, "{code} {body}");
    let (code, body) = worker.call("POST", "/connectors/dbz/signals", Some(log));
    assert_eq!(code, 409, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("signal.enabled.channels"),
        "{body}"
    );
    worker.stop();
}

/// Writes `records` (key, value) to partition 0 of `topic` and waits for the broker's
/// acknowledgement.
fn produce(bootstrap: &str, topic: &str, records: &[(&str, &str)]) {
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    for (key, value) in records {
        producer
            .send(BaseRecord::to(topic).partition(0).key(*key).payload(*value))
            .map_err(|(e, _)| e)
            .unwrap();
    }
    producer.flush(std::time::Duration::from_secs(30)).unwrap();
}

#[test]
fn kafka_signals_keyed_by_the_topic_prefix_start_incremental_snapshots_once() {
    let kafka = Kafka::shared();
    let bootstrap = kafka.bootstrap();
    let server = Postgres::start();
    server.create_database("dbz");
    server.psql(
        "dbz",
        "CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL); \
         INSERT INTO items SELECT g, g FROM generate_series(1, 50) g",
    );
    // Debezium's default topic, <topic.prefix>-signal; the signals are there before the
    // connector starts, with a record for another connector and one that is not a signal.
    create_topic(&bootstrap, "dbz-signal", 1);
    let snapshot = |id: &str, filter: &str| {
        json!({"id": id, "type": "execute-snapshot",
               "data": {"data-collections": ["public.items"], "type": "incremental",
                        "additional-conditions": [{"data-collection": "public.items",
                                                   "filter": filter}]}})
        .to_string()
    };
    produce(
        &bootstrap,
        "dbz-signal",
        &[
            ("other", &snapshot("other-1", "qty > 0")),
            ("dbz", "not a signal"),
            ("dbz", &snapshot("kafka-1", "qty <= 10")),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let worker = WorkerProcess::start(dir.path(), free_port());
    let sink = dir.path().join("dbz.jsonl");
    let config = pg_connector(
        &server,
        "dbz",
        &sink,
        &[
            ("snapshot.mode", json!("no_data")),
            ("signal.enabled.channels", json!("kafka")),
            ("signal.kafka.bootstrap.servers", json!(bootstrap)),
            ("signal.kafka.groupId", json!("signals-dbz")),
            ("incremental.snapshot.chunk.size", json!("7")),
        ],
    );
    let (code, body) = worker.call(
        "POST",
        "/connectors",
        Some(json!({"name": "dbz", "config": config})),
    );
    assert_eq!(code, 201, "{body}");
    worker.wait_state("dbz", "RUNNING", Some("RUNNING"));
    wait_until("the kafka signal's snapshot", TIMEOUT, || {
        reads(&sink).len() >= 10
    });

    // A signal sent while the connector runs.
    produce(
        &bootstrap,
        "dbz-signal",
        &[("dbz", &snapshot("kafka-2", "qty > 40"))],
    );
    wait_until("the second kafka signal's snapshot", TIMEOUT, || {
        reads(&sink).len() >= 20
    });

    // Stopped and resumed: the group's committed position means no signal is taken twice.
    let (code, body) = worker.call("PUT", "/connectors/dbz/stop", None);
    assert_eq!(code, 204, "{body}");
    worker.wait_state("dbz", "STOPPED", None);
    let (code, body) = worker.call("PUT", "/connectors/dbz/resume", None);
    assert_eq!(code, 202, "{body}");
    worker.wait_state("dbz", "RUNNING", Some("RUNNING"));
    produce(
        &bootstrap,
        "dbz-signal",
        &[("dbz", &snapshot("kafka-3", "id = 25"))],
    );
    wait_until("the third kafka signal's snapshot", TIMEOUT, || {
        reads(&sink).contains(&25)
    });
    std::thread::sleep(std::time::Duration::from_secs(1));
    let expected: Vec<i64> = (1..=10).chain(41..=50).chain([25]).collect();
    assert_eq!(
        reads(&sink),
        expected,
        "each signal once; the other connector's skipped"
    );
    worker.stop();
}

#[test]
fn rest_and_kafka_signals_start_incremental_snapshots_on_mariadb() {
    let kafka = Kafka::shared();
    let bootstrap = kafka.bootstrap();
    let server = tidemark_tests::mariadb::MariaDb::start();
    server.create_database("shop");
    server.sql(
        "shop",
        "CREATE TABLE items (id INT PRIMARY KEY, qty INT NOT NULL); \
         INSERT INTO items SELECT seq, seq FROM seq_1_to_50",
    );
    create_topic(&bootstrap, "maria-signal", 1);
    let dir = tempfile::tempdir().unwrap();
    let worker = WorkerProcess::start(dir.path(), free_port());
    let sink = dir.path().join("maria.jsonl");
    let history = dir.path().join("history.jsonl");
    let config = json!({
        "connector.class": "io.debezium.connector.mariadb.MariaDbConnector",
        "database.hostname": "127.0.0.1",
        "database.port": server.port.to_string(),
        "database.user": "root",
        "database.password": tidemark_tests::mariadb::PASSWORD,
        "database.server.id": "5402",
        "database.include.list": "shop",
        "topic.prefix": "maria",
        "snapshot.mode": "no_data",
        "schema.history.internal": "io.debezium.storage.file.history.FileSchemaHistory",
        "schema.history.internal.file.filename": history.display().to_string(),
        "signal.enabled.channels": "rest,kafka",
        "signal.kafka.bootstrap.servers": bootstrap,
        "signal.kafka.groupId": "signals-maria",
        "incremental.snapshot.chunk.size": "7",
        "sink.file": sink.display().to_string(),
        "key.converter.schemas.enable": "false",
        "value.converter.schemas.enable": "false",
    });
    let (code, body) = worker.call(
        "POST",
        "/connectors",
        Some(json!({"name": "maria", "config": config})),
    );
    assert_eq!(code, 201, "{body}");
    worker.wait_state("maria", "RUNNING", Some("RUNNING"));
    server.wait_binlog_dump();
    let reads = || -> Vec<i64> {
        read_lines(&sink)
            .iter()
            .map(|l| serde_json::from_str::<Json>(l).unwrap())
            .filter(|r| r["value"]["op"] == "r" && r["topic"] == "maria.shop.items")
            .filter_map(|r| r["value"]["after"]["id"].as_i64())
            .collect()
    };

    // REST: the whole table, in key order.
    let (code, body) = worker.call(
        "POST",
        "/connectors/maria/signals",
        Some(json!({"id": "rest-1", "type": "execute-snapshot",
                    "data": {"data-collections": ["shop.items"], "type": "incremental"}})),
    );
    assert_eq!(code, 202, "{body}");
    wait_until("the REST signal's snapshot", TIMEOUT, || {
        reads().len() >= 50
    });
    assert_eq!(reads(), (1..=50).collect::<Vec<_>>());

    // Kafka: a filtered snapshot, keyed by the topic prefix.
    let signal = json!({"id": "kafka-1", "type": "execute-snapshot",
                        "data": {"data-collections": ["shop.items"],
                                 "additional-conditions": [{"data-collection": "shop.items",
                                                            "filter": "qty > 45"}]}});
    produce(
        &bootstrap,
        "maria-signal",
        &[("maria", &signal.to_string())],
    );
    wait_until("the kafka signal's snapshot", TIMEOUT, || {
        reads().len() >= 55
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(reads()[50..], [46, 47, 48, 49, 50]);
    worker.stop();
}
