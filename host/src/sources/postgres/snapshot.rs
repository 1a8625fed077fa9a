//! The initial snapshot: every captured table read with `COPY … TO STDOUT` inside one
//! REPEATABLE READ transaction that sees exactly the slot's consistent point, emitted as
//! `op` r events with Debezium's `source.snapshot` markers.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio_postgres::Client;

use super::changes::{ChangeBuilder, Position};
use super::config::PostgresConfig;
use super::error::{PostgresError, describe};
use super::parallel::{Parallel, RangeRows, Readers};
use super::pgoutput::Cell;
use super::table::Table;
use crate::event::envelope::SnapshotMarker;
use crate::event::{Record, Value};
use crate::sources::metrics::{BatchSender, TableScan};
use crate::sources::notify;
use crate::sources::{Batch, Checkpoint};
use std::sync::atomic::Ordering;

/// Whether a filter is a whole `SELECT` statement rather than a condition.
fn is_select(filter: &str) -> bool {
    filter
        .trim_start()
        .get(..7)
        .is_some_and(|start| start.eq_ignore_ascii_case("select "))
}

/// The connector's settings as a snapshot reads values (`TypeOptions::snapshot`).
pub fn snapshot_config(config: &PostgresConfig) -> PostgresConfig {
    PostgresConfig {
        types: super::types::TypeOptions {
            snapshot: true,
            ..config.types
        },
        ..config.clone()
    }
}

/// A double-quoted SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A row as read: its key, its value and, when the snapshot is resumable, its `ctid`.
pub struct Read {
    key: Option<Value>,
    row: Value,
    ctid: Option<String>,
}

/// Reads a COPY line of `table` (its `ctid` first when `with_ctid`).
pub fn read_line(
    config: &PostgresConfig,
    table: &Table,
    line: &Bytes,
    with_ctid: bool,
) -> Result<Read, PostgresError> {
    let mut cells = parse_copy_line(line);
    let ctid = match cells.first() {
        Some(Cell::Text(text)) if with_ctid => Some(String::from_utf8_lossy(text).into_owned()),
        _ => None,
    };
    if with_ctid && !cells.is_empty() {
        cells.remove(0);
    }
    Ok(Read {
        key: table.key(&cells, config)?,
        row: table.row(&cells, config)?,
        ctid,
    })
}

/// A row read but not yet emitted: its marker depends on what comes after it.
struct Pending {
    read: Read,
    /// Position of its table in the snapshot.
    table_index: usize,
    first_in_table: bool,
}

/// What a run has gathered and not yet handed on.
struct Out {
    batch: Vec<Record>,
    pending: Option<Pending>,
    /// The table and `ctid` of the last row emitted.
    emitted: Option<(usize, String)>,
    rows: u64,
}

/// Reads the snapshot of `tables` on `client`, whose transaction is already on the snapshot.
pub struct Snapshot<'a> {
    pub config: &'a PostgresConfig,
    pub client: &'a Client,
    /// Source position of every snapshot event (snapshot start time, txId, consistent LSN).
    pub at: Position,
    pub batches: &'a BatchSender,
    /// When set, the snapshot is resumable: rows are read in `ctid` order (the caller
    /// turned synchronized and parallel scans off), and each batch carries this offset
    /// (snapshot in progress) with what reads the rest after the last row emitted.
    pub resumable: Option<Checkpoint>,
    /// When set, several connections read the tables ([`super::parallel`]).
    pub parallel: Option<Parallel>,
    /// Each table's `additional-conditions` filter, by position (a blocking snapshot's;
    /// empty for the initial snapshot): a condition, or a whole `SELECT` of the table's rows
    /// as Debezium's blocking snapshots take it. Only read by one connection.
    pub filters: Vec<Option<String>>,
}

