//! The gate: may a dream start now? A pure function of the daemon's picture of the world.
//!
//! ## Decisions
//! - `Fire`: start a dream now.
//! - `Wait`: not now, but the trigger stays valid; evaluate again at `earliest_next` (when
//!   known: the earliest instant at which every currently failing rule would pass if
//!   nothing else changes) or on the next event. A schedule tick that gets `Wait` stays
//!   pending; a watch trigger is simply re-evaluated on the next scan or timer.
//! - `Deny`: a limit says no; the trigger is dropped (a manual request gets a 4xx, a
//!   schedule tick is skipped). Log it with its reason.
//!
//! ## Rule order (first failing rule gives the decision)
//! 1. **Single flight** (Wait `job_running`): a running job coalesces every trigger; the
//!    daemon re-evaluates when it ends. First, because nothing else matters meanwhile.
//! 2. **Daily quota**, then **daily budget**, then **monthly budget** (Deny, with numbers):
//!    hard limits; no trigger, not even `--force`, passes them.
//! 3. **Schedule tick with nothing new** (Deny `no_new_sessions`, when
//!    `schedule_requires_new_sessions`): the tick is skipped at once rather than kept
//!    pending behind a lock or a backoff.
//! 4. **Agent lock** (Wait `agent_lock` until the lock goes stale): never dream while a
//!    live Claude Code process holds `.consolidate-lock`. Not bypassed by `--force`.
//! 5. **Backoff** after failures (Wait `backoff`): exponential from
//!    `limits.failure_backoff`, capped at `max_failure_backoff`. `--force` bypasses it: a
//!    human asking explicitly (having fixed the engine) is not a broken engine burning
//!    the quota.
//! 6. `--force` fires here: it bypasses thresholds, `min_interval` and the quiet period.
//! 7. **Trigger-specific conditions**:
//!    - schedule: new sessions must be finished (Wait `sessions_in_progress`), then the
//!      quiet period. A schedule ignores thresholds and `min_interval`: the operator chose
//!      the time, and a daily 03:00 tick must not be blocked by a dream at 03:00:05
//!      yesterday.
//!    - watch and manual without force: at least one threshold met (Wait
//!      `below_thresholds`, or `sessions_in_progress` when in-progress sessions would meet
//!      `min_new_sessions` once finished), then `min_interval` since the last dream, then
//!      the quiet period.
//!
//! Thresholds: `min_new_sessions` counts *finished* new sessions (>=); `max_memory_bytes`,
//! `max_memory_files`, `max_index_lines` fire when the store is *above* them (>). A
//! threshold that is unset or 0 is disabled.

use crate::config::{LimitsConfig, TriggersConfig};
use crate::lock::LockStatus;
use crate::sessions::SessionCounts;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// What asked for a dream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trigger {
    /// Filesystem events or the periodic rescan.
    Watch,
    /// A cron tick.
    Schedule,
    /// `POST /v1/dreams` / `dreamd dream [--force]`.
    Manual { force: bool },
}

/// The memory store as the last scan saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    pub bytes: u64,
    pub files: u32,
    /// Lines in MEMORY.md (0 when there is none).
    pub index_lines: u32,
    /// Newest mtime of a file in the memory directory (dot-files excluded).
    pub last_write: Option<DateTime<Utc>>,
}

/// Figures from the quota ledger, for the current quota day and month (see [`quota_day`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LedgerFigures {
    pub jobs_today: u32,
    pub cost_today_usd: f64,
    pub cost_month_usd: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FailureState {
    /// Failed jobs in a row since the last job that did not fail.
    pub consecutive: u32,
    pub last_failure_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct GateInput<'a> {
    pub trigger: Trigger,
    pub now: DateTime<Utc>,
    pub store: StoreStats,
    pub sessions: &'a SessionCounts,
    /// Start of the last dream that did not fail (applied, held or discarded).
    pub last_dream_started: Option<DateTime<Utc>>,
    pub failures: FailureState,
    /// The last dream found nothing to change (job id), and neither the store nor the sessions
    /// changed since: dreaming the same picture again would change nothing either.
    pub unchanged_since: Option<i64>,
    pub job_running: bool,
    pub ledger: LedgerFigures,
    /// The engine's cost estimate for the job this trigger would start.
    pub estimate_usd: f64,
    pub lock: &'a LockStatus,
    pub triggers: &'a TriggersConfig,
    pub limits: &'a LimitsConfig,
    /// `triggers.timezone`, parsed: the quota's calendar day.
    pub tz: Tz,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    // Fire
    Thresholds,
    ScheduleTick,
    Manual,
    Forced,
    // Wait
    JobRunning,
    AgentLock,
    Backoff,
    BelowThresholds,
    SessionsInProgress,
    MinInterval,
    QuietPeriod,
    NothingNew,
    // Deny
    DailyQuota,
    DailyBudget,
    MonthlyBudget,
    InvalidEstimate,
    NoNewSessions,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    pub code: ReasonCode,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    Fire { reason: Reason },
    Wait { reason: Reason, earliest_next: Option<DateTime<Utc>> },
    Deny { reason: Reason },
}

