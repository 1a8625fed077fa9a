//! The worker in distributed mode (see [`super::cluster`]): REST writes go to the config
//! topic; every record read from it is acted on (a connector of one of this worker's slots
//! is started, restarted, paused or stopped, the others are only noted); the slots come and
//! go with the group; the statuses of this worker's connectors go to the status topic.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use super::cluster::log::Reader;
use super::cluster::membership::SlotOwner;
use super::cluster::records::{self, ConfigRecord};
use super::cluster::{Cluster, ClusterError};
use super::fencing::FencedRestarts;
use super::handle::Handle;
use super::{ConnectorInfo, Connectors, State, Status, TargetState, Worker, WorkerError};
use crate::config::Properties;
use crate::config::cluster::ClusterConfig;
use crate::kafka::ClientSettings;

/// How often the statuses of this worker's connectors are compared with what it wrote.
const STATUS_INTERVAL: Duration = Duration::from_millis(250);

impl From<ClusterError> for WorkerError {
    fn from(error: ClusterError) -> WorkerError {
        WorkerError::Internal(error.to_string())
    }
}

/// The group's callbacks, run on the group's thread.
struct Owner {
    worker: Worker,
    runtime: tokio::runtime::Handle,
}

impl SlotOwner for Owner {
    fn assigned(&self, slots: Vec<i32>) {
        self.runtime.block_on(self.worker.acquire(slots));
    }

    fn revoked(&self, slots: Vec<i32>, lost: bool) {
        self.runtime.block_on(self.worker.release(slots, lost));
    }
}

impl Worker {
    /// Makes this worker a member of the group `config` names: reads the config and status
    /// topics, then joins the group, which hands it slots. Needs `props` for the Kafka
    /// clients (the worker's security settings apply to all of them).
    pub async fn join_cluster(
        &self,
        props: &Properties,
        config: ClusterConfig,
    ) -> Result<(), ClusterError> {
        let group = config.group_id.clone();
        let group_error = |reason: String| ClusterError::Group {
            group: group.clone(),
            reason,
        };
        let servers = props.get("bootstrap.servers").unwrap_or_default();
        let kafka = ClientSettings::from_properties(props, servers)
            .and_then(|k| k.check().map(|_| k))
            .map_err(|e| group_error(e.to_string()))?;
        self.inner.state.lock().await.owned = Some(BTreeSet::new());
        let runtime = tokio::runtime::Handle::current();
        let reader: Reader = {
            let (worker, runtime) = (self.clone(), runtime.clone());
            Box::new(move |key, value| match records::parse_config(key, value) {
                Ok(record) => runtime.block_on(worker.apply_config(record)),
                Err(problem) => tracing::warn!("skipping a config record: {problem}"),
            })
        };
        let opened = {
            let kafka = kafka.clone();
            tokio::task::spawn_blocking(move || Cluster::open(&kafka, config, reader))
                .await
                .map_err(|e| group_error(e.to_string()))??
        };
        let cluster = Arc::new(opened);
        let slots = {
            let state = self.inner.state.lock().await;
            state.slots.values().max().map_or(1, |s| *s as usize + 1)
        };
        let _ = self.inner.cluster.set(cluster.clone());
        let owner = Arc::new(Owner {
            worker: self.clone(),
            runtime,
        });
        let id = self.inner.id.clone();
        tokio::task::spawn_blocking(move || {
            cluster.ensure_slots(slots)?;
            cluster.join(&kafka, &id, owner)
        })
        .await
        .map_err(|e| group_error(e.to_string()))??;
        tokio::spawn(self.clone().publish_statuses());
        Ok(())
    }

    /// The group this worker belongs to, in distributed mode.
    pub(super) fn cluster(&self) -> Option<Arc<Cluster>> {
        self.inner.cluster.get().cloned()
    }

