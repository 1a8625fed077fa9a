//! Debezium's signals: requests sent to a running connector (`execute-snapshot`,
//! `stop-snapshot`, `pause-snapshot`, `resume-snapshot`, `log`), each `{id, type, data}` with
//! `data` a JSON document, through the channels `signal.enabled.channels` names: `source`
//! (rows inserted into the `signal.data.collection` table, read from the change stream), `kafka`
//! (records of `signal.kafka.topic`, see [`super::signal_kafka`]), `file`
//! (`signal.file`, one JSON signal per line, read as lines are added) and the worker's REST API
//! (`POST /connectors/{name}/signals`).

use serde_json::Value as Json;

use crate::config::{ConfigError, Key, Properties, declare_keys};

declare_keys! {
    /// `signal.enabled.channels`.
    CHANNELS = Key::list("signal.enabled.channels")
        .default("source")
        .check(channels)
        .group("Signals")
        .doc("Where the connector takes signals from: source (inserts into \
              signal.data.collection), kafka (signal.kafka.topic), file (signal.file) and rest \
              (POST /connectors/{name}/signals on the worker).");
    /// `signal.data.collection`.
    DATA_COLLECTION = Key::string("signal.data.collection")
        .group("Signals")
        .doc("The signal table (schema.table for Postgres, database.table for MariaDB), with \
              columns id, type and data, for the source channel; on Postgres it must be in the \
              publication, on MariaDB its binlog rows are read whatever the table filters.");
    /// `signal.file`.
    FILE = Key::string("signal.file")
        .group("Signals")
        .doc("The file of the file channel: each line a signal {\"id\",\"type\",\"data\"}, \
              acted on as it is appended.");
    /// `incremental.snapshot.chunk.size`.
    CHUNK_SIZE = Key::int("incremental.snapshot.chunk.size")
        .default("1024")
        .range(Some(1), None)
        .group("Signals")
        .doc("The rows an incremental snapshot reads per chunk, in primary-key order, between \
              two watermarks of the change stream.");
    /// `incremental.snapshot.watermarking.strategy`.
    WATERMARKING = Key::string("incremental.snapshot.watermarking.strategy")
        .default("insert_insert")
        .choices(&["insert_insert", "insert_delete"])
        .group("Signals")
        .doc("Debezium's choice of window markers in the signal table. Tidemark writes no \
              markers (Postgres: logical decoding messages; MariaDB: each chunk read at an \
              exact binlog point), so both values behave the same (docs/snapshots.md); \
              accepted so Debezium configs carry over.");
    /// `read.only`.
    READ_ONLY = Key::boolean("read.only")
        .default("false")
        .group("Signals")
        .doc("Debezium's promise to write nothing into the source database for incremental \
              snapshots. Tidemark's incremental snapshots never write a table (Postgres and \
              MariaDB), so they work the same either way; accepted so Debezium configs carry \
              over.");
    /// `signal.poll.interval.ms`.
    POLL_INTERVAL = Key::long("signal.poll.interval.ms")
        .default("5000")
        .range(Some(1), None)
        .group("Signals")
        .doc("How often, in milliseconds, the file channel looks for new lines.");
}

fn channels(value: &str) -> Result<(), String> {
    for channel in value.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        match channel {
            "source" | "file" | "rest" | "kafka" => {}
            "jmx" => return Err("jmx: Tidemark has no JMX; use rest".into()),
            other => return Err(format!("{other}: expected source, kafka, file or rest")),
        }
    }
    Ok(())
}

/// The signal settings of a connector.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SignalConfig {
    /// The source channel's table, `(schema or database, table)`, when that channel is on.
    pub table: Option<(String, String)>,
    /// The file channel's file, when that channel is on.
    pub file: Option<String>,
    /// The Kafka channel's topic and consumer, when that channel is on.
    pub kafka: Option<super::signal_kafka::KafkaSignals>,
    /// Whether the REST channel is on.
    pub rest: bool,
    pub poll_interval: std::time::Duration,
    /// `incremental.snapshot.chunk.size`.
    pub chunk_size: usize,
}

impl SignalConfig {
    /// Reads the signal keys. The source channel without a signal table is off, as in
    /// Debezium; the file channel needs its file.
    pub fn from_properties(props: &Properties) -> Result<SignalConfig, ConfigError> {
        let channels = props.items(&CHANNELS)?;
        let on = |name: &str| channels.iter().any(|c| c == name);
        let table = match (on("source"), props.value(&DATA_COLLECTION)?) {
            (true, Some(collection)) => {
                let (schema, table) =
                    collection
                        .split_once('.')
                        .ok_or_else(|| ConfigError::Invalid {
                            key: DATA_COLLECTION.name.to_string(),
                            value: collection.to_owned(),
                            problem: "expected schema.table (Postgres) or database.table (MySQL)"
                                .into(),
                        })?;
                Some((schema.to_owned(), table.to_owned()))
            }
            _ => None,
        };
        let file = match (on("file"), props.value(&FILE)?) {
            (true, Some(file)) => Some(file.to_owned()),
            (true, None) => {
                return Err(ConfigError::Missing {
                    key: FILE.name.to_string(),
                    hint: "the file channel (signal.enabled.channels=file) reads this file".into(),
                });
            }
            (false, _) => None,
        };
        let kafka = match on("kafka") {
            true => Some(super::signal_kafka::KafkaSignals::from_properties(props)?),
            false => None,
        };
        Ok(SignalConfig {
            table,
            file,
            kafka,
            rest: on("rest"),
            poll_interval: std::time::Duration::from_millis(props.number(&POLL_INTERVAL)?),
            chunk_size: props.number(&CHUNK_SIZE)?,
        })
    }

