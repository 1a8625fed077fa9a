//! Kafka Connect's connector endpoints, with its paths, status codes and JSON shapes.
//! Tidemark runs one task per connector (task 0), as Debezium's connectors do.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post, put};
use serde_json::{Value as Json_, json};

use super::ApiState;
use crate::event::envelope::DEBEZIUM_VERSION;
use crate::worker::{ConnectorInfo, State as ConnectorState, Status, TargetState, WorkerError};

/// The routes under `/connectors`.
pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/connectors", get(list).post(create))
        .route("/connectors/{name}", get(info).delete(delete))
        .route(
            "/connectors/{name}/config",
            get(config).put(put_config).patch(patch_config),
        )
        .route("/connectors/{name}/status", get(status))
        .route("/connectors/{name}/tasks", get(tasks))
        .route("/connectors/{name}/tasks/{task}/status", get(task_status))
        .route(
            "/connectors/{name}/tasks/{task}/restart",
            post(restart_task),
        )
        .route("/connectors/{name}/pause", put(pause))
        .route("/connectors/{name}/resume", put(resume))
        .route("/connectors/{name}/stop", put(stop))
        .route("/connectors/{name}/restart", post(restart))
        .route("/connectors/{name}/signals", post(signal))
        .route("/connectors/{name}/topics", get(topics))
        .route("/connectors/{name}/topics/reset", put(reset_topics))
}

/// Connect's error body: `{"error_code": N, "message": "…"}`.
pub fn error(code: StatusCode, message: impl Into<String>) -> Response {
    (
        code,
        Json(json!({ "error_code": code.as_u16(), "message": message.into() })),
    )
        .into_response()
}

