//! Incremental snapshots of Postgres tables (Debezium's, after Netflix's DBLog), read while
//! the stream goes on: a table is read in chunks of `incremental.snapshot.chunk.size` rows in
//! primary-key order, each between two watermarks written into the change stream.
//!
//! A chunk: a *low* watermark (a non-transactional logical decoding message,
//! `pg_logical_emit_message(false, …)`, which writes no table), then the chunk's `SELECT` on
//! the management connection, then a *high* watermark. The stream delivers the messages in
//! WAL order among the transactions (which it delivers at their commit). Every transaction
//! the `SELECT` saw committed before it, and so before the high watermark; a change the
//! stream delivers between the two watermarks may or may not be in the chunk, so its key is
//! dropped from the chunk (the change event carries the newer state); a change after the high
//! watermark committed after the `SELECT`, and follows the chunk's rows. At the high
//! watermark the chunk's remaining rows are emitted as reads (`op` `r`, `source.snapshot`
//! `incremental`). Whatever happens to a key, the last event for it in the output holds its
//! latest state.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use tokio_postgres::Client;

use super::changes::{ChangeBuilder, Position};
use super::chunks::{self, Order, literal};
use super::config::PostgresConfig;
use super::error::PostgresError;
use super::pgoutput::Cell;
use super::snapshot::{copy_all, parse_copy_line};
use super::table::Table;
use crate::event::envelope::{SnapshotMarker, Timestamp};
use crate::event::{Record, Value};
use crate::sources::incremental_offset::{Entry, Progress};
use crate::sources::notify::key_label as label;

/// The prefix of Tidemark's watermark messages.
pub const WATERMARK: &str = "tidemark.incremental";

/// A table to read, as a signal asked for it.
#[derive(Debug, Clone)]
pub struct Request {
    pub table: Arc<Table>,
    /// `additional-conditions`' filter for this table.
    pub filter: Option<String>,
    /// `surrogate-key`: the column chunks follow instead of the primary key.
    pub surrogate: Option<String>,
    /// Chunks by `ctid` page ranges (the rest of an interrupted initial snapshot) instead
    /// of by key.
    pub by_ctid: bool,
    /// Where the reading resumes: the last position emitted before a restart.
    pub after: Option<Vec<String>>,
}

impl Request {
    /// A table read by key from its start.
    pub fn new(table: Arc<Table>, filter: Option<String>, surrogate: Option<String>) -> Request {
        Request {
            table,
            filter,
            surrogate,
            by_ctid: false,
            after: None,
        }
    }
}

/// The table being read.
#[derive(Debug)]
struct Scan {
    request: Request,
    order: Order,
    /// The last position read (key values or a `ctid`); `None` before the first chunk.
    last: Option<Vec<String>>,
    /// The table's end when its reading began (its last key, or its page count).
    max: Vec<String>,
    rows: u64,
}

/// A row of a chunk: its key's canonical text, its value and its key.
#[derive(Debug)]
struct ChunkRow {
    key_text: String,
    row: Value,
    key: Option<Value>,
}

impl Scan {
    /// The table's `schema.table`.
    fn name(&self) -> String {
        format!("{}.{}", self.request.table.schema, self.request.table.name)
    }
}

/// A chunk read and waiting for its high watermark.
#[derive(Debug)]
struct Window {
    id: String,
    /// The low watermark has come through the stream: changes now drop keys.
    open: bool,
    /// How many rows the chunk's query returned.
    read: u64,
    /// The chunk's rows not superseded by a change.
    rows: Vec<ChunkRow>,
    /// The chunk key of the last row read.
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
    window: Option<Window>,
    paused: bool,
    chunk_size: usize,
    /// The tables asked for, `schema.table`, for the notifications.
    names: Vec<String>,
}

/// A key's canonical text, to compare a chunk's rows with the stream's changes.
fn key_text(key: &Value) -> String {
    format!("{key:?}")
}

impl Incremental {
    /// A snapshot of `requests`, read `chunk_size` rows at a time.
    pub fn new(id: String, requests: Vec<Request>, chunk_size: usize) -> Incremental {
        let names = requests
            .iter()
            .map(|r| format!("{}.{}", r.table.schema, r.table.name))
            .collect();
        Incremental {
            id,
            queue: requests.into(),
            scan: None,
            window: None,
            paused: false,
            chunk_size,
            names,
        }
    }

