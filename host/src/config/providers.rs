//! Kafka Connect's config providers: a property value may hold variables
//! `${provider:path:key}` (or `${provider:key}`), replaced when a connector starts by what the
//! provider named in `config.providers` finds.
//!
//! As in Connect, `config.providers=file,env,dir` names the providers and
//! `config.providers.<name>.class` gives each its class; Tidemark has Connect's three
//! (`FileConfigProvider`, `EnvVarConfigProvider`, `DirectoryConfigProvider` of
//! `org.apache.kafka.common.config.provider`) and takes the names `file`, `env` and `dir`
//! without a class as those three. Parameters are `config.providers.<name>.param.<param>`:
//! `allowed.paths` for the file and directory providers, `allowlist.pattern` for the
//! environment one. Variables are matched as Connect's `ConfigTransformer` matches them, and a
//! variable naming a provider that is not configured stays as it is (a warning names it). A
//! value the provider does not have is an error here (Connect would leave the variable in
//! place), naming the property and the variable but never a resolved value.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use regex::Regex;

use super::redact::Secrets;
use super::{ConfigError, Key, Properties, parse_properties};

super::declare_keys! {
    /// `config.providers`.
    PROVIDERS = Key::list("config.providers")
        .group("Config providers")
        .doc("The config providers whose ${provider:path:key} variables are resolved when a \
              connector starts: file, env and dir are Connect's three.");
    /// `config.providers.<name>.class`.
    PROVIDER_CLASS = Key::class("config.providers.<name>.class")
        .group("Config providers")
        .doc("A provider's class: org.apache.kafka.common.config.provider.FileConfigProvider, \
              EnvVarConfigProvider or DirectoryConfigProvider (not needed for the names file, \
              env and dir).");
    /// `config.providers.<name>.param.allowed.paths`.
    PROVIDER_PATHS = Key::list("config.providers.<name>.param.allowed.paths")
        .group("Config providers")
        .doc("The file and directory providers' allowed paths: absolute paths the provider \
              may read under (all when unset).");
    /// `config.providers.<name>.param.allowlist.pattern`.
    PROVIDER_ALLOWLIST = Key::string("config.providers.<name>.param.allowlist.pattern")
        .default(".*")
        .group("Config providers")
        .doc("The environment provider's allow list: a regular expression every variable's \
              name must match.");
}

const FILE_CLASS: &str = "org.apache.kafka.common.config.provider.FileConfigProvider";
const ENV_CLASS: &str = "org.apache.kafka.common.config.provider.EnvVarConfigProvider";
const DIR_CLASS: &str = "org.apache.kafka.common.config.provider.DirectoryConfigProvider";

/// `${provider:path:key}` or `${provider:key}`: Connect's `ConfigTransformer` pattern.
fn variables() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| {
        Regex::new(r"\$\{([^}]*?):(?:([^}]*?):)?([^}]*?)\}").expect("the variable pattern is valid")
    })
}

/// Replaces the config-provider variables in every property value (except the
/// `config.providers` settings themselves), and remembers the resolved values so that error
/// messages and the log written through [`super::RedactingStderr`] show the variable instead.
pub fn resolve_providers(props: &mut Properties) -> Result<(), ConfigError> {
    let providers = configured(props)?;
    let mut pairs = Vec::new();
    let mut replaced = Vec::new();
    for (key, value) in &props.entries {
        if key == "config.providers" || key.starts_with("config.providers.") {
            continue;
        }
        if let Some(value) = substitute(key, value, &providers, &mut pairs)? {
            replaced.push((key.clone(), value));
        }
    }
    props.entries.extend(replaced);
    let secrets = Secrets::new(pairs);
    secrets.hide_from_log();
    props.secrets = secrets;
    Ok(())
}

