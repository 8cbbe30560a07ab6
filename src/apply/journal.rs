//! Journal: file by file, for a memory directory that cannot be renamed (a mount point).
//!
//! The changed files are staged in a hidden folder inside the directory (same filesystem, so
//! moves are renames) and the replaced store is copied out as the generation before anything
//! live changes. Then, one file at a time, the staged file is exchanged with the live one
//! (`RENAME_EXCHANGE`) and what came out is compared with the hash the file had when the dream
//! began. A file the agent wrote in the meantime does not match: it is exchanged straight
//! back, everything done so far is undone, and the job is stale. The agent's write is never
//! overwritten. New files are moved in with `RENAME_NOREPLACE`, deleted files moved out and
//! checked the same way. Nothing else in the directory is looked at.

use super::fence::{self, Dir};
use super::intent::{Intent, Op, Settled};
use super::modes::{file_meta, new_file_meta, split};
use super::{failpoint, ApplyError, Method, Target};
use crate::store::{self, Store};
use anyhow::Context;
use rustix::fs::RenameFlags;
use std::ffi::{OsStr, OsString};
use std::io;
use std::path::Path;

/// Why the operations stopped.
enum Stop {
    /// A file was not what the plan expected: `done` operations were completed before it.
    Changed {
        done: usize,
        path: String,
    },
    Io {
        done: usize,
        error: io::Error,
    },
}

pub(super) fn run(target: &Target, real: &Path, candidate: &Store, current: &Store) -> Result<(), ApplyError> {
    let live = Dir::open(real)?;
    let staging_name = staging_name(target.record.generation_id);
    live.remove_tree(&staging_name)?;
    let (ops, new_dirs) = plan(&live, current, candidate);
    let staging = live.mkdir(&staging_name, fence::PRIVATE_DIR)?;
    // The generation is complete before the live store is touched. A full disk fails in one of
    // these writes, with nothing live changed; leave no half copies behind.
    if let Err(e) = stage(&live, &staging, &ops, candidate, current, target.generation_dir) {
        let _ = live.remove_tree(&staging_name);
        let _ = std::fs::remove_dir_all(target.generation_dir);
        return Err(e.into());
    }
    failpoint::step("apply::journal::staged")?;
    let mut intent = Intent {
        version: Intent::new_version(),
        method: Method::Journal,
        memory_dir: real.to_path_buf(),
        staging: live.join(&staging_name),
        staging_id: None,
        generation_dir: target.generation_dir.to_path_buf(),
        generation_id: target.record.generation_id,
        job_id: target.record.job_id,
        reason: target.record.reason.clone(),
        started_at: target.record.at,
        base_hash: current.hash(),
        candidate_hash: candidate.hash(),
        replaced_bytes: current.total_bytes(),
        replaced_files: current.files.len() as u64,
        ops,
        new_dirs,
        outcome: None,
    };
    let now = Store::read(real)?.hash();
    if now != intent.base_hash {
        let _ = std::fs::remove_dir_all(target.generation_dir);
        let _ = live.remove_tree(&staging_name);
        return Err(ApplyError::Stale { expected: intent.base_hash, found: now });
    }
    intent.write(target.journal_path)?;
    failpoint::step("apply::journal::journal_written")?;
    match forward(&live, &staging, &intent, 0)? {
        None => settle(&live, &staging_name, &mut intent, Settled::Applied, target.journal_path).map(|_| ()),
        Some(stop) => Err(undo(&live, &staging, &staging_name, &mut intent, stop, target.journal_path)),
    }
}

pub(super) fn staging_name(generation_id: i64) -> OsString {
    OsString::from(format!(".dreamd-staging-{generation_id}"))
}

/// The changed files, in an order kind to readers: new files first, then replacements (the
/// index among them), then deletions; and the directories new files need.
fn plan(live: &Dir, current: &Store, candidate: &Store) -> (Vec<Op>, Vec<String>) {
    let hash = |s: &Store, p: &str| s.files.get(p).map(|f| store::file_hash(&f.bytes));
    let mut creates = Vec::new();
    let mut replaces = Vec::new();
    for (path, file) in &candidate.files {
        match current.files.get(path) {
            None => creates.push(Op { path: path.clone(), before: None, after: Some(store::file_hash(&file.bytes)) }),
            Some(c) if c.bytes != file.bytes => {
                replaces.push(Op { path: path.clone(), before: hash(current, path), after: hash(candidate, path) })
            }
            Some(_) => {}
        }
    }
    let deletes = current.files.keys().filter(|p| !candidate.files.contains_key(*p)).map(|p| Op {
        path: p.clone(),
        before: hash(current, p),
        after: None,
    });
    let ops: Vec<Op> = creates.into_iter().chain(replaces).chain(deletes).collect();
    let mut new_dirs: Vec<String> = Vec::new();
    for op in ops.iter().filter(|o| o.before.is_none()) {
        let mut so_far = std::path::PathBuf::new();
        for c in split(Path::new(&op.path)).0.components() {
            so_far.push(c);
            let s = so_far.to_string_lossy().to_string();
            if live.walk(&so_far).is_err() && !new_dirs.contains(&s) {
                new_dirs.push(s);
            }
        }
    }
    (ops, new_dirs)
}