    /// Pauses (`true`) or resumes reading chunks; a chunk already read is still emitted.
    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
    }

    /// Reads the next chunk unless one is waiting for its watermark or the snapshot is
    /// paused: writes the low watermark, reads the chunk on `client`, writes the high one.
    /// Tables found empty are done at once. Returns what to emit now.
    pub async fn next_chunk(
        &mut self,
        client: &Client,
        config: &PostgresConfig,
    ) -> Result<Step, PostgresError> {
        let mut step = Step::default();
        if self.paused || self.window.is_some() {
            return Ok(step);
        }
        loop {
            if self.scan.is_none() {
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
                match self.begin(client, request).await? {
                    Some(scan) => self.scan = Some(scan),
                    None => continue,
                }
            }
            let scan = self.scan.as_ref().expect("a scan");
            let window = self.read_chunk(client, config, scan).await?;
            // Debezium announces each chunk once it is read, with its last key.
            let mut data = vec![
                ("current_collection_in_progress", scan.name()),
                ("maximum_key", label(&scan.max)),
            ];
            if let Some(last) = window.last.as_ref().or(scan.last.as_ref()) {
                data.push(("last_processed_key", label(last)));
            }
            data.extend(self.data());
            step.records
                .extend(
                    config
                        .notifications
                        .incremental_snapshot("IN_PROGRESS", &self.id, &data),
                );
            self.window = Some(window);
            return Ok(step);
        }
    }

    fn data(&self) -> Vec<(&'static str, String)> {
        vec![("data_collections", self.names.join(","))]
    }

    /// Starts reading a table: how its chunks follow one another and where it ends now;
    /// `None` for a table with no rows (or no key to follow).
    async fn begin(
        &self,
        client: &Client,
        request: Request,
    ) -> Result<Option<Scan>, PostgresError> {
        let Some((order, max)) = chunks::start(
            client,
            &request.table,
            request.surrogate.as_deref(),
            request.filter.as_deref(),
            request.by_ctid,
            self.chunk_size,
        )
        .await?
        else {
            return Ok(None);
        };
        let name = format!("{}.{}", request.table.schema, request.table.name);
        // A position of another order (a `ctid` for a table now read by key) starts over.
        let by_ctid = matches!(order, Order::Pages(_));
        let last = request.after.clone().filter(|_| by_ctid == request.by_ctid);
        match &last {
            Some(after) => {
                tracing::info!(table = %name, after = %label(after), "incremental snapshot resumed after its last chunk")
            }
            None => tracing::info!(table = %name, "incremental snapshot of table"),
        }
        Ok(Some(Scan {
            last,
            request,
            order,
            max,
            rows: 0,
        }))
    }

    /// Writes the low watermark, reads a chunk after the scan's last key, writes the high
    /// watermark.
    async fn read_chunk(
        &self,
        client: &Client,
        config: &PostgresConfig,
        scan: &Scan,
    ) -> Result<Window, PostgresError> {
        let table = &scan.request.table;
        let name = format!("{}.{}", table.schema, table.name);
        let id = uuid::Uuid::new_v4().to_string();
        let emit = |kind: &'static str| {
            format!(
                "SELECT pg_logical_emit_message(false, '{WATERMARK}', {})",
                literal(&format!("{id}:{kind}"))
            )
        };
        let chunk = chunks::query(
            table,
            &scan.order,
            scan.last.as_deref(),
            &scan.max,
            scan.request.filter.as_deref(),
            self.chunk_size,
        );
        let sql = chunk.sql;
        let what = || format!("reading a chunk of {name}");
        client
            .batch_execute(&emit("open"))
            .await
            .map_err(|e| PostgresError::query("writing a low watermark", e))?;
        let data = copy_all(client, &sql, what).await?;
        // A non-transactional message waits in the WAL buffers (up to wal_writer_delay)
        // until something flushes them: a transaction with an id, committed synchronously,
        // flushes the high watermark at once (Postgres 15 skips the empty transaction in the
        // stream).
        let close = format!(
            "BEGIN; SET LOCAL synchronous_commit = on; {}; SELECT pg_current_xact_id(); COMMIT",
            emit("close")
        );
        client
            .batch_execute(&close)
            .await
            .map_err(|e| PostgresError::query("writing a high watermark", e))?;
        let mut rows = Vec::new();
        let mut last = None;
        for line in data.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let cells = parse_copy_line(&data.slice_ref(line));
            if let Order::Key(keys) = &scan.order {
                last = Some(
                    keys.iter()
                        .map(|i| match &cells[*i] {
                            Cell::Text(text) => String::from_utf8_lossy(&text[..]).into_owned(),
                            _ => String::new(),
                        })
                        .collect(),
                );
            }
            let key = table.key(&cells, config)?;
            rows.push(ChunkRow {
                key_text: key.as_ref().map(key_text).unwrap_or_default(),
                row: table.row(&cells, config)?,
                key,
            });
        }
        // A page range ends where it was cut; a key chunk at its last row, the table with a
        // short chunk.
        let finished = match chunk.pages_end {
            Some((next, end)) => {
                last = Some(vec![next]);
                end
            }
            None => rows.len() < self.chunk_size,
        };
        Ok(Window {
            id,
            open: false,
            read: rows.len() as u64,
            finished,
            rows,
            last,
        })
    }

    /// A watermark came through the stream at `lsn`. At the high watermark the chunk's
    /// remaining rows are returned as reads (their `source.sequence` names the watermark, as
    /// Debezium's name the window's closing marker); the caller then reads the next chunk.
    pub fn watermark(&mut self, content: &str, lsn: u64, config: &PostgresConfig) -> Option<Step> {
        let (id, kind) = content.rsplit_once(':')?;
        let window = self.window.as_mut().filter(|w| w.id == id)?;
        if kind == "open" {
            window.open = true;
            return None;
        }
        let window = self.window.take()?;
        let mut step = Step::default();
        let scan = self.scan.as_mut()?;
        scan.rows += window.read;
        let at = Position {
            ts: Timestamp::now(),
            tx_id: None,
            lsn: Some(lsn),
            last_lsn: Some(lsn),
            snapshot: SnapshotMarker::Incremental,
        };
        let table = &scan.request.table;
        step.records.extend(
            window
                .rows
                .into_iter()
                .map(|r| ChangeBuilder { config }.read(table, r.row, r.key, &at)),
        );
        if window.last.is_some() {
            scan.last = window.last;
        }
        if window.finished {
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
        Some(step)
    }

    /// Drops from the waiting chunk the rows whose keys `changes` (stream events of
    /// `schema.table`) carry, once the low watermark has passed.
    pub fn changed(&mut self, schema: &str, table: &str, changes: &[Record]) {
        let (Some(window), Some(scan)) = (self.window.as_mut(), self.scan.as_ref()) else {
            return;
        };
        if !window.open || scan.request.table.schema != schema || scan.request.table.name != table {
            return;
        }
        let keys: HashSet<String> = changes
            .iter()
            .filter_map(|r| r.key.as_ref().map(|k| key_text(&k.value)))
            .collect();
        window.rows.retain(|r| !keys.contains(&r.key_text));
    }
}

