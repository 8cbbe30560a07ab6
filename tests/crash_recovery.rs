//! A crash at every step of swap, journal and rollback, followed by a restart: the live store
//! is exactly the old one or the new one, what dreamd does not manage is untouched, and the
//! database agrees (job status, generations). Plus the two races the journal and the
//! recovery must never lose an agent's write to.
//!
//! Crash points are the `fail` crate's failpoints (test builds only, see
//! `dreamd::apply::failpoint`): in-process they panic (every step, every file of a journal),
//! in the real binary `FAILPOINTS=point=return(exit)` ends the process on the spot.

mod common;
#[path = "security/fs/shapes.rs"]
mod shapes;

use common::*;
use dreamd::apply::{self, failpoint::POINTS, ReplaceError};
use dreamd::config::Config;
use dreamd::job::JobStatus;
use dreamd::state::{JobUpdate, State};
use dreamd::store::{MemoryFile, Store};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// In-process: every point, every file.

struct Lab {
    dir: tempfile::TempDir,
    config: Config,
    state: State,
    planted: shapes::Planted,
}

impl Lab {
    fn new(mode: &str) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let memory = dir.path().join("memory");
        let mut s = Store::default();
        for (p, t) in
            [("MEMORY.md", "- [a](a.md)\n- [b](b.md)\n"), ("a.md", "- one\n- one\n"), ("b.md", "- bee\n"), ("sub/old.md", "- old\n")]
        {
            s.files.insert(p.into(), MemoryFile { bytes: t.as_bytes().to_vec(), mtime: None });
        }
        s.write_to(&memory).unwrap();
        let planted = shapes::plant(&memory, &dir.path().join("outside"));
        let yaml = format!("agent:\n  memory_dir: ./memory\nstate_dir: ./state\napply:\n  mode: {mode}\n");
        let config = Config::from_yaml(&yaml, &dir.path().join("dreamd.yaml")).unwrap();
        let state = State::open(&config.db_path()).unwrap();
        Lab { dir, config, state, planted }
    }

    fn memory(&self) -> PathBuf {
        self.config.agent.memory_dir.clone()
    }

    fn live(&self) -> Store {
        Store::read(&self.memory()).unwrap()
    }

    /// A job staged with the live store as its base.
    fn staged_job(&self) -> i64 {
        let now = chrono::Utc::now();
        let job = self.state.insert_job("manual", "builtin", 0.0, now).unwrap();
        let base = Some(self.live().hash());
        self.state.transition(job.id, JobStatus::Running, JobUpdate { base_hash: base, ..Default::default() }).unwrap();
        self.state.transition(job.id, JobStatus::Staged, JobUpdate::default()).unwrap();
        job.id
    }

    /// Creates, replaces and deletes: every kind of journal operation.
    fn candidate() -> Store {
        let mut s = Store::default();
        for (p, t) in
            [("MEMORY.md", "- [a](a.md)\n- [c](c.md)\n"), ("a.md", "- one\n"), ("c.md", "- new\n"), ("sub/new/deep.md", "- deep\n")]
        {
            s.files.insert(p.into(), MemoryFile { bytes: t.as_bytes().to_vec(), mtime: None });
        }
        s
    }

    fn replace(&self, new: &Store, base: &str, job: Option<i64>, reason: &str) -> Result<apply::Replaced, ReplaceError> {
        apply::replace_live(&self.config, &self.state, chrono::Utc::now(), new, base, job, reason)
    }

    /// No staging left anywhere, no journal.
    fn assert_clean(&self, when: &str) {
        let strays: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .chain(std::fs::read_dir(self.memory()).unwrap())
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| n.contains("dreamd-"))
            .collect();
        assert!(strays.is_empty(), "{when}: staging left behind: {strays:?}");
        assert!(!self.config.state_dir.join("apply.journal").exists(), "{when}: journal left behind");
    }
}

/// Run `f` with the failpoint `point` set to `actions`; true when it fired (the call panicked).
fn crash_at(point: &str, actions: &str, f: impl FnOnce()) -> bool {
    quiet_failpoint_panics();
    fail::cfg(point, actions).unwrap();
    let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err();
    fail::remove(point);
    crashed
}

/// The crashes are expected: keep their panic messages out of the output.
fn quiet_failpoint_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info.payload().downcast_ref::<String>().map(String::as_str).unwrap_or("");
            if !msg.starts_with("failpoint ") {
                default(info);
            }
        }));
    });
}

