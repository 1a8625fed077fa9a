//! The transform's settings, including the legacy delete keys Debezium 3.6 no longer reads.

use tidemark_sdk::{Config, ConfigDef, Importance, Key, KeyType, Settings as Parsed};

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

/// `delete.tombstone.handling.mode`.
const MODE: &str = "delete.tombstone.handling.mode";

/// The transform's keys: Debezium 3.6's, and the legacy delete keys Debezium 2 read.
pub fn definition() -> ConfigDef {
    let low =
        |name: &str, key_type: KeyType, doc: &str| Key::new(name, key_type, Importance::Low, doc);
    ConfigDef::new()
        .key(
            Key::new(
                MODE,
                KeyType::String,
                Importance::Medium,
                "What becomes of deletes and tombstones: drop (both removed), tombstone (a delete \
                 becomes a record with a null value; tombstones removed), rewrite (a delete \
                 becomes its before row with __deleted=true; tombstones removed), \
                 rewrite-with-tombstone (the same, tombstones kept), delete-to-tombstone (a \
                 delete becomes a tombstone; tombstones removed).",
            )
            .default_value("tombstone")
            .allowed_ignoring_case(&Handling::MODES.map(|(name, _)| name)),
        )
        .key(low(
            "route.by.field",
            KeyType::String,
            "A row field whose value becomes the record's topic.",
        ).default_value(""))
        .key(low(
            "add.fields.prefix",
            KeyType::String,
            "The prefix of the fields add.fields adds.",
        ).default_value("__"))
        .key(low(
            "add.fields",
            KeyType::List,
            "Envelope or source fields added to the row (op, ts_ms, source.ts_ms, or field:new_name).",
        ).default_value(""))
        .key(low(
            "add.headers.prefix",
            KeyType::String,
            "The prefix of the headers add.headers adds.",
        ).default_value("__"))
        .key(low(
            "add.headers",
            KeyType::List,
            "Envelope or source fields added as headers, named as in add.fields.",
        ).default_value(""))
        .key(low(
            "replace.null.with.default",
            KeyType::Boolean,
            "Whether a null column takes its schema default when the row is rewritten.",
        ).default_value("true"))
        .key(low(
            "drop.fields.header.name",
            KeyType::String,
            "A header listing fields to remove from the row.",
        ))
        .key(low(
            "drop.fields.from.key",
            KeyType::Boolean,
            "Whether drop.fields.header.name also removes the fields from the key.",
        ).default_value("false"))
        .key(low(
            "drop.fields.keep.schema.compatible",
            KeyType::Boolean,
            "Whether drop.fields.header.name removes only optional fields, so schemas stay compatible.",
        ).default_value("true"))
        .key(low(
            "drop.tombstones",
            KeyType::Boolean,
            "Deprecated (Debezium 2): whether tombstones are removed; use delete.tombstone.handling.mode.",
        ))
        .key(
            Key::new(
                "delete.handling.mode",
                KeyType::String,
                Importance::Medium,
                "Deprecated (Debezium 2): drop, none or rewrite; use delete.tombstone.handling.mode.",
            )
            .allowed_ignoring_case(&["drop", "none", "rewrite"]),
        )
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
        let parsed = definition().parse(config)?;
        let text = |key: &str| parsed.string(key).unwrap_or_default();
        let flag = |key: &str| parsed.boolean(key) == Some(true);
        let mut warnings = Vec::new();
        let handling = handling(config, &parsed, &mut warnings)?;
        let add_fields = FieldRef::list(
            text("add.fields.prefix"),
            config.get("add.fields").unwrap_or(""),
        )
        .map_err(|e| format!("setting 'add.fields': {e}"))?;
        let add_headers = FieldRef::list(
            text("add.headers.prefix"),
            config.get("add.headers").unwrap_or(""),
        )
        .map_err(|e| format!("setting 'add.headers': {e}"))?;
        let route_by_field = Some(text("route.by.field"))
            .filter(|f| !f.is_empty())
            .map(str::to_owned);
        let drop_fields = parsed
            .string("drop.fields.header.name")
            .filter(|h| !java::is_blank(h))
            .map(|header| DropFields {
                header: header.to_owned(),
                from_key: flag("drop.fields.from.key"),
                keep_schema_compatible: flag("drop.fields.keep.schema.compatible"),
            });
        let settings = Settings {
            handling,
            route_by_field,
            add_fields,
            add_headers,
            replace_null_with_default: flag("replace.null.with.default"),
            drop_fields,
        };
        Ok((settings, warnings))
    }
}

/// `delete.tombstone.handling.mode` when set, else the legacy `drop.tombstones` (default
/// true) and `delete.handling.mode` (`drop` by default, `none`, `rewrite`) as Debezium 2.x
/// read them, else the default `tombstone`.
fn handling(
    config: &Config,
    parsed: &Parsed,
    warnings: &mut Vec<String>,
) -> Result<Handling, String> {
    let legacy_tombstones = parsed.boolean("drop.tombstones");
    let legacy_deletes = parsed.string("delete.handling.mode");
    let legacy = legacy_tombstones.is_some() || legacy_deletes.is_some();
    if config.get(MODE).is_some() || !legacy {
        let mode = parsed.string(MODE).unwrap_or_default();
        let handling = Handling::MODES
            .iter()
            .find(|(name, _)| *name == mode)
            .map(|(_, h)| *h)
            .ok_or_else(|| format!("setting '{MODE}' has no meaning for {mode:?}"))?;
        if legacy {
            warnings.push(format!(
                "the deprecated settings 'drop.tombstones' and 'delete.handling.mode' are ignored \
                 because '{MODE}' is set"
            ));
        }
        return Ok(handling);
    }
    let tombstones = if legacy_tombstones.unwrap_or(true) {
        Tombstones::Drop
    } else {
        Tombstones::Keep
    };
    let deletes = match legacy_deletes {
        None | Some("drop") => Deletes::Drop,
        Some("none") => Deletes::NullValue,
        Some(_) => Deletes::Rewrite,
    };
    let handling = Handling::new(tombstones, deletes);
    let equivalent = match handling.mode_name() {
        Some(name) => format!("use '{MODE}={name}' instead"),
        None => format!(
            "no '{MODE}' value has the same effect ({} tombstones, {} deletes), which is kept",
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
