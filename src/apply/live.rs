//! Replacing the live store as the daemon does it: the agent's consolidation lock, the apply,
//! and the database record of it (job applied + generation, one transaction) — and, after a
//! crash, the reconciliation of that record with what the journal says happened on disk.
//! Plain functions over config, state and a time, so any caller (apply, approve, rollback,
//! restart) goes through the same steps.

use super::recover::{self, Recovery};
use super::{failpoint, ApplyError, Method, Record, Target};
use crate::config::Config;
use crate::lock;
use crate::state::{Generation, State};
use crate::store::Store;
use anyhow::Result;
use chrono::{DateTime, Utc};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ReplaceError {
    /// Another process (named here) holds the agent's consolidation lock.
    #[error("{0} holds {file} in the memory directory", file = lock::LOCK_FILE)]
    Busy(String),
    #[error("the live store changed since the dream began")]
    Stale,
    /// The candidate would write through or over something dreamd does not manage.
    #[error("{0}")]
    Refused(String),
    #[error("{0:#}")]
    Io(#[from] anyhow::Error),
}

/// A completed replacement.
#[derive(Debug, Clone)]
pub struct Replaced {
    /// The generation that keeps the replaced store.
    pub generation: i64,
    pub method: Method,
    /// The job's `applied` event, recorded with the job (for the live log).
    pub event: Option<crate::state::JobEvent>,
}

pub fn generation_dir(config: &Config, id: i64) -> PathBuf {
    config.state_dir.join("generations").join(id.to_string())
}

pub fn journal_path(config: &Config) -> PathBuf {
    config.state_dir.join("apply.journal")
}

/// Make `new` the live store if it still hashes to `base_hash`. With `job_id`, the job is
/// recorded `applied` in the same transaction as the generation.
pub fn replace_live(
    config: &Config,
    state: &State,
    now: DateTime<Utc>,
    new: &Store,
    base_hash: &str,
    job_id: Option<i64>,
    reason: &str,
) -> Result<Replaced, ReplaceError> {
    // An apply whose record failed earlier is settled first: one apply at a time, ever.
    if let Some(msg) = reconcile(config, state, now)? {
        tracing::warn!("{msg}");
    }
    let memory_dir = &config.agent.memory_dir;
    let generation = state.generations()?.first().map_or(1, |g| g.id + 1);
    let gen_dir = generation_dir(config, generation);
    let journal = journal_path(config);
    let target = Target {
        memory_dir,
        generation_dir: &gen_dir,
        journal_path: &journal,
        mode: config.apply.mode,
        record: Record { generation_id: generation, job_id, reason: reason.into(), at: now },
    };
    // The agent's own consolidation lock, by its protocol: never while a live process holds
    // it; held by us while we switch; its mtime says when we consolidated.
    let guard = match lock::try_acquire(memory_dir, now) {
        Ok(lock::Acquire::Acquired(g)) => g,
        Ok(lock::Acquire::Busy { pid }) => {
            return Err(ReplaceError::Busy(pid.map_or("another process".to_string(), |p| format!("process {p}"))));
        }
        Err(e) => return Err(ReplaceError::Io(anyhow::Error::new(e).context("cannot take the consolidation lock"))),
    };
    let applied = match super::apply(&target, new, base_hash) {
        Ok(a) => {
            if let Err(e) = guard.release_success(now) {
                tracing::warn!(error = %e, "cannot stamp the consolidation lock");
            }
            a
        }
        Err(e) => {
            if let Err(e) = guard.release_failure() {
                tracing::warn!(error = %e, "cannot roll back the consolidation lock");
            }
            return Err(match e {
                ApplyError::Stale { .. } => ReplaceError::Stale,
                ApplyError::Refused(msg) => ReplaceError::Refused(msg),
                ApplyError::Io(e) => ReplaceError::Io(e),
            });
        }
    };
    tracing::debug!(method = ?applied.method, "live store replaced");
    failpoint::step("apply::live::before_commit")?;
    let record = Generation {
        id: generation,
        created_at: now,
        job_id,
        reason: reason.into(),
        store_hash: applied.replaced_hash,
        bytes: applied.replaced_bytes,
        files: applied.replaced_files,
    };
    let message = format!("candidate applied; the replaced store is generation {generation}");
    let event = state.record_apply(&record, job_id, now, false, &message).map_err(|e| ReplaceError::Io(e.into()))?;
    failpoint::step("apply::live::committed")?;
    super::finish(&journal)?;
    prune_generations(config, state);
    Ok(Replaced { generation, method: applied.method, event })
}

/// Keep the newest `generations.keep` generations.
pub fn prune_generations(config: &Config, state: &State) {
    let keep = config.generations.keep as usize;
    let Ok(gens) = state.generations() else { return };
    for g in gens.iter().skip(keep.max(1)) {
        let _ = std::fs::remove_dir_all(generation_dir(config, g.id));
        if let Err(e) = state.delete_generation(g.id) {
            tracing::warn!(generation = g.id, error = %e, "cannot prune generation");
        }
    }
}

/// Generation directories the database does not know: copies made by an apply that stopped
/// before its journal was written.
fn remove_unregistered_generations(config: &Config, state: &State) -> Result<()> {
    let dir = config.state_dir.join("generations");
    let Ok(entries) = std::fs::read_dir(&dir) else { return Ok(()) };
    let known: Vec<i64> = state.generations()?.iter().map(|g| g.id).collect();
    for e in entries.flatten() {
        let id = e.file_name().to_str().and_then(|n| n.parse::<i64>().ok());
        if id.is_some_and(|id| !known.contains(&id)) {
            tracing::warn!(path = %e.path().display(), "removing a generation left by an interrupted apply");
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    Ok(())
}

/// Bring the live store and the database to one consistent point after a crash: finish or
/// undo the apply in the journal on disk, then record it — the job `applied` and its
/// generation registered, or the job `failed`/`stale` and no generation. Returns what was
/// done, for the log. Without a journal, removes staging left by a crash before one was written.
pub fn reconcile(config: &Config, state: &State, now: DateTime<Utc>) -> Result<Option<String>> {
    let journal = journal_path(config);
    let recovery = match recover::recover_disk(&journal)? {
        None => {
            recover::remove_orphans(&config.agent.memory_dir);
            remove_unregistered_generations(config, state)?;
            return Ok(None);
        }
        Some(r) => r,
    };
    let (intent, applied, stale, message) = match recovery {
        Recovery::Torn => return Ok(Some("removed a damaged apply journal; the live store was not touched".into())),
        Recovery::Settled { intent, applied, stale, message } => (intent, applied, stale, message),
    };
    if applied {
        let record = Generation {
            id: intent.generation_id,
            created_at: intent.started_at,
            job_id: intent.job_id,
            reason: intent.reason.clone(),
            store_hash: intent.base_hash.clone(),
            bytes: intent.replaced_bytes,
            files: intent.replaced_files,
        };
        state.record_apply(&record, intent.job_id, now, true, &message)?;
        super::finish(&journal)?;
        prune_generations(config, state);
    } else {
        if let Some(id) = intent.job_id {
            state.record_not_applied(id, stale, &message, now)?;
            let _ = state.add_event(id, now, "error", &message);
        }
        super::finish(&journal)?;
    }
    Ok(Some(message))
}
