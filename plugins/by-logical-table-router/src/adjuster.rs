//! `schema.name.adjustment.mode`: Debezium's `SchemaNameAdjuster` for the new key and
//! envelope schema names. `avro` replaces each character Avro does not allow with `_`
//! (keeping a leading digit after it), `avro_unicode` with `_uXXXX`; two different names
//! that become the same name are an error, as Debezium reports the first such clash.

use std::collections::{HashMap, HashSet};

/// How names are adjusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    None,
    Avro,
    AvroUnicode,
}

impl Mode {
    /// Parses the setting's value (any case, blanks trimmed).
    pub fn parse(text: &str) -> Option<Mode> {
        match text.trim().to_ascii_lowercase().as_str() {
            "none" => Some(Mode::None),
            "avro" => Some(Mode::Avro),
            "avro_unicode" => Some(Mode::AvroUnicode),
            _ => None,
        }
    }
}

/// A name adjuster, remembering replacements to detect clashes.
#[derive(Debug, Clone)]
pub struct Adjuster {
    mode: Mode,
    seen: HashSet<String>,
    original_by_replacement: HashMap<String, String>,
}

impl Adjuster {
    /// An adjuster for a mode.
    pub fn new(mode: Mode) -> Adjuster {
        Adjuster {
            mode,
            seen: HashSet::new(),
            original_by_replacement: HashMap::new(),
        }
    }

    /// The adjusted name; an error when it clashes with an earlier, different name.
    pub fn adjust(&mut self, name: &str) -> Result<String, String> {
        let adjusted = match self.mode {
            Mode::None => return Ok(name.to_owned()),
            Mode::Avro => replace_invalid(name, false),
            Mode::AvroUnicode => replace_invalid(name, true),
        };
        let Some(adjusted) = adjusted else {
            return Ok(name.to_owned());
        };
        if self.seen.insert(name.to_owned()) {
            let previous = self
                .original_by_replacement
                .insert(adjusted.clone(), name.to_owned());
            if let Some(previous) = previous.filter(|p| p != name) {
                return Err(format!(
                    "the schema name '{name}' is not a valid Avro schema name and its replacement \
                     '{adjusted}' conflicts with another different schema '{previous}'"
                ));
            }
        }
        Ok(adjusted)
    }
}

fn valid_first(c: u16, unicode: bool) -> bool {
    matches!(c, 0x61..=0x7a | 0x41..=0x5a) || (!unicode && c == u16::from(b'_'))
}

fn valid_next(c: u16, unicode: bool) -> bool {
    valid_first(c, unicode) || c == u16::from(b'.') || (0x30..=0x39).contains(&c)
}

/// The name with invalid UTF-16 units replaced, or `None` when it is already valid.
fn replace_invalid(name: &str, unicode: bool) -> Option<String> {
    let units: Vec<u16> = name.encode_utf16().collect();
    let mut out: Vec<u16> = Vec::with_capacity(units.len());
    let mut changed = false;
    for (i, &c) in units.iter().enumerate() {
        let valid = if i == 0 {
            valid_first(c, unicode)
        } else {
            valid_next(c, unicode)
        };
        if valid {
            out.push(c);
            continue;
        }
        changed = true;
        if unicode {
            let hex = format!("{c:x}");
            let hex = if hex.len() <= 2 {
                format!("00{hex}")
            } else {
                hex
            };
            out.extend(format!("_u{hex}").encode_utf16());
        } else {
            out.push(u16::from(b'_'));
            if i == 0 && (0x30..=0x39).contains(&c) {
                out.push(c);
            }
        }
    }
    changed.then(|| String::from_utf16_lossy(&out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avro_replaces_invalid_characters() {
        let mut a = Adjuster::new(Mode::Avro);
        assert_eq!(
            a.adjust("dbz.all_tables.Key").unwrap(),
            "dbz.all_tables.Key"
        );
        assert_eq!(
            a.adjust("dbz.all-tables.Key").unwrap(),
            "dbz.all_tables.Key"
        );
        assert_eq!(a.adjust("1db.t").unwrap(), "_1db.t");
        assert_eq!(a.adjust("dé").unwrap(), "d_");
    }

    #[test]
    fn unicode_mode_escapes() {
        let mut a = Adjuster::new(Mode::AvroUnicode);
        assert_eq!(a.adjust("a-b").unwrap(), "a_u002db");
        assert_eq!(a.adjust("_x_").unwrap(), "_u005fx_u005f");
        assert_eq!(a.adjust("a中").unwrap(), "a_u4e2d");
    }

    #[test]
    fn clashes_are_reported_once() {
        let mut a = Adjuster::new(Mode::Avro);
        assert_eq!(a.adjust("a-b").unwrap(), "a_b");
        assert!(a.adjust("a+b").unwrap_err().contains("conflicts"));
        assert_eq!(a.adjust("a+b").unwrap(), "a_b");
        assert_eq!(Adjuster::new(Mode::None).adjust("a-b").unwrap(), "a-b");
    }

    #[test]
    fn modes_parse() {
        assert_eq!(Mode::parse(" AVRO "), Some(Mode::Avro));
        assert_eq!(Mode::parse("avro_unicode"), Some(Mode::AvroUnicode));
        assert_eq!(Mode::parse("x"), None);
    }
}
