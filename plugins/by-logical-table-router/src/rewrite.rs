//! New key and envelope schemas and values for the logical table's topic.

use tidemark_sdk::{Schema, SchemaType, Value};

/// `copySchemaExcludingName`: a struct with the old schema's version, doc, parameters and
/// optionality (not its name or default), and its fields when `fields` is set.
fn copy_excluding_name(old: &Schema, fields: bool) -> Schema {
    let mut copy = Schema::new(SchemaType::Struct);
    copy.version = old.version;
    copy.doc = old.doc.clone();
    copy.parameters = old.parameters.clone();
    copy.optional = old.optional;
    if fields {
        copy.fields = old.fields.clone();
    }
    copy
}

/// The new key schema: the old key's fields, named `name`, plus a required string field
/// `id_field` when keys must stay unique.
pub fn key_schema(old: &Schema, name: String, id_field: Option<&str>) -> Result<Schema, String> {
    if old.kind != SchemaType::Struct {
        return Err("the key is not a struct".into());
    }
    let mut schema = copy_excluding_name(old, true).named(name);
    if let Some(field) = id_field {
        if schema.field_index(field).is_some() {
            return Err(format!("the key already has a field '{field}'"));
        }
        schema
            .fields
            .push((field.to_owned(), Schema::new(SchemaType::String)));
    }
    Ok(schema)
}

/// The new key: the old key's values plus the physical table identifier, if any.
pub fn key_value(mut values: Vec<Value>, identifier: Option<String>) -> Value {
    values.extend(identifier.map(Value::String));
    Value::Struct(values)
}

/// The new envelope schema: named `envelope_name`, with `before` and `after` of a row
/// schema named `value_name` (the `before` row's fields, version, doc, parameters and
/// optionality); the other fields unchanged.
pub fn envelope_schema(
    old: &Schema,
    value_name: String,
    envelope_name: String,
) -> Result<Schema, String> {
    let before = old
        .field_schema("before")
        .ok_or("the envelope has no 'before' field")?;
    let row = copy_excluding_name(before, true).named(value_name);
    let mut envelope = copy_excluding_name(old, false).named(envelope_name);
    envelope.fields = old
        .fields
        .iter()
        .map(|(name, schema)| {
            let schema = if is_row(name) {
                row.clone()
            } else {
                schema.clone()
            };
            (name.clone(), schema)
        })
        .collect();
    Ok(envelope)
}

/// The envelope's values for the new schema: null fields with a default take it, rows are
/// carried over field by field (by name).
pub fn envelope_value(old: &Schema, new: &Schema, values: Vec<Value>) -> Result<Value, String> {
    let mut out = Vec::with_capacity(values.len());
    for (value, (name, field)) in values.into_iter().zip(&old.fields) {
        let value = match (value, &field.default) {
            (Value::Null, Some(default)) => default.clone(),
            (Value::Struct(row), _) if is_row(name) => {
                let target = new
                    .field_schema(name)
                    .ok_or_else(|| format!("the new envelope has no '{name}' field"))?;
                Value::Struct(remap(field, target, row)?)
            }
            (Value::Null, None) => Value::Null,
            (_, _) if is_row(name) => return Err(format!("the '{name}' field is not a struct")),
            (value, _) => value,
        };
        out.push(value);
    }
    Ok(Value::Struct(out))
}

fn is_row(name: &str) -> bool {
    name == "before" || name == "after"
}

