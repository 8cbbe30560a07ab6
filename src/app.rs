//! The daemon's shared context and the operations the API exposes, one function per verb.
//! Handlers in `api` only translate HTTP to these calls and back.

use crate::apply::{self, ReplaceError};
use crate::clock::Clock;
use crate::config::Config;
use crate::engine::Engine;
use crate::gate::Trigger;
use crate::job::JobStatus;
use crate::runner;
use crate::stage::JobDir;
use crate::state::{Job, JobEvent, JobUpdate, State, StateError};
use crate::store::Store;
use crate::trigger;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use tokio::sync::{broadcast, Mutex, Notify};

/// Why an operation was refused, mapped to an HTTP status by the API.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Limited(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0:#}")]
    Internal(anyhow::Error),
}

impl OpError {
    pub fn code(&self) -> &'static str {
        match self {
            OpError::NotFound(_) => "not_found",
            OpError::Conflict(_) => "conflict",
            OpError::Limited(_) => "limited",
            OpError::BadRequest(_) => "bad_request",
            OpError::MethodNotAllowed(_) => "method_not_allowed",
            OpError::Internal(_) => "internal",
        }
    }
}

impl From<StateError> for OpError {
    fn from(e: StateError) -> Self {
        match e {
            StateError::NotFound(_) => OpError::NotFound(e.to_string()),
            StateError::Illegal { .. } => OpError::Conflict(e.to_string()),
            StateError::Db(e) => OpError::Internal(e),
        }
    }
}

impl From<anyhow::Error> for OpError {
    fn from(e: anyhow::Error) -> Self {
        OpError::Internal(e)
    }
}

pub struct App {
    config: RwLock<Arc<Config>>,
    pub state: State,
    pub clock: Arc<dyn Clock>,
    /// Held while anything replaces the live store (apply, approve, rollback).
    pub live_lock: Mutex<()>,
    /// The running job's task, so shutdown can stop it.
    pub running: Mutex<Option<(i64, tokio::task::JoinHandle<()>)>>,
    pub events: broadcast::Sender<JobEvent>,
    /// Wakes the trigger loop (a job ended, the config changed).
    pub wake: Notify,
    latest_scan: std::sync::Mutex<Option<crate::watch::Scan>>,
    watch: std::sync::Mutex<Option<crate::watch::WatchHandle>>,
}

impl App {
    pub fn new(config: Config, state: State, clock: Arc<dyn Clock>) -> Arc<App> {
        let (events, _) = broadcast::channel(1024);
        Arc::new(App {
            config: RwLock::new(Arc::new(config)),
            state,
            clock,
            live_lock: Mutex::new(()),
            running: Mutex::new(None),
            events,
            wake: Notify::new(),
            latest_scan: std::sync::Mutex::new(None),
            watch: std::sync::Mutex::new(None),
        })
    }

