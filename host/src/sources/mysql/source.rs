//! The MySQL/MariaDB connector's run: check the server, take the snapshot `snapshot.mode`
//! asks for, then stream the binlog from the snapshot's position or the stored offset.

use std::sync::Arc;

use mysql_async::prelude::Queryable;

use super::binlog::Stream;
use super::catalog::{self, CatalogTable};
use super::changes::Position;
use super::config::{MySqlConfig, SnapshotMode};
use super::error::MySqlError;
use super::history::SchemaChanges;
use super::incremental::Incremental;
use super::offset::BinlogOffset;
use super::snapshot::{self, Snapshot};
use super::table::Table;
use crate::event::envelope::SnapshotMarker;
use crate::event::transaction::TransactionMetadata;
use crate::sources::SourceContext;
use crate::sources::metrics::BatchSender;
use crate::sources::metrics::SnapshotStatus;
use crate::sources::reconnect::{After, Reconnects};
use crate::sources::{Batch, Checkpoint};

/// Whether a stored offset needs a snapshot before streaming, for `mode`.
fn wants_snapshot(mode: SnapshotMode, stored: Option<&BinlogOffset>) -> bool {
    let no_offset = stored.is_none_or(|s| s.snapshot_running);
    match mode {
        SnapshotMode::Initial
        | SnapshotMode::InitialOnly
        | SnapshotMode::NoData
        | SnapshotMode::WhenNeeded => no_offset,
        SnapshotMode::Always => true,
        SnapshotMode::Never => false,
    }
}

/// Literal `table.include.list` entries must name a table.
fn check_include_list(config: &MySqlConfig, all: &[CatalogTable]) -> Result<(), MySqlError> {
    for entry in &config.table_include_list {
        let literal = entry
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '$');
        if literal
            && !all
                .iter()
                .any(|t| format!("{}.{}", t.db, t.name).eq_ignore_ascii_case(entry))
        {
            let suggestion = if entry.contains('.') {
                String::new()
            } else {
                " (entries are database.table)".into()
            };
            return Err(MySqlError::MissingTable {
                key: "table.include.list",
                entry: entry.clone(),
                suggestion,
            });
        }
    }
    Ok(())
}

/// Runs the connector until shutdown, the end of an `initial_only` snapshot, or an error
/// that reconnecting cannot get past: after a retriable one (the server restarted, the
/// connection dropped) it connects again from the committed offset, as `config.reconnect`
/// allows.
pub async fn run(config: &MySqlConfig, mut context: SourceContext) -> Result<(), MySqlError> {
    let mut reconnects =
        Reconnects::new(config.reconnect.clone()).counted_in(context.reconnects.clone());
    let _channels = crate::sources::signal_channels::start(&config.signals, &context.signals)
        .map_err(MySqlError::Signals)?;
    loop {
        let Err(error) = attempt(config, &context, &mut reconnects.connected).await else {
            return Ok(());
        };
        let retriable = error.is_retriable();
        let SourceContext {
            stored,
            committed,
            shutdown,
            ..
        } = &mut context;
        match reconnects
            .after_failure(&error, retriable, committed, shutdown, stored)
            .await
        {
            After::Retry => {}
            After::Stop => return Ok(()),
            After::GiveUp => return Err(error),
        }
    }
}