impl Snapshot<'_> {
    /// Emits every row of every table, the last batch carrying `done` as its checkpoint.
    /// Returns the number of rows read.
    pub async fn run(
        &self,
        tables: &[Arc<Table>],
        done: Option<Checkpoint>,
    ) -> Result<u64, PostgresError> {
        let mut out = Out {
            batch: Vec::with_capacity(self.config.max_batch_size),
            pending: None,
            emitted: None,
            rows: 0,
        };
        let names: Vec<String> = tables
            .iter()
            .map(|t| format!("{}.{}", t.schema, t.name))
            .collect();
        let scans = self.batches.metrics().snapshot.start(names.clone());
        self.estimate_rows(&scans).await;
        let notifier = &self.config.notifications;
        let collections = notify::collections(&names);
        out.batch.extend(notifier.initial_snapshot("STARTED", &[]));
        let started = |out: &mut Out, table: usize| {
            tracing::info!(table = %names[table], "snapshot of table");
            out.batch
                .extend(notifier.table_started(&names[table], &collections));
        };
        let finished = |out: &mut Out, table: usize| {
            scans[table].finished();
            let rows = scans[table].rows.load(Ordering::Relaxed);
            out.batch
                .extend(notifier.table_scanned(&names[table], &collections, rows));
        };
        match &self.parallel {
            None => {
                for table_index in 0..tables.len() {
                    started(&mut out, table_index);
                    self.copy_table(tables, table_index, &scans[table_index], &mut out)
                        .await?;
                    finished(&mut out, table_index);
                }
            }
            Some(parallel) => {
                let with_ctid = self.resumable.is_some();
                let mut readers =
                    Readers::start(self.client, self.config, tables, parallel, with_ctid).await?;
                let mut current: Option<usize> = None;
                let mut first_in_table = true;
                while let Some(range) = readers.next().await {
                    let range = range?;
                    while current != Some(range.table) {
                        if let Some(table) = current {
                            finished(&mut out, table);
                        }
                        let table = current.map_or(0, |t| t + 1);
                        started(&mut out, table);
                        current = Some(table);
                        first_in_table = true;
                    }
                    let RangeRows { table, rows, .. } = range;
                    for read in rows {
                        scans[table].row();
                        self.accept(tables, &mut out, table, first_in_table, read)
                            .await?;
                        first_in_table = false;
                    }
                }
                if let Some(table) = current {
                    finished(&mut out, table);
                }
            }
        }
        // Rows are emitted one behind (a row's marker depends on the next), so the last row
        // follows its table's TABLE_SCAN_COMPLETED, as in Debezium's stream.
        if let Some(last) = out.pending.take() {
            let record = self.emit(tables, last, true, true);
            out.batch.push(record);
        }
        out.batch
            .extend(notifier.initial_snapshot("COMPLETED", &[]));
        self.send(&mut out.batch, done).await?;
        Ok(out.rows)
    }

    /// Reads a table with one `COPY`, row by row as its data arrives.
    async fn copy_table(
        &self,
        tables: &[Arc<Table>],
        table_index: usize,
        scan: &TableScan,
        out: &mut Out,
    ) -> Result<(), PostgresError> {
        let table = &tables[table_index];
        let with_ctid = self.resumable.is_some();
        let mut columns: Vec<String> = table.columns.iter().map(|c| quote_ident(&c.name)).collect();
        if with_ctid {
            columns.insert(0, "ctid".into());
        }
        let table_name = format!(
            "{}.{}",
            quote_ident(&table.schema),
            quote_ident(&table.name)
        );
        let rows = match self.filters.get(table_index).cloned().flatten() {
            None => table_name,
            Some(query) if is_select(&query) => format!("({query}) AS filtered"),
            Some(condition) => format!("{table_name} WHERE {condition}"),
        };
        let sql = format!("COPY (SELECT {} FROM {rows}) TO STDOUT", columns.join(", "));
        let what = || format!("reading the snapshot of {}.{}", table.schema, table.name);
        let stream = self
            .client
            .copy_out(sql.as_str())
            .await
            .map_err(|e| PostgresError::query(what(), e))?;
        let mut stream = std::pin::pin!(stream);
        let mut first_in_table = true;
        // Rows usually arrive one complete line per message; cells share its bytes.
        let mut carry: Vec<u8> = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| PostgresError::query(what(), e))?;
            let data = if carry.is_empty() {
                chunk
            } else {
                carry.extend_from_slice(&chunk);
                Bytes::from(std::mem::take(&mut carry))
            };
            let mut start = 0;
            while let Some(end) = data[start..].iter().position(|b| *b == b'\n') {
                let line = data.slice(start..start + end);
                start += end + 1;
                let read = read_line(self.config, table, &line, with_ctid)?;
                scan.row();
                self.accept(tables, out, table_index, first_in_table, read)
                    .await?;
                first_in_table = false;
            }
            carry.extend_from_slice(&data[start..]);
        }
        Ok(())
    }

    /// Takes a row read: emits the one before it (whose marker it decides) and hands the
    /// batch on when full.
    async fn accept(
        &self,
        tables: &[Arc<Table>],
        out: &mut Out,
        table_index: usize,
        first_in_table: bool,
        read: Read,
    ) -> Result<(), PostgresError> {
        out.rows += 1;
        let next = Pending {
            read,
            table_index,
            first_in_table,
        };
        if let Some(previous) = out.pending.replace(next) {
            let last_in_table = previous.table_index != table_index;
            if let Some(ctid) = &previous.read.ctid {
                out.emitted = Some((previous.table_index, ctid.clone()));
            }
            let record = self.emit(tables, previous, last_in_table, false);
            out.batch.push(record);
            if out.batch.len() >= self.config.max_batch_size {
                let progress = self.progress(tables, out.emitted.as_ref());
                self.send(&mut out.batch, progress).await?;
            }
        }
        Ok(())
    }

    /// The checkpoint of a resumable snapshot after the row `emitted` (table, `ctid`): the
    /// snapshot's offset with the tables from that one on, read after that row.
    fn progress(
        &self,
        tables: &[Arc<Table>],
        emitted: Option<&(usize, String)>,
    ) -> Option<Checkpoint> {
        let (base, (table, ctid)) = (self.resumable.as_ref()?, emitted?);
        let mut offset = base.offset.clone();
        super::incremental::store_initial_progress(&mut offset, &tables[*table..], ctid);
        Some(Checkpoint {
            offset,
            ack: base.ack,
        })
    }

    /// Notes the planner's estimate of each table's rows (`pg_class.reltuples`; -1 for a
    /// table never analyzed), for the snapshot's progress.
    async fn estimate_rows(&self, scans: &[TableScan]) {
        let estimates = self
            .client
            .query(
                "SELECT n.nspname || '.' || c.relname, c.reltuples::bigint \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('r', 'p')",
                &[],
            )
            .await;
        match estimates {
            Ok(rows) => {
                for row in rows {
                    let (name, estimate): (String, i64) = (row.get(0), row.get(1));
                    if let Some(scan) = scans.iter().find(|s| s.name == name) {
                        scan.estimate.store(estimate, Ordering::Relaxed);
                    }
                }
            }
            Err(error) => {
                tracing::warn!(error = %describe(&error), "cannot read the tables' row estimates; the snapshot's progress shows no estimate")
            }
        }
    }

    /// Emits a row with Debezium's marker: `last` for the last row of the last table (and
    /// always for the very last row emitted), `first` for the first row of the first table,
    /// then `last_in_data_collection`, `first_in_data_collection`, `true`.
    fn emit(
        &self,
        tables: &[Arc<Table>],
        row: Pending,
        last_in_table: bool,
        final_row: bool,
    ) -> Record {
        let first_table = row.table_index == 0;
        let last_table = row.table_index + 1 == tables.len();
        let snapshot = if final_row || (last_in_table && last_table) {
            SnapshotMarker::Last
        } else if row.first_in_table && first_table {
            SnapshotMarker::First
        } else if last_in_table {
            SnapshotMarker::LastInDataCollection
        } else if row.first_in_table {
            SnapshotMarker::FirstInDataCollection
        } else {
            SnapshotMarker::Yes
        };
        let at = Position {
            snapshot,
            ..self.at
        };
        ChangeBuilder {
            config: self.config,
        }
        .read(&tables[row.table_index], row.read.row, row.read.key, &at)
    }

    async fn send(
        &self,
        batch: &mut Vec<Record>,
        checkpoint: Option<Checkpoint>,
    ) -> Result<(), PostgresError> {
        let records = std::mem::replace(batch, Vec::with_capacity(self.config.max_batch_size));
        self.batches
            .send_async(Batch {
                records,
                checkpoint,
            })
            .await
            .map_err(|_| PostgresError::PipelineClosed)
    }
}

