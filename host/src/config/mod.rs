//! Configuration: Debezium connector configs and Kafka Connect worker properties, merged.
//!
//! Each file is either the JSON posted to Kafka Connect (`{"name": …, "config": {…}}`, or a
//! bare object of properties) or a Java `.properties` file. Later files override earlier ones,
//! and `--set key=value` overrides them all.
//!
//! Every key is declared once as a [`Key`] (see `def` for how), beside the code that reads
//! it, and read through its declaration ([`Properties::value`] and the typed accessors); a
//! [`ConfigDef`] gathers a connector's declarations for the checks, the unknown-key warning,
//! the REST API and `docs/config.md`.

pub mod cluster;
mod configdef;
mod def;
mod legacy;
mod properties;
pub mod providers;
mod redact;
pub mod worker;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub(crate) use configdef::declare_keys;
pub use configdef::{Checked, ConfigDef, Unknown};
pub use def::{DefaultValue, Importance, Key, Text, Type, Validator};
pub use legacy::rename_legacy_keys;
pub use properties::parse_properties;
pub use providers::resolve_providers;
pub use redact::{RedactingStderr, Secrets};
pub use worker::{DEFAULT_OFFSET_FILE, WorkerConfig};

/// A partition count or replication factor: positive, or -1 for the broker's default.
pub fn positive_or_broker_default(value: &str) -> Result<(), String> {
    match value.parse::<i64>() {
        Ok(n) if n == -1 || n >= 1 => Ok(()),
        _ => Err("expected a positive number, or -1 for the broker's default".into()),
    }
}

/// A configuration problem, naming the property or file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {problem}")]
    Syntax { path: PathBuf, problem: String },
    #[error("--set {0:?} is not of the form key=value")]
    Set(String),
    #[error("property '{key}' is required: {hint}")]
    Missing { key: String, hint: String },
    #[error("property '{key}' has an invalid value {value:?}: {problem}")]
    Invalid {
        key: String,
        value: String,
        problem: String,
    },
    #[error("property '{key}': cannot resolve {variable}: {problem}")]
    Provider {
        key: String,
        variable: String,
        problem: String,
    },
}

/// Merged properties, remembering which ones were read so the rest can be reported, and
/// which values config providers resolved so that messages can hide them.
#[derive(Clone, Default)]
pub struct Properties {
    entries: BTreeMap<String, String>,
    read: std::cell::RefCell<BTreeSet<String>>,
    secrets: Secrets,
}

impl Properties {
    /// Properties from key/value pairs.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Properties {
        Properties {
            entries: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            ..Default::default()
        }
    }

    /// Loads and merges config files, then applies `key=value` overrides.
    pub fn load(files: &[PathBuf], sets: &[String]) -> Result<Properties, ConfigError> {
        let mut entries = BTreeMap::new();
        for file in files {
            entries.extend(read_file(file)?);
        }
        for set in sets {
            let (k, v) = set
                .split_once('=')
                .ok_or_else(|| ConfigError::Set(set.clone()))?;
            entries.insert(k.trim().to_owned(), v.to_owned());
        }
        Ok(Properties {
            entries,
            ..Default::default()
        })
    }

    /// Every property, as given (config-provider variables unresolved unless resolved).
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.entries.clone()
    }

    /// Sets a property unless it is set already.
    pub fn set_default(&mut self, key: &str, value: impl Into<String>) {
        self.entries
            .entry(key.to_owned())
            .or_insert_with(|| value.into());
    }

    fn mark(&self, key: &str) {
        self.read.borrow_mut().insert(key.to_owned());
    }

    /// A property's value, if set (and not blank).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.mark(key);
        self.entries
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    /// A comma-separated list property (empty when absent).
    pub fn list(&self, key: &str) -> Vec<String> {
        self.get(key)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// All properties under `prefix` (e.g. `transforms.route.`), with the prefix removed.
    pub fn with_prefix(&self, prefix: &str) -> BTreeMap<String, String> {
        self.entries
            .iter()
            .filter_map(|(k, v)| {
                let rest = k.strip_prefix(prefix)?;
                self.mark(k);
                Some((rest.to_owned(), v.clone()))
            })
            .collect()
    }

    /// Properties never read (see [`ConfigDef::unread`] for the ones worth a warning).
    pub fn unread(&self) -> Vec<String> {
        let read = self.read.borrow();
        self.entries
            .keys()
            .filter(|k| !read.contains(*k))
            .cloned()
            .collect()
    }
}

fn read_file(path: &Path) -> Result<BTreeMap<String, String>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let syntax = |problem: String| ConfigError::Syntax {
        path: path.to_owned(),
        problem,
    };
    if text.trim_start().starts_with('{') {
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| syntax(format!("not valid JSON: {e}")))?;
        let mut entries = BTreeMap::new();
        let object = json
            .as_object()
            .ok_or_else(|| syntax("expected a JSON object".into()))?;
        let config = match (object.get("config"), object.get("name")) {
            (Some(serde_json::Value::Object(config)), name) => {
                if let Some(name) = name.and_then(|n| n.as_str()) {
                    entries.insert("name".to_owned(), name.to_owned());
                }
                config
            }
            _ => object,
        };
        for (k, v) in config {
            let v = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                serde_json::Value::Bool(_) | serde_json::Value::Number(_) => v.to_string(),
                _ => {
                    return Err(syntax(format!(
                        "property '{k}' must be a string, number or boolean"
                    )));
                }
            };
            entries.insert(k.clone(), v);
        }
        Ok(entries)
    } else {
        parse_properties(&text).map_err(syntax)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_files_and_sets_override() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        std::fs::write(
            &a,
            r#"{"name":"inv","config":{"topic.prefix":"dbz","database.port":5432,"x":"1"}}"#,
        )
        .unwrap();
        let b = dir.path().join("b.properties");
        std::fs::write(&b, "topic.prefix = other\n# comment\nsink.file=out.jsonl\n").unwrap();
        let p = Properties::load(&[a, b], &["x=2".into()]).unwrap();
        assert_eq!(p.get("name"), Some("inv"));
        assert_eq!(p.get("topic.prefix"), Some("other"));
        assert_eq!(p.get("database.port"), Some("5432"));
        assert_eq!(p.get("x"), Some("2"));
        assert_eq!(p.unread(), vec!["sink.file".to_owned()]);
    }

    #[test]
    fn bad_values_name_the_property() {
        let p = Properties::from_pairs([("snapshot.mode", "sometimes"), ("database.port", "x")]);
        let mode = Key::string("snapshot.mode")
            .default("initial")
            .choices(&["initial", "never"]);
        let err = p.choose(&mode).unwrap_err();
        assert_eq!(
            err.to_string(),
            "property 'snapshot.mode' has an invalid value \"sometimes\": expected one of initial, never"
        );
        let port = Key::int("database.port").default("5432");
        let err = p.number::<u16>(&port).unwrap_err();
        assert!(err.to_string().contains("'database.port'"));
    }
}
