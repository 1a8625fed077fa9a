//! The `source` block of Postgres change events (`io.debezium.connector.postgresql.Source`).

use std::sync::{Arc, OnceLock};

use crate::event::envelope::{DEBEZIUM_VERSION, SnapshotMarker, Timestamp};
use crate::event::{Schema, SchemaType, Value};

/// The source schema, shared by every table's envelope.
pub fn schema() -> Arc<Schema> {
    static SCHEMA: OnceLock<Arc<Schema>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let string = || Schema::new(SchemaType::String);
            let int64 = || Schema::new(SchemaType::Int64);
            Arc::new(
                Schema::new(SchemaType::Struct)
                    .named("io.debezium.connector.postgresql.Source")
                    .versioned(1)
                    .field("version", string())
                    .field("connector", string())
                    .field("name", string())
                    .field("ts_ms", int64())
                    .field("snapshot", SnapshotMarker::schema())
                    .field("db", string())
                    .field("sequence", string().optional())
                    .field("ts_us", int64().optional())
                    .field("ts_ns", int64().optional())
                    .field("schema", string())
                    .field("table", string())
                    .field("txId", int64().optional())
                    .field("lsn", int64().optional())
                    .field("xmin", int64().optional())
                    .field("origin", string().optional())
                    .field("origin_lsn", int64().optional()),
            )
        })
        .clone()
}

/// Where and when a change happened.
#[derive(Debug, Clone)]
pub struct SourceInfo<'a> {
    /// `topic.prefix`.
    pub server: &'a str,
    pub db: &'a str,
    pub schema: &'a str,
    pub table: &'a str,
    /// Commit time (streaming) or snapshot start (snapshot).
    pub ts: Timestamp,
    pub snapshot: SnapshotMarker,
    /// The last completely processed LSN before this event, and this event's LSN.
    pub sequence: (Option<u64>, Option<u64>),
    pub tx_id: Option<i64>,
    pub lsn: Option<u64>,
}

impl SourceInfo<'_> {
    /// The block's value, in the field order of [`schema`].
    pub fn value(&self) -> Value {
        let mut sequence = String::with_capacity(32);
        sequence.push('[');
        for (i, lsn) in [self.sequence.0, self.sequence.1].into_iter().enumerate() {
            if i > 0 {
                sequence.push(',');
            }
            match lsn {
                Some(lsn) => {
                    sequence.push('"');
                    sequence.push_str(itoa::Buffer::new().format(lsn));
                    sequence.push('"');
                }
                None => sequence.push_str("null"),
            }
        }
        sequence.push(']');
        let opt_i64 = |v: Option<i64>| v.map_or(Value::Null, Value::Int64);
        Value::Struct(vec![
            Value::String(DEBEZIUM_VERSION.into()),
            Value::String("postgresql".into()),
            Value::String(self.server.into()),
            Value::Int64(self.ts.millis()),
            Value::String(self.snapshot.as_str().into()),
            Value::String(self.db.into()),
            Value::String(sequence.into()),
            Value::Int64(self.ts.micros()),
            Value::Int64(self.ts.nanos),
            Value::String(self.schema.into()),
            Value::String(self.table.into()),
            opt_i64(self.tx_id),
            opt_i64(self.lsn.map(|l| l as i64)),
            Value::Null,
            Value::Null,
            Value::Null,
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Data;

    #[test]
    fn writes_debezium_source_block() {
        let info = SourceInfo {
            server: "dbz",
            db: "dbz",
            schema: "public",
            table: "customers",
            ts: Timestamp::from_micros(1_795_267_790_224_734),
            snapshot: SnapshotMarker::First,
            sequence: (None, Some(26925328)),
            tx_id: Some(816),
            lsn: Some(26925328),
        };
        let record = crate::event::Record::new("t", None, Some(Data::new(schema(), info.value())));
        let mut out = String::new();
        crate::event::write_line(
            &mut out,
            &record,
            crate::event::JsonOptions {
                key_schemas: false,
                value_schemas: false,
                ..crate::event::JsonOptions::default()
            },
        );
        assert_eq!(
            out,
            r#"{"topic":"t","key":null,"value":{"version":"3.6.3.Final","connector":"postgresql","name":"dbz","ts_ms":1795267790224,"snapshot":"first","db":"dbz","sequence":"[null,\"26925328\"]","ts_us":1795267790224734,"ts_ns":1795267790224734000,"schema":"public","table":"customers","txId":816,"lsn":26925328,"xmin":null,"origin":null,"origin_lsn":null},"headers":[]}"#
        );
    }
}
