//! Test harness: a daemon on a temp copy of the quickstart example, two ways.
//!
//! - [`Env::start`]: **in-process**, `dreamd::daemon::start` on a bound temp socket with a
//!   clock that moves only when the test says so ([`Env::clock`]). Driven through the API
//!   client; tests wait on the daemon's own notifications (job status changes, job events,
//!   trigger evaluations, part health) with a generous timeout, never on a fixed delay.
//! - [`Env::start_binary`]: the **real binary**, for signals, exit codes and the CLI. Waits
//!   follow the job's event stream (it ends when the job settles).
//!
//! Engines that must stay "running" until the test lets them go block on a FIFO
//! ([`Env::gate_engine`]): opening the FIFO for writing is the event that releases them.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use dreamd::cli::client::{ApiError, Client};
use dreamd::clock::ManualClock;
use dreamd::context::{Context, TriggerReport};
use dreamd::daemon::{self, Options, Running};
use dreamd::state::JobEvent;
use dreamd::supervise::{PartHealth, RestartPolicy};
use serde_json::{json, Value};
use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub const BIN: &str = env!("CARGO_BIN_EXE_dreamd");

/// How long any wait for an event may take before the test fails. Generous: CI machines are
/// slow and shared; a passing test never waits this long.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Print a reason a test could not run, past the test harness's output capture, so a skip is
/// never silent.
pub fn skip(reason: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED ({}): {reason}", std::thread::current().name().unwrap_or("?"));
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

pub struct Env {
    pub dir: tempfile::TempDir,
    /// The in-process daemons' clock: starts at the real time and stands still.
    pub clock: Arc<ManualClock>,
}

impl Env {
    /// A temp copy of the quickstart example with `extra` YAML appended to its config.
    pub fn quickstart(extra: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
        copy_dir(&src.join("memory"), &dir.path().join("memory"));
        copy_dir(&src.join("sessions"), &dir.path().join("sessions"));
        let env = Env { dir, clock: Arc::new(ManualClock::new(Utc::now())) };
        env.write_config(extra);
        env
    }

    /// Config for tests: nothing fires on its own unless a test says so.
    pub fn write_config(&self, extra: &str) {
        let base = "agent:\n  name: test\n  layout: claude-code\n  memory_dir: ./memory\n  sessions_dir: ./sessions\nstate_dir: ./state\n";
        let mut text = base.to_string();
        if !extra.contains("triggers:") {
            text.push_str("triggers:\n  min_new_sessions: null\n  max_index_lines: null\n");
        }
        text.push_str(extra);
        std::fs::write(self.config(), text).unwrap();
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    pub fn config(&self) -> PathBuf {
        self.path().join("dreamd.yaml")
    }
    pub fn memory(&self) -> PathBuf {
        self.path().join("memory")
    }
    pub fn socket(&self) -> PathBuf {
        self.path().join("state/dreamd.sock")
    }

    pub fn snapshot(&self) -> Vec<(String, Vec<u8>)> {
        snapshot(&self.memory())
    }

    /// A command engine that blocks until [`Env::release`] (a FIFO), then copies the store
    /// and deletes the lines matching `pattern` (sed) from its Markdown files.
    pub fn gate_engine(&self, pattern: &str) -> String {
        let fifo = self.path().join("release-engine");
        if !fifo.exists() {
            let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
            // SAFETY: a valid NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
        }
        format!(
            "engine:\n  kind: command\n  command: [\"sh\", \"-c\", \"read go < '{}'; cp -r \\\"$DREAMD_INPUT_DIR\\\"/. \\\"$DREAMD_OUTPUT_DIR\\\"/ && sed -i '/{pattern}/d' \\\"$DREAMD_OUTPUT_DIR\\\"/*.md\"]\n",
            fifo.display()
        )
    }

    /// Let a [`Env::gate_engine`] go. Returns once the engine has the FIFO open, i.e. it was
    /// running and is now released. (The shell's `read` is a builtin: a killed engine leaves
    /// no process behind on the FIFO.)
    pub fn release(&self) {
        let fifo = self.path().join("release-engine");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(std::fs::write(fifo, b"go\n")));
        rx.recv_timeout(PATIENCE).expect("the engine never opened its FIFO").unwrap();
    }

    // --- in-process ----------------------------------------------------------------------

    pub fn start(&self) -> InProc {
        self.start_with(RestartPolicy::default())
    }

    pub fn start_with(&self, restart: RestartPolicy) -> InProc {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let config = dreamd::config::Config::load(&self.config()).unwrap();
        let shutdown = CancellationToken::new();
        let (reload, reloads) = mpsc::channel(1);
        let clock: Arc<dyn dreamd::clock::Clock> = self.clock.clone();
        let opts = Options { config: config.clone(), clock, reloads: Some(reloads), restart };
        let running = rt
            .block_on(async {
                let listener = daemon::bind(&config).await?;
                daemon::start(opts, listener, shutdown.clone()).await
            })
            .unwrap();
        let ctx = running.ctx.clone();
        InProc { rt, ctx, running: Some(running), shutdown, reload, client: Client::new(&self.socket()) }
    }

    // --- the real binary -----------------------------------------------------------------

    pub fn start_binary(&self) -> Daemon {
        self.start_binary_with_env(&[])
    }

    pub fn start_binary_with_env(&self, envs: &[(&str, &str)]) -> Daemon {
        let log_path = self.path().join(format!("daemon-{}.log", std::process::id()));
        let log = std::fs::File::create(&log_path).unwrap();
        let mut cmd = Command::new(BIN);
        cmd.args(["run", "--config"]).arg(self.config()).stdout(Stdio::null()).stderr(log).env("RUST_LOG", "info");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap();
        let d = Daemon { child: Some(child), socket: self.socket(), log: log_path };
        d.wait_ready();
        d
    }

    /// Run a CLI verb with `--config`, return the output.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(BIN).args(args).arg("--config").arg(self.config()).output().unwrap()
    }

    /// Run a CLI verb with `--json`, expect success, parse stdout.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.push("--json");
        let out = self.cli(&a);
        assert!(out.status.success(), "dreamd {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("dreamd {args:?}: not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
    }

    /// `dreamd dream --force` through the CLI.
    pub fn cli_dream(&self) -> i64 {
        self.json(&["dream", "--force"])["job"]["id"].as_i64().unwrap()
    }

    /// A job as `dreamd show --json` has it.
    pub fn job(&self, id: i64) -> Value {
        self.json(&["show", &id.to_string()])["job"].clone()
    }

    /// Wait until the job settles (its event stream ends), then show it. Works against either
    /// kind of daemon.
    pub fn follow_until_settled(&self, id: i64) -> Value {
        // Through the CLI, so it finds the socket wherever the config puts it.
        let out = self.cli(&["log", &id.to_string(), "--follow"]);
        assert!(out.status.success(), "dreamd log --follow {id}: {}", String::from_utf8_lossy(&out.stderr));
        self.json(&["show", &id.to_string()])["job"].clone()
    }
}