    /// Whether `schema.table` is the signal table.
    pub fn is_signal_table(&self, schema: &str, table: &str) -> bool {
        self.table
            .as_ref()
            .is_some_and(|(s, t)| s == schema && t == table)
    }
}

/// Refuses signal settings for a connector that takes no signals yet (`connector` names it):
/// a signal channel it would never read must not look like it works.
pub fn refuse_signals(props: &Properties, connector: &str) -> Result<(), ConfigError> {
    let signals = SignalConfig::from_properties(props)?;
    if signals.table.is_none() && signals.file.is_none() && signals.kafka.is_none() && !signals.rest
    {
        return Ok(());
    }
    let key = if signals.table.is_some() {
        &DATA_COLLECTION
    } else {
        &CHANNELS
    };
    Err(ConfigError::Invalid {
        key: key.name.to_string(),
        value: props.value(key)?.unwrap_or_default().to_owned(),
        problem: format!("{connector} takes no signals; remove the signal.* keys"),
    })
}

/// Whether a blocking snapshot must be refused (logged with the reason): an incremental
/// snapshot is running, or the signal's `collections` match no captured table.
pub fn refuse_blocking(
    id: &str,
    incremental_running: bool,
    no_table: bool,
    collections: &[String],
) -> bool {
    if incremental_running {
        tracing::error!(
            id,
            "signal refused: an incremental snapshot is running (stop it first, or wait for it)"
        );
    } else if no_table {
        tracing::error!(
            id,
            ?collections,
            "signal refused: the blocking snapshot's data-collections match no captured table"
        );
    }
    incremental_running || no_table
}

/// A signal as a channel delivers it.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    pub id: String,
    pub kind: String,
    /// The `data` column or field (JSON text; empty for none).
    pub data: String,
}

/// The kind of snapshot `execute-snapshot` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotKind {
    Incremental,
    Blocking,
}

/// A table's extra condition: `additional-conditions` `[{data-collection, filter}]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// A regular expression over `schema.table`.
    pub collection: String,
    /// SQL added to the chunk query's WHERE clause.
    pub filter: String,
}

/// What a signal asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    ExecuteSnapshot {
        kind: SnapshotKind,
        /// Regular expressions over `schema.table`.
        collections: Vec<String>,
        conditions: Vec<Condition>,
        surrogate_key: Option<String>,
    },
    StopSnapshot {
        kind: SnapshotKind,
        /// Regular expressions; empty: every table.
        collections: Vec<String>,
    },
    PauseSnapshot,
    ResumeSnapshot,
    Log {
        message: String,
    },
}

