//! The records of the config and status topics, in Kafka Connect's format: string keys,
//! schemaless JSON values, a tombstone for a deletion.
//!
//! Config topic: `connector-<name>` (`{"properties":{…}}`, plus Tidemark's
//! `"tidemark.slot"`, which Connect's reader ignores), `target-state-<name>`
//! (`{"state":"STARTED|PAUSED","state.v2":"STARTED|PAUSED|STOPPED"}`) and
//! `restart-connector-<name>` (`{"include-tasks":…,"only-failed":…}`). Status topic:
//! `status-connector-<name>` and `status-task-<name>-0`
//! (`{"state","trace","worker_id","generation","version"}`).

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use crate::event::envelope::DEBEZIUM_VERSION;
use crate::worker::{State, Status, TargetState};

/// A record of the config topic, as the worker acts on it.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigRecord {
    /// A connector's config and slot (`None`: deleted).
    Connector {
        name: String,
        config: Option<(BTreeMap<String, String>, i32)>,
    },
    /// A connector's target state (`None`: deleted with it).
    Target {
        name: String,
        target: Option<TargetState>,
    },
    /// A restart request.
    Restart { name: String, only_failed: bool },
    /// A record Tidemark does not act on (Connect's task configs, session keys, …).
    Other,
}

/// The key of a connector's config record.
pub fn connector_key(name: &str) -> String {
    format!("connector-{name}")
}

/// The key of a connector's target state record.
pub fn target_key(name: &str) -> String {
    format!("target-state-{name}")
}

/// The key of a connector's restart request.
pub fn restart_key(name: &str) -> String {
    format!("restart-connector-{name}")
}

/// A connector config record's value.
pub fn connector_value(config: &BTreeMap<String, String>, slot: i32) -> String {
    json!({ "properties": config, "tidemark.slot": slot }).to_string()
}

/// A target state record's value: `state` for workers that know only STARTED and PAUSED,
/// `state.v2` the real one (Connect's KIP-875 format).
pub fn target_value(target: TargetState) -> String {
    let v2 = target_name(target);
    let v1 = if target == TargetState::Started {
        "STARTED"
    } else {
        "PAUSED"
    };
    json!({ "state": v1, "state.v2": v2 }).to_string()
}

/// A restart request's value.
pub fn restart_value(only_failed: bool) -> String {
    json!({ "include-tasks": true, "only-failed": only_failed }).to_string()
}

fn target_name(target: TargetState) -> &'static str {
    match target {
        TargetState::Started => "STARTED",
        TargetState::Paused => "PAUSED",
        TargetState::Stopped => "STOPPED",
    }
}

fn object(value: &[u8], key: &str) -> Result<serde_json::Map<String, Json>, String> {
    match serde_json::from_slice(value) {
        Ok(Json::Object(object)) => Ok(object),
        _ => Err(format!("the value of {key} is not a JSON object")),
    }
}

/// Reads a config topic record (`value` `None`: a tombstone).
pub fn parse_config(key: &str, value: Option<&[u8]>) -> Result<ConfigRecord, String> {
    if let Some(name) = key.strip_prefix("connector-") {
        let Some(value) = value else {
            return Ok(ConfigRecord::Connector {
                name: name.to_owned(),
                config: None,
            });
        };
        let object = object(value, key)?;
        let properties = object
            .get("properties")
            .and_then(Json::as_object)
            .ok_or_else(|| format!("the value of {key} has no \"properties\" object"))?;
        let config = properties
            .iter()
            .filter_map(|(k, v)| match v {
                Json::String(s) => Some((k.clone(), s.clone())),
                Json::Null => None,
                other => Some((k.clone(), other.to_string())),
            })
            .collect();
        // A record written by Connect has no slot: slot 0 runs it.
        let slot = object
            .get("tidemark.slot")
            .and_then(Json::as_i64)
            .unwrap_or(0) as i32;
        return Ok(ConfigRecord::Connector {
            name: name.to_owned(),
            config: Some((config, slot)),
        });
    }
    if let Some(name) = key.strip_prefix("target-state-") {
        let target = match value {
            None => None,
            Some(value) => {
                let object = object(value, key)?;
                let state = object
                    .get("state.v2")
                    .or_else(|| object.get("state"))
                    .and_then(Json::as_str)
                    .unwrap_or("");
                Some(match state {
                    "STARTED" => TargetState::Started,
                    "PAUSED" => TargetState::Paused,
                    "STOPPED" => TargetState::Stopped,
                    other => return Err(format!("{key} names an unknown target state {other:?}")),
                })
            }
        };
        return Ok(ConfigRecord::Target {
            name: name.to_owned(),
            target,
        });
    }
    if let (Some(name), Some(value)) = (key.strip_prefix("restart-connector-"), value) {
        let object = object(value, key)?;
        return Ok(ConfigRecord::Restart {
            name: name.to_owned(),
            only_failed: object
                .get("only-failed")
                .and_then(Json::as_bool)
                .unwrap_or(false),
        });
    }
    Ok(ConfigRecord::Other)
}

