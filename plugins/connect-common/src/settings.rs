//! The keys Kafka Connect's transforms share (`replace.null.with.default`, the implied
//! `part`), declared once for every plugin that takes them, and their parsed values.

use tidemark_sdk::{Importance, Key, KeyType, Part, Settings};

/// `part`: the record half a `$Key`/`$Value` transform works on. The host passes `part=key`
/// for a `…$Key` class and `part=value` for `…$Value`; without the setting, the value.
pub fn part_key() -> Key {
    Key::new(
        "part",
        KeyType::String,
        Importance::Low,
        "Which half of the record the transform works on: key or value (implied by a $Key or $Value class name).",
    )
    .default_value("value")
    .allowed(&["key", "value"])
}

/// The parsed `part` (declared by [`part_key`]).
pub fn part(settings: &Settings) -> Part {
    match settings.string("part") {
        Some("key") => Part::Key,
        _ => Part::Value,
    }
}

/// `key` or `value`, for messages.
pub fn part_name(part: Part) -> &'static str {
    match part {
        Part::Key => "key",
        Part::Value => "value",
    }
}

/// `replace.null.with.default` (default true): whether a null field with a schema default is
/// read as that default, as Connect's `Struct.get` does.
pub fn replace_null_key() -> Key {
    Key::new(
        "replace.null.with.default",
        KeyType::Boolean,
        Importance::Medium,
        "Whether a null field with a default value in its schema is read as that default.",
    )
    .default_value("true")
}

/// The parsed `replace.null.with.default` (declared by [`replace_null_key`]).
pub fn replace_null_with_default(settings: &Settings) -> bool {
    settings.boolean("replace.null.with.default") != Some(false)
}

/// A `LIST` key that must not be empty (Connect's `NonEmptyListValidator`).
pub fn non_empty_list(settings: &Settings, key: &str) -> Result<Vec<String>, String> {
    let items = settings.list(key);
    if items.is_empty() {
        return Err(format!("setting '{key}' must be a non-empty list"));
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidemark_sdk::{Config, ConfigDef};

    fn parse(entries: &[(&str, &str)]) -> Result<Settings, String> {
        ConfigDef::new()
            .key(part_key())
            .key(replace_null_key())
            .key(Key::new("fields", KeyType::List, Importance::High, "Fields.").required())
            .parse(&Config::from_pairs(entries))
    }

    #[test]
    fn part_defaults_to_value() {
        assert_eq!(part(&parse(&[("fields", "a")]).unwrap()), Part::Value);
        assert_eq!(
            part(&parse(&[("fields", "a"), ("part", "key")]).unwrap()),
            Part::Key
        );
        let err = parse(&[("fields", "a"), ("part", "both")]).unwrap_err();
        assert!(err.contains("'part'"), "{err}");
    }

    #[test]
    fn lists_must_not_be_empty() {
        let items = parse(&[("fields", " a , b,,c ")]).unwrap();
        assert_eq!(
            non_empty_list(&items, "fields").unwrap(),
            vec!["a", "b", "", "c"]
        );
        let err = non_empty_list(&parse(&[("fields", "")]).unwrap(), "fields").unwrap_err();
        assert!(err.contains("'fields'"), "{err}");
        assert!(parse(&[]).unwrap_err().contains("'fields'"));
    }

    #[test]
    fn replace_null_with_default_is_true_unless_false() {
        assert!(replace_null_with_default(
            &parse(&[("fields", "a")]).unwrap()
        ));
        let off = parse(&[("fields", "a"), ("replace.null.with.default", " FALSE ")]).unwrap();
        assert!(!replace_null_with_default(&off));
    }
}
