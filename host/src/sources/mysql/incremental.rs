//! Incremental snapshots of MariaDB tables, read while the binlog stream goes on, and
//! read-only: nothing is written to the server.
//!
//! A table is read in chunks of `incremental.snapshot.chunk.size` rows in primary-key (or
//! surrogate-key) order. Each chunk is read in its own `START TRANSACTION WITH CONSISTENT
//! SNAPSHOT`, whose `binlog_snapshot_file`/`binlog_snapshot_position` give the exact binlog
//! point `P` the chunk's rows are at: the transaction sees every transaction before `P` in
//! the binlog and none after. The chunk is held until the stream has read up to `P`, then
//! emitted (`op` r, `source.snapshot` `incremental`): every change before `P` precedes its
//! rows in the output, every change after `P` follows them. So the last event of every key
//! holds its latest state, with no window and no deduplication (docs/snapshots.md). The
//! stream may already be past `P` when the chunk is read (MariaDB sends a transaction to
//! replicas before committing it in InnoDB, where the snapshot's point is taken): such a
//! chunk would be older than events already emitted, so it is read again until `P` is at or
//! after the stream's place ([`super::snapshot::consistent_point_after`]).

use std::collections::VecDeque;
use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};

use super::catalog::{BinlogPosition, quote_ident, quote_literal, text};
use super::changes::{ChangeBuilder, Position};
use super::config::MySqlConfig;
use super::error::MySqlError;
use super::snapshot::{cells, consistent_point_after};
use super::table::Table;
use crate::event::Record;
use crate::sources::incremental_offset::{Entry, INITIAL_REST, Progress};
use crate::sources::notify::key_label;

/// A table to read, as a signal asked for it.
#[derive(Debug, Clone)]
pub struct Request {
    pub table: Arc<Table>,
    /// `additional-conditions`' filter for this table.
    pub filter: Option<String>,
    /// `surrogate-key`: the column chunks follow instead of the primary key.
    pub surrogate: Option<String>,
    /// Where the reading resumes: the last key emitted before a restart.
    pub after: Option<Vec<String>>,
}

/// The table being read.
#[derive(Debug)]
struct Scan {
    request: Request,
    /// The columns chunks follow, as indexes into the table's columns.
    order: Vec<usize>,
    /// The last key emitted; `None` before the first chunk.
    last: Option<Vec<String>>,
    /// The table's last key when its reading began.
    max: Vec<String>,
    rows: u64,
}

impl Scan {
    fn name(&self) -> String {
        self.request.table.full_name()
    }
}

/// A chunk read and waiting for the stream to reach its binlog point.
#[derive(Debug)]
struct Chunk {
    at: BinlogPosition,
    rows: Vec<Row>,
    last: Option<Vec<String>>,
    /// Fewer rows than a chunk: the table is read.
    finished: bool,
}

/// What an incremental snapshot has to say at a step.
#[derive(Debug, Default)]
pub struct Step {
    /// Rows and notifications to emit, in order.
    pub records: Vec<Record>,
    /// The snapshot has read every table.
    pub completed: bool,
}

/// An incremental snapshot in progress.
#[derive(Debug)]
pub struct Incremental {
    /// The signal's id.
    pub id: String,
    queue: VecDeque<Request>,
    scan: Option<Scan>,
    chunk: Option<Chunk>,
    paused: bool,
    chunk_size: usize,
    /// The tables asked for, `db.table`, for the notifications.
    names: Vec<String>,
}

/// Whether binlog position `a` is at or after `b` (file names of one server sort by their
/// sequence number).
pub fn at_or_after(a: (&str, u64), b: &BinlogPosition) -> bool {
    a.0 > b.file.as_str() || (a.0 == b.file && a.1 >= b.pos)
}

