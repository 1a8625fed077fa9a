//! Streaming: reads the replication slot through `pgoutput`, turns row changes into change
//! events, batches them into the pipeline with resumable checkpoints, and confirms to the
//! server only what the pipeline has committed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;

use pgwire_replication::{Lsn, ReplicationClient, ReplicationEvent};
use tokio::sync::watch;
use tokio_postgres::Client;

use super::catalog::{self, TypeRegistry};
use super::changes::{ChangeBuilder, Position};
use super::config::PostgresConfig;
use super::error::{PostgresError, describe};
use super::offset::{PgOffset, ResumePoint};
use super::pgoutput::{self, Message};
use super::table::Table;
use crate::event::Record;
use crate::event::envelope::{SnapshotMarker, Timestamp};
use crate::event::transaction::TransactionMetadata;
use crate::offsets::OffsetMap;
use crate::sources::heartbeat;
use crate::sources::metrics::BatchSender;
use crate::sources::{Batch, Checkpoint};

/// Microseconds between the Unix epoch and Postgres' epoch (2000-01-01).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// How long a stopping session waits for its final standby status report.
const FINAL_REPORT_WAIT: Duration = Duration::from_secs(3);

/// The transaction being received.
#[derive(Debug, Clone, Copy)]
struct Txn {
    xid: u32,
    /// LSN of the commit record (from Begin).
    final_lsn: u64,
    commit_micros: i64,
    /// Its BEGIN metadata event is emitted (or was delivered before a restart).
    begun: bool,
}

impl Txn {
    fn commit_time(&self) -> Timestamp {
        Timestamp::from_micros(self.commit_micros + PG_EPOCH_MICROS)
    }

    /// Debezium's id of the transaction at a position: `<xid>:<lsn>`.
    fn id_at(&self, lsn: u64) -> String {
        format!("{}:{lsn}", self.xid)
    }
}

/// One streaming session.
pub struct Stream<'a> {
    pub config: &'a PostgresConfig,
    pub client: ReplicationClient,
    /// Management connection, for catalog reads when a relation (re)appears.
    pub catalog: &'a Client,
    pub types: TypeRegistry,
    pub batches: BatchSender,
    pub committed: watch::Receiver<Option<Checkpoint>>,
    pub shutdown: watch::Receiver<bool>,
    /// Changes at or before this point were delivered before a restart.
    pub resume: Option<ResumePoint>,
    /// The commit LSN of the last transaction completed before this session.
    pub last_commit: Option<u64>,
    /// Transaction metadata (`provide.transaction.metadata`), resumed from the stored
    /// offset when it was committed inside a transaction.
    pub transactions: Option<TransactionMetadata>,
    /// The incremental snapshot in progress, if a signal started one.
    pub incremental: Option<super::incremental::Incremental>,
    /// Signals of the file and REST channels, taken between transactions.
    pub signals: std::sync::Arc<crate::sources::signal_channels::SignalInbox>,
}

pub(super) struct State {
    relations: HashMap<u32, Option<Arc<Table>>>,
    /// The relation id of the signal table (`signal.data.collection`), once seen.
    pub(super) signal_relation: Option<u32>,
    txn: Option<Txn>,
    pub(super) last_commit: Option<u64>,
    /// The id and commit time (`txId`, `ts_usec`) of the last transaction committed in
    /// this session: a position-only offset carries them, as Debezium's offsets always do.
    last_txn: Option<(Option<i64>, Option<i64>)>,
    pub(super) records: Vec<Record>,
    /// The position after the records gathered so far, what may then be acknowledged, and
    /// the open transaction's metadata state to store with it.
    checkpoint: Option<(PgOffset, u64, OffsetMap)>,
    /// The end LSN of the last transaction whose every change is in a sent batch.
    completed_end: u64,
    /// A heartbeat is due at the next transaction boundary.
    heartbeat_due: bool,
    /// A batch with a position but no records went to the pipeline and is not committed
    /// yet: later positions wait for that commit, so a connector whose slot only moves (the
    /// server's keepalives as other databases write) wakes its pipeline once per commit,
    /// not once per keepalive.
    position_in_flight: bool,
    /// A blocking snapshot a signal row asked for, taken once its transaction ends.
    pub(super) blocking: Option<super::blocking::Blocking>,
}

