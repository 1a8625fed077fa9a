//! Distributed-mode settings: Kafka Connect's distributed worker keys (`group.id`, the
//! config and status topics, the group's timeouts). A worker whose properties set
//! `group.id` shares its connectors with every worker of that group (see `worker::cluster`).

use std::time::Duration;

use super::{ConfigError, Importance, Key, Properties, declare_keys, positive_or_broker_default};

const GROUP: &str = "Distributed worker";

declare_keys! {
    /// `group.id`.
    GROUP_ID = Key::string("group.id")
        .importance(Importance::High)
        .group(GROUP)
        .doc("The worker group: workers with the same group.id on the same Kafka share the \
              connectors (Connect's distributed mode). Unset: a standalone worker. Do not \
              share it with a Java Connect cluster on the same brokers.");
    /// `config.storage.topic`.
    CONFIG_TOPIC = Key::string("config.storage.topic")
        .group(GROUP)
        .doc("The compacted, single-partition topic that holds the connector configs and \
              target states (Connect's record format).");
    /// `config.storage.replication.factor`.
    CONFIG_REPLICATION = Key::int("config.storage.replication.factor")
        .default("-1")
        .check(positive_or_broker_default)
        .group(GROUP)
        .doc("The config topic's replication factor when Tidemark creates it (-1: the \
              broker's default).");
    /// `status.storage.topic`.
    STATUS_TOPIC = Key::string("status.storage.topic")
        .group(GROUP)
        .doc("The compacted topic that holds every connector's status (Connect's record \
              format), so every worker answers for every connector.");
    /// `status.storage.partitions`.
    STATUS_PARTITIONS = Key::int("status.storage.partitions")
        .default("5")
        .check(positive_or_broker_default)
        .group(GROUP)
        .doc("The status topic's partitions when Tidemark creates it.");
    /// `status.storage.replication.factor`.
    STATUS_REPLICATION = Key::int("status.storage.replication.factor")
        .default("-1")
        .check(positive_or_broker_default)
        .group(GROUP)
        .doc("The status topic's replication factor when Tidemark creates it (-1: the \
              broker's default).");
    /// `session.timeout.ms`.
    SESSION_TIMEOUT = Key::int("session.timeout.ms")
        .default("10000")
        .range(Some(1), None)
        .group(GROUP)
        .doc("How long a worker may go without a heartbeat before the group gives its \
              connectors to the others (the broker allows 6000 and more by default).");
    /// `heartbeat.interval.ms`.
    HEARTBEAT_INTERVAL = Key::int("heartbeat.interval.ms")
        .default("3000")
        .range(Some(1), None)
        .group(GROUP)
        .doc("How often a worker tells the group it is alive; also how soon the others learn \
              of a rebalance.");
    /// `rebalance.timeout.ms`.
    REBALANCE_TIMEOUT = Key::int("rebalance.timeout.ms")
        .default("60000")
        .range(Some(1), None)
        .group(GROUP)
        .doc("How long a worker may take to stop the connectors a rebalance moves away \
              before the group counts it as gone.");
    /// `scheduled.rebalance.max.delay.ms`.
    REBALANCE_DELAY = Key::int("scheduled.rebalance.max.delay.ms")
        .default("300000")
        .range(Some(0), None)
        .group(GROUP)
        .doc("How long a worker that left may take to come back and keep its connectors \
              before they move to the others (Connect's default: 5 minutes). Above 0 the \
              worker is a static member (group.instance.id = its worker id); 0 moves a \
              departed worker's connectors at once.");
    /// `tidemark.assignment.topic`.
    ASSIGNMENT_TOPIC = Key::string("tidemark.assignment.topic")
        .group(GROUP)
        .doc("The topic whose partitions the group hands out, one per connector slot \
              (default: <config.storage.topic>-assignments). It holds no records.");
}

/// Whether `key` is one of the group's keys: in distributed mode they are the worker's
/// alone, not defaults of its connectors (`heartbeat.interval.ms` is the group's heartbeat
/// there, not Debezium's heartbeat topic).
pub fn is_group_key(key: &str) -> bool {
    keys().iter().any(|k| k.name.as_ref() == key)
        || ["config.storage.", "status.storage."]
            .iter()
            .any(|prefix| key.starts_with(prefix))
}

/// The settings of a worker in distributed mode.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterConfig {
    pub group_id: String,
    pub config_topic: String,
    pub config_replication: i32,
    pub status_topic: String,
    pub status_partitions: i32,
    pub status_replication: i32,
    pub assignment_topic: String,
    pub session_timeout: Duration,
    pub heartbeat_interval: Duration,
    pub rebalance_timeout: Duration,
    pub rebalance_delay: Duration,
}

