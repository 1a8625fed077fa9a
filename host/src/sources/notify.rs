//! Debezium's notifications about the initial snapshot (`notification.enabled.channels`):
//! `sink` sends each as a record to `notification.sink.topic.name` (through the transforms,
//! in order with the snapshot's rows, as Debezium does), `log` writes it as an INFO line in
//! Debezium's form. Types: `STARTED`, `IN_PROGRESS` (per table), `TABLE_SCAN_COMPLETED` (per
//! table, with its row count), `COMPLETED`, `ABORTED`, and `SKIPPED` when a run needs no
//! snapshot. The records equal Debezium's (`tests/golden/pg-notifications.jsonl`) but for
//! their random `id` and `timestamp`.

use std::sync::{Arc, LazyLock};

use crate::config::{ConfigError, Key, Properties, declare_keys};
use crate::event::{Data, Record, Schema, SchemaType, Value};
use crate::sources::metrics::now_ms;

declare_keys! {
    /// `notification.enabled.channels`.
    CHANNELS = Key::list("notification.enabled.channels")
        .check(channels)
        .group("Notifications")
        .doc("Where notifications about the initial snapshot go: sink (records on \
              notification.sink.topic.name) and/or log (INFO lines).");
    /// `notification.sink.topic.name`.
    SINK_TOPIC = Key::string("notification.sink.topic.name")
        .group("Notifications")
        .doc("The topic of the sink channel's notification records (required with the sink \
              channel; not prefixed with topic.prefix).");
}

fn channels(value: &str) -> Result<(), String> {
    for channel in value.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        match channel {
            "sink" | "log" => {}
            "jmx" => {
                return Err(
                    "jmx: Tidemark has no JMX; its notifications go to the sink or the log, \
                     and its metrics to /metrics"
                        .into(),
                );
            }
            other => return Err(format!("{other}: expected sink or log")),
        }
    }
    Ok(())
}

/// Debezium's `aggregate_type` of initial-snapshot notifications.
const INITIAL_SNAPSHOT: &str = "Initial Snapshot";

/// Debezium's `aggregate_type` of incremental-snapshot notifications.
const INCREMENTAL_SNAPSHOT: &str = "Incremental Snapshot";

static KEY_SCHEMA: LazyLock<Arc<Schema>> = LazyLock::new(|| {
    Arc::new(
        Schema::new(SchemaType::Struct)
            .field("id", Schema::new(SchemaType::String))
            .named("io.debezium.connector.common.NotificationKey")
            .versioned(1),
    )
});

static VALUE_SCHEMA: LazyLock<Arc<Schema>> = LazyLock::new(|| {
    Arc::new(
        Schema::new(SchemaType::Struct)
            .field("id", Schema::new(SchemaType::String))
            .field("type", Schema::new(SchemaType::String))
            .field("aggregate_type", Schema::new(SchemaType::String))
            .field(
                "additional_data",
                Schema::map(
                    Schema::new(SchemaType::String),
                    Schema::new(SchemaType::String),
                )
                .optional(),
            )
            .field("timestamp", Schema::new(SchemaType::Int64))
            .named("io.debezium.connector.common.Notification")
            .versioned(1),
    )
});

/// Where a connector's notifications go.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Notifier {
    /// The sink channel's topic.
    sink_topic: Option<String>,
    /// The log channel.
    log: bool,
    /// `connector_name` in every notification: the `topic.prefix`, as Debezium sets it.
    connector_name: String,
}

impl Notifier {
    /// Reads `notification.enabled.channels` and `notification.sink.topic.name`.
    pub fn from_properties(
        props: &Properties,
        topic_prefix: &str,
    ) -> Result<Notifier, ConfigError> {
        let channels = props.items(&CHANNELS)?;
        let sink = channels.iter().any(|c| c == "sink");
        let sink_topic = match props.value(&SINK_TOPIC)? {
            Some(topic) if sink => Some(topic.to_owned()),
            None if sink => {
                return Err(ConfigError::Missing {
                    key: SINK_TOPIC.name.to_string(),
                    hint: "notification.enabled.channels includes sink: name the topic of the \
                           notification records"
                        .into(),
                });
            }
            _ => None,
        };
        Ok(Notifier {
            sink_topic,
            log: channels.iter().any(|c| c == "log"),
            connector_name: topic_prefix.to_owned(),
        })
    }

    /// Whether any channel is enabled.
    pub fn enabled(&self) -> bool {
        self.sink_topic.is_some() || self.log
    }

    /// Notifies an initial-snapshot event of `kind` with `data` (besides `connector_name`):
    /// logs it on the log channel, and returns the sink channel's record, if any.
    pub fn initial_snapshot(&self, kind: &str, data: &[(&str, String)]) -> Option<Record> {
        self.notify(
            INITIAL_SNAPSHOT,
            kind,
            &uuid::Uuid::new_v4().to_string(),
            data,
        )
    }

