//! Kafka Connect predicates (`predicates=…`, `transforms.<name>.predicate`, `…negate`):
//! which records a transform applies to. They run in the host, so a plugin is not even
//! called for the records its predicate leaves out.

use regex::Regex;

use super::PluginError;
use crate::config::{Importance, Key};
use crate::event::Record;

/// A predicate, as `predicates.<name>.type` names it.
#[derive(Debug, Clone)]
pub enum Predicate {
    /// `TopicNameMatches`: the topic matches `pattern` (whole name).
    TopicNameMatches(Regex),
    /// `HasHeaderKey`: a header named `name` exists.
    HasHeaderKey(String),
    /// `RecordIsTombstone`: the value is null.
    RecordIsTombstone,
}

/// Connect's predicates, by their simple names.
const CLASSES: [&str; 3] = ["HasHeaderKey", "RecordIsTombstone", "TopicNameMatches"];

/// The package of Connect's predicates.
const PACKAGE: &str = "org.apache.kafka.connect.transforms.predicates.";

impl Predicate {
    /// The predicate classes, by their full names.
    pub fn classes() -> impl Iterator<Item = String> {
        CLASSES.iter().map(|c| format!("{PACKAGE}{c}"))
    }

    /// The keys of a predicate class (full or simple name), as Connect declares them; `None`
    /// when the name is no predicate.
    pub fn keys_of(type_name: &str) -> Option<Vec<Key>> {
        let simple = type_name.strip_prefix(PACKAGE).unwrap_or(type_name);
        match simple {
            "TopicNameMatches" => Some(vec![
                Key::string("pattern")
                    .required("set it to a regular expression the whole topic must match")
                    .importance(Importance::Medium)
                    .check(|pattern| {
                        Regex::new(pattern)
                            .map(drop)
                            .map_err(|e| format!("not a valid regular expression: {e}"))
                    })
                    .doc("The regular expression a record's whole topic must match."),
            ]),
            "HasHeaderKey" => Some(vec![
                Key::string("name")
                    .required("set it to the header's name")
                    .importance(Importance::Medium)
                    .doc("The header a record must have."),
            ]),
            "RecordIsTombstone" => Some(Vec::new()),
            _ => None,
        }
    }

    /// Builds the predicate `name` from its type (class name or simple name) and settings.
    pub fn from_config(
        name: &str,
        type_name: &str,
        setting: impl Fn(&str) -> Option<String>,
    ) -> Result<Predicate, PluginError> {
        let simple = type_name
            .trim()
            .strip_prefix(PACKAGE)
            .unwrap_or(type_name.trim());
        let invalid = |key: &str, value: &str, reason: String| PluginError::Setting {
            plugin: format!("predicate {name}"),
            key: key.to_owned(),
            value: value.to_owned(),
            reason,
        };
        match simple {
            "TopicNameMatches" => {
                let pattern = setting("pattern").ok_or_else(|| {
                    invalid("pattern", "", "TopicNameMatches needs a pattern".into())
                })?;
                let regex = Regex::new(&format!("^(?:{pattern})$"))
                    .map_err(|e| invalid("pattern", &pattern, e.to_string()))?;
                Ok(Predicate::TopicNameMatches(regex))
            }
            "HasHeaderKey" => {
                let header = setting("name").ok_or_else(|| {
                    invalid("name", "", "HasHeaderKey needs a header name".into())
                })?;
                Ok(Predicate::HasHeaderKey(header))
            }
            "RecordIsTombstone" => Ok(Predicate::RecordIsTombstone),
            other => Err(invalid(
                "type",
                other,
                "expected TopicNameMatches, HasHeaderKey or RecordIsTombstone".into(),
            )),
        }
    }

    /// Whether the record satisfies the predicate.
    pub fn test(&self, record: &Record) -> bool {
        match self {
            Predicate::TopicNameMatches(regex) => regex.is_match(&record.topic),
            Predicate::HasHeaderKey(name) => record.headers.iter().any(|h| &h.key == name),
            Predicate::RecordIsTombstone => record.is_tombstone(),
        }
    }
}

/// A transform's predicate with its `negate` flag.
#[derive(Debug, Clone)]
pub struct Condition {
    pub predicate: Predicate,
    pub negate: bool,
}

impl Condition {
    /// Whether the transform applies to the record.
    pub fn applies(&self, record: &Record) -> bool {
        self.predicate.test(record) != self.negate
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Data, Header, Value};

    fn settings(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |key| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn connect_predicates() {
        let topic = Predicate::from_config(
            "p",
            "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
            settings(&[("pattern", "cdc\\.scratch")]),
        )
        .unwrap();
        let mut record = Record::new("cdc.scratch", None, Some(Data::schemaless(Value::Int32(1))));
        assert!(topic.test(&record));
        record.topic = "cdc.scratch2".into();
        assert!(!topic.test(&record), "the whole topic must match");
        let header =
            Predicate::from_config("h", "HasHeaderKey", settings(&[("name", "x")])).unwrap();
        assert!(!header.test(&record));
        record.headers.push(Header {
            key: "x".into(),
            value: None,
        });
        assert!(header.test(&record));
        let tombstone = Condition {
            predicate: Predicate::from_config("t", "RecordIsTombstone", settings(&[])).unwrap(),
            negate: true,
        };
        assert!(tombstone.applies(&record));
        record.value = None;
        assert!(!tombstone.applies(&record));
        let err = Predicate::from_config("q", "Nope", settings(&[])).unwrap_err();
        assert!(err.to_string().contains("predicate q"), "{err}");
    }
}
