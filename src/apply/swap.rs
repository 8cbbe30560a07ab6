//! Swap: the new store is built in a sibling directory and exchanged with the live one.
//!
//! What dreamd does not manage must stay in the live directory, so before the exchange it is
//! carried into the new one: every non-directory (dot-files, links, FIFOs, sockets, files
//! with non-UTF-8 names) gets a second name there (`linkat`: the same inode, so a write to it
//! before the exchange is not lost); directories dreamd does not manage (`.git/`) are moved
//! in just before the exchange. Right after it, the switched-out directory is checked against
//! the base hash (a store edited at the last moment sends everything back) and swept: carried
//! names are dropped from it, anything that appeared there in the meantime is moved into the
//! live directory (and an entry made at a name the new directory holds sends everything back
//! too). What remains is exactly the replaced store, which becomes the generation.

use super::fence::{self, Dir, Meta};
use super::intent::Intent;
use super::modes::{file_meta, new_file_meta, split};
use super::{failpoint, ApplyError, Method, Target};
use crate::store::{self, Kind, Shape, Store};
use anyhow::Context;
use rustix::fs::RenameFlags;
use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Path, PathBuf};

pub(super) fn run(target: &Target, real: &Path, candidate: &Store, current: &Store) -> Result<(), ApplyError> {
    let parent_path = real.parent().context("memory directory has no parent")?;
    let name = real.file_name().context("memory directory has no name")?;
    let parent = Dir::open(parent_path)?;
    let live = parent.sub(name)?;
    let staging_name = staging_name(name, target.record.generation_id);
    parent.remove_tree(&staging_name)?;
    let staging = parent.mkdir(&staging_name, fence::PRIVATE_DIR)?;

    // A full disk fails here, before anything live is touched; leave no half copy behind.
    let moves = match prepare(&live, &staging, candidate, current) {
        Ok(m) => m,
        Err(e) => {
            let _ = parent.remove_tree(&staging_name);
            return Err(e.into());
        }
    };
    failpoint::step("apply::swap::staged")?;
    let st = staging.stat()?;
    let intent = Intent {
        version: Intent::new_version(),
        method: Method::Swap,
        memory_dir: real.to_path_buf(),
        staging: parent.join(&staging_name),
        staging_id: Some((st.st_dev, st.st_ino)),
        generation_dir: target.generation_dir.to_path_buf(),
        generation_id: target.record.generation_id,
        job_id: target.record.job_id,
        reason: target.record.reason.clone(),
        started_at: target.record.at,
        base_hash: current.hash(),
        candidate_hash: candidate.hash(),
        replaced_bytes: current.total_bytes(),
        replaced_files: current.files.len() as u64,
        ops: vec![],
        new_dirs: vec![],
        outcome: None,
    };
    intent.write(target.journal_path)?;
    failpoint::step("apply::swap::journal_written")?;

    // Last look before the switch.
    let now = Store::read(real)?.hash();
    if now != intent.base_hash {
        abandon(&parent, &staging_name, &staging, &live, target.journal_path)?;
        return Err(ApplyError::Stale { expected: intent.base_hash, found: now });
    }
    for rel in &moves {
        let (dir, leaf) = split(rel);
        let from = live.walk(dir)?;
        let to = staging.walk(dir)?;
        match from.rename(leaf, &to, leaf, RenameFlags::NOREPLACE) {
            Ok(()) => {}
            // Gone since it was listed: nothing to carry.
            Err(e) if fence::errno(&e) == Some(libc::ENOENT) => {}
            Err(e) => {
                abandon(&parent, &staging_name, &staging, &live, target.journal_path)?;
                return Err(ApplyError::Io(anyhow::Error::new(e).context("cannot carry an entry dreamd does not manage")));
            }
        }
    }
    failpoint::step("apply::swap::dirs_moved")?;

    if let Err(e) = parent.exchange(&staging_name, &parent, name) {
        abandon(&parent, &staging_name, &staging, &live, target.journal_path)?;
        return Err(ApplyError::Io(anyhow::Error::new(e)));
    }
    failpoint::step("apply::swap::exchanged")?;
    settle(&parent, name, &staging_name, &intent, target.journal_path)
}