/// `value` with its variables replaced, or `None` when it has none that a configured
/// provider resolves; each resolved value is added to `pairs` with its variable.
fn substitute(
    key: &str,
    value: &str,
    providers: &BTreeMap<String, Provider>,
    pairs: &mut Vec<(String, String)>,
) -> Result<Option<String>, ConfigError> {
    let mut out = String::new();
    let mut copied = 0;
    let mut changed = false;
    for found in variables().captures_iter(value) {
        let whole = found.get(0).expect("a match has group 0");
        let name = &found[1];
        let Some(provider) = providers.get(name) else {
            tracing::warn!(
                property = key,
                variable = whole.as_str(),
                "the variable's config provider '{name}' is not in config.providers, so the \
                 value is used as written (list the provider in config.providers to resolve it)"
            );
            continue;
        };
        let path = found.get(2).map_or("", |m| m.as_str());
        let resolved =
            provider
                .lookup(name, path, &found[3])
                .map_err(|problem| ConfigError::Provider {
                    key: key.to_owned(),
                    variable: whole.as_str().to_owned(),
                    problem,
                })?;
        out.push_str(&value[copied..whole.start()]);
        out.push_str(&resolved);
        copied = whole.end();
        changed = true;
        pairs.push((resolved, whole.as_str().to_owned()));
    }
    if !changed {
        return Ok(None);
    }
    out.push_str(&value[copied..]);
    Ok(Some(out))
}

/// A configured provider.
enum Provider {
    /// `FileConfigProvider`: the path is a `.properties` file, the key one of its keys.
    File(AllowedPaths),
    /// `EnvVarConfigProvider`: no path, the key names an environment variable that must match
    /// the whole allow-list pattern.
    Env(Regex),
    /// `DirectoryConfigProvider`: the path is a directory, the key names a file in it whose
    /// whole content is the value.
    Dir(AllowedPaths),
}

/// The providers `config.providers` lists, by name.
fn configured(props: &Properties) -> Result<BTreeMap<String, Provider>, ConfigError> {
    let mut providers = BTreeMap::new();
    for name in props.items(&PROVIDERS)? {
        let class_key = format!("config.providers.{name}.class");
        let class = match (props.get(&class_key), name.as_str()) {
            (Some(class), _) => class.trim(),
            (None, "file") => FILE_CLASS,
            (None, "env") => ENV_CLASS,
            (None, "dir") => DIR_CLASS,
            (None, _) => {
                return Err(ConfigError::Missing {
                    key: class_key,
                    hint: format!(
                        "config.providers lists '{name}': set its class to {FILE_CLASS}, \
                         {ENV_CLASS} or {DIR_CLASS} (the names file, env and dir need none)"
                    ),
                });
            }
        };
        let provider = match class {
            FILE_CLASS => Provider::File(AllowedPaths::from_properties(props, &name)?),
            DIR_CLASS => Provider::Dir(AllowedPaths::from_properties(props, &name)?),
            ENV_CLASS => Provider::Env(allowlist(props, &name)?),
            other => {
                return Err(ConfigError::Invalid {
                    key: class_key,
                    value: other.to_owned(),
                    problem: format!(
                        "Tidemark's config providers are {FILE_CLASS}, {ENV_CLASS} and {DIR_CLASS}"
                    ),
                });
            }
        };
        providers.insert(name, provider);
    }
    Ok(providers)
}

/// The environment provider's `allowlist.pattern` (all names when unset), matched against
/// whole names.
fn allowlist(props: &Properties, name: &str) -> Result<Regex, ConfigError> {
    let key = format!("config.providers.{name}.param.allowlist.pattern");
    let declared = PROVIDER_ALLOWLIST.instance(key.clone());
    let pattern = props.required(&declared)?;
    Regex::new(&format!("^(?:{pattern})$")).map_err(|e| ConfigError::Invalid {
        key,
        value: pattern.to_owned(),
        problem: format!("not a valid regular expression: {e}"),
    })
}

