//! `field.name.adjustment.mode` for the field names of an expanded JSON payload: Debezium's
//! Avro field namers. `avro` replaces each character outside `[A-Za-z0-9_]` (a leading
//! digit: `_` then the digit) with `_`; `avro_unicode` replaces each character outside
//! `[A-Za-z0-9]` (no leading digit) with `_uXXXX`. Two different names that become the same
//! name are an error the first time it happens, as in Debezium.

use std::collections::{HashMap, HashSet};

/// How field names are adjusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    None,
    Avro,
    AvroUnicode,
}

/// A field namer, remembering replacements to detect clashes.
#[derive(Debug, Clone)]
pub struct FieldNamer {
    mode: Mode,
    seen: HashSet<String>,
    original_by_replacement: HashMap<String, String>,
}

impl FieldNamer {
    /// A namer for a mode.
    pub fn new(mode: Mode) -> FieldNamer {
        FieldNamer {
            mode,
            seen: HashSet::new(),
            original_by_replacement: HashMap::new(),
        }
    }

    /// The field name for a JSON key; an error when it clashes with an earlier key.
    pub fn name(&mut self, key: &str) -> Result<String, String> {
        let adjusted = match self.mode {
            Mode::None => None,
            Mode::Avro => replace_invalid(key, false),
            Mode::AvroUnicode => replace_invalid(key, true),
        };
        let Some(adjusted) = adjusted else {
            return Ok(key.to_owned());
        };
        if self.seen.insert(key.to_owned()) {
            let previous = self
                .original_by_replacement
                .insert(adjusted.clone(), key.to_owned());
            if let Some(previous) = previous.filter(|p| p != key) {
                return Err(format!(
                    "the field name '{key}' is not a valid Avro name and its replacement \
                     '{adjusted}' conflicts with another field '{previous}'"
                ));
            }
        }
        Ok(adjusted)
    }
}

fn is_letter(c: u16) -> bool {
    matches!(c, 0x61..=0x7a | 0x41..=0x5a)
}

fn is_digit(c: u16) -> bool {
    (0x30..=0x39).contains(&c)
}

/// The name with invalid UTF-16 units replaced, or `None` when it is already valid.
fn replace_invalid(name: &str, unicode: bool) -> Option<String> {
    let underscore = u16::from(b'_');
    let units: Vec<u16> = name.encode_utf16().collect();
    let mut out: Vec<u16> = Vec::with_capacity(units.len());
    let mut changed = false;
    for (i, &c) in units.iter().enumerate() {
        let valid = is_letter(c) || (!unicode && c == underscore) || (i > 0 && is_digit(c));
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
            out.push(underscore);
            if i == 0 && is_digit(c) {
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
    fn avro_field_names() {
        let mut n = FieldNamer::new(Mode::Avro);
        assert_eq!(n.name("total_due").unwrap(), "total_due");
        assert_eq!(n.name("a.b").unwrap(), "a_b");
        assert_eq!(n.name("1st").unwrap(), "_1st");
        assert!(n.name("a-b").unwrap_err().contains("conflicts"));
    }

    #[test]
    fn unicode_field_names() {
        let mut n = FieldNamer::new(Mode::AvroUnicode);
        assert_eq!(n.name("a_b").unwrap(), "a_u005fb");
        assert_eq!(n.name("1a").unwrap(), "_u0031a");
        assert_eq!(FieldNamer::new(Mode::None).name("a-b").unwrap(), "a-b");
    }
}
