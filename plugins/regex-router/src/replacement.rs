//! Java's `Matcher.replaceFirst` replacement syntax.

use regex::{Captures, Regex};

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Group(usize),
    Named(String),
}

/// A parsed replacement string.
#[derive(Debug, Clone, PartialEq)]
pub struct Replacement(Vec<Piece>);

impl Replacement {
    /// Parses `text` as Java does for a pattern with `regex`'s groups: after `$`, digits are
    /// taken while the group number stays within the pattern's groups; `${name}` names a
    /// group; a backslash escapes the next character.
    pub fn parse(text: &str, regex: &Regex) -> Result<Replacement, String> {
        // Group 0 of `regex` is the whole match; user groups are counted without it.
        let group_count = regex.captures_len() - 1;
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(escaped) => literal.push(escaped),
                    None => return Err("character to be escaped is missing".into()),
                },
                '$' => {
                    if !literal.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    }
                    match chars.next() {
                        Some('{') => {
                            let mut name = String::new();
                            loop {
                                match chars.next() {
                                    Some('}') => break,
                                    Some(c) if c.is_ascii_alphanumeric() => name.push(c),
                                    _ => {
                                        return Err(
                                            "named capturing group is missing trailing '}'".into(),
                                        );
                                    }
                                }
                            }
                            if regex.capture_names().flatten().all(|n| n != name) {
                                return Err(format!("no group with name {{{name}}}"));
                            }
                            pieces.push(Piece::Named(name));
                        }
                        Some(d) if d.is_ascii_digit() => {
                            let mut group = d.to_digit(10).unwrap_or(0) as usize;
                            if group > group_count {
                                return Err(format!("no group {group}"));
                            }
                            while let Some(next) = chars.peek().and_then(|c| c.to_digit(10)) {
                                let longer = group * 10 + next as usize;
                                if longer > group_count {
                                    break;
                                }
                                group = longer;
                                chars.next();
                            }
                            pieces.push(Piece::Group(group));
                        }
                        _ => return Err("illegal group reference".into()),
                    }
                }
                other => literal.push(other),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Replacement(pieces))
    }

    /// The replacement for one match; groups that did not take part are empty.
    pub fn expand(&self, captures: &Captures<'_>) -> String {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Group(g) => out.push_str(captures.get(*g).map_or("", |m| m.as_str())),
                Piece::Named(n) => out.push_str(captures.name(n).map_or("", |m| m.as_str())),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(pattern: &str, replacement: &str, input: &str) -> Result<String, String> {
        let regex = Regex::new(&format!("^(?:{pattern})$")).unwrap();
        let r = Replacement::parse(replacement, &regex)?;
        Ok(r.expand(&regex.captures(input).unwrap()))
    }

    #[test]
    fn java_group_references() {
        assert_eq!(expand("(a)(b)", "$2$1", "ab").unwrap(), "ba");
        // Only one group: "$12" is group 1 followed by "2", as in Java.
        assert_eq!(expand("(a)b", "$12", "ab").unwrap(), "a2");
        assert_eq!(expand("(?<t>x+)", "${t}!", "xx").unwrap(), "xx!");
        assert_eq!(expand("a", r"\$1\\", "a").unwrap(), r"$1\");
        assert_eq!(expand("(a)|(b)", "[$2]", "a").unwrap(), "[]");
    }

    #[test]
    fn bad_references_are_errors() {
        assert_eq!(expand("(a)", "$2", "a").unwrap_err(), "no group 2");
        assert_eq!(
            expand("(a)", "x$", "a").unwrap_err(),
            "illegal group reference"
        );
        assert!(
            expand("(a)", "${nope}", "a")
                .unwrap_err()
                .contains("no group with name")
        );
    }
}
