//! `/metrics`: Prometheus text (0.0.4) of every connector, encoded with `prometheus-client`.
//! Values are read at scrape time from the connectors' counters (no registry to keep in
//! step with connectors coming and going):
//!
//! - `tidemark_*`: per connector (labels `connector`, `task`, as Connect's task metrics are
//!   labelled), per plugin and per engine of the shared plugin runtime;
//! - `debezium_metrics_*`: Debezium's snapshot and streaming metrics under the names and
//!   labels its JMX exporter rules give them (see [`debezium`] and `docs/metrics.md`).
//!
//! Label values are bounded: names of connectors, plugins, tables and states, never free
//! text.

mod debezium;
mod families;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;

use families::{Families, Labels, Value};

use crate::pipeline::PipelineStats;
use crate::plugin::{Compilations, PluginState};
use crate::sources::metrics::{SourceMetrics, now_ms};
use crate::sources::usage::DatabaseUsage;
use crate::worker::State;

/// What `/metrics` shows of one connector.
pub struct ConnectorView<'a> {
    pub name: &'a str,
    /// Its task's state (a failed run shows `FAILED` here while Connect's connector-level
    /// state stays `RUNNING`).
    pub state: State,
    /// The counters of its pipeline, once it ran.
    pub pipeline: Option<&'a PipelineStats>,
    /// Its source's metrics, once it ran.
    pub source: Option<&'a SourceMetrics>,
    /// What it was last found to hold back in its database.
    pub usage: Option<DatabaseUsage>,
}

