//! Owner verb `start`, and what the owner makes of a finished dream: unchanged, stale, held,
//! or on to apply.

use super::dream::{self, DreamOutcome, Staged};
use super::owner::Owner;
use super::sessions;
use super::work::Work;
use crate::engine::Engine;
use crate::error::{join_error_message, OpError};
use crate::job::JobStatus;
use crate::sessions::SessionStat;
use crate::state::{Job, JobUpdate};
use tokio::task::JoinError;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

/// A dream, its duration recorded by outcome for the metrics (wall time, whatever the clock).
async fn timed(
    ctx: std::sync::Arc<crate::context::Context>,
    dream: impl std::future::Future<Output = anyhow::Result<DreamOutcome>>,
) -> anyhow::Result<DreamOutcome> {
    let started = std::time::Instant::now();
    let result = dream.await;
    let outcome = match &result {
        Ok(DreamOutcome::Staged(_)) => "staged",
        Ok(DreamOutcome::Unchanged { .. }) => "unchanged",
        Ok(DreamOutcome::Canceled) => "canceled",
        Ok(DreamOutcome::TimedOut(_)) => "timed_out",
        Err(_) => "failed",
    };
    ctx.metrics.dream_finished(outcome, started.elapsed().as_secs_f64());
    result
}

impl Owner {
    /// Create a job the gate allowed and start dreaming. One dream at a time.
    pub(super) fn start(&mut self, trigger: &str, sessions_seen: &[SessionStat], estimate_usd: f64) -> Result<Job, OpError> {
        if let Some(work) = &self.slot {
            return Err(OpError::Conflict(format!("{}; one dream at a time", work.describe())));
        }
        if let Some(job) = self.ctx.state.in_flight_jobs()?.into_iter().next() {
            return Err(OpError::Conflict(format!("job {} is {}; one dream at a time", job.id, job.status)));
        }
        let config = self.ctx.config();
        let engine = Engine::from_config(&config);
        let job = self.insert(trigger, engine.name(), estimate_usd)?;
        let now = self.ctx.now();
        self.ctx.state.ledger_add(&self.ctx.quota_day(now), 1, estimate_usd)?;
        sessions::remember(&self.ctx, job.id, sessions_seen);
        tracing::info!(job = job.id, trigger, engine = engine.name(), estimate_usd, "dream started");
        let job = self.transition(job.id, JobStatus::Running, JobUpdate { started_at: Some(now), ..Default::default() })?;
        let cancel = CancellationToken::new();
        let task = tokio::spawn(timed(self.ctx.clone(), dream::dream(self.ctx.clone(), job.id, engine, cancel.clone(), now)));
        self.slot = Some(Work::Dream {
            id: job.id,
            cancel: cancel.clone(),
            _cancel_on_drop: cancel.drop_guard(),
            task: AbortOnDropHandle::new(task),
        });
        Ok(job)
    }

    /// A staged job found after a restart: verify it again, then decide as usual.
    pub(super) fn resume(&mut self, id: i64) {
        tracing::info!(job = id, "deciding a job staged before the restart");
        let cancel = CancellationToken::new();
        let task = tokio::spawn(dream::resume(self.ctx.clone(), id));
        self.slot =
            Some(Work::Dream { id, cancel: cancel.clone(), _cancel_on_drop: cancel.drop_guard(), task: AbortOnDropHandle::new(task) });
    }

    pub(super) fn dreamed(&mut self, id: i64, result: Result<anyhow::Result<DreamOutcome>, JoinError>) {
        let outcome = match result {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(e)) => return self.fail(id, &format!("{e:#}")),
            Err(join) => return self.fail(id, &format!("the dream {}", join_error_message(join))),
        };
        let result = match outcome {
            DreamOutcome::Canceled => {
                // Canceled by the owner itself (the cancel verb records who): nothing left to do.
                self.ctx.job_dir(id).remove();
                Ok(())
            }
            DreamOutcome::TimedOut(limit) => {
                self.ctx.job_dir(id).remove();
                self.fail(id, &format!("the engine did not finish within {}; it was stopped", crate::config::HumanDuration(limit)));
                Ok(())
            }
            DreamOutcome::Unchanged { base_hash, cost_usd } => self.unchanged(id, base_hash, cost_usd),
            DreamOutcome::Staged(staged) => self.staged(id, staged),
        };
        if let Err(e) = result {
            self.fail(id, &format!("{e:#}"));
        }
    }

    fn record_cost(&self, id: i64, cost_usd: f64) -> Result<(), OpError> {
        let job = self.ctx.state.job(id)?;
        let day = self.ctx.quota_day(job.started_at.unwrap_or(job.created_at));
        self.ctx.state.ledger_add(&day, 0, cost_usd - job.estimated_cost_usd)?;
        Ok(())
    }

    /// Nothing to apply: a no-op job, no generation. The sessions it saw are settled, so the
    /// same picture does not fire again.
    fn unchanged(&mut self, id: i64, base_hash: String, cost_usd: f64) -> Result<(), OpError> {
        self.record_cost(id, cost_usd)?;
        self.transition(
            id,
            JobStatus::Unchanged,
            JobUpdate {
                base_hash: Some(base_hash.clone()),
                candidate_hash: Some(base_hash),
                cost_usd: Some(cost_usd),
                decision: Some("unchanged: the candidate is identical to the live store".into()),
                finished_at: Some(self.ctx.now()),
                ..Default::default()
            },
        )?;
        sessions::settle(&self.ctx, id);
        tracing::info!(job = id, "dream found nothing to change");
        Ok(())
    }

    fn staged(&mut self, id: i64, s: Staged) -> Result<(), OpError> {
        if !s.resumed {
            if let Some(cost) = s.cost_usd {
                self.record_cost(id, cost)?;
            }
            self.transition(
                id,
                JobStatus::Staged,
                JobUpdate {
                    base_hash: Some(s.base_hash.clone()),
                    candidate_hash: Some(s.candidate_hash.clone()),
                    metrics: Some(s.metrics.clone()),
                    cost_usd: s.cost_usd,
                    ..Default::default()
                },
            )?;
        }
        let v = s.verified;
        if v.live_changed {
            self.ctx.emit(id, "stale", "the live store changed since the dream began");
            self.transition(
                id,
                JobStatus::Stale,
                JobUpdate {
                    policy: Some(v.policy),
                    error: Some("the live store changed since the dream began".into()),
                    finished_at: Some(self.ctx.now()),
                    ..Default::default()
                },
            )?;
            tracing::warn!(job = id, "live store changed during the dream; candidate is stale");
            return Ok(());
        }
        if v.passed && self.ctx.config().policy.auto_apply {
            self.update(
                id,
                JobUpdate {
                    policy: Some(v.policy),
                    decision: Some("auto-applied".into()),
                    decided_by: Some("policy".into()),
                    decided_at: Some(self.ctx.now()),
                    ..Default::default()
                },
            )?;
            self.begin_apply(id, JobStatus::Staged, s.candidate, None, None);
            return Ok(());
        }
        let why = if v.passed { "auto_apply is off".to_string() } else { v.summary };
        self.ctx.emit(id, "held", &format!("held for approval: {why}"));
        self.transition(
            id,
            JobStatus::Held,
            JobUpdate { policy: Some(v.policy), decision: Some(format!("held: {why}")), ..Default::default() },
        )?;
        tracing::info!(job = id, reason = %why, "candidate held for approval");
        Ok(())
    }
}
