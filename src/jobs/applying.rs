//! Applying a staged or approved job, and waiting when the agent's lock is busy: the job stays
//! `staged`/`approved` and is retried with backoff; it becomes `stale` only if the live store
//! changed.

use super::owner::{send, Owner};
use super::replace::{self, ReplaceError};
use super::work::{ApplyOutcome, Work};
use super::{sessions, Reply};
use crate::context::{Context, LockWait};
use crate::error::{join_error_message, OpError};
use crate::job::JobStatus;
use crate::state::{Job, JobUpdate};
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinError;
use tokio_util::task::AbortOnDropHandle;

/// First retry after a busy lock; doubles per attempt up to [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_millis(250);
const MAX_RETRY: Duration = Duration::from_secs(30);

fn retry_delay(attempts: u32) -> Duration {
    FIRST_RETRY.saturating_mul(1 << attempts.saturating_sub(1).min(16)).min(MAX_RETRY)
}

impl Owner {
    /// Start applying job `id` (in `status`). `candidate` saves reading the staged copy back.
    pub(super) fn begin_apply(
        &mut self,
        id: i64,
        status: JobStatus,
        candidate: Option<Arc<Store>>,
        reply: Option<Reply<Job>>,
        wait: Option<LockWait>,
    ) {
        let base_hash = match self.ctx.state.job(id) {
            Ok(job) => job.base_hash,
            Err(e) => {
                if let Some(reply) = reply {
                    send(reply, Err(e.into()));
                }
                return;
            }
        };
        let Some(base_hash) = base_hash else {
            let msg = format!("job {id} has no base hash; cannot apply it");
            self.fail(id, &msg);
            if let Some(reply) = reply {
                send(reply, Err(OpError::Internal(anyhow::anyhow!(msg))));
            }
            return;
        };
        let ctx = self.ctx.clone();
        let task = tokio::task::spawn_blocking(move || apply_candidate(&ctx, id, &base_hash, candidate));
        self.slot = Some(Work::Apply { id, status, task: AbortOnDropHandle::new(task), reply, wait });
    }

    pub(super) fn applied(
        &mut self,
        id: i64,
        status: JobStatus,
        reply: Option<Reply<Job>>,
        wait: Option<LockWait>,
        result: Result<ApplyOutcome, JoinError>,
    ) {
        let outcome = result.unwrap_or_else(|join| ApplyOutcome::Failed(format!("applying the candidate {}", join_error_message(join))));
        let answer = match outcome {
            ApplyOutcome::Applied { generation, event } => {
                // The job, its generation and its `applied` event were recorded together.
                if let Some(e) = event {
                    let _ = self.ctx.events.send(e);
                }
                let job = self.recorded(id).map_err(OpError::from);
                if job.is_ok() {
                    sessions::settle(&self.ctx, id);
                    tracing::info!(job = id, generation, "candidate applied");
                }
                job
            }
            ApplyOutcome::Stale(msg) => {
                let update = JobUpdate { error: Some(msg.clone()), finished_at: Some(self.ctx.now()), ..Default::default() };
                self.ctx.emit(id, "stale", &msg);
                tracing::warn!(job = id, "{msg}; candidate is stale");
                match self.transition(id, JobStatus::Stale, update) {
                    Ok(_) => Err(OpError::Conflict(format!("job {id} is stale: {msg}"))),
                    Err(e) => Err(e.into()),
                }
            }
            ApplyOutcome::LockBusy { holder } => {
                let now = self.ctx.now();
                let attempts = wait.as_ref().map_or(1, |w| w.attempts + 1);
                let delay = retry_delay(attempts);
                let next = now + chrono::Duration::from_std(delay).unwrap_or_default();
                let wait = LockWait { holder: holder.clone(), since: wait.map_or(now, |w| w.since), attempts, next_attempt_at: next };
                // Visible in `status` before the event says so: whoever follows the log and
                // then asks must see the wait.
                self.slot = Some(Work::WaitLock { id, status, retry_at: tokio::time::Instant::now() + delay, wait });
                self.publish();
                if attempts == 1 || attempts % 10 == 0 {
                    let msg = format!(
                        "{holder} holds the agent's {}; the job stays {status} and is applied when it is free (attempt {attempts})",
                        crate::lock::LOCK_FILE
                    );
                    self.ctx.emit(id, "waiting", &msg);
                    tracing::info!(job = id, "{msg}");
                }
                self.ctx.state.job(id).map_err(OpError::from)
            }
            ApplyOutcome::Failed(msg) => {
                self.fail(id, &msg);
                Err(OpError::Internal(anyhow::anyhow!(msg)))
            }
        };
        if let Some(reply) = reply {
            send(reply, answer);
        }
    }
}

fn apply_candidate(ctx: &Context, id: i64, base_hash: &str, candidate: Option<Arc<Store>>) -> ApplyOutcome {
    let candidate = match candidate {
        Some(c) => c,
        None => match ctx.job_dir(id).read_candidate() {
            Ok(c) => Arc::new(c),
            Err(e) => return ApplyOutcome::Failed(format!("{e:#}")),
        },
    };
    match replace::replace_live(ctx, &candidate, base_hash, Some(id), "apply") {
        Ok(r) => ApplyOutcome::Applied { generation: r.generation, event: r.event },
        Err(ReplaceError::Stale(msg)) => ApplyOutcome::Stale(msg),
        Err(ReplaceError::LockBusy { holder }) => ApplyOutcome::LockBusy { holder },
        Err(ReplaceError::Failed(e)) => ApplyOutcome::Failed(format!("{e:#}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_retries_back_off_and_are_capped() {
        assert_eq!(retry_delay(1), Duration::from_millis(250));
        assert_eq!(retry_delay(2), Duration::from_millis(500));
        assert_eq!(retry_delay(4), Duration::from_secs(2));
        assert_eq!(retry_delay(20), MAX_RETRY);
        assert_eq!(retry_delay(u32::MAX), MAX_RETRY);
    }
}
