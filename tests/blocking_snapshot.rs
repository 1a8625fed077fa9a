//! Blocking snapshots (Debezium's `execute-snapshot` with `type` `blocking`) against a real
//! Postgres: the stream pauses while the named tables are read whole, then goes on where it
//! stopped. Under concurrent inserts, updates, deletes and primary-key changes the snapshot's
//! reads come out as one uninterrupted block and applying the output in order yields exactly
//! the table's final content; a filter (`additional-conditions`) limits the rows read. On a
//! small workload the events equal the real Debezium's (`tests/golden/pg-blocking*.jsonl`).

use std::time::Duration;

use serde_json::Value as Json;
use tidemark_tests::capture::{Capture, assert_same_events_except, pg_properties};
use tidemark_tests::churn::{Churn, applied, differences, signal_setup, table};
use tidemark_tests::golden_lines;
use tidemark_tests::postgres::Postgres;
use tidemark_tests::process::{read_lines, spawn_tidemark, wait_until};
use tidemark_tests::scenarios::{blocking, ops};

const ROWS: i64 = 50_000;
const TIMEOUT: Duration = Duration::from_secs(240);

#[test]
fn a_blocking_snapshot_under_changes_pauses_the_stream_and_yields_the_tables_content() {
    let (server, dir, config) = signal_setup(
        "blk",
        ROWS,
        &[("table.include.list", "public.items,public.debezium_signal")],
    );
    let out = dir.path().join("out.jsonl");
    let log = dir.path().join("run.log");
    let run = spawn_tidemark(&config, &log);
    server.wait_slot_active("blk", "tidemark_slot");

    let writing = Churn::start(&server, "blk", ROWS, |_| String::new());
    let signal = r#"INSERT INTO debezium_signal VALUES ('blk-1', 'execute-snapshot',
           '{"data-collections": ["public.items"], "type": "blocking"}')"#;
    let (lines, reads) = blocking(&server, "blk", &out, &log, run, writing, signal, TIMEOUT);
    let reads = reads as i64;
    assert!(
        (ROWS - 5_000..ROWS + 5_000).contains(&reads),
        "the snapshot reads the table whole: {reads} reads"
    );
    let expected = table(&server, "blk", "items");
    let problems = differences(&expected, applied(&lines).get("blk.public.items"));
    assert!(problems.is_empty(), "{problems}");
    eprintln!(
        "{} events, {reads} snapshot reads, a final table of {} rows",
        lines.len(),
        expected.len()
    );
}

