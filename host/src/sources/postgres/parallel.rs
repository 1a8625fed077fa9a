//! Initial snapshots read by several connections (`snapshot.max.threads` above 1): every
//! table is cut into `ctid` page ranges, which `threads` connections read, each in a
//! `REPEATABLE READ` transaction on the snapshot transaction's exported snapshot (so all see
//! the same data). Ranges are handed back in table and page order, at most two per
//! connection ahead of the one being emitted: the output, its markers and a resumable
//! snapshot's progress are those of one connection, and memory stays bounded whatever the
//! table's size.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio::task::JoinSet;
use tokio_postgres::Client;

use super::catalog;
use super::chunks;
use super::config::PostgresConfig;
use super::error::PostgresError;
use super::snapshot::{Read, copy_all, quote_ident, read_line};
use super::table::Table;
use crate::sources::in_order::{InOrder, Work, deliver};

/// About this many rows per range, as the planner counts a table's rows per page.
const RANGE_ROWS: f64 = 16384.0;

/// The exported snapshot the readers import, and how many read.
#[derive(Debug, Clone)]
pub struct Parallel {
    pub snapshot: String,
    pub threads: usize,
}

/// Pages `from` up to `to` (to the table's end when `None`) of table `table`.
#[derive(Debug, Clone, Copy)]
struct Range {
    table: usize,
    from: u64,
    to: Option<u64>,
}

/// The rows of one range, in `ctid` order.
pub struct RangeRows {
    /// The table's position in the snapshot.
    pub table: usize,
    pub rows: Vec<Read>,
    /// Frees the reader to read ahead once these rows are emitted (dropped with them).
    _permit: OwnedSemaphorePermit,
}

/// The readers of a snapshot, and the ranges they read ahead.
pub struct Readers {
    results: InOrder<RangeRows, PostgresError>,
    total: usize,
    _tasks: JoinSet<()>,
}

/// Cuts `tables` into ranges of about [`RANGE_ROWS`] rows (at least one per table, the
/// last of each open-ended: pages added since the size was read hold no row of the
/// snapshot, and a table that is not a plain one is one range).
async fn plan(client: &Client, tables: &[Arc<Table>]) -> Result<Vec<Range>, PostgresError> {
    let mut ranges = Vec::new();
    for (index, table) in tables.iter().enumerate() {
        let size = chunks::pages(client, table).await?;
        let step = ((RANGE_ROWS / size.rows_per_page) as u64).max(1);
        let mut from = 0;
        while size.plain && from + step < size.pages {
            ranges.push(Range {
                table: index,
                from,
                to: Some(from + step),
            });
            from += step;
        }
        ranges.push(Range {
            table: index,
            from,
            to: None,
        });
    }
    Ok(ranges)
}

/// A reader's connection, in a transaction on the exported snapshot, scanning in `ctid`
/// order.
async fn connect(config: &PostgresConfig, snapshot: &str) -> Result<Client, PostgresError> {
    let client = catalog::connect(config).await?;
    client
        .batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION SNAPSHOT '{snapshot}'; \
             SET LOCAL synchronize_seqscans = off; SET LOCAL max_parallel_workers_per_gather = 0"
        ))
        .await
        .map_err(|e| PostgresError::query("starting a snapshot reader's transaction", e))?;
    Ok(client)
}

/// Reads one range's rows.
async fn read_range(
    client: &Client,
    config: &PostgresConfig,
    table: &Table,
    range: Range,
    with_ctid: bool,
) -> Result<Vec<Read>, PostgresError> {
    let mut columns: Vec<String> = table.columns.iter().map(|c| quote_ident(&c.name)).collect();
    if with_ctid {
        columns.insert(0, "ctid".into());
    }
    let mut conditions = vec![format!("ctid >= '({},0)'::tid", range.from)];
    if let Some(to) = range.to {
        conditions.push(format!("ctid < '({to},0)'::tid"));
    }
    let sql = format!(
        "COPY (SELECT {} FROM {}.{} WHERE {}) TO STDOUT",
        columns.join(", "),
        quote_ident(&table.schema),
        quote_ident(&table.name),
        conditions.join(" AND ")
    );
    let what = || format!("reading the snapshot of {}.{}", table.schema, table.name);
    let data = copy_all(client, &sql, what).await?;
    data.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|line| read_line(config, table, &data.slice_ref(line), with_ctid))
        .collect()
}

impl Readers {
    /// Plans the ranges of `tables` (on `client`, the snapshot's own connection) and starts
    /// `parallel.threads` readers.
    pub async fn start(
        client: &Client,
        config: &PostgresConfig,
        tables: &[Arc<Table>],
        parallel: &Parallel,
        with_ctid: bool,
    ) -> Result<Readers, PostgresError> {
        let ranges = plan(client, tables).await?;
        let total = ranges.len();
        tracing::info!(
            threads = parallel.threads,
            ranges = total,
            "snapshot read by several connections"
        );
        let work = Work::new(ranges, parallel.threads * 2);
        let (send, results) = mpsc::channel(parallel.threads * 2);
        let config = Arc::new(config.clone());
        let tables: Arc<Vec<Arc<Table>>> = Arc::new(tables.to_vec());
        let mut tasks = JoinSet::new();
        for _ in 0..parallel.threads {
            let (work, send) = (work.clone(), send.clone());
            let (config, tables, snapshot) =
                (config.clone(), tables.clone(), parallel.snapshot.clone());
            tasks.spawn(async move {
                let client = match connect(&config, &snapshot).await {
                    Ok(client) => client,
                    Err(error) => {
                        let _ = send.send((0, Err(error))).await;
                        return;
                    }
                };
                while let Some((index, range, permit)) = work.take().await {
                    let table = &tables[range.table];
                    let result = read_range(&client, &config, table, range, with_ctid)
                        .await
                        .map(|rows| RangeRows {
                            table: range.table,
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
            total,
            _tasks: tasks,
        })
    }

    /// The next range in order; `None` after the last.
    pub async fn next(&mut self) -> Option<Result<RangeRows, PostgresError>> {
        if self.results.position() == self.total {
            return None;
        }
        Some(self.results.next().await.unwrap_or_else(|| {
            Err(PostgresError::Replication(
                "the snapshot's readers ended before its last range".into(),
            ))
        }))
    }
}
