//! Offsets in a compacted Kafka topic (`offset.storage.topic`), as Kafka Connect's
//! `KafkaOffsetBackingStore` keeps them: the key is `["<connector>",{source partition}]` and
//! the value the offset's JSON, both as the JsonConverter without schemas writes them; a null
//! value deletes an offset. The whole topic is read once at start (`read_committed`); each
//! commit is a record the broker acknowledged, or, with exactly-once, the last record of the
//! transaction that carries the records it covers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::BaseRecord;
use rdkafka::{Message, Offset, TopicPartitionList};

use super::{OffsetError, OffsetMap, OffsetStore, Partition, connect_key, partitions_of};
use crate::config::{ConfigError, Key, Properties, declare_keys};
use crate::kafka::client::high_watermark;
use crate::kafka::keys::positive_or_broker_default;
use crate::kafka::producer::ProduceError;
use crate::kafka::{Admin, ClientSettings, Shared, TopicSettings};

/// How long reading the offsets topic at start may take.
const READ_TIMEOUT: Duration = Duration::from_secs(120);

/// `offset.storage.topic` and how it is created.
#[derive(Debug, Clone, PartialEq)]
pub struct KafkaOffsetSettings {
    pub topic: String,
    /// `offset.storage.partitions` (Connect: 25) and `offset.storage.replication.factor`
    /// (Connect: 3; here -1, the broker's default), always compacted.
    pub creation: TopicSettings,
}

declare_keys! {
    /// `offset.storage.topic`.
    TOPIC = Key::string("offset.storage.topic")
        .group("Offsets")
        .doc("The compacted topic that holds the offsets (Connect's connect-offsets): setting \
              it keeps offsets in Kafka instead of offset.storage.file.filename.");
    /// `offset.storage.partitions`.
    PARTITIONS = Key::int("offset.storage.partitions")
        .default("25")
        .check(positive_or_broker_default)
        .group("Offsets")
        .doc("The offsets topic's partitions when Tidemark creates it (-1: the broker's \
              default).");
    /// `offset.storage.replication.factor`.
    REPLICATION_FACTOR = Key::int("offset.storage.replication.factor")
        .default("-1")
        .check(positive_or_broker_default)
        .group("Offsets")
        .doc("The offsets topic's replication factor when Tidemark creates it (-1: the \
              broker's default).");
}

impl KafkaOffsetSettings {
    /// Reads `offset.storage.topic` and its creation settings.
    pub fn from_properties(props: &Properties) -> Result<KafkaOffsetSettings, ConfigError> {
        let topic = props.required(&TOPIC)?.to_owned();
        let mut configs = std::collections::BTreeMap::new();
        configs.insert("cleanup.policy".to_owned(), "compact".to_owned());
        Ok(KafkaOffsetSettings {
            topic,
            creation: TopicSettings {
                partitions: props.number(&PARTITIONS)?,
                replication_factor: props.number(&REPLICATION_FACTOR)?,
                configs,
            },
        })
    }
}

/// Offsets kept in a Kafka topic.
pub struct KafkaOffsetStore {
    topic: String,
    producer: Arc<Shared>,
    entries: HashMap<String, OffsetMap>,
}

impl KafkaOffsetStore {
    /// Creates the topic unless it exists and reads every offset in it. With `transactional`
    /// (the sink's exactly-once producer) commits go in the sink's transactions; otherwise
    /// the store has an idempotent producer of its own.
    pub fn open(
        kafka: &ClientSettings,
        settings: &KafkaOffsetSettings,
        transactional: Option<Arc<Shared>>,
    ) -> Result<KafkaOffsetStore, OffsetError> {
        let topic = settings.topic.clone();
        let read_error = |reason: String| OffsetError::Read {
            path: format!("Kafka topic {topic}"),
            reason,
        };
        let admin = Admin::new(&kafka.client(&[("allow.auto.create.topics", "false")]))
            .map_err(read_error)?;
        admin
            .create_topic(&topic, &settings.creation)
            .map_err(read_error)?;
        let producer = match transactional {
            Some(shared) => shared,
            None => Shared::create(&kafka.client(&[
                ("enable.idempotence", "true"),
                ("acks", "all"),
                ("message.timeout.ms", "0"),
                ("partitioner", "murmur2_random"),
            ]))
            .map_err(|e| read_error(e.to_string()))?,
        };
        let deadline = Instant::now() + READ_TIMEOUT;
        let partitions = admin
            .wait_for_partitions(&topic, deadline)
            .map_err(read_error)?;
        let entries = read_all(kafka, &topic, partitions as i32, deadline).map_err(read_error)?;
        tracing::info!(topic = %topic, offsets = entries.len(), "offsets read from Kafka");
        Ok(KafkaOffsetStore {
            topic,
            producer,
            entries,
        })
    }
}