    /// Runs a blocking call on the cluster off the async workers.
    async fn on_cluster<T: Send + 'static>(
        &self,
        cluster: &Arc<Cluster>,
        call: impl FnOnce(&Cluster) -> Result<T, ClusterError> + Send + 'static,
    ) -> Result<T, WorkerError> {
        let cluster = cluster.clone();
        Ok(tokio::task::spawn_blocking(move || call(&cluster))
            .await
            .map_err(|e| WorkerError::Internal(e.to_string()))??)
    }

    /// Creates (`create`: refused when it exists) or replaces a connector's config through
    /// the config topic; whether it was created.
    pub(super) async fn write_connector(
        &self,
        cluster: &Arc<Cluster>,
        name: &str,
        config: BTreeMap<String, String>,
        target: TargetState,
        create: bool,
    ) -> Result<bool, WorkerError> {
        self.on_cluster(cluster, Cluster::read_configs).await?;
        let (slot, created) = {
            let state = self.inner.state.lock().await;
            match state.slots.get(name) {
                Some(_) if create => return Err(WorkerError::Exists(name.to_owned())),
                Some(slot) => (*slot, false),
                None => (
                    (0..)
                        .find(|s| !state.slots.values().any(|t| t == s))
                        .unwrap_or(0),
                    true,
                ),
            }
        };
        let mut writes = Vec::new();
        if created && target != TargetState::Started {
            writes.push((
                records::target_key(name),
                Some(records::target_value(target)),
            ));
        }
        writes.push((
            records::connector_key(name),
            Some(records::connector_value(&config, slot)),
        ));
        self.on_cluster(cluster, move |c| {
            c.ensure_slots(slot as usize + 1)?;
            c.write_configs(&writes)
        })
        .await?;
        Ok(created)
    }

    /// Writes a target state, a restart request or a deletion to the config topic.
    pub(super) async fn write_records(
        &self,
        cluster: &Arc<Cluster>,
        writes: Vec<(String, Option<String>)>,
    ) -> Result<(), WorkerError> {
        self.on_cluster(cluster, move |c| c.write_configs(&writes))
            .await
    }

    /// A connector's status as its owner last wrote it (`UNASSIGNED` before any did).
    pub(super) fn shared_status(cluster: &Cluster, name: &str) -> Status {
        cluster
            .status(name)
            .unwrap_or_else(|| Status::of(State::Unassigned))
    }

    /// Acts on a config topic record.
    async fn apply_config(&self, record: ConfigRecord) {
        let mut guard = self.inner.state.lock().await;
        let state = &mut *guard;
        match record {
            ConfigRecord::Connector {
                name,
                config: Some((config, slot)),
            } => {
                state.slots.insert(name.clone(), slot);
                let here = state.runs_here(&name);
                match state.handles.get_mut(&name) {
                    Some(handle) => {
                        let changed = handle.config != config;
                        handle.config = config;
                        if handle.is_running() && (changed || !here) {
                            handle.stop(self.inner.shutdown_timeout).await;
                        }
                        tracing::info!(connector = %name, "connector config changed");
                    }
                    None => {
                        let target = state
                            .pending_targets
                            .remove(&name)
                            .unwrap_or(TargetState::Started);
                        state
                            .handles
                            .insert(name.clone(), Handle::new(config, target));
                        tracing::info!(connector = %name, slot, "connector created");
                    }
                }
                if here {
                    self.take_over(state, &name);
                }
            }
            ConfigRecord::Connector { name, config: None } => {
                let here = state.runs_here(&name);
                state.pending_targets.remove(&name);
                state.slots.remove(&name);
                if let Some(mut handle) = state.handles.remove(&name) {
                    handle.stop(self.inner.shutdown_timeout).await;
                }
                let generation = state.generations.remove(&name);
                state.published.remove(&name);
                if let (true, Some(cluster), Some(_)) = (here, self.cluster(), generation)
                    && let Err(error) = cluster.publish(&name, None, self.id(), 0)
                {
                    tracing::warn!(%error, connector = %name, "cannot delete the status");
                }
                tracing::info!(connector = %name, "connector deleted");
            }
            ConfigRecord::Target { name, target } => {
                let here = state.runs_here(&name);
                match (state.handles.get_mut(&name), target) {
                    (Some(handle), Some(target)) if here => {
                        self.apply_target(handle, target).await;
                    }
                    (Some(handle), Some(target)) => handle.target = target,
                    (None, Some(target)) => {
                        state.pending_targets.insert(name, target);
                    }
                    (_, None) => {
                        state.pending_targets.remove(&name);
                    }
                }
            }
            ConfigRecord::Restart { name, only_failed } => {
                if state.runs_here(&name)
                    && let Some(handle) = state.handles.get_mut(&name)
                {
                    self.restart_handle(&name, handle, only_failed).await;
                }
            }
            ConfigRecord::Other => {}
        }
    }

    /// Starts connector `name`, which this worker owns from now on (unless it is stopped or
    /// running already), as its owners' next generation.
    fn take_over(&self, state: &mut Connectors, name: &str) {
        let generation = match (self.cluster(), state.generations.get(name)) {
            (_, Some(generation)) => *generation,
            (Some(cluster), None) => cluster.generation(name) + 1,
            (None, None) => 1,
        };
        state.generations.insert(name.to_owned(), generation);
        if let Some(handle) = state.handles.get_mut(name)
            && handle.target != TargetState::Stopped
            && !handle.is_running()
        {
            tracing::info!(connector = %name, generation, "starting connector");
            handle.start(&self.inner.defaults, &self.inner.plugins);
        }
    }

    /// The group gave this worker `slots`: their connectors start here.
    async fn acquire(&self, slots: Vec<i32>) {
        if let Some(cluster) = self.cluster() {
            // Every config and status written so far: a connector created a moment ago
            // starts, and the generation follows the last owner's.
            let read = self
                .on_cluster(&cluster, |c| {
                    c.read_configs()?;
                    c.read_statuses()
                })
                .await;
            if let Err(error) = read {
                tracing::warn!(%error, "starting the slots' connectors from what was read");
            }
        }
        let mut guard = self.inner.state.lock().await;
        let state = &mut *guard;
        state
            .owned
            .get_or_insert_default()
            .extend(slots.iter().copied());
        let names: Vec<String> = state
            .slots
            .iter()
            .filter(|(_, slot)| slots.contains(slot))
            .map(|(name, _)| name.clone())
            .collect();
        for name in names {
            self.take_over(state, &name);
        }
    }

    /// The group took `slots` back: their connectors stop (with a final flush and commit)
    /// before this returns. Unless the membership was `lost` (another worker may own them
    /// already), their statuses become `UNASSIGNED`.
    async fn release(&self, slots: Vec<i32>, lost: bool) {
        let mut guard = self.inner.state.lock().await;
        let state = &mut *guard;
        if let Some(owned) = &mut state.owned {
            owned.retain(|slot| !slots.contains(slot));
        }
        let names: BTreeSet<String> = state
            .slots
            .iter()
            .filter(|(_, slot)| slots.contains(slot))
            .map(|(name, _)| name.clone())
            .collect();
        let running: Vec<(String, Handle)> = names
            .iter()
            .filter_map(|name| state.handles.remove_entry(name))
            .collect();
        let stopped = super::stop_all(running, self.inner.shutdown_timeout).await;
        state.handles.extend(stopped);
        let cluster = self.cluster();
        for name in &names {
            let generation = state.generations.remove(name);
            state.published.remove(name);
            if let (false, Some(cluster), Some(generation)) = (lost, &cluster, generation) {
                let unassigned = Status::of(State::Unassigned);
                if let Err(error) = cluster.publish(name, Some(&unassigned), self.id(), generation)
                {
                    tracing::warn!(%error, connector = %name, "cannot write the status");
                }
            }
        }
        drop(guard);
        if let (false, Some(cluster)) = (lost, cluster) {
            let flushed = self.on_cluster(&cluster, Cluster::flush_statuses).await;
            if let Err(error) = flushed {
                tracing::warn!(%error, "cannot write the statuses");
            }
        }
    }

    /// Writes the status of each connector this worker runs whenever it changes, and
    /// starts again those fenced while this worker owns them ([`super::fencing`]).
    async fn publish_statuses(self) {
        let mut tick = tokio::time::interval(STATUS_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut fenced = FencedRestarts::default();
        loop {
            tick.tick().await;
            let Some(cluster) = self.cluster() else {
                continue;
            };
            let mut state = self.inner.state.lock().await;
            let failed: Vec<String> = state
                .generations
                .keys()
                .filter(|name| state.handles.get(*name).is_some_and(Handle::fenced))
                .cloned()
                .collect();
            for name in fenced.due(failed, std::time::Instant::now()) {
                if !state.runs_here(&name) {
                    continue;
                }
                if let Some(handle) = state.handles.get_mut(&name) {
                    tracing::warn!(connector = %name, "fenced while this worker owns it: starting it again");
                    handle.start(&self.inner.defaults, &self.inner.plugins);
                }
            }
            let changed: Vec<(String, Status, i32)> = state
                .generations
                .iter()
                .filter_map(|(name, generation)| {
                    let status = state.handles.get(name)?.status();
                    (state.published.get(name) != Some(&status))
                        .then(|| (name.clone(), status, *generation))
                })
                .collect();
            for (name, status, generation) in changed {
                match cluster.publish(&name, Some(&status), self.id(), generation) {
                    Ok(()) => {
                        state.published.insert(name, status);
                    }
                    Err(error) => {
                        tracing::warn!(%error, connector = %name, "cannot write the status")
                    }
                }
            }
        }
    }

    /// Leaves the group: this worker's connectors stop (final flush and commit) and their
    /// slots go to the other workers.
    pub(super) async fn leave_cluster(&self, cluster: Arc<Cluster>) {
        let left = tokio::task::spawn_blocking(move || cluster.leave()).await;
        if let Err(error) = left {
            tracing::warn!(%error, "leaving the worker group");
        }
        // A slot the group did not revoke while closing is released here.
        let owned: Vec<i32> = {
            let state = self.inner.state.lock().await;
            state.owned.iter().flatten().copied().collect()
        };
        if !owned.is_empty() {
            self.release(owned, false).await;
        }
    }

    /// The info of a connector created or changed through the config topic.
    pub(super) fn info(name: &str, config: BTreeMap<String, String>) -> ConnectorInfo {
        ConnectorInfo {
            name: name.to_owned(),
            config,
        }
    }
}
