//! The worker: many connectors in one process, managed like Kafka Connect's (create, pause,
//! resume, stop, restart, change, delete), each with its own pipeline and its own failure.
//!
//! - [`store`]: the connector configs and target states, kept in `config.storage.file`.
//! - [`status`]: Connect's states and failure traces.
//! - [`handle`]: one connector and the task that runs it.
//! - [`cluster`]: distributed mode, where workers with the same `group.id` share the
//!   connectors through Kafka (configs, statuses and offsets in topics).
//!
//! The worker's properties are every connector's defaults; a connector's own properties
//! override them (its sink, `producer.override.*`, converters), as Connect allows. Its
//! connectors share one plugin runtime and one watcher per plugin directory
//! ([`SharedPlugins`]): a plugin is compiled once, and a new version of it is offered to
//! every connector that uses it.

pub mod cluster;
mod distributed;
mod error;
mod fencing;
pub mod handle;
mod offsets;
mod progress;
mod signals;
pub mod status;
pub mod store;
mod usage;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::Mutex;

use crate::config;
use crate::config::{Properties, WorkerConfig};
use crate::pipeline::keys;
use crate::plugin::{RuntimeOptions, SharedPlugins};
pub use error::{RunError, WorkerError};
use handle::{Handle, Report};
pub use status::{State, Status};
pub use store::{ConfigStore, StoredConnector, TargetState};

/// A summary of one connector: Connect's `ConnectorInfo`.
#[derive(Debug, Clone)]
pub struct ConnectorInfo {
    pub name: String,
    pub config: BTreeMap<String, String>,
}

/// A worker and its connectors.
#[derive(Clone)]
pub struct Worker {
    inner: Arc<Inner>,
}

struct Inner {
    /// Connect's `worker_id`: the REST address, `host:port`.
    id: String,
    /// The worker's properties: every connector's defaults.
    defaults: BTreeMap<String, String>,
    shutdown_timeout: Duration,
    state: Mutex<Connectors>,
    /// The plugin runtime and plugin directories every connector shares.
    plugins: SharedPlugins,
    /// The worker group, in distributed mode.
    cluster: OnceLock<Arc<cluster::Cluster>>,
}

struct Connectors {
    store: ConfigStore,
    /// Every connector: in distributed mode, the group's (each runs on one worker).
    handles: BTreeMap<String, Handle>,
    /// Distributed mode: each connector's slot.
    slots: BTreeMap<String, i32>,
    /// Distributed mode: the slots this worker owns (`None`: standalone, it runs all).
    owned: Option<BTreeSet<i32>>,
    /// Distributed mode: the generation of each connector this worker runs.
    generations: BTreeMap<String, i32>,
    /// Distributed mode: the status last written for each connector this worker runs.
    published: BTreeMap<String, Status>,
    /// Distributed mode: target states read before their connector's config.
    pending_targets: BTreeMap<String, TargetState>,
}

impl Connectors {
    /// Whether connector `name` runs on this worker.
    fn runs_here(&self, name: &str) -> bool {
        match &self.owned {
            None => true,
            Some(owned) => self.slots.get(name).is_some_and(|s| owned.contains(s)),
        }
    }
}

/// Stops the connectors all at once (each waits for its own final flush and commit).
async fn stop_all(handles: Vec<(String, Handle)>, timeout: Duration) -> Vec<(String, Handle)> {
    let mut stops = tokio::task::JoinSet::new();
    for (name, mut handle) in handles {
        stops.spawn(async move {
            handle.stop(timeout).await;
            (name, handle)
        });
    }
    let mut stopped = Vec::new();
    while let Some(done) = stops.join_next().await {
        if let Ok(done) = done {
            stopped.push(done);
        }
    }
    stopped
}

