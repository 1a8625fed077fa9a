//! Kafka Connect schemas.

use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};

use super::Value;

/// The Kafka Connect schema types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaType {
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    String,
    Bytes,
    Array,
    Map,
    Struct,
}

impl SchemaType {
    /// The name JsonConverter uses for the type.
    pub fn as_str(self) -> &'static str {
        match self {
            SchemaType::Int8 => "int8",
            SchemaType::Int16 => "int16",
            SchemaType::Int32 => "int32",
            SchemaType::Int64 => "int64",
            SchemaType::Float32 => "float",
            SchemaType::Float64 => "double",
            SchemaType::Boolean => "boolean",
            SchemaType::String => "string",
            SchemaType::Bytes => "bytes",
            SchemaType::Array => "array",
            SchemaType::Map => "map",
            SchemaType::Struct => "struct",
        }
    }

    /// Parses a JsonConverter type name.
    pub fn parse(name: &str) -> Option<SchemaType> {
        Some(match name {
            "int8" => SchemaType::Int8,
            "int16" => SchemaType::Int16,
            "int32" => SchemaType::Int32,
            "int64" => SchemaType::Int64,
            "float" => SchemaType::Float32,
            "double" => SchemaType::Float64,
            "boolean" => SchemaType::Boolean,
            "string" => SchemaType::String,
            "bytes" => SchemaType::Bytes,
            "array" => SchemaType::Array,
            "map" => SchemaType::Map,
            "struct" => SchemaType::Struct,
            _ => return None,
        })
    }
}

/// A named field of a struct schema.
#[derive(Debug, Clone, PartialEq, Hash)]
pub struct Field {
    pub name: String,
    pub schema: Arc<Schema>,
}

/// A Kafka Connect schema. Schemas are immutable once built and shared with [`Arc`]; the
/// JsonConverter form and a content id are computed once per schema and cached.
#[derive(Debug)]
pub struct Schema {
    pub kind: SchemaType,
    pub optional: bool,
    /// Logical or struct name, e.g. `org.apache.kafka.connect.data.Decimal`.
    pub name: Option<String>,
    pub version: Option<i32>,
    pub doc: Option<String>,
    /// Parameters in insertion order, e.g. `scale`.
    pub parameters: Vec<(String, String)>,
    pub default: Option<Value>,
    /// Struct fields (structs only).
    pub fields: Vec<Field>,
    /// Key schema (maps only).
    pub keys: Option<Arc<Schema>>,
    /// Element schema (arrays) or value schema (maps).
    pub values: Option<Arc<Schema>>,
    json: OnceLock<String>,
    /// For each struct field, `{"name":` (first) or `,"name":`, as the JSON writer needs it.
    field_keys: OnceLock<Vec<String>>,
    id: OnceLock<u64>,
}

impl Schema {
    /// A schema of the given type with everything else unset.
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
            json: OnceLock::new(),
            field_keys: OnceLock::new(),
            id: OnceLock::new(),
        }
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

    /// Sets the schema's version.
    pub fn versioned(mut self, version: i32) -> Schema {
        self.version = Some(version);
        self
    }

    /// Adds a parameter.
    pub fn parameter(mut self, key: impl Into<String>, value: impl Into<String>) -> Schema {
        self.parameters.push((key.into(), value.into()));
        self
    }

    /// Sets the default value.
    pub fn with_default(mut self, value: Value) -> Schema {
        self.default = Some(value);
        self
    }

    /// Adds a struct field.
    pub fn field(mut self, name: impl Into<String>, schema: impl Into<Arc<Schema>>) -> Schema {
        self.fields.push(Field {
            name: name.into(),
            schema: schema.into(),
        });
        self
    }

    /// An array schema with the given element schema.
    pub fn array(items: impl Into<Arc<Schema>>) -> Schema {
        let mut schema = Schema::new(SchemaType::Array);
        schema.values = Some(items.into());
        schema
    }

    /// A map schema with the given key and value schemas.
    pub fn map(keys: impl Into<Arc<Schema>>, values: impl Into<Arc<Schema>>) -> Schema {
        let mut schema = Schema::new(SchemaType::Map);
        schema.keys = Some(keys.into());
        schema.values = Some(values.into());
        schema
    }

    /// The position of a struct field by name.
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// The JsonConverter form of this schema (without a `field` key), computed once.
    pub fn json(&self) -> &str {
        self.json.get_or_init(|| {
            let mut out = String::with_capacity(256);
            super::json::write_schema(&mut out, self, None);
            out
        })
    }

    /// The JSON that opens each struct field of a payload: `{"name":` for the first field,
    /// `,"name":` for the others. Computed once.
    pub(super) fn field_keys(&self) -> &[String] {
        self.field_keys.get_or_init(|| {
            self.fields
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let mut key = String::from(if i == 0 { "{" } else { "," });
                    super::json::write_str(&mut key, &f.name);
                    key.push(':');
                    key
                })
                .collect()
        })
    }

    /// A content id: equal schemas have equal ids. Computed once.
    pub fn id(&self) -> u64 {
        *self.id.get_or_init(|| {
            let mut hasher = std::hash::DefaultHasher::new();
            self.hash(&mut hasher);
            hasher.finish()
        })
    }
}

impl Clone for Schema {
    fn clone(&self) -> Schema {
        Schema {
            kind: self.kind,
            optional: self.optional,
            name: self.name.clone(),
            version: self.version,
            doc: self.doc.clone(),
            parameters: self.parameters.clone(),
            default: self.default.clone(),
            fields: self.fields.clone(),
            keys: self.keys.clone(),
            values: self.values.clone(),
            json: OnceLock::new(),
            field_keys: OnceLock::new(),
            id: OnceLock::new(),
        }
    }
}

impl PartialEq for Schema {
    fn eq(&self, other: &Schema) -> bool {
        self.kind == other.kind
            && self.optional == other.optional
            && self.name == other.name
            && self.version == other.version
            && self.doc == other.doc
            && self.parameters == other.parameters
            && self.default == other.default
            && self.fields == other.fields
            && self.keys == other.keys
            && self.values == other.values
    }
}

impl Hash for Schema {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.kind.hash(state);
        self.optional.hash(state);
        self.name.hash(state);
        self.version.hash(state);
        self.doc.hash(state);
        self.parameters.hash(state);
        // Defaults are rare and floats do not hash; their JSON form stands in for them.
        if let Some(default) = &self.default {
            let mut text = String::new();
            super::json::write_value(&mut text, default, Some(self));
            text.hash(state);
        }
        self.fields.hash(state);
        self.keys.hash(state);
        self.values.hash(state);
    }
}
