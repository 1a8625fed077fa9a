//! Streaming: the connector registers as a replica, reads the binlog from its start point,
//! turns the rows events of captured tables into change events, and hands them to the
//! pipeline in batches with resumable checkpoints.
//!
//! - [`rows`]: row images decoded column by column from the table map's types.
//! - [`gtid`]: GTIDs of both flavours and MariaDB's GTID events.
//! - [`query`]: QUERY events: transaction boundaries and DDL.

pub mod gtid;
pub mod query;
pub mod rows;
mod signals;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use mysql_async::binlog::events::{Event, EventData, RowsEventData, TableMapEvent};
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStream, BinlogStreamRequest, Conn};
use tokio::sync::watch;

use self::gtid::{GtidSet, MariaGtid};
use self::query::Statement;
use self::rows::{Codec, RowReader};
use super::catalog;
use super::changes::{ChangeBuilder, Position};
use super::config::{Flavor, MySqlConfig};
use super::error::MySqlError;
use super::history::{self, SchemaChanges};
use super::offset::BinlogOffset;
use super::table::Table;
use crate::event::Record;
use crate::event::envelope::{SnapshotMarker, Timestamp};
use crate::event::transaction::TransactionMetadata;
use crate::sources::heartbeat;
use crate::sources::metrics::BatchSender;
use crate::sources::{Batch, Checkpoint};

/// The server error a replica gets when the binlog it asks for is gone.
const ER_MASTER_FATAL_ERROR_READING_BINLOG: u16 = 1236;

/// A captured table as the stream knows it, with the DDL generation it was read at.
struct Known {
    table: Arc<Table>,
    generation: u64,
}

/// A captured table's decoding for one table id.
struct Mapped {
    table: Arc<Table>,
    codecs: Vec<Codec>,
    /// The signal table (`signal.data.collection`): its inserts are signals.
    signal: bool,
    /// Its changes are emitted (the signal table may be read without being captured).
    captured: bool,
}

/// The transaction being read.
#[derive(Debug, Clone)]
struct Txn {
    /// Its GTID as the source block writes it.
    gtid: Option<String>,
    maria: Option<MariaGtid>,
    mysql: Option<(String, u64)>,
    /// Where it starts.
    file: String,
    pos: u64,
    thread: Option<u32>,
    /// A BEGIN (explicit, or implied by a MariaDB GTID) is in effect: the group ends at
    /// XID or COMMIT; otherwise it ends after its one statement.
    open: bool,
    /// Rows events of captured tables completely handled.
    rows_events: u64,
    /// Its BEGIN was handled (for `provide.transaction.metadata`).
    announced: bool,
}

impl Txn {
    /// Debezium's transaction id: the GTID, else `file=<file>,pos=<pos>` of its start.
    fn id(&self) -> String {
        match &self.gtid {
            Some(gtid) => gtid.clone(),
            None => format!("file={},pos={}", self.file, self.pos),
        }
    }
}

/// One streaming session.
pub struct Stream<'a> {
    pub config: &'a MySqlConfig,
    /// Management connection, for catalog reads when a table appears or changes.
    pub catalog: Conn,
    /// The captured tables known at the start, by `(db, table)`.
    pub tables: Vec<Arc<Table>>,
    pub schema_changes: &'a mut SchemaChanges,
    pub batches: BatchSender,
    pub committed: watch::Receiver<Option<Checkpoint>>,
    pub shutdown: watch::Receiver<bool>,
    /// Where to start, and how much of its first transaction was delivered before.
    pub start: BinlogOffset,
    /// `provide.transaction.metadata`: BEGIN/END events and `transaction` blocks, resumed
    /// from the stored offset.
    pub transactions: Option<TransactionMetadata>,
    /// The incremental snapshot in progress, if a signal started one (or the rest of an
    /// interrupted initial snapshot).
    pub incremental: Option<super::incremental::Incremental>,
    /// Signals from the file, Kafka and REST channels.
    pub signals: Arc<crate::sources::signal_channels::SignalInbox>,
}

