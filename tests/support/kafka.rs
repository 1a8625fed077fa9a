//! A throwaway Kafka-protocol broker ([`Tansu`], the `tansu` binary on an ephemeral port with
//! its SQLite storage in a temporary directory, killed on drop) and helpers that read topics
//! back as JSON lines shaped like the file sink's.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Headers;
use rdkafka::{Message, Offset, TopicPartitionList};
use serde_json::{Value as Json, json};

/// A running tansu broker.
pub struct Tansu {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

/// The tansu binary: `$TANSU`, else `tansu` on `PATH`, else `~/.cargo/bin/tansu`.
fn tansu_binary() -> PathBuf {
    if let Ok(path) = std::env::var("TANSU") {
        return PathBuf::from(path);
    }
    if let Ok(path) = std::env::var("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("tansu");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    let home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo")
        });
    let candidate = home.join("bin").join("tansu");
    assert!(
        candidate.is_file(),
        "the tansu broker is not installed: run `cargo install tansu --version '^0.6' --features dynostore,libsql --locked` (.ci/run does)"
    );
    candidate
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Tansu {
    /// Starts a broker and waits until it answers a metadata request.
    pub fn start() -> Tansu {
        let dir = tempfile::Builder::new()
            .prefix("tidemark-tansu")
            .tempdir()
            .expect("tempdir");
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let log = std::fs::File::create(dir.path().join("tansu.log")).expect("log file");
        let child = Command::new(tansu_binary())
            .arg("broker")
            .arg("--storage-engine")
            // tansu opens the SQLite file relative to its working directory.
            .arg("sqlite://tansu.db")
            .arg("--listener-url")
            .arg(&url)
            .arg("--advertised-listener-url")
            .arg(&url)
            .current_dir(dir.path())
            .env_remove("STORAGE_ENGINE")
            .env_remove("LISTENER_URL")
            .env_remove("ADVERTISED_LISTENER_URL")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("tansu starts");
        let broker = Tansu {
            port,
            child,
            _dir: dir,
        };
        broker.wait_ready();
        broker
    }

    /// `bootstrap.servers` for this broker.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let consumer = consumer(&self.bootstrap(), false);
        loop {
            if consumer
                .fetch_metadata(None, Duration::from_secs(2))
                .is_ok()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "tansu did not answer within 60 s: {}",
                std::fs::read_to_string(self._dir.path().join("tansu.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn consumer(bootstrap: &str, read_committed: bool) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "tidemark-tests")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("auto.offset.reset", "earliest")
        .set(
            "isolation.level",
            if read_committed {
                "read_committed"
            } else {
                "read_uncommitted"
            },
        )
        .set("log_level", "3")
        .create()
        .expect("consumer")
}

/// One record read from Kafka.
#[derive(Debug, Clone)]
pub struct Consumed {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<String>)>,
}

fn bytes_json(bytes: &Option<Vec<u8>>) -> Json {
    match bytes {
        None => Json::Null,
        Some(b) => serde_json::from_slice(b).expect("a JSON key or value"),
    }
}

impl Consumed {
    /// The record as the file sink writes it: `{"topic","key","value","headers"}`.
    pub fn line(&self) -> String {
        json!({
            "topic": self.topic,
            "key": bytes_json(&self.key),
            "value": bytes_json(&self.value),
            "headers": self.headers.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(),
        })
        .to_string()
    }

    /// The value as JSON (null for a tombstone).
    pub fn value_json(&self) -> Json {
        bytes_json(&self.value)
    }
}

/// The partition count of each topic, or `None` for a topic the broker does not know.
pub fn partitions(bootstrap: &str, topic: &str) -> Option<usize> {
    let consumer = consumer(bootstrap, false);
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .ok()?;
    metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
        .map(|t| t.partitions().len())
        .filter(|n| *n > 0)
}

/// Everything in the topics (topic by topic, partition by partition, each in order), read
/// from the beginning up to the end as of now. Topics that do not exist yet are skipped.
pub fn read_topics(bootstrap: &str, topics: &[&str], read_committed: bool) -> Vec<Consumed> {
    let mut out = Vec::new();
    for topic in topics {
        read_topic(bootstrap, topic, read_committed, &mut out);
    }
    out
}

fn read_topic(bootstrap: &str, topic: &str, read_committed: bool, out: &mut Vec<Consumed>) {
    let Some(n) = partitions(bootstrap, topic) else {
        return;
    };
    let consumer = consumer(bootstrap, read_committed);
    let mut assignment = TopicPartitionList::new();
    for p in 0..n as i32 {
        assignment
            .add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).expect("assign");
    let mut at_end = std::collections::HashSet::new();
    let mut records: Vec<Consumed> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while at_end.len() < n {
        assert!(
            Instant::now() < deadline,
            "reading {topic} did not reach its end"
        );
        match consumer.poll(Duration::from_millis(200)) {
            None => {}
            Some(Ok(m)) => records.push(Consumed {
                topic: m.topic().to_owned(),
                partition: m.partition(),
                offset: m.offset(),
                key: m.key().map(<[u8]>::to_vec),
                value: m.payload().map(<[u8]>::to_vec),
                headers: m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| {
                                (
                                    h.key.to_owned(),
                                    h.value.map(|v| String::from_utf8_lossy(v).into_owned()),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            }),
            Some(Err(KafkaError::PartitionEOF(p))) => {
                at_end.insert(p);
            }
            Some(Err(e)) => panic!("reading {topic}: {e}"),
        }
    }
    records.sort_by_key(|r| (r.partition, r.offset));
    out.extend(records);
}

/// Reads the topics until `done` holds for what they contain; panics after `timeout`.
pub fn wait_for(
    bootstrap: &str,
    topics: &[&str],
    read_committed: bool,
    timeout: Duration,
    what: &str,
    done: impl Fn(&[Consumed]) -> bool,
) -> Vec<Consumed> {
    let deadline = Instant::now() + timeout;
    loop {
        let records = read_topics(bootstrap, topics, read_committed);
        if done(&records) {
            return records;
        }
        assert!(
            Instant::now() < deadline,
            "no {what} after {timeout:?}: {} records",
            records.len()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}
