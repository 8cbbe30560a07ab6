//! A panic in engine, verification or recovery ends that job `failed` with the message; no job
//! is ever stuck and the daemon always starts. Panics are injected with failpoints (the `fail`
//! crate; compiled in only with the `test-hooks` feature that `cargo test` turns on). Failpoints
//! are process-wide: each test holds a `FailScenario`, which runs them one at a time.

mod common;
use common::*;
use serde_json::json;

fn ends_failed_with_the_panic(d: &InProc, id: i64, what: &str) {
    let job = d.wait_settled(id);
    assert_eq!(job["status"], "failed", "{job:#}");
    let error = job["error"].as_str().unwrap();
    assert!(error.contains("panicked") && error.contains(what), "{error}");
}

#[test]
fn a_panic_in_the_engine_fails_the_job_and_the_next_dream_runs() {
    let _scenario = fail::FailScenario::setup();
    let env = Env::quickstart("");
    let before = env.snapshot();
    let d = env.start();
    fail::cfg("dream::engine", "panic(engine blew up)").unwrap();
    let id = d.dream();
    ends_failed_with_the_panic(&d, id, "engine blew up");
    fail::remove("dream::engine");
    assert_eq!(env.snapshot(), before);
    assert!(d.status()["running_job"].is_null(), "nothing stuck");
    // --force bypasses the failure backoff.
    let next = d.dream();
    assert_eq!(d.wait_settled(next)["status"], "applied");
}

#[test]
fn a_panic_in_verification_fails_the_job() {
    let _scenario = fail::FailScenario::setup();
    let env = Env::quickstart("");
    let before = env.snapshot();
    let d = env.start();
    fail::cfg("dream::verify", "panic(verifier blew up)").unwrap();
    let id = d.dream();
    ends_failed_with_the_panic(&d, id, "verifier blew up");
    fail::remove("dream::verify");
    assert_eq!(env.snapshot(), before);
    let e = d.post(&format!("/v1/jobs/{id}/cancel"), json!({})).unwrap_err();
    assert_eq!(e.status, 409, "a failed job is done: {e}");
    assert!(d.dream() > id, "the single flight is free");
}

#[test]
fn a_panic_during_start_up_recovery_still_starts_the_daemon() {
    let _scenario = fail::FailScenario::setup();
    let env = Env::quickstart("");
    // A job left staged (waiting for the agent's lock) by the previous run.
    let engine = env.gate_engine("FYI");
    env.write_config(&format!("{engine}policy:\n  min_reduction: 0.0\n"));
    let d = env.start();
    let id = d.dream();
    d.wait_event(id, |e| e.message.starts_with("running sh"));
    std::fs::write(env.memory().join(".consolidate-lock"), std::os::unix::process::parent_id().to_string()).unwrap();
    env.release();
    d.wait_event(id, |e| e.kind == "waiting");
    d.stop().unwrap();

    // Both the journal recovery and the re-verification of that job panic on the next start.
    fail::cfg("daemon::recover", "panic(journal recovery blew up)").unwrap();
    fail::cfg("dream::verify", "panic(verifier blew up)").unwrap();
    let d = env.start();
    ends_failed_with_the_panic(&d, id, "verifier blew up");
    fail::remove("dream::verify");
    fail::remove("daemon::recover");
    let status = d.status();
    let recovery = &status["parts"]["recovery"];
    assert!(recovery["last_error"].as_str().unwrap().contains("journal recovery blew up"), "{status:#}");
    assert_eq!(status["parts"]["job_owner"]["restarts"], 0, "the owner itself did not fail: {status:#}");
    std::fs::remove_file(env.memory().join(".consolidate-lock")).unwrap();
    let next = d.dream();
    assert!(next > id, "the daemon works");
    env.release();
    assert_eq!(d.wait_settled(next)["status"], "applied");
}
