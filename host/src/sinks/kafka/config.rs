//! The Kafka sink's settings, under Kafka Connect's names: `bootstrap.servers`, the worker's
//! security settings, `producer.*` and `producer.override.*` (Java's security properties, or
//! any librdkafka producer property), `admin.*` and `admin.override.*`, `topic.creation.*`
//! and `exactly.once.support`.

use std::collections::BTreeMap;

use rdkafka::ClientConfig;
use regex::Regex;

use crate::config::{ConfigError, Key, Properties, declare_keys};
use crate::event::JsonOptions;
use crate::kafka::keys::{BOOTSTRAP_SERVERS, positive_or_broker_default};
use crate::kafka::{ClientSettings, TopicSettings, java_producer_property};

/// Producer settings Tidemark sets unless `producer.*` overrides them: Kafka Connect's
/// guarantees for source connectors (idempotent, every replica acknowledges, a record is
/// retried until the broker takes it, so an outage pauses instead of losing data) and a
/// bounded queue of unacknowledged records (Connect's `buffer.memory` is 32 MiB).
const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    ("enable.idempotence", "true"),
    ("acks", "all"),
    ("message.timeout.ms", "0"),
    ("queue.buffering.max.kbytes", "32768"),
    ("queue.buffering.max.messages", "100000"),
    // Java's partitioner: a key lands in the partition Kafka Connect would choose.
    ("partitioner", "murmur2_random"),
];

/// `transaction.timeout.ms` with exactly-once unless `producer.transaction.timeout.ms` sets
/// it: 15 minutes, the broker's default `transaction.max.timeout.ms`, instead of librdkafka's
/// 60 s, because a whole snapshot is one transaction.
const TRANSACTION_TIMEOUT_MS: &str = "900000";

/// A `topic.creation.groups` entry: its settings apply to topics its `include` matches and
/// its `exclude` does not.
#[derive(Debug, Clone)]
pub struct TopicGroup {
    pub name: String,
    include: Vec<Regex>,
    exclude: Vec<Regex>,
    pub settings: TopicSettings,
}

/// Connect's topic creation (`topic.creation.enable`, `topic.creation.default.*`,
/// `topic.creation.groups`).
#[derive(Debug, Clone)]
pub struct TopicCreation {
    pub enabled: bool,
    pub default: TopicSettings,
    pub groups: Vec<TopicGroup>,
}

impl TopicCreation {
    /// The settings for a new topic: those of the first group that matches it, else the
    /// default group's.
    pub fn settings_for(&self, topic: &str) -> &TopicSettings {
        self.groups
            .iter()
            .find(|g| {
                g.include.iter().any(|r| r.is_match(topic))
                    && !g.exclude.iter().any(|r| r.is_match(topic))
            })
            .map(|g| &g.settings)
            .unwrap_or(&self.default)
    }
}

declare_keys! {
    /// `exactly.once.support`.
    EXACTLY_ONCE = Key::string("exactly.once.support")
        .default("disabled")
        .choices(&["disabled", "requested", "required"])
        .group("Kafka")
        .doc("requested or required: records and offsets are written in one Kafka \
              transaction per offset commit (needs offset.storage.topic).");
    /// `topic.creation.enable`.
    CREATION_ENABLE = Key::boolean("topic.creation.enable")
        .default("true")
        .group("Topic creation")
        .doc("Create missing topics with the settings of their topic.creation group.");
    /// `topic.creation.groups`.
    CREATION_GROUPS = Key::list("topic.creation.groups")
        .group("Topic creation")
        .doc("Topic creation groups besides default, each with topic.creation.<group>.include \
              and its own settings.");
    /// `topic.creation.<group>.partitions` and `….replication.factor`.
    TOPIC_COUNT = Key::int("topic.creation.<group>.partitions")
        .default("-1")
        .check(positive_or_broker_default)
        .group("Topic creation")
        .doc("A group's partitions (and, as topic.creation.<group>.replication.factor, its \
              replication factor); -1 is the broker's default.");
    /// `topic.creation.<group>.replication.factor`.
    TOPIC_REPLICATION = Key::int("topic.creation.<group>.replication.factor")
        .default("-1")
        .check(positive_or_broker_default)
        .group("Topic creation")
        .doc("A group's replication factor; -1 is the broker's default.");
    /// `topic.creation.<group>.include` and `….exclude`.
    TOPIC_PATTERNS = Key::list("topic.creation.<group>.include")
        .group("Topic creation")
        .doc("The topics (regular expressions, comma-separated) a group applies to; \
              topic.creation.<group>.exclude: the topics it does not.");
    /// `topic.creation.<group>.*`.
    TOPIC_GROUP = Key::string("topic.creation.<group>.*")
        .group("Topic creation")
        .doc("A group's include and exclude regular expressions and topic configs \
              (cleanup.policy, retention.ms, …); the default group's configs apply to every \
              group.");
}

