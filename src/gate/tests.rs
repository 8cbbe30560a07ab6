use super::*;
use crate::config::HumanDuration;
use chrono::Duration;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

const NOW: &str = "2026-06-10T12:00:00Z";

/// Owned pieces a GateInput borrows; defaults describe a calm agent that should fire on Watch:
/// 5 finished new sessions, quiet for an hour, no previous dream, nothing used.
struct World {
    trigger: Trigger,
    now: DateTime<Utc>,
    store: StoreStats,
    sessions: SessionCounts,
    last_dream_started: Option<DateTime<Utc>>,
    failures: FailureState,
    unchanged_since: Option<i64>,
    job_running: bool,
    ledger: LedgerFigures,
    estimate_usd: f64,
    lock: LockStatus,
    triggers: TriggersConfig,
    limits: LimitsConfig,
    tz: Tz,
}

impl World {
    fn new() -> World {
        let now = t(NOW);
        World {
            trigger: Trigger::Watch,
            now,
            store: StoreStats { bytes: 1000, files: 3, index_lines: 10, last_write: Some(now - Duration::hours(1)) },
            sessions: sessions(5, 0, None),
            last_dream_started: None,
            failures: FailureState::default(),
            unchanged_since: None,
            job_running: false,
            ledger: LedgerFigures::default(),
            estimate_usd: 0.0,
            lock: LockStatus::Absent,
            triggers: TriggersConfig::default(),
            limits: LimitsConfig::default(),
            tz: Tz::UTC,
        }
    }
    fn decide(&self) -> Decision {
        decide(&GateInput {
            trigger: self.trigger,
            now: self.now,
            store: self.store.clone(),
            sessions: &self.sessions,
            last_dream_started: self.last_dream_started,
            failures: self.failures,
            unchanged_since: self.unchanged_since,
            job_running: self.job_running,
            ledger: self.ledger,
            estimate_usd: self.estimate_usd,
            lock: &self.lock,
            triggers: &self.triggers,
            limits: &self.limits,
            tz: self.tz,
        })
    }
    fn with(mut self, f: impl FnOnce(&mut World)) -> World {
        f(&mut self);
        self
    }
}

fn sessions(finished: u32, in_progress: u32, next_finish: Option<DateTime<Utc>>) -> SessionCounts {
    SessionCounts {
        new_finished: finished,
        new_in_progress: in_progress,
        finished_ids: (0..finished).map(|i| format!("f{i}")).collect(),
        in_progress_ids: (0..in_progress).map(|i| format!("p{i}")).collect(),
        next_finish,
    }
}

fn code(d: &Decision) -> ReasonCode {
    d.reason().code
}

fn assert_wait(d: &Decision, c: ReasonCode, earliest: Option<DateTime<Utc>>) {
    match d {
        Decision::Wait { reason, earliest_next } => {
            assert_eq!(reason.code, c, "{d:?}");
            assert_eq!(*earliest_next, earliest, "{d:?}");
        }
        other => panic!("expected Wait({c:?}), got {other:?}"),
    }
}

fn assert_deny(d: &Decision, c: ReasonCode) {
    assert!(matches!(d, Decision::Deny { reason } if reason.code == c), "expected Deny({c:?}), got {d:?}");
}

fn held_lock(now: DateTime<Utc>) -> LockStatus {
    LockStatus::HeldByOther { pid: 4242, since: now - Duration::minutes(10), stale_at: now + Duration::minutes(50) }
}

// ---- thresholds ----

#[test]
fn five_finished_sessions_fire_on_watch() {
    let d = World::new().decide();
    assert!(d.is_fire(), "{d:?}");
    assert_eq!(code(&d), ReasonCode::Thresholds);
    assert!(d.reason().message.contains("5 finished new sessions >= min_new_sessions 5"), "{d:?}");
}

#[test]
fn four_sessions_wait_with_no_hint() {
    let d = World::new().with(|w| w.sessions = sessions(4, 0, None)).decide();
    assert_wait(&d, ReasonCode::BelowThresholds, None);
    assert!(d.reason().message.contains("4/5 finished new sessions"), "{d:?}");
}