/// `(c1, c2, …) > (v1, v2, …)` spelt out so that the server can use the key's index.
fn after_key(columns: &[String], values: &[String]) -> String {
    let mut terms = Vec::new();
    for i in 0..columns.len() {
        let mut term: Vec<String> = (0..i)
            .map(|j| format!("{} = {}", columns[j], quote_literal(&values[j])))
            .collect();
        term.push(format!("{} > {}", columns[i], quote_literal(&values[i])));
        terms.push(format!("({})", term.join(" AND ")));
    }
    format!("({})", terms.join(" OR "))
}

impl Incremental {
    /// A snapshot of `requests`, read `chunk_size` rows at a time.
    pub fn new(id: String, requests: Vec<Request>, chunk_size: usize) -> Incremental {
        let names = requests.iter().map(|r| r.table.full_name()).collect();
        Incremental {
            id,
            queue: requests.into(),
            scan: None,
            chunk: None,
            paused: false,
            chunk_size,
            names,
        }
    }

    /// Pauses (`true`) or resumes reading chunks; a chunk already read is still emitted.
    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
    }

    /// Whether a step can be taken with the stream at `end` of `file`: the waiting chunk's
    /// point is reached, or no chunk waits and the snapshot is not paused.
    pub fn can_step(&self, file: &str, end: u64) -> bool {
        match &self.chunk {
            Some(chunk) => at_or_after((file, end), &chunk.at),
            None => !self.paused,
        }
    }

    /// Whether no chunk can be read now: one waits for the stream, or the snapshot is paused.
    pub fn is_waiting(&self) -> bool {
        self.paused || self.chunk.is_some()
    }

    fn data(&self) -> Vec<(&'static str, String)> {
        vec![("data_collections", self.names.join(","))]
    }

    /// Reads the next chunk on `conn` unless one is waiting for the stream or the snapshot
    /// is paused, at a point at or after `stream`, where the stream has read up to. Tables
    /// found empty are done at once. Returns what to emit now.
    pub async fn next_chunk(
        &mut self,
        conn: &mut Conn,
        stream: &BinlogPosition,
        config: &MySqlConfig,
    ) -> Result<Step, MySqlError> {
        let mut step = Step::default();
        if self.paused || self.chunk.is_some() {
            return Ok(step);
        }
        if self.scan.is_none() {
            loop {
                let Some(request) = self.queue.pop_front() else {
                    step.completed = true;
                    step.records
                        .extend(config.notifications.incremental_snapshot(
                            "COMPLETED",
                            &self.id,
                            &[],
                        ));
                    return Ok(step);
                };
                if let Some(scan) = begin(conn, request).await? {
                    self.scan = Some(scan);
                    break;
                }
            }
        }
        let scan = self.scan.as_ref().expect("a scan");
        let chunk = read_chunk(conn, stream, scan, self.chunk_size).await?;
        // Debezium announces each chunk once it is read, with its last key.
        let mut data = vec![
            ("current_collection_in_progress", scan.name()),
            ("maximum_key", key_label(&scan.max)),
        ];
        if let Some(last) = chunk.last.as_ref().or(scan.last.as_ref()) {
            data.push(("last_processed_key", key_label(last)));
        }
        data.extend(self.data());
        step.records
            .extend(
                config
                    .notifications
                    .incremental_snapshot("IN_PROGRESS", &self.id, &data),
            );
        self.chunk = Some(chunk);
        Ok(step)
    }

    /// The stream has read up to `end` of `here.file`, between two transactions: a chunk
    /// whose point is reached is returned for emission as reads at `here` (the caller then
    /// reads the next one).
    pub fn reached(
        &mut self,
        end: u64,
        here: &Position,
        config: &MySqlConfig,
    ) -> Result<Option<Step>, MySqlError> {
        if !self
            .chunk
            .as_ref()
            .is_some_and(|c| at_or_after((here.file, end), &c.at))
        {
            return Ok(None);
        }
        let (Some(chunk), Some(scan)) = (self.chunk.take(), self.scan.as_mut()) else {
            return Ok(None);
        };
        scan.rows += chunk.rows.len() as u64;
        let table = &scan.request.table;
        let builder = ChangeBuilder { config };
        let mut step = Step::default();
        for row in &chunk.rows {
            step.records
                .push(builder.read(table, &cells(table, row)?, here)?);
        }
        if chunk.last.is_some() {
            scan.last = chunk.last;
        }
        if chunk.finished {
            let name = scan.name();
            let rows = scan.rows;
            tracing::info!(table = %name, rows, "incremental snapshot of table completed");
            let mut data = self.data();
            data.push(("scanned_collection", name));
            data.push(("total_rows_scanned", rows.to_string()));
            data.push(("status", "SUCCEEDED".into()));
            step.records
                .extend(config.notifications.incremental_snapshot(
                    "TABLE_SCAN_COMPLETED",
                    &self.id,
                    &data,
                ));
            self.scan = None;
        }
        Ok(Some(step))
    }

    /// Adds the snapshot's progress to an offset: the tables left (the one being read
    /// first), the last key emitted and the table's end.
    pub fn store(&self, offset: &mut crate::offsets::OffsetMap) {
        let entry = |r: &Request| Entry {
            name: r.table.full_name(),
            filter: r.filter.clone(),
            surrogate: r.surrogate.clone(),
            by_ctid: false,
        };
        let requests = self
            .scan
            .iter()
            .map(|s| &s.request)
            .chain(self.queue.iter());
        Progress {
            id: self.id.clone(),
            entries: requests.map(entry).collect(),
            last: self.scan.as_ref().and_then(|s| s.last.clone()),
            max: self.scan.as_ref().map(|s| s.max.clone()),
        }
        .store(offset);
    }

    /// The snapshot an offset left in progress, its tables found by `table` (by
    /// `db.table`); `None` when the offset has none. A table no longer captured is left out.
    /// The first table goes on after the last key emitted.
    pub fn resume(
        offset: &crate::offsets::OffsetMap,
        chunk_size: usize,
        table: impl Fn(&str) -> Option<Arc<Table>>,
    ) -> Option<Incremental> {
        let (id, tables) = crate::sources::incremental_offset::resume(offset, table)?;
        let requests = tables
            .into_iter()
            .map(|r| Request {
                table: r.table,
                filter: r.entry.filter,
                surrogate: r.entry.surrogate,
                after: r.after,
            })
            .collect();
        Some(Incremental::new(id, requests, chunk_size))
    }
}

