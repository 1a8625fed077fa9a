//! `replace-field`: Kafka Connect's `org.apache.kafka.connect.transforms.ReplaceField$Key`
//! and `$Value` (the host passes `part=key` or `part=value`; without it, the value).
//!
//! Settings: `exclude` (fields to drop; takes precedence), `include` (if set, only these
//! fields are kept), `renames` (`old:new,…`), `replace.null.with.default` (default true: null
//! fields with a default are copied as the default). The deprecated `blacklist` and
//! `whitelist` are read when `exclude` and `include` are absent. Names are top-level field
//! names. The new struct schema keeps the original's field order, name, version, doc and
//! parameters; as in Connect it is required and has no default. Schemaless maps are filtered
//! and renamed the same way.
//!
//! A null key or value passes unchanged, as in Connect. Where Connect fails a record (two
//! fields ending with the same name, a value that is not a struct or map), the record fails:
//! the host applies `errors.tolerance` (stop, or dead-letter queue).

use std::rc::Rc;

use connect_common::cache::IdCache;
use connect_common::operand::{self, Rewrite};
use connect_common::settings;
use connect_common::structs::{
    add_field, check_put, field_value, map_put, require_map, require_struct, struct_basics,
};
use tidemark_sdk::{
    Config, ConfigDef, Data, Importance, Key, KeyType, Outcome, Part, Record, Schema, Transform,
    Value, export_transform,
};

const PURPOSE: &str = "field replacement";

/// The field selection and renames.
#[derive(Debug, Clone, PartialEq)]
pub struct Replacement {
    exclude: Vec<String>,
    include: Vec<String>,
    /// `(old, new)`; a later mapping of the same old name wins.
    renames: Vec<(String, String)>,
    replace_null_with_default: bool,
}

/// What ReplaceField makes of a schema: the original, the new schema, and for each new
/// field the position of the original field it is read from.
#[derive(Debug)]
struct Plan {
    input: Schema,
    schema: Schema,
    sources: Vec<usize>,
}

impl Replacement {
    /// Whether a field is kept.
    pub fn keeps(&self, name: &str) -> bool {
        !self.exclude.iter().any(|f| f == name)
            && (self.include.is_empty() || self.include.iter().any(|f| f == name))
    }

    /// A field's new name.
    pub fn renamed<'a>(&'a self, name: &'a str) -> &'a str {
        self.renames
            .iter()
            .rev()
            .find(|(old, _)| old == name)
            .map_or(name, |(_, new)| new.as_str())
    }

    /// The name a new field is read from (the renames inverted).
    pub fn reverse_renamed<'a>(&'a self, name: &'a str) -> &'a str {
        self.renames
            .iter()
            .rev()
            .find(|(_, new)| new == name)
            .map_or(name, |(old, _)| old.as_str())
    }

    /// The new schema, and for each of its fields the index of the original field it is read
    /// from (as Connect does, by its name with the renames inverted).
    pub fn updated_schema(&self, schema: &Schema) -> Result<(Schema, Vec<usize>), String> {
        let mut out = struct_basics(schema);
        for (name, field) in &schema.fields {
            if self.keeps(name) {
                add_field(&mut out, self.renamed(name), field.clone())?;
            }
        }
        let sources = out
            .fields
            .iter()
            .map(|(name, _)| {
                let source = self.reverse_renamed(name);
                schema
                    .field_index(source)
                    .ok_or_else(|| format!("{source} is not a valid field name"))
            })
            .collect::<Result<_, _>>()?;
        Ok((out, sources))
    }

    /// The values of the new struct.
    pub fn replace_struct(
        &self,
        schema: &Schema,
        sources: &[usize],
        values: &[Value],
    ) -> Result<Vec<Value>, String> {
        sources
            .iter()
            .map(|&i| {
                let (name, field_schema) = schema
                    .fields
                    .get(i)
                    .ok_or_else(|| format!("field {i} is missing from the schema"))?;
                let value = values.get(i).unwrap_or(&Value::Null);
                let value = field_value(value, field_schema, self.replace_null_with_default);
                check_put(self.renamed(name), field_schema, &value)?;
                Ok(value)
            })
            .collect()
    }

    /// The entries of the new schemaless map.
    pub fn replace_map(&self, entries: &[(Value, Value)]) -> Vec<(Value, Value)> {
        let mut out = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            match key.as_str() {
                Some(name) if self.keeps(name) => {
                    map_put(&mut out, self.renamed(name), value.clone())
                }
                Some(_) => {}
                // Connect's maps here have string keys; keep anything else as it is.
                None => out.push((key.clone(), value.clone())),
            }
        }
        out
    }
}

/// Reads `renames` as Connect does: each item `old:new`, exactly one colon.
fn parse_renames(items: &[String]) -> Result<Vec<(String, String)>, String> {
    items
        .iter()
        .map(|item| {
            // Java's String.split(":") drops trailing empty parts.
            let mut parts: Vec<&str> = item.split(':').collect();
            while parts.len() > 1 && parts.last() == Some(&"") {
                parts.pop();
            }
            match parts.as_slice() {
                [old, new] => Ok((old.to_string(), new.to_string())),
                _ => Err(format!(
                    "setting 'renames' has an invalid rename mapping {item:?} (expected old:new)"
                )),
            }
        })
        .collect()
}

/// The ReplaceField transform.
#[derive(Debug)]
pub struct ReplaceField {
    part: Part,
    replacement: Replacement,
    plans: IdCache<Rc<Plan>>,
}

