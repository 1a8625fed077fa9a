//! Kafka Connect values.

/// A string value. Short strings (up to 24 bytes: names, codes, most identifiers) are held
/// inline, without an allocation; change events carry many of them.
pub type Text = compact_str::CompactString;

/// A value as Kafka Connect holds it. Struct fields are positional, in the order of the
/// fields of the struct's [`Schema`](super::Schema); logical types keep their physical
/// representation (a `Decimal` is the big-endian two's-complement unscaled value in `Bytes`,
/// a `Timestamp` is `Int64` milliseconds, and so on), which is what the JsonConverter writes.
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
    String(Text),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    /// Entries in order; keys need not be strings.
    Map(Vec<(Value, Value)>),
    Struct(Vec<Value>),
}

impl Value {
    /// True for [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The string inside a [`Value::String`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.into())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s.into())
    }
}