/// One status record's content.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusRecord {
    pub state: State,
    pub trace: Option<String>,
    pub worker_id: String,
    /// Counts the connector's owners: a record with a lower generation than the one kept
    /// came from a worker that no longer owns the connector and is ignored.
    pub generation: i32,
}

/// The key of a connector's status record.
pub fn connector_status_key(name: &str) -> String {
    format!("status-connector-{name}")
}

/// The key of a connector's task's status record (its one task, 0).
pub fn task_status_key(name: &str) -> String {
    format!("status-task-{name}-0")
}

/// A status record's value.
pub fn status_value(record: &StatusRecord) -> String {
    json!({
        "state": record.state.name(),
        "trace": record.trace,
        "worker_id": record.worker_id,
        "generation": record.generation,
        "version": DEBEZIUM_VERSION,
    })
    .to_string()
}

/// The connector's and its task's status records for a connector status, as Connect shows
/// them: a failure is the task's (the connector runs on), a stopped connector has no task.
pub fn status_records(
    status: &Status,
    worker_id: &str,
    generation: i32,
) -> (StatusRecord, Option<StatusRecord>) {
    let record = |state: State, trace: Option<String>| StatusRecord {
        state,
        trace,
        worker_id: worker_id.to_owned(),
        generation,
    };
    match status.state {
        State::Failed => (
            record(State::Running, None),
            Some(record(State::Failed, status.trace.clone())),
        ),
        State::Stopped => (record(State::Stopped, None), None),
        state => (record(state, None), Some(record(state, None))),
    }
}

/// Which record of a connector a status key names.
#[derive(Debug, Clone, PartialEq)]
pub enum StatusKey {
    Connector(String),
    Task(String),
}

/// Reads a status record's key (`None`: not a connector's or its task 0's).
pub fn parse_status_key(key: &str) -> Option<StatusKey> {
    if let Some(name) = key.strip_prefix("status-connector-") {
        return Some(StatusKey::Connector(name.to_owned()));
    }
    key.strip_prefix("status-task-")
        .and_then(|rest| rest.strip_suffix("-0"))
        .map(|name| StatusKey::Task(name.to_owned()))
}

/// Reads a status record's value.
pub fn parse_status(key: &str, value: &[u8]) -> Result<StatusRecord, String> {
    let object = object(value, key)?;
    let state = match object.get("state").and_then(Json::as_str).unwrap_or("") {
        "UNASSIGNED" => State::Unassigned,
        "RUNNING" => State::Running,
        "PAUSED" => State::Paused,
        "STOPPED" => State::Stopped,
        "FAILED" => State::Failed,
        "RESTARTING" => State::Restarting,
        other => return Err(format!("{key} names an unknown state {other:?}")),
    };
    Ok(StatusRecord {
        state,
        trace: object
            .get("trace")
            .and_then(Json::as_str)
            .map(str::to_owned),
        worker_id: object
            .get("worker_id")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_owned(),
        generation: object.get("generation").and_then(Json::as_i64).unwrap_or(0) as i32,
    })
}

/// Every connector's last status records, as the status topic holds them.
#[derive(Debug, Default)]
pub struct StatusView {
    connectors: BTreeMap<String, (Option<StatusRecord>, Option<StatusRecord>)>,
}

impl StatusView {
    /// Applies a record; one older than the kept one (a lower generation) is ignored.
    pub fn apply(&mut self, key: StatusKey, record: Option<StatusRecord>) {
        let (name, is_task) = match key {
            StatusKey::Connector(name) => (name, false),
            StatusKey::Task(name) => (name, true),
        };
        let entry = self.connectors.entry(name).or_default();
        let slot = if is_task { &mut entry.1 } else { &mut entry.0 };
        match (record, slot.as_ref()) {
            (Some(new), Some(kept)) if new.generation < kept.generation => {}
            (new, _) => *slot = new,
        }
    }

    /// The highest generation recorded for a connector (0: none).
    pub fn generation(&self, name: &str) -> i32 {
        self.connectors.get(name).map_or(0, |(c, t)| {
            c.iter().chain(t).map(|r| r.generation).max().unwrap_or(0)
        })
    }

