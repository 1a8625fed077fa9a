//! Java `.properties` files, as Kafka Connect reads them: `key=value`, `key: value` or
//! `key value`; `#` and `!` comments; a trailing backslash continues a line; backslash
//! escapes (`\t`, `\n`, `\uXXXX`, and any other character as itself).

use std::collections::BTreeMap;

/// Parses the text of a properties file.
pub fn parse_properties(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut entries = BTreeMap::new();
    let mut logical = String::new();
    let mut number = 0;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_start();
        if logical.is_empty() {
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            number = n + 1;
        }
        let trailing = line.chars().rev().take_while(|c| *c == '\\').count();
        if trailing % 2 == 1 {
            logical.push_str(&line[..line.len() - 1]);
            continue;
        }
        logical.push_str(line);
        let (key, value) = split_entry(&logical);
        let key = unescape(key).map_err(|e| format!("line {number}: {e}"))?;
        let value = unescape(value).map_err(|e| format!("line {number}: {e}"))?;
        entries.insert(key, value);
        logical.clear();
    }
    Ok(entries)
}

/// Splits at the first unescaped `=`, `:` or whitespace.
fn split_entry(line: &str) -> (&str, &str) {
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '=' | ':' => return (line[..i].trim_end(), line[i + 1..].trim_start()),
            c if c.is_whitespace() => {
                let rest = line[i..].trim_start();
                let rest = rest
                    .strip_prefix('=')
                    .or_else(|| rest.strip_prefix(':'))
                    .unwrap_or(rest);
                return (&line[..i], rest.trim_start());
            }
            _ => {}
        }
    }
    (line, "")
}

fn unescape(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = u32::from_str_radix(&hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| format!("bad \\u escape \\u{hex}"))?;
                out.push(code);
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    Ok(out)
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
}
