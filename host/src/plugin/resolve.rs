//! Finding the plugin a `transforms.<name>.type` names: a Kafka Connect or Debezium class
//! name maps to the bundled plugin that implements it; any other name is a plugin in the
//! plugin directory (`plugin.path`); a path is a plugin file.

use std::path::{Path, PathBuf};

use super::PluginError;

/// Java class names and the bundled plugins that implement them.
const BUNDLED: &[(&str, &str)] = &[(
    "org.apache.kafka.connect.transforms.RegexRouter",
    "regex-router",
)];

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

/// The file of the plugin a transform type names.
pub fn find_plugin(type_name: &str, dirs: &[PathBuf]) -> Result<PathBuf, PluginError> {
    let type_name = type_name.trim();
    if type_name.ends_with(".wasm") || type_name.contains('/') {
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
        return candidates
            .iter()
            .find(|p| p.is_file())
            .cloned()
            .ok_or_else(|| PluginError::NotFound {
                name: type_name.to_owned(),
                searched: candidates,
            });
    }
    let name = BUNDLED
        .iter()
        .find(|(class, _)| *class == type_name)
        .map_or(type_name, |(_, plugin)| plugin);
    let candidates: Vec<PathBuf> = dirs
        .iter()
        .map(|d| d.join(format!("{name}.wasm")))
        .collect();
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| PluginError::NotFound {
            name: type_name.to_owned(),
            searched: candidates,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_and_plain_names_resolve_in_order() {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        std::fs::write(second.path().join("regex-router.wasm"), b"").unwrap();
        std::fs::write(first.path().join("mine.wasm"), b"").unwrap();
        let dirs = vec![first.path().to_owned(), second.path().to_owned()];
        assert_eq!(
            find_plugin("org.apache.kafka.connect.transforms.RegexRouter", &dirs).unwrap(),
            second.path().join("regex-router.wasm")
        );
        assert_eq!(
            find_plugin("mine", &dirs).unwrap(),
            first.path().join("mine.wasm")
        );
        assert_eq!(
            find_plugin("mine.wasm", &dirs).unwrap(),
            first.path().join("mine.wasm")
        );
        let err = find_plugin("com.example.Missing", &dirs)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("com.example.Missing") && err.contains("plugin.path"),
            "{err}"
        );
    }
}
