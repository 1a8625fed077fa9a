//! The batch-wide accessors of the `batch` resource: one call reads or edits many records.
//!
//! Reads fail on the first record that cannot be read. Edits check every named record
//! before changing any, so that a refused edit leaves the batch as it was.

use std::sync::Arc;

use super::batch::{
    Batch, Take, assemble, get_at, null_at, part_name, part_of, schema_id_of, settable,
};
use super::bindings::types::{AccessError, Part, Piece, ValueNode};
use super::convert;
use crate::event::{Data, Record, Schema, Value};

impl Batch {
    /// The record at `index`.
    pub(super) fn at(&mut self, index: u32) -> Result<&mut Record, AccessError> {
        self.records
            .get_mut(index as usize)
            .ok_or(AccessError::NoSuchRecord(index))
    }

    /// The schema id of `part` of every record.
    pub fn schema_ids(&mut self, part: Part) -> Vec<Option<u64>> {
        self.records
            .iter_mut()
            .map(|r| schema_id_of(r, part))
            .collect()
    }

    /// `read` of each named record, in order; the first error ends the reading.
    fn each<T>(
        &mut self,
        indices: &[u32],
        mut read: impl FnMut(&mut Record) -> Result<T, AccessError>,
    ) -> Result<Vec<T>, AccessError> {
        indices.iter().map(|&i| read(self.at(i)?)).collect()
    }

    /// Whether each named record's part is null at `path`.
    pub fn null_flags(
        &mut self,
        indices: &[u32],
        part: Part,
        path: &str,
    ) -> Result<Vec<bool>, AccessError> {
        self.each(indices, |r| null_at(r, part, path))
    }

    /// The value at `path` of each named record's part.
    pub fn get_many(
        &mut self,
        indices: &[u32],
        part: Part,
        path: &str,
    ) -> Result<Vec<Option<Vec<ValueNode>>>, AccessError> {
        self.each(indices, |r| get_at(r, part, path))
    }

    /// The first index and topic of each run of records with equal topics.
    pub fn topic_runs(&self) -> Vec<(u32, String)> {
        let mut runs: Vec<(u32, String)> = Vec::new();
        for (i, record) in self.records.iter().enumerate() {
            if runs.last().is_none_or(|(_, t)| *t != record.topic) {
                runs.push((i as u32, record.topic.clone()));
            }
        }
        runs
    }

    /// Renames the topic of each named record.
    pub fn set_topic_many(&mut self, indices: &[u32], topic: &str) -> Result<(), AccessError> {
        self.check_indices(indices)?;
        for &i in indices {
            self.records[i as usize].topic = topic.to_owned();
        }
        Ok(())
    }

    /// Sets `value` at `path` of each named record's part.
    pub fn set_many(
        &mut self,
        indices: &[u32],
        part: Part,
        path: &str,
        value: Vec<ValueNode>,
    ) -> Result<(), AccessError> {
        let new = convert::value_from_wit(value).map_err(AccessError::TypeMismatch)?;
        // First every record is checked (once per schema), then every record is changed.
        let mut fits: Option<u64> = None;
        for &i in indices {
            let record = self.at(i)?;
            let id = schema_id_of(record, part);
            let (_, schema) = settable(record, part, path)?;
            if let Some(schema) = schema
                && fits != id
            {
                convert::check(&new, schema, path).map_err(AccessError::TypeMismatch)?;
                fits = id;
            }
        }
        for &i in indices {
            *settable(self.at(i)?, part, path)?.0 = new.clone();
        }
        Ok(())
    }

    /// Replaces each named record's part by a struct of `schema` assembled from `pieces`.
    pub fn rebuild_many(
        &mut self,
        indices: &[u32],
        part: Part,
        schema: &Arc<Schema>,
        pieces: Vec<Piece>,
    ) -> Result<(), AccessError> {
        self.check_indices(indices)?;
        let pieces = Take::prepare(pieces)?;
        let mut built = Vec::with_capacity(indices.len());
        for &i in indices {
            let slot = part_of(self.at(i)?, part);
            let value = Value::Struct(assemble(slot.as_mut(), &pieces, schema.fields.len())?);
            convert::check(&value, schema, part_name(part)).map_err(AccessError::TypeMismatch)?;
            built.push(value);
        }
        for (&i, value) in indices.iter().zip(built) {
            *part_of(self.at(i)?, part) = Some(Data::new(schema.clone(), value));
        }
        Ok(())
    }

