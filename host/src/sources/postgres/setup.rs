//! Checks and set-up before capture: the server's `wal_level`, the user's right to
//! replicate, the publication (`publication.autocreate.mode`) and the replication slot.

use tokio_postgres::Client;

use super::catalog::CatalogTable;
use super::config::{PostgresConfig, PublicationMode, SnapshotMode};
use super::error::PostgresError;
use super::snapshot::quote_ident;

/// Fails unless the server can decode logical changes and the user may replicate.
pub async fn check_server(client: &Client, config: &PostgresConfig) -> Result<(), PostgresError> {
    let row = client
        .query_one(
            "SELECT current_setting('wal_level'), \
                    (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user)",
            &[],
        )
        .await
        .map_err(|e| PostgresError::query("reading wal_level", e))?;
    let wal_level: String = row.get(0);
    if wal_level != "logical" {
        return Err(PostgresError::WalLevel {
            host: config.hostname.clone(),
            port: config.port,
            found: wal_level,
        });
    }
    let may_replicate: Option<bool> = row.get(1);
    if may_replicate != Some(true) {
        return Err(PostgresError::NotReplicationUser {
            user: config.user.clone(),
        });
    }
    Ok(())
}

/// Fails when an entry of `table.include.list` names one table literally (no pattern) and
/// that table does not exist: almost always a typo that would capture nothing.
pub fn check_include_list(
    config: &PostgresConfig,
    all: &[CatalogTable],
) -> Result<(), PostgresError> {
    for entry in &config.table_include_list {
        let literal = entry.replace("\\.", ".");
        let is_literal = !literal.chars().any(|c| "*+?[](){}|^$\\".contains(c))
            && literal.matches('.').count() == 1;
        if !is_literal {
            continue;
        }
        if all
            .iter()
            .any(|t| format!("{}.{}", t.schema, t.name) == literal)
        {
            continue;
        }
        let (_, wanted) = literal.split_once('.').unwrap_or(("", &literal));
        let similar: Vec<String> = all
            .iter()
            .filter(|t| t.name.eq_ignore_ascii_case(wanted))
            .map(|t| format!("{}.{}", t.schema, t.name))
            .collect();
        let suggestion = if similar.is_empty() {
            " (check the schema and table name)".to_owned()
        } else {
            format!(" (did you mean {}?)", similar.join(", "))
        };
        return Err(PostgresError::MissingTable {
            key: "table.include.list",
            entry: entry.clone(),
            db: config.dbname.clone(),
            suggestion,
        });
    }
    Ok(())
}

