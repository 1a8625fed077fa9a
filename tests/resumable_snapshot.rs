//! An initial snapshot killed half-way resumes after restart from its last committed chunk,
//! not from zero, against a real Postgres: a 1M-row table (and a small one after it) under
//! inserts, updates, deletes and primary-key changes, the connector killed with SIGKILL once
//! about half the big table is out; the restarted connector reads only the rest (as an
//! incremental snapshot beside the stream, from the slot's consistent point), and applying the
//! whole output in order yields exactly both tables' final content. The snapshot is read by
//! two connections (`snapshot.max.threads=2`).

use std::time::{Duration, Instant};

use tidemark_tests::capture::pg_properties;
use tidemark_tests::churn::{Churn, applied, differences, table, wait_for_the_end_marker};
use tidemark_tests::postgres::Postgres;
use tidemark_tests::process::{read_lines, spawn_tidemark, wait_until};
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
    let log = |n: usize| dir.path().join(format!("run-{n}.log"));
    let writing = Churn::start(&server, "big", ROWS, |i| {
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
    wait_for_the_end_marker(&server, "big", &out, TIMEOUT);
    run.kill().unwrap();
    run.wait().unwrap();

    let second = std::fs::read_to_string(log(2)).unwrap();
    assert!(
        second.contains("the initial snapshot resumes after its last committed chunk"),
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
    let problems: Vec<String> = [("items", "big.public.items"), ("small", "big.public.small")]
        .iter()
        .map(|(name, topic)| differences(&table(&server, "big", name), got.get(*topic)))
        .filter(|p| !p.is_empty())
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