/// The failpoint settings that stop one run at `point`: once per journal file for the per-file points.
fn stops(point: &str, files: usize) -> Vec<String> {
    if point.ends_with("before_op") || point.ends_with("after_op") {
        (0..files).map(|k| format!("{k}*off->1*panic")).collect()
    } else {
        vec!["1*panic".into()]
    }
}

/// Journal operations in `Lab::candidate()`: 2 creates, 2 replaces, 2 deletes.
const LAB_FILES: usize = 6;

fn points_for(mode: &str) -> Vec<&'static str> {
    POINTS
        .iter()
        .copied()
        .filter(|p| p.starts_with("apply::live") || p.contains(if mode == "swap" { "::swap::" } else { "::journal::" }))
        .collect()
}

#[test]
fn a_crash_at_any_step_of_an_apply_is_finished_or_undone_and_the_database_agrees() {
    let _scenario = fail::FailScenario::setup();
    for mode in ["swap", "journal"] {
        for point in points_for(mode) {
            for actions in stops(point, LAB_FILES) {
                let when = format!("{mode} {point} {actions}");
                let lab = Lab::new(mode);
                let before = lab.live();
                let id = lab.staged_job();
                let cand = Lab::candidate();
                let crashed = crash_at(point, &actions, || {
                    let _ = lab.replace(&cand, &before.hash(), Some(id), "apply");
                });
                assert!(crashed, "{when}: the failpoint was never reached");
                apply::reconcile(&lab.config, &lab.state, chrono::Utc::now()).unwrap();

                let live = lab.live();
                let job = lab.state.job(id).unwrap();
                let gens = lab.state.generations().unwrap();
                lab.planted.assert_intact(&lab.memory(), &when);
                lab.assert_clean(&when);
                if live.hash() == cand.hash() {
                    assert_eq!(job.status, JobStatus::Applied, "{when}");
                    assert_eq!(job.generation, Some(1), "{when}");
                    assert_eq!(gens.len(), 1, "{when}");
                    assert_eq!((gens[0].id, gens[0].job_id), (1, Some(id)), "{when}");
                    let gen_dir = lab.config.state_dir.join("generations/1");
                    assert_eq!(Store::read(&gen_dir).unwrap().hash(), before.hash(), "{when}: the generation is the replaced store");
                    lab.planted.assert_absent_from(&gen_dir, &when);
                    // And it can be rolled back.
                    let restored = Store::read(&gen_dir).unwrap();
                    lab.replace(&restored, &live.hash(), None, "rollback to generation 1").unwrap();
                    assert_eq!(lab.live().hash(), before.hash(), "{when}: rollback");
                    lab.planted.assert_intact(&lab.memory(), &format!("{when}: rollback"));
                } else {
                    assert_eq!(live.hash(), before.hash(), "{when}: neither the old store nor the new one");
                    // Stopped before its journal: nothing to undo, the job is still staged (the
                    // daemon decides it again on start); after: undone, failed or stale.
                    assert!(matches!(job.status, JobStatus::Failed | JobStatus::Stale | JobStatus::Staged), "{when}: job {}", job.status);
                    assert!(gens.is_empty(), "{when}: {gens:?}");
                    assert!(!lab.config.state_dir.join("generations/1").exists(), "{when}: unregistered generation left");
                }
            }
        }
    }
}

