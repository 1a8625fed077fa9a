//! Signals in the Postgres stream: a row inserted into the signal table
//! (`signal.data.collection`) is a signal; `execute-snapshot` of type `incremental` starts an
//! incremental snapshot ([`super::incremental`]), whose watermarks come back through the
//! stream as logical decoding messages; of type `blocking`, a blocking snapshot
//! ([`super::blocking`]).

use std::sync::Arc;

use regex::Regex;

use super::blocking::Blocking;
use super::catalog;
use super::error::PostgresError;
use super::incremental::{Incremental, Request};
use super::pgoutput::Cell;
use super::stream::{State, Stream};
use super::table::Table;
use crate::sources::signals::{Action, Signal, SnapshotKind};

/// A signal table row's `id`, `type` and `data`.
fn signal_of(cells: &[Cell]) -> Option<Signal> {
    Signal::from_row(|i| match cells.get(i) {
        Some(Cell::Text(bytes)) => Some(String::from_utf8_lossy(bytes).into_owned()),
        _ => None,
    })
}

impl Stream<'_> {
    /// Acts on a row inserted into the signal table.
    pub(super) async fn signal_row(
        &mut self,
        state: &mut State,
        cells: &[Cell],
        lsn: u64,
    ) -> Result<(), PostgresError> {
        match signal_of(cells) {
            Some(signal) => self.signal(state, signal, Some(lsn)).await,
            None => {
                tracing::warn!("a signal table row without id and type: ignored");
                Ok(())
            }
        }
    }

    /// Acts on a signal from any channel (`lsn`: a signal row's position in the stream).
    pub(super) async fn signal(
        &mut self,
        state: &mut State,
        signal: Signal,
        lsn: Option<u64>,
    ) -> Result<(), PostgresError> {
        let Some(action) = signal.accepted() else {
            return Ok(());
        };
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
                    at: state.signal_position(lsn),
                };
                // A signal row's transaction ends first: the snapshot goes between two.
                if state.in_transaction() {
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
                let names: Vec<String> = requests
                    .iter()
                    .map(|r| format!("{}.{}", r.table.schema, r.table.name))
                    .collect();
                tracing::info!(tables = ?names, "incremental snapshot started");
                state
                    .records
                    .extend(self.config.notifications.incremental_snapshot(
                        "STARTED",
                        &signal.id,
                        &[("data_collections", names.join(","))],
                    ));
                self.incremental = Some(Incremental::new(
                    signal.id,
                    requests,
                    self.config.signals.chunk_size,
                ));
                self.advance(state).await?;
            }
            Action::StopSnapshot { .. } => {
                if let Some(stopped) = self.incremental.take() {
                    tracing::info!("incremental snapshot stopped by a signal");
                    state
                        .records
                        .extend(self.config.notifications.incremental_snapshot(
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
                    state
                        .records
                        .extend(self.config.notifications.incremental_snapshot(
                            kind,
                            &incremental.id,
                            &[],
                        ));
                }
                if !paused {
                    self.advance(state).await?;
                }
            }
        }
        Ok(())
    }

    /// The captured tables the signal's regular expressions match, in their order.
    pub(super) async fn requests(
        &self,
        collections: &[String],
        conditions: &[crate::sources::signals::Condition],
        surrogate: Option<String>,
    ) -> Result<Vec<Request>, PostgresError> {
        let tables = catalog::all_tables(self.catalog).await?;
        let whole = |pattern: &str| Regex::new(&format!("^(?:{pattern})$")).ok();
        let mut requests = Vec::new();
        for pattern in collections {
            let Some(regex) = whole(pattern) else {
                tracing::error!(pattern, "signal: not a regular expression; left out");
                continue;
            };
            for t in &tables {
                let name = format!("{}.{}", t.schema, t.name);
                if !regex.is_match(&name)
                    || !self.config.filters.table(&t.schema, &t.name)
                    || requests
                        .iter()
                        .any(|r: &Request| r.table.schema == t.schema && r.table.name == t.name)
                {
                    continue;
                }
                let filter = conditions
                    .iter()
                    .find(|c| whole(&c.collection).is_some_and(|r| r.is_match(&name)))
                    .map(|c| c.filter.clone());
                requests.push(Request::new(
                    Arc::new(Table::from_catalog(self.config, &self.types, t)),
                    filter,
                    surrogate.clone(),
                ));
            }
        }
        Ok(requests)
    }

    /// A watermark came through the stream: at a high watermark the chunk is emitted and
    /// the next one read.
    pub(super) async fn watermark(
        &mut self,
        state: &mut State,
        content: &str,
        lsn: u64,
    ) -> Result<(), PostgresError> {
        let Some(incremental) = self.incremental.as_mut() else {
            return Ok(());
        };
        if let Some(step) = incremental.watermark(content, lsn, self.config) {
            state.records.extend(step.records);
            // The chunk's rows go with a checkpoint holding the snapshot's new progress: rows
            // committed (with exactly-once, in the offset's transaction) are not read again.
            if !state.in_transaction() {
                super::stream::checkpoint_at(state, lsn.max(state.completed_end()));
            }
            self.advance(state).await?;
        }
        Ok(())
    }

    /// Reads the next chunk (or ends the snapshot when every table is read).
    pub(super) async fn advance(&mut self, state: &mut State) -> Result<(), PostgresError> {
        let Some(incremental) = self.incremental.as_mut() else {
            return Ok(());
        };
        let step = incremental.next_chunk(self.catalog, self.config).await?;
        state.records.extend(step.records);
        if step.completed {
            tracing::info!("incremental snapshot completed");
            self.incremental = None;
        }
        Ok(())
    }
}
