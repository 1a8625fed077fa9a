//! Decoded rows turned into Debezium change events: the record of each snapshot read,
//! insert, update and delete, with its key, envelope and source block.

use std::sync::Arc;

use super::config::MySqlConfig;
use super::error::MySqlError;
use super::source_info::SourceInfo;
use super::table::Table;
use super::types::Cell;
use crate::event::envelope::{Op, SnapshotMarker, Timestamp, envelope_value};
use crate::event::{Data, Header, Record, Value, payload_json};

/// Where a change sits in the binlog, for its source block.
#[derive(Debug, Clone, Copy)]
pub struct Position<'a> {
    /// The event's time, or the snapshot's start.
    pub ts: Timestamp,
    pub snapshot: SnapshotMarker,
    pub server_id: u32,
    pub gtid: Option<&'a str>,
    pub file: &'a str,
    /// The rows event's position (the snapshot's binlog position in a snapshot).
    pub pos: u64,
    /// The row's index in its rows event.
    pub row: u32,
    pub thread: Option<u32>,
}

/// Builds change events for one connector.
pub struct ChangeBuilder<'a> {
    pub config: &'a MySqlConfig,
}

fn key_data(table: &Table, key: Option<Value>) -> Option<Data> {
    match (&table.key_schema, key) {
        (Some(schema), Some(key)) => Some(Data::new(Arc::clone(schema), key)),
        _ => None,
    }
}

impl ChangeBuilder<'_> {
    fn source(&self, table: &Table, at: &Position) -> Value {
        SourceInfo {
            flavor: self.config.flavor,
            server: &self.config.topic_prefix,
            db: &table.db,
            table: Some(&table.name),
            ts: at.ts,
            snapshot: at.snapshot,
            server_id: at.server_id,
            gtid: at.gtid,
            file: at.file,
            pos: at.pos,
            row: at.row,
            thread: at.thread,
            query: None,
        }
        .value()
    }

    fn event(
        &self,
        table: &Table,
        op: Op,
        key: Option<Value>,
        before: Value,
        after: Value,
        at: &Position,
    ) -> Record {
        let value = envelope_value(op, before, after, self.source(table, at), Timestamp::now());
        Record::new(
            table.topic.clone(),
            key_data(table, key),
            Some(Data::new(table.envelope_schema.clone(), value)),
        )
    }

    /// A snapshot read of a row (`op` r).
    pub fn read(&self, table: &Table, cells: &[Cell], at: &Position) -> Result<Record, MySqlError> {
        let key = table.key(cells, self.config, true)?;
        let row = table.row(cells, self.config, true)?;
        Ok(self.event(table, Op::Read, key, Value::Null, row, at))
    }

    /// An insert (`op` c).
    pub fn insert(
        &self,
        table: &Table,
        new: &[Cell],
        at: &Position,
        out: &mut Vec<Record>,
    ) -> Result<(), MySqlError> {
        if self.config.skipped.create {
            return Ok(());
        }
        let key = table.key(new, self.config, false)?;
        let after = table.row(new, self.config, false)?;
        out.push(self.event(table, Op::Create, key, Value::Null, after, at));
        Ok(())
    }

    /// An update (`op` u), or, when the primary key changed, a delete of the old key (and
    /// its tombstone) followed by a create of the new one, as Debezium emits it, each side
    /// naming the other's key in a header.
    pub fn update(
        &self,
        table: &Table,
        old: &[Cell],
        new: &[Cell],
        at: &Position,
        out: &mut Vec<Record>,
    ) -> Result<(), MySqlError> {
        let new_key = table.key(new, self.config, false)?;
        let after = table.row(new, self.config, false)?;
        let old_key = table.key(old, self.config, false)?;
        let before = table.row(old, self.config, false)?;
        if old_key.is_some() && old_key != new_key {
            let header = |name: &str, key: &Option<Value>| Header {
                key: name.to_owned(),
                value: key_data(table, key.clone()).map(|k| payload_json(&k)),
            };
            let new_key_header = header("__debezium.newkey", &new_key);
            let old_key_header = header("__debezium.oldkey", &old_key);
            if !self.config.skipped.delete {
                let mut delete =
                    self.event(table, Op::Delete, old_key.clone(), before, Value::Null, at);
                delete.headers.push(new_key_header.clone());
                out.push(delete);
                if self.config.tombstones_on_delete {
                    let mut tombstone =
                        Record::new(table.topic.clone(), key_data(table, old_key), None);
                    tombstone.headers.push(new_key_header);
                    out.push(tombstone);
                }
            }
            if !self.config.skipped.create {
                let mut create = self.event(table, Op::Create, new_key, Value::Null, after, at);
                create.headers.push(old_key_header);
                out.push(create);
            }
        } else if !self.config.skipped.update {
            out.push(self.event(table, Op::Update, new_key, before, after, at));
        }
        Ok(())
    }

    /// A delete (`op` d) and its tombstone (`tombstones.on.delete`).
    pub fn delete(
        &self,
        table: &Table,
        old: &[Cell],
        at: &Position,
        out: &mut Vec<Record>,
    ) -> Result<(), MySqlError> {
        if self.config.skipped.delete {
            return Ok(());
        }
        let key = table.key(old, self.config, false)?;
        let before = table.row(old, self.config, false)?;
        out.push(self.event(table, Op::Delete, key.clone(), before, Value::Null, at));
        if self.config.tombstones_on_delete {
            out.push(Record::new(table.topic.clone(), key_data(table, key), None));
        }
        Ok(())
    }

    /// A truncate (`op` t): no key, no row.
    pub fn truncate(&self, table: &Table, at: &Position, out: &mut Vec<Record>) {
        if self.config.skipped.truncate {
            return;
        }
        let value = envelope_value(
            Op::Truncate,
            Value::Null,
            Value::Null,
            self.source(table, at),
            Timestamp::now(),
        );
        out.push(Record::new(
            table.topic.clone(),
            None,
            Some(Data::new(table.envelope_schema.clone(), value)),
        ));
    }
}
