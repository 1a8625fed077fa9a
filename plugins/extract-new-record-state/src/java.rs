//! The few Java and Kafka Connect behaviours the transform's settings and schemas rely on.

use tidemark_sdk::{Schema, SchemaType, Value};

/// Java's `String.split` for a one-character separator: trailing empty pieces are removed
/// (so `"a,"` is `["a"]` and `","` is `[]`), but an empty input is one empty piece.
pub fn split(text: &str, separator: char) -> Vec<&str> {
    if text.is_empty() {
        return vec![""];
    }
    let mut pieces: Vec<&str> = text.split(separator).collect();
    while pieces.last().is_some_and(|p| p.is_empty()) {
        pieces.pop();
    }
    pieces
}

/// Java's `String.trim`: strips every character up to and including U+0020.
pub fn trim(text: &str) -> &str {
    text.trim_matches(|c: char| c <= ' ')
}

/// Debezium's `Strings.isNullOrBlank` for a present string.
pub fn is_blank(text: &str) -> bool {
    trim(text).is_empty()
}

/// Kafka's `SchemaUtil.copySchemaBasics(schema)`: same type, name, version, doc and
/// parameters (and element schema for arrays); required, no default, no fields.
pub fn copy_basics(schema: &Schema) -> Schema {
    let mut copy = Schema::new(schema.kind);
    copy.name = schema.name.clone();
    copy.version = schema.version;
    copy.doc = schema.doc.clone();
    copy.parameters = schema.parameters.clone();
    if schema.kind == SchemaType::Array {
        copy.values = schema.values.clone();
    }
    copy
}

/// `copySchemaBasics(schema, SchemaBuilder.struct())` plus every field of `schema`: the
/// struct keeps its name, version, doc and parameters but becomes required.
pub fn copy_struct(schema: &Schema) -> Schema {
    let mut copy = copy_basics(schema);
    copy.kind = SchemaType::Struct;
    copy.values = None;
    copy.fields = schema.fields.clone();
    copy
}

/// Adds a field as `SchemaBuilder.field` does: a second field of the same name is an error.
pub fn add_field(schema: &mut Schema, name: &str, field: Schema) -> Result<(), String> {
    if schema.field_index(name).is_some() {
        return Err(format!(
            "cannot add field '{name}': the schema already has a field of that name"
        ));
    }
    schema.fields.push((name.to_owned(), field));
    Ok(())
}

/// Connect's `Struct.get(field)`: a null field reads as its schema's default, if any.
pub fn with_default(value: &Value, schema: &Schema) -> Value {
    match (value, &schema.default) {
        (Value::Null, Some(default)) => default.clone(),
        _ => value.clone(),
    }
}

/// The fields of a struct value, or `None` for null and non-struct values.
pub fn struct_fields(value: &Value) -> Option<&[Value]> {
    match value {
        Value::Struct(fields) => Some(fields),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_drops_trailing_empty_pieces_like_java() {
        assert_eq!(split("a,b", ','), ["a", "b"]);
        assert_eq!(split("a,", ','), ["a"]);
        assert_eq!(split(",a", ','), ["", "a"]);
        assert!(split(":", ':').is_empty());
        assert_eq!(split("", ':'), [""]);
    }

    #[test]
    fn copies_lose_optionality_and_defaults() {
        let mut s = Schema::optional_string().named("n");
        s.default = Some(Value::from("x"));
        s.version = Some(3);
        let c = copy_basics(&s);
        assert!(!c.optional);
        assert_eq!(c.default, None);
        assert_eq!(c.name.as_deref(), Some("n"));
        assert_eq!(c.version, Some(3));
    }

    #[test]
    fn duplicate_fields_are_refused() {
        let mut s = Schema::new(SchemaType::Struct).field("a", Schema::optional_string());
        assert!(add_field(&mut s, "a", Schema::optional_string()).is_err());
        assert!(add_field(&mut s, "b", Schema::optional_string()).is_ok());
        assert_eq!(s.fields.len(), 2);
    }
}
