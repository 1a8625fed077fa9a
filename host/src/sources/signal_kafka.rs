//! Debezium's Kafka signal channel (`signal.enabled.channels=kafka`): signals are records of
//! partition 0 of `signal.kafka.topic` whose key is the connector's `topic.prefix` and whose
//! value is `{"id","type","data"}`. The consumer belongs to `signal.kafka.groupId` and commits
//! what it read, so a restarted connector goes on after the last signal it took; a group
//! with nothing committed starts at the topic's beginning, as Debezium's does.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::options::TOPIC_PREFIX;
use super::signal_channels::SignalInbox;
use super::signals::Signal;
use crate::config::{ConfigError, Key, Properties, declare_keys};
use crate::kafka::client::ClientSettings;

declare_keys! {
    /// `signal.kafka.topic`.
    TOPIC = Key::string("signal.kafka.topic")
        .group("Signals")
        .doc("The kafka channel's topic (default <topic.prefix>-signal); its partition 0 is \
              read, and only records whose key is the connector's topic.prefix are signals.");
    /// `signal.kafka.bootstrap.servers`.
    SERVERS = Key::string("signal.kafka.bootstrap.servers")
        .group("Signals")
        .doc("The brokers of the kafka channel; required with that channel. Its consumer's \
              other settings (security among them) are signal.consumer.* keys, as in Debezium.");
    /// `signal.kafka.groupId`.
    GROUP = Key::string("signal.kafka.groupId")
        .default("kafka-signal")
        .group("Signals")
        .doc("The consumer group of the kafka channel, under which it commits the signals it \
              has read.");
    /// `signal.kafka.poll.timeout.ms`.
    POLL_TIMEOUT = Key::long("signal.kafka.poll.timeout.ms")
        .default("100")
        .range(Some(1), None)
        .group("Signals")
        .doc("How long, in milliseconds, the kafka channel waits for a record at each poll.");
    /// `signal.consumer.*`.
    CONSUMER = Key::string("signal.consumer.*")
        .group("Signals")
        .doc("The kafka channel's consumer settings (Kafka's client names: security.protocol, \
              ssl.*, sasl.* and librdkafka's consumer properties), as Debezium's \
              signal.consumer.* keys.");
}

/// Where the Kafka channel reads its signals.
#[derive(Debug, Clone, PartialEq)]
pub struct KafkaSignals {
    pub topic: String,
    /// The record key a signal must carry: the connector's `topic.prefix`.
    pub key: String,
    /// The consumer's librdkafka settings (servers, group, `signal.consumer.*`).
    pub client: ClientSettings,
    pub poll_timeout: Duration,
}

impl KafkaSignals {
    /// Reads the channel's keys; `signal.kafka.bootstrap.servers` is required.
    pub fn from_properties(props: &Properties) -> Result<KafkaSignals, ConfigError> {
        let key = props.value(&TOPIC_PREFIX)?.unwrap_or_default().to_owned();
        let topic = match props.value(&TOPIC)? {
            Some(topic) => topic.to_owned(),
            None => format!("{key}-signal"),
        };
        let servers = props.value(&SERVERS)?.ok_or_else(|| ConfigError::Missing {
            key: SERVERS.name.to_string(),
            hint: "the kafka signal channel (signal.enabled.channels=kafka) reads its topic \
                   from these brokers"
                .into(),
        })?;
        let mut client = ClientSettings::layered(
            props,
            (SERVERS.name.as_ref(), servers),
            &["signal.consumer."],
            |_, key, value| Ok((key.to_owned(), value)),
        )?;
        client.set_default("group.id", props.required(&GROUP)?);
        client.set_default("enable.auto.commit", "true");
        client.set_default("auto.offset.reset", "earliest");
        client.set_default("client.id", &format!("{key}-signal"));
        client.check()?;
        Ok(KafkaSignals {
            topic,
            key,
            client,
            poll_timeout: Duration::from_millis(props.number(&POLL_TIMEOUT)?),
        })
    }
}