impl Decision {
    pub fn reason(&self) -> &Reason {
        match self {
            Decision::Fire { reason } | Decision::Wait { reason, .. } | Decision::Deny { reason } => reason,
        }
    }
    pub fn is_fire(&self) -> bool {
        matches!(self, Decision::Fire { .. })
    }
    pub fn earliest_next(&self) -> Option<DateTime<Utc>> {
        match self {
            Decision::Wait { earliest_next, .. } => *earliest_next,
            _ => None,
        }
    }
}

/// The calendar day the quota counts against: the local date in `tz`.
pub fn quota_day(now: DateTime<Utc>, tz: Tz) -> NaiveDate {
    now.with_timezone(&tz).date_naive()
}

/// The budget month in `tz`, as `YYYY-MM`.
pub fn month_key(now: DateTime<Utc>, tz: Tz) -> String {
    let d = quota_day(now, tz);
    format!("{:04}-{:02}", d.year(), d.month())
}

/// When the next quota day starts: the next local midnight (or the first instant after
/// it, in zones where midnight can fall into a DST gap).
pub fn next_quota_reset(now: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    let tomorrow = quota_day(now, tz).succ_opt().unwrap_or(NaiveDate::MAX);
    crate::schedule::resolve_local(tz, tomorrow.and_time(chrono::NaiveTime::MIN)).unwrap_or(now + chrono::Duration::days(1))
}

/// When the next budget month starts (local midnight on the 1st).
pub fn next_month_reset(now: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    let d = quota_day(now, tz);
    let (y, m) = if d.month() == 12 { (d.year() + 1, 1) } else { (d.year(), d.month() + 1) };
    NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|first| crate::schedule::resolve_local(tz, first.and_time(chrono::NaiveTime::MIN)))
        .unwrap_or(now + chrono::Duration::days(31))
}

/// The backoff after `consecutive` failures: base × 2^(n-1), capped. Zero when n = 0.
pub fn backoff_delay(consecutive: u32, limits: &LimitsConfig) -> chrono::Duration {
    if consecutive == 0 {
        return chrono::Duration::zero();
    }
    let base = limits.failure_backoff.as_secs();
    let cap = limits.max_failure_backoff.as_secs();
    let factor = 1u64.checked_shl(consecutive - 1).unwrap_or(u64::MAX);
    let secs = base.saturating_mul(factor).min(cap).min(i64::MAX as u64 / 1000);
    chrono::Duration::seconds(secs as i64)
}

/// Small allowance for float rounding in money sums.
const CENT_EPSILON: f64 = 1e-9;

fn usd(v: f64) -> String {
    format!("${v:.2}")
}

fn fmt_local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string()
}

