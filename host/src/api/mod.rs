//! The worker's REST API, at Kafka Connect's `listeners` (or `rest.port`) address: Connect's
//! endpoints for the worker's connectors ([`connectors`]), the plugin directory, and
//! Prometheus metrics.
//!
//! - `GET /` — the version, as Connect's root answers.
//! - `/connectors…` — create, list, inspect, change, pause, resume, stop, restart, delete;
//!   read, change and reset offsets ([`offsets`]).
//! - `GET /plugins` — each plugin of the plugin directories the connectors share, once:
//!   versions (content hash, load time), the connectors using it and the version each runs,
//!   reload count and last reload error, as `tidemark plugin list` shows them.
//! - `GET /metrics` — counters in the Prometheus text format (see [`metrics`]).
//! - `/admin/loggers…` — log levels, changed while running ([`loggers`]).
//! - `/connector-plugins…` — the connector, converter, transform and predicate classes, their
//!   keys, and Connect's `config/validate` ([`plugins`]).

pub mod connectors;
pub mod loggers;
pub mod metrics;
pub mod offsets;
pub mod plugins;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde_json::json;

use crate::pipeline::control::Probe;
use crate::plugin::PluginState;
use crate::worker::Worker;

/// What went wrong starting the API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(
        "cannot listen on {address} for the REST API: {source} (set listeners to a free address, or remove it)"
    )]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
}

/// What the API serves: the worker and its connectors.
#[derive(Clone)]
pub struct ApiState {
    pub worker: Worker,
    /// The process's log levels, when they can be changed (`/admin/loggers`).
    pub loggers: Option<loggers::Loggers>,
}

/// A running API server; dropping it stops the server.
pub struct Api {
    /// The address it listens on (the real port when 0 was asked for).
    pub address: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Api {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `address` (port 0: any free port), so that the worker can know its id before
/// serving.
pub async fn bind(address: SocketAddr) -> Result<tokio::net::TcpListener, ApiError> {
    tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| ApiError::Bind { address, source })
}

/// Starts serving `state` on `listener` (on the current tokio runtime).
pub fn serve(listener: tokio::net::TcpListener, state: ApiState) -> Result<Api, ApiError> {
    let address = listener.local_addr().map_err(|source| ApiError::Bind {
        address: SocketAddr::from(([0, 0, 0, 0], 0)),
        source,
    })?;
    let app = Router::new()
        .route("/", get(root))
        .route("/plugins", get(plugins))
        .route("/metrics", get(metrics))
        .merge(connectors::routes())
        .merge(offsets::routes())
        .merge(loggers::routes())
        .merge(plugins::routes())
        .with_state(state);
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "the REST API stopped");
        }
    });
    tracing::info!(%address, "REST API listening");
    Ok(Api { address, task })
}

async fn root(State(state): State<ApiState>) -> Json<serde_json::Value> {
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "commit": concat!("tidemark-", env!("CARGO_PKG_VERSION")),
        "kafka_cluster_id": state.worker.id(),
    }))
}

/// The state of the plugin directories the worker's connectors share, merged by plugin name
/// (connectors naming different directories may use plugins of the same name).
fn plugin_states(worker: &Worker) -> BTreeMap<String, PluginState> {
    let mut merged: BTreeMap<String, PluginState> = BTreeMap::new();
    for directory in worker.plugins().directories() {
        for (name, plugin) in directory.state() {
            match merged.get_mut(&name) {
                Some(known) => {
                    known.users.extend(plugin.users);
                    known.live.extend(plugin.live);
                }
                None => {
                    merged.insert(name, plugin);
                }
            }
        }
    }
    merged
}

async fn plugins(State(state): State<ApiState>) -> Response {
    let probes = state.worker.probes().await;
    match serde_json::to_string(&plugin_states(&state.worker)) {
        // A plugin's error may quote its configuration.
        Ok(body) => (
            [(header::CONTENT_TYPE, "application/json")],
            hide_secrets(body, &probes),
        )
            .into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

/// `body` with every connector's resolved secrets hidden.
fn hide_secrets(mut body: String, probes: &[(String, Arc<Probe>)]) -> String {
    for (_, probe) in probes {
        body = probe.secrets().redact(&body).into_owned();
    }
    body
}

async fn metrics(State(state): State<ApiState>) -> Response {
    let observed = state.worker.observations().await;
    let connectors: Vec<metrics::ConnectorView<'_>> = observed
        .iter()
        .map(|(name, task, probe)| metrics::ConnectorView {
            name,
            state: *task,
            pipeline: probe.stats().map(|s| &**s),
            source: probe.source().map(|s| &**s),
            usage: probe.usage(),
        })
        .collect();
    let probes: Vec<(String, Arc<Probe>)> = observed
        .iter()
        .map(|(name, _, probe)| (name.clone(), probe.clone()))
        .collect();
    let compilations = state
        .worker
        .plugins()
        .runtime_if_created()
        .map(|runtime| runtime.compilations())
        .unwrap_or_default();
    let body = hide_secrets(
        metrics::render(&connectors, &plugin_states(&state.worker), &compilations),
        &probes,
    );
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Properties, resolve_providers};

    #[test]
    fn answers_hide_every_connectors_resolved_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secrets.properties");
        std::fs::write(&file, "token=tidemark-test-s3cret\n").unwrap();
        let mut props = Properties::from_pairs([
            ("config.providers", "file".to_owned()),
            ("x", format!("${{file:{}:token}}", file.display())),
        ]);
        resolve_providers(&mut props).unwrap();
        let probe = Arc::new(Probe::default());
        probe.resolved(props.secrets().clone());
        let probes = vec![
            ("other".to_owned(), Arc::new(Probe::default())),
            ("c".to_owned(), probe),
        ];
        let text = hide_secrets(
            "plugin failed: bad token tidemark-test-s3cret".into(),
            &probes,
        );
        assert!(!text.contains("tidemark-test-s3cret"), "{text}");
        assert!(text.contains("<secret from ${file:"), "{text}");
    }
}
