//! Change data sources: one folder per database family, and what they share.

pub mod calendar;
pub mod decimal;
pub mod heartbeat;
pub mod mysql;
pub mod options;
pub mod postgres;
pub mod reconnect;
pub mod tls;

use tokio::sync::watch;

use crate::offsets::OffsetMap;
use crate::pipeline::{Batch, Checkpoint};

/// The channels between the source and its pipeline.
pub struct SourceContext {
    /// The last committed offset of this connector, if any.
    pub stored: Option<OffsetMap>,
    pub batches: flume::Sender<Batch>,
    /// The newest committed checkpoint: its `ack` is what the source may confirm upstream
    /// (for Postgres the LSN), its offset where a reconnect resumes.
    pub committed: watch::Receiver<Option<Checkpoint>>,
    /// Becomes true when the connector should stop.
    pub shutdown: watch::Receiver<bool>,
}
