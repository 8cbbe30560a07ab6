//! `GET /v1/status`: what dreamd sees and what it would do, and the health of its parts.

use super::http::{ok, Reply};
use super::Api;
use crate::context::Context;
use crate::error::OpError;
use crate::gate::Trigger;
use crate::job::JobStatus;
use crate::lock::LockStatus;
use crate::schedule::{self, CronSchedule};
use crate::triggers::evaluate;
use serde_json::{json, Value};

pub async fn get(api: &Api) -> Reply {
    let mut v = api.ctx.blocking(status).await??;
    v["api"] = json!({
        "socket": api.ctx.config().socket_path(),
        "tcp": api.tcp.as_ref().map(|t| t.address.to_string()),
    });
    Ok(ok(v))
}

fn status(ctx: &Context) -> Result<Value, OpError> {
    let config = ctx.config();
    let now = ctx.now();
    let tz = config.triggers.tz();
    let scan = evaluate::current_scan(ctx);
    let view = evaluate::evaluate(ctx, Trigger::Watch, &scan)?;
    let jobs = ctx.state.jobs(1000)?;
    let running = jobs.iter().find(|j| j.status.is_in_flight());
    let in_flight = ctx.in_flight.borrow().clone();
    let held: Vec<i64> = jobs.iter().filter(|j| j.status == JobStatus::Held).map(|j| j.id).collect();
    let last_applied = jobs.iter().find(|j| j.status == JobStatus::Applied);
    let last = jobs.first();
    let next_tick =
        config.triggers.schedule.as_deref().and_then(|s| CronSchedule::parse(s).ok()).and_then(|s| schedule::next_fire(&s, tz, now));
    let t = &config.triggers;
    let l = &config.limits;
    let month_left = l.monthly_budget_usd.map(|m| (m - view.ledger.cost_month_usd).max(0.0));
    let triggering = ctx.triggering.borrow().clone();
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
            // The lock file stays behind with dreamd's pid after a dream (its mtime is the last
            // consolidation): "ours" means held only while a job is in flight.
            "agent_lock_held": match &view.lock {
                LockStatus::HeldByOther { .. } => true,
                LockStatus::Ours { .. } => running.is_some(),
                LockStatus::Free { .. } | LockStatus::Absent => false,
            },
        },
        "triggers": {
            "min_new_sessions": t.min_new_sessions,
            "max_memory_bytes": t.max_memory_bytes,
            "max_memory_files": t.max_memory_files,
            "max_index_lines": t.max_index_lines,
            "min_interval": t.min_interval,
            "quiet_period": t.quiet_period,
            "session_idle": t.session_idle,
            "schedule_requires_new_sessions": t.schedule_requires_new_sessions,
        },
        "triggering": {
            "last_evaluated_at": triggering.last_evaluated_at,
            "evaluations": triggering.evaluations,
            "last_trigger": triggering.last_trigger,
            "last_decision": triggering.last_decision,
        },
        "schedule": {
            "cron": t.schedule,
            "timezone": t.timezone,
            "next_tick": next_tick,
        },
        "watcher": ctx.watcher(),
        "parts": ctx.health.snapshot(),
        "restart_needed": ctx.restart_needed(),
        "running_job": running.map(|j| {
            let mut v = json!({"id": j.id, "status": j.status});
            if let Some(f) = in_flight.as_ref().filter(|f| f.id == j.id) {
                v["phase"] = json!(f.phase);
                if let Some(w) = &f.waiting {
                    v["waiting_for_lock"] = json!(w);
                }
            }
            v
        }),
        "held_jobs": held,
        "last_applied": last_applied.map(|j| json!({"id": j.id, "at": j.finished_at})),
        "last_job": last.map(|j| json!({"id": j.id, "status": j.status, "estimated_cost_usd": j.estimated_cost_usd, "cost_usd": j.cost_usd})),
        "generations": ctx.state.generations()?.len(),
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
