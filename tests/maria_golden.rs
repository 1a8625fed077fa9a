//! Our MariaDB events equal Debezium 3.6.3's MariaDB connector's, event for event, on the
//! workloads its golden files were recorded from (`tests/workloads/maria-*.sql`,
//! `make-golden-maria.sh`): a real mariadbd per test, the snapshot part loaded first, the
//! streaming part run once the connector reads the binlog. Both runs start from a reset
//! binlog, so binlog files, positions and GTIDs are compared too; only times differ.

use std::time::Duration;

use serde_json::Value as Json;
use tidemark_tests::capture::{
    Capture, assert_same_events, assert_same_events_except, maria_properties,
};
use tidemark_tests::mariadb::MariaDb;
use tidemark_tests::{golden_lines, workload};

const TIMEOUT: Duration = Duration::from_secs(60);

/// A server with database `dbz` holding the snapshot part of a workload, its binlog reset
/// as the golden run's was.
fn server_with(setup: &str) -> MariaDb {
    let server = MariaDb::start();
    server.sql("", "CREATE DATABASE dbz; RESET MASTER;");
    server.sql_file("dbz", &workload(setup));
    server
}

/// Runs a connector on `server`, runs `stream` once it reads the binlog, and returns what it
/// wrote once it has as many lines as `golden` (a snapshot-only run: once it ended).
fn capture(
    server: &MariaDb,
    stream: Option<&str>,
    golden: &[String],
    extra: &[(&str, &str)],
) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let mut capture = Capture::start(
        dir.path().to_owned(),
        maria_properties(server, dir.path(), extra),
    );
    match stream {
        Some(stream) => {
            server.wait_binlog_dump();
            server.sql_file("dbz", &workload(stream));
            capture.wait_lines(golden.len(), TIMEOUT);
            // Nothing more may come: everything written by the stop is compared.
            capture.stop_after_quiet()
        }
        None => {
            capture.join().expect("the snapshot-only run ends cleanly");
            capture.lines()
        }
    }
}

#[test]
fn basic_workload_matches_debezium() {
    let golden = golden_lines("dbz/maria-basic.jsonl");
    let server = server_with("maria-basic.sql");
    let ours = capture(&server, Some("maria-basic-stream.sql"), &golden, &[]);
    assert_same_events(&ours, &golden);
}

#[test]
fn every_type_and_alter_table_mid_stream_match_debezium() {
    // The stream inserts the snapshot's rows again, updates, deletes, then ALTER TABLE adds a
    // column and drops another: rows before it decode with the old layout, after with the new.
    let golden = golden_lines("dbz/maria-types.jsonl");
    let server = server_with("maria-types.sql");
    let ours = capture(&server, Some("maria-types-stream.sql"), &golden, &[]);
    assert_same_events(&ours, &golden);
}

#[test]
fn type_handling_modes_match_debezium() {
    let server = server_with("maria-types.sql");
    for (golden, key, value) in [
        (
            "maria-types-decimal-double",
            "decimal.handling.mode",
            "double",
        ),
        (
            "maria-types-decimal-string",
            "decimal.handling.mode",
            "string",
        ),
        ("maria-types-time-connect", "time.precision.mode", "connect"),
        (
            "maria-types-time-adaptive_time_microseconds",
            "time.precision.mode",
            "adaptive_time_microseconds",
        ),
        (
            "maria-types-bigint-precise",
            "bigint.unsigned.handling.mode",
            "precise",
        ),
        (
            "maria-types-binary-base64",
            "binary.handling.mode",
            "base64",
        ),
        ("maria-types-binary-hex", "binary.handling.mode", "hex"),
    ] {
        let golden = golden_lines(&format!("dbz/{golden}.jsonl"));
        let ours = capture(
            &server,
            None,
            &golden,
            &[("snapshot.mode", "initial_only"), (key, value)],
        );
        assert_same_events(&ours, &golden);
    }
}

#[test]
fn schema_change_events_match_debezium() {
    let golden = golden_lines("dbz/maria-schema.jsonl");
    let server = server_with("maria-types.sql");
    let ours = capture(
        &server,
        Some("maria-types-stream.sql"),
        &golden,
        &[("include.schema.changes", "true")],
    );
    assert_same_events_except(&ours, &golden, |ours, theirs| {
        // A schema change event's own ts_ms is the time it was processed.
        for event in [ours, theirs] {
            if event["topic"] == "dbz"
                && let Some(ts) = event.pointer_mut("/value/payload/ts_ms")
            {
                *ts = Json::from("<X>");
            }
        }
    });
}

#[test]
fn transaction_metadata_matches_debezium() {
    // BEGIN at every GTID (also of a DDL statement, which has no END), END at XID with the
    // per-table counts in Debezium's order; transactions of tables not captured too.
    let golden = golden_lines("dbz/maria-txn.jsonl");
    let server = server_with("maria-txn.sql");
    let ours = capture(
        &server,
        Some("maria-txn-stream.sql"),
        &golden,
        &[
            ("provide.transaction.metadata", "true"),
            ("table.include.list", "dbz.customers,dbz.orders"),
        ],
    );
    assert_same_events_except(&ours, &golden, |ours, theirs| {
        // A BEGIN or END event's ts_ms is its binlog event's time.
        for event in [ours, theirs] {
            if event["topic"] == "dbz.transaction"
                && let Some(ts) = event.pointer_mut("/value/payload/ts_ms")
            {
                *ts = Json::from("<X>");
            }
        }
    });
}
