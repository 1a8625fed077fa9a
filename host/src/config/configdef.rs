//! A set of declared keys — Connect's `ConfigDef` — and what it answers: which declaration a
//! key falls under, the closest known key to a misspelt one, the properties nobody read, and
//! each key's problems (`config/validate`).

use super::def::{DefaultValue, Key, Type};
use super::{ConfigError, Properties};

/// Declares keys as `static`s, with a `keys()` listing them all:
/// ```text
/// declare_keys! {
///     /// `slot.name`.
///     SLOT_NAME = Key::string("slot.name").default("debezium").doc("…");
/// }
/// ```
macro_rules! declare_keys {
    ($( $(#[$meta:meta])* $name:ident = $key:expr; )*) => {
        $(
            $(#[$meta])*
            pub static $name: std::sync::LazyLock<$crate::config::Key> =
                std::sync::LazyLock::new(|| $key);
        )*
        /// Every key this module declares, in order.
        pub fn keys() -> Vec<$crate::config::Key> {
            vec![$( $name.clone() ),*]
        }
    };
}
pub(crate) use declare_keys;

/// Declared keys: a connector's, a plugin's or the worker's.
#[derive(Debug, Clone, Default)]
pub struct ConfigDef {
    keys: Vec<Key>,
}

/// A property no declaration reads, and the known key it most looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    pub key: String,
    pub closest: Option<String>,
}

impl std::fmt::Display for Unknown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.closest {
            Some(closest) => write!(f, "{} (did you mean {closest}?)", self.key),
            None => f.write_str(&self.key),
        }
    }
}

/// One key's value and problems, as `config/validate` reports them.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The declaration; an unknown key's is made up (a STRING with no documentation).
    pub key: Key,
    /// The value as given (unresolved), if given.
    pub value: Option<String>,
    pub errors: Vec<String>,
}

impl ConfigDef {
    /// A definition of these keys; a later declaration of the same name replaces an earlier.
    pub fn new(keys: impl IntoIterator<Item = Key>) -> ConfigDef {
        let mut def = ConfigDef::default();
        def.extend(keys);
        def
    }

    /// Adds keys; a later declaration of the same name replaces an earlier.
    pub fn extend(&mut self, keys: impl IntoIterator<Item = Key>) {
        for key in keys {
            match self.keys.iter_mut().find(|k| k.name == key.name) {
                Some(known) => *known = key,
                None => self.keys.push(key),
            }
        }
    }

    /// The declarations, in declaration order.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// The declaration `key` falls under: its own, else its family's.
    pub fn find(&self, key: &str) -> Option<&Key> {
        self.keys
            .iter()
            .find(|k| k.name == key)
            .or_else(|| self.keys.iter().find(|k| k.is_family() && k.matches(key)))
    }

    /// The declared key that `key` most looks like, when it looks enough like one to be a
    /// misspelling of it (Damerau–Levenshtein distance, `strsim`).
    pub fn closest(&self, key: &str) -> Option<&str> {
        let limit = (key.chars().count() / 4).clamp(1, 3);
        self.keys
            .iter()
            .filter(|k| !k.is_family() && !k.ignored)
            .map(|k| (strsim::damerau_levenshtein(key, &k.name), k.name.as_ref()))
            .filter(|(distance, _)| *distance <= limit)
            .min_by_key(|(distance, _)| *distance)
            .map(|(_, name)| name)
    }

    /// The properties nothing read and no declaration marks as ignored, each with the known
    /// key it looks like when it looks like a misspelling of one.
    pub fn unread(&self, props: &Properties) -> Vec<Unknown> {
        props
            .unread()
            .into_iter()
            .filter(|key| !self.find(key).is_some_and(|k| k.ignored))
            .map(|key| Unknown {
                closest: match self.find(&key) {
                    Some(_) => None,
                    None => self.closest(&key).map(str::to_owned),
                },
                key,
            })
            .collect()
    }

