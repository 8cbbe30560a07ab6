//! The apply journal (`state_dir/apply.journal`): written before the live store is touched and
//! removed only after the database has recorded the apply, so after a crash it says what was
//! under way — which job, which generation, which hashes — and recovery can finish the
//! filesystem's side and the database's.

use super::Method;
use crate::store;
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const VERSION: u32 = 2;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    pub version: u32,
    pub method: Method,
    /// The memory directory with links resolved: what is actually replaced.
    pub memory_dir: PathBuf,
    /// Swap: the sibling directory holding the candidate. Journal: the hidden folder inside
    /// the memory directory holding the files to move in.
    pub staging: PathBuf,
    /// Swap: device and inode of the staging directory. After a crash they tell which of the
    /// two directories is the staged one, whatever either holds by then.
    #[serde(default)]
    pub staging_id: Option<(u64, u64)>,
    pub generation_dir: PathBuf,
    pub generation_id: i64,
    /// The job whose candidate this is; `None` for a rollback.
    pub job_id: Option<i64>,
    pub reason: String,
    pub started_at: DateTime<Utc>,
    /// The live store the apply replaces, and the candidate it puts in place.
    pub base_hash: String,
    pub candidate_hash: String,
    pub replaced_bytes: u64,
    pub replaced_files: u64,
    /// Journal: the file operations, in order.
    #[serde(default)]
    pub ops: Vec<Op>,
    /// Journal: directories the operations create (removed again on a roll back).
    #[serde(default)]
    pub new_dirs: Vec<String>,
    /// Journal: set once every operation is done or undone, before the staging folder and
    /// (when undone) the generation are cleaned up.
    #[serde(default)]
    pub outcome: Option<Settled>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Settled {
    Applied,
    RolledBack,
}

/// One file of a journal apply: its hash before (`None`: created) and after (`None`: deleted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    pub path: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl Op {
    /// Name of the staged file for op `i`: the candidate's bytes before, the replaced file's after.
    pub fn staged_name(i: usize) -> String {
        format!("{i}")
    }
}

/// What is in the journal file.
pub enum Read {
    Absent,
    Intent(Box<Intent>),
    /// Not JSON at all: the file was damaged (it is written whole and renamed into place).
    Torn,
}

impl Intent {
    pub fn new_version() -> u32 {
        VERSION
    }

    pub fn read(path: &Path) -> Result<Read> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Read::Absent),
            Err(e) => return Err(e).with_context(|| format!("cannot read apply journal {}", path.display())),
        };
        match serde_json::from_slice::<Intent>(&bytes) {
            Ok(i) if i.version == VERSION => Ok(Read::Intent(Box::new(i))),
            _ if serde_json::from_slice::<serde_json::Value>(&bytes).is_ok() => anyhow::bail!(
                "apply journal {} was written by another version of dreamd; finish it with that version, \
                 or check the memory directory and remove the journal",
                path.display()
            ),
            _ => Ok(Read::Torn),
        }
    }

    /// Write whole, sync, rename into place, sync the directory: the journal is complete or absent.
    pub fn write(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("journal.tmp");
        store::write_file_mode(&tmp, &serde_json::to_vec_pretty(self)?, 0o600)?;
        std::fs::rename(&tmp, path).context("cannot write apply journal")?;
        store::sync_dir(path.parent().unwrap_or(Path::new(".")))
    }
}

pub fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).context("cannot remove apply journal"),
    }
    store::sync_dir(path.parent().unwrap_or(Path::new(".")))
}
