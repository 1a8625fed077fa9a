//! Helpers shared by the end-to-end tests: where the built plugins and golden files are,
//! a plugin runtime shared by the tests of one test binary, throwaway database servers
//! ([`postgres`], [`mariadb`]) and connectors run against them ([`capture`]).

pub mod capture;
pub mod churn;
pub mod group;
pub mod kafka;
pub mod mariadb;
pub mod postgres;
pub mod process;
pub mod rest;
pub mod scenarios;
pub mod shop;
pub mod tls;
pub mod worker;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use tidemark::event::{self, Record};
use tidemark::plugin::{Chain, Plugin, Runtime, RuntimeOptions, Step};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace root")
        .to_owned()
}

/// The built `.wasm` of a plugin, from `target/plugins/`, `target/test-plugins/` or
/// `target/example-plugins/`.
pub fn plugin_path(name: &str) -> PathBuf {
    let target = workspace_root().join("target");
    for dir in ["plugins", "test-plugins", "example-plugins"] {
        let path = target.join(dir).join(format!("{name}.wasm"));
        if path.exists() {
            return path;
        }
    }
    panic!("plugin {name} is not built: run `cargo xtask plugins` (or `cargo xtask test`) first");
}

/// The component bytes with a custom section carrying `tag` appended: the same plugin, as a
/// version never seen before (its content hash is new, so nothing has compiled it).
pub fn never_seen_version(bytes: &[u8], tag: &str) -> Vec<u8> {
    fn leb128(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            out.push(if n == 0 { byte } else { byte | 0x80 });
            if n == 0 {
                return;
            }
        }
    }
    let name = b"tidemark-test";
    let mut section = Vec::new();
    leb128(name.len(), &mut section);
    section.extend_from_slice(name);
    section.extend_from_slice(tag.as_bytes());
    let mut out = bytes.to_vec();
    out.push(0); // custom section id
    leb128(section.len(), &mut out);
    out.extend_from_slice(&section);
    out
}

/// A workload SQL file from `tests/workloads/`.
pub fn workload(name: &str) -> PathBuf {
    workspace_root().join("tests").join("workloads").join(name)
}

/// The lines of a golden file.
pub fn golden_lines(path: &str) -> Vec<String> {
    std::fs::read_to_string(golden(path))
        .expect("golden file")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A golden file from `tests/golden/`.
pub fn golden(path: &str) -> PathBuf {
    workspace_root().join("tests").join("golden").join(path)
}

/// Records read from a golden JSON-lines file.
pub fn golden_records(path: &str) -> Vec<Record> {
    std::fs::read_to_string(golden(path))
        .expect("golden file")
        .lines()
        .map(|l| event::read_line(l).expect("golden line parses"))
        .collect()
}

/// A runtime shared by the tests of this binary, caching compiled plugins under `target/`.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        Runtime::new(RuntimeOptions {
            cache_dir: Some(workspace_root().join("target").join("test-plugin-cache")),
        })
        .expect("runtime")
    })
}

/// Loads a built plugin into the shared runtime.
pub fn load(name: &str) -> Arc<Plugin> {
    runtime()
        .load_file(&plugin_path(name))
        .expect("plugin loads")
}

/// A chain step from a plugin name and `key=value` settings.
pub fn step(name: &str, settings: &[(&str, &str)]) -> Step {
    Step {
        plugin: load(name),
        config: settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        condition: None,
        name: None,
    }
}

/// Builds a chain in the shared runtime.
pub fn chain(steps: Vec<Step>) -> Result<Chain, tidemark::plugin::PluginError> {
    Chain::new(runtime(), steps)
}

/// A schemaless record of the given topic with a string value.
pub fn simple_record(topic: &str, value: &str) -> Record {
    Record::new(
        topic,
        None,
        Some(event::Data::schemaless(event::Value::String(value.into()))),
    )
}

/// The value of the last header with this key.
pub fn header<'a>(record: &'a Record, key: &str) -> Option<&'a str> {
    record
        .headers
        .iter()
        .rev()
        .find(|h| h.key == key)
        .and_then(|h| h.value.as_deref())
}

/// The `tidemark` binary, built on first use (a no-op when `cargo test --workspace` built it).
pub fn tidemark_binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = std::process::Command::new(cargo)
                .current_dir(workspace_root())
                .args(["build", "--quiet", "-p", "tidemark", "--bin", "tidemark"])
                .status()
                .expect("cargo runs");
            assert!(status.success(), "building the tidemark binary failed");
            workspace_root()
                .join("target")
                .join("debug")
                .join("tidemark")
        })
        .clone()
}

/// Writes properties as a `.properties` file.
pub fn write_properties(path: &std::path::Path, props: &[(String, String)]) {
    let text: String = props
        .iter()
        .map(|(k, v)| format!("{k}={}\n", v.replace('\\', "\\\\")))
        .collect();
    std::fs::write(path, text).expect("write the config file");
}

/// The value of the last header named `key` of a JSON-lines event (`{"headers": [{"key",
/// "value"}]}`): a transform that sets a header again wins.
pub fn last_header<'a>(event: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    event["headers"]
        .as_array()?
        .iter()
        .rev()
        .find(|h| h["key"] == key)
        .and_then(|h| h["value"].as_str())
}
