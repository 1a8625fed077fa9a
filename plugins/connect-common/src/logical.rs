//! Kafka Connect's logical types, in their physical form.

use tidemark_sdk::{Schema, SchemaType};

/// `org.apache.kafka.connect.data.Decimal`: bytes, the unscaled value in big-endian two's
/// complement, with a `scale` parameter.
pub const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
/// `org.apache.kafka.connect.data.Date`: int32 days since the epoch.
pub const DATE: &str = "org.apache.kafka.connect.data.Date";
/// `org.apache.kafka.connect.data.Time`: int32 milliseconds since midnight.
pub const TIME: &str = "org.apache.kafka.connect.data.Time";
/// `org.apache.kafka.connect.data.Timestamp`: int64 milliseconds since the epoch.
pub const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";

/// Milliseconds in a day.
pub const MILLIS_PER_DAY: i64 = 86_400_000;

/// The logical type a schema carries, judged as Connect's converters do: by name and
/// physical type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logical {
    /// A `Decimal` with its scale.
    Decimal(i32),
    Date,
    Time,
    Timestamp,
}

/// The schema's logical type, if it has one Connect knows.
pub fn logical(schema: &Schema) -> Option<Logical> {
    match (schema.name.as_deref()?, schema.kind) {
        (DECIMAL, SchemaType::Bytes) => Some(Logical::Decimal(decimal_scale(schema))),
        (DATE, SchemaType::Int32) => Some(Logical::Date),
        (TIME, SchemaType::Int32) => Some(Logical::Time),
        (TIMESTAMP, SchemaType::Int64) => Some(Logical::Timestamp),
        _ => None,
    }
}

/// A decimal schema's `scale` parameter (0 when missing or unreadable).
pub fn decimal_scale(schema: &Schema) -> i32 {
    schema
        .parameters
        .iter()
        .find(|(k, _)| k == "scale")
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Connect's `Timestamp.SCHEMA` (or its optional builder form).
pub fn timestamp_schema(optional: bool) -> Schema {
    logical_schema(SchemaType::Int64, TIMESTAMP, optional)
}

/// Connect's `Date.SCHEMA` (or its optional builder form).
pub fn date_schema(optional: bool) -> Schema {
    logical_schema(SchemaType::Int32, DATE, optional)
}

/// Connect's `Time.SCHEMA` (or its optional builder form).
pub fn time_schema(optional: bool) -> Schema {
    logical_schema(SchemaType::Int32, TIME, optional)
}

/// A plain schema of `kind`, optional or required, as `Schema.OPTIONAL_STRING_SCHEMA` etc.
pub fn plain_schema(kind: SchemaType, optional: bool) -> Schema {
    let schema = Schema::new(kind);
    if optional { schema.optional() } else { schema }
}

fn logical_schema(kind: SchemaType, name: &str, optional: bool) -> Schema {
    let mut schema = plain_schema(kind, optional).named(name);
    schema.version = Some(1);
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_logical_types_by_name_and_type() {
        let mut dec = Schema::new(SchemaType::Bytes).named(DECIMAL);
        dec.parameters.push(("scale".into(), "2".into()));
        assert_eq!(logical(&dec), Some(Logical::Decimal(2)));
        assert_eq!(logical(&timestamp_schema(true)), Some(Logical::Timestamp));
        assert_eq!(logical(&date_schema(false)), Some(Logical::Date));
        assert_eq!(logical(&Schema::new(SchemaType::Int64).named(DATE)), None);
        assert_eq!(
            logical(&Schema::new(SchemaType::Int64).named("io.debezium.time.MicroTimestamp")),
            None
        );
        let ts = timestamp_schema(false);
        assert_eq!((ts.version, ts.optional), (Some(1), false));
    }
}