    /// A connector's status as its newest record shows it, and the worker that wrote that
    /// record. The connector's and its task's records may sit in different partitions and
    /// be read in either order: a record of a newer generation (a new owner's) wins over
    /// the other, whichever came first. Within one generation the task's record carries a
    /// running connector's failure; any other connector state (`UNASSIGNED` when released,
    /// `PAUSED`, `STOPPED`) is the connector's.
    pub fn status(&self, name: &str) -> Option<Status> {
        let (connector, task) = self.connectors.get(name)?;
        let connector = connector.as_ref()?;
        let newest = match task {
            Some(task) if task.generation > connector.generation => task,
            Some(task)
                if task.generation == connector.generation && connector.state == State::Running =>
            {
                task
            }
            _ => connector,
        };
        Some(Status {
            state: newest.state,
            trace: newest.trace.clone(),
            worker_id: Some(newest.worker_id.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_records_read_back_as_written() {
        let config = BTreeMap::from([("a".to_owned(), "1".to_owned())]);
        let value = connector_value(&config, 7);
        assert_eq!(
            parse_config("connector-x-y", Some(value.as_bytes())).unwrap(),
            ConfigRecord::Connector {
                name: "x-y".into(),
                config: Some((config, 7))
            }
        );
        let stopped = target_value(TargetState::Stopped);
        assert!(stopped.contains(r#""state":"PAUSED""#), "{stopped}");
        assert_eq!(
            parse_config("target-state-x", Some(stopped.as_bytes())).unwrap(),
            ConfigRecord::Target {
                name: "x".into(),
                target: Some(TargetState::Stopped)
            }
        );
        assert_eq!(
            parse_config("connector-x", None).unwrap(),
            ConfigRecord::Connector {
                name: "x".into(),
                config: None
            }
        );
        assert_eq!(
            parse_config("restart-connector-x", Some(restart_value(true).as_bytes())).unwrap(),
            ConfigRecord::Restart {
                name: "x".into(),
                only_failed: true
            }
        );
        assert_eq!(
            parse_config("session-key", Some(b"{}")).unwrap(),
            ConfigRecord::Other
        );
        assert!(parse_config("connector-x", Some(b"[]")).is_err());
    }

    #[test]
    fn a_status_from_an_older_owner_is_ignored() {
        let mut view = StatusView::default();
        let running = Status::of(State::Running);
        let (c, t) = status_records(&running, "w2:8083", 2);
        view.apply(StatusKey::Connector("x".into()), Some(c));
        view.apply(StatusKey::Task("x".into()), t);
        let (c, t) = status_records(&Status::of(State::Unassigned), "w1:8083", 1);
        view.apply(StatusKey::Connector("x".into()), Some(c));
        view.apply(StatusKey::Task("x".into()), t);
        let status = view.status("x").unwrap();
        assert_eq!(status.state, State::Running);
        assert_eq!(status.worker_id.as_deref(), Some("w2:8083"));
        assert_eq!(view.generation("x"), 2);
    }

    #[test]
    fn the_newest_generation_wins_in_whichever_order_the_records_are_read() {
        let (old_c, old_t) = status_records(&Status::of(State::Unassigned), "w1:8083", 1);
        let (new_c, new_t) = status_records(&Status::of(State::Running), "w2:8083", 2);
        // The new owner's task record read before the old owner's connector record.
        let mut view = StatusView::default();
        view.apply(StatusKey::Connector("x".into()), Some(old_c.clone()));
        view.apply(StatusKey::Task("x".into()), new_t);
        let status = view.status("x").unwrap();
        assert_eq!(status.state, State::Running);
        assert_eq!(status.worker_id.as_deref(), Some("w2:8083"));
        // The new owner's connector record read before the old owner's task record.
        let mut view = StatusView::default();
        view.apply(StatusKey::Connector("x".into()), Some(new_c));
        view.apply(StatusKey::Task("x".into()), old_t);
        let status = view.status("x").unwrap();
        assert_eq!(status.state, State::Running);
        assert_eq!(status.worker_id.as_deref(), Some("w2:8083"));
        // A release half read: the connector's UNASSIGNED wins over its task's RUNNING.
        let (running_c, running_t) = status_records(&Status::of(State::Running), "w1:8083", 1);
        let mut view = StatusView::default();
        view.apply(StatusKey::Connector("x".into()), Some(running_c));
        view.apply(StatusKey::Task("x".into()), running_t);
        view.apply(StatusKey::Connector("x".into()), Some(old_c));
        assert_eq!(view.status("x").unwrap().state, State::Unassigned);
    }

    #[test]
    fn a_failure_is_the_tasks_and_reads_back_with_its_trace() {
        let mut view = StatusView::default();
        let failed = Status::failed("boom".into());
        let (c, t) = status_records(&failed, "w:1", 1);
        let value = status_value(t.as_ref().unwrap());
        assert_eq!(
            parse_status("status-task-x-0", value.as_bytes()).unwrap(),
            t.clone().unwrap()
        );
        view.apply(parse_status_key("status-connector-x").unwrap(), Some(c));
        view.apply(parse_status_key("status-task-x-0").unwrap(), t);
        let status = view.status("x").unwrap();
        assert_eq!(
            (status.state, status.trace.as_deref()),
            (State::Failed, Some("boom"))
        );
        assert_eq!(parse_status_key("status-topic-t:connector-x"), None);
    }
}