impl Worker {
    /// A worker with these properties as every connector's defaults, keeping connector
    /// configs in `store` (`None`: only in memory). Stored connectors are not started yet:
    /// see [`Worker::start_stored`].
    pub fn new(
        id: String,
        defaults: BTreeMap<String, String>,
        store: Option<PathBuf>,
    ) -> Result<Worker, WorkerError> {
        let props = Properties::from_pairs(defaults.clone());
        let shutdown_timeout = WorkerConfig::shutdown_timeout(&props)
            .map_err(|e| WorkerError::BadRequest(e.to_string()))?;
        let store = ConfigStore::open(store)?;
        let handles = store
            .connectors()
            .iter()
            .map(|(name, entry)| {
                (
                    name.clone(),
                    Handle::new(entry.config.clone(), entry.target),
                )
            })
            .collect();
        Ok(Worker {
            inner: Arc::new(Inner {
                id,
                defaults,
                shutdown_timeout,
                state: Mutex::new(Connectors {
                    store,
                    handles,
                    slots: BTreeMap::new(),
                    owned: None,
                    generations: BTreeMap::new(),
                    published: BTreeMap::new(),
                    pending_targets: BTreeMap::new(),
                }),
                plugins: SharedPlugins::new(RuntimeOptions::default()),
                cluster: OnceLock::new(),
            }),
        })
    }

