//! Apply stays inside the fence, through the real binary: what dreamd does not manage stays in
//! the live directory across apply and rollback, a linked memory directory is applied to its
//! target, no write goes through a link, modes are kept and dreamd's own files are private,
//! and the configured paths are sane.

mod common;
#[path = "security/fs/shapes.rs"]
mod shapes;

use common::*;
use dreamd::store::Store;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn store_hash(dir: &Path) -> String {
    Store::read(dir).unwrap().hash()
}

fn mode_of(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o7777
}

/// Before: swap mode left symlinks, `.git/`, FIFOs, sockets and non-UTF-8 names in the
/// switched-out directory only (a generation, pruned later).
#[test]
fn what_dreamd_does_not_manage_stays_live_across_apply_and_rollback() {
    for mode in ["swap", "journal"] {
        let env = Env::quickstart(&format!("apply:\n  mode: {mode}\n"));
        let planted = shapes::plant(&env.memory(), &env.path().join("outside"));
        let original = store_hash(&env.memory());
        let _d = env.start_binary();
        let id = env.cli_dream();
        let job = env.follow_until_settled(id);
        assert_eq!(job["status"], "applied", "{mode}: {job:#}");
        assert_eq!(store_hash(&env.memory()), store_hash(&env.path().join(format!("state/jobs/{id}/candidate"))), "{mode}");
        planted.assert_intact(&env.memory(), &format!("{mode}: after apply"));
        let gen = env.path().join("state/generations/1");
        assert_eq!(store_hash(&gen), original, "{mode}: the generation is the replaced store");
        planted.assert_absent_from(&gen, &format!("{mode}: generation"));

        let r = env.json(&["rollback"]);
        assert_eq!(r["restored"], 1, "{mode}");
        assert_eq!(store_hash(&env.memory()), original, "{mode}: rollback restores the store");
        planted.assert_intact(&env.memory(), &format!("{mode}: after rollback"));
    }
}

/// Before: the link itself was swapped away, the real directory kept the old store, and
/// rollback answered 500.
#[test]
fn a_linked_memory_dir_is_applied_to_its_target_and_rollback_works() {
    let env = Env::quickstart("");
    let real = env.path().join("real-memory");
    std::fs::rename(env.memory(), &real).unwrap();
    std::os::unix::fs::symlink(&real, env.memory()).unwrap();
    let original = store_hash(&real);
    let _d = env.start_binary();
    let id = env.cli_dream();
    assert_eq!(env.follow_until_settled(id)["status"], "applied");
    assert!(std::fs::symlink_metadata(env.memory()).unwrap().file_type().is_symlink(), "the link stays a link");
    assert_eq!(std::fs::read_link(env.memory()).unwrap(), real);
    assert_eq!(store_hash(&real), store_hash(&env.path().join(format!("state/jobs/{id}/candidate"))), "the target holds the candidate");
    let (status, body) = raw(&env.socket(), "POST", "/v1/rollback", "").unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(store_hash(&real), original);
    assert!(std::fs::symlink_metadata(env.memory()).unwrap().file_type().is_symlink());
}

/// Before: the journal method created `linked/x.md` with `create_dir_all` + `rename`, which
/// followed the link and put the file outside the memory directory.
#[test]
fn no_write_goes_through_a_linked_subfolder() {
    for mode in ["journal", "swap"] {
        let engine = "engine:\n  kind: command\n  command: [\"sh\", \"-c\", \"cp -r \\\"$DREAMD_INPUT_DIR\\\"/. \\\"$DREAMD_OUTPUT_DIR\\\"/ && mkdir \\\"$DREAMD_OUTPUT_DIR\\\"/linked && echo '- planted' > \\\"$DREAMD_OUTPUT_DIR\\\"/linked/x.md\"]\n";
        let env = Env::quickstart(&format!("{engine}policy:\n  auto_apply: false\napply:\n  mode: {mode}\n"));
        let outside = env.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, env.memory().join("linked")).unwrap();
        let before = store_hash(&env.memory());
        let _d = env.start_binary();
        let id = env.cli_dream();
        assert_eq!(env.follow_until_settled(id)["status"], "held", "{mode}");
        let out = env.cli(&["approve", &id.to_string()]);
        assert!(!out.status.success(), "{mode}: the apply is refused");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("linked") && err.contains("symbolic link"), "{mode}: says why: {err}");
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "{mode}: nothing written outside");
        assert_eq!(store_hash(&env.memory()), before, "{mode}: the live store is untouched");
        assert_ne!(env.job(id)["status"], "applied");
        assert!(env.json(&["generations"])["generations"].as_array().unwrap().is_empty());
    }
}

