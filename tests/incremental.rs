//! Incremental snapshots (Debezium's, triggered by a signal) against a real Postgres: while a
//! 200k-row table is read in chunks, inserts, updates, deletes and primary-key changes hit it,
//! and the connector is killed with SIGKILL half-way; applying the output in order yields
//! exactly the table's final content, and the restarted snapshot goes on from its last
//! committed chunk, not from the start. On a small table the events equal the real
//! Debezium's for the same signal (`tests/golden/pg-incremental*.jsonl`).

use std::time::Duration;

use serde_json::Value as Json;
use tidemark_tests::capture::{Capture, assert_same_events_except, pg_properties};
use tidemark_tests::churn::{
    Churn, applied, differences, signal_setup, table, wait_for_the_end_marker,
};
use tidemark_tests::golden_lines;
use tidemark_tests::postgres::Postgres;
use tidemark_tests::process::{read_lines, spawn_tidemark, wait_until};

const ROWS: i64 = 200_000;
const TIMEOUT: Duration = Duration::from_secs(240);

fn reads_of(lines: &[String], ids: std::ops::RangeInclusive<i64>) -> usize {
    lines
        .iter()
        .filter(|l| l.contains(r#""op":"r""#))
        .filter(|l| {
            let record: Json = serde_json::from_str(l).unwrap();
            record["key"]["id"]
                .as_i64()
                .is_some_and(|id| ids.contains(&id))
        })
        .count()
}

#[test]
fn an_incremental_snapshot_under_changes_and_a_kill_9_yields_the_tables_content() {
    let (server, dir, config) = signal_setup("inc", ROWS, &[("offset.flush.interval.ms", "200")]);
    let out = dir.path().join("out.jsonl");
    let log = |n: usize| dir.path().join(format!("run-{n}.log"));
    let mut run = spawn_tidemark(&config, &log(1));
    server.wait_slot_active("inc", "tidemark_slot");

    let writing = Churn::start(&server, "inc", ROWS, |_| String::new());
    server.psql(
        "inc",
        r#"INSERT INTO debezium_signal VALUES ('snap-1', 'execute-snapshot',
           '{"data-collections": ["public.items"], "type": "incremental"}')"#,
    );
    // Killed once a good part of the table is out (and committed).
    wait_until("a third of the table read", TIMEOUT, || {
        read_lines(&out)
            .iter()
            .filter(|l| l.contains(r#""op":"r""#))
            .count()
            > ROWS as usize / 3
    });
    std::thread::sleep(Duration::from_millis(600));
    run.kill().unwrap();
    run.wait().unwrap();
    let before_restart = read_lines(&out).len();

    let mut run = spawn_tidemark(&config, &log(2));
    wait_until("the snapshot to complete", TIMEOUT, || {
        std::fs::read_to_string(log(2))
            .unwrap_or_default()
            .contains("incremental snapshot completed")
    });
    writing.stop();
    wait_for_the_end_marker(&server, "inc", &out, TIMEOUT);
    run.kill().unwrap();
    run.wait().unwrap();

    let second = std::fs::read_to_string(log(2)).unwrap();
    assert!(
        second.contains("incremental snapshot resumed after its last chunk"),
        "the restarted connector resumes the snapshot:\n{second}"
    );
    let lines = read_lines(&out);
    let after = &lines[before_restart..];
    assert_eq!(
        reads_of(after, 1..=1000),
        0,
        "after the restart the snapshot does not read its first chunks again"
    );
    let expected = table(&server, "inc", "items");
    let problems = differences(&expected, applied(&lines).get("inc.public.items"));
    assert!(
        problems.is_empty(),
        "{problems}; the runs' snapshot lines:\n{}",
        [log(1), log(2)]
            .iter()
            .flat_map(|l| std::fs::read_to_string(l)
                .unwrap_or_default()
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>())
            .filter(|l| l.contains("snapshot") || l.contains("WARN") || l.contains("ERROR"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    eprintln!(
        "{} events for a final table of {} rows; {} reads",
        lines.len(),
        expected.len(),
        lines.iter().filter(|l| l.contains(r#""op":"r""#)).count()
    );
}

/// Debezium's records of the golden file without its window markers: Debezium opens and
/// closes each chunk's window with rows it inserts into the signal table; Tidemark's
/// watermarks are logical decoding messages, which write no table (docs/snapshots.md).
fn debezium_without_markers(file: &str) -> Vec<String> {
    golden_lines(file)
        .into_iter()
        .filter(|l| {
            let record: Json = serde_json::from_str(l).unwrap();
            !record["value"]["payload"]["after"]["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("snapshot-window-"))
        })
        .collect()
}

/// Blanks what differs from run to run in a notification: the timestamp, and the random id
/// of the initial snapshot's `SKIPPED`.
fn blank_notification(record: &mut Json) {
    let payload = &mut record["value"]["payload"];
    if payload.get("aggregate_type").is_none() {
        return;
    }
    payload["timestamp"] = Json::Null;
    if payload["aggregate_type"] == "Initial Snapshot" {
        payload["id"] = Json::Null;
        record["key"]["payload"]["id"] = Json::Null;
    }
}

/// Runs the golden files' workload: 7 rows, chunks of 3, a signal with `data`.
fn golden_run(data: &str) -> Vec<String> {
    let server = Postgres::start();
    server.create_database("dbz");
    server.psql(
        "dbz",
        "CREATE TABLE public.items (id int PRIMARY KEY, name text NOT NULL, qty int NOT NULL); \
         INSERT INTO public.items SELECT g, 'item-' || g, g * 10 FROM generate_series(1, 7) g; \
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
                ("topic.prefix", "inc"),
                ("snapshot.mode", "no_data"),
                ("signal.data.collection", "public.debezium_signal"),
                ("signal.enabled.channels", "source"),
                ("incremental.snapshot.chunk.size", "3"),
                ("notification.enabled.channels", "sink,log"),
                ("notification.sink.topic.name", "inc-notifications"),
            ],
        ),
    );
    capture.wait_streaming(&server, "dbz");
    server.psql(
        "dbz",
        &format!(
            "INSERT INTO public.debezium_signal VALUES ('ad-hoc-1', 'execute-snapshot', '{data}')"
        ),
    );
    capture.wait_until("COMPLETED", Duration::from_secs(60), |lines| {
        lines.iter().any(|l| l.contains(r#""type":"COMPLETED""#))
    });
    capture.stop_after_quiet()
}

#[test]
fn an_incremental_snapshot_emits_debeziums_events() {
    let ours = golden_run(r#"{"data-collections": ["public.items"], "type": "incremental"}"#);
    assert_same_events_except(
        &ours,
        &debezium_without_markers("pg-incremental.jsonl"),
        |a, b| {
            blank_notification(a);
            blank_notification(b);
        },
    );
}

#[test]
fn an_incremental_snapshot_with_a_filter_emits_debeziums_events() {
    let ours = golden_run(
        r#"{"data-collections": ["public.items"], "type": "incremental", "additional-conditions": [{"data-collection": "public.items", "filter": "qty > 30"}]}"#,
    );
    assert_same_events_except(
        &ours,
        &debezium_without_markers("pg-incremental-filter.jsonl"),
        |a, b| {
            blank_notification(a);
            blank_notification(b);
        },
    );
}
