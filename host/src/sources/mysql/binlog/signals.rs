//! Signals in the binlog stream: a row inserted into the signal table
//! (`signal.data.collection`) is a signal, acted on once its transaction ends; the other
//! channels' signals are taken between two transactions. `execute-snapshot` of type
//! `incremental` starts an incremental snapshot ([`super::super::incremental`]), whose chunks
//! are emitted as the stream reaches their binlog points; of type `blocking`, a blocking
//! snapshot.
//!
//! A blocking snapshot stops the stream between two transactions, reads the tables whole (under
//! their `additional-conditions`) in one consistent-snapshot transaction, emits them as an
//! initial snapshot's events, and goes on where the stream stopped: its rows are newer than
//! everything before them in the output, and every transaction they missed follows them.
//! The stream's position is committed only with the snapshot's last rows, so a crash during
//! it resumes before a signal row, whose snapshot then starts again.

use std::sync::Arc;

use mysql_async::prelude::Queryable;
use regex::Regex;

use super::{State, Stream};
use crate::event::envelope::{SnapshotMarker, Timestamp};
use crate::sources::Batch;
use crate::sources::mysql::catalog;
use crate::sources::mysql::changes::Position;
use crate::sources::mysql::error::MySqlError;
use crate::sources::mysql::incremental::{Incremental, Request};
use crate::sources::mysql::snapshot::{self, Snapshot, SnapshotPoint};
use crate::sources::mysql::table::Table;
use crate::sources::mysql::types::Cell;
use crate::sources::signals::{Action, Condition, Signal, SnapshotKind, refuse_blocking};

/// A blocking snapshot a signal asked for.
#[derive(Debug)]
pub(super) struct Blocking {
    id: String,
    /// Regular expressions over `db.table`.
    collections: Vec<String>,
    conditions: Vec<Condition>,
}

/// A signal table row's `id`, `type` and `data`; `None` without an id and a type.
pub(super) fn signal_of(cells: &[Cell]) -> Option<Signal> {
    Signal::from_row(|i| match cells.get(i) {
        Some(Cell::Bytes(bytes)) => Some(String::from_utf8_lossy(bytes).into_owned()),
        _ => None,
    })
}

