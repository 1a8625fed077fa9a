//! A throwaway Apache Kafka broker: a single-node KRaft cluster (broker and controller in one
//! JVM) on two ephemeral ports of 127.0.0.1, its logs in a temporary directory, run from the
//! jars `tests/support/kafka/fetch.sh` puts in the cache. [`Kafka::builder`] adds secured
//! listeners: SSL (client certificates required), SASL_SSL and SASL_PLAINTEXT (PLAIN,
//! SCRAM-SHA-256 and SCRAM-SHA-512), each on a port of its own.
//!
//! Its JVM has a guard ([`Jvm`]) that kills it and removes the directory when the test process
//! ends, however it ends. That lets a test binary share one broker ([`Kafka::shared`]) from a
//! static.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer;

use super::jvm::{Jvm, VERSION, fetched, java};

/// Any valid cluster id (16 bytes, base64url): each broker is a cluster of its own.
const CLUSTER_ID: &str = "dGlkZW1hcmstdGVzdHMtMQ";

/// How long a broker may take to answer its first metadata request.
const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// A running (or stopped, see [`Kafka::stop`]) single-node Apache Kafka broker.
pub struct Kafka {
    /// The PLAINTEXT listener's port on 127.0.0.1.
    pub port: u16,
    /// The secured listeners, when the broker was built with them.
    pub secured: Option<Secured>,
    dir: tempfile::TempDir,
    libs: PathBuf,
    running: Option<Jvm>,
}

/// The broker's jars, fetched by `tests/support/kafka/fetch.sh` on first use.
fn libs() -> PathBuf {
    static LIBS: OnceLock<PathBuf> = OnceLock::new();
    LIBS.get_or_init(|| fetched("kafka").join("libs")).clone()
}

/// `n` distinct free ports (all held while the others are chosen).
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("a bound port").port())
        .collect()
}

/// The ports of a broker's secured listeners on 127.0.0.1.
#[derive(Debug, Clone, Copy)]
pub struct Secured {
    /// SSL, with client certificates required (mutual TLS).
    pub ssl: u16,
    /// SASL_SSL (no client certificate), PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512.
    pub sasl_ssl: u16,
    /// SASL_PLAINTEXT, the same mechanisms.
    pub sasl_plaintext: u16,
}

/// The broker's side of TLS: its PKCS12 key store and the CA it trusts for client
/// certificates (PEM).
struct BrokerTls {
    keystore: PathBuf,
    password: String,
    client_ca: PathBuf,
}

/// A broker with secured listeners, see [`Kafka::builder`].
#[derive(Default)]
pub struct KafkaBuilder {
    tls: Option<BrokerTls>,
    users: Vec<(String, String)>,
}

impl KafkaBuilder {
    /// TLS for the SSL and SASL_SSL listeners: the broker's PKCS12 key store (its password
    /// for the store and the key), and the CA whose client certificates the SSL listener
    /// takes.
    pub fn tls(mut self, keystore: &Path, password: &str, client_ca: &Path) -> KafkaBuilder {
        self.tls = Some(BrokerTls {
            keystore: keystore.to_owned(),
            password: password.to_owned(),
            client_ca: client_ca.to_owned(),
        });
        self
    }

    /// Users (name, password) of the SASL listeners, for PLAIN and both SCRAM mechanisms.
    pub fn users(mut self, users: &[(&str, &str)]) -> KafkaBuilder {
        self.users = users
            .iter()
            .map(|(u, p)| ((*u).to_owned(), (*p).to_owned()))
            .collect();
        self
    }

    /// Starts the broker with a PLAINTEXT listener and the secured ones.
    pub fn start(self) -> Kafka {
        let tls = self
            .tls
            .expect("KafkaBuilder::tls: the secured listeners need TLS");
        assert!(
            !self.users.is_empty(),
            "KafkaBuilder::users: SASL needs users"
        );
        let ports = free_ports(5);
        let secured = Secured {
            ssl: ports[2],
            sasl_ssl: ports[3],
            sasl_plaintext: ports[4],
        };
        let extra = secured_properties(&tls, &self.users);
        let mut format_args = Vec::new();
        for (user, password) in &self.users {
            for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-512"] {
                format_args.push("--add-scram".to_owned());
                format_args.push(format!("{mechanism}=[name={user},password={password}]"));
            }
        }
        Kafka::start_on(ports[0], ports[1], Some(secured), &extra, &format_args)
    }
}

