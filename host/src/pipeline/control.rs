//! What a worker uses to steer and watch a running connector: the pause gate its pipeline
//! waits at, the probe through which the connector shows its counters once they exist, and
//! the plugins the worker's connectors share.

use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::watch;

use super::PipelineStats;
use crate::config::Secrets;
use crate::plugin::{RuntimeOptions, SharedPlugins};
use crate::sources::metrics::SourceMetrics;
use crate::sources::signal_channels::SignalInbox;
use crate::sources::usage::DatabaseUsage;

/// A gate the pipeline's sink thread passes before each batch: while it is closed (the
/// connector is paused) the pipeline commits what it wrote and reads nothing more, so the
/// bounded channels fill and the source stops reading the database (its keepalives go on).
#[derive(Clone, Default)]
pub struct Gate {
    inner: Arc<(Mutex<GateState>, Condvar)>,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("closed", &self.is_closed())
            .finish()
    }
}

#[derive(Default)]
struct GateState {
    closed: bool,
    /// How many pipelines wait at the closed gate (with everything written committed).
    waiting: usize,
}

impl Gate {
    /// Closes (pauses) or opens (resumes) the gate.
    pub fn set_closed(&self, closed: bool) {
        let (state, changed) = &*self.inner;
        if let Ok(mut state) = state.lock() {
            state.closed = closed;
            changed.notify_all();
        }
    }

    /// Whether the gate is closed.
    pub fn is_closed(&self) -> bool {
        self.inner.0.lock().is_ok_and(|s| s.closed)
    }

    /// Whether a pipeline is held at the closed gate, everything before it committed.
    pub fn holds(&self) -> bool {
        self.inner.0.lock().is_ok_and(|s| s.closed && s.waiting > 0)
    }

    /// Blocks while the gate is closed, calling `parked` once first (the pipeline commits
    /// there). Returns at once when it is open.
    pub(crate) fn pass<E>(&self, parked: impl FnOnce() -> Result<(), E>) -> Result<(), E> {
        let (state, changed) = &*self.inner;
        let Ok(guard) = state.lock() else {
            return Ok(());
        };
        if !guard.closed {
            return Ok(());
        }
        drop(guard);
        parked()?;
        let Ok(mut guard) = state.lock() else {
            return Ok(());
        };
        guard.waiting += 1;
        while guard.closed {
            guard = match changed.wait_timeout(guard, Duration::from_secs(1)) {
                Ok((guard, _)) => guard,
                Err(_) => return Ok(()),
            };
        }
        guard.waiting -= 1;
        Ok(())
    }
}

/// What a running connector shows its worker: its pipeline's counters and the values its
/// config providers resolved (which every answer hides), set once the pipeline has started.
#[derive(Default)]
pub struct Probe {
    stats: OnceLock<Arc<PipelineStats>>,
    source: OnceLock<Arc<SourceMetrics>>,
    /// What the connector last was found to hold back in its database.
    usage: Mutex<Option<DatabaseUsage>>,
    secrets: OnceLock<Secrets>,
    /// Signals for the connector's source (the file and REST channels).
    signals: Arc<SignalInbox>,
}

impl Probe {
    /// Records the values config providers resolved for the connector.
    pub(crate) fn resolved(&self, secrets: Secrets) {
        let _ = self.secrets.set(secrets);
    }

    /// Records the started pipeline's counters and its source's metrics.
    pub(crate) fn started(&self, stats: Arc<PipelineStats>, source: Arc<SourceMetrics>) {
        let _ = self.stats.set(stats);
        let _ = self.source.set(source);
    }

    /// Where the REST channel (and the file channel) put signals for the connector.
    pub fn signals(&self) -> &Arc<SignalInbox> {
        &self.signals
    }

    /// The values config providers resolved for the connector (none before it started).
    pub fn secrets(&self) -> Secrets {
        self.secrets.get().cloned().unwrap_or_default()
    }

    /// The pipeline's counters, once it runs.
    pub fn stats(&self) -> Option<&Arc<PipelineStats>> {
        self.stats.get()
    }

    /// The source's metrics, once it runs.
    pub fn source(&self) -> Option<&Arc<SourceMetrics>> {
        self.source.get()
    }

    /// Records what the connector holds back in its database (`None`: not known).
    pub fn set_usage(&self, usage: Option<DatabaseUsage>) {
        *self.usage.lock().unwrap_or_else(|p| p.into_inner()) = usage;
    }

    /// What the connector was last found to hold back in its database.
    pub fn usage(&self) -> Option<DatabaseUsage> {
        self.usage.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// How a worker steers one run of a connector.
#[derive(Clone)]
pub struct Controls {
    /// Turns true to stop: a final flush and commit, then the connector ends.
    pub shutdown: watch::Receiver<bool>,
    /// Closed while the connector is paused.
    pub gate: Gate,
    /// Filled in as the connector starts.
    pub probe: Arc<Probe>,
    /// The plugin runtime and directories of the worker, shared by its connectors.
    pub plugins: SharedPlugins,
}

impl Controls {
    /// Controls of a connector nobody pauses or watches, stopped by `shutdown`, with plugins
    /// of its own.
    pub fn unattended(shutdown: watch::Receiver<bool>) -> Controls {
        Controls {
            shutdown,
            gate: Gate::default(),
            probe: Arc::new(Probe::default()),
            plugins: SharedPlugins::new(RuntimeOptions::default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_gate_holds_until_opened_after_parking_once() {
        let gate = Gate::default();
        let mut parked = 0;
        gate.pass(|| {
            parked += 1;
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!(parked, 0, "an open gate does not park");
        gate.set_closed(true);
        let held = gate.clone();
        let thread = std::thread::spawn(move || {
            let mut parked = 0;
            held.pass(|| {
                parked += 1;
                Ok::<(), ()>(())
            })
            .unwrap();
            parked
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !gate.holds() {
            assert!(
                std::time::Instant::now() < deadline,
                "the pipeline never parked"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(!thread.is_finished());
        gate.set_closed(false);
        assert_eq!(thread.join().unwrap(), 1);
        assert!(!gate.holds());
    }
}
