//! The router's settings.

use tidemark_sdk::Config;

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

impl Settings {
    /// Reads and checks the settings; errors name the setting.
    pub fn parse(config: &Config) -> Result<Settings, String> {
        let regex = required(config, "topic.regex")?;
        let replacement = required(config, "topic.replacement")?;
        let topic = JavaRegex::new(regex, replacement)
            .map_err(|e| format!("settings 'topic.regex' / 'topic.replacement': {e}"))?;
        let enforce_uniqueness = parse_bool(config, "key.enforce.uniqueness", true)?;
        let key_field_name = config
            .get("key.field.name")
            .unwrap_or(DEFAULT_KEY_FIELD)
            .to_owned();
        let key_field = match config
            .get("key.field.regex")
            .filter(|r| !r.trim().is_empty())
        {
            None => None,
            Some(regex) => {
                let replacement = config
                    .get("key.field.replacement")
                    .filter(|r| !r.trim().is_empty())
                    .ok_or(
                        "setting 'key.field.replacement' must be non-empty if key.field.regex is set",
                    )?;
                Some(JavaRegex::new(regex, replacement).map_err(|e| {
                    format!("settings 'key.field.regex' / 'key.field.replacement': {e}")
                })?)
            }
        };
        let mode_text = config.get("schema.name.adjustment.mode").unwrap_or("none");
        let mode = Mode::parse(mode_text).ok_or_else(|| {
            format!(
                "setting 'schema.name.adjustment.mode' must be none, avro or avro_unicode, not \
                 {mode_text:?}"
            )
        })?;
        if let Some(size) = config.get("logical.table.cache.size") {
            size.trim().parse::<i32>().map_err(|_| {
                format!("setting 'logical.table.cache.size' must be an integer, not {size:?}")
            })?;
        }
        Ok(Settings {
            topic,
            enforce_uniqueness,
            key_field_name,
            key_field,
            mode,
        })
    }
}

fn required<'a>(config: &'a Config, key: &str) -> Result<&'a str, String> {
    config
        .get(key)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| format!("missing required setting '{key}'"))
}

fn parse_bool(config: &Config, key: &str, default: bool) -> Result<bool, String> {
    match config.get(key).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(_) => Err(format!("setting '{key}' must be true or false")),
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
