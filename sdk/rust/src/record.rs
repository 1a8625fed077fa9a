//! One record of a batch, as a plugin sees it, and what a plugin says becomes of it.

use crate::bindings::exports::tidemark::plugin::transformer as wit_out;
use crate::bindings::tidemark::plugin::records::Batch;
use crate::bindings::tidemark::plugin::types as wit;
use crate::defined::{self, Pieces, SchemaId};
use crate::{Schema, Value};

pub use wit::{AccessError, Part};

/// A record header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub key: String,
    pub value: Option<String>,
}

/// A key or value with its schema (`None` = schemaless).
#[derive(Debug, Clone, PartialEq)]
pub struct Data {
    pub schema: Option<Schema>,
    pub value: Value,
}

impl Data {
    fn to_wit(&self) -> wit::TypedValue {
        wit::TypedValue {
            schema: self.schema.as_ref().map(Schema::to_nodes),
            data: self.value.to_nodes(),
        }
    }
}

/// A record built by the plugin, emitted with [`Emit::Created`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecord {
    pub topic: String,
    /// `None` is a null key.
    pub key: Option<Data>,
    /// `None` is a null value: a tombstone.
    pub value: Option<Data>,
    pub headers: Vec<Header>,
    /// Milliseconds since the Unix epoch.
    pub timestamp: Option<i64>,
}

impl NewRecord {
    fn into_wit(self) -> wit::RecordData {
        wit::RecordData {
            topic: self.topic,
            key: self.key.as_ref().map(Data::to_wit),
            value: self.value.as_ref().map(Data::to_wit),
            headers: self.headers.into_iter().map(header_to_wit).collect(),
            timestamp: self.timestamp,
        }
    }
}

/// What becomes of a record.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Pass it on, with any edits made through [`Record`].
    Keep,
    /// Remove it.
    Drop,
    /// Replace it by these records, in order.
    Emit(Vec<Emit>),
    /// It cannot be transformed, for this reason: the host applies `errors.tolerance` (stop
    /// the connector, or send the original record to the dead-letter queue).
    Fail(String),
}

/// One record emitted in place of the input record.
#[derive(Debug, Clone, PartialEq)]
pub enum Emit {
    /// The input record, with any edits.
    Current,
    /// A new record.
    Created(Box<NewRecord>),
}

impl Outcome {
    /// The record followed by a tombstone for the same key (as Debezium emits after a delete).
    pub fn keep_with_tombstone(record: &Record<'_>) -> Outcome {
        Outcome::Emit(vec![
            Emit::Current,
            Emit::Created(Box::new(record.tombstone())),
        ])
    }

    pub(crate) fn into_wit(self) -> wit_out::Outcome {
        match self {
            Outcome::Keep => wit_out::Outcome::Keep,
            Outcome::Drop => wit_out::Outcome::Drop,
            Outcome::Fail(reason) => wit_out::Outcome::Fail(reason),
            Outcome::Emit(items) => wit_out::Outcome::Emit(
                items
                    .into_iter()
                    .map(|e| match e {
                        Emit::Current => wit_out::Emitted::Current,
                        Emit::Created(r) => wit_out::Emitted::Created((*r).into_wit()),
                    })
                    .collect(),
            ),
        }
    }
}

fn header_to_wit(h: Header) -> wit::Header {
    wit::Header {
        key: h.key,
        value: h.value,
    }
}

/// One record of the batch being processed. Reads and edits go to the host, field by field;
/// nothing is copied that is not asked for.
pub struct Record<'a> {
    batch: &'a Batch,
    index: u32,
}