/// A row's values placed by field name into the new row schema.
fn remap(old: &Schema, new: &Schema, values: Vec<Value>) -> Result<Vec<Value>, String> {
    let same_layout = old.fields.len() == new.fields.len()
        && old.fields.iter().zip(&new.fields).all(|(a, b)| a.0 == b.0);
    if same_layout {
        return Ok(values);
    }
    let mut out = vec![Value::Null; new.fields.len()];
    for (value, (name, _)) in values.into_iter().zip(&old.fields) {
        let index = new
            .field_index(name)
            .ok_or_else(|| format!("'{name}' is not a valid field name of the new row schema"))?;
        out[index] = value;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str) -> Schema {
        Schema::new(SchemaType::Struct)
            .optional()
            .named(name)
            .field("id", Schema::new(SchemaType::Int32))
            .field("note", Schema::optional_string())
    }

    fn envelope() -> Schema {
        let mut envelope = Schema::new(SchemaType::Struct)
            .named("dbz.public.a.Envelope")
            .field("before", row("dbz.public.a.Value"))
            .field("after", row("dbz.public.a.Value"))
            .field("op", Schema::new(SchemaType::String));
        envelope.version = Some(2);
        let mut ts = Schema::new(SchemaType::Int64).optional();
        ts.default = Some(Value::Int64(7));
        envelope.fields.push(("ts_ms".into(), ts));
        envelope
    }

    #[test]
    fn key_gets_new_name_and_identifier() {
        let mut old = Schema::new(SchemaType::Struct)
            .named("dbz.public.a.Key")
            .field("id", Schema::new(SchemaType::Int32));
        old.version = Some(1);
        let new = key_schema(
            &old,
            "dbz.all.Key".into(),
            Some("__dbz__physicalTableIdentifier"),
        )
        .unwrap();
        assert_eq!(new.name.as_deref(), Some("dbz.all.Key"));
        assert_eq!(new.version, Some(1));
        assert!(!new.optional);
        assert_eq!(new.fields[1].0, "__dbz__physicalTableIdentifier");
        assert_eq!(new.fields[1].1, Schema::new(SchemaType::String));
        assert_eq!(
            key_value(vec![Value::Int32(1)], Some("dbz.public.a".into())),
            Value::Struct(vec![Value::Int32(1), Value::from("dbz.public.a")])
        );
        let without = key_schema(&old, "k".into(), None).unwrap();
        assert_eq!(without.fields.len(), 1);
        assert!(key_schema(&new, "k".into(), Some("__dbz__physicalTableIdentifier")).is_err());
    }

    #[test]
    fn envelope_rows_and_name_change() {
        let old = envelope();
        let new = envelope_schema(&old, "dbz.all.Value".into(), "dbz.all.Envelope".into()).unwrap();
        assert_eq!(new.name.as_deref(), Some("dbz.all.Envelope"));
        assert_eq!(new.version, Some(2));
        for field in ["before", "after"] {
            let row = new.field_schema(field).unwrap();
            assert_eq!(row.name.as_deref(), Some("dbz.all.Value"));
            assert!(row.optional);
        }
        assert_eq!(new.fields[2], old.fields[2]);
        let value = envelope_value(
            &old,
            &new,
            vec![
                Value::Null,
                Value::Struct(vec![Value::Int32(1), Value::Null]),
                Value::from("c"),
                Value::Null,
            ],
        )
        .unwrap();
        assert_eq!(
            value,
            Value::Struct(vec![
                Value::Null,
                Value::Struct(vec![Value::Int32(1), Value::Null]),
                Value::from("c"),
                // A null envelope field takes its default.
                Value::Int64(7),
            ])
        );
    }

    #[test]
    fn after_rows_are_remapped_by_name() {
        let mut old = envelope();
        old.fields[1].1 = Schema::new(SchemaType::Struct)
            .optional()
            .field("note", Schema::optional_string())
            .field("id", Schema::new(SchemaType::Int32));
        let new = envelope_schema(&old, "v".into(), "e".into()).unwrap();
        let value = envelope_value(
            &old,
            &new,
            vec![
                Value::Null,
                Value::Struct(vec![Value::from("n"), Value::Int32(1)]),
                Value::from("c"),
                Value::Int64(1),
            ],
        )
        .unwrap();
        let Value::Struct(fields) = value else {
            panic!()
        };
        assert_eq!(
            fields[1],
            Value::Struct(vec![Value::Int32(1), Value::from("n")])
        );
        assert!(envelope_schema(&Schema::new(SchemaType::Struct), "v".into(), "e".into()).is_err());
    }
}
