//! Kafka Connect's logger endpoints over Tidemark's `tracing` filter: `GET /admin/loggers`,
//! `GET /admin/loggers/{name}` and `PUT /admin/loggers/{name}` change log levels while the
//! worker runs. A logger is a `tracing` target (`tidemark::sources::postgres`, …) or
//! `root`; levels are Connect's (log4j) names. Each answer carries Connect's
//! `last_modified`: when the level was set over REST (milliseconds since the epoch), `null`
//! for a level never set so.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

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

/// A logger's level and when it was set over REST.
#[derive(Debug, Clone)]
struct Level {
    /// Connect's (log4j) name of the level.
    level: String,
    /// Milliseconds since the epoch; `None` for the level the process started with.
    last_modified: Option<u64>,
}

impl Level {
    fn json(&self) -> serde_json::Value {
        json!({ "level": self.level, "last_modified": self.last_modified })
    }
}

/// The log levels set over REST, and how to apply them.
#[derive(Clone)]
pub struct Loggers {
    levels: Arc<Mutex<BTreeMap<String, Level>>>,
    apply: Arc<ApplyFilter>,
}

impl Loggers {
    /// Loggers starting at `root` (Connect's name of the level, e.g. `INFO`), applied with
    /// `apply`.
    pub fn new(root: &str, apply: Arc<ApplyFilter>) -> Loggers {
        let root = Level {
            level: root.to_uppercase(),
            last_modified: None,
        };
        let levels = BTreeMap::from([("root".to_owned(), root)]);
        Loggers {
            levels: Arc::new(Mutex::new(levels)),
            apply,
        }
    }

    fn levels(&self) -> BTreeMap<String, Level> {
        self.levels.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Sets a logger's level and applies every level set so far.
    fn set(&self, logger: &str, level: &str) -> Result<(), WorkerError> {
        let level = level.trim().to_uppercase();
        if tracing_level(&level).is_none() {
            // Connect answers 404 for a level it does not know.
            return Err(WorkerError::Unknown(format!(
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
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        next.insert(
            logger.to_owned(),
            Level {
                level,
                last_modified: Some(now),
            },
        );
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
fn directive(levels: &BTreeMap<String, Level>) -> String {
    let mut parts = vec![
        levels
            .get("root")
            .and_then(|l| tracing_level(&l.level))
            .unwrap_or("info")
            .to_owned(),
    ];
    for (logger, level) in levels.iter().filter(|(name, _)| *name != "root") {
        if let Some(level) = tracing_level(&level.level) {
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
        .ok_or_else(|| WorkerError::Unknown("log levels cannot be changed in this process".into()))
}

async fn list(State(state): State<ApiState>) -> Result<Response, WorkerError> {
    let levels = loggers(&state)?.levels();
    let body: BTreeMap<String, serde_json::Value> = levels
        .into_iter()
        .map(|(name, level)| (name, level.json()))
        .collect();
    Ok(Json(body).into_response())
}

async fn one(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Response, WorkerError> {
    let levels = loggers(&state)?.levels();
    if let Some(level) = levels.get(&name) {
        return Ok(Json(level.json()).into_response());
    }
    // An unset logger has its nearest set parent's level, as log4j's effective level, and
    // was never modified.
    let mut logger = name.as_str();
    let level = loop {
        match logger.rsplit_once("::") {
            Some((parent, _)) => logger = parent,
            None => break levels.get("root"),
        }
        if let Some(level) = levels.get(logger) {
            break Some(level);
        }
    };
    let level = level.map_or_else(|| "INFO".to_owned(), |l| l.level.clone());
    Ok(Json(json!({ "level": level, "last_modified": null })).into_response())
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
        assert_eq!(loggers.levels()["root"].level, "WARN");
        assert!(loggers.levels()["root"].last_modified.is_some());
    }
}
