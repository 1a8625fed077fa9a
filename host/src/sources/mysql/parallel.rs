//! MariaDB initial snapshots read by several connections (`snapshot.max.threads` above 1),
//! without a global lock.
//!
//! Every connection starts `START TRANSACTION WITH CONSISTENT SNAPSHOT`; MariaDB tells each
//! the binlog point its snapshot is at (`binlog_snapshot_file`/`binlog_snapshot_position`).
//! Two snapshots at the same point see the same data: a snapshot sees exactly the
//! transactions before its point. So the connections start their snapshots back to back
//! until all report one point (no commit came in between); under a steady write load that
//! takes a few tries. If many tries fail, a brief `FLUSH TABLES WITH READ LOCK` aligns them
//! when `snapshot.locking.mode=minimal` allows it (a server without the RELOAD privilege, as
//! managed services, refuses it); otherwise the snapshot is read by one connection, with a
//! warning saying why.
//!
//! Tables with a one-column integer primary key are cut into key ranges of about
//! [`RANGE_ROWS`] rows, which the extra connections read and turn into events; ranges are
//! handed back in table and key order, at most two per connection ahead of the one being
//! emitted, so the output, its markers and the resumable progress are those of one
//! connection and memory stays bounded. Other tables are streamed by the snapshot's own
//! connection, in their turn.

use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio::task::JoinSet;

use super::catalog::{self, BinlogPosition, quote_ident, text};
use super::changes::{ChangeBuilder, Position};
use super::config::{LockingMode, MySqlConfig};
use super::error::MySqlError;
use super::snapshot::{cells, consistent_point, prepare_session};
use super::table::Table;
use super::types::MySqlType;
use crate::event::Record;
use crate::sources::in_order::{InOrder, Work, deliver};

/// About this many rows per range.
const RANGE_ROWS: u64 = 8192;
/// How many times the connections start their snapshots before another way is taken.
const ALIGN_TRIES: usize = 50;

/// Starts consistent snapshots at one binlog point on `main` and `extra`, as the module
/// explains; returns the point, or `None` (every transaction rolled back) when they could not
/// be aligned.
pub async fn align(
    main: &mut Conn,
    extra: &mut [Conn],
    config: &MySqlConfig,
) -> Result<Option<BinlogPosition>, MySqlError> {
    for _ in 0..ALIGN_TRIES {
        let Some(point) = consistent_point(main).await? else {
            rollback(main).await?;
            return Ok(None);
        };
        let mut aligned = true;
        for conn in extra.iter_mut() {
            aligned &= consistent_point(conn).await?.as_ref() == Some(&point);
        }
        if aligned {
            return Ok(Some(point));
        }
        rollback(main).await?;
        for conn in extra.iter_mut() {
            rollback(conn).await?;
        }
    }
    if config.locking_mode == LockingMode::Minimal
        && main.query_drop("FLUSH TABLES WITH READ LOCK").await.is_ok()
    {
        let point = consistent_point(main).await?;
        for conn in extra.iter_mut() {
            consistent_point(conn).await?;
        }
        main.query_drop("UNLOCK TABLES")
            .await
            .map_err(|e| MySqlError::query("releasing the snapshot's global read lock", e))?;
        tracing::info!("the snapshot's connections were aligned under a brief global read lock");
        return Ok(point);
    }
    tracing::warn!(
        tries = ALIGN_TRIES,
        "the snapshot's connections could not start at one binlog point under this write load, \
         and a global read lock is not allowed (snapshot.locking.mode=none or no RELOAD \
         privilege): the snapshot is read by one connection"
    );
    Ok(None)
}

/// Rolls back a connection's snapshot transaction.
async fn rollback(conn: &mut Conn) -> Result<(), MySqlError> {
    conn.query_drop("ROLLBACK")
        .await
        .map_err(|e| MySqlError::query("ending a snapshot transaction", e))
}

/// Opens `count` connections prepared to read the snapshot.
pub async fn connect(config: &MySqlConfig, count: usize) -> Result<Vec<Conn>, MySqlError> {
    let mut conns = Vec::with_capacity(count);
    for _ in 0..count {
        let mut conn = catalog::connect(config).await?;
        prepare_session(&mut conn).await?;
        conns.push(conn);
    }
    Ok(conns)
}

/// Keys `from` up to `to` (inclusive) of table `table`.
#[derive(Debug, Clone, Copy)]
struct Range {
    table: usize,
    from: i128,
    to: i128,
}

/// The events of one range, in key order, with each row's key text.
pub struct RangeRows {
    pub rows: Vec<(Record, Vec<String>)>,
    /// Frees the reader to read ahead once these rows are emitted (dropped with them).
    _permit: OwnedSemaphorePermit,
}

/// The readers of a snapshot, and the ranges they read ahead.
pub struct Readers {
    results: InOrder<RangeRows, MySqlError>,
    /// The table of each range, in order.
    tables: Vec<usize>,
    _tasks: JoinSet<()>,
}

/// Whether a table's key is one integer column, which ranges can cut.
fn int_key(table: &Table) -> Option<usize> {
    match table.key.as_slice() {
        [i] if matches!(table.columns[*i].kind, MySqlType::Int { .. }) => Some(*i),
        _ => None,
    }
}

