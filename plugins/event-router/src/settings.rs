//! The outbox router's settings.

use tidemark_sdk::{Config, ConfigDef, Importance, Key, KeyType};

use crate::json_schema::NullBehavior;
use connect_common::avro_names::Mode;
use connect_common::java_regex::JavaRegex;

/// Where an additional outbox column goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// A header.
    Header,
    /// A field of the value, next to `payload`.
    Envelope,
    /// The Kafka partition (records here carry none: the column is only checked).
    Partition,
}

/// One `table.fields.additional.placement` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Additional {
    pub field: String,
    pub placement: Placement,
    pub alias: String,
}

/// What to do with an update of an outbox row (`table.op.invalid.behavior`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidOp {
    Warn,
    Error,
    Fatal,
}

/// Everything `configure` reads.
#[derive(Debug, Clone)]
pub struct Settings {
    pub event_id: String,
    pub event_key: String,
    pub payload: String,
    pub timestamp: Option<String>,
    pub schema_version: Option<String>,
    pub route_by: String,
    pub route: JavaRegex,
    pub tombstone_on_empty_payload: bool,
    pub additional: Vec<Additional>,
    /// `table.field.additional.missing=ignore`: skip additional columns a row lacks.
    pub ignore_missing: bool,
    pub invalid_op: InvalidOp,
    pub expand_json: bool,
    pub json_nulls: NullBehavior,
    pub field_names: Mode,
}

/// Debezium's keys, as this router reads them.
pub fn definition() -> ConfigDef {
    let key = |name: &str, key_type: KeyType, importance: Importance, doc: &str| {
        Key::new(name, key_type, importance, doc)
    };
    let column = |name: &str, default: &str, doc: &str| {
        key(name, KeyType::String, Importance::Low, doc).default_value(default)
    };
    ConfigDef::new()
        .key(column("table.field.event.id", "id", "The outbox column holding the event's id."))
        .key(column(
            "table.field.event.key",
            "aggregateid",
            "The outbox column holding the event's key.",
        ))
        .key(key(
            "table.field.event.timestamp",
            KeyType::String,
            Importance::Low,
            "The outbox column holding the event's timestamp; unset, the change event's.",
        ))
        .key(column(
            "table.field.event.payload",
            "payload",
            "The outbox column holding the event's payload.",
        ))
        .key(key(
            "table.field.event.schema.version",
            KeyType::String,
            Importance::Low,
            "The outbox column holding the version of the value's schema.",
        ))
        .key(key(
            "table.fields.additional.placement",
            KeyType::List,
            Importance::High,
            "Extra outbox columns, as column:placement[:alias] with placement header, envelope or partition.",
        ))
        .key(
            key(
                "table.field.additional.missing",
                KeyType::String,
                Importance::Low,
                "What a row lacking an additional column does: error or ignore.",
            )
            .default_value("error")
            .allowed_ignoring_case(&["error", "ignore"]),
        )
        .key(
            key(
                "table.op.invalid.behavior",
                KeyType::String,
                Importance::Medium,
                "What an update of an outbox row does: warn, error or fatal.",
            )
            .default_value("warn")
            .allowed_ignoring_case(&["warn", "error", "fatal"]),
        )
        .key(
            key(
                "table.expand.json.payload",
                KeyType::Boolean,
                Importance::Medium,
                "Whether a JSON string payload is expanded into a struct.",
            )
            .default_value("false"),
        )
        .key(
            key(
                "table.json.payload.null.behavior",
                KeyType::String,
                Importance::Medium,
                "How expanded JSON nulls are typed: ignore or optional_bytes.",
            )
            .default_value("ignore")
            .allowed_ignoring_case(&["ignore", "optional_bytes"]),
        )
        .key(column(
            "route.by.field",
            "aggregatetype",
            "The outbox column whose value routes the event.",
        ))
        .key(
            key(
                "route.topic.regex",
                KeyType::String,
                Importance::Low,
                "The regular expression over route.by.field's value for route.topic.replacement.",
            )
            .default_value("(?<routedByValue>.*)"),
        )
        .key(
            key(
                "route.topic.replacement",
                KeyType::String,
                Importance::High,
                "The event's topic, in Java's replacement syntax over route.topic.regex.",
            )
            .default_value("outbox.event.${routedByValue}"),
        )
        .key(
            key(
                "route.tombstone.on.empty.payload",
                KeyType::Boolean,
                Importance::Low,
                "Whether an empty payload becomes a tombstone.",
            )
            .default_value("false"),
        )
        .key(
            key(
                "field.name.adjustment.mode",
                KeyType::String,
                Importance::Low,
                "How field names of expanded payloads are made valid: none, avro or avro_unicode.",
            )
            .default_value("none")
            .allowed_ignoring_case(&["none", "avro", "avro_unicode"]),
        )
}

