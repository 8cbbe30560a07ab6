//! Hands-off triggering through the real binary: watcher, thresholds, quiet period, schedule,
//! quota, budget, agent lock, and restarts.

mod common;
use common::*;
use std::time::{Duration, Instant, SystemTime};

fn write_session(env: &Env, id: &str) {
    let line =
        format!(r#"{{"type":"user","sessionId":"{id}","timestamp":"2026-06-01T10:00:00Z","message":{{"role":"user","content":"hi"}}}}"#);
    std::fs::write(env.path().join("sessions").join(format!("{id}.jsonl")), format!("{line}\n")).unwrap();
}

fn empty_sessions(env: &Env) {
    std::fs::remove_dir_all(env.path().join("sessions")).unwrap();
    std::fs::create_dir(env.path().join("sessions")).unwrap();
}

fn jobs(env: &Env) -> Vec<serde_json::Value> {
    env.json(&["jobs"])["jobs"].as_array().unwrap().clone()
}

fn wait_for_job(env: &Env, within: Duration) -> Option<serde_json::Value> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(j) = jobs(env).first() {
            return Some(j.clone());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

fn parse_time(v: &serde_json::Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap().into()
}

#[test]
fn five_finished_sessions_fire_a_dream_after_the_quiet_period_not_before() {
    let env = Env::quickstart("triggers:\n  min_new_sessions: 5\n  quiet_period: 3s\n  session_idle: 1s\n  max_index_lines: null\n");
    empty_sessions(&env);
    let d = env.start();
    for i in 0..5 {
        write_session(&env, &format!("s{i}"));
    }
    // The agent writes memory at the end of its session: the quiet period starts here.
    std::fs::write(env.memory().join("late_note.md"), "- a note written at the end of the session\n").unwrap();
    let last_write: chrono::DateTime<chrono::Utc> =
        std::fs::metadata(env.memory().join("late_note.md")).unwrap().modified().unwrap().into();
    std::thread::sleep(Duration::from_millis(2000));
    assert!(jobs(&env).is_empty(), "no dream inside the quiet period");
    let job = wait_for_job(&env, Duration::from_secs(10)).unwrap_or_else(|| panic!("no dream fired; log:\n{}", d.log_text()));
    let created = parse_time(&job["created_at"]);
    assert!(created >= last_write + chrono::Duration::seconds(3), "fired at {created}, last write {last_write}");
    assert_eq!(job["trigger"], "watch");
    assert!(d.log_text().contains("gate: fire"), "fire decisions are logged with their reason");
    let id = job["id"].as_i64().unwrap();
    assert_eq!(env.wait_settled(id)["status"], "applied");
    // The sessions it saw are no longer new: no second dream.
    let status = env.json(&["status"]);
    assert_eq!(status["sessions"]["new_finished"], 0, "{status:#}");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(jobs(&env).len(), 1);
}

#[test]
fn a_session_still_being_written_is_in_progress() {
    let env = Env::quickstart("triggers:\n  min_new_sessions: 5\n  quiet_period: 1s\n  session_idle: 3s\n  max_index_lines: null\n");
    empty_sessions(&env);
    let d = env.start();
    for i in 0..5 {
        write_session(&env, &format!("s{i}"));
    }
    // Keep appending to one session for 5 s: never idle long enough to count as finished.
    let mut status = serde_json::Value::Null;
    let path = env.path().join("sessions/s4.jsonl");
    for _ in 0..10 {
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"type\":\"assistant\"}\n");
        std::fs::write(&path, text).unwrap();
        std::thread::sleep(Duration::from_millis(500));
        status = env.json(&["status"]);
    }
    assert!(jobs(&env).is_empty(), "no dream over a session still being written; log:\n{}", d.log_text());
    assert_eq!(status["sessions"]["new_in_progress"], 1, "{status:#}");
    assert_eq!(status["sessions"]["new_finished"], 4, "{status:#}");
    assert_eq!(status["gate"]["decision"]["decision"], "wait", "{status:#}");
    // Once it goes idle, the fifth session finishes and the dream fires.
    assert!(wait_for_job(&env, Duration::from_secs(15)).is_some(), "log:\n{}", d.log_text());
}

#[test]
fn the_quota_stops_the_eleventh_job_and_the_next_day_allows_it() {
    let env = Env::quickstart("policy:\n  auto_apply: false\n");
    let clock = env.path().join("clock");
    std::fs::write(&clock, "0").unwrap();
    let _d = env.start_with_env(&[("DREAMD_TEST_CLOCK_FILE", clock.to_str().unwrap())]);
    for _ in 0..10 {
        let id = env.dream();
        assert_eq!(env.wait_settled(id)["status"], "held");
    }
    let (st, e) = raw(&env.socket(), "POST", "/v1/dreams", "{\"force\": true}").unwrap();
    assert_eq!(st, 429, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("10 of 10"), "{e}");
    let status = env.json(&["status"]);
    assert_eq!(status["quota"]["jobs_left"], 0);
    // A day later (no sleeping: the test clock moves), the quota is fresh.
    std::fs::write(&clock, "86400").unwrap();
    let id = env.dream();
    assert_eq!(env.wait_settled(id)["status"], "held");
    assert_eq!(env.json(&["status"])["quota"]["jobs_used"], 1);
}

#[test]
fn a_budget_denies_a_job_whose_estimate_crosses_it() {
    let env = Env::quickstart(
        "engine:\n  kind: command\n  command: [\"sh\", \"-c\", \"cp -r \\\"$DREAMD_INPUT_DIR\\\"/. \\\"$DREAMD_OUTPUT_DIR\\\"/\"]\n  cost_per_job_usd: 2.0\nlimits:\n  daily_budget_usd: 3.0\n",
    );
    let _d = env.start();
    let id = env.dream();
    let job = env.wait_settled(id);
    assert_eq!(job["estimated_cost_usd"], 2.0);
    assert_eq!(job["cost_usd"], 2.0);
    let (st, e) = raw(&env.socket(), "POST", "/v1/dreams", "{\"force\": true}").unwrap();
    assert_eq!(st, 429, "{e}");
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(msg.contains("$2.00") && msg.contains("$3.00"), "the numbers are in the reason: {msg}");
    let status = env.json(&["status"]);
    assert_eq!(status["budget"]["day_spent_usd"], 2.0, "{status:#}");
    assert_eq!(status["budget"]["next_job_estimate_usd"], 2.0);
    assert_eq!(status["last_job"]["cost_usd"], 2.0);
}

#[test]
fn a_schedule_tick_with_nothing_new_is_skipped() {
    let env = Env::quickstart("triggers:\n  schedule: \"*/2 * * * * *\"\n  min_new_sessions: null\n  max_index_lines: null\n  quiet_period: 0s\n  session_idle: 1s\n");
    empty_sessions(&env);
    let d = env.start();
    std::thread::sleep(Duration::from_millis(4500));
    assert!(jobs(&env).is_empty());
    assert!(d.log_text().contains("schedule tick skipped"), "{}", d.log_text());
    let status = env.json(&["status"]);
    assert!(status["schedule"]["next_tick"].is_string(), "{status:#}");
    // Something new: the next tick fires.
    write_session(&env, "fresh");
    let job = wait_for_job(&env, Duration::from_secs(10)).unwrap_or_else(|| panic!("log:\n{}", d.log_text()));
    assert_eq!(job["trigger"], "schedule");
}

#[test]
fn a_restart_keeps_counts_ledger_and_last_dream_time() {
    let env = Env::quickstart("triggers:\n  min_new_sessions: 3\n  quiet_period: 0s\n  session_idle: 0s\n  max_index_lines: null\n");
    let d = env.start();
    let job = wait_for_job(&env, Duration::from_secs(10)).unwrap_or_else(|| panic!("log:\n{}", d.log_text()));
    let id = job["id"].as_i64().unwrap();
    assert_eq!(env.wait_settled(id)["status"], "applied");
    write_session(&env, "after-the-dream");
    std::thread::sleep(Duration::from_millis(300));
    let before = env.json(&["status"]);
    assert!(d.stop());

    let _d = env.start();
    let after = env.json(&["status"]);
    assert_eq!(after["quota"]["jobs_used"], 1);
    assert_eq!(after["sessions"]["new_finished"], 1, "only the session after the dream is new: {after:#}");
    assert_eq!(after["gate"]["last_dream_started"], before["gate"]["last_dream_started"]);
    assert_eq!(after["gate"]["decision"]["reason"]["code"], "below_thresholds", "{after:#}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(jobs(&env).len(), 1, "no double count after the restart");
}

#[test]
fn a_live_agent_lock_blocks_a_dream_and_a_stale_one_does_not() {
    let env = Env::quickstart("");
    let lock = env.memory().join(".consolidate-lock");
    // Held by a live process (this test), fresh.
    std::fs::write(&lock, std::process::id().to_string()).unwrap();
    let _d = env.start();
    let (st, e) = raw(&env.socket(), "POST", "/v1/dreams", "{\"force\": true}").unwrap();
    assert_eq!(st, 429, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains(&std::process::id().to_string()), "{e}");
    // Two hours old: stale, taken over.
    let f = std::fs::File::options().write(true).open(&lock).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(7200)).unwrap();
    drop(f);
    let id = env.dream();
    assert_eq!(env.wait_settled(id)["status"], "applied");
    // After the apply the lock says when we consolidated (now), so the agent does not redo it.
    let mtime = std::fs::metadata(&lock).unwrap().modified().unwrap();
    assert!(SystemTime::now().duration_since(mtime).unwrap() < Duration::from_secs(30));
}

#[test]
fn a_manual_dream_below_thresholds_is_refused_with_the_reason() {
    let env = Env::quickstart("triggers:\n  min_new_sessions: 50\n  max_index_lines: null\n");
    let _d = env.start();
    let (st, e) = raw(&env.socket(), "POST", "/v1/dreams", "{}").unwrap();
    assert_eq!(st, 429, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("not now"), "{e}");
    let (st, _) = raw(&env.socket(), "POST", "/v1/dreams", "{\"force\": true}").unwrap();
    assert_eq!(st, 202, "--force bypasses thresholds");
}
