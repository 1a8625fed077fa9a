//! The transforms and predicates the host offers, and each one's declared keys, as Kafka
//! Connect's REST API shows them: `GET /connector-plugins?connectorsOnly=false` lists them,
//! `GET /connector-plugins/{class}/config` gives one's keys, and a connector's
//! `config/validate` checks its `transforms.<alias>.*` and `predicates.<alias>.*` keys with
//! them (Connect's "enriched" `ConfigDef`).
//!
//! A transform's keys are what its plugin declares (its `config-schema` export), less the
//! keys its class implies (`part` for a `$Key`/`$Value` class); a predicate's are declared
//! here, since predicates run in the host.

use std::path::{Path, PathBuf};

use super::predicate::Predicate;
use super::resolve;
use super::{PluginError, Runtime};
use crate::config::{ConfigDef, ConfigError, Key, Properties, Unknown};

/// What a class is, in Connect's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Transformation,
    Predicate,
}

impl Kind {
    /// Connect's `type` of the plugin (`transformation`, `predicate`).
    pub fn connect_name(self) -> &'static str {
        match self {
            Kind::Transformation => "transformation",
            Kind::Predicate => "predicate",
        }
    }
}

/// A transform or predicate class the host runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offered {
    /// The class a configuration names it by (`io.debezium.transforms.ExtractNewRecordState`,
    /// `org.apache.kafka.connect.transforms.MaskField$Value`), or a plugin directory's plugin
    /// by its name.
    pub class: String,
    pub kind: Kind,
}

/// Every transform and predicate class the host runs: the bundled classes whose plugin is
/// found in `dirs` (see [`resolve::search_dirs`]), the plugins of the plugin directory
/// `plugin_path` that no class names, and Connect's predicates.
pub fn offered(plugin_path: Option<&Path>, dirs: &[PathBuf]) -> Vec<Offered> {
    let mut offered: Vec<Offered> = resolve::bundled_classes()
        .filter(|(_, plugin)| {
            dirs.iter()
                .any(|d| d.join(format!("{plugin}.wasm")).is_file())
        })
        .map(|(class, _)| Offered {
            class,
            kind: Kind::Transformation,
        })
        .collect();
    if let Some(dir) = plugin_path
        && let Ok(entries) = std::fs::read_dir(dir)
    {
        let mut own: Vec<String> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
            .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .filter(|name| !resolve::is_bundled_plugin(name))
            .collect();
        own.sort();
        offered.extend(own.into_iter().map(|class| Offered {
            class,
            kind: Kind::Transformation,
        }));
    }
    offered.extend(Predicate::classes().map(|class| Offered {
        class,
        kind: Kind::Predicate,
    }));
    offered
}

/// The keys of a transform or predicate class, as `GET /connector-plugins/{class}/config`
/// lists them; `None` when no transform or predicate has that name. A transform plugin that
/// declares nothing has no keys to list.
pub fn keys_of(
    class: &str,
    runtime: &Runtime,
    dirs: &[PathBuf],
) -> Result<Option<ConfigDef>, PluginError> {
    if let Some(keys) = Predicate::keys_of(class) {
        return Ok(Some(ConfigDef::new(keys)));
    }
    let resolved = match resolve::find_plugin(class, dirs) {
        Ok(resolved) => resolved,
        Err(PluginError::NotFound { .. }) => return Ok(None),
        Err(other) => return Err(other),
    };
    let plugin = runtime.load_file(&resolved.path)?;
    let Some(declaration) = plugin.declaration()? else {
        return Ok(Some(ConfigDef::default()));
    };
    Ok(Some(ConfigDef::new(
        declaration
            .def()
            .keys()
            .iter()
            .filter(|k| !resolved.implied.iter().any(|(name, _)| *k.name == *name))
            .cloned(),
    )))
}

/// What a connector's transforms and predicates add to the check of its configuration.
#[derive(Debug, Default)]
pub struct Enriched {
    /// Each transform's and predicate's keys, named `transforms.<alias>.<key>` and
    /// `predicates.<alias>.<key>`, grouped by alias.
    pub keys: Vec<Key>,
    /// Keys set under an alias whose class declares its keys, that it does not declare, each
    /// with the declared key it most looks like.
    pub unknown: Vec<Unknown>,
    /// A `type` naming no transform or predicate, or a plugin that cannot be loaded, each
    /// naming `transforms.<alias>.type` (`predicates.<alias>.type`).
    pub problems: Vec<ConfigError>,
}

