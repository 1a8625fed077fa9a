//! An initial snapshot killed half-way resumes after restart from its last committed batch,
//! not from zero, against a real MariaDB: a 1M-row table (and a small one after it) under
//! inserts, updates, deletes and primary-key changes, the connector killed with SIGKILL once
//! about half the big table is out; the restarted connector reads only the rest (as an
//! incremental snapshot beside the stream, from the snapshot's binlog point), and applying the
//! whole output in order yields exactly both tables' final content.

use std::time::{Duration, Instant};

use tidemark_tests::capture::maria_properties;
use tidemark_tests::churn::{Churn, applied, differences, maria_table, wait_for_the_end_marker_in};
use tidemark_tests::mariadb::MariaDb;
use tidemark_tests::process::{read_lines, spawn_tidemark, wait_until};
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
    let log = |n: usize| dir.path().join(format!("run-{n}.log"));
    let writing = Churn::start_maria(&server, "big", ROWS, |i| {
        format!("UPDATE small SET v = v + 1 WHERE id = {};\n", i % SMALL + 1)
    });
    let mut run = spawn_tidemark(&config, &log(1));
    // Killed once about half the big table is out: the output's size tells.
    wait_until("the first line", TIMEOUT, || !read_lines(&out).is_empty());
    let line = read_lines(&out)[0].len() as u64 + 1;
    wait_until("half the table", TIMEOUT, || {
        std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0) > line * ROWS as u64 / 2
    });
    run.kill().unwrap();
    run.wait().unwrap();
    let first = read_lines(&out).len();
    assert!(
        !std::fs::read_to_string(log(1))
            .unwrap()
            .contains("snapshot completed"),
        "the kill came before the snapshot completed"
    );

    let started = Instant::now();
    let mut run = spawn_tidemark(&config, &log(2));
    wait_until("the rest of the snapshot", TIMEOUT, || {
        std::fs::read_to_string(log(2))
            .unwrap_or_default()
            .contains("incremental snapshot completed")
    });
    eprintln!("the rest of the snapshot took {:?}", started.elapsed());
    writing.stop();
    server.sql("big", "INSERT INTO items VALUES (-1, -1)");
    wait_for_the_end_marker_in(&out, TIMEOUT);
    run.kill().unwrap();
    run.wait().unwrap();

    let second = std::fs::read_to_string(log(2)).unwrap();
    assert!(
        second.contains("the initial snapshot resumes after its last committed batch"),
        "the restarted connector resumes the snapshot:\n{second}"
    );
    let lines = read_lines(&out);
    let reads_after = lines[first..]
        .iter()
        .filter(|l| l.contains(r#""op":"r""#))
        .count();
    eprintln!(
        "{first} lines before the kill, {reads_after} reads after the restart, {} lines in all",
        lines.len()
    );
    assert!(
        (reads_after as i64) < ROWS * 3 / 4,
        "after the restart the snapshot reads the rest, not the whole table again: \
         {reads_after} reads"
    );
    let got = applied(&lines);
    let problems: Vec<String> = [("items", "big.big.items"), ("small", "big.big.small")]
        .iter()
        .map(|(name, topic)| differences(&maria_table(&server, "big", name), got.get(*topic)))
        .filter(|p| !p.is_empty())
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
