//! Running the engine's process: its own process group, killed whole; output as escaped lines.

use super::super::EventSink;
use crate::untrusted;
use anyhow::{Context, Result};
use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Characters of one output line kept in the log (bytes read per line: four times that).
pub const LOG_LINE_CHARS: usize = 1000;
const LINE_BYTES: usize = LOG_LINE_CHARS * 4;
/// stderr lines quoted in a failure message.
const TAIL_LINES: usize = 3;
/// After the group is killed, how long to wait for its pipes to close. Only a process that
/// left the group (a daemonising grandchild) can hold them longer; it is then not waited for.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

pub struct Spec<'a> {
    pub program: &'a str,
    pub args: &'a [String],
    pub cwd: &'a Path,
    /// The whole environment (it is cleared first).
    pub env: Vec<(OsString, OsString)>,
    /// `RLIMIT_FSIZE`: no file the engine writes can grow past this.
    pub max_file_bytes: u64,
    pub timeout: Duration,
    pub max_log_lines: usize,
    /// Allow writes beneath this directory only (Landlock), when set.
    pub confine_writes_to: Option<&'a Path>,
}

#[derive(Debug)]
pub enum Outcome {
    Exited(ExitStatus),
    TimedOut,
    Canceled,
}

pub struct Run {
    pub outcome: Outcome,
    /// The last stderr lines, escaped, for a failure message.
    pub stderr_tail: Vec<String>,
}

/// The engine's process group, killed with SIGKILL when asked and whenever this is dropped (a
/// job future dropped by a timeout or an abort still takes the engine's processes with it).
struct Group(i32);

