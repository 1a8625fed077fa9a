//! Settings as Kafka's `ConfigDef` parses them, and the `part` setting.

use tidemark_sdk::{Config, Part};

/// The record half a `$Key`/`$Value` transform works on: the host passes `part=key` for a
/// `…$Key` class and `part=value` for `…$Value`; without the setting, the value.
pub fn part(config: &Config) -> Result<Part, String> {
    match config.get("part").map(java_trim) {
        None | Some("value") => Ok(Part::Value),
        Some("key") => Ok(Part::Key),
        Some(other) => Err(format!(
            "setting 'part' must be 'key' or 'value', not {other:?}"
        )),
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
pub fn replace_null_with_default(config: &Config) -> Result<bool, String> {
    boolean(config, "replace.null.with.default", true)
}

/// A `BOOLEAN` setting: `true` or `false` in any case, surrounding blanks ignored.
pub fn boolean(config: &Config, key: &str, default: bool) -> Result<bool, String> {
    match config.get(key) {
        None => Ok(default),
        Some(text) => {
            let trimmed = java_trim(text);
            if trimmed.eq_ignore_ascii_case("true") {
                Ok(true)
            } else if trimmed.eq_ignore_ascii_case("false") {
                Ok(false)
            } else {
                Err(format!(
                    "setting '{key}' must be true or false, not {text:?}"
                ))
            }
        }
    }
}

/// A `LIST` setting, `None` when absent.
pub fn list(config: &Config, key: &str) -> Option<Vec<String>> {
    config.get(key).map(parse_list)
}

/// A required `LIST` setting that must not be empty (Connect's `NonEmptyListValidator`).
pub fn non_empty_list(config: &Config, key: &str) -> Result<Vec<String>, String> {
    let items = list(config, key).ok_or_else(|| format!("missing required setting '{key}'"))?;
    if items.is_empty() {
        return Err(format!("setting '{key}' must be a non-empty list"));
    }
    Ok(items)
}

/// Splits a list as `ConfigDef` does: the whole text trimmed, empty text is the empty list,
/// items separated by commas with the blanks around them removed (empty items are kept).
pub fn parse_list(text: &str) -> Vec<String> {
    let trimmed = java_trim(text);
    if trimmed.is_empty() {
        return Vec::new();
    }
    trimmed
        .split(',')
        .map(|item| item.trim_matches(is_regex_space).to_owned())
        .collect()
}

/// Java's `String.trim()`: removes characters up to U+0020 from both ends.
pub fn java_trim(text: &str) -> &str {
    text.trim_matches(|c: char| c <= ' ')
}

/// Java regex `\s`: space, tab, newline, vertical tab, form feed, carriage return.
fn is_regex_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(entries: &[(&str, &str)]) -> Config {
        Config::from_pairs(entries)
    }

    #[test]
    fn part_defaults_to_value() {
        assert_eq!(part(&config(&[])).unwrap(), Part::Value);
        assert_eq!(part(&config(&[("part", "key")])).unwrap(), Part::Key);
        assert!(
            part(&config(&[("part", "both")]))
                .unwrap_err()
                .contains("'part'")
        );
    }

    #[test]
    fn lists_split_like_configdef() {
        assert_eq!(parse_list(" a , b,c "), vec!["a", "b", "c"]);
        assert_eq!(parse_list("a,,b"), vec!["a", "", "b"]);
        assert!(parse_list("  ").is_empty());
        let err = non_empty_list(&config(&[("fields", "")]), "fields").unwrap_err();
        assert!(err.contains("'fields'"), "{err}");
        assert!(non_empty_list(&config(&[]), "fields").is_err());
    }

    #[test]
    fn booleans_ignore_case_and_blanks() {
        let c = config(&[("a", " TRUE "), ("b", "no")]);
        assert!(boolean(&c, "a", false).unwrap());
        assert!(boolean(&c, "b", true).unwrap_err().contains("'b'"));
        assert!(!boolean(&c, "missing", false).unwrap());
    }
}
