//! The job owner's work in flight: what it holds, how it waits for it, and what comes back.
//! Dropping a `Work` (the owner failed) cancels and aborts it.

use super::dream::DreamOutcome;
use super::{Reply, RollbackOutcome};
use crate::context::{InFlightView, LockWait};
use crate::error::OpError;
use crate::job::JobStatus;
use crate::state::Job;
use tokio::task::JoinError;
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, DropGuard};
use tokio_util::task::AbortOnDropHandle;

/// How an apply ended.
pub(super) enum ApplyOutcome {
    /// Recorded `applied` already (with the generation, in one transaction).
    Applied {
        generation: i64,
        event: Option<crate::state::JobEvent>,
    },
    Stale(String),
    LockBusy {
        holder: String,
    },
    Failed(String),
}

/// What the owner is doing. Dropping it (the owner failed) cancels and aborts the work.
pub(super) enum Work {
    Dream {
        id: i64,
        cancel: CancellationToken,
        _cancel_on_drop: DropGuard,
        task: AbortOnDropHandle<anyhow::Result<DreamOutcome>>,
    },
    Apply {
        id: i64,
        /// `staged` (auto-apply) or `approved` (a person's decision).
        status: JobStatus,
        task: AbortOnDropHandle<ApplyOutcome>,
        /// The person who approved waits for the outcome.
        reply: Option<Reply<Job>>,
        wait: Option<LockWait>,
    },
    /// The agent's lock was held at apply time: try again at `retry_at`.
    WaitLock {
        id: i64,
        status: JobStatus,
        retry_at: Instant,
        wait: LockWait,
    },
    Rollback {
        task: AbortOnDropHandle<Result<RollbackOutcome, OpError>>,
        reply: Reply<RollbackOutcome>,
    },
}

impl Work {
    pub(super) fn job_id(&self) -> Option<i64> {
        match self {
            Work::Dream { id, .. } | Work::Apply { id, .. } | Work::WaitLock { id, .. } => Some(*id),
            Work::Rollback { .. } => None,
        }
    }

    pub(super) fn describe(&self) -> String {
        match self {
            Work::Dream { id, .. } => format!("job {id} is running"),
            Work::Apply { id, .. } => format!("job {id} is being applied"),
            Work::WaitLock { id, .. } => format!("job {id} is waiting for the agent's lock to apply"),
            Work::Rollback { .. } => "a rollback is in progress".to_string(),
        }
    }

    /// Wait until the work in `slot` is ready (forever when there is none).
    pub(super) async fn ready(slot: &mut Option<Work>) -> Ready {
        match slot {
            None => std::future::pending().await,
            Some(Work::Dream { task, .. }) => Ready::Dream(task.await),
            Some(Work::Apply { task, .. }) => Ready::Apply(task.await),
            Some(Work::WaitLock { retry_at, .. }) => {
                tokio::time::sleep_until(*retry_at).await;
                Ready::Retry
            }
            Some(Work::Rollback { task, .. }) => Ready::Rollback(task.await),
        }
    }

    pub(super) fn view(&self) -> Option<InFlightView> {
        match self {
            Work::Dream { id, .. } => Some(InFlightView { id: *id, status: JobStatus::Running, phase: "dreaming", waiting: None }),
            Work::Apply { id, status, wait, .. } => {
                Some(InFlightView { id: *id, status: *status, phase: "applying", waiting: wait.clone() })
            }
            Work::WaitLock { id, status, wait, .. } => {
                Some(InFlightView { id: *id, status: *status, phase: "waiting_for_lock", waiting: Some(wait.clone()) })
            }
            Work::Rollback { .. } => None,
        }
    }
}

/// Finished work, as the owner's loop saw it.
pub(super) enum Ready {
    Dream(Result<anyhow::Result<DreamOutcome>, JoinError>),
    Apply(Result<ApplyOutcome, JoinError>),
    Retry,
    Rollback(Result<Result<RollbackOutcome, OpError>, JoinError>),
}
