//! A throwaway Apache Kafka broker: a single-node KRaft cluster (broker and controller in one
//! JVM) on two ephemeral ports of 127.0.0.1, its logs in a temporary directory, run from the
//! jars `tests/support/kafka/fetch.sh` puts in the cache.
//!
//! A guard process (`sh`) holds the read end of a pipe whose write end only this test process
//! has: when the test process ends, however it ends, the guard kills the JVM and removes the
//! directory. That lets a test binary share one broker ([`Kafka::shared`]) from a static.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer;

/// The Apache Kafka release the tests run (the `<kafka.version>` of `pom.xml`).
const VERSION: &str = "4.4.0";

/// Any valid cluster id (16 bytes, base64url): each broker is a cluster of its own.
const CLUSTER_ID: &str = "dGlkZW1hcmstdGVzdHMtMQ";

/// How long a broker may take to answer its first metadata request.
const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// JVM options: a small heap and a collector and compiler that start fast.
const JVM_OPTIONS: &[&str] = &[
    "-Xms256m",
    "-Xmx512m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
];

/// A running (or stopped, see [`Kafka::stop`]) single-node Apache Kafka broker.
pub struct Kafka {
    /// The PLAINTEXT listener's port on 127.0.0.1.
    pub port: u16,
    dir: tempfile::TempDir,
    libs: PathBuf,
    running: Option<Running>,
}

/// The broker's JVM and the guard that kills it if the test process goes away.
struct Running {
    java: Child,
    guard: Child,
    guard_stdin: ChildStdin,
}

/// The cache directory of `fetch.sh`: `$TIDEMARK_CACHE`, else `$XDG_CACHE_HOME/tidemark`,
/// else `~/.cache/tidemark`.
fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TIDEMARK_CACHE") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache")
        });
    base.join("tidemark")
}

/// The broker's jars, fetched by `tests/support/kafka/fetch.sh` on first use.
fn libs() -> PathBuf {
    static LIBS: OnceLock<PathBuf> = OnceLock::new();
    LIBS.get_or_init(|| {
        let home = cache_dir().join(format!("kafka-{VERSION}"));
        if !home.join(".complete").exists() {
            let script = crate::workspace_root().join("tests/support/kafka/fetch.sh");
            let status = Command::new("bash")
                .arg(&script)
                .arg("kafka")
                .status()
                .expect("bash runs");
            assert!(
                status.success() && home.join(".complete").exists(),
                "Apache Kafka {VERSION} is not in {} and fetching it failed: run \
                 `bash tests/support/kafka/fetch.sh` (needs Maven and a JDK 17+)",
                home.display()
            );
        }
        home.join("libs")
    })
    .clone()
}

/// Two distinct free ports (both held while the second is chosen).
fn free_ports() -> (u16, u16) {
    let bind = || std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let (a, b) = (bind(), bind());
    let port = |l: &std::net::TcpListener| l.local_addr().expect("a bound port").port();
    (port(&a), port(&b))
}

/// `server.properties` of a single-node KRaft cluster.
fn server_properties(port: u16, controller_port: u16, data: &Path) -> String {
    format!(
        "process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={data}
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
",
        data = data.display()
    )
}

