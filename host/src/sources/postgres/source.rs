//! The Postgres connector's run: check the server, set up the publication and slot, take the
//! snapshot `snapshot.mode` asks for, then stream.

use std::sync::Arc;

use pgwire_replication::{Lsn, PgWireError, ReplicationClient, ReplicationConfig};

use super::catalog::{self, SESSION_OPTIONS, TypeRegistry};
use super::changes::Position;
use super::config::{PostgresConfig, SnapshotMode};
use super::error::PostgresError;
use super::offset::{self, PgOffset, ResumePoint, StoredOffset};
use super::setup::{self, SlotState};
use super::snapshot::{Snapshot, quote_ident};
use super::stream::{self, Stream};
use super::table::Table;
use crate::event::envelope::{SnapshotMarker, Timestamp};
use crate::event::transaction::TransactionMetadata;
use crate::sources::Checkpoint;
use crate::sources::SourceContext;
use crate::sources::metrics::BatchSender;
use crate::sources::reconnect::{After, Reconnects};

/// Whether this start takes a snapshot.
fn wants_snapshot(
    mode: SnapshotMode,
    stored: Option<&StoredOffset>,
    slot: Option<&SlotState>,
) -> bool {
    let no_offset = stored.is_none_or(|s| s.snapshot_incomplete);
    match mode {
        SnapshotMode::Initial => no_offset,
        SnapshotMode::InitialOnly => false,
        SnapshotMode::Always => true,
        SnapshotMode::NoData | SnapshotMode::Never => false,
        SnapshotMode::WhenNeeded => no_offset || slot.is_none(),
    }
}

/// A replication-connection error, classified: authentication, the connection, a slot the
/// server invalidated, or anything else the server said.
pub(super) fn replication_error(config: &PostgresConfig, error: PgWireError) -> PostgresError {
    let reason = error.to_string();
    if error.is_server() && reason.contains("has been invalidated") {
        return PostgresError::SlotLost {
            slot: config.slot_name.clone(),
        };
    }
    if error.is_auth() {
        PostgresError::Auth {
            host: config.hostname.clone(),
            port: config.port,
            user: config.user.clone(),
            reason,
        }
    } else if error.is_io() {
        PostgresError::Connect {
            host: config.hostname.clone(),
            port: config.port,
            user: config.user.clone(),
            reason,
        }
    } else {
        PostgresError::Replication(reason)
    }
}

