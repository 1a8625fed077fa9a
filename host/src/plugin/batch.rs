//! The `batch` resource: host-owned records that plugins read and edit in place.

use wasmtime::component::Resource;

use super::bindings::records::{Host, HostBatch};
use super::bindings::types::{
    AccessError, Header, Part, Schema as WitSchema, TypedValue, ValueNode,
};
use super::convert;
use super::state::StoreState;
use crate::event::{Data, Record, Schema, SchemaType, Value};

/// The records of one batch while plugins work on them.
pub struct Batch {
    pub records: Vec<Record>,
}

type Access<T> = wasmtime::Result<Result<T, AccessError>>;

impl StoreState {
    fn batch(&mut self, batch: &Resource<Batch>) -> wasmtime::Result<&mut Batch> {
        Ok(self.table.get_mut(batch)?)
    }

    fn record(
        &mut self,
        batch: &Resource<Batch>,
        index: u32,
    ) -> wasmtime::Result<Result<&mut Record, AccessError>> {
        let batch = self.batch(batch)?;
        Ok(batch
            .records
            .get_mut(index as usize)
            .ok_or(AccessError::NoSuchRecord(index)))
    }
}

fn part_of(record: &mut Record, part: Part) -> &mut Option<Data> {
    match part {
        Part::Key => &mut record.key,
        Part::Value => &mut record.value,
    }
}

/// Splits a dotted path; the empty path has no segments.
fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('.').filter(|s| !s.is_empty())
}

/// Follows a path through a schema.
fn schema_at<'a>(mut schema: &'a Schema, path: &str) -> Result<&'a Schema, AccessError> {
    for segment in segments(path) {
        schema = match schema.kind {
            SchemaType::Struct => schema
                .field_index(segment)
                .map(|i| &*schema.fields[i].schema),
            SchemaType::Map => schema.values.as_deref(),
            _ => None,
        }
        .ok_or_else(|| AccessError::NoSuchField(path.to_owned()))?;
    }
    Ok(schema)
}

/// Follows a path through a value: struct fields by schema, schemaless maps by string key.
/// `Ok(None)` when a struct or map on the way is null.
fn value_at<'a>(
    mut value: &'a mut Value,
    mut schema: Option<&'a Schema>,
    path: &str,
) -> Result<Option<(&'a mut Value, Option<&'a Schema>)>, AccessError> {
    let missing = || AccessError::NoSuchField(path.to_owned());
    for segment in segments(path) {
        match value {
            Value::Null => return Ok(None),
            Value::Struct(fields) => {
                let s = schema.ok_or_else(missing)?;
                let i = s.field_index(segment).ok_or_else(missing)?;
                value = fields.get_mut(i).ok_or_else(missing)?;
                schema = Some(&s.fields[i].schema);
            }
            Value::Map(entries) => {
                let entry = entries
                    .iter_mut()
                    .find(|(k, _)| k.as_str() == Some(segment))
                    .ok_or_else(missing)?;
                value = &mut entry.1;
                schema = schema.and_then(|s| s.values.as_deref());
            }
            _ => return Err(missing()),
        }
    }
    Ok(Some((value, schema)))
}

impl Host for StoreState {}

impl super::bindings::types::Host for StoreState {}

impl HostBatch for StoreState {
    fn len(&mut self, batch: Resource<Batch>) -> wasmtime::Result<u32> {
        Ok(self.batch(&batch)?.records.len() as u32)
    }

    fn topic(&mut self, batch: Resource<Batch>, index: u32) -> Access<String> {
        Ok(self.record(&batch, index)?.map(|r| r.topic.clone()))
    }

    fn set_topic(&mut self, batch: Resource<Batch>, index: u32, topic: String) -> Access<()> {
        Ok(self.record(&batch, index)?.map(|r| r.topic = topic))
    }

    fn timestamp(&mut self, batch: Resource<Batch>, index: u32) -> Access<Option<i64>> {
        Ok(self.record(&batch, index)?.map(|r| r.timestamp))
    }