impl IntoResponse for WorkerError {
    fn into_response(self) -> Response {
        let code =
            StatusCode::from_u16(self.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        error(code, self.to_string())
    }
}

/// A request body as JSON, or an error naming what is wrong with it: a 500, as Connect
/// answers a body its JSON reader cannot parse.
pub(super) fn body(bytes: &Bytes) -> Result<Json_, WorkerError> {
    serde_json::from_slice(bytes)
        .map_err(|e| WorkerError::Unparsable(format!("the request body is not valid JSON: {e}")))
}

/// A JSON object of properties as strings (numbers and booleans as their text, as Connect
/// accepts them).
pub(super) fn properties(
    value: &Json_,
    what: &str,
) -> Result<BTreeMap<String, String>, WorkerError> {
    let object = value
        .as_object()
        .ok_or_else(|| WorkerError::BadRequest(format!("{what} must be a JSON object")))?;
    object
        .iter()
        .map(|(key, value)| match value {
            Json_::String(s) => Ok((key.clone(), s.clone())),
            Json_::Number(_) | Json_::Bool(_) => Ok((key.clone(), value.to_string())),
            _ => Err(WorkerError::BadRequest(format!(
                "{what}: property '{key}' must be a string, number or boolean"
            ))),
        })
        .collect()
}

fn info_json(info: &ConnectorInfo, stopped: bool) -> Json_ {
    let tasks = if stopped {
        json!([])
    } else {
        json!([{ "connector": info.name, "task": 0 }])
    };
    json!({ "name": info.name, "config": info.config, "tasks": tasks, "type": "source" })
}

/// Connect's `ConnectorStateInfo`. The connector's `version` (and its task's) is the
/// Debezium version Tidemark's events carry in `source.version`.
fn status_json(name: &str, status: &Status, this_worker: &str) -> Json_ {
    let worker_id = status.worker_id.as_deref().unwrap_or(this_worker);
    // As Connect shows a task that failed: the connector runs, its task is FAILED with the
    // trace.
    let (connector, task) = match status.state {
        ConnectorState::Failed => (ConnectorState::Running, Some(ConnectorState::Failed)),
        ConnectorState::Stopped => (ConnectorState::Stopped, None),
        state => (state, Some(state)),
    };
    let tasks = match task {
        Some(state) => {
            let mut task = json!({
                "id": 0,
                "state": state,
                "worker_id": worker_id,
                "version": DEBEZIUM_VERSION,
            });
            if let Some(trace) = &status.trace {
                task["trace"] = json!(trace);
            }
            json!([task])
        }
        None => json!([]),
    };
    json!({
        "name": name,
        "connector": {
            "state": connector,
            "worker_id": worker_id,
            "version": DEBEZIUM_VERSION,
        },
        "tasks": tasks,
        "type": "source",
    })
}

async fn list(State(state): State<ApiState>, query: RawQuery) -> Response {
    // `?expand=status&expand=info`: a repeated key.
    let expand: Vec<String> = query_values(&query, "expand").map(str::to_owned).collect();
    let names = state.worker.names().await;
    if expand.is_empty() {
        return Json(json!(names)).into_response();
    }
    let mut out = serde_json::Map::new();
    for name in names {
        let mut entry = serde_json::Map::new();
        if expand.iter().any(|e| e == "status")
            && let Ok(status) = state.worker.status(&name).await
        {
            entry.insert(
                "status".into(),
                status_json(&name, &status, state.worker.id()),
            );
        }
        if expand.iter().any(|e| e == "info")
            && let Ok(config) = state.worker.config(&name).await
        {
            let stopped = matches!(
                state.worker.status(&name).await.map(|s| s.state),
                Ok(ConnectorState::Stopped)
            );
            let info = ConnectorInfo {
                name: name.clone(),
                config,
            };
            entry.insert("info".into(), info_json(&info, stopped));
        }
        out.insert(name, Json_::Object(entry));
    }
    Json(Json_::Object(out)).into_response()
}

async fn create(State(state): State<ApiState>, bytes: Bytes) -> Result<Response, WorkerError> {
    let request = body(&bytes)?;
    let name = request
        .get("name")
        .and_then(Json_::as_str)
        .ok_or_else(|| {
            WorkerError::BadRequest("the request has no connector name (\"name\")".into())
        })?
        .to_owned();
    let config = match request.get("config") {
        Some(config) => properties(config, "config")?,
        None => {
            return Err(WorkerError::BadRequest(
                "the request has no connector config (\"config\")".into(),
            ));
        }
    };
    let target = match request.get("initial_state").and_then(Json_::as_str) {
        None | Some("RUNNING") => TargetState::Started,
        Some("PAUSED") => TargetState::Paused,
        Some("STOPPED") => TargetState::Stopped,
        Some(other) => {
            return Err(WorkerError::BadRequest(format!(
                "initial_state {other:?} is not one of RUNNING, PAUSED, STOPPED"
            )));
        }
    };
    let info = state.worker.create(&name, config, target).await?;
    let mut body = info_json(&info, true);
    body["tasks"] = json!([]);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn info(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Response, WorkerError> {
    let config = state.worker.config(&name).await?;
    let stopped = state.worker.status(&name).await?.state == ConnectorState::Stopped;
    Ok(Json(info_json(&ConnectorInfo { name, config }, stopped)).into_response())
}

async fn delete(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Response, WorkerError> {
    state.worker.delete(&name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn config(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Response, WorkerError> {
    Ok(Json(state.worker.config(&name).await?).into_response())
}

async fn put_config(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<Response, WorkerError> {
    let config = properties(&body(&bytes)?, "the config")?;
    let (created, info) = state.worker.put_config(&name, config).await?;
    // A connector just created has no tasks yet, as in Connect.
    let code = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((code, Json(info_json(&info, created))).into_response())
}

async fn patch_config(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<Response, WorkerError> {
    let request = body(&bytes)?;
    let object = request
        .as_object()
        .ok_or_else(|| WorkerError::BadRequest("the config patch must be a JSON object".into()))?;
    let mut patch = BTreeMap::new();
    for (key, value) in object {
        let value = match value {
            Json_::Null => None,
            Json_::String(s) => Some(s.clone()),
            Json_::Number(_) | Json_::Bool(_) => Some(value.to_string()),
            _ => {
                return Err(WorkerError::BadRequest(format!(
                    "the config patch: property '{key}' must be a string, number, boolean or null"
                )));
            }
        };
        patch.insert(key.clone(), value);
    }
    let info = state.worker.patch_config(&name, patch).await?;
    Ok(Json(info_json(&info, false)).into_response())
}

async fn status(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Response, WorkerError> {
    let status = state.worker.status(&name).await?;
    Ok(Json(status_json(&name, &status, state.worker.id())).into_response())
}

async fn tasks(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Response, WorkerError> {
    let mut config = state.worker.config(&name).await?;
    if state.worker.status(&name).await?.state == ConnectorState::Stopped {
        return Ok(Json(json!([])).into_response());
    }
    // A task's config is its connector's with the task's class, as Debezium's connectors
    // give it (`…PostgresConnector` runs `…PostgresConnectorTask`).
    if let Some(class) = config.get("connector.class") {
        let task_class = format!("{class}Task");
        config.insert("task.class".into(), task_class);
    }
    Ok(Json(json!([{ "id": { "connector": name, "task": 0 }, "config": config }])).into_response())
}

/// The one task's id, or Connect's 404 for any other.
fn task_zero(name: &str, task: &str) -> Result<(), WorkerError> {
    match task {
        "0" => Ok(()),
        _ => Err(WorkerError::NotFound(format!("{name} task {task}"))),
    }
}

async fn task_status(
    State(state): State<ApiState>,
    Path((name, task)): Path<(String, String)>,
) -> Result<Response, WorkerError> {
    let status = state.worker.status(&name).await?;
    task_zero(&name, &task)?;
    let body = status_json(&name, &status, state.worker.id());
    match body["tasks"].get(0) {
        Some(task) => Ok(Json(task.clone()).into_response()),
        None => Err(WorkerError::NotFound(format!("{name} task {task}"))),
    }
}

async fn restart_task(
    State(state): State<ApiState>,
    Path((name, task)): Path<(String, String)>,
) -> Result<Response, WorkerError> {
    state.worker.status(&name).await?;
    task_zero(&name, &task)?;
    state.worker.restart(&name, false).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Hands a Debezium signal `{"id","type","data"}` to the running connector (the REST signal
/// channel; `data` may be an object or its JSON text): 202 once queued.
async fn signal(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<Response, WorkerError> {
    body(&bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let signal = crate::sources::signals::Signal::from_json(&text)
        .map_err(|problem| WorkerError::BadRequest(format!("the signal: {problem}")))?;
    state.worker.signal(&name, signal).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// Sets the target state; Connect answers pause and resume with 202, stop with 204.
async fn set_target(
    state: &ApiState,
    name: &str,
    target: TargetState,
) -> Result<Response, WorkerError> {
    state.worker.set_target(name, target).await?;
    Ok(match target {
        TargetState::Stopped => StatusCode::NO_CONTENT,
        TargetState::Paused | TargetState::Started => StatusCode::ACCEPTED,
    }
    .into_response())
}

async fn pause(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Response, WorkerError> {
    set_target(&state, &name, TargetState::Paused).await
}

async fn resume(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Response, WorkerError> {
    set_target(&state, &name, TargetState::Started).await
}

async fn stop(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Response, WorkerError> {
    set_target(&state, &name, TargetState::Stopped).await
}

/// The values of `key` in a query string (`a=1&b=2`).
fn query_values<'a>(query: &'a RawQuery, key: &'a str) -> impl Iterator<Item = &'a str> {
    query
        .0
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter_map(move |pair| pair.strip_prefix(key)?.strip_prefix('='))
}

/// A boolean query parameter (`true`/`false`), or Connect's 400 naming it.
fn query_flag(query: &RawQuery, key: &str) -> Result<bool, WorkerError> {
    match query_values(query, key).last() {
        None => Ok(false),
        Some(value) => value.parse().map_err(|_| {
            WorkerError::BadRequest(format!(
                "query parameter {key}={value}: expected true or false"
            ))
        }),
    }
}

async fn restart(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    query: RawQuery,
) -> Result<Response, WorkerError> {
    let include_tasks = query_flag(&query, "includeTasks")?;
    let only_failed = query_flag(&query, "onlyFailed")?;
    let before = state.worker.status(&name).await?;
    let restarted = state.worker.restart(&name, only_failed).await?;
    if !include_tasks && !only_failed {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    // Connect answers these with the states it is moving to; a restarting task keeps the
    // trace of the failure it restarts from.
    let mut status = state.worker.status(&name).await?;
    if restarted {
        status = Status {
            trace: before.trace,
            ..Status::of(ConnectorState::Restarting)
        };
    }
    let mut body = status_json(&name, &status, state.worker.id());
    // A failure shows on the task, never on the connector (see `status_json`): restarting
    // only what failed restarts the task, and the connector goes on running.
    if restarted && only_failed {
        body["connector"]["state"] = json!(ConnectorState::Running);
    }
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// The connector's active topics; as in Connect, a connector it does not have has none
/// (200, not 404).
async fn topics(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Response, WorkerError> {
    let topics = match state.worker.topics(&name).await {
        Err(WorkerError::NotFound(_)) => Vec::new(),
        topics => topics?,
    };
    Ok(Json(json!({ name: { "topics": topics } })).into_response())
}

/// Forgets the connector's active topics: 202, also for a connector it does not have, as
/// in Connect.
async fn reset_topics(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Response, WorkerError> {
    match state.worker.reset_topics(&name).await {
        Ok(()) | Err(WorkerError::NotFound(_)) => Ok(StatusCode::ACCEPTED.into_response()),
        Err(error) => Err(error),
    }
}
