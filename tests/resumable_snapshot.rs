//! An initial snapshot killed half-way resumes after restart from its last committed chunk,
//! not from zero, against a real Postgres: a 1M-row table (and a small one after it) under
//! inserts, updates, deletes and primary-key changes, the connector killed with SIGKILL once
//! about half the big table is out; the restarted connector reads only the rest (as an
//! incremental snapshot beside the stream, from the slot's consistent point), and applying the
//! whole output in order yields exactly both tables' final content. The snapshot is read by
//! two connections (`snapshot.max.threads=2`).

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use tidemark_tests::capture::pg_properties;
use tidemark_tests::postgres::{Postgres, psql_command};
use tidemark_tests::process::{read_lines, spawn_tidemark};
use tidemark_tests::write_properties;

const ROWS: i64 = 1_000_000;
const SMALL: i64 = 1_000;
const TIMEOUT: Duration = Duration::from_secs(300);

/// Inserts, updates, deletes and primary-key changes on `items` until told to stop.
fn writer(server: &Postgres, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    let mut child: Child = psql_command(server.port, "big")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::spawn(move || {
        let mut stdin = child.stdin.take().unwrap();
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % ROWS as u64) as i64 + 1
        };
        let mut i = 0;
        while !stop.load(Ordering::Acquire) {
            i += 1;
            let mut sql = format!(
                "UPDATE items SET v = v + 1 WHERE id = {};\n\
                 DELETE FROM items WHERE id = {};\n\
                 INSERT INTO items VALUES ({}, 0);\n\
                 UPDATE small SET v = v + 1 WHERE id = {};\n",
                next(),
                next(),
                ROWS + i,
                i % SMALL + 1
            );
            if i % 5 == 0 {
                // A new key of its own: a primary-key change never collides.
                sql.push_str(&format!(
                    "UPDATE items SET id = {} WHERE id = {};\n",
                    10_000_000 + i,
                    next()
                ));
            }
            stdin.write_all(sql.as_bytes()).unwrap();
            stdin.flush().unwrap();
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(stdin);
        assert!(child.wait().unwrap().success(), "the writer failed");
    })
}

/// Each table as applying the events in order leaves it: `table -> id -> v`.
fn applied(lines: &[String]) -> BTreeMap<String, BTreeMap<i64, i64>> {
    let mut tables: BTreeMap<String, BTreeMap<i64, i64>> = BTreeMap::new();
    for line in lines {
        let record: Json = serde_json::from_str(line).unwrap();
        let Some(topic) = record["topic"].as_str() else {
            continue;
        };
        let Some(id) = record["key"]["id"].as_i64() else {
            continue;
        };
        let table = tables.entry(topic.to_owned()).or_default();
        let value = &record["value"];
        if value.is_null() || value["op"] == "d" {
            table.remove(&id);
        } else {
            table.insert(id, value["after"]["v"].as_i64().expect("after.v"));
        }
    }
    tables
}

fn table(server: &Postgres, name: &str) -> BTreeMap<i64, i64> {
    server
        .psql("big", &format!("SELECT id, v FROM {name}"))
        .lines()
        .map(|l| {
            let (id, v) = l.split_once('|').unwrap();
            (id.parse().unwrap(), v.parse().unwrap())
        })
        .collect()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The differences between a table and what the output applied: a few keys of each kind.
fn differences(expected: &BTreeMap<i64, i64>, got: Option<&BTreeMap<i64, i64>>) -> String {
    let empty = BTreeMap::new();
    let got = got.unwrap_or(&empty);
    let missing: Vec<_> = expected
        .keys()
        .filter(|k| !got.contains_key(k))
        .take(5)
        .collect();
    let extra: Vec<_> = got
        .keys()
        .filter(|k| !expected.contains_key(k))
        .take(5)
        .collect();
    let wrong: Vec<_> = expected
        .iter()
        .filter(|(k, v)| got.get(k).is_some_and(|g| g != *v))
        .take(5)
        .collect();
    if missing.is_empty() && extra.is_empty() && wrong.is_empty() {
        return String::new();
    }
    format!(
        "{} rows expected, {} applied: missing {missing:?}, extra {extra:?}, wrong {wrong:?}",
        expected.len(),
        got.len()
    )
}

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
    let stop = Arc::new(AtomicBool::new(false));
    let writing = writer(&server, stop.clone());
    let mut run = spawn_tidemark(&config, &log(1));
    // Killed once about half the big table is out: the output's size tells.
    wait_for("the first line", || !read_lines(&out).is_empty());
    let line = read_lines(&out)[0].len() as u64 + 1;
    wait_for("half the table", || {
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
    wait_for("the rest of the snapshot", || {
        std::fs::read_to_string(log(2))
            .unwrap_or_default()
            .contains("incremental snapshot completed")
    });
    eprintln!("the rest of the snapshot took {:?}", started.elapsed());
    stop.store(true, Ordering::Release);
    writing.join().unwrap();
    server.psql("big", "INSERT INTO items VALUES (-1, -1)");
    wait_for("the last change", || {
        read_lines(&out)
            .iter()
            .rev()
            .take(50)
            .any(|l| l.contains(r#""id":-1"#))
    });
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
        .map(|(name, topic)| differences(&table(&server, name), got.get(*topic)))
        .filter(|p| !p.is_empty())
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
