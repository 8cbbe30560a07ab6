//! Bad input gets a clear error and loses nothing.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;

#[test]
fn malformed_api_requests_get_json_errors() {
    let env = Env::quickstart("");
    env.write_config(&env.gate_engine("FYI"));
    let before = env.snapshot();
    let d = env.start();
    let s = env.socket();
    let cases = [
        ("POST", "/v1/dreams", "{not json", 400, "bad_request"),
        ("POST", "/v1/dreams", "{\"force\": \"yes\"}", 400, "bad_request"),
        ("POST", "/v1/dreams", "{\"colour\": 1}", 400, "bad_request"),
        ("GET", "/v1/jobs/42", "", 404, "not_found"),
        ("GET", "/v1/jobs/abc", "", 400, "bad_request"),
        ("POST", "/v1/jobs/42/approve", "", 404, "not_found"),
        ("GET", "/v1/nope", "", 404, "not_found"),
        ("DELETE", "/v1/jobs", "", 405, "method_not_allowed"),
        ("POST", "/v1/rollback", "", 404, "not_found"),
    ];
    for (method, path, body, status, code) in cases {
        let (got, json) = raw(&s, method, path, body).unwrap();
        assert_eq!(got, status, "{method} {path} {body}: {json}");
        assert_eq!(json["error"]["code"], code, "{method} {path}: {json}");
        assert!(json["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }

    // A second dream while one runs is a conflict; approving a running job is too.
    let (st, first) = raw(&s, "POST", "/v1/dreams", "{\"force\": true}").unwrap();
    assert_eq!(st, 202, "{first}");
    let id = first["job"]["id"].as_i64().unwrap();
    let (st, second) = raw(&s, "POST", "/v1/dreams", "{\"force\": true}").unwrap();
    assert_eq!(st, 409, "{second}");
    assert!(second["error"]["message"].as_str().unwrap().contains("already running"), "{second}");
    let (st, e) = raw(&s, "POST", &format!("/v1/jobs/{id}/approve"), "").unwrap();
    assert_eq!(st, 409, "{e}");
    let (st, e) = raw(&s, "POST", &format!("/v1/jobs/{id}/approve"), "{\"changes\": [\"c-1\"]}").unwrap();
    assert_eq!(st, 400, "{e}");
    assert_eq!(env.snapshot(), before);
    let (st, h) = raw(&s, "GET", "/v1/health", "").unwrap();
    assert_eq!((st, &h["ok"]), (200, &serde_json::json!(true)));
    env.release();
    d.wait_settled(id);
}

#[test]
fn quota_says_429_with_the_reason() {
    let env = Env::quickstart("policy:\n  auto_apply: false\nlimits:\n  max_jobs_per_day: 1\n");
    let d = env.start();
    let id = d.dream();
    d.wait_settled(id);
    d.post(&format!("/v1/jobs/{id}/discard"), serde_json::json!({})).unwrap();
    let (st, e) = raw(&env.socket(), "POST", "/v1/dreams", "{\"force\": true}").unwrap();
    assert_eq!(st, 429, "--force never bypasses the quota: {e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("1 of 1"), "{e}");
}

#[test]
fn config_errors_name_file_line_column_and_expectation() {
    let env = Env::quickstart("");
    std::fs::write(env.config(), "agent:\n  memory_dir: ./memory\n  colour: blue\n").unwrap();
    let out = env.cli(&["check-config"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:3:3: ", env.config().display())), "{err}");
    assert!(err.contains("unknown field `colour`") && err.contains("expected one of"), "{err}");

    std::fs::write(env.config(), "agent:\n  memory_dir: ./memory\ngenerations:\n  keep: many\n").unwrap();
    let err = String::from_utf8_lossy(&env.cli(&["check-config"]).stderr).to_string();
    assert!(err.contains(":4:9: ") && err.contains("expected a whole number"), "{err}");

    // The daemon refuses to start on a bad config, with the same message.
    let out = std::process::Command::new(BIN).args(["run", "--config"]).arg(env.config()).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(":4:9: "));

    env.write_config("");
    let out = env.cli(&["check-config"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn broken_memory_files_are_kept_byte_for_byte_and_bad_transcript_lines_counted() {
    let env = Env::quickstart("");
    let not_utf8 = vec![b'-', b' ', 0xff, 0xfe, b'\n', b'-', b' ', 0xff, 0xfe, b'\n'];
    std::fs::write(env.memory().join("binary_notes.md"), &not_utf8).unwrap();
    let broken = "---\nname: [unclosed\n---\n- dup\n- dup\n";
    std::fs::write(env.memory().join("broken_frontmatter.md"), broken).unwrap();
    let d = env.start();
    let id = d.dream();
    let job = d.wait_settled(id);
    assert_eq!(job["status"], "applied", "{job:#}");
    assert_eq!(std::fs::read(env.memory().join("binary_notes.md")).unwrap(), not_utf8);
    assert_eq!(std::fs::read_to_string(env.memory().join("broken_frontmatter.md")).unwrap(), broken);
    let shown = env.json(&["show", &id.to_string()]);
    let warnings = shown["report"]["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert_eq!(shown["report"]["skipped_lines"], 1, "the truncated last line of session 4");
    let log = env.cli(&["log", &id.to_string()]);
    let log = String::from_utf8_lossy(&log.stdout);
    assert!(log.contains("skipped 1 malformed line"), "{log}");
    assert!(log.contains("binary_notes.md: kept unchanged: not valid UTF-8"), "{log}");
}

#[test]
fn a_missing_memory_dir_fails_the_job_not_the_daemon() {
    let env = Env::quickstart("");
    std::fs::remove_dir_all(env.memory()).unwrap();
    let d = env.start();
    let id = d.dream();
    let job = d.wait_settled(id);
    assert_eq!(job["status"], "failed");
    assert!(job["error"].as_str().unwrap().contains("memory directory"), "{job}");
    assert_eq!(raw(&env.socket(), "GET", "/v1/health", "").unwrap().0, 200);
    let status = d.status();
    assert_eq!(status["store"]["readable"], false);
}

#[test]
fn socket_is_private_stale_sockets_are_replaced_and_live_ones_refused() {
    let env = Env::quickstart("");
    std::fs::create_dir_all(env.path().join("state")).unwrap();
    // A socket file nobody listens on, as left by a crash.
    drop(std::os::unix::net::UnixListener::bind(env.socket()).unwrap());
    assert!(env.socket().exists());
    let d = env.start_binary();
    let mode = std::fs::metadata(env.socket()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // A second daemon on the same socket refuses and leaves the first one alone.
    let out = std::process::Command::new(BIN).args(["run", "--config"]).arg(env.config()).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already listening"), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(raw(&env.socket(), "GET", "/v1/health", "").unwrap().0, 200);
    drop(d);
}

#[test]
fn sighup_reloads_a_valid_config_and_keeps_the_old_one_otherwise() {
    let env = Env::quickstart("");
    let d = env.start_binary();
    // Invalid config: rejected, old config kept (dreams still allowed).
    std::fs::write(env.config(), "agent:\n  memory_dir: ./memory\npolicy:\n  min_reduction: 2\n").unwrap();
    d.signal(libc::SIGHUP);
    wait_until("the rejection in the log", || d.log_text().contains("config reload rejected"));
    assert!(d.log_text().contains("min_reduction"), "{}", d.log_text());
    // Valid config: the quota drops to zero and the next dream is refused.
    env.write_config("limits:\n  max_jobs_per_day: 0\ntriggers:\n  min_new_sessions: null\n  max_index_lines: null\n  poll_interval: 1m\n");
    d.signal(libc::SIGHUP);
    wait_until("the reload in the log", || d.log_text().contains("config reloaded"));
    assert!(d.log_text().contains("limits.max_jobs_per_day: 10 → 0"), "{}", d.log_text());
    // The watcher's settings change in place, without a restart.
    wait_until("the watcher's reconfiguration in the log", || d.log_text().contains("watcher reconfigured in place"));
    assert!(!d.log_text().contains("take effect only after a restart"), "{}", d.log_text());
    assert_eq!(raw(&env.socket(), "POST", "/v1/dreams", "{\"force\": true}").unwrap().0, 429);
}

#[test]
fn consolidate_shrinks_the_example_without_a_daemon() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("candidate");
    let o = std::process::Command::new(BIN)
        .arg("consolidate")
        .arg(src.join("memory"))
        .arg("--sessions")
        .arg(src.join("sessions"))
        .arg("--out")
        .arg(&dest)
        .arg("--json")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let t = &report["totals"];
    assert!(t["bytes_after"].as_u64().unwrap() < t["bytes_before"].as_u64().unwrap());
    let pinned = "- Dana's timezone is Europe/Berlin. <!-- pinned -->";
    let text = std::fs::read_to_string(dest.join("user_role.md")).unwrap();
    assert_eq!(text.matches(pinned).count(), 2, "pinned entries are never dropped:\n{text}");
    // A non-empty --out is refused rather than mixed.
    let again = std::process::Command::new(BIN).arg("consolidate").arg(src.join("memory")).arg("--out").arg(&dest).output().unwrap();
    assert!(!again.status.success());
}

/// A tiny tmpfs stands in for a full disk. Needs root to mount; without it the test says so
/// and checks nothing else (the unit tests still cover cleanup paths).
fn tiny_tmpfs(at: &std::path::Path, size: &str) -> bool {
    std::fs::create_dir_all(at).unwrap();
    std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(at)
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn a_full_disk_fails_the_job_and_leaves_the_live_store_alone() {
    // Full state disk: staging the candidate fails.
    let env = Env::quickstart("");
    let state = env.path().join("state");
    let jobs = state.join("jobs");
    std::fs::create_dir_all(&state).unwrap();
    if !tiny_tmpfs(&jobs, "4k") {
        skip("cannot mount a tmpfs (needs root; CI runs as root): the full-disk case is not tested here");
        return;
    }
    // Fill the 4 KiB completely.
    let _ = std::fs::write(jobs.join("filler"), vec![0u8; 64 * 1024]);
    let before = env.snapshot();
    let result = std::panic::catch_unwind(|| {
        let d = env.start();
        let id = d.dream();
        let job = d.wait_settled(id);
        assert_eq!(job["status"], "failed", "{job:#}");
        assert!(job["error"].as_str().unwrap().contains("cannot stage"), "{job}");
        assert_eq!(env.snapshot(), before);
        assert_eq!(raw(&env.socket(), "GET", "/v1/health", "").unwrap().0, 200);
    });
    let _ = std::process::Command::new("umount").arg(&jobs).status();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

#[test]
fn a_full_memory_volume_fails_the_apply_and_leaves_it_whole() {
    // The memory dir is a volume with no room for the staged files: the journal method fails
    // before the first rename, and the store is exactly as it was.
    let env = Env::quickstart("");
    let seed = env.path().join("seed");
    std::fs::rename(env.memory(), &seed).unwrap();
    if !tiny_tmpfs(&env.memory(), "32k") {
        skip("cannot mount a tmpfs (needs root; CI runs as root): the full-volume case is not tested here");
        return;
    }
    copy_dir(&seed, &env.memory());
    // Leave (almost) no free blocks.
    let _ = std::fs::write(env.memory().join(".filler"), vec![0u8; 64 * 1024]);
    let before = env.snapshot();
    let result = std::panic::catch_unwind(|| {
        let d = env.start();
        let id = d.dream();
        let job = d.wait_settled(id);
        assert_eq!(job["status"], "failed", "{job:#}");
        assert_eq!(env.snapshot(), before, "live store untouched");
        let leftovers: Vec<_> = std::fs::read_dir(env.memory())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .filter(|n| n.to_string_lossy().starts_with(".dreamd"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        assert!(d.get("/v1/generations")["generations"].as_array().unwrap().is_empty());
    });
    let _ = std::process::Command::new("umount").arg(env.memory()).status();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}
