//! Conformance of `tidemark worker`'s REST API with Kafka Connect's: the same script of
//! requests runs against a real Kafka Connect 4.4 worker with Debezium 3.6.1's Postgres
//! connector and against `tidemark worker` (its Kafka sink on the same broker), both managing
//! connectors made from the same Debezium JSON (their own slots, publications and topic
//! prefixes). Each step's status codes must be equal and its JSON answers of the same shape
//! (keys and value types, volatile values masked; see [`shape`]). Every difference is
//! collected and printed; the test fails listing them all, but for the deliberate ones in
//! [`ALLOWED`], which `docs/rest.md` lists too ("Deliberate differences from Kafka Connect").

#[path = "worker_conformance/script.rs"]
mod script;
#[path = "worker_conformance/shape.rs"]
mod shape;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use shape::{Shape, differences};
use tidemark_tests::kafka::{Connect, ConnectOptions, Kafka};
use tidemark_tests::postgres::Postgres;
use tidemark_tests::rest::Rest;
use tidemark_tests::tidemark_binary;

/// How long a connector may take to reach a state, on either worker.
const TIMEOUT: Duration = Duration::from_secs(60);
/// The connector the script manages, the one `PUT …/config` creates, and one created
/// stopped.
const NAME: &str = "inventory";
const SECOND: &str = "inventory-copy";
/// A connector created stopped.
const THIRD: &str = "inventory-stopped";
/// A connector neither worker has.
const MISSING: &str = "missing";
const POSTGRES: &str = "io.debezium.connector.postgresql.PostgresConnector";
/// The role the connectors log in as (the script takes its login away to fail their tasks).
const USER: &str = "cdc";
const USER_PASSWORD: &str = "cdc-secret";

/// Deliberate differences: (step, where (`status` or JSON paths), why). Each must still
/// occur (a stale entry fails the test), and each is in docs/rest.md.
const ALLOWED: &[(&str, &[&str], &str)] = &[
    (
        "POST /connectors [no config]",
        &["status", "$.error_code"],
        "Connect answers 500 (a NullPointerException in its herder); Tidemark answers 400 \
         naming the missing \"config\"",
    ),
    (
        "POST /connectors [invalid config]",
        &["status", "$.error_code"],
        "Connect 4.4 with Debezium 3.6.1 answers 500 (a NullPointerException while it lists \
         the errors of Debezium's validation); Tidemark answers Connect's documented 400 \
         listing every problem",
    ),
    (
        "PUT /connector-plugins/io.debezium.connector.postgresql.PostgresConnector/config/validate \
         [no connector.class]",
        &["status", "$.error_code"],
        "Connect answers 500 with its own BadRequestException wrapped in the message; Tidemark \
         answers the 400 it means",
    ),
    (
        "PUT /connector-plugins/NoSuchConnector/config/validate",
        &["status", "$.error_code"],
        "Connect answers 500 with its own BadRequestException wrapped in the message; Tidemark \
         answers the 400 it means",
    ),
];

/// One worker under test.
struct Side {
    /// `Connect` or `Tidemark`.
    who: &'static str,
    rest: Rest,
    /// A logger of this worker's connector code, for `/admin/loggers/{logger}`.
    logger: &'static str,
    /// Prefix of this side's slots, publications and topic prefixes.
    prefix: &'static str,
    /// The Postgres server's port.
    pg_port: u16,
}

impl Side {
    /// The Debezium JSON of connector `name` on this side.
    /// This side's slot (and publication and topic prefix) for connector `name`.
    fn slot(&self, name: &str) -> String {
        format!("{}_{}", self.prefix, name.replace('-', "_"))
    }

    fn config(&self, name: &str) -> Json {
        let own = self.slot(name);
        json!({
            "connector.class": POSTGRES,
            "database.hostname": "127.0.0.1",
            "database.port": self.pg_port.to_string(),
            "database.user": USER,
            "database.password": USER_PASSWORD,
            "database.dbname": "shop",
            "topic.prefix": own,
            "plugin.name": "pgoutput",
            "slot.name": own,
            "publication.name": own,
            "snapshot.mode": "initial",
            // A connection error fails the task at once (Debezium's default retries forever).
            "errors.max.retries": "0",
            "topic.creation.default.partitions": "1",
            "topic.creation.default.replication.factor": "1",
        })
    }

