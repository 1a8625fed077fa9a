//! Tests of the config providers: each provider, its parameters and its errors.

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
    assert_eq!(props.unread(), Vec::<String>::new());
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
    let port = Key::int("database.port").default("5432");
    let port = props.number::<u16>(&port).unwrap_err();
    assert_eq!(
        port.to_string(),
        format!(
            "property 'database.port' has an invalid value \"<secret from ${{file:{f}:port}}>\": \
             expected a whole number"
        )
    );
    let mode = Key::string("snapshot.mode")
        .default("initial")
        .choices(&["initial", "never"]);
    let mode = props.choose(&mode).unwrap_err().to_string();
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