/// Adds to an initial snapshot's offset what reads its rest if it is interrupted: `tables`
/// (the one being read first) by key, after `after`, the key of the last row sent.
pub fn store_initial_progress(
    offset: &mut crate::offsets::OffsetMap,
    tables: &[Arc<Table>],
    after: Vec<String>,
) {
    Progress {
        id: INITIAL_REST.into(),
        entries: tables
            .iter()
            .map(|t| Entry {
                name: t.full_name(),
                ..Entry::default()
            })
            .collect(),
        last: Some(after),
        max: None,
    }
    .store(offset);
}

/// Starts reading a table: the columns its chunks follow and its last key now; `None`
/// (logged) for a table with no rows or without a key to follow.
async fn begin(conn: &mut Conn, request: Request) -> Result<Option<Scan>, MySqlError> {
    let table = &request.table;
    let name = table.full_name();
    let order: Vec<usize> = match &request.surrogate {
        Some(column) => match table.columns.iter().position(|c| &c.name == column) {
            Some(i) => vec![i],
            None => {
                tracing::error!(table = %name, column, "incremental snapshot: the surrogate key is not a column of the table; left out");
                return Ok(None);
            }
        },
        None => table.key.clone(),
    };
    if order.is_empty() {
        tracing::error!(table = %name, "incremental snapshot: the table has no primary key (give a surrogate-key); left out");
        return Ok(None);
    }
    let columns: Vec<String> = order
        .iter()
        .map(|&i| quote_ident(&table.columns[i].name))
        .collect();
    let sql = format!(
        "SELECT {} FROM {}.{}{} ORDER BY {} LIMIT 1",
        columns.join(", "),
        quote_ident(&table.db),
        quote_ident(&table.name),
        request
            .filter
            .as_ref()
            .map(|f| format!(" WHERE ({f})"))
            .unwrap_or_default(),
        columns
            .iter()
            .map(|c| format!("{c} DESC"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let rows: Vec<Row> = conn
        .query(sql)
        .await
        .map_err(|e| MySqlError::query(format!("reading the last key of {name}"), e))?;
    let Some(row) = rows.first() else {
        tracing::info!(table = %name, "incremental snapshot: the table is empty");
        return Ok(None);
    };
    let max = (0..order.len())
        .map(|i| text(row, i).unwrap_or_default())
        .collect();
    let last = request.after.clone();
    match &last {
        Some(after) => {
            tracing::info!(table = %name, after = %key_label(after), "incremental snapshot resumed after its last chunk")
        }
        None => tracing::info!(table = %name, "incremental snapshot of table"),
    }
    Ok(Some(Scan {
        request,
        order,
        last,
        max,
        rows: 0,
    }))
}

/// Reads a chunk after the scan's last key in a consistent-snapshot transaction, with the
/// binlog point its rows are at.
async fn read_chunk(
    conn: &mut Conn,
    stream: &BinlogPosition,
    scan: &Scan,
    chunk_size: usize,
) -> Result<Chunk, MySqlError> {
    let table = &scan.request.table;
    let name = table.full_name();
    let columns: Vec<String> = scan
        .order
        .iter()
        .map(|&i| quote_ident(&table.columns[i].name))
        .collect();
    let mut conditions = vec![format!("NOT {}", after_key(&columns, &scan.max))];
    if let Some(last) = &scan.last {
        conditions.push(after_key(&columns, last));
    }
    if let Some(filter) = &scan.request.filter {
        conditions.push(format!("({filter})"));
    }
    let all: Vec<String> = table.columns.iter().map(|c| quote_ident(&c.name)).collect();
    let sql = format!(
        "SELECT {} FROM {}.{} WHERE {} ORDER BY {} LIMIT {chunk_size}",
        all.join(", "),
        quote_ident(&table.db),
        quote_ident(&table.name),
        conditions.join(" AND "),
        columns.join(", ")
    );
    let Some(at) = consistent_point_after(conn, stream).await? else {
        return Err(MySqlError::Stream(format!(
            "incremental snapshot of {name}: the server gives no binlog_snapshot_position \
             (is log_bin on?)"
        )));
    };
    let read: Result<Vec<Row>, _> = conn.query(sql).await;
    conn.query_drop("COMMIT")
        .await
        .map_err(|e| MySqlError::query("ending a chunk's transaction", e))?;
    let rows = read.map_err(|e| MySqlError::query(format!("reading a chunk of {name}"), e))?;
    let last = rows.last().map(|row| {
        (0..scan.order.len())
            .map(|i| text(row, scan.order[i]).unwrap_or_default())
            .collect()
    });
    Ok(Chunk {
        finished: rows.len() < chunk_size,
        at,
        rows,
        last,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_conditions_follow_the_key_order() {
        let columns = vec!["`a`".to_string(), "`b`".to_string()];
        assert_eq!(
            after_key(&columns, &["1".into(), "x".into()]),
            "((`a` > '1') OR (`a` = '1' AND `b` > 'x'))"
        );
        let at = BinlogPosition {
            file: "bin.000002".into(),
            pos: 100,
        };
        assert!(at_or_after(("bin.000002", 100), &at));
        assert!(at_or_after(("bin.000003", 4), &at));
        assert!(!at_or_after(("bin.000002", 99), &at));
        assert!(!at_or_after(("bin.000001", 900), &at));
    }
}
