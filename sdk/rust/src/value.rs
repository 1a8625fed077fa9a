//! Values, as Kafka Connect holds them.

use crate::bindings::tidemark::plugin::types::ValueNode;

/// A Kafka Connect value. Struct fields are positional, in the order of the struct schema's
/// fields; logical types keep their physical form (a `Decimal` is its unscaled big-endian
/// bytes, a `Timestamp` is `Int64` milliseconds).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Boolean(bool),
    Int8(i8),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Float32(f32),
    Float64(f64),
    String(String),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Struct(Vec<Value>),
}

impl Value {
    /// The string inside a `String` value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Any integer value widened to `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int8(n) => Some(n.into()),
            Value::Int16(n) => Some(n.into()),
            Value::Int32(n) => Some(n.into()),
            Value::Int64(n) => Some(n),
            _ => None,
        }
    }

    /// True for `Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Flattens the value into the node list the host expects.
    pub(crate) fn to_nodes(&self) -> Vec<ValueNode> {
        let mut nodes = Vec::new();
        self.push(&mut nodes);
        nodes
    }

    fn push(&self, nodes: &mut Vec<ValueNode>) -> u32 {
        let index = nodes.len();
        nodes.push(ValueNode::Null);
        let node = match self {
            Value::Null => ValueNode::Null,
            Value::Boolean(b) => ValueNode::Boolean(*b),
            Value::Int8(n) => ValueNode::Int8(*n),
            Value::Int16(n) => ValueNode::Int16(*n),
            Value::Int32(n) => ValueNode::Int32(*n),
            Value::Int64(n) => ValueNode::Int64(*n),
            Value::Float32(f) => ValueNode::Float32(*f),
            Value::Float64(f) => ValueNode::Float64(*f),
            Value::String(s) => ValueNode::String(s.clone()),
            Value::Bytes(b) => ValueNode::Bytes(b.clone()),
            Value::Array(items) => ValueNode::Array(items.iter().map(|v| v.push(nodes)).collect()),
            Value::Map(entries) => ValueNode::Map(
                entries
                    .iter()
                    .map(|(k, v)| (k.push(nodes), v.push(nodes)))
                    .collect(),
            ),
            Value::Struct(fields) => {
                ValueNode::Struct(fields.iter().map(|v| v.push(nodes)).collect())
            }
        };
        nodes[index] = node;
        index as u32
    }

    /// Rebuilds a value from the host's node list (which the host guarantees is well formed).
    pub(crate) fn from_nodes(nodes: Vec<ValueNode>) -> Value {
        let mut slots: Vec<Option<ValueNode>> = nodes.into_iter().map(Some).collect();
        Value::take(&mut slots, 0)
    }

    fn take(slots: &mut [Option<ValueNode>], index: usize) -> Value {
        let Some(node) = slots.get_mut(index).and_then(Option::take) else {
            return Value::Null;
        };
        let mut child = |i: u32| Value::take(slots, i as usize);
        match node {
            ValueNode::Null => Value::Null,
            ValueNode::Boolean(b) => Value::Boolean(b),
            ValueNode::Int8(n) => Value::Int8(n),
            ValueNode::Int16(n) => Value::Int16(n),
            ValueNode::Int32(n) => Value::Int32(n),
            ValueNode::Int64(n) => Value::Int64(n),
            ValueNode::Float32(f) => Value::Float32(f),
            ValueNode::Float64(f) => Value::Float64(f),
            ValueNode::String(s) => Value::String(s),
            ValueNode::Bytes(b) => Value::Bytes(b),
            ValueNode::Array(items) => Value::Array(items.into_iter().map(&mut child).collect()),
            ValueNode::Map(entries) => Value::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| (child(k), child(v)))
                    .collect(),
            ),
            ValueNode::Struct(fields) => {
                Value::Struct(fields.into_iter().map(&mut child).collect())
            }
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Boolean(b)
    }
}

impl From<i32> for Value {
    fn from(n: i32) -> Value {
        Value::Int32(n)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Int64(n)
    }
}
