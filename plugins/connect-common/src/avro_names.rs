//! Debezium's Avro name adjustment (`schema.name.adjustment.mode`,
//! `field.name.adjustment.mode`): `avro` replaces each character Avro does not allow with `_`
//! (a leading digit is kept after it), `avro_unicode` replaces each with `_uXXXX` (and also
//! `_` itself). Schema names may also hold `.` after their first character; field names may
//! not. Two different names that become the same name are an error the first time it happens,
//! as in Debezium.

use std::collections::{HashMap, HashSet};

/// How names are adjusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    None,
    Avro,
    AvroUnicode,
}

impl Mode {
    /// Parses a setting's value (any case, blanks trimmed).
    pub fn parse(text: &str) -> Option<Mode> {
        match text.trim().to_ascii_lowercase().as_str() {
            "none" => Some(Mode::None),
            "avro" => Some(Mode::Avro),
            "avro_unicode" => Some(Mode::AvroUnicode),
            _ => None,
        }
    }
}

/// What is being named, which decides the allowed characters and the clash message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A full schema name: `.` is allowed after the first character.
    Schema,
    /// A struct field name.
    Field,
}

/// A name adjuster, remembering replacements to detect clashes.
#[derive(Debug, Clone)]
pub struct NameAdjuster {
    mode: Mode,
    kind: Kind,
    seen: HashSet<String>,
    original_by_replacement: HashMap<String, String>,
}

impl NameAdjuster {
    /// An adjuster of `kind` names for a mode.
    pub fn new(mode: Mode, kind: Kind) -> NameAdjuster {
        NameAdjuster {
            mode,
            kind,
            seen: HashSet::new(),
            original_by_replacement: HashMap::new(),
        }
    }

    /// The adjusted name; an error when it clashes with an earlier, different name.
    pub fn adjust(&mut self, name: &str) -> Result<String, String> {
        let adjusted = match self.mode {
            Mode::None => None,
            Mode::Avro => self.replace_invalid(name, false),
            Mode::AvroUnicode => self.replace_invalid(name, true),
        };
        let Some(adjusted) = adjusted else {
            return Ok(name.to_owned());
        };
        if self.seen.insert(name.to_owned()) {
            let previous = self
                .original_by_replacement
                .insert(adjusted.clone(), name.to_owned());
            if let Some(previous) = previous.filter(|p| p != name) {
                return Err(match self.kind {
                    Kind::Schema => format!(
                        "the schema name '{name}' is not a valid Avro schema name and its \
                         replacement '{adjusted}' conflicts with another different schema \
                         '{previous}'"
                    ),
                    Kind::Field => format!(
                        "the field name '{name}' is not a valid Avro name and its replacement \
                         '{adjusted}' conflicts with another field '{previous}'"
                    ),
                });
            }
        }
        Ok(adjusted)
    }

    /// Whether UTF-16 unit `c` may stand at position `i`.
    fn valid(&self, i: usize, c: u16, unicode: bool) -> bool {
        let letter = matches!(c, 0x61..=0x7a | 0x41..=0x5a);
        let underscore = !unicode && c == u16::from(b'_');
        let later = i > 0
            && ((0x30..=0x39).contains(&c) || (self.kind == Kind::Schema && c == u16::from(b'.')));
        letter || underscore || later
    }

    /// The name with invalid UTF-16 units replaced, or `None` when it is already valid.
    fn replace_invalid(&self, name: &str, unicode: bool) -> Option<String> {
        let units: Vec<u16> = name.encode_utf16().collect();
        let mut out: Vec<u16> = Vec::with_capacity(units.len());
        let mut changed = false;
        for (i, &c) in units.iter().enumerate() {
            if self.valid(i, c, unicode) {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schemas(mode: Mode) -> NameAdjuster {
        NameAdjuster::new(mode, Kind::Schema)
    }

    fn fields(mode: Mode) -> NameAdjuster {
        NameAdjuster::new(mode, Kind::Field)
    }

    #[test]
    fn avro_replaces_invalid_characters() {
        let mut a = schemas(Mode::Avro);
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
        let mut a = schemas(Mode::AvroUnicode);
        assert_eq!(a.adjust("a-b").unwrap(), "a_u002db");
        assert_eq!(a.adjust("_x_").unwrap(), "_u005fx_u005f");
        assert_eq!(a.adjust("a中").unwrap(), "a_u4e2d");
    }

    #[test]
    fn clashes_are_reported_once() {
        let mut a = schemas(Mode::Avro);
        assert_eq!(a.adjust("a-b").unwrap(), "a_b");
        assert!(a.adjust("a+b").unwrap_err().contains("conflicts"));
        assert_eq!(a.adjust("a+b").unwrap(), "a_b");
        assert_eq!(schemas(Mode::None).adjust("a-b").unwrap(), "a-b");
    }

    #[test]
    fn modes_parse() {
        assert_eq!(Mode::parse(" AVRO "), Some(Mode::Avro));
        assert_eq!(Mode::parse("avro_unicode"), Some(Mode::AvroUnicode));
        assert_eq!(Mode::parse("x"), None);
    }

    #[test]
    fn avro_field_names() {
        let mut n = fields(Mode::Avro);
        assert_eq!(n.adjust("total_due").unwrap(), "total_due");
        assert_eq!(n.adjust("a.b").unwrap(), "a_b");
        assert_eq!(n.adjust("1st").unwrap(), "_1st");
        assert!(n.adjust("a-b").unwrap_err().contains("conflicts"));
    }

    #[test]
    fn unicode_field_names() {
        let mut n = fields(Mode::AvroUnicode);
        assert_eq!(n.adjust("a_b").unwrap(), "a_u005fb");
        assert_eq!(n.adjust("1a").unwrap(), "_u0031a");
        assert_eq!(fields(Mode::None).adjust("a-b").unwrap(), "a-b");
    }
}
