//! `table.expand.json.payload`: a JSON string payload becomes a structured value with a
//! Connect schema inferred from the JSON, as Debezium's `JsonSchemaData` infers it:
//!
//! - strings, booleans: optional string / boolean; integers: optional int32 when they fit,
//!   else int64; other numbers: optional float64;
//! - objects: optional structs named by their path from the payload field (`payload`,
//!   `payload.customer`), one field per key in document order (keys named by the field namer);
//! - arrays: optional arrays of the first non-null element's schema (all non-null elements
//!   must share its type, numbers the same number schema); arrays of objects merge the
//!   objects' schemas; empty arrays and nulls are left out (nulls are optional bytes with
//!   `table.json.payload.null.behavior=optional_bytes`).

use serde_json::Value as Json;
use tidemark_sdk::{Schema, SchemaType, Value};

use connect_common::avro_names::NameAdjuster;

/// What becomes of JSON nulls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NullBehavior {
    /// Fields and elements that are null get no schema (left out).
    Ignore,
    /// Nulls are optional bytes.
    OptionalBytes,
}

/// The outcome of expanding a payload string.
#[derive(Debug, Clone, PartialEq)]
pub enum Expansion {
    /// The inferred schema and the structured payload.
    Expanded(Schema, Value),
    /// Debezium logs "JSON expansion failed" and keeps the string payload.
    Kept(String),
    /// Debezium inferred a schema but could not build the value, which breaks the record.
    Failed(String),
}

/// Expands a JSON string; `field` (the payload column) names the root struct.
pub fn expand(text: &str, field: &str, nulls: NullBehavior, namer: &mut NameAdjuster) -> Expansion {
    let Some(first) = text.chars().next() else {
        return Expansion::Kept("the payload is empty".into());
    };
    if first != '{' && first != '[' {
        return Expansion::Kept(format!("Unable to parse payload starting with '{first}'"));
    }
    // Like Jackson's readTree, the first JSON value counts and anything after it is ignored.
    let json = match serde_json::Deserializer::from_str(text)
        .into_iter::<Json>()
        .next()
    {
        Some(Ok(json)) => json,
        Some(Err(e)) => return Expansion::Kept(format!("invalid JSON: {e}")),
        None => return Expansion::Kept("invalid JSON: no value".into()),
    };
    let mut inference = Inference { nulls, namer };
    let schema = match inference.schema(Some(field), &json) {
        Ok(Some(schema)) => schema,
        Ok(None) => {
            return Expansion::Failed("the JSON payload has no schema (an empty array)".into());
        }
        Err(e) => return Expansion::Kept(e),
    };
    match struct_value(&json, &schema) {
        Ok(value) => Expansion::Expanded(schema, value),
        Err(e) => Expansion::Failed(e),
    }
}

/// Jackson's node types, for the homogeneity checks of arrays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NodeType {
    Null,
    Boolean,
    Number,
    String,
    Array,
    Object,
}

fn node_type(json: &Json) -> NodeType {
    match json {
        Json::Null => NodeType::Null,
        Json::Bool(_) => NodeType::Boolean,
        Json::Number(_) => NodeType::Number,
        Json::String(_) => NodeType::String,
        Json::Array(_) => NodeType::Array,
        Json::Object(_) => NodeType::Object,
    }
}

/// A JSON number as Jackson reads it.
enum Number {
    Int(i32),
    Long(i64),
    /// An integer beyond `i64`: Jackson's `BigInteger`.
    Big,
    Double(f64),
}

fn number(n: &serde_json::Number) -> Number {
    if let Some(i) = n.as_i64() {
        return i32::try_from(i).map_or(Number::Long(i), Number::Int);
    }
    if n.is_u64() {
        return Number::Big;
    }
    Number::Double(n.as_f64().unwrap_or(f64::NAN))
}

fn number_kind(n: &serde_json::Number) -> SchemaType {
    match number(n) {
        Number::Int(_) => SchemaType::Int32,
        Number::Long(_) => SchemaType::Int64,
        Number::Big | Number::Double(_) => SchemaType::Float64,
    }
}

