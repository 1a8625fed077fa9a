//! Schemas, as Kafka Connect describes values.

use crate::Value;
use crate::bindings::tidemark::plugin::types::{self as wit, SchemaNode};

pub use wit::SchemaType;

/// A Kafka Connect schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub kind: SchemaType,
    pub optional: bool,
    /// Logical or struct name, e.g. `org.apache.kafka.connect.data.Decimal`.
    pub name: Option<String>,
    pub version: Option<i32>,
    pub doc: Option<String>,
    pub parameters: Vec<(String, String)>,
    pub default: Option<Value>,
    /// Struct fields in order (structs only).
    pub fields: Vec<(String, Schema)>,
    /// Key schema (maps only).
    pub keys: Option<Box<Schema>>,
    /// Element schema (arrays) or value schema (maps).
    pub values: Option<Box<Schema>>,
}

impl Schema {
    /// A required schema of the given type.
    pub fn new(kind: SchemaType) -> Schema {
        Schema {
            kind,
            optional: false,
            name: None,
            version: None,
            doc: None,
            parameters: Vec::new(),
            default: None,
            fields: Vec::new(),
            keys: None,
            values: None,
        }
    }

    /// An optional string schema, the most common field type.
    pub fn optional_string() -> Schema {
        Schema::new(SchemaType::String).optional()
    }

    /// Marks the schema optional.
    pub fn optional(mut self) -> Schema {
        self.optional = true;
        self
    }

    /// Sets the schema's name.
    pub fn named(mut self, name: impl Into<String>) -> Schema {
        self.name = Some(name.into());
        self
    }

    /// Adds a struct field.
    pub fn field(mut self, name: impl Into<String>, schema: Schema) -> Schema {
        self.fields.push((name.into(), schema));
        self
    }

    /// The schema of a struct field by name.
    pub fn field_schema(&self, name: &str) -> Option<&Schema> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }

    /// The position of a struct field by name.
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|(n, _)| n == name)
    }

    pub(crate) fn to_nodes(&self) -> Vec<SchemaNode> {
        let mut nodes = Vec::new();
        self.push(&mut nodes);
        nodes
    }

    fn push(&self, nodes: &mut Vec<SchemaNode>) -> u32 {
        let index = nodes.len();
        nodes.push(SchemaNode {
            type_: self.kind,
            optional: self.optional,
            name: self.name.clone(),
            version: self.version,
            doc: self.doc.clone(),
            parameters: self.parameters.clone(),
            default_value: self.default.as_ref().map(Value::to_nodes),
            fields: Vec::new(),
            key_schema: None,
            value_schema: None,
        });
        let fields = self
            .fields
            .iter()
            .map(|(name, schema)| wit::Field {
                name: name.clone(),
                schema: schema.push(nodes),
            })
            .collect();
        let keys = self.keys.as_ref().map(|k| k.push(nodes));
        let values = self.values.as_ref().map(|v| v.push(nodes));
        let node = &mut nodes[index];
        node.fields = fields;
        node.key_schema = keys;
        node.value_schema = values;
        index as u32
    }

    pub(crate) fn from_nodes(nodes: Vec<SchemaNode>) -> Schema {
        let mut slots: Vec<Option<SchemaNode>> = nodes.into_iter().map(Some).collect();
        Schema::take(&mut slots, 0)
    }

    fn take(slots: &mut [Option<SchemaNode>], index: usize) -> Schema {
        let Some(node) = slots.get_mut(index).and_then(Option::take) else {
            return Schema::new(SchemaType::String).optional();
        };
        let fields = node
            .fields
            .into_iter()
            .map(|f| (f.name, Schema::take(slots, f.schema as usize)))
            .collect();
        Schema {
            kind: node.type_,
            optional: node.optional,
            name: node.name,
            version: node.version,
            doc: node.doc,
            parameters: node.parameters,
            default: node.default_value.map(Value::from_nodes),
            fields,
            keys: node
                .key_schema
                .map(|i| Box::new(Schema::take(slots, i as usize))),
            values: node
                .value_schema
                .map(|i| Box::new(Schema::take(slots, i as usize))),
        }
    }
}