/// Creates or updates the publication as `publication.autocreate.mode` says.
pub async fn ensure_publication(
    client: &Client,
    config: &PostgresConfig,
    captured: &[CatalogTable],
) -> Result<(), PostgresError> {
    let name = &config.publication_name;
    let exists = client
        .query_opt("SELECT 1 FROM pg_publication WHERE pubname = $1", &[name])
        .await
        .map_err(|e| PostgresError::query("reading pg_publication", e))?
        .is_some();
    let table_list = || {
        captured
            .iter()
            .map(|t| format!("{}.{}", quote_ident(&t.schema), quote_ident(&t.name)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let quoted = quote_ident(name);
    let sql = match config.publication_mode {
        PublicationMode::Disabled if exists => return Ok(()),
        PublicationMode::Disabled => {
            return Err(PostgresError::MissingPublication {
                publication: name.clone(),
            });
        }
        PublicationMode::AllTables if exists => return Ok(()),
        PublicationMode::AllTables => format!("CREATE PUBLICATION {quoted} FOR ALL TABLES"),
        PublicationMode::Filtered if captured.is_empty() => {
            tracing::warn!(publication = %name, "no table matches the include lists; the publication captures nothing");
            if exists {
                return Ok(());
            }
            format!("CREATE PUBLICATION {quoted}")
        }
        PublicationMode::Filtered if exists => {
            format!("ALTER PUBLICATION {quoted} SET TABLE {}", table_list())
        }
        PublicationMode::Filtered => {
            format!("CREATE PUBLICATION {quoted} FOR TABLE {}", table_list())
        }
    };
    tracing::info!(%sql, "setting up the publication");
    client
        .batch_execute(&sql)
        .await
        .map_err(|e| PostgresError::query(format!("setting up publication '{name}'"), e))
}

/// The state of the replication slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotState {
    /// Where the slot will resume (`confirmed_flush_lsn`).
    pub confirmed_flush: Option<u64>,
}

/// Drops the connector's slot (which no session may be using).
pub async fn drop_slot(client: &Client, config: &PostgresConfig) -> Result<(), PostgresError> {
    client
        .execute("SELECT pg_drop_replication_slot($1)", &[&config.slot_name])
        .await
        .map_err(|e| PostgresError::query("dropping the replication slot", e))?;
    Ok(())
}

/// Reads the slot as [`read_slot`] does, looking again `slot.max.retries` times,
/// `slot.retry.delay.ms` apart, while another process holds it (Debezium's retries): the
/// session of a connector that just restarted may not have let go yet. `None` when shutdown
/// was requested meanwhile. A slot still held after the last look is a fatal error naming
/// the process: two connectors configured with one slot would otherwise wait forever.
pub async fn wait_for_slot(
    client: &Client,
    config: &PostgresConfig,
    shutdown: &tokio::sync::watch::Receiver<bool>,
) -> Result<Option<Option<SlotState>>, PostgresError> {
    let mut shutdown = shutdown.clone();
    let mut looks = 0;
    loop {
        match read_slot(client, config).await {
            Err(PostgresError::SlotInUse { slot, pid }) if looks < config.slot_max_retries => {
                looks += 1;
                tracing::warn!(
                    %slot,
                    pid,
                    attempt = looks,
                    of = config.slot_max_retries,
                    "the replication slot is held by another process: looking again after \
                     slot.retry.delay.ms"
                );
                if !crate::sources::reconnect::wait(config.slot_retry_delay, &mut shutdown).await {
                    return Ok(None);
                }
            }
            other => return other.map(Some),
        }
    }
}

/// Reads the slot; `None` when it does not exist. Fails when it exists but cannot be used.
/// A slot the server invalidated (`wal_status = 'lost'`, after `max_slot_wal_keep_size`) is
/// an error, except with `snapshot.mode=when_needed`, which drops it: the connector then
/// creates a new one and takes a new snapshot.
pub async fn read_slot(
    client: &Client,
    config: &PostgresConfig,
) -> Result<Option<SlotState>, PostgresError> {
    let row = client
        .query_opt(
            "SELECT plugin::text, active_pid, (confirmed_flush_lsn - '0/0')::bigint, database::text, \
                    wal_status::text \
             FROM pg_replication_slots WHERE slot_name = $1",
            &[&config.slot_name],
        )
        .await
        .map_err(|e| PostgresError::query("reading pg_replication_slots", e))?;
    let Some(row) = row else {
        return Ok(None);
    };
    if row.get::<_, Option<String>>(4).as_deref() == Some("lost") {
        if config.snapshot_mode != SnapshotMode::WhenNeeded {
            return Err(PostgresError::SlotLost {
                slot: config.slot_name.clone(),
            });
        }
        tracing::warn!(
            slot = %config.slot_name,
            "the replication slot was invalidated (wal_status = lost, see max_slot_wal_keep_size): \
             snapshot.mode=when_needed drops it and takes a new snapshot"
        );
        drop_slot(client, config).await?;
        return Ok(None);
    }
    let plugin: Option<String> = row.get(0);
    if plugin.as_deref() != Some("pgoutput") {
        return Err(PostgresError::WrongSlotPlugin {
            slot: config.slot_name.clone(),
            plugin: plugin.unwrap_or_else(|| "none (a physical slot)".into()),
        });
    }
    if let Some(pid) = row.get::<_, Option<i32>>(1) {
        return Err(PostgresError::SlotInUse {
            slot: config.slot_name.clone(),
            pid,
        });
    }
    let database: Option<String> = row.get(3);
    if database.as_deref() != Some(config.dbname.as_str()) {
        return Err(PostgresError::Query {
            what: format!("using replication slot '{}'", config.slot_name),
            reason: format!(
                "it belongs to database '{}', not '{}'; choose another slot.name",
                database.unwrap_or_default(),
                config.dbname
            ),
            retriable: false,
        });
    }
    Ok(Some(SlotState {
        confirmed_flush: row.get::<_, Option<i64>>(2).map(|l| l as u64),
    }))
}