impl Provider {
    /// The value of `key` at `path`, or what is wrong (never quoting a value).
    fn lookup(&self, name: &str, path: &str, key: &str) -> Result<String, String> {
        match self {
            Provider::File(allowed) => {
                let file = allowed.check(name, path)?;
                let text = std::fs::read_to_string(&file).map_err(|e| {
                    format!(
                        "cannot read {path}: {e} (check the path and that Tidemark may read it)"
                    )
                })?;
                // Only the line number: the rest of a syntax error quotes the file.
                let entries = parse_properties(&text).map_err(|problem| {
                    let line = problem.split(':').next().unwrap_or_default();
                    format!("{path} is not a valid properties file ({line})")
                })?;
                entries.get(key).cloned().ok_or_else(|| {
                    format!("{path} has no key '{key}' (add it to the file, or fix the variable)")
                })
            }
            Provider::Env(allowlist) => {
                if !path.is_empty() {
                    return Err(format!(
                        "the environment provider takes no path: write ${{{name}:{key}}}"
                    ));
                }
                if !allowlist.is_match(key) {
                    return Err(format!(
                        "environment variable {key} does not match \
                         config.providers.{name}.param.allowlist.pattern (allow it there, or \
                         use another variable)"
                    ));
                }
                std::env::var(key).map_err(|e| match e {
                    std::env::VarError::NotPresent => format!(
                        "environment variable {key} is not set (set it where Tidemark runs, or \
                         fix the variable)"
                    ),
                    std::env::VarError::NotUnicode(_) => {
                        format!("environment variable {key} is not valid Unicode")
                    }
                })
            }
            Provider::Dir(allowed) => {
                let dir = allowed.check(name, path)?;
                if key.is_empty() || key.contains('/') || key == "." || key == ".." {
                    return Err(format!(
                        "'{key}' is not a file name: name a file directly in {path}"
                    ));
                }
                if !dir.is_dir() {
                    return Err(format!("{path} is not a directory"));
                }
                let file = dir.join(key);
                if !file.is_file() {
                    return Err(format!(
                        "{path} has no file '{key}' (add it, or fix the variable)"
                    ));
                }
                let bytes = std::fs::read(&file).map_err(|e| {
                    format!(
                        "cannot read {}: {e} (check that Tidemark may read it)",
                        file.display()
                    )
                })?;
                String::from_utf8(bytes)
                    .map_err(|_| format!("{} is not UTF-8 text", file.display()))
            }
        }
    }
}

/// A provider's `allowed.paths`: the paths it may read under (all when unset).
struct AllowedPaths {
    key: String,
    roots: Option<Vec<PathBuf>>,
}

impl AllowedPaths {
    fn from_properties(props: &Properties, name: &str) -> Result<AllowedPaths, ConfigError> {
        let key = format!("config.providers.{name}.param.allowed.paths");
        let Some(list) = props.get(&key) else {
            return Ok(AllowedPaths { key, roots: None });
        };
        let invalid = |problem: String| ConfigError::Invalid {
            key: key.clone(),
            value: list.to_owned(),
            problem,
        };
        let mut roots = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let root = normalize(Path::new(entry));
            if !root.is_absolute() {
                return Err(invalid(format!("{entry} is not an absolute path")));
            }
            if !root.exists() {
                return Err(invalid(format!("{entry} does not exist")));
            }
            roots.push(root);
        }
        Ok(AllowedPaths {
            key,
            roots: Some(roots),
        })
    }

    /// The path to read for `path`, if it lies under an allowed path (after removing `.` and
    /// `..`, as Connect does).
    fn check(&self, name: &str, path: &str) -> Result<PathBuf, String> {
        if path.is_empty() {
            return Err(format!(
                "the {name} provider needs a path: write ${{{name}:/path:key}}"
            ));
        }
        let Some(roots) = &self.roots else {
            return Ok(PathBuf::from(path));
        };
        let normal = normalize(Path::new(path));
        if roots.iter().any(|root| normal.starts_with(root)) {
            Ok(normal)
        } else {
            Err(format!(
                "{path} is not under {} (move it there, or add its directory to that list)",
                self.key
            ))
        }
    }
}

/// `path` without `.` and with each `..` taking away the component before it, without
/// looking at the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(".."),
            },
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests;