#[test]
fn an_in_progress_session_is_not_counted_but_gives_a_hint() {
    let finish = t(NOW) + Duration::minutes(7);
    let d = World::new().with(|w| w.sessions = sessions(4, 1, Some(finish))).decide();
    assert_wait(&d, ReasonCode::SessionsInProgress, Some(finish));
    // Not enough even with the in-progress one: no hint.
    let d = World::new().with(|w| w.sessions = sessions(3, 1, Some(finish))).decide();
    assert_wait(&d, ReasonCode::BelowThresholds, None);
}

#[test]
fn size_thresholds_fire_only_when_exceeded() {
    let base = || World::new().with(|w| w.sessions = sessions(0, 0, None));
    type Edit = Box<dyn Fn(&mut World)>;
    let cases: Vec<(Edit, Edit)> = vec![
        (Box::new(|w: &mut World| w.triggers.max_memory_bytes = Some(1000)), Box::new(|w: &mut World| w.store.bytes = 1001)),
        (Box::new(|w: &mut World| w.triggers.max_memory_files = Some(3)), Box::new(|w: &mut World| w.store.files = 4)),
        (Box::new(|w: &mut World| w.triggers.max_index_lines = Some(10)), Box::new(|w: &mut World| w.store.index_lines = 11)),
    ];
    for (set, exceed) in cases {
        let at_limit = base().with(|w| set(w));
        assert_eq!(code(&at_limit.decide()), ReasonCode::BelowThresholds);
        let over = at_limit.with(|w| exceed(w));
        assert!(over.decide().is_fire(), "{:?}", over.decide());
    }
}

#[test]
fn default_index_limit_is_claude_codes_200_lines() {
    let w = World::new().with(|w| {
        w.sessions = sessions(0, 0, None);
        w.store.index_lines = 201;
    });
    let d = w.decide();
    assert!(d.is_fire(), "{d:?}");
    assert!(d.reason().message.contains("MEMORY.md 201 lines > max_index_lines 200"), "{d:?}");
    assert!(!w.with(|w| w.store.index_lines = 200).decide().is_fire());
}

#[test]
fn zero_or_unset_thresholds_are_disabled() {
    let w = World::new().with(|w| {
        w.triggers.min_new_sessions = Some(0);
        w.triggers.max_memory_bytes = Some(0);
        w.triggers.max_memory_files = None;
        w.triggers.max_index_lines = None;
        w.sessions = sessions(50, 0, None);
    });
    let d = w.decide();
    assert_wait(&d, ReasonCode::BelowThresholds, None);
    assert!(d.reason().message.contains("no threshold is configured"), "{d:?}");
}

#[test]
fn several_thresholds_are_all_named() {
    let d = World::new().with(|w| w.store.index_lines = 300).decide();
    assert!(d.reason().message.contains("5 finished") && d.reason().message.contains("300 lines"), "{d:?}");
}

// ---- time rules ----

#[test]
fn quiet_period_holds_until_the_memory_dir_is_quiet() {
    let now = t(NOW);
    let w = World::new().with(|w| w.store.last_write = Some(now - Duration::seconds(60)));
    assert_wait(&w.decide(), ReasonCode::QuietPeriod, Some(now + Duration::seconds(60)));
    let exactly = w.with(|w| w.store.last_write = Some(now - Duration::seconds(120)));
    assert!(exactly.decide().is_fire());
    // An empty memory dir (no write ever) is quiet.
    assert!(World::new().with(|w| w.store.last_write = None).decide().is_fire());
}

#[test]
fn min_interval_since_the_last_dream() {
    let now = t(NOW);
    let w = World::new().with(|w| w.last_dream_started = Some(now - Duration::hours(23)));
    assert_wait(&w.decide(), ReasonCode::MinInterval, Some(now + Duration::hours(1)));
    assert!(w.with(|w| w.last_dream_started = Some(now - Duration::hours(24))).decide().is_fire());
}