/// Settings of the Kafka sink.
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    /// The librdkafka properties of the producer: `bootstrap.servers`, the worker-level
    /// security settings, every `producer.*` then `producer.override.*` with the prefix
    /// removed, and Tidemark's defaults for what they leave unset.
    pub producer: BTreeMap<String, String>,
    /// The worker-level settings, which the offset store's clients use (as Connect's do).
    pub common: ClientSettings,
    /// The admin client's (topic creation): worker-level, then `admin.*`, then
    /// `admin.override.*`.
    pub admin: ClientSettings,
    pub topics: TopicCreation,
    /// `exactly.once.support=required` (or `requested`): records and offsets go in one
    /// Kafka transaction per offset commit.
    pub exactly_once: bool,
    /// The JsonConverter settings for keys and values.
    pub json: JsonOptions,
}

impl KafkaConfig {
    /// The sink's settings, or `None` when `bootstrap.servers` is not set (the file sink).
    pub fn from_properties(
        props: &Properties,
        connector: &str,
        json: JsonOptions,
    ) -> Result<Option<KafkaConfig>, ConfigError> {
        let Some(servers) = props.value(&BOOTSTRAP_SERVERS)? else {
            return Ok(None);
        };
        let common = ClientSettings::from_properties(props, servers)?;
        let exactly_once = props.choose(&EXACTLY_ONCE)? != "disabled";
        let mut producer = ClientSettings::layered(
            props,
            ("bootstrap.servers", servers),
            &["", "producer.", "producer.override."],
            java_producer_property,
        )?;
        producer.set_default("client.id", &format!("tidemark-{connector}"));
        for (key, value) in PRODUCER_DEFAULTS {
            producer.set_default(key, value);
        }
        if exactly_once {
            producer.set_default("transactional.id", &format!("tidemark-{connector}"));
            let set = |key: &str| producer.properties().contains_key(key);
            if !set("transaction.timeout.ms") && !set("socket.timeout.ms") {
                // librdkafka would stretch the socket timeout to the transaction timeout: a
                // broker that stops answering is noticed as soon as without exactly-once.
                producer.set_default("socket.timeout.ms", "60000");
            }
            producer.set_default("transaction.timeout.ms", TRANSACTION_TIMEOUT_MS);
        }
        producer.check()?;
        let admin = ClientSettings::layered(
            props,
            ("bootstrap.servers", servers),
            &["", "admin.", "admin.override."],
            |_, key, value| Ok((key.to_owned(), value)),
        )?;
        admin.check()?;
        Ok(Some(KafkaConfig {
            producer: producer.properties().clone(),
            common,
            admin,
            topics: topic_creation(props)?,
            exactly_once,
            json,
        }))
    }

    /// The producer's librdkafka config.
    pub fn producer_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        for (k, v) in &self.producer {
            config.set(k, v);
        }
        config
    }
}

/// A group's partitions or replication factor: -1 (the broker's default) when unset.
fn count(props: &Properties, key: String) -> Result<i32, ConfigError> {
    props.number(&TOPIC_COUNT.instance(key))
}

/// One group's settings under `topic.creation.<group>.`.
fn topic_settings(props: &Properties, group: &str) -> Result<TopicSettings, ConfigError> {
    let prefix = format!("topic.creation.{group}.");
    let partitions = count(props, format!("{prefix}partitions"))?;
    let replication_factor = count(props, format!("{prefix}replication.factor"))?;
    let mut configs: BTreeMap<String, String> = props
        .with_prefix(&prefix)
        .into_iter()
        .filter(|(k, _)| {
            !["partitions", "replication.factor", "include", "exclude"].contains(&k.as_str())
        })
        .collect();
    if group == "default" {
        // Change events are keyed by row: compaction keeps each row's latest state.
        configs
            .entry("cleanup.policy".into())
            .or_insert_with(|| "compact".into());
    }
    Ok(TopicSettings {
        partitions,
        replication_factor,
        configs,
    })
}

