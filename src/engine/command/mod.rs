//! An external program as engine, contained.
//!
//! It runs in a private work directory (its cwd) holding read-only copies of the store and of
//! the session transcripts, with a cleared environment, in its own process group (killed whole
//! on exit, timeout and cancel), with its stdout/stderr escaped into the job's log and its
//! output capped. It writes the candidate store and, optionally, a `report.json` explaining it
//! (`crate::report::protocol`). The live store is never handed to it: not as a path, not as the
//! cwd, not through the environment. The protocol is documented in `docs/engine-protocol.md`.

mod confine;
mod output;
mod process;
mod workdir;

pub use output::diff_report;

use super::{Canceled, DreamInput, DreamOutput, EventSink, Price};
use crate::report::protocol;
use crate::untrusted;
use anyhow::{bail, Context, Result};
use process::Outcome;
use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;
use workdir::WorkDir;

/// Caps on what one run may produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of candidate files (and, separately, of `report.json`); also the largest file the
    /// engine's processes may write anywhere (`RLIMIT_FSIZE`).
    pub max_output_bytes: u64,
    pub max_output_files: usize,
    /// stdout/stderr lines kept in the job's log; the rest are counted.
    pub max_log_lines: usize,
}

#[derive(Debug, Clone)]
pub struct CommandEngine {
    pub argv: Vec<String>,
    pub price: Price,
    pub timeout: Duration,
    pub limits: Limits,
    /// Variables passed through from dreamd's environment (which is otherwise not).
    pub pass_env: Vec<String>,
    /// Let the engine write only inside its work directory (Landlock, where the kernel has it).
    pub confine_writes: bool,
    /// Where work directories are made (`STATE_DIR/engine`); None: the system temp directory.
    pub work_parent: Option<std::path::PathBuf>,
}

/// Variables every engine gets from dreamd's environment; nothing else leaks unless configured.
const ALWAYS_PASSED: &[&str] = &["PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ"];
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

impl CommandEngine {
    pub async fn dream(&self, input: DreamInput, events: &dyn EventSink) -> Result<DreamOutput> {
        let (program, args) = self.argv.split_first().context("engine.command is empty")?;
        // Copies are blocking file work: off the async workers.
        let parent = self.work_parent.clone();
        let (input, work) = tokio::task::spawn_blocking(move || {
            let work = WorkDir::prepare(&input, parent.as_deref());
            (input, work)
        })
        .await?;
        let work = work.context("cannot prepare the command engine's work directory")?;
        if work.stale_removed > 0 {
            events.emit("info", format!("removed {} work directory(ies) left by an interrupted dream", work.stale_removed));
        }
        events.emit(
            "info",
            format!(
                "running {} in {} with {} file(s) and {} session(s)",
                untrusted::log_line(program, 200),
                work.root().display(),
                input.store.files.len(),
                work.sessions_copied
            ),
        );
        let confine = self.confine_writes && self.confinement_available(events);
        let spec = process::Spec {
            program,
            args,
            cwd: work.root(),
            env: self.environment(&work, &input),
            max_file_bytes: self.limits.max_output_bytes,
            timeout: self.timeout,
            max_log_lines: self.limits.max_log_lines,
            confine_writes_to: confine.then(|| work.root()),
        };
        let run = process::run(&spec, &input.cancel, events).await;
        let failed = match run {
            Ok(r) => match r.outcome {
                Outcome::Exited(status) if status.success() => None,
                Outcome::Exited(status) => Some(anyhow::anyhow!("{}", failure(status, self.limits.max_output_bytes, &r.stderr_tail))),
                Outcome::TimedOut => {
                    Some(anyhow::anyhow!("the engine command did not finish within {:?}; its process group was killed", self.timeout))
                }
                Outcome::Canceled => Some(Canceled.into()),
            },
            Err(e) => Some(e),
        };
        if let Some(e) = failed {
            // Removing the copies is blocking work too.
            let _ = tokio::task::spawn_blocking(move || drop(work)).await;
            return Err(e);
        }
        let limits = self.limits;
        let price = self.price;
        // The report's warnings reach the job log through the runner, like the built-in engine's.
        tokio::task::spawn_blocking(move || finish(&input, &work, limits, price)).await?
    }

    /// Whether Landlock can confine writes here; says so in the job log either way.
    fn confinement_available(&self, events: &dyn EventSink) -> bool {
        match confine::kernel_abi() {
            Some(abi) => {
                events.emit("info", format!("engine writes confined to its work directory (Landlock ABI {abi})"));
                true
            }
            None => {
                events.emit("warning", "Landlock is not available on this kernel: the engine can write wherever dreamd's user can".into());
                false
            }
        }
    }