/// The keys a connector's `transforms` and `predicates` declare, as Connect adds each
/// transform's and predicate's `ConfigDef` to a connector's for `config/validate`.
pub fn enrich(props: &Properties, runtime: &Runtime, dirs: &[PathBuf]) -> Enriched {
    let mut enriched = Enriched::default();
    let given = props.to_map();
    for (section, aliases) in [
        ("transforms", props.list("transforms")),
        ("predicates", props.list("predicates")),
    ] {
        for alias in aliases {
            let prefix = format!("{section}.{alias}.");
            let type_key = format!("{prefix}type");
            let Some(class) = given.get(&type_key).filter(|c| !c.trim().is_empty()) else {
                // A missing type is the connector's own check (a required family key).
                continue;
            };
            let def = match keys_of(class.trim(), runtime, dirs) {
                Ok(Some(def)) => def,
                Ok(None) => {
                    enriched.problems.push(ConfigError::Invalid {
                        key: type_key,
                        value: class.clone(),
                        problem: format!(
                            "no {} of this class: {}",
                            if section == "transforms" {
                                "transform"
                            } else {
                                "predicate"
                            },
                            "name a bundled class (GET /connector-plugins?connectorsOnly=false lists them) or a plugin in plugin.path"
                        ),
                    });
                    continue;
                }
                Err(error) => {
                    enriched.problems.push(ConfigError::Invalid {
                        key: type_key,
                        value: class.clone(),
                        problem: error.to_string(),
                    });
                    continue;
                }
            };
            for key in def.keys() {
                let mut key = key.clone();
                key.name = format!("{prefix}{}", key.name).into();
                key.group = format!("{section}.{alias}").into();
                enriched.keys.push(key);
            }
            if def.keys().is_empty() && section == "transforms" {
                // A plugin that declares nothing: its keys are not known.
                continue;
            }
            for name in given.keys().filter_map(|k| k.strip_prefix(&prefix)) {
                if HOST_KEYS.contains(&name)
                    || name.starts_with("plugin.")
                    || def.find(name).is_some()
                {
                    continue;
                }
                enriched.unknown.push(Unknown {
                    key: format!("{prefix}{name}"),
                    closest: def.closest(name).map(|c| format!("{prefix}{c}")),
                });
            }
        }
    }
    enriched
}

/// The keys of a `transforms.<alias>.` or `predicates.<alias>.` section the host reads itself
/// rather than the transform: its type, its predicate and `negate`.
const HOST_KEYS: [&str; 3] = ["type", "predicate", "negate"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicates_are_offered_with_their_keys() {
        let offered = offered(None, &[]);
        assert!(
            offered.iter().all(|o| o.kind == Kind::Predicate),
            "{offered:?}"
        );
        let classes: Vec<&str> = offered.iter().map(|o| o.class.as_str()).collect();
        assert_eq!(
            classes,
            [
                "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
                "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
                "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
            ]
        );
        let runtime = Runtime::new(crate::plugin::RuntimeOptions::default()).unwrap();
        let keys = keys_of("TopicNameMatches", &runtime, &[]).unwrap().unwrap();
        assert_eq!(keys.keys()[0].name, "pattern");
        assert!(
            keys_of("com.example.Nope", &runtime, &[])
                .unwrap()
                .is_none()
        );
        let props = Properties::from_pairs([
            ("predicates", "p"),
            ("predicates.p.type", "TopicNameMatches"),
            ("predicates.p.patern", "x"),
            ("transforms", "t"),
            ("transforms.t.type", "com.example.Nope"),
        ]);
        let enriched = enrich(&props, &runtime, &[]);
        assert_eq!(enriched.keys[0].name, "predicates.p.pattern");
        assert_eq!(
            enriched.unknown,
            [Unknown {
                key: "predicates.p.patern".into(),
                closest: Some("predicates.p.pattern".into())
            }]
        );
        assert!(
            matches!(&enriched.problems[..], [ConfigError::Invalid { key, .. }] if key == "transforms.t.type"),
            "{:?}",
            enriched.problems
        );
    }
}
