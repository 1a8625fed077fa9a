//! The outbox router's settings.

use tidemark_sdk::Config;

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

impl Settings {
    /// Reads and checks the settings; errors name the setting. Also returns warnings to
    /// log once.
    pub fn parse(config: &Config) -> Result<(Settings, Vec<String>), String> {
        let text = |key: &str, default: &str| config.get(key).unwrap_or(default).to_owned();
        let optional = |key: &str| {
            config
                .get(key)
                .filter(|v| !v.trim().is_empty())
                .map(str::to_owned)
        };
        let regex = text("route.topic.regex", "(?<routedByValue>.*)");
        let replacement = text("route.topic.replacement", "outbox.event.${routedByValue}");
        let route = JavaRegex::new(&regex, &replacement).map_err(|e| {
            format!("settings 'route.topic.regex' / 'route.topic.replacement': {e}")
        })?;
        let additional = parse_additional(config.get("table.fields.additional.placement"))?;
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
            event_id: text("table.field.event.id", "id"),
            event_key: text("table.field.event.key", "aggregateid"),
            payload: text("table.field.event.payload", "payload"),
            timestamp: optional("table.field.event.timestamp"),
            schema_version: optional("table.field.event.schema.version"),
            route_by: text("route.by.field", "aggregatetype"),
            route,
            tombstone_on_empty_payload: boolean(config, "route.tombstone.on.empty.payload")?,
            additional,
            ignore_missing: choice(
                config,
                "table.field.additional.missing",
                &[("error", false), ("ignore", true)],
            )?
            .unwrap_or(false),
            invalid_op: choice(
                config,
                "table.op.invalid.behavior",
                &[
                    ("warn", InvalidOp::Warn),
                    ("error", InvalidOp::Error),
                    ("fatal", InvalidOp::Fatal),
                ],
            )?
            .unwrap_or(InvalidOp::Warn),
            expand_json: boolean(config, "table.expand.json.payload")?,
            json_nulls: choice(
                config,
                "table.json.payload.null.behavior",
                &[
                    ("ignore", NullBehavior::Ignore),
                    ("optional_bytes", NullBehavior::OptionalBytes),
                ],
            )?
            .unwrap_or(NullBehavior::Ignore),
            field_names: choice(
                config,
                "field.name.adjustment.mode",
                &[
                    ("none", Mode::None),
                    ("avro", Mode::Avro),
                    ("avro_unicode", Mode::AvroUnicode),
                ],
            )?
            .unwrap_or(Mode::None),
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

/// `column:placement[:alias]` entries, comma separated.
fn parse_additional(setting: Option<&str>) -> Result<Vec<Additional>, String> {
    const KEY: &str = "table.fields.additional.placement";
    let Some(setting) = setting.filter(|s| !s.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    setting
        .split(',')
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

fn boolean(config: &Config, key: &str) -> Result<bool, String> {
    Ok(choice(config, key, &[("true", true), ("false", false)])?.unwrap_or(false))
}

/// One of the allowed values (any case, blanks trimmed), `None` when unset.
fn choice<T: Copy>(config: &Config, key: &str, allowed: &[(&str, T)]) -> Result<Option<T>, String> {
    let Some(text) = config.get(key) else {
        return Ok(None);
    };
    allowed
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(text.trim()))
        .map(|(_, value)| Some(*value))
        .ok_or_else(|| {
            let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
            format!(
                "setting '{key}' must be one of {}, not {text:?}",
                names.join(", ")
            )
        })
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
