//! The initial snapshot. On MariaDB it takes no lock: `START TRANSACTION WITH CONSISTENT
//! SNAPSHOT` and the `binlog_snapshot_file`/`binlog_snapshot_position` status give the
//! binlog position the transaction sees. Elsewhere (MySQL) `snapshot.locking.mode=minimal`
//! holds a global read lock only while the transaction starts and the position is read.
//! Tables are read in primary-key order, one streamed query each (rows are read from the
//! socket as the pipeline takes them), and emitted as `op` r events with Debezium's markers.

use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};

use super::catalog::{self, BinlogPosition, quote_ident, text};
use super::changes::{ChangeBuilder, Position};
use super::config::{Flavor, LockingMode, MySqlConfig};
use super::error::MySqlError;
use super::incremental::store_initial_progress;
use super::offset::BinlogOffset;
use super::parallel::Readers;
use super::table::Table;
use super::types::{Cell, parse_text};
use crate::event::envelope::{SnapshotMarker, Timestamp};
use crate::event::{Record, Value};
use crate::sources::metrics::{BatchSender, TableScan};
use crate::sources::notify;
use crate::sources::{Batch, Checkpoint};
use std::sync::atomic::Ordering;

/// Where a snapshot's transaction sits in the binlog.
#[derive(Debug, Clone)]
pub struct SnapshotPoint {
    pub position: BinlogPosition,
    pub gtids: Option<String>,
    pub started: Timestamp,
}

/// Prepares a connection to read rows as the snapshot does: UTF-8, UTC, long writes,
/// REPEATABLE READ.
pub async fn prepare_session(conn: &mut Conn) -> Result<(), MySqlError> {
    for sql in [
        "SET NAMES utf8mb4",
        "SET SESSION time_zone = '+00:00'",
        "SET SESSION net_write_timeout = 3600",
        "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
    ] {
        conn.query_drop(sql)
            .await
            .map_err(|e| MySqlError::query("preparing a snapshot session", e))?;
    }
    Ok(())
}

/// MariaDB: starts a consistent-snapshot transaction on `conn` and returns the binlog
/// position it sees (`binlog_snapshot_file`/`binlog_snapshot_position`): the transaction sees
/// every transaction before it in the binlog and none after. `None` (the transaction still
/// open) when the server does not tell.
pub async fn consistent_point(conn: &mut Conn) -> Result<Option<BinlogPosition>, MySqlError> {
    let what = "starting a consistent-snapshot transaction";
    conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        .await
        .map_err(|e| MySqlError::query(what, e))?;
    let status: Vec<Row> = conn
        .query("SHOW STATUS WHERE Variable_name IN ('binlog_snapshot_file', 'binlog_snapshot_position')")
        .await
        .map_err(|e| MySqlError::query(what, e))?;
    let get = |name: &str| {
        status
            .iter()
            .find(|r| text(r, 0).is_some_and(|n| n.eq_ignore_ascii_case(name)))
            .and_then(|r| text(r, 1))
    };
    Ok(
        match (get("binlog_snapshot_file"), get("binlog_snapshot_position")) {
            (Some(file), Some(pos)) if !file.is_empty() => Some(BinlogPosition {
                file,
                pos: pos.parse().unwrap_or(4),
            }),
            _ => None,
        },
    )
}