/// The listeners, TLS and SASL settings of the secured listeners.
fn secured_properties(tls: &BrokerTls, users: &[(String, String)]) -> String {
    let plain_users: String = users
        .iter()
        .map(|(u, p)| format!(" user_{u}=\"{p}\""))
        .collect();
    let mut text = format!(
        "ssl.keystore.type=PKCS12
ssl.keystore.location={keystore}
ssl.keystore.password={password}
ssl.key.password={password}
ssl.truststore.type=PEM
ssl.truststore.location={client_ca}
listener.name.ssl.ssl.client.auth=required
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
",
        keystore = tls.keystore.display(),
        password = tls.password,
        client_ca = tls.client_ca.display(),
    );
    for listener in ["sasl_ssl", "sasl_plaintext"] {
        text.push_str(&format!(
            "listener.name.{listener}.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required{plain_users};\n"
        ));
        for mechanism in ["scram-sha-256", "scram-sha-512"] {
            text.push_str(&format!(
                "listener.name.{listener}.{mechanism}.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;\n"
            ));
        }
    }
    text
}

/// `server.properties` of a single-node KRaft cluster, with the secured listeners when
/// there are any.
fn server_properties(
    port: u16,
    controller_port: u16,
    secured: Option<&Secured>,
    data: &Path,
) -> String {
    let more = secured
        .map(|s| {
            format!(
                ",SSL://127.0.0.1:{},SASL_SSL://127.0.0.1:{},SASL_PLAINTEXT://127.0.0.1:{}",
                s.ssl, s.sasl_ssl, s.sasl_plaintext
            )
        })
        .unwrap_or_default();
    format!(
        "process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}{more}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}{more}
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL,SASL_PLAINTEXT:SASL_PLAINTEXT
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

/// The broker of [`Kafka::shared`].
static SHARED: OnceLock<Kafka> = OnceLock::new();

impl Kafka {
    /// Starts a broker of its own (for a test that stops it) and waits until it answers.
    pub fn start() -> Kafka {
        let ports = free_ports(2);
        Kafka::start_on(ports[0], ports[1], None, "", &[])
    }

    /// A broker with secured listeners besides the PLAINTEXT one.
    pub fn builder() -> KafkaBuilder {
        KafkaBuilder::default()
    }

    /// Formats and starts a broker: `extra` goes at the end of `server.properties`,
    /// `format_args` to the storage format (SCRAM users).
    fn start_on(
        port: u16,
        controller_port: u16,
        secured: Option<Secured>,
        extra: &str,
        format_args: &[String],
    ) -> Kafka {
        let started = Instant::now();
        let libs = libs();
        let dir = tempfile::Builder::new()
            .prefix("tidemark-kafka")
            .tempdir()
            .expect("tempdir");
        let config = dir.path().join("server.properties");
        std::fs::write(
            &config,
            server_properties(
                port,
                controller_port,
                secured.as_ref(),
                &dir.path().join("data"),
            ) + extra,
        )
        .expect("write server.properties");
        let log = dir.path().join("format.log");
        let status = java(&libs)
            .arg("-Dorg.slf4j.simpleLogger.defaultLogLevel=warn")
            .args(["kafka.tools.StorageTool", "format", "-t", CLUSTER_ID, "-c"])
            .arg(&config)
            .args(format_args)
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
            secured,
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
        SHARED.get_or_init(Kafka::start)
    }

    /// For a failing test's message: the last lines of the shared broker's log and the free
    /// space where it keeps its data (a full disk stops a broker), or a note that this
    /// binary started no shared broker.
    pub fn shared_state() -> String {
        let Some(broker) = SHARED.get() else {
            return "no shared broker in this test binary".to_owned();
        };
        let space = std::process::Command::new("df")
            .args(["-h", "--output=avail,target"])
            .arg(broker.dir.path())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        format!(
            "the shared broker's disk: {space}its log ends with:\n{}",
            broker.log_tail()
        )
    }

    /// `bootstrap.servers` for this broker.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops the broker with SIGTERM (a controlled shutdown) and waits for its JVM to end.
    /// Its ports and data stay for [`Kafka::resume`].
    pub fn stop(&mut self) {
        let stopping = Instant::now();
        self.running
            .take()
            .expect("the broker is running")
            .terminate();
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
        let mut command = java(&self.libs);
        command
            .arg("kafka.Kafka")
            .arg(self.dir.path().join("server.properties"));
        self.running = Some(Jvm::spawn(
            command,
            &self.log_path(),
            self.dir.path(),
            "kafka-guard",
        ));
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
            if let Some(status) = running.exited() {
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

impl Drop for Kafka {
    fn drop(&mut self) {
        // The JVM goes before its directory.
        drop(self.running.take());
    }
}