/// Cuts the tables with an integer key into ranges of about [`RANGE_ROWS`] rows, as the
/// server's row estimates spread over their key spans.
async fn plan(conn: &mut Conn, tables: &[Arc<Table>]) -> Result<Vec<Range>, MySqlError> {
    let mut ranges = Vec::new();
    for (index, table) in tables.iter().enumerate() {
        let Some(key) = int_key(table) else {
            continue;
        };
        let column = quote_ident(&table.columns[key].name);
        let sql = format!(
            "SELECT MIN({column}), MAX({column}), \
             (SELECT table_rows FROM information_schema.tables \
              WHERE table_schema = {} AND table_name = {}) FROM {}.{}",
            catalog::quote_literal(&table.db),
            catalog::quote_literal(&table.name),
            quote_ident(&table.db),
            quote_ident(&table.name)
        );
        let rows: Vec<Row> = conn.query(sql).await.map_err(|e| {
            MySqlError::query(format!("planning the snapshot of {}", table.full_name()), e)
        })?;
        let number = |i: usize| {
            rows.first()
                .and_then(|r| text(r, i))
                .and_then(|t| t.parse::<i128>().ok())
        };
        let (Some(min), Some(max)) = (number(0), number(1)) else {
            // Empty: one range reads it (and finds nothing).
            ranges.push(Range {
                table: index,
                from: 0,
                to: -1,
            });
            continue;
        };
        let estimate = number(2).unwrap_or(0).max(1);
        let parts = (estimate as u64).div_ceil(RANGE_ROWS).max(1) as i128;
        let width = ((max - min + 1) / parts).max(1);
        let mut from = min;
        while from <= max {
            let to = (from + width - 1).min(max);
            ranges.push(Range {
                table: index,
                from,
                to,
            });
            from = to + 1;
        }
    }
    Ok(ranges)
}

/// Reads one range's rows and turns them into events.
async fn read_range(
    conn: &mut Conn,
    config: &MySqlConfig,
    table: &Table,
    range: Range,
    at: &Position<'_>,
) -> Result<Vec<(Record, Vec<String>)>, MySqlError> {
    let key = int_key(table).expect("ranges are planned for integer keys");
    let column = quote_ident(&table.columns[key].name);
    let all: Vec<String> = table.columns.iter().map(|c| quote_ident(&c.name)).collect();
    let sql = format!(
        "SELECT {} FROM {}.{} WHERE {column} BETWEEN {} AND {} ORDER BY {column}",
        all.join(", "),
        quote_ident(&table.db),
        quote_ident(&table.name),
        range.from,
        range.to
    );
    let rows: Vec<Row> = conn.query(sql).await.map_err(|e| {
        MySqlError::query(format!("reading the snapshot of {}", table.full_name()), e)
    })?;
    let builder = ChangeBuilder { config };
    rows.iter()
        .map(|row| {
            let record = builder.read(table, &cells(table, row)?, at)?;
            Ok((record, vec![text(row, key).unwrap_or_default()]))
        })
        .collect()
}

impl Readers {
    /// Plans the ranges of `tables` on `main` (the snapshot's own connection) and starts a
    /// reader on each of `conns`, whose snapshots are at the same point. `at` is where the
    /// snapshot's reads say they are.
    pub async fn start(
        main: &mut Conn,
        conns: Vec<Conn>,
        config: &MySqlConfig,
        tables: &[Arc<Table>],
        at: (BinlogPosition, crate::event::envelope::Timestamp),
    ) -> Result<Readers, MySqlError> {
        let ranges = plan(main, tables).await?;
        tracing::info!(
            connections = conns.len() + 1,
            ranges = ranges.len(),
            "snapshot read by several connections"
        );
        let range_tables = ranges.iter().map(|r| r.table).collect();
        let work = Work::new(ranges, conns.len() * 2);
        let (send, results) = mpsc::channel(conns.len() * 2);
        let config = Arc::new(config.clone());
        let shared_tables: Arc<Vec<Arc<Table>>> = Arc::new(tables.to_vec());
        let at = Arc::new(at);
        let mut tasks = JoinSet::new();
        for mut conn in conns {
            let (work, send) = (work.clone(), send.clone());
            let (config, tables, at) = (config.clone(), shared_tables.clone(), at.clone());
            tasks.spawn(async move {
                let position = Position {
                    ts: at.1,
                    snapshot: crate::event::envelope::SnapshotMarker::Yes,
                    server_id: 0,
                    gtid: None,
                    file: &at.0.file,
                    pos: at.0.pos,
                    row: 0,
                    thread: None,
                };
                while let Some((index, range, permit)) = work.take().await {
                    let table = &tables[range.table];
                    let result = read_range(&mut conn, &config, table, range, &position)
                        .await
                        .map(|rows| RangeRows {
                            rows,
                            _permit: permit,
                        });
                    if !deliver(&send, index, result).await {
                        return;
                    }
                }
            });
        }
        Ok(Readers {
            results: InOrder::new(results),
            tables: range_tables,
            _tasks: tasks,
        })
    }

    /// Whether table `table` is read by the readers.
    pub fn reads(&self, table: usize) -> bool {
        self.tables.contains(&table)
    }

    /// The next range of table `table`, in order; `None` after its last.
    pub async fn next(&mut self, table: usize) -> Option<Result<RangeRows, MySqlError>> {
        if self.tables.get(self.results.position()) != Some(&table) {
            return None;
        }
        Some(self.results.next().await.unwrap_or_else(|| {
            Err(MySqlError::Stream(
                "the snapshot's readers ended before its last range".into(),
            ))
        }))
    }
}