    fn set_timestamp(
        &mut self,
        batch: Resource<Batch>,
        index: u32,
        timestamp: Option<i64>,
    ) -> Access<()> {
        Ok(self.record(&batch, index)?.map(|r| r.timestamp = timestamp))
    }

    fn headers(&mut self, batch: Resource<Batch>, index: u32) -> Access<Vec<Header>> {
        Ok(self
            .record(&batch, index)?
            .map(|r| convert::headers_to_wit(&r.headers)))
    }

    fn set_headers(
        &mut self,
        batch: Resource<Batch>,
        index: u32,
        headers: Vec<Header>,
    ) -> Access<()> {
        Ok(self
            .record(&batch, index)?
            .map(|r| r.headers = convert::headers_from_wit(headers)))
    }

    fn is_tombstone(&mut self, batch: Resource<Batch>, index: u32) -> Access<bool> {
        Ok(self.record(&batch, index)?.map(|r| r.is_tombstone()))
    }

    fn schema_id(&mut self, batch: Resource<Batch>, index: u32, part: Part) -> Access<Option<u64>> {
        Ok(self.record(&batch, index)?.map(|r| {
            part_of(r, part)
                .as_ref()
                .and_then(|d| d.schema.as_ref())
                .map(|s| s.id())
        }))
    }

    fn schema(
        &mut self,
        batch: Resource<Batch>,
        index: u32,
        part: Part,
        path: String,
    ) -> Access<Option<WitSchema>> {
        let record = match self.record(&batch, index)? {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        let Some(schema) = part_of(record, part)
            .as_ref()
            .and_then(|d| d.schema.as_deref())
        else {
            return Ok(Ok(None));
        };
        Ok(schema_at(schema, &path).map(|s| Some(convert::schema_to_wit(s))))
    }

    fn get(
        &mut self,
        batch: Resource<Batch>,
        index: u32,
        part: Part,
        path: String,
    ) -> Access<Option<Vec<ValueNode>>> {
        let record = match self.record(&batch, index)? {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        let Some(data) = part_of(record, part).as_mut() else {
            return Ok(Ok(None));
        };
        Ok(value_at(&mut data.value, data.schema.as_deref(), &path)
            .map(|found| found.map(|(v, _)| convert::value_to_wit(v))))
    }

    fn set(
        &mut self,
        batch: Resource<Batch>,
        index: u32,
        part: Part,
        path: String,
        value: Vec<ValueNode>,
    ) -> Access<()> {
        let record = match self.record(&batch, index)? {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        let new = match convert::value_from_wit(value) {
            Ok(v) => v,
            Err(e) => return Ok(Err(AccessError::TypeMismatch(e))),
        };
        let Some(data) = part_of(record, part).as_mut() else {
            return Ok(Err(AccessError::NoSuchField(path)));
        };
        let (slot, schema) = match value_at(&mut data.value, data.schema.as_deref(), &path) {
            Ok(Some(found)) => found,
            Ok(None) => return Ok(Err(AccessError::NoSuchField(path))),
            Err(e) => return Ok(Err(e)),
        };
        if let Some(schema) = schema
            && let Err(e) = convert::check(&new, schema, &path)
        {
            return Ok(Err(AccessError::TypeMismatch(e)));
        }
        *slot = new;
        Ok(Ok(()))
    }

    fn replace(
        &mut self,
        batch: Resource<Batch>,
        index: u32,
        part: Part,
        value: Option<TypedValue>,
    ) -> Access<()> {
        let record = match self.record(&batch, index)? {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        let at = match part {
            Part::Key => "key",
            Part::Value => "value",
        };
        let new = match value.map(|v| convert::data_from_wit(v, at)).transpose() {
            Ok(d) => d,
            Err(e) => return Ok(Err(AccessError::TypeMismatch(e))),
        };
        *part_of(record, part) = new;
        Ok(Ok(()))
    }

    fn drop(&mut self, _batch: Resource<Batch>) -> wasmtime::Result<()> {
        // Plugins only ever borrow a batch; the host deletes it when the chain is done.
        Ok(())
    }
}
