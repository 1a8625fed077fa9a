//! Kafka Connect's plugin endpoints, with its JSON shapes, over the declared keys
//! ([`crate::config::Key`]):
//!
//! - `GET /connector-plugins` — the connector classes (`?connectorsOnly=false`: also the
//!   converters, transforms and predicates), each `{"class", "type", "version"}`.
//! - `GET /connector-plugins/{plugin}/config` — a plugin's keys, each Connect's
//!   `ConfigKeyInfo`; a connector by its class, alias or simple name (`PostgresConnector`).
//! - `PUT /connector-plugins/{plugin}/config/validate` — Connect's `ConfigInfos`: every key
//!   of the posted config with its value and errors, and the error count. It is the check
//!   `POST /connectors` and `PUT /connectors/{name}/config` make (with the worker's
//!   properties as defaults).

use std::collections::BTreeMap;
use std::path::Path;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, put};
use serde_json::{Value as Json_, json};

use super::ApiState;
use super::connectors::{body, error, properties};
use crate::config::worker::{CONVERTER_PLUGINS, converter_keys};
use crate::config::{Checked, DefaultValue, Key, Type};
use crate::pipeline::keys::{CONNECTOR_CLASS, CONNECTORS, ConnectorPlugin};
use crate::plugin::{catalog, resolve};
use crate::worker::WorkerError;

/// The version every plugin reports: Tidemark's, since Tidemark implements them all.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The routes under `/connector-plugins`.
pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/connector-plugins", get(list))
        .route("/connector-plugins/{plugin}/config", get(config))
        .route("/connector-plugins/{plugin}/config/validate", put(validate))
}

/// One plugin as Connect lists it (`PluginInfo`).
fn plugin_info(class: &str, kind: &str) -> Json_ {
    json!({ "class": class, "type": kind, "version": VERSION })
}

/// The plugin directory the worker's properties name, and every directory plugins are
/// looked for in.
fn plugin_dirs(state: &ApiState) -> (Option<String>, Vec<std::path::PathBuf>) {
    let path = state
        .worker
        .defaults()
        .get(crate::config::worker::PLUGIN_PATH.name.as_ref())
        .cloned();
    let dirs = resolve::search_dirs(path.as_deref().map(Path::new));
    (path, dirs)
}

async fn list(State(state): State<ApiState>, query: RawQuery) -> Result<Response, WorkerError> {
    let connectors_only = match query_value(&query, "connectorsOnly") {
        None => true,
        Some(value) => value.parse().map_err(|_| {
            WorkerError::BadRequest(format!(
                "query parameter connectorsOnly={value}: expected true or false"
            ))
        })?,
    };
    let mut plugins: Vec<Json_> = CONNECTORS
        .iter()
        .map(|c| plugin_info(c.class, "source"))
        .collect();
    if !connectors_only {
        plugins.extend(CONVERTER_PLUGINS.iter().map(|(c, k)| plugin_info(c, k)));
        // The transforms and predicates: the plugin layer's catalog.
        let (path, dirs) = plugin_dirs(&state);
        plugins.extend(
            catalog::offered(path.as_deref().map(Path::new), &dirs)
                .iter()
                .map(|o| plugin_info(&o.class, o.kind.connect_name())),
        );
    }
    Ok(Json(json!(plugins)).into_response())
}

/// The last value of `key` in a query string.
fn query_value<'a>(query: &'a RawQuery, key: &str) -> Option<&'a str> {
    query
        .0
        .as_deref()
        .unwrap_or("")
        .split('&')
        .rev()
        .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
}

/// Connect's 404 for a plugin it does not have.
fn unknown_plugin(name: &str) -> Response {
    error(StatusCode::NOT_FOUND, format!("Unknown plugin {name}."))
}

async fn config(State(state): State<ApiState>, UrlPath(plugin): UrlPath<String>) -> Response {
    match plugin_keys(&state, &plugin) {
        Ok(Some(keys)) => {
            let orders = orders(keys.iter());
            let infos: Vec<Json_> = keys
                .iter()
                .zip(orders)
                .map(|(key, order)| key_info(key, order))
                .collect();
            Json(json!(infos)).into_response()
        }
        Ok(None) => unknown_plugin(&plugin),
        Err(error) => error.into_response(),
    }
}

