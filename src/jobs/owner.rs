//! The job owner: one task holds the in-flight job ([`Work`]) and is the only writer of job
//! state. It serves one [`Command`] at a time and, between commands, waits for its current
//! work to finish. Blocking and long work (the dream, the apply, a rollback) runs in tasks it
//! owns and polls, so a cancel is never stuck behind it. A panic in any of that work is a
//! `JoinError` here and ends only that job, `failed` with the message.

use super::dream::CANCEL_GRACE;
use super::work::{Ready, Work};
use super::{Command, Inbox, Reply};
use crate::context::Context;
use crate::error::OpError;
use crate::job::JobStatus;
use crate::state::{Job, JobUpdate, StateError};
use crate::supervise::PartResult;
use std::sync::Arc;

pub(super) struct Owner {
    pub(super) ctx: Arc<Context>,
    pub(super) slot: Option<Work>,
}

/// The owner as a supervised part. Reconciles what the database says is in flight, then serves
/// commands until shutdown.
pub async fn run(ctx: Arc<Context>, inbox: Inbox) -> PartResult {
    let mut rx = inbox.lock().await;
    let mut owner = Owner { ctx, slot: None };
    owner.reconcile().await;
    loop {
        owner.publish();
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(cmd) => owner.handle(cmd).await,
                None => return Ok(()),
            },
            ready = Work::ready(&mut owner.slot) => owner.finish(ready),
            _ = owner.ctx.shutdown.cancelled() => break,
        }
    }
    owner.shutdown().await;
    Ok(())
}

pub(super) fn send<T>(reply: Reply<T>, result: Result<T, OpError>) {
    // The asker may have gone away (client disconnected): nothing to do then.
    let _ = reply.send(result);
}

impl Owner {
    async fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Start { trigger, sessions_seen, estimate_usd, reply } => {
                let r = self.start(&trigger, &sessions_seen, estimate_usd);
                send(reply, r)
            }
            Command::Cancel { id, by, reply } => {
                let r = self.cancel(id, &by).await;
                send(reply, r)
            }
            Command::Approve { id, by, reply } => self.approve(id, &by, reply),
            Command::Discard { id, by, reply } => {
                let r = self.discard(id, &by);
                send(reply, r)
            }
            Command::Rollback { generation, by, reply } => self.rollback(generation, by, reply),
        }
    }

    fn finish(&mut self, ready: Ready) {
        let Some(work) = self.slot.take() else { return };
        match (work, ready) {
            (Work::Dream { id, .. }, Ready::Dream(result)) => self.dreamed(id, result),
            (Work::Apply { id, status, reply, wait, .. }, Ready::Apply(result)) => self.applied(id, status, reply, wait, result),
            (Work::WaitLock { id, status, wait, .. }, Ready::Retry) => self.begin_apply(id, status, None, None, Some(wait)),
            (Work::Rollback { reply, .. }, Ready::Rollback(result)) => self.rolled_back(reply, result),
            (work, _) => {
                // Cannot happen: `Work::ready` answers for the work in the slot.
                tracing::error!(job = work.job_id().unwrap_or(0), "job owner: finished work does not match the slot");
            }
        }
    }

    /// The dreaming job is interrupted; an apply or rollback under way is let finish (each is
    /// atomic); a job waiting for the lock stays staged or approved and is resumed on the next
    /// start.
    async fn shutdown(&mut self) {
        match self.slot.take() {
            Some(Work::Dream { id, cancel, task, .. }) => {
                cancel.cancel();
                let _ = tokio::time::timeout(CANCEL_GRACE, task).await;
                self.fail(id, "interrupted: dreamd shut down while the job was running");
                self.ctx.job_dir(id).remove();
            }
            Some(Work::Apply { id, status, task, reply, wait }) => {
                let result = task.await;
                self.applied(id, status, reply, wait, result);
                if let Some(Work::WaitLock { id, .. }) = self.slot.take() {
                    tracing::info!(job = id, "dreamd stopped while the job waited for the agent's lock; it resumes on the next start");
                }
            }
            Some(Work::WaitLock { id, .. }) => {
                tracing::info!(job = id, "dreamd stopped while the job waited for the agent's lock; it resumes on the next start");
            }
            Some(Work::Rollback { task, reply }) => {
                let result = task.await;
                self.rolled_back(reply, result);
            }
            None => {}
        }
        self.ctx.in_flight.send_replace(None);
    }

    pub(super) fn publish(&self) {
        let view = self.slot.as_ref().and_then(Work::view);
        self.ctx.in_flight.send_if_modified(|v| {
            if *v == view {
                false
            } else {
                *v = view;
                true
            }
        });
    }

    // --- the only writes of job state --------------------------------------------------------

    pub(super) fn insert(&self, trigger: &str, engine: &str, estimate_usd: f64) -> Result<Job, OpError> {
        let job = self.ctx.state.insert_job(trigger, engine, estimate_usd, self.ctx.now())?;
        self.ctx.notify_job(&job);
        Ok(job)
    }

    pub(super) fn transition(&self, id: i64, next: JobStatus, u: JobUpdate) -> Result<Job, StateError> {
        let job = self.ctx.state.transition(id, next, u)?;
        self.ctx.notify_job(&job);
        if job.status.is_terminal() {
            self.after_terminal(&job);
        }
        Ok(job)
    }

    /// A transition the owner delegated to a transaction elsewhere (apply records the job
    /// `applied` with its generation): announce it as if the owner had made it.
    pub(super) fn recorded(&self, id: i64) -> Result<Job, StateError> {
        let job = self.ctx.state.job(id)?;
        self.ctx.notify_job(&job);
        if job.status.is_terminal() {
            self.after_terminal(&job);
        }
        Ok(job)
    }

    pub(super) fn update(&self, id: i64, u: JobUpdate) -> Result<Job, StateError> {
        self.ctx.state.update(id, u)
    }

    /// End a job `failed` with `msg` (unless it already ended).
    pub(super) fn fail(&self, id: i64, msg: &str) {
        tracing::error!(job = id, error = %msg, "dream failed");
        self.ctx.emit(id, "error", msg);
        let update = JobUpdate { error: Some(msg.into()), finished_at: Some(self.ctx.now()), ..Default::default() };
        match self.transition(id, JobStatus::Failed, update) {
            Ok(_) | Err(StateError::Illegal { .. }) => {}
            Err(e) => tracing::error!(job = id, error = %e, "cannot mark job failed"),
        }
    }

    /// Staged files of finished jobs are kept for the newest `generations.keep` jobs only
    /// (pruned on the blocking pool: it lists and removes directories).
    fn after_terminal(&self, job: &Job) {
        tracing::debug!(job = job.id, status = %job.status, "job finished");
        let ctx = self.ctx.clone();
        tokio::task::spawn_blocking(move || {
            let keep = ctx.config().generations.keep.max(1) as usize;
            let Ok(jobs) = ctx.state.jobs(10_000) else { return };
            for old in jobs.iter().filter(|j| j.status.is_terminal()).skip(keep) {
                ctx.job_dir(old.id).remove();
            }
        });
    }
}
