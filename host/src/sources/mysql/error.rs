//! Errors of the MySQL/MariaDB source. Each names what failed and, where the user can act,
//! what to do.

use super::binlog::rows::RowError;

/// What went wrong capturing changes from MySQL or MariaDB.
#[derive(Debug, thiserror::Error)]
pub enum MySqlError {
    #[error(
        "cannot connect to the database at {host}:{port} as user '{user}': {reason} (check database.hostname, database.port, database.user, database.password and that the server is running)"
    )]
    Connect {
        host: String,
        port: u16,
        user: String,
        reason: String,
    },
    #[error(
        "the server at {host}:{port} has {variable}={found}; change data capture needs {variable}={wanted} ({hint})"
    )]
    ServerSetting {
        host: String,
        port: u16,
        variable: &'static str,
        found: String,
        wanted: &'static str,
        hint: &'static str,
    },
    #[error(
        "connector.class selects {configured} but the server at {host}:{port} is {version}: use {suggested}"
    )]
    WrongFlavor {
        configured: &'static str,
        host: String,
        port: u16,
        version: String,
        suggested: &'static str,
    },
    #[error("{key} entry '{entry}' matches no table on the server{suggestion}")]
    MissingTable {
        key: &'static str,
        entry: String,
        suggestion: String,
    },
    #[error(
        "the binlog position the connector must resume from is gone: {reason}. The changes since the stored offset cannot be read; set snapshot.mode=when_needed to take a new snapshot, or remove the offset to start over"
    )]
    BinlogPurged { reason: String },
    #[error("{what}: {reason}")]
    Query { what: String, reason: String },
    #[error("binlog stream: {0}")]
    Stream(String),
    #[error("binlog event at {file}:{pos}: {reason}")]
    Event {
        file: String,
        pos: u64,
        reason: String,
    },
    #[error("table {table}: {source}")]
    Row {
        table: String,
        #[source]
        source: RowError,
    },
    #[error("column {table}.{column}: {reason}")]
    Value {
        table: String,
        column: String,
        reason: String,
    },
    #[error("schema history {path}: {reason}")]
    History { path: String, reason: String },
    #[error("the pipeline stopped; the source stops with it")]
    PipelineClosed,
}

impl MySqlError {
    /// A failed query, named by what it was for.
    pub fn query(what: impl Into<String>, error: mysql_async::Error) -> MySqlError {
        MySqlError::Query {
            what: what.into(),
            reason: error.to_string(),
        }
    }
}
