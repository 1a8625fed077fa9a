//! `tidemark plugin new <name> --lang rust|python|js|c [--kind transform|sink]`: writes a
//! ready-to-build plugin project. Everything it needs is carried by this binary and written
//! into the project: the WIT package (`wit/`), the language's SDK (`sdk/<lang>/`), a starting
//! source file and the manifest `tidemark-plugin.json` that `tidemark plugin build` reads.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::build::{MANIFEST, Manifest};

const WIT: &[(&str, &str)] = &[
    ("types.wit", include_str!("../../../wit/types.wit")),
    ("transform.wit", include_str!("../../../wit/transform.wit")),
    ("sink.wit", include_str!("../../../wit/sink.wit")),
    ("config.wit", include_str!("../../../wit/config.wit")),
];

const RUST_SDK: &[(&str, &str)] = &[
    ("src/lib.rs", include_str!("../../../sdk/rust/src/lib.rs")),
    (
        "src/config.rs",
        include_str!("../../../sdk/rust/src/config.rs"),
    ),
    (
        "src/record.rs",
        include_str!("../../../sdk/rust/src/record.rs"),
    ),
    (
        "src/schema.rs",
        include_str!("../../../sdk/rust/src/schema.rs"),
    ),
    (
        "src/value.rs",
        include_str!("../../../sdk/rust/src/value.rs"),
    ),
    (
        "src/defined.rs",
        include_str!("../../../sdk/rust/src/defined.rs"),
    ),
    (
        "src/records.rs",
        include_str!("../../../sdk/rust/src/records.rs"),
    ),
    ("src/keys.rs", include_str!("../../../sdk/rust/src/keys.rs")),
];

/// The SDK crate's manifest outside this repository's workspace.
const RUST_SDK_MANIFEST: &str = r#"[package]
name = "tidemark-sdk"
description = "Write Tidemark transform plugins in Rust (copied by tidemark plugin new)."
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
wit-bindgen = { version = "0.61", default-features = false, features = ["macros", "realloc"] }
"#;

const WIT_BINDGEN_DEP: &str = r#"wit-bindgen = { version = "0.61", default-features = false, features = ["macros", "realloc"] }"#;

/// A new project's files: (path in the project, contents), before `{{name}}` is filled in.
fn files(lang: &str, kind: &str) -> anyhow::Result<Vec<(String, String)>> {
    let transform = kind == "transform";
    let mut out: Vec<(String, String)> = WIT
        .iter()
        .map(|(f, text)| (format!("wit/{f}"), text.to_string()))
        .collect();
    let main = |path: &str, text: &str| (path.to_owned(), text.to_owned());
    match lang {
        "rust" => {
            let deps = if transform {
                r#"tidemark-sdk = { path = "sdk/rust" }"#
            } else {
                WIT_BINDGEN_DEP
            };
            out.push((
                "Cargo.toml".into(),
                include_str!("../../templates/rust/Cargo.toml").replace("{{deps}}", deps),
            ));
            out.push(if transform {
                main(
                    "src/lib.rs",
                    include_str!("../../templates/rust/transform.rs"),
                )
            } else {
                main("src/lib.rs", include_str!("../../templates/rust/sink.rs"))
            });
            if transform {
                out.push(("sdk/rust/Cargo.toml".into(), RUST_SDK_MANIFEST.into()));
                out.extend(
                    RUST_SDK
                        .iter()
                        .map(|(f, text)| (format!("sdk/rust/{f}"), text.to_string())),
                );
            }
        }
        "python" => {
            out.push(if transform {
                main(
                    "app.py",
                    include_str!("../../templates/python/transform.py"),
                )
            } else {
                main("app.py", include_str!("../../templates/python/sink.py"))
            });
            out.push((
                "sdk/python/tidemark_sdk/__init__.py".into(),
                include_str!("../../../sdk/python/tidemark_sdk/__init__.py").into(),
            ));
        }
        "js" => {
            out.push(if transform {
                main("plugin.js", include_str!("../../templates/js/transform.js"))
            } else {
                main("plugin.js", include_str!("../../templates/js/sink.js"))
            });
            out.push((
                "sdk/js/tidemark.js".into(),
                include_str!("../../../sdk/js/tidemark.js").into(),
            ));
        }
        "c" => {
            out.push(if transform {
                main("plugin.c", include_str!("../../templates/c/transform.c"))
            } else {
                main("plugin.c", include_str!("../../templates/c/sink.c"))
            });
            out.push((
                "sdk/c/tidemark.h".into(),
                include_str!("../../../sdk/c/tidemark.h").into(),
            ));
        }
        other => bail!("unknown language {other:?}: use rust, python, js or c"),
    }
    out.push((".gitignore".into(), "build/\ntarget/\n".into()));
    Ok(out)
}