#[test]
fn hint_is_the_latest_of_all_failing_time_rules() {
    let now = t(NOW);
    let w = World::new().with(|w| {
        w.last_dream_started = Some(now - Duration::hours(24) + Duration::seconds(30));
        w.store.last_write = Some(now - Duration::seconds(10));
    });
    // min_interval is reported (it comes first) but the hint waits for the quiet period too.
    assert_wait(&w.decide(), ReasonCode::MinInterval, Some(now + Duration::seconds(110)));
}

#[test]
fn below_thresholds_has_no_hint_even_with_time_rules_failing() {
    let now = t(NOW);
    let w = World::new().with(|w| {
        w.sessions = sessions(1, 0, None);
        w.store.last_write = Some(now - Duration::seconds(10));
    });
    assert_wait(&w.decide(), ReasonCode::BelowThresholds, None);
}

// ---- single flight, quota, budget ----

#[test]
fn a_running_job_coalesces_every_trigger() {
    for trigger in [Trigger::Watch, Trigger::Schedule, Trigger::Manual { force: false }, Trigger::Manual { force: true }] {
        let w = World::new().with(|w| {
            w.trigger = trigger;
            w.job_running = true;
            w.ledger.jobs_today = 99; // running comes before quota
        });
        assert_wait(&w.decide(), ReasonCode::JobRunning, None);
    }
}

#[test]
fn daily_quota_denies_even_forced_requests() {
    for trigger in [Trigger::Watch, Trigger::Schedule, Trigger::Manual { force: true }] {
        let w = World::new().with(|w| {
            w.trigger = trigger;
            w.ledger.jobs_today = 10;
        });
        let d = w.decide();
        assert_deny(&d, ReasonCode::DailyQuota);
        assert!(d.reason().message.contains("10 of 10 jobs on 2026-06-10"), "{d:?}");
        assert!(d.reason().message.contains("resets at 2026-06-11 00:00 UTC"), "{d:?}");
    }
    assert!(World::new().with(|w| w.ledger.jobs_today = 9).decide().is_fire());
    assert_deny(&World::new().with(|w| w.limits.max_jobs_per_day = 0).decide(), ReasonCode::DailyQuota);
}

#[test]
fn quota_day_is_the_configured_zones_calendar_day() {
    let berlin: Tz = "Europe/Berlin".parse().unwrap();
    let ny: Tz = "America/New_York".parse().unwrap();
    let late = t("2026-03-29T22:30:00Z");
    assert_eq!(quota_day(late, Tz::UTC).to_string(), "2026-03-29");
    assert_eq!(quota_day(late, berlin).to_string(), "2026-03-30"); // 00:30 CEST
    assert_eq!(quota_day(t("2026-03-30T03:30:00Z"), ny).to_string(), "2026-03-29"); // 23:30 EDT
    assert_eq!(next_quota_reset(late, berlin), t("2026-03-30T22:00:00Z"));
    assert_eq!(next_quota_reset(t("2026-03-28T12:00:00Z"), berlin), t("2026-03-28T23:00:00Z"));
    assert_eq!(month_key(t("2026-05-31T22:30:00Z"), berlin), "2026-06");
    assert_eq!(month_key(t("2026-05-31T22:30:00Z"), Tz::UTC), "2026-05");
    assert_eq!(next_month_reset(t("2026-12-15T00:00:00Z"), Tz::UTC), t("2027-01-01T00:00:00Z"));
    // Midnight in a DST gap (America/Havana springs forward at 00:00 -> 01:00 on 8 Mar 2026).
    let havana: Tz = "America/Havana".parse().unwrap();
    let reset = next_quota_reset(t("2026-03-07T12:00:00Z"), havana);
    assert_eq!(reset.with_timezone(&havana).format("%Y-%m-%d %H:%M").to_string(), "2026-03-08 01:00");
}

