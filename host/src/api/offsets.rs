//! Kafka Connect's offsets endpoints (KIP-875): read a connector's offsets, and, while it is
//! stopped, change or reset them.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde_json::{Value as Json_, json};

use super::ApiState;
use super::connectors::body;
use crate::worker::WorkerError;

/// The routes under `/connectors/{name}/offsets`.
pub fn routes() -> Router<ApiState> {
    Router::new().route(
        "/connectors/{name}/offsets",
        get(offsets).patch(alter).delete(reset),
    )
}

async fn offsets(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Response, WorkerError> {
    let partitions = state.worker.offsets(&name).await?;
    let offsets: Vec<Json_> = partitions
        .into_iter()
        .map(|p| json!({ "partition": p.partition, "offset": p.offset }))
        .collect();
    Ok(Json(json!({ "offsets": offsets })).into_response())
}

async fn alter(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<Response, WorkerError> {
    let request = body(&bytes)?;
    let bad = |problem: &str| WorkerError::BadRequest(format!("the offsets request: {problem}"));
    let entries = request
        .get("offsets")
        .and_then(Json_::as_array)
        .ok_or_else(|| bad("expected {\"offsets\": [{\"partition\": {…}, \"offset\": {…}}]}"))?;
    if entries.is_empty() {
        return Err(bad("the offsets list is empty"));
    }
    let mut changes = Vec::with_capacity(entries.len());
    for entry in entries {
        let partition = entry
            .get("partition")
            .and_then(Json_::as_object)
            .ok_or_else(|| bad("each entry needs a \"partition\" object"))?
            .clone();
        let offset = match entry.get("offset") {
            None | Some(Json_::Null) => None,
            Some(Json_::Object(offset)) => Some(offset.clone()),
            Some(_) => return Err(bad("an \"offset\" must be an object or null")),
        };
        changes.push((partition, offset));
    }
    state.worker.alter_offsets(&name, changes).await?;
    Ok(Json(json!({
        "message": "The offsets for this connector have been altered successfully"
    }))
    .into_response())
}

async fn reset(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Response, WorkerError> {
    state.worker.reset_offsets(&name).await?;
    Ok(Json(json!({
        "message": "The offsets for this connector have been reset successfully"
    }))
    .into_response())
}
