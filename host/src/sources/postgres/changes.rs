//! Turning decoded row changes into Debezium change events: the record for each insert,
//! update, delete and truncate, with its key, envelope and source block.

use std::sync::Arc;

use super::config::PostgresConfig;
use super::error::PostgresError;
use super::pgoutput::{Cell, OldRow};
use super::source_info::SourceInfo;
use super::table::Table;
use crate::event::envelope::{Op, SnapshotMarker, Timestamp, envelope_value};
use crate::event::{Data, Header, Record, Value, payload_json};

/// Where a change sits in the stream, for its source block.
#[derive(Debug, Clone, Copy)]
pub struct Position {
    /// Commit time (streaming) or snapshot start (snapshot).
    pub ts: Timestamp,
    pub tx_id: Option<i64>,
    pub lsn: Option<u64>,
    /// The last completely processed LSN before this change.
    pub last_lsn: Option<u64>,
    pub snapshot: SnapshotMarker,
}

/// Builds change events for one connector.
pub struct ChangeBuilder<'a> {
    pub config: &'a PostgresConfig,
}

impl ChangeBuilder<'_> {
    fn source(&self, table: &Table, at: &Position) -> Value {
        SourceInfo {
            server: &self.config.topic_prefix,
            db: &self.config.dbname,
            schema: &table.schema,
            table: &table.name,
            ts: at.ts,
            snapshot: at.snapshot,
            sequence: (at.last_lsn, at.lsn),
            tx_id: at.tx_id,
            // Debezium's incremental reads carry no `lsn`; their `sequence` names the
            // window's closing watermark.
            lsn: at
                .lsn
                .filter(|_| at.snapshot != SnapshotMarker::Incremental),
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

    fn tombstone(&self, table: &Table, key: Option<Value>) -> Record {
        Record::new(table.topic.clone(), key_data(table, key), None)
    }

    /// A snapshot read of a row (`op` r).
    pub fn read(&self, table: &Table, row: Value, key: Option<Value>, at: &Position) -> Record {
        self.event(table, Op::Read, key, Value::Null, row, at)
    }

    /// An insert (`op` c).
    pub fn insert(
        &self,
        table: &Table,
        new: &[Cell],
        at: &Position,
        out: &mut Vec<Record>,
    ) -> Result<(), PostgresError> {
        if self.config.skipped.create {
            return Ok(());
        }
        let key = table.key(new, self.config)?;
        let after = table.row(new, self.config)?;
        out.push(self.event(table, Op::Create, key, Value::Null, after, at));
        Ok(())
    }

    /// An update (`op` u), or, when the primary key changed, a delete of the old key (and
    /// its tombstone) followed by a create of the new one, as Debezium emits it.
    pub fn update(
        &self,
        table: &Table,
        old: Option<&OldRow>,
        new: &[Cell],
        at: &Position,
        out: &mut Vec<Record>,
    ) -> Result<(), PostgresError> {
        // With REPLICA IDENTITY FULL the old row has the values of unchanged TOASTed columns.
        let filled: Vec<Cell>;
        let new = match old {
            Some(OldRow::Full(old_cells)) if new.iter().any(|c| matches!(c, Cell::Unchanged)) => {
                filled = new
                    .iter()
                    .zip(old_cells)
                    .map(|(n, o)| {
                        if matches!(n, Cell::Unchanged) {
                            o.clone()
                        } else {
                            n.clone()
                        }
                    })
                    .collect();
                &filled[..]
            }
            _ => new,
        };
        let new_key = table.key(new, self.config)?;
        let after = table.row(new, self.config)?;
        let (old_key, before) = match old {
            Some(OldRow::Key(cells) | OldRow::Full(cells)) => (
                table.key(cells, self.config)?,
                table.row(cells, self.config)?,
            ),
            None => (None, Value::Null),
        };
        let key_changed = old_key.is_some() && old_key != new_key;
        if key_changed {
            // Each side names the other's key in a header, as Debezium does.
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
                    let mut tombstone = self.tombstone(table, old_key);
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
        old: &OldRow,
        at: &Position,
        out: &mut Vec<Record>,
    ) -> Result<(), PostgresError> {
        if self.config.skipped.delete {
            return Ok(());
        }
        let (OldRow::Key(cells) | OldRow::Full(cells)) = old;
        let key = table.key(cells, self.config)?;
        let before = table.row(cells, self.config)?;
        out.push(self.event(table, Op::Delete, key.clone(), before, Value::Null, at));
        if self.config.tombstones_on_delete {
            out.push(self.tombstone(table, key));
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

fn key_data(table: &Table, key: Option<Value>) -> Option<Data> {
    match (&table.key_schema, key) {
        (Some(schema), Some(key)) => Some(Data::new(Arc::clone(schema), key)),
        _ => None,
    }
}
