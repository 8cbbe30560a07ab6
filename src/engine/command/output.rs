//! What the engine wrote: read within the limits, or refused with the reason.

use super::Limits;
use crate::report::{protocol, Change, ChangeKind, Report};
use crate::store::{MemoryFile, Store, Warning};
use crate::untrusted;
use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The candidate store in `dir`. Only regular files and directories may be there (a symlink,
/// FIFO, socket or device fails the job: following one could read anything); names must be
/// UTF-8; hidden files are not part of a store and are ignored with a warning. Over
/// `max_output_files` files or `max_output_bytes` bytes fails the job before anything is read.
pub fn read(dir: &Path, limits: Limits) -> Result<(Store, Vec<Warning>)> {
    let mut found: Vec<String> = Vec::new();
    let mut warnings = Vec::new();
    let mut total: u64 = 0;
    let mut stack = vec![String::new()];
    while let Some(rel_dir) = stack.pop() {
        let abs = dir.join(&rel_dir);
        for entry in std::fs::read_dir(&abs).with_context(|| format!("cannot list the engine's output {}", abs.display()))? {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                bail!("the engine's output has a file name that is not UTF-8 in {:?}", untrusted::log_line(&rel_dir, 200));
            };
            let rel = if rel_dir.is_empty() { name.clone() } else { format!("{rel_dir}/{name}") };
            let shown = untrusted::log_line(&rel, 200);
            // Such a name would reach the live store, the index and every terminal that lists it.
            if name.chars().any(|c| c.is_control() || untrusted::is_invisible_format(c)) {
                bail!("the engine's output {shown} has a file name with control or invisible characters");
            }
            let ft = entry.file_type()?;
            if name.starts_with('.') {
                warnings.push(Warning { file: shown, message: "hidden file in the engine's output ignored (not part of a store)".into() });
                continue;
            }
            if ft.is_dir() {
                stack.push(rel);
            } else if ft.is_file() {
                total = total.saturating_add(entry.metadata()?.len());
                found.push(rel);
                if found.len() > limits.max_output_files {
                    bail!("the engine wrote more than engine.max_output_files ({}) files", limits.max_output_files);
                }
                if total > limits.max_output_bytes {
                    bail!("the engine wrote more than engine.max_output_bytes ({} bytes)", limits.max_output_bytes);
                }
            } else {
                bail!("the engine's output {shown} is not a regular file or directory (a symlink, FIFO, socket or device)");
            }
        }
    }
    let mut store = Store::default();
    let mut budget = limits.max_output_bytes;
    for rel in found {
        let path = dir.join(&rel);
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .with_context(|| format!("cannot read the engine's output {}", untrusted::log_line(&rel, 200)))?;
        let mut bytes = Vec::new();
        // Checked again while reading: a file can grow after it was listed.
        (&mut f).take(budget + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > budget {
            bail!("the engine wrote more than engine.max_output_bytes ({} bytes)", limits.max_output_bytes);
        }
        budget -= bytes.len() as u64;
        let mtime = f.metadata().and_then(|m| m.modified()).ok().map(DateTime::<Utc>::from);
        store.files.insert(rel, MemoryFile { bytes, mtime });
    }
    Ok((store, warnings))
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
    Report { engine: "command".into(), changes, totals: protocol::totals(before, after), ..Default::default() }
}