/// The gate. See the module docs for the rules and their order.
pub fn decide(i: &GateInput) -> Decision {
    let wait = |code, message: String, earliest_next| Decision::Wait { reason: Reason { code, message }, earliest_next };
    let deny = |code, message: String| Decision::Deny { reason: Reason { code, message } };
    let force = matches!(i.trigger, Trigger::Manual { force: true });

    // 1. Single flight.
    if i.job_running {
        return wait(ReasonCode::JobRunning, "a dream is already running; this trigger is folded into it".into(), None);
    }

    // 2. Quota and budget.
    let max_jobs = i.limits.max_jobs_per_day;
    if i.ledger.jobs_today >= max_jobs {
        return deny(
            ReasonCode::DailyQuota,
            format!(
                "daily quota used: {} of {} jobs on {} ({}); resets at {}",
                i.ledger.jobs_today,
                max_jobs,
                quota_day(i.now, i.tz),
                i.tz,
                fmt_local(next_quota_reset(i.now, i.tz), i.tz)
            ),
        );
    }
    if !i.estimate_usd.is_finite() || i.estimate_usd < 0.0 {
        return deny(ReasonCode::InvalidEstimate, format!("the engine's cost estimate {} is not a valid amount", i.estimate_usd));
    }
    let day_total = i.ledger.cost_today_usd + i.estimate_usd;
    if day_total > i.limits.daily_budget_usd + CENT_EPSILON {
        return deny(
            ReasonCode::DailyBudget,
            format!(
                "daily budget: {} spent today + {} estimated = {} > {} budget; resets at {}",
                usd(i.ledger.cost_today_usd),
                usd(i.estimate_usd),
                usd(day_total),
                usd(i.limits.daily_budget_usd),
                fmt_local(next_quota_reset(i.now, i.tz), i.tz)
            ),
        );
    }
    if let Some(month_budget) = i.limits.monthly_budget_usd {
        let month_total = i.ledger.cost_month_usd + i.estimate_usd;
        if month_total > month_budget + CENT_EPSILON {
            return deny(
                ReasonCode::MonthlyBudget,
                format!(
                    "monthly budget: {} spent in {} + {} estimated = {} > {} budget; resets at {}",
                    usd(i.ledger.cost_month_usd),
                    month_key(i.now, i.tz),
                    usd(i.estimate_usd),
                    usd(month_total),
                    usd(month_budget),
                    fmt_local(next_month_reset(i.now, i.tz), i.tz)
                ),
            );
        }
    }

    // 3. A schedule tick with nothing new is skipped.
    let t = i.triggers;
    if i.trigger == Trigger::Schedule && t.schedule_requires_new_sessions && i.sessions.new_total() == 0 {
        return deny(ReasonCode::NoNewSessions, "schedule tick skipped: no new session since the last dream".into());
    }

    // Every failing rule from here on, with when it passes by itself (None: it needs
    // something new to happen). The Wait hint is the latest of them, if all are known.
    let mut untils: Vec<Option<DateTime<Utc>>> = Vec::new();
    let mut first: Option<(ReasonCode, String)> = None;
    let mut fail = |code, message: String, until: Option<DateTime<Utc>>, untils: &mut Vec<Option<DateTime<Utc>>>| {
        untils.push(until);
        if first.is_none() {
            first = Some((code, message));
        }
    };

    // 4. The agent's own lock.
    if let LockStatus::HeldByOther { pid, since, stale_at } = i.lock {
        fail(
            ReasonCode::AgentLock,
            format!(
                "the agent's .consolidate-lock is held by live process {pid} since {}; stale at {}",
                fmt_local(*since, i.tz),
                fmt_local(*stale_at, i.tz)
            ),
            Some(*stale_at),
            &mut untils,
        );
    }

    // 5. Backoff.
    if !force && i.failures.consecutive > 0 {
        if let Some(last) = i.failures.last_failure_at {
            let until = last + backoff_delay(i.failures.consecutive, i.limits);
            if i.now < until {
                fail(
                    ReasonCode::Backoff,
                    format!(
                        "backing off after {} failed job(s) in a row; next attempt at {}",
                        i.failures.consecutive,
                        fmt_local(until, i.tz)
                    ),
                    Some(until),
                    &mut untils,
                );
            }
        }
    }

    // 6. --force stops here.
    if force {
        return finish(first, untils, ReasonCode::Forced, "forced by request: thresholds, interval and quiet period bypassed".into());
    }

    // 7. Trigger-specific conditions.
    let s = i.sessions;
    let mut fire_message = String::new();
    match i.trigger {
        Trigger::Schedule => {
            if t.schedule_requires_new_sessions && s.new_finished == 0 {
                fail(
                    ReasonCode::SessionsInProgress,
                    format!("schedule tick pending: {} new session(s), none finished yet", s.new_in_progress),
                    s.next_finish,
                    &mut untils,
                );
            }
            fire_message = format!("schedule tick; {} new finished session(s)", s.new_finished);
        }
        Trigger::Watch | Trigger::Manual { force: false } => {
            if let Some(job) = i.unchanged_since {
                // Without this, a threshold that stays met fires no-op dreams in a loop.
                fail(ReasonCode::NothingNew, format!("nothing changed since job {job}, which found nothing to change"), None, &mut untils);
            }
            let met = thresholds_met(i);
            if met.is_empty() {
                let min = t.min_new_sessions.filter(|n| *n > 0);
                let would_meet = min.is_some_and(|n| s.new_total() >= n);
                let message = if thresholds_configured(t) {
                    format!("no threshold met: {}", threshold_summary(i))
                } else {
                    "no threshold is configured; only a schedule or a forced request can start a dream".into()
                };
                if would_meet {
                    fail(
                        ReasonCode::SessionsInProgress,
                        format!("{message}; waiting for in-progress sessions to finish"),
                        s.next_finish,
                        &mut untils,
                    );
                } else {
                    // Needs something new to happen: no time-based hint.
                    fail(ReasonCode::BelowThresholds, message, None, &mut untils);
                }
            }
            if let Some(last) = i.last_dream_started {
                let until = last + t.min_interval.chrono();
                if i.now < until {
                    fail(
                        ReasonCode::MinInterval,
                        format!(
                            "last dream started at {}; min_interval {} not over until {}",
                            fmt_local(last, i.tz),
                            t.min_interval,
                            fmt_local(until, i.tz)
                        ),
                        Some(until),
                        &mut untils,
                    );
                }
            }
            fire_message = if i.trigger == Trigger::Watch {
                format!("threshold met: {}", met.join("; "))
            } else {
                format!("requested; threshold met: {}", met.join("; "))
            };
        }
        Trigger::Manual { force: true } => {}
    }

    // Quiet period, for every non-forced trigger.
    if let Some(last_write) = i.store.last_write {
        let until = last_write + t.quiet_period.chrono();
        if i.now < until {
            fail(
                ReasonCode::QuietPeriod,
                format!("memory directory written at {}; quiet until {}", fmt_local(last_write, i.tz), fmt_local(until, i.tz)),
                Some(until),
                &mut untils,
            );
        }
    }

    let fire_code = match i.trigger {
        Trigger::Schedule => ReasonCode::ScheduleTick,
        Trigger::Manual { .. } => ReasonCode::Manual,
        Trigger::Watch => ReasonCode::Thresholds,
    };
    finish(first, untils, fire_code, fire_message)
}

