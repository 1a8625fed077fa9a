//! Conversion between the host's event model and the WIT record model (flat node lists), with
//! the checks that keep a plugin's output well formed.

use std::sync::Arc;

use super::bindings::types::{self as wit, SchemaNode, ValueNode};
use crate::event::{Data, Field, Header, Record, Schema, SchemaType, Value};

/// How deep a value or schema a plugin may hand back; deeper trees are rejected so a hostile
/// plugin cannot exhaust the host's stack.
const MAX_DEPTH: usize = 64;

/// Flattens a value into WIT nodes (node 0 is the root).
pub fn value_to_wit(value: &Value) -> Vec<ValueNode> {
    let mut nodes = Vec::new();
    push_value(&mut nodes, value);
    nodes
}

fn push_value(nodes: &mut Vec<ValueNode>, value: &Value) -> u32 {
    let index = nodes.len();
    nodes.push(ValueNode::Null);
    let node = match value {
        Value::Null => ValueNode::Null,
        Value::Boolean(b) => ValueNode::Boolean(*b),
        Value::Int8(n) => ValueNode::Int8(*n),
        Value::Int16(n) => ValueNode::Int16(*n),
        Value::Int32(n) => ValueNode::Int32(*n),
        Value::Int64(n) => ValueNode::Int64(*n),
        Value::Float32(f) => ValueNode::Float32(*f),
        Value::Float64(f) => ValueNode::Float64(*f),
        Value::String(s) => ValueNode::String(s.to_string()),
        Value::Bytes(b) => ValueNode::Bytes(b.clone()),
        Value::Array(items) => {
            ValueNode::Array(items.iter().map(|v| push_value(nodes, v)).collect())
        }
        Value::Map(entries) => ValueNode::Map(
            entries
                .iter()
                .map(|(k, v)| (push_value(nodes, k), push_value(nodes, v)))
                .collect(),
        ),
        Value::Struct(fields) => {
            ValueNode::Struct(fields.iter().map(|v| push_value(nodes, v)).collect())
        }
    };
    nodes[index] = node;
    index as u32
}

/// Rebuilds a value from WIT nodes. Children must come after their parent, which rules out
/// cycles; depth is bounded.
pub fn value_from_wit(nodes: Vec<ValueNode>) -> Result<Value, String> {
    if nodes.is_empty() {
        return Err("a value needs at least one node".into());
    }
    let mut slots: Vec<Option<ValueNode>> = nodes.into_iter().map(Some).collect();
    take_value(&mut slots, 0, 0)
}

fn child(slots: &[Option<ValueNode>], parent: usize, child: u32) -> Result<usize, String> {
    let child = child as usize;
    if child <= parent || child >= slots.len() {
        return Err(format!(
            "node {parent} refers to node {child}, which is not a later node of the list"
        ));
    }
    Ok(child)
}