/// [`consistent_point`] at or after `stream`, the place the binlog stream has read up to.
///
/// MariaDB writes a transaction to the binlog (and sends it to replicas) before committing it
/// in InnoDB, and a consistent snapshot's point is that of the last transaction committed in
/// InnoDB. So a snapshot taken right after the stream read a transaction may not see it yet,
/// and its point is then before the stream's place: its rows would be older than events
/// already emitted. Such a snapshot is dropped and taken again, a moment later, until the
/// transactions the stream has read are committed. `None` (rolled back) when the server tells
/// no point.
pub async fn consistent_point_after(
    conn: &mut Conn,
    stream: &BinlogPosition,
) -> Result<Option<BinlogPosition>, MySqlError> {
    for _ in 0..CATCH_UP_TRIES {
        let Some(point) = consistent_point(conn).await? else {
            let _ = conn.query_drop("ROLLBACK").await;
            return Ok(None);
        };
        if super::incremental::at_or_after((&point.file, point.pos), stream) {
            return Ok(Some(point));
        }
        conn.query_drop("ROLLBACK")
            .await
            .map_err(|e| MySqlError::query("ending a snapshot transaction", e))?;
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    Err(MySqlError::Lost(format!(
        "a consistent snapshot stayed before the binlog place the stream has read ({}:{}) for {CATCH_UP_TRIES} tries: transactions written to the binlog are not committed",
        stream.file, stream.pos
    )))
}

/// How many times [`consistent_point_after`] takes a snapshot (2 ms apart).
const CATCH_UP_TRIES: usize = 5000;

/// Starts the snapshot transaction on `conn` and reads the binlog position it sees. On
/// MariaDB the `extra` connections start theirs at the same point (they are dropped when
/// that cannot be done, see [`super::parallel`]).
pub async fn begin(
    conn: &mut Conn,
    config: &MySqlConfig,
    extra: &mut Vec<Conn>,
) -> Result<SnapshotPoint, MySqlError> {
    let what = "starting the snapshot transaction";
    prepare_session(conn).await?;
    let started = Timestamp::now();
    if config.flavor == Flavor::MariaDb {
        let position = match extra.is_empty() {
            true => consistent_point(conn).await?,
            false => match super::parallel::align(conn, extra, config).await? {
                Some(position) => Some(position),
                None => {
                    extra.clear();
                    consistent_point(conn).await?
                }
            },
        };
        if let Some(position) = position {
            let gtids: Vec<Row> = conn
                .query(format!(
                    "SELECT BINLOG_GTID_POS('{}', {})",
                    position.file.replace('\'', "''"),
                    position.pos
                ))
                .await
                .map_err(|e| MySqlError::query(what, e))?;
            let gtids = gtids
                .first()
                .and_then(|r| text(r, 0))
                .filter(|g| !g.is_empty());
            tracing::info!(file = %position.file, pos = position.pos, gtids = ?gtids, "consistent snapshot without a lock");
            return Ok(SnapshotPoint {
                position,
                gtids,
                started,
            });
        }
        conn.query_drop("ROLLBACK")
            .await
            .map_err(|e| MySqlError::query(what, e))?;
    }
    extra.clear();
    let lock = config.locking_mode == LockingMode::Minimal;
    if lock {
        conn.query_drop("FLUSH TABLES WITH READ LOCK")
            .await
            .map_err(|e| MySqlError::query("taking the global read lock for the snapshot (grant RELOAD, or set snapshot.locking.mode=none)", e))?;
    } else {
        tracing::warn!(
            "snapshot.locking.mode=none on a server without a consistent-snapshot position: changes made while the snapshot starts may be missed or repeated"
        );
    }
    conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        .await
        .map_err(|e| MySqlError::query(what, e))?;
    let position = catalog::current_position(conn).await?;
    let gtids = catalog::executed_gtids(conn, config.flavor).await?;
    if lock {
        conn.query_drop("UNLOCK TABLES")
            .await
            .map_err(|e| MySqlError::query(what, e))?;
    }
    Ok(SnapshotPoint {
        position,
        gtids,
        started,
    })
}

/// Reads the rows of every table in the snapshot transaction of `conn`.
pub struct Snapshot<'a> {
    pub config: &'a MySqlConfig,
    pub point: &'a SnapshotPoint,
    pub batches: &'a BatchSender,
    /// Per table, a condition its rows must meet (a blocking snapshot's
    /// `additional-conditions`); empty for none.
    pub filters: Vec<Option<String>>,
    /// The offset of the snapshot in progress, at its binlog point, when the stream from
    /// there and the rest of the tables read as an incremental snapshot can meet after a
    /// crash: each full batch then carries it as its checkpoint, with what is left to read.
    pub resumable: Option<BinlogOffset>,
}

/// What a snapshot has emitted and holds back.
struct Emission<'a> {
    batch: Vec<Record>,
    /// The previous row (its marker depends on what follows it), its table, whether it was
    /// its table's first, and its key's text.
    pending: Option<(Record, usize, bool, Vec<String>)>,
    resumable: Option<&'a BinlogOffset>,
    tables: &'a [Arc<Table>],
}

/// Sets the `source.snapshot` marker of a change event.
fn set_marker(record: &mut Record, marker: SnapshotMarker) {
    if let Some(data) = record.value.as_mut()
        && let Value::Struct(envelope) = &mut data.value
        && let Some(Value::Struct(source)) = envelope.get_mut(2)
        && let Some(slot) = source.get_mut(4)
    {
        *slot = Value::String(marker.as_str().into());
    }
}

