//! The worker's REST API, at Kafka Connect's `listeners` (or `rest.port`) address: a subset
//! of Connect's endpoints for the running connector, the plugin directory, and Prometheus
//! metrics.
//!
//! - `GET /` — the Tidemark version.
//! - `GET /connectors` — the names of the running connectors.
//! - `GET /connectors/{name}/status` — Connect's status document.
//! - `GET /plugins` — each plugin of the plugin directory: versions (content hash, load time),
//!   users, reload count and last reload error, as `tidemark plugin list` shows them.
//! - `GET /metrics` — counters in the Prometheus text format (see [`metrics`]).

pub mod metrics;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::config::Secrets;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde_json::json;

use crate::pipeline::PipelineStats;
use crate::plugin::PluginDirectory;

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

/// What the API reports on: one connector and its plugin directory.
#[derive(Clone)]
pub struct ApiState {
    /// The connector's `name`.
    pub connector: String,
    /// Its pipeline's counters.
    pub stats: Arc<PipelineStats>,
    /// The plugin directory, when `plugin.path` is set.
    pub plugins: Option<PluginDirectory>,
    /// Values resolved from config providers: hidden in every answer (a plugin's error may
    /// quote its configuration).
    pub secrets: Secrets,
}

/// `body` with the resolved secrets hidden, as a response of `content_type`.
fn hidden(secrets: &Secrets, content_type: &'static str, body: String) -> Response {
    let body = secrets.redact(&body).into_owned();
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
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

/// Starts serving `state` on `address` (on the current tokio runtime).
pub async fn serve(address: SocketAddr, state: ApiState) -> Result<Api, ApiError> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| ApiError::Bind { address, source })?;
    let address = listener
        .local_addr()
        .map_err(|source| ApiError::Bind { address, source })?;
    let app = Router::new()
        .route("/", get(root))
        .route("/connectors", get(connectors))
        .route("/connectors/{name}/status", get(status))
        .route("/plugins", get(plugins))
        .route("/metrics", get(metrics))
        .with_state(state);
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "the REST API stopped");
        }
    });
    tracing::info!(%address, "REST API listening");
    Ok(Api { address, task })
}

async fn root() -> Json<serde_json::Value> {
    Json(json!({ "version": env!("CARGO_PKG_VERSION"), "product": "tidemark" }))
}

async fn connectors(State(state): State<ApiState>) -> Json<Vec<String>> {
    Json(vec![state.connector])
}

async fn status(State(state): State<ApiState>, Path(name): Path<String>) -> Response {
    if name != state.connector {
        let message = format!("Connector {name} not found");
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error_code": 404, "message": message })),
        )
            .into_response();
    }
    // The process runs one connector and ends when it fails, so while it answers the
    // connector and its single task are running.
    Json(json!({
        "name": name,
        "connector": { "state": "RUNNING", "worker_id": "tidemark" },
        "tasks": [ { "id": 0, "state": "RUNNING", "worker_id": "tidemark" } ],
        "type": "source",
    }))
    .into_response()
}

async fn plugins(State(state): State<ApiState>) -> Response {
    let body = match &state.plugins {
        Some(directory) => serde_json::to_string(&directory.state()),
        None => serde_json::to_string(&json!({})),
    };
    match body {
        Ok(body) => hidden(&state.secrets, "application/json", body),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

async fn metrics(State(state): State<ApiState>) -> Response {
    let plugins = state
        .plugins
        .as_ref()
        .map(PluginDirectory::state)
        .unwrap_or_default();
    hidden(
        &state.secrets,
        "text/plain; version=0.0.4",
        metrics::render(&state.connector, &state.stats, &plugins),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Properties, resolve_providers};
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn answers_hide_resolved_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secrets.properties");
        std::fs::write(&file, "token=tidemark-test-s3cret\n").unwrap();
        let mut props = Properties::from_pairs([
            ("config.providers", "file".to_owned()),
            ("x", format!("${{file:{}:token}}", file.display())),
        ]);
        resolve_providers(&mut props).unwrap();
        let response = hidden(
            props.secrets(),
            "text/plain",
            "plugin failed: bad token tidemark-test-s3cret".into(),
        );
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(!text.contains("tidemark-test-s3cret"), "{text}");
        assert!(text.contains("<secret from ${file:"), "{text}");
    }
}
