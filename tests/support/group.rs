//! Distributed worker groups for the tests: several `tidemark worker` processes with one
//! `group.id` on a real Kafka ([`Group`]), psql writers inserting into many databases at once
//! ([`Writers`]), and what their output topics hold ([`tallies`], [`breaks`]).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

use crate::kafka::read_topics;
use crate::kafka::tally::{Tally, changes, tally};
use crate::postgres::{Postgres, psql_command};
use crate::process::free_port;
use crate::tidemark_binary;
use crate::worker::{WorkerProcess, pg_connector};

/// How long the group may take to settle after a change.
pub const SETTLE: Duration = Duration::from_secs(90);

/// The group's session timeout: a worker silent this long loses its connectors.
pub const SESSION_MS: u64 = 6000;

/// Workers of one group, by index; `None` while one is down.
pub struct Group {
    dirs: Vec<tempfile::TempDir>,
    ports: Vec<u16>,
    workers: Vec<Option<WorkerProcess>>,
    props: String,
}

/// Each connector's `(connector state, task state, worker_id)` as one worker answers.
pub type Statuses = BTreeMap<String, (String, String, String)>;

impl Group {
    pub fn new(count: usize, name: &str, bootstrap: &str, extra: &str) -> Group {
        let props = format!(
            "group.id={name}\n\
             bootstrap.servers={bootstrap}\n\
             config.storage.topic={name}-configs\n\
             status.storage.topic={name}-status\n\
             offset.storage.topic={name}-offsets\n\
             config.storage.replication.factor=1\n\
             status.storage.replication.factor=1\n\
             offset.storage.replication.factor=1\n\
             offset.flush.interval.ms=500\n\
             session.timeout.ms={SESSION_MS}\n\
             heartbeat.interval.ms=2000\n\
             task.shutdown.graceful.timeout.ms=10000\n\
             topic.creation.default.partitions=1\n\
             topic.creation.default.replication.factor=1\n\
             {extra}"
        );
        let mut group = Group {
            dirs: (0..count).map(|_| tempfile::tempdir().unwrap()).collect(),
            ports: (0..count).map(|_| free_port()).collect(),
            workers: (0..count).map(|_| None).collect(),
            props,
        };
        for i in 0..count {
            group.start(i);
        }
        group
    }

    pub fn start(&mut self, i: usize) {
        assert!(self.workers[i].is_none(), "worker {i} is running");
        self.workers[i] = Some(WorkerProcess::start_with(
            &tidemark_binary(),
            self.dirs[i].path(),
            self.ports[i],
            &self.props,
            &[],
        ));
    }

    pub fn worker(&self, i: usize) -> &WorkerProcess {
        self.workers[i].as_ref().expect("the worker is running")
    }

    /// The worker id of worker `i` (its advertised host and port).
    pub fn id(&self, i: usize) -> String {
        format!("{}:{}", crate::worker::ADVERTISED_HOST, self.ports[i])
    }

    pub fn kill_9(&mut self, i: usize) {
        let mut worker = self.workers[i].take().expect("running");
        worker.child.kill().unwrap();
        worker.child.wait().unwrap();
    }

    pub fn stop(&mut self, i: usize) {
        self.workers[i].take().expect("running").stop();
    }

