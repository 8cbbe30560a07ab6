//! Drive the real `dreamd` binary: a daemon in a temp dir, and CLI calls against its socket.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_dreamd");

pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    /// A temp copy of the quickstart example with `extra` YAML appended to its config.
    pub fn quickstart(extra: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
        copy_dir(&src.join("memory"), &dir.path().join("memory"));
        copy_dir(&src.join("sessions"), &dir.path().join("sessions"));
        let env = Env { dir };
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

    pub fn start(&self) -> Daemon {
        self.start_with_env(&[])
    }

    pub fn start_with_env(&self, envs: &[(&str, &str)]) -> Daemon {
        let log = std::fs::File::create(self.path().join(format!("daemon-{}.log", std::process::id()))).unwrap();
        let mut cmd = Command::new(BIN);
        cmd.args(["run", "--config"]).arg(self.config()).stdout(Stdio::null()).stderr(log).env("RUST_LOG", "info");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap();
        let d = Daemon { child: Some(child), socket: self.socket(), log: self.path().join(format!("daemon-{}.log", std::process::id())) };
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

    /// `dreamd dream --force`: thresholds do not apply, every limit does.
    pub fn dream(&self) -> i64 {
        self.json(&["dream", "--force"])["job"]["id"].as_i64().unwrap()
    }

    pub fn job(&self, id: i64) -> Value {
        self.json(&["show", &id.to_string()])["job"].clone()
    }

    /// Wait until the job leaves queued/running/staged/approved.
    pub fn wait_settled(&self, id: i64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let j = self.job(id);
            let s = j["status"].as_str().unwrap().to_string();
            if !["queued", "running", "staged", "approved"].contains(&s.as_str()) {
                return j;
            }
            assert!(Instant::now() < deadline, "job {id} still {s}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn snapshot(&self) -> Vec<(String, Vec<u8>)> {
        snapshot(&self.memory())
    }
}

pub struct Daemon {
    pub child: Option<Child>,
    pub socket: PathBuf,
    pub log: PathBuf,
}

impl Daemon {
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if raw(&self.socket, "GET", "/v1/health", "").is_some_and(|(s, _)| s == 200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("daemon did not come up; log:\n{}", self.log_text());
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    pub fn signal(&self, sig: i32) {
        unsafe { libc::kill(self.pid(), sig) };
    }

    /// SIGTERM and wait; returns whether it exited successfully.
    pub fn stop(mut self) -> bool {
        self.signal(libc::SIGTERM);
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.success();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("daemon did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(25));
        }
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
