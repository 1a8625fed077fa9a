//! A connector's state as Kafka Connect reports it (`GET /connectors/{name}/status`).

use serde::Serialize;

/// Kafka Connect's connector and task states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    /// Created, not started yet.
    Unassigned,
    /// Running (also while it reconnects after a retriable fault).
    Running,
    /// Paused: reads nothing, keeps its connection.
    Paused,
    /// Stopped: nothing runs.
    Stopped,
    /// Failed: it ended on an error, shown as its trace; a restart tries again.
    Failed,
    /// Being restarted.
    Restarting,
}

impl State {
    /// The name Connect shows (`RUNNING`, …).
    pub fn name(self) -> &'static str {
        match self {
            State::Unassigned => "UNASSIGNED",
            State::Running => "RUNNING",
            State::Paused => "PAUSED",
            State::Stopped => "STOPPED",
            State::Failed => "FAILED",
            State::Restarting => "RESTARTING",
        }
    }
}

/// A connector's state and, when it failed, why.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub state: State,
    /// The error that ended it (with its causes), for `FAILED`.
    pub trace: Option<String>,
    /// The worker it runs on, when another worker's status says so (distributed mode);
    /// `None`: this worker.
    pub worker_id: Option<String>,
}

impl Status {
    /// A status without a trace.
    pub fn of(state: State) -> Status {
        Status {
            state,
            trace: None,
            worker_id: None,
        }
    }

    /// A failure with its message.
    pub fn failed(trace: String) -> Status {
        Status {
            state: State::Failed,
            trace: Some(trace),
            worker_id: None,
        }
    }
}

/// An error with its causes, one per line, as a Connect trace shows an exception chain.
pub fn trace_of(error: &dyn std::error::Error) -> String {
    let mut trace = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        let text = error.to_string();
        if !trace.contains(&text) {
            trace.push_str("\nCaused by: ");
            trace.push_str(&text);
        }
        cause = error.source();
    }
    trace
}
