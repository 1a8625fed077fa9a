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
use super::{ConfigError, Properties, parse_properties};

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
    for name in props.list("config.providers") {
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
    let pattern = props.get_or(&key, ".*");
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
mod tests {
    use super::*;

    fn resolved(pairs: &[(&str, &str)]) -> Result<Properties, ConfigError> {
        let mut props = Properties::from_pairs(pairs.iter().copied());
        resolve_providers(&mut props).map(|()| props)
    }

    fn error(pairs: &[(&str, &str)]) -> String {
        resolved(pairs).unwrap_err().to_string()
    }

    fn secrets_file(dir: &Path) -> String {
        let file = dir.join("secrets.properties");
        std::fs::write(&file, "pg.user = capture\npg.password=s3cr=t:x\\n2\n").unwrap();
        file.display().to_string()
    }

    #[test]
    fn file_provider_reads_a_properties_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = secrets_file(dir.path());
        let url = format!("postgres://${{file:{file}:pg.user}}:${{file:{file}:pg.password}}@db");
        let props = resolved(&[
            ("config.providers", "file"),
            (
                "database.password",
                &format!("${{file:{file}:pg.password}}"),
            ),
            ("url", &url),
            ("plain", "no variables"),
        ])
        .unwrap();
        assert_eq!(props.get("database.password"), Some("s3cr=t:x\n2"));
        assert_eq!(props.get("url"), Some("postgres://capture:s3cr=t:x\n2@db"));
        assert_eq!(props.get("plain"), Some("no variables"));
        assert_eq!(props.unread(&[]), Vec::<String>::new());
        let shown = format!("{props:?}");
        assert!(!shown.contains("s3cr=t"), "{shown}");
        assert!(
            shown.contains(&format!("<secret from ${{file:{file}:pg.password}}>")),
            "{shown}"
        );
    }

    #[test]
    fn connect_class_names_and_custom_provider_names() {
        let dir = tempfile::tempdir().unwrap();
        let file = secrets_file(dir.path());
        let props = resolved(&[
            ("config.providers", "vault , env"),
            ("config.providers.vault.class", FILE_CLASS),
            ("config.providers.env.class", ENV_CLASS),
            ("database.user", &format!("${{vault:{file}:pg.user}}")),
            // Not configured: left as written, as Connect does.
            (
                "database.password",
                &format!("${{file:{file}:pg.password}}"),
            ),
        ])
        .unwrap();
        assert_eq!(props.get("database.user"), Some("capture"));
        assert_eq!(
            props.get("database.password"),
            Some(format!("${{file:{file}:pg.password}}").as_str())
        );
    }

    #[test]
    fn missing_files_and_keys_name_the_property_and_variable() {
        let dir = tempfile::tempdir().unwrap();
        let file = secrets_file(dir.path());
        let message = error(&[
            ("config.providers", "file"),
            ("database.password", &format!("${{file:{file}:pg.pass}}")),
        ]);
        assert_eq!(
            message,
            format!(
                "property 'database.password': cannot resolve ${{file:{file}:pg.pass}}: {file} \
                 has no key 'pg.pass' (add it to the file, or fix the variable)"
            )
        );
        let missing = dir.path().join("nope.properties").display().to_string();
        let message = error(&[
            ("config.providers", "file"),
            (
                "database.password",
                &format!("${{file:{missing}:pg.password}}"),
            ),
        ]);
        assert!(
            message.starts_with(&format!(
                "property 'database.password': cannot resolve ${{file:{missing}:pg.password}}: cannot read {missing}"
            )),
            "{message}"
        );
        let message = error(&[("config.providers", "file"), ("x", "${file:pg.password}")]);
        assert!(
            message.contains("the file provider needs a path"),
            "{message}"
        );
    }

    #[test]
    fn a_bad_properties_file_is_reported_without_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.properties");
        std::fs::write(&file, "a=1\npw=\\uZZ12secret\n").unwrap();
        let message = error(&[
            ("config.providers", "file"),
            ("x", &format!("${{file:{}:a}}", file.display())),
        ]);
        assert!(
            message.ends_with("is not a valid properties file (line 2)"),
            "{message}"
        );
        assert!(!message.contains("ZZ"), "{message}");
    }

    #[test]
    fn env_provider_reads_the_environment() {
        let path = std::env::var("PATH").expect("PATH is set");
        let props = resolved(&[
            ("config.providers", "env"),
            ("a", "${env:PATH}"),
            ("b", "${env::PATH}"),
        ])
        .unwrap();
        assert_eq!(props.get("a"), Some(path.as_str()));
        assert_eq!(props.get("b"), Some(path.as_str()));

        let message = error(&[
            ("config.providers", "env"),
            ("database.password", "${env:TIDEMARK_SURELY_UNSET_VARIABLE}"),
        ]);
        assert_eq!(
            message,
            "property 'database.password': cannot resolve ${env:TIDEMARK_SURELY_UNSET_VARIABLE}: \
             environment variable TIDEMARK_SURELY_UNSET_VARIABLE is not set (set it where \
             Tidemark runs, or fix the variable)"
        );
        let message = error(&[("config.providers", "env"), ("a", "${env:/etc:PATH}")]);
        assert!(
            message.contains("takes no path: write ${env:PATH}"),
            "{message}"
        );
    }

    #[test]
    fn env_allowlist_matches_whole_names() {
        let allow = |pattern: &str| {
            resolved(&[
                ("config.providers", "env"),
                ("config.providers.env.param.allowlist.pattern", pattern),
                ("a", "${env:PATH}"),
            ])
        };
        assert!(allow("PA.*").is_ok());
        let message = allow("PAT").unwrap_err().to_string();
        assert!(
            message.contains(
                "environment variable PATH does not match config.providers.env.param.allowlist.pattern"
            ),
            "{message}"
        );
        let message = allow("(").unwrap_err().to_string();
        assert!(
            message.starts_with(
                "property 'config.providers.env.param.allowlist.pattern' has an invalid value \"(\""
            ),
            "{message}"
        );
    }

    #[test]
    fn dir_provider_reads_whole_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pg-password"), "line one\nline two\n").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let d = dir.path().display().to_string();
        let props = resolved(&[
            ("config.providers", "dir"),
            ("database.password", &format!("${{dir:{d}:pg-password}}")),
        ])
        .unwrap();
        assert_eq!(props.get("database.password"), Some("line one\nline two\n"));

        let message = error(&[
            ("config.providers", "dir"),
            ("database.password", &format!("${{dir:{d}:pg-pass}}")),
        ]);
        assert_eq!(
            message,
            format!(
                "property 'database.password': cannot resolve ${{dir:{d}:pg-pass}}: {d} has no \
                 file 'pg-pass' (add it, or fix the variable)"
            )
        );
        let message = error(&[
            ("config.providers", "dir"),
            ("x", &format!("${{dir:{d}:sub}}")),
        ]);
        assert!(message.contains("has no file 'sub'"), "{message}");
        let message = error(&[
            ("config.providers", "dir"),
            ("x", &format!("${{dir:{d}:sub/../pg-password}}")),
        ]);
        assert!(message.contains("is not a file name"), "{message}");
        let file = dir.path().join("pg-password").display().to_string();
        let message = error(&[
            ("config.providers", "dir"),
            ("x", &format!("${{dir:{file}:a}}")),
        ]);
        assert!(
            message.ends_with(&format!("{file} is not a directory")),
            "{message}"
        );
    }

    #[test]
    fn allowed_paths_confine_the_file_and_dir_providers() {
        let dir = tempfile::tempdir().unwrap();
        let allowed = dir.path().join("allowed");
        std::fs::create_dir(&allowed).unwrap();
        let file = secrets_file(&allowed);
        let outside = secrets_file(dir.path());
        let sneaky = format!("{}/../secrets.properties", allowed.display());
        let with = |variable: &str| {
            resolved(&[
                ("config.providers", "file,dir"),
                (
                    "config.providers.file.param.allowed.paths",
                    &allowed.display().to_string(),
                ),
                (
                    "config.providers.dir.param.allowed.paths",
                    &allowed.display().to_string(),
                ),
                ("x", variable),
            ])
        };
        let props = with(&format!("${{file:{file}:pg.user}}")).unwrap();
        assert_eq!(props.get("x"), Some("capture"));
        for path in [&outside, &sneaky] {
            let message = with(&format!("${{file:{path}:pg.user}}"))
                .unwrap_err()
                .to_string();
            assert!(
                message.ends_with(&format!(
                    "{path} is not under config.providers.file.param.allowed.paths (move it \
                     there, or add its directory to that list)"
                )),
                "{message}"
            );
        }
        let message = with(&format!(
            "${{dir:{}:secrets.properties}}",
            dir.path().display()
        ))
        .unwrap_err()
        .to_string();
        assert!(
            message.contains("is not under config.providers.dir.param.allowed.paths"),
            "{message}"
        );

        for (paths, problem) in [
            ("relative/dir", "is not an absolute path"),
            ("/surely/not/here", "does not exist"),
        ] {
            let message = error(&[
                ("config.providers", "file"),
                ("config.providers.file.param.allowed.paths", paths),
            ]);
            assert!(
                message.starts_with("property 'config.providers.file.param.allowed.paths'")
                    && message.ends_with(problem),
                "{message}"
            );
        }
    }

    #[test]
    fn providers_need_a_known_class() {
        assert_eq!(
            error(&[("config.providers", "vault")]),
            format!(
                "property 'config.providers.vault.class' is required: config.providers lists \
                 'vault': set its class to {FILE_CLASS}, {ENV_CLASS} or {DIR_CLASS} (the names \
                 file, env and dir need none)"
            )
        );
        let message = error(&[
            ("config.providers", "vault"),
            (
                "config.providers.vault.class",
                "io.example.VaultConfigProvider",
            ),
        ]);
        assert!(
            message.starts_with(
                "property 'config.providers.vault.class' has an invalid value \"io.example.VaultConfigProvider\""
            ),
            "{message}"
        );
    }

    #[test]
    fn invalid_values_from_providers_are_not_shown() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.properties");
        std::fs::write(&file, "port=Not-A-Port-9\nmode=Sometimes-S3cret\n").unwrap();
        let f = file.display();
        let props = resolved(&[
            ("config.providers", "file"),
            ("database.port", &format!("${{file:{f}:port}}")),
            ("snapshot.mode", &format!("${{file:{f}:mode}}")),
        ])
        .unwrap();
        let port = props
            .parse::<u16>("database.port", 5432, "a port number")
            .unwrap_err();
        assert_eq!(
            port.to_string(),
            format!(
                "property 'database.port' has an invalid value \"<secret from ${{file:{f}:port}}>\": \
                 expected a port number"
            )
        );
        let mode = props
            .choice("snapshot.mode", "initial", &["initial", "never"])
            .unwrap_err()
            .to_string();
        assert!(!mode.to_lowercase().contains("s3cret"), "{mode}");
        assert!(
            mode.contains(&format!("<secret from ${{file:{f}:mode}}>")),
            "{mode}"
        );
    }

    #[test]
    fn normalize_removes_dots() {
        assert_eq!(normalize(Path::new("/a/./b/../c")), Path::new("/a/c"));
        assert_eq!(normalize(Path::new("/../a")), Path::new("/a"));
        assert_eq!(normalize(Path::new("../a/../../b")), Path::new("../../b"));
    }
}
