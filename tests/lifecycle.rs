//! The job lifecycle through the real binary: dream → staged → applied or held → approve /
//! discard → rollback, across restarts.

mod common;
use common::*;

/// A command engine: copies the store and deletes lines matching a sed pattern.
fn sed_engine(pattern: &str, sleep_secs: u32) -> String {
    format!(
        "engine:\n  kind: command\n  command: [\"sh\", \"-c\", \"sleep {sleep_secs}; cp -r \\\"$DREAMD_INPUT_DIR\\\"/. \\\"$DREAMD_OUTPUT_DIR\\\"/ && sed -i '/{pattern}/d' \\\"$DREAMD_OUTPUT_DIR\\\"/*.md\"]\n"
    )
}

#[test]
fn dream_is_staged_checked_and_auto_applied() {
    let env = Env::quickstart("");
    let before = env.snapshot();
    let _d = env.start();
    let id = env.dream();
    let job = env.wait_settled(id);
    assert_eq!(job["status"], "applied", "{job:#}");
    assert_eq!(job["decision"], "auto-applied");
    assert!(job["policy"]["checks"].as_array().unwrap().iter().all(|c| c["passed"] == true));
    let after = env.snapshot();
    assert_ne!(before, after);
    let staged = snapshot(&env.path().join(format!("state/jobs/{id}/candidate")));
    assert_eq!(after, staged, "the live store is exactly the staged candidate");
    assert_eq!(snapshot(&env.path().join("state/generations/1")), before, "the replaced store is generation 1");
    let gens = env.json(&["generations"]);
    assert_eq!(gens["generations"][0]["job_id"], id);
}

#[test]
fn reduction_out_of_bounds_is_held_then_approved() {
    let env = Env::quickstart("policy:\n  min_reduction: 0.6\n  max_reduction: 0.9\n");
    let before = env.snapshot();
    let _d = env.start();
    let id = env.dream();
    let job = env.wait_settled(id);
    assert_eq!(job["status"], "held", "{job:#}");
    let failed: Vec<_> =
        job["policy"]["checks"].as_array().unwrap().iter().filter(|c| c["passed"] == false).map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(failed, vec!["reduction"]);
    assert_eq!(env.snapshot(), before, "a held job leaves the live store alone");

    let diff = env.cli(&["diff", &id.to_string()]);
    let text = String::from_utf8_lossy(&diff.stdout);
    assert!(text.contains("--- a/MEMORY.md") && text.contains("-- [Old runbook](runbook_2025.md)"), "{text}");

    let approved = env.json(&["approve", &id.to_string()]);
    assert_eq!(approved["job"]["status"], "applied");
    assert!(approved["job"]["decided_by"].as_str().unwrap().starts_with("cli:"));
    assert_eq!(env.snapshot(), snapshot(&env.path().join(format!("state/jobs/{id}/candidate"))));
}

