//! Worker settings: what Kafka Connect's standalone worker (or Debezium Server) configures
//! around a connector — offsets, plugins, converters and, in Tidemark, the embedded sink.

use std::path::PathBuf;
use std::time::Duration;

use super::{ConfigError, Properties};
use crate::event::JsonOptions;

/// Where offsets go when `offset.storage.file.filename` is not set (Debezium Server's
/// default place, with Tidemark's JSON format).
pub const DEFAULT_OFFSET_FILE: &str = "data/offsets.json";

/// Worker-level settings of a run.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// `offset.storage.file.filename`.
    pub offset_file: PathBuf,
    /// `offset.flush.interval.ms` (Kafka Connect's default: 60 s).
    pub flush_interval: Duration,
    /// `plugin.path`: the plugin directory.
    pub plugin_path: Option<PathBuf>,
    /// `sink.file`: JSON lines to this file; `None` or `-` for stdout.
    pub sink_file: Option<String>,
    /// `key.converter.schemas.enable`, `value.converter.schemas.enable`,
    /// `value.converter.replace.null.with.default`.
    pub json: JsonOptions,
}

impl WorkerConfig {
    /// Reads the worker settings.
    pub fn from_properties(props: &Properties) -> Result<WorkerConfig, ConfigError> {
        let flush_ms: u64 = props.parse("offset.flush.interval.ms", 60_000, "milliseconds")?;
        Ok(WorkerConfig {
            offset_file: PathBuf::from(
                props.get_or("offset.storage.file.filename", DEFAULT_OFFSET_FILE),
            ),
            flush_interval: Duration::from_millis(flush_ms.max(1)),
            plugin_path: props.get("plugin.path").map(PathBuf::from),
            sink_file: props.get("sink.file").map(str::to_owned),
            json: JsonOptions {
                key_schemas: props.parse("key.converter.schemas.enable", true, "true or false")?,
                value_schemas: props.parse(
                    "value.converter.schemas.enable",
                    true,
                    "true or false",
                )?,
                replace_null_with_default: props.parse(
                    "value.converter.replace.null.with.default",
                    true,
                    "true or false",
                )?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_defaults_and_overrides() {
        let w = WorkerConfig::from_properties(&Properties::from_pairs([("x", "y")])).unwrap();
        assert_eq!(w.offset_file, PathBuf::from(DEFAULT_OFFSET_FILE));
        assert_eq!(w.flush_interval, Duration::from_secs(60));
        assert!(w.json.key_schemas && w.json.value_schemas);
        let w = WorkerConfig::from_properties(&Properties::from_pairs([
            ("value.converter.schemas.enable", "false"),
            ("offset.flush.interval.ms", "100"),
            ("sink.file", "out.jsonl"),
        ]))
        .unwrap();
        assert!(!w.json.value_schemas);
        assert_eq!(w.flush_interval, Duration::from_millis(100));
        assert_eq!(w.sink_file.as_deref(), Some("out.jsonl"));
        let err = WorkerConfig::from_properties(&Properties::from_pairs([(
            "key.converter.schemas.enable",
            "maybe",
        )]))
        .unwrap_err();
        assert!(
            err.to_string().contains("key.converter.schemas.enable"),
            "{err}"
        );
    }
}