impl Group {
    fn kill(&self) {
        // SAFETY: killpg has no memory-safety preconditions; ESRCH (group already gone) is fine.
        unsafe {
            libc::killpg(self.0, libc::SIGKILL);
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Stdout,
    Stderr,
}

struct Line {
    stream: Stream,
    bytes: Vec<u8>,
    cut: bool,
}

/// Run to completion, timeout or cancel. The process group is killed in every case, so
/// nothing the engine started outlives the run (short of leaving the group on purpose).
pub async fn run(spec: &Spec<'_>, cancel: &CancellationToken, events: &dyn EventSink) -> Result<Run> {
    let mut cmd = tokio::process::Command::new(spec.program);
    cmd.args(spec.args)
        .current_dir(spec.cwd)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let limit = libc::rlimit { rlim_cur: spec.max_file_bytes as libc::rlim_t, rlim_max: spec.max_file_bytes as libc::rlim_t };
    let mut ruleset = match spec.confine_writes_to {
        Some(dir) => Some(super::confine::writes_only_beneath(dir).context("cannot set up the Landlock ruleset")?),
        None => None,
    };
    let sockets = super::confine::no_unix_sockets().context("cannot set up the seccomp filter")?;
    // SAFETY: getpid has no preconditions.
    let daemon = unsafe { libc::getpid() };
    // SAFETY: between fork and exec only async-signal-safe calls without allocation:
    // prctl, getppid, setrlimit, close_range, seccomp and landlock_restrict_self (the ruleset
    // and the filter were built before the fork).
    unsafe {
        cmd.pre_exec(move || {
            // If dreamd dies without killing the group (SIGKILL, a crash), the engine dies too.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 || libc::getppid() != daemon {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Descriptors dreamd inherited without close-on-exec (from whatever started it)
            // would let the engine write where Landlock, which checks opens, never looks.
            // Marked rather than closed: std's exec-error pipe must stay open until the exec.
            // Kernels before 5.11 lack the call; nothing is left to do there but go on.
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC);
            if seccompiler::apply_filter(&sockets).is_err() {
                return Err(std::io::Error::from_raw_os_error(libc::EPERM));
            }
            if let Some(r) = ruleset.take() {
                if r.restrict_self().is_err() {
                    return Err(std::io::Error::from_raw_os_error(libc::EPERM));
                }
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().with_context(|| format!("cannot start engine command {}", untrusted::log_line(spec.program, 200)))?;
    let group = child.id().map(|pid| Group(pid as i32));
    let (tx, mut rx) = mpsc::channel::<Line>(64);
    let mut pumps = Vec::new();
    if let Some(out) = child.stdout.take() {
        pumps.push(tokio::spawn(pump(out, Stream::Stdout, tx.clone())));
    }
    if let Some(err) = child.stderr.take() {
        pumps.push(tokio::spawn(pump(err, Stream::Stderr, tx.clone())));
    }
    drop(tx);
    let kill = || {
        if let Some(g) = &group {
            g.kill();
        }
    };

    let deadline = tokio::time::sleep(spec.timeout);
    tokio::pin!(deadline);
    let mut drain: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
    let mut outcome: Option<Outcome> = None;
    let mut pipes_open = true;
    let mut log = Log { max: spec.max_log_lines, logged: 0, dropped: 0, tail: VecDeque::new() };
    loop {
        tokio::select! {
            msg = rx.recv(), if pipes_open => match msg {
                Some(line) => log.line(line, events),
                None => {
                    pipes_open = false;
                    if outcome.is_some() {
                        break;
                    }
                }
            },
            status = child.wait(), if outcome.is_none() => {
                // Background processes the engine left behind go with it.
                kill();
                outcome = Some(Outcome::Exited(status.context("cannot wait for the engine command")?));
            }
            _ = cancel.cancelled(), if outcome.is_none() => {
                kill();
                let _ = child.wait().await;
                outcome = Some(Outcome::Canceled);
            }
            _ = &mut deadline, if outcome.is_none() => {
                kill();
                let _ = child.wait().await;
                outcome = Some(Outcome::TimedOut);
            }
            _ = async { if let Some(d) = drain.as_mut() { d.await } }, if drain.is_some() => break,
        }
        if outcome.is_some() {
            if !pipes_open {
                break;
            }
            if drain.is_none() {
                drain = Some(Box::pin(tokio::time::sleep(DRAIN_GRACE)));
            }
        }
    }
    for p in pumps {
        p.abort();
    }
    if log.dropped > 0 {
        events.emit("info", format!("{} more output line(s) not logged (engine.max_log_lines is {})", log.dropped, log.max));
    }
    let outcome = outcome.unwrap_or(Outcome::Canceled);
    Ok(Run { outcome, stderr_tail: log.tail.into_iter().collect() })
}

struct Log {
    max: usize,
    logged: usize,
    dropped: usize,
    tail: VecDeque<String>,
}

impl Log {
    fn line(&mut self, line: Line, events: &dyn EventSink) {
        let full = self.logged >= self.max;
        if full && line.stream == Stream::Stdout {
            self.dropped += 1; // counted, not formatted: a flood costs little
            return;
        }
        let mut text = untrusted::log_line(&String::from_utf8_lossy(&line.bytes), LOG_LINE_CHARS);
        if line.cut && !text.ends_with('…') {
            text.push('…');
        }
        if line.stream == Stream::Stderr {
            if self.tail.len() == TAIL_LINES {
                self.tail.pop_front();
            }
            self.tail.push_back(untrusted::log_line(&text, 200));
        }
        if full {
            self.dropped += 1;
            return;
        }
        self.logged += 1;
        let kind = match line.stream {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        };
        events.emit(kind, text);
    }
}

/// Split a pipe into lines of at most [`LINE_BYTES`] (the rest of a longer line is read and
/// discarded), so no output, however long its lines, is held whole.
async fn pump(reader: impl AsyncRead + Unpin, stream: Stream, tx: mpsc::Sender<Line>) {
    let mut reader = BufReader::new(reader);
    let mut bytes = Vec::new();
    let mut cut = false;
    loop {
        let buf = match reader.fill_buf().await {
            Ok(b) if !b.is_empty() => b,
            _ => break,
        };
        let newline = buf.iter().position(|&b| b == b'\n');
        let chunk = &buf[..newline.unwrap_or(buf.len())];
        let room = LINE_BYTES.saturating_sub(bytes.len());
        if chunk.len() > room {
            cut = true;
        }
        bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = chunk.len() + usize::from(newline.is_some());
        reader.consume(used);
        if newline.is_some() {
            if tx.send(Line { stream, bytes: std::mem::take(&mut bytes), cut }).await.is_err() {
                return;
            }
            cut = false;
        }
    }
    if !bytes.is_empty() || cut {
        let _ = tx.send(Line { stream, bytes, cut }).await;
    }
}
