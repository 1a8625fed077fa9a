//! Tables under change while a snapshot reads them, and what applying a connector's output
//! leaves: a writer of inserts, updates, deletes and primary-key changes on a table
//! `(id int PRIMARY KEY, v int)` ([`Churn`]), and the tables the events build when applied in
//! order ([`applied`]), to compare with the database's ([`table`], [`differences`]).

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value as Json;

use crate::mariadb::MariaDb;
use crate::postgres::{Postgres, psql_command};

/// A writer changing table `items` of a database until stopped.
pub struct Churn {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Churn {
    /// Starts changing `items` (keys 1..=`rows` at first) of `database`: every 5 ms an update,
    /// a delete and an insert of a new key, every fifth time a primary-key change to a key of
    /// its own, and `more(i)`, further SQL of the test's.
    pub fn start(
        server: &Postgres,
        database: &str,
        rows: i64,
        more: impl Fn(i64) -> String + Send + 'static,
    ) -> Churn {
        Churn::spawn(psql_command(server.port, database), rows, more)
    }

    /// [`Churn::start`] on a MariaDB database, through its client.
    pub fn start_maria(
        server: &MariaDb,
        database: &str,
        rows: i64,
        more: impl Fn(i64) -> String + Send + 'static,
    ) -> Churn {
        Churn::spawn(server.client(database), rows, more)
    }

    /// Runs the writer's statements through `client` (which reads SQL on its input).
    fn spawn(
        mut client: std::process::Command,
        rows: i64,
        more: impl Fn(i64) -> String + Send + 'static,
    ) -> Churn {
        let mut child: Child = client
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("psql runs");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut stdin = child.stdin.take().expect("psql's stdin");
            let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
            let mut next = move || {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed % rows as u64) as i64 + 1
            };
            let mut i = 0;
            while !stopping.load(Ordering::Acquire) {
                i += 1;
                let mut sql = format!(
                    "UPDATE items SET v = v + 1 WHERE id = {};\n\
                     DELETE FROM items WHERE id = {};\n\
                     INSERT INTO items VALUES ({}, 0);\n",
                    next(),
                    next(),
                    rows + i
                );
                if i % 5 == 0 {
                    // A new key of its own: a primary-key change never collides.
                    sql.push_str(&format!(
                        "UPDATE items SET id = {} WHERE id = {};\n",
                        10_000_000 + i,
                        next()
                    ));
                }
                sql.push_str(&more(i));
                stdin
                    .write_all(sql.as_bytes())
                    .expect("the writer's psql takes SQL");
                stdin.flush().expect("the writer's psql takes SQL");
                std::thread::sleep(Duration::from_millis(5));
            }
            drop(stdin);
            assert!(child.wait().unwrap().success(), "the writer failed");
        });
        Churn { stop, thread }
    }

    /// Stops the writer and waits for its last statement.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Release);
        self.thread.join().expect("the writer ends cleanly");
    }
}

/// Each topic's table as applying the events in order leaves it: `topic -> id -> v` (upsert
/// by key, delete on `d` or a tombstone).
pub fn applied(lines: &[String]) -> BTreeMap<String, BTreeMap<i64, i64>> {
    let mut tables: BTreeMap<String, BTreeMap<i64, i64>> = BTreeMap::new();
    for line in lines {
        let record: Json = serde_json::from_str(line).expect("a JSON line");
        let (Some(topic), Some(id)) = (record["topic"].as_str(), record["key"]["id"].as_i64())
        else {
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

/// Table `name`'s `id -> v` in the database.
pub fn table(server: &Postgres, database: &str, name: &str) -> BTreeMap<i64, i64> {
    server
        .psql(database, &format!("SELECT id, v FROM {name}"))
        .lines()
        .map(|l| {
            let (id, v) = l.split_once('|').expect("id|v");
            (id.parse().unwrap(), v.parse().unwrap())
        })
        .collect()
}

/// Table `name`'s `id -> v` in a MariaDB database.
pub fn maria_table(server: &MariaDb, database: &str, name: &str) -> BTreeMap<i64, i64> {
    server
        .sql(database, &format!("SELECT id, v FROM {name}"))
        .lines()
        .map(|l| {
            let (id, v) = l.split_once('\t').expect("id<TAB>v");
            (id.parse().unwrap(), v.parse().unwrap())
        })
        .collect()
}

/// What differs between a table and what the output applied (a few keys of each kind);
/// empty when they are equal.
pub fn differences(expected: &BTreeMap<i64, i64>, got: Option<&BTreeMap<i64, i64>>) -> String {
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

/// A signal-driven snapshot's set-up: a Postgres whose database `name` holds
/// `items (id int PRIMARY KEY, v int NOT NULL)` with keys 1..=`rows` (v 0) and Debezium's
/// signal table, and in a new directory the properties file (`connector.properties`) of a
/// connector streaming it without an initial snapshot, `topic.prefix` `name`, schemas off, the
/// signal table as `signal.data.collection`, `extra` on top.
pub fn signal_setup(
    name: &str,
    rows: i64,
    extra: &[(&str, &str)],
) -> (Postgres, tempfile::TempDir, std::path::PathBuf) {
    let server = Postgres::start();
    server.create_database(name);
    server.psql(
        name,
        &format!(
            "CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL); \
             INSERT INTO items SELECT g, 0 FROM generate_series(1, {rows}) g; \
             CREATE TABLE debezium_signal (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, \
                                           data varchar(2048) NULL)"
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("connector.properties");
    let mut settings = vec![
        ("topic.prefix", name),
        ("snapshot.mode", "no_data"),
        ("signal.data.collection", "public.debezium_signal"),
        ("key.converter.schemas.enable", "false"),
        ("value.converter.schemas.enable", "false"),
    ];
    settings.extend_from_slice(extra);
    crate::write_properties(
        &config,
        &crate::capture::pg_properties(&server, name, dir.path(), &settings),
    );
    (server, dir, config)
}

/// Inserts the end marker `(-1, -1)` into `items` of `database` and waits until it is among
/// the last lines of `out`: every change before it has been written.
pub fn wait_for_the_end_marker(
    server: &Postgres,
    database: &str,
    out: &std::path::Path,
    timeout: Duration,
) {
    server.psql(database, "INSERT INTO items VALUES (-1, -1)");
    wait_for_the_end_marker_in(out, timeout);
}

/// Waits until the end marker `(-1, -1)`, inserted by the caller, is among the last lines of
/// `out`.
pub fn wait_for_the_end_marker_in(out: &std::path::Path, timeout: Duration) {
    crate::process::wait_until("the last change", timeout, || {
        crate::process::read_lines(out)
            .iter()
            .rev()
            .take(50)
            .any(|l| l.contains(r#""id":-1"#))
    });
}
