//! Incremental snapshots (Debezium's, triggered by a signal) against a real Postgres: while a
//! 200k-row table is read in chunks, inserts, updates, deletes and primary-key changes hit it,
//! and the connector is killed with SIGKILL half-way; applying the output in order yields
//! exactly the table's final content, and the restarted snapshot goes on from its last
//! committed chunk, not from the start. On a small table the events equal the real
//! Debezium's for the same signal (`tests/golden/pg-incremental*.jsonl`).

use std::time::Duration;

use tidemark_tests::capture::{
    Capture, assert_same_events_except, blank_notification, debezium_without_markers, pg_properties,
};
use tidemark_tests::churn::{Churn, signal_setup};
use tidemark_tests::postgres::Postgres;
use tidemark_tests::process::spawn_tidemark;
use tidemark_tests::scenarios::incremental_killed_a_third_of_the_way;

const ROWS: i64 = 200_000;
const TIMEOUT: Duration = Duration::from_secs(240);

#[test]
fn an_incremental_snapshot_under_changes_and_a_kill_9_yields_the_tables_content() {
    let (server, dir, config) = signal_setup("inc", ROWS, &[("offset.flush.interval.ms", "200")]);
    let out = dir.path().join("out.jsonl");
    let run = spawn_tidemark(&config, &dir.path().join("run-1.log"));
    server.wait_slot_active("inc", "tidemark_slot");

    let writing = Churn::start(&server, "inc", ROWS, |_| String::new());
    server.psql(
        "inc",
        r#"INSERT INTO debezium_signal VALUES ('snap-1', 'execute-snapshot',
           '{"data-collections": ["public.items"], "type": "incremental"}')"#,
    );
    incremental_killed_a_third_of_the_way(
        &server,
        "inc",
        &config,
        &out,
        run,
        writing,
        ROWS,
        "inc.public.items",
        TIMEOUT,
    );
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
