//! A plugin's declared configuration keys: the optional `tidemark:plugin/config-schema`
//! export (wit/config.wit), read once per loaded plugin, and the check of a configuration
//! against it before `configure`.
//!
//! The host calls `describe` on an instance of its own (no grants, the default limits), so a
//! plugin's declaration costs one instantiation per process and compiled plugin; the answer
//! is kept with the compiled plugin. A plugin that does not export the interface, or answers
//! `none`, is configured unchecked, as before.

use wasmtime::Store;
use wasmtime::component::InstancePre;

use super::bindings::{config_schema as wit, exports};
use super::limits::Limits;
use super::state::{PluginContext, StoreState};
use super::stderr::StderrTail;
use super::{Plugin, PluginError};
use crate::config::{ConfigDef, DefaultValue, Importance, Key, Text, Type, Validator};

/// The keys a plugin declares, as the configuration layer's [`ConfigDef`] (which the REST
/// API lists and validates with), and which of them compare their choices exactly.
#[derive(Debug, Clone, Default)]
pub struct Declaration {
    def: ConfigDef,
    /// Keys whose allowed values are compared exactly (Connect's `ValidString`); the
    /// others' ignore case.
    exact: Vec<String>,
}

/// What checking a configuration found: warnings to log (unknown keys) and errors that
/// refuse the configuration, `(full key, message)`, each naming the full key
/// (`transforms.<name>.<key>`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Findings {
    pub warnings: Vec<String>,
    pub errors: Vec<(String, String)>,
}

/// A declared key as the configuration layer declares keys.
fn key_of(declared: wit::ConfigKey) -> Key {
    let kind = match declared.type_ {
        wit::KeyType::String => Type::String,
        wit::KeyType::Int => Type::Int,
        wit::KeyType::Long => Type::Long,
        wit::KeyType::Double => Type::Double,
        wit::KeyType::Boolean => Type::Boolean,
        wit::KeyType::List => Type::List,
        wit::KeyType::Class => Type::Class,
        wit::KeyType::Password => Type::Password,
    };
    let mut key = Key::new(declared.name, kind).group("Plugin");
    if declared.required {
        key = key.required(declared.documentation.clone());
    } else if let Some(default) = declared.default_value {
        key = key.default(default);
    }
    if !declared.allowed.is_empty() {
        key.validator = Validator::Choices(declared.allowed.into_iter().map(Text::from).collect());
    }
    key.importance(match declared.importance {
        wit::Importance::High => Importance::High,
        wit::Importance::Medium => Importance::Medium,
        wit::Importance::Low => Importance::Low,
    })
    .doc(declared.documentation)
}

impl Declaration {
    /// A declaration of these keys, as the plugin's `describe` gave them.
    pub fn new(keys: Vec<wit::ConfigKey>) -> Declaration {
        let exact = keys
            .iter()
            .filter(|k| !k.case_insensitive && !k.allowed.is_empty())
            .map(|k| k.name.clone())
            .collect();
        Declaration {
            def: ConfigDef::new(keys.into_iter().map(key_of)),
            exact,
        }
    }

    /// The declared keys.
    pub fn def(&self) -> &ConfigDef {
        &self.def
    }

    /// Why `value` is not a valid value of `key`, if it is not: its type and allowed values,
    /// compared exactly for a key declared so.
    fn problem(&self, key: &Key, value: &str) -> Option<String> {
        if let Err(problem) = key.validate(value) {
            return Some(problem);
        }
        let Validator::Choices(choices) = &key.validator else {
            return None;
        };
        if !self.exact.iter().any(|name| *name == key.name) {
            return None;
        }
        let items: Vec<&str> = match key.kind {
            Type::List => value
                .split(',')
                .map(str::trim)
                .filter(|i| !i.is_empty())
                .collect(),
            _ => vec![value.trim()],
        };
        items
            .iter()
            .find(|item| !choices.iter().any(|c| c == *item))
            .map(|item| {
                format!(
                    "{item:?} is not one of {} (the case matters)",
                    choices.join(", ")
                )
            })
    }

