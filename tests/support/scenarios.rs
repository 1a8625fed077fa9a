//! Scenarios the snapshot tests of both databases share, under a [`Churn`]: a connector killed
//! with SIGKILL while a snapshot runs, restarted, and its output applied ([`Killed`]); a
//! blocking snapshot taken while changes stream ([`blocking`]). [`Database`] is what they need
//! of a server.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::churn::{Churn, applied, differences, maria_table, table, wait_for_the_end_marker_in};
use crate::mariadb::MariaDb;
use crate::postgres::Postgres;
use crate::process::{read_lines, spawn_tidemark, wait_until};

/// What the scenario needs of a database server.
pub trait Database {
    /// Runs SQL in a database.
    fn execute(&self, database: &str, sql: &str);
    /// A table `(id, v)` of a database, `id -> v`.
    fn id_v(&self, database: &str, name: &str) -> BTreeMap<i64, i64>;
    /// Starts a [`Churn`] on `items` of a database.
    fn churn(
        &self,
        database: &str,
        rows: i64,
        more: impl Fn(i64) -> String + Send + 'static,
    ) -> Churn;
}

impl Database for Postgres {
    fn execute(&self, database: &str, sql: &str) {
        self.psql(database, sql);
    }

    fn id_v(&self, database: &str, name: &str) -> BTreeMap<i64, i64> {
        table(self, database, name)
    }

    fn churn(
        &self,
        database: &str,
        rows: i64,
        more: impl Fn(i64) -> String + Send + 'static,
    ) -> Churn {
        Churn::start(self, database, rows, more)
    }
}

impl Database for MariaDb {
    fn execute(&self, database: &str, sql: &str) {
        self.sql(database, sql);
    }

    fn id_v(&self, database: &str, name: &str) -> BTreeMap<i64, i64> {
        maria_table(self, database, name)
    }

    fn churn(
        &self,
        database: &str,
        rows: i64,
        more: impl Fn(i64) -> String + Send + 'static,
    ) -> Churn {
        Churn::start_maria(self, database, rows, more)
    }
}

/// How many snapshot reads (`op` r) of keys in `ids` are among `lines`.
pub fn reads_of(lines: &[String], ids: std::ops::RangeInclusive<i64>) -> usize {
    lines
        .iter()
        .filter(|l| l.contains(r#""op":"r""#))
        .filter(|l| {
            let record: Json = serde_json::from_str(l).unwrap();
            record["key"]["id"]
                .as_i64()
                .is_some_and(|id| ids.contains(&id))
        })
        .count()
}

/// Each output line's `op`, in order.
pub fn ops(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            let record: Json = serde_json::from_str(l).unwrap();
            record["value"]["op"].as_str().unwrap_or("").to_owned()
        })
        .collect()
}

