//! `/metrics` of a worker against real Postgres and MariaDB servers: Debezium's snapshot
//! metrics show a snapshot's progress while it runs (held by a paused connector) and its end;
//! the streaming metrics count the changes; Tidemark's source lag grows while the connector
//! is paused and falls back to 0 once it is resumed; end-to-end latency is observed; what a
//! connector holds back in its database (a slot's WAL, the binlog still to read) grows while
//! it is stopped and falls once it runs again.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use tidemark_tests::capture::maria_properties;
use tidemark_tests::mariadb::MariaDb;
use tidemark_tests::postgres::Postgres;
use tidemark_tests::process::{free_port, read_lines, wait_until};
use tidemark_tests::worker::{TIMEOUT, WorkerProcess, pg_connector};

/// The value of the first sample of `metric` whose labels contain every one of `labels`.
fn sample(worker: &WorkerProcess, metric: &str, labels: &[&str]) -> Option<f64> {
    let (_, text) = worker.call("GET", "/metrics", None);
    let text = text.as_str().unwrap_or_default().to_owned();
    text.lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")))
        .find(|l| labels.iter().all(|label| l.contains(label)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Waits until `metric` with `labels` satisfies `done`; its last value.
fn wait_metric(
    worker: &WorkerProcess,
    metric: &str,
    labels: &[&str],
    done: impl Fn(f64) -> bool,
) -> f64 {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let value = sample(worker, metric, labels);
        if let Some(value) = value.filter(|v| done(*v)) {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{metric}{labels:?} stayed at {value:?}\n{}",
            worker.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn create(worker: &WorkerProcess, name: &str, config: Json, initial_state: &str) {
    let (code, body) = worker.call(
        "POST",
        "/connectors",
        Some(json!({"name": name, "config": config, "initial_state": initial_state})),
    );
    assert_eq!(code, 201, "{body}");
}

fn set_target(worker: &WorkerProcess, name: &str, verb: &str) {
    let (code, body) = worker.call("PUT", &format!("/connectors/{name}/{verb}"), None);
    assert_eq!(code, 202, "{body}");
}

/// Stops a connector and waits until it is stopped.
fn stop(worker: &WorkerProcess, name: &str) {
    let (code, body) = worker.call("PUT", &format!("/connectors/{name}/stop"), None);
    assert_eq!(code, 204, "{body}");
    // A stopped connector has no tasks, as in Connect.
    worker.wait_state(name, "STOPPED", None);
}

/// While the connector is stopped and the database writes, `metric` (what the connector
/// holds back there) grows; once it runs again it falls.
fn held_back_grows_while_stopped(
    worker: &WorkerProcess,
    name: &str,
    metric: &str,
    labels: &[&str],
    write: &dyn Fn(),
) {
    let before = wait_metric(worker, metric, labels, |v| v >= 0.0);
    stop(worker, name);
    write();
    let grown = wait_metric(worker, metric, labels, |v| v > before + 100_000.0);
    set_target(worker, name, "resume");
    worker.wait_state(name, "RUNNING", Some("RUNNING"));
    wait_metric(worker, metric, labels, |v| v < grown);
}

/// While the connector is paused with changes read but not acknowledged, the source lag
/// grows; once resumed it falls back to 0 and every row is in `sink`.
fn lag_grows_while_paused_then_falls(
    worker: &WorkerProcess,
    name: &str,
    connector: &str,
    insert: &dyn Fn(),
    sink: &Path,
    rows: usize,
) {
    set_target(worker, name, "pause");
    worker.wait_state(name, "PAUSED", Some("PAUSED"));
    insert();
    let lag = "tidemark_source_lag_seconds";
    let first = wait_metric(worker, lag, &[connector], |v| v > 1.0);
    std::thread::sleep(Duration::from_millis(1500));
    let later = sample(worker, lag, &[connector]).unwrap();
    assert!(later >= first + 1.0, "the lag grows: {first} then {later}");
    set_target(worker, name, "resume");
    wait_metric(worker, lag, &[connector], |v| v == 0.0);
    wait_until("every row in the sink", TIMEOUT, || {
        read_lines(sink).len() >= rows
    });
}

#[test]
fn postgres_snapshot_progress_streaming_counts_and_a_lag_that_grows_while_paused() {
    let server = Postgres::start();
    server.create_database("shop");
    server.psql(
        "shop",
        "CREATE TABLE big (id int PRIMARY KEY, v text); \
         INSERT INTO big SELECT g, 'v' FROM generate_series(1, 20000) g; \
         CREATE TABLE small (id int PRIMARY KEY); INSERT INTO small VALUES (1), (2), (3); \
         ANALYZE;",
    );
    let dir = tempfile::tempdir().unwrap();
    let worker = WorkerProcess::start(dir.path(), free_port());
    let sink = dir.path().join("shop.jsonl");
    let config = pg_connector(
        &server,
        "shop",
        &sink,
        &[
            ("max.batch.size", json!("100")),
            ("metrics.database.poll.interval.ms", json!("300")),
        ],
    );
    // Paused from the start: the snapshot reads until the pipeline's queue is full, then
    // waits, so its progress can be read while it runs.
    create(&worker, "shop", config, "PAUSED");
    let c = "connector=\"shop\"";
    let snapshot = [
        c,
        "context=\"snapshot\"",
        "name=\"shop\"",
        "plugin=\"postgres\"",
    ];
    wait_metric(
        &worker,
        "debezium_metrics_SnapshotRunning",
        &snapshot,
        |v| v == 1.0,
    );
    let big = [snapshot.as_slice(), &["table=\"public.big\""]].concat();
    let scanned = wait_metric(&worker, "debezium_metrics_RowsScanned", &big, |v| v > 0.0);
    assert!(scanned < 20_000.0, "held mid-table: {scanned} rows");
    assert_eq!(
        sample(&worker, "debezium_metrics_TotalTableCount", &snapshot),
        Some(2.0)
    );
    assert_eq!(
        sample(&worker, "debezium_metrics_RemainingTableCount", &snapshot),
        Some(2.0)
    );
    // The worker logs the snapshot's progress (every 10 s), with the planner's estimate.
    wait_until("a snapshot progress line", TIMEOUT, || {
        worker.log().lines().any(|l| {
            l.contains("snapshot progress: 0/2 tables")
                && l.contains("of ~20003, ")
                && l.contains("shop")
        })
    });
    // The rows read wait in the queue, unacknowledged: the lag grows.
    let lag = "tidemark_source_lag_seconds";
    let first = wait_metric(&worker, lag, &[c], |v| v > 0.0);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(sample(&worker, lag, &[c]).unwrap() >= first + 1.0);

    set_target(&worker, "shop", "resume");
    wait_metric(
        &worker,
        "debezium_metrics_SnapshotCompleted",
        &snapshot,
        |v| v == 1.0,
    );
    assert_eq!(
        sample(&worker, "debezium_metrics_RowsScanned", &big),
        Some(20_000.0)
    );
    let small = [snapshot.as_slice(), &["table=\"public.small\""]].concat();
    assert_eq!(
        sample(&worker, "debezium_metrics_RowsScanned", &small),
        Some(3.0)
    );
    assert_eq!(
        sample(&worker, "debezium_metrics_RemainingTableCount", &snapshot),
        Some(0.0)
    );
    assert_eq!(
        sample(&worker, "debezium_metrics_SnapshotRunning", &snapshot),
        Some(0.0)
    );
    wait_metric(&worker, lag, &[c], |v| v == 0.0);

    let streaming = [c, "context=\"streaming\"", "plugin=\"postgres\""];
    wait_metric(&worker, "debezium_metrics_Connected", &streaming, |v| {
        v == 1.0
    });
    server.psql(
        "shop",
        "INSERT INTO small SELECT g FROM generate_series(10, 19) g; \
         UPDATE small SET id = 100 WHERE id = 1; DELETE FROM small WHERE id = 2;",
    );
    let creates = "debezium_metrics_TotalNumberOfCreateEventsSeen";
    // The key change is a delete and a create in Debezium's form; psql sends the three
    // statements as one transaction.
    wait_metric(&worker, creates, &streaming, |v| v == 11.0);
    wait_metric(
        &worker,
        "debezium_metrics_TotalNumberOfDeleteEventsSeen",
        &streaming,
        |v| v == 2.0,
    );
    assert_eq!(
        sample(
            &worker,
            "debezium_metrics_NumberOfCommittedTransactions",
            &streaming
        ),
        Some(1.0)
    );
    let behind = sample(
        &worker,
        "debezium_metrics_MilliSecondsBehindSource",
        &streaming,
    );
    assert!(behind.is_some_and(|ms| ms >= 0.0), "{behind:?}");
    assert!(sample(&worker, "debezium_metrics_SourceEventPosition", &streaming).is_some());

    let rows = 20_003 + 10 + 3;
    wait_until("the stream in the sink", TIMEOUT, || {
        read_lines(&sink).len() >= rows
    });
    lag_grows_while_paused_then_falls(
        &worker,
        "shop",
        c,
        &|| {
            server.psql(
                "shop",
                "INSERT INTO small SELECT g FROM generate_series(200, 204) g",
            );
        },
        &sink,
        rows + 5,
    );
    let latency = sample(&worker, "tidemark_end_to_end_latency_seconds_count", &[c]);
    assert!(latency.is_some_and(|n| n > 0.0), "{latency:?}");
    assert_eq!(
        sample(
            &worker,
            "tidemark_connector_state",
            &[c, "state=\"RUNNING\""]
        ),
        Some(1.0)
    );
    let slot = [c, "slot=\"slot_shop\""];
    assert_eq!(
        sample(
            &worker,
            "tidemark_pg_slot_wal_status",
            &[c, "status=\"reserved\""]
        ),
        Some(1.0)
    );
    held_back_grows_while_stopped(
        &worker,
        "shop",
        "tidemark_pg_slot_wal_held_bytes",
        &slot,
        &|| {
            server.psql(
                "shop",
                "INSERT INTO big SELECT g, repeat('x', 100) FROM generate_series(100001, 105000) g",
            );
        },
    );
    assert!(sample(&worker, "tidemark_pg_slot_wal_retained_bytes", &slot).is_some());
    worker.stop();
}

#[test]
fn mariadb_snapshot_and_streaming_metrics_and_a_lag_that_grows_while_paused() {
    let server = MariaDb::start();
    server.sql(
        "",
        "CREATE DATABASE dbz; CREATE TABLE dbz.t (id int PRIMARY KEY, v text); \
         INSERT INTO dbz.t VALUES (1, 'a'), (2, 'b');",
    );
    let dir = tempfile::tempdir().unwrap();
    let worker = WorkerProcess::start(dir.path(), free_port());
    let mut config = serde_json::Map::new();
    let extra = [
        ("metrics.database.poll.interval.ms", "300"),
        ("notification.enabled.channels", "sink"),
        ("notification.sink.topic.name", "notes"),
    ];
    for (key, value) in maria_properties(&server, dir.path(), &extra) {
        // The connector's name is the one it is created under.
        if key != "name" {
            config.insert(key, Json::String(value));
        }
    }
    let sink = dir.path().join("out.jsonl");
    create(&worker, "maria", Json::Object(config), "RUNNING");
    let c = "connector=\"maria\"";
    let snapshot = [
        c,
        "context=\"snapshot\"",
        "name=\"dbz\"",
        "plugin=\"mariadb\"",
    ];
    wait_metric(
        &worker,
        "debezium_metrics_SnapshotCompleted",
        &snapshot,
        |v| v == 1.0,
    );
    let table = [snapshot.as_slice(), &["table=\"dbz.t\""]].concat();
    assert_eq!(
        sample(&worker, "debezium_metrics_RowsScanned", &table),
        Some(2.0)
    );
    // Debezium's notifications about the snapshot, in order with its rows.
    let notes: Vec<String> = read_lines(&sink)
        .iter()
        .map(|l| serde_json::from_str::<Json>(l).unwrap())
        .map(|r| {
            let value = &r["value"]["payload"];
            match r["topic"].as_str() {
                Some("notes") => format!(
                    "{} {}",
                    value["type"].as_str().unwrap(),
                    value["additional_data"]["total_rows_scanned"]
                        .as_str()
                        .unwrap_or("")
                ),
                _ => format!("row {}", value["after"]["id"]),
            }
        })
        .collect();
    assert_eq!(
        notes,
        [
            "STARTED ",
            "IN_PROGRESS ",
            "row 1",
            "TABLE_SCAN_COMPLETED 2",
            "row 2",
            "COMPLETED ",
        ]
    );
    let streaming = [c, "context=\"streaming\"", "plugin=\"mariadb\""];
    wait_metric(&worker, "debezium_metrics_Connected", &streaming, |v| {
        v == 1.0
    });
    server.sql(
        "dbz",
        "INSERT INTO t VALUES (3, 'c'), (4, 'd'); UPDATE t SET v = 'z' WHERE id = 1;",
    );
    wait_metric(
        &worker,
        "debezium_metrics_TotalNumberOfCreateEventsSeen",
        &streaming,
        |v| v == 2.0,
    );
    wait_metric(
        &worker,
        "debezium_metrics_TotalNumberOfUpdateEventsSeen",
        &streaming,
        |v| v == 1.0,
    );
    let position = sample(&worker, "debezium_metrics_SourceEventPosition", &streaming);
    assert!(position.is_some_and(|p| p > 4.0), "{position:?}");
    assert_eq!(
        sample(&worker, "debezium_metrics_BinlogPosition", &streaming),
        position
    );
    wait_until("the stream in the sink", TIMEOUT, || {
        read_lines(&sink).len() >= 5
    });
    lag_grows_while_paused_then_falls(
        &worker,
        "maria",
        c,
        &|| {
            server.sql("dbz", "INSERT INTO t VALUES (5, 'e');");
        },
        &sink,
        6,
    );
    held_back_grows_while_stopped(
        &worker,
        "maria",
        "tidemark_binlog_bytes_behind",
        &[c],
        &|| {
            server.sql(
                "dbz",
                "INSERT INTO t SELECT seq, repeat('x', 100) FROM seq_100_to_5099;",
            );
        },
    );
    worker.stop();
}

#[test]
fn tidemark_run_on_a_terminal_draws_the_snapshot_progress_live() {
    let server = Postgres::start();
    server.create_database("shop");
    server.psql(
        "shop",
        "CREATE TABLE big (id int PRIMARY KEY, v text); \
         INSERT INTO big SELECT g, repeat('v', 200) FROM generate_series(1, 500000) g; ANALYZE;",
    );
    let dir = tempfile::tempdir().unwrap();
    let props = tidemark_tests::capture::pg_properties(
        &server,
        "shop",
        dir.path(),
        &[("snapshot.mode", "initial_only"), ("max.batch.size", "256")],
    );
    let file = dir.path().join("run.properties");
    let text: String = props.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    std::fs::write(&file, text).unwrap();
    // `script` runs the command on a pseudo-terminal, as a user's shell would.
    let command = format!(
        "{} run {}",
        tidemark_tests::tidemark_binary().display(),
        file.display()
    );
    let output = std::process::Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .output()
        .expect("script (util-linux) runs");
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{shown}");
    assert!(
        shown.contains("snapshot: 0/1 tables, ") && shown.contains(" rows of ~"),
        "a live progress line with the estimate: {shown}"
    );
    assert!(
        shown.contains(" rows/s, ETA "),
        "the line shows the rate and the time left: {shown}"
    );
}
