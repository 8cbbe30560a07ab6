//! The command engine against real processes (`sh`), real pipes and real files.

use super::*;
use crate::config::Layout;
use crate::memory::PinRules;
use crate::sessions::Transcript;
use crate::store::{MemoryFile, Store};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

const COPY: &str = r#"cp -R "$DREAMD_INPUT_DIR"/. "$DREAMD_OUTPUT_DIR"/ && chmod -R u+w "$DREAMD_OUTPUT_DIR""#;

fn engine(script: &str) -> CommandEngine {
    CommandEngine {
        argv: vec!["sh".into(), "-c".into(), script.into()],
        price: Price { per_job_usd: 0.5, per_mb_usd: 0.0, per_session_usd: 0.25 },
        timeout: Duration::from_secs(120),
        limits: Limits { max_output_bytes: 1 << 20, max_output_files: 100, max_log_lines: 100 },
        pass_env: Vec::new(),
        confine_writes: true,
        work_parent: None,
    }
}

fn input(files: &[(&str, &str)]) -> DreamInput {
    let mut store = Store::default();
    for (p, t) in files {
        store.files.insert(p.to_string(), MemoryFile { bytes: t.as_bytes().to_vec(), mtime: None });
    }
    DreamInput {
        store,
        transcripts: Vec::new(),
        layout: Layout::ClaudeCode,
        pins: PinRules::default(),
        now: chrono::DateTime::parse_from_rfc3339("2026-06-15T12:00:00Z").unwrap().into(),
        keep_history: false,
        cancel: Default::default(),
    }
}

fn store_input() -> DreamInput {
    input(&[("MEMORY.md", "- [A](a.md) — a\n"), ("a.md", "- alpha\n"), ("sub/b.md", "- beta\n")])
}

/// Collects the job log; `on_line` sees each event as it is emitted.
struct Sink<F: Fn(&str, &str) + Send + Sync> {
    events: Mutex<Vec<(String, String)>>,
    on_line: F,
}

impl<F: Fn(&str, &str) + Send + Sync> EventSink for Sink<F> {
    fn emit(&self, kind: &str, message: String) {
        (self.on_line)(kind, &message);
        self.events.lock().unwrap().push((kind.to_string(), message));
    }
}

fn sink() -> Sink<impl Fn(&str, &str) + Send + Sync> {
    Sink { events: Mutex::new(Vec::new()), on_line: |_: &str, _: &str| {} }
}

impl<F: Fn(&str, &str) + Send + Sync> Sink<F> {
    fn lines(&self, kind: &str) -> Vec<String> {
        self.events.lock().unwrap().iter().filter(|(k, _)| k == kind).map(|(_, m)| m.clone()).collect()
    }
}

fn text(s: &Store, p: &str) -> String {
    String::from_utf8(s.files[p].bytes.clone()).unwrap()
}