/// Renders the metrics of `connectors`, of the plugins in `plugins`, and the `compilations`
/// of the shared plugin runtime's engines.
pub fn render(
    connectors: &[ConnectorView<'_>],
    plugins: &BTreeMap<String, PluginState>,
    compilations: &[Compilations],
) -> String {
    let mut out = Families::default();
    connector_families(&mut out, connectors);
    usage_families(&mut out, connectors);
    debezium::families(&mut out, connectors);
    plugin_families(&mut out, plugins, compilations);
    out.encode()
}

fn task_labels(name: &str) -> Vec<(String, String)> {
    vec![
        ("connector".into(), name.to_owned()),
        ("task".into(), "0".into()),
    ]
}

fn connector_families(out: &mut Families, connectors: &[ConnectorView<'_>]) {
    let pipelines: Vec<(&ConnectorView<'_>, &PipelineStats)> = connectors
        .iter()
        .filter_map(|c| c.pipeline.map(|p| (c, p)))
        .collect();
    let per_pipeline = |value: &dyn Fn(&PipelineStats) -> u64| {
        pipelines
            .iter()
            .map(|(c, p)| (task_labels(c.name), Value::Int(value(p) as i64)))
            .collect::<Vec<_>>()
    };
    out.counter(
        "tidemark_records_in",
        "Records the source handed to the pipeline.",
        per_pipeline(&|p| p.records_in.load(Relaxed)),
    );
    out.counter(
        "tidemark_records_out",
        "Records written to the sink (dead letters included).",
        per_pipeline(&|p| p.records_out.load(Relaxed)),
    );
    out.counter(
        "tidemark_offset_commits",
        "Offset commits after a sink flush.",
        per_pipeline(&|p| p.commits.load(Relaxed)),
    );
    out.counter(
        "tidemark_source_reconnects",
        "Reconnects of the source after a retriable failure (the connector stays RUNNING meanwhile).",
        per_pipeline(&|p| p.reconnects.load(Relaxed)),
    );
    out.counter(
        "tidemark_sink_retries",
        "Sink calls retried after a retriable failure.",
        per_pipeline(&|p| p.sink_retries.load(Relaxed)),
    );
    out.gauge(
        "tidemark_offset_commit_age_seconds",
        "Seconds since the connector last committed offsets (since it started, before its first commit); it grows on a connector with nothing new to commit.",
        pipelines
            .iter()
            .map(|(c, p)| {
                let last = match p.last_commit_ms.load(Relaxed) {
                    0 => p.started_ms.load(Relaxed),
                    at => at,
                };
                let age = now_ms().saturating_sub(last).max(0) as f64 / 1000.0;
                (task_labels(c.name), Value::Float(age))
            })
            .collect(),
    );
    out.gauge(
        "tidemark_connector_state",
        "1 for the state the connector's task is in (UNASSIGNED, RUNNING, PAUSED, STOPPED, FAILED, RESTARTING).",
        connectors
            .iter()
            .map(|c| {
                let mut labels = vec![("connector".into(), c.name.to_owned())];
                labels.push(("state".into(), c.state.name().into()));
                (labels, Value::Int(1))
            })
            .collect(),
    );
    let mut costs: [Vec<(Labels, Value)>; 3] = Default::default();
    for (c, p) in &pipelines {
        for step in p.plugin_costs.iter().flat_map(|costs| &costs.steps) {
            let mut labels = task_labels(c.name);
            labels.push(("transform".into(), step.transform.clone()));
            labels.push(("plugin".into(), step.plugin.clone()));
            let seconds = step.nanos.load(Relaxed) as f64 / 1e9;
            costs[0].push((labels.clone(), Value::Float(seconds)));
            costs[1].push((
                labels.clone(),
                Value::Int(step.records.load(Relaxed) as i64),
            ));
            costs[2].push((labels, Value::Int(step.errors.load(Relaxed) as i64)));
        }
    }
    let [seconds, records, errors] = costs;
    out.counter(
        "tidemark_plugin_seconds",
        "Time spent in each transform of the connector's chain (its plugin's calls).",
        seconds,
    );
    out.counter(
        "tidemark_plugin_records",
        "Records given to each transform of the connector's chain.",
        records,
    );
    out.counter(
        "tidemark_plugin_errors",
        "Calls of each transform that failed (a trap, a limit, a refused record).",
        errors,
    );
    let sources: Vec<(&ConnectorView<'_>, &SourceMetrics)> = connectors
        .iter()
        .filter_map(|c| c.source.map(|s| (c, s)))
        .collect();
    out.gauge(
        "tidemark_source_lag_seconds",
        "Seconds since the oldest change read from the database but not yet acknowledged by the sink committed there; 0 when every change read is acknowledged. Grows while the connector is paused or its sink is stuck.",
        sources
            .iter()
            .map(|(c, s)| {
                (
                    task_labels(c.name),
                    Value::Float(s.unacknowledged_ms() as f64 / 1000.0),
                )
            })
            .collect(),
    );
    out.histogram(
        "tidemark_end_to_end_latency_seconds",
        "From a change's commit in the database to the sink's acknowledgement (the offset commit after its flush), observed per batch from its oldest change.",
        sources
            .iter()
            .map(|(c, s)| (task_labels(c.name), Value::histogram(&s.end_to_end)))
            .collect(),
    );
}

/// What each connector holds back in its database.
fn usage_families(out: &mut Families, connectors: &[ConnectorView<'_>]) {
    let (mut held, mut retained, mut status, mut exists) = (vec![], vec![], vec![], vec![]);
    let (mut bytes_behind, mut files_behind) = (vec![], vec![]);
    for c in connectors {
        let slot_labels = |slot: &str| {
            vec![
                ("connector".to_owned(), c.name.to_owned()),
                ("slot".to_owned(), slot.to_owned()),
            ]
        };
        match &c.usage {
            Some(DatabaseUsage::Slot {
                slot,
                held_bytes,
                retained_bytes,
                wal_status,
            }) => {
                exists.push((slot_labels(slot), Value::Int(1)));
                if let Some(bytes) = held_bytes {
                    held.push((slot_labels(slot), Value::Int(*bytes)));
                }
                if let Some(bytes) = retained_bytes {
                    retained.push((slot_labels(slot), Value::Int(*bytes)));
                }
                if let Some(wal_status) = wal_status {
                    let mut labels = slot_labels(slot);
                    labels.push(("status".into(), wal_status.clone()));
                    status.push((labels, Value::Int(1)));
                }
            }
            Some(DatabaseUsage::NoSlot { slot }) => {
                exists.push((slot_labels(slot), Value::Int(0)));
            }
            Some(DatabaseUsage::Binlog {
                bytes_behind: bytes,
                files_behind: files,
            }) => {
                bytes_behind.push((task_labels(c.name), Value::Int(*bytes)));
                files_behind.push((task_labels(c.name), Value::Int(*files)));
            }
            None => {}
        }
    }
    out.gauge(
        "tidemark_pg_slot_exists",
        "1 when the connector's replication slot exists, 0 when it does not (read every metrics.database.poll.interval.ms).",
        exists,
    );
    out.gauge(
        "tidemark_pg_slot_wal_held_bytes",
        "Bytes of WAL from the slot's confirmed_flush_lsn to the server's current position: what the connector has not acknowledged. Read also while it is paused or stopped.",
        held,
    );
    out.gauge(
        "tidemark_pg_slot_wal_retained_bytes",
        "Bytes of WAL from the slot's restart_lsn to the server's current position: what the server keeps on disk for the slot.",
        retained,
    );
    out.gauge(
        "tidemark_pg_slot_wal_status",
        "1 for the slot's wal_status (reserved, extended, unreserved, lost).",
        status,
    );
    out.gauge(
        "tidemark_binlog_bytes_behind",
        "Bytes of binlog from the position the connector last read to the end of the server's newest binlog file.",
        bytes_behind,
    );
    out.gauge(
        "tidemark_binlog_files_behind",
        "Binlog files after the one the connector last read.",
        files_behind,
    );
}

fn plugin_families(
    out: &mut Families,
    plugins: &BTreeMap<String, PluginState>,
    compilations: &[Compilations],
) {
    let per_plugin = |value: &dyn Fn(&PluginState) -> i64| {
        plugins
            .iter()
            .map(|(name, state)| {
                (
                    vec![("plugin".to_owned(), name.clone())],
                    Value::Int(value(state)),
                )
            })
            .collect::<Vec<_>>()
    };
    out.counter(
        "tidemark_plugin_reloads",
        "New plugin versions swapped in while running.",
        per_plugin(&|s| s.reloads as i64),
    );
    out.counter(
        "tidemark_plugin_upgrades",
        "New plugin versions that went live with baseline code and were then swapped for their optimized code.",
        per_plugin(&|s| s.upgrades as i64),
    );
    out.counter(
        "tidemark_plugin_reload_failures",
        "New plugin versions rejected (invalid, wrong world, configure error or canary failure).",
        per_plugin(&|s| s.rejected as i64),
    );
    out.gauge(
        "tidemark_plugin_versions",
        "Versions of the plugin seen since the start.",
        per_plugin(&|s| s.versions.len() as i64),
    );
    out.gauge(
        "tidemark_plugin_reload_error",
        "1 when a version of the plugin was rejected (the reason is in GET /plugins and the log).",
        per_plugin(&|s| i64::from(s.last_error.is_some())),
    );
    out.counter(
        "tidemark_plugin_compilations",
        "Plugin components compiled (not found in a cache) by the process's shared runtime, per engine: each version once for all connectors.",
        compilations
            .iter()
            .map(|c| {
                (
                    vec![
                        ("tier".to_owned(), c.tier.name().to_owned()),
                        ("metered".to_owned(), c.metered.to_string()),
                    ],
                    Value::Int(c.count as i64),
                )
            })
            .collect(),
    );
}

#[cfg(test)]
mod tests;