/// An in-process daemon. Stopped (and its runtime shut down) when dropped.
pub struct InProc {
    rt: tokio::runtime::Runtime,
    pub ctx: Arc<Context>,
    running: Option<Running>,
    shutdown: CancellationToken,
    reload: mpsc::Sender<()>,
    client: Client,
}

impl InProc {
    fn block<T>(&self, f: impl Future<Output = T>) -> T {
        self.rt.block_on(f)
    }

    /// Run `f` until it returns, failing the test after [`PATIENCE`].
    fn within<T>(&self, what: &str, f: impl Future<Output = T>) -> T {
        self.block(async { tokio::time::timeout(PATIENCE, f).await }).unwrap_or_else(|_| panic!("timed out waiting for {what}"))
    }

    pub fn get(&self, path: &str) -> Value {
        self.block(self.client.get(path)).unwrap_or_else(|e| panic!("GET {path}: {e:#}"))
    }

    pub fn post(&self, path: &str, body: Value) -> Result<Value, ApiError> {
        self.block(self.client.post(path, &body)).map_err(|e| match e.downcast::<ApiError>() {
            Ok(api) => api,
            Err(other) => panic!("POST {path}: {other:#}"),
        })
    }

    pub fn status(&self) -> Value {
        self.get("/v1/status")
    }