struct State {
    file: String,
    /// Where the stream is in `file`: the end of the last event read.
    end: u64,
    /// Where the last event read starts.
    last_event: u64,
    /// The GTID of the last transaction read.
    last_gtid: Option<String>,
    /// A blocking snapshot a signal row asked for, taken once its transaction ends.
    blocking: Option<signals::Blocking>,
    /// The connection incremental snapshots read chunks on, opened when first needed.
    chunks: Option<Conn>,
    gtids: GtidSet,
    txn: Option<Txn>,
    known: HashMap<(String, String), Known>,
    mapped: HashMap<u64, Option<Arc<Mapped>>>,
    /// Incremented by every DDL statement: tables read before it are read again.
    generation: u64,
    /// Rows events and rows of the first transaction delivered before a restart.
    skip: Option<(u64, u64)>,
    /// Signals read from the signal table in the current rows event.
    signal_rows: Vec<Option<crate::sources::signals::Signal>>,
    records: Vec<Record>,
    checkpoint: Option<BinlogOffset>,
    heartbeat_due: bool,
    /// A batch with a position but no records went to the pipeline and is not committed
    /// yet: later positions wait for that commit, so a connector that only sees other
    /// databases' transactions wakes its pipeline once per commit, not once per transaction.
    position_in_flight: bool,
    /// A format description event was read: later events' checksums are stripped.
    described: bool,
    last_server_id: u32,
    last_ts: i64,
}

impl State {
    /// The binlog place the stream has read up to: the end of the last event read.
    fn read_up_to(&self) -> super::catalog::BinlogPosition {
        super::catalog::BinlogPosition {
            file: self.file.clone(),
            pos: self.end,
        }
    }
}

