//! Making a candidate the live store, atomically, keeping the replaced store as a generation.
//!
//! Two ways, because a memory directory that is a mount point (a container volume) cannot be
//! renamed:
//! - **swap**: write the new store beside the live directory and exchange the two with one
//!   `renameat2(RENAME_EXCHANGE)`. Readers see the old store or the new one, never a mix.
//! - **journal**: write the new files into a hidden staging folder inside the directory, record
//!   the plan in a journal, then rename file by file. Every file is whole at every instant, and
//!   a crash mid-way is rolled forward from the journal on the next start.
//!
//! Either way the live hash is re-checked right before the switch, and the replaced store is
//! copied out as a numbered generation before anything changes.

use crate::config::ApplyMode;
use crate::store::{self, Store};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Swap,
    Journal,
}

/// Where things go during an apply.
pub struct Target<'a> {
    pub memory_dir: &'a Path,
    /// `state_dir/generations/N`: receives the replaced store.
    pub generation_dir: &'a Path,
    /// `state_dir/apply.journal`.
    pub journal_path: &'a Path,
    pub mode: ApplyMode,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("the live store changed since the dream began (expected {expected}, found {found})")]
    Stale { expected: String, found: String },
    #[error(transparent)]
    Io(#[from] anyhow::Error),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Journal {
    method: Method,
    memory_dir: PathBuf,
    staging: PathBuf,
    generation_dir: PathBuf,
    base_hash: String,
    candidate_hash: String,
    /// Journal method: files to move from staging into place, and files to delete.
    #[serde(default)]
    replace: Vec<String>,
    #[serde(default)]
    delete: Vec<String>,
}

/// Whether `dir` is a mount point: its device differs from its parent's.
pub fn is_mount_point(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(canonical) = dir.canonicalize() else { return false };
    let Some(parent) = canonical.parent() else { return true };
    match (std::fs::metadata(&canonical), std::fs::metadata(parent)) {
        (Ok(a), Ok(b)) => a.dev() != b.dev() || a.ino() == b.ino(),
        _ => false,
    }
}

pub fn choose_method(mode: ApplyMode, memory_dir: &Path) -> Method {
    match mode {
        ApplyMode::Swap => Method::Swap,
        ApplyMode::Journal => Method::Journal,
        ApplyMode::Auto if is_mount_point(memory_dir) => Method::Journal,
        ApplyMode::Auto => Method::Swap,
    }
}

/// Replace the live store with `candidate` if the live store still hashes to `base_hash`.
/// The replaced store ends up in `target.generation_dir`.
pub fn apply(target: &Target, candidate: &Store, base_hash: &str) -> Result<Method, ApplyError> {
    let method = choose_method(target.mode, target.memory_dir);
    let current = Store::read(target.memory_dir)?;
    let found = current.hash();
    if found != base_hash {
        return Err(ApplyError::Stale { expected: base_hash.into(), found });
    }
    match method {
        Method::Swap => match swap(target, candidate, base_hash) {
            Err(ApplyError::Io(e)) if target.mode == ApplyMode::Auto && is_busy_or_cross_device(&e) => {
                tracing::warn!(error = %e, "cannot swap the memory directory; applying file by file instead");
                journal_apply(target, candidate, &current, base_hash)?;
                Ok(Method::Journal)
            }
            other => other.map(|_| Method::Swap),
        },
        Method::Journal => journal_apply(target, candidate, &current, base_hash).map(|_| Method::Journal),
    }
}

fn is_busy_or_cross_device(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| matches!(io.raw_os_error(), Some(libc::EBUSY) | Some(libc::EXDEV)))
}

fn staging_sibling(memory_dir: &Path, tag: &str) -> Result<PathBuf> {
    let name = memory_dir.file_name().context("memory directory has no name")?.to_string_lossy().to_string();
    let parent = memory_dir.parent().context("memory directory has no parent")?;
    Ok(parent.join(format!(".{name}.dreamd-{tag}")))
}

