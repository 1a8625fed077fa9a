//! The `batch` resource: host-owned records that plugins read and edit in place.

use std::sync::Arc;

use wasmtime::component::Resource;

use super::bindings::records::{Host, HostBatch};
use super::bindings::types::{
    AccessError, Header, Part, Piece, Schema as WitSchema, TypedValue, ValueNode,
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
        Ok(self.batch(batch)?.at(index))
    }

    /// The schema a plugin defined under `id`, or the error naming the unknown id.
    fn defined_schema(&self, id: u64) -> Result<Arc<Schema>, AccessError> {
        self.plugins
            .get(self.current)
            .and_then(|p| p.schemas.get(id))
            .cloned()
            .ok_or_else(|| {
                AccessError::TypeMismatch(format!(
                    "schema id {id:#x} was not defined by this plugin (define-schema)"
                ))
            })
    }
}

pub(super) fn part_name(part: Part) -> &'static str {
    match part {
        Part::Key => "key",
        Part::Value => "value",
    }
}

pub(super) fn part_of(record: &mut Record, part: Part) -> &mut Option<Data> {
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
pub(super) fn value_at<'a>(
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

/// `schema-id` of one record's part.
pub(super) fn schema_id_of(record: &mut Record, part: Part) -> Option<u64> {
    part_of(record, part)
        .as_ref()
        .and_then(|d| d.schema.as_ref())
        .map(|s| s.id())
}

/// `is-null` of one record's part at `path`.
pub(super) fn null_at(record: &mut Record, part: Part, path: &str) -> Result<bool, AccessError> {
    let Some(data) = part_of(record, part).as_mut() else {
        return Ok(true);
    };
    Ok(value_at(&mut data.value, data.schema.as_deref(), path)?.is_none_or(|(v, _)| v.is_null()))
}

/// `get` of one record's part at `path`.
pub(super) fn get_at(
    record: &mut Record,
    part: Part,
    path: &str,
) -> Result<Option<Vec<ValueNode>>, AccessError> {
    let Some(data) = part_of(record, part).as_mut() else {
        return Ok(None);
    };
    Ok(value_at(&mut data.value, data.schema.as_deref(), path)?
        .map(|(v, _)| convert::value_to_wit(v)))
}

/// The value `set` replaces at `path` of one record's part, with its schema; a null part or
/// a null struct on the path has no such value.
pub(super) fn settable<'a>(
    record: &'a mut Record,
    part: Part,
    path: &str,
) -> Result<(&'a mut Value, Option<&'a Schema>), AccessError> {
    let missing = || AccessError::NoSuchField(path.to_owned());
    let data = part_of(record, part).as_mut().ok_or_else(missing)?;
    value_at(&mut data.value, data.schema.as_deref(), path)?.ok_or_else(missing)
}

impl Host for StoreState {
    fn define_schema(&mut self, schema: WitSchema) -> wasmtime::Result<Result<u64, String>> {
        let schema = match convert::schema_from_wit(schema) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        let Some(plugin) = self.plugins.get_mut(self.current) else {
            return Ok(Err("no plugin is running".into()));
        };
        Ok(plugin.schemas.define(schema))
    }
}

/// A `piece` of `rebuild` with its value converted, ready to assemble many records.
pub(super) enum Take {
    FieldsOf(String),
    Copy(String),
    Value(Value),
}

impl Take {
    /// The pieces as the host assembles them; an error names a malformed value.
    pub(super) fn prepare(pieces: Vec<Piece>) -> Result<Vec<Take>, AccessError> {
        pieces
            .into_iter()
            .map(|piece| {
                Ok(match piece {
                    Piece::FieldsOf(path) => Take::FieldsOf(path),
                    Piece::Copy(path) => Take::Copy(path),
                    Piece::Value(nodes) => Take::Value(
                        convert::value_from_wit(nodes).map_err(AccessError::TypeMismatch)?,
                    ),
                })
            })
            .collect()
    }
}