    /// Every declared key (families only where some key of theirs is set) and every unknown
    /// key that is set, each with its value and problems: a value that is not of the key's
    /// type or not accepted by its validator, a required key unset. `more` adds problems
    /// found beyond single keys (a connector's own checks), each naming its key.
    pub fn check(&self, props: &Properties, more: Vec<ConfigError>) -> Vec<Checked> {
        let given = props.to_map();
        let mut checked: Vec<Checked> = Vec::new();
        for key in &self.keys {
            if key.is_family() {
                for (name, value) in given.iter().filter(|(name, _)| key.matches(name)) {
                    if self.keys.iter().any(|k| k.name == *name) {
                        continue;
                    }
                    let mut one = key.clone();
                    one.name = name.clone().into();
                    checked.push(check_one(one, Some(value)));
                }
            } else {
                checked.push(check_one(key.clone(), given.get(key.name.as_ref())));
            }
        }
        for (name, value) in &given {
            if self.find(name).is_none() {
                let mut key = Key::new(name.clone(), Type::String).group("Unknown");
                key.documentation = match self.closest(name) {
                    Some(closest) => {
                        format!("Not a key Tidemark knows: it is ignored. Did you mean {closest}?")
                    }
                    None => "Not a key Tidemark knows: it is ignored.".to_owned(),
                }
                .into();
                checked.push(Checked {
                    key,
                    value: Some(value.clone()),
                    errors: Vec::new(),
                });
            }
        }
        for error in more {
            let name = match &error {
                ConfigError::Invalid { key, .. } | ConfigError::Missing { key, .. } => key.clone(),
                _ => String::new(),
            };
            match checked.iter_mut().find(|c| c.key.name == name) {
                // A key already found wrong on its own: its reader's error says the same.
                Some(c) if !c.errors.is_empty() => {}
                Some(c) => c.errors.push(error.to_string()),
                None => checked.push(Checked {
                    key: Key::new(name, Type::String).group("Connector"),
                    value: None,
                    errors: vec![error.to_string()],
                }),
            }
        }
        checked
    }
}

/// A key's value and the problems with it.
fn check_one(key: Key, value: Option<&String>) -> Checked {
    let set = value.filter(|v| !v.trim().is_empty());
    let mut errors = Vec::new();
    match (set, &key.default) {
        (Some(value), _) => {
            // A config-provider variable is checked once resolved, by the readers.
            if !value.contains("${")
                && let Err(problem) = key.validate(value)
            {
                let value = match key.kind {
                    Type::Password => "[hidden]".to_owned(),
                    _ => value.clone(),
                };
                let error = ConfigError::Invalid {
                    key: key.name.to_string(),
                    value,
                    problem,
                };
                errors.push(error.to_string());
            }
        }
        (None, DefaultValue::Required(hint)) => {
            let error = ConfigError::Missing {
                key: key.name.to_string(),
                hint: hint.to_string(),
            };
            errors.push(error.to_string());
        }
        (None, _) => {}
    }
    Checked {
        value: value.cloned(),
        key,
        errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def() -> ConfigDef {
        ConfigDef::new([
            Key::string("snapshot.mode")
                .default("initial")
                .choices(&["initial", "never"]),
            Key::string("database.hostname").required("the host"),
            Key::int("database.port")
                .default("5432")
                .range(Some(1), Some(65535)),
            Key::string("tasks.max").ignored(),
            Key::string("producer.*"),
        ])
    }

    #[test]
    fn a_misspelt_key_is_named_with_the_closest_known_key() {
        let def = def();
        assert_eq!(def.closest("snapshot.mod"), Some("snapshot.mode"));
        assert_eq!(def.closest("databse.port"), Some("database.port"));
        assert_eq!(def.closest("something.else.entirely"), None);
        let props = Properties::from_pairs([
            ("snapshot.mod", "never"),
            ("tasks.max", "1"),
            ("producer.acks", "all"),
            ("whatever", "x"),
        ]);
        let unread: Vec<String> = def.unread(&props).iter().map(ToString::to_string).collect();
        assert_eq!(
            unread,
            [
                "producer.acks",
                "snapshot.mod (did you mean snapshot.mode?)",
                "whatever"
            ]
        );
    }

    #[test]
    fn check_reports_every_problem_by_key() {
        let props = Properties::from_pairs([
            ("snapshot.mode", "sometimes"),
            ("database.port", "0"),
            ("producer.acks", "all"),
            ("snapshot.mod", "never"),
        ]);
        let more = vec![ConfigError::Invalid {
            key: "database.port".into(),
            value: "0".into(),
            problem: "again".into(),
        }];
        let checked = def().check(&props, more);
        let errors = |name: &str| {
            checked
                .iter()
                .find(|c| c.key.name == name)
                .map(|c| c.errors.clone())
                .unwrap()
        };
        assert_eq!(
            errors("snapshot.mode"),
            [
                "property 'snapshot.mode' has an invalid value \"sometimes\": expected one of \
                 initial, never"
            ]
        );
        assert_eq!(errors("database.port").len(), 1);
        assert_eq!(
            errors("database.hostname"),
            ["property 'database.hostname' is required: the host"]
        );
        assert!(errors("producer.acks").is_empty());
        let unknown = checked
            .iter()
            .find(|c| c.key.name == "snapshot.mod")
            .unwrap();
        assert!(unknown.errors.is_empty());
        assert!(
            unknown
                .key
                .documentation
                .contains("Did you mean snapshot.mode?")
        );
    }
}
