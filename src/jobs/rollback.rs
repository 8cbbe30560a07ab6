//! Owner verb `rollback`: restore a generation while no job is in flight.

use super::owner::{send, Owner};
use super::replace;
use super::work::Work;
use super::{Reply, RollbackOutcome};
use crate::error::{join_error_message, OpError};
use tokio::task::JoinError;
use tokio_util::task::AbortOnDropHandle;

impl Owner {
    pub(super) fn rollback(&mut self, generation: Option<i64>, by: String, reply: Reply<RollbackOutcome>) {
        if let Some(work) = &self.slot {
            return send(reply, Err(OpError::Conflict(format!("{}; roll back when it is done", work.describe()))));
        }
        match self.ctx.state.in_flight_jobs() {
            Ok(jobs) if !jobs.is_empty() => {
                let job = &jobs[0];
                return send(reply, Err(OpError::Conflict(format!("job {} is {}; roll back when it is done", job.id, job.status))));
            }
            Ok(_) => {}
            Err(e) => return send(reply, Err(e.into())),
        }
        let ctx = self.ctx.clone();
        let task = tokio::task::spawn_blocking(move || replace::restore(&ctx, generation, &by));
        self.slot = Some(Work::Rollback { task: AbortOnDropHandle::new(task), reply });
    }

    pub(super) fn rolled_back(&mut self, reply: Reply<RollbackOutcome>, result: Result<Result<RollbackOutcome, OpError>, JoinError>) {
        let answer = result.unwrap_or_else(|join| Err(OpError::Internal(anyhow::anyhow!("the rollback {}", join_error_message(join)))));
        send(reply, answer);
    }
}
