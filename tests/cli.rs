//! The CLI as a person and a script see it: exit codes, messages, help, completions, man page,
//! colours. Everything through the real binary.

mod common;
use common::*;
use std::process::{Command, Output};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// No HTTP status or reason phrase leaks into what a person reads.
fn assert_no_http(text: &str) {
    for raw in ["429", "409", "404", "Too Many Requests", "Conflict", "Not Found"] {
        assert!(!text.contains(raw), "raw HTTP {raw:?} in: {text}");
    }
}

#[test]
fn a_dream_the_gate_refuses_says_why_hints_force_and_exits_3() {
    let env = Env::quickstart("triggers:\n  min_new_sessions: 50\nlimits:\n  max_jobs_per_day: 1\n");
    let _d = env.start_binary();
    let out = env.cli(&["dream"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.starts_with("no dream now: no threshold met: "), "{err}");
    assert!(err.contains("hint: `dreamd dream --force`"), "{err}");
    assert!(!err.contains("error:"), "a refusal is not an error: {err}");
    assert_no_http(&err);

    // The quota is a deny that --force cannot pass: same exit code, no hint.
    let id = env.cli_dream();
    env.follow_until_settled(id);
    let out = env.cli(&["dream", "--force"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.starts_with("no dream now: ") && err.contains("1 of 1"), "{err}");
    assert!(!err.contains("hint"), "{err}");
    assert_no_http(&err);
}

/// Opens the FIFO the engine waits on, so no engine outlives a failed test.
struct Release(std::path::PathBuf);

impl Release {
    /// Let the engine finish (waits for it to be listening).
    fn now(self) {
        std::fs::write(&self.0, "go").unwrap();
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        // Non-blocking: if nobody reads, nobody is waiting.
        let f = std::fs::OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(&self.0);
        if let Ok(mut f) = f {
            let _ = f.write_all(b"go");
        }
    }
}

#[test]
fn a_request_during_a_dream_is_folded_into_it_and_is_not_an_error() {
    let env = Env::quickstart("");
    // The engine holds the dream open until the test writes to this FIFO.
    let gate = env.path().join("gate.fifo");
    let c = std::ffi::CString::new(gate.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    env.write_config(&format!(
        "engine:\n  kind: command\n  command: [\"sh\", \"-c\", \"cat '{}' >/dev/null; cp -r \\\"$DREAMD_INPUT_DIR\\\"/. \\\"$DREAMD_OUTPUT_DIR\\\"/\"]\n",
        gate.display()
    ));
    let _d = env.start_binary();
    let release = Release(gate.clone());
    let id = env.cli_dream();
    for args in [&["dream"][..], &["dream", "--force"]] {
        let out = env.cli(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains(&format!("a dream is already in progress (job {id}")) && text.contains("folded into it"), "{text}");
        assert_no_http(&text);
    }
    let json = env.json(&["dream"]);
    assert_eq!((json["folded"].as_bool(), json["job"]["id"].as_i64()), (Some(true), Some(id)), "{json}");
    release.now();
    env.follow_until_settled(id);
}

#[test]
fn exit_codes_tell_not_found_from_conflict_from_usage() {
    let env = Env::quickstart("");
    let _d = env.start_binary();
    let id = env.cli_dream();
    assert_eq!(env.follow_until_settled(id)["status"], "applied");

    let out = env.cli(&["approve", &id.to_string()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(err.contains(&format!("job {id}: an applied job cannot become approved")), "{err}");
    assert_no_http(&err);

    for args in [&["show", "999"][..], &["diff", "999"], &["log", "999"], &["log", "999", "--follow"], &["rollback", "999"]] {
        let out = env.cli(args);
        assert_eq!(out.status.code(), Some(4), "{args:?}: {}", stderr(&out));
        assert_no_http(&stderr(&out));
    }

    let out = env.cli(&["jobs", "--limmit", "3"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // Red team: `show -- -1` went to the daemon and came back "not a number", exit 1.
    for args in [&["show", "--", "-1"][..], &["approve", "0"], &["rollback", "--", "-5"], &["diff", "1e9"], &["show", "١"]] {
        let out = env.cli(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(env.cli(&["jobs"]).status.code(), Some(0));
}

#[test]
fn health_exits_0_when_serving_and_1_when_not() {
    let env = Env::quickstart("");
    let d = env.start_binary();
    let out = env.cli(&["health"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("ok: dreamd "), "{}", stdout(&out));
    assert!(d.stop());
    let out = env.cli(&["health"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("unhealthy: "), "{}", stderr(&out));
    // A socket nobody listens on is unhealthy too, not "not found".
    let out = Command::new(BIN).args(["health", "--socket"]).arg(env.path().join("nope.sock")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_missing_config_lists_where_it_was_looked_for() {
    if std::path::Path::new("/etc/dreamd/dreamd.yaml").exists() {
        return; // this machine has an installed config, which would be found
    }
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN).arg("check-config").current_dir(dir.path()).env_remove("DREAMD_CONFIG").output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("./dreamd.yaml") && err.contains(&dir.path().display().to_string()), "{err}");
    assert!(err.contains("/etc/dreamd/dreamd.yaml") && err.contains("DREAMD_CONFIG"), "{err}");
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    let gen = |shell: &str| Command::new(BIN).args(["completions", shell]).output().unwrap();
    let bash = gen("bash");
    assert!(bash.status.success());
    assert!(stdout(&bash).contains("complete -F _dreamd"), "{}", stdout(&bash));
    assert!(stdout(&bash).contains("check-config") && stdout(&bash).contains("--pinned-pattern"));
    // The script is valid bash.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dreamd.bash");
    std::fs::write(&file, &bash.stdout).unwrap();
    assert!(Command::new("bash").arg("-n").arg(&file).status().unwrap().success());

    assert!(stdout(&gen("zsh")).starts_with("#compdef dreamd"));
    assert!(stdout(&gen("fish")).contains("complete -c dreamd"));
    assert_eq!(gen("tcsh").status.code(), Some(2));
}

#[test]
fn the_man_page_renders() {
    let out = Command::new(BIN).arg("man").output().unwrap();
    assert!(out.status.success());
    let page = stdout(&out);
    assert!(page.contains(".TH dreamd 1") && page.contains("EXIT STATUS"), "{page}");
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN).args(["man", "--out"]).arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.path().join("dreamd.1").exists() && dir.path().join("dreamd-health.1").exists());
}

/// `script` gives the command a terminal, as a person at a shell would have.
fn in_terminal(env: &Env, cmd: &str, no_color: bool) -> String {
    let mut c = Command::new("script");
    c.args(["-qec", cmd, "/dev/null"]).current_dir(env.path()).env("DREAMD_CONFIG", env.config());
    if no_color {
        c.env("NO_COLOR", "1");
    } else {
        c.env_remove("NO_COLOR");
    }
    String::from_utf8_lossy(&c.output().unwrap().stdout).into_owned()
}

#[test]
fn diffs_are_coloured_on_a_terminal_and_plain_otherwise() {
    let env = Env::quickstart("");
    let _d = env.start_binary();
    let id = env.cli_dream();
    env.follow_until_settled(id);
    let cmd = format!("{BIN} diff {id}");
    let tty = in_terminal(&env, &cmd, false);
    assert!(tty.contains("\x1b[31m-") && tty.contains("\x1b[32m+"), "{tty:?}");
    assert!(!in_terminal(&env, &cmd, true).contains('\x1b'), "NO_COLOR");
    let piped = env.cli(&["diff", &id.to_string()]);
    assert!(piped.status.success() && stdout(&piped).contains("+++ b/"));
    assert!(!stdout(&piped).contains('\x1b'), "piped");
}

/// Red team: `--socket` at a socket that accepts and never answers hung the CLI forever.
#[test]
fn a_daemon_that_never_answers_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("silent.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let out = Command::new(BIN).args(["status", "--socket"]).arg(&path).env("DREAMD_ANSWER_TIMEOUT", "1s").output().unwrap();
    drop(listener);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("did not answer within"), "{}", stderr(&out));
}

/// `dreamd consolidate` within a memory budget the store is over: the topic files are left as
/// they are, the index is still kept, and the report says what was left out and why.
#[test]
fn consolidate_over_its_memory_budget_leaves_the_largest_files_and_says_so() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart/memory");
    let out = tempfile::tempdir().unwrap();
    let run = |dest: &std::path::Path, budget: &str| {
        let o = Command::new(BIN).args(["consolidate", "--json", "--max-memory-mb", budget, "--out"]).arg(dest).arg(&src).output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let tight = run(&out.path().join("tight"), "1");
    let flag = tight["flags"].as_array().unwrap().iter().find(|f| f["kind"] == "memory_budget").expect("the report says so");
    let left_out: Vec<&str> = flag["entries"].as_array().unwrap().iter().filter_map(|e| e.as_str()).collect();
    assert!(!left_out.is_empty() && !left_out.contains(&"MEMORY.md"), "{flag}");
    for path in &left_out {
        let (before, after) = (std::fs::read(src.join(path)).unwrap(), std::fs::read(out.path().join("tight").join(path)).unwrap());
        assert_eq!(before, after, "{path} was left out, so it is unchanged");
    }
    let changes = tight["changes"].as_array().unwrap();
    assert!(changes.iter().all(|c| !left_out.contains(&c["file"].as_str().unwrap_or(""))), "{changes:?}");
    // The default budget fits the example: every file is dreamed, nothing is flagged.
    let roomy = run(&out.path().join("roomy"), "512");
    assert!(roomy["flags"].as_array().unwrap().iter().all(|f| f["kind"] != "memory_budget"));
    assert!(roomy["changes"].as_array().unwrap().len() > changes.len());
}

/// A store past half the budget is refused before it is read whole: a clear error naming the
/// setting, exit 1, and no candidate written.
#[test]
fn consolidate_refuses_a_store_its_memory_budget_cannot_hold() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("memory");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("notes.md"), "- a line of notes about the build\n".repeat(20_000)).unwrap();
    let dest = dir.path().join("out");
    let o = Command::new(BIN).args(["consolidate", "--max-memory-mb", "1", "--out"]).arg(&dest).arg(&src).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("more than 0 MB of files") && stderr(&o).contains("--max-memory-mb"), "{}", stderr(&o));
    assert!(!dest.exists() || std::fs::read_dir(&dest).unwrap().next().is_none(), "nothing written");
    let o = Command::new(BIN).args(["consolidate", "--max-memory-mb", "0", "--out"]).arg(&dest).arg(&src).output().unwrap();
    assert!(o.status.success(), "no budget, no cap: {}", stderr(&o));
}
