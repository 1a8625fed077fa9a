//! A throwaway Kafka Connect 4.4 distributed worker (`ConnectDistributed`) with Debezium's
//! Postgres connector on its `plugin.path`, run from the jars `fetch.sh connect` puts in the
//! cache, against a test broker ([`Kafka`]): config, offset and status topics of its own
//! (replication factor 1), JsonConverter keys and values, its REST listener on an ephemeral
//! port of 127.0.0.1, its log in a temporary directory (the tail is printed when a test fails
//! while the worker is up). Its JVM has the broker's guard ([`Jvm`]).
//!
//! The REST helpers ([`Connect::create`], [`Connect::status`], [`Connect::offsets`], …) are
//! Connect's API as a user calls it, through the tests' REST client ([`Rest`], shared with the
//! tests of Tidemark's own worker).

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

use super::Kafka;
use super::jvm::{Jvm, VERSION, fetched, java};
use crate::rest::Rest;

/// How long a worker may take to report itself healthy, and a connector to reach a state.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// The worker's settings a test chooses; [`ConnectOptions::default`] gives unique names.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// `group.id`: workers with the same id form one Connect cluster.
    pub group_id: String,
    /// `offset.storage.topic`.
    pub offset_topic: String,
    /// `config.storage.topic`.
    pub config_topic: String,
    /// `status.storage.topic`.
    pub status_topic: String,
    /// `offset.flush.interval.ms` (Connect's default is 60 s; the default here is 500 ms).
    pub offset_flush_interval_ms: u64,
    /// More worker properties, written after the others (so they win).
    pub extra: Vec<(String, String)>,
}

impl Default for ConnectOptions {
    fn default() -> ConnectOptions {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "tidemark-connect-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        ConnectOptions {
            group_id: name.clone(),
            offset_topic: format!("{name}-offsets"),
            config_topic: format!("{name}-configs"),
            status_topic: format!("{name}-status"),
            offset_flush_interval_ms: 500,
            extra: Vec::new(),
        }
    }
}

/// The state a connector is created in (`initial_state` of `POST /connectors`, KIP-980).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitialState {
    Running,
    Paused,
    /// Configured but not started, no tasks: its offsets can be read and altered.
    Stopped,
}

/// A running Kafka Connect distributed worker.
pub struct Connect {
    /// The REST listener's port on 127.0.0.1.
    pub port: u16,
    /// The worker's settings.
    pub options: ConnectOptions,
    jvm: Option<Jvm>,
    rest: Rest,
    dir: tempfile::TempDir,
}

