//! Gathering the gate's inputs from the daemon's state, and asking it. The gate itself
//! (`gate::decide`) is pure. Blocking (SQLite, the lock file): run it on the blocking pool.

use crate::context::Context;
use crate::engine::Engine;
use crate::error::OpError;
use crate::gate::{self, Decision, FailureState, GateInput, LedgerFigures, ReasonCode, StoreStats, Trigger};
use crate::job::JobStatus;
use crate::jobs::sessions::LEDGER_KEY;
use crate::lock::{self, LockStatus};
use crate::sessions::{self, SessionCounts, SessionLedger};
use crate::state::Job;
use crate::watch::{self, Scan};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Arc;

/// Everything the gate looked at, kept for `dreamd status`.
#[derive(Debug, Clone, Serialize)]
pub struct GateView {
    pub decision: Decision,
    pub store: StoreStats,
    pub sessions: SessionCounts,
    pub lock: LockStatus,
    pub ledger: LedgerFigures,
    pub estimate_usd: f64,
    pub last_dream_started: Option<DateTime<Utc>>,
    pub failures: FailureState,
}

/// The watcher's latest scan, or one taken now (blocking).
pub fn current_scan(ctx: &Context) -> Arc<Scan> {
    if let Some(s) = ctx.latest_scan() {
        return s;
    }
    fresh_scan(ctx)
}

/// A scan taken now, published for everyone (blocking).
pub fn fresh_scan(ctx: &Context) -> Arc<Scan> {
    let scan = watch::scan(&watch::WatchConfig::from_config(&ctx.config()));
    ctx.publish_scan(scan);
    ctx.latest_scan().unwrap_or_default()
}

/// Gather the gate's inputs and ask it.
pub fn evaluate(ctx: &Context, trigger: Trigger, scan: &Scan) -> Result<GateView, OpError> {
    let config = ctx.config();
    let now = ctx.now();
    let tz = config.triggers.tz();
    let ledger_baseline: SessionLedger = ctx.state.kv_get(LEDGER_KEY)?.unwrap_or_default();
    let counts = sessions::count_sessions(&ledger_baseline, &scan.sessions, now, config.triggers.session_idle.chrono());
    let jobs = ctx.state.jobs(500)?;
    let (last_dream_started, failures) = history(&jobs);
    let day = gate::quota_day(now, tz).to_string();
    let today = ctx.state.ledger_day(&day)?;
    let ledger = LedgerFigures {
        jobs_today: today.jobs,
        cost_today_usd: today.cost_usd,
        cost_month_usd: ctx.state.ledger_month_cost(&gate::month_key(now, tz))?,
    };
    let estimate_usd = Engine::from_config(&config).estimate_cost_usd(scan.memory.bytes, scan.sessions.len());
    let lock = lock::inspect(&config.agent.memory_dir, now);
    let store = scan.memory.stats();
    let decision = gate::decide(&GateInput {
        trigger,
        now,
        store: store.clone(),
        sessions: &counts,
        last_dream_started,
        failures,
        unchanged_since: unchanged_since(&jobs, scan, &counts),
        job_running: jobs.iter().any(|j| j.status.is_in_flight()),
        ledger,
        estimate_usd,
        lock: &lock,
        triggers: &config.triggers,
        limits: &config.limits,
        tz,
    });
    Ok(GateView { decision, store, sessions: counts, lock, ledger, estimate_usd, last_dream_started, failures })
}

/// The last dream that did not fail, and the run of failures since.
fn history(jobs_newest_first: &[Job]) -> (Option<DateTime<Utc>>, FailureState) {
    let mut failures = FailureState::default();
    let mut counting = true;
    let mut last_started = None;
    for j in jobs_newest_first {
        match j.status {
            JobStatus::Failed => {
                if counting {
                    failures.consecutive += 1;
                    failures.last_failure_at = failures.last_failure_at.or(j.finished_at.or(j.started_at).or(Some(j.created_at)));
                }
            }
            // A person canceling a job says nothing about the engine.
            JobStatus::Canceled => {}
            _ => {
                counting = false;
                if last_started.is_none() {
                    last_started = Some(j.started_at.unwrap_or(j.created_at));
                }
            }
        }
        if !counting && last_started.is_some() {
            break;
        }
    }
    (last_started, failures)
}

/// The newest settled dream changed nothing, and the store and sessions are as it saw them.
fn unchanged_since(jobs_newest_first: &[Job], scan: &Scan, counts: &SessionCounts) -> Option<i64> {
    let last = jobs_newest_first.iter().find(|j| j.status.is_terminal() && j.status != JobStatus::Canceled)?;
    let same_store = last.base_hash.as_deref() == Some(scan.memory.hash.as_str());
    (last.status == JobStatus::Unchanged && same_store && counts.new_total() == 0).then_some(last.id)
}

/// Map a non-firing decision for a manual request to an API error.
pub fn refusal(decision: &Decision) -> OpError {
    let r = decision.reason();
    let when = decision.earliest_next().map(|t| format!(" (earliest: {})", t.to_rfc3339())).unwrap_or_default();
    match (decision, r.code) {
        (_, ReasonCode::JobRunning) => OpError::Conflict(r.message.clone()),
        (Decision::Wait { .. }, _) => OpError::Limited(format!("not now: {}{when}", r.message)),
        _ => OpError::Limited(r.message.clone()),
    }
}

pub fn trigger_name(t: Trigger) -> &'static str {
    match t {
        Trigger::Watch => "watch",
        Trigger::Schedule => "schedule",
        Trigger::Manual { force: true } => "manual-force",
        Trigger::Manual { force: false } => "manual",
    }
}