/// The struct fields `pieces` make of a part as it is (`current`; `None` when null).
pub(super) fn assemble(
    mut current: Option<&mut Data>,
    pieces: &[Take],
    width: usize,
) -> Result<Vec<Value>, AccessError> {
    let mut values = Vec::with_capacity(width);
    for piece in pieces {
        let path = match piece {
            Take::Value(value) => {
                values.push(value.clone());
                continue;
            }
            Take::Copy(path) | Take::FieldsOf(path) => path,
        };
        let Some(data) = current.as_deref_mut() else {
            return Err(AccessError::NoSuchField(path.clone()));
        };
        let found = value_at(&mut data.value, data.schema.as_deref(), path)?;
        match (piece, found) {
            (Take::Copy(_), found) => values.push(found.map_or(Value::Null, |(v, _)| v.clone())),
            (Take::FieldsOf(_), Some((Value::Struct(fields), _))) => {
                values.extend(fields.iter().cloned())
            }
            _ => {
                return Err(AccessError::TypeMismatch(format!(
                    "{path:?} is not a struct (or it is null), so it has no fields to take"
                )));
            }
        }
    }
    Ok(values)
}

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
        Ok(self.record(&batch, index)?.map(|r| schema_id_of(r, part)))
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
        Ok(self
            .record(&batch, index)?
            .and_then(|r| get_at(r, part, &path)))
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
        let (slot, schema) = match settable(record, part, &path) {
            Ok(found) => found,
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
        let new = match value
            .map(|v| convert::data_from_wit(v, part_name(part)))
            .transpose()
        {
            Ok(d) => d,
            Err(e) => return Ok(Err(AccessError::TypeMismatch(e))),
        };
        *part_of(record, part) = new;
        Ok(Ok(()))
    }

    fn is_null(
        &mut self,
        batch: Resource<Batch>,
        index: u32,
        part: Part,
        path: String,
    ) -> Access<bool> {
        Ok(self
            .record(&batch, index)?
            .and_then(|r| null_at(r, part, &path)))
    }

    fn replace_with(
        &mut self,
        batch: Resource<Batch>,
        index: u32,
        part: Part,
        schema: u64,
        value: Vec<ValueNode>,
    ) -> Access<()> {
        let schema = match self.defined_schema(schema) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        let record = match self.record(&batch, index)? {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        let value = match convert::value_from_wit(value)
            .and_then(|v| convert::check(&v, &schema, part_name(part)).map(|()| v))
        {
            Ok(v) => v,
            Err(e) => return Ok(Err(AccessError::TypeMismatch(e))),
        };
        *part_of(record, part) = Some(Data::new(schema, value));
        Ok(Ok(()))
    }

    fn rebuild(
        &mut self,
        batch: Resource<Batch>,
        index: u32,
        part: Part,
        schema: u64,
        pieces: Vec<Piece>,
    ) -> Access<()> {
        self.rebuild_many(batch, vec![index], part, schema, pieces)
    }

    fn schema_ids(
        &mut self,
        batch: Resource<Batch>,
        part: Part,
    ) -> wasmtime::Result<Vec<Option<u64>>> {
        Ok(self.batch(&batch)?.schema_ids(part))
    }

    fn null_flags(
        &mut self,
        batch: Resource<Batch>,
        indices: Vec<u32>,
        part: Part,
        path: String,
    ) -> Access<Vec<bool>> {
        Ok(self.batch(&batch)?.null_flags(&indices, part, &path))
    }

    fn get_many(
        &mut self,
        batch: Resource<Batch>,
        indices: Vec<u32>,
        part: Part,
        path: String,
    ) -> Access<Vec<Option<Vec<ValueNode>>>> {
        Ok(self.batch(&batch)?.get_many(&indices, part, &path))
    }

    fn topic_runs(&mut self, batch: Resource<Batch>) -> wasmtime::Result<Vec<(u32, String)>> {
        Ok(self.batch(&batch)?.topic_runs())
    }

    fn set_topic_many(
        &mut self,
        batch: Resource<Batch>,
        indices: Vec<u32>,
        topic: String,
    ) -> Access<()> {
        Ok(self.batch(&batch)?.set_topic_many(&indices, &topic))
    }

    fn set_many(
        &mut self,
        batch: Resource<Batch>,
        indices: Vec<u32>,
        part: Part,
        path: String,
        value: Vec<ValueNode>,
    ) -> Access<()> {
        Ok(self.batch(&batch)?.set_many(&indices, part, &path, value))
    }

    fn rebuild_many(
        &mut self,
        batch: Resource<Batch>,
        indices: Vec<u32>,
        part: Part,
        schema: u64,
        pieces: Vec<Piece>,
    ) -> Access<()> {
        let schema = match self.defined_schema(schema) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        Ok(self
            .batch(&batch)?
            .rebuild_many(&indices, part, &schema, pieces))
    }

    fn drop(&mut self, _batch: Resource<Batch>) -> wasmtime::Result<()> {
        // Plugins only ever borrow a batch; the host deletes it when the chain is done.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope() -> Data {
        let row = Arc::new(
            Schema::new(SchemaType::Struct)
                .optional()
                .field("id", Schema::new(SchemaType::Int32))
                .field("v", Schema::new(SchemaType::String).optional()),
        );
        let schema = Schema::new(SchemaType::Struct)
            .field("before", row.clone())
            .field("after", row)
            .field("op", Schema::new(SchemaType::String));
        Data::new(
            Arc::new(schema),
            Value::Struct(vec![
                Value::Null,
                Value::Struct(vec![Value::Int32(7), "x".into()]),
                "c".into(),
            ]),
        )
    }

    #[test]
    fn pieces_take_fields_copies_and_values() {
        let mut data = envelope();
        let pieces = vec![
            Piece::FieldsOf("after".into()),
            Piece::Copy("op".into()),
            Piece::Copy("before.id".into()),
            Piece::Value(vec![ValueNode::Boolean(true)]),
        ];
        assert_eq!(
            assemble(Some(&mut data), &Take::prepare(pieces).unwrap(), 5).unwrap(),
            vec![
                Value::Int32(7),
                "x".into(),
                "c".into(),
                Value::Null,
                Value::Boolean(true)
            ]
        );
    }

    #[test]
    fn pieces_that_cannot_be_taken_are_errors() {
        let mut data = envelope();
        let take = |pieces| Take::prepare(pieces).unwrap();
        let err = assemble(
            Some(&mut data),
            &take(vec![Piece::FieldsOf("before".into())]),
            1,
        );
        assert!(matches!(err, Err(AccessError::TypeMismatch(m)) if m.contains("\"before\"")));
        let err = assemble(Some(&mut data), &take(vec![Piece::Copy("nope".into())]), 1);
        assert!(matches!(err, Err(AccessError::NoSuchField(p)) if p == "nope"));
        let err = assemble(None, &take(vec![Piece::Copy("op".into())]), 1);
        assert!(matches!(err, Err(AccessError::NoSuchField(p)) if p == "op"));
        // Values alone need no part.
        assert_eq!(
            assemble(None, &take(vec![Piece::Value(vec![ValueNode::Int8(1)])]), 1).unwrap(),
            vec![Value::Int8(1)]
        );
    }
}