impl Snapshot<'_> {
    /// Emits every row of every table, the last batch carrying `done` as its checkpoint;
    /// `readers` read the tables they can cut into ranges. Returns the number of rows read.
    pub async fn run(
        &self,
        conn: &mut Conn,
        tables: &[Arc<Table>],
        done: Option<Checkpoint>,
        mut readers: Option<Readers>,
    ) -> Result<u64, MySqlError> {
        let builder = ChangeBuilder {
            config: self.config,
        };
        let at = Position {
            ts: self.point.started,
            snapshot: SnapshotMarker::Yes,
            server_id: 0,
            gtid: None,
            file: &self.point.position.file,
            pos: self.point.position.pos,
            row: 0,
            thread: None,
        };
        let mut out = Emission {
            batch: Vec::with_capacity(self.config.max_batch_size),
            pending: None,
            // Tables are read in key order, so the last key sent tells what is left of them.
            resumable: self
                .resumable
                .as_ref()
                .filter(|_| tables.iter().all(|t| !t.key.is_empty())),
            tables,
        };
        let mut rows = 0u64;
        let names: Vec<String> = tables.iter().map(|t| t.full_name()).collect();
        let scans = self.batches.metrics().snapshot.start(names.clone());
        estimate_rows(conn, &scans).await;
        let notifier = &self.config.notifications;
        let collections = notify::collections(&names);
        out.batch.extend(notifier.initial_snapshot("STARTED", &[]));
        for (index, table) in tables.iter().enumerate() {
            let name = &names[index];
            tracing::info!(table = %name, "snapshot of table");
            out.batch.extend(notifier.table_started(name, &collections));
            let mut first = true;
            if let Some(readers) = readers.as_mut().filter(|r| r.reads(index)) {
                while let Some(range) = readers.next(index).await {
                    for (record, key) in range?.rows {
                        rows += 1;
                        scans[index].row();
                        self.push(&mut out, record, index, first, key).await?;
                        first = false;
                    }
                }
            } else {
                let sql = self.select(index, table);
                let what = || format!("reading the snapshot of {}", table.full_name());
                let mut result = conn
                    .query_iter(sql)
                    .await
                    .map_err(|e| MySqlError::query(what(), e))?;
                while let Some(row) = result
                    .next()
                    .await
                    .map_err(|e| MySqlError::query(what(), e))?
                {
                    let record = builder.read(table, &cells(table, &row)?, &at)?;
                    let key = match out.resumable {
                        Some(_) => table
                            .key
                            .iter()
                            .map(|&i| text(&row, i).unwrap_or_default())
                            .collect(),
                        None => Vec::new(),
                    };
                    rows += 1;
                    scans[index].row();
                    self.push(&mut out, record, index, first, key).await?;
                    first = false;
                }
            }
            scans[index].finished();
            let rows = scans[index].rows.load(Ordering::Relaxed);
            out.batch
                .extend(notifier.table_scanned(name, &collections, rows));
        }
        let count = tables.len();
        if let Some((mut last, index, first, _)) = out.pending {
            set_marker(&mut last, marker(index, count, first, true, true));
            out.batch.push(last);
        }
        out.batch
            .extend(notifier.initial_snapshot("COMPLETED", &[]));
        self.send(&mut out.batch, done).await?;
        Ok(rows)
    }

    /// The query reading table `index` whole, in key order.
    fn select(&self, index: usize, table: &Table) -> String {
        let columns: Vec<String> = table.columns.iter().map(|c| quote_ident(&c.name)).collect();
        let order = if table.key.is_empty() {
            String::new()
        } else {
            let key: Vec<String> = table
                .key
                .iter()
                .map(|&i| quote_ident(&table.columns[i].name))
                .collect();
            format!(" ORDER BY {}", key.join(", "))
        };
        let filter = match self.filters.get(index) {
            Some(Some(filter)) => format!(" WHERE ({filter})"),
            _ => String::new(),
        };
        format!(
            "SELECT {} FROM {}.{}{filter}{order}",
            columns.join(", "),
            quote_ident(&table.db),
            quote_ident(&table.name)
        )
    }

    /// Emits the row before `record` (whose marker `record` decides) and keeps `record`;
    /// sends a full batch, with the snapshot's progress when it is resumable.
    async fn push(
        &self,
        out: &mut Emission<'_>,
        record: Record,
        index: usize,
        first: bool,
        key: Vec<String>,
    ) -> Result<(), MySqlError> {
        let Some((mut previous, previous_index, previous_first, previous_key)) =
            out.pending.replace((record, index, first, key))
        else {
            return Ok(());
        };
        let last_in_table = previous_index != index;
        let count = out.tables.len();
        set_marker(
            &mut previous,
            marker(previous_index, count, previous_first, last_in_table, false),
        );
        out.batch.push(previous);
        if out.batch.len() >= self.config.max_batch_size {
            let checkpoint = out.resumable.map(|o| {
                let mut offset = o.to_map();
                let rest = &out.tables[previous_index..];
                store_initial_progress(&mut offset, rest, previous_key);
                Checkpoint { offset, ack: 0 }
            });
            self.send(&mut out.batch, checkpoint).await?;
        }
        Ok(())
    }

    async fn send(
        &self,
        batch: &mut Vec<Record>,
        checkpoint: Option<Checkpoint>,
    ) -> Result<(), MySqlError> {
        let records = std::mem::replace(batch, Vec::with_capacity(self.config.max_batch_size));
        self.batches
            .send_async(Batch {
                records,
                checkpoint,
            })
            .await
            .map_err(|_| MySqlError::PipelineClosed)
    }
}