impl Stream<'_> {
    /// Opens the replication connection at the start point.
    async fn open(&self) -> Result<BinlogStream, MySqlError> {
        let config = self.config;
        let mut conn = catalog::connect(config).await?;
        let what = "preparing the replication session";
        let gtids = self
            .start
            .gtids
            .as_deref()
            .and_then(GtidSet::parse)
            .map(|g| g.filtered(&config.gtid_sources))
            .filter(|g| !g.is_empty());
        // A blocking snapshot leaves the stream unread for as long as it reads: the server
        // must wait for this replica meanwhile instead of dropping it.
        conn.query_drop("SET SESSION net_write_timeout = 3600")
            .await
            .map_err(|e| MySqlError::query(what, e))?;
        let mut request = BinlogStreamRequest::new(config.server_id)
            .with_filename(self.start.file.as_bytes())
            .with_pos(self.start.pos);
        match config.flavor {
            Flavor::MariaDb => {
                conn.query_drop("SET @mariadb_slave_capability = 4")
                    .await
                    .map_err(|e| MySqlError::query(what, e))?;
                if let Some(gtids) = &gtids {
                    let state = gtids.maria_connect_state();
                    tracing::info!(gtids = %state, "resuming by GTID");
                    conn.query_drop(format!("SET @slave_connect_state = '{state}'"))
                        .await
                        .map_err(|e| MySqlError::query(what, e))?;
                    conn.query_drop("SET @slave_gtid_strict_mode = 0")
                        .await
                        .map_err(|e| MySqlError::query(what, e))?;
                }
            }
            Flavor::MySql => {
                if let Some(gtids) = &gtids {
                    tracing::info!(gtids = %gtids, "resuming by GTID");
                    let sids: Vec<mysql_async::Sid<'static>> = gtids
                        .mysql_intervals()
                        .filter_map(|(uuid, intervals)| {
                            let mut sid = mysql_async::Sid::new(gtid::uuid_bytes(uuid)?);
                            for &(start, end) in intervals {
                                sid = sid
                                    .with_interval(mysql_async::GnoInterval::new(start, end + 1));
                            }
                            Some(sid)
                        })
                        .collect();
                    request = request.with_gtid().with_gtid_set(sids);
                }
            }
        }
        if gtids.is_none() {
            tracing::info!(file = %self.start.file, pos = self.start.pos, "resuming by binlog position");
        }
        conn.get_binlog_stream(request)
            .await
            .map_err(|e| stream_error(e, &self.start))
    }

    /// Streams until shutdown is requested, the pipeline stops, or an error.
    pub async fn run(self) -> Result<(), MySqlError> {
        let metrics = self.batches.metrics().clone();
        let result = self.stream().await;
        metrics
            .streaming
            .connected
            .store(false, std::sync::atomic::Ordering::Relaxed);
        result
    }

    async fn stream(mut self) -> Result<(), MySqlError> {
        let mut stream = self.open().await?;
        self.batches
            .metrics()
            .streaming
            .connected
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let mut state = State {
            file: self.start.file.clone(),
            end: self.start.pos,
            last_event: self.start.pos,
            last_gtid: None,
            blocking: None,
            chunks: None,
            gtids: self
                .start
                .gtids
                .as_deref()
                .and_then(GtidSet::parse)
                .unwrap_or_default(),
            txn: None,
            known: self
                .tables
                .iter()
                .map(|t| {
                    (
                        (t.db.clone(), t.name.clone()),
                        Known {
                            table: t.clone(),
                            generation: 0,
                        },
                    )
                })
                .collect(),
            mapped: HashMap::new(),
            generation: 0,
            skip: (self.start.event > 0 || self.start.row > 0)
                .then_some((self.start.event, self.start.row)),
            signal_rows: Vec::new(),
            // Grown as a batch needs and handed on with it, so an idle connector holds no
            // batch-sized buffer after a burst.
            records: Vec::new(),
            checkpoint: None,
            heartbeat_due: false,
            position_in_flight: false,
            described: false,
            last_server_id: self.start.server_id.unwrap_or(0),
            last_ts: self.start.ts_sec.unwrap_or(0),
        };
        let heartbeats = self.config.heartbeat_interval_ms > 0;
        let mut heartbeat = tokio::time::interval(Duration::from_millis(
            self.config.heartbeat_interval_ms.max(1),
        ));
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if state.heartbeat_due && state.txn.is_none() {
                state.heartbeat_due = false;
                state.records.push(heartbeat::record(
                    &self.config.heartbeat_topic,
                    &self.config.topic_prefix,
                ));
            }
            let pending = !state.records.is_empty()
                || (state.checkpoint.is_some() && !state.position_in_flight);
            tokio::select! {
                biased;
                changed = self.shutdown.changed() => {
                    if changed.is_err() || *self.shutdown.borrow() {
                        break;
                    }
                }
                changed = self.committed.changed() => {
                    if changed.is_err() {
                        return Err(MySqlError::PipelineClosed);
                    }
                    state.position_in_flight = false;
                }
                _ = heartbeat.tick(), if heartbeats => state.heartbeat_due = true,
                signal = self.signals.recv(), if state.txn.is_none() => {
                    self.signal(&mut state, signal).await?;
                }
                event = async {
                    if pending {
                        stream.next().now_or_never().ok_or(())
                    } else {
                        Ok(stream.next().await)
                    }
                } => match event {
                    Ok(Some(Ok(event))) => {
                        self.handle(&mut state, &stream, event).await?;
                        if state.txn.is_none() {
                            self.between_transactions(&mut state).await?;
                        }
                        if state.records.len() >= self.config.max_batch_size {
                            self.send(&mut state).await?;
                        }
                    }
                    Ok(Some(Err(error))) => return Err(stream_error(error, &self.start)),
                    Ok(None) => {
                        return Err(MySqlError::Lost(
                            "the server ended the binlog stream".into(),
                        ));
                    }
                    Err(()) => self.send(&mut state).await?,
                },
                // Nothing to send and no event: the incremental snapshot moves on.
                _ = std::future::ready(()), if self.can_drive(&state) => {
                    self.drive(&mut state).await?;
                }
            }
        }
        self.send(&mut state).await?;
        Ok(())
    }

    async fn handle(
        &mut self,
        state: &mut State,
        stream: &BinlogStream,
        event: Event,
    ) -> Result<(), MySqlError> {
        let header = event.header();
        let kind = header.event_type_raw();
        let end = header.log_pos() as u64;
        let start = end.saturating_sub(header.event_size() as u64);
        if header.timestamp() > 0 {
            state.last_ts = header.timestamp() as i64;
        }
        state.end = state.end.max(end);
        state.last_event = start;
        let failed = |state: &State, reason: String| MySqlError::Event {
            file: state.file.clone(),
            pos: start,
            reason,
        };
        match kind {
            gtid::MARIADB_GTID_EVENT => {
                let body = event.data();
                let parsed = gtid::read_maria_gtid(body, header.server_id())
                    .ok_or_else(|| failed(state, "a MariaDB GTID event too short to read".into()))?;
                state.last_server_id = header.server_id();
                state.txn = Some(Txn {
                    gtid: Some(parsed.gtid.to_string()),
                    maria: Some(parsed.gtid),
                    mysql: None,
                    file: state.file.clone(),
                    pos: start,
                    thread: None,
                    open: !parsed.standalone,
                    rows_events: 0,
                    announced: false,
                });
                // With capability 4 a MariaDB GTID event is the transaction's BEGIN.
                self.begin_transaction(state, header.timestamp());
                return Ok(());
            }
            gtid::MARIADB_GTID_LIST_EVENT
            | gtid::MARIADB_ANNOTATE_ROWS_EVENT
            | 161 /* BINLOG_CHECKPOINT */ => return Ok(()),
            _ => {}
        }
        let data = match event.read_data() {
            Ok(Some(data)) => data,
            Ok(None) => return Ok(()),
            Err(e) => return Err(failed(state, format!("cannot decode the event: {e}"))),
        };
        match data {
            EventData::RotateEvent(rotate) => {
                let mut name = rotate.name_raw();
                // The rotate event a stream starts with comes before the format description,
                // so its checksum is still attached to the name.
                if !state.described && name.len() > 4 {
                    name = &name[..name.len() - 4];
                }
                let file = String::from_utf8_lossy(name).into_owned();
                if file != state.file {
                    state.end = rotate.position();
                }
                state.file = file;
            }
            EventData::FormatDescriptionEvent(_) => state.described = true,
            EventData::GtidEvent(g) => {
                let uuid = gtid::uuid_text(&g.sid());
                state.last_server_id = header.server_id();
                state.txn = Some(Txn {
                    gtid: Some(format!("{uuid}:{}", g.gno())),
                    maria: None,
                    mysql: Some((uuid, g.gno())),
                    file: state.file.clone(),
                    pos: start,
                    thread: None,
                    open: false,
                    rows_events: 0,
                    announced: false,
                });
            }
            EventData::QueryEvent(q) => {
                let sql = q.query();
                let statement = query::classify(&sql);
                if statement == Statement::Begin {
                    let txn = state.txn.get_or_insert_with(|| Txn {
                        gtid: None,
                        maria: None,
                        mysql: None,
                        file: state.file.clone(),
                        pos: start,
                        thread: None,
                        open: true,
                        rows_events: 0,
                        announced: false,
                    });
                    txn.open = true;
                    txn.thread = Some(q.thread_id());
                    self.begin_transaction(state, header.timestamp());
                    return Ok(());
                }
                if statement == Statement::Commit {
                    self.end_transaction(state, header.timestamp());
                    self.commit(state, end, header.server_id());
                    return Ok(());
                }
                let db = q.schema().into_owned();
                let at = Position {
                    ts: Timestamp::from_micros(state.last_ts * 1_000_000),
                    snapshot: SnapshotMarker::No,
                    server_id: header.server_id(),
                    gtid: state.txn.as_ref().and_then(|t| t.gtid.as_deref()),
                    file: &state.file,
                    pos: start,
                    row: 0,
                    thread: state.txn.as_ref().and_then(|t| t.thread),
                };
                match statement {
                    Statement::Ddl => {
                        let offset = self.offset_after(state, end, header.server_id());
                        if let Some(record) = self
                            .schema_changes
                            .ddl(self.config, &mut self.catalog, &db, &sql, &at, &offset)
                            .await?
                        {
                            state.records.push(record);
                        }
                        state.generation += 1;
                        state.mapped.clear();
                    }
                    Statement::Truncate => {
                        if let Some((d, t)) = history::truncated_table(&sql, &db)
                            && let Some(known) = state.known.get(&(d, t))
                        {
                            let table = known.table.clone();
                            let first = state.records.len();
                            ChangeBuilder {
                                config: self.config,
                            }
                            .truncate(&table, &at, &mut state.records);
                            self.tag(state, first, &table);
                        }
                    }
                    _ => {}
                }
                if state.txn.as_ref().is_none_or(|t| !t.open) {
                    self.commit(state, end, header.server_id());
                }
            }
            EventData::XidEvent(_) => {
                self.end_transaction(state, header.timestamp());
                self.commit(state, end, header.server_id());
            }
            EventData::TableMapEvent(_) => {}
            EventData::RowsEvent(rows) => {
                let Some(mapped) = self.mapped(state, stream, rows.table_id()).await? else {
                    // A rows event of a table the connector does not capture (Debezium's
                    // filtered events; counted per binlog event, not per row).
                    self.batches.metrics().streaming.events.filtered(1);
                    return Ok(());
                };
                self.rows(state, &mapped, &rows, &event, start).await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// The captured table and codecs of a table id, `None` for a table not captured.
    async fn mapped(
        &mut self,
        state: &mut State,
        stream: &BinlogStream,
        table_id: u64,
    ) -> Result<Option<Arc<Mapped>>, MySqlError> {
        if let Some(known) = state.mapped.get(&table_id) {
            return Ok(known.clone());
        }
        let Some(tme) = stream.get_tme(table_id) else {
            return Err(MySqlError::Stream(format!(
                "a rows event for table id {table_id} came without its table map"
            )));
        };
        let (db, name) = (
            tme.database_name().into_owned(),
            tme.table_name().into_owned(),
        );
        let captured = self.config.filters.table(&db, &name);
        let signal = self.config.signals.is_signal_table(&db, &name);
        let mapped = if captured || signal {
            let table = self.table_for(state, tme, &db, &name).await?;
            let codecs = rows::codecs(tme).map_err(|source| MySqlError::Row {
                table: format!("{db}.{name}"),
                source,
            })?;
            Some(Arc::new(Mapped {
                table,
                codecs,
                signal,
                captured,
            }))
        } else {
            None
        };
        state.mapped.insert(table_id, mapped.clone());
        Ok(mapped)
    }

    /// The table whose rows a table map describes, read from the catalog again when a DDL
    /// statement came since it was read or its columns differ from the table map's.
    async fn table_for(
        &mut self,
        state: &mut State,
        tme: &TableMapEvent<'_>,
        db: &str,
        name: &str,
    ) -> Result<Arc<Table>, MySqlError> {
        let names: Option<Vec<String>> =
            mysql_async::binlog::events::OptionalMetaExtractor::new(tme.iter_optional_meta())
                .ok()
                .and_then(|meta| {
                    meta.iter_column_name()
                        .map(|n| n.map(|n| n.name().into_owned()))
                        .collect::<Result<Vec<_>, _>>()
                        .ok()
                })
                .filter(|n| !n.is_empty());
        let fits = |table: &Table| match &names {
            Some(names) => table.has_columns(names.iter().map(String::as_str)),
            None => table.columns.len() == tme.columns_count() as usize,
        };
        let key = (db.to_owned(), name.to_owned());
        if let Some(known) = state.known.get(&key)
            && known.generation == state.generation
            && fits(&known.table)
        {
            return Ok(known.table.clone());
        }
        let catalog = catalog::tables(&mut self.catalog, Some((db, name))).await?;
        let table = catalog
            .first()
            .map(|t| Arc::new(Table::from_catalog(self.config, t)))
            .filter(|t| fits(t))
            .ok_or_else(|| MySqlError::Stream(format!(
                "the binlog's layout of {db}.{name} ({} columns{}) is not the table's current one in information_schema: the table changed again since these rows were written; restart with snapshot.mode=when_needed after removing the offset, or keep the connector running ahead of DDL",
                tme.columns_count(),
                names.as_ref().map(|n| format!(": {}", n.join(", "))).unwrap_or_default()
            )))?;
        state.known.insert(
            key,
            Known {
                table: table.clone(),
                generation: state.generation,
            },
        );
        Ok(table)
    }

    async fn rows(
        &mut self,
        state: &mut State,
        mapped: &Mapped,
        rows: &RowsEventData<'_>,
        event: &Event,
        pos: u64,
    ) -> Result<(), MySqlError> {
        let header = event.header();
        let (write, update, delete) = match rows {
            RowsEventData::WriteRowsEventV1(_) | RowsEventData::WriteRowsEvent(_) => {
                (true, false, false)
            }
            RowsEventData::UpdateRowsEventV1(_) | RowsEventData::UpdateRowsEvent(_) => {
                (false, true, false)
            }
            RowsEventData::DeleteRowsEventV1(_) | RowsEventData::DeleteRowsEvent(_) => {
                (false, false, true)
            }
            RowsEventData::PartialUpdateRowsEvent(_) => {
                return Err(MySqlError::Stream(format!(
                    "{}: a partial JSON update event; set binlog_row_value_options='' on the server",
                    mapped.table.full_name()
                )));
            }
        };
        let table = &mapped.table;
        let width = mapped.codecs.len();
        let all = vec![true; width];
        let before: Vec<bool> = rows
            .columns_before_image()
            .map(|b| b.iter().by_vals().collect())
            .unwrap_or_else(|| all.clone());
        let after: Vec<bool> = rows
            .columns_after_image()
            .map(|b| b.iter().by_vals().collect())
            .unwrap_or(all);
        let txn = state.txn.get_or_insert_with(|| Txn {
            gtid: None,
            maria: None,
            mysql: None,
            file: state.file.clone(),
            pos,
            thread: None,
            open: true,
            rows_events: 0,
            announced: false,
        });
        // Rows events already delivered before a restart are skipped whole, then rows.
        let mut skip_rows = 0;
        if let Some((events, skipped_rows)) = state.skip {
            if txn.rows_events < events {
                txn.rows_events += 1;
                return Ok(());
            }
            skip_rows = skipped_rows;
        }
        let row_error = |source| MySqlError::Row {
            table: table.full_name(),
            source,
        };
        let builder = ChangeBuilder {
            config: self.config,
        };
        let first = state.records.len();
        let mut reader = RowReader::new(rows.rows_data());
        let mut index: u64 = 0;
        while !reader.is_done() {
            let old = if update || delete {
                Some(reader.row(&mapped.codecs, &before).map_err(row_error)?)
            } else {
                None
            };
            let new = if update || write {
                Some(reader.row(&mapped.codecs, &after).map_err(row_error)?)
            } else {
                None
            };
            if mapped.signal
                && index >= skip_rows
                && let Some(new) = new.as_ref().filter(|_| write)
            {
                state.signal_rows.push(signals::signal_of(new));
            }
            if index >= skip_rows && mapped.captured {
                let at = Position {
                    ts: Timestamp::from_micros(header.timestamp() as i64 * 1_000_000),
                    snapshot: SnapshotMarker::No,
                    server_id: header.server_id(),
                    gtid: txn.gtid.as_deref(),
                    file: &state.file,
                    pos,
                    row: index as u32,
                    thread: txn.thread,
                };
                match (old, new) {
                    (None, Some(new)) => builder.insert(table, &new, &at, &mut state.records)?,
                    (Some(old), Some(new)) => {
                        builder.update(table, &old, &new, &at, &mut state.records)?
                    }
                    (Some(old), None) => builder.delete(table, &old, &at, &mut state.records)?,
                    (None, None) => {}
                }
            }
            index += 1;
            state.checkpoint = Some(BinlogOffset {
                file: txn.file.clone(),
                pos: txn.pos,
                gtids: gtid_text(&state.gtids, self.config),
                event: txn.rows_events,
                row: index,
                server_id: Some(header.server_id()),
                ts_sec: Some(header.timestamp() as i64),
                snapshot_running: false,
            });
        }
        txn.rows_events += 1;
        state.skip = state.skip.map(|(events, _)| (events, 0));
        state.last_server_id = header.server_id();
        self.tag(state, first, table);
        if !state.signal_rows.is_empty() {
            // Debezium acts on a signal before emitting its row: what the signal starts is
            // announced first.
            let changes = state.records.split_off(first);
            for signal in std::mem::take(&mut state.signal_rows) {
                match signal {
                    Some(signal) => self.signal(state, signal).await?,
                    None => tracing::warn!("a signal table row without id and type: ignored"),
                }
            }
            state.records.extend(changes);
        }
        Ok(())
    }

    /// Emits the BEGIN event of the transaction being read, once, unless it is the
    /// transaction the stored offset was inside of (its BEGIN was delivered before a
    /// restart: its counts go on). `ts` is the event's time in seconds.
    fn begin_transaction(&mut self, state: &mut State, ts: u32) {
        let (Some(transactions), Some(txn)) = (self.transactions.as_mut(), state.txn.as_mut())
        else {
            return;
        };
        if txn.announced {
            return;
        }
        txn.announced = true;
        let id = txn.id();
        if transactions.open_id() == Some(id.as_str()) {
            return;
        }
        state
            .records
            .push(transactions.begin(id, Timestamp::from_micros(ts as i64 * 1_000_000)));
    }

    /// Emits the END event of the open transaction at its XID or COMMIT (a DDL statement's
    /// transaction has none, as in Debezium). `ts` is the event's time in seconds.
    fn end_transaction(&mut self, state: &mut State, ts: u32) {
        let Some(transactions) = self.transactions.as_mut() else {
            return;
        };
        let Some(id) = transactions.open_id().map(str::to_owned) else {
            return;
        };
        if let Some(end) = transactions.end(&id, Timestamp::from_micros(ts as i64 * 1_000_000)) {
            state.records.push(end);
        }
    }

    /// Fills the `transaction` block of the change records of `table` from `first` on.
    fn tag(&mut self, state: &mut State, first: usize, table: &Table) {
        let Some(transactions) = self.transactions.as_mut() else {
            return;
        };
        let Some(id) = transactions.open_id().map(str::to_owned) else {
            return;
        };
        let collection = format!("{}.{}", table.db, table.name);
        for record in &mut state.records[first..] {
            transactions.event(&collection, &id, record);
        }
    }

    /// The offset after an event ending at `end`, outside any transaction.
    fn offset_after(&self, state: &State, end: u64, server_id: u32) -> BinlogOffset {
        let mut gtids = state.gtids.clone();
        if let Some(txn) = &state.txn {
            add_gtid(&mut gtids, txn);
        }
        BinlogOffset {
            file: state.file.clone(),
            pos: end,
            gtids: gtid_text(&gtids, self.config),
            event: 0,
            row: 0,
            server_id: Some(server_id),
            ts_sec: Some(state.last_ts),
            snapshot_running: false,
        }
    }

    /// Ends the current transaction at an event ending at `end`.
    fn commit(&self, state: &mut State, end: u64, server_id: u32) {
        let offset = self.offset_after(state, end, server_id);
        if let Some(txn) = state.txn.take() {
            add_gtid(&mut state.gtids, &txn);
            state.last_gtid = txn.gtid;
        }
        state.skip = None;
        state.checkpoint = Some(offset);
    }

    /// Sends the records and checkpoint gathered so far to the pipeline.
    async fn send(&mut self, state: &mut State) -> Result<(), MySqlError> {
        if state.records.is_empty() && state.checkpoint.is_none() {
            return Ok(());
        }
        state.position_in_flight = state.records.is_empty();
        let batch = Batch {
            records: std::mem::take(&mut state.records),
            checkpoint: state.checkpoint.take().map(|offset| {
                let mut offset = offset.to_map();
                // The open transaction's counts so far, as Debezium stores them: every record
                // counted is in this batch or an earlier one.
                if let Some(transactions) = &self.transactions {
                    transactions.store(&mut offset);
                }
                // The incremental snapshot's chunks emitted so far.
                if let Some(incremental) = &self.incremental {
                    incremental.store(&mut offset);
                }
                Checkpoint { offset, ack: 0 }
            }),
        };
        self.batches
            .send_async(batch)
            .await
            .map_err(|_| MySqlError::PipelineClosed)
    }
}

fn add_gtid(gtids: &mut GtidSet, txn: &Txn) {
    if let Some(g) = txn.maria {
        gtids.add_maria(g);
    }
    if let Some((uuid, gno)) = &txn.mysql {
        gtids.add_mysql(uuid, *gno);
    }
}

/// The offset's `gtids`: the set with `gtid.source.*` applied, `None` when empty.
fn gtid_text(gtids: &GtidSet, config: &MySqlConfig) -> Option<String> {
    let filtered = gtids.filtered(&config.gtid_sources);
    (!filtered.is_empty()).then(|| filtered.to_string())
}

/// A replication error, with a purged binlog named as such.
fn stream_error(error: mysql_async::Error, start: &BinlogOffset) -> MySqlError {
    match &error {
        mysql_async::Error::Server(server)
            if server.code == ER_MASTER_FATAL_ERROR_READING_BINLOG =>
        {
            MySqlError::BinlogPurged {
                reason: format!(
                    "the server cannot send the binlog from {}:{}{} ({})",
                    start.file,
                    start.pos,
                    start
                        .gtids
                        .as_deref()
                        .map(|g| format!(" / GTIDs {g}"))
                        .unwrap_or_default(),
                    server.message
                ),
            }
        }
        _ if super::error::is_transient(&error) => MySqlError::Lost(error.to_string()),
        _ => MySqlError::Stream(error.to_string()),
    }
}