impl State {
    /// Whether a transaction's changes are being received.
    pub(super) fn in_transaction(&self) -> bool {
        self.txn.is_some()
    }

    /// The position up to which everything has been received.
    pub(super) fn completed_end(&self) -> u64 {
        self.completed_end
    }

    /// The stream's position for a signal: a signal row's (at `lsn` in the open
    /// transaction), else the last transaction's. A blocking snapshot's reads carry it.
    pub(super) fn signal_position(&self, lsn: Option<u64>) -> Position {
        let (lsn, tx_id) = match (self.txn, lsn) {
            (Some(txn), Some(lsn)) => (Some(lsn), Some(txn.xid as i64)),
            _ => (self.last_commit, self.last_txn.and_then(|(tx_id, _)| tx_id)),
        };
        Position {
            ts: Timestamp::from_micros(0),
            tx_id,
            lsn,
            last_lsn: self.last_commit,
            snapshot: SnapshotMarker::Yes,
        }
    }
}

impl Stream<'_> {
    /// Streams until shutdown is requested (then returns the replication session, for
    /// [`finish`]), the pipeline stops, or an error. The server ending the stream on its own
    /// (a restart) is a retriable error.
    pub async fn run(mut self) -> Result<ReplicationClient, PostgresError> {
        let mut state = State {
            relations: HashMap::new(),
            signal_relation: None,
            txn: None,
            last_commit: self.last_commit,
            last_txn: None,
            // Grown as a batch needs and handed on with it, so an idle connector holds no
            // batch-sized buffer after a burst.
            records: Vec::new(),
            checkpoint: None,
            completed_end: 0,
            heartbeat_due: false,
            position_in_flight: false,
            blocking: None,
        };
        // A snapshot the stored offset left in progress goes on with its next chunk.
        self.advance(&mut state).await?;
        let heartbeats = self.config.heartbeat_interval_ms > 0;
        let mut heartbeat = tokio::time::interval(Duration::from_millis(
            self.config.heartbeat_interval_ms.max(1),
        ));
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if state.heartbeat_due && state.txn.is_none() {
                self.beat(&mut state).await;
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
                        return Err(PostgresError::PipelineClosed);
                    }
                    if let Some(checkpoint) = &*self.committed.borrow_and_update() {
                        self.client.update_applied_lsn(Lsn(checkpoint.ack));
                    }
                    state.position_in_flight = false;
                }
                _ = heartbeat.tick(), if heartbeats => state.heartbeat_due = true,
                signal = self.signals.recv(), if state.txn.is_none() => {
                    self.signal(&mut state, signal, None).await?;
                }
                // With a batch pending, take only what has already arrived, then send it.
                event = async {
                    if pending {
                        self.client.recv().now_or_never().ok_or(())
                    } else {
                        Ok(self.client.recv().await)
                    }
                } => match event {
                    Ok(event) => {
                        if !self.handle(&mut state, event).await? || !self.drain(&mut state).await? {
                            return Err(PostgresError::Replication(
                                "the server ended the replication stream".into(),
                            ));
                        }
                    }
                    Err(_) => self.send(&mut state).await?,
                },
            }
        }
        self.send(&mut state).await?;
        Ok(self.client)
    }

    /// Handles the events that have already arrived (up to a batch of them) without going
    /// back through the select of `run`; false when the stream ended.
    async fn drain(&mut self, state: &mut State) -> Result<bool, PostgresError> {
        for _ in 0..self.config.max_batch_size {
            let Some(event) = self.client.recv().now_or_never() else {
                break;
            };
            if !self.handle(state, event).await? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Emits a heartbeat record and runs `heartbeat.action.query`.
    async fn beat(&mut self, state: &mut State) {
        state.heartbeat_due = false;
        state.records.push(heartbeat::record(
            &self.config.heartbeat_topic,
            &self.config.topic_prefix,
        ));
        if let Some(query) = &self.config.heartbeat_action_query
            && let Err(error) = self.catalog.batch_execute(query).await
        {
            tracing::warn!(query = %query, error = %describe(&error), "heartbeat.action.query failed");
        }
    }

    /// Handles one replication event; false when the stream ended.
    async fn handle(
        &mut self,
        state: &mut State,
        event: pgwire_replication::Result<Option<ReplicationEvent>>,
    ) -> Result<bool, PostgresError> {
        let event = event.map_err(|e| super::source::replication_error(self.config, e))?;
        match event {
            None => return Ok(false),
            Some(ReplicationEvent::Begin {
                final_lsn,
                xid,
                commit_time_micros,
            }) => {
                state.txn = Some(Txn {
                    xid,
                    final_lsn: final_lsn.as_u64(),
                    commit_micros: commit_time_micros,
                    begun: false,
                });
            }
            Some(ReplicationEvent::XLogData {
                wal_start, data, ..
            }) => {
                let message = pgoutput::decode(&data)?;
                // The transaction's first message carries its first LSN, Debezium's BEGIN id.
                self.begin_transaction(state, wal_start.as_u64());
                self.message(state, message, wal_start.as_u64()).await?;
            }
            Some(ReplicationEvent::Commit { lsn, end_lsn, .. }) => {
                self.begin_transaction(state, lsn.as_u64());
                self.end_transaction(state, end_lsn.as_u64());
                let txn = state.txn.take();
                state.last_commit = Some(end_lsn.as_u64());
                let tx_id = txn.map(|t| t.xid as i64);
                let ts_usec = txn.map(|t| t.commit_micros + PG_EPOCH_MICROS);
                state.last_txn = Some((tx_id, ts_usec));
                state.completed_end = end_lsn.as_u64();
                state.checkpoint = Some((
                    PgOffset {
                        lsn: lsn.as_u64(),
                        lsn_proc: Some(end_lsn.as_u64()),
                        lsn_commit: lsn.as_u64(),
                        tx_id,
                        ts_usec,
                        message_type: Some("COMMIT"),
                    },
                    end_lsn.as_u64(),
                    OffsetMap::new(),
                ));
                if let Some(blocking) = state.blocking.take() {
                    self.blocking_snapshot(state, blocking).await?;
                }
            }
            Some(ReplicationEvent::KeepAlive { wal_end, .. }) => {
                position_reached(state, wal_end.as_u64());
            }
            Some(ReplicationEvent::Message {
                transactional: false,
                prefix,
                content,
                lsn,
                ..
            }) if prefix == super::incremental::WATERMARK => {
                self.watermark(state, &String::from_utf8_lossy(&content), lsn.0)
                    .await?;
            }
            Some(ReplicationEvent::Message { .. }) => {}
            Some(ReplicationEvent::StoppedAt { .. }) => return Ok(false),
        }
        if state.records.len() >= self.config.max_batch_size {
            self.send(state).await?;
        }
        Ok(true)
    }

    async fn message(
        &mut self,
        state: &mut State,
        message: Message,
        lsn: u64,
    ) -> Result<(), PostgresError> {
        let table_of =
            |state: &State, relation: u32| -> Result<Option<Arc<Table>>, PostgresError> {
                state
                    .relations
                    .get(&relation)
                    .cloned()
                    .ok_or(PostgresError::UnknownRelation(relation))
            };
        match message {
            Message::Relation(relation) => {
                if self
                    .config
                    .signals
                    .is_signal_table(&relation.schema, &relation.name)
                {
                    state.signal_relation = Some(relation.id);
                }
                let table = if self.config.filters.table(&relation.schema, &relation.name) {
                    let known = catalog::table_by_oid(self.catalog, relation.id).await?;
                    Some(Arc::new(Table::from_relation(
                        self.config,
                        &self.types,
                        &relation.schema,
                        &relation.name,
                        relation.replica_identity,
                        &relation.columns,
                        known.as_ref(),
                    )))
                } else {
                    None
                };
                state.relations.insert(relation.id, table);
            }
            Message::Type { .. } => {
                self.types = TypeRegistry::load(self.catalog).await?;
            }
            Message::Insert { relation, new } => {
                if state.signal_relation == Some(relation) {
                    self.signal_row(state, &new, lsn).await?;
                }
                if let Some((table, at)) = self.change(state, table_of(state, relation)?, lsn) {
                    let start = state.records.len();
                    ChangeBuilder {
                        config: self.config,
                    }
                    .insert(&table, &new, &at, &mut state.records)?;
                    self.tag(state, start, &table, lsn);
                    self.note_change(state, lsn, "INSERT");
                }
            }
            Message::Update { relation, old, new } => {
                if let Some((table, at)) = self.change(state, table_of(state, relation)?, lsn) {
                    let start = state.records.len();
                    ChangeBuilder {
                        config: self.config,
                    }
                    .update(
                        &table,
                        old.as_ref(),
                        &new,
                        &at,
                        &mut state.records,
                    )?;
                    self.tag(state, start, &table, lsn);
                    self.note_change(state, lsn, "UPDATE");
                }
            }
            Message::Delete { relation, old } => {
                if let Some((table, at)) = self.change(state, table_of(state, relation)?, lsn) {
                    let start = state.records.len();
                    ChangeBuilder {
                        config: self.config,
                    }
                    .delete(&table, &old, &at, &mut state.records)?;
                    self.tag(state, start, &table, lsn);
                    self.note_change(state, lsn, "DELETE");
                }
            }
            Message::Truncate { relations, .. } => {
                let mut noted = false;
                for relation in relations {
                    if let Some((table, at)) = self.change(state, table_of(state, relation)?, lsn) {
                        let start = state.records.len();
                        ChangeBuilder {
                            config: self.config,
                        }
                        .truncate(&table, &at, &mut state.records);
                        self.tag(state, start, &table, lsn);
                        noted = true;
                    }
                }
                if noted {
                    self.note_change(state, lsn, "TRUNCATE");
                }
            }
            Message::Origin { .. } | Message::Other(_) => {}
        }
        Ok(())
    }

    /// The table and position of a change, or `None` when it is not captured or was
    /// delivered before a restart.
    fn change(
        &mut self,
        state: &State,
        table: Option<Arc<Table>>,
        lsn: u64,
    ) -> Option<(Arc<Table>, Position)> {
        let Some(table) = table else {
            // A change of a table the connector does not capture (Debezium's filtered event).
            self.batches.metrics().streaming.events.filtered(1);
            return None;
        };
        let txn = state.txn?;
        if let Some(resume) = self.resume {
            if resume.covers(txn.final_lsn, lsn, txn.xid.into()) {
                return None;
            }
            self.resume = None;
        }
        Some((
            table,
            Position {
                ts: Timestamp::from_micros(txn.commit_micros + PG_EPOCH_MICROS),
                tx_id: Some(txn.xid as i64),
                lsn: Some(lsn),
                last_lsn: state.last_commit,
                snapshot: SnapshotMarker::No,
            },
        ))
    }

    /// Whether a position of transaction `xid`, committing at `final_lsn`, was delivered
    /// before a restart.
    fn delivered(&self, final_lsn: u64, lsn: u64, xid: u32) -> bool {
        self.resume
            .is_some_and(|r| r.covers(final_lsn, lsn, xid.into()))
    }

    /// Emits the open transaction's BEGIN event at its first message (`lsn`), unless it was
    /// delivered before a restart.
    fn begin_transaction(&mut self, state: &mut State, lsn: u64) {
        let Some(txn) = state.txn.as_mut().filter(|t| !t.begun) else {
            return;
        };
        txn.begun = true;
        let txn = *txn;
        if self.delivered(txn.final_lsn, lsn, txn.xid) {
            return;
        }
        if let Some(transactions) = self.transactions.as_mut() {
            let begin = transactions.begin(txn.id_at(lsn), txn.commit_time());
            state.records.push(begin);
        }
    }

    /// Emits the open transaction's END event (`end_lsn`: its end), unless it was
    /// delivered before a restart.
    fn end_transaction(&mut self, state: &mut State, end_lsn: u64) {
        let Some(txn) = state.txn else {
            return;
        };
        if self.delivered(txn.final_lsn, end_lsn, txn.xid) {
            return;
        }
        if let Some(end) = self
            .transactions
            .as_mut()
            .and_then(|t| t.end(&txn.id_at(end_lsn), txn.commit_time()))
        {
            state.records.push(end);
        }
    }

    /// Fills the `transaction` block of the change records from `start` on, and drops
    /// their keys from an incremental snapshot's waiting chunk.
    fn tag(&mut self, state: &mut State, start: usize, table: &Table, lsn: u64) {
        if let Some(incremental) = self.incremental.as_mut() {
            incremental.changed(&table.schema, &table.name, &state.records[start..]);
        }
        let (Some(transactions), Some(txn)) = (self.transactions.as_mut(), state.txn) else {
            return;
        };
        let collection = format!("{}.{}", table.schema, table.name);
        let id = txn.id_at(lsn);
        for record in &mut state.records[start..] {
            transactions.event(&collection, &id, record);
        }
    }

    /// Records that the batch now holds a change at `lsn`, so a checkpoint sent with it
    /// resumes right after it.
    fn note_change(&self, state: &mut State, lsn: u64, message_type: &'static str) {
        if let Some(txn) = state.txn {
            let mut context = OffsetMap::new();
            if let Some(transactions) = &self.transactions {
                transactions.store(&mut context);
            }
            state.checkpoint = Some((
                PgOffset {
                    lsn,
                    lsn_proc: Some(lsn),
                    lsn_commit: txn.final_lsn,
                    tx_id: Some(txn.xid as i64),
                    ts_usec: Some(txn.commit_micros + PG_EPOCH_MICROS),
                    message_type: Some(message_type),
                },
                state.completed_end,
                context,
            ));
        }
    }

    /// The checkpoint gathered so far, as the pipeline takes it.
    pub(super) fn take_checkpoint(&self, state: &mut State) -> Option<Checkpoint> {
        state.checkpoint.take().map(|(offset, ack, context)| {
            let mut offset = offset.to_map();
            offset.extend(context);
            if let Some(incremental) = &self.incremental {
                incremental.store(&mut offset);
            }
            Checkpoint { offset, ack }
        })
    }

    /// Sends the records and checkpoint gathered so far to the pipeline.
    pub(super) async fn send(&mut self, state: &mut State) -> Result<(), PostgresError> {
        if state.records.is_empty() && state.checkpoint.is_none() {
            return Ok(());
        }
        state.position_in_flight = state.records.is_empty();
        let batch = Batch {
            records: std::mem::take(&mut state.records),
            checkpoint: self.take_checkpoint(state),
        };
        self.batches
            .send_async(batch)
            .await
            .map_err(|_| PostgresError::PipelineClosed)
    }
}

/// Everything before `end` has been received and no transaction is open: a checkpoint at
/// `end` (when it is past the last one) loses nothing. Debezium's loader needs `ts_usec`
/// (the last transaction's commit time, or now when none committed in this session);
/// `txId` and `messageType` are the last transaction's, as Debezium's offsets carry them.
fn position_reached(state: &mut State, end: u64) {
    if state.txn.is_none() && end > state.completed_end {
        checkpoint_at(state, end);
    }
}

/// A checkpoint at `end`, between transactions (see [`position_reached`]).
pub(super) fn checkpoint_at(state: &mut State, end: u64) {
    state.completed_end = end;
    let (tx_id, ts_usec) = state.last_txn.unwrap_or((None, None));
    let ts_usec = ts_usec.or_else(now_micros);
    state.checkpoint = Some((
        PgOffset {
            lsn: end,
            // No change was processed at `end`: a transaction committing there is not
            // covered by this position.
            lsn_proc: None,
            lsn_commit: end,
            tx_id,
            ts_usec,
            message_type: Some("COMMIT"),
        },
        end,
        OffsetMap::new(),
    ));
}

/// Lets the pipeline finish (its final flush and commit: `batches` must be its last sender),
/// confirms what it committed, and ends the replication session cleanly.
pub async fn finish(
    mut client: ReplicationClient,
    batches: BatchSender,
    mut committed: watch::Receiver<Option<Checkpoint>>,
) {
    drop(batches);
    while committed.changed().await.is_ok() {}
    let ack = committed.borrow().as_ref().map(|c| c.ack);
    if let Some(ack) = ack {
        client.update_applied_lsn(Lsn(ack));
        // The session reports on its own schedule (every second); wait for the report
        // so the slot knows of the final commit before the session ends.
        let metrics = client.metrics();
        let deadline = tokio::time::Instant::now() + FINAL_REPORT_WAIT;
        while metrics.last_applied_lsn().as_u64() < ack && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    if let Err(error) = client.shutdown().await {
        tracing::debug!(%error, "replication session ended with an error");
    }
}

/// The wall clock in microseconds since the Unix epoch.
fn now_micros() -> Option<i64> {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    i64::try_from(since.as_micros()).ok()
}
