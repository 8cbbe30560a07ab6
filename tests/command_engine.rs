//! The command engine through the real daemon: cost, logs, transcripts, containment.
//! Waits are on the job's event stream (`dreamd log --follow` ends when the job is done).

mod common;
use common::Env;
use serde_json::Value;

/// Config whose engine runs `script` after copying its input to its output.
fn engine_yaml(script: &str, extra: &str) -> String {
    let full = format!(r#"cp -R "$DREAMD_INPUT_DIR"/. "$DREAMD_OUTPUT_DIR"/ && chmod -R u+w "$DREAMD_OUTPUT_DIR" && {script}"#);
    format!("engine:\n  kind: command\n  command: [\"sh\", \"-c\", {}]\n{extra}", serde_json::to_string(&full).unwrap())
}

fn env_with(script: &str, extra: &str) -> Env {
    Env::quickstart(&engine_yaml(script, extra))
}

/// Start a dream and return the job's events once it is done (held, applied, failed…).
fn dream_and_follow(env: &Env) -> (i64, Vec<Value>) {
    let id = env.cli_dream();
    let out = env.cli(&["log", &id.to_string(), "--follow", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let events = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (id, events)
}

fn messages<'a>(events: &'a [Value], kind: &str) -> Vec<&'a str> {
    events.iter().filter(|e| e["kind"] == kind).filter_map(|e| e["message"].as_str()).collect()
}

/// Issue 9: "the actual cost recorded is the estimate, and the estimate ignores its inputs".
#[test]
fn the_engines_own_cost_is_recorded_and_the_estimate_prices_store_and_sessions() {
    let env = env_with(
        r#"printf '{"cost_usd": 0.125}' > "$DREAMD_REPORT_FILE""#,
        "  cost_per_job_usd: 1.0\n  cost_per_mb_usd: 100.0\n  cost_per_session_usd: 0.5\nlimits:\n  daily_budget_usd: 100.0\n",
    );
    let bytes = dreamd::store::Store::read(&env.memory()).unwrap().total_bytes();
    let sessions =
        dreamd::sessions::discover(&env.path().join("sessions"), dreamd::config::Layout::ClaudeCode, "**/*.jsonl").unwrap().len();
    assert_eq!(sessions, 4);
    let want = 1.0 + 100.0 * bytes as f64 / 1e6 + 0.5 * sessions as f64;
    let _d = env.start_binary();
    let status = env.json(&["status"]);
    let estimate = status["budget"]["next_job_estimate_usd"].as_f64().unwrap();
    assert!((estimate - want).abs() < 1e-6, "estimate {estimate}, want {want}");
    let (id, _) = dream_and_follow(&env);
    let job = env.job(id);
    assert!((job["estimated_cost_usd"].as_f64().unwrap() - want).abs() < 1e-6, "{job:#}");
    assert_eq!(job["cost_usd"], 0.125, "{job:#}");
    assert_eq!(env.json(&["status"])["budget"]["day_spent_usd"], 0.125);
}

/// Issue 8: stdout/stderr went unfiltered into the daemon's log (ANSI escapes, fake lines).
#[test]
fn engine_output_goes_escaped_into_the_job_log_and_never_into_the_daemons() {
    let env = env_with(r#"printf '\033[31mFAKE-STDOUT dreamd: applied\n'; printf 'FAKE-STDERR \033[2J\n' >&2"#, "");
    let d = env.start_binary();
    let (_, events) = dream_and_follow(&env);
    assert_eq!(messages(&events, "stdout"), vec![r"\x1b[31mFAKE-STDOUT dreamd: applied"]);
    assert_eq!(messages(&events, "stderr"), vec![r"FAKE-STDERR \x1b[2J"]);
    let log = d.log_text();
    assert!(!log.contains("FAKE-"), "engine output reached the daemon's log:\n{log}");
}

/// Issue 8: the engine "never gets the transcripts, though the docs say it does".
#[test]
fn the_engine_gets_the_transcripts() {
    let env = env_with(r#"ls "$DREAMD_SESSIONS_DIR" > "$DREAMD_OUTPUT_DIR/sessions.txt""#, "");
    let _d = env.start_binary();
    let (id, events) = dream_and_follow(&env);
    let job = env.job(id);
    assert_ne!(job["status"], "failed", "{job:#}\n{events:#?}");
    let listed = std::fs::read_to_string(env.path().join(format!("state/jobs/{id}/candidate/sessions.txt"))).unwrap();
    let mut want: Vec<String> =
        std::fs::read_dir(env.path().join("sessions")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    want.sort();
    assert_eq!(listed.lines().collect::<Vec<_>>(), want);
}

/// Issue 8: the command engine "can write anywhere, including the live store".
#[test]
fn the_engine_cannot_write_the_live_store() {
    if !landlock_available() {
        eprintln!("SKIPPED the_engine_cannot_write_the_live_store: this kernel has no Landlock");
        return;
    }
    let env = Env::quickstart("");
    // The engine is told where the live store is (dreamd never tells it) and tries to write it.
    env.write_config(&engine_yaml(&format!(r#"echo '- planted' >> "{}/MEMORY.md"; echo "append $?""#, env.memory().display()), ""));
    let before = env.snapshot();
    let _d = env.start_binary();
    let (id, events) = dream_and_follow(&env);
    assert_ne!(messages(&events, "stdout"), vec!["append 0"], "{events:#?}");
    assert_eq!(env.snapshot(), before, "the live store changed");
    assert_ne!(env.job(id)["status"], "applied");
}

fn landlock_available() -> bool {
    // SAFETY: the version query of landlock_create_ruleset takes no pointer.
    unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, std::ptr::null::<libc::c_void>(), 0usize, 1u32) >= 1 }
}

/// The engine does not outlive a daemon killed mid-dream (SIGKILL: no destructor runs).
#[test]
fn the_engine_dies_with_a_killed_daemon() {
    let env = Env::quickstart("engine:\n  kind: command\n  command: [\"sh\", \"-c\", \"echo ready; exec sleep 1000\"]\n");
    let mut d = env.start_binary();
    let id = env.cli_dream();
    // Follow the job's log until the engine says it is up.
    let mut follow = std::process::Command::new(common::BIN)
        .args(["log", &id.to_string(), "--follow", "--json", "--config"])
        .arg(env.config())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(follow.stdout.take().unwrap());
    let ready = std::io::BufRead::lines(stdout)
        .map_while(Result::ok)
        .any(|l| serde_json::from_str::<Value>(&l).is_ok_and(|e| e["kind"] == "stdout" && e["message"] == "ready"));
    assert!(ready, "the engine never said ready");
    let engine = children_of(d.pid());
    assert_eq!(engine.len(), 1, "one engine process: {engine:?}");
    // SAFETY: pidfd_open of a live child of the daemon; checked.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, engine[0], 0) } as i32;
    assert!(fd >= 0);
    d.signal(libc::SIGKILL);
    let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd; bounded wait for the engine's exit.
    let ended = unsafe { libc::poll(&mut p, 1, 10_000) } == 1;
    // SAFETY: cleanup of processes this test started.
    unsafe {
        libc::kill(engine[0], libc::SIGKILL);
        libc::close(fd);
    }
    let _ = follow.kill();
    let _ = follow.wait();
    let _ = d.child.take().map(|mut c| c.wait());
    assert!(ended, "engine {} outlived the killed daemon", engine[0]);
}

/// Child processes of `pid`, from /proc (every thread's list).
fn children_of(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
        let list = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        out.extend(list.split_whitespace().filter_map(|p| p.parse::<i32>().ok()));
    }
    out
}

/// Red team: the engine runs as dreamd's user, so it could talk to dreamd's API socket and
/// approve a held candidate itself, roll the store back or discard a person's review. Here
/// every dream drops `user_role.md` (two pinned entries: held) and then tries to approve job 1
/// with dreamd's own CLI; in the second dream job 1 is held and the approval would apply it.
#[test]
fn the_engine_cannot_use_dreamds_api() {
    let env = Env::quickstart("");
    let script = format!(
        r#"rm "$DREAMD_OUTPUT_DIR/user_role.md"; "{bin}" approve 1 --socket "{sock}"; echo "approve $?""#,
        bin = common::BIN,
        sock = env.socket().display()
    );
    env.write_config(&engine_yaml(&script, ""));
    let before = env.snapshot();
    let _d = env.start_binary();
    let (first, _) = dream_and_follow(&env);
    assert_eq!(env.job(first)["status"], "held");
    let (_, events) = dream_and_follow(&env);
    assert_eq!(env.job(first)["status"], "held", "the engine approved a held job: {events:#?}");
    assert_eq!(env.snapshot(), before, "the live store changed");
    let answers = messages(&events, "stdout");
    assert!(answers.iter().all(|a| a.starts_with("approve ") && *a != "approve 0"), "{answers:?}");
    let refused = messages(&events, "stderr");
    assert!(refused.iter().any(|l| l.contains("cannot connect to dreamd") && l.contains("Permission denied")), "{refused:?}");
}