impl Stream<'_> {
    /// Between two transactions: takes a blocking snapshot a signal asked for, and emits
    /// the incremental snapshot's chunk if the stream reached its point.
    pub(super) async fn between_transactions(
        &mut self,
        state: &mut State,
    ) -> Result<(), MySqlError> {
        if let Some(blocking) = state.blocking.take() {
            self.blocking_snapshot(state, blocking).await?;
        }
        self.drive(state).await
    }

    /// Acts on a signal from any channel (a blocking snapshot waits for the end of the
    /// transaction being read).
    pub(super) async fn signal(
        &mut self,
        state: &mut State,
        signal: Signal,
    ) -> Result<(), MySqlError> {
        let Some(action) = signal.accepted() else {
            return Ok(());
        };
        let notifications = &self.config.notifications;
        match action {
            Action::Log { message } => tracing::info!(id = %signal.id, "signal: {message}"),
            Action::ExecuteSnapshot {
                kind: SnapshotKind::Blocking,
                collections,
                conditions,
                ..
            } => {
                let blocking = Blocking {
                    id: signal.id,
                    collections,
                    conditions,
                };
                // A signal row's transaction ends first: the snapshot goes between two.
                if state.txn.is_some() {
                    state.blocking = Some(blocking);
                } else {
                    self.blocking_snapshot(state, blocking).await?;
                }
            }
            Action::ExecuteSnapshot {
                kind: SnapshotKind::Incremental,
                collections,
                conditions,
                surrogate_key,
            } => {
                if self.incremental.is_some() {
                    tracing::error!(id = %signal.id, "signal refused: an incremental snapshot is already running (stop it first)");
                    return Ok(());
                }
                let requests = self
                    .requests(&collections, &conditions, surrogate_key)
                    .await?;
                let names: Vec<String> = requests.iter().map(|r| r.table.full_name()).collect();
                tracing::info!(tables = ?names, "incremental snapshot started");
                state.records.extend(notifications.incremental_snapshot(
                    "STARTED",
                    &signal.id,
                    &[("data_collections", names.join(","))],
                ));
                self.incremental = Some(Incremental::new(
                    signal.id,
                    requests,
                    self.config.signals.chunk_size,
                ));
                self.drive(state).await?;
            }
            Action::StopSnapshot { .. } => {
                if let Some(stopped) = self.incremental.take() {
                    tracing::info!("incremental snapshot stopped by a signal");
                    state.records.extend(notifications.incremental_snapshot(
                        "ABORTED",
                        &stopped.id,
                        &[],
                    ));
                }
            }
            Action::PauseSnapshot | Action::ResumeSnapshot => {
                let paused = matches!(action, Action::PauseSnapshot);
                if let Some(incremental) = self.incremental.as_mut() {
                    incremental.set_paused(paused);
                    let kind = if paused { "PAUSED" } else { "RESUMED" };
                    state.records.extend(notifications.incremental_snapshot(
                        kind,
                        &incremental.id,
                        &[],
                    ));
                }
                self.drive(state).await?;
            }
        }
        Ok(())
    }

    /// The captured tables the signal's regular expressions match, in their order.
    async fn requests(
        &mut self,
        collections: &[String],
        conditions: &[Condition],
        surrogate: Option<String>,
    ) -> Result<Vec<Request>, MySqlError> {
        let tables = catalog::tables(&mut self.catalog, None).await?;
        let whole = |pattern: &str| Regex::new(&format!("^(?:{pattern})$")).ok();
        let mut requests: Vec<Request> = Vec::new();
        for pattern in collections {
            let Some(regex) = whole(pattern) else {
                tracing::error!(pattern, "signal: not a regular expression; left out");
                continue;
            };
            for t in &tables {
                let name = format!("{}.{}", t.db, t.name);
                if !regex.is_match(&name)
                    || !self.config.filters.table(&t.db, &t.name)
                    || requests.iter().any(|r| r.table.full_name() == name)
                {
                    continue;
                }
                let filter = conditions
                    .iter()
                    .find(|c| whole(&c.collection).is_some_and(|r| r.is_match(&name)))
                    .map(|c| c.filter.clone());
                requests.push(Request {
                    table: Arc::new(Table::from_catalog(self.config, t)),
                    filter,
                    surrogate: surrogate.clone(),
                    after: None,
                });
            }
        }
        Ok(requests)
    }

    /// Whether the incremental snapshot can move on now: between two transactions, with
    /// its chunk's point reached, or no chunk read and the snapshot not paused.
    pub(super) fn can_drive(&self, state: &State) -> bool {
        state.txn.is_none()
            && self
                .incremental
                .as_ref()
                .is_some_and(|i| i.can_step(&state.file, state.end))
    }

    /// Moves the incremental snapshot one step on: emits its chunk once the stream has
    /// reached the chunk's point (with a checkpoint carrying the new progress), else reads
    /// the next chunk. One step at a time, so that the stream loop sends batches, takes
    /// signals and stops in between.
    pub(super) async fn drive(&mut self, state: &mut State) -> Result<(), MySqlError> {
        if self.emit_reached(state)? {
            return Ok(());
        }
        let Some(incremental) = self.incremental.as_mut() else {
            return Ok(());
        };
        if incremental.is_waiting() {
            return Ok(());
        }
        if state.chunks.is_none() {
            let mut conn = catalog::connect(self.config).await?;
            snapshot::prepare_session(&mut conn).await?;
            state.chunks = Some(conn);
        }
        let stream = state.read_up_to();
        let conn = state.chunks.as_mut().expect("opened above");
        let step = match incremental.next_chunk(conn, &stream, self.config).await {
            Ok(step) => step,
            // A bad filter or surrogate key, a table dropped meanwhile: the snapshot ends
            // (ABORTED) and the stream goes on, as in Debezium.
            Err(error) if !error.is_retriable() => {
                tracing::error!(id = %incremental.id, %error, "incremental snapshot aborted");
                state
                    .records
                    .extend(self.config.notifications.incremental_snapshot(
                        "ABORTED",
                        &incremental.id,
                        &[],
                    ));
                self.incremental = None;
                return Ok(());
            }
            Err(error) => return Err(error),
        };
        state.records.extend(step.records);
        if step.completed {
            tracing::info!("incremental snapshot completed");
            self.incremental = None;
            if state.txn.is_none() {
                state.checkpoint = Some(self.offset_after(state, state.end, state.last_server_id));
            }
            return Ok(());
        }
        // A chunk read while the stream stands at its point is emitted now, before the
        // stream reads anything after that point.
        self.emit_reached(state)?;
        Ok(())
    }

    /// Emits the waiting chunk if the stream, between two transactions, has reached its
    /// point, with a checkpoint carrying the new progress; whether it did.
    fn emit_reached(&mut self, state: &mut State) -> Result<bool, MySqlError> {
        let Some(incremental) = self.incremental.as_mut() else {
            return Ok(false);
        };
        if state.txn.is_some() {
            return Ok(false);
        }
        // A chunk carries the stream's place (as Debezium's reads do): the last event read
        // and the last transaction's GTID.
        let here = Position {
            ts: Timestamp::now(),
            snapshot: SnapshotMarker::Incremental,
            server_id: state.last_server_id,
            gtid: state.last_gtid.as_deref(),
            file: &state.file,
            pos: state.last_event,
            row: 0,
            thread: None,
        };
        let Some(step) = incremental.reached(state.end, &here, self.config)? else {
            return Ok(false);
        };
        state.records.extend(step.records);
        state.checkpoint = Some(self.offset_after(state, state.end, state.last_server_id));
        Ok(true)
    }

    /// Takes a blocking snapshot of the captured tables the signal's collections match.
    async fn blocking_snapshot(
        &mut self,
        state: &mut State,
        blocking: Blocking,
    ) -> Result<(), MySqlError> {
        let id = blocking.id.as_str();
        let requests = match self.incremental {
            Some(_) => Vec::new(),
            None => {
                self.requests(&blocking.collections, &blocking.conditions, None)
                    .await?
            }
        };
        let running = self.incremental.is_some();
        if refuse_blocking(id, running, requests.is_empty(), &blocking.collections) {
            return Ok(());
        }
        // What the stream gathered goes first (the snapshot's rows are newer); its position
        // goes with the snapshot's last rows.
        let resume = state
            .checkpoint
            .take()
            .unwrap_or_else(|| self.offset_after(state, state.end, state.last_server_id));
        let resume = Some(crate::sources::Checkpoint {
            offset: resume.to_map(),
            ack: 0,
        });
        self.send(state).await?;
        let tables: Vec<Arc<Table>> = requests.iter().map(|r| r.table.clone()).collect();
        let filters = requests.iter().map(|r| r.filter.clone()).collect();
        let names: Vec<String> = tables.iter().map(|t| t.full_name()).collect();
        tracing::info!(id, tables = ?names, "blocking snapshot started: streaming paused");
        let mut conn = catalog::connect(self.config).await?;
        snapshot::prepare_session(&mut conn).await?;
        let stream = state.read_up_to();
        if snapshot::consistent_point_after(&mut conn, &stream)
            .await?
            .is_none()
        {
            return Err(MySqlError::Stream(
                "blocking snapshot: the server gives no binlog_snapshot_position (is log_bin on?)"
                    .into(),
            ));
        }
        // Every read carries the stream's position at the signal, as Debezium's do.
        let point = SnapshotPoint {
            position: state.read_up_to(),
            gtids: None,
            started: Timestamp::now(),
        };
        let read = Snapshot {
            config: self.config,
            point: &point,
            batches: &self.batches,
            filters,
            resumable: None,
        }
        .run(&mut conn, &tables, resume.clone(), None)
        .await;
        let rows = match self
            .batches
            .snapshot_ended(&self.config.notifications, read)
            .await
        {
            Ok(rows) => rows,
            // A bad filter, a table dropped meanwhile: the snapshot ends (ABORTED) and the
            // stream goes on, as in Debezium.
            Err(error) if !error.is_retriable() => {
                tracing::error!(id, %error, "blocking snapshot aborted: streaming resumed");
                return self
                    .batches
                    .send_async(Batch {
                        records: Vec::new(),
                        checkpoint: resume,
                    })
                    .await
                    .map_err(|_| MySqlError::PipelineClosed);
            }
            Err(error) => return Err(error),
        };
        conn.query_drop("COMMIT")
            .await
            .map_err(|e| MySqlError::query("ending the blocking snapshot's transaction", e))?;
        tracing::info!(id, rows, "blocking snapshot completed: streaming resumed");
        Ok(())
    }
}
