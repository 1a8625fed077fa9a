//! Configuration as data: every key a connector, the worker or a plugin reads is declared
//! once as a [`Key`] — Kafka Connect's `ConfigDef.ConfigKey` — and that one declaration gives
//! the default and the validator the readers use ([`Properties::value`] and the typed
//! accessors), the unknown-key warning (with the closest known key), the REST API's
//! `/connector-plugins/{plugin}/config` and `…/config/validate`, and `docs/config.md`.
//!
//! # Declaring a key
//! ```
//! use std::sync::LazyLock;
//! use tidemark::config::{Importance, Key};
//!
//! /// `snapshot.mode`.
//! pub static SNAPSHOT_MODE: LazyLock<Key> = LazyLock::new(|| {
//!     Key::string("snapshot.mode")
//!         .default("initial")
//!         .choices(&["initial", "never", "no_data"])
//!         .importance(Importance::Medium)
//!         .group("Snapshot")
//!         .doc("When to snapshot the captured tables.")
//! });
//! ```
//! A key with no [`Key::default`] is optional with no value (Connect's `null` default);
//! [`Key::required`] makes it required, with a hint saying what to set. Debezium's old name of
//! a renamed key goes in [`Key::renamed_from`]; a key Tidemark accepts but has no use for is
//! [`Key::ignored`]. A family of keys is one declaration whose name has `<placeholder>`
//! segments and may end in `*` (any rest): `transforms.<alias>.type`, `producer.*`.
//!
//! The strings are `Cow<'static, str>`, so a key can be built at run time too (a plugin's
//! declared keys) as well as in a `static`.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use super::{ConfigError, Properties};

/// A declaration's text: a `'static` string, or one built at run time.
pub type Text = Cow<'static, str>;

/// A key's type, as Kafka Connect names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    String,
    Int,
    Long,
    Double,
    Boolean,
    List,
    Class,
    Password,
}

impl Type {
    /// Connect's name of the type (`ConfigDef.Type`).
    pub fn connect_name(self) -> &'static str {
        match self {
            Type::String => "STRING",
            Type::Int => "INT",
            Type::Long => "LONG",
            Type::Double => "DOUBLE",
            Type::Boolean => "BOOLEAN",
            Type::List => "LIST",
            Type::Class => "CLASS",
            Type::Password => "PASSWORD",
        }
    }

    /// What a value of the type looks like, for messages.
    fn expected(self) -> &'static str {
        match self {
            Type::Int | Type::Long => "a whole number",
            Type::Double => "a number",
            Type::Boolean => "true or false",
            Type::String | Type::List | Type::Class | Type::Password => "text",
        }
    }

    /// Why `value` is not of this type, if it is not.
    fn check(self, value: &str) -> Result<(), String> {
        let ok = match self {
            Type::Int => value.parse::<i32>().is_ok(),
            Type::Long => value.parse::<i64>().is_ok(),
            Type::Double => value.parse::<f64>().is_ok(),
            Type::Boolean => parse_bool(value).is_some(),
            Type::String | Type::List | Type::Class | Type::Password => true,
        };
        if ok {
            Ok(())
        } else {
            Err(format!("expected {}", self.expected()))
        }
    }
}

/// `true`/`false` in any case, as Connect reads a BOOLEAN.
fn parse_bool(value: &str) -> Option<bool> {
    if value.eq_ignore_ascii_case("true") {
        Some(true)
    } else if value.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// How much a key matters, as Connect ranks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Importance {
    High,
    Medium,
    Low,
}

impl Importance {
    /// Connect's name (`HIGH`, `MEDIUM`, `LOW`).
    pub fn connect_name(self) -> &'static str {
        match self {
            Importance::High => "HIGH",
            Importance::Medium => "MEDIUM",
            Importance::Low => "LOW",
        }
    }
}

/// A key's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultValue {
    /// No default: the key must be set; the text says what to set it to.
    Required(Text),
    /// Unset means no value (Connect's `null` default).
    None,
    /// This value when unset.
    Value(Text),
}

/// What values a key accepts beyond its type.
#[derive(Clone)]
pub enum Validator {
    /// Any value of the type.
    Any,
    /// One of these, in any case (Debezium's enum validators are case-insensitive).
    Choices(Vec<Text>),
    /// A whole number in this range (both ends included).
    Range { min: Option<i64>, max: Option<i64> },
    /// A check of the (trimmed) value, giving the problem in words.
    Custom(fn(&str) -> Result<(), String>),
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Validator::Any => f.write_str("Any"),
            Validator::Choices(c) => f.debug_tuple("Choices").field(c).finish(),
            Validator::Range { min, max } => f
                .debug_struct("Range")
                .field("min", min)
                .field("max", max)
                .finish(),
            Validator::Custom(_) => f.write_str("Custom"),
        }
    }
}

