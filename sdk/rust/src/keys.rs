//! A plugin's configuration keys, declared once ([`ConfigDef`]): the host reads the
//! declaration (to check a configuration before `configure`, and to answer Kafka Connect's
//! `GET /connector-plugins/{class}/config`), and the plugin parses its configuration with the
//! same declaration, so each key's type, default and allowed values live in one place.

use std::collections::BTreeMap;

use crate::Config;

/// The type of a key, as Kafka Connect's `ConfigDef.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    String,
    Int,
    Long,
    Double,
    Boolean,
    List,
    Class,
    Password,
}

/// How much a key matters, as Kafka Connect's `ConfigDef.Importance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Importance {
    High,
    Medium,
    Low,
}

/// One configuration key.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub key_type: KeyType,
    /// The default as a user would write it; `None`: no value unless set.
    pub default: Option<String>,
    /// The key must be set.
    pub required: bool,
    pub importance: Importance,
    pub documentation: String,
    /// The accepted values; empty: any value of the type.
    pub allowed: Vec<String>,
    /// Whether `allowed` is compared ignoring case.
    pub case_insensitive: bool,
}

impl Key {
    /// An optional key without a default. A name ending in `*` declares a family of keys
    /// (`header.*`: every key starting with `header.`), each parsed as this key's type.
    pub fn new(name: &str, key_type: KeyType, importance: Importance, documentation: &str) -> Key {
        Key {
            name: name.to_owned(),
            key_type,
            default: None,
            required: false,
            importance,
            documentation: documentation.to_owned(),
            allowed: Vec::new(),
            case_insensitive: false,
        }
    }

    /// The value used when the key is not set.
    pub fn default_value(mut self, value: &str) -> Key {
        self.default = Some(value.to_owned());
        self
    }

    /// The key must be set (it has no default).
    pub fn required(mut self) -> Key {
        self.required = true;
        self.default = None;
        self
    }

    /// The only values accepted, exactly as written (for a list, each item's), as Connect's
    /// `ValidString`.
    pub fn allowed(mut self, values: &[&str]) -> Key {
        self.allowed = values.iter().map(|v| v.to_string()).collect();
        self.case_insensitive = false;
        self
    }

    /// The only values accepted, in any case (for a list, each item's), as Connect's
    /// `CaseInsensitiveValidString` and Debezium's enumerations; the parsed value is spelt
    /// as here.
    pub fn allowed_ignoring_case(mut self, values: &[&str]) -> Key {
        self.allowed = values.iter().map(|v| v.to_string()).collect();
        self.case_insensitive = true;
        self
    }
}

/// A parsed value.
#[derive(Debug, Clone, PartialEq)]
enum Parsed {
    /// `string`, `class` and `password` keys, and a choice (as spelt in `allowed`).
    Text(String),
    Int(i64),
    Double(f64),
    Boolean(bool),
    List(Vec<String>),
}

/// A plugin's declared keys.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigDef {
    keys: Vec<Key>,
}

impl ConfigDef {
    /// A declaration without keys.
    pub fn new() -> ConfigDef {
        ConfigDef::default()
    }

    /// Adds a key.
    pub fn key(mut self, key: Key) -> ConfigDef {
        self.keys.push(key);
        self
    }

    /// The keys, in declaration order.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// Parses a configuration as Connect's `ConfigDef.parse` does: each declared key's value
    /// or default, checked against its type and allowed values. Undeclared keys are left to
    /// [`Config`]. The error names the key and what it accepts.
    pub fn parse(&self, config: &Config) -> Result<Settings, String> {
        let mut values = BTreeMap::new();
        for key in &self.keys {
            if let Some(family) = key.name.strip_suffix('*') {
                for (name, text) in config.entries() {
                    if name.len() > family.len() && name.starts_with(family) {
                        let parsed =
                            parse_value(key, text).map_err(|e| format!("setting '{name}' {e}"))?;
                        values.insert(name.clone(), parsed);
                    }
                }
                continue;
            }
            let text = match config.get(&key.name).or(key.default.as_deref()) {
                Some(text) => text,
                None if key.required => {
                    return Err(format!(
                        "missing required setting '{}': {}",
                        key.name, key.documentation
                    ));
                }
                None => continue,
            };
            let parsed =
                parse_value(key, text).map_err(|e| format!("setting '{}' {e}", key.name))?;
            values.insert(key.name.clone(), parsed);
        }
        Ok(Settings { values })
    }
}

/// Java's `String.trim()`: removes characters up to U+0020 from both ends.
fn java_trim(text: &str) -> &str {
    text.trim_matches(|c: char| c <= ' ')
}

/// Parses one value of a key; the error says what the key accepts.
fn parse_value(key: &Key, text: &str) -> Result<Parsed, String> {
    let trimmed = java_trim(text);
    let parsed = match key.key_type {
        KeyType::Password => Parsed::Text(text.to_owned()),
        KeyType::String | KeyType::Class => Parsed::Text(choice(key, trimmed)?),
        KeyType::Int => Parsed::Int(
            trimmed
                .parse::<i32>()
                .map_err(|_| format!("must be a 32-bit integer, not {text:?}"))?
                .into(),
        ),
        KeyType::Long => Parsed::Int(
            trimmed
                .parse::<i64>()
                .map_err(|_| format!("must be a 64-bit integer, not {text:?}"))?,
        ),
        KeyType::Double => Parsed::Double(
            trimmed
                .parse::<f64>()
                .map_err(|_| format!("must be a number, not {text:?}"))?,
        ),
        KeyType::Boolean => {
            if trimmed.eq_ignore_ascii_case("true") {
                Parsed::Boolean(true)
            } else if trimmed.eq_ignore_ascii_case("false") {
                Parsed::Boolean(false)
            } else {
                return Err(format!("must be true or false, not {text:?}"));
            }
        }
        KeyType::List => Parsed::List(
            split_list(trimmed)
                .into_iter()
                .map(|item| choice(key, &item))
                .collect::<Result<_, _>>()?,
        ),
    };
    Ok(parsed)
}