/// Writes the project `name` into `dir` (default `./<name>`); returns the directory.
pub fn new(name: &str, lang: &str, kind: &str, dir: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.starts_with(|c: char| c.is_ascii_lowercase());
    if !valid {
        bail!(
            "plugin name {name:?}: use lower-case letters, digits and '-', starting with a letter (it names the .wasm file and, in Rust, the crate)"
        );
    }
    if !["transform", "sink"].contains(&kind) {
        bail!("--kind {kind:?}: use transform or sink");
    }
    let dir = dir.unwrap_or_else(|| PathBuf::from(name));
    if dir.exists() && std::fs::read_dir(&dir)?.next().is_some() {
        bail!(
            "{} exists and is not empty; choose another name or --dir",
            dir.display()
        );
    }
    let source = match lang {
        "rust" => "src/lib.rs",
        "python" => "app.py",
        "js" => "plugin.js",
        "c" => "plugin.c",
        _ => "",
    };
    for (path, text) in files(lang, kind)? {
        write(&dir.join(path), &text.replace("{{name}}", name))?;
    }
    let manifest = Manifest {
        name: name.to_owned(),
        lang: lang.to_owned(),
        kind: kind.to_owned(),
        source: source.to_owned(),
        wit: "wit".into(),
        sdk: "sdk".into(),
    };
    write(
        &dir.join(MANIFEST),
        &(serde_json::to_string_pretty(&manifest)? + "\n"),
    )?;
    Ok(dir)
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_and_kind_has_a_project() {
        for lang in ["rust", "python", "js", "c"] {
            for kind in ["transform", "sink"] {
                let dir = tempfile::tempdir().unwrap();
                let project = dir.path().join("p");
                new("my-plugin", lang, kind, Some(project.clone())).unwrap();
                let manifest = Manifest::read(&project).unwrap();
                assert_eq!(
                    (manifest.lang.as_str(), manifest.kind.as_str()),
                    (lang, kind)
                );
                assert!(project.join(&manifest.source).is_file(), "{lang} {kind}");
                assert!(project.join("wit/sink.wit").is_file());
                let source = std::fs::read_to_string(project.join(&manifest.source)).unwrap();
                assert!(
                    source.contains("my-plugin") && !source.contains("{{"),
                    "{lang} {kind}"
                );
            }
        }
    }

    #[test]
    fn the_rust_sdk_copy_has_every_source_file() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk/rust/src");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| format!("src/{}", e.unwrap().file_name().to_string_lossy()))
            .collect();
        on_disk.sort();
        let mut copied: Vec<String> = RUST_SDK.iter().map(|(f, _)| f.to_string()).collect();
        copied.sort();
        assert_eq!(
            copied, on_disk,
            "RUST_SDK must list every file of sdk/rust/src"
        );
    }

    #[test]
    fn bad_names_and_kinds_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = new(
            "My Plugin",
            "python",
            "transform",
            Some(dir.path().join("a")),
        )
        .unwrap_err();
        assert!(err.to_string().contains("lower-case"), "{err}");
        let err = new("p", "python", "source", Some(dir.path().join("b"))).unwrap_err();
        assert!(err.to_string().contains("--kind"), "{err}");
        let err = new("p", "cobol", "transform", Some(dir.path().join("c"))).unwrap_err();
        assert!(err.to_string().contains("unknown language"), "{err}");
    }
}
