//! What the owner does when it (re)starts: bring every job the database says is in flight to a
//! state the owner holds. A running job was interrupted; a staged one is verified and decided
//! again; an approved one is applied (or waits for the agent's lock). A panic in any of it
//! ends that job `failed`, never the daemon.

use super::owner::Owner;
use crate::job::JobStatus;
use crate::state::JobUpdate;

impl Owner {
    pub(super) async fn reconcile(&mut self) {
        let jobs = match self.ctx.state.in_flight_jobs() {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::error!(error = %e, "cannot list the jobs in flight");
                return;
            }
        };
        for job in jobs {
            let id = job.id;
            match job.status {
                JobStatus::Queued | JobStatus::Running => {
                    self.fail(id, "interrupted: dreamd stopped while the job was running; request a new dream");
                    self.ctx.job_dir(id).remove();
                }
                JobStatus::Staged | JobStatus::Approved if self.slot.is_none() => {
                    let live = self.ctx.blocking(|ctx| crate::watch::scan_memory(&ctx.config().agent.memory_dir).hash).await;
                    if job.candidate_hash.is_some() && live.as_ref().ok() == job.candidate_hash.as_ref() {
                        let update = JobUpdate { finished_at: Some(self.ctx.now()), ..Default::default() };
                        if let Err(e) = self.transition(id, JobStatus::Applied, update) {
                            tracing::error!(job = id, error = %e, "cannot mark job applied");
                        }
                        tracing::warn!(job = id, "an apply interrupted by a restart had completed; job marked applied");
                    } else if job.status == JobStatus::Staged {
                        self.resume(id);
                    } else {
                        tracing::info!(job = id, "applying a job approved before the restart");
                        self.begin_apply(id, JobStatus::Approved, None, None, None);
                    }
                }
                JobStatus::Staged | JobStatus::Approved => {
                    self.fail(id, "interrupted: another job in flight was resumed after the restart");
                }
                _ => {}
            }
        }
    }
}