    /// Creates connector `name` and runs it until it ends by itself (failed, or
    /// `snapshot.mode=initial_only` done) or `shutdown` turns true, which stops every
    /// connector with a final flush and commit: `tidemark run`.
    pub async fn run_one(
        &self,
        name: &str,
        config: BTreeMap<String, String>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Result<(), RunError> {
        self.create(name, config, TargetState::Started).await?;
        let (report, _) = self.observe(name).await?;
        tokio::select! {
            _ = report.ended() => {}
            _ = shutdown.wait_for(|stop| *stop) => self.shutdown().await,
        }
        match report.take_error() {
            Some(error) => Err(error.into()),
            None => Ok(()),
        }
    }

    /// The worker's properties: every connector's defaults.
    pub fn defaults(&self) -> &BTreeMap<String, String> {
        &self.inner.defaults
    }

    /// Connect's `worker_id` of this worker.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The plugin runtime and plugin directories the worker's connectors share.
    pub fn plugins(&self) -> &SharedPlugins {
        &self.inner.plugins
    }

    /// Starts every stored connector that is not stopped.
    pub async fn start_stored(&self) {
        let mut state = self.inner.state.lock().await;
        if state.owned.is_some() {
            return;
        }
        for (name, handle) in &mut state.handles {
            if handle.target != TargetState::Stopped && !handle.is_running() {
                tracing::info!(connector = %name, "starting stored connector");
                handle.start(&self.inner.defaults, &self.inner.plugins);
            }
        }
    }

    /// The connectors' names.
    pub async fn names(&self) -> Vec<String> {
        self.inner
            .state
            .lock()
            .await
            .handles
            .keys()
            .cloned()
            .collect()
    }

    /// Checks a connector's properties (merged with the worker's) without connecting to
    /// anything: every problem found, named by its property.
    pub fn validate(
        &self,
        name: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<(), WorkerError> {
        if name.trim().is_empty() || name.contains('/') {
            return Err(WorkerError::BadRequest(format!(
                "Connector name {name:?} is invalid: it must be non-empty and contain no '/'"
            )));
        }
        if let Some(given) = config.get("name")
            && given != name
        {
            return Err(WorkerError::BadRequest(format!(
                "Connector name configuration ({given}) doesn't match connector name in the URL ({name})"
            )));
        }
        let mut config = config.clone();
        config.insert("name".into(), name.to_owned());
        let errors = keys::errors(&self.check(&config));
        if errors.is_empty() {
            Ok(())
        } else {
            Err(WorkerError::Invalid(errors))
        }
    }

    /// Every key of a connector config (merged with the worker's properties) with its value
    /// and problems, as `config/validate` reports them: the same check that creating the
    /// connector or changing its config makes.
    pub fn check(&self, config: &BTreeMap<String, String>) -> Vec<config::Checked> {
        let mut merged = self.inner.defaults.clone();
        merged.extend(config.clone());
        keys::check(&Properties::from_pairs(merged), &self.inner.plugins)
    }

    /// Creates a connector and starts it (unless `target` is `STOPPED`; `PAUSED` starts it
    /// paused).
    pub async fn create(
        &self,
        name: &str,
        mut config: BTreeMap<String, String>,
        target: TargetState,
    ) -> Result<ConnectorInfo, WorkerError> {
        // Before `name` is set: a config naming another connector is refused.
        self.validate(name, &config)?;
        config.insert("name".into(), name.to_owned());
        if let Some(cluster) = self.cluster() {
            self.write_connector(&cluster, name, config.clone(), target, true)
                .await?;
            return Ok(Worker::info(name, config));
        }
        let mut state = self.inner.state.lock().await;
        if state.handles.contains_key(name) {
            return Err(WorkerError::Exists(name.to_owned()));
        }
        self.insert(&mut state, name, config.clone(), target)?;
        Ok(ConnectorInfo {
            name: name.to_owned(),
            config,
        })
    }

    /// Stores a new (validated) connector and starts it unless `target` is `STOPPED`.
    fn insert(
        &self,
        state: &mut Connectors,
        name: &str,
        config: BTreeMap<String, String>,
        target: TargetState,
    ) -> Result<(), WorkerError> {
        state.store.put(
            name,
            StoredConnector {
                config: config.clone(),
                target,
            },
        )?;
        let mut handle = Handle::new(config, target);
        if target != TargetState::Stopped {
            handle.start(&self.inner.defaults, &self.inner.plugins);
        }
        state.handles.insert(name.to_owned(), handle);
        tracing::info!(connector = %name, ?target, "connector created");
        Ok(())
    }

    /// Replaces a connector's config (creating it when it does not exist: `true`), and
    /// restarts it with the new one unless it is stopped.
    pub async fn put_config(
        &self,
        name: &str,
        mut config: BTreeMap<String, String>,
    ) -> Result<(bool, ConnectorInfo), WorkerError> {
        // Before `name` is set: a config naming another connector is refused.
        self.validate(name, &config)?;
        config.insert("name".into(), name.to_owned());
        if let Some(cluster) = self.cluster() {
            let created = self
                .write_connector(&cluster, name, config.clone(), TargetState::Started, false)
                .await?;
            return Ok((created, Worker::info(name, config)));
        }
        let mut state = self.inner.state.lock().await;
        if !state.handles.contains_key(name) {
            self.insert(&mut state, name, config.clone(), TargetState::Started)?;
            let info = ConnectorInfo {
                name: name.to_owned(),
                config,
            };
            return Ok((true, info));
        }
        let Connectors { store, handles, .. } = &mut *state;
        let Some(handle) = handles.get_mut(name) else {
            return Err(WorkerError::NotFound(name.to_owned()));
        };
        store.put(
            name,
            StoredConnector {
                config: config.clone(),
                target: handle.target,
            },
        )?;
        handle.stop(self.inner.shutdown_timeout).await;
        handle.config = config.clone();
        if handle.target != TargetState::Stopped {
            handle.start(&self.inner.defaults, &self.inner.plugins);
        }
        tracing::info!(connector = %name, "connector config changed");
        Ok((
            false,
            ConnectorInfo {
                name: name.to_owned(),
                config,
            },
        ))
    }

    /// Connect's PATCH of a config: each key set to its value, a `None` value removed.
    pub async fn patch_config(
        &self,
        name: &str,
        patch: BTreeMap<String, Option<String>>,
    ) -> Result<ConnectorInfo, WorkerError> {
        let mut config = self.config(name).await?;
        for (key, value) in patch {
            match value {
                Some(value) => config.insert(key, value),
                None => config.remove(&key),
            };
        }
        self.put_config(name, config).await.map(|(_, info)| info)
    }

    /// A connector's own properties.
    pub async fn config(&self, name: &str) -> Result<BTreeMap<String, String>, WorkerError> {
        let state = self.inner.state.lock().await;
        state
            .handles
            .get(name)
            .map(|h| h.config.clone())
            .ok_or_else(|| WorkerError::NotFound(name.to_owned()))
    }

    /// A connector's status.
    pub async fn status(&self, name: &str) -> Result<Status, WorkerError> {
        let state = self.inner.state.lock().await;
        let handle = state
            .handles
            .get(name)
            .ok_or_else(|| WorkerError::NotFound(name.to_owned()))?;
        Ok(match self.cluster() {
            // What its owner wrote: every worker answers the same.
            Some(cluster) => Worker::shared_status(&cluster, name),
            None => handle.status(),
        })
    }

    /// The report and probe of a connector's runs (for `tidemark run` and the metrics).
    pub async fn observe(
        &self,
        name: &str,
    ) -> Result<(Arc<Report>, Arc<crate::pipeline::control::Probe>), WorkerError> {
        let state = self.inner.state.lock().await;
        state
            .handles
            .get(name)
            .map(|h| (h.report.clone(), h.probe.clone()))
            .ok_or_else(|| WorkerError::NotFound(name.to_owned()))
    }

    /// The topics a connector has written to (Connect's active topics).
    pub async fn topics(&self, name: &str) -> Result<Vec<String>, WorkerError> {
        let state = self.inner.state.lock().await;
        state
            .handles
            .get(name)
            .map(|h| h.topics().into_iter().collect())
            .ok_or_else(|| WorkerError::NotFound(name.to_owned()))
    }

    /// Forgets the topics a connector has written to.
    pub async fn reset_topics(&self, name: &str) -> Result<(), WorkerError> {
        let mut state = self.inner.state.lock().await;
        state
            .handles
            .get_mut(name)
            .map(Handle::reset_topics)
            .ok_or_else(|| WorkerError::NotFound(name.to_owned()))
    }

    /// Each connector's probe (counters, plugins, resolved secrets of its current run).
    pub async fn probes(&self) -> Vec<(String, Arc<crate::pipeline::control::Probe>)> {
        let state = self.inner.state.lock().await;
        state
            .handles
            .iter()
            .filter(|(name, _)| state.runs_here(name))
            .map(|(name, h)| (name.clone(), h.probe.clone()))
            .collect()
    }

    /// Each connector's task state and probe, for the metrics.
    pub async fn observations(&self) -> Vec<(String, State, Arc<crate::pipeline::control::Probe>)> {
        let state = self.inner.state.lock().await;
        state
            .handles
            .iter()
            .filter(|(name, _)| state.runs_here(name))
            .map(|(name, h)| (name.clone(), h.status().state, h.probe.clone()))
            .collect()
    }

    /// Sets a connector's target state: pausing holds its pipeline (the connection is
    /// kept), stopping ends its run, resuming continues from the committed offset.
    pub async fn set_target(&self, name: &str, target: TargetState) -> Result<(), WorkerError> {
        if let Some(cluster) = self.cluster() {
            self.config(name).await?;
            let write = (
                cluster::records::target_key(name),
                Some(cluster::records::target_value(target)),
            );
            return self.write_records(&cluster, vec![write]).await;
        }
        let mut state = self.inner.state.lock().await;
        let Connectors { store, handles, .. } = &mut *state;
        let handle = handles
            .get_mut(name)
            .ok_or_else(|| WorkerError::NotFound(name.to_owned()))?;
        store.set_target(name, target)?;
        self.apply_target(handle, target).await;
        Ok(())
    }

    /// Moves a connector that runs here to its new target state.
    async fn apply_target(&self, handle: &mut Handle, target: TargetState) {
        handle.target = target;
        match target {
            TargetState::Stopped => {
                handle.stop(self.inner.shutdown_timeout).await;
                handle.mark_stopped();
            }
            TargetState::Paused | TargetState::Started => {
                let paused = target == TargetState::Paused;
                if handle.is_running() {
                    handle.set_paused(paused);
                } else if handle.status().state != State::Failed {
                    handle.start(&self.inner.defaults, &self.inner.plugins);
                }
            }
        }
        tracing::info!(connector = %handle.config.get("name").map_or("", |n| n.as_str()), ?target, "connector target state changed");
    }

    /// Restarts a connector (only when it failed, with `only_failed`): its run is stopped
    /// and started again from the committed offset. Returns whether it restarts (in
    /// distributed mode, on the worker that owns it).
    pub async fn restart(&self, name: &str, only_failed: bool) -> Result<bool, WorkerError> {
        if let Some(cluster) = self.cluster() {
            let target = self.target(name).await?;
            let failed = Worker::shared_status(&cluster, name).state == State::Failed;
            if (only_failed && !failed) || target == TargetState::Stopped {
                return Ok(false);
            }
            let write = (
                cluster::records::restart_key(name),
                Some(cluster::records::restart_value(only_failed)),
            );
            self.write_records(&cluster, vec![write]).await?;
            return Ok(true);
        }
        let mut state = self.inner.state.lock().await;
        let handle = state
            .handles
            .get_mut(name)
            .ok_or_else(|| WorkerError::NotFound(name.to_owned()))?;
        Ok(self.restart_handle(name, handle, only_failed).await)
    }

    /// A connector's target state.
    async fn target(&self, name: &str) -> Result<TargetState, WorkerError> {
        let state = self.inner.state.lock().await;
        state
            .handles
            .get(name)
            .map(|h| h.target)
            .ok_or_else(|| WorkerError::NotFound(name.to_owned()))
    }

    /// Restarts a connector that runs here (only when it failed, with `only_failed`);
    /// whether it restarted.
    async fn restart_handle(&self, name: &str, handle: &mut Handle, only_failed: bool) -> bool {
        let failed = handle.status().state == State::Failed;
        if (only_failed && !failed) || handle.target == TargetState::Stopped {
            return false;
        }
        handle.mark_restarting();
        handle.stop(self.inner.shutdown_timeout).await;
        handle.start(&self.inner.defaults, &self.inner.plugins);
        tracing::info!(connector = %name, "connector restarted");
        true
    }

    /// Stops and forgets a connector (its offsets stay, as in Connect).
    pub async fn delete(&self, name: &str) -> Result<(), WorkerError> {
        if let Some(cluster) = self.cluster() {
            self.config(name).await?;
            let writes = vec![
                (cluster::records::connector_key(name), None),
                (cluster::records::target_key(name), None),
            ];
            return self.write_records(&cluster, writes).await;
        }
        let mut state = self.inner.state.lock().await;
        if !state.handles.contains_key(name) {
            return Err(WorkerError::NotFound(name.to_owned()));
        }
        state.store.remove(name)?;
        if let Some(mut handle) = state.handles.remove(name) {
            handle.stop(self.inner.shutdown_timeout).await;
        }
        tracing::info!(connector = %name, "connector deleted");
        Ok(())
    }

    /// Stops every connector (each with a final flush and commit), keeping their configs;
    /// in distributed mode, leaves the group.
    pub async fn shutdown(&self) {
        if let Some(cluster) = self.cluster() {
            return self.leave_cluster(cluster).await;
        }
        let mut state = self.inner.state.lock().await;
        let handles = std::mem::take(&mut state.handles).into_iter().collect();
        state.handles = stop_all(handles, self.inner.shutdown_timeout)
            .await
            .into_iter()
            .collect();
    }
}
