//! An initial snapshot killed half-way resumes after restart from its last committed batch,
//! not from zero, against a real MariaDB: a 1M-row table (and a small one after it) under
//! inserts, updates, deletes and primary-key changes, the connector killed with SIGKILL once
//! about half the big table is out; the restarted connector reads only the rest (as an
//! incremental snapshot beside the stream, from the snapshot's binlog point), and applying the
//! whole output in order yields exactly both tables' final content.

use std::time::Duration;

use tidemark_tests::capture::maria_properties;
use tidemark_tests::churn::Churn;
use tidemark_tests::mariadb::MariaDb;
use tidemark_tests::scenarios::initial_snapshot_killed_half_way;
use tidemark_tests::write_properties;

const ROWS: i64 = 1_000_000;
const SMALL: i64 = 1_000;
const TIMEOUT: Duration = Duration::from_secs(300);

#[test]
fn a_maria_initial_snapshot_killed_half_way_resumes_from_its_last_batch_and_stays_exact() {
    let server = MariaDb::start();
    server.create_database("big");
    server.sql(
        "big",
        &format!(
            "CREATE TABLE items (id INT PRIMARY KEY, v INT NOT NULL); \
             INSERT INTO items SELECT seq, 0 FROM seq_1_to_{ROWS}; \
             CREATE TABLE small (id INT PRIMARY KEY, v INT NOT NULL); \
             INSERT INTO small SELECT seq, 0 FROM seq_1_to_{SMALL}"
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
                ("topic.prefix", "big"),
                ("database.include.list", "big"),
                ("key.converter.schemas.enable", "false"),
                ("value.converter.schemas.enable", "false"),
                ("offset.flush.interval.ms", "200"),
            ],
        ),
    );
    let out = dir.path().join("out.jsonl");
    let writing = Churn::start_maria(&server, "big", ROWS, |i| {
        format!("UPDATE small SET v = v + 1 WHERE id = {};\n", i % SMALL + 1)
    });
    initial_snapshot_killed_half_way(
        &server,
        "big",
        &config,
        &out,
        writing,
        ROWS,
        "the initial snapshot resumes after its last committed batch",
        &[("items", "big.big.items"), ("small", "big.big.small")],
        TIMEOUT,
    );
}