/// `<cache>/connect-<version>`, fetched by `fetch.sh connect` on first use.
fn home() -> PathBuf {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    HOME.get_or_init(|| fetched("connect")).clone()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The worker's `connect-distributed.properties`.
fn worker_properties(kafka: &Kafka, port: u16, options: &ConnectOptions) -> String {
    let mut props = vec![
        ("bootstrap.servers".to_owned(), kafka.bootstrap()),
        ("group.id".into(), options.group_id.clone()),
        (
            "key.converter".into(),
            "org.apache.kafka.connect.json.JsonConverter".into(),
        ),
        (
            "value.converter".into(),
            "org.apache.kafka.connect.json.JsonConverter".into(),
        ),
        ("offset.storage.topic".into(), options.offset_topic.clone()),
        ("offset.storage.replication.factor".into(), "1".into()),
        ("config.storage.topic".into(), options.config_topic.clone()),
        ("config.storage.replication.factor".into(), "1".into()),
        ("status.storage.topic".into(), options.status_topic.clone()),
        ("status.storage.replication.factor".into(), "1".into()),
        (
            "offset.flush.interval.ms".into(),
            options.offset_flush_interval_ms.to_string(),
        ),
        ("listeners".into(), format!("http://127.0.0.1:{port}")),
        ("rest.advertised.host.name".into(), "127.0.0.1".into()),
        ("rest.advertised.port".into(), port.to_string()),
        (
            "plugin.path".into(),
            home().join("plugins").display().to_string(),
        ),
        // Every plugin here has a ServiceLoader manifest: no class scanning at start.
        ("plugin.discovery".into(), "service_load".into()),
        // A lone worker: no delay before reassigning a departed member's work.
        ("scheduled.rebalance.max.delay.ms".into(), "0".into()),
    ];
    props.extend(options.extra.iter().cloned());
    props.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

impl Connect {
    /// Starts a worker against `kafka` and waits until `GET /health` says it is ready
    /// (joined its group, read its config topic). Prints how long that took.
    pub fn start(kafka: &Kafka, options: ConnectOptions) -> Connect {
        let home = home();
        let dir = tempfile::Builder::new()
            .prefix("tidemark-connect")
            .tempdir()
            .expect("tempdir");
        let port = free_port();
        let config = dir.path().join("connect-distributed.properties");
        std::fs::write(&config, worker_properties(kafka, port, &options))
            .expect("write the worker's properties");
        // Log4j 2 as Connect's distribution logs (its /admin/loggers changes these levels).
        let logging = crate::workspace_root().join("tests/support/kafka/connect-log4j2.properties");
        let started = Instant::now();
        let mut command = java(&home.join("libs"));
        command
            .arg(format!("-Dlog4j2.configurationFile={}", logging.display()))
            .arg("org.apache.kafka.connect.cli.ConnectDistributed")
            .arg(&config);
        let jvm = Jvm::spawn(
            command,
            &dir.path().join("connect.log"),
            dir.path(),
            "connect-guard",
        );
        let mut connect = Connect {
            port,
            options,
            jvm: Some(jvm),
            rest: Rest::new(port),
            dir,
        };
        connect.wait_healthy(started);
        eprintln!(
            "Kafka Connect {VERSION} on {} ready {:.1?} after its JVM started",
            connect.url(),
            started.elapsed()
        );
        connect
    }

    /// The REST API's base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn wait_healthy(&mut self, started: Instant) {
        loop {
            if let Ok((200, _)) = self.try_request("GET", "/health", None) {
                return;
            }
            let jvm = self.jvm.as_mut().expect("the worker is running");
            if let Some(status) = jvm.exited() {
                panic!(
                    "Kafka Connect exited ({status}) before it was ready:\n{}",
                    self.log_tail()
                );
            }
            assert!(
                started.elapsed() < READY_TIMEOUT,
                "Kafka Connect was not ready within {READY_TIMEOUT:?}:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Stops the worker with SIGTERM (it stops its connectors and commits their offsets) and
    /// waits for its JVM to end. Prints how long that took.
    pub fn stop(&mut self) {
        let stopping = Instant::now();
        self.jvm.take().expect("the worker is running").terminate();
        eprintln!(
            "Kafka Connect on {} stopped in {:.1?}",
            self.url(),
            stopping.elapsed()
        );
    }

    /// The last lines of the worker's log.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("connect.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    /// One request; the status and the body (JSON, or `null` when empty), or why it failed.
    fn try_request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Json>,
    ) -> Result<(u16, Json), String> {
        self.rest.try_request(method, path, body)
    }

    /// A request whose status must be one of `expected`; panics with the answer and the
    /// worker's log otherwise. Returns the answer's JSON.
    fn request(&self, method: &str, path: &str, body: Option<&Json>, expected: &[u16]) -> Json {
        match self.try_request(method, path, body) {
            Ok((status, json)) if expected.contains(&status) => json,
            Ok((status, json)) => panic!(
                "{method} {path}: HTTP {status} {json}\nConnect's log:\n{}",
                self.log_tail()
            ),
            Err(e) => panic!(
                "{method} {path} failed: {e}\nConnect's log:\n{}",
                self.log_tail()
            ),
        }
    }

    /// `POST /connectors`: creates connector `name` with `config` (a JSON object of string
    /// values; `name` is added) in `state`. Returns Connect's answer.
    pub fn create(&self, name: &str, config: &Json, state: InitialState) -> Json {
        let mut config = config.clone();
        config["name"] = json!(name);
        let state = match state {
            InitialState::Running => "RUNNING",
            InitialState::Paused => "PAUSED",
            InitialState::Stopped => "STOPPED",
        };
        self.request(
            "POST",
            "/connectors",
            Some(&json!({"name": name, "config": config, "initial_state": state})),
            &[201],
        )
    }

    /// `GET /connectors/{name}/status`.
    pub fn status(&self, name: &str) -> Json {
        self.request("GET", &format!("/connectors/{name}/status"), None, &[200])
    }

    /// `GET /connectors/{name}/offsets`: `{"offsets": [{"partition": …, "offset": …}]}`.
    pub fn offsets(&self, name: &str) -> Json {
        self.request("GET", &format!("/connectors/{name}/offsets"), None, &[200])
    }

    /// `PUT /connectors/{name}/stop`: stops the connector and its tasks (their offsets are
    /// committed); see [`Connect::wait_state`].
    pub fn stop_connector(&self, name: &str) {
        self.request(
            "PUT",
            &format!("/connectors/{name}/stop"),
            None,
            &[202, 204],
        );
    }

    /// `PUT /connectors/{name}/resume`: a paused or stopped connector runs again.
    pub fn resume(&self, name: &str) {
        self.request(
            "PUT",
            &format!("/connectors/{name}/resume"),
            None,
            &[202, 204],
        );
    }

    /// `DELETE /connectors/{name}` (its offsets stay in the offsets topic).
    pub fn delete(&self, name: &str) {
        self.request("DELETE", &format!("/connectors/{name}"), None, &[200, 204]);
    }

    /// Waits until the connector is RUNNING with at least one task, every task RUNNING;
    /// panics with the trace if it or a task failed.
    pub fn wait_running(&self, name: &str) {
        self.wait_for_status(name, "RUNNING", |status| {
            let tasks = status["tasks"].as_array().cloned().unwrap_or_default();
            !tasks.is_empty() && tasks.iter().all(|t| t["state"] == "RUNNING")
        });
    }

    /// Waits until the connector's state is `state` (`STOPPED`, `PAUSED`, …).
    pub fn wait_state(&self, name: &str, state: &str) {
        self.wait_for_status(name, state, |_| true);
    }

    fn wait_for_status(&self, name: &str, state: &str, tasks_ready: impl Fn(&Json) -> bool) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            // 404 until the worker has written the new connector's first status.
            let status = match self.try_request("GET", &format!("/connectors/{name}/status"), None)
            {
                Ok((404, _)) => Json::Null,
                _ => self.status(name),
            };
            let failed = std::iter::once(&status["connector"])
                .chain(status["tasks"].as_array().into_iter().flatten())
                .any(|s| s["state"] == "FAILED");
            assert!(
                !failed || state == "FAILED",
                "connector {name} failed: {status:#}"
            );
            if status["connector"]["state"] == state && tasks_ready(&status) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "connector {name} not {state} within {READY_TIMEOUT:?}: {status:#}\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Connect {
    fn drop(&mut self) {
        if std::thread::panicking() && self.jvm.is_some() {
            eprintln!(
                "Kafka Connect on {} (log {}):\n{}",
                self.url(),
                self.dir.path().join("connect.log").display(),
                self.log_tail()
            );
        }
        // The JVM goes before its directory.
        drop(self.jvm.take());
    }
}
