//! Where the schema history is written (`schema.history.internal`): Debezium's
//! `FileSchemaHistory` (one JSON record per line of a file) or `KafkaSchemaHistory` (one
//! record per message of a one-partition topic, as Debezium's writes it: no key, the
//! record's JSON as the value, partition 0, a `delete` topic kept forever). Every record is
//! durable (synced, or acknowledged by the broker) before the connector goes on.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rdkafka::config::ClientConfig;
use rdkafka::producer::BaseRecord;
use serde_json::Value as Json;

use super::config::{HistoryStore, KafkaHistoryConfig};
use super::error::MySqlError;
use crate::kafka::producer::ProduceError;
use crate::kafka::{Admin, Shared, TopicSettings};

/// An open schema history.
pub enum HistoryWriter {
    File(HistoryFile),
    Kafka(KafkaHistory),
}

impl HistoryWriter {
    /// Opens the history the configuration names, if any (for Kafka: creates its topic
    /// unless it exists).
    pub fn open(store: &HistoryStore) -> Result<Option<HistoryWriter>, MySqlError> {
        Ok(match store {
            HistoryStore::File(path) => Some(HistoryWriter::File(HistoryFile::open(path)?)),
            // Waits for the broker: off the async workers.
            HistoryStore::Kafka(config) => {
                Some(HistoryWriter::Kafka(tokio::task::block_in_place(|| {
                    KafkaHistory::open(config)
                })?))
            }
            HistoryStore::None => None,
        })
    }

    /// Appends one history record.
    pub fn append(&mut self, record: &Json) -> Result<(), MySqlError> {
        match self {
            HistoryWriter::File(file) => file.append(record),
            // Waits for the broker's acknowledgement: off the async workers.
            HistoryWriter::Kafka(kafka) => tokio::task::block_in_place(|| kafka.append(record)),
        }
    }
}

/// Appends history records to a file, one JSON object per line.
pub struct HistoryFile {
    path: PathBuf,
    file: std::fs::File,
}

impl HistoryFile {
    fn open(path: &Path) -> Result<HistoryFile, MySqlError> {
        let failed = |e: std::io::Error| MySqlError::History {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(failed)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(failed)?;
        Ok(HistoryFile {
            path: path.to_owned(),
            file,
        })
    }

    fn append(&mut self, record: &Json) -> Result<(), MySqlError> {
        let mut line = record.to_string();
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.sync_data())
            .map_err(|e| MySqlError::History {
                path: self.path.display().to_string(),
                reason: e.to_string(),
            })
    }
}

/// The partition every history record goes to (the topic has only this one).
const PARTITION: i32 = 0;

/// The history topic's settings when Tidemark creates it, as Debezium's: one partition, the
/// broker's replication factor, never deleted or compacted away.
fn topic_settings() -> TopicSettings {
    let configs = [
        ("cleanup.policy", "delete"),
        ("retention.ms", "9223372036854775807"),
        ("retention.bytes", "-1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    TopicSettings {
        partitions: 1,
        replication_factor: -1,
        configs,
    }
}

/// Writes history records to a Kafka topic.
pub struct KafkaHistory {
    topic: String,
    /// What errors name: the topic and the brokers.
    target: String,
    producer: Arc<Shared>,
}

impl KafkaHistory {
    fn open(config: &KafkaHistoryConfig) -> Result<KafkaHistory, MySqlError> {
        let target = format!(
            "Kafka topic {} at {}",
            config.topic,
            config
                .producer
                .get("bootstrap.servers")
                .map(String::as_str)
                .unwrap_or("")
        );
        let failed = |reason: String| MySqlError::History {
            path: target.clone(),
            reason,
        };
        let mut client = ClientConfig::new();
        for (key, value) in &config.producer {
            client.set(key, value);
        }
        Admin::new(&client)
            .and_then(|admin| admin.create_topic(&config.topic, &topic_settings()))
            .map_err(failed)?;
        let producer = Shared::create(&client).map_err(|e| failed(e.to_string()))?;
        tracing::info!(topic = %config.topic, "schema history in Kafka");
        Ok(KafkaHistory {
            topic: config.topic.clone(),
            target,
            producer,
        })
    }

    /// Sends one record and waits until the broker acknowledged it (through an outage too:
    /// the connector pauses meanwhile).
    fn append(&mut self, record: &Json) -> Result<(), MySqlError> {
        let value = record.to_string();
        let failed = |reason: ProduceError| MySqlError::History {
            path: self.target.clone(),
            reason: reason.to_string(),
        };
        self.producer
            .send(
                BaseRecord::<'_, (), str>::to(&self.topic)
                    .partition(PARTITION)
                    .payload(value.as_str()),
            )
            .map_err(failed)?;
        self.producer.flush().map_err(failed)
    }
}
