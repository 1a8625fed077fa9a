//! `event-router`: Debezium's outbox `io.debezium.transforms.outbox.EventRouter`
//! (Debezium 3.6). Turns each row inserted into an outbox table into an event record.
//!
//! The event: topic = `route.by.field` (default `aggregatetype`) rewritten by
//! `route.topic.regex` / `route.topic.replacement` (default `(?<routedByValue>.*)` →
//! `outbox.event.${routedByValue}`); key = `table.field.event.key` (default `aggregateid`)
//! with its column schema; value = `table.field.event.payload` (default `payload`) with its
//! column schema, or, when some `table.fields.additional.placement` entry says `envelope`,
//! a struct `<namespace>.<routed>.Value` of `payload` and those columns; header `id` =
//! `table.field.event.id` (default `id`) plus the `header` placements; timestamp = the
//! envelope's `ts_ms`, or `table.field.event.timestamp` (a Debezium Timestamp, MicroTimestamp
//! or NanoTimestamp column).
//!
//! Also: `route.tombstone.on.empty.payload` (a null or blank payload becomes a tombstone),
//! `table.expand.json.payload` (a JSON string payload becomes a struct with an inferred schema;
//! `table.json.payload.null.behavior`, `field.name.adjustment.mode`),
//! `table.field.event.schema.version`, `table.field.additional.missing` (`error`/`ignore`),
//! `table.op.invalid.behavior` (`warn`/`error`/`fatal` for updates). Deletes and tombstones are
//! removed; records that are not change events pass unchanged. `partition` placements are
//! checked but have no effect (records carry no partition). A record Debezium would fail on
//! fails (the host applies `errors.tolerance`), and so does an update with `fatal`.

mod event;
mod json_schema;
mod settings;

use std::collections::HashMap;

use tidemark_sdk::{
    Config, LogLevel, Outcome, Part, Record, Schema, Transform, Value, export_transform,
};

use event::{Routed, Router};
use settings::{InvalidOp, Settings};

/// How many envelope schemas are kept.
const SCHEMA_CACHE_SIZE: usize = 64;

/// The EventRouter transform.
pub struct EventRouter {
    router: Router,
    /// Envelope schemas by value schema id (`None`: not a change event).
    schemas: HashMap<u64, Option<Schema>>,
}

impl Transform for EventRouter {
    fn config_def() -> Option<tidemark_sdk::ConfigDef> {
        Some(settings::definition())
    }

    fn configure(config: Config) -> Result<Self, String> {
        let (settings, warnings) = Settings::parse(&config)?;
        for warning in warnings {
            tidemark_sdk::log(LogLevel::Warn, &warning);
        }
        Ok(EventRouter {
            router: Router::new(settings),
            schemas: HashMap::new(),
        })
    }

    fn apply(&mut self, record: &mut Record<'_>) -> Outcome {
        self.process(record).unwrap_or_else(Outcome::Fail)
    }
}

impl EventRouter {
    fn process(&mut self, record: &mut Record<'_>) -> Result<Outcome, String> {
        if record.is_tombstone() {
            return Ok(Outcome::Drop);
        }
        let Some(id) = record.schema_id(Part::Value) else {
            return Ok(Outcome::Keep);
        };
        if !self.schemas.contains_key(&id) {
            let schema = record
                .schema(Part::Value, "")
                .map_err(|e| format!("cannot read the value schema: {e:?}"))?
                .filter(|s| s.name.as_deref().is_some_and(|n| n.ends_with(".Envelope")));
            if self.schemas.len() >= SCHEMA_CACHE_SIZE {
                self.schemas.clear();
            }
            self.schemas.insert(id, schema);
        }
        let Some(Some(schema)) = self.schemas.get(&id) else {
            return Ok(Outcome::Keep);
        };
        let fields = match record.get(Part::Value, "") {
            Ok(Some(Value::Struct(fields))) => fields,
            Ok(_) => return Err("the envelope is not a struct".into()),
            Err(e) => return Err(format!("cannot read the envelope: {e:?}")),
        };
        let event = match self.router.route(schema, &fields)? {
            Routed::Delete => return Ok(Outcome::Drop),
            Routed::Update => return Ok(self.unexpected_update(record)),
            Routed::Event(event) => *event,
        };
        for warning in &event.warnings {
            tidemark_sdk::log(LogLevel::Warn, warning);
        }
        record
            .replace(Part::Value, event.value)
            .map_err(|e| format!("the host refused the event value: {e:?}"))?;
        record
            .replace(Part::Key, Some(event.key))
            .map_err(|e| format!("the host refused the event key: {e:?}"))?;
        let mut headers = record.headers();
        headers.extend(event.headers);
        record.set_headers(headers);
        record.set_timestamp(event.timestamp);
        record.set_topic(&event.topic);
        Ok(Outcome::Keep)
    }

    /// `table.op.invalid.behavior` for an update of an outbox row: logged and dropped, or with
    /// `fatal` the record fails (the host's `errors.tolerance` decides what follows).
    fn unexpected_update(&self, record: &Record<'_>) -> Outcome {
        let key = record
            .key_field("")
            .map_or_else(|| "null".to_owned(), |k| format!("{k:?}"));
        let (level, message) = match self.router.settings().invalid_op {
            InvalidOp::Warn => (
                LogLevel::Warn,
                format!("Unexpected update message received {key} and ignored"),
            ),
            InvalidOp::Error => (
                LogLevel::Error,
                format!("Unexpected update message received {key} and ignored"),
            ),
            InvalidOp::Fatal => {
                return Outcome::Fail(format!(
                    "Unexpected update message received {key} (table.op.invalid.behavior=fatal)"
                ));
            }
        };
        tidemark_sdk::log(level, &message);
        Outcome::Drop
    }
}

export_transform!(EventRouter);