/// Waits until `log` holds `text`; panics after `timeout` with the log's end.
pub fn wait_for_log(log: &Path, text: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while !std::fs::read_to_string(log)
        .unwrap_or_default()
        .contains(text)
    {
        if Instant::now() > deadline {
            let all = std::fs::read_to_string(log).unwrap_or_default();
            let tail: Vec<&str> = all.lines().rev().take(40).collect();
            panic!(
                "no {text:?} in {} after {timeout:?}; it ends:\n{}",
                log.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Two runs of a connector, the first killed.
pub struct Killed {
    /// Every output line.
    pub lines: Vec<String>,
    /// How many lines the first run wrote.
    pub before_restart: usize,
    /// The two runs' logs.
    pub logs: [PathBuf; 2],
}

impl Killed {
    /// Kills `run` (the first run of the connector of `config`, writing `out`) with SIGKILL
    /// once `kill_when` holds, restarts it (logging into `dir`), waits for `done` in its log,
    /// stops `writing`, inserts the end marker `(-1, -1)` into `items` and waits for it.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        server: &impl Database,
        database: &str,
        config: &Path,
        out: &Path,
        mut run: Child,
        writing: Churn,
        kill_when: impl Fn() -> bool,
        done: &str,
        timeout: Duration,
    ) -> Killed {
        let dir = config.parent().expect("the config's directory");
        let logs = [1, 2].map(|n| dir.join(format!("run-{n}.log")));
        wait_until("the point to kill at", timeout, kill_when);
        // Some of what it wrote is committed by then (offsets are flushed every 200 ms).
        std::thread::sleep(Duration::from_millis(300));
        run.kill().unwrap();
        run.wait().unwrap();
        let before_restart = read_lines(out).len();
        // What the restart starts from, shown if it goes wrong.
        let offsets = std::fs::read_to_string(dir.join("offsets.json")).unwrap_or_default();
        let mut run = spawn_tidemark(config, &logs[1]);
        if let Err(problem) = std::panic::catch_unwind(|| wait_for_log(&logs[1], done, timeout)) {
            let first = std::fs::read_to_string(&logs[0]).unwrap_or_default();
            let tail: Vec<&str> = first.lines().rev().take(15).collect();
            panic!(
                "{}\nthe offsets at the kill: {offsets}\nthe first run's log ends:\n{}",
                problem
                    .downcast_ref::<String>()
                    .cloned()
                    .unwrap_or_default(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        writing.stop();
        server.execute(database, "INSERT INTO items VALUES (-1, -1)");
        wait_for_the_end_marker_in(out, timeout);
        run.kill().unwrap();
        run.wait().unwrap();
        Killed {
            lines: read_lines(out),
            before_restart,
            logs,
        }
    }

    /// The events of `key` on `topic`: line number, `op`, `after.v` and the source's place.
    fn events_of(&self, topic: &str, key: i64) -> Vec<String> {
        self.lines
            .iter()
            .enumerate()
            .filter_map(|(i, l)| {
                let record: Json = serde_json::from_str(l).ok()?;
                (record["topic"] == topic && record["key"]["id"].as_i64() == Some(key)).then(|| {
                    let value = &record["value"];
                    let source = &value["source"];
                    format!(
                        "{i}: {} v={} snapshot={} {}",
                        value["op"],
                        value["after"]["v"],
                        source["snapshot"],
                        [
                            &source["file"],
                            &source["pos"],
                            &source["gtid"],
                            &source["lsn"]
                        ]
                        .iter()
                        .map(|f| f.to_string())
                        .collect::<Vec<_>>()
                        .join(" ")
                    )
                })
            })
            .collect()
    }

    /// The second run's log.
    pub fn second_log(&self) -> String {
        std::fs::read_to_string(&self.logs[1]).unwrap()
    }

    /// Asserts that the output applied in order equals each `(table, topic)` of `database`,
    /// showing the runs' snapshot, warning and error lines when it does not.
    pub fn assert_applied(&self, server: &impl Database, database: &str, tables: &[(&str, &str)]) {
        let got = applied(&self.lines);
        let mut problems = Vec::new();
        for (name, topic) in tables {
            let expected = server.id_v(database, name);
            let problem = differences(&expected, got.get(*topic));
            if problem.is_empty() {
                continue;
            }
            problems.push(problem);
            // The events of the first key that came out wrong, in order.
            let wrong = expected
                .iter()
                .find(|(k, v)| got.get(*topic).and_then(|t| t.get(k)) != Some(v));
            if let Some((key, _)) = wrong {
                problems.push(format!(
                    "the events of key {key} (the restart at line {}):\n{}",
                    self.before_restart,
                    self.events_of(topic, *key).join("\n")
                ));
            }
        }
        assert!(
            problems.is_empty(),
            "{}; the runs' snapshot lines:\n{}",
            problems.join("\n"),
            self.logs
                .iter()
                .flat_map(|l| std::fs::read_to_string(l)
                    .unwrap_or_default()
                    .lines()
                    .map(str::to_owned)
                    .collect::<Vec<_>>())
                .filter(|l| l.contains("snapshot") || l.contains("WARN") || l.contains("ERROR"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// Runs a blocking snapshot under changes: once `run` (writing `out`, logging into `log`)
/// streams changes of `writing`, `signal` (SQL) asks for the snapshot; once it completed and
/// more changes streamed, the writer stops and the end marker is waited for. Checks that the
/// reads came out as one block with changes before and after it; returns the output lines
/// and the number of reads.
#[allow(clippy::too_many_arguments)]
pub fn blocking(
    server: &impl Database,
    database: &str,
    out: &Path,
    log: &Path,
    mut run: Child,
    writing: Churn,
    signal: &str,
    timeout: Duration,
) -> (Vec<String>, usize) {
    wait_until("streamed changes", timeout, || {
        ops(&read_lines(out)).iter().filter(|op| *op == "u").count() > 20
    });
    server.execute(database, signal);
    wait_for_log(log, "blocking snapshot completed", timeout);
    // The stream goes on after it.
    let after_snapshot = read_lines(out).len();
    wait_until("changes streamed after the snapshot", timeout, || {
        read_lines(out).len() > after_snapshot + 100
    });
    writing.stop();
    server.execute(database, "INSERT INTO items VALUES (-1, -1)");
    wait_for_the_end_marker_in(out, timeout);
    run.kill().unwrap();
    run.wait().unwrap();
    let lines = read_lines(out);
    let ops = ops(&lines);
    let first = ops.iter().position(|op| op == "r").expect("snapshot reads");
    let last = ops.iter().rposition(|op| op == "r").unwrap();
    let block = &ops[first..=last];
    assert!(
        block.iter().all(|op| op == "r"),
        "the stream pauses during a blocking snapshot: {} other events among its reads",
        block.iter().filter(|op| *op != "r").count()
    );
    assert!(
        ops[..first].iter().any(|op| op == "u") && ops[last..].iter().any(|op| op == "u"),
        "changes stream before and after the snapshot"
    );
    let reads = block.len();
    (lines, reads)
}

/// Runs a connector that ends by itself (`snapshot.mode=initial_only`) with the properties
/// `props` (its sink in `dir`) and returns its events, volatile fields blanked (notifications
/// on topic `notes`: their random id and time), and its log.
pub fn run_to_end(dir: &Path, props: &[(String, String)]) -> (Vec<Json>, String) {
    let config = dir.join("connector.properties");
    crate::write_properties(&config, props);
    let log = dir.join("run.log");
    let mut run = spawn_tidemark(&config, &log);
    let deadline = Instant::now() + Duration::from_secs(120);
    while run.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the snapshot did not end");
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(run.wait().unwrap().success(), "the run ends cleanly: {log}");
    let events = read_lines(&dir.join("out.jsonl"))
        .iter()
        .map(|l| {
            let mut event = crate::capture::normalize(l);
            if event["topic"] == "notes" {
                event["key"] = Json::Null;
                event["value"]["id"] = Json::Null;
                event["value"]["timestamp"] = Json::Null;
            }
            event
        })
        .collect();
    (events, log)
}

/// An incremental snapshot of `items` (`rows` keys) killed a third of the way: `run` is the
/// connector of `config` (writing `out`) whose snapshot was just asked for while `writing`
/// changes the table. Checks that the restarted connector resumes after its last chunk, does
/// not read the first chunks again, and that the applied output equals the table (`topic`).
#[allow(clippy::too_many_arguments)]
pub fn incremental_killed_a_third_of_the_way(
    server: &impl Database,
    database: &str,
    config: &Path,
    out: &Path,
    run: Child,
    writing: Churn,
    rows: i64,
    topic: &str,
    timeout: Duration,
) {
    // Killed once a good part of the table is out (and committed).
    // (Counted cheaply: the poll must not lag behind a fast snapshot.)
    let third = || {
        read_lines(out)
            .iter()
            .filter(|l| l.contains(r#""op":"r""#))
            .count()
            > rows as usize / 3
    };
    let done = "incremental snapshot completed";
    let killed = Killed::run(
        server, database, config, out, run, writing, third, done, timeout,
    );
    assert!(
        !std::fs::read_to_string(&killed.logs[0])
            .unwrap()
            .contains(done),
        "the kill came before the snapshot completed"
    );
    let second = killed.second_log();
    assert!(
        second.contains("incremental snapshot resumed after its last chunk"),
        "the restarted connector resumes the snapshot:\n{second}"
    );
    assert_eq!(
        reads_of(&killed.lines[killed.before_restart..], 1..=1000),
        0,
        "after the restart the snapshot does not read its first chunks again"
    );
    killed.assert_applied(server, database, &[("items", topic)]);
}

/// An initial snapshot of `items` (`rows` keys, then other tables) killed half-way: the
/// connector of `config` (writing `out`) is started while `writing` changes the tables.
/// Checks that the restarted connector logs `resumes`, reads less than three quarters of the
/// table again, and that the applied output equals every `(table, topic)`.
#[allow(clippy::too_many_arguments)]
pub fn initial_snapshot_killed_half_way(
    server: &impl Database,
    database: &str,
    config: &Path,
    out: &Path,
    writing: Churn,
    rows: i64,
    resumes: &str,
    tables: &[(&str, &str)],
    timeout: Duration,
) {
    let run = spawn_tidemark(config, &config.with_file_name("run-1.log"));
    // Killed once about half the big table is out: the output's size tells.
    wait_until("the first line", timeout, || !read_lines(out).is_empty());
    let line = read_lines(out)[0].len() as u64 + 1;
    let half = || std::fs::metadata(out).map(|m| m.len()).unwrap_or(0) > line * rows as u64 / 2;
    let started = Instant::now();
    let done = "incremental snapshot completed";
    let killed = Killed::run(
        server, database, config, out, run, writing, half, done, timeout,
    );
    eprintln!("killed, restarted and done in {:?}", started.elapsed());
    assert!(
        !std::fs::read_to_string(&killed.logs[0])
            .unwrap()
            .contains("snapshot completed"),
        "the kill came before the snapshot completed"
    );
    let second = killed.second_log();
    assert!(
        second.contains(resumes),
        "the restarted connector resumes the snapshot:\n{second}"
    );
    let (first, lines) = (killed.before_restart, &killed.lines);
    let reads_after = reads_of(&lines[first..], i64::MIN..=i64::MAX);
    eprintln!(
        "{first} lines before the kill, {reads_after} reads after the restart, {} lines in all",
        lines.len()
    );
    assert!(
        (reads_after as i64) < rows * 3 / 4,
        "after the restart the snapshot reads the rest, not the whole table again: \
         {reads_after} reads"
    );
    killed.assert_applied(server, database, tables);
}