/// Stops the Kafka channel's reader (and commits what it read) when dropped.
pub struct KafkaChannel {
    stop: Arc<AtomicBool>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Drop for KafkaChannel {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

/// Starts reading the signal topic into `inbox`, on a thread of its own (librdkafka's poll
/// blocks). A consumer that cannot be created is an error naming the channel; a topic that
/// does not exist yet, or a broker away, is logged and read again.
pub fn watch(config: &KafkaSignals, inbox: Arc<SignalInbox>) -> Result<KafkaChannel, String> {
    let consumer: BaseConsumer = config
        .client
        .client(&[])
        .create()
        .map_err(|e| format!("the kafka signal channel's consumer: {e}"))?;
    let mut partitions = TopicPartitionList::new();
    partitions
        .add_partition_offset(&config.topic, 0, Offset::Stored)
        .map_err(|e| format!("the kafka signal channel's topic {}: {e}", config.topic))?;
    consumer
        .assign(&partitions)
        .map_err(|e| format!("the kafka signal channel's topic {}: {e}", config.topic))?;
    let stop = Arc::new(AtomicBool::new(false));
    let (topic, key, timeout) = (
        config.topic.clone(),
        config.key.clone(),
        config.poll_timeout,
    );
    let stopping = stop.clone();
    let reader = std::thread::Builder::new()
        .name("signal-kafka".into())
        .spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match consumer.poll(timeout) {
                    None => {}
                    Some(Ok(record)) => take(&record, &topic, &key, &inbox),
                    Some(Err(error)) => tracing::warn!(
                        topic = %topic,
                        %error,
                        "the kafka signal channel cannot read its topic; trying again"
                    ),
                }
            }
            if let Err(error) = consumer.commit_consumer_state(rdkafka::consumer::CommitMode::Sync)
            {
                tracing::debug!(topic = %topic, %error, "the kafka signal channel's last commit");
            }
        })
        .map_err(|e| format!("the kafka signal channel's reader thread: {e}"))?;
    Ok(KafkaChannel {
        stop,
        reader: Some(reader),
    })
}

/// A record of the signal topic: a signal for this connector, one for another (its key
/// differs: skipped, as Debezium skips it), or one that is not a signal (logged).
fn take(record: &impl Message, topic: &str, key: &str, inbox: &SignalInbox) {
    let record_key = record.key().map(String::from_utf8_lossy);
    if record_key.as_deref() != Some(key) {
        tracing::debug!(
            topic,
            offset = record.offset(),
            key = ?record_key,
            "a signal record for another connector (its key is not {key}): skipped"
        );
        return;
    }
    let Some(value) = record.payload().filter(|v| !v.is_empty()) else {
        return;
    };
    let text = String::from_utf8_lossy(value);
    match Signal::from_json(&text) {
        Ok(signal) => inbox.push(signal),
        Err(problem) => tracing::error!(
            topic,
            offset = record.offset(),
            value = %text,
            "signal refused: {problem}; send one JSON object {{\"id\",\"type\",\"data\"}} \
             keyed by the connector's topic.prefix"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Properties {
        Properties::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn the_topic_defaults_to_the_prefix_and_the_servers_are_required() {
        let config = KafkaSignals::from_properties(&props(&[
            ("topic.prefix", "shop"),
            ("signal.kafka.bootstrap.servers", "k:9092"),
            ("signal.consumer.security.protocol", "SSL"),
            ("signal.consumer.fetch.wait.max.ms", "50"),
        ]))
        .unwrap();
        assert_eq!(
            (config.topic.as_str(), config.key.as_str()),
            ("shop-signal", "shop")
        );
        let client = config.client.properties();
        assert_eq!(client["group.id"], "kafka-signal");
        assert!(client["security.protocol"].eq_ignore_ascii_case("ssl"));
        assert_eq!(client["fetch.wait.max.ms"], "50");
        let error = KafkaSignals::from_properties(&props(&[("topic.prefix", "shop")])).unwrap_err();
        assert!(
            error.to_string().contains("signal.kafka.bootstrap.servers"),
            "{error}"
        );
    }
}