/// A connector's keys, or a transform's or predicate's; `None` for a name that is neither.
fn plugin_keys(state: &ApiState, plugin: &str) -> Result<Option<Vec<Key>>, WorkerError> {
    if let Some(connector) = ConnectorPlugin::find(plugin) {
        return Ok(Some(connector.def().keys().to_vec()));
    }
    if let Some((_, keys)) = converter_keys(plugin.trim()) {
        return Ok(Some(keys));
    }
    let (_, dirs) = plugin_dirs(state);
    let runtime = state
        .worker
        .plugins()
        .runtime()
        .map_err(|e| WorkerError::Internal(e.to_string()))?;
    Ok(catalog::keys_of(plugin.trim(), &runtime, &dirs)
        .map_err(|e| WorkerError::Internal(e.to_string()))?
        .map(|def| def.keys().to_vec()))
}

async fn validate(
    State(state): State<ApiState>,
    UrlPath(plugin): UrlPath<String>,
    bytes: Bytes,
) -> Result<Response, WorkerError> {
    let config: BTreeMap<String, String> = properties(&body(&bytes)?, "the config")?;
    let Some(class) = config.get(CONNECTOR_CLASS.name.as_ref()) else {
        return Err(WorkerError::BadRequest(format!(
            "Connector config {config:?} contains no connector type"
        )));
    };
    let named = ConnectorPlugin::find(&plugin);
    let connector = match (ConnectorPlugin::find(class), named) {
        (Some(given), Some(named)) if given == named => given,
        (Some(_), Some(_)) => {
            return Err(WorkerError::BadRequest(format!(
                "Included connector type {class} does not match request type {plugin}"
            )));
        }
        _ => {
            return Err(WorkerError::BadRequest(format!(
                "Failed to find any class that implements Connector and which name matches \
                 {class}, available connectors are: {}",
                CONNECTORS
                    .iter()
                    .map(|c| c.class)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    };
    let checked = state.worker.check(&config);
    Ok(Json(config_infos(connector.class, &checked)).into_response())
}

/// Connect's `ConfigInfos` of checked keys.
fn config_infos(name: &str, checked: &[Checked]) -> Json_ {
    let mut groups: Vec<&str> = Vec::new();
    for c in checked {
        if !groups.contains(&c.key.group.as_ref()) {
            groups.push(&c.key.group);
        }
    }
    let orders = orders(checked.iter().map(|c| &c.key));
    let configs: Vec<Json_> = checked
        .iter()
        .zip(orders)
        .map(|(c, order)| {
            json!({
                "definition": key_info(&c.key, order),
                "value": value_info(c),
            })
        })
        .collect();
    let error_count: usize = checked.iter().map(|c| c.errors.len()).sum();
    json!({
        "name": name,
        "error_count": error_count,
        "groups": groups,
        "configs": configs,
    })
}

/// Each key's place in its group, from 1.
fn orders<'a>(keys: impl Iterator<Item = &'a Key>) -> Vec<usize> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    keys.map(|key| {
        let n = seen.entry(key.group.as_ref()).or_insert(0);
        *n += 1;
        *n
    })
    .collect()
}

/// What a PASSWORD value shows instead of itself, as in Connect.
const HIDDEN: &str = "[hidden]";

/// Connect's `ConfigKeyInfo` of a key.
fn key_info(key: &Key, order: usize) -> Json_ {
    let default = match (&key.default, key.kind) {
        (DefaultValue::Value(_), Type::Password) => Some(HIDDEN.to_owned()),
        (DefaultValue::Value(v), _) => Some(v.to_string()),
        _ => None,
    };
    json!({
        "name": key.name,
        "type": key.kind.connect_name(),
        "required": matches!(key.default, DefaultValue::Required(_)),
        "default_value": default,
        "importance": key.importance.connect_name(),
        "documentation": key.documentation,
        "group": key.group,
        "order_in_group": order,
        "width": "NONE",
        "display_name": key.name,
        "dependents": [],
    })
}

/// Connect's `ConfigValueInfo` of a checked key: the value given (else its default), the
/// choices it may take, its errors.
fn value_info(checked: &Checked) -> Json_ {
    let key = &checked.key;
    let value = checked
        .value
        .clone()
        .or_else(|| key.default_value().map(str::to_owned))
        .map(|v| {
            if key.kind == Type::Password {
                HIDDEN.to_owned()
            } else {
                v
            }
        });
    let recommended: Vec<String> = match &key.validator {
        crate::config::Validator::Choices(choices) => {
            choices.iter().map(ToString::to_string).collect()
        }
        _ => Vec::new(),
    };
    json!({
        "name": key.name,
        "value": value,
        "recommended_values": recommended,
        "errors": checked.errors,
        "visible": true,
    })
}