impl ClusterConfig {
    /// The distributed settings, when `group.id` is set (`None`: a standalone worker). The
    /// config, status and offsets topics and the brokers are then required, and
    /// `config.storage.file` refused: the config topic is the one place configs live.
    pub fn from_properties(props: &Properties) -> Result<Option<ClusterConfig>, ConfigError> {
        let Some(group_id) = props.value(&GROUP_ID)? else {
            return Ok(None);
        };
        let needed = |key: &Key, hint: &str| -> Result<String, ConfigError> {
            match props.value(key)? {
                Some(value) if !value.trim().is_empty() => Ok(value.trim().to_owned()),
                _ => Err(ConfigError::Missing {
                    key: key.name.to_string(),
                    hint: format!("group.id makes this a distributed worker, which needs {hint}"),
                }),
            }
        };
        for (key, hint) in [
            (
                "bootstrap.servers",
                "the Kafka brokers that hold its topics",
            ),
            (
                "offset.storage.topic",
                "the topic that holds the connectors' offsets",
            ),
        ] {
            if props.get(key).is_none_or(|v| v.trim().is_empty()) {
                return Err(ConfigError::Missing {
                    key: key.into(),
                    hint: format!("group.id makes this a distributed worker, which needs {hint}"),
                });
            }
        }
        let config_topic = needed(&CONFIG_TOPIC, "the topic that holds the connector configs")?;
        let status_topic = needed(&STATUS_TOPIC, "the topic that holds the statuses")?;
        if let Some(file) = props.value(&super::worker::CONFIG_STORAGE)? {
            return Err(ConfigError::Invalid {
                key: "config.storage.file".into(),
                value: file.to_owned(),
                problem: "a distributed worker (group.id) keeps connector configs in \
                          config.storage.topic: remove config.storage.file"
                    .into(),
            });
        }
        let millis = |key: &Key| -> Result<Duration, ConfigError> {
            Ok(Duration::from_millis(props.number::<u64>(key)?))
        };
        let session_timeout = millis(&SESSION_TIMEOUT)?;
        let heartbeat_interval = millis(&HEARTBEAT_INTERVAL)?;
        if heartbeat_interval >= session_timeout {
            return Err(ConfigError::Invalid {
                key: "heartbeat.interval.ms".into(),
                value: heartbeat_interval.as_millis().to_string(),
                problem: format!(
                    "must be below session.timeout.ms ({} ms), a third of it is usual",
                    session_timeout.as_millis()
                ),
            });
        }
        let assignment_topic = match props.value(&ASSIGNMENT_TOPIC)? {
            Some(topic) => topic.trim().to_owned(),
            None => format!("{config_topic}-assignments"),
        };
        Ok(Some(ClusterConfig {
            group_id: group_id.trim().to_owned(),
            config_topic,
            config_replication: props.number(&CONFIG_REPLICATION)?,
            status_topic,
            status_partitions: props.number(&STATUS_PARTITIONS)?,
            status_replication: props.number(&STATUS_REPLICATION)?,
            assignment_topic,
            session_timeout,
            heartbeat_interval,
            rebalance_timeout: millis(&REBALANCE_TIMEOUT)?,
            rebalance_delay: millis(&REBALANCE_DELAY)?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Properties {
        Properties::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<std::collections::BTreeMap<_, _>>(),
        )
    }

    const BASE: &[(&str, &str)] = &[
        ("group.id", "g"),
        ("bootstrap.servers", "k:9092"),
        ("offset.storage.topic", "o"),
        ("config.storage.topic", "c"),
        ("status.storage.topic", "s"),
    ];

    #[test]
    fn the_example_worker_is_distributed() {
        let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/distributed/worker.properties");
        let props = Properties::load(&[example], &[]).unwrap();
        let config = ClusterConfig::from_properties(&props).unwrap().unwrap();
        assert_eq!(config.group_id, "tidemark-demo");
        assert_eq!(config.rebalance_delay, Duration::ZERO);
    }

    #[test]
    fn without_group_id_the_worker_is_standalone() {
        assert_eq!(ClusterConfig::from_properties(&props(&[])).unwrap(), None);
    }

    #[test]
    fn connect_defaults_and_the_derived_assignment_topic() {
        let config = ClusterConfig::from_properties(&props(BASE))
            .unwrap()
            .unwrap();
        assert_eq!(config.assignment_topic, "c-assignments");
        assert_eq!(config.session_timeout, Duration::from_secs(10));
        assert_eq!(config.rebalance_delay, Duration::from_secs(300));
        assert_eq!(config.status_partitions, 5);
    }

    #[test]
    fn a_missing_topic_or_a_config_file_is_an_error_naming_the_key() {
        let without: Vec<_> = BASE
            .iter()
            .copied()
            .filter(|(k, _)| *k != "status.storage.topic")
            .collect();
        let error = ClusterConfig::from_properties(&props(&without))
            .unwrap_err()
            .to_string();
        assert!(error.contains("status.storage.topic"), "{error}");
        let mut with_file = BASE.to_vec();
        with_file.push(("config.storage.file", "c.json"));
        let error = ClusterConfig::from_properties(&props(&with_file))
            .unwrap_err()
            .to_string();
        assert!(error.contains("remove config.storage.file"), "{error}");
        let mut slow_heartbeat = BASE.to_vec();
        slow_heartbeat.push(("heartbeat.interval.ms", "20000"));
        let error = ClusterConfig::from_properties(&props(&slow_heartbeat))
            .unwrap_err()
            .to_string();
        assert!(error.contains("heartbeat.interval.ms"), "{error}");
    }
}