    pub fn job(&self, id: i64) -> Value {
        self.get(&format!("/v1/jobs/{id}"))["job"].clone()
    }

    pub fn jobs(&self) -> Vec<Value> {
        self.get("/v1/jobs")["jobs"].as_array().unwrap().clone()
    }

    /// `POST /v1/dreams {"force": true}`; returns the job id.
    pub fn dream(&self) -> i64 {
        let v = self.post("/v1/dreams", json!({"force": true})).unwrap_or_else(|e| panic!("dream: {e}"));
        v["job"]["id"].as_i64().unwrap()
    }

    /// Wait until job `id` satisfies `pred` (checked on every status change).
    pub fn wait_job(&self, id: i64, pred: impl Fn(&Value) -> bool) -> Value {
        let mut notices = self.ctx.notices.subscribe();
        self.within(&format!("job {id}"), async {
            loop {
                let job = self.client.get(&format!("/v1/jobs/{id}")).await.unwrap()["job"].clone();
                if pred(&job) {
                    return job;
                }
                let _ = notices.recv().await;
            }
        })
    }

    /// Wait until job `id` leaves queued/running/staged/approved.
    pub fn wait_settled(&self, id: i64) -> Value {
        self.wait_job(id, |j| !["queued", "running", "staged", "approved"].contains(&j["status"].as_str().unwrap()))
    }

    /// Wait for a job newer than `after` to exist.
    pub fn wait_new_job(&self, after: i64) -> Value {
        let mut notices = self.ctx.notices.subscribe();
        self.within("a new job", async {
            loop {
                let jobs = self.client.get("/v1/jobs").await.unwrap()["jobs"].clone();
                if let Some(j) = jobs.get(0).filter(|j| j["id"].as_i64().unwrap() > after) {
                    return j.clone();
                }
                let _ = notices.recv().await;
            }
        })
    }

    /// Wait for job `id` to log an event that satisfies `pred`.
    pub fn wait_event(&self, id: i64, pred: impl Fn(&JobEvent) -> bool) -> JobEvent {
        let mut live = self.ctx.events.subscribe();
        self.within(&format!("an event of job {id}"), async {
            if let Some(e) = self.ctx.state.events(id, 0).unwrap().into_iter().find(|e| pred(e)) {
                return e;
            }
            loop {
                match live.recv().await {
                    Ok(e) if e.job_id == id && pred(&e) => return e,
                    Ok(_) => {}
                    Err(_) => {
                        if let Some(e) = self.ctx.state.events(id, 0).unwrap().into_iter().find(|e| pred(e)) {
                            return e;
                        }
                    }
                }
            }
        })
    }

    /// Wait for the trigger loop to have evaluated the gate in a way that satisfies `pred`.
    pub fn wait_evaluation(&self, pred: impl Fn(&TriggerReport) -> bool) -> TriggerReport {
        let mut rx = self.ctx.triggering.subscribe();
        let wait = async {
            loop {
                {
                    let r = rx.borrow_and_update();
                    if pred(&r) {
                        return r.clone();
                    }
                }
                rx.changed().await.unwrap();
            }
        };
        let found = self.block(async { tokio::time::timeout(PATIENCE, wait).await });
        found.unwrap_or_else(|_| panic!("timed out waiting for a trigger evaluation; the last one: {:?}", self.ctx.triggering.borrow()))
    }

    /// Wait until the watcher has published a scan that satisfies `pred` (files written by the
    /// test are seen by the daemon).
    pub fn wait_scan(&self, pred: impl Fn(&dreamd::watch::Scan) -> bool) {
        let mut rx = self.ctx.subscribe_scans();
        self.within("a scan", async {
            loop {
                if rx.borrow_and_update().as_deref().is_some_and(&pred) {
                    return;
                }
                rx.changed().await.unwrap();
            }
        })
    }

