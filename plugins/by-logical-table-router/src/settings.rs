//! The router's settings.

use tidemark_sdk::{Config, ConfigDef, Importance, Key, KeyType};

use connect_common::avro_names::Mode;
use connect_common::java_regex::JavaRegex;

/// The key field Debezium adds by default.
pub const DEFAULT_KEY_FIELD: &str = "__dbz__physicalTableIdentifier";

/// Everything `configure` reads.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `topic.regex` with `topic.replacement`.
    pub topic: JavaRegex,
    /// `key.enforce.uniqueness` (default true).
    pub enforce_uniqueness: bool,
    /// `key.field.name`.
    pub key_field_name: String,
    /// `key.field.regex` with `key.field.replacement`: the identifier put in the key.
    pub key_field: Option<JavaRegex>,
    /// `schema.name.adjustment.mode` (default `none`).
    pub mode: Mode,
}

/// Debezium's keys.
pub fn definition() -> ConfigDef {
    let key = |name: &str, key_type: KeyType, importance: Importance, doc: &str| {
        Key::new(name, key_type, importance, doc)
    };
    ConfigDef::new()
        .key(
            key(
                "topic.regex",
                KeyType::String,
                Importance::High,
                "The regular expression matching the physical tables' topics.",
            )
            .required(),
        )
        .key(
            key(
                "topic.replacement",
                KeyType::String,
                Importance::High,
                "The logical topic, in Java's replacement syntax ($1 inserts a group).",
            )
            .required(),
        )
        .key(
            key(
                "key.enforce.uniqueness",
                KeyType::Boolean,
                Importance::Low,
                "Whether a field naming the physical table is added to the key, so keys stay unique in the logical topic.",
            )
            .default_value("true"),
        )
        .key(
            key(
                "key.field.name",
                KeyType::String,
                Importance::Low,
                "The name of the key field naming the physical table.",
            )
            .default_value(DEFAULT_KEY_FIELD),
        )
        .key(key(
            "key.field.regex",
            KeyType::String,
            Importance::Low,
            "A regular expression on the physical topic, to compute the key field's value with key.field.replacement.",
        ))
        .key(key(
            "key.field.replacement",
            KeyType::String,
            Importance::Low,
            "The key field's value, in Java's replacement syntax over key.field.regex.",
        ))
        .key(
            key(
                "schema.name.adjustment.mode",
                KeyType::String,
                Importance::Low,
                "How schema names are made valid: none, avro or avro_unicode.",
            )
            .default_value("none")
            .allowed_ignoring_case(&["none", "avro", "avro_unicode"]),
        )
        .key(
            key(
                "logical.table.cache.size",
                KeyType::Int,
                Importance::Low,
                "How many logical tables' schemas are cached.",
            )
            .default_value("16"),
        )
}

impl Settings {
    /// Reads and checks the settings; errors name the setting.
    pub fn parse(config: &Config) -> Result<Settings, String> {
        let parsed = definition().parse(config)?;
        let text = |key: &str| parsed.string(key).filter(|v| !v.is_empty());
        let regex = text("topic.regex").ok_or("setting 'topic.regex' must not be empty")?;
        let replacement =
            text("topic.replacement").ok_or("setting 'topic.replacement' must not be empty")?;
        let topic = JavaRegex::new(regex, replacement)
            .map_err(|e| format!("settings 'topic.regex' / 'topic.replacement': {e}"))?;
        let key_field = match text("key.field.regex") {
            None => None,
            Some(regex) => {
                let replacement = text("key.field.replacement").ok_or(
                    "setting 'key.field.replacement' must be non-empty if key.field.regex is set",
                )?;
                Some(JavaRegex::new(regex, replacement).map_err(|e| {
                    format!("settings 'key.field.regex' / 'key.field.replacement': {e}")
                })?)
            }
        };
        let mode_text = text("schema.name.adjustment.mode").unwrap_or_default();
        let mode = Mode::parse(mode_text).ok_or_else(|| {
            format!("setting 'schema.name.adjustment.mode' has no meaning for {mode_text:?}")
        })?;
        Ok(Settings {
            topic,
            enforce_uniqueness: parsed.boolean("key.enforce.uniqueness") != Some(false),
            key_field_name: parsed
                .string("key.field.name")
                .unwrap_or(DEFAULT_KEY_FIELD)
                .to_owned(),
            key_field,
            mode,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(entries: &[(&str, &str)]) -> Result<Settings, String> {
        Settings::parse(&Config::from_pairs(entries))
    }

    const BASE: [(&str, &str); 2] = [("topic.regex", "a(.*)"), ("topic.replacement", "b$1")];

    #[test]
    fn defaults() {
        let s = parse(&BASE).unwrap();
        assert!(s.enforce_uniqueness);
        assert_eq!(s.key_field_name, DEFAULT_KEY_FIELD);
        assert!(s.key_field.is_none());
        assert_eq!(s.mode, Mode::None);
    }

    #[test]
    fn errors_name_the_setting() {
        assert!(
            parse(&BASE[..1])
                .unwrap_err()
                .contains("'topic.replacement'")
        );
        assert!(
            parse(&[("topic.regex", "("), ("topic.replacement", "x")])
                .unwrap_err()
                .contains("'topic.regex'")
        );
        let mut cfg = BASE.to_vec();
        cfg.push(("key.field.regex", "a(.*)"));
        assert!(parse(&cfg).unwrap_err().contains("'key.field.replacement'"));
        cfg.push(("key.field.replacement", "$1"));
        assert!(parse(&cfg).unwrap().key_field.is_some());
        let mut cfg = BASE.to_vec();
        cfg.push(("schema.name.adjustment.mode", "bogus"));
        assert!(
            parse(&cfg)
                .unwrap_err()
                .contains("'schema.name.adjustment.mode'")
        );
    }
}
