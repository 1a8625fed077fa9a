//! The transform's settings, including the legacy delete keys Debezium 3.6 no longer reads.

use tidemark_sdk::Config;

use crate::field_ref::FieldRef;
use crate::java;

/// What becomes of the tombstones Debezium emits after deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tombstones {
    Drop,
    Keep,
}

/// What becomes of a delete event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletes {
    /// Removed.
    Drop,
    /// A record with a null value that keeps the row schema.
    NullValue,
    /// A real tombstone: null value, no schema.
    Tombstone,
    /// The `before` state with `__deleted` = `"true"` (inserts and updates get `"false"`).
    Rewrite,
}

/// How deletes and tombstones are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handling {
    pub tombstones: Tombstones,
    pub deletes: Deletes,
}

impl Handling {
    /// The values of `delete.tombstone.handling.mode`, with what each means.
    const MODES: [(&'static str, Handling); 5] = [
        ("drop", Handling::new(Tombstones::Drop, Deletes::Drop)),
        (
            "tombstone",
            Handling::new(Tombstones::Drop, Deletes::NullValue),
        ),
        ("rewrite", Handling::new(Tombstones::Drop, Deletes::Rewrite)),
        (
            "rewrite-with-tombstone",
            Handling::new(Tombstones::Keep, Deletes::Rewrite),
        ),
        (
            "delete-to-tombstone",
            Handling::new(Tombstones::Drop, Deletes::Tombstone),
        ),
    ];

    const fn new(tombstones: Tombstones, deletes: Deletes) -> Handling {
        Handling {
            tombstones,
            deletes,
        }
    }

    /// True in the rewrite modes, where every unwrapped row gets a `__deleted` field.
    pub fn rewrite(self) -> bool {
        self.deletes == Deletes::Rewrite
    }

    /// The `delete.tombstone.handling.mode` value with this meaning, if there is one.
    fn mode_name(self) -> Option<&'static str> {
        Handling::MODES
            .iter()
            .find(|(_, h)| *h == self)
            .map(|(name, _)| *name)
    }
}

/// `drop.fields.header.name` and its companions.
#[derive(Debug, Clone, PartialEq)]
pub struct DropFields {
    /// The header listing the fields to remove.
    pub header: String,
    /// Remove them from the key too.
    pub from_key: bool,
    /// Remove only optional fields (so schemas stay compatible).
    pub keep_schema_compatible: bool,
}

/// Everything `configure` reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub handling: Handling,
    pub route_by_field: Option<String>,
    pub add_fields: Vec<FieldRef>,
    pub add_headers: Vec<FieldRef>,
    pub replace_null_with_default: bool,
    pub drop_fields: Option<DropFields>,
}

impl Settings {
    /// Reads the settings; also returns warnings to log once (deprecated keys).
    pub fn parse(config: &Config) -> Result<(Settings, Vec<String>), String> {
        let mut warnings = Vec::new();
        let handling = handling(config, &mut warnings)?;
        let fields_prefix = config.get("add.fields.prefix").unwrap_or("__");
        let headers_prefix = config.get("add.headers.prefix").unwrap_or("__");
        let add_fields = FieldRef::list(fields_prefix, config.get("add.fields").unwrap_or(""))
            .map_err(|e| format!("setting 'add.fields': {e}"))?;
        let add_headers = FieldRef::list(headers_prefix, config.get("add.headers").unwrap_or(""))
            .map_err(|e| format!("setting 'add.headers': {e}"))?;
        let route_by_field = config
            .get("route.by.field")
            .filter(|f| !f.is_empty())
            .map(str::to_owned);
        let replace_null_with_default = java::parse_bool(
            "replace.null.with.default",
            config.get("replace.null.with.default"),
            true,
        )?;
        let from_key = java::parse_bool(
            "drop.fields.from.key",
            config.get("drop.fields.from.key"),
            false,
        )?;
        let keep_schema_compatible = java::parse_bool(
            "drop.fields.keep.schema.compatible",
            config.get("drop.fields.keep.schema.compatible"),
            true,
        )?;
        let drop_fields = config
            .get("drop.fields.header.name")
            .filter(|h| !java::is_blank(h))
            .map(|header| DropFields {
                header: header.to_owned(),
                from_key,
                keep_schema_compatible,
            });
        let settings = Settings {
            handling,
            route_by_field,
            add_fields,
            add_headers,
            replace_null_with_default,
            drop_fields,
        };
        Ok((settings, warnings))
    }
}

