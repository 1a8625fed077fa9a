//! A `tidemark worker` process run by a test, driven over Kafka Connect's REST API, and the
//! Debezium Postgres connector configs the worker tests create on it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

use crate::postgres::{PASSWORD, Postgres};
use crate::process::{signal, wait_until};
use crate::rest::Rest;
use crate::tidemark_binary;

/// How long a worker may take to answer, or a connector to reach a state.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// The host name test workers advertise (`rest.advertised.host.name`): their `worker_id` is
/// this and the port they listen on.
pub const ADVERTISED_HOST: &str = "worker-a.tidemark.test";

/// A worker process, its REST client and its log.
pub struct WorkerProcess {
    pub child: Child,
    pub rest: Rest,
    pub log: PathBuf,
}

impl WorkerProcess {
    /// Starts this tree's `tidemark worker` on `port` with its files in `dir`.
    pub fn start(dir: &Path, port: u16) -> WorkerProcess {
        Self::start_with(&tidemark_binary(), dir, port, "", &[])
    }

    /// Starts `binary`'s worker on `port`, its properties and offsets in `dir`, with `extra`
    /// worker properties (lines of `key=value`) and environment variables `env`, and waits
    /// until its API answers.
    pub fn start_with(
        binary: &Path,
        dir: &Path,
        port: u16,
        extra: &str,
        env: &[(&str, &Path)],
    ) -> WorkerProcess {
        let config = dir.join("worker.properties");
        std::fs::write(
            &config,
            format!(
                "listeners=http://127.0.0.1:{port}\n\
                 rest.advertised.host.name={ADVERTISED_HOST}\n\
                 offset.storage.file.filename={}\n\
                 offset.flush.interval.ms=200\n\
                 {extra}",
                dir.join("offsets.json").display()
            ),
        )
        .unwrap();
        let log = dir.join(format!("worker-{}.log", std::process::id()));
        let mut command = Command::new(binary);
        command.arg("worker").arg(&config);
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .unwrap(),
            )
            .spawn()
            .expect("tidemark starts");
        let worker = WorkerProcess {
            child,
            rest: Rest::new(port),
            log,
        };
        wait_until("the worker's REST API", TIMEOUT, || {
            worker.rest.try_request("GET", "/", None).is_ok()
        });
        worker
    }

    /// Sends a request; its status and JSON answer.
    pub fn call(&self, method: &str, path: &str, body: Option<Json>) -> (u16, Json) {
        self.rest.request(method, path, body.as_ref())
    }

    /// What the worker logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A connector's state and its task's.
    pub fn state(&self, name: &str) -> (String, Option<String>) {
        let (_, status) = self.call("GET", &format!("/connectors/{name}/status"), None);
        let task = status["tasks"][0]["state"].as_str().map(str::to_owned);
        (
            status["connector"]["state"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
            task,
        )
    }

    /// Waits until connector `name` is in state `connector` and its task in `task`.
    pub fn wait_state(&self, name: &str, connector: &str, task: Option<&str>) {
        let what = format!("{name} to be {connector}/{task:?}");
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let state = self.state(name);
            if state.0 == connector && state.1.as_deref() == task {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: it is {state:?}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `field` of `/proc/<pid>/status` (e.g. `VmRSS` in kB, `Threads`).
    pub fn proc_status(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc status"))
    }

    /// The worker's resident memory in MiB.
    pub fn rss_mib(&self) -> f64 {
        self.proc_status("VmRSS") as f64 / 1024.0
    }

    /// The value of the sample of `metric` whose labels contain `labels`.
    pub fn metric(&self, metric: &str, labels: &str) -> Option<f64> {
        let (_, metrics) = self.call("GET", "/metrics", None);
        metrics
            .as_str()
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with(&format!("{metric}{{")) && l.contains(labels))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    /// Stops the worker with SIGTERM; it must exit cleanly.
    pub fn stop(mut self) {
        signal(&self.child, "-TERM");
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the worker exits cleanly: {status}");
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Debezium Postgres connector config for database `db` (slot `slot_<db>`, publication
/// `pub_<db>`, topic prefix `db`) writing JSON without schemas to `sink`, with `extra`
/// settings (a `null` removes a key).
pub fn pg_connector(server: &Postgres, db: &str, sink: &Path, extra: &[(&str, Json)]) -> Json {
    let mut config = json!({
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "database.hostname": "127.0.0.1",
        "database.port": server.port.to_string(),
        "database.user": "postgres",
        "database.password": PASSWORD,
        "database.dbname": db,
        "topic.prefix": db,
        "plugin.name": "pgoutput",
        "slot.name": format!("slot_{db}"),
        "publication.name": format!("pub_{db}"),
        "sink.file": sink.display().to_string(),
        "key.converter.schemas.enable": "false",
        "value.converter.schemas.enable": "false",
    });
    let object = config.as_object_mut().expect("an object");
    for (key, value) in extra {
        match value {
            Json::Null => object.remove(*key),
            value => object.insert((*key).to_owned(), value.clone()),
        };
    }
    config
}
