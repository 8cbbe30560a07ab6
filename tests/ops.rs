//! Running as a service: systemd's readiness and watchdog protocol, its state and runtime
//! directories, and logs fit for a file or a journal. The real binary, with a datagram socket
//! standing in for systemd's notify socket.

mod common;
use common::*;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// systemd's side of sd_notify(3): a datagram socket the daemon reports to.
struct Systemd {
    socket: UnixDatagram,
    path: PathBuf,
}

impl Systemd {
    fn new(dir: &Path) -> Systemd {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Systemd { socket, path }
    }

    /// The next message that contains `what` (others, such as watchdog pings, are skipped).
    fn expect(&self, what: &str) -> String {
        let mut buf = [0u8; 4096];
        loop {
            let n = self.socket.recv(&mut buf).unwrap_or_else(|e| panic!("no {what:?} from dreamd: {e}"));
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            if msg.lines().any(|l| l == what) {
                return msg;
            }
        }
    }
}

/// A daemon that is killed if the test ends early (a failed assertion), so none outlives it.
struct Running(Option<Child>);

impl Running {
    fn pid(&self) -> i32 {
        self.0.as_ref().map_or(0, |c| c.id() as i32)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn spawn(config: &Path, log: &Path, envs: &[(&str, &Path)], extra: &[&str]) -> Running {
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "--config"]).arg(config).args(extra);
    cmd.stdout(Stdio::null()).stderr(std::fs::File::create(log).unwrap()).env_remove("RUST_LOG").env_remove("NO_COLOR");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    Running(Some(cmd.spawn().unwrap()))
}

/// SIGTERM, and a clean exit.
fn stop(mut daemon: Running) {
    let mut child = daemon.0.take().unwrap();
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().unwrap().success());
}

#[test]
fn ready_only_once_serving_then_watchdog_pings_and_stopping() {
    let env = Env::quickstart("");
    let systemd = Systemd::new(env.path());
    let child = spawn(
        &env.config(),
        &env.path().join("daemon.log"),
        &[("NOTIFY_SOCKET", &systemd.path), ("WATCHDOG_USEC", Path::new("200000"))],
        &[],
    );
    systemd.expect("READY=1");
    // READY means recovered and bound: the API answers now, without retrying.
    let (status, body) = raw(&env.socket(), "GET", "/v1/health", "").expect("socket bound before READY");
    assert_eq!((status, &body["ok"]), (200, &serde_json::json!(true)));
    // WatchdogSec=0.2s: pings at half that, for as long as the daemon serves.
    systemd.expect("WATCHDOG=1");
    systemd.expect("WATCHDOG=1");
    unsafe { libc::kill(child.pid(), libc::SIGTERM) };
    systemd.expect("STOPPING=1");
    stop(child);
}

#[test]
fn under_systemd_state_and_socket_live_in_its_directories() {
    let env = Env::quickstart("");
    // The unit's config says nothing about where state or the socket go.
    std::fs::write(env.config(), "agent:\n  memory_dir: ./memory\n  sessions_dir: ./sessions\ntriggers:\n  min_new_sessions: null\n")
        .unwrap();
    let (state, runtime) = (env.path().join("lib/dreamd"), env.path().join("run/dreamd"));
    std::fs::create_dir_all(&state).unwrap();
    std::fs::create_dir_all(&runtime).unwrap();
    let systemd = Systemd::new(env.path());
    let dirs = [("STATE_DIRECTORY", state.as_path()), ("RUNTIME_DIRECTORY", runtime.as_path()), ("NOTIFY_SOCKET", &systemd.path)];
    let child = spawn(&env.config(), &env.path().join("daemon.log"), &dirs, &[]);
    systemd.expect("READY=1");
    assert!(state.join("dreamd.db").exists(), "state in $STATE_DIRECTORY");
    assert!(runtime.join("dreamd.sock").exists(), "socket in $RUNTIME_DIRECTORY");
    assert!(!env.path().join(".dreamd").exists(), "nothing beside the config");
    // A client in the same environment (ExecStartPost, `systemd-run`) finds it from the config.
    let out = Command::new(BIN).args(["health", "--config"]).arg(env.config()).env("RUNTIME_DIRECTORY", &runtime).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    stop(child);
}