/// A text-protocol row's cells, typed by `table`'s columns.
pub fn cells<'r>(table: &Table, row: &'r Row) -> Result<Vec<Cell<'r>>, MySqlError> {
    (0..table.columns.len())
        .map(|i| match row.as_ref(i) {
            Some(mysql_async::Value::Bytes(bytes)) => parse_text(&table.columns[i].kind, bytes)
                .map_err(|reason| MySqlError::Value {
                    table: table.full_name(),
                    column: table.columns[i].name.clone(),
                    reason,
                }),
            _ => Ok(Cell::Null),
        })
        .collect()
}

/// Notes the server's estimate of each table's rows (`information_schema.tables.table_rows`),
/// for the snapshot's progress.
async fn estimate_rows(conn: &mut Conn, scans: &[TableScan]) {
    let estimates: Result<Vec<Row>, _> = conn
        .query(
            "SELECT CONCAT(table_schema, '.', table_name), table_rows \
             FROM information_schema.tables WHERE table_rows IS NOT NULL",
        )
        .await;
    match estimates {
        Ok(rows) => {
            for row in rows {
                let (Some(name), Some(estimate)) = (text(&row, 0), text(&row, 1)) else {
                    continue;
                };
                if let (Some(scan), Ok(estimate)) =
                    (scans.iter().find(|s| s.name == name), estimate.parse())
                {
                    scan.estimate.store(estimate, Ordering::Relaxed);
                }
            }
        }
        Err(error) => {
            tracing::warn!(%error, "cannot read the tables' row estimates; the snapshot's progress shows no estimate")
        }
    }
}

/// Debezium's marker of a snapshot row: `last` for the very last row, `first` for the first
/// row of the first table, then `last_in_data_collection`, `first_in_data_collection`, `true`.
fn marker(
    table_index: usize,
    table_count: usize,
    first_in_table: bool,
    last_in_table: bool,
    final_row: bool,
) -> SnapshotMarker {
    if final_row || (last_in_table && table_index + 1 == table_count) {
        SnapshotMarker::Last
    } else if first_in_table && table_index == 0 {
        SnapshotMarker::First
    } else if last_in_table {
        SnapshotMarker::LastInDataCollection
    } else if first_in_table {
        SnapshotMarker::FirstInDataCollection
    } else {
        SnapshotMarker::Yes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_follow_debezium() {
        assert_eq!(marker(0, 2, true, false, false), SnapshotMarker::First);
        assert_eq!(
            marker(0, 2, false, true, false),
            SnapshotMarker::LastInDataCollection
        );
        assert_eq!(
            marker(1, 2, true, false, false),
            SnapshotMarker::FirstInDataCollection
        );
        assert_eq!(marker(1, 2, false, true, true), SnapshotMarker::Last);
        assert_eq!(marker(1, 3, false, false, false), SnapshotMarker::Yes);
    }
}
