//! `docs/config.md`, generated from the key declarations: every key of every connector,
//! grouped as the REST API groups them. A unit test keeps the committed file in step with
//! the declarations (`cargo xtask config-docs` rewrites it).

use std::fmt::Write;

use super::keys::{self, CONNECTORS};
use crate::config::{DefaultValue, Key};
use crate::sources::{mysql, postgres};

/// The keys every connector reads, then each source's own, then a distributed worker's
/// (which its connectors do not see).
fn sections() -> Vec<(&'static str, Vec<Key>)> {
    vec![
        ("Every connector", keys::shared()),
        ("Postgres", postgres::keys::keys()),
        ("MySQL and MariaDB", mysql::keys::keys()),
        ("Distributed workers", crate::config::cluster::keys()),
    ]
}

/// Text for a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
        .replace('\n', " ")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A key's row: name, type, default, and what it does (with the values it accepts, its
/// earlier Debezium name, and whether it is required).
fn row(key: &Key) -> String {
    let default = match &key.default {
        DefaultValue::Value(v) if v.is_empty() => "\"\"".to_owned(),
        DefaultValue::Value(v) => format!("`{v}`"),
        DefaultValue::Required(_) => "required".to_owned(),
        DefaultValue::None => String::new(),
    };
    let mut about = key.documentation.to_string();
    if let Some(accepted) = key.accepted() {
        write!(about, " Accepts {accepted}.").expect("writing to a String");
    }
    if let Some(old) = &key.renamed_from {
        write!(about, " Debezium's earlier name: `{old}`.").expect("writing to a String");
    }
    format!(
        "| `{}` | {} | {} | {} |",
        key.name,
        key.kind.connect_name(),
        default,
        cell(&about)
    )
}

/// The whole of `docs/config.md`.
pub fn render() -> String {
    let mut out = String::from(
        "# Configuration keys\n\n\
         Generated from the keys' declarations (`host/src/**/keys.rs` and the `declare_keys!` \
         blocks beside each reader) by `cargo xtask config-docs`; do not edit by hand. The same \
         declarations answer `GET /connector-plugins/{plugin}/config` and \
         `PUT /connector-plugins/{plugin}/config/validate`, and name the closest known key when \
         a property is not one.\n\n\
         A name with `<alias>`, `<group>` or `<name>` stands for a family of keys, and one \
         ending in `*` for every key under that prefix.\n\n## Connectors\n\n\
         | `connector.class` | Also accepted |\n|---|---|\n",
    );
    for connector in CONNECTORS {
        let mut names: Vec<String> = connector.aliases.iter().map(|a| format!("`{a}`")).collect();
        names.push(format!("`{}`", connector.simple_name()));
        writeln!(out, "| `{}` | {} |", connector.class, names.join(", "))
            .expect("writing to a String");
    }
    for (title, keys) in sections() {
        write!(out, "\n## {title}\n").expect("writing to a String");
        let mut groups: Vec<&str> = Vec::new();
        for key in &keys {
            if !groups.contains(&key.group.as_ref()) {
                groups.push(&key.group);
            }
        }
        for group in groups {
            write!(
                out,
                "\n### {group}\n\n| Key | Type | Default | Description |\n|---|---|---|---|\n"
            )
            .expect("writing to a String");
            for key in keys.iter().filter(|k| k.group == group) {
                writeln!(out, "{}", row(key)).expect("writing to a String");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docs/config.md` is what the declarations make of it; with
    /// `TIDEMARK_WRITE_CONFIG_DOCS=1` (`cargo xtask config-docs`) the test writes it first.
    #[test]
    fn docs_config_md_is_up_to_date() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/config.md");
        let rendered = render();
        if std::env::var_os("TIDEMARK_WRITE_CONFIG_DOCS").is_some() {
            std::fs::write(path, &rendered).expect("docs/config.md is writable");
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == rendered,
            "docs/config.md is out of date with the key declarations: run `cargo xtask \
             config-docs` and commit the file"
        );
    }

    #[test]
    fn every_key_is_documented_once_per_section() {
        for (title, keys) in sections() {
            let mut names: Vec<&str> = keys.iter().map(|k| k.name.as_ref()).collect();
            names.sort();
            let before = names.len();
            names.dedup();
            assert_eq!(before, names.len(), "a key declared twice in {title}");
            for key in &keys {
                assert!(
                    !key.documentation.is_empty(),
                    "{} has no documentation",
                    key.name
                );
            }
        }
    }
}
