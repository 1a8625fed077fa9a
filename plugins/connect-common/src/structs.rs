//! Structs and schemaless maps as Connect's transforms handle them.

use tidemark_sdk::{Schema, SchemaType, Value};

/// A field's value as Connect's `Struct.get` returns it (a null takes the field schema's
/// default) or, without `with_default`, as `Struct.getWithoutDefault` does.
pub fn field_value(value: &Value, field_schema: &Schema, with_default: bool) -> Value {
    match (&field_schema.default, value) {
        (Some(default), Value::Null) if with_default => default.clone(),
        _ => value.clone(),
    }
}

/// `SchemaUtil.copySchemaBasics(source, SchemaBuilder.struct())`: a struct schema with the
/// source's name, version, doc and parameters, and nothing else (it is required, has no
/// default and no fields yet).
pub fn struct_basics(source: &Schema) -> Schema {
    let mut schema = Schema::new(SchemaType::Struct);
    schema.name.clone_from(&source.name);
    schema.version = source.version;
    schema.doc.clone_from(&source.doc);
    schema.parameters.clone_from(&source.parameters);
    schema
}

/// Appends a field as `SchemaBuilder.field` does, refusing a name already present.
pub fn add_field(schema: &mut Schema, name: &str, field: Schema) -> Result<(), String> {
    if schema.field_index(name).is_some() {
        return Err(format!(
            "Cannot create field because of field name duplication {name}"
        ));
    }
    schema.fields.push((name.to_owned(), field));
    Ok(())
}

/// The check `Struct.put` makes that matters when values keep their types: a null needs an
/// optional field.
pub fn check_put(name: &str, field_schema: &Schema, value: &Value) -> Result<(), String> {
    if value.is_null() && !field_schema.optional {
        return Err(format!(
            "Invalid value: null used for required field: \"{name}\", schema type: {}",
            type_name(field_schema.kind)
        ));
    }
    Ok(())
}

/// The values of a struct, or Connect's `requireStruct` error.
pub fn require_struct<'a>(value: &'a Value, purpose: &str) -> Result<&'a [Value], String> {
    match value {
        Value::Struct(fields) => Ok(fields),
        other => Err(format!(
            "Only Struct objects supported for [{purpose}], found: {}",
            java_class(other)
        )),
    }
}

/// The entries of a schemaless map, or Connect's `requireMap` error.
pub fn require_map<'a>(value: &'a Value, purpose: &str) -> Result<&'a [(Value, Value)], String> {
    match value {
        Value::Map(entries) => Ok(entries),
        other => Err(format!(
            "Only Map objects supported in absence of schema for [{purpose}], found: {}",
            java_class(other)
        )),
    }
}

/// The value under a string key of a schemaless map (`Map.get`).
pub fn map_get<'a>(entries: &'a [(Value, Value)], key: &str) -> Option<&'a Value> {
    entries
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

/// Sets a string key of a schemaless map (`Map.put`): replaced in place, or appended.
pub fn map_put(entries: &mut Vec<(Value, Value)>, key: &str, value: Value) {
    match entries.iter_mut().find(|(k, _)| k.as_str() == Some(key)) {
        Some(entry) => entry.1 = value,
        None => entries.push((Value::String(key.to_owned()), value)),
    }
}

/// Removes a string key of a schemaless map (`Map.remove`).
pub fn map_remove(entries: &mut Vec<(Value, Value)>, key: &str) {
    entries.retain(|(k, _)| k.as_str() != Some(key));
}

/// The Java class Connect would hold a value as, for error messages.
pub fn java_class(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Boolean(_) => "java.lang.Boolean",
        Value::Int8(_) => "java.lang.Byte",
        Value::Int16(_) => "java.lang.Short",
        Value::Int32(_) => "java.lang.Integer",
        Value::Int64(_) => "java.lang.Long",
        Value::Float32(_) => "java.lang.Float",
        Value::Float64(_) => "java.lang.Double",
        Value::String(_) => "java.lang.String",
        Value::Bytes(_) => "[B",
        Value::Array(_) => "java.util.ArrayList",
        Value::Map(_) => "java.util.HashMap",
        Value::Struct(_) => "org.apache.kafka.connect.data.Struct",
    }
}

/// Connect's name of a schema type (`Schema.Type`), e.g. `INT32`.
pub fn type_name(kind: SchemaType) -> &'static str {
    match kind {
        SchemaType::Int8 => "INT8",
        SchemaType::Int16 => "INT16",
        SchemaType::Int32 => "INT32",
        SchemaType::Int64 => "INT64",
        SchemaType::Float32 => "FLOAT32",
        SchemaType::Float64 => "FLOAT64",
        SchemaType::Boolean => "BOOLEAN",
        SchemaType::String => "STRING",
        SchemaType::Bytes => "BYTES",
        SchemaType::Array => "ARRAY",
        SchemaType::Map => "MAP",
        SchemaType::Struct => "STRUCT",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_replace_nulls_only_when_asked() {
        let mut s = Schema::new(SchemaType::Int32);
        s.default = Some(Value::Int32(5));
        assert_eq!(field_value(&Value::Null, &s, true), Value::Int32(5));
        assert_eq!(field_value(&Value::Null, &s, false), Value::Null);
        assert_eq!(field_value(&Value::Int32(1), &s, true), Value::Int32(1));
    }

    #[test]
    fn basics_drop_optional_default_and_fields() {
        let mut source = Schema::new(SchemaType::Struct)
            .named("t.Value")
            .optional()
            .field("a", Schema::optional_string());
        source.version = Some(3);
        source.doc = Some("d".into());
        source.default = Some(Value::Struct(vec![Value::Null]));
        let b = struct_basics(&source);
        assert_eq!(b.name.as_deref(), Some("t.Value"));
        assert_eq!((b.version, b.doc.as_deref()), (Some(3), Some("d")));
        assert!(!b.optional && b.default.is_none() && b.fields.is_empty());
    }

    #[test]
    fn duplicate_fields_and_required_nulls_are_refused() {
        let mut s = Schema::new(SchemaType::Struct);
        add_field(&mut s, "a", Schema::optional_string()).unwrap();
        assert!(add_field(&mut s, "a", Schema::optional_string()).is_err());
        let required = Schema::new(SchemaType::Int64);
        let err = check_put("n", &required, &Value::Null).unwrap_err();
        assert!(err.contains("\"n\"") && err.contains("INT64"), "{err}");
        assert!(check_put("n", &required.optional(), &Value::Null).is_ok());
    }

    #[test]
    fn maps_put_in_place_or_append() {
        let mut m = vec![(Value::from("a"), Value::Int64(1))];
        map_put(&mut m, "a", Value::Int64(2));
        map_put(&mut m, "b", Value::Null);
        assert_eq!(map_get(&m, "a"), Some(&Value::Int64(2)));
        assert_eq!(m.len(), 2);
        map_remove(&mut m, "a");
        assert_eq!(m, vec![(Value::from("b"), Value::Null)]);
        let err = require_map(&Value::Null, "p").unwrap_err();
        assert!(err.ends_with("[p], found: null"), "{err}");
    }
}