impl Kafka {
    /// Starts a broker of its own (for a test that stops it) and waits until it answers.
    pub fn start() -> Kafka {
        let started = Instant::now();
        let libs = libs();
        let dir = tempfile::Builder::new()
            .prefix("tidemark-kafka")
            .tempdir()
            .expect("tempdir");
        let (port, controller_port) = free_ports();
        let config = dir.path().join("server.properties");
        std::fs::write(
            &config,
            server_properties(port, controller_port, &dir.path().join("data")),
        )
        .expect("write server.properties");
        let log = dir.path().join("format.log");
        let status = java(&libs)
            .arg("-Dorg.slf4j.simpleLogger.defaultLogLevel=warn")
            .args(["kafka.tools.StorageTool", "format", "-t", CLUSTER_ID, "-c"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .status()
            .expect("java runs (a JDK 17+ on PATH)");
        assert!(
            status.success(),
            "formatting Kafka's storage failed: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        let mut broker = Kafka {
            port,
            dir,
            libs,
            running: None,
        };
        broker.resume();
        eprintln!(
            "Apache Kafka {VERSION} on {} ready {:.1?} after its start (storage format included)",
            broker.bootstrap(),
            started.elapsed()
        );
        broker
    }

    /// The broker shared by this test binary's tests (started on first use, gone with the
    /// process). Tests sharing it use topics of their own and never stop it.
    pub fn shared() -> &'static Kafka {
        static SHARED: OnceLock<Kafka> = OnceLock::new();
        SHARED.get_or_init(Kafka::start)
    }

    /// `bootstrap.servers` for this broker.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops the broker with SIGTERM (a controlled shutdown) and waits for its JVM to end.
    /// Its ports and data stay for [`Kafka::resume`].
    pub fn stop(&mut self) {
        let stopping = Instant::now();
        let mut running = self.running.take().expect("the broker is running");
        let status = Command::new("kill")
            .args(["-TERM", &running.java.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "signalling the broker failed");
        let _ = running.java.wait();
        running.disarm();
        eprintln!(
            "Apache Kafka on {} stopped in {:.1?}",
            self.bootstrap(),
            stopping.elapsed()
        );
    }

    /// Starts the broker (again, on the same ports and data) and waits until it answers.
    pub fn resume(&mut self) {
        assert!(self.running.is_none(), "the broker is already running");
        let started = Instant::now();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("log file");
        let java = java(&self.libs)
            .arg("kafka.Kafka")
            .arg(self.dir.path().join("server.properties"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("java runs (a JDK 17+ on PATH)");
        // The guard: on EOF (this process gone) it kills the JVM and removes the directory;
        // `disarm` tells it the JVM has been waited for.
        let mut guard = Command::new("sh")
            .arg("-c")
            .arg(r#"read -r line; [ "$line" = disarm ] || { kill -9 "$1"; rm -rf "$2"; }"#)
            .arg("kafka-guard")
            .arg(java.id().to_string())
            .arg(self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("sh runs");
        let guard_stdin = guard.stdin.take().expect("the guard's stdin");
        self.running = Some(Running {
            java,
            guard,
            guard_stdin,
        });
        self.wait_ready(started);
        eprintln!(
            "Apache Kafka {VERSION} on {} answers {:.1?} after its JVM started",
            self.bootstrap(),
            started.elapsed()
        );
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("broker.log")
    }

    /// The last lines of the broker's log.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    fn wait_ready(&mut self, started: Instant) {
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        let mut consumer = None;
        loop {
            // A client only once the listener accepts (fewer connection errors logged).
            if consumer.is_none()
                && std::net::TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_ok()
            {
                consumer = Some(super::consumer(&self.bootstrap(), false));
            }
            if consumer.as_ref().is_some_and(|c| {
                c.fetch_metadata(None, Duration::from_secs(2))
                    .is_ok_and(|m| !m.brokers().is_empty())
            }) {
                return;
            }
            let running = self.running.as_mut().expect("the broker is running");
            if let Ok(Some(status)) = running.java.try_wait() {
                panic!(
                    "Apache Kafka exited ({status}) before answering:\n{}",
                    self.log_tail()
                );
            }
            assert!(
                started.elapsed() < READY_TIMEOUT,
                "Apache Kafka did not answer within {READY_TIMEOUT:?}:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Running {
    /// Ends the guard once the JVM has been waited for (its pid may then be reused).
    fn disarm(mut self) {
        let _ = self.guard_stdin.write_all(b"disarm\n");
        drop(self.guard_stdin);
        let _ = self.guard.wait();
    }
}

impl Drop for Kafka {
    fn drop(&mut self) {
        if let Some(mut running) = self.running.take() {
            let _ = running.java.kill();
            let _ = running.java.wait();
            running.disarm();
        }
    }
}

/// `java` with the broker's class path and JVM options.
fn java(libs: &Path) -> Command {
    let mut command = Command::new("java");
    command.args(JVM_OPTIONS).arg("-cp").arg(libs.join("*"));
    command
}