#[test]
fn a_crash_at_any_step_of_a_rollback_is_finished_or_undone_and_the_database_agrees() {
    let _scenario = fail::FailScenario::setup();
    for mode in ["swap", "journal"] {
        for point in points_for(mode) {
            for actions in stops(point, LAB_FILES) {
                let when = format!("rollback {mode} {point} {actions}");
                let lab = Lab::new(mode);
                let original = lab.live();
                let id = lab.staged_job();
                lab.replace(&Lab::candidate(), &original.hash(), Some(id), "apply").unwrap();
                let dreamed = lab.live();
                let restored = Store::read(&lab.config.state_dir.join("generations/1")).unwrap();
                let crashed = crash_at(point, &actions, || {
                    let _ = lab.replace(&restored, &dreamed.hash(), None, "rollback to generation 1");
                });
                assert!(crashed, "{when}: the failpoint was never reached");
                apply::reconcile(&lab.config, &lab.state, chrono::Utc::now()).unwrap();

                let live = lab.live();
                let gens = lab.state.generations().unwrap();
                lab.planted.assert_intact(&lab.memory(), &when);
                lab.assert_clean(&when);
                assert_eq!(lab.state.job(id).unwrap().status, JobStatus::Applied, "{when}: the applied job is not touched");
                if live.hash() == original.hash() {
                    assert_eq!(gens.iter().map(|g| (g.id, g.job_id)).collect::<Vec<_>>(), vec![(2, None), (1, Some(id))], "{when}");
                    assert_eq!(gens[0].reason, "rollback to generation 1", "{when}");
                    let saved = Store::read(&lab.config.state_dir.join("generations/2")).unwrap();
                    assert_eq!(saved.hash(), dreamed.hash(), "{when}: the rolled-back store is kept");
                } else {
                    assert_eq!(live.hash(), dreamed.hash(), "{when}: neither the old store nor the new one");
                    assert_eq!(gens.len(), 1, "{when}: {gens:?}");
                    assert!(!lab.config.state_dir.join("generations/2").exists(), "{when}");
                }
            }
        }
    }
}

/// A write between two of the journal's renames. Before: the write was overwritten, the job
/// `applied`, and the line was nowhere. Now the file is compared with its planned "before"
/// hash as it is replaced: the apply stops, undoes what it did, and the agent's write stays.
#[test]
fn a_write_between_journal_renames_stops_the_apply_and_is_kept() {
    let _scenario = fail::FailScenario::setup();
    let lab = Lab::new("journal");
    let before = lab.live();
    let id = lab.staged_job();
    let rv = Rendezvous::new(lab.dir.path());
    // Pause before the fourth file (the replacement of a.md; MEMORY.md, c.md and deep.md went first).
    fail::cfg("apply::journal::before_op", &format!("3*off->1*return(wait={})", rv.dir.display())).unwrap();
    let agent_line = "- the agent wrote this during the apply\n";
    let result = std::thread::scope(|s| {
        let apply = s.spawn(|| lab.replace(&Lab::candidate(), &before.hash(), Some(id), "apply"));
        assert_eq!(rv.wait_reached(), "apply::journal::before_op");
        let a = lab.memory().join("a.md");
        let mut text = std::fs::read_to_string(&a).unwrap();
        text.push_str(agent_line);
        std::fs::write(&a, &text).unwrap();
        rv.release();
        apply.join().unwrap()
    });
    fail::remove("apply::journal::before_op");
    assert!(matches!(result, Err(ReplaceError::Stale)), "{result:?}");
    let live = lab.live();
    let mut expected = before.clone();
    expected.files.get_mut("a.md").unwrap().bytes.extend_from_slice(agent_line.as_bytes());
    assert_eq!(live.hash(), expected.hash(), "the old store plus the agent's write, nothing of the candidate");
    assert_eq!(lab.state.job(id).unwrap().status, JobStatus::Staged, "not applied (the caller marks it stale)");
    assert!(lab.state.generations().unwrap().is_empty());
    assert!(!lab.config.state_dir.join("generations/1").exists());
    lab.planted.assert_intact(&lab.memory(), "after the stopped apply");
    lab.assert_clean("after the stopped apply");
}

/// Red team: in swap mode, an entry the agent made at a path the candidate writes (here a
/// link named `c.md`) after the last look went out with the replaced store, into a
/// generation that pruning deletes; the journal method stops on the same write. Now the
/// swap is undone too: the agent's entry stays live, the job is stale.
#[test]
fn an_entry_the_agent_makes_at_a_candidate_path_during_a_swap_stops_it_and_stays() {
    let _scenario = fail::FailScenario::setup();
    let lab = Lab::new("swap");
    let before = lab.live();
    let id = lab.staged_job();
    let rv = Rendezvous::new(lab.dir.path());
    fail::cfg("apply::swap::dirs_moved", &format!("1*return(wait={})", rv.dir.display())).unwrap();
    let result = std::thread::scope(|s| {
        let apply = s.spawn(|| lab.replace(&Lab::candidate(), &before.hash(), Some(id), "apply"));
        assert_eq!(rv.wait_reached(), "apply::swap::dirs_moved");
        std::os::unix::fs::symlink("elsewhere.md", lab.memory().join("c.md")).unwrap();
        rv.release();
        apply.join().unwrap()
    });
    fail::remove("apply::swap::dirs_moved");
    assert!(matches!(result, Err(ReplaceError::Stale)), "{result:?}");
    let link = std::fs::symlink_metadata(lab.memory().join("c.md")).expect("the agent's link is live");
    assert!(link.file_type().is_symlink());
    assert_eq!(lab.live().hash(), before.hash(), "the old store, nothing of the candidate");
    assert!(lab.state.generations().unwrap().is_empty());
    assert!(!lab.config.state_dir.join("generations/1").exists());
    lab.planted.assert_intact(&lab.memory(), "after the undone swap");
    lab.assert_clean("after the undone swap");
}