    /// Checks a plugin's configuration (without its `prefix`, e.g. `transforms.unwrap.`, and
    /// without the host's `plugin.*` keys): every required key set, every value of its type
    /// and among its allowed values; an undeclared key is a warning naming the closest
    /// declared key.
    pub fn check(&self, prefix: &str, config: &[(String, String)]) -> Findings {
        let mut findings = Findings::default();
        for (name, value) in config {
            match self.def.find(name) {
                Some(key) => {
                    if let Some(problem) = self.problem(key, value) {
                        let default = match key.default_value() {
                            Some(default) => format!("; unset, it is {default}"),
                            None => String::new(),
                        };
                        findings.errors.push((
                            format!("{prefix}{name}"),
                            format!(
                                "{prefix}{name}={value:?} is invalid: {problem} (fix or remove it{default})"
                            ),
                        ));
                    }
                }
                None => findings.warnings.push(self.unknown(prefix, name)),
            }
        }
        for key in self.def.keys() {
            if let DefaultValue::Required(hint) = &key.default
                && !key.is_family()
                && !config.iter().any(|(name, _)| *name == key.name)
            {
                findings.errors.push((
                    format!("{prefix}{}", key.name),
                    format!(
                        "{prefix}{} must be set ({})",
                        key.name,
                        hint.trim_end_matches('.')
                    ),
                ));
            }
        }
        findings
    }

