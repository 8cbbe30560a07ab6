//! `GET /metrics`: Prometheus text format (0.0.4). What the daemon counts as it goes comes from
//! `crate::metrics`; the rest is read from the state at scrape time, the same way `status`
//! reads it, so the two never disagree and nothing is lost on a restart.

use super::http::{with_type, Reply};
use super::Api;
use crate::apply::{self, Method};
use crate::context::Context;
use crate::error::OpError;
use crate::figures::{reduction, Figures};
use crate::gate::{Decision, Trigger};
use crate::metrics::Labels;
use crate::schedule::{self, CronSchedule};
use crate::supervise::PartState;
use crate::triggers::evaluate;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use hyper::StatusCode;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::AtomicU64;

type Float = Gauge<f64, AtomicU64>;

pub async fn get(api: &Api) -> Reply {
    let text = api.ctx.blocking(gather).await??;
    Ok(with_type(StatusCode::OK, Bytes::from(text), prometheus_text::CONTENT_TYPE))
}

fn labels(pairs: &[(&'static str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

fn float(v: f64) -> Float {
    let g = Float::default();
    g.set(v);
    g
}

fn int(v: i64) -> Gauge {
    let g = Gauge::default();
    g.set(v);
    g
}

fn seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

fn gather(ctx: &Context) -> Result<String, OpError> {
    let config = ctx.config();
    let mut r = Registry::with_prefix("dreamd");
    ctx.metrics.register(&mut r);

    let info: Family<Labels, Gauge> = Family::default();
    info.get_or_create(&labels(&[
        ("version", env!("CARGO_PKG_VERSION")),
        ("agent", &config.agent.name),
        ("engine", crate::engine::Engine::from_config(&config).name()),
    ]))
    .set(1);
    r.register("build_info", "dreamd's version, the agent and the engine (always 1)", info);

    // Jobs and holds, from the job history.
    let jobs: Family<Labels, Gauge> = Family::default();
    for c in ctx.state.job_counts()? {
        jobs.get_or_create(&labels(&[("status", &c.status), ("trigger", &c.trigger)])).set(c.jobs as i64);
    }
    r.register("jobs", "Jobs in the state database, by status and trigger", jobs);
    let holds: Family<Labels, Counter> = Family::default();
    for (check, n) in ctx.state.holds_by_check()? {
        holds.get_or_create(&labels(&[("check", &check)])).inc_by(n);
    }
    r.register("holds", "Jobs held for a person, by the policy check that held them (auto_apply_off: all passed)", holds);

    // The last dream that produced a candidate: the figures `show` prints.
    let recent = ctx.state.jobs(200)?;
    if let Some((job, f)) = recent.iter().find_map(|j| Some((j, serde_json::from_value::<Figures>(j.metrics.clone()?).ok()?))) {
        let bytes: Family<Labels, Gauge> = Family::default();
        for (scope, stage, v) in [
            ("memory", "before", f.memory_bytes_before),
            ("memory", "after", f.memory_bytes_after),
            ("all", "before", f.bytes_before),
            ("all", "after", f.bytes_after),
        ] {
            bytes.get_or_create(&labels(&[("scope", scope), ("stage", stage)])).set(v as i64);
        }
        r.register_with_unit(
            "last_dream",
            "Store size before and after the last dream: the agent's files (memory) or every file (all)",
            Unit::Bytes,
            bytes,
        );
        let entries: Family<Labels, Gauge> = Family::default();
        entries.get_or_create(&labels(&[("stage", "before")])).set(f.entries_before as i64);
        entries.get_or_create(&labels(&[("stage", "after")])).set(f.entries_after as i64);
        r.register("last_dream_entries", "Entries before and after the last dream", entries);
        r.register(
            "last_dream_reduction_ratio",
            "Reduction of the agent's files by the last dream (the reduction check's figure)",
            float(reduction(f.memory_bytes_before, f.memory_bytes_after)),
        );
        r.register("last_dream_job", "Id of the job those figures are from", int(job.id));
    }
    if let Some(t) = recent.iter().find_map(|j| j.started_at) {
        r.register_with_unit("last_dream_started_timestamp", "When the last dream started", Unit::Seconds, float(seconds(t)));
    }
    if let Some(t) = recent.iter().find(|j| j.status == crate::job::JobStatus::Applied).and_then(|j| j.finished_at) {
        r.register_with_unit("last_applied_timestamp", "When a dream was last applied", Unit::Seconds, float(seconds(t)));
    }

    // What the gate sees now: the store, sessions, quota and budget.
    let scan = evaluate::current_scan(ctx);
    let view = evaluate::evaluate(ctx, Trigger::Watch, &scan)?;
    r.register_with_unit("store", "Size of the live memory directory", Unit::Bytes, int(scan.memory.bytes as i64));
    r.register("store_files", "Files in the live memory directory", int(scan.memory.files as i64));
    r.register("store_index_lines", "Lines of the index (MEMORY.md)", int(scan.memory.index_lines as i64));
    r.register("sessions_new_finished", "Finished sessions since the last dream", int(view.sessions.new_finished as i64));
    let state: Family<Labels, Gauge> = Family::default();
    let decision = match &view.decision {
        Decision::Fire { .. } => "fire",
        Decision::Wait { .. } => "wait",
        Decision::Deny { .. } => "deny",
    };
    let code = serde_json::to_value(view.decision.reason().code).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    state.get_or_create(&labels(&[("decision", decision), ("reason", &code)])).set(1);
    r.register("gate_state", "What the gate would decide now (always 1)", state);
    let l = &config.limits;
    r.register("quota_jobs_used", "Jobs started in the current quota day", int(view.ledger.jobs_today as i64));
    r.register(
        "quota_jobs_left",
        "Jobs left in the current quota day",
        int(l.max_jobs_per_day.saturating_sub(view.ledger.jobs_today) as i64),
    );
    let spent: Family<Labels, Float> = Family::default();
    let left: Family<Labels, Float> = Family::default();
    spent.get_or_create(&labels(&[("period", "day")])).set(view.ledger.cost_today_usd);
    spent.get_or_create(&labels(&[("period", "month")])).set(view.ledger.cost_month_usd);
    left.get_or_create(&labels(&[("period", "day")])).set((l.daily_budget_usd - view.ledger.cost_today_usd).max(0.0));
    if let Some(m) = l.monthly_budget_usd {
        left.get_or_create(&labels(&[("period", "month")])).set((m - view.ledger.cost_month_usd).max(0.0));
    }
    r.register("budget_spent_usd", "Spent on dreams in the current day and month, in USD", spent);
    r.register("budget_left_usd", "Budget left in the current day (and month, when set), in USD", left);
    r.register("next_job_estimate_usd", "Estimated cost of the next dream, in USD", float(view.estimate_usd));

    // How the next apply would go, what is kept, the schedule.
    let mode: Family<Labels, Gauge> = Family::default();
    let configured = serde_json::to_value(config.apply.mode).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    let effective = match apply::choose_method(config.apply.mode, &config.agent.memory_dir) {
        Method::Swap => "swap",
        Method::Journal => "journal",
    };
    mode.get_or_create(&labels(&[("configured", &configured), ("effective", effective)])).set(1);
    r.register("apply_mode", "The apply mode configured and the one the next apply uses (always 1)", mode);
    let gens = ctx.state.generations()?;
    r.register("generations", "Generations kept for rollback", int(gens.len() as i64));
    if let Some(g) = gens.first() {
        r.register("generation_newest", "Id of the newest generation", int(g.id));
    }
    let next = config
        .triggers
        .schedule
        .as_deref()
        .and_then(|s| CronSchedule::parse(s).ok())
        .and_then(|s| schedule::next_fire(&s, config.triggers.tz(), ctx.now()));
    if let Some(t) = next {
        r.register_with_unit("schedule_next_tick_timestamp", "When the schedule fires next", Unit::Seconds, float(seconds(t)));
    }

    // The supervised parts.
    let up: Family<Labels, Gauge> = Family::default();
    let restarts: Family<Labels, Counter> = Family::default();
    for (name, h) in ctx.health.snapshot() {
        up.get_or_create(&labels(&[("part", &name)])).set(i64::from(h.state == PartState::Running));
        restarts.get_or_create(&labels(&[("part", &name)])).inc_by(u64::from(h.restarts));
    }
    r.register("part_up", "1 while a supervised part runs, 0 while it restarts, stopped or failed", up);
    r.register("part_restarts", "Restarts of each supervised part since the daemon started", restarts);

    let mut text = String::new();
    prometheus_text::encode(&mut text, &r).map_err(|e| OpError::Internal(anyhow::anyhow!("cannot encode the metrics: {e}")))?;
    Ok(text)
}
