//! Errors of the Postgres source. Each names what failed and, where the user can act, what
//! to do.

use super::pgoutput::DecodeError;

/// What went wrong capturing changes from Postgres.
#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    #[error(
        "cannot connect to Postgres at {host}:{port} as user '{user}': {reason} (check database.hostname, database.port and that the server is running)"
    )]
    Connect {
        host: String,
        port: u16,
        user: String,
        reason: String,
    },
    #[error(
        "Postgres at {host}:{port} refused user '{user}': {reason} (check database.user and database.password)"
    )]
    Auth {
        host: String,
        port: u16,
        user: String,
        reason: String,
    },
    /// TLS failed or was refused (a certificate not trusted or not for the host, a server
    /// without TLS, plain text refused): retrying cannot fix it, so it is fatal.
    #[error("TLS to Postgres at {host}:{port}: {reason}")]
    Tls {
        host: String,
        port: u16,
        reason: String,
    },
    #[error(
        "Postgres at {host}:{port} has wal_level={found}; change data capture needs wal_level=logical (set it in postgresql.conf and restart the server)"
    )]
    WalLevel {
        host: String,
        port: u16,
        found: String,
    },
    #[error(
        "user '{user}' may not use logical replication: it needs the REPLICATION attribute (ALTER ROLE {user} REPLICATION) or superuser"
    )]
    NotReplicationUser { user: String },
    #[error("{key} entry '{entry}' matches no table in database '{db}'{suggestion}")]
    MissingTable {
        key: &'static str,
        entry: String,
        db: String,
        suggestion: String,
    },
    #[error(
        "publication '{publication}' does not exist and publication.autocreate.mode=disabled: create it (CREATE PUBLICATION {publication} FOR ALL TABLES) or set publication.autocreate.mode"
    )]
    MissingPublication { publication: String },
    #[error(
        "replication slot '{slot}' uses the output plugin '{plugin}', not pgoutput: drop it or choose another slot.name"
    )]
    WrongSlotPlugin { slot: String, plugin: String },
    #[error(
        "replication slot '{slot}' is in use by another process (pid {pid}), still after slot.max.retries looks: stop the other consumer or choose another slot.name"
    )]
    SlotInUse { slot: String, pid: i32 },
    #[error("{what}: {reason}")]
    Query {
        what: String,
        reason: String,
        /// The connection dropped or the server is restarting: reconnecting may succeed.
        retriable: bool,
    },
    #[error("replication stream: {0}")]
    Replication(String),
    #[error(
        "replication slot '{slot}' was invalidated by the server (wal_status = lost): it needed WAL that max_slot_wal_keep_size let the server remove, so the changes since the last committed offset are gone. Set snapshot.mode=when_needed to drop the slot and take a new snapshot, or raise max_slot_wal_keep_size (and commit offsets more often) to keep this from happening"
    )]
    SlotLost { slot: String },
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("a change arrived for relation {0} before its Relation message")]
    UnknownRelation(u32),
    #[error("column {table}.{column}: {reason}")]
    Value {
        table: String,
        column: String,
        reason: String,
    },
    #[error("the pipeline stopped; the source stops with it")]
    PipelineClosed,
    /// A signal channel could not start (its settings are wrong).
    #[error("{0}; check the signal.* settings")]
    Signals(String),
}

impl PostgresError {
    /// A failed query, named by what it was for.
    pub fn query(what: impl Into<String>, error: tokio_postgres::Error) -> PostgresError {
        let retriable = match error.as_db_error() {
            Some(db) => retriable_sqlstate(db.code().code()),
            // No answer from the server: the connection is gone.
            None => true,
        };
        PostgresError::Query {
            what: what.into(),
            reason: describe(&error),
            retriable,
        }
    }

    /// Whether reconnecting may get past this error: the connection dropped or the server is
    /// restarting. Authentication, privileges, configuration, a lost slot and a slot still
    /// held by another process after `slot.max.retries` looks are fatal.
    pub fn is_retriable(&self) -> bool {
        match self {
            PostgresError::Connect { .. } => true,
            PostgresError::Query { retriable, .. } => *retriable,
            PostgresError::Replication(reason) => {
                // pgwire-replication writes a server's error with "SQLSTATE <code>"; an error
                // without one is the connection's (I/O, an ended stream).
                match reason.split("SQLSTATE ").nth(1) {
                    Some(rest) => retriable_sqlstate(rest.get(..5).unwrap_or(rest)),
                    None => true,
                }
            }
            _ => false,
        }
    }
}

/// SQLSTATEs after which a new connection may succeed: connection exceptions (08), the server
/// shutting down or starting (57P01-57P03), insufficient resources (53), an object in use
/// (55006, a slot whose old session has not ended yet) and serialization failures.
fn retriable_sqlstate(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "55006" | "40001" | "40P01"
        )
}

/// A tokio-postgres error with the server's message, detail and hint when there is one.
pub fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => {
            let mut text = db.message().to_owned();
            if let Some(detail) = db.detail() {
                text.push_str(&format!(" ({detail})"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!("; hint: {hint}"));
            }
            text
        }
        None => {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(inner) = source {
                text.push_str(&format!(": {inner}"));
                source = inner.source();
            }
            text
        }
    }
}