fn stage(live: &Dir, staging: &Dir, ops: &[Op], candidate: &Store, current: &Store, generation_dir: &Path) -> anyhow::Result<()> {
    let default = new_file_meta(live, current)?;
    for (i, op) in ops.iter().enumerate() {
        if let Some(file) = op.after.as_ref().and_then(|_| candidate.files.get(&op.path)) {
            let meta = file_meta(live, Path::new(&op.path), current, file, &default);
            staging.create(&staged(i), &file.bytes, &meta)?;
        }
    }
    staging.sync()?;
    let gens = generation_dir.parent().context("generation directory has no parent")?;
    store::create_private_dir(gens)?;
    if generation_dir.exists() {
        std::fs::remove_dir_all(generation_dir).context("cannot clear generation directory")?;
    }
    current.write_private(generation_dir)
}

fn staged(i: usize) -> OsString {
    OsString::from(Op::staged_name(i))
}

fn removed(i: usize) -> OsString {
    OsString::from(format!("d{i}"))
}

/// Run the operations from `from` on. `Ok(None)`: all done.
fn forward(live: &Dir, staging: &Dir, intent: &Intent, from: usize) -> Result<Option<Stop>, ApplyError> {
    let root = fence::dir_meta(&live.walk(Path::new(""))).unwrap_or(fence::PRIVATE_DIR);
    for (i, op) in intent.ops.iter().enumerate().skip(from) {
        failpoint::step("apply::journal::before_op")?;
        match do_op(live, staging, i, op, &|p: &Path| fence::dir_meta(&live.walk(p)).unwrap_or(root)) {
            Ok(true) => {}
            Ok(false) => return Ok(Some(Stop::Changed { done: i, path: op.path.clone() })),
            Err(error) => return Ok(Some(Stop::Io { done: i, error })),
        }
        failpoint::step("apply::journal::after_op")?;
    }
    for op in intent.ops.iter().filter(|o| o.after.is_none()) {
        remove_empty_parents(live, &op.path);
    }
    live.sync()?;
    failpoint::step("apply::journal::ops_done")?;
    Ok(None)
}

/// One operation, checked. `Ok(false)`: the live file was not what the plan expected, and is
/// as the agent left it.
fn do_op(live: &Dir, staging: &Dir, i: usize, op: &Op, dir_meta: &dyn Fn(&Path) -> fence::Meta) -> io::Result<bool> {
    let (dir, leaf) = split(Path::new(&op.path));
    match (&op.before, &op.after) {
        (None, _) => {
            let d = live.walk_create(dir, dir_meta)?;
            match staging.rename(&staged(i), &d, leaf, RenameFlags::NOREPLACE) {
                Ok(()) => Ok(true),
                Err(e) if fence::errno(&e) == Some(libc::EEXIST) => Ok(false),
                Err(e) => Err(e),
            }
        }
        (Some(before), Some(_)) => {
            let Some(d) = open_existing(live, dir)? else { return Ok(false) };
            match staging.exchange(&staged(i), &d, leaf) {
                Ok(()) => {}
                Err(e) if fence::errno(&e) == Some(libc::ENOENT) => return Ok(false),
                Err(e) => return Err(e),
            }
            if regular_hash(staging, &staged(i)).as_ref() == Some(before) {
                Ok(true)
            } else {
                staging.exchange(&staged(i), &d, leaf)?;
                Ok(false)
            }
        }
        (Some(before), None) => {
            let Some(d) = open_existing(live, dir)? else { return Ok(false) };
            match d.rename(leaf, staging, &removed(i), RenameFlags::NOREPLACE) {
                Ok(()) => {}
                Err(e) if fence::errno(&e) == Some(libc::ENOENT) => return Ok(false),
                Err(e) => return Err(e),
            }
            if regular_hash(staging, &removed(i)).as_ref() == Some(before) {
                Ok(true)
            } else {
                staging.rename(&removed(i), &d, leaf, RenameFlags::NOREPLACE)?;
                Ok(false)
            }
        }
    }
}

