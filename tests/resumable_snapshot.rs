//! An initial snapshot killed half-way resumes after restart from its last committed chunk,
//! not from zero, against a real Postgres: a 1M-row table (and a small one after it) under
//! inserts, updates, deletes and primary-key changes, the connector killed with SIGKILL once
//! about half the big table is out; the restarted connector reads only the rest (as an
//! incremental snapshot beside the stream, from the slot's consistent point), and applying the
//! whole output in order yields exactly both tables' final content. The snapshot is read by
//! two connections (`snapshot.max.threads=2`).

use std::time::Duration;

use tidemark_tests::capture::pg_properties;
use tidemark_tests::churn::Churn;
use tidemark_tests::postgres::Postgres;
use tidemark_tests::scenarios::initial_snapshot_killed_half_way;
use tidemark_tests::write_properties;

const ROWS: i64 = 1_000_000;
const SMALL: i64 = 1_000;
const TIMEOUT: Duration = Duration::from_secs(300);

#[test]
fn an_initial_snapshot_killed_half_way_resumes_from_its_last_chunk_and_stays_exact() {
    let server = Postgres::start();
    server.create_database("big");
    server.psql(
        "big",
        &format!(
            "CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL); \
             INSERT INTO items SELECT g, 0 FROM generate_series(1, {ROWS}) g; \
             CREATE TABLE small (id int PRIMARY KEY, v int NOT NULL); \
             INSERT INTO small SELECT g, 0 FROM generate_series(1, {SMALL}) g"
        ),
    );
    server.psql("big", "VACUUM ANALYZE items, small");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("connector.properties");
    write_properties(
        &config,
        &pg_properties(
            &server,
            "big",
            dir.path(),
            &[
                ("topic.prefix", "big"),
                ("key.converter.schemas.enable", "false"),
                ("value.converter.schemas.enable", "false"),
                ("offset.flush.interval.ms", "200"),
                // Read by two connections: their ranges come back in order, so the progress
                // is that of one.
                ("snapshot.max.threads", "2"),
            ],
        ),
    );
    let out = dir.path().join("out.jsonl");
    let writing = Churn::start(&server, "big", ROWS, |i| {
        format!("UPDATE small SET v = v + 1 WHERE id = {};\n", i % SMALL + 1)
    });
    initial_snapshot_killed_half_way(
        &server,
        "big",
        &config,
        &out,
        writing,
        ROWS,
        "the initial snapshot resumes after its last committed chunk",
        &[("items", "big.public.items"), ("small", "big.public.small")],
        TIMEOUT,
    );
}