/// After the exchange: check what was switched out, sweep it, keep it as the generation.
/// Shared with recovery, which may find the process stopped anywhere in here.
pub(super) fn settle(parent: &Dir, name: &OsStr, staging_name: &OsStr, intent: &Intent, journal: &Path) -> Result<(), ApplyError> {
    let old_path = parent.join(staging_name);
    if parent.lstat(staging_name)?.is_some() {
        let switched_out = Store::read(&old_path)?.hash();
        if switched_out != intent.base_hash {
            // The agent wrote between the last look and the exchange: its store goes back.
            parent.exchange(staging_name, parent, name)?;
            let (live, staging) = (parent.sub(name)?, parent.sub(staging_name)?);
            abandon(parent, staging_name, &staging, &live, journal)?;
            return Err(ApplyError::Stale { expected: intent.base_hash.clone(), found: switched_out });
        }
        let (new, old) = (parent.sub(name)?, parent.sub(staging_name)?);
        let left = fence::gather(&old, &new)?;
        if let Some(first) = left.first() {
            // The agent made or replaced an entry dreamd does not manage, at a name the new
            // directory already holds, after the last look: its entry wins, as a file write does.
            parent.exchange(staging_name, parent, name)?;
            let (live, staging) = (parent.sub(name)?, parent.sub(staging_name)?);
            abandon(parent, staging_name, &staging, &live, journal)?;
            let found = format!("{} changed in the memory directory during the switch", first.0.display());
            return Err(ApplyError::Stale { expected: intent.base_hash.clone(), found });
        }
        failpoint::step("apply::swap::swept")?;
        parent.sync()?;
        keep_as_generation(parent, staging_name, &intent.generation_dir)?;
    }
    failpoint::step("apply::swap::generation_moved")?;
    Ok(())
}

/// Undo a swap that did not (or no longer does) switch: everything dreamd carried goes back
/// to the live directory, the staging directory goes, and so does the journal.
pub(super) fn abandon(parent: &Dir, staging_name: &OsStr, staging: &Dir, live: &Dir, journal: &Path) -> Result<(), ApplyError> {
    abandon_orphan(parent, staging_name, staging, live)?;
    super::intent::remove(journal)?;
    Ok(())
}

/// [`abandon`] for a staging directory without a journal.
pub(super) fn abandon_orphan(parent: &Dir, staging_name: &OsStr, staging: &Dir, live: &Dir) -> io::Result<()> {
    let left = fence::gather(staging, live)?;
    if left.is_empty() {
        parent.remove_tree(staging_name)?;
    } else {
        // Never delete what might be the agent's: keep the staging directory and say where.
        tracing::warn!(staging = %staging.path().display(), entries = ?left, "entries could not be moved back; the staging directory is kept");
    }
    Ok(())
}

pub(super) fn staging_name(name: &OsStr, generation_id: i64) -> OsString {
    let mut s = OsString::from(".");
    s.push(name);
    s.push(format!(".dreamd-{generation_id}"));
    s
}

/// Move the switched-out directory to the generation's place (rename, or copy across devices).
fn keep_as_generation(parent: &Dir, staging_name: &OsStr, generation_dir: &Path) -> Result<(), ApplyError> {
    let gens_path = generation_dir.parent().context("generation directory has no parent")?;
    store::create_private_dir(gens_path)?;
    let gen_name = generation_dir.file_name().context("generation directory has no name")?;
    let gens = Dir::open(gens_path)?;
    gens.remove_tree(gen_name)?;
    match parent.rename(staging_name, &gens, gen_name, RenameFlags::NOREPLACE) {
        Ok(()) => {
            make_private(&gens.sub(gen_name)?)?;
        }
        Err(e) if fence::errno(&e) == Some(libc::EXDEV) => {
            let old = Store::read(&parent.join(staging_name))?;
            old.write_private(generation_dir)?;
            parent.remove_tree(staging_name)?;
        }
        Err(e) => return Err(ApplyError::Io(anyhow::Error::new(e))),
    }
    gens.sync()?;
    Ok(())
}

