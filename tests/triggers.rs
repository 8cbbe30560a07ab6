//! Hands-off triggering: watcher, thresholds, quiet period, schedule, quota, budget, the
//! agent's lock, restarts, supervision of the parts, and live reload. In-process daemons with
//! a clock that moves only when the test moves it; every wait is on the daemon's own events.

mod common;
use chrono::{Duration, Utc};
use common::*;
use dreamd::clock::Clock;
use dreamd::context::TriggerReport;
use dreamd::gate::{Decision, ReasonCode, Trigger};
use dreamd::supervise::{PartState, RestartPolicy};
use serde_json::json;

fn write_session(env: &Env, id: &str) -> std::path::PathBuf {
    let line =
        format!(r#"{{"type":"user","sessionId":"{id}","timestamp":"2026-06-01T10:00:00Z","message":{{"role":"user","content":"hi"}}}}"#);
    let path = env.path().join("sessions").join(format!("{id}.jsonl"));
    std::fs::write(&path, format!("{line}\n")).unwrap();
    set_mtime(&path, env.clock.now());
    path
}

fn empty_sessions(env: &Env) {
    std::fs::remove_dir_all(env.path().join("sessions")).unwrap();
    std::fs::create_dir(env.path().join("sessions")).unwrap();
}

/// Every file in the memory directory last written at `at` (the test clock's time), so the
/// quiet period counts from there.
fn memory_written_at(env: &Env, at: chrono::DateTime<Utc>) {
    for (rel, _) in env.snapshot() {
        set_mtime(&env.memory().join(rel), at);
    }
}

fn code(r: &TriggerReport) -> Option<ReasonCode> {
    r.last_decision.as_ref().map(|d| d.reason().code)
}

#[test]
fn five_finished_sessions_fire_a_dream_after_the_quiet_period_not_before() {
    let env = Env::quickstart("triggers:\n  min_new_sessions: 5\n  quiet_period: 3s\n  session_idle: 1s\n  max_index_lines: null\n");
    empty_sessions(&env);
    let t0 = env.clock.now();
    memory_written_at(&env, t0 - Duration::hours(1));
    let d = env.start();
    for i in 0..5 {
        write_session(&env, &format!("s{i}"));
    }
    // The agent writes memory at the end of its session: the quiet period starts here.
    std::fs::write(env.memory().join("late_note.md"), "- a note written at the end of the session\n").unwrap();
    set_mtime(&env.memory().join("late_note.md"), t0);
    d.wait_scan(|s| s.sessions.len() == 5 && s.memory.newest_mtime == Some(t0));
    env.clock.advance(Duration::seconds(2));
    let r = d.wait_evaluation(|r| code(r) == Some(ReasonCode::QuietPeriod));
    assert!(matches!(r.last_decision, Some(Decision::Wait { earliest_next: Some(t), .. }) if t == t0 + Duration::seconds(3)), "{r:?}");
    assert!(d.jobs().is_empty(), "no dream inside the quiet period");

    env.clock.advance(Duration::seconds(1));
    let job = d.wait_new_job(0);
    let created = parse_time(&job["created_at"]);
    assert!(created >= t0 + Duration::seconds(3), "fired at {created}, last write {t0}");
    assert_eq!(job["trigger"], "watch");
    let id = job["id"].as_i64().unwrap();
    assert_eq!(d.wait_settled(id)["status"], "applied");
    // The sessions it saw are no longer new: the gate looks again (on the job's end; before,
    // it said fire, then job running) and does not fire.
    d.wait_evaluation(|r| code(r) == Some(ReasonCode::BelowThresholds));
    assert_eq!(d.status()["sessions"]["new_finished"], 0);
    assert_eq!(d.jobs().len(), 1);
}

#[test]
fn a_session_still_being_written_is_in_progress() {
    let env = Env::quickstart("triggers:\n  min_new_sessions: 5\n  quiet_period: 1s\n  session_idle: 3s\n  max_index_lines: null\n");
    empty_sessions(&env);
    let t0 = env.clock.now();
    memory_written_at(&env, t0 - Duration::hours(1));
    let d = env.start();
    for i in 0..5 {
        write_session(&env, &format!("s{i}"));
    }
    // s4 keeps being written: its last write is 10 s after the others.
    set_mtime(&env.path().join("sessions/s4.jsonl"), t0 + Duration::seconds(10));
    d.wait_scan(|s| s.sessions.iter().any(|x| x.mtime == Some(t0 + Duration::seconds(10))) && s.sessions.len() == 5);
    env.clock.advance(Duration::seconds(5));
    let r = d.wait_evaluation(|r| code(r) == Some(ReasonCode::SessionsInProgress));
    assert!(matches!(r.last_decision, Some(Decision::Wait { .. })), "{r:?}");
    assert!(d.jobs().is_empty(), "no dream over a session still being written");
    let status = d.status();
    assert_eq!(status["sessions"]["new_in_progress"], 1, "{status:#}");
    assert_eq!(status["sessions"]["new_finished"], 4, "{status:#}");
    assert_eq!(status["gate"]["decision"]["decision"], "wait", "{status:#}");
    // Once it goes idle, the fifth session finishes and the dream fires.
    env.clock.advance(Duration::seconds(9));
    assert_eq!(d.wait_new_job(0)["trigger"], "watch");
}

#[test]
fn the_quota_stops_the_eleventh_job_and_the_next_day_allows_it() {
    let env = Env::quickstart("policy:\n  auto_apply: false\n");
    let d = env.start();
    for _ in 0..10 {
        let id = d.dream();
        assert_eq!(d.wait_settled(id)["status"], "held");
    }
    let e = d.post("/v1/dreams", json!({"force": true})).unwrap_err();
    assert_eq!(e.status, 429, "{e}");
    assert!(e.message.contains("10 of 10"), "{e}");
    assert_eq!(d.status()["quota"]["jobs_left"], 0);
    // A day later (no sleeping: the clock moves), the quota is fresh.
    env.clock.advance(Duration::days(1));
    let id = d.dream();
    assert_eq!(d.wait_settled(id)["status"], "held");
    assert_eq!(d.status()["quota"]["jobs_used"], 1);
}

#[test]
fn a_budget_denies_a_job_whose_estimate_crosses_it() {
    let env = Env::quickstart(
        "engine:\n  kind: command\n  command: [\"sh\", \"-c\", \"cp -r \\\"$DREAMD_INPUT_DIR\\\"/. \\\"$DREAMD_OUTPUT_DIR\\\"/\"]\n  cost_per_job_usd: 2.0\nlimits:\n  daily_budget_usd: 3.0\n",
    );
    let d = env.start();
    let id = d.dream();
    let job = d.wait_settled(id);
    assert_eq!(job["estimated_cost_usd"], 2.0);
    assert_eq!(job["cost_usd"], 2.0);
    let e = d.post("/v1/dreams", json!({"force": true})).unwrap_err();
    assert_eq!(e.status, 429, "{e}");
    assert!(e.message.contains("$2.00") && e.message.contains("$3.00"), "the numbers are in the reason: {e}");
    let status = d.status();
    assert_eq!(status["budget"]["day_spent_usd"], 2.0, "{status:#}");
    assert_eq!(status["budget"]["next_job_estimate_usd"], 2.0);
    assert_eq!(status["last_job"]["cost_usd"], 2.0);
}

#[test]
fn a_schedule_tick_with_nothing_new_is_skipped() {
    let env = Env::quickstart("triggers:\n  schedule: \"0 * * * * *\"\n  min_new_sessions: null\n  max_index_lines: null\n  quiet_period: 0s\n  session_idle: 1s\n");
    empty_sessions(&env);
    memory_written_at(&env, env.clock.now() - Duration::hours(1));
    let d = env.start();
    let next_minute = |t: chrono::DateTime<Utc>| {
        use chrono::{DurationRound, TimeDelta};
        t.duration_trunc(TimeDelta::minutes(1)).unwrap() + Duration::minutes(1)
    };
    assert!(d.status()["schedule"]["next_tick"].is_string());
    // The minute turns: a tick, but nothing new.
    env.clock.set(next_minute(env.clock.now()) + Duration::seconds(1));
    let r = d.wait_evaluation(|r| r.last_trigger == Some(Trigger::Schedule));
    assert_eq!(code(&r), Some(ReasonCode::NoNewSessions), "{r:?}");
    assert!(d.jobs().is_empty());
    // Something new, and the next minute's tick fires.
    write_session(&env, "fresh");
    d.wait_scan(|s| s.sessions.len() == 1);
    env.clock.set(next_minute(env.clock.now()) + Duration::seconds(1));
    let job = d.wait_new_job(0);
    assert_eq!(job["trigger"], "schedule");
}

#[test]
fn a_restart_keeps_counts_ledger_and_last_dream_time() {
    let env = Env::quickstart("triggers:\n  min_new_sessions: 3\n  quiet_period: 0s\n  session_idle: 0s\n  max_index_lines: null\n");
    env.clock.advance(Duration::seconds(5));
    let d = env.start();
    let job = d.wait_new_job(0);
    let id = job["id"].as_i64().unwrap();
    assert_eq!(d.wait_settled(id)["status"], "applied");
    write_session(&env, "after-the-dream");
    d.wait_scan(|s| s.sessions.iter().any(|x| x.id == "after-the-dream"));
    let before = d.status();
    assert_eq!(before["sessions"]["new_finished"], 1, "{before:#}");
    d.stop().unwrap();

    let d = env.start();
    let r = d.wait_evaluation(|r| r.evaluations > 0);
    assert_eq!(code(&r), Some(ReasonCode::BelowThresholds), "{r:?}");
    let after = d.status();
    assert_eq!(after["quota"]["jobs_used"], 1);
    assert_eq!(after["sessions"]["new_finished"], 1, "only the session after the dream is new: {after:#}");
    assert_eq!(after["gate"]["last_dream_started"], before["gate"]["last_dream_started"]);
    assert_eq!(d.jobs().len(), 1, "no double count after the restart");
}

#[test]
fn a_live_agent_lock_blocks_a_dream_and_a_stale_one_does_not() {
    let env = Env::quickstart("");
    let lock = env.memory().join(".consolidate-lock");
    // Held by a live process that is not the daemon (the test's parent), fresh.
    let holder = std::os::unix::process::parent_id();
    std::fs::write(&lock, holder.to_string()).unwrap();
    set_mtime(&lock, env.clock.now());
    let d = env.start();
    let e = d.post("/v1/dreams", json!({"force": true})).unwrap_err();
    assert_eq!(e.status, 429, "{e}");
    assert!(e.message.contains(&holder.to_string()), "{e}");
    // Two hours old: stale, taken over.
    set_mtime(&lock, env.clock.now() - Duration::hours(2));
    let id = d.dream();
    assert_eq!(d.wait_settled(id)["status"], "applied");
    // After the apply the lock says when we consolidated, so the agent does not redo it.
    let mtime: chrono::DateTime<Utc> = std::fs::metadata(&lock).unwrap().modified().unwrap().into();
    assert_eq!(mtime.timestamp(), env.clock.now().timestamp());
}

#[test]
fn a_manual_dream_below_thresholds_is_refused_with_the_reason() {
    let env = Env::quickstart("triggers:\n  min_new_sessions: 50\n  max_index_lines: null\n");
    let d = env.start();
    let e = d.post("/v1/dreams", json!({})).unwrap_err();
    assert_eq!(e.status, 429, "{e}");
    assert!(e.message.contains("not now"), "{e}");
    assert!(d.post("/v1/dreams", json!({"force": true})).is_ok(), "--force bypasses thresholds");
}

#[test]
fn a_byte_threshold_that_stays_met_does_not_loop() {
    // An engine that changes nothing, and a threshold the store keeps exceeding.
    let env = Env::quickstart(
        "engine:\n  kind: command\n  command: [\"sh\", \"-c\", \"cp -r \\\"$DREAMD_INPUT_DIR\\\"/. \\\"$DREAMD_OUTPUT_DIR\\\"/\"]\ntriggers:\n  min_new_sessions: null\n  max_index_lines: null\n  max_memory_bytes: 10\n  quiet_period: 0s\n  min_interval: 0s\n",
    );
    memory_written_at(&env, env.clock.now() - Duration::hours(1));
    let d = env.start();
    let job = d.wait_new_job(0);
    let id = job["id"].as_i64().unwrap();
    assert_eq!(d.wait_settled(id)["status"], "unchanged");
    // The gate looks again after the job and says why it does not fire.
    let r = d.wait_evaluation(|r| code(r) == Some(ReasonCode::NothingNew));
    assert!(r.last_decision.unwrap().reason().message.contains(&format!("job {id}")));
    assert_eq!(d.jobs().len(), 1, "one no-op job, not a loop");
    assert!(d.get("/v1/generations")["generations"].as_array().unwrap().is_empty(), "and no generation");
    // A change to the store is something new: the next dream fires.
    std::fs::write(env.memory().join("new_note.md"), "- something new\n").unwrap();
    set_mtime(&env.memory().join("new_note.md"), env.clock.now() - Duration::minutes(1));
    assert!(d.wait_new_job(id)["id"].as_i64().unwrap() > id);
}

#[test]
fn a_dead_watcher_or_trigger_loop_is_restarted_and_dreams_still_fire() {
    let env = Env::quickstart("triggers:\n  min_new_sessions: 1\n  quiet_period: 0s\n  session_idle: 1s\n  max_index_lines: null\n");
    empty_sessions(&env);
    memory_written_at(&env, env.clock.now() - Duration::hours(1));
    let d = env.start();
    d.wait_evaluation(|r| code(r) == Some(ReasonCode::BelowThresholds));
    // The watcher dies (its channel closes); so does the trigger loop.
    assert!(d.ctx.health.abort("watcher"));
    let h = d.wait_health("watcher", |h| h.restarts == 1 && h.state == PartState::Running);
    assert!(h.last_error.as_deref().unwrap().contains("watcher"), "{h:?}");
    assert!(d.ctx.health.abort("triggers"));
    d.wait_health("triggers", |h| h.restarts == 1 && h.state == PartState::Running);
    let parts = d.status()["parts"].clone();
    assert_eq!(parts["watcher"]["restarts"], 1, "{parts:#}");
    assert_eq!(parts["triggers"]["state"], "running", "{parts:#}");
    assert!(parts["triggers"]["last_error"].is_string(), "{parts:#}");
    // Automatic dreaming still works: a new session is seen and fires a dream.
    write_session(&env, "after-the-restart");
    env.clock.advance(Duration::seconds(2));
    assert_eq!(d.wait_new_job(0)["trigger"], "watch");
    assert!(d.status()["triggering"]["last_evaluated_at"].is_string());
}

#[test]
fn a_part_that_keeps_failing_stops_the_daemon_with_an_error() {
    let env = Env::quickstart("");
    let d = env.start_with(RestartPolicy { max_restarts: 0, ..RestartPolicy::default() });
    d.wait_health("watcher", |h| h.state == PartState::Running);
    assert!(d.ctx.health.abort("watcher"));
    let e = d.wait_exit().unwrap_err();
    assert!(format!("{e:#}").contains("watcher failed"), "{e:#}");
    assert!(!env.socket().exists(), "the socket is removed on the way out");
}

#[test]
fn sighup_reconfigures_the_watcher_in_place_and_names_what_needs_a_restart() {
    let env = Env::quickstart("");
    let d = env.start();
    d.wait_health("watcher", |h| h.state == PartState::Running);
    let mut scans = d.ctx.subscribe_scans();
    scans.mark_unchanged();
    let config = std::fs::read_to_string(env.config()).unwrap().replace("state_dir: ./state", "state_dir: ./elsewhere");
    std::fs::write(env.config(), format!("{config}  watch: poll\n  poll_interval: 2s\n")).unwrap();
    d.reload();
    // The watcher rescans after reconfiguring; by then it polls.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        tokio::time::timeout(PATIENCE, async {
            while d.ctx.watcher().is_none_or(|w| w.mode != dreamd::watch::WatchMode::Poll) {
                scans.changed().await.unwrap();
            }
        })
        .await
        .expect("the watcher was not reconfigured")
    });
    let status = d.status();
    assert_eq!(status["watcher"]["mode"], "poll", "{status:#}");
    assert_eq!(status["watcher"]["poll_interval"], "2s", "{status:#}");
    assert_eq!(status["restart_needed"], json!(["state_dir"]), "{status:#}");
    assert_eq!(d.ctx.health.get("watcher").unwrap().restarts, 0, "in place, not restarted");
    assert!(env.path().join("state/dreamd.db").exists(), "the running state_dir is kept");
}
