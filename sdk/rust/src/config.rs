//! A plugin's configuration.

use std::str::FromStr;

/// The `transforms.<name>.*` properties a plugin was configured with, without the prefix.
#[derive(Debug, Clone, Default)]
pub struct Config {
    entries: Vec<(String, String)>,
}

impl Config {
    /// Wraps configuration entries.
    pub fn new(entries: Vec<(String, String)>) -> Config {
        Config { entries }
    }

    /// Configuration from `(key, value)` string pairs, as tests and native callers write it.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Config {
        Config::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// A setting's value, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A setting that must be present; the error names it.
    pub fn require(&self, key: &str) -> Result<&str, String> {
        self.get(key)
            .ok_or_else(|| format!("missing required setting '{key}'"))
    }

    /// A setting parsed into `T`, or `default` when absent; the error names the setting.
    pub fn parse_or<T: FromStr>(&self, key: &str, default: T) -> Result<T, String> {
        match self.get(key) {
            None => Ok(default),
            Some(text) => text
                .trim()
                .parse()
                .map_err(|_| format!("setting '{key}' has an invalid value {text:?}")),
        }
    }

    /// A comma-separated list setting (empty when absent).
    pub fn list(&self, key: &str) -> Vec<String> {
        self.get(key)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// All entries, in the order given.
    pub fn entries(&self) -> &[(String, String)] {
        &self.entries
    }
}
