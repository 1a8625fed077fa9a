//! What can go wrong managing connectors, as Kafka Connect's REST API reports it.

use crate::pipeline::connector;

/// What went wrong managing connectors; each maps to a Connect REST error code.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("Connector {0} not found")]
    NotFound(String),
    /// Something else the request names does not exist (Connect's 404; also its answer to
    /// an unknown log level).
    #[error("{0}")]
    Unknown(String),
    #[error("Connector {0} already exists")]
    Exists(String),
    #[error("Connector configuration is invalid and contains the following {} error(s):\n{}", .0.len(), .0.join("\n"))]
    Invalid(Vec<String>),
    #[error("{0}")]
    BadRequest(String),
    /// A request body that is not JSON: Connect answers 500 for it (its JSON reader's
    /// exception), so Tidemark does too.
    #[error("{0}")]
    Unparsable(String),
    #[error("{0}")]
    Conflict(String),
    #[error("cannot keep connector configs in {path}: {reason}")]
    Store { path: String, reason: String },
    #[error("{0}")]
    Internal(String),
}

impl WorkerError {
    /// The HTTP status Kafka Connect answers with for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            WorkerError::NotFound(_) | WorkerError::Unknown(_) => 404,
            WorkerError::Exists(_) | WorkerError::Conflict(_) => 409,
            WorkerError::Invalid(_) | WorkerError::BadRequest(_) => 400,
            WorkerError::Store { .. } | WorkerError::Internal(_) | WorkerError::Unparsable(_) => {
                500
            }
        }
    }

    /// Whether trying the same request again later may succeed.
    pub fn is_retriable(&self) -> bool {
        matches!(
            self,
            WorkerError::Store { .. } | WorkerError::Conflict(_) | WorkerError::Internal(_)
        )
    }
}

/// Why a single connector's run ([`Worker::run_one`]) failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Worker(#[from] WorkerError),
    #[error(transparent)]
    Connector(#[from] connector::ConnectorError),
}
