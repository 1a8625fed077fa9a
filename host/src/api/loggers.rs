//! Kafka Connect's logger endpoints over Tidemark's `tracing` filter: `GET /admin/loggers`,
//! `GET /admin/loggers/{name}` and `PUT /admin/loggers/{name}` change log levels while the
//! worker runs. A logger is a `tracing` target (`tidemark::sources::postgres`, …) or
//! `root`; levels are Connect's (log4j) names.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde_json::json;

use super::ApiState;
use super::connectors::body;
use crate::worker::WorkerError;

/// Applies a filter directive (`info,tidemark::sources=debug`) to the process's log.
pub type ApplyFilter = dyn Fn(&str) -> Result<(), String> + Send + Sync;

/// The log levels set over REST, and how to apply them.
#[derive(Clone)]
pub struct Loggers {
    levels: Arc<Mutex<BTreeMap<String, String>>>,
    apply: Arc<ApplyFilter>,
}

impl Loggers {
    /// Loggers starting at `root` (Connect's name of the level, e.g. `INFO`), applied with
    /// `apply`.
    pub fn new(root: &str, apply: Arc<ApplyFilter>) -> Loggers {
        let levels = BTreeMap::from([("root".to_owned(), root.to_uppercase())]);
        Loggers {
            levels: Arc::new(Mutex::new(levels)),
            apply,
        }
    }

    fn levels(&self) -> BTreeMap<String, String> {
        self.levels.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Sets a logger's level and applies every level set so far.
    fn set(&self, logger: &str, level: &str) -> Result<(), WorkerError> {
        let level = level.trim().to_uppercase();
        if tracing_level(&level).is_none() {
            return Err(WorkerError::BadRequest(format!(
                "Invalid log level '{level}': use one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL, OFF"
            )));
        }
        if logger.is_empty() || logger.contains([',', '=', ' ', '[', '{']) {
            return Err(WorkerError::BadRequest(format!(
                "Invalid logger name '{logger}': use root or a module path such as \
                 tidemark::sources::postgres"
            )));
        }
        let mut levels = self
            .levels
            .lock()
            .map_err(|_| WorkerError::Internal("the logger table is poisoned".into()))?;
        let mut next = levels.clone();
        next.insert(logger.to_owned(), level);
        (self.apply)(&directive(&next)).map_err(WorkerError::BadRequest)?;
        *levels = next;
        Ok(())
    }
}

/// A Connect (log4j) level as a `tracing` filter level.
fn tracing_level(level: &str) -> Option<&'static str> {
    Some(match level {
        "TRACE" => "trace",
        "DEBUG" => "debug",
        "INFO" => "info",
        "WARN" => "warn",
        "ERROR" | "FATAL" => "error",
        "OFF" => "off",
        _ => return None,
    })
}

/// The filter directive for the levels: the root level, then each logger's.
fn directive(levels: &BTreeMap<String, String>) -> String {
    let mut parts = vec![
        levels
            .get("root")
            .and_then(|l| tracing_level(l))
            .unwrap_or("info")
            .to_owned(),
    ];
    for (logger, level) in levels.iter().filter(|(name, _)| *name != "root") {
        if let Some(level) = tracing_level(level) {
            parts.push(format!("{logger}={level}"));
        }
    }
    parts.join(",")
}

/// The routes under `/admin/loggers`.
pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/admin/loggers", get(list))
        .route("/admin/loggers/{name}", get(one).put(set))
}

fn loggers(state: &ApiState) -> Result<&Loggers, WorkerError> {
    state
        .loggers
        .as_ref()
        .ok_or_else(|| WorkerError::NotFound("log levels cannot be changed in this process".into()))
}

async fn list(State(state): State<ApiState>) -> Result<Response, WorkerError> {
    let levels = loggers(&state)?.levels();
    let body: BTreeMap<String, serde_json::Value> = levels
        .into_iter()
        .map(|(name, level)| (name, json!({ "level": level })))
        .collect();
    Ok(Json(body).into_response())
}

async fn one(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Response, WorkerError> {
    let levels = loggers(&state)?.levels();
    // An unset logger has its nearest set parent's level, as log4j's effective level.
    let mut logger = name.as_str();
    loop {
        if let Some(level) = levels.get(logger) {
            return Ok(Json(json!({ "level": level })).into_response());
        }
        match logger.rsplit_once("::") {
            Some((parent, _)) => logger = parent,
            None => break,
        }
    }
    let root = levels.get("root").cloned().unwrap_or_else(|| "INFO".into());
    Ok(Json(json!({ "level": root })).into_response())
}

async fn set(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<Response, WorkerError> {
    let request = body(&bytes)?;
    let level = request
        .get("level")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| WorkerError::BadRequest("the body needs {\"level\": \"…\"}".into()))?;
    loggers(&state)?.set(&name, level)?;
    Ok(Json(json!([name])).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_become_one_filter_directive() {
        let applied = Arc::new(Mutex::new(String::new()));
        let seen = applied.clone();
        let loggers = Loggers::new(
            "info",
            Arc::new(move |d: &str| {
                *seen.lock().unwrap() = d.to_owned();
                Ok(())
            }),
        );
        loggers.set("tidemark::sources::postgres", "debug").unwrap();
        loggers.set("root", "WARN").unwrap();
        assert_eq!(
            *applied.lock().unwrap(),
            "warn,tidemark::sources::postgres=debug"
        );
        assert!(loggers.set("tidemark", "LOUD").is_err());
        assert!(loggers.set("a=b", "INFO").is_err());
        assert_eq!(loggers.levels()["root"], "WARN");
    }
}