    pub fn config(&self) -> Arc<Config> {
        self.config.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set_config(&self, c: Config) {
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(c);
    }

    pub fn latest_scan(&self) -> Option<crate::watch::Scan> {
        self.latest_scan.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set_scan(&self, scan: crate::watch::Scan) {
        *self.latest_scan.lock().unwrap_or_else(|p| p.into_inner()) = Some(scan);
    }

    pub fn set_watch(&self, handle: Option<crate::watch::WatchHandle>) -> Option<crate::watch::WatchHandle> {
        std::mem::replace(&mut *self.watch.lock().unwrap_or_else(|p| p.into_inner()), handle)
    }

    /// After the live store was replaced: rescan, and re-create the watches (a swapped
    /// directory is a new inode at the same path).
    fn rewatch(&self) {
        if let Some(w) = self.watch.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            w.rescan(true);
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn job_dir(&self, id: i64) -> JobDir {
        JobDir::new(&self.config().state_dir, id)
    }

    pub fn emit(&self, job_id: i64, kind: &str, message: &str) {
        match self.state.add_event(job_id, self.now(), kind, message) {
            Ok(e) => {
                let _ = self.events.send(e);
            }
            Err(e) => tracing::warn!(job = job_id, error = %e, "cannot record job event"),
        }
    }

    pub fn generation_dir(&self, id: i64) -> PathBuf {
        self.config().state_dir.join("generations").join(id.to_string())
    }

    pub fn journal_path(&self) -> PathBuf {
        self.config().state_dir.join("apply.journal")
    }

    /// The quota day of `t` in the configured time zone.
    pub fn quota_day(&self, t: DateTime<Utc>) -> String {
        crate::gate::quota_day(t, self.config().triggers.tz()).to_string()
    }

    /// Jobs that occupy the single flight.
    pub fn in_flight(&self) -> Result<Option<Job>, OpError> {
        Ok(self.state.in_flight_jobs()?.into_iter().next())
    }

    /// A dream asked for by a person (API/CLI): the gate decides, with `force` bypassing
    /// thresholds, interval and quiet period but never quota, budget, lock or single flight.
    pub async fn request_dream(self: &Arc<Self>, force: bool) -> Result<Job, OpError> {
        // A fresh look: a person asking expects the store as it is now.
        let scan = crate::watch::scan(&crate::watch::WatchConfig::from_config(&self.config()));
        self.set_scan(scan.clone());
        let view = trigger::evaluate(self, Trigger::Manual { force }, &scan)?;
        if !view.decision.is_fire() {
            tracing::info!(reason = %view.decision.reason().message, "gate: manual dream refused");
            return Err(trigger::refusal(&view.decision));
        }
        tracing::info!(reason = %view.decision.reason().message, "gate: fire (manual)");
        self.start_job(if force { "manual-force" } else { "manual" }, &scan, view.estimate_usd).await
    }

    /// Create and spawn a job the gate allowed. Single flight is re-checked under the lock.
    pub async fn start_job(self: &Arc<Self>, trigger: &str, scan: &crate::watch::Scan, estimate: f64) -> Result<Job, OpError> {
        let config = self.config();
        let engine = Engine::from_config(&config);
        let mut running = self.running.lock().await;
        if let Some(job) = self.in_flight()? {
            return Err(OpError::Conflict(format!("job {} is {}; one dream at a time", job.id, job.status)));
        }
        let now = self.now();
        let job = self.state.insert_job(trigger, engine.name(), estimate, now)?;
        self.state.ledger_add(&self.quota_day(now), 1, estimate)?;
        trigger::remember_sessions_seen(self, job.id, &scan.sessions);
        tracing::info!(job = job.id, trigger, engine = engine.name(), estimate_usd = estimate, "dream started");
        let app = self.clone();
        let id = job.id;
        let handle = tokio::spawn(async move {
            runner::run_job(app.clone(), id, engine).await;
            let mut running = app.running.lock().await;
            if running.as_ref().is_some_and(|(rid, _)| *rid == id) {
                *running = None;
            }
            drop(running);
            app.wake.notify_one();
        });
        *running = Some((job.id, handle));
        Ok(job)
    }

    pub async fn approve(self: &Arc<Self>, id: i64, who: &str) -> Result<Job, OpError> {
        let job = self.state.job(id)?;
        job.status.check(JobStatus::Approved).map_err(|e| OpError::Conflict(format!("job {id}: {e}")))?;
        let _live = self.live_lock.lock().await;
        let now = self.now();
        let job = self.state.transition(
            id,
            JobStatus::Approved,
            JobUpdate { decision: Some("approved".into()), decided_by: Some(who.into()), decided_at: Some(now), ..Default::default() },
        )?;
        self.emit(id, "decision", &format!("approved by {who}"));
        match self.apply_job(&job) {
            Ok(job) => Ok(job),
            Err(OpError::Conflict(msg)) => {
                self.state.transition(
                    id,
                    JobStatus::Stale,
                    JobUpdate { error: Some(msg.clone()), finished_at: Some(self.now()), ..Default::default() },
                )?;
                Err(OpError::Conflict(format!("job {id} is stale: {msg}")))
            }
            Err(e) => {
                self.state.transition(
                    id,
                    JobStatus::Failed,
                    JobUpdate { error: Some(e.to_string()), finished_at: Some(self.now()), ..Default::default() },
                )?;
                Err(e)
            }
        }
    }

    /// Apply a staged or approved job's candidate. Caller holds `live_lock`.
    pub fn apply_job(&self, job: &Job) -> Result<Job, OpError> {
        let dir = self.job_dir(job.id);
        let candidate = dir.read_candidate()?;
        let base_hash = job.base_hash.clone().ok_or_else(|| OpError::Internal(anyhow::anyhow!("job {} has no base hash", job.id)))?;
        // Records the job `applied` with its generation, in one transaction.
        let generation = self.replace_live(&candidate, &base_hash, Some(job.id), "apply")?;
        let job = self.state.job(job.id)?;
        trigger::settle_sessions(self, job.id);
        tracing::info!(job = job.id, generation, "candidate applied");
        Ok(job)
    }

    /// Make `new` the live store; returns the generation that keeps the replaced one.
    /// A changed live store is a `Conflict`.
    fn replace_live(&self, new: &Store, base_hash: &str, job_id: Option<i64>, reason: &str) -> Result<i64, OpError> {
        let replaced =
            apply::replace_live(&self.config(), &self.state, self.now(), new, base_hash, job_id, reason).map_err(|e| match e {
                ReplaceError::Busy(msg) | ReplaceError::Refused(msg) => OpError::Conflict(msg),
                ReplaceError::Stale => OpError::Conflict("the live store changed since the dream began".into()),
                ReplaceError::Io(e) => OpError::Internal(e),
            })?;
        self.rewatch();
        if let Some(e) = replaced.event {
            let _ = self.events.send(e);
        }
        Ok(replaced.generation)
    }

    /// Stop a queued or running job. The live store is untouched (dreams never write to it).
    pub async fn cancel(&self, id: i64, who: &str) -> Result<Job, OpError> {
        let job = self.state.job(id)?;
        job.status.check(JobStatus::Canceled).map_err(|e| OpError::Conflict(format!("job {id}: {e}")))?;
        let mut running = self.running.lock().await;
        if let Some((rid, handle)) = running.take() {
            if rid == id {
                handle.abort();
                let _ = handle.await;
            } else {
                *running = Some((rid, handle));
            }
        }
        // The task may have moved the job on before it stopped; re-check under the lock.
        let job = self.state.transition(
            id,
            JobStatus::Canceled,
            JobUpdate {
                decision: Some("canceled".into()),
                decided_by: Some(who.into()),
                finished_at: Some(self.now()),
                ..Default::default()
            },
        )?;
        self.job_dir(id).remove();
        self.emit(id, "decision", &format!("canceled by {who}"));
        Ok(job)
    }

    /// Staged files of finished jobs are kept for the newest `generations.keep` jobs only.
    pub fn prune_job_dirs(&self) {
        let keep = self.config().generations.keep.max(1) as usize;
        let Ok(jobs) = self.state.jobs(10_000) else { return };
        for job in jobs.iter().filter(|j| j.status.is_terminal()).skip(keep) {
            let dir = self.job_dir(job.id);
            if dir.path().exists() {
                dir.remove();
            }
        }
    }

    pub async fn discard(&self, id: i64, who: &str) -> Result<Job, OpError> {
        let job = self.state.job(id)?;
        job.status.check(JobStatus::Discarded).map_err(|e| OpError::Conflict(format!("job {id}: {e}")))?;
        let now = self.now();
        let job = self.state.transition(
            id,
            JobStatus::Discarded,
            JobUpdate {
                decision: Some("discarded".into()),
                decided_by: Some(who.into()),
                decided_at: Some(now),
                finished_at: Some(now),
                ..Default::default()
            },
        )?;
        self.emit(id, "decision", &format!("discarded by {who}"));
        trigger::settle_sessions(self, id);
        self.wake.notify_one();
        Ok(job)
    }

    /// Restore a generation (default: the newest). The store it replaces becomes a generation too,
    /// so a rollback can itself be rolled back.
    pub async fn rollback(&self, generation: Option<i64>) -> Result<RollbackOutcome, OpError> {
        if let Some(job) = self.in_flight()? {
            return Err(OpError::Conflict(format!("job {} is {}; roll back when it is done", job.id, job.status)));
        }
        let _live = self.live_lock.lock().await;
        let gens = self.state.generations()?;
        let target = match generation {
            Some(id) => gens.iter().find(|g| g.id == id).ok_or_else(|| OpError::NotFound(format!("generation {id} not found")))?,
            None => gens.first().ok_or_else(|| OpError::NotFound("there is no generation to roll back to".into()))?,
        };
        let restored = Store::read(&self.generation_dir(target.id))
            .map_err(|e| OpError::Internal(e.context(format!("generation {} is unreadable", target.id))))?;
        let live = Store::read(&self.config().agent.memory_dir)?;
        let saved = self.replace_live(&restored, &live.hash(), None, &format!("rollback to generation {}", target.id))?;
        tracing::info!(restored = target.id, saved, "rolled back");
        Ok(RollbackOutcome { restored: target.id, saved_as: saved })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RollbackOutcome {
    /// The generation now live.
    pub restored: i64,
    /// The generation that keeps the store that was live before the rollback.
    pub saved_as: i64,
}
