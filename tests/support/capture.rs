//! Running a connector in the test process against a test server, and reading what it
//! wrote: a [`Capture`] runs `tidemark::pipeline::connector::run` on a thread of its own
//! with a JSON-lines file sink and a file offset store in a temporary directory.

use crate::process::read_lines;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use tidemark::api::{self, ApiState};
use tidemark::config::Properties;
use tidemark::config::WorkerConfig;
use tidemark::pipeline::connector;
use tidemark::pipeline::control::Controls;
use tidemark::worker::{RunError, Worker};
use tokio::sync::watch;

use crate::mariadb::MariaDb;
use crate::postgres::Postgres;

/// How long a test waits, once what it expected has arrived, for anything more to come
/// before it checks that nothing more did.
pub const QUIET: Duration = Duration::from_millis(500);

/// A connector running in the background.
pub struct Capture {
    pub dir: PathBuf,
    pub out: PathBuf,
    pub offsets: PathBuf,
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<Result<(), RunError>>>,
}

/// Connector properties for a test server's database `db`, with the sink and offsets in
/// `dir`; `extra` overrides and adds.
pub fn pg_properties(
    server: &Postgres,
    db: &str,
    dir: &std::path::Path,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut props: Vec<(String, String)> = [
        ("name", "test-connector"),
        (
            "connector.class",
            "io.debezium.connector.postgresql.PostgresConnector",
        ),
        ("database.hostname", "127.0.0.1"),
        ("database.user", "postgres"),
        ("database.password", crate::postgres::PASSWORD),
        ("topic.prefix", "dbz"),
        ("plugin.name", "pgoutput"),
        ("slot.name", "tidemark_slot"),
        ("publication.name", "tidemark_pub"),
        ("skipped.operations", "none"),
        ("offset.flush.interval.ms", "100"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    props.push(("database.port".into(), server.port.to_string()));
    props.push(("database.dbname".into(), db.into()));
    props.push((
        "sink.file".into(),
        dir.join("out.jsonl").display().to_string(),
    ));
    props.push((
        "offset.storage.file.filename".into(),
        dir.join("offsets.json").display().to_string(),
    ));
    for (k, v) in extra {
        props.retain(|(key, _)| key != k);
        props.push((k.to_string(), v.to_string()));
    }
    props
}

/// MariaDB connector properties for a test server, capturing database `dbz` with the sink,
/// offsets and schema history in `dir`; `extra` overrides and adds.
pub fn maria_properties(
    server: &MariaDb,
    dir: &std::path::Path,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut props: Vec<(String, String)> = [
        ("name", "test-connector"),
        (
            "connector.class",
            "io.debezium.connector.mariadb.MariaDbConnector",
        ),
        ("database.hostname", "127.0.0.1"),
        ("database.user", "root"),
        ("database.password", crate::mariadb::PASSWORD),
        ("database.server.id", "5401"),
        ("topic.prefix", "dbz"),
        ("database.include.list", "dbz"),
        ("include.schema.changes", "false"),
        (
            "schema.history.internal",
            "io.debezium.storage.file.history.FileSchemaHistory",
        ),
        ("offset.flush.interval.ms", "100"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    props.push(("database.port".into(), server.port.to_string()));
    for (key, file) in [
        ("sink.file", "out.jsonl"),
        ("offset.storage.file.filename", "offsets.json"),
        ("schema.history.internal.file.filename", "history.jsonl"),
    ] {
        props.push((key.into(), dir.join(file).display().to_string()));
    }
    for (k, v) in extra {
        props.retain(|(key, _)| key != k);
        props.push((k.to_string(), v.to_string()));
    }
    props
}

impl Capture {
    /// Starts a connector with these properties, writing into `dir`.
    pub fn start(dir: PathBuf, props: Vec<(String, String)>) -> Capture {
        // `RUST_LOG=info cargo test … -- --nocapture` shows what the connector logs. Unset,
        // the plugin layer's log is kept: libtest shows it with a failing test's output.
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("tidemark::plugin=info"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
        let (stop, shutdown) = watch::channel(false);
        let out = dir.join("out.jsonl");
        let offsets = dir.join("offsets.json");
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            let props = Properties::from_pairs(props);
            let address = WorkerConfig::rest_address(&props).expect("a valid REST address");
            let Some(address) = address else {
                return runtime
                    .block_on(connector::run(props, Controls::unattended(shutdown)))
                    .map_err(RunError::from);
            };
            // With a REST listener, as `tidemark run` runs it: in a worker serving the API.
            runtime.block_on(async move {
                let worker = Worker::new("capture".into(), Default::default(), None)?;
                let listener = api::bind(address).await.expect("the REST address is free");
                let state = ApiState {
                    worker: worker.clone(),
                    loggers: None,
                };
                let _api = api::serve(listener, state).expect("the REST API starts");
                let name = props.get("name").unwrap_or("test-connector").to_owned();
                worker.run_one(&name, props.to_map(), shutdown).await
            })
        });
        Capture {
            dir,
            out,
            offsets,
            stop,
            thread: Some(thread),
        }
    }

    /// Waits until the connector streams (its slot is active); panics with the connector's
    /// error if it stopped first.
    pub fn wait_streaming(&mut self, server: &Postgres, database: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.thread.as_ref().is_some_and(|t| t.is_finished()) {
                let result = self.thread.take().map(|t| t.join());
                panic!("the connector stopped before streaming: {result:?}");
            }
            let active = server.psql(
                database,
                "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'tidemark_slot' AND active",
            );
            if active.trim() == "1" {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the connector never started streaming"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The lines written so far.
    pub fn lines(&self) -> Vec<String> {
        read_lines(&self.out)
    }

    /// Every line written by the end of a quiet period ([`QUIET`]), read again after it: an
    /// extra or duplicated event arriving after what the test waited for is among them, so
    /// a check that nothing more came can fail.
    pub fn lines_after_quiet(&self) -> Vec<String> {
        std::thread::sleep(QUIET);
        self.lines()
    }

    /// Waits a quiet period, stops the connector (panicking unless it stops cleanly) and
    /// returns every line it wrote, read after the stop: an extra or duplicated event
    /// arriving after what the test waited for is among them.
    pub fn stop_after_quiet(self) -> Vec<String> {
        std::thread::sleep(QUIET);
        let out = self.out.clone();
        self.stop().expect("the connector stops cleanly");
        read_lines(&out)
    }

    /// Waits until at least `n` lines are written; panics after `timeout` (or if the
    /// connector stopped early) with what it has.
    pub fn wait_lines(&mut self, n: usize, timeout: Duration) -> Vec<String> {
        self.wait_until(&format!("{n} lines"), timeout, |lines| lines.len() >= n)
    }

    /// Waits until the lines written so far satisfy `done` (described by `what`); panics
    /// after `timeout` (or if the connector stopped early) with what it has.
    pub fn wait_until(
        &mut self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&[String]) -> bool,
    ) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let lines = self.lines();
            if done(&lines) {
                return lines;
            }
            if self.thread.as_ref().is_some_and(|t| t.is_finished()) {
                let result = self.thread.take().map(|t| t.join());
                panic!(
                    "the connector stopped after {} lines, before {what}: {result:?}",
                    lines.len()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "no {what} after {timeout:?}; {} lines:\n{}",
                    lines.len(),
                    lines.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Asks the connector to stop and returns how it ended.
    pub fn stop(mut self) -> Result<(), RunError> {
        let _ = self.stop.send(true);
        self.join()
    }

    /// Waits for the connector to end on its own.
    pub fn join(&mut self) -> Result<(), RunError> {
        match self.thread.take() {
            Some(thread) => thread.join().expect("the connector thread panicked"),
            None => Ok(()),
        }
    }

    /// Waits for the connector to end on its own within `timeout`; panics (leaving the
    /// connector's thread behind, so the test does not hang) when it does not.
    pub fn end_within(&mut self, timeout: Duration) -> Result<(), RunError> {
        let deadline = Instant::now() + timeout;
        while self.thread.as_ref().is_some_and(|t| !t.is_finished()) {
            if Instant::now() > deadline {
                drop(self.thread.take());
                panic!(
                    "the connector did not end within {timeout:?}; {} lines written",
                    self.lines().len()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.join()
    }

    /// The committed offset of the test connector.
    pub fn offset(&self) -> Option<Json> {
        read_offset(&self.offsets)
    }
}

/// The (only) offset in an offsets file.
pub fn read_offset(path: &std::path::Path) -> Option<Json> {
    let text = std::fs::read_to_string(path).ok()?;
    let all: Json = serde_json::from_str(&text).ok()?;
    all.as_object()?.values().next().cloned()
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Envelope and source fields that differ between runs (as `normalize.py` of the Debezium
/// oracle blanks them).
const VOLATILE_SOURCE: &[&str] = &["ts_ms", "ts_us", "ts_ns", "txId", "lsn", "sequence", "xmin"];
const VOLATILE_ENVELOPE: &[&str] = &["ts_ms", "ts_us", "ts_ns"];
/// Fields ExtractNewRecordState's `add.fields` copies from those.
const VOLATILE_ADDED: &[&str] = &[
    "__source_ts_ms",
    "__ts_ms",
    "__source_ts_us",
    "__source_ts_ns",
    "__lsn",
    "__source_lsn",
    "__txId",
    "__source_txId",
];

fn normalize_payload(payload: &mut Json) {
    let Some(object) = payload.as_object_mut() else {
        return;
    };
    for key in VOLATILE_ADDED {
        if object.contains_key(*key) {
            object.insert((*key).into(), Json::String("<X>".into()));
        }
    }
    if object.contains_key("op") && object.contains_key("source") {
        for key in VOLATILE_ENVELOPE {
            if object.contains_key(*key) {
                object.insert((*key).into(), Json::String("<X>".into()));
            }
        }
    }
    if let Some(Json::Object(source)) = object.get_mut("source") {
        for key in VOLATILE_SOURCE {
            if source.contains_key(*key) {
                source.insert((*key).into(), Json::String("<X>".into()));
            }
        }
    }
}

/// A JSON line with run-dependent fields blanked and headers dropped, for comparison.
pub fn normalize(line: &str) -> Json {
    let mut event: Json = serde_json::from_str(line).expect("a JSON line");
    if let Some(object) = event.as_object_mut() {
        object.remove("headers");
        for part in ["key", "value"] {
            if let Some(data) = object.get_mut(part) {
                match data.get_mut("payload") {
                    Some(payload) => normalize_payload(payload),
                    None => normalize_payload(data),
                }
            }
        }
    }
    event
}

/// Compares our lines with Debezium's, event by event, and panics with the differences
/// (field paths) when they differ.
pub fn assert_same_events(ours: &[String], theirs: &[String]) {
    assert_same_events_except(ours, theirs, |_, _| {});
}

/// Like [`assert_same_events`], after `accept` has reconciled each pair of normalized
/// events (ours, Debezium's) where a difference is known and deliberate.
pub fn assert_same_events_except(
    ours: &[String],
    theirs: &[String],
    accept: impl Fn(&mut Json, &mut Json),
) {
    let mut problems = Vec::new();
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        let (mut a, mut b) = (normalize(a), normalize(b));
        accept(&mut a, &mut b);
        if a != b {
            let mut paths = Vec::new();
            diff(&a, &b, String::new(), &mut paths);
            problems.push(format!("event {}: {}", i + 1, paths.join("; ")));
        }
    }
    if ours.len() != theirs.len() {
        problems.push(format!(
            "{} events, Debezium has {}",
            ours.len(),
            theirs.len()
        ));
    }
    assert!(
        problems.is_empty(),
        "differences from Debezium:\n{}",
        problems.join("\n")
    );
}

fn diff(a: &Json, b: &Json, path: String, out: &mut Vec<String>) {
    match (a, b) {
        (Json::Object(x), Json::Object(y)) => {
            for key in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                match (x.get(key), y.get(key)) {
                    (Some(p), Some(q)) => diff(p, q, format!("{path}.{key}"), out),
                    (p, q) => out.push(format!("{path}.{key}: ours {p:?}, Debezium {q:?}")),
                }
            }
        }
        (Json::Array(x), Json::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                diff(p, q, format!("{path}[{i}]"), out);
            }
        }
        _ if a != b => out.push(format!("{path}: ours {a}, Debezium {b}")),
        _ => {}
    }
}

/// Debezium's records of a golden file without its window markers: Debezium (unless
/// `read.only`) opens and closes each incremental chunk's window with rows it inserts into the
/// signal table; Tidemark writes none (docs/snapshots.md).
pub fn debezium_without_markers(file: &str) -> Vec<String> {
    crate::golden_lines(file)
        .into_iter()
        .filter(|l| {
            let record: Json = serde_json::from_str(l).unwrap();
            !record["value"]["payload"]["after"]["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("snapshot-window-"))
        })
        .collect()
}

/// Blanks what differs from run to run in an incremental snapshot's notification: the
/// timestamp, and the random id of the initial snapshot's notifications (the incremental
/// ones carry the signal's id).
pub fn blank_notification(record: &mut Json) {
    let payload = &mut record["value"]["payload"];
    if payload.get("aggregate_type").is_none() {
        return;
    }
    payload["timestamp"] = Json::Null;
    if payload["aggregate_type"] == "Initial Snapshot" {
        payload["id"] = Json::Null;
        record["key"]["payload"]["id"] = Json::Null;
    }
}
