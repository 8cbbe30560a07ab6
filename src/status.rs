//! What `dreamd status` and `GET /v1/status` show: what dreamd sees, and what it would do.

use crate::app::{App, OpError};
use crate::gate::Trigger;
use crate::job::JobStatus;
use crate::schedule::{self, CronSchedule};
use crate::trigger;
use serde_json::{json, Value};

pub fn status(app: &App) -> Result<Value, OpError> {
    let config = app.config();
    let now = app.now();
    let tz = config.triggers.tz();
    let scan = trigger::current_scan(app);
    let view = trigger::evaluate(app, Trigger::Watch, &scan)?;
    let jobs = app.state.jobs(1000)?;
    let running = jobs.iter().find(|j| j.status.is_in_flight());
    let held: Vec<i64> = jobs.iter().filter(|j| j.status == JobStatus::Held).map(|j| j.id).collect();
    let last_applied = jobs.iter().find(|j| j.status == JobStatus::Applied);
    let last = jobs.first();
    let next_tick =
        config.triggers.schedule.as_deref().and_then(|s| CronSchedule::parse(s).ok()).and_then(|s| schedule::next_fire(&s, tz, now));
    let t = &config.triggers;
    let l = &config.limits;
    let month_left = l.monthly_budget_usd.map(|m| (m - view.ledger.cost_month_usd).max(0.0));
    Ok(json!({
        "agent": config.agent.name,
        "engine": config.engine.kind,
        "now": now,
        "memory_dir": config.agent.memory_dir,
        "store": {
            "readable": scan.memory.error.is_none(),
            "error": scan.memory.error,
            "bytes": scan.memory.bytes,
            "files": scan.memory.files,
            "index_lines": scan.memory.index_lines,
            "last_write": scan.memory.newest_mtime,
            "thresholds": {
                "max_memory_bytes": t.max_memory_bytes,
                "max_memory_files": t.max_memory_files,
                "max_index_lines": t.max_index_lines,
            },
        },
        "sessions": {
            "new_finished": view.sessions.new_finished,
            "new_in_progress": view.sessions.new_in_progress,
            "min_new_sessions": t.min_new_sessions,
            "session_idle": t.session_idle,
            "error": scan.sessions_error,
        },
        "gate": {
            "decision": view.decision,
            "last_dream_started": view.last_dream_started,
            "consecutive_failures": view.failures.consecutive,
            "agent_lock": view.lock,
        },
        "schedule": {
            "cron": t.schedule,
            "timezone": t.timezone,
            "next_tick": next_tick,
        },
        "running_job": running.map(|j| json!({"id": j.id, "status": j.status})),
        "held_jobs": held,
        "last_applied": last_applied.map(|j| json!({"id": j.id, "at": j.finished_at})),
        "last_job": last.map(|j| json!({"id": j.id, "status": j.status, "estimated_cost_usd": j.estimated_cost_usd, "cost_usd": j.cost_usd})),
        "generations": app.state.generations()?.len(),
        "quota": {
            "day": crate::gate::quota_day(now, tz).to_string(),
            "jobs_used": view.ledger.jobs_today,
            "jobs_left": l.max_jobs_per_day.saturating_sub(view.ledger.jobs_today),
            "max_jobs_per_day": l.max_jobs_per_day,
        },
        "budget": {
            "next_job_estimate_usd": view.estimate_usd,
            "day_spent_usd": view.ledger.cost_today_usd,
            "day_left_usd": (l.daily_budget_usd - view.ledger.cost_today_usd).max(0.0),
            "daily_budget_usd": l.daily_budget_usd,
            "month": crate::gate::month_key(now, tz),
            "month_spent_usd": view.ledger.cost_month_usd,
            "month_left_usd": month_left,
            "monthly_budget_usd": l.monthly_budget_usd,
        },
    }))
}