fn strings(data: &Json, key: &str) -> Vec<String> {
    data.get(key)
        .and_then(Json::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn kind(data: &Json, signal: &Signal) -> Result<SnapshotKind, String> {
    match data
        .get("type")
        .and_then(Json::as_str)
        .map(str::to_ascii_lowercase)
    {
        None => Ok(SnapshotKind::Incremental),
        Some(kind) if kind == "incremental" => Ok(SnapshotKind::Incremental),
        Some(kind) if kind == "blocking" => Ok(SnapshotKind::Blocking),
        Some(other) => Err(format!(
            "signal {}: snapshot type {other:?} is neither incremental nor blocking",
            signal.id
        )),
    }
}

impl Signal {
    /// A signal table row, its first three columns (`id`, `type`, `data`) as text, as
    /// Debezium reads them; `None` without an id and a type.
    pub fn from_row(mut column: impl FnMut(usize) -> Option<String>) -> Option<Signal> {
        Some(Signal {
            id: column(0)?,
            kind: column(1)?,
            data: column(2).unwrap_or_default(),
        })
    }

    /// What the signal asks for, logged: `None` (with a debug line) for a type Tidemark
    /// does not act on, or (with an error) for a known type whose data is wrong.
    pub fn accepted(&self) -> Option<Action> {
        match self.action() {
            Ok(Some(action)) => {
                tracing::info!(id = %self.id, kind = %self.kind, "signal received");
                Some(action)
            }
            Ok(None) => {
                tracing::debug!(id = %self.id, kind = %self.kind, "a signal Tidemark does not act on");
                None
            }
            Err(problem) => {
                tracing::error!("signal refused: {problem}");
                None
            }
        }
    }

    /// What the signal asks for; `None` for a type Tidemark does not act on (logged by the
    /// caller), an error for a known type whose data is wrong.
    pub fn action(&self) -> Result<Option<Action>, String> {
        let data: Json = if self.data.trim().is_empty() {
            Json::Object(Default::default())
        } else {
            serde_json::from_str(&self.data)
                .map_err(|e| format!("signal {}: its data is not JSON ({e})", self.id))?
        };
        Ok(Some(match self.kind.as_str() {
            "execute-snapshot" => {
                let collections = strings(&data, "data-collections");
                if collections.is_empty() {
                    return Err(format!(
                        "signal {}: execute-snapshot needs \"data-collections\"",
                        self.id
                    ));
                }
                let conditions = data
                    .get("additional-conditions")
                    .and_then(Json::as_array)
                    .map(|items| {
                        items
                            .iter()
                            .filter_map(|c| {
                                Some(Condition {
                                    collection: c.get("data-collection")?.as_str()?.to_owned(),
                                    filter: c.get("filter")?.as_str()?.to_owned(),
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Action::ExecuteSnapshot {
                    kind: kind(&data, self)?,
                    collections,
                    conditions,
                    surrogate_key: data
                        .get("surrogate-key")
                        .and_then(Json::as_str)
                        .filter(|k| !k.is_empty())
                        .map(str::to_owned),
                }
            }
            "stop-snapshot" => Action::StopSnapshot {
                kind: kind(&data, self)?,
                collections: strings(&data, "data-collections"),
            },
            "pause-snapshot" => Action::PauseSnapshot,
            "resume-snapshot" => Action::ResumeSnapshot,
            "log" => Action::Log {
                message: data
                    .get("message")
                    .and_then(Json::as_str)
                    .unwrap_or("")
                    .to_owned(),
            },
            _ => return Ok(None),
        }))
    }

    /// Reads a signal written as one JSON document `{"id","type","data"}` (the file and REST
    /// channels); `data` may be an object or its JSON text.
    pub fn from_json(text: &str) -> Result<Signal, String> {
        let value: Json =
            serde_json::from_str(text).map_err(|e| format!("a signal is not JSON ({e})"))?;
        let field = |name: &str| {
            value
                .get(name)
                .and_then(Json::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("a signal needs a string \"{name}\""))
        };
        let data = match value.get("data") {
            None | Some(Json::Null) => String::new(),
            Some(Json::String(text)) => text.clone(),
            Some(other) => other.to_string(),
        };
        Ok(Signal {
            id: field("id")?,
            kind: field("type")?,
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connector_without_signals_refuses_signal_settings_and_takes_the_defaults() {
        let props = |pairs: &[(&str, &str)]| {
            Properties::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        };
        assert!(refuse_signals(&props(&[]), "MariaDB").is_ok());
        assert!(refuse_signals(&props(&[("read.only", "true")]), "MariaDB").is_ok());
        let error = refuse_signals(
            &props(&[("signal.data.collection", "inventory.signals")]),
            "the MariaDB connector",
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("signal.data.collection") && error.contains("MariaDB"),
            "{error}"
        );
        let error = refuse_signals(&props(&[("signal.enabled.channels", "rest")]), "MariaDB")
            .unwrap_err()
            .to_string();
        assert!(error.contains("signal.enabled.channels"), "{error}");
    }

    fn signal(kind: &str, data: &str) -> Signal {
        Signal {
            id: "s1".into(),
            kind: kind.into(),
            data: data.into(),
        }
    }

    #[test]
    fn execute_snapshot_reads_debeziums_data() {
        let action = signal(
            "execute-snapshot",
            r#"{"data-collections": ["public.orders"], "type": "INCREMENTAL",
                "additional-conditions": [{"data-collection": "public.orders", "filter": "id > 5"}],
                "surrogate-key": "code"}"#,
        )
        .action()
        .unwrap()
        .unwrap();
        assert_eq!(
            action,
            Action::ExecuteSnapshot {
                kind: SnapshotKind::Incremental,
                collections: vec!["public.orders".into()],
                conditions: vec![Condition {
                    collection: "public.orders".into(),
                    filter: "id > 5".into()
                }],
                surrogate_key: Some("code".into()),
            }
        );
    }

    #[test]
    fn bad_signals_are_errors_naming_the_signal_and_unknown_types_are_not_actions() {
        let error = signal("execute-snapshot", "{}").action().unwrap_err();
        assert!(
            error.contains("s1") && error.contains("data-collections"),
            "{error}"
        );
        let error = signal("execute-snapshot", "{not json")
            .action()
            .unwrap_err();
        assert!(error.contains("not JSON"), "{error}");
        assert_eq!(signal("snapshot-window-open", "{}").action().unwrap(), None);
    }

    #[test]
    fn a_json_signal_takes_data_as_an_object_or_text() {
        let parsed =
            Signal::from_json(r#"{"id":"a","type":"log","data":{"message":"hello"}}"#).unwrap();
        assert_eq!(
            parsed.action().unwrap(),
            Some(Action::Log {
                message: "hello".into()
            })
        );
        assert!(Signal::from_json(r#"{"type":"log"}"#).is_err());
    }
}