/// Fire if no rule failed; otherwise Wait on the first failure with the latest `until`
/// as the hint (None when a failing rule has no time at which it passes by itself).
fn finish(
    first: Option<(ReasonCode, String)>,
    untils: Vec<Option<DateTime<Utc>>>,
    fire_code: ReasonCode,
    fire_message: String,
) -> Decision {
    match first {
        None => Decision::Fire { reason: Reason { code: fire_code, message: fire_message } },
        Some((code, message)) => {
            let latest = untils.into_iter().collect::<Option<Vec<_>>>().and_then(|v| v.into_iter().max());
            Decision::Wait { reason: Reason { code, message }, earliest_next: latest }
        }
    }
}

fn thresholds_configured(t: &TriggersConfig) -> bool {
    t.min_new_sessions.is_some_and(|n| n > 0)
        || t.max_memory_bytes.is_some_and(|n| n > 0)
        || t.max_memory_files.is_some_and(|n| n > 0)
        || t.max_index_lines.is_some_and(|n| n > 0)
}

/// The thresholds that are met, as sentences with their numbers.
fn thresholds_met(i: &GateInput) -> Vec<String> {
    let t = i.triggers;
    let mut met = Vec::new();
    if let Some(n) = t.min_new_sessions.filter(|n| *n > 0) {
        if i.sessions.new_finished >= n {
            met.push(format!("{} finished new sessions >= min_new_sessions {n}", i.sessions.new_finished));
        }
    }
    if let Some(n) = t.max_memory_bytes.filter(|n| *n > 0) {
        if i.store.bytes > n {
            met.push(format!("store {} bytes > max_memory_bytes {n}", i.store.bytes));
        }
    }
    if let Some(n) = t.max_memory_files.filter(|n| *n > 0) {
        if i.store.files > n {
            met.push(format!("{} memory files > max_memory_files {n}", i.store.files));
        }
    }
    if let Some(n) = t.max_index_lines.filter(|n| *n > 0) {
        if i.store.index_lines > n {
            met.push(format!("MEMORY.md {} lines > max_index_lines {n}", i.store.index_lines));
        }
    }
    met
}

/// Where each configured threshold stands, for a Wait message.
fn threshold_summary(i: &GateInput) -> String {
    let t = i.triggers;
    let mut parts = Vec::new();
    if let Some(n) = t.min_new_sessions.filter(|n| *n > 0) {
        parts.push(format!("{}/{n} finished new sessions ({} in progress)", i.sessions.new_finished, i.sessions.new_in_progress));
    }
    if let Some(n) = t.max_memory_bytes.filter(|n| *n > 0) {
        parts.push(format!("{}/{n} bytes", i.store.bytes));
    }
    if let Some(n) = t.max_memory_files.filter(|n| *n > 0) {
        parts.push(format!("{}/{n} files", i.store.files));
    }
    if let Some(n) = t.max_index_lines.filter(|n| *n > 0) {
        parts.push(format!("{}/{n} index lines", i.store.index_lines));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests;