    fn check_indices(&self, indices: &[u32]) -> Result<(), AccessError> {
        match indices.iter().find(|&&i| i as usize >= self.records.len()) {
            Some(&i) => Err(AccessError::NoSuchRecord(i)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::SchemaType;

    fn row_schema() -> Arc<Schema> {
        Arc::new(
            Schema::new(SchemaType::Struct)
                .optional()
                .field("id", Schema::new(SchemaType::Int32))
                .field("v", Schema::new(SchemaType::String).optional()),
        )
    }

    /// Three change events (the second a delete, `after` null) on topics a, a, b.
    fn batch() -> Batch {
        let envelope = Arc::new(
            Schema::new(SchemaType::Struct)
                .field("after", row_schema())
                .field("op", Schema::new(SchemaType::String)),
        );
        let event = |topic: &str, after: Value, op: &str| {
            let value = Value::Struct(vec![after, op.into()]);
            Record::new(topic, None, Some(Data::new(envelope.clone(), value)))
        };
        let row = |id: i32| Value::Struct(vec![Value::Int32(id), "x".into()]);
        Batch {
            records: vec![
                event("a", row(1), "c"),
                event("a", Value::Null, "d"),
                event("b", row(3), "u"),
            ],
        }
    }

    fn after(batch: &Batch, i: usize) -> &Value {
        match &batch.records[i].value.as_ref().unwrap().value {
            Value::Struct(fields) => &fields[0],
            other => other,
        }
    }

    #[test]
    fn reads_many_records_in_order() {
        let mut batch = batch();
        let envelope_id = batch.records[0]
            .value
            .as_ref()
            .unwrap()
            .schema
            .as_ref()
            .unwrap()
            .id();
        assert_eq!(batch.schema_ids(Part::Value), vec![Some(envelope_id); 3]);
        assert_eq!(batch.schema_ids(Part::Key), vec![None; 3]);
        assert_eq!(
            batch.null_flags(&[2, 1, 0], Part::Value, "after").unwrap(),
            vec![false, true, false]
        );
        // A null key is null at every path.
        assert_eq!(batch.null_flags(&[0], Part::Key, "id").unwrap(), vec![true]);
        let ids = batch.get_many(&[0, 1, 2], Part::Value, "after.id").unwrap();
        assert!(matches!(
            ids.as_slice(),
            [Some(a), None, Some(b)]
                if matches!(a.as_slice(), [ValueNode::Int32(1)])
                    && matches!(b.as_slice(), [ValueNode::Int32(3)])
        ));
        assert!(matches!(
            batch.get_many(&[0, 7], Part::Value, "op"),
            Err(AccessError::NoSuchRecord(7))
        ));
        assert!(matches!(
            batch.null_flags(&[0], Part::Value, "nope"),
            Err(AccessError::NoSuchField(p)) if p == "nope"
        ));
        assert_eq!(
            batch.topic_runs(),
            vec![(0, "a".to_owned()), (2, "b".to_owned())]
        );
    }

    #[test]
    fn edits_apply_to_every_named_record() {
        let mut batch = batch();
        batch.set_topic_many(&[0, 2], "t").unwrap();
        let topics: Vec<&str> = batch.records.iter().map(|r| r.topic.as_str()).collect();
        assert_eq!(topics, ["t", "a", "t"]);
        batch
            .set_many(
                &[0, 2],
                Part::Value,
                "after.v",
                vec![ValueNode::String("*".into())],
            )
            .unwrap();
        assert_eq!(
            after(&batch, 0),
            &Value::Struct(vec![Value::Int32(1), "*".into()])
        );
        assert_eq!(
            after(&batch, 2),
            &Value::Struct(vec![Value::Int32(3), "*".into()])
        );

        let target = Arc::new(
            Schema::new(SchemaType::Struct)
                .named("row")
                .field("id", Schema::new(SchemaType::Int32))
                .field("v", Schema::new(SchemaType::String).optional())
                .field("__op", Schema::new(SchemaType::String)),
        );
        let pieces = vec![Piece::FieldsOf("after".into()), Piece::Copy("op".into())];
        batch
            .rebuild_many(&[0, 2], Part::Value, &target, pieces)
            .unwrap();
        let value = |i: usize| batch.records[i].value.as_ref().unwrap().value.clone();
        assert_eq!(
            value(2),
            Value::Struct(vec![Value::Int32(3), "*".into(), "u".into()])
        );
        assert_eq!(
            batch.records[0]
                .value
                .as_ref()
                .unwrap()
                .schema
                .as_ref()
                .unwrap()
                .id(),
            target.id()
        );
    }

    #[test]
    fn a_refused_edit_changes_no_record() {
        let mut batch = batch();
        let before: Vec<Option<Data>> = batch.records.iter().map(|r| r.value.clone()).collect();
        let unchanged =
            |batch: &Batch| {
                batch.records.iter().zip(&before).all(|(r, b)| {
                    r.value.as_ref().map(|d| &d.value) == b.as_ref().map(|d| &d.value)
                })
            };
        // Record 1's `after` is null: it has no `after.v` to set.
        let set = batch.set_many(
            &[0, 1, 2],
            Part::Value,
            "after.v",
            vec![ValueNode::String("*".into())],
        );
        assert!(matches!(set, Err(AccessError::NoSuchField(p)) if p == "after.v"));
        assert!(unchanged(&batch));
        // A value that does not fit the field's schema.
        let set = batch.set_many(
            &[0, 2],
            Part::Value,
            "after.id",
            vec![ValueNode::String("x".into())],
        );
        assert!(matches!(set, Err(AccessError::TypeMismatch(_))));
        assert!(unchanged(&batch));
        // Record 1 has no `after` fields to take.
        let target = Arc::new(
            Schema::new(SchemaType::Struct)
                .field("id", Schema::new(SchemaType::Int32))
                .field("v", Schema::new(SchemaType::String).optional()),
        );
        let rebuilt = batch.rebuild_many(
            &[0, 1],
            Part::Value,
            &target,
            vec![Piece::FieldsOf("after".into())],
        );
        assert!(matches!(rebuilt, Err(AccessError::TypeMismatch(m)) if m.contains("after")));
        assert!(unchanged(&batch));
        assert!(matches!(
            batch.set_topic_many(&[0, 3], "t"),
            Err(AccessError::NoSuchRecord(3))
        ));
        assert_eq!(batch.records[0].topic, "a");
    }
}
