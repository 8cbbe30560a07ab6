//! Replacing the live store: the agent's lock, `apply::apply`, and the generation that keeps
//! what was replaced. Apply and rollback both come through [`replace_live`]. Blocking; the job
//! owner runs it on the blocking pool.

use super::RollbackOutcome;
use crate::apply::{self, ApplyError, Target};
use crate::context::Context;
use crate::error::OpError;
use crate::lock;
use crate::state::Generation;
use crate::store::Store;
use crate::watch::scan_memory;

#[derive(Debug, thiserror::Error)]
pub enum ReplaceError {
    /// The live store is not the expected one: whatever was planned on it is stale.
    #[error("{0}")]
    Stale(String),
    /// Another live process holds the agent's lock. Not stale: try again later.
    #[error("{holder} holds {} in the memory directory", lock::LOCK_FILE)]
    LockBusy { holder: String },
    #[error("{0:#}")]
    Failed(anyhow::Error),
}

/// Make `new` the live store if the live store still hashes to `expected`; returns the id of
/// the generation that keeps the replaced store.
pub fn replace_live(ctx: &Context, new: &Store, expected: &str, job_id: Option<i64>, reason: &str) -> Result<i64, ReplaceError> {
    let config = ctx.config();
    let memory_dir = &config.agent.memory_dir;
    // Checked before the lock, so a changed store is stale even while the lock is busy.
    let before = scan_memory(memory_dir);
    if let Some(e) = &before.error {
        return Err(ReplaceError::Failed(anyhow::anyhow!("cannot read the live store: {e}")));
    }
    if before.hash != expected {
        return Err(ReplaceError::Stale("the live store changed since the dream began".into()));
    }
    // The agent's own consolidation lock, by its protocol: never while a live process holds
    // it; held by us while we switch; its mtime says when we consolidated.
    let guard = match lock::try_acquire(memory_dir, ctx.now()) {
        Ok(lock::Acquire::Acquired(g)) => g,
        Ok(lock::Acquire::Busy { pid }) => {
            return Err(ReplaceError::LockBusy { holder: pid.map_or("another process".to_string(), |p| format!("process {p}")) })
        }
        Err(e) => return Err(ReplaceError::Failed(anyhow::Error::new(e).context("cannot take the consolidation lock"))),
    };
    let gen_id = ctx.state.generations().map_err(ReplaceError::Failed)?.first().map_or(1, |g| g.id + 1);
    let gen_dir = ctx.generation_dir(gen_id);
    let target = Target { memory_dir, generation_dir: &gen_dir, journal_path: &ctx.journal_path(), mode: config.apply.mode };
    match apply::apply(&target, new, expected) {
        Ok(method) => {
            tracing::debug!(?method, "live store replaced");
            if let Err(e) = guard.release_success(ctx.now()) {
                tracing::warn!(error = %e, "cannot stamp the consolidation lock");
            }
        }
        Err(e) => {
            if let Err(e) = guard.release_failure() {
                tracing::warn!(error = %e, "cannot roll back the consolidation lock");
            }
            return Err(match e {
                ApplyError::Stale { .. } => ReplaceError::Stale("the live store changed since the dream began".into()),
                ApplyError::Io(e) => ReplaceError::Failed(e),
            });
        }
    }
    // A swapped directory is a new inode at the same path: the watcher must follow it.
    ctx.request_rescan(true);
    ctx.state
        .insert_generation(&Generation {
            id: gen_id,
            created_at: ctx.now(),
            job_id,
            reason: reason.into(),
            store_hash: before.hash,
            bytes: before.bytes,
            files: u64::from(before.files),
        })
        .map_err(ReplaceError::Failed)?;
    prune_generations(ctx);
    Ok(gen_id)
}

fn prune_generations(ctx: &Context) {
    let keep = ctx.config().generations.keep as usize;
    let Ok(gens) = ctx.state.generations() else { return };
    for g in gens.iter().skip(keep.max(1)) {
        let _ = std::fs::remove_dir_all(ctx.generation_dir(g.id));
        if let Err(e) = ctx.state.delete_generation(g.id) {
            tracing::warn!(generation = g.id, error = %e, "cannot prune generation");
        }
    }
}

/// Restore a generation (default: the newest). The store it replaces becomes a generation
/// too, so a rollback can itself be rolled back.
pub fn restore(ctx: &Context, generation: Option<i64>) -> Result<RollbackOutcome, OpError> {
    let gens = ctx.state.generations()?;
    let target = match generation {
        Some(id) => gens.iter().find(|g| g.id == id).ok_or_else(|| OpError::NotFound(format!("generation {id} not found")))?,
        None => gens.first().ok_or_else(|| OpError::NotFound("there is no generation to roll back to".into()))?,
    };
    let restored = Store::read(&ctx.generation_dir(target.id))
        .map_err(|e| OpError::Internal(e.context(format!("generation {} is unreadable", target.id))))?;
    let live = scan_memory(&ctx.config().agent.memory_dir);
    if let Some(e) = live.error {
        return Err(OpError::Internal(anyhow::anyhow!("cannot read the live store: {e}")));
    }
    let saved = replace_live(ctx, &restored, &live.hash, None, &format!("rollback to generation {}", target.id)).map_err(|e| match e {
        ReplaceError::Stale(_) => OpError::Conflict("the live store changed during the rollback; try again".into()),
        ReplaceError::LockBusy { .. } => OpError::Conflict(format!("{e}; roll back when the agent is done")),
        ReplaceError::Failed(e) => OpError::Internal(e),
    })?;
    tracing::info!(restored = target.id, saved, "rolled back");
    Ok(RollbackOutcome { restored: target.id, saved_as: saved })
}