impl Settings {
    /// Reads and checks the settings; errors name the setting. Also returns warnings to
    /// log once.
    pub fn parse(config: &Config) -> Result<(Settings, Vec<String>), String> {
        let parsed = definition().parse(config)?;
        let text = |key: &str| parsed.string(key).unwrap_or_default().to_owned();
        let optional = |key: &str| {
            parsed
                .string(key)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let flag = |key: &str| parsed.boolean(key) == Some(true);
        let route = JavaRegex::new(&text("route.topic.regex"), &text("route.topic.replacement"))
            .map_err(|e| {
                format!("settings 'route.topic.regex' / 'route.topic.replacement': {e}")
            })?;
        let additional = parse_additional(&parsed.list("table.fields.additional.placement"))?;
        let mut warnings = Vec::new();
        if additional
            .iter()
            .any(|a| a.placement == Placement::Partition)
        {
            warnings.push(
                "table.fields.additional.placement: 'partition' placements have no effect here \
                 (records carry no Kafka partition); the columns are still checked"
                    .to_owned(),
            );
        }
        let settings = Settings {
            event_id: text("table.field.event.id"),
            event_key: text("table.field.event.key"),
            payload: text("table.field.event.payload"),
            timestamp: optional("table.field.event.timestamp"),
            schema_version: optional("table.field.event.schema.version"),
            route_by: text("route.by.field"),
            route,
            tombstone_on_empty_payload: flag("route.tombstone.on.empty.payload"),
            additional,
            ignore_missing: parsed.string("table.field.additional.missing") == Some("ignore"),
            invalid_op: match parsed.string("table.op.invalid.behavior") {
                Some("error") => InvalidOp::Error,
                Some("fatal") => InvalidOp::Fatal,
                _ => InvalidOp::Warn,
            },
            expand_json: flag("table.expand.json.payload"),
            json_nulls: match parsed.string("table.json.payload.null.behavior") {
                Some("optional_bytes") => NullBehavior::OptionalBytes,
                _ => NullBehavior::Ignore,
            },
            field_names: match parsed.string("field.name.adjustment.mode") {
                Some("avro") => Mode::Avro,
                Some("avro_unicode") => Mode::AvroUnicode,
                _ => Mode::None,
            },
        };
        Ok((settings, warnings))
    }

    /// True when no additional column goes into the value: the value is the payload itself.
    pub fn payload_only(&self) -> bool {
        !self
            .additional
            .iter()
            .any(|a| a.placement == Placement::Envelope)
    }
}

/// `column:placement[:alias]` entries.
fn parse_additional(entries: &[String]) -> Result<Vec<Additional>, String> {
    const KEY: &str = "table.fields.additional.placement";
    entries
        .iter()
        .filter(|entry| !entry.trim().is_empty())
        .map(|entry| {
            let parts: Vec<&str> = entry.split(':').map(str::trim).collect();
            let (field, placement, alias) = match parts.as_slice() {
                [field, placement] => (*field, *placement, *field),
                [field, placement, alias] => (*field, *placement, *alias),
                _ => {
                    return Err(format!(
                        "setting '{KEY}': a comma-separated list of valid String pairs or trios \
                         is expected but got {entry:?}"
                    ));
                }
            };
            let placement = match placement.to_ascii_lowercase().as_str() {
                "header" => Placement::Header,
                "envelope" => Placement::Envelope,
                "partition" => Placement::Partition,
                _ => {
                    return Err(format!(
                        "setting '{KEY}': placement must be header, envelope or partition, not \
                         {placement:?}"
                    ));
                }
            };
            Ok(Additional {
                field: field.to_owned(),
                placement,
                alias: alias.to_owned(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(entries: &[(&str, &str)]) -> Result<(Settings, Vec<String>), String> {
        Settings::parse(&Config::from_pairs(entries))
    }

    #[test]
    fn defaults_follow_debezium() {
        let (s, warnings) = parse(&[]).unwrap();
        assert_eq!(
            (
                s.event_id.as_str(),
                s.event_key.as_str(),
                s.payload.as_str(),
                s.route_by.as_str()
            ),
            ("id", "aggregateid", "payload", "aggregatetype")
        );
        assert_eq!(
            s.route.replace_whole("Order").as_deref(),
            Some("outbox.event.Order")
        );
        assert!(!s.tombstone_on_empty_payload && !s.expand_json && !s.ignore_missing);
        assert_eq!(s.invalid_op, InvalidOp::Warn);
        assert!(s.payload_only());
        assert!(warnings.is_empty());
    }

    #[test]
    fn additional_placements() {
        let (s, warnings) = parse(&[(
            "table.fields.additional.placement",
            "type:header:eventType, aggregateid:envelope ,p:partition",
        )])
        .unwrap();
        assert_eq!(
            s.additional,
            vec![
                Additional {
                    field: "type".into(),
                    placement: Placement::Header,
                    alias: "eventType".into()
                },
                Additional {
                    field: "aggregateid".into(),
                    placement: Placement::Envelope,
                    alias: "aggregateid".into()
                },
                Additional {
                    field: "p".into(),
                    placement: Placement::Partition,
                    alias: "p".into()
                },
            ]
        );
        assert!(!s.payload_only());
        assert_eq!(warnings.len(), 1);
        let err = parse(&[("table.fields.additional.placement", "a")]).unwrap_err();
        assert!(err.contains("'table.fields.additional.placement'"), "{err}");
        assert!(parse(&[("table.fields.additional.placement", "a:somewhere")]).is_err());
    }

    #[test]
    fn enums_and_booleans_name_the_setting() {
        let err = parse(&[("table.op.invalid.behavior", "explode")]).unwrap_err();
        assert!(err.contains("'table.op.invalid.behavior'"), "{err}");
        let err = parse(&[("table.expand.json.payload", "yes")]).unwrap_err();
        assert!(err.contains("'table.expand.json.payload'"), "{err}");
        let (s, _) = parse(&[("table.op.invalid.behavior", "FATAL")]).unwrap();
        assert_eq!(s.invalid_op, InvalidOp::Fatal);
        let err = parse(&[("route.topic.regex", "(")]).unwrap_err();
        assert!(err.contains("'route.topic.regex'"), "{err}");
    }
}