#[test]
fn quota_resets_on_the_next_local_day() {
    // The ledger owner keys jobs by quota_day: 10 jobs on the 10th do not count on the 11th.
    let tz: Tz = "Europe/Berlin".parse().unwrap();
    let evening = t("2026-06-10T21:59:00Z"); // 23:59 CEST on the 10th
    let after_midnight = t("2026-06-10T22:01:00Z"); // 00:01 CEST on the 11th
    assert_ne!(quota_day(evening, tz), quota_day(after_midnight, tz));
    let w = World::new().with(|w| {
        w.tz = tz;
        w.now = evening;
        w.ledger.jobs_today = 10;
    });
    assert_deny(&w.decide(), ReasonCode::DailyQuota);
    let next_day = w.with(|w| {
        w.now = after_midnight;
        w.ledger.jobs_today = 0;
    });
    assert!(next_day.decide().is_fire());
}

#[test]
fn daily_budget_denies_a_job_whose_estimate_crosses_it_with_the_numbers() {
    let w = World::new().with(|w| {
        w.ledger.cost_today_usd = 4.5;
        w.estimate_usd = 0.6;
    });
    let d = w.decide();
    assert_deny(&d, ReasonCode::DailyBudget);
    let m = &d.reason().message;
    assert!(m.contains("$4.50") && m.contains("$0.60") && m.contains("$5.10") && m.contains("$5.00"), "{m}");
    // Exactly at the budget is allowed (float sums included).
    assert!(World::new()
        .with(|w| {
            w.ledger.cost_today_usd = 4.4;
            w.estimate_usd = 0.6;
        })
        .decide()
        .is_fire());
    // A free engine with a zero budget runs.
    assert!(World::new().with(|w| w.limits.daily_budget_usd = 0.0).decide().is_fire());
    // Already over budget: even a free job is denied.
    assert_deny(&World::new().with(|w| w.ledger.cost_today_usd = 5.5).decide(), ReasonCode::DailyBudget);
    // Forced requests too.
    assert_deny(&w.with(|w| w.trigger = Trigger::Manual { force: true }).decide(), ReasonCode::DailyBudget);
}

#[test]
fn monthly_budget_applies_when_set() {
    let w = World::new().with(|w| {
        w.ledger.cost_month_usd = 19.0;
        w.estimate_usd = 2.0;
    });
    assert!(w.decide().is_fire(), "no monthly budget configured");
    let w = w.with(|w| w.limits.monthly_budget_usd = Some(20.0));
    let d = w.decide();
    assert_deny(&d, ReasonCode::MonthlyBudget);
    assert!(d.reason().message.contains("$19.00 spent in 2026-06 + $2.00 estimated = $21.00 > $20.00"), "{d:?}");
}

#[test]
fn invalid_estimates_are_denied() {
    for e in [f64::NAN, f64::INFINITY, -1.0] {
        assert_deny(&World::new().with(|w| w.estimate_usd = e).decide(), ReasonCode::InvalidEstimate);
    }
}

// ---- lock, backoff ----

#[test]
fn a_live_agent_lock_waits_until_stale() {
    let now = t(NOW);
    let d = World::new().with(|w| w.lock = held_lock(now)).decide();
    assert_wait(&d, ReasonCode::AgentLock, Some(now + Duration::minutes(50)));
    assert!(d.reason().message.contains("4242"), "{d:?}");
    for free in [
        LockStatus::Absent,
        LockStatus::Ours { since: Some(now) },
        LockStatus::Free { pid: Some(1), since: Some(now - Duration::hours(2)), why: crate::lock::FreeReason::Stale },
    ] {
        assert!(World::new().with(|w| w.lock = free).decide().is_fire());
    }
    // Force does not bypass it.
    let forced = World::new().with(|w| {
        w.lock = held_lock(now);
        w.trigger = Trigger::Manual { force: true };
    });
    assert_eq!(code(&forced.decide()), ReasonCode::AgentLock);
}