/// One connection's run, from the context's offset, until shutdown, the end of an
/// `initial_only` snapshot, or an error. `connected` turns true once the server answered.
async fn attempt(
    config: &MySqlConfig,
    context: &SourceContext,
    connected: &mut bool,
) -> Result<(), MySqlError> {
    let SourceContext {
        stored,
        batches,
        committed,
        shutdown,
        signals,
        ..
    } = context;
    let mut mgmt = catalog::connect(config).await?;
    *connected = true;
    let server = catalog::check_server(&mut mgmt, config).await?;
    tracing::info!(version = %server.version, "connected");
    let all = catalog::tables(&mut mgmt, None).await?;
    check_include_list(config, &all)?;
    let mut captured: Vec<CatalogTable> = all
        .into_iter()
        .filter(|t| config.filters.table(&t.db, &t.name))
        .collect();
    // Snapshot order, as Debezium's: by include-list entry, then by name.
    captured.sort_by_cached_key(|t| {
        let full = format!("{}.{}", t.db, t.name);
        (
            config.filters.tables.rank(&full),
            t.db.clone(),
            t.name.clone(),
        )
    });
    let mut schema_changes = SchemaChanges::open(config)?;
    let fresh_transactions = || {
        config
            .transaction_topic
            .as_ref()
            .map(|topic| TransactionMetadata::new(topic.clone()))
    };
    // A restart inside a transaction continues its metadata counts.
    let mut transactions = fresh_transactions();
    if let (Some(metadata), Some(stored)) = (transactions.as_mut(), stored.as_ref()) {
        metadata.resume(stored);
    }
    let mut incremental = stored.as_ref().and_then(|offset| {
        Incremental::resume(offset, config.signals.chunk_size, |name| {
            captured
                .iter()
                .find(|t| format!("{}.{}", t.db, t.name) == name)
                .map(|t| Arc::new(Table::from_catalog(config, t)))
        })
    });
    let mut stored = stored.as_ref().and_then(BinlogOffset::read);
    // An initial snapshot interrupted after some of its batches were committed: the stream
    // from its binlog point and the rest of its tables, read as an incremental snapshot,
    // meet exactly (docs/snapshots.md).
    if let Some(offset) = stored.as_mut().filter(|o| o.snapshot_running)
        && !matches!(
            config.snapshot_mode,
            SnapshotMode::Always | SnapshotMode::InitialOnly
        )
        && incremental
            .as_ref()
            .is_some_and(|i| i.id == crate::sources::incremental_offset::INITIAL_REST)
    {
        tracing::info!(
            file = %offset.file,
            pos = offset.pos,
            "the initial snapshot resumes after its last committed batch, beside the stream"
        );
        offset.snapshot_running = false;
    }
    if config.snapshot_mode == SnapshotMode::InitialOnly
        && stored.as_ref().is_some_and(|s| !s.snapshot_running)
    {
        tracing::info!("snapshot.mode=initial_only and the snapshot is complete: nothing to do");
        batches
            .snapshot_skipped(&config.notifications)
            .await
            .map_err(|_| MySqlError::PipelineClosed)?;
        return Ok(());
    }
    // A stored position in a binlog file the server no longer has cannot be resumed from
    // (with GTIDs the server itself decides, below).
    if let Some(offset) = stored
        .as_ref()
        .filter(|o| o.gtids.is_none() && !o.snapshot_running)
    {
        let files = catalog::binlog_files(&mut mgmt).await?;
        if !files.contains(&offset.file) {
            let reason = format!(
                "binlog file {} is not among the server's binlogs ({})",
                offset.file,
                files.first().map(String::as_str).unwrap_or("none")
            );
            if config.snapshot_mode == SnapshotMode::WhenNeeded {
                tracing::warn!(%reason, "snapshot.mode=when_needed: taking a new snapshot");
                stored = None;
            } else {
                return Err(MySqlError::BinlogPurged { reason });
            }
        }
    }
    let tables = |captured: &[CatalogTable]| -> Vec<Arc<Table>> {
        captured
            .iter()
            .map(|t| Arc::new(Table::from_catalog(config, t)))
            .collect()
    };
    let mut start = match stored {
        Some(offset) if !wants_snapshot(config.snapshot_mode, Some(&offset)) => {
            batches
                .snapshot_skipped(&config.notifications)
                .await
                .map_err(|_| MySqlError::PipelineClosed)?;
            offset
        }
        stored => {
            // Streaming goes on from a new position: no transaction is open there, no
            // earlier incremental snapshot goes on.
            transactions = fresh_transactions();
            incremental = None;
            if wants_snapshot(config.snapshot_mode, stored.as_ref()) {
                take_snapshot(
                    config,
                    &captured,
                    &tables(&captured),
                    &mut schema_changes,
                    batches,
                )
                .await?
            } else {
                // snapshot.mode=never without an offset: the whole binlog the server has.
                let files = catalog::binlog_files(&mut mgmt).await?;
                BinlogOffset {
                    file: files.into_iter().next().unwrap_or_default(),
                    pos: 4,
                    ..BinlogOffset::default()
                }
            }
        }
    };
    if config.snapshot_mode == SnapshotMode::InitialOnly {
        return Ok(());
    }
    let mut resnapshotted = false;
    loop {
        let result = Stream {
            config,
            catalog: catalog::connect(config).await?,
            tables: tables(&captured),
            schema_changes: &mut schema_changes,
            batches: batches.clone(),
            committed: committed.clone(),
            shutdown: shutdown.clone(),
            start: start.clone(),
            transactions: transactions.clone(),
            incremental: incremental.take(),
            signals: signals.clone(),
        }
        .run()
        .await;
        match result {
            Err(MySqlError::BinlogPurged { reason })
                if config.snapshot_mode == SnapshotMode::WhenNeeded && !resnapshotted =>
            {
                tracing::warn!(%reason, "snapshot.mode=when_needed: taking a new snapshot");
                resnapshotted = true;
                transactions = fresh_transactions();
                captured = catalog::tables(&mut mgmt, None)
                    .await?
                    .into_iter()
                    .filter(|t| config.filters.table(&t.db, &t.name))
                    .collect();
                start = take_snapshot(
                    config,
                    &captured,
                    &tables(&captured),
                    &mut schema_changes,
                    batches,
                )
                .await?;
            }
            other => return other,
        }
    }
}