/// Before: live files that were 0600 came back 0644, and at umask 022 the state directory,
/// the database, `report.json` and the job copies of the memory were world-readable.
#[test]
fn modes_are_kept_and_state_files_are_private() {
    // SAFETY: umask has no preconditions; the daemon inherits it.
    unsafe { libc::umask(0o022) };
    for mode in ["swap", "journal"] {
        let env = Env::quickstart(&format!("apply:\n  mode: {mode}\n"));
        for e in std::fs::read_dir(env.memory()).unwrap().flatten() {
            std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let _d = env.start_binary();
        let id = env.cli_dream();
        assert_eq!(env.follow_until_settled(id)["status"], "applied", "{mode}");
        for e in std::fs::read_dir(env.memory()).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if !name.starts_with('.') {
                assert_eq!(mode_of(&e.path()), 0o600, "{mode}: live {name}");
            }
        }
        let state = env.path().join("state");
        assert_eq!(mode_of(&state), 0o700, "{mode}: state_dir");
        for f in ["dreamd.db", "dreamd.db-wal", "dreamd.db-shm"] {
            if state.join(f).exists() {
                assert_eq!(mode_of(&state.join(f)), 0o600, "{mode}: {f}");
            }
        }
        let job = state.join(format!("jobs/{id}"));
        for d in [
            state.join("jobs"),
            job.clone(),
            job.join("candidate"),
            job.join("base"),
            state.join("generations"),
            state.join("generations/1"),
        ] {
            assert_eq!(mode_of(&d), 0o700, "{mode}: {}", d.display());
        }
        assert_eq!(mode_of(&job.join("report.json")), 0o600, "{mode}");
        for dir in [job.join("candidate"), job.join("base"), state.join("generations/1")] {
            for e in std::fs::read_dir(&dir).unwrap().flatten() {
                assert_eq!(mode_of(&e.path()), 0o600, "{mode}: {}", e.path().display());
            }
        }
    }
}