/// A generation is dreamd's copy: directories 0700, files 0600 (unless a file has other
/// names elsewhere, whose mode is not dreamd's to change).
fn make_private(dir: &Dir) -> io::Result<()> {
    dir.set_meta(&fence::PRIVATE_DIR)?;
    for (name, kind) in dir.entries()? {
        match kind {
            Kind::Dir => make_private(&dir.sub(&name)?)?,
            Kind::File => {
                if let Some(st) = dir.lstat(&name)? {
                    if st.st_nlink == 1 && st.st_mode & 0o7777 != 0o600 {
                        dir.chmod(&name, 0o600)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Write the candidate into `staging` and carry links to what dreamd does not manage;
/// returns the directories to move in just before the exchange.
fn prepare(live: &Dir, staging: &Dir, candidate: &Store, current: &Store) -> io::Result<Vec<PathBuf>> {
    write_candidate(live, staging, candidate, current)?;
    let mut moves = Vec::new();
    carry(live, live, staging, Path::new(""), &mut moves)?;
    let root = live.stat()?;
    staging.set_meta(&Meta { mtime: None, ..Meta::of(&root) })?;
    staging.sync()?;
    Ok(moves)
}

fn write_candidate(live: &Dir, staging: &Dir, candidate: &Store, current: &Store) -> io::Result<()> {
    let default = new_file_meta(live, current)?;
    let root = fence::dir_meta(&live.walk(Path::new(""))).unwrap_or(fence::PRIVATE_DIR);
    // A directory the live store lacks is made like the memory directory itself.
    let dir_meta_for = |p: &Path| fence::dir_meta(&live.walk(p)).unwrap_or(root);
    let mut synced: BTreeMap<PathBuf, Dir> = BTreeMap::new();
    for (path, file) in &candidate.files {
        let (dir, leaf) = split(Path::new(path));
        let sdir = staging.walk_create(dir, &dir_meta_for)?;
        let meta = file_meta(live, Path::new(path), current, file, &default);
        sdir.create(leaf, &file.bytes, &meta)?;
        synced.insert(dir.to_path_buf(), sdir);
    }
    for d in synced.values() {
        d.sync()?;
    }
    Ok(())
}

/// Bring into `staging` what dreamd does not manage: links now, directories listed for later.
/// A folder holding no file of the store (an empty `archive/`) is the agent's too and moves
/// whole. A folder whose every file the candidate removed goes, as in the journal method.
fn carry(live_root: &Dir, live: &Dir, staging_root: &Dir, rel: &Path, moves: &mut Vec<PathBuf>) -> io::Result<()> {
    let dir_meta_for = |p: &Path| fence::dir_meta(&live_root.walk(p)).unwrap_or(fence::PRIVATE_DIR);
    for (name, kind) in live.entries()? {
        let sub_rel = rel.join(&name);
        match store::shape(&name, kind) {
            Shape::File(_) => {}
            Shape::Dir(_) => {
                let sub = live.sub(&name)?;
                if staging_root.walk(&sub_rel).is_err() && !fence::has_store_files(&sub)? {
                    staging_root.walk_create(rel, &dir_meta_for)?;
                    moves.push(sub_rel);
                } else {
                    carry(live_root, &sub, staging_root, &sub_rel, moves)?;
                }
            }
            Shape::Unmanaged(_) => {
                let sdir = staging_root.walk_create(rel, &dir_meta_for)?;
                if kind == Kind::Dir {
                    moves.push(sub_rel);
                } else if live.link(&name, &sdir, &name).is_err() {
                    // Hard links refused (protected_hardlinks, link limits): move it at the switch.
                    moves.push(sub_rel);
                }
            }
        }
    }
    Ok(())
}
