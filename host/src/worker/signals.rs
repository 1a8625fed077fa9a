//! The REST signal channel: `POST /connectors/{name}/signals` hands a Debezium signal
//! (`{"id","type","data"}`) to the running connector, when its `signal.enabled.channels`
//! includes `rest`.

use super::status::State;
use super::{Worker, WorkerError};
use crate::config::Properties;
use crate::sources::signals::{Signal, SignalConfig};

impl Worker {
    /// Queues `signal` for connector `name`'s source. Refused with a reason when the
    /// connector does not take REST signals, is not running (here), or the signal is wrong.
    pub async fn signal(&self, name: &str, signal: Signal) -> Result<(), WorkerError> {
        let state = self.inner.state.lock().await;
        let handle = state
            .handles
            .get(name)
            .ok_or_else(|| WorkerError::NotFound(name.to_owned()))?;
        let mut merged = self.inner.defaults.clone();
        merged.extend(handle.config.clone());
        let channels = SignalConfig::from_properties(&Properties::from_pairs(merged))
            .map_err(|e| WorkerError::Conflict(format!("connector {name}: {e}")))?;
        if !channels.rest {
            return Err(WorkerError::Conflict(format!(
                "connector {name} takes no REST signals: add rest to its signal.enabled.channels"
            )));
        }
        if !state.runs_here(name) {
            return Err(WorkerError::Conflict(format!(
                "connector {name} runs on another worker of the group: send the signal there \
                 (GET /connectors/{name}/status names the worker)"
            )));
        }
        let status = handle.status();
        if status.state != State::Running {
            return Err(WorkerError::Conflict(format!(
                "connector {name} is {}: a signal goes to a RUNNING connector",
                status.state.name()
            )));
        }
        signal.action().map_err(WorkerError::BadRequest)?;
        tracing::info!(connector = %name, id = %signal.id, kind = %signal.kind, "signal received over REST");
        handle.probe.signals().push(signal);
        Ok(())
    }
}
