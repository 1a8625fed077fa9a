//! The WAL a connector's replication slot holds back (see [`crate::sources::usage`]).

use super::{PostgresConfig, PostgresError, catalog};
use crate::sources::usage::DatabaseUsage;

/// Reads the slot's positions against the server's current WAL position (on a standby, the
/// last received one, as Debezium reads it).
pub async fn slot_usage(config: &PostgresConfig) -> Result<DatabaseUsage, PostgresError> {
    let client = catalog::connect(config).await?;
    let what = "reading the replication slot's WAL positions";
    let row = client
        .query_opt(
            "SELECT s.wal_status::text, \
                    pg_wal_lsn_diff(c.lsn, s.confirmed_flush_lsn)::bigint, \
                    pg_wal_lsn_diff(c.lsn, s.restart_lsn)::bigint \
             FROM pg_replication_slots s, \
                  (SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() \
                          ELSE pg_current_wal_lsn() END AS lsn) c \
             WHERE s.slot_name = $1",
            &[&config.slot_name],
        )
        .await
        .map_err(|e| PostgresError::query(what, e))?;
    let slot = config.slot_name.clone();
    Ok(match row {
        None => DatabaseUsage::NoSlot { slot },
        Some(row) => DatabaseUsage::Slot {
            slot,
            wal_status: row.get(0),
            held_bytes: row.get(1),
            retained_bytes: row.get(2),
        },
    })
}