    /// Waits until worker `i` shows every connector RUNNING, spread over all `workers`
    /// workers (a worker that joined gets its share in the rebalance after the one that let
    /// it in).
    pub fn wait_spread(&self, i: usize, count: usize, workers: usize) -> Statuses {
        let deadline = Instant::now() + SETTLE;
        loop {
            let (_, statuses) = self.wait_running(i, count, |_| true);
            if per_worker(&statuses).len() == workers {
                return statuses;
            }
            assert!(Instant::now() < deadline, "not spread: {statuses:#?}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// What the running workers logged about the group and their connectors.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for (i, worker) in self.workers.iter().enumerate() {
            let Some(worker) = worker else { continue };
            out.push_str(&format!("--- worker {i} ({})\n", self.id(i)));
            for line in worker.log().lines() {
                if line.contains("worker group")
                    || line.contains("ERROR")
                    || line.contains("WARN")
                    || line.contains("panicked")
                    || line.contains("starting connector")
                {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        out
    }

    /// Every connector's status as worker `i` answers `GET /connectors?expand=status`.
    pub fn statuses(&self, i: usize) -> Statuses {
        let (code, body) = self
            .worker(i)
            .call("GET", "/connectors?expand=status", None);
        assert_eq!(code, 200, "{body}");
        body.as_object()
            .unwrap()
            .iter()
            .map(|(name, entry)| {
                let status = &entry["status"];
                let text = |v: &Json| v.as_str().unwrap_or("").to_owned();
                (
                    name.clone(),
                    (
                        text(&status["connector"]["state"]),
                        text(&status["tasks"][0]["state"]),
                        text(&status["connector"]["worker_id"]),
                    ),
                )
            })
            .collect()
    }

    /// Waits until worker `i` shows `count` connectors, each RUNNING on a worker `allowed`
    /// accepts; returns when that was, and the statuses.
    pub fn wait_running(
        &self,
        i: usize,
        count: usize,
        allowed: impl Fn(&str) -> bool,
    ) -> (Instant, Statuses) {
        let deadline = Instant::now() + SETTLE;
        loop {
            let statuses = self.statuses(i);
            let settled = statuses.len() == count
                && statuses
                    .values()
                    .all(|(c, t, w)| c == "RUNNING" && t == "RUNNING" && allowed(w));
            if settled {
                return (Instant::now(), statuses);
            }
            assert!(
                Instant::now() < deadline,
                "the group did not settle: worker {i} shows {statuses:#?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A failed test keeps its workers' whole logs in `target/test-logs/<group.id>/`.
impl Drop for Group {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let name = self
            .props
            .lines()
            .find_map(|l| l.strip_prefix("group.id="))
            .unwrap_or("group")
            .to_owned();
        let kept = crate::workspace_root().join("target/test-logs").join(name);
        let _ = std::fs::create_dir_all(&kept);
        for (i, dir) in self.dirs.iter().enumerate() {
            for entry in std::fs::read_dir(dir.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let file = entry.file_name().to_string_lossy().into_owned();
                if file.ends_with(".log") {
                    let _ = std::fs::copy(entry.path(), kept.join(format!("{i}-{file}")));
                }
            }
        }
        eprintln!("the workers' logs are kept in {}", kept.display());
    }
}

/// How many connectors each worker runs.
pub fn per_worker(statuses: &Statuses) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for (_, _, worker) in statuses.values() {
        *counts.entry(worker.clone()).or_insert(0) += 1;
    }
    counts
}

/// A psql session per database inserting rows `(n, 0)`, n counting from 1.
pub struct Writers {
    sessions: Vec<(Child, ChildStdin)>,
    counts: Vec<i64>,
}

impl Writers {
    pub fn start(server: &Postgres, dbs: &[String]) -> Writers {
        let sessions = dbs
            .iter()
            .map(|db| {
                let mut child = psql_command(server.port, db)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .spawn()
                    .unwrap();
                let stdin = child.stdin.take().unwrap();
                (child, stdin)
            })
            .collect();
        Writers {
            sessions,
            counts: vec![0; dbs.len()],
        }
    }

    /// One insert into every database.
    pub fn round(&mut self) {
        for ((_, stdin), count) in self.sessions.iter_mut().zip(&mut self.counts) {
            *count += 1;
            writeln!(stdin, "INSERT INTO t VALUES ({count}, 0);").unwrap();
            stdin.flush().unwrap();
        }
    }

    /// Keeps inserting (one round every 100 ms) for `duration`.
    pub fn write_for(&mut self, duration: Duration) {
        let end = Instant::now() + duration;
        while Instant::now() < end {
            self.round();
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Ends the sessions once every insert is in; the rows each database got.
    pub fn finish(self) -> Vec<i64> {
        for (mut child, stdin) in self.sessions {
            drop(stdin);
            assert!(child.wait().unwrap().success(), "a writer failed");
        }
        self.counts
    }
}

/// How a connector's ids (its topic's one partition, in order) were written: how many times
/// the sequence does not go on by one (a replay after a handover starts again from an older
/// id, then goes on by one; two writers at once would break it at nearly every record), and
/// the farthest it went back.
pub fn breaks(ids: &[i64]) -> (usize, i64) {
    let mut count = 0;
    let mut farthest = 0;
    for pair in ids.windows(2) {
        if pair[1] != pair[0] + 1 {
            count += 1;
            farthest = farthest.max(pair[0] - pair[1]);
        }
    }
    (count, farthest)
}

/// Reads each connector's topic until every row is there; the tallies and each topic's
/// [`breaks`].
pub fn tallies(bootstrap: &str, dbs: &[String], counts: &[i64]) -> Vec<(Tally, (usize, i64))> {
    let deadline = Instant::now() + SETTLE;
    loop {
        let tallies: Vec<(Tally, (usize, i64))> = dbs
            .iter()
            .zip(counts)
            .map(|(db, count)| {
                let topic = format!("{db}.public.t");
                let records = read_topics(bootstrap, &[&topic], true);
                let expected = (1..=*count).map(|id| (id, 0)).collect();
                let changes = changes(&records);
                let ids: Vec<i64> = changes.iter().map(|(id, _)| *id).collect();
                (tally(&expected, &changes), breaks(&ids))
            })
            .collect();
        if tallies.iter().all(|(t, _)| t.missing.is_empty()) || Instant::now() > deadline {
            return tallies;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Where a database's rows sit in its topic, for a failure message: the first records'
/// partition, offset, id and version, and the topic's size.
pub fn topic_head(bootstrap: &str, db: &str) -> String {
    let topic = format!("{db}.public.t");
    let records = read_topics(bootstrap, &[&topic], true);
    let head: Vec<String> = records
        .iter()
        .zip(changes(&records))
        .take(12)
        .map(|(r, (id, v))| format!("p{}@{}: ({id}, {v})", r.partition, r.offset))
        .collect();
    format!(
        "{} records in {topic}, first: {}",
        records.len(),
        head.join(" ")
    )
}

pub fn databases(server: &Postgres, prefix: &str, count: usize) -> Vec<String> {
    (0..count)
        .map(|i| {
            let db = format!("{prefix}{i:02}");
            server.create_database(&db);
            server.psql(&db, "CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL)");
            db
        })
        .collect()
}

pub fn connector(server: &Postgres, db: &str, exactly_once: bool) -> Json {
    let sink = PathBuf::from("unused");
    let mut extra = vec![
        ("sink.file", Json::Null),
        ("retriable.restart.connector.wait.ms", json!("200")),
        ("slot.retry.delay.ms", json!("500")),
        ("slot.max.retries", json!("120")),
    ];
    if exactly_once {
        extra.push(("exactly.once.support", json!("required")));
    }
    json!({ "name": db, "config": pg_connector(server, db, &sink, &extra) })
}