fn topic_creation(props: &Properties) -> Result<TopicCreation, ConfigError> {
    let enabled = props.flag(&CREATION_ENABLE)?;
    let default = topic_settings(props, "default")?;
    let mut groups = Vec::new();
    for name in props.items(&CREATION_GROUPS)? {
        let patterns = |key: &str| -> Result<Vec<Regex>, ConfigError> {
            let key = format!("topic.creation.{name}.{key}");
            props
                .items(&TOPIC_PATTERNS.instance(key.clone()))?
                .into_iter()
                .map(|p| {
                    Regex::new(&format!("^(?:{p})$")).map_err(|e| ConfigError::Invalid {
                        key: key.clone(),
                        value: p.clone(),
                        problem: format!("not a valid regular expression: {e}"),
                    })
                })
                .collect()
        };
        let include = patterns("include")?;
        if include.is_empty() {
            return Err(ConfigError::Missing {
                key: format!("topic.creation.{name}.include"),
                hint: "the topics (regular expressions) this topic creation group applies to"
                    .into(),
            });
        }
        let exclude = patterns("exclude")?;
        let mut settings = topic_settings(props, &name)?;
        // Unset values come from the default group, as in Connect.
        for (k, v) in &default.configs {
            settings
                .configs
                .entry(k.clone())
                .or_insert_with(|| v.clone());
        }
        if props
            .get(&format!("topic.creation.{name}.partitions"))
            .is_none()
        {
            settings.partitions = default.partitions;
        }
        if props
            .get(&format!("topic.creation.{name}.replication.factor"))
            .is_none()
        {
            settings.replication_factor = default.replication_factor;
        }
        groups.push(TopicGroup {
            name,
            include,
            exclude,
            settings,
        });
    }
    Ok(TopicCreation {
        enabled,
        default,
        groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Option<KafkaConfig>, ConfigError> {
        KafkaConfig::from_properties(
            &Properties::from_pairs(pairs.iter().copied()),
            "inv",
            JsonOptions::default(),
        )
    }

    #[test]
    fn without_bootstrap_servers_there_is_no_kafka_sink() {
        assert!(config(&[("sink.file", "x")]).unwrap().is_none());
    }

    #[test]
    fn connect_guarantees_by_default_and_producer_overrides() {
        let c = config(&[("bootstrap.servers", "k:9092")]).unwrap().unwrap();
        assert_eq!(c.producer["enable.idempotence"], "true");
        assert_eq!(c.producer["acks"], "all");
        assert_eq!(c.producer["bootstrap.servers"], "k:9092");
        assert!(!c.exactly_once);
        assert!(!c.producer.contains_key("transactional.id"));
        let c = config(&[
            ("bootstrap.servers", "k:9092"),
            ("producer.compression.type", "lz4"),
            ("producer.buffer.memory", "1048576"),
            ("exactly.once.support", "required"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(c.producer["compression.type"], "lz4");
        assert_eq!(c.producer["queue.buffering.max.kbytes"], "1024");
        assert!(c.exactly_once);
        assert_eq!(c.producer["transactional.id"], "tidemark-inv");
        assert_eq!(c.producer["transaction.timeout.ms"], "900000");
        assert_eq!(c.producer["socket.timeout.ms"], "60000");
        let c = config(&[
            ("bootstrap.servers", "k:9092"),
            ("exactly.once.support", "required"),
            ("producer.transaction.timeout.ms", "10000"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(c.producer["transaction.timeout.ms"], "10000");
        assert!(!c.producer.contains_key("socket.timeout.ms"));
    }

    #[test]
    fn bad_producer_properties_name_the_property() {
        let err = config(&[("bootstrap.servers", "k"), ("producer.no.such.thing", "1")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("producer.no.such.thing"), "{err}");
        let err = config(&[
            ("bootstrap.servers", "k"),
            ("producer.compression.type", "brotli"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("compression.type"), "{err}");
        let err = config(&[
            ("bootstrap.servers", "k"),
            ("exactly.once.support", "maybe"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("exactly.once.support"), "{err}");
    }

    #[test]
    fn topic_creation_groups_follow_connect() {
        let c = config(&[
            ("bootstrap.servers", "k"),
            ("topic.creation.default.partitions", "3"),
            ("topic.creation.default.replication.factor", "1"),
            ("topic.creation.default.retention.ms", "1000"),
            ("topic.creation.groups", "orders"),
            ("topic.creation.orders.include", "dbz\\.public\\.orders.*"),
            ("topic.creation.orders.partitions", "6"),
            ("topic.creation.orders.cleanup.policy", "delete"),
        ])
        .unwrap()
        .unwrap();
        let default = c.topics.settings_for("dbz.public.customers");
        assert_eq!(default.partitions, 3);
        assert_eq!(default.replication_factor, 1);
        assert_eq!(default.configs["cleanup.policy"], "compact");
        assert_eq!(default.configs["retention.ms"], "1000");
        let orders = c.topics.settings_for("dbz.public.orders");
        assert_eq!(orders.partitions, 6);
        assert_eq!(orders.replication_factor, 1);
        assert_eq!(orders.configs["cleanup.policy"], "delete");
        assert_eq!(orders.configs["retention.ms"], "1000");
        let err = config(&[
            ("bootstrap.servers", "k"),
            ("topic.creation.default.partitions", "0"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("topic.creation.default.partitions"), "{err}");
        let err = config(&[("bootstrap.servers", "k"), ("topic.creation.groups", "g")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("topic.creation.g.include"), "{err}");
    }
}
