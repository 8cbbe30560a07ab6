//! Making a candidate the live store, atomically, keeping the replaced store as a generation,
//! and touching nothing dreamd does not manage.
//!
//! Two ways, because a memory directory that is a mount point (a container volume) cannot be
//! renamed:
//! - **swap** ([`swap`]): build the new store beside the live directory, carry over everything
//!   dreamd does not manage, and exchange the two with one `renameat2(RENAME_EXCHANGE)`.
//!   Readers see the old store or the new one, never a mix.
//! - **journal** ([`journal`]): stage the changed files in a hidden folder inside the directory
//!   and exchange them into place one by one, each checked against the hash it had when the
//!   dream began. Every file is whole at every instant.
//!
//! Either way the plan is written to the apply journal ([`intent`]) before anything live
//! changes, and removed only after the database has recorded the result, so a crash at any
//! step is finished or undone on the next start ([`recover`], [`live::reconcile`]). Writes go
//! through directory descriptors and never follow a symbolic link ([`fence`]); a memory
//! directory configured through a link is resolved to the directory it points at.

mod dir;
pub mod failpoint;
mod fence;
mod intent;
mod journal;
pub mod live;
mod modes;
pub mod recover;
mod swap;

pub use live::{reconcile, replace_live, ReplaceError, Replaced};

use crate::config::ApplyMode;
use crate::store::Store;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Swap,
    Journal,
}

/// Where things go during an apply, and what the journal records for recovery.
pub struct Target<'a> {
    pub memory_dir: &'a Path,
    /// `state_dir/generations/N`: receives the replaced store.
    pub generation_dir: &'a Path,
    /// `state_dir/apply.journal`.
    pub journal_path: &'a Path,
    pub mode: ApplyMode,
    pub record: Record,
}

/// What the database will say about this apply; in the journal so recovery can say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub generation_id: i64,
    /// The job whose candidate is applied; `None` for a rollback.
    pub job_id: Option<i64>,
    pub reason: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("the live store changed since the dream began (expected {expected}, found {found})")]
    Stale { expected: String, found: String },
    /// The candidate would write through or over something dreamd does not manage.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Io(#[from] anyhow::Error),
}

impl From<std::io::Error> for ApplyError {
    fn from(e: std::io::Error) -> Self {
        ApplyError::Io(e.into())
    }
}

/// The store an apply replaced (now the generation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub method: Method,
    pub replaced_hash: String,
    pub replaced_bytes: u64,
    pub replaced_files: u64,
}

/// True when `candidate` would change nothing: same paths, same bytes. Such a candidate is a
/// no-op job; applying it would only make a generation identical to the live store.
pub fn is_noop(live: &Store, candidate: &Store) -> bool {
    live.same_content(candidate)
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
///
/// The apply journal stays on disk: call [`finish`] once the result is recorded (the
/// database), so that a crash in between is reconciled from the journal.
pub fn apply(target: &Target, candidate: &Store, base_hash: &str) -> Result<Applied, ApplyError> {
    let real = fence::resolve(target.memory_dir)?;
    let method = choose_method(target.mode, &real);
    let current = Store::read(&real)?;
    let found = current.hash();
    if found != base_hash {
        return Err(ApplyError::Stale { expected: base_hash.into(), found });
    }
    fence::check_candidate(&fence::Dir::open(&real)?, candidate).map_err(ApplyError::Refused)?;
    let applied = |method| Applied {
        method,
        replaced_hash: found.clone(),
        replaced_bytes: current.total_bytes(),
        replaced_files: current.files.len() as u64,
    };
    match method {
        Method::Swap => match swap::run(target, &real, candidate, &current) {
            Err(ApplyError::Io(e)) if target.mode == ApplyMode::Auto && is_busy_or_cross_device(&e) => {
                tracing::warn!(error = %e, "cannot swap the memory directory; applying file by file instead");
                journal::run(target, &real, candidate, &current)?;
                Ok(applied(Method::Journal))
            }
            other => other.map(|()| applied(Method::Swap)),
        },
        Method::Journal => journal::run(target, &real, candidate, &current).map(|()| applied(Method::Journal)),
    }
}

/// The apply is recorded: drop its journal.
pub fn finish(journal_path: &Path) -> anyhow::Result<()> {
    intent::remove(journal_path)
}

fn is_busy_or_cross_device(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| matches!(io.raw_os_error(), Some(libc::EBUSY) | Some(libc::EXDEV)))
}

#[cfg(test)]
mod tests;