    /// The warning for an undeclared key.
    fn unknown(&self, prefix: &str, name: &str) -> String {
        match self.def.closest(name) {
            Some(near) => format!(
                "{prefix}{name} is not a key of this plugin and is ignored; did you mean {prefix}{near}?"
            ),
            None if self.def.keys().is_empty() => {
                format!("{prefix}{name} is ignored: this plugin takes no keys")
            }
            None => format!(
                "{prefix}{name} is not a key of this plugin and is ignored (its keys: {})",
                self.def
                    .keys()
                    .iter()
                    .map(|k| k.name.as_ref())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// Checks a plugin's configuration (without its `prefix`, and without the host's `plugin.*`
/// keys) against the keys it declares, if it declares any: unknown keys are logged as
/// warnings naming the closest key; other problems refuse the configuration, each naming
/// `<prefix><key>` and what to do.
pub(super) fn check_declared(
    plugin: &Plugin,
    label: &str,
    prefix: &str,
    config: &[(String, String)],
) -> Result<(), PluginError> {
    let Some(declaration) = plugin.declaration()? else {
        return Ok(());
    };
    let findings = declaration.check(prefix, config);
    for warning in &findings.warnings {
        tracing::warn!(plugin = %label, "{warning}");
    }
    if findings.errors.is_empty() {
        Ok(())
    } else {
        Err(PluginError::InvalidConfig {
            plugin: label.to_owned(),
            problems: findings.errors.into_iter().map(|(_, m)| m).collect(),
        })
    }
}

/// Reads a loaded plugin's declaration: `None` when it does not export the interface or
/// declares nothing.
pub(super) fn describe(
    pre: &InstancePre<StoreState>,
    plugin: &str,
) -> Result<Option<Declaration>, PluginError> {
    if pre
        .component()
        .get_export_index(None, exports::CONFIG_SCHEMA)
        .is_none()
    {
        return Ok(None);
    }
    let invalid = |e: wasmtime::Error| PluginError::Invalid {
        plugin: plugin.to_owned(),
        reason: format!("its {} export: {e:#}", exports::CONFIG_SCHEMA),
    };
    let indices = wit::GuestIndices::new(pre).map_err(invalid)?;
    let mut store = Store::new(pre.component().engine(), StoreState::new());
    store.limiter(|s| s);
    let limits = Limits::default();
    let stderr = StderrTail::new();
    let wasi = limits.wasi(&stderr).map_err(PluginError::Runtime)?;
    store
        .data_mut()
        .plugins
        .push(PluginContext::new(plugin, wasi, stderr, &limits));
    super::chain::arm(&mut store, &limits);
    let instance = pre.instantiate(&mut store).map_err(invalid)?;
    let guest = indices.load(&mut store, &instance).map_err(invalid)?;
    let keys = guest.call_describe(&mut store).map_err(invalid)?;
    Ok(keys.map(Declaration::new))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, type_: wit::KeyType) -> wit::ConfigKey {
        wit::ConfigKey {
            name: name.into(),
            type_,
            default_value: None,
            required: false,
            importance: wit::Importance::Medium,
            documentation: "Doc.".into(),
            allowed: Vec::new(),
            case_insensitive: false,
        }
    }

    fn declaration() -> Declaration {
        let mut mode = key("delete.tombstone.handling.mode", wit::KeyType::String);
        mode.allowed = vec!["drop".into(), "tombstone".into(), "rewrite".into()];
        mode.case_insensitive = true;
        mode.default_value = Some("tombstone".into());
        let mut field = key("field", wit::KeyType::String);
        field.required = true;
        let mut operation = key("operation", wit::KeyType::String);
        operation.allowed = vec!["move".into(), "copy".into()];
        Declaration::new(vec![
            mode,
            field,
            operation,
            key("add.fields", wit::KeyType::List),
            key("replace.null.with.default", wit::KeyType::Boolean),
            key("count", wit::KeyType::Int),
            key("header.*", wit::KeyType::Password),
        ])
    }

    fn pairs(entries: &[(&str, &str)]) -> Vec<(String, String)> {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn misspelt_keys_are_warned_with_the_closest_key() {
        let findings = declaration().check(
            "transforms.unwrap.",
            &pairs(&[
                ("field", "id"),
                ("add.feilds", "op"),
                ("zzz", "1"),
                ("header.Authorization", "x"),
            ]),
        );
        assert!(findings.errors.is_empty(), "{findings:?}");
        assert_eq!(findings.warnings.len(), 2, "{findings:?}");
        assert!(
            findings.warnings[0].contains("transforms.unwrap.add.feilds")
                && findings.warnings[0].contains("did you mean transforms.unwrap.add.fields?"),
            "{}",
            findings.warnings[0]
        );
        assert!(
            findings.warnings[1].contains("its keys: "),
            "{}",
            findings.warnings[1]
        );
    }

    #[test]
    fn bad_types_choices_and_missing_keys_are_errors_naming_the_key() {
        let findings = declaration().check(
            "transforms.unwrap.",
            &pairs(&[
                ("delete.tombstone.handling.mode", "keep"),
                ("replace.null.with.default", "yes"),
                ("count", "1.5"),
                ("operation", "Move"),
                ("add.fields", "op, table"),
            ]),
        );
        let keys: Vec<&str> = findings.errors.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "transforms.unwrap.delete.tombstone.handling.mode",
                "transforms.unwrap.replace.null.with.default",
                "transforms.unwrap.count",
                "transforms.unwrap.operation",
                "transforms.unwrap.field",
            ]
        );
        let mode = &findings.errors[0].1;
        assert!(
            mode.contains("expected one of drop, tombstone, rewrite")
                && mode.contains("unset, it is tombstone"),
            "{mode}"
        );
        assert!(findings.errors[3].1.contains("the case matters"));
        assert_eq!(
            findings.errors[4].1,
            "transforms.unwrap.field must be set (Doc)"
        );
        // Blanks are ignored, and case where the key says so, as the SDK's parser does.
        let ok = declaration().check(
            "",
            &pairs(&[
                ("field", "x"),
                ("delete.tombstone.handling.mode", " Rewrite "),
                ("operation", "copy"),
            ]),
        );
        assert!(ok.errors.is_empty() && ok.warnings.is_empty(), "{ok:?}");
    }
}