fn open_existing(live: &Dir, dir: &Path) -> io::Result<Option<Dir>> {
    match live.walk(dir) {
        Ok(d) => Ok(Some(d)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Hash of a regular file; `None` when absent or anything else (a link, a FIFO).
fn regular_hash(d: &Dir, name: &OsStr) -> Option<String> {
    d.hash(name).ok().flatten()
}

/// Undo operations `0..done` (newest first), keeping any change the agent made since.
fn back(live: &Dir, staging: &Dir, intent: &Intent, done: usize) -> io::Result<()> {
    for (i, op) in intent.ops.iter().enumerate().take(done).rev() {
        let (dir, leaf) = split(Path::new(&op.path));
        let Some(d) = open_existing(live, dir)? else { continue };
        match (&op.before, &op.after) {
            (None, after) => {
                if regular_hash(&d, leaf).as_ref() == after.as_ref() {
                    d.rename(leaf, staging, &staged(i), RenameFlags::NOREPLACE)?;
                }
            }
            (Some(_), after) if after.is_some() => {
                if d.lstat(leaf)?.is_none() {
                    staging.rename(&staged(i), &d, leaf, RenameFlags::NOREPLACE)?;
                    continue;
                }
                staging.exchange(&staged(i), &d, leaf)?;
                if regular_hash(staging, &staged(i)).as_ref() != after.as_ref() {
                    // The agent edited the new file after it went in: its edit stays.
                    staging.exchange(&staged(i), &d, leaf)?;
                }
            }
            _ => match staging.rename(&removed(i), &d, leaf, RenameFlags::NOREPLACE) {
                Ok(()) => {}
                Err(e) if fence::errno(&e) == Some(libc::EEXIST) => {}
                Err(e) => return Err(e),
            },
        }
    }
    for dir in intent.new_dirs.iter().rev() {
        let (parent, leaf) = split(Path::new(dir));
        if let Ok(p) = live.walk(parent) {
            let _ = p.rmdir(leaf);
        }
    }
    live.sync()
}

/// Roll back after a stop and clean up; the error to report.
fn undo(live: &Dir, staging: &Dir, staging_name: &OsStr, intent: &mut Intent, stop: Stop, journal: &Path) -> ApplyError {
    let (done, err) = match stop {
        Stop::Changed { done, path } => {
            let found = format!("{path} was changed by someone else during the apply");
            (done, ApplyError::Stale { expected: intent.base_hash.clone(), found })
        }
        Stop::Io { done, error } => (done, ApplyError::Io(anyhow::Error::new(error).context("the apply stopped and was rolled back"))),
    };
    if let Err(e) = back(live, staging, intent, done) {
        return ApplyError::Io(anyhow::Error::new(e).context("cannot roll back a stopped apply; the journal is kept for the next start"));
    }
    match settle(live, staging_name, intent, Settled::RolledBack, journal) {
        Ok(_) => err,
        Err(e) => e,
    }
}

/// Record the outcome, then clean up: the staging folder, and the generation if undone.
pub(super) fn settle(
    live: &Dir,
    staging_name: &OsStr,
    intent: &mut Intent,
    outcome: Settled,
    journal: &Path,
) -> Result<Settled, ApplyError> {
    if intent.outcome.is_none() {
        intent.outcome = Some(outcome);
        intent.write(journal)?;
    }
    if outcome == Settled::RolledBack {
        if intent.generation_dir.exists() {
            std::fs::remove_dir_all(&intent.generation_dir).context("cannot remove the generation of an undone apply")?;
        }
        live.remove_tree(staging_name)?;
        live.sync()?;
        super::intent::remove(journal)?;
    } else {
        live.remove_tree(staging_name)?;
        live.sync()?;
    }
    Ok(outcome)
}

fn remove_empty_parents(live: &Dir, rel: &str) {
    let mut p = Path::new(rel).parent();
    while let Some(dir) = p.filter(|d| !d.as_os_str().is_empty()) {
        let (parent, leaf) = split(dir);
        match live.walk(parent) {
            Ok(d) if d.rmdir(leaf).is_ok() => {}
            _ => break,
        }
        p = dir.parent();
    }
}

/// After a crash: finish the operations if every remaining file is as planned, otherwise
/// undo what was done. Returns how it settled.
pub(super) fn resume(intent: &mut Intent, journal: &Path) -> Result<Settled, ApplyError> {
    let live = Dir::open(&intent.memory_dir)?;
    let staging_name = intent.staging.file_name().context("staging folder has no name")?.to_os_string();
    if let Some(outcome) = intent.outcome {
        return settle(&live, &staging_name, intent, outcome, journal);
    }
    let staging = match live.sub(&staging_name) {
        Ok(s) => s,
        // Without its staging folder nothing can have been moved yet (it goes last).
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let _ = std::fs::remove_dir_all(&intent.generation_dir);
            super::intent::remove(journal)?;
            return Ok(Settled::RolledBack);
        }
        Err(e) => return Err(e.into()),
    };
    let done = intent.ops.iter().enumerate().take_while(|(i, op)| is_done(&staging, *i, op)).count();
    let stop = match forward(&live, &staging, intent, done)? {
        None => return settle(&live, &staging_name, intent, Settled::Applied, journal),
        Some(stop) => stop,
    };
    match undo(&live, &staging, &staging_name, intent, stop, journal) {
        ApplyError::Stale { .. } => Ok(Settled::RolledBack),
        e => Err(e),
    }
}

/// Whether operation `i` was completed, judged from what the staging folder holds.
fn is_done(staging: &Dir, i: usize, op: &Op) -> bool {
    match (&op.before, &op.after) {
        (None, _) => matches!(staging.lstat(&staged(i)), Ok(None)),
        (Some(before), Some(_)) => regular_hash(staging, &staged(i)).as_ref() == Some(before),
        (Some(_), None) => matches!(staging.lstat(&removed(i)), Ok(Some(_))),
    }
}