/// Reads the topic's `partitions` from the beginning to their ends by `deadline`, keeping
/// the last value of each key.
///
/// The end is each partition's high watermark as of the start, read `read_uncommitted`:
/// reading `read_committed` only up to the partition's end as it then appears (its last
/// stable offset) would miss offsets committed after a transaction still open there, such
/// as another connector's commit under way or a killed worker's leftover, and resume from
/// an older offset. So the read waits until every transaction open at the start has ended
/// (committed, aborted, or fenced by its connector's next owner).
fn read_all(
    kafka: &ClientSettings,
    topic: &str,
    partitions: i32,
    deadline: Instant,
) -> Result<HashMap<String, OffsetMap>, String> {
    let consumer = |isolation: &str| -> Result<BaseConsumer, String> {
        kafka
            .client(&[
                ("group.id", "tidemark-offset-reader"),
                ("enable.auto.commit", "false"),
                ("enable.auto.offset.store", "false"),
                ("isolation.level", isolation),
                ("auto.offset.reset", "earliest"),
            ])
            .create()
            .map_err(|e| format!("cannot create a consumer: {e}"))
    };
    let reader = consumer("read_committed")?;
    let ends = {
        let watermarks = consumer("read_uncommitted")?;
        (0..partitions)
            .map(|partition| high_watermark(&watermarks, topic, partition, deadline))
            .collect::<Result<Vec<i64>, String>>()?
    };
    let mut assignment = TopicPartitionList::new();
    for partition in 0..partitions {
        assignment
            .add_partition_offset(topic, partition, Offset::Beginning)
            .map_err(|e| e.to_string())?;
    }
    reader
        .assign(&assignment)
        .map_err(|e| format!("cannot read the topic: {e}"))?;
    let mut entries = HashMap::new();
    loop {
        let behind = behind(&reader, &ends)?;
        if behind.is_empty() {
            return Ok(entries);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the topic was not read to its end within {READ_TIMEOUT:?}: partitions \
                 {behind:?} are behind (a transaction left open there ends within the \
                 producer's transaction.timeout.ms)"
            ));
        }
        match reader.poll(Duration::from_millis(200)) {
            None => {}
            Some(Ok(message)) => {
                let Some(key) = message.key() else { continue };
                let key = String::from_utf8_lossy(key).into_owned();
                match message.payload() {
                    None => {
                        entries.remove(&key);
                    }
                    Some(value) => match serde_json::from_slice::<serde_json::Value>(value) {
                        Ok(serde_json::Value::Object(offset)) => {
                            entries.insert(key, offset);
                        }
                        Ok(serde_json::Value::Null) => {
                            entries.remove(&key);
                        }
                        _ => {
                            return Err(format!(
                                "the offset of {key} (partition {}, offset {}) is not a JSON object",
                                message.partition(),
                                message.offset()
                            ));
                        }
                    },
                }
            }
            Some(Err(error)) => tracing::warn!(%error, topic, "reading offsets"),
        }
    }
}

/// The partitions whose read position is still below their end in `ends`.
fn behind(reader: &BaseConsumer, ends: &[i64]) -> Result<Vec<i32>, String> {
    let positions = reader
        .position()
        .map_err(|e| format!("cannot tell how far the topic was read: {e}"))?;
    Ok(positions
        .elements()
        .iter()
        .filter(|p| {
            let end = ends.get(p.partition() as usize).copied().unwrap_or(0);
            let at = match p.offset() {
                Offset::Offset(at) => at,
                _ => 0,
            };
            at < end
        })
        .map(|p| p.partition())
        .collect())
}

impl OffsetStore for KafkaOffsetStore {
    fn load(
        &self,
        connector: &str,
        partition: &OffsetMap,
    ) -> Result<Option<OffsetMap>, OffsetError> {
        Ok(self
            .entries
            .get(&connect_key(connector, partition))
            .cloned())
    }

    fn commit(
        &mut self,
        connector: &str,
        partition: &OffsetMap,
        offset: &OffsetMap,
    ) -> Result<(), OffsetError> {
        let key = connect_key(connector, partition);
        let value = serde_json::Value::Object(offset.clone()).to_string();
        self.write(&key, Some(&value))?;
        self.entries.insert(key, offset.clone());
        Ok(())
    }

    fn offsets(&self, connector: &str) -> Result<Vec<Partition>, OffsetError> {
        Ok(partitions_of(self.entries.iter(), connector))
    }

    fn reset(&mut self, connector: &str, partition: &OffsetMap) -> Result<(), OffsetError> {
        let key = connect_key(connector, partition);
        // A tombstone, as Connect deletes an offset.
        self.write(&key, None)?;
        self.entries.remove(&key);
        Ok(())
    }
}

impl KafkaOffsetStore {
    /// Writes one offset record (`None`: a tombstone) and waits until the broker has it: in
    /// the open transaction with exactly-once, which this commits.
    fn write(&self, key: &str, value: Option<&str>) -> Result<(), OffsetError> {
        let write_error = |reason: ProduceError| OffsetError::Write {
            path: format!("Kafka topic {}", self.topic),
            reason: reason.to_string(),
        };
        let mut record = BaseRecord::<'_, str, str>::to(&self.topic).key(key);
        if let Some(value) = value {
            record = record.payload(value);
        }
        self.producer.ensure_transaction().map_err(write_error)?;
        self.producer.send(record).map_err(write_error)?;
        if self.producer.transactional() {
            self.producer.commit_transaction().map_err(write_error)
        } else {
            self.producer.flush().map_err(write_error)
        }
    }
}