fn swap(target: &Target, candidate: &Store, base_hash: &str) -> Result<(), ApplyError> {
    let memory_dir = target.memory_dir;
    let tag = generation_tag(target.generation_dir);
    let staging = staging_sibling(memory_dir, &tag)?;
    if staging.exists() {
        std::fs::remove_dir_all(&staging).with_context(|| format!("cannot clear {}", staging.display()))?;
    }
    // A full disk fails here, before anything live is touched; leave no half copy behind.
    if let Err(e) = candidate.write_to(&staging).and_then(|()| copy_hidden_files(memory_dir, &staging)) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e.into());
    }
    copy_permissions(memory_dir, &staging);
    write_journal(
        target.journal_path,
        &Journal {
            method: Method::Swap,
            memory_dir: memory_dir.into(),
            staging: staging.clone(),
            generation_dir: target.generation_dir.into(),
            base_hash: base_hash.into(),
            candidate_hash: candidate.hash(),
            replace: vec![],
            delete: vec![],
        },
    )?;
    // Last look before the switch, then the switch, then a look at what was switched out:
    // a write that landed in between sends the store back.
    let now = Store::read(memory_dir)?.hash();
    if now != base_hash {
        cleanup_failed(target.journal_path, &staging);
        return Err(ApplyError::Stale { expected: base_hash.into(), found: now });
    }
    exchange(&staging, memory_dir)?;
    let switched_out = Store::read(&staging)?.hash();
    if switched_out != base_hash {
        exchange(&staging, memory_dir)?;
        cleanup_failed(target.journal_path, &staging);
        return Err(ApplyError::Stale { expected: base_hash.into(), found: switched_out });
    }
    store::sync_dir(memory_dir.parent().unwrap_or(Path::new("/")))?;
    finish_swap(&staging, target.generation_dir)?;
    remove_journal(target.journal_path)?;
    Ok(())
}

fn cleanup_failed(journal: &Path, staging: &Path) {
    let _ = std::fs::remove_dir_all(staging);
    let _ = std::fs::remove_file(journal);
}

/// Move the switched-out store to its generation directory (rename, or copy across devices).
fn finish_swap(old: &Path, generation_dir: &Path) -> Result<()> {
    if let Some(parent) = generation_dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if generation_dir.exists() {
        std::fs::remove_dir_all(generation_dir)?;
    }
    match std::fs::rename(old, generation_dir) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            let s = Store::read(old)?;
            s.write_to(generation_dir)?;
            std::fs::remove_dir_all(old)?;
            Ok(())
        }
        Err(e) => Err(e).with_context(|| format!("cannot move {} to {}", old.display(), generation_dir.display())),
    }
}

fn journal_apply(target: &Target, candidate: &Store, current: &Store, base_hash: &str) -> Result<(), ApplyError> {
    let memory_dir = target.memory_dir;
    let staging = memory_dir.join(format!(".dreamd-staging-{}", generation_tag(target.generation_dir)));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).with_context(|| format!("cannot clear {}", staging.display()))?;
    }
    // Only changed files are staged and moved.
    let changed = Store {
        files: candidate
            .files
            .iter()
            .filter(|(p, f)| current.files.get(*p).is_none_or(|c| c.bytes != f.bytes))
            .map(|(p, f)| (p.clone(), f.clone()))
            .collect(),
    };
    // The generation is complete before the live store is touched. A full disk fails in one of
    // these two writes, with nothing live changed; leave no half copies behind.
    let prepared = changed.write_to(&staging).and_then(|()| {
        if target.generation_dir.exists() {
            std::fs::remove_dir_all(target.generation_dir).context("cannot clear generation directory")?;
        }
        current.write_to(target.generation_dir)
    });
    if let Err(e) = prepared {
        let _ = std::fs::remove_dir_all(&staging);
        let _ = std::fs::remove_dir_all(target.generation_dir);
        return Err(e.into());
    }
    let journal = Journal {
        method: Method::Journal,
        memory_dir: memory_dir.into(),
        staging: staging.clone(),
        generation_dir: target.generation_dir.into(),
        base_hash: base_hash.into(),
        candidate_hash: candidate.hash(),
        replace: changed.files.keys().cloned().collect(),
        delete: current.files.keys().filter(|p| !candidate.files.contains_key(*p)).cloned().collect(),
    };
    let now = Store::read(memory_dir)?.hash();
    if now != base_hash {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(ApplyError::Stale { expected: base_hash.into(), found: now });
    }
    write_journal(target.journal_path, &journal)?;
    roll_forward(&journal)?;
    remove_journal(target.journal_path)?;
    Ok(())
}

