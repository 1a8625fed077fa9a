//! What a connector costs its database while it runs, is paused or is stopped: the WAL a
//! Postgres replication slot holds back, or how far a MariaDB/MySQL connector is behind the
//! server's binlog. Read from the database every `metrics.database.poll.interval.ms` by the
//! worker (see `sources::postgres::usage` and `sources::mysql::usage`), shown in `/metrics`.

use crate::config::{Key, declare_keys};

declare_keys! {
    /// `metrics.database.poll.interval.ms`.
    POLL_INTERVAL = Key::long("metrics.database.poll.interval.ms")
        .default("30000")
        .range(Some(0), None)
        .group("Metrics")
        .doc("How often, in milliseconds, the worker reads from the database what the \
              connector holds back there (a Postgres slot's WAL, a binlog reader's distance \
              to the server's end), also while the connector is paused or stopped; 0 turns \
              it off. Each read opens and closes one connection.");
}

/// What one read found.
#[derive(Debug, Clone, PartialEq)]
pub enum DatabaseUsage {
    /// A Postgres replication slot.
    Slot {
        slot: String,
        /// Bytes from the slot's `confirmed_flush_lsn` to the server's current WAL position:
        /// what the connector has not acknowledged.
        held_bytes: Option<i64>,
        /// Bytes from the slot's `restart_lsn`: the WAL the server keeps for it.
        retained_bytes: Option<i64>,
        /// `reserved`, `extended`, `unreserved` or `lost` (Postgres 13+).
        wal_status: Option<String>,
    },
    /// The slot does not exist (never created, or dropped).
    NoSlot { slot: String },
    /// A binlog reader's distance to the server's end.
    Binlog {
        /// Bytes from the connector's position to the end of the newest binlog file.
        bytes_behind: i64,
        /// Binlog files after the connector's file.
        files_behind: i64,
    },
}
