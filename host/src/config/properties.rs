//! Java `.properties` files, read as `java.util.Properties.load` reads them (the file being
//! UTF-8): `key=value`, `key: value` or `key value`; `#` and `!` comments; a trailing backslash
//! continues a line, even the last one, and the next line's leading blanks are dropped;
//! backslash escapes (`\t`, `\n`, `\r`, `\f`, `\uXXXX` with surrogate pairs as two escapes,
//! and any other character as itself). `host/tests/properties_java.rs` checks this against
//! Java itself.

use std::collections::BTreeMap;

/// What `Properties.load` counts as white space: around separators and at line starts.
const BLANK: [char; 3] = [' ', '\t', '\u{c}'];

/// Parses the text of a properties file.
pub fn parse_properties(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut entries = BTreeMap::new();
    for line in logical_lines(text) {
        let at = |problem: String| format!("line {}: {problem}", line.number);
        let (key, value) = split_entry(&line.text);
        entries.insert(unescape(key).map_err(at)?, unescape(value).map_err(at)?);
    }
    Ok(entries)
}

/// A natural line: its text without the terminator, and whether the input ends right after
/// the line's first terminator character (or the line has none).
struct NaturalLine<'a> {
    text: &'a str,
    ends_input: bool,
}

/// The input's natural lines, each ended by `\n`, `\r` or `\r\n`.
fn natural_lines(text: &str) -> impl Iterator<Item = NaturalLine<'_>> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let Some(end) = rest.find(['\n', '\r']) else {
            let line = rest;
            rest = "";
            return Some(NaturalLine {
                text: line,
                ends_input: true,
            });
        };
        let line = &rest[..end];
        let ends_input = end + 1 == rest.len();
        let terminator = if rest[end..].starts_with("\r\n") {
            2
        } else {
            1
        };
        rest = &rest[end + terminator..];
        Some(NaturalLine {
            text: line,
            ends_input,
        })
    })
}

/// One entry's line, continuations joined, and the number of its first natural line.
struct LogicalLine {
    text: String,
    number: usize,
}

/// The input's entries: comments and blank lines dropped, continued lines joined.
fn logical_lines(text: &str) -> Vec<LogicalLine> {
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut number = 0;
    for (n, natural) in natural_lines(text).enumerate() {
        let part = natural.text.trim_start_matches(BLANK);
        if current.is_empty() {
            // A comment only where an entry could start; a continued entry may hold `#`.
            if part.starts_with(['#', '!']) {
                continue;
            }
            number = n + 1;
        }
        current.push_str(part);
        if current.is_empty() {
            continue;
        }
        let backslashes = part.chars().rev().take_while(|c| *c == '\\').count();
        if backslashes % 2 == 0 {
            lines.push(LogicalLine {
                text: std::mem::take(&mut current),
                number,
            });
            continue;
        }
        // The continuing backslash is not part of the entry.
        current.pop();
        if natural.ends_input {
            // As in Java, an entry ends at a continued last line even when nothing is left
            // of it (an empty key with an empty value).
            lines.push(LogicalLine {
                text: std::mem::take(&mut current),
                number,
            });
        }
    }
    if !current.is_empty() {
        lines.push(LogicalLine {
            text: current,
            number,
        });
    }
    lines
}

/// Splits at the first unescaped `=`, `:` or blank; blanks around the separator (and one
/// `=` or `:` after blanks) belong to neither side.
fn split_entry(line: &str) -> (&str, &str) {
    let mut escaped = false;
    let mut split = None;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '=' | ':' => {
                split = Some((i, true));
                break;
            }
            c if BLANK.contains(&c) => {
                split = Some((i, false));
                break;
            }
            _ => {}
        }
    }
    let Some((end, separated)) = split else {
        return (line, "");
    };
    let mut value = line[end + 1..].trim_start_matches(BLANK);
    if !separated && let Some(rest) = value.strip_prefix(['=', ':']) {
        value = rest.trim_start_matches(BLANK);
    }
    (&line[..end], value)
}

/// Resolves backslash escapes. `\uXXXX` gives a UTF-16 unit, so a character outside the
/// Basic Multilingual Plane is written as two escapes (a surrogate pair).
fn unescape(text: &str) -> Result<String, String> {
    if !text.contains('\\') {
        return Ok(text.to_owned());
    }
    let mut units: Vec<u16> = Vec::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        let c = match c {
            '\\' => match chars.next() {
                Some('u') => {
                    let hex: String = chars.by_ref().take(4).collect();
                    units.push(hex_unit(&hex)?);
                    continue;
                }
                Some('t') => '\t',
                Some('n') => '\n',
                Some('r') => '\r',
                Some('f') => '\u{c}',
                Some(other) => other,
                None => break,
            },
            c => c,
        };
        units.extend_from_slice(c.encode_utf16(&mut [0; 2]));
    }
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .map_err(|e| {
            format!(
                "\\u{:04X} is half of a surrogate pair without its other half",
                e.unpaired_surrogate()
            )
        })
}

/// The UTF-16 unit of a `\uXXXX` escape's four hex digits.
fn hex_unit(hex: &str) -> Result<u16, String> {
    let digits = hex
        .chars()
        .map(|c| c.to_digit(16))
        .collect::<Option<Vec<_>>>();
    match digits {
        Some(digits) if digits.len() == 4 => Ok(digits.iter().fold(0, |n, d| n * 16 + *d as u16)),
        _ => Err(format!(
            "malformed escape \\u{hex}: expected four hex digits"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_properties_syntax() {
        let text = "# c\n! c\na=1\nb : 2\nc 3\nregex=dbz\\\\.public\\\\.(.*)\nlong = one \\\n    two\nu=caf\\u00e9\nempty=\n";
        let p = parse_properties(text).unwrap();
        assert_eq!(p["a"], "1");
        assert_eq!(p["b"], "2");
        assert_eq!(p["c"], "3");
        assert_eq!(p["regex"], r"dbz\.public\.(.*)");
        assert_eq!(p["long"], "one two");
        assert_eq!(p["u"], "café");
        assert_eq!(p["empty"], "");
    }

    #[test]
    fn a_continued_last_line_ends_the_entry() {
        let p = parse_properties("a=1\nb=two \\\n  parts\\").unwrap();
        assert_eq!(p["b"], "two parts");
        let p = parse_properties("a=1\\\n").unwrap();
        assert_eq!(p["a"], "1");
    }

    #[test]
    fn surrogate_pairs_make_one_character() {
        let p = parse_properties("smile=\\uD83D\\uDE00!\n").unwrap();
        assert_eq!(p["smile"], "\u{1F600}!");
        let err = parse_properties("a=1\nlone=\\uD83D\n").unwrap_err();
        assert_eq!(
            err,
            "line 2: \\uD83D is half of a surrogate pair without its other half"
        );
        let err = parse_properties("bad=\\u+12x\n").unwrap_err();
        assert_eq!(
            err,
            "line 1: malformed escape \\u+12x: expected four hex digits"
        );
    }

    #[test]
    fn escaped_separators_and_blanks_stay_in_the_key() {
        let p = parse_properties("a\\=b\\:c\\ d = v \nx\\\\=y\n").unwrap();
        assert_eq!(p["a=b:c d"], "v ");
        assert_eq!(p["x\\"], "y");
    }
}