/// Log a schedule (a library logs at INFO when one starts) and a directory that does not
/// exist yet (its field was a Rust debug list); shut down; return the log.
fn startup_log(format: &str) -> String {
    let env = Env::quickstart("triggers:\n  min_new_sessions: null\n  schedule: \"0 3 * * *\"\n");
    let text = std::fs::read_to_string(env.config()).unwrap().replace("sessions_dir: ./sessions", "sessions_dir: ./later");
    std::fs::write(env.config(), text).unwrap();
    let systemd = Systemd::new(env.path());
    let log = env.path().join("daemon.log");
    let child = spawn(&env.config(), &log, &[("NOTIFY_SOCKET", &systemd.path)], &["--log-format", format]);
    systemd.expect("READY=1");
    stop(child);
    std::fs::read_to_string(log).unwrap()
}

#[test]
fn logs_to_a_file_have_no_colours_and_no_library_chatter() {
    let log = startup_log("human");
    assert!(log.contains("dreamd is running") && log.contains("schedule armed"), "{log}");
    assert!(!log.contains('\x1b'), "ANSI escapes in a file: {log:?}");
    assert!(!log.contains("tokio_cron_scheduler"), "library INFO: {log}");
}

#[test]
fn json_logs_carry_plain_values() {
    let log = startup_log("json");
    let lines: Vec<serde_json::Value> =
        log.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect();
    let waiting = lines.iter().find(|l| l["fields"]["dirs"].is_string()).unwrap_or_else(|| panic!("no dirs field: {log}"));
    let dirs = waiting["fields"]["dirs"].as_str().unwrap();
    assert!(dirs.ends_with("/later") && !dirs.contains('[') && !dirs.contains('"'), "{dirs}");
    assert!(!log.contains('\x1b'));
}

/// Until the daemon core logs the schedule's next tick with `%` (src/trigger.rs, `schedule
/// armed`), the value is Rust's `Some(…)`. The next tick itself is right (see schedule tests).
#[test]
fn json_logs_show_the_next_tick_as_a_timestamp() {
    let log = startup_log("json");
    let armed: serde_json::Value = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .find(|l: &serde_json::Value| l["fields"]["message"] == "schedule armed")
        .unwrap();
    let next = armed["fields"]["next"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(next).is_ok(), "{next}");
}

/// Every file under `dir` except `.git`, hidden ones included, with its bytes.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if e.file_name() == ".git" {
                continue;
            }
            let kind = e.file_type().unwrap();
            if kind.is_dir() {
                walk(root, &p, out);
            } else if kind.is_file() {
                out.push((p.strip_prefix(root).unwrap().display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    let out =
        Command::new("git").args(["-c", "user.name=t", "-c", "user.email=t@example.com"]).args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

#[test]
fn the_quickstart_runs_again_after_its_reset() {
    // The example as a user's checkout has it: its tracked files in a git repository.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let listed = git(repo, &["ls-files", "-z", "examples/quickstart"]);
    let env = Env { dir: tempfile::tempdir().unwrap(), clock: std::sync::Arc::new(dreamd::clock::ManualClock::new(chrono::Utc::now())) };
    for rel in listed.stdout.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let rel = Path::new(std::str::from_utf8(rel).unwrap());
        let to = env.path().join(rel.strip_prefix("examples/quickstart").unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(repo.join(rel), &to).unwrap();
    }
    git(env.path(), &["init", "-q"]);
    git(env.path(), &["add", "."]);
    git(env.path(), &["commit", "-qm", "quickstart"]);
    let shipped = tree(env.path());

    for round in 1..=2 {
        let notify_dir = tempfile::tempdir().unwrap();
        let systemd = Systemd::new(notify_dir.path());
        let child = spawn(&env.config(), &notify_dir.path().join("daemon.log"), &[("NOTIFY_SOCKET", &systemd.path)], &[]);
        systemd.expect("READY=1");
        // Every shipped session counts as new again: left alone, the example would dream.
        let status = env.json(&["status"]);
        let sessions = &status["sessions"];
        let new = sessions["new_finished"].as_u64().unwrap() + sessions["new_in_progress"].as_u64().unwrap();
        assert_eq!(new, 4, "round {round}: {sessions}");
        let id = env.json(&["dream", "--force"])["job"]["id"].as_i64().unwrap();
        assert_eq!(env.follow_until_settled(id)["status"], "applied", "round {round}");
        assert_ne!(tree(env.path()), shipped, "round {round}: the dream changed the example");
        assert!(env.path().join("memory/insights.md").exists());
        stop(child);

        let out = Command::new(env.path().join("reset.sh")).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(tree(env.path()), shipped, "round {round}: reset.sh restores the example exactly");
    }
}
