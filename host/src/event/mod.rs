//! The event model: Kafka Connect schemas, values and records, and Debezium's JsonConverter
//! JSON form of them.

pub mod envelope;
mod json;
mod record;
mod schema;
pub mod transaction;
mod value;

pub use json::{JsonError, JsonOptions, payload_json, read_line, write_converted, write_line};
pub use record::{Data, Header, Record};
pub use schema::{Field, Schema, SchemaType};
pub use value::Value;