fn take_value(
    slots: &mut [Option<ValueNode>],
    index: usize,
    depth: usize,
) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!("value nested deeper than {MAX_DEPTH} levels"));
    }
    let node = slots[index]
        .take()
        .ok_or_else(|| format!("node {index} is used twice"))?;
    Ok(match node {
        ValueNode::Null => Value::Null,
        ValueNode::Boolean(b) => Value::Boolean(b),
        ValueNode::Int8(n) => Value::Int8(n),
        ValueNode::Int16(n) => Value::Int16(n),
        ValueNode::Int32(n) => Value::Int32(n),
        ValueNode::Int64(n) => Value::Int64(n),
        ValueNode::Float32(f) => Value::Float32(f),
        ValueNode::Float64(f) => Value::Float64(f),
        ValueNode::String(s) => Value::String(s.into()),
        ValueNode::Bytes(b) => Value::Bytes(b),
        ValueNode::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|c| take_value(slots, child(slots, index, c)?, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        ValueNode::Map(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| {
                    Ok((
                        take_value(slots, child(slots, index, k)?, depth + 1)?,
                        take_value(slots, child(slots, index, v)?, depth + 1)?,
                    ))
                })
                .collect::<Result<_, String>>()?,
        ),
        ValueNode::Struct(fields) => Value::Struct(
            fields
                .into_iter()
                .map(|c| take_value(slots, child(slots, index, c)?, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// Flattens a schema into WIT nodes (node 0 is the root).
pub fn schema_to_wit(schema: &Schema) -> Vec<SchemaNode> {
    let mut nodes = Vec::new();
    push_schema(&mut nodes, schema);
    nodes
}

fn push_schema(nodes: &mut Vec<SchemaNode>, schema: &Schema) -> u32 {
    let index = nodes.len();
    nodes.push(SchemaNode {
        type_: type_to_wit(schema.kind),
        optional: schema.optional,
        name: schema.name.clone(),
        version: schema.version,
        doc: schema.doc.clone(),
        parameters: schema.parameters.clone(),
        default_value: schema.default.as_ref().map(value_to_wit),
        fields: Vec::new(),
        key_schema: None,
        value_schema: None,
    });
    let fields = schema
        .fields
        .iter()
        .map(|f| wit::Field {
            name: f.name.clone(),
            schema: push_schema(nodes, &f.schema),
        })
        .collect();
    let key_schema = schema.keys.as_deref().map(|k| push_schema(nodes, k));
    let value_schema = schema.values.as_deref().map(|v| push_schema(nodes, v));
    let node = &mut nodes[index];
    node.fields = fields;
    node.key_schema = key_schema;
    node.value_schema = value_schema;
    index as u32
}

/// Rebuilds a schema from WIT nodes, checking its shape (struct fields only on structs,
/// element schemas on arrays and maps, defaults that fit).
pub fn schema_from_wit(nodes: Vec<SchemaNode>) -> Result<Arc<Schema>, String> {
    if nodes.is_empty() {
        return Err("a schema needs at least one node".into());
    }
    let mut slots: Vec<Option<SchemaNode>> = nodes.into_iter().map(Some).collect();
    take_schema(&mut slots, 0, 0).map(Arc::new)
}

fn schema_child(slots: &[Option<SchemaNode>], parent: usize, child: u32) -> Result<usize, String> {
    let child = child as usize;
    if child <= parent || child >= slots.len() {
        return Err(format!(
            "schema node {parent} refers to node {child}, which is not a later node of the list"
        ));
    }
    Ok(child)
}

fn take_schema(
    slots: &mut [Option<SchemaNode>],
    index: usize,
    depth: usize,
) -> Result<Schema, String> {
    if depth > MAX_DEPTH {
        return Err(format!("schema nested deeper than {MAX_DEPTH} levels"));
    }
    let node = slots[index]
        .take()
        .ok_or_else(|| format!("schema node {index} is used twice"))?;
    let kind = type_from_wit(node.type_);
    let mut schema = Schema::new(kind);
    schema.optional = node.optional;
    schema.name = node.name;
    schema.version = node.version;
    schema.doc = node.doc;
    schema.parameters = node.parameters;
    match kind {
        SchemaType::Struct => {
            for f in node.fields {
                let field_schema =
                    take_schema(slots, schema_child(slots, index, f.schema)?, depth + 1)?;
                schema.fields.push(Field {
                    name: f.name,
                    schema: Arc::new(field_schema),
                });
            }
        }
        SchemaType::Array | SchemaType::Map => {
            if kind == SchemaType::Map {
                let keys = node
                    .key_schema
                    .ok_or_else(|| format!("map schema node {index} has no key schema"))?;
                schema.keys = Some(Arc::new(take_schema(
                    slots,
                    schema_child(slots, index, keys)?,
                    depth + 1,
                )?));
            }
            let values = node.value_schema.ok_or_else(|| {
                format!("{} schema node {index} has no value schema", kind.as_str())
            })?;
            schema.values = Some(Arc::new(take_schema(
                slots,
                schema_child(slots, index, values)?,
                depth + 1,
            )?));
        }
        _ => {
            if !node.fields.is_empty() || node.key_schema.is_some() || node.value_schema.is_some() {
                return Err(format!(
                    "{} schema node {index} has fields or element schemas",
                    kind.as_str()
                ));
            }
        }
    }
    if let Some(default) = node.default_value {
        let default = value_from_wit(default)?;
        check(&default, &schema, "default")?;
        schema.default = Some(default);
    }
    Ok(schema)
}

fn type_to_wit(kind: SchemaType) -> wit::SchemaType {
    match kind {
        SchemaType::Int8 => wit::SchemaType::Int8,
        SchemaType::Int16 => wit::SchemaType::Int16,
        SchemaType::Int32 => wit::SchemaType::Int32,
        SchemaType::Int64 => wit::SchemaType::Int64,
        SchemaType::Float32 => wit::SchemaType::Float32,
        SchemaType::Float64 => wit::SchemaType::Float64,
        SchemaType::Boolean => wit::SchemaType::Boolean,
        SchemaType::String => wit::SchemaType::String,
        SchemaType::Bytes => wit::SchemaType::Bytes,
        SchemaType::Array => wit::SchemaType::Array,
        SchemaType::Map => wit::SchemaType::Map,
        SchemaType::Struct => wit::SchemaType::Struct,
    }
}

fn type_from_wit(kind: wit::SchemaType) -> SchemaType {
    match kind {
        wit::SchemaType::Int8 => SchemaType::Int8,
        wit::SchemaType::Int16 => SchemaType::Int16,
        wit::SchemaType::Int32 => SchemaType::Int32,
        wit::SchemaType::Int64 => SchemaType::Int64,
        wit::SchemaType::Float32 => SchemaType::Float32,
        wit::SchemaType::Float64 => SchemaType::Float64,
        wit::SchemaType::Boolean => SchemaType::Boolean,
        wit::SchemaType::String => SchemaType::String,
        wit::SchemaType::Bytes => SchemaType::Bytes,
        wit::SchemaType::Array => SchemaType::Array,
        wit::SchemaType::Map => SchemaType::Map,
        wit::SchemaType::Struct => SchemaType::Struct,
    }
}

/// Checks that a value fits a schema; `at` names the place for the error message.
pub fn check(value: &Value, schema: &Schema, at: &str) -> Result<(), String> {
    fits(value, schema).map_err(|mut m| {
        m.steps.reverse();
        format!("{at}{}: {}", m.steps.concat(), m.problem)
    })
}

/// Where a value does not fit: the steps from the checked value down to it (innermost
/// first, as they are found on the way back up) and what is wrong there. Built only on
/// failure, so a value that fits costs no allocation.
struct Misfit {
    steps: Vec<String>,
    problem: String,
}

impl Misfit {
    fn new(problem: String) -> Misfit {
        Misfit {
            steps: Vec::new(),
            problem,
        }
    }

    fn at(mut self, step: String) -> Misfit {
        self.steps.push(step);
        self
    }
}

fn fits(value: &Value, schema: &Schema) -> Result<(), Misfit> {
    let fits = match (value, schema.kind) {
        (Value::Null, _) => {
            return if schema.optional || schema.default.is_some() {
                Ok(())
            } else {
                Err(Misfit::new(format!(
                    "null for a required {}",
                    schema.kind.as_str()
                )))
            };
        }
        (Value::Boolean(_), SchemaType::Boolean)
        | (Value::Int8(_), SchemaType::Int8)
        | (Value::Int16(_), SchemaType::Int16)
        | (Value::Int32(_), SchemaType::Int32)
        | (Value::Int64(_), SchemaType::Int64)
        | (Value::Float32(_), SchemaType::Float32)
        | (Value::Float64(_), SchemaType::Float64)
        | (Value::String(_), SchemaType::String)
        | (Value::Bytes(_), SchemaType::Bytes) => true,
        (Value::Array(items), SchemaType::Array) => {
            if let Some(items_schema) = &schema.values {
                for (i, item) in items.iter().enumerate() {
                    fits(item, items_schema).map_err(|m| m.at(format!("[{i}]")))?;
                }
            }
            true
        }
        (Value::Map(entries), SchemaType::Map) => {
            if let (Some(ks), Some(vs)) = (&schema.keys, &schema.values) {
                for (k, v) in entries {
                    fits(k, ks).map_err(|m| m.at(" key".into()))?;
                    fits(v, vs).map_err(|m| m.at(" value".into()))?;
                }
            }
            true
        }
        (Value::Struct(values), SchemaType::Struct) => {
            if values.len() != schema.fields.len() {
                return Err(Misfit::new(format!(
                    "struct has {} values but its schema has {} fields",
                    values.len(),
                    schema.fields.len()
                )));
            }
            for (v, f) in values.iter().zip(&schema.fields) {
                fits(v, &f.schema).map_err(|m| m.at(format!(".{}", f.name)))?;
            }
            true
        }
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(Misfit::new(format!(
            "a {} value does not fit schema type {}",
            value_kind(value),
            schema.kind.as_str()
        )))
    }
}

fn value_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Boolean(_) => "boolean",
        Value::Int8(_) => "int8",
        Value::Int16(_) => "int16",
        Value::Int32(_) => "int32",
        Value::Int64(_) => "int64",
        Value::Float32(_) => "float",
        Value::Float64(_) => "double",
        Value::String(_) => "string",
        Value::Bytes(_) => "bytes",
        Value::Array(_) => "array",
        Value::Map(_) => "map",
        Value::Struct(_) => "struct",
    }
}

/// Converts key or value data to WIT.
#[cfg(test)]
pub fn data_to_wit(data: &Data) -> wit::TypedValue {
    wit::TypedValue {
        schema: data.schema.as_deref().map(schema_to_wit),
        data: value_to_wit(&data.value),
    }
}

/// Converts key or value data from WIT, checking that the value fits its schema. A struct
/// without a schema is refused: Kafka Connect has no schemaless structs.
pub fn data_from_wit(typed: wit::TypedValue, at: &str) -> Result<Data, String> {
    let value = value_from_wit(typed.data)?;
    match typed.schema {
        Some(schema) => {
            let schema = schema_from_wit(schema)?;
            check(&value, &schema, at)?;
            Ok(Data::new(schema, value))
        }
        None => {
            if contains_struct(&value) {
                return Err(format!("{at}: a struct needs a schema"));
            }
            Ok(Data::schemaless(value))
        }
    }
}

fn contains_struct(value: &Value) -> bool {
    match value {
        Value::Struct(_) => true,
        Value::Array(items) => items.iter().any(contains_struct),
        Value::Map(entries) => entries
            .iter()
            .any(|(k, v)| contains_struct(k) || contains_struct(v)),
        _ => false,
    }
}

/// Converts headers from WIT.
pub fn headers_from_wit(headers: Vec<wit::Header>) -> Vec<Header> {
    headers
        .into_iter()
        .map(|h| Header {
            key: h.key,
            value: h.value,
        })
        .collect()
}

/// Converts headers to WIT.
pub fn headers_to_wit(headers: &[Header]) -> Vec<wit::Header> {
    headers
        .iter()
        .map(|h| wit::Header {
            key: h.key.clone(),
            value: h.value.clone(),
        })
        .collect()
}

/// Converts a record a plugin created.
pub fn record_from_wit(data: wit::RecordData) -> Result<Record, String> {
    Ok(Record {
        topic: data.topic,
        key: data.key.map(|k| data_from_wit(k, "key")).transpose()?,
        value: data.value.map(|v| data_from_wit(v, "value")).transpose()?,
        headers: headers_from_wit(data.headers),
        timestamp: data.timestamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_schema() -> Arc<Schema> {
        Arc::new(
            Schema::new(SchemaType::Struct)
                .named("t.Value")
                .field(
                    "id",
                    Schema::new(SchemaType::Int32).with_default(Value::Int32(0)),
                )
                .field(
                    "tags",
                    Schema::array(Schema::new(SchemaType::String).optional()).optional(),
                )
                .field(
                    "attrs",
                    Schema::map(
                        Schema::new(SchemaType::String),
                        Schema::new(SchemaType::Int64),
                    ),
                )
                .field(
                    "price",
                    Schema::new(SchemaType::Bytes)
                        .optional()
                        .named("org.apache.kafka.connect.data.Decimal")
                        .versioned(1)
                        .parameter("scale", "2"),
                ),
        )
    }

    fn sample_value() -> Value {
        Value::Struct(vec![
            Value::Int32(7),
            Value::Array(vec!["a".into(), Value::Null]),
            Value::Map(vec![("k".into(), Value::Int64(1))]),
            Value::Bytes(vec![1, 2]),
        ])
    }

    #[test]
    fn values_and_schemas_round_trip() {
        let schema = sample_schema();
        let value = sample_value();
        let back =
            data_from_wit(data_to_wit(&Data::new(schema.clone(), value.clone())), "v").unwrap();
        assert_eq!(back.value, value);
        assert_eq!(back.schema.as_deref(), Some(&*schema));
    }

    #[test]
    fn cycles_and_bad_indices_are_refused() {
        let nodes = vec![ValueNode::Array(vec![0])];
        assert!(
            value_from_wit(nodes)
                .unwrap_err()
                .contains("not a later node")
        );
        let nodes = vec![ValueNode::Array(vec![1, 1]), ValueNode::Null];
        assert!(value_from_wit(nodes).unwrap_err().contains("used twice"));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let nodes: Vec<ValueNode> = (0..1000u32)
            .map(|i| {
                if i < 999 {
                    ValueNode::Array(vec![i + 1])
                } else {
                    ValueNode::Null
                }
            })
            .collect();
        assert!(value_from_wit(nodes).unwrap_err().contains("deeper than"));
    }

    #[test]
    fn values_must_fit_their_schema() {
        let schema = sample_schema();
        let wrong = Value::Struct(vec![
            Value::String("x".into()),
            Value::Null,
            Value::Map(vec![]),
            Value::Null,
        ]);
        let err = check(&wrong, &schema, "value").unwrap_err();
        assert_eq!(
            err,
            "value.id: a string value does not fit schema type int32"
        );
        let short = Value::Struct(vec![Value::Int32(1)]);
        assert!(
            check(&short, &schema, "value")
                .unwrap_err()
                .contains("has 1 values")
        );
    }
}