fn check_config_error(env: &Env, yaml: &str, expect: &str) {
    std::fs::write(env.config(), yaml).unwrap();
    let out = env.cli(&["check-config"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "check-config accepted:\n{yaml}");
    assert!(err.contains(expect), "{yaml}\n→ {err}");
    assert!(err.contains(&format!("{}:", env.config().display())), "names the file: {err}");
    let run = std::process::Command::new(BIN).args(["run", "--config"]).arg(env.config()).output().unwrap();
    assert!(!run.status.success(), "the daemon refused to start:\n{yaml}");
    assert!(String::from_utf8_lossy(&run.stderr).contains(expect), "{}", String::from_utf8_lossy(&run.stderr));
}

/// Before: all of these were accepted.
#[test]
fn config_paths_are_sane_in_check_config_and_at_start() {
    let env = Env::quickstart("");
    check_config_error(
        &env,
        "agent:\n  memory_dir: ./memory\nstate_dir: ./memory/.dreamd\n",
        &format!("dreamd.yaml:3:1: state_dir {}/memory/.dreamd is inside agent.memory_dir", env.path().display()),
    );
    check_config_error(&env, "agent:\n  memory_dir: ./memory\n  sessions_dir: ./memory\nstate_dir: ./state\n", "are the same directory");
    check_config_error(
        &env,
        "agent:\n  memory_dir: /\nstate_dir: ./state\n",
        "dreamd.yaml:2:3: agent.memory_dir is / (the root directory)",
    );

    // A missing memory directory: check-config says so; the daemon starts and logs it.
    std::fs::write(env.config(), "agent:\n  memory_dir: ./nope\nstate_dir: ./state\n").unwrap();
    let out = env.cli(&["check-config"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("dreamd.yaml:2:3: agent.memory_dir") && err.contains("does not exist"), "{err}");

    // Claude Code's layout: memory/ inside the folder of transcripts.
    std::fs::create_dir_all(env.path().join("project/memory")).unwrap();
    std::fs::write(env.config(), "agent:\n  memory_dir: ./project/memory\n  sessions_dir: ./project\nstate_dir: ./state\n").unwrap();
    let out = env.cli(&["check-config"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_missing_memory_dir_is_logged_clearly_at_start() {
    let env = Env::quickstart("");
    std::fs::remove_dir_all(env.memory()).unwrap();
    let d = env.start_binary();
    assert!(d.log_text().contains("does not exist"), "{}", d.log_text());
    // check-config says so and fails; `--offline` checks the file alone (a config for another
    // host, an image or a pod).
    let out = env.cli(&["check-config"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = env.cli(&["check-config", "--offline"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Red team: whoever can write the folder that holds the memory directory (the agent, in
/// Claude Code's layout) swapped it for a link between two dreams, to a directory the agent
/// does not own: dreamd read that directory into its job copies and would apply there.
/// A link is followed only when it belongs to dreamd's user, to root, or to the owner of
/// its target.
#[test]
fn a_memory_dir_swapped_for_someone_elses_link_is_not_followed() {
    const AGENT: u32 = 54321;
    let env = Env::quickstart("");
    let victim = env.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("id_ed25519"), "-----BEGIN OPENSSH PRIVATE KEY-----\nnot for the agent\n").unwrap();
    std::fs::write(victim.join("notes.md"), "- root's notes\n- root's notes\n").unwrap();
    let _d = env.start_binary();
    let first = env.cli_dream();
    assert_eq!(env.follow_until_settled(first)["status"], "applied");
    // The agent's move: its memory directory becomes its own link to the victim.
    std::fs::rename(env.memory(), env.path().join("memory.old")).unwrap();
    std::os::unix::fs::symlink(&victim, env.memory()).unwrap();
    let c = std::ffi::CString::new(env.memory().to_str().unwrap()).unwrap();
    // SAFETY: a valid path. As a user other than root this fails and the test cannot run.
    if unsafe { libc::lchown(c.as_ptr(), AGENT, AGENT) } != 0 {
        eprintln!("SKIPPED a_memory_dir_swapped_for_someone_elses_link_is_not_followed: needs root to give the link another owner");
        return;
    }
    let victim_before = snapshot(&victim);
    let second = env.cli_dream();
    let job = env.follow_until_settled(second);
    assert_eq!(job["status"], "failed", "{job:#}");
    let error = job["error"].as_str().unwrap();
    assert!(error.contains("symbolic link made by uid 54321"), "{error}");
    assert!(!env.path().join(format!("state/jobs/{second}/base/id_ed25519")).exists(), "the victim was copied");
    assert_eq!(snapshot(&victim), victim_before);
    // The agent's link to a directory of its own is followed (it could write there anyway).
    let own = env.path().join("memory.old");
    std::os::unix::fs::chown(&own, Some(AGENT), Some(AGENT)).unwrap();
    std::fs::remove_file(env.memory()).unwrap();
    std::os::unix::fs::symlink(&own, env.memory()).unwrap();
    // SAFETY: as above.
    assert_eq!(unsafe { libc::lchown(c.as_ptr(), AGENT, AGENT) }, 0);
    let third = env.cli_dream();
    assert_ne!(env.follow_until_settled(third)["status"], "failed");
}