#[tokio::test]
async fn copies_in_and_out_with_a_diff_report_and_the_configured_price() {
    let e = engine(&format!(r#"{COPY} && printf -- '- gamma\n' >> "$DREAMD_OUTPUT_DIR/a.md""#));
    let s = sink();
    let out = e.dream(store_input(), &s).await.unwrap();
    assert_eq!(text(&out.candidate, "a.md"), "- alpha\n- gamma\n");
    assert_eq!(text(&out.candidate, "sub/b.md"), "- beta\n");
    assert_eq!(out.report.changes.len(), 1);
    assert_eq!(out.report.changes[0].kind, crate::report::ChangeKind::Edit);
    assert_eq!((out.report.totals.entries_before, out.report.totals.entries_after), (3, 4));
    assert_eq!(out.cost_usd, 0.5, "no report: the configured price for what it was given");
}

/// Issue 8: the engine never got the transcripts although the docs said it did; it could
/// write its input; it inherited dreamd's environment and cwd.
#[tokio::test]
async fn it_gets_read_only_copies_a_cleared_environment_and_its_own_cwd() {
    let sessions = tempfile::tempdir().unwrap();
    let main = sessions.path().join("abc-123.jsonl");
    std::fs::write(&main, "{\"type\":\"user\"}\n").unwrap();
    std::fs::create_dir_all(sessions.path().join("abc-123/subagents")).unwrap();
    let sub = sessions.path().join("abc-123/subagents/agent-1.jsonl");
    std::fs::write(&sub, "{\"type\":\"assistant\"}\n").unwrap();
    let odd = sessions.path().join("we\nird.jsonl");
    std::fs::write(&odd, "{}\n").unwrap();
    let mut i = store_input();
    i.transcripts = vec![
        Transcript { id: "abc-123".into(), sources: vec![main.clone(), sub.clone()], ..Default::default() },
        Transcript { id: "we\nird".into(), sources: vec![odd], ..Default::default() },
    ];
    let script = format!(
        r#"env | sed 's/^/env /'; echo "cwd $(pwd)"
        cd "$DREAMD_WORK_DIR" && find input sessions -exec stat -c 'mode %a %n' {{}} \;
        echo x >> "$DREAMD_INPUT_DIR/a.md" 2>/dev/null; echo "wrote input $?"
        {COPY}"#
    );
    let mut e = engine(&script);
    e.pass_env = vec!["HOME".into()];
    let s = sink();
    let out = e.dream(i, &s).await.unwrap();
    let stdout = s.lines("stdout");
    let env: BTreeMap<String, String> = stdout
        .iter()
        .filter_map(|l| l.strip_prefix("env "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let allowed = ["PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "HOME", "TMPDIR", "PWD", "SHLVL", "_", "OLDPWD"];
    for k in env.keys() {
        assert!(allowed.contains(&k.as_str()) || k.starts_with("DREAMD_"), "{k} leaked into the engine's environment");
    }
    let work = &env["DREAMD_WORK_DIR"];
    assert_eq!(stdout.iter().find_map(|l| l.strip_prefix("cwd ")), Some(work.as_str()));
    for (k, sub) in [("DREAMD_INPUT_DIR", "input"), ("DREAMD_SESSIONS_DIR", "sessions"), ("DREAMD_OUTPUT_DIR", "output")] {
        assert_eq!(env[k], format!("{work}/{sub}"));
    }
    assert_eq!(env["DREAMD_REPORT_FILE"], format!("{work}/report.json"));
    assert_eq!(env["TMPDIR"], format!("{work}/tmp"));
    assert_eq!((env["DREAMD_PROTOCOL"].as_str(), env["DREAMD_LAYOUT"].as_str()), ("1", "claude-code"));
    assert_eq!(env["DREAMD_NOW"], "2026-06-15T12:00:00+00:00");
    assert_eq!(env.get("HOME"), std::env::var("HOME").ok().as_ref(), "pass_env passes HOME through");

    let modes: BTreeMap<String, String> = stdout
        .iter()
        .filter_map(|l| l.strip_prefix("mode "))
        .filter_map(|l| l.split_once(' '))
        .map(|(m, p)| (p.to_string(), m.to_string()))
        .collect();
    let want = [
        ("input", "555"),
        ("input/a.md", "444"),
        ("input/MEMORY.md", "444"),
        ("input/sub", "555"),
        ("input/sub/b.md", "444"),
        ("sessions", "555"),
        ("sessions/abc-123.jsonl", "444"),
        ("sessions/abc-123", "555"),
        ("sessions/abc-123/subagents", "555"),
        ("sessions/abc-123/subagents/agent-1.jsonl", "444"),
        ("sessions/we_ird.jsonl", "444"),
    ];
    assert_eq!(modes, want.iter().map(|(p, m)| (p.to_string(), m.to_string())).collect::<BTreeMap<_, _>>());
    // Root may write a 0444 file anyway; what it writes there is its own copy, never read back.
    assert_eq!(text(&out.candidate, "a.md").lines().next(), Some("- alpha"));
    assert!(s.lines("info")[0].contains("with 3 file(s) and 2 session(s)"), "{:?}", s.lines("info"));
}

#[tokio::test]
async fn the_session_copies_are_the_transcripts() {
    let sessions = tempfile::tempdir().unwrap();
    let main = sessions.path().join("s1.jsonl");
    std::fs::write(&main, "{\"type\":\"user\",\"message\":{\"content\":\"hi\"}}\n").unwrap();
    let mut i = store_input();
    i.transcripts = vec![Transcript { id: "s1".into(), sources: vec![main], ..Default::default() }];
    let e = engine(&format!(r#"{COPY} && cat "$DREAMD_SESSIONS_DIR/s1.jsonl" > "$DREAMD_OUTPUT_DIR/seen.txt""#));
    let out = e.dream(i, &sink()).await.unwrap();
    assert_eq!(text(&out.candidate, "seen.txt"), "{\"type\":\"user\",\"message\":{\"content\":\"hi\"}}\n");
    assert_eq!(out.cost_usd, 0.75, "per job + per session");
}

fn pidfd_open(pid: i32) -> i32 {
    // SAFETY: a plain syscall; the result is checked.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    assert!(fd >= 0, "pidfd_open({pid}) failed: {}", std::io::Error::last_os_error());
    fd
}

/// Waits (bounded) for the process behind `fd` to end: a pidfd becomes readable on exit.
fn ended_within(fd: i32, ms: i32) -> bool {
    let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut p, 1, ms) == 1 }
}

/// Runs `script` (which starts `sleep` in the background and prints `grandchild PID`) and
/// returns the dream's result and a pidfd of that grandchild, opened while it ran.
async fn with_grandchild(mut e: CommandEngine, cancel_on_pid: bool) -> (Result<DreamOutput>, i32, i32) {
    let i = store_input();
    let cancel = i.cancel.clone();
    let seen: Mutex<Option<(i32, i32)>> = Mutex::new(None);
    let s = Sink {
        events: Mutex::new(Vec::new()),
        on_line: |kind: &str, msg: &str| {
            if let Some(pid) = msg.strip_prefix("grandchild ").and_then(|p| p.trim().parse::<i32>().ok()) {
                assert_eq!(kind, "stdout");
                *seen.lock().unwrap() = Some((pid, pidfd_open(pid)));
                if cancel_on_pid {
                    cancel.cancel();
                }
            }
        },
    };
    e.limits.max_log_lines = 10;
    let r = e.dream(i, &s).await;
    let (pid, fd) = seen.lock().unwrap().expect("the script printed its grandchild's pid");
    (r, pid, fd)
}

fn reap_for_sure(pid: i32, fd: i32) {
    // SAFETY: cleanup of a process this test started; harmless if it is gone.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::close(fd);
    }
}

/// Issue 8: on timeout only the direct child was killed; grandchildren lived on.
#[tokio::test]
async fn a_timeout_kills_the_whole_process_group() {
    let mut e = engine("sleep 1000 & echo \"grandchild $!\"; wait");
    e.timeout = Duration::from_secs(5);
    let (r, pid, fd) = with_grandchild(e, false).await;
    let err = r.unwrap_err().to_string();
    assert!(err.contains("did not finish within 5s; its process group was killed"), "{err}");
    let ended = ended_within(fd, 10_000);
    reap_for_sure(pid, fd);
    assert!(ended, "grandchild {pid} outlived the timeout");
}

#[tokio::test]
async fn a_cancel_kills_the_whole_process_group() {
    let (r, pid, fd) = with_grandchild(engine("sleep 1000 & echo \"grandchild $!\"; wait"), true).await;
    let err = r.unwrap_err();
    assert!(err.downcast_ref::<Canceled>().is_some(), "{err:#}");
    let ended = ended_within(fd, 10_000);
    reap_for_sure(pid, fd);
    assert!(ended, "grandchild {pid} outlived the cancel");
}

/// A background process left behind by an engine that exited is not left running (it would
/// keep writing to the output while dreamd reads it, and keep the log pipes open).
#[tokio::test]
async fn what_the_engine_leaves_running_is_killed_when_it_exits() {
    let (r, pid, fd) = with_grandchild(engine(&format!("sleep 1000 & echo \"grandchild $!\"; {COPY}")), false).await;
    assert!(r.is_ok(), "{:#}", r.err().unwrap());
    let ended = ended_within(fd, 10_000);
    reap_for_sure(pid, fd);
    assert!(ended, "grandchild {pid} outlived the engine");
}

/// Dropping the dream (the runner's outer timeout, an aborted job task) kills the group too.
#[tokio::test]
async fn dropping_the_dream_kills_the_whole_process_group() {
    let i = store_input();
    let (tx, rx) = std::sync::mpsc::channel::<i32>();
    let tx = Mutex::new(tx);
    let s = Sink {
        events: Mutex::new(Vec::new()),
        on_line: move |_: &str, msg: &str| {
            if let Some(pid) = msg.strip_prefix("grandchild ").and_then(|p| p.trim().parse::<i32>().ok()) {
                let _ = tx.lock().unwrap().send(pid);
            }
        },
    };
    let e = engine("sleep 1000 & echo \"grandchild $!\"; wait");
    let mut dream = Box::pin(e.dream(i, &s));
    // Drive the dream until the grandchild is announced, then drop it.
    let pid = loop {
        tokio::select! {
            r = &mut dream => panic!("the dream ended: {:?}", r.map(|_| ())),
            _ = tokio::task::yield_now() => {
                if let Ok(pid) = rx.try_recv() { break pid; }
            }
        }
    };
    let fd = pidfd_open(pid);
    drop(dream);
    let ended = ended_within(fd, 10_000);
    reap_for_sure(pid, fd);
    assert!(ended, "grandchild {pid} outlived the dropped dream");
}

/// Issue 8: stdout/stderr went unfiltered into the daemon's log (ANSI escapes, fake lines).
#[tokio::test]
async fn output_lines_are_escaped_capped_and_counted_in_the_job_log() {
    let script = format!(
        r#"printf '\033[2J\033[31mred\r2026-01-01T00:00:00Z INFO dreamd: applied\n'
        printf 'err \342\200\256 bidi\n' >&2
        head -c 100000 /dev/zero | tr '\0' 'x'; echo
        i=0; while [ $i -lt 50 ]; do echo "line $i"; i=$((i+1)); done
        {COPY}"#
    );
    let mut e = engine(&script);
    e.limits.max_log_lines = 5;
    let s = sink();
    e.dream(store_input(), &s).await.unwrap();
    let out = s.lines("stdout");
    let err = s.lines("stderr");
    assert_eq!(out[0], r"\x1b[2J\x1b[31mred\r2026-01-01T00:00:00Z INFO dreamd: applied");
    assert_eq!(err, vec![r"err \u{202e} bidi".to_string()]);
    assert_eq!(out[1].chars().count(), process::LOG_LINE_CHARS);
    assert!(out[1].ends_with('…'));
    assert_eq!(out.len() + err.len(), 5, "max_log_lines");
    assert!(s.lines("info").iter().any(|l| l == "48 more output line(s) not logged (engine.max_log_lines is 5)"), "{:?}", s.lines("info"));
}

#[tokio::test]
async fn a_failure_says_why_with_the_end_of_stderr() {
    let e = engine("echo one >&2; echo two >&2; echo three >&2; printf 'four \\033[0m\\n' >&2; exit 3");
    let err = format!("{:#}", e.dream(store_input(), &sink()).await.unwrap_err());
    assert_eq!(err, r"the engine command exited with status 3; its last stderr line(s): two | three | four \x1b[0m");
    let e = CommandEngine { argv: vec!["/nonexistent/engine".into()], ..engine("") };
    let err = format!("{:#}", e.dream(store_input(), &sink()).await.unwrap_err());
    assert!(err.starts_with("cannot start engine command /nonexistent/engine"), "{err}");
}

/// Issue 8: the output was not capped.
#[tokio::test]
async fn output_over_the_limits_or_of_the_wrong_kind_fails_the_job() {
    let cases = [
        ("for f in a b c; do echo x > \"$DREAMD_OUTPUT_DIR/$f.md\"; done", "more than engine.max_output_files (2) files"),
        (
            "head -c 600 /dev/zero > \"$DREAMD_OUTPUT_DIR/a.md\"; head -c 600 /dev/zero > \"$DREAMD_OUTPUT_DIR/b.md\"",
            "more than engine.max_output_bytes (1000 bytes)",
        ),
        (
            "exec head -c 5000 /dev/zero > \"$DREAMD_OUTPUT_DIR/a.md\"",
            "killed for writing a file over engine.max_output_bytes (1000 bytes)",
        ),
        (
            "set -e; head -c 5000 /dev/zero > \"$DREAMD_OUTPUT_DIR/a.md\"",
            "status 153 (a process was killed for writing a file over engine.max_output_bytes (1000 bytes))",
        ),
        ("ln -s /etc/passwd \"$DREAMD_OUTPUT_DIR/a.md\"", "a.md is not a regular file or directory"),
        ("mkfifo \"$DREAMD_OUTPUT_DIR/a.md\"", "a.md is not a regular file or directory"),
        ("true", "wrote no files"),
        // Red team: a name that retitles and clears the terminal of whoever runs `dreamd show`.
        (r#"echo x > "$DREAMD_OUTPUT_DIR/$(printf '\033]0;T\007\033[2Jx.md')""#, "has a file name with control or invisible characters"),
        (r#"echo x > "$DREAMD_OUTPUT_DIR/$(printf 'a\342\200\256dm.exe')""#, "has a file name with control or invisible characters"),
        ("echo x > \"$DREAMD_OUTPUT_DIR/a.md\"; echo '{\"changes\": 1}' > \"$DREAMD_REPORT_FILE\"", "report.json is invalid: invalid type"),
    ];
    for (script, want) in cases {
        let mut e = engine(script);
        e.limits.max_output_files = 2;
        e.limits.max_output_bytes = 1000;
        let err = format!("{:#}", e.dream(store_input(), &sink()).await.unwrap_err());
        assert!(err.contains(want), "{script}: {err}");
    }
    // A hidden file is not part of a store: ignored, with a warning.
    let e = engine(&format!("{COPY}; echo x > \"$DREAMD_OUTPUT_DIR/.cache\""));
    let out = e.dream(store_input(), &sink()).await.unwrap();
    assert!(!out.candidate.files.contains_key(".cache"));
    assert_eq!(out.report.warnings[0].message, "hidden file in the engine's output ignored (not part of a store)");
}

#[tokio::test]
async fn a_report_explains_the_changes_and_states_the_cost() {
    let report = r#"{"changes": [{"kind": "dedupe", "file": "a.md", "before": "- alpha", "after": null,
        "successor": {"file": "sub/b.md", "text": "- beta"}, "reason": "alpha is beta", "extra": 1}], "cost_usd": 0.125}"#;
    let script = format!("{COPY} && printf '' > \"$DREAMD_OUTPUT_DIR/a.md\" && cat > \"$DREAMD_REPORT_FILE\" <<'EOF'\n{report}\nEOF");
    let out = engine(&script).dream(store_input(), &sink()).await.unwrap();
    assert_eq!(out.cost_usd, 0.125, "the engine's own figure");
    assert_eq!(out.report.changes.len(), 1);
    assert_eq!(out.report.changes[0].reason, "alpha is beta");
    assert_eq!(out.report.changes[0].successor.as_ref().map(|s| s.file.as_str()), Some("sub/b.md"));
    assert_eq!(out.report.warnings.len(), 1);
    assert_eq!(out.report.warnings[0].message, "unknown field changes.0.extra ignored");
}

/// Issue 8: the engine "can write anywhere, including the live store". With Landlock it can
/// write only inside its work directory, even as root.
#[tokio::test]
async fn it_cannot_write_outside_its_work_directory() {
    if confine::kernel_abi().is_none() {
        eprintln!("SKIPPED it_cannot_write_outside_its_work_directory: this kernel has no Landlock");
        return;
    }
    let live = tempfile::tempdir().unwrap();
    let memory = live.path().join("MEMORY.md");
    std::fs::write(&memory, "- the live store\n").unwrap();
    let script = |live: &Path| {
        format!(
            r#"echo evil >> "{0}/MEMORY.md"; echo "append $?"
            touch "{0}/planted.md"; echo "create $?"
            rm -f "{0}/MEMORY.md"; echo "remove $?"
            echo fine > /dev/null; echo "devnull $?"
            echo via-proc > /dev/stderr; echo "devstderr $?"
            echo scratch > "$TMPDIR/x" && echo "scratch $?"
            {COPY}"#,
            live.display()
        )
    };
    let s = sink();
    let out = engine(&script(live.path())).dream(store_input(), &s).await.unwrap();
    let status: BTreeMap<String, String> =
        s.lines("stdout").iter().filter_map(|l| l.split_once(' ')).map(|(a, b)| (a.to_string(), b.to_string())).collect();
    for op in ["append", "create", "remove"] {
        assert_ne!(status[op], "0", "{op} outside the work directory succeeded: {status:?}");
    }
    assert_eq!((status["devnull"].as_str(), status["scratch"].as_str(), status["devstderr"].as_str()), ("0", "0", "0"));
    assert_eq!(std::fs::read_to_string(&memory).unwrap(), "- the live store\n");
    assert!(!live.path().join("planted.md").exists());
    assert!(out.candidate.files.contains_key("a.md"));
    assert!(s.lines("info").iter().any(|l| l.starts_with("engine writes confined to its work directory (Landlock ABI")));

    // The same engine unconfined does what the issue saw: so the check above can fail.
    let mut e = engine(&script(live.path()));
    e.confine_writes = false;
    e.dream(store_input(), &sink()).await.unwrap();
    assert!(live.path().join("planted.md").exists());
}

/// Work directories live under the configured parent; one left by a daemon that died mid-dream
/// is removed by the next dream, and nothing else there is touched.
#[tokio::test]
async fn work_directories_of_interrupted_dreams_are_removed() {
    let parent = tempfile::tempdir().unwrap();
    let stale = parent.path().join("dreamd-engine-old/input");
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::write(stale.join("a.md"), "x").unwrap();
    std::fs::set_permissions(&stale, std::os::unix::fs::PermissionsExt::from_mode(0o555)).unwrap();
    std::fs::write(parent.path().join("keep.txt"), "not ours").unwrap();
    let mut e = engine(&format!(r#"{COPY} && echo "work $DREAMD_WORK_DIR""#));
    e.work_parent = Some(parent.path().to_path_buf());
    let s = sink();
    e.dream(store_input(), &s).await.unwrap();
    let work = s.lines("stdout").iter().find_map(|l| l.strip_prefix("work ").map(str::to_string)).unwrap();
    assert!(Path::new(&work).starts_with(parent.path()), "{work}");
    assert!(!Path::new(&work).exists(), "its own work directory is removed after the run");
    assert!(s.lines("info").contains(&"removed 1 work directory(ies) left by an interrupted dream".to_string()));
    let left: Vec<String> = std::fs::read_dir(parent.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(left, vec!["keep.txt"]);
}

/// Red team: the engine could kill dreamd (`kill -9 $PPID`) and so end every dream and the API.
/// With Landlock's signal scope (ABI 6) it signals nothing outside its own sandbox.
#[tokio::test]
async fn it_cannot_signal_dreamd() {
    if confine::kernel_abi().is_none_or(|abi| abi < 6) {
        eprintln!("SKIPPED it_cannot_signal_dreamd: this kernel has no Landlock signal scoping");
        return;
    }
    let s = sink();
    engine(&format!(r#"kill -0 $PPID; echo "parent $?"; kill -0 $$; echo "self $?"; {COPY}"#)).dream(store_input(), &s).await.unwrap();
    let out = s.lines("stdout");
    assert!(out.contains(&"self 0".to_string()), "{out:?}");
    assert!(out.iter().any(|l| l.starts_with("parent ") && l != "parent 0"), "the engine could signal dreamd: {out:?}");
}

/// Red team: a descriptor dreamd inherited without close-on-exec reached the engine, which
/// could write through it where Landlock (which checks opens) does not look.
#[tokio::test]
async fn descriptors_dreamd_inherited_do_not_reach_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let path = std::ffi::CString::new(dir.path().join("inherited").to_str().unwrap()).unwrap();
    // SAFETY: a valid path; the descriptor is closed below. No O_CLOEXEC, on purpose.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CREAT, 0o600) };
    assert!(fd > 2);
    // bash, not sh: dash takes one-digit descriptors only.
    let mut e = engine(&format!(r#"echo leaked >&{fd}; echo "write $?"; {COPY}"#));
    e.argv[0] = "bash".into();
    let s = sink();
    let r = e.dream(store_input(), &s).await;
    // SAFETY: the descriptor opened above.
    unsafe { libc::close(fd) };
    r.unwrap();
    assert_eq!(std::fs::read_to_string(dir.path().join("inherited")).unwrap(), "", "{:?}", s.lines("stdout"));
    assert!(s.lines("stdout").iter().any(|l| l.starts_with("write ") && l != "write 0"), "{:?}", s.lines("stdout"));
}
