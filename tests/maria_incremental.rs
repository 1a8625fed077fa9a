//! Incremental snapshots on MariaDB (Debezium's, triggered by a signal; read-only in
//! Tidemark: each chunk is read at an exact binlog point and emitted when the stream reaches
//! it). While a 200k-row table is read in chunks, inserts, updates, deletes and primary-key
//! changes hit it, and the connector is killed with SIGKILL half-way: applying the output in
//! order yields exactly the table's final content, and the restarted snapshot goes on from
//! its last committed chunk. The signal channels other than the source table, and pause,
//! resume and stop, are shown on a small table.

use std::time::Duration;

use serde_json::Value as Json;
use tidemark_tests::capture::{
    Capture, assert_same_events_except, blank_notification, debezium_without_markers,
    maria_properties,
};
use tidemark_tests::churn::{Churn, applied, differences, maria_table};
use tidemark_tests::mariadb::MariaDb;
use tidemark_tests::process::spawn_tidemark;
use tidemark_tests::scenarios::{blocking, incremental_killed_a_third_of_the_way, reads_of};

const ROWS: i64 = 200_000;
const TIMEOUT: Duration = Duration::from_secs(240);

/// The signal table, as Debezium documents it.
const SIGNAL_TABLE: &str = "CREATE TABLE debezium_signal (id VARCHAR(42) PRIMARY KEY, \
                            type VARCHAR(32) NOT NULL, data VARCHAR(2048) NULL)";

/// A MariaDB whose database `name` holds `items (id int PRIMARY KEY, v int NOT NULL)` with
/// keys 1..=`rows` (v 0) and the signal table, and the properties of a connector streaming it
/// without an initial snapshot, schemas off, `extra` on top.
fn setup(
    name: &str,
    rows: i64,
    extra: &[(&str, &str)],
) -> (MariaDb, tempfile::TempDir, Vec<(String, String)>) {
    let server = MariaDb::start();
    server.create_database(name);
    server.sql(
        name,
        &format!(
            "CREATE TABLE items (id INT PRIMARY KEY, v INT NOT NULL); \
             INSERT INTO items SELECT seq, 0 FROM seq_1_to_{rows}; {SIGNAL_TABLE}"
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let signal_table = format!("{name}.debezium_signal");
    let mut settings = vec![
        ("topic.prefix", name),
        ("database.include.list", name),
        ("snapshot.mode", "no_data"),
        ("signal.data.collection", signal_table.as_str()),
        ("key.converter.schemas.enable", "false"),
        ("value.converter.schemas.enable", "false"),
    ];
    settings.extend_from_slice(extra);
    let props = maria_properties(&server, dir.path(), &settings);
    (server, dir, props)
}

#[test]
fn an_incremental_snapshot_under_changes_and_a_kill_9_yields_the_tables_content() {
    // Small chunks: the snapshot lasts long enough to be killed in the middle.
    let (server, dir, props) = setup(
        "inc",
        ROWS,
        &[
            ("offset.flush.interval.ms", "200"),
            ("incremental.snapshot.chunk.size", "256"),
        ],
    );
    let config = dir.path().join("connector.properties");
    tidemark_tests::write_properties(&config, &props);
    let out = dir.path().join("out.jsonl");
    let run = spawn_tidemark(&config, &dir.path().join("run-1.log"));
    server.wait_binlog_dump();

    let writing = Churn::start_maria(&server, "inc", ROWS, |_| String::new());
    server.sql(
        "inc",
        r#"INSERT INTO debezium_signal VALUES ('snap-1', 'execute-snapshot',
           '{"data-collections": ["inc.items"], "type": "incremental"}')"#,
    );
    incremental_killed_a_third_of_the_way(
        &server,
        "inc",
        &config,
        &out,
        run,
        writing,
        ROWS,
        "inc.inc.items",
        TIMEOUT,
    );
    // Read-only: the connector wrote nothing into the database.
    assert_eq!(
        server
            .sql("inc", "SELECT COUNT(*) FROM debezium_signal")
            .trim(),
        "1",
        "only the test's signal row is in the signal table"
    );
}

/// The `type` of each incremental-snapshot notification among `lines`, in order.
fn notifications(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| {
            let record: Json = serde_json::from_str(l).ok()?;
            (record["topic"] == "tm-notifications"
                && record["value"]["aggregate_type"] == "Incremental Snapshot")
                .then(|| record["value"]["type"].as_str().unwrap_or("").to_owned())
        })
        .collect()
}

