//! Why an operation was refused. The API maps each kind to one HTTP status.

use crate::state::StateError;

#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Limited(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The daemon is shutting down, or the part that would answer is restarting.
    #[error("{0}")]
    Unavailable(String),
    #[error("{0:#}")]
    Internal(anyhow::Error),
}

impl OpError {
    pub fn code(&self) -> &'static str {
        match self {
            OpError::NotFound(_) => "not_found",
            OpError::Conflict(_) => "conflict",
            OpError::Limited(_) => "limited",
            OpError::BadRequest(_) => "bad_request",
            OpError::MethodNotAllowed(_) => "method_not_allowed",
            OpError::Unavailable(_) => "unavailable",
            OpError::Internal(_) => "internal",
        }
    }
}

impl From<StateError> for OpError {
    fn from(e: StateError) -> Self {
        match e {
            StateError::NotFound(_) => OpError::NotFound(e.to_string()),
            StateError::Illegal { .. } => OpError::Conflict(e.to_string()),
            StateError::Db(e) => OpError::Internal(e),
        }
    }
}

impl From<anyhow::Error> for OpError {
    fn from(e: anyhow::Error) -> Self {
        OpError::Internal(e)
    }
}

/// The message of a panic payload, for a job's error and the log.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-text payload".to_string()
    }
}

/// A task that did not return: its panic message, or that it was stopped.
pub fn join_error_message(e: tokio::task::JoinError) -> String {
    if e.is_panic() {
        format!("panicked: {}", panic_message(&*e.into_panic()))
    } else {
        "was stopped before it finished".to_string()
    }
}
