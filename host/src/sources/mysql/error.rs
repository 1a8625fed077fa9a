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
        /// The server was unreachable or restarting (not a refused login): reconnecting
        /// may succeed.
        retriable: bool,
    },
    /// TLS failed or was refused (a certificate not trusted or not for the host, a server
    /// without TLS, plain text refused): retrying cannot fix it, so it is fatal.
    #[error("TLS to the database at {host}:{port}: {reason}")]
    Tls {
        host: String,
        port: u16,
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
    Query {
        what: String,
        reason: String,
        /// The connection dropped or the server is restarting: reconnecting may succeed.
        retriable: bool,
    },
    #[error("binlog stream: {0}")]
    Stream(String),
    #[error("binlog stream: the connection was lost: {0}")]
    Lost(String),
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
    /// A signal channel could not start (its settings are wrong).
    #[error("{0}; check the signal.* settings")]
    Signals(String),
}

impl MySqlError {
    /// A failed query, named by what it was for.
    pub fn query(what: impl Into<String>, error: mysql_async::Error) -> MySqlError {
        MySqlError::Query {
            what: what.into(),
            retriable: is_transient(&error),
            reason: error.to_string(),
        }
    }

    /// Whether reconnecting may get past this error: the connection dropped or the server
    /// is restarting. Refused logins, privileges, configuration and purged binlogs are fatal.
    pub fn is_retriable(&self) -> bool {
        match self {
            MySqlError::Connect { retriable, .. } | MySqlError::Query { retriable, .. } => {
                *retriable
            }
            MySqlError::Lost(_) => true,
            _ => false,
        }
    }
}

/// Server errors after which a new connection may succeed: the server shutting down
/// (1053, 1927 connection killed), too many connections (1040), lock wait timeout and
/// deadlock (1205, 1213), and the client-side lost-connection codes (2006, 2013).
const TRANSIENT_SERVER_CODES: &[u16] = &[1040, 1053, 1205, 1213, 1927, 2006, 2013];

/// Whether a `mysql_async` error is the connection's or the server's passing state rather
/// than the request's.
pub fn is_transient(error: &mysql_async::Error) -> bool {
    match error {
        mysql_async::Error::Io(_) => true,
        mysql_async::Error::Driver(driver) => matches!(
            driver,
            mysql_async::DriverError::ConnectionClosed
                | mysql_async::DriverError::PoolDisconnected
                | mysql_async::DriverError::UnexpectedPacket { .. }
        ),
        mysql_async::Error::Server(server) => TRANSIENT_SERVER_CODES.contains(&server.code),
        _ => false,
    }
}