// ---------------------------------------------------------------------------------------------
// The real binary: FAILPOINTS, a real crash, a real restart.

/// Two FIFOs a `return(wait=DIR)` failpoint meets the test at. Opening a FIFO blocks until the
/// other side opens it: no polling.
struct Rendezvous {
    dir: PathBuf,
}

impl Rendezvous {
    fn new(parent: &Path) -> Rendezvous {
        let dir = parent.join("rendezvous");
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["reached", "go"] {
            let c = std::ffi::CString::new(dir.join(name).to_str().unwrap()).unwrap();
            // SAFETY: a valid NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        }
        Rendezvous { dir }
    }

    /// The name of the failpoint that was reached; fails the test if none is within 60 s.
    fn wait_reached(&self) -> String {
        let (tx, rx) = mpsc::channel();
        let path = self.dir.join("reached");
        std::thread::spawn(move || {
            let _ = tx.send(std::fs::read_to_string(path).unwrap_or_default());
        });
        rx.recv_timeout(Duration::from_secs(60)).expect("the failpoint was never reached")
    }

    fn release(&self) {
        drop(std::fs::OpenOptions::new().write(true).open(self.dir.join("go")).unwrap());
    }
}

/// Wait for the daemon to end (it crashes at the failpoint); its exit code.
fn wait_crash(mut d: Daemon) -> i32 {
    let mut child = d.child.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait().map(|s| s.code().unwrap_or(-1)).unwrap_or(-1));
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(code) => code,
        Err(_) => {
            // SAFETY: ends the daemon this test started.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("the daemon did not reach the failpoint; log:\n{}", d.log_text());
        }
    }
}

fn store_hash(dir: &Path) -> String {
    Store::read(dir).unwrap().hash()
}

/// After a restart: old or new store, the database says which, a rollback works when applied.
fn check_after_restart(env: &Env, planted: &shapes::Planted, id: i64, before: &str, when: &str) {
    let live = store_hash(&env.memory());
    let candidate = store_hash(&env.path().join(format!("state/jobs/{id}/candidate")));
    let job = env.job(id);
    let gens = env.json(&["generations"])["generations"].as_array().unwrap().clone();
    planted.assert_intact(&env.memory(), when);
    assert!(!env.path().join("state/apply.journal").exists(), "{when}");
    if live == candidate {
        assert_eq!(job["status"], "applied", "{when}: {job:#}");
        assert_eq!(gens.len(), 1, "{when}: {gens:?}");
        assert_eq!(gens[0]["job_id"], id, "{when}");
        assert_eq!(store_hash(&env.path().join("state/generations/1")), before, "{when}");
        let r = env.json(&["rollback"]);
        assert_eq!(r["restored"], 1, "{when}");
        assert_eq!(store_hash(&env.memory()), before, "{when}: rollback");
        planted.assert_intact(&env.memory(), &format!("{when}: rollback"));
    } else {
        assert_eq!(live, before, "{when}: neither the old store nor the new one");
        assert!(["failed", "stale"].contains(&job["status"].as_str().unwrap()), "{when}: {job:#}");
        assert!(gens.is_empty(), "{when}: {gens:?}");
    }
}

