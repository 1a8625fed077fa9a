//! Errors of the plugin layer. Each names the plugin and says what to do.

use std::path::PathBuf;

/// What went wrong loading, configuring or running a plugin.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("cannot read plugin file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "no plugin for '{name}': looked for {} (put the plugin's .wasm file in the directory named by plugin.path)",
        searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    NotFound {
        name: String,
        searched: Vec<PathBuf>,
    },
    #[error("plugin '{plugin}' is not a valid WebAssembly component: {reason}")]
    Invalid { plugin: String, reason: String },
    #[error(
        "plugin '{plugin}' is a {found}, not a {expected}: it must export the {wanted} interface"
    )]
    WrongWorld {
        plugin: String,
        found: String,
        expected: &'static str,
        wanted: &'static str,
    },
    #[error("plugin '{plugin}' cannot be linked: {reason}")]
    Link { plugin: String, reason: String },
    #[error("plugin '{plugin}': setting {key}={value:?} is invalid: {reason}")]
    Setting {
        plugin: String,
        key: String,
        value: String,
        reason: String,
    },
    #[error(
        "plugin '{plugin}' has an invalid configuration: {}",
        problems.join("; ")
    )]
    InvalidConfig {
        plugin: String,
        /// Each problem, naming its full key and what to do.
        problems: Vec<String>,
    },
    #[error("plugin '{plugin}' rejected its configuration: {message}")]
    Configure { plugin: String, message: String },
    #[error(
        "plugin '{plugin}' exceeded its time limit of {limit_ms} ms per batch (raise plugin.timeout.ms if the work is legitimate)"
    )]
    Timeout { plugin: String, limit_ms: u64 },
    #[error(
        "plugin '{plugin}' exceeded its memory limit of {limit_bytes} bytes (raise plugin.memory.limit.bytes if the work is legitimate){}",
        stderr_suffix(stderr)
    )]
    MemoryLimit {
        plugin: String,
        limit_bytes: usize,
        stderr: String,
    },
    #[error(
        "plugin '{plugin}' used up its fuel of {fuel} units for one batch (raise plugin.fuel if the work is legitimate)"
    )]
    OutOfFuel { plugin: String, fuel: u64 },
    #[error("plugin '{plugin}' overflowed its stack (too deep recursion)")]
    StackOverflow { plugin: String },
    #[error("plugin '{plugin}' trapped: {trap}{}", stderr_suffix(stderr))]
    Trap {
        plugin: String,
        trap: String,
        stderr: String,
    },
    #[error(
        "plugin '{plugin}' failed on a record of topic '{topic}': {reason} (errors.tolerance=all skips such records, to the dead-letter queue when errors.deadletterqueue.topic.name is set)"
    )]
    RecordFailed {
        plugin: String,
        topic: String,
        reason: String,
    },
    #[error("plugin '{plugin}' returned a bad result: {reason}")]
    BadOutput { plugin: String, reason: String },
    #[error("plugin cache at {path}: {reason}")]
    Cache { path: PathBuf, reason: String },
    #[error("plugin runtime: {0}")]
    Runtime(String),
}

fn stderr_suffix(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!("; its stderr said: {stderr}")
    }
}
