//! Blocking snapshots (`execute-snapshot` with `type` `blocking`): the stream stops between
//! two transactions, the tables the signal names are read whole (under their
//! `additional-conditions`) in one REPEATABLE READ transaction, emitted as an initial
//! snapshot's events are, and the stream goes on where it stopped.
//!
//! Why the output stays right: every transaction the stream delivered before the signal
//! committed before the snapshot's transaction began, so the snapshot's rows are at least as
//! new as anything before them in the output. A transaction committed while the snapshot read
//! comes after it in the stream, so its events follow the snapshot's rows: applied in order,
//! the output ends at each row's latest state. The replication session keeps answering the
//! server's keepalives meanwhile; the WAL the slot holds grows by what is written during the
//! snapshot.
//!
//! A blocking snapshot is not resumable, but it is not lost either: the stream's position
//! at the signal is committed only with the snapshot's last rows, so a crash during it
//! resumes the stream before a signal row of the source channel, whose snapshot then starts
//! again from the beginning (a signal of the other channels is taken once). A failed read
//! that is not the connection's (a bad filter, a table dropped meanwhile) ends the snapshot
//! with its ABORTED notification and the stream goes on, as in Debezium.

use super::catalog;
use super::changes::Position;
use super::error::PostgresError;
use super::snapshot::{Snapshot, snapshot_config};
use super::stream::{State, Stream};
use crate::event::envelope::Timestamp;
use crate::sources::signals::{Condition, refuse_blocking};

/// A blocking snapshot a signal asked for.
#[derive(Debug)]
pub struct Blocking {
    /// The signal's id.
    pub id: String,
    /// Regular expressions over `schema.table`.
    pub collections: Vec<String>,
    pub conditions: Vec<Condition>,
    /// The stream's position at the signal, which every read carries (as Debezium's do).
    pub at: Position,
}

impl Stream<'_> {
    /// Takes a blocking snapshot of the captured tables the signal's collections match.
    pub(super) async fn blocking_snapshot(
        &mut self,
        state: &mut State,
        blocking: Blocking,
    ) -> Result<(), PostgresError> {
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
        // goes with the snapshot's last rows, so a crash during the snapshot resumes the
        // stream before a signal row, which then asks for the snapshot again.
        let resume = self.take_checkpoint(state);
        self.send(state).await?;
        let tables: Vec<_> = requests.iter().map(|r| r.table.clone()).collect();
        let filters: Vec<_> = requests.iter().map(|r| r.filter.clone()).collect();
        let names: Vec<String> = tables
            .iter()
            .map(|t| format!("{}.{}", t.schema, t.name))
            .collect();
        tracing::info!(id, tables = ?names, "blocking snapshot started: streaming paused");
        let client = catalog::connect(self.config).await?;
        let what = "starting the blocking snapshot's transaction";
        client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(|e| PostgresError::query(what, e))?;
        let row = client
            .query_one("SELECT (extract(epoch FROM now()) * 1000000)::bigint", &[])
            .await
            .map_err(|e| PostgresError::query(what, e))?;
        let at = Position {
            ts: Timestamp::from_micros(row.get(0)),
            ..blocking.at
        };
        let snapshot_config = snapshot_config(self.config);
        let read = Snapshot {
            config: &snapshot_config,
            client: &client,
            at,
            batches: &self.batches,
            resumable: None,
            parallel: None,
            filters,
        }
        .run(&tables, resume.clone())
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
                let position = crate::sources::Batch {
                    records: Vec::new(),
                    checkpoint: resume,
                };
                return self
                    .batches
                    .send_async(position)
                    .await
                    .map_err(|_| PostgresError::PipelineClosed);
            }
            Err(error) => return Err(error),
        };
        client
            .batch_execute("COMMIT")
            .await
            .map_err(|e| PostgresError::query("ending the blocking snapshot's transaction", e))?;
        tracing::info!(id, rows, "blocking snapshot completed: streaming resumed");
        Ok(())
    }
}