/// The id of the incremental snapshot that reads the rest of an interrupted initial
/// snapshot.
pub use crate::sources::incremental_offset::INITIAL_REST;

/// An offset's entry for a table to read.
fn entry(request: &Request) -> Entry {
    Entry {
        name: format!("{}.{}", request.table.schema, request.table.name),
        filter: request.filter.clone(),
        surrogate: request.surrogate.clone(),
        by_ctid: request.by_ctid,
    }
}

/// Adds to an initial snapshot's offset what reads its rest if it is interrupted: `tables`
/// (the one being read first), by `ctid` page ranges after `after`, the `ctid` of the last
/// row emitted.
pub fn store_initial_progress(
    offset: &mut crate::offsets::OffsetMap,
    tables: &[Arc<Table>],
    after: &str,
) {
    Progress {
        id: INITIAL_REST.into(),
        entries: tables
            .iter()
            .map(|t| {
                entry(&Request {
                    by_ctid: true,
                    ..Request::new(t.clone(), None, None)
                })
            })
            .collect(),
        last: Some(vec![after.to_owned()]),
        max: None,
    }
    .store(offset);
}

impl Incremental {
    /// Adds the snapshot's progress to an offset: the tables left (the one being read
    /// first), the last position emitted and the table's end, so that a restart resumes
    /// after the last chunk emitted.
    pub fn store(&self, offset: &mut crate::offsets::OffsetMap) {
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
    /// `schema.table`); `None` when the offset has none. A table no longer captured is
    /// dropped from it. The first table goes on after the last position emitted (its end
    /// is taken again: rows added since are read too, which the stream's order makes
    /// harmless); a position Tidemark cannot read (Debezium's serialized keys) starts the
    /// table again.
    pub fn resume(
        offset: &crate::offsets::OffsetMap,
        chunk_size: usize,
        table: impl Fn(&str) -> Option<Arc<Table>>,
    ) -> Option<Incremental> {
        let (id, tables) = crate::sources::incremental_offset::resume(offset, table)?;
        let requests = tables
            .into_iter()
            .map(|r| Request {
                by_ctid: r.entry.by_ctid,
                after: r.after,
                ..Request::new(r.table, r.entry.filter, r.entry.surrogate)
            })
            .collect();
        Some(Incremental::new(id, requests, chunk_size))
    }
}
