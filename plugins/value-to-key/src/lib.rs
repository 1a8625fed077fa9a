//! `value-to-key`: Kafka Connect's `org.apache.kafka.connect.transforms.ValueToKey`.
//!
//! Settings: `fields` (top-level fields of the value, in key order) and
//! `replace.null.with.default` (default true: a null field with a default goes into the key
//! as the default). The new key is a struct with those fields and their schemas from the
//! value's schema; as in Connect, its schema has no name and is required. A schemaless value
//! (a map) gives a schemaless map key, with a null for each field the value lacks.
//!
//! Differences from Connect: a record whose value is null (a tombstone) passes unchanged with
//! its key, where Connect fails it. Where Connect fails a record (a field missing from the
//! value's schema, a value that is not a struct or map), the record fails: the host applies
//! `errors.tolerance` (stop, or dead-letter queue).

use std::rc::Rc;

use connect_common::cache::IdCache;
use connect_common::operand::{self, Rewrite};
use connect_common::settings;
use connect_common::structs::{
    add_field, check_put, field_value, map_get, map_put, require_map, require_struct,
};
use tidemark_sdk::{
    Config, ConfigDef, Data, Importance, Key, KeyType, Outcome, Part, Record, Schema, SchemaType,
    Transform, Value, export_transform,
};

const PURPOSE: &str = "copying fields from value to key";

/// The key schema made from a value schema, and where each key field is in the value.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyPlan {
    pub schema: Schema,
    pub sources: Vec<usize>,
}

/// Plans the key for values of `value_schema`.
pub fn plan(fields: &[String], value_schema: &Schema) -> Result<KeyPlan, String> {
    let mut schema = Schema::new(SchemaType::Struct);
    let mut sources = Vec::with_capacity(fields.len());
    for field in fields {
        let index = value_schema
            .field_index(field)
            .ok_or_else(|| format!("Field does not exist: {field}"))?;
        add_field(&mut schema, field, value_schema.fields[index].1.clone())?;
        sources.push(index);
    }
    Ok(KeyPlan { schema, sources })
}

/// The key struct's values, taken from the value struct's.
pub fn key_values(
    plan: &KeyPlan,
    values: &[Value],
    replace_null_with_default: bool,
) -> Result<Vec<Value>, String> {
    plan.sources
        .iter()
        .zip(&plan.schema.fields)
        .map(|(&i, (name, field_schema))| {
            let value = values.get(i).unwrap_or(&Value::Null);
            let value = field_value(value, field_schema, replace_null_with_default);
            check_put(name, field_schema, &value)?;
            Ok(value)
        })
        .collect()
}

/// The schemaless key: each field's value from the map, null when absent.
pub fn key_map(fields: &[String], entries: &[(Value, Value)]) -> Vec<(Value, Value)> {
    let mut key = Vec::with_capacity(fields.len());
    for field in fields {
        let value = map_get(entries, field).cloned().unwrap_or(Value::Null);
        map_put(&mut key, field, value);
    }
    key
}

/// The ValueToKey transform.
#[derive(Debug)]
pub struct ValueToKey {
    fields: Vec<String>,
    replace_null_with_default: bool,
    plans: IdCache<Rc<KeyPlan>>,
}

impl ValueToKey {
    fn new_key(&mut self, record: &Record<'_>) -> Result<Rewrite, String> {
        let fields = &self.fields;
        let read = operand::read_non_null(record, Part::Value, &mut self.plans, |s| {
            plan(fields, &s).map(Rc::new)
        })?;
        let Some((plan, value)) = read else {
            return Ok(Rewrite::Unchanged);
        };
        let key = match plan {
            None => Data {
                schema: None,
                value: Value::Map(key_map(fields, require_map(&value, PURPOSE)?)),
            },
            Some(plan) => {
                let values = require_struct(&value, PURPOSE)?;
                Data {
                    value: Value::Struct(key_values(
                        &plan,
                        values,
                        self.replace_null_with_default,
                    )?),
                    schema: Some(plan.schema.clone()),
                }
            }
        };
        Ok(Rewrite::Replace(Some(key)))
    }
}

/// Connect's keys.
fn definition() -> ConfigDef {
    ConfigDef::new()
        .key(
            Key::new(
                "fields",
                KeyType::List,
                Importance::High,
                "The value's fields that make up the new key (a non-empty list).",
            )
            .required(),
        )
        .key(settings::replace_null_key())
}

impl Transform for ValueToKey {
    fn config_def() -> Option<ConfigDef> {
        Some(definition())
    }

    fn configure(config: Config) -> Result<Self, String> {
        let parsed = definition().parse(&config)?;
        Ok(ValueToKey {
            fields: settings::non_empty_list(&parsed, "fields")?,
            replace_null_with_default: settings::replace_null_with_default(&parsed),
            plans: IdCache::default(),
        })
    }

    fn apply(&mut self, record: &mut Record<'_>) -> Outcome {
        let rewrite = self.new_key(record);
        operand::commit(record, Part::Key, rewrite)
    }
}

export_transform!(ValueToKey);

#[cfg(test)]
mod tests {
    use super::*;

    fn value_schema() -> Schema {
        let mut with_default = Schema::new(SchemaType::String).optional();
        with_default.default = Some("none".into());
        Schema::new(SchemaType::Struct)
            .named("db.t.Value")
            .field("id", Schema::new(SchemaType::Int32))
            .field("name", Schema::optional_string())
            .field("tenant", with_default)
    }

    fn fields(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn key_takes_field_schemas_in_given_order() {
        let p = plan(&fields(&["tenant", "id"]), &value_schema()).unwrap();
        assert_eq!(p.sources, [2, 0]);
        assert_eq!(p.schema.name, None);
        assert!(!p.schema.optional);
        assert_eq!(p.schema.fields[0].1, value_schema().fields[2].1);
        let values = [Value::Int32(7), "n".into(), Value::Null];
        assert_eq!(
            key_values(&p, &values, true).unwrap(),
            vec!["none".into(), Value::Int32(7)]
        );
        assert_eq!(
            key_values(&p, &values, false).unwrap(),
            vec![Value::Null, Value::Int32(7)]
        );
    }

    #[test]
    fn missing_and_repeated_fields_fail() {
        let err = plan(&fields(&["id", "nope"]), &value_schema()).unwrap_err();
        assert_eq!(err, "Field does not exist: nope");
        assert!(plan(&fields(&["id", "id"]), &value_schema()).is_err());
    }

    #[test]
    fn schemaless_keys_hold_nulls_for_absent_fields() {
        let entries = vec![
            ("id".into(), Value::Int64(1)),
            ("x".into(), Value::Int64(2)),
        ];
        assert_eq!(
            key_map(&fields(&["id", "tenant"]), &entries),
            vec![
                ("id".into(), Value::Int64(1)),
                ("tenant".into(), Value::Null)
            ]
        );
    }

    #[test]
    fn fields_are_required() {
        let err = ValueToKey::configure(Config::new(vec![])).unwrap_err();
        assert!(err.contains("'fields'"));
    }
}
