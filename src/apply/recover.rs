//! After a crash: finish or undo, on disk, whatever apply the journal says was under way.
//! `reconcile`, beside this module in `apply`, then brings the database in line.
//!
//! Swap: whether the exchange happened is decided by identity — the live path holds the staged
//! directory (device and inode recorded in the journal) — and, where identity cannot tell, by
//! the journal's candidate hash. Never by comparing the staging copy with the base hash: an
//! agent write just before the exchange would make the switched-out store look unswitched,
//! and deleting it would delete the agent's store. Once the exchange is known to have
//! happened, the switched-out store is checked against the base hash as in a normal apply:
//! the agent's last-moment write sends it back.
//!
//! Journal: each operation's state is read from the staging folder and the hashes; the
//! remaining operations are run with the usual checks, and a mismatch undoes them all.

use super::fence::{self, Dir};
use super::intent::{self, Intent, Read, Settled};
use super::{journal, swap, ApplyError, Method};
use crate::store::Store;
use anyhow::{Context, Result};
use std::path::Path;

/// What recovery found and did.
#[derive(Debug)]
pub enum Recovery {
    /// The journal was damaged and removed; the switch had not started.
    Torn,
    Settled {
        intent: Box<Intent>,
        /// The candidate is live and the replaced store is the generation.
        applied: bool,
        /// Not applied because the live store had changed (the agent wrote).
        stale: bool,
        message: String,
    },
}

/// Finish or undo the apply in the journal at `journal_path`, on disk only. The journal is
/// kept when the apply was completed (the database has yet to record it) and removed when
/// it was undone.
pub fn recover_disk(journal_path: &Path) -> Result<Option<Recovery>> {
    let mut intent = match Intent::read(journal_path)? {
        Read::Absent => return Ok(None),
        Read::Torn => {
            intent::remove(journal_path)?;
            return Ok(Some(Recovery::Torn));
        }
        Read::Intent(i) => i,
    };
    let settled = match intent.method {
        Method::Swap => resume_swap(&intent, journal_path),
        Method::Journal => journal::resume(&mut intent, journal_path),
    };
    let applied = match settled {
        Ok(s) => s == Settled::Applied,
        Err(ApplyError::Stale { .. }) => false,
        Err(ApplyError::Io(e)) => return Err(e.context("cannot finish or undo the interrupted apply")),
        Err(e) => return Err(anyhow::anyhow!("cannot finish or undo the interrupted apply: {e}")),
    };
    let stale = !applied && Store::read(&intent.memory_dir).map(|s| s.hash() != intent.base_hash).unwrap_or(false);
    let dir = intent.memory_dir.display();
    let message = match (applied, stale) {
        (true, _) => {
            format!("finished an apply into {dir} interrupted by a restart; the replaced store is generation {}", intent.generation_id)
        }
        (false, true) => format!("undid an apply into {dir} interrupted by a restart: the live store had changed, and it is kept as it is"),
        (false, false) => format!("undid an apply into {dir} interrupted by a restart before it switched; the live store is as it was"),
    };
    Ok(Some(Recovery::Settled { intent, applied, stale, message }))
}

fn resume_swap(intent: &Intent, journal_path: &Path) -> Result<Settled, ApplyError> {
    let real = &intent.memory_dir;
    let parent = Dir::open(real.parent().context("memory directory has no parent")?)?;
    let name = real.file_name().context("memory directory has no name")?;
    let staging_name = intent.staging.file_name().context("staging directory has no name")?;
    let id_of = |n| parent.lstat(n).ok().flatten().map(|st| (st.st_dev, st.st_ino));
    let (live_id, staging_id) = (id_of(name), id_of(staging_name));
    let exchanged = match intent.staging_id {
        Some(id) if live_id == Some(id) => true,
        Some(id) if staging_id == Some(id) => false,
        // Identity cannot tell (the staging directory is gone): the candidate hash decides.
        _ => Store::read(real).map(|s| s.hash() == intent.candidate_hash).unwrap_or(false),
    };
    if exchanged {
        swap::settle(&parent, name, staging_name, intent, journal_path)?;
        return Ok(Settled::Applied);
    }
    if staging_id.is_some() && staging_id == intent.staging_id {
        let (live, staging) = (parent.sub(name)?, parent.sub(staging_name)?);
        swap::abandon(&parent, staging_name, &staging, &live, journal_path)?;
    } else {
        intent::remove(journal_path)?;
    }
    Ok(Settled::RolledBack)
}

/// With no journal, no apply is under way: staging folders left by a crash before the journal
/// was written are dreamd's own and go (after giving back anything carried into them).
pub fn remove_orphans(memory_dir: &Path) {
    let Ok(real) = fence::resolve(memory_dir) else { return };
    let (Some(parent_path), Some(name)) = (real.parent(), real.file_name()) else { return };
    let (Ok(parent), Ok(live)) = (Dir::open(parent_path), Dir::open(&real)) else { return };
    let sibling_prefix = swap::staging_name(name, 0);
    let sibling_prefix = sibling_prefix.to_string_lossy();
    let sibling_prefix = sibling_prefix.trim_end_matches('0');
    for (entry, _) in parent.entries().unwrap_or_default() {
        let n = entry.to_string_lossy();
        if n.strip_prefix(sibling_prefix).is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit())) {
            if let Ok(staging) = parent.sub(&entry) {
                tracing::warn!(path = %staging.path().display(), "removing a staging directory left by an interrupted apply");
                let _ = swap::abandon_orphan(&parent, &entry, &staging, &live);
            }
        }
    }
    for (entry, _) in live.entries().unwrap_or_default() {
        let n = entry.to_string_lossy();
        if n.strip_prefix(".dreamd-staging-").is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit())) {
            tracing::warn!(path = %live.join(&entry).display(), "removing a staging folder left by an interrupted apply");
            let _ = live.remove_tree(&entry);
        }
    }
}
