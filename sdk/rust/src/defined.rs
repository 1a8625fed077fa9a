//! Schemas handed to the host once, so that records carry only values across the boundary.
//!
//! [`Record::replace`](crate::Record::replace) uses this transparently: the first time it
//! sees a schema it defines it with the host and remembers the id, and from then on sends
//! only the value. A plugin that works out its output schemas once (per input schema, say)
//! can hold the [`SchemaId`] itself and call [`Record::replace_with`](crate::Record::replace_with)
//! or [`Record::rebuild`](crate::Record::rebuild), skipping even the comparison.

use std::cell::RefCell;

use crate::bindings::tidemark::plugin::records;
use crate::bindings::tidemark::plugin::types as wit;
use crate::{Schema, Value};

/// A schema the host knows, from [`define_schema`]. Valid for the life of the plugin
/// instance; equal schemas have equal ids (the host's content id, as `Record::schema_id`
/// returns for a record whose schema is equal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SchemaId(u64);

impl SchemaId {
    /// The id as the host gives it.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// Hands `schema` to the host (which checks it) and returns its id. An error explains a
/// malformed schema, or that the instance defined too many distinct schemas; then
/// [`Record::replace`](crate::Record::replace), which carries the schema, still works.
pub fn define_schema(schema: &Schema) -> Result<SchemaId, String> {
    records::define_schema(&schema.to_nodes()).map(SchemaId)
}

/// How many schemas [`id_of`] remembers, most recently used first.
const REMEMBERED: usize = 32;

thread_local! {
    static RECENT: RefCell<Vec<(Schema, SchemaId)>> = const { RefCell::new(Vec::new()) };
}

/// The id of a schema equal to `schema`, defining it on first sight; `None` when the host
/// refuses to define it.
pub(crate) fn id_of(schema: &Schema) -> Option<SchemaId> {
    RECENT.with(|recent| {
        let mut recent = recent.borrow_mut();
        if let Some(at) = recent.iter().position(|(s, _)| s == schema) {
            let id = recent[at].1;
            if at > 0 {
                let entry = recent.remove(at);
                recent.insert(0, entry);
            }
            return Some(id);
        }
        let id = define_schema(schema).ok()?;
        recent.truncate(REMEMBERED - 1);
        recent.insert(0, (schema.clone(), id));
        Some(id)
    })
}

/// One piece of a struct assembled in the host by [`Record::rebuild`](crate::Record::rebuild).
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    /// Every field of the struct at this dotted path of the part (`""`: the part itself), in
    /// order. The struct must not be null.
    FieldsOf(String),
    /// The value at this dotted path of the part (null when a struct on the path is null).
    Copy(String),
    /// This value.
    Value(Value),
}

/// A prepared list of [`Piece`]s, built once and reused for every record.
#[derive(Debug, Clone)]
pub struct Pieces(pub(crate) Vec<wit::Piece>);

impl Pieces {
    /// Prepares pieces, in field order.
    pub fn new(pieces: impl IntoIterator<Item = Piece>) -> Pieces {
        Pieces(
            pieces
                .into_iter()
                .map(|p| match p {
                    Piece::FieldsOf(path) => wit::Piece::FieldsOf(path),
                    Piece::Copy(path) => wit::Piece::Copy(path),
                    Piece::Value(value) => wit::Piece::Value(value.to_nodes()),
                })
                .collect(),
        )
    }
}
