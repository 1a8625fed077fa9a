//! Records: what flows from a source through transforms to a sink.

use std::sync::Arc;

use super::{Schema, Value};

/// A key or value together with its schema. `schema: None` is schemaless data.
#[derive(Debug, Clone, PartialEq)]
pub struct Data {
    pub schema: Option<Arc<Schema>>,
    pub value: Value,
}

impl Data {
    /// Data described by a schema.
    pub fn new(schema: Arc<Schema>, value: Value) -> Data {
        Data {
            schema: Some(schema),
            value,
        }
    }

    /// Schemaless data.
    pub fn schemaless(value: Value) -> Data {
        Data {
            schema: None,
            value,
        }
    }
}

/// A record header. Values are strings, as Connect's SimpleHeaderConverter writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub key: String,
    pub value: Option<String>,
}

/// One record: a topic, a key and a value, headers and a timestamp in milliseconds.
///
/// `None` is a null key or value without a schema (a `None` value is a Kafka tombstone);
/// `Some(Data { value: Value::Null, .. })` is a null with a schema, which the JsonConverter
/// writes as `{"schema": …, "payload": null}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub topic: String,
    pub key: Option<Data>,
    pub value: Option<Data>,
    pub headers: Vec<Header>,
    pub timestamp: Option<i64>,
}

impl Record {
    /// A record with no headers and no timestamp.
    pub fn new(topic: impl Into<String>, key: Option<Data>, value: Option<Data>) -> Record {
        Record {
            topic: topic.into(),
            key,
            value,
            headers: Vec::new(),
            timestamp: None,
        }
    }

    /// True when the value is null (with or without a schema), as Connect's
    /// `RecordIsTombstone` sees it.
    pub fn is_tombstone(&self) -> bool {
        self.value.as_ref().is_none_or(|d| d.value.is_null())
    }
}