#[test]
fn backoff_doubles_and_is_capped() {
    let l = LimitsConfig::default(); // 5m base, 6h cap
    assert_eq!(backoff_delay(0, &l), Duration::zero());
    assert_eq!(backoff_delay(1, &l), Duration::minutes(5));
    assert_eq!(backoff_delay(3, &l), Duration::minutes(20));
    assert_eq!(backoff_delay(8, &l), Duration::hours(6));
    assert_eq!(backoff_delay(u32::MAX, &l), Duration::hours(6));
    let l0 = LimitsConfig { failure_backoff: HumanDuration::secs(0), ..LimitsConfig::default() };
    assert_eq!(backoff_delay(5, &l0), Duration::zero());
}

#[test]
fn backoff_after_failures_waits_then_allows() {
    let now = t(NOW);
    let w = World::new().with(|w| w.failures = FailureState { consecutive: 3, last_failure_at: Some(now - Duration::minutes(5)) });
    let d = w.decide();
    assert_wait(&d, ReasonCode::Backoff, Some(now + Duration::minutes(15)));
    assert!(d.reason().message.contains("3 failed"), "{d:?}");
    assert!(w.with(|w| w.now = now + Duration::minutes(15)).decide().is_fire());
}

#[test]
fn lock_and_backoff_hint_is_the_later_of_the_two() {
    let now = t(NOW);
    let w = World::new().with(|w| {
        w.lock = held_lock(now);
        w.failures = FailureState { consecutive: 8, last_failure_at: Some(now) };
    });
    assert_wait(&w.decide(), ReasonCode::AgentLock, Some(now + Duration::hours(6)));
}

// ---- force, manual ----

#[test]
fn force_bypasses_thresholds_interval_quiet_and_backoff() {
    let now = t(NOW);
    let w = World::new().with(|w| {
        w.trigger = Trigger::Manual { force: true };
        w.sessions = sessions(0, 2, Some(now + Duration::minutes(1)));
        w.last_dream_started = Some(now - Duration::minutes(1));
        w.store.last_write = Some(now);
        w.failures = FailureState { consecutive: 2, last_failure_at: Some(now) };
    });
    let d = w.decide();
    assert!(d.is_fire(), "{d:?}");
    assert_eq!(code(&d), ReasonCode::Forced);
}

#[test]
fn manual_without_force_goes_through_thresholds() {
    let w = World::new().with(|w| {
        w.trigger = Trigger::Manual { force: false };
        w.sessions = sessions(1, 0, None);
    });
    assert_wait(&w.decide(), ReasonCode::BelowThresholds, None);
    let ok = w.with(|w| w.sessions = sessions(5, 0, None)).decide();
    assert_eq!(code(&ok), ReasonCode::Manual);
    assert!(ok.is_fire());
    let failing = World::new().with(|w| {
        w.trigger = Trigger::Manual { force: false };
        w.failures = FailureState { consecutive: 1, last_failure_at: Some(t(NOW)) };
    });
    assert_eq!(code(&failing.decide()), ReasonCode::Backoff);
}

// ---- schedule ----

#[test]
fn schedule_tick_with_nothing_new_is_skipped() {
    let w = World::new().with(|w| {
        w.trigger = Trigger::Schedule;
        w.sessions = sessions(0, 0, None);
        w.lock = held_lock(t(NOW)); // skipped before waiting on the lock
    });
    assert_deny(&w.decide(), ReasonCode::NoNewSessions);
    let anyway = w.with(|w| {
        w.triggers.schedule_requires_new_sessions = false;
        w.lock = LockStatus::Absent;
    });
    assert!(anyway.decide().is_fire());
    assert_eq!(code(&anyway.decide()), ReasonCode::ScheduleTick);
}

#[test]
fn schedule_ignores_thresholds_and_min_interval_but_not_quiet() {
    let now = t(NOW);
    let w = World::new().with(|w| {
        w.trigger = Trigger::Schedule;
        w.sessions = sessions(1, 0, None);
        w.last_dream_started = Some(now - Duration::hours(23) - Duration::minutes(59));
    });
    assert!(w.decide().is_fire(), "{:?}", w.decide());
    let busy = w.with(|w| w.store.last_write = Some(now - Duration::seconds(30)));
    assert_wait(&busy.decide(), ReasonCode::QuietPeriod, Some(now + Duration::seconds(90)));
}

