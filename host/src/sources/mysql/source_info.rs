//! The `source` block of MySQL and MariaDB change events
//! (`io.debezium.connector.mysql.Source`, `io.debezium.connector.mariadb.Source`).

use std::sync::{Arc, OnceLock};

use super::config::Flavor;
use crate::event::envelope::{DEBEZIUM_VERSION, SnapshotMarker, Timestamp};
use crate::event::{Schema, SchemaType, Value};

fn build(flavor: Flavor) -> Arc<Schema> {
    let string = || Schema::new(SchemaType::String);
    let int64 = || Schema::new(SchemaType::Int64);
    Arc::new(
        Schema::new(SchemaType::Struct)
            .named(format!(
                "io.debezium.connector.{}.Source",
                flavor.connector()
            ))
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
            .field("table", string().optional())
            .field("server_id", int64())
            .field("gtid", string().optional())
            .field("file", string())
            .field("pos", int64())
            .field("row", Schema::new(SchemaType::Int32))
            .field("thread", int64().optional())
            .field("query", string().optional()),
    )
}

/// The source schema of a flavour, shared by every table's envelope.
pub fn schema(flavor: Flavor) -> Arc<Schema> {
    static MYSQL: OnceLock<Arc<Schema>> = OnceLock::new();
    static MARIADB: OnceLock<Arc<Schema>> = OnceLock::new();
    match flavor {
        Flavor::MySql => MYSQL.get_or_init(|| build(flavor)).clone(),
        Flavor::MariaDb => MARIADB.get_or_init(|| build(flavor)).clone(),
    }
}

/// Where and when a change happened.
#[derive(Debug, Clone)]
pub struct SourceInfo<'a> {
    pub flavor: Flavor,
    /// `topic.prefix`.
    pub server: &'a str,
    pub db: &'a str,
    pub table: Option<&'a str>,
    /// The event's time (the binlog event header's, in seconds) or the snapshot's start.
    pub ts: Timestamp,
    pub snapshot: SnapshotMarker,
    /// The server id of the event (0 in a snapshot).
    pub server_id: u32,
    pub gtid: Option<&'a str>,
    pub file: &'a str,
    pub pos: u64,
    pub row: u32,
    pub thread: Option<u32>,
    pub query: Option<&'a str>,
}

impl SourceInfo<'_> {
    /// The block's value, in the field order of [`schema`].
    pub fn value(&self) -> Value {
        let text = |s: Option<&str>| s.map_or(Value::Null, |s| Value::String(s.into()));
        Value::Struct(vec![
            Value::String(DEBEZIUM_VERSION.into()),
            Value::String(self.flavor.connector().into()),
            Value::String(self.server.into()),
            Value::Int64(self.ts.millis()),
            Value::String(self.snapshot.as_str().into()),
            Value::String(self.db.into()),
            Value::Null,
            Value::Int64(self.ts.micros()),
            Value::Int64(self.ts.nanos),
            text(self.table),
            Value::Int64(self.server_id as i64),
            text(self.gtid),
            Value::String(self.file.into()),
            Value::Int64(self.pos as i64),
            Value::Int32(self.row as i32),
            self.thread.map_or(Value::Null, |t| Value::Int64(t as i64)),
            text(self.query),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Data, JsonOptions, Record, write_line};

    #[test]
    fn writes_debezium_source_block() {
        let info = SourceInfo {
            flavor: Flavor::MariaDb,
            server: "dbz",
            db: "dbz",
            table: Some("customers"),
            ts: Timestamp::from_micros(1_796_152_261_000_000),
            snapshot: SnapshotMarker::No,
            server_id: 1,
            gtid: Some("0-1-17"),
            file: "binlog.000001",
            pos: 5363,
            row: 2,
            thread: None,
            query: None,
        };
        let record = Record::new(
            "t",
            None,
            Some(Data::new(schema(Flavor::MariaDb), info.value())),
        );
        let mut out = String::new();
        write_line(
            &mut out,
            &record,
            JsonOptions {
                key_schemas: false,
                value_schemas: false,
                ..JsonOptions::default()
            },
        );
        assert_eq!(
            out,
            r#"{"topic":"t","key":null,"value":{"version":"3.6.3.Final","connector":"mariadb","name":"dbz","ts_ms":1796152261000,"snapshot":"false","db":"dbz","sequence":null,"ts_us":1796152261000000,"ts_ns":1796152261000000000,"table":"customers","server_id":1,"gtid":"0-1-17","file":"binlog.000001","pos":5363,"row":2,"thread":null,"query":null},"headers":[]}"#
        );
        assert!(
            schema(Flavor::MySql)
                .json()
                .contains("io.debezium.connector.mysql.Source")
        );
    }
}