fn binary_crash(mode: &str, point: &str, actions: &str) {
    let when = format!("binary {mode} {point}={actions}");
    let env = Env::quickstart(&format!("apply:\n  mode: {mode}\n"));
    let planted = shapes::plant(&env.memory(), &env.path().join("outside"));
    let before = store_hash(&env.memory());
    let d = env.start_binary_with_env(&[("FAILPOINTS", &format!("{point}={actions}"))]);
    let id = env.cli_dream();
    assert_eq!(wait_crash(d), 86, "{when}: stopped at the failpoint");
    let journal = env.path().join("state/apply.journal");
    if journal.exists() {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&journal).unwrap().permissions().mode() & 0o777, 0o600, "{when}: journal is private");
    }
    let _d = env.start_binary();
    let job = env.follow_until_settled(id);
    assert_ne!(job["status"], "staged", "{when}");
    check_after_restart(&env, &planted, id, &before, &when);
}

#[test]
fn the_real_daemon_crashing_at_each_swap_step_recovers_on_restart() {
    for point in points_for("swap") {
        binary_crash("swap", point, "return(exit)");
    }
}

#[test]
fn the_real_daemon_crashing_at_each_journal_step_recovers_on_restart() {
    for point in points_for("journal") {
        let actions = if point.ends_with("_op") { "1*off->return(exit)" } else { "return(exit)" };
        binary_crash("journal", point, actions);
    }
}

/// A rollback crashing at each step, then a restart.
#[test]
fn the_real_daemon_crashing_during_a_rollback_recovers_on_restart() {
    for mode in ["swap", "journal"] {
        for point in points_for(mode) {
            let when = format!("binary rollback {mode} {point}");
            let env = Env::quickstart(&format!("apply:\n  mode: {mode}\n"));
            let planted = shapes::plant(&env.memory(), &env.path().join("outside"));
            let original = store_hash(&env.memory());
            let d = env.start_binary();
            let id = env.cli_dream();
            assert_eq!(env.follow_until_settled(id)["status"], "applied", "{when}");
            let dreamed = store_hash(&env.memory());
            assert!(d.stop(), "{when}");
            let d = env.start_binary_with_env(&[("FAILPOINTS", &format!("{point}=return(exit)"))]);
            let _ = env.cli(&["rollback"]);
            assert_eq!(wait_crash(d), 86, "{when}");
            rollback_restart_check(&env, &planted, id, &original, &dreamed, &when);
        }
    }
}

fn rollback_restart_check(env: &Env, planted: &shapes::Planted, id: i64, original: &str, dreamed: &str, when: &str) {
    let _d = env.start_binary();
    let live = store_hash(&env.memory());
    let gens = env.json(&["generations"])["generations"].as_array().unwrap().clone();
    planted.assert_intact(&env.memory(), when);
    assert_eq!(env.job(id)["status"], "applied", "{when}");
    if live == original {
        assert_eq!(gens.len(), 2, "{when}: {gens:?}");
        assert_eq!(gens[0]["id"], 2, "{when}");
        assert!(gens[0]["job_id"].is_null(), "{when}");
        assert_eq!(store_hash(&env.path().join("state/generations/2")), dreamed, "{when}");
        // The rollback is itself reversible.
        assert_eq!(env.json(&["rollback", "2"])["restored"], 2, "{when}");
        assert_eq!(store_hash(&env.memory()), dreamed, "{when}");
    } else {
        assert_eq!(live, dreamed, "{when}: neither the old store nor the new one");
        assert_eq!(gens.len(), 1, "{when}: {gens:?}");
        assert_eq!(env.json(&["rollback"])["restored"], 1, "{when}: a rollback still works");
        assert_eq!(store_hash(&env.memory()), original, "{when}");
    }
    planted.assert_intact(&env.memory(), &format!("{when}: after"));
}

/// The agent writes just before the exchange and the daemon dies right after it. Before:
/// recovery compared the switched-out copy with the base hash, took the agent's edited store
/// for an unswitched staging copy, deleted it, and left the candidate live with no generation.
#[test]
fn an_agent_write_just_before_the_swap_survives_a_crash_after_it() {
    let env = Env::quickstart("apply:\n  mode: swap\n");
    let planted = shapes::plant(&env.memory(), &env.path().join("outside"));
    let rv = Rendezvous::new(env.path());
    let fp = format!("apply::swap::dirs_moved=return(wait={});apply::swap::exchanged=return(exit)", rv.dir.display());
    let d = env.start_binary_with_env(&[("FAILPOINTS", &fp)]);
    let id = env.cli_dream();
    assert_eq!(rv.wait_reached(), "apply::swap::dirs_moved");
    let f = env.memory().join("user_role.md");
    let mut text = std::fs::read_to_string(&f).unwrap();
    text.push_str("- written by the agent at the last moment\n");
    std::fs::write(&f, &text).unwrap();
    let with_write = store_hash(&env.memory());
    rv.release();
    assert_eq!(wait_crash(d), 86);

    let _d = env.start_binary();
    assert_eq!(store_hash(&env.memory()), with_write, "the agent's store, with its write, is live");
    assert_eq!(std::fs::read_to_string(&f).unwrap(), text);
    let job = env.job(id);
    assert_eq!(job["status"], "stale", "{job:#}");
    assert!(env.json(&["generations"])["generations"].as_array().unwrap().is_empty());
    planted.assert_intact(&env.memory(), "after recovery");
    let strays: Vec<_> =
        std::fs::read_dir(env.path()).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().contains("dreamd-")).collect();
    assert!(strays.is_empty(), "{strays:?}");
}

