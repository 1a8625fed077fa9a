//! A MariaDB initial snapshot read by several connections (`snapshot.max.threads`), without
//! a global lock: tables with an integer key (with holes), one with a text key, a small and an
//! empty one, read with three connections, give exactly the events of one connection, in the
//! same order with the same markers; under inserts, updates, deletes and primary-key changes,
//! with `snapshot.locking.mode=none` (no global lock allowed, as on a managed server), two
//! connections still read one consistent snapshot: applying the output yields the tables.

use std::time::Duration;

use serde_json::Value as Json;
use tidemark_tests::capture::maria_properties;
use tidemark_tests::churn::{Churn, applied, differences, maria_table, wait_for_the_end_marker_in};
use tidemark_tests::mariadb::MariaDb;
use tidemark_tests::process::{read_lines, spawn_tidemark, wait_until};
use tidemark_tests::scenarios::run_to_end;
use tidemark_tests::write_properties;

/// The `initial_only` snapshot of database `shop` with `threads` connections: its events
/// (volatile fields blanked) and the connector's log.
fn snapshot(server: &MariaDb, threads: &str) -> (Vec<Json>, String) {
    let dir = tempfile::tempdir().unwrap();
    run_to_end(
        dir.path(),
        &maria_properties(
            server,
            dir.path(),
            &[
                ("topic.prefix", "shop"),
                ("database.include.list", "shop"),
                ("snapshot.mode", "initial_only"),
                ("snapshot.max.threads", threads),
                ("notification.enabled.channels", "sink"),
                ("notification.sink.topic.name", "notes"),
                ("key.converter.schemas.enable", "false"),
                ("value.converter.schemas.enable", "false"),
            ],
        ),
    )
}

#[test]
fn three_connections_read_the_same_snapshot_as_one() {
    let server = MariaDb::start();
    server.create_database("shop");
    server.sql(
        "shop",
        "CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(40) NOT NULL); \
         INSERT INTO items SELECT seq, MD5(seq) FROM seq_1_to_150000; \
         DELETE FROM items WHERE id % 7 = 0; \
         UPDATE items SET v = CONCAT(v, '!') WHERE id % 11 = 0; \
         INSERT INTO items VALUES (-5, 'below'), (4000000000 DIV 2, 'far'); \
         CREATE TABLE named (name VARCHAR(20) PRIMARY KEY, n INT); \
         INSERT INTO named SELECT CONCAT('n', seq), seq FROM seq_1_to_3000; \
         CREATE TABLE small (id BIGINT UNSIGNED PRIMARY KEY); INSERT INTO small VALUES (1), (2), (3); \
         CREATE TABLE nothing (id INT PRIMARY KEY); \
         ANALYZE TABLE items, named, small, nothing",
    );
    let (one, _) = snapshot(&server, "1");
    let (three, log) = snapshot(&server, "3");
    assert!(
        log.contains("snapshot read by several connections"),
        "three connections read the snapshot:\n{log}"
    );
    let rows = one.iter().filter(|e| e["value"]["op"] == "r").count();
    assert!(rows > 130_000, "the snapshot read the tables: {rows} rows");
    assert_eq!(
        one.len(),
        three.len(),
        "as many events with 3 connections as with 1"
    );
    let first_difference = one.iter().zip(&three).position(|(a, b)| a != b);
    assert_eq!(
        first_difference,
        None,
        "the same events in the same order: {:?}",
        first_difference.map(|i| (&one[i], &three[i]))
    );
}

#[test]
fn two_connections_without_a_global_lock_read_one_consistent_snapshot_under_changes() {
    const ROWS: i64 = 200_000;
    let server = MariaDb::start();
    server.create_database("par");
    server.sql(
        "par",
        &format!(
            "CREATE TABLE items (id INT PRIMARY KEY, v INT NOT NULL); \
             INSERT INTO items SELECT seq, 0 FROM seq_1_to_{ROWS}; ANALYZE TABLE items"
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("connector.properties");
    write_properties(
        &config,
        &maria_properties(
            &server,
            dir.path(),
            &[
                ("topic.prefix", "par"),
                ("database.include.list", "par"),
                ("snapshot.max.threads", "2"),
                ("snapshot.locking.mode", "none"),
                ("key.converter.schemas.enable", "false"),
                ("value.converter.schemas.enable", "false"),
            ],
        ),
    );
    let writing = Churn::start_maria(&server, "par", ROWS, |_| String::new());
    std::thread::sleep(Duration::from_millis(500));
    let out = dir.path().join("out.jsonl");
    let log = dir.path().join("run.log");
    let mut run = spawn_tidemark(&config, &log);
    wait_until("the snapshot to complete", Duration::from_secs(240), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("snapshot completed")
    });
    std::thread::sleep(Duration::from_millis(500));
    writing.stop();
    server.sql("par", "INSERT INTO items VALUES (-1, -1)");
    wait_for_the_end_marker_in(&out, Duration::from_secs(240));
    run.kill().unwrap();
    run.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("snapshot read by several connections") && !text.contains("global read lock"),
        "two connections read the snapshot, aligned without a lock:\n{text}"
    );
    let lines = read_lines(&out);
    let problems = differences(
        &maria_table(&server, "par", "items"),
        applied(&lines).get("par.par.items"),
    );
    assert!(problems.is_empty(), "{problems}");
}