struct Inference<'a> {
    nulls: NullBehavior,
    namer: &'a mut NameAdjuster,
}

impl Inference<'_> {
    /// The schema of a node; `None` for nulls (unless optional bytes) and empty arrays.
    fn schema(&mut self, key: Option<&str>, json: &Json) -> Result<Option<Schema>, String> {
        Ok(Some(match json {
            Json::String(_) => Schema::optional_string(),
            Json::Bool(_) => Schema::new(SchemaType::Boolean).optional(),
            Json::Number(n) => Schema::new(number_kind(n)).optional(),
            Json::Null => match self.nulls {
                NullBehavior::Ignore => return Ok(None),
                NullBehavior::OptionalBytes => Schema::new(SchemaType::Bytes).optional(),
            },
            Json::Array(items) if items.is_empty() => return Ok(None),
            Json::Array(items) => {
                let mut array = Schema::new(SchemaType::Array).optional();
                array.values = Some(Box::new(self.element_schema(key, items)?));
                array
            }
            Json::Object(members) => {
                let mut schema = Schema::new(SchemaType::Struct).optional();
                schema.name = key.map(str::to_owned);
                for (member, value) in members {
                    let name = self.namer.adjust(member)?;
                    let path = match key.filter(|k| !k.trim().is_empty()) {
                        Some(k) => format!("{k}.{name}"),
                        None => name.clone(),
                    };
                    if let Some(field) = self.schema(Some(&path), value)?
                        && schema.field_index(&name).is_none()
                    {
                        schema.fields.push((name, field));
                    }
                }
                schema
            }
        }))
    }

    /// The element schema of a non-empty array.
    fn element_schema(&mut self, key: Option<&str>, items: &[Json]) -> Result<Schema, String> {
        let sample = sample(items)?;
        if !sample.is_object() {
            return self
                .schema(None, sample)?
                .ok_or_else(|| format!("Array '{sample}' has unrecognized member schema."));
        }
        let mut distinct: Vec<Schema> = Vec::new();
        for item in items.iter().filter(|i| i.is_object()) {
            if let Some(schema) = self.schema(key, item)?
                && !distinct.contains(&schema)
            {
                distinct.push(schema);
            }
        }
        let mut merged: Option<Schema> = None;
        for schema in distinct {
            merged = Some(match merged {
                None => schema,
                Some(left) => merge(&left, &schema),
            });
        }
        merged.ok_or_else(|| "an array of objects without a schema".into())
    }
}

/// The first non-null element; every non-null element must be of its type (numbers of the
/// same number schema).
fn sample(items: &[Json]) -> Result<&Json, String> {
    const NULL: &Json = &Json::Null;
    let mut first: Option<&Json> = None;
    for item in items.iter().filter(|i| !i.is_null()) {
        let reference = *first.get_or_insert(item);
        if node_type(item) != node_type(reference) {
            return Err(format!(
                "Field is not a homogenous array ({reference} x {:?}).",
                node_type(item)
            ));
        }
        if let (Json::Number(a), Json::Number(b)) = (reference, item)
            && number_kind(a) != number_kind(b)
        {
            return Err(format!(
                "Field is not a homogenous array ({reference} x {item}), different number types"
            ));
        }
    }
    Ok(first.unwrap_or(NULL))
}

/// Two object schemas merged: the left fields, then the right's new ones; a bytes field
/// (from a null) gives way to a typed one. The result is a required struct.
fn merge(left: &Schema, right: &Schema) -> Schema {
    let mut fields = left.fields.clone();
    for (name, schema) in &right.fields {
        match fields.iter_mut().find(|(n, _)| n == name) {
            None => fields.push((name.clone(), schema.clone())),
            Some((_, old)) => {
                if old != schema
                    && old.kind == SchemaType::Bytes
                    && schema.kind != SchemaType::Bytes
                {
                    *old = schema.clone();
                }
            }
        }
    }
    let mut merged = Schema::new(SchemaType::Struct);
    merged.name = left.name.clone();
    merged.version = left.version;
    merged.doc = left.doc.clone();
    merged.parameters = left.parameters.clone();
    merged.fields = fields;
    merged
}

