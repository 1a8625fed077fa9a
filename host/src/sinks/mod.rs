//! Sinks: where records go after the transforms: [`file`] (JSON lines), [`kafka`] or [`wasm`]
//! (a sink plugin). Each sink writes records in order and makes
//! them durable on `flush`; the pipeline commits offsets only after a flush succeeded.

pub mod file;
pub mod kafka;
pub mod keys;
pub mod wasm;

use crate::config::{Properties, WorkerConfig};
use crate::event::Record;
use crate::plugin::SharedPlugins;

/// What went wrong delivering records.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("cannot open the sink {target}: {reason}")]
    Open { target: String, reason: String },
    #[error("cannot write to {target}: {reason}")]
    Write { target: String, reason: String },
    #[error(transparent)]
    Plugin(Box<crate::plugin::PluginError>),
    #[error("sink plugin '{plugin}' refused the {call} (fatal): {message}")]
    Rejected {
        plugin: String,
        call: String,
        message: String,
    },
    #[error(
        "sink plugin '{plugin}' kept failing the {call}: {attempts} attempts in {timeout_ms} ms (errors.retry.timeout); last error: {message}"
    )]
    RetriesExhausted {
        plugin: String,
        call: String,
        attempts: u32,
        timeout_ms: u64,
        message: String,
    },
}

/// Opens the sink that `sink.type` names: `file` (the default: `sink.file`, JSON lines) or
/// `wasm` (a sink plugin of `connector`, see [`wasm`], compiled in the shared plugin runtime).
pub fn open(
    props: &Properties,
    worker: &WorkerConfig,
    connector: &str,
    plugins: &SharedPlugins,
) -> Result<Box<dyn Sink>, SinkError> {
    let open_error = |reason: String| SinkError::Open {
        target: "sink.type".into(),
        reason,
    };
    let kind = props
        .choose(&keys::SINK_TYPE)
        .map_err(|e| open_error(e.to_string()))?;
    Ok(match kind.as_str() {
        "kafka" => {
            return Err(open_error(
                "sink.type=kafka needs bootstrap.servers: set it to the Kafka brokers".into(),
            ));
        }
        "wasm" => Box::new(wasm::WasmSink::from_properties(
            props,
            worker.plugin_path.as_deref(),
            connector,
            plugins,
        )?),
        _ => Box::new(file::FileSink::open(
            worker.sink_file.as_deref(),
            worker.json,
        )?),
    })
}

/// A destination for records.
pub trait Sink: Send {
    /// Writes records in order. They need not be durable until [`Sink::flush`].
    fn write(&mut self, records: &[Record]) -> Result<(), SinkError>;

    /// Makes everything written so far durable.
    fn flush(&mut self) -> Result<(), SinkError>;

    /// The count of calls this sink retried after retriable failures, if it retries any
    /// itself (shown as `tidemark_sink_retries_total`).
    fn retries(&self) -> Option<std::sync::Arc<std::sync::atomic::AtomicU64>> {
        None
    }
}
