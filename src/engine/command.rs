//! An external program as engine: it reads a copy of the store and the transcripts and writes
//! the candidate store. dreamd derives the report from the diff.

use super::{DreamInput, DreamOutput, EventSink};
use crate::report::{approx_tokens, Change, ChangeKind, Report, Totals};
use crate::store::Store;
use anyhow::{bail, Context, Result};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct CommandEngine {
    pub argv: Vec<String>,
    pub cost_per_job_usd: f64,
    pub timeout: Duration,
}

impl CommandEngine {
    pub async fn dream(&self, input: DreamInput, events: &dyn EventSink) -> Result<DreamOutput> {
        let work = tempfile::tempdir().context("cannot create a work directory for the command engine")?;
        let in_dir = work.path().join("input");
        let out_dir = work.path().join("output");
        input.store.write_to(&in_dir)?;
        std::fs::create_dir_all(&out_dir)?;
        let (program, args) = self.argv.split_first().context("engine.command is empty")?;
        events.emit("info", format!("running {program}"));
        let mut child = tokio::process::Command::new(program)
            .args(args)
            .env("DREAMD_INPUT_DIR", &in_dir)
            .env("DREAMD_OUTPUT_DIR", &out_dir)
            .kill_on_drop(true)
            .stdin(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start engine command {program}"))?;
        let status = match tokio::time::timeout(self.timeout, child.wait()).await {
            Ok(s) => s?,
            Err(_) => bail!("engine command timed out after {:?}", self.timeout),
        };
        if !status.success() {
            bail!("engine command exited with {status}");
        }
        let candidate = Store::read(&out_dir).context("engine command left no readable output")?;
        let report = diff_report(&input.store, &candidate);
        Ok(DreamOutput { candidate, report, cost_usd: self.cost_per_job_usd })
    }
}

/// A report for an engine that does not explain itself: one change per file touched.
pub fn diff_report(before: &Store, after: &Store) -> Report {
    let mut changes = Vec::new();
    for (path, f) in &before.files {
        let old = String::from_utf8_lossy(&f.bytes).to_string();
        match after.files.get(path) {
            None => changes.push(Change::new(ChangeKind::Edit, path, Some(old), None, "file removed by the engine".into())),
            Some(g) if g.bytes != f.bytes => changes.push(Change::new(
                ChangeKind::Edit,
                path,
                Some(old),
                Some(String::from_utf8_lossy(&g.bytes).to_string()),
                "file rewritten by the engine".into(),
            )),
            _ => {}
        }
    }
    for (path, g) in &after.files {
        if !before.files.contains_key(path) {
            changes.push(Change::new(
                ChangeKind::Edit,
                path,
                None,
                Some(String::from_utf8_lossy(&g.bytes).to_string()),
                "file added by the engine".into(),
            ));
        }
    }
    let (b, a) = (before.total_bytes(), after.total_bytes());
    Report {
        engine: "command".into(),
        changes,
        totals: Totals {
            files_before: before.files.len(),
            files_after: after.files.len(),
            bytes_before: b,
            bytes_after: a,
            tokens_before: approx_tokens(b),
            tokens_after: approx_tokens(a),
            ..Default::default()
        },
        ..Default::default()
    }
}
