//! A throwaway Apache Kafka broker ([`Kafka`], see [`broker`]), a Kafka Connect worker beside
//! it ([`Connect`], see [`connect`]), and helpers that create topics,
//! read their configuration, and read topics back as JSON lines shaped like the file sink's.

mod broker;
mod connect;
mod jvm;
pub mod tally;

use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::Headers;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Message, Offset, TopicPartitionList};
use serde_json::{Value as Json, json};

pub use broker::{Kafka, KafkaBuilder, Secured};
pub use connect::{Connect, ConnectOptions, InitialState};

/// Runs an admin request to its end.
fn admin<T>(
    bootstrap: &str,
    request: impl AsyncFnOnce(AdminClient<DefaultClientContext>, AdminOptions) -> T,
) -> T {
    let client: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("log_level", "3")
        .create()
        .expect("admin client");
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(request(client, options))
}

/// Creates a topic with `partitions` partitions (replication factor 1).
pub fn create_topic(bootstrap: &str, topic: &str, partitions: i32) {
    let results = admin(bootstrap, async |client, options| {
        client
            .create_topics(
                &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
                &options,
            )
            .await
            .expect("CreateTopics answers")
    });
    for result in results {
        if let Err((name, code)) = result {
            panic!("creating topic {name} failed: {code}");
        }
    }
}

/// A topic's configuration value (`cleanup.policy`, …) as the broker describes it.
pub fn topic_config(bootstrap: &str, topic: &str, key: &str) -> Option<String> {
    let results = admin(bootstrap, async |client, options| {
        client
            .describe_configs(&[ResourceSpecifier::Topic(topic)], &options)
            .await
            .expect("DescribeConfigs answers")
    });
    let resource = results
        .into_iter()
        .next()
        .expect("one resource described")
        .unwrap_or_else(|e| panic!("describing topic {topic} failed: {e}"));
    resource.get(key).and_then(|entry| entry.value.clone())
}

/// The tests' consumers' context: reaching a partition's end is how [`read_topics`] knows it
/// is done, not an error to log; everything else is logged as by default.
struct ReadToEnd;

impl ClientContext for ReadToEnd {
    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() != Some(RDKafkaErrorCode::PartitionEOF) {
            DefaultClientContext.error(error, reason);
        }
    }
}

impl ConsumerContext for ReadToEnd {}

fn consumer(bootstrap: &str, read_committed: bool) -> BaseConsumer<ReadToEnd> {
    consumer_with(&[("bootstrap.servers", bootstrap)], read_committed)
}

/// A consumer with `access`: librdkafka properties, `bootstrap.servers` and any security
/// settings among them.
fn consumer_with(access: &[(&str, &str)], read_committed: bool) -> BaseConsumer<ReadToEnd> {
    let mut config = ClientConfig::new();
    for (key, value) in access {
        config.set(*key, *value);
    }
    config
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
        .create_with_context(ReadToEnd)
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
    partitions_with(&[("bootstrap.servers", bootstrap)], topic)
}

/// [`partitions`] with a consumer configured by `access` (see [`read_topics_with`]).
pub fn partitions_with(access: &[(&str, &str)], topic: &str) -> Option<usize> {
    let consumer = consumer_with(access, false);
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
    read_topics_with(&[("bootstrap.servers", bootstrap)], topics, read_committed)
}

/// [`read_topics`] with consumers configured by `access`: librdkafka properties,
/// `bootstrap.servers` and the security settings of a secured listener among them.
pub fn read_topics_with(
    access: &[(&str, &str)],
    topics: &[&str],
    read_committed: bool,
) -> Vec<Consumed> {
    let mut out = Vec::new();
    for topic in topics {
        read_topic(access, topic, read_committed, &mut out);
    }
    out
}

fn read_topic(access: &[(&str, &str)], topic: &str, read_committed: bool, out: &mut Vec<Consumed>) {
    let Some(n) = partitions_with(access, topic) else {
        return;
    };
    let consumer = consumer_with(access, read_committed);
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
            "reading {topic} did not reach its end; {}",
            Kafka::shared_state()
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
            // The client reconnects by itself: a broker that is away for a moment (a long
            // garbage collection) is waited for until the deadline.
            Some(Err(
                e @ (KafkaError::MessageConsumption(RDKafkaErrorCode::AllBrokersDown)
                | KafkaError::MessageConsumption(RDKafkaErrorCode::BrokerTransportFailure)),
            )) => {
                assert!(
                    Instant::now() + Duration::from_secs(1) < deadline,
                    "reading {topic}: {e}; {}",
                    Kafka::shared_state()
                );
                std::thread::sleep(Duration::from_millis(200));
            }
            Some(Err(e)) => panic!("reading {topic}: {e}; {}", Kafka::shared_state()),
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
    let access = [("bootstrap.servers", bootstrap)];
    wait_for_with(&access, topics, read_committed, timeout, what, done)
}

/// [`wait_for`] with consumers configured by `access` (see [`read_topics_with`]).
pub fn wait_for_with(
    access: &[(&str, &str)],
    topics: &[&str],
    read_committed: bool,
    timeout: Duration,
    what: &str,
    done: impl Fn(&[Consumed]) -> bool,
) -> Vec<Consumed> {
    let deadline = Instant::now() + timeout;
    loop {
        let records = read_topics_with(access, topics, read_committed);
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