/// Runs a `COPY … TO STDOUT` to its end and returns its data (`what` names the read in an
/// error).
pub async fn copy_all(
    client: &Client,
    sql: &str,
    what: impl Fn() -> String,
) -> Result<Bytes, PostgresError> {
    let copy = client
        .copy_out(sql)
        .await
        .map_err(|e| PostgresError::query(what(), e))?;
    let mut copy = std::pin::pin!(copy);
    let mut data = Vec::new();
    while let Some(chunk) = copy.next().await {
        data.extend_from_slice(&chunk.map_err(|e| PostgresError::query(what(), e))?);
    }
    Ok(Bytes::from(data))
}

/// Splits a line of COPY's text format into cells: tab-separated, `\N` for null, backslash
/// escapes undone.
pub fn parse_copy_line(line: &Bytes) -> Vec<Cell> {
    line.split(|b| *b == b'\t')
        .map(|field| {
            if field == b"\\N" {
                Cell::Null
            } else if field.contains(&b'\\') {
                Cell::Text(unescape(field).into())
            } else {
                Cell::Text(line.slice_ref(field))
            }
        })
        .collect()
}

fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let b = field[i];
        i += 1;
        if b != b'\\' || i == field.len() {
            out.push(b);
            continue;
        }
        let c = field[i];
        i += 1;
        match c {
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'0'..=b'7' => {
                let mut value = (c - b'0') as u32;
                for _ in 0..2 {
                    match field.get(i) {
                        Some(d @ b'0'..=b'7') => {
                            value = value * 8 + (d - b'0') as u32;
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push(value as u8);
            }
            b'x' => {
                let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
                match hex(field.get(i)) {
                    Some(high) => {
                        i += 1;
                        let mut value = high;
                        if let Some(low) = hex(field.get(i)) {
                            value = value * 16 + low;
                            i += 1;
                        }
                        out.push(value as u8);
                    }
                    None => out.push(b'x'),
                }
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_lines_split_and_unescape() {
        let cells = parse_copy_line(&Bytes::from_static(
            b"1\t\\N\ta\\tb\\\\c\\nd\t\\\\x00ff\t\\101\\x42",
        ));
        assert_eq!(
            cells,
            vec![
                Cell::Text(Bytes::from_static(b"1")),
                Cell::Null,
                Cell::Text(Bytes::from_static(b"a\tb\\c\nd")),
                Cell::Text(Bytes::from_static(b"\\x00ff")),
                Cell::Text(Bytes::from_static(b"AB")),
            ]
        );
        assert_eq!(
            parse_copy_line(&Bytes::new()),
            vec![Cell::Text(Bytes::new())]
        );
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
    }
}
