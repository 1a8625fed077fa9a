//! A whole batch, as [`Transform::apply_batch`](crate::Transform::apply_batch) sees it: the
//! host's batch-wide accessors, one call for many records.

use crate::bindings::tidemark::plugin::records::Batch;
use crate::defined::{Pieces, SchemaId};
use crate::record::{AccessError, Part, Record};
use crate::{Outcome, Transform, Value};

/// The records of one batch. Besides [`record`](Records::record) for one record at a time, it
/// reads and edits many records in one call to the host, which is what makes a batch-wide
/// transform cheaper than one record at a time. An edit of many records applies to all of
/// them or, when one refuses it, to none.
pub struct Records<'a> {
    batch: &'a Batch,
    len: u32,
}

impl<'a> Records<'a> {
    pub(crate) fn new(batch: &'a Batch) -> Records<'a> {
        Records {
            batch,
            len: batch.len(),
        }
    }

    /// Number of records.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// True when the batch has no records.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// One record, to read and edit on its own.
    pub fn record(&self, index: u32) -> Record<'a> {
        Record::new(self.batch, index)
    }

    /// [`Transform::apply`] on the named records, in order: the way back to one record at a
    /// time, e.g. for the records a batch-wide edit refused.
    pub fn apply_each<T: Transform>(
        &self,
        transform: &mut T,
        indices: impl IntoIterator<Item = u32>,
        outcomes: &mut [Outcome],
    ) {
        for index in indices {
            let mut record = self.record(index);
            outcomes[index as usize] = transform.apply(&mut record);
        }
    }

    /// [`Record::schema_id`] of every record, in order.
    pub fn schema_ids(&self, part: Part) -> Vec<Option<u64>> {
        self.batch.schema_ids(part)
    }

    /// The records grouped by the schema id of `part`, groups in order of first appearance
    /// and indices ascending, and, apart, the records whose part has no schema id (null or
    /// schemaless): the usual start of a batch-wide transform, which works out what to do
    /// once per schema.
    pub fn by_schema(&self, part: Part) -> (Vec<(u64, Vec<u32>)>, Vec<u32>) {
        let mut groups: Vec<(u64, Vec<u32>)> = Vec::new();
        let mut without = Vec::new();
        for (index, id) in (0..self.len).zip(self.schema_ids(part)) {
            match id {
                Some(id) => match groups.iter_mut().find(|(g, _)| *g == id) {
                    Some((_, group)) => group.push(index),
                    None => groups.push((id, vec![index])),
                },
                None => without.push(index),
            }
        }
        (groups, without)
    }

    /// [`Record::is_null`] at `path` of each named record, in order.
    pub fn null_flags(
        &self,
        indices: &[u32],
        part: Part,
        path: &str,
    ) -> Result<Vec<bool>, AccessError> {
        self.batch.null_flags(indices, part, path)
    }

    /// [`Record::get`] at `path` of each named record, in order.
    pub fn get_many(
        &self,
        indices: &[u32],
        part: Part,
        path: &str,
    ) -> Result<Vec<Option<Value>>, AccessError> {
        Ok(self
            .batch
            .get_many(indices, part, path)?
            .into_iter()
            .map(|nodes| nodes.map(Value::from_nodes))
            .collect())
    }

    /// Each run of consecutive records with the same topic: its first index and the topic.
    pub fn topic_runs(&self) -> Vec<(u32, String)> {
        self.batch.topic_runs()
    }

    /// Renames the topic of each named record.
    pub fn set_topic_many(&self, indices: &[u32], topic: &str) -> Result<(), AccessError> {
        self.batch.set_topic_many(indices, topic)
    }

    /// Sets the same value at `path` of each named record; it must fit each field's schema.
    pub fn set_many(
        &self,
        indices: &[u32],
        part: Part,
        path: &str,
        value: &Value,
    ) -> Result<(), AccessError> {
        self.batch.set_many(indices, part, path, &value.to_nodes())
    }

    /// [`Record::rebuild`] of each named record with the same schema and pieces.
    pub fn rebuild_many(
        &self,
        indices: &[u32],
        part: Part,
        schema: SchemaId,
        pieces: &Pieces,
    ) -> Result<(), AccessError> {
        self.batch
            .rebuild_many(indices, part, schema.get(), &pieces.0)
    }
}
