//! The daemon's plain shared context: configuration, durable state, the clock, and the
//! channels on which the long-lived parts publish what they see. It holds data and small
//! helpers only: no verbs and no tasks, so every other module may depend on it and it on none
//! of them.

use crate::clock::Clock;
use crate::config::Config;
use crate::error::{join_error_message, OpError};
use crate::gate::{Decision, Trigger};
use crate::job::JobStatus;
use crate::metrics::Metrics;
use crate::stage::JobDir;
use crate::state::{Job, JobEvent, State};
use crate::supervise::Health;
use crate::watch::{Scan, WatchMode};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, watch, Notify, Semaphore};
use tokio_util::sync::CancellationToken;

/// A job changed status (published by the job owner, the only writer of job state).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobNotice {
    pub id: i64,
    pub status: JobStatus,
}

/// The trigger loop's last look at the gate: for `status`, and for tests to wait on.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TriggerReport {
    pub evaluations: u64,
    pub last_evaluated_at: Option<DateTime<Utc>>,
    pub last_trigger: Option<Trigger>,
    pub last_decision: Option<Decision>,
    /// Hash of the memory store in the scan the gate looked at.
    #[serde(skip)]
    pub scan_hash: Option<String>,
}

/// What the job owner is doing, for `status`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InFlightView {
    pub id: i64,
    pub status: JobStatus,
    /// `dreaming`, `applying`, `waiting_for_lock` or `rolling_back`.
    pub phase: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting: Option<LockWait>,
}

/// A job that passed (or was approved) but found the agent's lock held at apply time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LockWait {
    pub holder: String,
    pub since: DateTime<Utc>,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
}

/// What the watcher runs with, for `status`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WatcherView {
    pub mode: WatchMode,
    pub poll_interval: String,
}

/// The most work that runs on the blocking pool at once (scans, staging, verification).
const BLOCKING_PERMITS: usize = 4;

pub struct Context {
    config: watch::Sender<Arc<Config>>,
    pub state: State,
    pub clock: Arc<dyn Clock>,
    /// Every job event as it is recorded (the live log).
    pub events: broadcast::Sender<JobEvent>,
    /// Every job status change.
    pub notices: broadcast::Sender<JobNotice>,
    scans: watch::Sender<Option<Arc<Scan>>>,
    rescan: Notify,
    rewatch: AtomicBool,
    schedule_tick: Notify,
    tick_pending: AtomicBool,
    pub triggering: watch::Sender<TriggerReport>,
    pub in_flight: watch::Sender<Option<InFlightView>>,
    watcher: Mutex<Option<WatcherView>>,
    restart_needed: Mutex<Vec<String>>,
    pub health: Arc<Health>,
    /// Counters and histograms for `GET /metrics`.
    pub metrics: Metrics,
    blocking: Arc<Semaphore>,
    /// Cancelled when the daemon stops; every part ends on it.
    pub shutdown: CancellationToken,
}

impl Context {
    pub fn new(config: Config, state: State, clock: Arc<dyn Clock>, shutdown: CancellationToken) -> Arc<Context> {
        Arc::new(Context {
            config: watch::Sender::new(Arc::new(config)),
            state,
            clock: clock.clone(),
            events: broadcast::channel(1024).0,
            notices: broadcast::channel(256).0,
            scans: watch::Sender::new(None),
            rescan: Notify::new(),
            rewatch: AtomicBool::new(false),
            schedule_tick: Notify::new(),
            tick_pending: AtomicBool::new(false),
            triggering: watch::Sender::new(TriggerReport::default()),
            in_flight: watch::Sender::new(None),
            watcher: Mutex::new(None),
            restart_needed: Mutex::new(Vec::new()),
            health: Arc::new(Health::new()),
            metrics: Metrics::new(clock.now().timestamp_millis() as f64 / 1000.0),
            blocking: Arc::new(Semaphore::new(BLOCKING_PERMITS)),
            shutdown,
        })
    }

    // --- configuration -------------------------------------------------------------------

    pub fn config(&self) -> Arc<Config> {
        self.config.borrow().clone()
    }

    pub fn set_config(&self, c: Config) {
        self.config.send_replace(Arc::new(c));
    }

    /// Changes whenever the config is replaced (SIGHUP).
    pub fn subscribe_config(&self) -> watch::Receiver<Arc<Config>> {
        self.config.subscribe()
    }

    pub fn restart_needed(&self) -> Vec<String> {
        self.restart_needed.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set_restart_needed(&self, keys: Vec<String>) {
        *self.restart_needed.lock().unwrap_or_else(|p| p.into_inner()) = keys;
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn job_dir(&self, id: i64) -> JobDir {
        JobDir::new(&self.config().state_dir, id)
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

    // --- the job log ---------------------------------------------------------------------

    /// Record a job event and send it to live followers.
    pub fn emit(&self, job_id: i64, kind: &str, message: &str) {
        match self.state.add_event(job_id, self.now(), kind, message) {
            Ok(e) => {
                let _ = self.events.send(e);
            }
            Err(e) => tracing::warn!(job = job_id, error = %e, "cannot record job event"),
        }
    }

    pub fn notify_job(&self, job: &Job) {
        let _ = self.notices.send(JobNotice { id: job.id, status: job.status });
    }

    // --- sources ---------------------------------------------------------------------------

    pub fn latest_scan(&self) -> Option<Arc<Scan>> {
        self.scans.borrow().clone()
    }

    pub fn publish_scan(&self, scan: Scan) {
        self.scans.send_replace(Some(Arc::new(scan)));
    }

    pub fn subscribe_scans(&self) -> watch::Receiver<Option<Arc<Scan>>> {
        self.scans.subscribe()
    }

    /// Ask the watcher for a fresh scan; `rewatch` after the live directory was swapped.
    pub fn request_rescan(&self, rewatch: bool) {
        if rewatch {
            self.rewatch.store(true, Ordering::SeqCst);
        }
        self.rescan.notify_one();
    }

    /// Wait for a rescan request; returns whether the watches must be re-created.
    pub async fn rescan_requested(&self) -> bool {
        self.rescan.notified().await;
        self.rewatch.swap(false, Ordering::SeqCst)
    }

    pub fn set_watcher(&self, view: Option<WatcherView>) {
        *self.watcher.lock().unwrap_or_else(|p| p.into_inner()) = view;
    }

    pub fn watcher(&self) -> Option<WatcherView> {
        self.watcher.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A schedule tick; kept until the trigger loop takes it, so none is lost.
    pub fn schedule_tick(&self) {
        self.tick_pending.store(true, Ordering::SeqCst);
        self.schedule_tick.notify_one();
    }

    pub fn take_schedule_tick(&self) -> bool {
        self.tick_pending.swap(false, Ordering::SeqCst)
    }

    pub async fn schedule_ticked(&self) {
        self.schedule_tick.notified().await
    }

    // --- blocking work ---------------------------------------------------------------------

    /// Run blocking work (file system, SQLite scans, CPU) on the bounded blocking pool, never
    /// on the async workers. A panic in `f` comes back as an error with its message.
    pub async fn blocking<T, F>(self: &Arc<Self>, f: F) -> Result<T, OpError>
    where
        T: Send + 'static,
        F: FnOnce(&Context) -> T + Send + 'static,
    {
        let permit = self.blocking.clone().acquire_owned().await.map_err(|_| OpError::Unavailable("dreamd is stopping".into()))?;
        let ctx = self.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f(&ctx)
        })
        .await
        .map_err(|e| OpError::Internal(anyhow::anyhow!("blocking work {}", join_error_message(e))))
    }
}