#[test]
fn schedule_waits_for_an_in_progress_session_to_finish() {
    let finish = t(NOW) + Duration::minutes(4);
    let w = World::new().with(|w| {
        w.trigger = Trigger::Schedule;
        w.sessions = sessions(0, 1, Some(finish));
    });
    assert_wait(&w.decide(), ReasonCode::SessionsInProgress, Some(finish));
}

// ---- order and shape ----

#[test]
fn rule_order_is_as_documented() {
    let now = t(NOW);
    // Quota beats lock and budget.
    let w = World::new().with(|w| {
        w.ledger.jobs_today = 10;
        w.ledger.cost_today_usd = 100.0;
        w.lock = held_lock(now);
    });
    assert_deny(&w.decide(), ReasonCode::DailyQuota);
    // Daily budget beats monthly.
    let w = World::new().with(|w| {
        w.ledger.cost_today_usd = 100.0;
        w.ledger.cost_month_usd = 100.0;
        w.limits.monthly_budget_usd = Some(1.0);
    });
    assert_deny(&w.decide(), ReasonCode::DailyBudget);
    // Lock beats backoff beats thresholds.
    let w = World::new().with(|w| {
        w.sessions = sessions(0, 0, None);
        w.failures = FailureState { consecutive: 1, last_failure_at: Some(now) };
    });
    assert_eq!(code(&w.decide()), ReasonCode::Backoff);
    assert_eq!(code(&w.with(|w| w.lock = held_lock(now)).decide()), ReasonCode::AgentLock);
    // Thresholds beat min_interval beats quiet.
    let w = World::new().with(|w| {
        w.last_dream_started = Some(now);
        w.store.last_write = Some(now);
    });
    assert_eq!(code(&w.decide()), ReasonCode::MinInterval);
    assert_eq!(code(&w.with(|w| w.sessions = sessions(0, 0, None)).decide()), ReasonCode::BelowThresholds);
}

#[test]
fn decisions_serialize_for_the_status_api() {
    let now = t(NOW);
    let d = World::new().with(|w| w.store.last_write = Some(now)).decide();
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!(v["decision"], "wait");
    assert_eq!(v["reason"]["code"], "quiet_period");
    assert_eq!(v["earliest_next"], "2026-06-10T12:02:00Z");
    let v = serde_json::to_value(World::new().decide()).unwrap();
    assert_eq!(v["decision"], "fire");
    assert_eq!(v["reason"]["code"], "thresholds");
    let v = serde_json::to_value(World::new().with(|w| w.ledger.jobs_today = 10).decide()).unwrap();
    assert_eq!(v["decision"], "deny");
    assert_eq!(v["reason"]["code"], "daily_quota");
    assert_eq!(serde_json::to_value(Trigger::Manual { force: true }).unwrap(), serde_json::json!({"kind": "manual", "force": true}));
}

#[test]
fn a_threshold_that_stays_met_does_not_refire_after_a_no_op_dream() {
    let met = |w: &mut World| {
        w.triggers.max_memory_bytes = Some(1000);
        w.store.bytes = 5000;
    };
    let fires = World::new().with(met);
    assert!(fires.decide().is_fire(), "{:?}", fires.decide());
    for trigger in [Trigger::Watch, Trigger::Manual { force: false }] {
        let w = World::new().with(met).with(|w| {
            w.trigger = trigger;
            w.unchanged_since = Some(7);
        });
        let d = w.decide();
        assert_wait(&d, ReasonCode::NothingNew, None);
        assert!(d.reason().message.contains("job 7"), "{d:?}");
    }
    // A person who insists still gets a dream.
    let forced = World::new().with(met).with(|w| {
        w.trigger = Trigger::Manual { force: true };
        w.unchanged_since = Some(7);
    });
    assert!(forced.decide().is_fire());
}