    /// Notifies an incremental-snapshot event of `kind` with `data`, as
    /// [`Notifier::initial_snapshot`] does; its id is `signal`, the id of the signal that
    /// started the snapshot (as Debezium's).
    pub fn incremental_snapshot(
        &self,
        kind: &str,
        signal: &str,
        data: &[(&str, String)],
    ) -> Option<Record> {
        self.notify(INCREMENTAL_SNAPSHOT, kind, signal, data)
    }

    fn notify(
        &self,
        aggregate: &str,
        kind: &str,
        id: &str,
        data: &[(&str, String)],
    ) -> Option<Record> {
        if !self.enabled() {
            return None;
        }
        let timestamp = now_ms();
        let mut additional: Vec<(&str, String)> = data.to_vec();
        additional.push(("connector_name", self.connector_name.clone()));
        if self.log {
            let pairs: Vec<String> = additional.iter().map(|(k, v)| format!("{k}={v}")).collect();
            tracing::info!(
                "[Notification Service]  {{id='{id}', aggregateType='{aggregate}', type='{kind}', additionalData={{{}}}, timestamp={timestamp}}}",
                pairs.join(", ")
            );
        }
        let topic = self.sink_topic.as_ref()?;
        let key = Value::Struct(vec![Value::from(id)]);
        let value = Value::Struct(vec![
            Value::from(id),
            Value::from(kind),
            Value::from(aggregate),
            Value::Map(
                additional
                    .into_iter()
                    .map(|(k, v)| (Value::from(k), Value::from(v)))
                    .collect(),
            ),
            Value::Int64(timestamp),
        ]);
        Some(Record::new(
            topic.clone(),
            Some(Data::new(KEY_SCHEMA.clone(), key)),
            Some(Data::new(VALUE_SCHEMA.clone(), value)),
        ))
    }
}

impl Notifier {
    /// `IN_PROGRESS`: the snapshot starts reading `table` of `collections`.
    pub fn table_started(&self, table: &str, collections: &str) -> Option<Record> {
        self.initial_snapshot(
            "IN_PROGRESS",
            &[
                ("current_collection_in_progress", table.to_owned()),
                ("data_collections", collections.to_owned()),
            ],
        )
    }

    /// `TABLE_SCAN_COMPLETED`: every one of the `rows` of `table` was read.
    pub fn table_scanned(&self, table: &str, collections: &str, rows: u64) -> Option<Record> {
        self.initial_snapshot(
            "TABLE_SCAN_COMPLETED",
            &[
                ("scanned_collection", table.to_owned()),
                ("data_collections", collections.to_owned()),
                ("total_rows_scanned", rows.to_string()),
                ("status", "SUCCEEDED".into()),
            ],
        )
    }
}

/// The `additional_data` of a table's notifications: `data_collections` lists the snapshot's
/// tables in scan order (Debezium's `IN_PROGRESS` lists them in a Java hash set's order,
/// an accident of its implementation; its `TABLE_SCAN_COMPLETED` uses scan order).
pub fn collections(tables: &[String]) -> String {
    tables.join(",")
}

/// A position as Debezium's notifications show a key: the value of a one-column key, else
/// the values in brackets.
pub fn key_label(position: &[String]) -> String {
    match position {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Properties {
        Properties::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn key_labels_read_like_debeziums_keys() {
        assert_eq!(key_label(&["7".into()]), "7");
        assert_eq!(key_label(&["1".into(), "a".into()]), "[1, a]");
    }

    #[test]
    fn channels_are_checked_and_the_sink_needs_a_topic() {
        let none = Notifier::from_properties(&props(&[]), "p").unwrap();
        assert!(!none.enabled());
        assert!(none.initial_snapshot("STARTED", &[]).is_none());
        let error =
            Notifier::from_properties(&props(&[("notification.enabled.channels", "sink")]), "p")
                .unwrap_err();
        assert!(
            error.to_string().contains("notification.sink.topic.name"),
            "{error}"
        );
        let sink = Notifier::from_properties(
            &props(&[
                ("notification.enabled.channels", "sink,log"),
                ("notification.sink.topic.name", "n"),
            ]),
            "p",
        )
        .unwrap();
        let record = sink
            .initial_snapshot(
                "IN_PROGRESS",
                &[("current_collection_in_progress", "s.t".into())],
            )
            .unwrap();
        assert_eq!(record.topic, "n");
        let Value::Struct(fields) = &record.value.unwrap().value else {
            panic!("a struct")
        };
        assert_eq!(fields[1], Value::from("IN_PROGRESS"));
        assert_eq!(
            fields[3],
            Value::Map(vec![
                (
                    Value::from("current_collection_in_progress"),
                    Value::from("s.t")
                ),
                (Value::from("connector_name"), Value::from("p")),
            ])
        );
    }
}