    /// The number of gate evaluations so far.
    pub fn evaluations(&self) -> u64 {
        self.ctx.triggering.borrow().evaluations
    }

    /// Wait until part `name`'s health satisfies `pred`.
    pub fn wait_health(&self, name: &str, pred: impl Fn(&PartHealth) -> bool) -> PartHealth {
        let mut rx = self.ctx.health.subscribe();
        self.within(&format!("the health of {name}"), async {
            loop {
                if let Some(h) = self.ctx.health.get(name).filter(|h| pred(h)) {
                    return h;
                }
                rx.changed().await.unwrap();
            }
        })
    }

    /// Send a reload (SIGHUP) and wait until the daemon runs with a changed config.
    pub fn reload(&self) {
        let mut config = self.ctx.subscribe_config();
        config.mark_unchanged();
        self.reload.try_send(()).unwrap();
        self.within("the config reload", config.changed()).unwrap();
    }

    /// Stop (as SIGTERM would) and return the daemon's result.
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let running = self.running.take().unwrap();
        self.block(running.wait())
    }

    /// Wait for the daemon to stop on its own (a critical failure).
    pub fn wait_exit(mut self) -> anyhow::Result<()> {
        let running = self.running.take().unwrap();
        let r = self.within("the daemon to stop", running.wait());
        self.shutdown.cancel();
        r
    }
}

impl Drop for InProc {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(r) = self.running.take() {
            let _ = self.rt.block_on(async { tokio::time::timeout(PATIENCE, r.wait()).await });
        }
    }
}

/// Read job `id`'s event stream (`?follow=true`) until `stop` says so or the stream ends (the
/// job settled). Returns the events read.
pub fn follow_events(socket: &Path, id: i64, stop: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(s, "GET /v1/jobs/{id}/events?follow=true HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut r = BufReader::new(s);
    let mut events = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return events;
        }
        // Chunked framing: size lines and blank lines are not JSON.
        if let Ok(v) = serde_json::from_str::<Value>(line.trim()) {
            if v.is_object() {
                let done = stop(&v);
                events.push(v);
                if done {
                    return events;
                }
            }
        }
    }
}

pub struct Daemon {
    pub child: Option<Child>,
    pub socket: PathBuf,
    pub log: PathBuf,
}

impl Daemon {
    fn wait_ready(&self) {
        wait_until("the daemon to answer", || raw(&self.socket, "GET", "/v1/health", "").is_some_and(|(s, _)| s == 200));
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.pid(), sig) };
    }

    /// SIGTERM and wait; returns whether it exited successfully.
    pub fn stop(mut self) -> bool {
        self.signal(libc::SIGTERM);
        let mut child = self.child.take().unwrap();
        let mut status = None;
        wait_until("the daemon to exit", || {
            status = child.try_wait().unwrap();
            status.is_some()
        });
        status.unwrap().success()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Wait for something outside the test's reach (another process) with a deadline: check it
/// again every few milliseconds. An event wait, not a delay: it returns as soon as `cond` holds.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// One raw HTTP/1.1 request over the socket: (status, body as JSON).
pub fn raw(socket: &Path, method: &str, path: &str, body: &str) -> Option<(u16, Value)> {
    let mut s = UnixStream::connect(socket).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let status: u16 = resp.split_whitespace().nth(1)?.parse().ok()?;
    let body = resp.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    Some((status, serde_json::from_str(body).unwrap_or(Value::Null)))
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// Every non-hidden file under `dir` with its bytes, sorted.
pub fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with('.') {
                continue;
            }
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push((p.strip_prefix(root).unwrap().to_string_lossy().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

pub fn parse_time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap().into()
}

/// Set a file's mtime.
pub fn set_mtime(path: &Path, t: DateTime<Utc>) {
    std::fs::File::options().write(true).open(path).unwrap().set_modified(t.into()).unwrap();
}