/// Idempotent: safe to run again after a crash at any point.
fn roll_forward(j: &Journal) -> Result<()> {
    for rel in &j.replace {
        let from = j.staging.join(rel);
        let to = j.memory_dir.join(rel);
        if !from.exists() {
            continue; // moved before the crash
        }
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::rename(&from, &to).with_context(|| format!("cannot move {} into place", to.display()))?;
    }
    for rel in &j.delete {
        match std::fs::remove_file(j.memory_dir.join(rel)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove {rel}")),
        }
        remove_empty_parents(&j.memory_dir, rel);
    }
    if j.staging.exists() {
        std::fs::remove_dir_all(&j.staging)?;
    }
    store::sync_dir(&j.memory_dir)?;
    Ok(())
}

fn remove_empty_parents(root: &Path, rel: &str) {
    let mut p = Path::new(rel).parent();
    while let Some(dir) = p.filter(|d| !d.as_os_str().is_empty()) {
        if std::fs::remove_dir(root.join(dir)).is_err() {
            break;
        }
        p = dir.parent();
    }
}

/// Finish or undo an apply interrupted by a crash. Returns what was done, if anything.
pub fn recover(journal_path: &Path) -> Result<Option<String>> {
    let bytes = match std::fs::read(journal_path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).context("cannot read apply journal"),
    };
    let Ok(j) = serde_json::from_slice::<Journal>(&bytes) else {
        // A journal torn mid-write means the switch had not started.
        std::fs::remove_file(journal_path)?;
        return Ok(Some("removed a torn apply journal; the live store was not touched".into()));
    };
    let msg = match j.method {
        Method::Journal => {
            roll_forward(&j)?;
            format!("finished an interrupted apply into {} from its journal", j.memory_dir.display())
        }
        Method::Swap => {
            if !j.staging.exists() {
                "nothing to recover for an interrupted swap".to_string()
            } else {
                let staged = Store::read(&j.staging)?.hash();
                if staged == j.base_hash {
                    // The exchange happened: the old store waits to become a generation.
                    finish_swap(&j.staging, &j.generation_dir)?;
                    "finished an interrupted swap: kept the replaced store as a generation".to_string()
                } else {
                    std::fs::remove_dir_all(&j.staging)?;
                    "discarded the staging copy of an apply that had not switched".to_string()
                }
            }
        }
    };
    remove_journal(journal_path)?;
    Ok(Some(msg))
}

fn write_journal(path: &Path, j: &Journal) -> Result<()> {
    let tmp = path.with_extension("journal.tmp");
    store::write_file_synced(&tmp, &serde_json::to_vec_pretty(j)?)?;
    std::fs::rename(&tmp, path).context("cannot write apply journal")?;
    store::sync_dir(path.parent().unwrap_or(Path::new(".")))
}

fn remove_journal(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).context("cannot remove apply journal"),
    }
}

fn generation_tag(generation_dir: &Path) -> String {
    generation_dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "new".into())
}

/// Hidden files (the agent's `.consolidate-lock`, …) are not part of the store but must stay.
fn copy_hidden_files(from: &Path, to: &Path) -> Result<()> {
    copy_hidden_files_io(from, to).with_context(|| format!("cannot copy hidden files of {}", from.display()))
}

fn copy_hidden_files_io(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') && entry.file_type()?.is_file() {
            let dest = to.join(&name);
            std::fs::copy(entry.path(), &dest)?;
            if let Ok(m) = entry.metadata().and_then(|m| m.modified()) {
                if let Ok(f) = std::fs::File::options().write(true).open(&dest) {
                    let _ = f.set_modified(m);
                }
            }
        }
    }
    Ok(())
}

fn copy_permissions(from: &Path, to: &Path) {
    if let Ok(m) = std::fs::metadata(from) {
        let _ = std::fs::set_permissions(to, m.permissions());
    }
}

/// Atomically exchange two paths (Linux `renameat2(RENAME_EXCHANGE)`).
fn exchange(a: &Path, b: &Path) -> Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let ca = CString::new(a.as_os_str().as_bytes())?;
    let cb = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both are valid NUL-terminated paths; AT_FDCWD resolves them as given.
    let rc = unsafe { libc::syscall(libc::SYS_renameat2, libc::AT_FDCWD, ca.as_ptr(), libc::AT_FDCWD, cb.as_ptr(), libc::RENAME_EXCHANGE) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        return Err(anyhow::Error::new(err).context(format!("cannot exchange {} and {}", a.display(), b.display())));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
