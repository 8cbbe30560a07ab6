//! What `dreamd status` and `GET /v1/status` show.

use crate::app::{App, OpError};
use crate::job::JobStatus;
use crate::store::Store;
use serde_json::{json, Value};

pub fn status(app: &App) -> Result<Value, OpError> {
    let config = app.config();
    let now = app.now();
    let store = Store::read(&config.agent.memory_dir);
    let (bytes, files) = match &store {
        Ok(s) => (Some(s.total_bytes()), Some(s.files.len())),
        Err(_) => (None, None),
    };
    let jobs = app.state.jobs(1000)?;
    let running = jobs.iter().find(|j| j.status.is_in_flight());
    let held: Vec<i64> = jobs.iter().filter(|j| j.status == JobStatus::Held).map(|j| j.id).collect();
    let last_applied = jobs.iter().find(|j| j.status == JobStatus::Applied);
    let day = app.quota_day(now);
    let ledger = app.state.ledger_day(&day)?;
    let month = &day[..7];
    let month_cost = app.state.ledger_month_cost(month)?;
    Ok(json!({
        "agent": config.agent.name,
        "engine": config.engine.kind,
        "memory_dir": config.agent.memory_dir,
        "store": {
            "readable": store.is_ok(),
            "error": store.as_ref().err().map(|e| format!("{e:#}")),
            "bytes": bytes,
            "files": files,
        },
        "running_job": running.map(|j| json!({"id": j.id, "status": j.status})),
        "held_jobs": held,
        "last_applied": last_applied.map(|j| json!({"id": j.id, "at": j.finished_at})),
        "generations": app.state.generations()?.len(),
        "quota": {
            "day": day,
            "jobs_used": ledger.jobs,
            "jobs_left": config.limits.max_jobs_per_day.saturating_sub(ledger.jobs),
            "max_jobs_per_day": config.limits.max_jobs_per_day,
        },
        "budget": {
            "day_spent_usd": ledger.cost_usd,
            "day_left_usd": (config.limits.daily_budget_usd - ledger.cost_usd).max(0.0),
            "daily_budget_usd": config.limits.daily_budget_usd,
            "month": month,
            "month_spent_usd": month_cost,
            "monthly_budget_usd": config.limits.monthly_budget_usd,
        },
    }))
}
