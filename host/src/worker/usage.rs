//! The worker's reads of what each connector holds back in its database (a Postgres slot's
//! WAL, a binlog reader's distance to the server's end), every
//! `metrics.database.poll.interval.ms` per connector, whatever its state: a paused or stopped
//! connector's slot keeps WAL too, and that is when it grows. Each read runs as its own task
//! with a time limit, so a database that does not answer holds up no other connector's.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::Worker;
use crate::config::Properties;
use crate::pipeline::connector;
use crate::pipeline::control::Probe;
use crate::sources::usage::POLL_INTERVAL;

/// How long one read may take.
const READ_TIMEOUT: Duration = Duration::from_secs(20);

impl Worker {
    /// Reads every connector's database usage on its schedule into its probe (shown by
    /// `/metrics`), for as long as the process runs.
    pub async fn poll_databases(self) {
        let mut due: HashMap<String, Instant> = HashMap::new();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = Instant::now();
            for (name, props, probe) in self.connectors_due(&mut due, now).await {
                let interval = match props.number::<u64>(&POLL_INTERVAL) {
                    Ok(0) | Err(_) => continue,
                    Ok(ms) => Duration::from_millis(ms),
                };
                due.insert(name.clone(), now + interval);
                tokio::spawn(read_usage(name, props, probe));
            }
        }
    }

    /// The properties (the worker's under its own) and probe of each connector of this
    /// worker whose read is due (a connector that reads nothing is looked at on every tick, in case its
    /// configuration changed); forgets the schedules of connectors that are gone.
    async fn connectors_due(
        &self,
        due: &mut HashMap<String, Instant>,
        now: Instant,
    ) -> Vec<(String, Properties, Arc<Probe>)> {
        let state = self.inner.state.lock().await;
        // In distributed mode each worker reads for the connectors it runs.
        due.retain(|name, _| state.handles.contains_key(name) && state.runs_here(name));
        state
            .handles
            .iter()
            .filter(|(name, _)| state.runs_here(name))
            .filter(|(name, _)| due.get(*name).is_none_or(|at| *at <= now))
            .map(|(name, handle)| {
                let mut merged = self.inner.defaults.clone();
                merged.extend(handle.config.clone());
                (
                    name.clone(),
                    Properties::from_pairs(merged),
                    handle.probe.clone(),
                )
            })
            .collect()
    }
}

async fn read_usage(name: String, props: Properties, probe: Arc<Probe>) {
    let read = connector::database_usage(props, probe.source().cloned());
    match tokio::time::timeout(READ_TIMEOUT, read).await {
        Ok(Ok(usage)) => probe.set_usage(usage),
        Ok(Err(error)) => {
            tracing::debug!(connector = %name, %error, "cannot read what the connector holds back in its database");
            probe.set_usage(None);
        }
        Err(_) => {
            tracing::debug!(connector = %name, "reading what the connector holds back in its database timed out");
            probe.set_usage(None);
        }
    }
}