    fn get(&self, path: &str) -> (u16, Json) {
        self.rest.request("GET", path, None)
    }
}

/// A request's body.
enum Body {
    None,
    /// The same JSON to both workers.
    Json(Json),
    /// Each worker's own JSON (Connect's, Tidemark's).
    Each([Json; 2]),
    /// Bytes that are not JSON.
    Raw(&'static str),
}

/// How two answers are compared.
#[derive(Clone, Copy)]
enum Compare {
    /// Keys, types, and the values of [`shape`]'s contract keys.
    Full,
    /// The top object's keys are data (logger names): its values are compared as one.
    Keyed,
    /// Keys and types only: the answer lists data (each worker's config keys), so values
    /// and whether a list is empty are not compared.
    ShapeOnly,
}

/// One step of the script and both answers.
struct Step {
    /// `METHOD path` as the script wrote it (`{logger}` unexpanded), with a note in
    /// brackets when the same request is sent for another reason.
    label: String,
    answers: [(u16, Json); 2],
    compare: Compare,
}

/// `tidemark worker` with its Kafka sink on the test broker; killed on drop, its log printed
/// when the test fails.
struct TidemarkWorker {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl TidemarkWorker {
    fn start(kafka: &Kafka) -> TidemarkWorker {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = dir.path().join("worker.properties");
        std::fs::write(
            &config,
            format!(
                "listeners=http://127.0.0.1:{port}\n\
                 bootstrap.servers={}\n\
                 offset.storage.topic=tidemark-conformance-{}-offsets\n\
                 offset.storage.replication.factor=1\n\
                 offset.flush.interval.ms=500\n\
                 config.storage.file={}\n",
                kafka.bootstrap(),
                std::process::id(),
                dir.path().join("connectors.json").display()
            ),
        )
        .unwrap();
        let log = dir.path().join("worker.log");
        let child = Command::new(tidemark_binary())
            .arg("worker")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("tidemark starts");
        let worker = TidemarkWorker {
            child,
            port,
            log,
            _dir: dir,
        };
        let rest = Rest::new(port);
        let deadline = Instant::now() + TIMEOUT;
        while rest.try_request("GET", "/", None).is_err() {
            assert!(
                Instant::now() < deadline,
                "tidemark worker's API did not answer within {TIMEOUT:?}:\n{}",
                worker.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        worker
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }
}

impl Drop for TidemarkWorker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("tidemark worker's log:\n{}", self.log_tail());
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The two workers and the steps run so far.
struct Conformance {
    sides: [Side; 2],
    steps: Vec<Step>,
}

impl Conformance {
    /// Sends one request to both workers and records both answers.
    fn call(&mut self, method: &str, path: &str, body: Body) -> [(u16, Json); 2] {
        self.exchange(method, path, None, body, Compare::Full)
    }

    /// As [`Conformance::call`], the step labelled with `note`.
    fn call_noted(&mut self, note: &str, method: &str, path: &str, body: Body) {
        self.exchange(method, path, Some(note), body, Compare::Full);
    }

    /// As [`Conformance::call`], compared as `compare` says.
    fn call_compared(&mut self, compare: Compare, method: &str, path: &str, body: Body) {
        self.exchange(method, path, None, body, compare);
    }

    fn exchange(
        &mut self,
        method: &str,
        path: &str,
        note: Option<&str>,
        body: Body,
        compare: Compare,
    ) -> [(u16, Json); 2] {
        let answers = [0, 1].map(|i| {
            let side = &self.sides[i];
            let path = path.replace("{logger}", side.logger);
            let answer = match &body {
                Body::None => side.rest.try_request(method, &path, None),
                Body::Json(json) => side.rest.try_request(method, &path, Some(json)),
                Body::Each(each) => side.rest.try_request(method, &path, Some(&each[i])),
                Body::Raw(raw) => side.rest.try_request_raw(method, &path, (*raw).to_owned()),
            };
            answer.unwrap_or_else(|e| panic!("{}: {method} {path} failed: {e}", side.who))
        });
        self.steps.push(Step {
            label: match note {
                Some(note) => format!("{method} {path} [{note}]"),
                None => format!("{method} {path}"),
            },
            answers: answers.clone(),
            compare,
        });
        answers
    }

    /// Polls `GET path` on both workers until `done` holds for each, with one deadline.
    fn wait_until(&self, what: &str, path: &str, done: impl Fn(u16, &Json) -> bool) {
        let started = Instant::now();
        let mut pending = vec![0, 1];
        let mut last = [(0, Json::Null), (0, Json::Null)];
        while !pending.is_empty() {
            pending.retain(|&i| {
                last[i] = self.sides[i].get(path);
                !done(last[i].0, &last[i].1)
            });
            if pending.is_empty() {
                break;
            }
            assert!(
                started.elapsed() < TIMEOUT,
                "{what}: not within {TIMEOUT:?} on {}; last answers: Connect {:?}, Tidemark {:?}",
                pending
                    .iter()
                    .map(|&i| self.sides[i].who)
                    .collect::<Vec<_>>()
                    .join(" and "),
                last[0],
                last[1]
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        eprintln!("  {what}: {:.1?}", started.elapsed());
    }

    /// The process holding each side's replication slot of connector `name`, if any.
    fn slot_holders(&self, server: &Postgres, name: &str) -> [Option<String>; 2] {
        [0, 1].map(|i| {
            let pid = server.psql(
                "shop",
                &format!(
                    "SELECT active_pid FROM pg_replication_slots WHERE slot_name = '{}'",
                    self.sides[i].slot(name)
                ),
            );
            Some(pid.trim().to_owned()).filter(|pid| !pid.is_empty())
        })
    }

    /// Waits until each side's task of connector `name` streams from its slot through a
    /// connection other than `before`'s: a restart's new task has taken over (Connect answers
    /// a restart before its task has stopped, and a new Debezium task waits for the old one's
    /// slot).
    fn wait_streaming(&self, server: &Postgres, name: &str, before: &[Option<String>; 2]) {
        let started = Instant::now();
        loop {
            let now = self.slot_holders(server, name);
            let taken = (0..2).all(|i| now[i].is_some() && now[i] != before[i]);
            if taken {
                break;
            }
            assert!(
                started.elapsed() < TIMEOUT,
                "{name}: a new task did not take its slot within {TIMEOUT:?}: before {before:?}, now {now:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("  {name} streaming: {:.1?}", started.elapsed());
    }

    /// Waits until connector `name` and its tasks are `state` on both workers (`STOPPED`:
    /// no tasks).
    fn wait_state(&self, name: &str, state: &str) {
        self.wait_until(
            &format!("{name} {state}"),
            &format!("/connectors/{name}/status"),
            |code, status| {
                let failed = status["tasks"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|t| t["state"] == "FAILED");
                assert!(!failed, "{name} failed: {status:#}");
                let tasks = status["tasks"].as_array().cloned().unwrap_or_default();
                code == 200
                    && status["connector"]["state"] == state
                    && if state == "STOPPED" {
                        tasks.is_empty()
                    } else {
                        !tasks.is_empty() && tasks.iter().all(|t| t["state"] == state)
                    }
            },
        );
    }

    /// Every step's verdict, printed; the differences not in [`ALLOWED`], and the entries of
    /// [`ALLOWED`] that matched nothing.
    fn report(&self) -> Vec<String> {
        let mut unexpected = Vec::new();
        let mut used = vec![false; ALLOWED.len()];
        eprintln!(
            "\n{:>3}  {:<78} {:>7} {:>8}",
            "#", "step", "Connect", "Tidemark"
        );
        for (n, step) in self.steps.iter().enumerate() {
            let [(ca, ja), (cb, jb)] = &step.answers;
            let mut found = Vec::new();
            if ca != cb {
                found.push(("status".to_owned(), format!("Connect {ca}, Tidemark {cb}")));
            }
            let keyed = matches!(step.compare, Compare::Keyed);
            found.extend(differences(
                &Shape::of(&masked(ja), keyed),
                &Shape::of(&masked(jb), keyed),
                !matches!(step.compare, Compare::ShapeOnly),
            ));
            let mut lines = Vec::new();
            for (at, what) in found {
                let allowed = ALLOWED
                    .iter()
                    .position(|(s, p, _)| *s == step.label && p.contains(&at.as_str()));
                match allowed {
                    Some(i) => {
                        used[i] = true;
                        lines.push(format!("       allowed  {at}: {what} ({})", ALLOWED[i].2));
                    }
                    None => {
                        lines.push(format!("       DIFFERS  {at}: {what}"));
                        unexpected.push(format!("#{n} {}: {at}: {what}", step.label));
                    }
                }
            }
            let differs = lines.iter().any(|l| l.contains("DIFFERS"));
            let mark = match (differs, lines.is_empty()) {
                (true, _) => "  <-- differs",
                (false, false) => "  (allowed)",
                (false, true) => "",
            };
            eprintln!("{n:>3}  {:<78} {ca:>7} {cb:>8}{mark}", step.label);
            for line in &lines {
                eprintln!("{line}");
            }
            if differs {
                eprintln!("       Connect:  {}", clip(ja));
                eprintln!("       Tidemark: {}", clip(jb));
            }
        }
        for (i, (step, at, why)) in ALLOWED.iter().enumerate() {
            if !used[i] {
                unexpected.push(format!(
                    "allowed difference no longer seen (remove it here and in docs/rest.md): {step}: {at:?} ({why})"
                ));
            }
        }
        unexpected
    }
}

/// An answer with each source offset (`{"offsets": [{"partition", "offset"}]}`) cut to its
/// `lsn`: the other keys of Debezium's offset depend on the last message the source saw
/// (`lsn_proc`, `txId`, `messageType` after a change; not after a keepalive), so they differ
/// with timing, not with the API.
fn masked(json: &Json) -> Json {
    let mut json = json.clone();
    if let Some(entries) = json.get_mut("offsets").and_then(Json::as_array_mut) {
        for entry in entries {
            if let Some(offset) = entry.get_mut("offset").and_then(Json::as_object_mut) {
                offset.retain(|key, _| key == "lsn");
            }
        }
    }
    json
}

/// A JSON answer, cut to a readable length.
fn clip(json: &Json) -> String {
    let text = json.to_string();
    match text.char_indices().nth(600) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

/// A Postgres server with database `shop`, table `orders` of three rows, and the
/// connectors' role.
fn shop() -> Postgres {
    let server = Postgres::start();
    server.create_database("shop");
    server.psql(
        "shop",
        &format!(
            "CREATE TABLE orders (id int PRIMARY KEY, note text);
             INSERT INTO orders SELECT g, 'n' || g FROM generate_series(1, 3) g;
             CREATE ROLE {USER} SUPERUSER REPLICATION LOGIN PASSWORD '{USER_PASSWORD}'"
        ),
    );
    server
}

#[test]
fn tidemark_worker_answers_as_kafka_connect_does() {
    let started = Instant::now();
    // The tidemark binary is built (when its sources changed) while the servers start.
    let (kafka, server) = std::thread::scope(|s| {
        let server = s.spawn(shop);
        let build = s.spawn(|| {
            let building = Instant::now();
            tidemark_binary();
            eprintln!("tidemark binary ready in {:.1?}", building.elapsed());
        });
        let kafka = Kafka::start();
        build.join().expect("the tidemark binary builds");
        (kafka, server.join().expect("Postgres starts"))
    });
    let (connect, tidemark) = std::thread::scope(|s| {
        let connect = s.spawn(|| Connect::start(&kafka, ConnectOptions::default()));
        let tidemark = TidemarkWorker::start(&kafka);
        (connect.join().expect("Connect starts"), tidemark)
    });
    eprintln!(
        "Postgres, Kafka, Connect and Tidemark up in {:.1?}",
        started.elapsed()
    );
    let script = Instant::now();
    let mut run = Conformance {
        sides: [
            Side {
                who: "Connect",
                rest: Rest::new(connect.port),
                logger: "io.debezium.connector.postgresql",
                prefix: "connect",
                pg_port: server.port,
            },
            Side {
                who: "Tidemark",
                rest: Rest::new(tidemark.port),
                logger: "tidemark::sources::postgres",
                prefix: "tidemark",
                pg_port: server.port,
            },
        ],
        steps: Vec::new(),
    };
    script::lifecycle(&mut run, &server);
    script::failure(&mut run, &server);
    script::errors(&mut run);
    script::plugins_and_loggers(&mut run, &server);
    script::delete(&mut run);
    eprintln!("the script ran in {:.1?}", script.elapsed());
    let unexpected = run.report();
    drop(connect);
    eprintln!("worker_conformance: {:.1?}", started.elapsed());
    assert!(
        unexpected.is_empty(),
        "Tidemark's REST API differs from Kafka Connect's in {} place(s):\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
}
