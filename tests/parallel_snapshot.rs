//! An initial snapshot read by several connections (`snapshot.max.threads`) against a real
//! Postgres: a big table with holes and moved rows, a small one, an empty one and a
//! partitioned one, read with three connections, give exactly the events of one connection,
//! in the same order with the same markers.

use serde_json::Value as Json;
use tidemark_tests::capture::pg_properties;
use tidemark_tests::postgres::Postgres;
use tidemark_tests::scenarios::run_to_end;

/// The snapshot of database `shop` with `threads` connections: its events (volatile fields
/// blanked) and the connector's log.
fn snapshot(server: &Postgres, threads: &str) -> (Vec<Json>, String) {
    let dir = tempfile::tempdir().unwrap();
    run_to_end(
        dir.path(),
        &pg_properties(
            server,
            "shop",
            dir.path(),
            &[
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
    let server = Postgres::start();
    server.create_database("shop");
    server.psql(
        "shop",
        "CREATE TABLE items (id int PRIMARY KEY, v text NOT NULL); \
         INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 150000) g; \
         DELETE FROM items WHERE id % 7 = 0; \
         UPDATE items SET v = v || '!' WHERE id % 11 = 0; \
         CREATE TABLE small (id int PRIMARY KEY); INSERT INTO small VALUES (1), (2), (3); \
         CREATE TABLE nothing (id int PRIMARY KEY); \
         CREATE TABLE parts (id int PRIMARY KEY) PARTITION BY RANGE (id); \
         CREATE TABLE parts_low PARTITION OF parts FOR VALUES FROM (0) TO (1000); \
         CREATE TABLE parts_high PARTITION OF parts FOR VALUES FROM (1000) TO (3000); \
         INSERT INTO parts SELECT g FROM generate_series(1, 2999, 7) g",
    );
    server.psql("shop", "VACUUM ANALYZE");
    let (one, _) = snapshot(&server, "1");
    let (three, log) = snapshot(&server, "3");
    // Several ranges of the big table, read by three connections.
    let planned = log
        .lines()
        .find(|l| l.contains("snapshot read by several connections"))
        .unwrap_or_else(|| panic!("three connections read the snapshot:\n{log}"));
    // The log's fields are coloured: `ranges` ESC[0m ESC[2m = ESC[0m 13.
    let plain: String = planned
        .split('\x1b')
        .enumerate()
        .map(|(i, part)| match part.split_once('m') {
            Some((_, rest)) if i > 0 => rest,
            _ => part,
        })
        .collect();
    let ranges: usize = plain
        .split("ranges=")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("the number of ranges: {planned}"));
    assert!(ranges > 6, "the big table is cut into ranges: {planned}");
    let rows = one.iter().filter(|e| e["value"]["op"] == "r").count();
    assert!(rows > 128_000, "the snapshot read the tables: {rows} rows");
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