/// `delete.tombstone.handling.mode`, else the legacy `drop.tombstones` (default true) and
/// `delete.handling.mode` (`drop` by default, `none`, `rewrite`) as Debezium 2.x read them,
/// else the default `tombstone`.
fn handling(config: &Config, warnings: &mut Vec<String>) -> Result<Handling, String> {
    const KEY: &str = "delete.tombstone.handling.mode";
    let legacy_tombstones = config.get("drop.tombstones");
    let legacy_deletes = config.get("delete.handling.mode");
    let legacy = legacy_tombstones.is_some() || legacy_deletes.is_some();
    if let Some(mode) = config.get(KEY).filter(|m| !java::is_blank(m)) {
        let wanted = java::trim(mode);
        let handling = Handling::MODES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
            .map(|(_, h)| *h)
            .ok_or_else(|| {
                let names: Vec<&str> = Handling::MODES.iter().map(|(n, _)| *n).collect();
                format!(
                    "setting '{KEY}' must be one of {}, not {mode:?}",
                    names.join(", ")
                )
            })?;
        if legacy {
            warnings.push(format!(
                "the deprecated settings 'drop.tombstones' and 'delete.handling.mode' are ignored \
                 because '{KEY}' is set"
            ));
        }
        return Ok(handling);
    }
    if !legacy {
        return Ok(Handling::new(Tombstones::Drop, Deletes::NullValue));
    }
    let tombstones = if java::parse_bool("drop.tombstones", legacy_tombstones, true)? {
        Tombstones::Drop
    } else {
        Tombstones::Keep
    };
    let deletes = match legacy_deletes.map(|d| java::trim(d).to_ascii_lowercase()) {
        None => Deletes::Drop,
        Some(d) if d == "drop" => Deletes::Drop,
        Some(d) if d == "none" => Deletes::NullValue,
        Some(d) if d == "rewrite" => Deletes::Rewrite,
        Some(_) => {
            return Err(format!(
                "setting 'delete.handling.mode' must be one of drop, none, rewrite, not {:?}",
                legacy_deletes.unwrap_or_default()
            ));
        }
    };
    let handling = Handling::new(tombstones, deletes);
    let equivalent = match handling.mode_name() {
        Some(name) => format!("use '{KEY}={name}' instead"),
        None => format!(
            "no '{KEY}' value has the same effect ({} tombstones, {} deletes), which is kept",
            if tombstones == Tombstones::Keep {
                "keeping"
            } else {
                "dropping"
            },
            if deletes == Deletes::Drop {
                "dropping"
            } else {
                "nulling the value of"
            },
        ),
    };
    warnings.push(format!(
        "the settings 'drop.tombstones' and 'delete.handling.mode' are deprecated (Debezium 3 \
         ignores them; here they still apply): {equivalent}"
    ));
    Ok(handling)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(entries: &[(&str, &str)]) -> Result<(Settings, Vec<String>), String> {
        Settings::parse(&Config::from_pairs(entries))
    }

    fn handling_of(entries: &[(&str, &str)]) -> Handling {
        parse(entries).unwrap().0.handling
    }

    #[test]
    fn default_is_tombstone_mode() {
        let (s, warnings) = parse(&[]).unwrap();
        assert_eq!(
            s.handling,
            Handling::new(Tombstones::Drop, Deletes::NullValue)
        );
        assert!(warnings.is_empty());
        assert!(s.replace_null_with_default);
        assert_eq!(s.route_by_field, None);
        assert_eq!(s.drop_fields, None);
    }

    #[test]
    fn modes_parse_case_insensitively() {
        assert_eq!(
            handling_of(&[("delete.tombstone.handling.mode", " Rewrite-With-Tombstone")]),
            Handling::new(Tombstones::Keep, Deletes::Rewrite)
        );
        assert_eq!(
            handling_of(&[("delete.tombstone.handling.mode", "delete-to-tombstone")]),
            Handling::new(Tombstones::Drop, Deletes::Tombstone)
        );
        let err = parse(&[("delete.tombstone.handling.mode", "keep")]).unwrap_err();
        assert!(err.contains("'delete.tombstone.handling.mode'"), "{err}");
    }

    #[test]
    fn legacy_keys_map_and_warn() {
        let (s, warnings) = parse(&[
            ("drop.tombstones", "false"),
            ("delete.handling.mode", "rewrite"),
        ])
        .unwrap();
        assert_eq!(
            s.handling,
            Handling::new(Tombstones::Keep, Deletes::Rewrite)
        );
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("delete.tombstone.handling.mode=rewrite-with-tombstone"));
        // Debezium 2.x's default for delete.handling.mode was drop.
        assert_eq!(
            handling_of(&[("drop.tombstones", "true")]),
            Handling::new(Tombstones::Drop, Deletes::Drop)
        );
        assert_eq!(
            handling_of(&[("delete.handling.mode", "none")]),
            Handling::new(Tombstones::Drop, Deletes::NullValue)
        );
        // No mode keeps tombstones and nulls deletes: the legacy behaviour is kept.
        let (s, warnings) = parse(&[
            ("drop.tombstones", "false"),
            ("delete.handling.mode", "none"),
        ])
        .unwrap();
        assert_eq!(
            s.handling,
            Handling::new(Tombstones::Keep, Deletes::NullValue)
        );
        assert!(warnings[0].contains("no 'delete.tombstone.handling.mode' value"));
    }

    #[test]
    fn new_key_wins_over_legacy_keys() {
        let (s, warnings) = parse(&[
            ("delete.handling.mode", "rewrite"),
            ("delete.tombstone.handling.mode", "drop"),
        ])
        .unwrap();
        assert_eq!(s.handling, Handling::new(Tombstones::Drop, Deletes::Drop));
        assert!(warnings[0].contains("ignored"));
    }

    #[test]
    fn bad_values_name_the_setting() {
        let err = parse(&[("delete.handling.mode", "keep")]).unwrap_err();
        assert!(err.contains("'delete.handling.mode'"), "{err}");
        let err = parse(&[("add.fields", "a:b:c")]).unwrap_err();
        assert!(err.contains("'add.fields'"), "{err}");
        let err = parse(&[("replace.null.with.default", "maybe")]).unwrap_err();
        assert!(err.contains("'replace.null.with.default'"), "{err}");
    }
}
