//! Change data sources: one folder per database family, and what they share.

pub mod calendar;
pub mod decimal;
pub mod heartbeat;
pub mod in_order;
pub mod incremental_offset;
pub mod metrics;
pub mod mysql;
pub mod notify;
pub mod options;
pub mod postgres;
pub mod reconnect;
pub mod signal_channels;
pub mod signal_kafka;
pub mod signals;
pub mod tls;
pub mod usage;

use tokio::sync::watch;

use crate::event::Record;
use crate::offsets::OffsetMap;

/// A batch of records from a source, in order.
#[derive(Debug, Default)]
pub struct Batch {
    pub records: Vec<Record>,
    /// The source's position after this batch: committed once this batch and everything
    /// before it is flushed. `None` while a position is not resumable (inside a snapshot).
    pub checkpoint: Option<Checkpoint>,
}

/// A resumable source position.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// The offset map to store (Debezium's fields).
    pub offset: OffsetMap,
    /// What the source may acknowledge upstream once this is committed (for Postgres, the
    /// LSN to confirm as flushed).
    pub ack: u64,
}

/// The channels between the source and its pipeline.
pub struct SourceContext {
    /// The last committed offset of this connector, if any.
    pub stored: Option<OffsetMap>,
    /// The pipeline's queue (counting in the source's metrics).
    pub batches: metrics::BatchSender,
    /// The newest committed checkpoint: its `ack` is what the source may confirm upstream
    /// (for Postgres the LSN), its offset where a reconnect resumes.
    pub committed: watch::Receiver<Option<Checkpoint>>,
    /// Becomes true when the connector should stop.
    pub shutdown: watch::Receiver<bool>,
    /// Counts the reconnects after retriable failures (shown in the metrics).
    pub reconnects: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Signals from the file and REST channels.
    pub signals: std::sync::Arc<signal_channels::SignalInbox>,
}