/// Runs the golden files' workload: `items` (7 rows) and `other` (2), an insert streamed,
/// the blocking signal with `data`, then an update streamed after the snapshot.
fn golden_run(data: &str) -> Vec<String> {
    let server = Postgres::start();
    server.create_database("dbz");
    server.psql(
        "dbz",
        "CREATE TABLE public.items (id int PRIMARY KEY, name text NOT NULL, qty int NOT NULL); \
         INSERT INTO public.items SELECT g, 'item-' || g, g * 10 FROM generate_series(1, 7) g; \
         CREATE TABLE public.other (id int PRIMARY KEY, v text); \
         INSERT INTO public.other VALUES (1, 'one'), (2, 'two'); \
         CREATE TABLE public.debezium_signal (id varchar(42) PRIMARY KEY, \
             type varchar(32) NOT NULL, data varchar(2048) NULL)",
    );
    let dir = tempfile::tempdir().unwrap();
    let mut capture = Capture::start(
        dir.path().to_path_buf(),
        pg_properties(
            &server,
            "dbz",
            dir.path(),
            &[
                ("topic.prefix", "blk"),
                ("snapshot.mode", "no_data"),
                ("signal.data.collection", "public.debezium_signal"),
                ("signal.enabled.channels", "source"),
                ("notification.enabled.channels", "sink,log"),
                ("notification.sink.topic.name", "blk-notifications"),
            ],
        ),
    );
    capture.wait_streaming(&server, "dbz");
    server.psql("dbz", "INSERT INTO public.items VALUES (8, 'item-8', 80)");
    server.psql(
        "dbz",
        &format!(
            "INSERT INTO public.debezium_signal VALUES ('blk-1', 'execute-snapshot', '{data}')"
        ),
    );
    capture.wait_until("COMPLETED", Duration::from_secs(60), |lines| {
        lines.iter().any(|l| l.contains(r#""type":"COMPLETED""#))
    });
    server.psql("dbz", "UPDATE items SET qty = 1 WHERE id = 1");
    capture.wait_until("the update", Duration::from_secs(60), |lines| {
        lines.iter().any(|l| l.contains(r#""op":"u""#))
    });
    capture.stop_after_quiet()
}

/// Blanks what differs from run to run in a notification: its random id and timestamp.
fn blank_notification(record: &mut Json) {
    let payload = &mut record["value"]["payload"];
    if payload.get("aggregate_type").is_none() {
        return;
    }
    payload["timestamp"] = Json::Null;
    payload["id"] = Json::Null;
    record["key"]["payload"]["id"] = Json::Null;
}

/// [`blank_notification`] on both sides of a comparison.
fn blank_notifications(ours: &mut Json, theirs: &mut Json) {
    blank_notification(ours);
    blank_notification(theirs);
}

/// Every snapshot read carries the stream's position at the signal row: its `lsn`, `txId`
/// and `sequence` (which the comparison with Debezium blanks, being run-dependent).
fn assert_reads_at_the_signal(lines: &[String]) {
    let records: Vec<Json> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let source = |r: &Json| r["value"]["payload"]["source"].clone();
    let signal = records
        .iter()
        .find(|r| r["topic"] == "blk.public.debezium_signal")
        .map(source)
        .expect("the signal row's event");
    let reads: Vec<Json> = records
        .iter()
        .filter(|r| r["value"]["payload"]["op"] == "r")
        .map(source)
        .collect();
    assert!(!reads.is_empty());
    for read in reads {
        for field in ["lsn", "txId", "sequence"] {
            assert_eq!(read[field], signal[field], "a read's {field}: {read}");
        }
    }
}

#[test]
fn a_blocking_snapshot_emits_debeziums_events() {
    let ours =
        golden_run(r#"{"data-collections": ["public.items", "public.other"], "type": "blocking"}"#);
    assert_same_events_except(
        &ours,
        &golden_lines("pg-blocking.jsonl"),
        blank_notifications,
    );
    assert_reads_at_the_signal(&ours);
}

#[test]
fn a_blocking_snapshot_with_a_select_filter_emits_debeziums_events() {
    let ours = golden_run(
        r#"{"data-collections": ["public.items"], "type": "blocking", "additional-conditions": [{"data-collection": "public.items", "filter": "SELECT * FROM public.items WHERE qty > 30"}]}"#,
    );
    assert_same_events_except(
        &ours,
        &golden_lines("pg-blocking-filter-select.jsonl"),
        blank_notifications,
    );
    assert_reads_at_the_signal(&ours);
}

/// Debezium takes a blocking snapshot's filter as a whole `SELECT` and aborts on a bare
/// condition (`pg-blocking-filter.jsonl`: a syntax error, then ABORTED); Tidemark takes the
/// condition as the incremental snapshot does, with the same rows as the `SELECT`.
#[test]
fn a_blocking_snapshot_takes_a_bare_condition_as_well() {
    let ours = golden_run(
        r#"{"data-collections": ["public.items"], "type": "blocking", "additional-conditions": [{"data-collection": "public.items", "filter": "qty > 30"}]}"#,
    );
    assert_same_events_except(
        &ours,
        &golden_lines("pg-blocking-filter-select.jsonl"),
        |a, b| {
            blank_notifications(a, b);
            // The signal rows differ by their data (the filter as written).
            for record in [a, b] {
                if record["topic"] == "blk.public.debezium_signal" {
                    record["value"]["payload"]["after"]["data"] = Json::Null;
                }
            }
        },
    );
}

/// Killed with SIGKILL during a blocking snapshot, the connector resumes the stream
/// before the signal row and takes the whole snapshot again; a signal whose filter the server
/// refuses aborts its snapshot and the stream goes on.
#[test]
fn a_blocking_snapshot_killed_half_way_is_taken_again_and_a_bad_one_aborts() {
    const BIG: i64 = 400_000;
    let (server, dir, config) = signal_setup("blk", BIG, &[("offset.flush.interval.ms", "200")]);
    let out = dir.path().join("out.jsonl");
    let log = |n: usize| dir.path().join(format!("run-{n}.log"));
    let reads = |lines: &[String]| ops(lines).iter().filter(|op| *op == "r").count();
    let mut run = spawn_tidemark(&config, &log(1));
    server.wait_slot_active("blk", "tidemark_slot");
    server.psql(
        "blk",
        r#"INSERT INTO debezium_signal VALUES ('blk-1', 'execute-snapshot',
           '{"data-collections": ["public.items"], "type": "blocking"}')"#,
    );
    // Killed early in the snapshot: once its reads (well over 60 bytes each) fill a quarter of
    // what 60 bytes a row would.
    let deadline = std::time::Instant::now() + TIMEOUT;
    while std::fs::metadata(&out).map_or(0, |m| m.len()) < BIG as u64 * 60 / 4 {
        assert!(std::time::Instant::now() < deadline, "no snapshot reads");
        std::thread::sleep(Duration::from_millis(5));
    }
    run.kill().unwrap();
    run.wait().unwrap();
    let first_run = std::fs::read_to_string(log(1)).unwrap();
    assert!(
        !first_run.contains("blocking snapshot completed"),
        "the kill came during the snapshot:\n{first_run}"
    );
    let before_restart = read_lines(&out).len();

    let mut run = spawn_tidemark(&config, &log(2));
    wait_until("the snapshot taken again", TIMEOUT, || {
        std::fs::read_to_string(log(2))
            .unwrap_or_default()
            .contains("blocking snapshot completed")
    });
    let lines = read_lines(&out);
    assert_eq!(
        reads(&lines[before_restart..]),
        BIG as usize,
        "after the restart the whole table is read again"
    );

    // A filter the server refuses: ABORTED in the log, and the stream goes on.
    server.psql(
        "blk",
        r#"INSERT INTO debezium_signal VALUES ('blk-2', 'execute-snapshot',
           '{"data-collections": ["public.items"], "type": "blocking",
             "additional-conditions": [{"data-collection": "public.items", "filter": "no_such_column > 1"}]}')"#,
    );
    wait_until("the bad snapshot aborted", TIMEOUT, || {
        std::fs::read_to_string(log(2))
            .unwrap_or_default()
            .contains("blocking snapshot aborted")
    });
    server.psql("blk", "INSERT INTO items VALUES (-1, -1)");
    wait_until("a change after the aborted snapshot", TIMEOUT, || {
        read_lines(&out).iter().any(|l| l.contains(r#""id":-1"#))
    });
    run.kill().unwrap();
    run.wait().unwrap();
    let expected = table(&server, "blk", "items");
    let problems = differences(
        &expected,
        applied(&read_lines(&out)).get("blk.public.items"),
    );
    assert!(problems.is_empty(), "{problems}");
}