/// A crash after the switch but before the database update. Before: the job ended `stale`
/// with its candidate live, `generations` was empty and rollback answered "no generation".
#[test]
fn a_crash_between_the_switch_and_the_database_update_is_reconciled() {
    for mode in ["swap", "journal"] {
        let env = Env::quickstart(&format!("apply:\n  mode: {mode}\n"));
        let before = store_hash(&env.memory());
        let d = env.start_binary_with_env(&[("FAILPOINTS", "apply::live::before_commit=return(exit)")]);
        let id = env.cli_dream();
        assert_eq!(wait_crash(d), 86, "{mode}");
        let d = env.start_binary();
        let job = env.job(id);
        assert_eq!(job["status"], "applied", "{mode}: {job:#}");
        assert_eq!(job["generation"], 1, "{mode}");
        let gens = env.json(&["generations"]);
        assert_eq!(gens["generations"][0]["id"], 1, "{mode}: {gens}");
        assert_eq!(gens["generations"][0]["job_id"], id, "{mode}");
        assert!(d.log_text().contains("finished an apply"), "{mode}: {}", d.log_text());
        assert_eq!(env.json(&["rollback"])["restored"], 1, "{mode}");
        assert_eq!(store_hash(&env.memory()), before, "{mode}");
    }
}

/// The same race through the real binary: `dreamd approve` of a journal apply, paused between
/// its first and second rename, while the agent writes the second file.
#[test]
fn the_real_daemon_never_overwrites_a_write_between_journal_renames() {
    let engine = "engine:\n  kind: command\n  command: [\"sh\", \"-c\", \"cp -r \\\"$DREAMD_INPUT_DIR\\\"/. \\\"$DREAMD_OUTPUT_DIR\\\"/ && echo '- merged' >> \\\"$DREAMD_OUTPUT_DIR\\\"/feedback_testing.md && echo '- merged' >> \\\"$DREAMD_OUTPUT_DIR\\\"/user_role.md\"]\n";
    let env = Env::quickstart(&format!("{engine}policy:\n  auto_apply: false\napply:\n  mode: journal\n"));
    let rv = Rendezvous::new(env.path());
    let before = Store::read(&env.memory()).unwrap();
    let fp = format!("apply::journal::before_op=1*off->1*return(wait={})", rv.dir.display());
    let _d = env.start_binary_with_env(&[("FAILPOINTS", &fp)]);
    let id = env.cli_dream();
    assert_eq!(env.follow_until_settled(id)["status"], "held");
    let agent_line = "- the agent wrote this while dreamd was applying\n";
    let out = std::thread::scope(|s| {
        let approve = s.spawn(|| env.cli(&["approve", &id.to_string()]));
        assert_eq!(rv.wait_reached(), "apply::journal::before_op");
        let f = env.memory().join("user_role.md");
        let mut text = std::fs::read_to_string(&f).unwrap();
        text.push_str(agent_line);
        std::fs::write(&f, text).unwrap();
        rv.release();
        approve.join().unwrap()
    });
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stale"), "{}", String::from_utf8_lossy(&out.stderr));
    let mut expected = before.clone();
    expected.files.get_mut("user_role.md").unwrap().bytes.extend_from_slice(agent_line.as_bytes());
    assert_eq!(Store::read(&env.memory()).unwrap().hash(), expected.hash(), "the store as it was, plus the agent's line");
    assert_eq!(env.job(id)["status"], "stale");
    assert!(env.json(&["generations"])["generations"].as_array().unwrap().is_empty());
}
