//! Owner verbs for a person's review of a held job: `approve` (then apply) and `discard`.

use super::owner::{send, Owner};
use super::{sessions, Reply};
use crate::error::OpError;
use crate::job::JobStatus;
use crate::state::{Job, JobUpdate};

impl Owner {
    /// Approve a held job and apply it. The reply waits for the apply's outcome; if the agent's
    /// lock is busy it answers at once with the job `approved` (applied when the lock is free).
    pub(super) fn approve(&mut self, id: i64, by: &str, reply: Reply<Job>) {
        let checked = self.ctx.state.job(id).map_err(OpError::from).and_then(|job| {
            job.status.check(JobStatus::Approved).map_err(|e| OpError::Conflict(format!("job {id}: {e}")))?;
            match &self.slot {
                Some(work) => Err(OpError::Conflict(format!("{}; approve job {id} when it is done", work.describe()))),
                None => Ok(()),
            }
        });
        if let Err(e) = checked {
            return send(reply, Err(e));
        }
        let now = self.ctx.now();
        let update =
            JobUpdate { decision: Some("approved".into()), decided_by: Some(by.into()), decided_at: Some(now), ..Default::default() };
        self.ctx.emit(id, "decision", &format!("approved by {by}"));
        if let Err(e) = self.transition(id, JobStatus::Approved, update) {
            return send(reply, Err(e.into()));
        }
        self.begin_apply(id, JobStatus::Approved, None, Some(reply), None);
    }

    pub(super) fn discard(&mut self, id: i64, by: &str) -> Result<Job, OpError> {
        let job = self.ctx.state.job(id)?;
        job.status.check(JobStatus::Discarded).map_err(|e| OpError::Conflict(format!("job {id}: {e}")))?;
        let now = self.ctx.now();
        self.ctx.emit(id, "decision", &format!("discarded by {by}"));
        let job = self.transition(
            id,
            JobStatus::Discarded,
            JobUpdate {
                decision: Some("discarded".into()),
                decided_by: Some(by.into()),
                decided_at: Some(now),
                finished_at: Some(now),
                ..Default::default()
            },
        )?;
        sessions::settle(&self.ctx, id);
        Ok(job)
    }
}