impl Validator {
    /// Why `value` is not accepted, if it is not.
    fn check(&self, kind: Type, value: &str) -> Result<(), String> {
        match self {
            Validator::Any => Ok(()),
            Validator::Choices(choices) => {
                let ok = |v: &str| choices.iter().any(|c| c.eq_ignore_ascii_case(v));
                let fine = match kind {
                    Type::List => list_items(value).iter().all(|v| ok(v)),
                    _ => ok(value),
                };
                if fine {
                    Ok(())
                } else {
                    Err(format!("expected one of {}", choices.join(", ")))
                }
            }
            Validator::Range { min, max } => {
                let n: i64 = value.parse().map_err(|_| "expected a whole number")?;
                if min.is_some_and(|min| n < min) || max.is_some_and(|max| n > max) {
                    Err(format!("expected {}", describe_range(*min, *max)))
                } else {
                    Ok(())
                }
            }
            Validator::Custom(check) => check(value),
        }
    }
}

fn describe_range(min: Option<i64>, max: Option<i64>) -> String {
    match (min, max) {
        (Some(min), Some(max)) => format!("a whole number from {min} to {max}"),
        (Some(-1), None) => "a whole number, or -1 for no limit".into(),
        (Some(min), None) => format!("a whole number of at least {min}"),
        (None, Some(max)) => format!("a whole number of at most {max}"),
        (None, None) => "a whole number".into(),
    }
}

