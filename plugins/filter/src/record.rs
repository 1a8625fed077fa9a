//! Reading a record's key or value for a condition, with the schema cached per schema id.

use cel_interpreter::Value as Cel;
use tidemark_sdk::{Part, Record, Schema, Value};

use crate::convert;

/// The last schema seen for one part (key or value), kept while records carry the same
/// schema id, with its CEL form once a condition has asked for it.
#[derive(Default)]
pub struct PartReader {
    id: Option<u64>,
    schema: Option<Schema>,
    schema_cel: Option<Cel>,
}

impl PartReader {
    /// The part's data (`None` when null), read whole from the host.
    pub fn data(record: &Record<'_>, part: Part) -> Option<Value> {
        record.get(part, "").ok().flatten()
    }

    /// `data` as CEL, converted with the part's schema (`Null` when null).
    pub fn value(&mut self, record: &Record<'_>, part: Part, data: Option<&Value>) -> Cel {
        match data {
            None => Cel::Null,
            Some(data) => convert::value(data, self.schema(record, part)),
        }
    }

    /// The part's schema as CEL (`Null` when schemaless or null).
    pub fn schema_cel(&mut self, record: &Record<'_>, part: Part) -> Cel {
        if self.schema(record, part).is_none() {
            return Cel::Null;
        }
        if self.schema_cel.is_none() {
            self.schema_cel = self.schema.as_ref().map(convert::schema);
        }
        self.schema_cel.clone().unwrap_or(Cel::Null)
    }

    /// The part's schema, fetched only when its id differs from the last one seen.
    fn schema(&mut self, record: &Record<'_>, part: Part) -> Option<&Schema> {
        let id = record.schema_id(part)?;
        if self.id != Some(id) || self.schema.is_none() {
            self.schema = record.schema(part, "").ok().flatten();
            self.schema_cel = None;
            self.id = Some(id);
        }
        self.schema.as_ref()
    }
}