/// Takes a snapshot (rows unless `snapshot.mode=no_data`) and returns the position
/// streaming continues from.
async fn take_snapshot(
    config: &MySqlConfig,
    captured: &[CatalogTable],
    tables: &[Arc<Table>],
    schema_changes: &mut SchemaChanges,
    batches: &BatchSender,
) -> Result<BinlogOffset, MySqlError> {
    let mut conn = catalog::connect(config).await?;
    let mut extra = if config.snapshot_threads > 1 {
        super::parallel::connect(config, config.snapshot_threads - 1).await?
    } else {
        Vec::new()
    };
    let point = snapshot::begin(&mut conn, config, &mut extra).await?;
    let done = BinlogOffset {
        file: point.position.file.clone(),
        pos: point.position.pos,
        gtids: point.gtids.clone(),
        ts_sec: Some(point.started.millis() / 1000),
        ..BinlogOffset::default()
    };
    let at = Position {
        ts: point.started,
        snapshot: SnapshotMarker::Yes,
        server_id: 0,
        gtid: None,
        file: &point.position.file,
        pos: point.position.pos,
        row: 0,
        thread: None,
    };
    let running = BinlogOffset {
        snapshot_running: true,
        ..done.clone()
    };
    let schema = schema_changes
        .snapshot(config, &mut conn, captured, &at, &running)
        .await?;
    if !schema.is_empty() {
        batches
            .send_async(Batch {
                records: schema,
                checkpoint: None,
            })
            .await
            .map_err(|_| MySqlError::PipelineClosed)?;
    }
    tracing::info!(tables = tables.len(), file = %done.file, pos = done.pos, "snapshot started");
    if config.snapshot_mode == SnapshotMode::NoData {
        batches.metrics().snapshot.start(Vec::new());
        // Debezium's MariaDB connector announces its schema-only snapshot.
        let notifier = &config.notifications;
        batches
            .send_async(Batch {
                records: [
                    notifier.initial_snapshot("STARTED", &[]),
                    notifier.initial_snapshot("COMPLETED", &[]),
                ]
                .into_iter()
                .flatten()
                .collect(),
                checkpoint: Some(Checkpoint {
                    offset: done.snapshot_completed(),
                    ack: 0,
                }),
            })
            .await
            .map_err(|_| MySqlError::PipelineClosed)?;
        batches.metrics().snapshot.end(SnapshotStatus::Completed);
    } else {
        let readers = match extra.is_empty() {
            true => None,
            false => Some(
                super::parallel::Readers::start(
                    &mut conn,
                    extra,
                    config,
                    tables,
                    (point.position.clone(), point.started),
                )
                .await?,
            ),
        };
        let read = Snapshot {
            config,
            point: &point,
            batches,
            filters: Vec::new(),
            // The stream from MariaDB's exact snapshot point meets the rest of the tables
            // read as an incremental snapshot, chunk by chunk (docs/snapshots.md).
            resumable: (config.flavor == super::config::Flavor::MariaDb).then(|| running.clone()),
        }
        .run(
            &mut conn,
            tables,
            Some(Checkpoint {
                offset: done.snapshot_completed(),
                ack: 0,
            }),
            readers,
        )
        .await;
        let rows = batches.snapshot_ended(&config.notifications, read).await?;
        tracing::info!(rows, "snapshot completed");
    }
    conn.query_drop("COMMIT")
        .await
        .map_err(|e| MySqlError::query("ending the snapshot transaction", e))?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_modes_decide_as_debezium() {
        let done = BinlogOffset {
            file: "binlog.000001".into(),
            pos: 4,
            ..BinlogOffset::default()
        };
        let running = BinlogOffset {
            snapshot_running: true,
            ..done.clone()
        };
        assert!(wants_snapshot(SnapshotMode::Initial, None));
        assert!(!wants_snapshot(SnapshotMode::Initial, Some(&done)));
        assert!(wants_snapshot(SnapshotMode::Initial, Some(&running)));
        assert!(wants_snapshot(SnapshotMode::Always, Some(&done)));
        assert!(!wants_snapshot(SnapshotMode::Never, None));
        assert!(wants_snapshot(SnapshotMode::NoData, None));
    }
}
