//! Jobs: one owner task holds the in-flight job and is the only writer of job state. The API,
//! the trigger loop and shutdown send it [`Command`]s through a [`Jobs`] handle and await its
//! reply (pueue's task handler, mini-redis' connection handler).
//!
//! Flow of one job, top-down: `start` (owner) → [`dream`] (snapshot → engine → stage →
//! [`verify`]) → owner decides: unchanged, stale, held, or apply ([`replace`]) → applied, or
//! waiting for the agent's lock and retried.

mod applying;
mod cancel;
pub mod dream;
mod owner;
mod reconcile;
pub mod replace;
mod review;
mod rollback;
pub mod sessions;
mod start;
pub mod verify;
mod work;

use crate::error::OpError;
use crate::sessions::SessionStat;
use crate::state::Job;
use serde::Serialize;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Mutex};

pub use owner::run as run_owner;

type Reply<T> = oneshot::Sender<Result<T, OpError>>;

/// What the owner can be asked to do.
pub enum Command {
    Start { trigger: String, sessions_seen: Vec<SessionStat>, estimate_usd: f64, reply: Reply<Job> },
    Cancel { id: i64, by: String, reply: Reply<Job> },
    Approve { id: i64, by: String, reply: Reply<Job> },
    Discard { id: i64, by: String, reply: Reply<Job> },
    Rollback { generation: Option<i64>, by: String, reply: Reply<RollbackOutcome> },
}

#[derive(Debug, Clone, Serialize)]
pub struct RollbackOutcome {
    /// The generation now live.
    pub restored: i64,
    /// The generation that keeps the store that was live before the rollback.
    pub saved_as: i64,
    /// The rollback as recorded: who asked, and the jobs it took back.
    pub rollback: crate::state::Rollback,
}

/// The way to the job owner. Cheap to clone.
#[derive(Clone)]
pub struct Jobs {
    tx: mpsc::Sender<Command>,
}

/// The owner's end of the channel. It outlives any one run of the owner, so a restarted owner
/// picks up where the failed one stopped.
pub type Inbox = Arc<Mutex<mpsc::Receiver<Command>>>;

impl Jobs {
    pub fn channel() -> (Jobs, Inbox) {
        let (tx, rx) = mpsc::channel(32);
        (Jobs { tx }, Arc::new(Mutex::new(rx)))
    }

    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, OpError> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(make(tx)).await.map_err(|_| OpError::Unavailable("the job owner is not running".into()))?;
        rx.await.map_err(|_| OpError::Unavailable("the job owner stopped before answering; see the daemon's log".into()))?
    }

    /// Start a dream the gate allowed. Single flight is re-checked by the owner.
    pub async fn start(&self, trigger: &str, sessions_seen: Vec<SessionStat>, estimate_usd: f64) -> Result<Job, OpError> {
        self.ask(|reply| Command::Start { trigger: trigger.into(), sessions_seen, estimate_usd, reply }).await
    }

    /// Stop a queued or running job, or one waiting for the agent's lock.
    pub async fn cancel(&self, id: i64, by: &str) -> Result<Job, OpError> {
        self.ask(|reply| Command::Cancel { id, by: by.into(), reply }).await
    }

    /// Approve a held job and apply it (or wait for the agent's lock).
    pub async fn approve(&self, id: i64, by: &str) -> Result<Job, OpError> {
        self.ask(|reply| Command::Approve { id, by: by.into(), reply }).await
    }

    pub async fn discard(&self, id: i64, by: &str) -> Result<Job, OpError> {
        self.ask(|reply| Command::Discard { id, by: by.into(), reply }).await
    }

    /// Restore a generation (default: the newest).
    pub async fn rollback(&self, generation: Option<i64>, by: &str) -> Result<RollbackOutcome, OpError> {
        self.ask(|reply| Command::Rollback { generation, by: by.into(), reply }).await
    }
}
