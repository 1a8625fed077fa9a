//! Kafka security against a real Apache Kafka broker with SSL (client certificates
//! required), SASL_SSL and SASL_PLAINTEXT listeners (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512),
//! certificates made by the test: Postgres → Kafka over each, configured with Kafka
//! Connect's Java properties (`sasl.jaas.config`, PEM and PKCS12 trust and key stores, the
//! `producer.override.` and `admin.` prefixes), offsets in a topic over the same listener,
//! MariaDB's schema history over SASL_SSL; and the failures: a JKS trust store, a wrong
//! password and a wrong CA are clear errors of `tidemark run`, not hangs. Records are read
//! back by a consumer configured with librdkafka's own settings for the listener. One broker
//! serves the whole binary.

use std::path::Path;
use std::process::Child;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use tidemark_tests::capture::{Capture, maria_properties, pg_properties};
use tidemark_tests::kafka::{Consumed, Kafka, wait_for_with};
use tidemark_tests::mariadb::MariaDb;
use tidemark_tests::postgres::Postgres;
use tidemark_tests::process::spawn_tidemark;
use tidemark_tests::tls::{Certificates, ClientCertificate};
use tidemark_tests::write_properties;

const TIMEOUT: Duration = Duration::from_secs(90);
/// How long a wrong password or CA may take to stop `tidemark run`.
const FAILURE_BOUND: Duration = Duration::from_secs(30);

const SCRAM: &str = "org.apache.kafka.common.security.scram.ScramLoginModule";
const PLAIN: &str = "org.apache.kafka.common.security.plain.PlainLoginModule";

/// The broker and the certificates it and the clients use.
struct Setup {
    certs: Certificates,
    client: ClientCertificate,
    broker: Kafka,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let certs = Certificates::new();
        let client = certs.client("tidemark-client");
        let keystore = certs.pkcs12_keystore(&certs.server_cert, &certs.server_key, "broker-pw");
        let broker = Kafka::builder()
            .tls(&keystore, "broker-pw", &certs.ca)
            .users(&[("alice", "alice-secret"), ("bob", "bob-secret")])
            .start();
        Setup {
            certs,
            client,
            broker,
        }
    })
}

