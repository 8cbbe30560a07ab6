//! Owner verb `cancel`: stop a queued or running job, or one waiting for the agent's lock.
//! Cooperative: the job's token is cancelled and the engine stops at its next check; the job
//! always ends `canceled`. The live store is untouched (dreams never write to it).

use super::dream::CANCEL_GRACE;
use super::owner::Owner;
use super::work::Work;
use crate::error::OpError;
use crate::job::JobStatus;
use crate::state::{Job, JobUpdate};

impl Owner {
    pub(super) async fn cancel(&mut self, id: i64, by: &str) -> Result<Job, OpError> {
        let job = self.ctx.state.job(id)?;
        job.status.check(JobStatus::Canceled).map_err(|e| OpError::Conflict(format!("job {id}: {e}")))?;
        if self.slot.as_ref().and_then(Work::job_id) == Some(id) {
            if matches!(self.slot, Some(Work::Apply { .. })) {
                // An apply is short and atomic, and must finish.
                return Err(OpError::Conflict(format!("job {id} is being applied right now; it cannot be canceled")));
            }
            if let Some(Work::Dream { cancel, task, .. }) = self.slot.take() {
                cancel.cancel();
                // Wait for the engine to stop, so nothing of this job runs on; past the grace
                // period the task is dropped (and a command engine's process killed).
                if tokio::time::timeout(CANCEL_GRACE, task).await.is_err() {
                    tracing::warn!(job = id, "the engine did not stop within {CANCEL_GRACE:?} of the cancel; dropped it");
                }
            }
        }
        self.ctx.emit(id, "decision", &format!("canceled by {by}"));
        let job = self.transition(
            id,
            JobStatus::Canceled,
            JobUpdate {
                decision: Some("canceled".into()),
                decided_by: Some(by.into()),
                finished_at: Some(self.ctx.now()),
                ..Default::default()
            },
        )?;
        self.ctx.job_dir(id).remove();
        tracing::info!(job = id, by, "job canceled");
        Ok(job)
    }
}