/// An object node as a struct of `schema` (keys missing from the document are null).
fn struct_value(json: &Json, schema: &Schema) -> Result<Value, String> {
    if schema.kind != SchemaType::Struct {
        return Err("Not a struct schema".into());
    }
    let members = json.as_object();
    let mut values = Vec::with_capacity(schema.fields.len());
    for (name, field) in &schema.fields {
        let value = match members.and_then(|m| m.get(name)) {
            Some(node) => node_value(node, Some(field))?,
            None => Value::Null,
        };
        validate(name, &value, field)?;
        values.push(value);
    }
    Ok(Value::Struct(values))
}

/// A node's value, typed by the node (not the schema), as Debezium builds it.
fn node_value(json: &Json, schema: Option<&Schema>) -> Result<Value, String> {
    Ok(match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Boolean(*b),
        Json::String(s) => Value::String(s.clone()),
        Json::Number(n) => match number(n) {
            Number::Int(i) => Value::Int32(i),
            Number::Long(i) => Value::Int64(i),
            Number::Double(f) => Value::Float64(f),
            Number::Big => return Err(format!("the integer {n} does not fit a float64 field")),
        },
        Json::Array(items) => {
            let element = schema.and_then(|s| s.values.as_deref());
            Value::Array(
                items
                    .iter()
                    .map(|item| node_value(item, element))
                    .collect::<Result<_, _>>()?,
            )
        }
        Json::Object(_) => struct_value(json, schema.ok_or("an object without a struct schema")?)?,
    })
}

