//! The verbs a person reads: `status` grouped and readable, `jobs` and `show` after a rollback,
//! `dream --wait` to the outcome, and one set of figures across `show`, the policy checks and
//! `consolidate`. The real binary against the real daemon.

mod common;
use common::*;
use std::process::{Command, Output};

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn status_is_grouped_shows_min_interval_and_no_raw_json() {
    let env = Env::quickstart("triggers:\n  min_new_sessions: null\n  max_index_lines: null\n  min_interval: 6h\n");
    let _d = env.start_binary();
    let id = env.cli_dream();
    assert_eq!(env.follow_until_settled(id)["status"], "applied");
    let out = env.cli(&["status"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for heading in ["TRIGGERS", "GATE", "JOBS", "QUOTA AND BUDGET", "HEALTH"] {
        assert!(text.lines().any(|l| l.starts_with(heading)), "no {heading} section:\n{text}");
    }
    assert!(text.contains("min_interval 6h"), "{text}");
    assert!(text.contains("agent lock   free (dreamd's last consolidation"), "a finished dream does not hold the lock:\n{text}");
    assert!(text.contains("held         none"), "{text}");
    assert!(!text.contains("[]") && !text.contains('{'), "raw JSON in status:\n{text}");
    assert!(text.lines().all(|l| l.chars().count() <= 160), "a line overflows:\n{text}");
    let json = env.json(&["status"]);
    assert_eq!(json["triggers"]["min_interval"], "6h");
    assert_eq!(json["gate"]["agent_lock_held"], false);
}

#[test]
fn after_a_rollback_jobs_and_show_say_so() {
    let env = Env::quickstart("");
    let _d = env.start_binary();
    let id = env.cli_dream();
    assert_eq!(env.follow_until_settled(id)["status"], "applied");
    let out = env.cli(&["rollback"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(&format!("rollback R1: restored generation 1; undid job {id}")), "{}", stdout(&out));

    let jobs = stdout(&env.cli(&["jobs"]));
    let rows: Vec<&str> = jobs.lines().collect();
    assert!(
        rows[1].starts_with("R1") && rows[1].contains("rollback") && rows[1].contains(&format!("undid job {id}")),
        "the rollback is listed, newest first:\n{jobs}"
    );
    assert!(rows[2].contains("applied, rolled back (R1)"), "the job it undid says so:\n{jobs}");
    let show = stdout(&env.cli(&["show", &id.to_string()]));
    assert!(show.contains("rolled back        by rollback R1 at"), "{show}");
    let json = env.json(&["jobs"]);
    assert_eq!(json["jobs"][0]["status"], "applied", "the job's status is its history; the rollback is beside it");
    assert_eq!(json["jobs"][0]["rolled_back"]["undid_jobs"][0], id);
    assert!(json["rollbacks"][0]["by"].as_str().unwrap().starts_with("cli:"), "{json}");

    // Rolling the rollback back brings the job back.
    let out = env.cli(&["rollback", "2"]);
    assert!(stdout(&out).contains(&format!("brought back job {id}")), "{}{}", stdout(&out), stderr(&out));
    let json = env.json(&["jobs"]);
    assert!(json["jobs"][0]["rolled_back"].is_null(), "{json}");
    assert_eq!(json["rollbacks"].as_array().unwrap().len(), 2);
}

#[test]
fn dream_wait_follows_the_log_and_exits_0_when_applied() {
    let env = Env::quickstart("");
    let _d = env.start_binary();
    let out = env.cli(&["dream", "--force", "--wait"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (text, log) = (stdout(&out), stderr(&out));
    assert!(text.starts_with("job 1 applied: memory ") && text.contains("% smaller"), "{text}");
    for kind in ["read", "staged", "policy", "applied"] {
        assert!(log.lines().any(|l| l.contains(&format!(" {kind} "))), "the log streams ({kind} missing):\n{log}");
    }
    // --json: the job on stdout, nothing else.
    let out = env.cli(&["dream", "--force", "--wait", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(["applied", "unchanged"].contains(&v["job"]["status"].as_str().unwrap()), "{v}");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn dream_wait_exits_6_when_held_and_7_when_failed() {
    let env = Env::quickstart("policy:\n  auto_apply: false\n");
    let d = env.start_binary();
    let out = env.cli(&["dream", "--force", "--wait"]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("job 1 is held for review: auto_apply is off\nnext: dreamd diff 1, then dreamd approve 1 or dreamd discard 1"),
        "{}",
        stderr(&out)
    );
    drop(d);

    let env = Env::quickstart("engine:\n  kind: command\n  command: [\"sh\", \"-c\", \"echo broken >&2; exit 3\"]\n");
    let _d = env.start_binary();
    let out = env.cli(&["dream", "--force", "--wait"]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert!(stderr(&out).contains("job 1 failed:"), "{}", stderr(&out));
}

#[test]
fn dream_wait_on_a_terminal_draws_one_progress_line() {
    let env = Env::quickstart("");
    let _d = env.start_binary();
    let out = Command::new("script")
        .args(["-qec", &format!("{BIN} dream --force --wait"), "/dev/null"])
        .current_dir(env.path())
        .env("DREAMD_CONFIG", env.config())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\r\x1b[2Kjob 1 · 00:0"), "a progress line redrawn in place: {text:?}");
    assert!(text.contains("job 1 applied"), "{text:?}");
}

/// "A → B bytes" in a check's reason.
fn bytes_in(reason: &str) -> (u64, u64) {
    let re = regex::Regex::new(r"(\d+) → (\d+) bytes").unwrap();
    let c = re.captures(reason).unwrap_or_else(|| panic!("no figures in {reason:?}"));
    (c[1].parse().unwrap(), c[2].parse().unwrap())
}

#[test]
fn show_the_checks_and_consolidate_give_the_same_figures() {
    let env = Env::quickstart("");
    let _d = env.start_binary();
    let id = env.cli_dream();
    let job = env.follow_until_settled(id);
    let m = &job["metrics"];
    let check = |name: &str| -> String {
        let checks = job["policy"]["checks"].as_array().unwrap();
        checks.iter().find(|c| c["name"] == name).unwrap()["reason"].as_str().unwrap().to_string()
    };
    // The reduction check compares the agent's files, managed ones left out: `memory`.
    let (b, a) = bytes_in(&check("reduction"));
    assert_eq!((m["memory_bytes_before"].as_u64(), m["memory_bytes_after"].as_u64()), (Some(b), Some(a)), "{m}");
    assert_eq!(m["managed_files"], serde_json::json!(["insights.md"]));
    assert!(m["bytes_after"].as_u64().unwrap() > a, "all files include the managed insights");
    // The entry-loss check starts from the same entry count.
    let loss = check("entry_loss");
    assert!(loss.contains(&format!(" of {} entries", m["entries_before"])), "{loss} vs {m}");

    let show = stdout(&env.cli(&["show", &id.to_string()]));
    let memory_line = show.lines().find(|l| l.starts_with("memory ")).unwrap_or_else(|| panic!("{show}")).to_string();
    assert!(
        memory_line.contains(&format!("{b} → {a} bytes")) && memory_line.contains("the figure the reduction check compares"),
        "{memory_line}"
    );
    assert!(show.lines().any(|l| l.starts_with("all files ") && l.contains("dreamd-managed insights.md included")), "{show}");

    // `consolidate` on the same store (a fresh copy) prints the same figure, worded the same.
    let fresh = Env::quickstart("");
    let out_dir = fresh.path().join("out");
    let out = Command::new(BIN)
        .args(["consolidate"])
        .arg(fresh.memory())
        .arg("--sessions")
        .arg(fresh.path().join("sessions"))
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let line = text.lines().find(|l| l.starts_with("memory ")).unwrap_or_else(|| panic!("{text}"));
    let tail = |l: &str| l.split_once(' ').unwrap().1.trim_start().to_string();
    assert_eq!(tail(line), tail(&memory_line), "consolidate and show disagree:\n{text}\n{show}");
}
