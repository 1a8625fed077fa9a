//! Heartbeats (`heartbeat.interval.ms`) of every source: a record on `__debezium-heartbeat.<prefix>` at most
//! once per interval while streaming, so consumers see the connector alive and, with
//! `heartbeat.action.query`, so the server has traffic to confirm on quiet databases.

use std::sync::{Arc, OnceLock};

use crate::event::envelope::Timestamp;
use crate::event::{Data, Record, Schema, SchemaType, Value};

fn key_schema() -> Arc<Schema> {
    static SCHEMA: OnceLock<Arc<Schema>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            Arc::new(
                Schema::new(SchemaType::Struct)
                    .named("io.debezium.connector.common.ServerNameKey")
                    .versioned(1)
                    .field("serverName", Schema::new(SchemaType::String)),
            )
        })
        .clone()
}

fn value_schema() -> Arc<Schema> {
    static SCHEMA: OnceLock<Arc<Schema>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            Arc::new(
                Schema::new(SchemaType::Struct)
                    .named("io.debezium.connector.common.Heartbeat")
                    .versioned(1)
                    .field("ts_ms", Schema::new(SchemaType::Int64)),
            )
        })
        .clone()
}

/// A heartbeat record of the connector whose `topic.prefix` is `server`, on `topic`.
pub fn record(topic: &str, server: &str) -> Record {
    Record::new(
        topic,
        Some(Data::new(
            key_schema(),
            Value::Struct(vec![Value::String(server.into())]),
        )),
        Some(Data::new(
            value_schema(),
            Value::Struct(vec![Value::Int64(Timestamp::now().millis())]),
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{JsonOptions, write_line};

    #[test]
    fn heartbeat_records_look_like_debeziums() {
        let mut line = String::new();
        write_line(
            &mut line,
            &record("__debezium-heartbeat.dbz", "dbz"),
            JsonOptions::default(),
        );
        assert!(line.starts_with(r#"{"topic":"__debezium-heartbeat.dbz","key":{"schema":{"type":"struct","fields":[{"type":"string","optional":false,"field":"serverName"}],"optional":false,"name":"io.debezium.connector.common.ServerNameKey","version":1},"payload":{"serverName":"dbz"}},"value":{"schema":{"type":"struct","fields":[{"type":"int64","optional":false,"field":"ts_ms"}],"optional":false,"name":"io.debezium.connector.common.Heartbeat","version":1},"payload":{"ts_ms":"#), "{line}");
    }
}
