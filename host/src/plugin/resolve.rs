//! Finding the plugin a `transforms.<name>.type` names: a Kafka Connect or Debezium class
//! name maps to the bundled plugin that implements it; any other name is a plugin in the
//! plugin directory (`plugin.path`); a path is a plugin file.

use std::path::{Path, PathBuf};

use super::PluginError;

/// A Java transform class and the bundled plugin that implements it, with the settings the
/// class implies (which half of the record a `$Key`/`$Value` variant works on).
struct Bundled {
    class: &'static str,
    plugin: &'static str,
    implied: &'static [(&'static str, &'static str)],
}

const KEY: &[(&str, &str)] = &[("part", "key")];
const VALUE: &[(&str, &str)] = &[("part", "value")];
const KAFKA: &str = "org.apache.kafka.connect.transforms.";

const fn bundled(
    class: &'static str,
    plugin: &'static str,
    implied: &'static [(&'static str, &'static str)],
) -> Bundled {
    Bundled {
        class,
        plugin,
        implied,
    }
}

/// The bundled transforms, by Java class name (Kafka Connect's without their package).
const BUNDLED: &[Bundled] = &[
    bundled(
        "io.debezium.transforms.ExtractNewRecordState",
        "extract-new-record-state",
        &[],
    ),
    bundled("io.debezium.transforms.Filter", "filter", &[]),
    bundled(
        "io.debezium.transforms.outbox.EventRouter",
        "event-router",
        &[],
    ),
    bundled(
        "io.debezium.transforms.ByLogicalTableRouter",
        "by-logical-table-router",
        &[],
    ),
    bundled("RegexRouter", "regex-router", &[]),
    bundled("Filter", "filter", &[]),
    bundled("ValueToKey", "value-to-key", &[]),
    bundled("MaskField$Key", "mask-field", KEY),
    bundled("MaskField$Value", "mask-field", VALUE),
    bundled("InsertField$Key", "insert-field", KEY),
    bundled("InsertField$Value", "insert-field", VALUE),
    bundled("ReplaceField$Key", "replace-field", KEY),
    bundled("ReplaceField$Value", "replace-field", VALUE),
    bundled("ExtractField$Key", "extract-field", KEY),
    bundled("ExtractField$Value", "extract-field", VALUE),
    bundled("TimestampConverter$Key", "timestamp-converter", KEY),
    bundled("TimestampConverter$Value", "timestamp-converter", VALUE),
    bundled("HeaderFrom$Key", "header-from", KEY),
    bundled("HeaderFrom$Value", "header-from", VALUE),
];

/// The bundled transform classes, by their full names, with the plugin of each.
pub fn bundled_classes() -> impl Iterator<Item = (String, &'static str)> {
    BUNDLED.iter().map(|b| {
        let class = if b.class.contains('.') {
            b.class.to_owned()
        } else {
            format!("{KAFKA}{}", b.class)
        };
        (class, b.plugin)
    })
}

/// Whether a plugin of this name is one a bundled class names.
pub fn is_bundled_plugin(name: &str) -> bool {
    BUNDLED.iter().any(|b| b.plugin == name)
}

/// The plugin file a transform type resolves to, and the settings its class implies.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub path: PathBuf,
    pub implied: Vec<(String, String)>,
}

/// Directories searched for plugins, in order: the plugin directory, then the bundled
/// plugins next to the binary (`<bin>/plugins`, and `<bin>/../plugins` as in a cargo
/// `target/` directory).
pub fn search_dirs(plugin_path: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = plugin_path.map(Path::to_path_buf).into_iter().collect();
    if let Some(bin_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        dirs.push(bin_dir.join("plugins"));
        if let Some(parent) = bin_dir.parent() {
            dirs.push(parent.join("plugins"));
        }
    }
    dirs
}

/// The plugin a transform type names.
pub fn find_plugin(type_name: &str, dirs: &[PathBuf]) -> Result<Resolved, PluginError> {
    let type_name = type_name.trim();
    let (candidates, implied) = if type_name.ends_with(".wasm") || type_name.contains('/') {
        let path = Path::new(type_name);
        let candidates: Vec<PathBuf> = if path.is_absolute() {
            vec![path.to_owned()]
        } else {
            dirs.iter()
                .take(1)
                .map(|d| d.join(path))
                .chain([path.to_owned()])
                .collect()
        };
        (candidates, Vec::new())
    } else {
        let short = type_name.strip_prefix(KAFKA).unwrap_or(type_name);
        let bundled = BUNDLED
            .iter()
            .find(|b| b.class == short || b.class == type_name);
        let name = bundled.map_or(type_name, |b| b.plugin);
        let implied = bundled
            .map(|b| {
                b.implied
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let candidates = dirs
            .iter()
            .map(|d| d.join(format!("{name}.wasm")))
            .collect();
        (candidates, implied)
    };
    match candidates.iter().find(|p| p.is_file()) {
        Some(path) => Ok(Resolved {
            path: path.clone(),
            implied,
        }),
        None => Err(PluginError::NotFound {
            name: type_name.to_owned(),
            searched: candidates,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_and_plain_names_resolve_in_order() {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        std::fs::write(second.path().join("regex-router.wasm"), b"").unwrap();
        std::fs::write(second.path().join("mask-field.wasm"), b"").unwrap();
        std::fs::write(first.path().join("mine.wasm"), b"").unwrap();
        let dirs = vec![first.path().to_owned(), second.path().to_owned()];
        let path = |t: &str| find_plugin(t, &dirs).unwrap().path;
        assert_eq!(
            path("org.apache.kafka.connect.transforms.RegexRouter"),
            second.path().join("regex-router.wasm")
        );
        let mask = find_plugin("org.apache.kafka.connect.transforms.MaskField$Key", &dirs).unwrap();
        assert_eq!(mask.path, second.path().join("mask-field.wasm"));
        assert_eq!(mask.implied, vec![("part".to_owned(), "key".to_owned())]);
        assert_eq!(path("mine"), first.path().join("mine.wasm"));
        assert_eq!(path("mine.wasm"), first.path().join("mine.wasm"));
        let classes: Vec<(String, &str)> = bundled_classes().collect();
        assert!(classes.contains(&(
            "org.apache.kafka.connect.transforms.MaskField$Key".to_owned(),
            "mask-field"
        )));
        assert!(classes.contains(&(
            "io.debezium.transforms.ExtractNewRecordState".to_owned(),
            "extract-new-record-state"
        )));
        assert!(is_bundled_plugin("filter") && !is_bundled_plugin("mine"));
        let err = find_plugin("com.example.Missing", &dirs)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("com.example.Missing") && err.contains("plugin.path"),
            "{err}"
        );
    }
}
