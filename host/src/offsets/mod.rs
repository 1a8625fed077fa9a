//! Source offsets: where each connector has durably got to, stored after the sink has
//! flushed everything up to that point.
//!
//! Offsets are keyed as Kafka Connect keys them, `["<connector>", {source partition}]`, and
//! their values are the source's offset map with Debezium's field names (for Postgres
//! `lsn`, `lsn_proc`, `lsn_commit`, `txId`, `ts_usec`, …), so a Connect user recognises them.

mod file;
pub mod kafka;

pub use file::FileOffsetStore;
pub use kafka::{KafkaOffsetSettings, KafkaOffsetStore};

/// An offset or a source partition: a JSON object, as Connect stores them.
pub type OffsetMap = serde_json::Map<String, serde_json::Value>;

/// What went wrong reading or writing offsets.
#[derive(Debug, thiserror::Error)]
pub enum OffsetError {
    #[error("cannot read offsets from {path}: {reason} (fix or remove the file to start over)")]
    Read { path: String, reason: String },
    #[error("cannot write offsets to {path}: {reason}")]
    Write { path: String, reason: String },
}

/// Durable storage of offsets.
pub trait OffsetStore: Send {
    /// The last committed offset of a connector's source partition.
    fn load(
        &self,
        connector: &str,
        partition: &OffsetMap,
    ) -> Result<Option<OffsetMap>, OffsetError>;

    /// Durably records an offset; on return it survives a crash.
    fn commit(
        &mut self,
        connector: &str,
        partition: &OffsetMap,
        offset: &OffsetMap,
    ) -> Result<(), OffsetError>;

    /// Every source partition of a connector with its committed offset.
    fn offsets(&self, connector: &str) -> Result<Vec<Partition>, OffsetError>;

    /// Durably removes a partition's offset: the connector's next start follows its
    /// `snapshot.mode` as if it had never run.
    fn reset(&mut self, connector: &str, partition: &OffsetMap) -> Result<(), OffsetError>;

    /// Whether connectors sharing this store should commit at the same moments (on
    /// wall-clock multiples of their flush interval), so that their commits meet and are
    /// written together. False unless the store groups commits.
    fn groups_commits(&self) -> bool {
        false
    }
}

/// A source partition and its committed offset.
#[derive(Debug, Clone, PartialEq)]
pub struct Partition {
    pub partition: OffsetMap,
    pub offset: OffsetMap,
}

/// The connector's partitions among stored `(Connect key, offset)` entries.
fn partitions_of<'a>(
    entries: impl Iterator<Item = (&'a String, &'a OffsetMap)>,
    connector: &str,
) -> Vec<Partition> {
    entries
        .filter_map(|(key, offset)| {
            let key: serde_json::Value = serde_json::from_str(key).ok()?;
            match key.as_array()?.as_slice() {
                [
                    serde_json::Value::String(name),
                    serde_json::Value::Object(partition),
                ] if name == connector => Some(Partition {
                    partition: partition.clone(),
                    offset: offset.clone(),
                }),
                _ => None,
            }
        })
        .collect()
}

/// The key Kafka Connect gives an offset: `["<connector>",{partition}]` as compact JSON.
pub fn connect_key(connector: &str, partition: &OffsetMap) -> String {
    serde_json::Value::Array(vec![
        serde_json::Value::String(connector.to_owned()),
        serde_json::Value::Object(partition.clone()),
    ])
    .to_string()
}
