//! Sinks: where records go after the transforms: [`file`] (JSON lines) or [`kafka`]. Each sink writes records in order and makes
//! them durable on `flush`; the pipeline commits offsets only after a flush succeeded.

pub mod file;
pub mod kafka;

use crate::event::Record;

/// What went wrong delivering records.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("cannot open the sink {target}: {reason}")]
    Open { target: String, reason: String },
    #[error("cannot write to {target}: {reason}")]
    Write { target: String, reason: String },
}

/// A destination for records.
pub trait Sink: Send {
    /// Writes records in order. They need not be durable until [`Sink::flush`].
    fn write(&mut self, records: &[Record]) -> Result<(), SinkError>;

    /// Makes everything written so far durable.
    fn flush(&mut self) -> Result<(), SinkError>;
}