    fn environment(&self, work: &WorkDir, input: &DreamInput) -> Vec<(OsString, OsString)> {
        let mut env: Vec<(OsString, OsString)> = Vec::new();
        for name in ALWAYS_PASSED.iter().copied().chain(self.pass_env.iter().map(String::as_str)) {
            if let Some(v) = std::env::var_os(name) {
                env.push((name.into(), v));
            }
        }
        let has = |env: &[(OsString, OsString)], k: &str| env.iter().any(|(n, _)| n == k);
        if !has(&env, "PATH") {
            env.push(("PATH".into(), DEFAULT_PATH.into()));
        }
        if !has(&env, "HOME") {
            env.push(("HOME".into(), work.root().into()));
        }
        let layout = match input.layout {
            crate::config::Layout::ClaudeCode => "claude-code",
            crate::config::Layout::Generic => "generic",
        };
        env.extend([
            ("TMPDIR".into(), work.tmp.clone().into()),
            ("DREAMD_PROTOCOL".into(), protocol::PROTOCOL_VERSION.to_string().into()),
            ("DREAMD_WORK_DIR".into(), work.root().into()),
            ("DREAMD_INPUT_DIR".into(), work.input.clone().into()),
            ("DREAMD_SESSIONS_DIR".into(), work.sessions.clone().into()),
            ("DREAMD_OUTPUT_DIR".into(), work.output.clone().into()),
            ("DREAMD_REPORT_FILE".into(), work.report.clone().into()),
            ("DREAMD_LAYOUT".into(), layout.into()),
            ("DREAMD_NOW".into(), input.now.to_rfc3339().into()),
            ("DREAMD_MAX_OUTPUT_BYTES".into(), self.limits.max_output_bytes.to_string().into()),
            ("DREAMD_MAX_OUTPUT_FILES".into(), self.limits.max_output_files.to_string().into()),
        ]);
        env
    }
}

/// Read what a successful run left: the candidate (capped), its report or the diff's, the cost.
fn finish(input: &DreamInput, work: &WorkDir, limits: Limits, price: Price) -> Result<DreamOutput> {
    let (candidate, mut warnings) = output::read(&work.output, limits)?;
    if candidate.files.is_empty() && !input.store.files.is_empty() {
        bail!("the engine command wrote no files to DREAMD_OUTPUT_DIR (an engine that changes nothing copies its input)");
    }
    let (mut report, reported_cost) = match protocol::read(&work.report, limits.max_output_bytes)? {
        Some(parsed) => protocol::into_report(parsed, &input.store, &candidate, "command")?,
        None => (diff_report(&input.store, &candidate), None),
    };
    let count = |s: &crate::store::Store| crate::memory::entries(&crate::memory::parse_store(s, input.layout, &input.pins).0).count();
    report.totals.entries_before = count(&input.store);
    report.totals.entries_after = count(&candidate);
    report.sessions_read = input.transcripts.len();
    report.skipped_lines = input.transcripts.iter().map(|t| t.skipped_lines).sum();
    warnings.append(&mut report.warnings);
    report.warnings = warnings;
    let cost_usd = reported_cost.unwrap_or_else(|| price.of(input.store.total_bytes(), input.transcripts.len()));
    Ok(DreamOutput { candidate, report, cost_usd })
}

/// Why a run that exited failed, in words, with the end of its stderr.
fn failure(status: std::process::ExitStatus, max_bytes: u64, stderr_tail: &[String]) -> String {
    let what = match (status.code(), status.signal()) {
        // A shell reports a child killed by a signal as 128 + the signal.
        (Some(code), _) if code == 128 + libc::SIGXFSZ => format!(
            "the engine command exited with status {code} (a process was killed for writing a file over engine.max_output_bytes ({max_bytes} bytes))"
        ),
        (Some(code), _) => format!("the engine command exited with status {code}"),
        (None, Some(libc::SIGXFSZ)) => {
            format!("the engine command was killed for writing a file over engine.max_output_bytes ({max_bytes} bytes)")
        }
        (None, Some(sig)) => format!("the engine command was killed by signal {sig}"),
        (None, None) => format!("the engine command ended with {status}"),
    };
    if stderr_tail.is_empty() {
        what
    } else {
        format!("{what}; its last stderr line(s): {}", stderr_tail.join(" | "))
    }
}

#[cfg(test)]
mod tests;
