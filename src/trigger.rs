//! Sources → gate: watcher scans, schedule ticks and manual requests become gate decisions,
//! and fired decisions become jobs. The gate itself (`gate::decide`) is pure; this module
//! gathers its inputs from the daemon's state and acts on its answer.

use crate::app::{App, OpError};
use crate::engine::Engine;
use crate::gate::{self, Decision, FailureState, GateInput, LedgerFigures, ReasonCode, StoreStats, Trigger};
use crate::job::JobStatus;
use crate::lock::{self, LockStatus};
use crate::schedule::{CronSchedule, Scheduler};
use crate::sessions::{self, SessionCounts, SessionLedger, SessionStat};
use crate::state::Job;
use crate::watch::{self, Scan, WatchEvent};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Key of the persisted session baseline (what was counted at the last applied/discarded dream).
pub const LEDGER_KEY: &str = "session_ledger";

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

/// The freshest scan: the watcher's, or one taken now.
pub fn current_scan(app: &App) -> Scan {
    if let Some(s) = app.latest_scan() {
        return s;
    }
    let scan = watch::scan(&watch::WatchConfig::from_config(&app.config()));
    app.set_scan(scan.clone());
    scan
}

/// Gather the gate's inputs and ask it.
pub fn evaluate(app: &App, trigger: Trigger, scan: &Scan) -> Result<GateView, OpError> {
    let config = app.config();
    let now = app.now();
    let tz = config.triggers.tz();
    let ledger_baseline: SessionLedger = app.state.kv_get(LEDGER_KEY)?.unwrap_or_default();
    let counts = sessions::count_sessions(&ledger_baseline, &scan.sessions, now, config.triggers.session_idle.chrono());
    let jobs = app.state.jobs(500)?;
    let (last_dream_started, failures) = history(&jobs);
    let day = gate::quota_day(now, tz).to_string();
    let today = app.state.ledger_day(&day)?;
    let ledger = LedgerFigures {
        jobs_today: today.jobs,
        cost_today_usd: today.cost_usd,
        cost_month_usd: app.state.ledger_month_cost(&gate::month_key(now, tz))?,
    };
    // The engine is given every transcript (not only the new ones): price what it will read.
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

/// What a job saw of the sessions when it started; becomes the baseline if it is applied or
/// discarded, so those sessions stop counting as new.
pub fn remember_sessions_seen(app: &App, job_id: i64, seen: &[SessionStat]) {
    let ledger = sessions::baseline(seen, app.now());
    if let Err(e) = app.state.kv_set(&format!("job_sessions/{job_id}"), &ledger) {
        tracing::warn!(job = job_id, error = %e, "cannot record the sessions a job saw");
    }
}

/// A job was applied or discarded: the sessions it saw are no longer new.
pub fn settle_sessions(app: &App, job_id: i64) {
    match app.state.kv_get::<SessionLedger>(&format!("job_sessions/{job_id}")) {
        Ok(Some(ledger)) => {
            if let Err(e) = app.state.kv_set(LEDGER_KEY, &ledger) {
                tracing::warn!(job = job_id, error = %e, "cannot save the session baseline");
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(job = job_id, error = %e, "cannot read the sessions a job saw"),
    }
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

fn trigger_name(t: Trigger) -> &'static str {
    match t {
        Trigger::Watch => "watch",
        Trigger::Schedule => "schedule",
        Trigger::Manual { force: true } => "manual-force",
        Trigger::Manual { force: false } => "manual",
    }
}

/// The loop that makes dreamd hands-off. Ends when `stop` is dropped or signalled.
pub async fn run(app: Arc<App>, mut scans: mpsc::Receiver<WatchEvent>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let (tick_tx, mut ticks) = mpsc::channel::<()>(1);
    let mut scheduler: Option<(String, Scheduler)> = None;
    let mut pending_tick = false;
    let mut last_logged: Option<(ReasonCode, bool)> = None;
    let mut wake_at: Option<tokio::time::Instant> = None;
    loop {
        sync_scheduler(&app, &mut scheduler, &tick_tx).await;
        let sleep = async {
            match wake_at {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            ev = scans.recv() => match ev {
                Some(ev) => app.set_scan(ev.scan),
                None => break,
            },
            Some(()) = ticks.recv() => {
                tracing::info!("schedule tick");
                pending_tick = true;
            }
            _ = app.wake.notified() => {}
            _ = sleep => {}
            _ = stop.changed() => break,
        }
        let trigger = if pending_tick { Trigger::Schedule } else { Trigger::Watch };
        let scan = current_scan(&app);
        let view = match evaluate(&app, trigger, &scan) {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = %e, "cannot evaluate the gate");
                wake_at = Some(tokio::time::Instant::now() + std::time::Duration::from_secs(30));
                continue;
            }
        };
        let code = view.decision.reason().code;
        wake_at = None;
        match &view.decision {
            Decision::Fire { reason } => {
                tracing::info!(trigger = trigger_name(trigger), reason = %reason.message, "gate: fire");
                pending_tick = false;
                last_logged = None;
                if let Err(e) = app.start_job(trigger_name(trigger), &scan, view.estimate_usd).await {
                    tracing::warn!(error = %e, "could not start the dream");
                }
            }
            Decision::Deny { reason } => {
                if pending_tick {
                    tracing::info!(reason = %reason.message, "gate: schedule tick skipped");
                    pending_tick = false;
                } else if last_logged != Some((code, true)) && code != ReasonCode::NoNewSessions {
                    tracing::info!(trigger = trigger_name(trigger), reason = %reason.message, "gate: deny");
                    last_logged = Some((code, true));
                }
            }
            Decision::Wait { reason, earliest_next } => {
                if last_logged != Some((code, false)) {
                    tracing::debug!(trigger = trigger_name(trigger), reason = %reason.message, "gate: wait");
                    last_logged = Some((code, false));
                }
                // Wake at the earliest instant the gate could say yes, but look at the clock
                // again at least every recheck interval (it can jump).
                let recheck = app.clock.recheck_interval();
                let until = earliest_next
                    .map(|t| (t - app.now()).to_std().unwrap_or_default())
                    .map_or(recheck, |d| d.min(recheck))
                    .max(std::time::Duration::from_millis(20));
                // Only timers that can change the answer: a wait that needs an event sleeps.
                if earliest_next.is_some() || pending_tick || code == ReasonCode::AgentLock {
                    wake_at = Some(tokio::time::Instant::now() + until);
                }
            }
        }
    }
    if let Some((_, s)) = scheduler.take() {
        s.shutdown().await;
    }
}

/// Start, restart (after a reload changed it) or stop the scheduler to match the config.
async fn sync_scheduler(app: &App, current: &mut Option<(String, Scheduler)>, ticks: &mpsc::Sender<()>) {
    let config = app.config();
    let wanted = config.triggers.schedule.as_ref().map(|s| format!("{s}@{}", config.triggers.timezone));
    if current.as_ref().map(|(k, _)| k) == wanted.as_ref() {
        return;
    }
    if let Some((_, old)) = current.take() {
        old.shutdown().await;
    }
    let (Some(key), Some(expr)) = (wanted, config.triggers.schedule.as_ref()) else { return };
    let tz = config.triggers.tz();
    let schedule = match CronSchedule::parse(expr) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "invalid schedule; no scheduled dreams");
            return;
        }
    };
    match Scheduler::start(schedule, tz, app.clock.clone(), ticks.clone()).await {
        Ok(s) => {
            tracing::info!(schedule = %expr, timezone = %tz, next = ?s.next_tick(), "schedule armed");
            *current = Some((key, s));
        }
        Err(e) => tracing::error!(error = %e, "cannot start the scheduler"),
    }
}