/// A property as the connector's settings take it.
fn kv(key: &str, value: impl Into<String>) -> (String, String) {
    (key.to_owned(), value.into())
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

fn jaas(module: &str, user: &str, password: &str) -> String {
    format!(r#"{module} required username="{user}" password="{password}";"#)
}

impl Setup {
    fn port(&self, pick: impl Fn(&tidemark_tests::kafka::Secured) -> u16) -> u16 {
        pick(self.broker.secured.as_ref().expect("secured listeners"))
    }

    fn bootstrap(&self, pick: impl Fn(&tidemark_tests::kafka::Secured) -> u16) -> String {
        format!("127.0.0.1:{}", self.port(pick))
    }

    /// librdkafka settings of a test consumer on the SSL listener.
    fn ssl_access(&self) -> Vec<(String, String)> {
        vec![
            ("bootstrap.servers".into(), self.bootstrap(|s| s.ssl)),
            ("security.protocol".into(), "ssl".into()),
            ("ssl.ca.location".into(), path(&self.certs.ca)),
            ("ssl.certificate.location".into(), path(&self.client.cert)),
            ("ssl.key.location".into(), path(&self.client.key)),
        ]
    }

    /// librdkafka settings of a test consumer on a SASL listener as alice.
    fn sasl_access(&self, tls: bool, mechanism: &str) -> Vec<(String, String)> {
        let mut access = vec![
            ("sasl.mechanism".into(), mechanism.into()),
            ("sasl.username".into(), "alice".into()),
            ("sasl.password".into(), "alice-secret".into()),
        ];
        if tls {
            access.push(("bootstrap.servers".into(), self.bootstrap(|s| s.sasl_ssl)));
            access.push(("security.protocol".into(), "sasl_ssl".into()));
            access.push(("ssl.ca.location".into(), path(&self.certs.ca)));
        } else {
            access.push((
                "bootstrap.servers".into(),
                self.bootstrap(|s| s.sasl_plaintext),
            ));
            access.push(("security.protocol".into(), "sasl_plaintext".into()));
        }
        access
    }
}

fn borrowed(access: &[(String, String)]) -> Vec<(&str, &str)> {
    access
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

fn shop() -> Postgres {
    let server = Postgres::start();
    server.create_database("shop");
    server.psql(
        "shop",
        "CREATE TABLE orders (id int PRIMARY KEY, note text); \
         INSERT INTO orders SELECT g, 'snapshot' FROM generate_series(1, 3) g",
    );
    server
}

/// Connector properties: Postgres `shop` to Kafka at `bootstrap` with topic prefix
/// `prefix`, offsets in `dir` unless `settings` name an offsets topic, plus `settings`.
fn properties(
    server: &Postgres,
    dir: &Path,
    prefix: &str,
    bootstrap: &str,
    settings: &[(String, String)],
) -> Vec<(String, String)> {
    let mut props = pg_properties(
        server,
        "shop",
        dir,
        &[
            ("topic.prefix", prefix),
            ("topic.creation.default.partitions", "1"),
            ("topic.creation.default.replication.factor", "1"),
        ],
    );
    props.retain(|(k, _)| k != "sink.file");
    props.push(("bootstrap.servers".into(), bootstrap.into()));
    props.extend(settings.iter().cloned());
    if settings.iter().any(|(k, _)| k == "offset.storage.topic") {
        props.retain(|(k, _)| k != "offset.storage.file.filename");
        props.push(("offset.storage.partitions".into(), "1".into()));
        props.push(("offset.storage.replication.factor".into(), "1".into()));
    }
    props
}

/// The `after.id` of each change event.
fn ids(records: &[Consumed]) -> Vec<i64> {
    let mut ids: Vec<i64> = records
        .iter()
        .filter_map(|r| {
            r.value_json()
                .pointer("/payload/after/id")
                .and_then(Json::as_i64)
        })
        .collect();
    ids.sort();
    ids
}

/// Streams `shop` to Kafka with `settings` and reads the events back through `access`: the
/// snapshot's rows 1-3 and streamed rows 4-5. With an offsets topic, its committed offset is
/// read back through `access` too.
fn postgres_to_kafka(
    prefix: &str,
    bootstrap: &str,
    settings: &[(String, String)],
    access: &[(String, String)],
) {
    let server = shop();
    let dir = tempfile::tempdir().unwrap();
    let mut capture = Capture::start(
        dir.path().to_owned(),
        properties(&server, dir.path(), prefix, bootstrap, settings),
    );
    capture.wait_streaming(&server, "shop");
    server.psql(
        "shop",
        "INSERT INTO orders VALUES (4, 'stream'), (5, 'stream')",
    );
    let access = borrowed(access);
    let topic = format!("{prefix}.public.orders");
    let records = wait_for_with(&access, &[&topic], false, TIMEOUT, "rows 1-5", |r| {
        ids(r) == [1, 2, 3, 4, 5]
    });
    assert_eq!(records[3].value_json()["payload"]["op"], "c");
    if let Some((_, offsets)) = settings.iter().find(|(k, _)| k == "offset.storage.topic") {
        let offsets = wait_for_with(&access, &[offsets], false, TIMEOUT, "an offset", |r| {
            r.iter().any(|o| o.value_json()["lsn"].is_u64())
        });
        assert_eq!(
            String::from_utf8(offsets[0].key.clone().unwrap()).unwrap(),
            format!(r#"["test-connector",{{"server":"{prefix}"}}]"#)
        );
    }
    capture.stop().expect("the connector stops cleanly");
}

#[test]
fn ssl_with_a_client_certificate_and_pem_stores_offsets_over_the_same_listener() {
    let s = setup();
    postgres_to_kafka(
        "ssl_pem",
        &s.bootstrap(|l| l.ssl),
        &[
            kv("security.protocol", "SSL"),
            kv("ssl.truststore.type", "PEM"),
            kv("ssl.truststore.location", path(&s.certs.ca)),
            kv("ssl.keystore.type", "PEM"),
            kv("ssl.keystore.location", path(&s.client.pem_keystore)),
            kv("offset.storage.topic", "ssl_pem-offsets"),
        ],
        &s.ssl_access(),
    );
}

#[test]
fn ssl_with_pkcs12_stores_through_producer_override_and_admin_prefixes() {
    let s = setup();
    let truststore = s.certs.java_truststore(&s.certs.ca, "PKCS12", "trust-pw");
    let keystore = s
        .certs
        .pkcs12_keystore(&s.client.cert, &s.client.key, "client-pw");
    // The trust store is the worker's; only the producer and the admin client have the key
    // store, each through its own prefix.
    let mut settings = vec![
        kv("security.protocol", "SSL"),
        kv("ssl.truststore.type", "PKCS12"),
        kv("ssl.truststore.location", path(&truststore)),
        kv("ssl.truststore.password", "trust-pw"),
    ];
    for prefix in ["producer.override.", "admin."] {
        settings.push(kv(&format!("{prefix}ssl.keystore.type"), "PKCS12"));
        settings.push(kv(
            &format!("{prefix}ssl.keystore.location"),
            path(&keystore),
        ));
        settings.push(kv(&format!("{prefix}ssl.keystore.password"), "client-pw"));
    }
    postgres_to_kafka(
        "ssl_p12",
        &s.bootstrap(|l| l.ssl),
        &settings,
        &s.ssl_access(),
    );
}

#[test]
fn sasl_ssl_with_scram_sha_512_offsets_over_the_same_listener() {
    let s = setup();
    postgres_to_kafka(
        "scram512",
        &s.bootstrap(|l| l.sasl_ssl),
        &[
            kv("security.protocol", "SASL_SSL"),
            kv("sasl.mechanism", "SCRAM-SHA-512"),
            kv("sasl.jaas.config", jaas(SCRAM, "alice", "alice-secret")),
            kv(
                "ssl.truststore.certificates",
                std::fs::read_to_string(&s.certs.ca).unwrap(),
            ),
            kv("offset.storage.topic", "scram512-offsets"),
        ],
        &s.sasl_access(true, "SCRAM-SHA-512"),
    );
}

#[test]
fn sasl_ssl_with_plain() {
    let s = setup();
    postgres_to_kafka(
        "plain",
        &s.bootstrap(|l| l.sasl_ssl),
        &[
            kv("security.protocol", "SASL_SSL"),
            kv("sasl.mechanism", "PLAIN"),
            kv("sasl.jaas.config", jaas(PLAIN, "bob", "bob-secret")),
            kv("ssl.truststore.location", path(&s.certs.ca)),
        ],
        &s.sasl_access(true, "PLAIN"),
    );
}

#[test]
fn sasl_plaintext_with_scram_sha_256() {
    let s = setup();
    postgres_to_kafka(
        "scram256",
        &s.bootstrap(|l| l.sasl_plaintext),
        &[
            kv("security.protocol", "SASL_PLAINTEXT"),
            kv("sasl.mechanism", "SCRAM-SHA-256"),
            kv("sasl.jaas.config", jaas(SCRAM, "alice", "alice-secret")),
            kv("offset.storage.topic", "scram256-offsets"),
        ],
        &s.sasl_access(false, "SCRAM-SHA-256"),
    );
}

#[test]
fn mariadb_schema_history_over_sasl_ssl() {
    let s = setup();
    let server = MariaDb::start();
    server.sql(
        "",
        "CREATE DATABASE dbz; CREATE TABLE dbz.t (id int PRIMARY KEY); INSERT INTO dbz.t VALUES (1)",
    );
    let dir = tempfile::tempdir().unwrap();
    let bootstrap = s.bootstrap(|l| l.sasl_ssl);
    let ca = path(&s.certs.ca);
    let credentials = jaas(SCRAM, "alice", "alice-secret");
    let mut history = vec![
        kv(
            "schema.history.internal",
            "io.debezium.storage.kafka.history.KafkaSchemaHistory",
        ),
        kv("schema.history.internal.kafka.topic", "secure-history"),
        kv("schema.history.internal.kafka.bootstrap.servers", bootstrap),
    ];
    // As Debezium's users write it: the producer's and the consumer's settings alike.
    for client in ["producer", "consumer"] {
        let prefix = format!("schema.history.internal.{client}.");
        history.push(kv(&format!("{prefix}security.protocol"), "SASL_SSL"));
        history.push(kv(&format!("{prefix}sasl.mechanism"), "SCRAM-SHA-512"));
        history.push(kv(
            &format!("{prefix}sasl.jaas.config"),
            credentials.as_str(),
        ));
        history.push(kv(&format!("{prefix}ssl.truststore.location"), ca.as_str()));
    }
    let extra = borrowed(&history);
    let mut props = maria_properties(&server, dir.path(), &extra);
    props.retain(|(k, _)| k != "schema.history.internal.file.filename");
    let mut capture = Capture::start(dir.path().to_owned(), props);
    capture.wait_lines(1, TIMEOUT);
    server.wait_binlog_dump();
    server.sql("dbz", "ALTER TABLE t ADD COLUMN note varchar(10)");
    let access = s.sasl_access(true, "SCRAM-SHA-512");
    let records = wait_for_with(
        &borrowed(&access),
        &["secure-history"],
        false,
        TIMEOUT,
        "the ALTER TABLE in the history topic",
        |r| {
            r.iter().any(|h| {
                h.value_json()["ddl"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("ALTER TABLE"))
            })
        },
    );
    capture.stop().expect("the connector stops cleanly");
    assert!(
        records[0].value_json()["ddl"]
            .as_str()
            .unwrap()
            .starts_with("SET character_set_server=")
    );
}

/// Runs `tidemark run` on `props` and returns its log once it exits, which it must do with
/// an error within `bound` (a hang fails the test).
fn run_until_error(props: &[(String, String)], dir: &Path, bound: Duration) -> String {
    let config = dir.join("connector.properties");
    write_properties(&config, props);
    let log = dir.join("tidemark.log");
    // Built (on first use) before the clock starts.
    tidemark_tests::tidemark_binary();
    let started = Instant::now();
    let mut child: Child = spawn_tidemark(&config, &log);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for tidemark") {
            break status;
        }
        if started.elapsed() > bound {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "tidemark run still ran after {bound:?} (a hang, not an error):\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        !status.success(),
        "tidemark run exited successfully:\n{text}"
    );
    eprintln!(
        "tidemark run ended with {status} after {:.1?}",
        started.elapsed()
    );
    text
}

#[test]
fn a_jks_truststore_is_a_clear_error_saying_how_to_convert_it() {
    let s = setup();
    let server = shop();
    let dir = tempfile::tempdir().unwrap();
    let jks = s.certs.java_truststore(&s.certs.ca, "JKS", "trust-pw");
    let props = properties(
        &server,
        dir.path(),
        "jks",
        &s.bootstrap(|l| l.sasl_ssl),
        &[
            kv("security.protocol", "SASL_SSL"),
            kv("sasl.mechanism", "SCRAM-SHA-512"),
            kv("sasl.jaas.config", jaas(SCRAM, "alice", "alice-secret")),
            kv("ssl.truststore.location", path(&jks)),
            kv("ssl.truststore.password", "trust-pw"),
        ],
    );
    let log = run_until_error(&props, dir.path(), FAILURE_BOUND);
    assert!(log.contains("ssl.truststore.location"), "{log}");
    assert!(log.contains("Java KeyStore (JKS)"), "{log}");
    assert!(
        log.contains("keytool -importkeystore") && log.contains("-deststoretype PKCS12"),
        "{log}"
    );
}

#[test]
fn a_wrong_password_is_a_clear_error_not_a_hang() {
    let s = setup();
    let server = shop();
    let dir = tempfile::tempdir().unwrap();
    let props = properties(
        &server,
        dir.path(),
        "wrongpw",
        &s.bootstrap(|l| l.sasl_ssl),
        &[
            kv("security.protocol", "SASL_SSL"),
            kv("sasl.mechanism", "SCRAM-SHA-512"),
            kv(
                "sasl.jaas.config",
                jaas(SCRAM, "alice", "not-alices-password"),
            ),
            kv("ssl.truststore.location", path(&s.certs.ca)),
        ],
    );
    let log = run_until_error(&props, dir.path(), FAILURE_BOUND);
    assert!(
        log.contains("SASL authentication failed for user alice"),
        "{log}"
    );
    assert!(log.contains("sasl.jaas.config"), "{log}");
    assert!(
        !log.contains("not-alices-password"),
        "the password stays hidden: {log}"
    );
}

#[test]
fn a_wrong_ca_is_a_clear_error_not_a_hang() {
    let s = setup();
    let server = shop();
    let dir = tempfile::tempdir().unwrap();
    let props = properties(
        &server,
        dir.path(),
        "wrongca",
        &s.bootstrap(|l| l.ssl),
        &[
            kv("security.protocol", "SSL"),
            kv("ssl.truststore.location", path(&s.certs.other_ca)),
            kv("ssl.keystore.location", path(&s.client.pem_keystore)),
            kv("offset.storage.topic", "wrongca-offsets"),
        ],
    );
    let log = run_until_error(&props, dir.path(), FAILURE_BOUND);
    assert!(log.contains("TLS handshake failed"), "{log}");
    assert!(log.contains("ssl.truststore.location"), "{log}");
}

/// A distributed worker group over SASL_SSL only: the worker's security settings reach the
/// group's consumer, the config, status and offsets topics and the connectors' producers,
/// so two workers share two connectors and the rows arrive.
#[test]
fn a_worker_group_over_sasl_ssl_shares_its_connectors() {
    use tidemark_tests::worker::{WorkerProcess, pg_connector};
    let s = setup();
    let server = Postgres::start();
    let dbs = ["secure0", "secure1"];
    for db in dbs {
        server.create_database(db);
        server.psql(
            db,
            "CREATE TABLE orders (id int PRIMARY KEY, note text); \
             INSERT INTO orders SELECT g, 'snapshot' FROM generate_series(1, 3) g",
        );
    }
    let properties = format!(
        "group.id=secure-group\n\
         bootstrap.servers={}\n\
         security.protocol=SASL_SSL\n\
         sasl.mechanism=SCRAM-SHA-512\n\
         sasl.jaas.config={}\n\
         ssl.truststore.location={}\n\
         config.storage.topic=secure-configs\n\
         status.storage.topic=secure-status\n\
         offset.storage.topic=secure-offsets\n\
         config.storage.replication.factor=1\n\
         status.storage.replication.factor=1\n\
         offset.storage.replication.factor=1\n\
         session.timeout.ms=6000\n\
         heartbeat.interval.ms=2000\n\
         scheduled.rebalance.max.delay.ms=0\n\
         topic.creation.default.partitions=1\n\
         topic.creation.default.replication.factor=1\n",
        s.bootstrap(|l| l.sasl_ssl),
        jaas(SCRAM, "alice", "alice-secret"),
        path(&s.certs.ca),
    );
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let workers: Vec<WorkerProcess> = dirs
        .iter()
        .map(|dir| {
            let port = tidemark_tests::process::free_port();
            WorkerProcess::start_with(
                &tidemark_tests::tidemark_binary(),
                dir.path(),
                port,
                &properties,
                &[],
            )
        })
        .collect();
    for db in dbs {
        // With schemas, as `ids` reads the events.
        let unset = [
            ("sink.file", Json::Null),
            ("key.converter.schemas.enable", Json::Null),
            ("value.converter.schemas.enable", Json::Null),
        ];
        let config = pg_connector(&server, db, Path::new("unused"), &unset);
        let (code, body) = workers[0].call(
            "POST",
            "/connectors",
            Some(serde_json::json!({ "name": db, "config": config })),
        );
        assert_eq!(code, 201, "{body}");
    }
    // Both RUNNING, one on each worker, and seen alike from the second worker.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let (_, body) = workers[1].call("GET", "/connectors?expand=status", None);
        let owners: Vec<&str> = dbs
            .iter()
            .filter(|db| body[**db]["status"]["connector"]["state"] == "RUNNING")
            .filter_map(|db| body[*db]["status"]["connector"]["worker_id"].as_str())
            .collect();
        if owners.len() == 2 && owners[0] != owners[1] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the group did not share its connectors: {body}\n{}",
            workers[0].log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let access = s.sasl_access(true, "SCRAM-SHA-512");
    let access = borrowed(&access);
    for db in dbs {
        server.psql(db, "INSERT INTO orders VALUES (4, 'stream'), (5, 'stream')");
        let topic = format!("{db}.public.orders");
        wait_for_with(&access, &[&topic], false, TIMEOUT, "rows 1-5", |r| {
            ids(r) == [1, 2, 3, 4, 5]
        });
    }
    for worker in workers {
        worker.stop();
    }
}