#[test]
fn signals_from_a_file_pause_resume_and_stop_an_incremental_snapshot() {
    let signals_dir = tempfile::tempdir().unwrap();
    let file = signals_dir.path().join("signals.jsonl");
    std::fs::write(&file, "").unwrap();
    let file_text = file.display().to_string();
    let (server, dir, props) = setup(
        "tm",
        40,
        &[
            ("signal.enabled.channels", "file"),
            ("signal.file", file_text.as_str()),
            ("signal.poll.interval.ms", "100"),
            ("incremental.snapshot.chunk.size", "5"),
            ("notification.enabled.channels", "sink"),
            ("notification.sink.topic.name", "tm-notifications"),
        ],
    );
    let mut capture = Capture::start(dir.path().to_path_buf(), props);
    server.wait_binlog_dump();
    let send = |line: &str| {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&file)
            .unwrap();
        writeln!(f, "{line}").unwrap();
    };
    // Paused before it starts: the STARTED snapshot reads nothing until it resumes.
    send(
        r#"{"id":"s-1","type":"execute-snapshot","data":{"data-collections":["tm.items"],"type":"incremental"}}"#,
    );
    send(r#"{"id":"p-1","type":"pause-snapshot","data":{}}"#);
    let lines = capture.wait_until("PAUSED", TIMEOUT, |lines| {
        notifications(lines).iter().any(|t| t == "PAUSED")
    });
    let reads_when_paused = reads_of(&lines, 1..=40);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        reads_of(&capture.lines(), 1..=40),
        reads_when_paused,
        "a paused snapshot reads no chunk"
    );
    send(r#"{"id":"r-1","type":"resume-snapshot","data":{}}"#);
    let lines = capture.wait_until("COMPLETED", TIMEOUT, |lines| {
        notifications(lines).iter().any(|t| t == "COMPLETED")
    });
    assert_eq!(reads_of(&lines, 1..=40), 40, "every row read once");
    let kinds = notifications(&lines);
    for kind in [
        "STARTED",
        "PAUSED",
        "RESUMED",
        "IN_PROGRESS",
        "TABLE_SCAN_COMPLETED",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }

    // A second snapshot, stopped by a signal: ABORTED, and no more chunks after it.
    server.sql("tm", "INSERT INTO items SELECT seq, 0 FROM seq_41_to_20000");
    send(r#"{"id":"s-2","type":"execute-snapshot","data":{"data-collections":["tm.items"]}}"#);
    send(r#"{"id":"x-2","type":"stop-snapshot","data":{"type":"incremental"}}"#);
    let lines = capture.wait_until("ABORTED", TIMEOUT, |lines| {
        notifications(lines).iter().any(|t| t == "ABORTED")
    });
    let reads = reads_of(&lines, 1..=20000);
    std::thread::sleep(Duration::from_millis(1500));
    let after = capture.stop_after_quiet();
    assert_eq!(
        reads_of(&after, 1..=20000),
        reads,
        "a stopped snapshot reads nothing more"
    );
    assert!(
        reads < 40 + 19960,
        "the stop came before the end: {reads} reads"
    );
}

/// Runs the golden files' workload (`tests/golden/README-maria-incremental.md`): 7 rows,
/// chunks of 3, a source-channel signal with `data`.
fn golden_run(data: &str) -> Vec<String> {
    let server = MariaDb::start();
    server.create_database("inv");
    server.sql(
        "inv",
        &format!(
            "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL, qty INT NOT NULL); \
             INSERT INTO items SELECT seq, CONCAT('item-', seq), seq * 10 FROM seq_1_to_7; \
             {SIGNAL_TABLE}"
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut capture = Capture::start(
        dir.path().to_path_buf(),
        maria_properties(
            &server,
            dir.path(),
            &[
                ("topic.prefix", "inc"),
                ("database.include.list", "inv"),
                ("snapshot.mode", "no_data"),
                ("signal.data.collection", "inv.debezium_signal"),
                ("signal.enabled.channels", "source"),
                ("incremental.snapshot.chunk.size", "3"),
                ("notification.enabled.channels", "sink,log"),
                ("notification.sink.topic.name", "inc-notifications"),
                ("read.only", "true"),
            ],
        ),
    );
    server.wait_binlog_dump();
    server.sql(
        "inv",
        &format!("INSERT INTO debezium_signal VALUES ('ad-hoc-1', 'execute-snapshot', '{data}')"),
    );
    capture.wait_until("COMPLETED", Duration::from_secs(60), |lines| {
        lines
            .iter()
            .any(|l| l.contains(r#""type":"COMPLETED","aggregate_type":"Incremental"#))
    });
    capture.stop_after_quiet()
}

/// The `source.pos` of each change event among `lines`.
fn positions(lines: &[String]) -> Vec<i64> {
    lines
        .iter()
        .filter_map(|l| {
            let record: Json = serde_json::from_str(l).ok()?;
            record["value"]["payload"]["source"]["pos"].as_i64()
        })
        .collect()
}

/// The test's server writes other statements into its binlog before the workload than the
/// oracle's did (its set-up, annotations), so positions are compared as moves: every event
/// is as far from the first as in Debezium's output.
fn assert_positions_move_alike(ours: &[String], theirs: &[String]) {
    let (ours, theirs) = (positions(ours), positions(theirs));
    let moves = |p: &[i64]| p.iter().map(|x| x - p[0]).collect::<Vec<_>>();
    assert!(!ours.is_empty(), "change events in the output");
    assert_eq!(
        moves(&ours),
        moves(&theirs),
        "binlog positions: ours {ours:?}, Debezium {theirs:?}"
    );
}

/// Blanks a change event's binlog position (compared by [`assert_positions_move_alike`]).
fn blank_position(record: &mut Json) {
    let source = &mut record["value"]["payload"]["source"];
    if source.get("pos").is_some() {
        source["pos"] = Json::Null;
    }
}

#[test]
fn an_incremental_snapshot_emits_debeziums_events() {
    let ours = golden_run(r#"{"data-collections": ["inv.items"], "type": "incremental"}"#);
    let theirs = tidemark_tests::golden_lines("maria-incremental-readonly.jsonl");
    assert_positions_move_alike(&ours, &theirs);
    assert_same_events_except(&ours, &theirs, |a, b| {
        for record in [a, b] {
            blank_notification(record);
            blank_position(record);
        }
    });
}

/// Blanks a read's binlog place.
fn blank_read_place(record: &mut Json) {
    let payload = &mut record["value"]["payload"];
    if payload["op"] == "r" {
        for field in ["gtid", "file"] {
            payload["source"][field] = Json::Null;
        }
    }
    blank_position(record);
}

#[test]
fn an_incremental_snapshot_with_a_filter_emits_debeziums_events() {
    let ours = golden_run(
        r#"{"data-collections": ["inv.items"], "type": "incremental", "additional-conditions": [{"data-collection": "inv.items", "filter": "qty > 30"}]}"#,
    );
    assert_same_events_except(
        &ours,
        &debezium_without_markers("maria-incremental-filter.jsonl"),
        |a, b| {
            for record in [a, b] {
                blank_notification(record);
                blank_read_place(record);
            }
        },
    );
}

#[test]
fn a_blocking_snapshot_under_changes_pauses_the_stream_and_yields_the_tables_content() {
    const ROWS: i64 = 50_000;
    let (server, dir, props) = setup("blk", ROWS, &[("table.include.list", "blk.items")]);
    let config = dir.path().join("connector.properties");
    tidemark_tests::write_properties(&config, &props);
    let out = dir.path().join("out.jsonl");
    let log = dir.path().join("run.log");
    let run = spawn_tidemark(&config, &log);
    server.wait_binlog_dump();

    let writing = Churn::start_maria(&server, "blk", ROWS, |_| String::new());
    // The signal table is not captured: its row is a signal all the same.
    let signal = r#"INSERT INTO debezium_signal VALUES ('blk-1', 'execute-snapshot',
           '{"data-collections": ["blk.items"], "type": "blocking",
             "additional-conditions": [{"data-collection": "blk.items", "filter": "id > 100"}]}')"#;
    let (lines, reads) = blocking(&server, "blk", &out, &log, run, writing, signal, TIMEOUT);
    assert_eq!(
        reads_of(&lines, 1..=100),
        0,
        "the filter keeps ids 1..=100 out"
    );
    let reads = reads as i64;
    assert!(
        (ROWS - 5_000..ROWS + 5_000).contains(&reads),
        "the snapshot reads the table whole: {reads} reads"
    );
    // Applied in order, the output is the table (the rows the filter left out come from
    // the stream only where they changed, so they are compared apart).
    let expected: std::collections::BTreeMap<i64, i64> = maria_table(&server, "blk", "items")
        .into_iter()
        .filter(|(id, _)| !(1..=100).contains(id))
        .collect();
    let got: std::collections::BTreeMap<i64, i64> = applied(&lines)
        .remove("blk.blk.items")
        .unwrap_or_default()
        .into_iter()
        .filter(|(id, _)| !(1..=100).contains(id))
        .collect();
    let problems = differences(&expected, Some(&got));
    assert!(problems.is_empty(), "{problems}");
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("blocking snapshot started: streaming paused"),
        "the log tells the stream paused"
    );
}
