//! The Kafka sink (selected by `bootstrap.servers`): each record to its topic, key and value
//! as the JsonConverter serialises them, headers as strings, tombstones as null values.
//!
//! - [`config`]: the settings (`producer.*`, `topic.creation.*`, `exactly.once.support`).
//! - [`topics`]: topic creation (Connect's `topic.creation.*`) before a topic's first record.
//!
//! The producer and the admin client are [`crate::kafka`]'s.
//!
//! `flush` returns once the broker acknowledged every record written before it, so the
//! pipeline commits an offset only after everything up to it is in Kafka. With exactly-once
//! the records of each commit interval go in one Kafka transaction, which the Kafka offset
//! store ([`crate::offsets::KafkaOffsetStore`]) commits together with the offset.

pub mod config;
pub mod topics;

use std::sync::Arc;

use rdkafka::message::{Header as KafkaHeader, OwnedHeaders};
use rdkafka::producer::BaseRecord;

use super::{Sink, SinkError};
use crate::event::{Record, write_converted};
use crate::kafka::{Admin, Shared};
pub use config::KafkaConfig;
use topics::TopicCreator;

/// Writes records to Kafka.
pub struct KafkaSink {
    shared: Arc<Shared>,
    topics: TopicCreator,
    config: KafkaConfig,
    key: String,
    value: String,
}

fn failed(reason: String) -> SinkError {
    SinkError::Write {
        target: "Kafka".into(),
        reason,
    }
}

impl KafkaSink {
    /// Creates the producer (initialising its transactions with exactly-once) and the admin
    /// client. Nothing is sent until the first write.
    pub fn open(config: KafkaConfig) -> Result<KafkaSink, SinkError> {
        let open_failed = |reason: String| SinkError::Open {
            target: format!("Kafka at {}", config.common.bootstrap()),
            reason,
        };
        let admin = Admin::new(
            &config
                .common
                .client(&[("allow.auto.create.topics", "false")]),
        )
        .map_err(open_failed)?;
        let shared = Shared::create(&config.producer_config()).map_err(open_failed)?;
        Ok(KafkaSink {
            shared,
            topics: TopicCreator::new(admin, config.topics.clone()),
            config,
            key: String::new(),
            value: String::new(),
        })
    }

    /// The producer, for the offset store to commit its transactions with.
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    fn send(&mut self, record: &Record) -> Result<(), SinkError> {
        self.topics.ensure(&record.topic).map_err(failed)?;
        let json = self.config.json;
        self.key.clear();
        self.value.clear();
        let has_key = write_converted(&mut self.key, record.key.as_ref(), json.key_schemas, json);
        let has_value = write_converted(
            &mut self.value,
            record.value.as_ref(),
            json.value_schemas,
            json,
        );
        if !has_key && self.topics.creates_compacted(&record.topic) {
            // The broker would refuse it (INVALID_RECORD) while the producer retries it
            // until message.timeout.ms, holding up every record after it.
            return Err(failed(format!(
                "a record without a key (a TRUNCATE or a keyless table's change) goes to topic {}, \
                 which is created compacted (cleanup.policy=compact), and a compacted topic refuses \
                 records without a key: skip truncates (skipped.operations=t), give the table a \
                 primary key, or create this topic with cleanup.policy=delete \
                 (topic.creation.groups)",
                record.topic
            )));
        }
        let mut out: BaseRecord<'_, str, str> = BaseRecord::to(&record.topic);
        if has_key {
            out = out.key(self.key.as_str());
        }
        if has_value {
            out = out.payload(self.value.as_str());
        }
        if !record.headers.is_empty() {
            let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
            for header in &record.headers {
                headers = headers.insert(KafkaHeader {
                    key: &header.key,
                    value: header.value.as_deref(),
                });
            }
            out = out.headers(headers);
        }
        if let Some(timestamp) = record.timestamp {
            out = out.timestamp(timestamp);
        }
        self.shared.send(out).map_err(failed)
    }
}

impl Sink for KafkaSink {
    fn write(&mut self, records: &[Record]) -> Result<(), SinkError> {
        self.shared.ensure_transaction().map_err(failed)?;
        for record in records {
            self.send(record)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        // With exactly-once the transaction stays open: the offset store commits it with
        // the offset.
        self.shared.flush().map_err(failed)
    }
}