/// A comma-separated list's items, trimmed, empty ones dropped.
pub(super) fn list_items(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// One declared key (or family of keys): Connect's `ConfigDef.ConfigKey`, plus Debezium's old
/// name and whether Tidemark ignores it. See the [module docs](self) for how to declare one.
#[derive(Debug, Clone)]
pub struct Key {
    /// The key, or a family's pattern (`transforms.<alias>.type`, `producer.*`).
    pub name: Text,
    /// Its type (Connect's).
    pub kind: Type,
    /// Its default, or that it is required.
    pub default: DefaultValue,
    /// How much it matters.
    pub importance: Importance,
    /// What it does.
    pub documentation: Text,
    /// The group it is listed under (Connect's `group`).
    pub group: Text,
    /// What values it accepts beyond its type.
    pub validator: Validator,
    /// Debezium's earlier name of the key (a family's earlier pattern), read as this one.
    pub renamed_from: Option<Text>,
    /// Kafka Connect or Debezium accept it; it means nothing to Tidemark.
    pub ignored: bool,
}

impl Key {
    /// A key of `kind`: optional, no default, any value, medium importance, group "Common".
    pub fn new(name: impl Into<Text>, kind: Type) -> Key {
        Key {
            name: name.into(),
            kind,
            default: DefaultValue::None,
            importance: Importance::Medium,
            documentation: Text::Borrowed(""),
            group: Text::Borrowed("Common"),
            validator: Validator::Any,
            renamed_from: None,
            ignored: false,
        }
    }

    /// A STRING key.
    pub fn string(name: impl Into<Text>) -> Key {
        Key::new(name, Type::String)
    }

    /// An INT key (a 32-bit whole number).
    pub fn int(name: impl Into<Text>) -> Key {
        Key::new(name, Type::Int)
    }

    /// A LONG key (a 64-bit whole number).
    pub fn long(name: impl Into<Text>) -> Key {
        Key::new(name, Type::Long)
    }

    /// A BOOLEAN key.
    pub fn boolean(name: impl Into<Text>) -> Key {
        Key::new(name, Type::Boolean)
    }

    /// A LIST key (comma-separated).
    pub fn list(name: impl Into<Text>) -> Key {
        Key::new(name, Type::List)
    }

    /// A CLASS key.
    pub fn class(name: impl Into<Text>) -> Key {
        Key::new(name, Type::Class)
    }

    /// A PASSWORD key (its value is never shown).
    pub fn password(name: impl Into<Text>) -> Key {
        Key::new(name, Type::Password)
    }

    /// The value when the key is unset.
    pub fn default(mut self, value: impl Into<Text>) -> Key {
        self.default = DefaultValue::Value(value.into());
        self
    }

    /// The key must be set; `hint` says what to set it to.
    pub fn required(mut self, hint: impl Into<Text>) -> Key {
        self.default = DefaultValue::Required(hint.into());
        self.importance = Importance::High;
        self
    }

    /// How much the key matters (Connect's importance; medium unless set).
    pub fn importance(mut self, importance: Importance) -> Key {
        self.importance = importance;
        self
    }

    /// What the key does, in a sentence or two (the REST API and `docs/config.md` show it).
    pub fn doc(mut self, documentation: impl Into<Text>) -> Key {
        self.documentation = documentation.into();
        self
    }

    /// The group the key is listed under ("Common" unless set).
    pub fn group(mut self, group: impl Into<Text>) -> Key {
        self.group = group.into();
        self
    }

    /// The value must be one of these (in any case; for a LIST, each item).
    pub fn choices(mut self, choices: &[&'static str]) -> Key {
        self.validator = Validator::Choices(choices.iter().map(|c| Text::Borrowed(*c)).collect());
        self
    }

    /// The value must be a whole number in `min..=max` (`None`: unbounded).
    pub fn range(mut self, min: Option<i64>, max: Option<i64>) -> Key {
        self.validator = Validator::Range { min, max };
        self
    }

    /// The value must pass `check`, which says what is wrong in words.
    pub fn check(mut self, check: fn(&str) -> Result<(), String>) -> Key {
        self.validator = Validator::Custom(check);
        self
    }

    /// Debezium's earlier name for this key (for a family, the earlier pattern).
    pub fn renamed_from(mut self, old: impl Into<Text>) -> Key {
        self.renamed_from = Some(old.into());
        self
    }

    /// Accepted for compatibility with Kafka Connect or Debezium; Tidemark has no use for it.
    pub fn ignored(mut self) -> Key {
        self.ignored = true;
        self.importance = Importance::Low;
        self
    }

    /// This family's declaration for one of its keys (`transforms.route.type` of
    /// `transforms.<alias>.type`), to read it with the family's type, default and validator.
    pub fn instance(&self, name: impl Into<Text>) -> Key {
        Key {
            name: name.into(),
            ..self.clone()
        }
    }

    /// Whether this declaration is a family of keys rather than one key.
    pub fn is_family(&self) -> bool {
        self.name.contains('<') || self.name.ends_with('*')
    }

    /// Whether `key` is this key, or one of this family.
    pub fn matches(&self, key: &str) -> bool {
        if !self.is_family() {
            return self.name == key;
        }
        let mut parts = key.split('.');
        for pattern in self.name.split('.') {
            if pattern == "*" {
                return parts.next().is_some_and(|p| !p.is_empty());
            }
            match parts.next() {
                Some(part) if pattern.starts_with('<') && !part.is_empty() => {}
                Some(part) if part == pattern => {}
                _ => return false,
            }
        }
        parts.next().is_none()
    }

    /// The default as text, if there is one.
    pub fn default_value(&self) -> Option<&str> {
        match &self.default {
            DefaultValue::Value(v) => Some(v),
            DefaultValue::Required(_) | DefaultValue::None => None,
        }
    }

    /// Why `value` (as written) is not a valid value of this key, if it is not.
    pub fn validate(&self, value: &str) -> Result<(), String> {
        let value = value.trim();
        self.kind.check(value)?;
        self.validator.check(self.kind, value)
    }

    /// What a valid value looks like, for docs: the choices or the range, if any.
    pub fn accepted(&self) -> Option<String> {
        match &self.validator {
            Validator::Any | Validator::Custom(_) => None,
            Validator::Choices(c) => Some(format!("one of {}", c.join(", "))),
            Validator::Range { min, max } => Some(describe_range(*min, *max)),
        }
    }
}

impl Properties {
    /// The invalid-value error for `key`, with a resolved secret hidden.
    fn invalid(&self, key: &Key, value: &str, problem: String) -> ConfigError {
        ConfigError::Invalid {
            key: key.name.to_string(),
            value: self.secrets.redact(value).into_owned(),
            problem,
        }
    }

    /// A declared key's value — as set (trimmed, except a password, which is taken as it
    /// is; blank counts as unset), else its default — checked against its type and
    /// validator; `None` when unset with no default.
    pub fn value<'a>(&'a self, key: &'a Key) -> Result<Option<&'a str>, ConfigError> {
        let value = match self.get(&key.name) {
            Some(v) if key.kind == Type::Password => v,
            Some(v) => v.trim(),
            None => match &key.default {
                DefaultValue::Value(v) => v.as_ref(),
                DefaultValue::Required(_) | DefaultValue::None => return Ok(None),
            },
        };
        key.validate(value)
            .map_err(|problem| self.invalid(key, value, problem))?;
        Ok(Some(value))
    }

    /// A required key's value (see [`Properties::value`]): an error naming it and what to set
    /// when it is unset.
    pub fn required<'a>(&'a self, key: &'a Key) -> Result<&'a str, ConfigError> {
        self.value(key)?.ok_or_else(|| ConfigError::Missing {
            key: key.name.to_string(),
            hint: match &key.default {
                DefaultValue::Required(hint) => hint.to_string(),
                _ => key.documentation.to_string(),
            },
        })
    }

    /// A key's value parsed into `T`, or `None` when unset with no default.
    pub fn typed<T: FromStr>(&self, key: &Key) -> Result<Option<T>, ConfigError> {
        let Some(value) = self.value(key)? else {
            return Ok(None);
        };
        let parsed = match key.kind {
            Type::Boolean => parse_bool(value).map(|b| b.to_string()),
            _ => Some(value.to_owned()),
        };
        match parsed.and_then(|v| v.parse().ok()) {
            Some(v) => Ok(Some(v)),
            None => Err(self.invalid(
                key,
                value,
                format!(
                    "expected {}",
                    key.accepted()
                        .unwrap_or_else(|| key.kind.expected().to_owned())
                ),
            )),
        }
    }

    /// A key's value parsed into `T`; an error naming it when unset with no default.
    pub fn number<T: FromStr>(&self, key: &Key) -> Result<T, ConfigError> {
        self.typed(key)?.ok_or_else(|| ConfigError::Missing {
            key: key.name.to_string(),
            hint: key.documentation.to_string(),
        })
    }

    /// A BOOLEAN key's value (false when unset with no default).
    pub fn flag(&self, key: &Key) -> Result<bool, ConfigError> {
        Ok(self.typed(key)?.unwrap_or(false))
    }

    /// A key with choices: its value in lower case (empty when unset with no default).
    pub fn choose(&self, key: &Key) -> Result<String, ConfigError> {
        Ok(self.value(key)?.unwrap_or("").to_ascii_lowercase())
    }

    /// A LIST key's items (its default's when unset; none when unset with no default).
    pub fn items(&self, key: &Key) -> Result<Vec<String>, ConfigError> {
        Ok(self.value(key)?.map(list_items).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_from_the_declaration() {
        let mode = Key::string("snapshot.mode")
            .default("initial")
            .choices(&["initial", "never"]);
        let port = Key::int("database.port")
            .default("5432")
            .range(Some(1), Some(65535));
        let host = Key::string("database.hostname").required("the database server's host name");
        let p = Properties::from_pairs([("snapshot.mode", "NEVER"), ("database.port", " 6543 ")]);
        assert_eq!(p.choose(&mode).unwrap(), "never");
        assert_eq!(p.number::<u16>(&port).unwrap(), 6543);
        let empty = Properties::default();
        assert_eq!(empty.choose(&mode).unwrap(), "initial");
        assert_eq!(empty.number::<u16>(&port).unwrap(), 5432);
        assert_eq!(
            empty.required(&host).unwrap_err().to_string(),
            "property 'database.hostname' is required: the database server's host name"
        );
        let bad = Properties::from_pairs([("snapshot.mode", "sometimes"), ("database.port", "0")]);
        assert_eq!(
            bad.choose(&mode).unwrap_err().to_string(),
            "property 'snapshot.mode' has an invalid value \"sometimes\": expected one of initial, never"
        );
        assert_eq!(
            bad.number::<u16>(&port).unwrap_err().to_string(),
            "property 'database.port' has an invalid value \"0\": expected a whole number from 1 to 65535"
        );
    }

    #[test]
    fn a_password_is_taken_as_it_is() {
        let password = Key::password("database.password");
        let p = Properties::from_pairs([("database.password", " s3cret\n")]);
        assert_eq!(p.value(&password).unwrap(), Some(" s3cret\n"));
    }

    #[test]
    fn types_are_checked() {
        let flag = Key::boolean("tombstones.on.delete").default("true");
        let p = Properties::from_pairs([("tombstones.on.delete", "FALSE")]);
        assert!(!p.flag(&flag).unwrap());
        let p = Properties::from_pairs([("tombstones.on.delete", "maybe")]);
        assert!(
            p.flag(&flag)
                .unwrap_err()
                .to_string()
                .contains("true or false")
        );
        let ms = Key::long("heartbeat.interval.ms")
            .default("0")
            .range(Some(0), None);
        assert_eq!(
            ms.validate("-5").unwrap_err(),
            "expected a whole number of at least 0"
        );
        assert_eq!(ms.validate("soon").unwrap_err(), "expected a whole number");
        let list = Key::list("skipped.operations").choices(&["c", "u", "d", "t", "none"]);
        assert!(list.validate("c, t").is_ok());
        assert!(list.validate("c,x").is_err());
    }

    #[test]
    fn families_match_their_keys() {
        let alias = Key::string("transforms.<alias>.type");
        assert!(alias.matches("transforms.route.type"));
        assert!(!alias.matches("transforms.route.regex"));
        assert!(!alias.matches("transforms..type"));
        let producer = Key::string("producer.*");
        assert!(producer.matches("producer.acks"));
        assert!(producer.matches("producer.override.acks"));
        assert!(!producer.matches("producer"));
        assert!(Key::string("slot.name").matches("slot.name"));
    }
}
