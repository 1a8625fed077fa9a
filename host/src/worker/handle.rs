//! One connector in a worker: its stored config and target state, its status, and the task
//! that runs it. A connector runs as a task of its own: its failure (or a panic in its
//! code) ends only that task, which the monitor turns into a `FAILED` status with a trace.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::status::{State, Status, trace_of};
use super::store::TargetState;
use crate::config::Properties;
use crate::pipeline::connector::{self, ConnectorError};
use crate::pipeline::control::{Controls, Gate, Probe};
use crate::plugin::SharedPlugins;

/// What a connector's runs have to say, shared between the worker and the runs' monitors.
#[derive(Default)]
pub struct Report {
    status: Mutex<Option<Status>>,
    /// The error that ended the last run, for `tidemark run` to exit with.
    error: Mutex<Option<ConnectorError>>,
    /// How many runs have ended.
    ended: watch::Sender<u64>,
    /// Counts runs: a run that ends after a newer one started reports nothing.
    generation: AtomicU64,
}

impl Report {
    /// The current status (`UNASSIGNED` before anything ran).
    pub fn status(&self) -> Status {
        self.status
            .lock()
            .ok()
            .and_then(|s| s.clone())
            .unwrap_or(Status::of(State::Unassigned))
    }

    fn set(&self, status: Status) {
        if let Ok(mut current) = self.status.lock() {
            *current = Some(status);
        }
    }

    /// Takes the error that ended the last run, if it failed.
    pub fn take_error(&self) -> Option<ConnectorError> {
        self.error.lock().ok().and_then(|mut e| e.take())
    }

    /// Waits until a run ends (returns at once when one has).
    pub async fn ended(&self) {
        let mut ended = self.ended.subscribe();
        let _ = ended.wait_for(|count| *count > 0).await;
    }
}

/// A run in progress.
struct Run {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// A connector known to the worker.
pub struct Handle {
    /// Its own properties, as created or last changed.
    pub config: BTreeMap<String, String>,
    /// What it should be doing.
    pub target: TargetState,
    pub report: Arc<Report>,
    pub probe: Arc<Probe>,
    gate: Gate,
    run: Option<Run>,
    /// Topics written by earlier runs (Connect's active topics, kept until reset).
    earlier_topics: BTreeSet<String>,
}

impl Handle {
    /// A connector that is not running yet.
    pub fn new(config: BTreeMap<String, String>, target: TargetState) -> Handle {
        let report = Arc::new(Report::default());
        if target == TargetState::Stopped {
            report.set(Status::of(State::Stopped));
        }
        Handle {
            config,
            target,
            report,
            probe: Arc::new(Probe::default()),
            gate: Gate::default(),
            run: None,
            earlier_topics: BTreeSet::new(),
        }
    }

    /// Every topic the connector has written to since it was created or its topics reset.
    pub fn topics(&self) -> BTreeSet<String> {
        let mut topics = self.earlier_topics.clone();
        if let Some(stats) = self.probe.stats()
            && let Ok(current) = stats.topics.lock()
        {
            topics.extend(current.iter().cloned());
        }
        topics
    }

    /// Forgets the topics written so far.
    pub fn reset_topics(&mut self) {
        self.earlier_topics.clear();
        if let Some(stats) = self.probe.stats()
            && let Ok(mut current) = stats.topics.lock()
        {
            current.clear();
        }
    }

    /// The connector's state as Connect reports it.
    pub fn status(&self) -> Status {
        let status = self.report.status();
        match (status.state, self.target) {
            (State::Running, TargetState::Paused) if self.gate.is_closed() => {
                Status::of(State::Paused)
            }
            _ => status,
        }
    }

    /// Whether the connector failed because a newer producer of its transactional id
    /// fenced its own.
    pub fn fenced(&self) -> bool {
        let status = self.report.status();
        status.state == State::Failed
            && status
                .trace
                .as_deref()
                .is_some_and(crate::kafka::producer::names_fencing)
    }

    /// Whether a run is in progress.
    pub fn is_running(&self) -> bool {
        self.run.as_ref().is_some_and(|r| !r.task.is_finished())
    }