/// Runs the connector until shutdown, the end of an `initial_only` snapshot, or an error
/// that reconnecting cannot get past: after a retriable one (the server restarted, the
/// connection dropped) it connects again from the committed offset, as `config.reconnect`
/// allows.
pub async fn run(config: &PostgresConfig, mut context: SourceContext) -> Result<(), PostgresError> {
    let mut reconnects =
        Reconnects::new(config.reconnect.clone()).counted_in(context.reconnects.clone());
    let _channels = crate::sources::signal_channels::start(&config.signals, &context.signals)
        .map_err(PostgresError::Signals)?;
    loop {
        let error = match attempt(config, &context, &mut reconnects.connected).await {
            Ok(Some(client)) => {
                stream::finish(client, context.batches, context.committed).await;
                return Ok(());
            }
            Ok(None) => return Ok(()),
            Err(error) => error,
        };
        if matches!(error, PostgresError::SlotLost { .. })
            && config.snapshot_mode == SnapshotMode::WhenNeeded
        {
            // The next attempt finds the slot lost, drops it and takes a new snapshot.
            tracing::warn!(%error, "snapshot.mode=when_needed: starting over with a new slot");
            continue;
        }
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

/// One connection's run, from the context's offset: the replication session when shutdown
/// was requested while streaming, `None` when the run ended by itself (`initial_only`).
/// `connected` turns true once the server answered.
async fn attempt(
    config: &PostgresConfig,
    context: &SourceContext,
    connected: &mut bool,
) -> Result<Option<ReplicationClient>, PostgresError> {
    let SourceContext {
        stored,
        batches,
        committed,
        shutdown,
        signals,
        ..
    } = context;
    let mgmt = catalog::connect(config).await?;
    *connected = true;
    setup::check_server(&mgmt, config).await?;
    let types = TypeRegistry::load(&mgmt).await?;
    let all = catalog::all_tables(&mgmt).await?;
    setup::check_include_list(config, &all)?;
    let mut captured: Vec<_> = all
        .into_iter()
        .filter(|t| config.filters.table(&t.schema, &t.name))
        .collect();
    // Snapshot order, as Debezium's: by include-list entry, then by name.
    captured.sort_by_cached_key(|t| {
        (
            config.filters.snapshot_rank(&t.schema, &t.name),
            format!("{}.{}", t.schema, t.name),
        )
    });
    let transactions = config.transaction_topic.as_ref().map(|topic| {
        let mut metadata = TransactionMetadata::new(topic.clone());
        if let Some(stored) = &stored {
            metadata.resume(stored);
        }
        metadata
    });
    let mut incremental = stored.as_ref().and_then(|offset| {
        super::incremental::Incremental::resume(offset, config.signals.chunk_size, |name| {
            captured
                .iter()
                .find(|t| format!("{}.{}", t.schema, t.name) == name)
                .map(|t| Arc::new(Table::from_catalog(config, &types, t)))
        })
    });
    let stored = stored.as_ref().and_then(offset::read);
    let tables = || -> Vec<Arc<Table>> {
        captured
            .iter()
            .map(|t| Arc::new(Table::from_catalog(config, &types, t)))
            .collect()
    };
    if config.snapshot_mode == SnapshotMode::InitialOnly {
        // A snapshot and nothing after it: no publication, no slot left behind.
        if stored.is_some_and(|s| !s.snapshot_incomplete) {
            tracing::info!(
                "snapshot.mode=initial_only and the snapshot is complete: nothing to do"
            );
            batches
                .snapshot_skipped(&config.notifications)
                .await
                .map_err(|_| PostgresError::PipelineClosed)?;
        } else {
            take_snapshot(config, &tables(), None, None, batches).await?;
        }
        return Ok(None);
    }
    setup::ensure_publication(&mgmt, config, &captured).await?;
    let Some(mut slot) = setup::wait_for_slot(&mgmt, config, shutdown).await? else {
        return Ok(None);
    };
    let mut snapshot = wants_snapshot(config.snapshot_mode, stored.as_ref(), slot.as_ref());
    // An initial snapshot interrupted after some of its chunks were committed: its slot is
    // still at the snapshot's consistent point, so the stream from there and the rest of the
    // tables read as an incremental snapshot meet exactly (docs/snapshots.md).
    let resuming = snapshot
        && config.snapshot_mode != SnapshotMode::Always
        && slot.is_some()
        && stored.is_some_and(|s| s.snapshot_incomplete)
        && incremental
            .as_ref()
            .is_some_and(|i| i.id == super::incremental::INITIAL_REST);
    if resuming {
        tracing::info!(
            slot = %config.slot_name,
            "the initial snapshot resumes after its last committed chunk, beside the stream"
        );
        snapshot = false;
    } else if snapshot {
        // A snapshot reads everything again: no earlier progress goes on.
        incremental = None;
    }
    if snapshot && slot.is_some() && stored.is_none_or(|s| s.snapshot_incomplete) {
        // No committed offset refers to the slot (an earlier attempt ended mid-snapshot, or
        // the offsets were reset): its position predates this snapshot, so streaming from it
        // would deliver again the changes the snapshot reads. Nothing depends on it: a new
        // slot's exported snapshot makes the snapshot and the stream meet exactly.
        tracing::info!(
            slot = %config.slot_name,
            "no committed offset uses the replication slot: it is created again for the snapshot"
        );
        setup::drop_slot(&mgmt, config).await?;
        slot = None;
    }
    if slot.is_none()
        && let Some(stored) = &stored
        && !snapshot
    {
        tracing::warn!(
            slot = %config.slot_name,
            offset_lsn = stored.resume.commit,
            "the replication slot is gone although offsets exist: changes made since the stored offset \
             and before the new slot cannot be captured (use snapshot.mode=when_needed to re-snapshot \
             in this case)"
        );
    }

    let replication = ReplicationConfig::new(
        config.hostname.clone(),
        config.user.clone(),
        config.password.clone(),
        config.dbname.clone(),
        config.slot_name.clone(),
        config.publication_name.clone(),
    )
    .with_port(config.port)
    .with_start_lsn(Lsn::ZERO)
    .with_options(SESSION_OPTIONS)
    .with_application_name("tidemark")
    .with_status_interval(std::time::Duration::from_secs(1));
    let mut client = config
        .tls
        .connect_replication(config, replication, |e| replication_error(config, e))
        .await?;

    let mut exported: Option<(String, u64)> = None;
    if slot.is_none() {
        let sql = format!(
            "CREATE_REPLICATION_SLOT {} LOGICAL pgoutput (SNAPSHOT '{}')",
            quote_ident(&config.slot_name),
            if snapshot { "export" } else { "nothing" }
        );
        let rows = client
            .simple_query(&sql)
            .await
            .map_err(|e| replication_error(config, e))?;
        let text = |row: usize, col: usize| {
            rows.get(row)
                .and_then(|r| r.get(col))
                .and_then(|c| c.as_ref())
                .map(|b| String::from_utf8_lossy(b).into_owned())
        };
        let consistent = text(0, 1)
            .and_then(|l| Lsn::parse(&l).ok())
            .ok_or_else(|| {
                PostgresError::Replication(
                    "CREATE_REPLICATION_SLOT gave no consistent point".into(),
                )
            })?;
        tracing::info!(slot = %config.slot_name, consistent_point = %consistent, "replication slot created");
        if let Some(name) = text(0, 2) {
            exported = Some((name, consistent.as_u64()));
        }
    }

    let mut resume = stored.map(|s| s.resume);
    if snapshot {
        let done =
            take_snapshot(config, &tables(), exported.as_ref(), slot.as_ref(), batches).await?;
        resume = Some(done);
    } else if !resuming {
        batches
            .snapshot_skipped(&config.notifications)
            .await
            .map_err(|_| PostgresError::PipelineClosed)?;
    }

    client
        .start()
        .await
        .map_err(|e| replication_error(config, e))?;
    client
        .wait_started()
        .await
        .map_err(|e| replication_error(config, e))?;
    tracing::info!(slot = %config.slot_name, publication = %config.publication_name, "streaming changes");
    let connected = &batches.metrics().streaming.connected;
    connected.store(true, std::sync::atomic::Ordering::Relaxed);
    let streamed = Stream {
        config,
        client,
        catalog: &mgmt,
        types,
        batches: batches.clone(),
        committed: committed.clone(),
        shutdown: shutdown.clone(),
        resume,
        last_commit: None,
        transactions,
        incremental,
        signals: signals.clone(),
    }
    .run()
    .await;
    connected.store(false, std::sync::atomic::Ordering::Relaxed);
    Ok(Some(streamed?))
}

/// Reads the snapshot in a REPEATABLE READ transaction, on the slot's exported snapshot
/// when there is one. Returns the point streaming resumes after.
async fn take_snapshot(
    config: &PostgresConfig,
    tables: &[Arc<Table>],
    exported: Option<&(String, u64)>,
    slot: Option<&SlotState>,
    batches: &BatchSender,
) -> Result<ResumePoint, PostgresError> {
    let client = catalog::connect(config).await?;
    let what = "starting the snapshot transaction";
    client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        .await
        .map_err(|e| PostgresError::query(what, e))?;
    if let Some((name, _)) = exported {
        // Tables are read in `ctid` order (no synchronized or parallel scans), so the last
        // row emitted tells what is left of them.
        client
            .batch_execute(&format!(
                "SET TRANSACTION SNAPSHOT '{name}'; SET LOCAL synchronize_seqscans = off; \
                 SET LOCAL max_parallel_workers_per_gather = 0"
            ))
            .await
            .map_err(|e| PostgresError::query(what, e))?;
    }
    let row = client
        .query_one(
            "SELECT pg_current_xact_id()::text::bigint, (pg_current_wal_lsn() - '0/0')::bigint, \
                    (extract(epoch FROM now()) * 1000000)::bigint",
            &[],
        )
        .await
        .map_err(|e| PostgresError::query(what, e))?;
    // Several readers share this transaction's snapshot, exported for them.
    let parallel = if config.snapshot_threads > 1 {
        let row = client
            .query_one("SELECT pg_export_snapshot()", &[])
            .await
            .map_err(|e| PostgresError::query("exporting the snapshot for its readers", e))?;
        Some(super::parallel::Parallel {
            snapshot: row.get(0),
            threads: config.snapshot_threads,
        })
    } else {
        None
    };
    let tx_id: i64 = row.get(0);
    let current: i64 = row.get(1);
    let started = Timestamp::from_micros(row.get(2));
    // With an exported snapshot, streaming starts exactly at its consistent point. Without
    // one (the slot existed already), streaming starts at the slot's position, possibly
    // repeating changes the snapshot saw, never missing any.
    let (lsn, resume_from) = match (exported, slot) {
        (Some((_, consistent)), _) => (*consistent, *consistent),
        (None, Some(s)) => (current as u64, s.confirmed_flush.unwrap_or(0)),
        (None, None) => (current as u64, 0),
    };
    let at = Position {
        ts: started,
        tx_id: Some(tx_id),
        lsn: Some(lsn),
        last_lsn: None,
        snapshot: SnapshotMarker::Yes,
    };
    let done = PgOffset {
        lsn,
        lsn_proc: None,
        lsn_commit: resume_from,
        tx_id: Some(tx_id),
        ts_usec: Some(started.micros()),
        message_type: None,
    };
    let checkpoint = Checkpoint {
        offset: done.snapshot_completed(),
        ack: resume_from,
    };
    // With the slot's exported snapshot, the stream from its consistent point can meet the
    // rest of the tables after a crash: the snapshot is resumable.
    let resumable = exported.map(|_| Checkpoint {
        offset: done.snapshot_in_progress(),
        ack: resume_from,
    });
    tracing::info!(tables = tables.len(), "snapshot started");
    let snapshot_config = super::snapshot::snapshot_config(config);
    let read = Snapshot {
        config: &snapshot_config,
        client: &client,
        at,
        batches,
        resumable,
        parallel,
        filters: Vec::new(),
    }
    .run(tables, Some(checkpoint))
    .await;
    let rows = batches.snapshot_ended(&config.notifications, read).await?;
    client
        .batch_execute("COMMIT")
        .await
        .map_err(|e| PostgresError::query("ending the snapshot transaction", e))?;
    tracing::info!(rows, "snapshot completed");
    Ok(ResumePoint {
        commit: resume_from,
        proc: None,
        txid: None,
    })
}