impl<'a> Record<'a> {
    pub(crate) fn new(batch: &'a Batch, index: u32) -> Record<'a> {
        Record { batch, index }
    }

    /// The record's position in its batch (0 for the first).
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The record's topic.
    pub fn topic(&self) -> String {
        self.batch.topic(self.index).unwrap_or_default()
    }

    /// Renames the topic.
    pub fn set_topic(&mut self, topic: &str) {
        // The index is always in range, so the host cannot refuse.
        let _ = self.batch.set_topic(self.index, topic);
    }

    /// Milliseconds since the Unix epoch, if known.
    pub fn timestamp(&self) -> Option<i64> {
        self.batch.timestamp(self.index).ok().flatten()
    }

    /// Sets the timestamp.
    pub fn set_timestamp(&mut self, timestamp: Option<i64>) {
        let _ = self.batch.set_timestamp(self.index, timestamp);
    }

    /// True when the value is null.
    pub fn is_tombstone(&self) -> bool {
        self.batch.is_tombstone(self.index).unwrap_or(false)
    }

    /// All headers, in order.
    pub fn headers(&self) -> Vec<Header> {
        self.batch
            .headers(self.index)
            .unwrap_or_default()
            .into_iter()
            .map(|h| Header {
                key: h.key,
                value: h.value,
            })
            .collect()
    }

    /// The last header with this key.
    pub fn header(&self, key: &str) -> Option<Header> {
        self.headers().into_iter().rev().find(|h| h.key == key)
    }

    /// Replaces all headers.
    pub fn set_headers(&mut self, headers: Vec<Header>) {
        let wit_headers: Vec<wit::Header> = headers.into_iter().map(header_to_wit).collect();
        let _ = self.batch.set_headers(self.index, &wit_headers);
    }

    /// Appends a header.
    pub fn add_header(&mut self, key: &str, value: Option<&str>) {
        let mut headers = self.headers();
        headers.push(Header {
            key: key.to_owned(),
            value: value.map(str::to_owned),
        });
        self.set_headers(headers);
    }

    /// The value at a dotted path of the key or value (`""` = all of it). `Ok(None)` when the
    /// part, or a struct on the path, is null.
    pub fn get(&self, part: Part, path: &str) -> Result<Option<Value>, AccessError> {
        Ok(self
            .batch
            .get(self.index, part, path)?
            .map(Value::from_nodes))
    }

    /// A field of the value by dotted path (`after.email`); `None` if absent or null.
    pub fn value_field(&self, path: &str) -> Option<Value> {
        self.get(Part::Value, path).ok().flatten()
    }

    /// A field of the key by dotted path; `None` if absent or null.
    pub fn key_field(&self, path: &str) -> Option<Value> {
        self.get(Part::Key, path).ok().flatten()
    }

    /// Sets the value at a dotted path; it must fit the field's schema.
    pub fn set(&mut self, part: Part, path: &str, value: &Value) -> Result<(), AccessError> {
        self.batch.set(self.index, part, path, &value.to_nodes())
    }

    /// Sets a field of the value by dotted path; it must fit the field's schema.
    pub fn set_value_field(&mut self, path: &str, value: &Value) -> Result<(), AccessError> {
        self.set(Part::Value, path, value)
    }

    /// The schema at a dotted path of the key or value; `None` when schemaless or null.
    pub fn schema(&self, part: Part, path: &str) -> Result<Option<Schema>, AccessError> {
        Ok(self
            .batch
            .schema(self.index, part, path)?
            .map(Schema::from_nodes))
    }

    /// An id equal for equal schemas, to cache work per schema; `None` when schemaless or null.
    pub fn schema_id(&self, part: Part) -> Option<u64> {
        self.batch.schema_id(self.index, part).ok().flatten()
    }

    /// The whole key or value with its schema; `None` when null.
    pub fn data(&self, part: Part) -> Option<Data> {
        let value = self.get(part, "").ok().flatten()?;
        let schema = self.schema(part, "").ok().flatten();
        Some(Data { schema, value })
    }

    /// Replaces the whole key or value, schema included (`None` makes it null). Each
    /// distinct schema crosses to the host once; after that only the value does.
    pub fn replace(&mut self, part: Part, data: Option<Data>) -> Result<(), AccessError> {
        if let Some(Data {
            schema: Some(schema),
            value,
        }) = &data
            && let Some(id) = defined::id_of(schema)
        {
            return self.replace_with(part, id, value);
        }
        let typed = data.as_ref().map(Data::to_wit);
        self.batch.replace(self.index, part, typed.as_ref())
    }

    /// Replaces the whole key or value by `value` under a schema defined with
    /// [`define_schema`](crate::define_schema); the value must fit it.
    pub fn replace_with(
        &mut self,
        part: Part,
        schema: SchemaId,
        value: &Value,
    ) -> Result<(), AccessError> {
        self.batch
            .replace_with(self.index, part, schema.get(), &value.to_nodes())
    }

    /// Replaces the whole key or value by a struct under a defined schema, assembled in the
    /// host from `pieces`: fields and values of the part as it is, and given values. What is
    /// kept never crosses the boundary. The result must fit the schema.
    pub fn rebuild(
        &mut self,
        part: Part,
        schema: SchemaId,
        pieces: &Pieces,
    ) -> Result<(), AccessError> {
        self.batch
            .rebuild(self.index, part, schema.get(), &pieces.0)
    }

    /// True when the key or value is null, or its value at a dotted path is (or a struct on
    /// the path is).
    pub fn is_null(&self, part: Part, path: &str) -> Result<bool, AccessError> {
        self.batch.is_null(self.index, part, path)
    }

    /// A tombstone for this record: same topic, key and headers, null value.
    pub fn tombstone(&self) -> NewRecord {
        NewRecord {
            topic: self.topic(),
            key: self.data(Part::Key),
            value: None,
            headers: self.headers(),
            timestamp: self.timestamp(),
        }
    }
}