    /// Starts a run with the worker's `defaults` under the connector's own properties
    /// (paused at once when the target is `PAUSED`), its plugins in the worker's shared
    /// `plugins`. Needs a multi-threaded runtime.
    pub fn start(&mut self, defaults: &BTreeMap<String, String>, plugins: &SharedPlugins) {
        let mut merged = defaults.clone();
        merged.extend(self.config.clone());
        let props = Properties::from_pairs(merged);
        self.gate.set_closed(self.target == TargetState::Paused);
        self.earlier_topics = self.topics();
        self.probe = Arc::new(Probe::default());
        let (stop, shutdown) = watch::channel(false);
        let controls = Controls {
            shutdown,
            gate: self.gate.clone(),
            probe: self.probe.clone(),
            plugins: plugins.clone(),
        };
        self.launch(stop, connector::run(props, controls));
    }

    /// Runs `run` as the connector's task, and a monitor that turns how it ends (an error, a
    /// panic) into the connector's status.
    fn launch(
        &mut self,
        stop: watch::Sender<bool>,
        run: impl Future<Output = Result<(), ConnectorError>> + Send + 'static,
    ) {
        let report = self.report.clone();
        let generation = report.generation.fetch_add(1, Ordering::AcqRel) + 1;
        report.set(Status::of(State::Running));
        let run = tokio::spawn(run);
        let task = tokio::spawn(async move {
            let status = match run.await {
                Ok(Ok(())) => Status::of(State::Stopped),
                Ok(Err(error)) => {
                    let status = Status::failed(trace_of(&error));
                    if let Ok(mut slot) = report.error.lock() {
                        *slot = Some(error);
                    }
                    status
                }
                Err(join) if join.is_panic() => {
                    let panic = join.into_panic();
                    let message = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                        .unwrap_or_else(|| "a panic without a message".into());
                    Status::failed(format!("the connector's code panicked: {message}"))
                }
                Err(join) => Status::failed(format!("the connector's task ended: {join}")),
            };
            if status.state == State::Failed {
                tracing::error!(
                    trace = status.trace.as_deref().unwrap_or(""),
                    "connector failed"
                );
            }
            if report.generation.load(Ordering::Acquire) != generation {
                return;
            }
            report.set(status);
            report.ended.send_modify(|count| *count += 1);
        });
        self.run = Some(Run { stop, task });
    }

    /// Shows the connector as stopped (after [`Handle::stop`] on a stop request).
    pub fn mark_stopped(&self) {
        self.report.set(Status::of(State::Stopped));
    }

    /// Shows the connector as restarting until its next run starts.
    pub fn mark_restarting(&self) {
        self.report.set(Status::of(State::Restarting));
    }

    /// Pauses or resumes the running connector.
    pub fn set_paused(&mut self, paused: bool) {
        self.gate.set_closed(paused);
    }

    /// Stops the run, if any: a final flush and commit, waited for up to `timeout`; past it
    /// the run is left to end on its own and the connector counts as stopped.
    pub async fn stop(&mut self, timeout: Duration) {
        let Some(mut run) = self.run.take() else {
            return;
        };
        // A paused pipeline must pass its gate to see the end of its input.
        self.gate.set_closed(false);
        run.stop.send_replace(true);
        if tokio::time::timeout(timeout, &mut run.task).await.is_err() {
            tracing::warn!(
                timeout_ms = timeout.as_millis() as u64,
                "a connector did not stop within task.shutdown.graceful.timeout.ms: left to end \
                 on its own (what it did not commit is delivered again)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_fails_only_its_connector_with_the_message() {
        let mut panicking = Handle::new(BTreeMap::new(), TargetState::Started);
        let mut healthy = Handle::new(BTreeMap::new(), TargetState::Started);
        let (stop, mut shutdown) = watch::channel(false);
        healthy.launch(stop, async move {
            let _ = shutdown.wait_for(|s| *s).await;
            Ok(())
        });
        let (stop, _) = watch::channel(false);
        panicking.launch(stop, async { panic!("index out of bounds in a decoder") });
        panicking.report.ended().await;
        let status = panicking.status();
        assert_eq!(status.state, State::Failed);
        assert!(
            status
                .trace
                .unwrap()
                .contains("panicked: index out of bounds"),
            "the trace names the panic"
        );
        assert_eq!(healthy.status().state, State::Running);
        healthy.stop(Duration::from_secs(5)).await;
        assert_eq!(healthy.status().state, State::Stopped);
    }
}
