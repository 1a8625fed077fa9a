//! `extract-field`: Kafka Connect's `org.apache.kafka.connect.transforms.ExtractField$Key`
//! and `$Value` (the host passes `part=key` or `part=value`; without it, the value).
//!
//! Settings: `field` (the field to extract), `field.syntax.version` (`V1`, the default: `field`
//! is one top-level name; `V2`: a dotted path to a nested field, `` `a.b` `` for a name with
//! dots), `replace.null.with.default` (default true: a null field with a default is extracted
//! as the default). The key or value becomes the field, with the field's schema; a null struct
//! gives a null with that schema. Schemaless maps work the same way (a null result makes the
//! key or value null).
//!
//! A null key or value passes unchanged, as in Connect. Where Connect fails a record (a field
//! the schema lacks, a value that is not a struct or map), the record fails: the host applies
//! `errors.tolerance` (stop, or dead-letter queue).

mod path;

use std::rc::Rc;

use connect_common::cache::IdCache;
use connect_common::operand::{self, Rewrite};
use connect_common::settings;
use connect_common::structs::{require_map, require_struct};
use tidemark_sdk::{
    Config, ConfigDef, Data, Importance, Key, KeyType, Outcome, Part, Record, Schema, Transform,
    Value, export_transform,
};

pub use path::{FieldPath, Syntax};

const PURPOSE: &str = "field extraction";

/// What to extract.
#[derive(Debug, Clone, PartialEq)]
pub struct Extraction {
    path: FieldPath,
    /// The `field` setting as given, for messages.
    original: String,
    replace_null_with_default: bool,
}

impl Extraction {
    /// The extracted field's schema in `schema`, or why it cannot be extracted.
    pub fn field_schema(&self, schema: &Schema) -> Result<Schema, String> {
        self.path
            .schema_from(schema)?
            .cloned()
            .ok_or_else(|| format!("Unknown field: {}", self.original))
    }

    /// The field's value in a struct of `schema`.
    pub fn from_struct(&self, schema: &Schema, values: &[Value]) -> Result<Value, String> {
        self.path
            .value_from_struct(schema, values, self.replace_null_with_default)
    }

    /// The field's value in a schemaless map.
    pub fn from_map(&self, entries: &[(Value, Value)]) -> Result<Value, String> {
        self.path.value_from_map(entries)
    }
}

/// A schema seen before and the schema of the field to extract from it (or why there is
/// none).
#[derive(Debug)]
struct Plan {
    input: Schema,
    field: Result<Schema, String>,
}

/// The ExtractField transform.
#[derive(Debug)]
pub struct ExtractField {
    part: Part,
    extraction: Extraction,
    plans: IdCache<Rc<Plan>>,
}

impl ExtractField {
    fn rewrite(&mut self, record: &Record<'_>) -> Result<Rewrite, String> {
        let extraction = &self.extraction;
        let read = operand::read(record, self.part, &mut self.plans, |input| {
            let field = extraction.field_schema(&input);
            Ok(Rc::new(Plan { input, field }))
        })?;
        let Some(value) = read.value else {
            return Ok(Rewrite::Unchanged);
        };
        let data = match read.derived {
            None => {
                if value.is_null() {
                    return Ok(Rewrite::Unchanged);
                }
                let field = extraction.from_map(require_map(&value, PURPOSE)?)?;
                (!field.is_null()).then_some(Data {
                    schema: None,
                    value: field,
                })
            }
            Some(plan) => {
                let field_schema = plan.field.clone()?;
                let field = if value.is_null() {
                    Value::Null
                } else {
                    extraction.from_struct(&plan.input, require_struct(&value, PURPOSE)?)?
                };
                Some(Data {
                    schema: Some(field_schema),
                    value: field,
                })
            }
        };
        Ok(Rewrite::Replace(data))
    }
}

/// Connect's keys, with the implied `part`.
fn definition() -> ConfigDef {
    ConfigDef::new()
        .key(
            Key::new(
                "field",
                KeyType::String,
                Importance::Medium,
                "The field to extract (a path of nested fields with field.syntax.version=V2).",
            )
            .required(),
        )
        .key(
            Key::new(
                "field.syntax.version",
                KeyType::String,
                Importance::High,
                "How field names are read: V1 (a name, dots included) or V2 (a dotted path of nested fields, backquotes around a name with dots).",
            )
            .default_value("V1")
            .allowed_ignoring_case(&["V1", "V2"]),
        )
        .key(settings::replace_null_key())
        .key(settings::part_key())
}

impl Transform for ExtractField {
    fn config_def() -> Option<ConfigDef> {
        Some(definition())
    }

    fn configure(config: Config) -> Result<Self, String> {
        let parsed = definition().parse(&config)?;
        let original = parsed.string("field").unwrap_or_default().to_owned();
        let syntax = match parsed.string("field.syntax.version") {
            Some("V2") => Syntax::V2,
            _ => Syntax::V1,
        };
        let path = FieldPath::parse(&original, syntax)
            .map_err(|e| format!("setting 'field' {original:?}: {e}"))?;
        Ok(ExtractField {
            part: settings::part(&parsed),
            extraction: Extraction {
                path,
                original,
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

export_transform!(ExtractField);

#[cfg(test)]
mod tests {
    use super::*;
    use tidemark_sdk::SchemaType;

    fn extraction(entries: &[(&str, &str)]) -> Result<Extraction, String> {
        ExtractField::configure(Config::from_pairs(entries)).map(|t| t.extraction)
    }

    fn schema() -> Schema {
        let mut id = Schema::new(SchemaType::Int32);
        id.default = Some(Value::Int32(0));
        Schema::new(SchemaType::Struct)
            .field("id", id)
            .field("name", Schema::optional_string())
    }

    #[test]
    fn top_level_fields_by_default() {
        let e = extraction(&[("field", "id")]).unwrap();
        assert_eq!(e.field_schema(&schema()).unwrap().kind, SchemaType::Int32);
        assert_eq!(
            e.from_struct(&schema(), &[Value::Null, "n".into()]),
            Ok(Value::Int32(0))
        );
        let e = extraction(&[("field", "id"), ("replace.null.with.default", "false")]).unwrap();
        assert_eq!(
            e.from_struct(&schema(), &[Value::Null, "n".into()]),
            Ok(Value::Null)
        );
        let dotted = extraction(&[("field", "a.b")]).unwrap();
        assert_eq!(dotted.path.steps(), ["a.b"]);
    }

    #[test]
    fn unknown_fields_are_named() {
        let e = extraction(&[("field", "nope")]).unwrap();
        assert_eq!(
            e.field_schema(&schema()).unwrap_err(),
            "Unknown field: nope"
        );
    }

    #[test]
    fn settings_are_checked() {
        assert!(extraction(&[]).unwrap_err().contains("'field'"));
        assert!(extraction(&[("field", "a"), ("field.syntax.version", "v3")]).is_err());
        let e = extraction(&[("field", "a.b"), ("field.syntax.version", "v2")]).unwrap();
        assert_eq!(e.path.steps(), ["a", "b"]);
        assert!(extraction(&[("field", "`a"), ("field.syntax.version", "V2")]).is_err());
    }
}
