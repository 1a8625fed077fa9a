//! Java's `Pattern` / `Matcher` as Debezium's routers use them: the whole topic must match
//! (`matches()`), then `replaceFirst(replacement)` rewrites the first match, with Java's
//! replacement syntax (`$1`, `${name}`, `\$`). [`Replacement`] alone is that syntax, for
//! Kafka Connect's `RegexRouter`.

use regex::{Captures, Regex};

/// A pattern with its replacement.
#[derive(Debug, Clone)]
pub struct JavaRegex {
    whole: Regex,
    first: Regex,
    replacement: Replacement,
}

impl JavaRegex {
    /// Compiles `pattern` and parses `replacement` against its groups.
    pub fn new(pattern: &str, replacement: &str) -> Result<JavaRegex, String> {
        let first = Regex::new(pattern)
            .map_err(|e| format!("{pattern:?} is not a valid regular expression: {e}"))?;
        let whole = Regex::new(&format!("^(?:{pattern})$"))
            .map_err(|e| format!("{pattern:?} is not a valid regular expression: {e}"))?;
        let replacement = Replacement::parse(replacement, &first)
            .map_err(|e| format!("replacement {replacement:?}: {e}"))?;
        Ok(JavaRegex {
            whole,
            first,
            replacement,
        })
    }

    /// `None` when `text` does not match as a whole; else `text` with its first match
    /// replaced.
    pub fn replace_whole(&self, text: &str) -> Option<String> {
        let captures = self.first.captures(text);
        let found = captures.as_ref().and_then(|c| c.get(0));
        // A first match spanning the text is a whole match; otherwise ask the anchored form
        // (`a|ab` finds `a` first in `ab`, yet `ab` matches as a whole).
        let spans = found.is_some_and(|m| m.start() == 0 && m.end() == text.len());
        if !spans && !self.whole.is_match(text) {
            return None;
        }
        let captures = captures?;
        let found = captures.get(0)?;
        let mut out = String::with_capacity(text.len());
        out.push_str(&text[..found.start()]);
        self.replacement.expand(&captures, &mut out);
        out.push_str(&text[found.end()..]);
        Some(out)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Group(usize),
    Named(String),
}

/// A parsed replacement string, in Java's `Matcher` replacement syntax.
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

    /// Appends the replacement for one match; groups that did not take part are empty.
    pub fn expand(&self, captures: &Captures<'_>, out: &mut String) {
        for piece in &self.0 {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Group(g) => out.push_str(captures.get(*g).map_or("", |m| m.as_str())),
                Piece::Named(n) => out.push_str(captures.name(n).map_or("", |m| m.as_str())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replace(pattern: &str, replacement: &str, text: &str) -> Option<String> {
        JavaRegex::new(pattern, replacement)
            .unwrap()
            .replace_whole(text)
    }

    #[test]
    fn whole_match_then_first_match_replaced() {
        assert_eq!(
            replace(r"dbz\.public\.(.*)", "all.$1", "dbz.public.t").as_deref(),
            Some("all.t")
        );
        assert_eq!(replace(r"public\.(.*)", "x", "dbz.public.t"), None);
        // Java's replaceFirst takes the first (leftmost, preferred) match, not the whole one.
        assert_eq!(replace("a|ab", "X", "ab").as_deref(), Some("Xb"));
        assert_eq!(
            replace("(?<v>.*)", "outbox.event.${v}", "Order").as_deref(),
            Some("outbox.event.Order")
        );
        assert_eq!(replace("(a)b", "$12", "ab").as_deref(), Some("a2"));
    }

    #[test]
    fn bad_patterns_and_references_are_errors() {
        assert!(JavaRegex::new("(", "x").is_err());
        assert!(
            JavaRegex::new("(a)", "$2")
                .unwrap_err()
                .contains("no group 2")
        );
        assert!(JavaRegex::new("(a)", "x$").is_err());
        assert!(JavaRegex::new("(a)", "${nope}").is_err());
    }

    fn expand(pattern: &str, replacement: &str, input: &str) -> Result<String, String> {
        let regex = Regex::new(&format!("^(?:{pattern})$")).unwrap();
        let r = Replacement::parse(replacement, &regex)?;
        let mut out = String::new();
        r.expand(&regex.captures(input).unwrap(), &mut out);
        Ok(out)
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
