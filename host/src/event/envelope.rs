//! Debezium's change-event envelope: `before`, `after`, `source`, `transaction`, `op` and the
//! event's processing time, with schemas named after the topic as Debezium names them.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::{Schema, SchemaType, Value};

/// The Debezium release whose event format Tidemark emits; `source.version` carries it so
/// consumers that check the version see the format they were written for.
pub const DEBEZIUM_VERSION: &str = "3.6.3.Final";

/// The `op` of a change event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `c`: a row was inserted.
    Create,
    /// `u`: a row was updated.
    Update,
    /// `d`: a row was deleted.
    Delete,
    /// `r`: a row was read by a snapshot.
    Read,
    /// `t`: a table was truncated.
    Truncate,
}

impl Op {
    /// The one-letter code Debezium writes.
    pub fn code(self) -> &'static str {
        match self {
            Op::Create => "c",
            Op::Update => "u",
            Op::Delete => "d",
            Op::Read => "r",
            Op::Truncate => "t",
        }
    }
}

/// The `source.snapshot` marker of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotMarker {
    /// Not a snapshot event (`false`).
    No,
    /// The first record of the snapshot.
    First,
    /// The first record of a table other than the first.
    FirstInDataCollection,
    /// A record inside a table's snapshot.
    Yes,
    /// The last record of a table other than the last.
    LastInDataCollection,
    /// The last record of the snapshot.
    Last,
    /// A row read by an incremental snapshot.
    Incremental,
}

impl SnapshotMarker {
    /// The value Debezium writes.
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotMarker::No => "false",
            SnapshotMarker::First => "first",
            SnapshotMarker::FirstInDataCollection => "first_in_data_collection",
            SnapshotMarker::Yes => "true",
            SnapshotMarker::LastInDataCollection => "last_in_data_collection",
            SnapshotMarker::Last => "last",
            SnapshotMarker::Incremental => "incremental",
        }
    }

    /// The schema of the `snapshot` field of a source block.
    pub fn schema() -> Schema {
        Schema::new(SchemaType::String)
            .optional()
            .named("io.debezium.data.Enum")
            .versioned(1)
            .parameter(
                "allowed",
                "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental",
            )
            .with_default(Value::String("false".into()))
    }
}

/// The schema of the `transaction` block (`provide.transaction.metadata`).
pub fn transaction_schema() -> Schema {
    Schema::new(SchemaType::Struct)
        .optional()
        .named("event.block")
        .versioned(1)
        .field("id", Schema::new(SchemaType::String))
        .field("total_order", Schema::new(SchemaType::Int64))
        .field("data_collection_order", Schema::new(SchemaType::Int64))
}

/// The position of the `transaction` block among an envelope's fields.
pub const TRANSACTION_FIELD: usize = 3;

/// The envelope schema `<topic>.Envelope` around a row schema and a source schema.
pub fn envelope_schema(topic: &str, row: &Arc<Schema>, source: &Arc<Schema>) -> Schema {
    let int64 = || Schema::new(SchemaType::Int64).optional();
    Schema::new(SchemaType::Struct)
        .named(format!("{topic}.Envelope"))
        .versioned(2)
        .field("before", row.clone())
        .field("after", row.clone())
        .field("source", source.clone())
        .field("transaction", transaction_schema())
        .field("op", Schema::new(SchemaType::String))
        .field("ts_ms", int64())
        .field("ts_us", int64())
        .field("ts_ns", int64())
}

/// A point in time in Debezium's three resolutions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    /// Nanoseconds since the Unix epoch.
    pub nanos: i64,
}

impl Timestamp {
    /// The current wall-clock time.
    pub fn now() -> Timestamp {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        Timestamp { nanos }
    }

    /// From microseconds since the Unix epoch.
    pub fn from_micros(micros: i64) -> Timestamp {
        Timestamp {
            nanos: micros.saturating_mul(1000),
        }
    }

    /// Milliseconds since the epoch.
    pub fn millis(self) -> i64 {
        self.nanos.div_euclid(1_000_000)
    }

    /// Microseconds since the epoch.
    pub fn micros(self) -> i64 {
        self.nanos.div_euclid(1000)
    }
}

/// The value of an envelope: `before`, `after`, `source`, no transaction block (at
/// [`TRANSACTION_FIELD`]; see [`super::transaction`]), `op`, and the processing time `at`.
pub fn envelope_value(op: Op, before: Value, after: Value, source: Value, at: Timestamp) -> Value {
    Value::Struct(vec![
        before,
        after,
        source,
        Value::Null,
        Value::String(op.code().into()),
        Value::Int64(at.millis()),
        Value::Int64(at.micros()),
        Value::Int64(at.nanos),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_schema_matches_debezium() {
        let row = Arc::new(
            Schema::new(SchemaType::Struct)
                .optional()
                .named("dbz.public.t.Value")
                .field("id", Schema::new(SchemaType::Int32)),
        );
        let source = Arc::new(Schema::new(SchemaType::Struct).named("src"));
        let envelope = envelope_schema("dbz.public.t", &row, &source);
        let json = envelope.json();
        assert!(json.ends_with(r#""optional":false,"name":"dbz.public.t.Envelope","version":2}"#));
        assert!(json.contains(r#"{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"},{"type":"int64","optional":false,"field":"total_order"},{"type":"int64","optional":false,"field":"data_collection_order"}],"optional":true,"name":"event.block","version":1,"field":"transaction"}"#));
    }

    #[test]
    fn timestamps_round_down() {
        let t = Timestamp {
            nanos: 1_795_267_790_806_910_190,
        };
        assert_eq!(t.millis(), 1_795_267_790_806);
        assert_eq!(t.micros(), 1_795_267_790_806_910);
        assert_eq!(Timestamp::from_micros(-1).millis(), -1);
    }
}