/// Connect's `ConnectSchema.validateValue`: the value's type must be the schema's, nulls
/// need an optional schema.
fn validate(name: &str, value: &Value, schema: &Schema) -> Result<(), String> {
    let fits = match (value, schema.kind) {
        (Value::Null, _) => schema.optional,
        (Value::Boolean(_), SchemaType::Boolean)
        | (Value::Int32(_), SchemaType::Int32)
        | (Value::Int64(_), SchemaType::Int64)
        | (Value::Float64(_), SchemaType::Float64)
        | (Value::String(_), SchemaType::String)
        | (Value::Struct(_), SchemaType::Struct) => true,
        (Value::Array(items), SchemaType::Array) => {
            let element = schema
                .values
                .as_deref()
                .ok_or_else(|| format!("field '{name}' has an array schema without elements"))?;
            for item in items {
                validate(name, item, element)?;
            }
            true
        }
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(format!(
            "Invalid value for field '{name}': {value:?} does not fit schema type {:?}{}",
            schema.kind,
            if schema.optional { "" } else { " (required)" }
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use connect_common::avro_names::{Kind, Mode};

    fn run(text: &str, nulls: NullBehavior) -> Expansion {
        expand(
            text,
            "payload",
            nulls,
            &mut NameAdjuster::new(Mode::None, Kind::Field),
        )
    }

    fn expanded(text: &str) -> (Schema, Value) {
        match run(text, NullBehavior::Ignore) {
            Expansion::Expanded(s, v) => (s, v),
            other => panic!("{other:?}"),
        }
    }

    fn opt(kind: SchemaType) -> Schema {
        Schema::new(kind).optional()
    }

    #[test]
    fn order_event_like_debezium() {
        let (schema, value) =
            expanded(r#"{"id": 3, "lines": [{"qty": 2, "sku": "A-1"}], "total": 42.00}"#);
        let mut line = Schema::new(SchemaType::Struct)
            .optional()
            .named("payload.lines");
        line.fields = vec![
            ("qty".into(), opt(SchemaType::Int32)),
            ("sku".into(), Schema::optional_string()),
        ];
        let mut lines = opt(SchemaType::Array);
        lines.values = Some(Box::new(line));
        let mut expected = Schema::new(SchemaType::Struct).optional().named("payload");
        expected.fields = vec![
            ("id".into(), opt(SchemaType::Int32)),
            ("lines".into(), lines),
            ("total".into(), opt(SchemaType::Float64)),
        ];
        assert_eq!(schema, expected);
        assert_eq!(
            value,
            Value::Struct(vec![
                Value::Int32(3),
                Value::Array(vec![Value::Struct(vec![
                    Value::Int32(2),
                    Value::from("A-1")
                ])]),
                Value::Float64(42.0),
            ])
        );
    }

    #[test]
    fn numbers_nulls_and_empty_arrays() {
        let (schema, value) =
            expanded(r#"{"big": 3000000000, "n": null, "e": [], "o": {"x": true}}"#);
        let names: Vec<&str> = schema.fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["big", "o"]);
        assert_eq!(schema.fields[0].1.kind, SchemaType::Int64);
        assert_eq!(schema.fields[1].1.name.as_deref(), Some("payload.o"));
        assert_eq!(
            value,
            Value::Struct(vec![
                Value::Int64(3_000_000_000),
                Value::Struct(vec![Value::Boolean(true)])
            ])
        );
        match run(r#"{"n": null}"#, NullBehavior::OptionalBytes) {
            Expansion::Expanded(schema, value) => {
                assert_eq!(schema.fields[0].1, opt(SchemaType::Bytes));
                assert_eq!(value, Value::Struct(vec![Value::Null]));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn arrays_of_objects_merge() {
        let (schema, value) = expanded(r#"{"a": [{"x": 1}, {"y": "s"}]}"#);
        let element = schema.fields[0].1.values.as_deref().unwrap();
        let names: Vec<&str> = element.fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["x", "y"]);
        assert!(!element.optional);
        assert_eq!(
            value,
            Value::Struct(vec![Value::Array(vec![
                Value::Struct(vec![Value::Int32(1), Value::Null]),
                Value::Struct(vec![Value::Null, Value::from("s")]),
            ])])
        );
        // A merged element struct is required, so a null element breaks the record.
        let failed = run(
            r#"{"a": [{"x": 1}, {"y": "s"}, null]}"#,
            NullBehavior::Ignore,
        );
        assert!(matches!(failed, Expansion::Failed(_)), "{failed:?}");
        // One distinct element schema stays optional and accepts nulls.
        let (schema, _) = expanded(r#"{"a": [{"x": 1}, null, {"x": 2}]}"#);
        assert!(schema.fields[0].1.values.as_deref().unwrap().optional);
    }

    #[test]
    fn mixed_arrays_keep_the_string() {
        assert!(matches!(
            run(r#"{"a": [1, 2.5]}"#, NullBehavior::Ignore),
            Expansion::Kept(_)
        ));
        assert!(matches!(
            run(r#"{"a": [1, "x"]}"#, NullBehavior::Ignore),
            Expansion::Kept(_)
        ));
        assert!(matches!(
            run(r#"{"a": [null]}"#, NullBehavior::Ignore),
            Expansion::Kept(_)
        ));
        assert!(matches!(
            run("not json", NullBehavior::Ignore),
            Expansion::Kept(_)
        ));
        assert!(matches!(
            run(r#"{"a": 1"#, NullBehavior::Ignore),
            Expansion::Kept(_)
        ));
        assert!(matches!(run("", NullBehavior::Ignore), Expansion::Kept(_)));
    }

    #[test]
    fn broken_expansions_fail() {
        // Top-level arrays infer an array schema that cannot hold a struct.
        assert!(matches!(
            run("[1, 2]", NullBehavior::Ignore),
            Expansion::Failed(_)
        ));
        assert!(matches!(
            run("[]", NullBehavior::Ignore),
            Expansion::Failed(_)
        ));
        // Merged objects disagreeing on a field's type.
        assert!(matches!(
            run(
                r#"{"a": [{"x": 1}, {"x": "s", "y": 1}]}"#,
                NullBehavior::Ignore
            ),
            Expansion::Failed(_)
        ));
        assert!(matches!(
            run(r#"{"a": 18446744073709551615}"#, NullBehavior::Ignore),
            Expansion::Failed(_)
        ));
    }

    #[test]
    fn trailing_content_is_ignored() {
        let (_, value) = expanded(r#"{"a": "b"} trailing"#);
        assert_eq!(value, Value::Struct(vec![Value::from("b")]));
    }
}