impl ReplaceField {
    fn rewrite(&mut self, record: &Record<'_>) -> Result<Rewrite, String> {
        let replacement = &self.replacement;
        let read = operand::read_non_null(record, self.part, &mut self.plans, |s| {
            let (schema, sources) = replacement.updated_schema(&s)?;
            Ok(Rc::new(Plan {
                input: s,
                schema,
                sources,
            }))
        })?;
        let Some((plan, value)) = read else {
            return Ok(Rewrite::Unchanged);
        };
        let data = match plan {
            None => Data {
                schema: None,
                value: Value::Map(replacement.replace_map(require_map(&value, PURPOSE)?)),
            },
            Some(plan) => {
                let values = require_struct(&value, PURPOSE)?;
                Data {
                    value: Value::Struct(replacement.replace_struct(
                        &plan.input,
                        &plan.sources,
                        values,
                    )?),
                    schema: Some(plan.schema.clone()),
                }
            }
        };
        Ok(Rewrite::Replace(Some(data)))
    }
}

/// Connect's keys (with the names Kafka 3 deprecated), and the implied `part`.
fn definition() -> ConfigDef {
    let list = |name: &str, doc: &str| Key::new(name, KeyType::List, Importance::Medium, doc);
    ConfigDef::new()
        .key(list("exclude", "Fields to remove; they win over include.").default_value(""))
        .key(
            list(
                "include",
                "Fields to keep; when empty, every field not excluded is kept.",
            )
            .default_value(""),
        )
        .key(list("renames", "Field renames, as old:new pairs.").default_value(""))
        .key(list("blacklist", "Deprecated: the old name of exclude."))
        .key(list("whitelist", "Deprecated: the old name of include."))
        .key(settings::replace_null_key())
        .key(settings::part_key())
}

impl Transform for ReplaceField {
    fn config_def() -> Option<ConfigDef> {
        Some(definition())
    }

    fn configure(config: Config) -> Result<Self, String> {
        let parsed = definition().parse(&config)?;
        let either = |key: &str, deprecated: &str| {
            if config.get(key).is_some() || !parsed.has(deprecated) {
                parsed.list(key)
            } else {
                parsed.list(deprecated)
            }
        };
        let renames = parse_renames(&parsed.list("renames"))?;
        Ok(ReplaceField {
            part: settings::part(&parsed),
            replacement: Replacement {
                exclude: either("exclude", "blacklist"),
                include: either("include", "whitelist"),
                renames,
                replace_null_with_default: settings::replace_null_with_default(&parsed),
            },
            plans: IdCache::default(),
        })
    }

    fn apply(&mut self, record: &mut Record<'_>) -> Outcome {
        let rewrite = self.rewrite(record);
        operand::commit(record, self.part, rewrite)
    }
}

export_transform!(ReplaceField);

#[cfg(test)]
mod tests {
    use super::*;
    use tidemark_sdk::SchemaType;

    fn replacer(entries: &[(&str, &str)]) -> Result<Replacement, String> {
        ReplaceField::configure(Config::from_pairs(entries)).map(|t| t.replacement)
    }

    fn schema() -> Schema {
        let mut with_default = Schema::new(SchemaType::Int32);
        with_default.default = Some(Value::Int32(9));
        let mut s = Schema::new(SchemaType::Struct)
            .named("db.t.Value")
            .optional()
            .field("id", with_default)
            .field("name", Schema::optional_string())
            .field("email", Schema::optional_string());
        s.version = Some(4);
        s
    }

    #[test]
    fn excludes_renames_and_keeps_order() {
        let r = replacer(&[("exclude", "email"), ("renames", "name:full_name")]).unwrap();
        let (out, sources) = r.updated_schema(&schema()).unwrap();
        let names: Vec<&str> = out.fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["id", "full_name"]);
        assert_eq!(sources, [0, 1]);
        assert_eq!(
            (out.name.as_deref(), out.version, out.optional),
            (Some("db.t.Value"), Some(4), false)
        );
        let values = [Value::Null, "Al".into(), "a@b".into()];
        assert_eq!(
            r.replace_struct(&schema(), &sources, &values).unwrap(),
            vec![Value::Int32(9), "Al".into()]
        );
    }

    #[test]
    fn include_is_a_whitelist_and_exclude_wins() {
        let r = replacer(&[("whitelist", "id,email"), ("exclude", "email")]).unwrap();
        let (out, _) = r.updated_schema(&schema()).unwrap();
        assert_eq!(out.fields.len(), 1);
        assert!(r.keeps("id") && !r.keeps("name"));
        let r = replacer(&[("include", "name"), ("whitelist", "id")]).unwrap();
        assert!(r.keeps("name") && !r.keeps("id"));
    }

    #[test]
    fn clashing_names_fail() {
        let r = replacer(&[("renames", "name:email")]).unwrap();
        assert!(
            r.updated_schema(&schema())
                .unwrap_err()
                .contains("duplication")
        );
        // Connect reads `id` from the field the renames say it came from, which is absent.
        let r = replacer(&[("renames", "ghost:id")]).unwrap();
        assert!(r.updated_schema(&schema()).unwrap_err().contains("ghost"));
    }

    #[test]
    fn maps_are_filtered_and_renamed() {
        let r = replacer(&[("exclude", "b"), ("renames", "a:z")]).unwrap();
        let entries = vec![
            ("a".into(), Value::Int64(1)),
            ("b".into(), Value::Int64(2)),
            ("c".into(), Value::Int64(3)),
        ];
        assert_eq!(
            r.replace_map(&entries),
            vec![("z".into(), Value::Int64(1)), ("c".into(), Value::Int64(3))]
        );
    }

    #[test]
    fn renames_need_one_colon() {
        assert_eq!(
            parse_renames(&["a:b".into(), ":x".into()]).unwrap(),
            vec![("a".into(), "b".into()), ("".into(), "x".into())]
        );
        for bad in ["a", "a:", "a:b:c", "a::"] {
            assert!(parse_renames(&[bad.into()]).is_err(), "{bad}");
        }
    }
}
