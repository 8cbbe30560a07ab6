//! Replacing the live store: the agent's lock, `apply::apply`, and the generation that keeps
//! what was replaced. Apply and rollback both come through [`replace_live`]. Blocking; the job
//! owner runs it on the blocking pool.

use super::RollbackOutcome;
use crate::apply;
use crate::context::Context;
use crate::error::OpError;
use crate::lock;
use crate::state::JobEvent;
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

/// A completed replacement.
pub struct Replaced {
    /// The generation that keeps the replaced store.
    pub generation: i64,
    /// The job's `applied` event, recorded in the same transaction as the job's status and the
    /// generation (by `apply::replace_live`); to be broadcast to live followers.
    pub event: Option<JobEvent>,
}

/// Make `new` the live store if the live store still hashes to `expected`. With a job, the
/// job is recorded `applied` together with the generation, in one transaction (the owner
/// delegates that write so that a crash can never separate the two).
pub fn replace_live(ctx: &Context, new: &Store, expected: &str, job_id: Option<i64>, reason: &str) -> Result<Replaced, ReplaceError> {
    let config = ctx.config();
    // Checked before the lock, so a changed store is stale even while the lock is busy.
    let before = scan_memory(&config.agent.memory_dir);
    if let Some(e) = &before.error {
        return Err(ReplaceError::Failed(anyhow::anyhow!("cannot read the live store: {e}")));
    }
    if before.hash != expected {
        return Err(ReplaceError::Stale("the live store changed since the dream began".into()));
    }
    match apply::replace_live(&config, &ctx.state, ctx.now(), new, expected, job_id, reason) {
        Ok(replaced) => {
            tracing::debug!(method = ?replaced.method, "live store replaced");
            // A swapped directory is a new inode at the same path: the watcher must follow it.
            ctx.request_rescan(true);
            Ok(Replaced { generation: replaced.generation, event: replaced.event })
        }
        Err(apply::ReplaceError::Busy(holder)) => Err(ReplaceError::LockBusy { holder }),
        Err(apply::ReplaceError::Stale) => Err(ReplaceError::Stale("the live store changed since the dream began".into())),
        // A candidate that would write through or over what dreamd does not manage fails the job.
        Err(apply::ReplaceError::Refused(msg)) => Err(ReplaceError::Failed(anyhow::anyhow!("the candidate was refused: {msg}"))),
        Err(apply::ReplaceError::Io(e)) => Err(ReplaceError::Failed(e)),
    }
}

/// Restore a generation (default: the newest). The store it replaces becomes a generation
/// too, so a rollback can itself be rolled back. The rollback is recorded with the jobs it
/// took back (after the store is replaced: a crash in between leaves the generation, named
/// "rollback to generation N", without the record).
pub fn restore(ctx: &Context, generation: Option<i64>, by: &str) -> Result<RollbackOutcome, OpError> {
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
    let saved = replace_live(ctx, &restored, &live.hash, None, &format!("rollback to generation {}", target.id))
        .map(|r| r.generation)
        .map_err(|e| match e {
            ReplaceError::Stale(_) => OpError::Conflict("the live store changed during the rollback; try again".into()),
            ReplaceError::LockBusy { .. } => OpError::Conflict(format!("{e}; roll back when the agent is done")),
            ReplaceError::Failed(e) => OpError::Internal(e),
        })?;
    let rollback = ctx.state.record_rollback(ctx.now(), by, target.id, saved).map_err(|e| {
        OpError::Internal(e.context(format!(
            "generation {} was restored (the replaced store is generation {saved}), but the rollback could not be recorded",
            target.id
        )))
    })?;
    tracing::info!(restored = target.id, saved, undid = %rollback.undid_jobs.iter().map(i64::to_string).collect::<Vec<_>>().join(","), by, "rolled back");
    Ok(RollbackOutcome { restored: target.id, saved_as: saved, rollback })
}