#[test]
fn a_candidate_that_drops_a_pinned_entry_is_held_and_can_be_discarded() {
    let env = Env::quickstart(&sed_engine("pinned", 0));
    let before = env.snapshot();
    let _d = env.start();
    let id = env.dream();
    let job = env.wait_settled(id);
    assert_eq!(job["status"], "held", "{job:#}");
    let pinned = job["policy"]["checks"].as_array().unwrap().iter().find(|c| c["name"] == "pinned_kept").unwrap().clone();
    assert_eq!(pinned["passed"], false);
    assert!(pinned["details"][0].as_str().unwrap().contains("Europe/Berlin"), "{pinned}");
    let loss = job["policy"]["checks"].as_array().unwrap().iter().find(|c| c["name"] == "entry_loss").unwrap().clone();
    // The engine explains nothing: the two removed entries are lost, whatever the engine.
    assert_eq!(loss["passed"], false, "{loss}");
    assert_eq!(loss["details"].as_array().unwrap().len(), 2, "{loss}");

    let diff = env.json(&["diff", &id.to_string()]);
    assert!(!diff["dropped"].as_array().unwrap().is_empty(), "dropped entries are listed first: {diff}");

    let discarded = env.json(&["discard", &id.to_string()]);
    assert_eq!(discarded["job"]["status"], "discarded");
    assert_eq!(env.snapshot(), before);
    // A discarded job cannot be approved.
    let out = env.cli(&["approve", &id.to_string()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot become approved"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn rollback_restores_the_previous_generation_byte_for_byte() {
    let env = Env::quickstart("");
    let original = env.snapshot();
    let _d = env.start();
    let id = env.dream();
    assert_eq!(env.wait_settled(id)["status"], "applied");
    let dreamed = env.snapshot();

    let r = env.json(&["rollback"]);
    assert_eq!(r["restored"], 1);
    assert_eq!(r["saved_as"], 2);
    assert_eq!(env.snapshot(), original);
    // The rollback is itself reversible.
    let r = env.json(&["rollback", "2"]);
    assert_eq!(r["restored"], 2);
    assert_eq!(env.snapshot(), dreamed);
    let out = env.cli(&["rollback", "99"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("generation 99 not found"));
}

#[test]
fn held_jobs_history_and_ledger_survive_a_restart() {
    let env = Env::quickstart("policy:\n  auto_apply: false\n");
    let d = env.start();
    let id = env.dream();
    assert_eq!(env.wait_settled(id)["status"], "held");
    assert!(d.stop(), "clean exit on SIGTERM");
    assert!(!env.socket().exists(), "socket removed on shutdown");

    let _d = env.start();
    let jobs = env.json(&["jobs"]);
    assert_eq!(jobs["jobs"][0]["id"], id);
    assert_eq!(jobs["jobs"][0]["status"], "held");
    let status = env.json(&["status"]);
    assert_eq!(status["quota"]["jobs_used"], 1);
    assert_eq!(status["held_jobs"][0], id);
    assert_eq!(env.json(&["approve", &id.to_string()])["job"]["status"], "applied");
}

#[test]
fn a_live_store_edit_during_a_job_makes_it_stale() {
    let env = Env::quickstart(&sed_engine("FYI", 2));
    let _d = env.start();
    let id = env.dream();
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(env.job(id)["status"], "running");
    std::fs::write(env.memory().join("user_role.md"), "---\nname: x\n---\n- edited by the agent mid-dream\n").unwrap();
    let edited = env.snapshot();
    let job = env.wait_settled(id);
    assert_eq!(job["status"], "stale", "{job:#}");
    assert_eq!(env.snapshot(), edited, "the agent's edit is kept, the candidate is not applied");
}

#[test]
fn sigterm_during_a_job_fails_it_cleanly_and_the_next_start_is_healthy() {
    let env = Env::quickstart(&sed_engine("FYI", 30));
    let before = env.snapshot();
    let d = env.start();
    let id = env.dream();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(d.stop());
    let _d = env.start();
    let job = env.job(id);
    assert_eq!(job["status"], "failed");
    assert!(job["error"].as_str().unwrap().contains("interrupted"), "{job}");
    assert_eq!(env.snapshot(), before);
}

#[test]
fn memory_dir_as_a_mount_point_is_applied_file_by_file() {
    let env = Env::quickstart("");
    let vol = env.memory();
    let staging = env.path().join("seed");
    std::fs::rename(&vol, &staging).unwrap();
    std::fs::create_dir(&vol).unwrap();
    let mounted = std::process::Command::new("mount").args(["-t", "tmpfs", "tmpfs"]).arg(&vol).status().is_ok_and(|s| s.success());
    if !mounted {
        // Without root, force the journal method the mount point would choose.
        eprintln!("note: cannot mount tmpfs (not root?); forcing apply.mode journal");
        env.write_config("apply:\n  mode: journal\n");
    }
    copy_dir(&staging, &vol);
    let before = env.snapshot();
    let result = std::panic::catch_unwind(|| {
        let d = env.start();
        let id = env.dream();
        let job = env.wait_settled(id);
        assert_eq!(job["status"], "applied", "{job:#}\n{}", d.log_text());
        assert_eq!(env.snapshot(), snapshot(&env.path().join(format!("state/jobs/{id}/candidate"))));
        env.json(&["rollback"]);
        assert_eq!(env.snapshot(), before);
    });
    if mounted {
        let _ = std::process::Command::new("umount").arg(&vol).status();
    }
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

#[test]
fn log_follow_streams_a_running_dream_until_it_ends() {
    let env = Env::quickstart(&format!("{}policy:\n  min_reduction: 0.01\n", sed_engine("FYI", 2)));
    let _d = env.start();
    let id = env.dream();
    let started = std::time::Instant::now();
    let out = std::process::Command::new(BIN).args(["log", &id.to_string(), "--follow", "--config"]).arg(env.config()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(started.elapsed() >= std::time::Duration::from_millis(1000), "followed the job while it ran");
    assert!(text.contains("read     memory MEMORY.md"), "{text}");
    assert!(text.contains("running sh"), "{text}");
    assert!(text.contains("applied  candidate applied"), "{text}");
    assert_eq!(env.job(id)["status"], "applied");
}

#[test]
fn cancel_stops_a_running_dream() {
    let env = Env::quickstart(&sed_engine("FYI", 30));
    let before = env.snapshot();
    let _d = env.start();
    let id = env.dream();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let t = std::time::Instant::now();
    let j = env.json(&["cancel", &id.to_string()]);
    assert_eq!(j["job"]["status"], "canceled");
    assert!(t.elapsed() < std::time::Duration::from_secs(10), "the engine was stopped, not waited for");
    assert_eq!(env.snapshot(), before);
    // The single flight is free again.
    let next = env.dream();
    assert!(next > id);
    let out = env.cli(&["cancel", &id.to_string()]);
    assert!(!out.status.success(), "a canceled job cannot be canceled again");
}