/// The allowed value `text` is (as spelt in the declaration), or `text` when any is allowed.
fn choice(key: &Key, text: &str) -> Result<String, String> {
    if key.allowed.is_empty() {
        return Ok(text.to_owned());
    }
    key.allowed
        .iter()
        .find(|a| {
            if key.case_insensitive {
                a.eq_ignore_ascii_case(text)
            } else {
                *a == text
            }
        })
        .cloned()
        .ok_or_else(|| format!("must be one of {}, not {text:?}", key.allowed.join(", ")))
}

/// Splits a trimmed list as `ConfigDef` does: empty text is the empty list; items are
/// separated by commas, with the blanks around them removed (empty items are kept).
fn split_list(trimmed: &str) -> Vec<String> {
    if trimmed.is_empty() {
        return Vec::new();
    }
    trimmed
        .split(',')
        .map(|item| {
            item.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r'))
                .to_owned()
        })
        .collect()
}

/// A configuration parsed by [`ConfigDef::parse`]: every declared key's value or default.
///
/// Reading a key that is not declared, or as another type than declared, is a bug in the
/// plugin and panics with the key's name; a plugin's unit test that parses an empty
/// configuration finds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    values: BTreeMap<String, Parsed>,
}

impl Settings {
    fn value(&self, key: &str) -> Option<&Parsed> {
        self.values.get(key)
    }

    /// A `string`, `class` or `password` key's value (a choice as the declaration spells
    /// it); `None` when it has none.
    pub fn string(&self, key: &str) -> Option<&str> {
        match self.value(key) {
            None => None,
            Some(Parsed::Text(text)) => Some(text),
            Some(other) => panic!("setting '{key}' is read as text but is {other:?}"),
        }
    }

    /// A `boolean` key's value; `None` when it has none.
    pub fn boolean(&self, key: &str) -> Option<bool> {
        match self.value(key) {
            None => None,
            Some(Parsed::Boolean(b)) => Some(*b),
            Some(other) => panic!("setting '{key}' is read as a boolean but is {other:?}"),
        }
    }

    /// An `int` or `long` key's value; `None` when it has none.
    pub fn integer(&self, key: &str) -> Option<i64> {
        match self.value(key) {
            None => None,
            Some(Parsed::Int(n)) => Some(*n),
            Some(other) => panic!("setting '{key}' is read as an integer but is {other:?}"),
        }
    }

    /// A `double` key's value; `None` when it has none.
    pub fn double(&self, key: &str) -> Option<f64> {
        match self.value(key) {
            None => None,
            Some(Parsed::Double(n)) => Some(*n),
            Some(other) => panic!("setting '{key}' is read as a double but is {other:?}"),
        }
    }

    /// A `list` key's items (empty when it has no value).
    pub fn list(&self, key: &str) -> Vec<String> {
        match self.value(key) {
            None => Vec::new(),
            Some(Parsed::List(items)) => items.clone(),
            Some(other) => panic!("setting '{key}' is read as a list but is {other:?}"),
        }
    }

    /// Whether the key has a value (set, or by default).
    pub fn has(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def() -> ConfigDef {
        ConfigDef::new()
            .key(Key::new("field", KeyType::String, Importance::High, "The field.").required())
            .key(
                Key::new("mode", KeyType::String, Importance::Medium, "The mode.")
                    .default_value("drop")
                    .allowed_ignoring_case(&["drop", "rewrite"]),
            )
            .key(
                Key::new("flag", KeyType::Boolean, Importance::Low, "A flag.")
                    .default_value("true"),
            )
            .key(Key::new("count", KeyType::Int, Importance::Low, "A count."))
            .key(Key::new("names", KeyType::List, Importance::Low, "Names.").default_value(""))
    }

    #[test]
    fn defaults_and_values_parse_like_connect() {
        let s = def()
            .parse(&Config::from_pairs(&[
                ("field", " id "),
                ("mode", "REWRITE"),
                ("flag", " FALSE"),
                ("names", " a , b,,c "),
            ]))
            .unwrap();
        assert_eq!(s.string("field"), Some("id"));
        assert_eq!(s.string("mode"), Some("rewrite"));
        assert_eq!(s.boolean("flag"), Some(false));
        assert_eq!(s.integer("count"), None);
        assert_eq!(s.list("names"), vec!["a", "b", "", "c"]);
        let s = def().parse(&Config::from_pairs(&[("field", "x")])).unwrap();
        assert_eq!(s.string("mode"), Some("drop"));
        assert_eq!(s.boolean("flag"), Some(true));
        assert!(s.list("names").is_empty());
    }

    #[test]
    fn errors_name_the_key_and_what_it_accepts() {
        let err = def().parse(&Config::from_pairs(&[])).unwrap_err();
        assert!(err.contains("'field'"), "{err}");
        let err = def()
            .parse(&Config::from_pairs(&[("field", "x"), ("mode", "keep")]))
            .unwrap_err();
        assert!(
            err.contains("'mode'") && err.contains("drop, rewrite"),
            "{err}"
        );
        let err = def()
            .parse(&Config::from_pairs(&[("field", "x"), ("count", "many")]))
            .unwrap_err();
        assert!(err.contains("'count'") && err.contains("integer"), "{err}");
        let err = def()
            .parse(&Config::from_pairs(&[("field", "x"), ("flag", "yes")]))
            .unwrap_err();
        assert!(
            err.contains("'flag'") && err.contains("true or false"),
            "{err}"
        );
    }
}
