//! Change data sources: one folder per database family, and what they share.

pub mod calendar;
pub mod decimal;
pub mod heartbeat;
pub mod mysql;
pub mod options;
pub mod postgres;

use tokio::sync::watch;

use crate::offsets::OffsetMap;
use crate::pipeline::Batch;

/// The channels between the source and its pipeline.
pub struct SourceContext {
    /// The last committed offset of this connector, if any.
    pub stored: Option<OffsetMap>,
    pub batches: flume::Sender<Batch>,
    /// The `ack` of the newest committed checkpoint (for Postgres the LSN to confirm).
    pub committed: watch::Receiver<Option<u64>>,
    /// Becomes true when the connector should stop.
    pub shutdown: watch::Receiver<bool>,
}
