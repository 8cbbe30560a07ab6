//! Supervision of the daemon's long-lived parts (watcher, scheduler, trigger loop, job owner,
//! API server), with watchexec's split of errors:
//! - a **runtime** error (the part returned an error, ended on its own, or panicked) is logged,
//!   recorded in its health, and the part is started again after a short backoff;
//! - a **critical** error, or a part that keeps failing (more than `max_restarts` within
//!   `window`), stops the daemon with an error, so the process exits non-zero and systemd
//!   restarts it.
//!
//! `dreamd status` shows every part's health from [`Health`].

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum PartError {
    /// Log it and start the part again.
    #[error("{0:#}")]
    Runtime(anyhow::Error),
    /// Stop the daemon.
    #[error("{0:#}")]
    Critical(anyhow::Error),
}

impl From<anyhow::Error> for PartError {
    fn from(e: anyhow::Error) -> Self {
        PartError::Runtime(e)
    }
}

pub type PartResult = Result<(), PartError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PartState {
    Running,
    /// Failed; waiting out the backoff before the next start.
    Restarting,
    /// Ended because the daemon is shutting down.
    Stopped,
    /// Failed critically or too often; the daemon is stopping.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartHealth {
    pub state: PartState,
    /// Starts after the first.
    pub restarts: u32,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    /// When the part entered its current state.
    pub since: DateTime<Utc>,
}

/// The health of every supervised part, shared with `status`.
#[derive(Default)]
pub struct Health {
    parts: Mutex<BTreeMap<String, PartHealth>>,
    /// Bumped on every change, so a waiter need not poll.
    version: watch::Sender<u64>,
    #[cfg(feature = "test-hooks")]
    aborts: Mutex<BTreeMap<String, tokio::task::AbortHandle>>,
}

impl Health {
    pub fn new() -> Health {
        Health::default()
    }

    pub fn snapshot(&self) -> BTreeMap<String, PartHealth> {
        self.parts.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn get(&self, name: &str) -> Option<PartHealth> {
        self.parts.lock().unwrap_or_else(|p| p.into_inner()).get(name).cloned()
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    fn update(&self, name: &str, now: DateTime<Utc>, f: impl FnOnce(&mut PartHealth)) {
        self.update_or(name, PartState::Running, now, f)
    }

    fn update_or(&self, name: &str, initial: PartState, now: DateTime<Utc>, f: impl FnOnce(&mut PartHealth)) {
        {
            let mut parts = self.parts.lock().unwrap_or_else(|p| p.into_inner());
            let entry = parts.entry(name.to_string()).or_insert(PartHealth {
                state: initial,
                restarts: 0,
                last_error: None,
                last_error_at: None,
                since: now,
            });
            f(entry);
        }
        self.version.send_modify(|v| *v += 1);
    }

    fn set_state(&self, name: &str, state: PartState, now: DateTime<Utc>) {
        self.update(name, now, |h| {
            if h.state != state {
                h.state = state;
                h.since = now;
            }
        });
    }

    /// Record an error of a part without changing its state; for a one-off step (start-up
    /// recovery) that is not a part, the entry shows it `failed`.
    pub fn record_error(&self, name: &str, error: &str, now: DateTime<Utc>) {
        self.update_or(name, PartState::Failed, now, |h| {
            h.last_error = Some(error.to_string());
            h.last_error_at = Some(now);
        });
    }

    /// Test hook: stop a part's current run as if it had died; the supervisor restarts it.
    #[cfg(feature = "test-hooks")]
    pub fn abort(&self, name: &str) -> bool {
        match self.aborts.lock().unwrap_or_else(|p| p.into_inner()).get(name) {
            Some(h) => {
                h.abort();
                true
            }
            None => false,
        }
    }

    #[cfg(feature = "test-hooks")]
    fn set_abort(&self, name: &str, handle: tokio::task::AbortHandle) {
        self.aborts.lock().unwrap_or_else(|p| p.into_inner()).insert(name.to_string(), handle);
    }

    #[cfg(not(feature = "test-hooks"))]
    fn set_abort(&self, _name: &str, _handle: tokio::task::AbortHandle) {}
}

#[derive(Debug, Clone, Copy)]
pub struct RestartPolicy {
    /// More restarts than this within `window` is critical.
    pub max_restarts: usize,
    pub window: Duration,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            max_restarts: 5,
            window: Duration::from_secs(60),
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// Runs parts until `stop` is cancelled; reports a critical failure on the channel returned
/// by [`Supervisor::new`].
pub struct Supervisor {
    health: Arc<Health>,
    now: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
    stop: CancellationToken,
    fatal: mpsc::Sender<anyhow::Error>,
    tasks: JoinSet<()>,
    policy: RestartPolicy,
}

impl Supervisor {
    pub fn new(
        health: Arc<Health>,
        now: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
        stop: CancellationToken,
        policy: RestartPolicy,
    ) -> (Supervisor, mpsc::Receiver<anyhow::Error>) {
        let (fatal, fatal_rx) = mpsc::channel(8);
        (Supervisor { health, now, stop, fatal, tasks: JoinSet::new(), policy }, fatal_rx)
    }

    /// Run `part` (a factory: each call starts one run) under supervision.
    pub fn spawn<F, Fut>(&mut self, name: &'static str, mut part: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = PartResult> + Send + 'static,
    {
        let health = self.health.clone();
        let now = self.now.clone();
        let stop = self.stop.clone();
        let fatal = self.fatal.clone();
        let policy = self.policy;
        self.tasks.spawn(async move {
            let mut failures: VecDeque<Instant> = VecDeque::new();
            loop {
                let run = tokio::spawn(part());
                // Registered before the part is announced running, so whoever sees it running
                // can also stop it (the test hook).
                health.set_abort(name, run.abort_handle());
                health.set_state(name, PartState::Running, now());
                let result = run.await;
                if stop.is_cancelled() {
                    health.set_state(name, PartState::Stopped, now());
                    return;
                }
                let error = match result {
                    Ok(Ok(())) => anyhow::anyhow!("{name} ended unexpectedly"),
                    Ok(Err(PartError::Runtime(e))) => e,
                    Ok(Err(PartError::Critical(e))) => {
                        let e = e.context(format!("{name} failed critically"));
                        tracing::error!(part = name, error = %format!("{e:#}"), "stopping dreamd");
                        health.record_error(name, &format!("{e:#}"), now());
                        health.set_state(name, PartState::Failed, now());
                        let _ = fatal.send(e).await;
                        return;
                    }
                    Err(join) => anyhow::anyhow!("{name} {}", crate::error::join_error_message(join)),
                };
                let message = format!("{error:#}");
                health.record_error(name, &message, now());
                let t = Instant::now();
                failures.push_back(t);
                while failures.front().is_some_and(|f| t.duration_since(*f) > policy.window) {
                    failures.pop_front();
                }
                if failures.len() > policy.max_restarts {
                    let e = anyhow::anyhow!("{name} failed {} times within {:?}; last error: {message}", failures.len(), policy.window);
                    tracing::error!(part = name, error = %e, "stopping dreamd");
                    health.set_state(name, PartState::Failed, now());
                    let _ = fatal.send(e).await;
                    return;
                }
                let backoff = policy.first_backoff.saturating_mul(1 << (failures.len() - 1).min(16) as u32).min(policy.max_backoff);
                tracing::error!(part = name, error = %message, restart_in = ?backoff, "a part of dreamd failed; restarting it");
                health.set_state(name, PartState::Restarting, now());
                health.update(name, now(), |h| h.restarts += 1);
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.cancelled() => {
                        health.set_state(name, PartState::Stopped, now());
                        return;
                    }
                }
            }
        });
    }

    /// Wait until every supervision loop has ended (after `stop` was cancelled).
    pub async fn join(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn fast() -> RestartPolicy {
        RestartPolicy {
            max_restarts: 3,
            window: Duration::from_secs(60),
            first_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
        }
    }

    fn supervisor(stop: &CancellationToken) -> (Supervisor, mpsc::Receiver<anyhow::Error>, Arc<Health>) {
        let health = Arc::new(Health::new());
        let (s, rx) = Supervisor::new(health.clone(), Arc::new(Utc::now), stop.clone(), fast());
        (s, rx, health)
    }

    async fn wait_health(health: &Health, pred: impl Fn(&PartHealth) -> bool, name: &str) -> PartHealth {
        let mut rx = health.subscribe();
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if let Some(h) = health.get(name).filter(|h| pred(h)) {
                    return h;
                }
                rx.changed().await.unwrap();
            }
        })
        .await
        .expect("health never reached the expected state")
    }

    #[tokio::test]
    async fn a_part_that_ends_or_panics_is_restarted_and_reported() {
        let stop = CancellationToken::new();
        let (mut s, _fatal, health) = supervisor(&stop);
        let runs = Arc::new(AtomicU32::new(0));
        let r = runs.clone();
        let stop2 = stop.clone();
        s.spawn("flaky", move || {
            let n = r.fetch_add(1, Ordering::SeqCst);
            let stop = stop2.clone();
            async move {
                match n {
                    0 => Ok(()),                                                     // ends on its own
                    1 => panic!("boom"),                                             // panics
                    2 => Err(PartError::Runtime(anyhow::anyhow!("channel closed"))), // fails
                    _ => {
                        stop.cancelled().await;
                        Ok(())
                    }
                }
            }
        });
        let h = wait_health(&health, |h| h.restarts == 3 && h.state == PartState::Running, "flaky").await;
        assert_eq!(h.last_error.as_deref(), Some("channel closed"));
        assert_eq!(runs.load(Ordering::SeqCst), 4);
        stop.cancel();
        s.join().await;
        assert_eq!(health.get("flaky").unwrap().state, PartState::Stopped);
    }

    #[tokio::test]
    async fn a_critical_error_or_too_many_restarts_stops_the_daemon() {
        let stop = CancellationToken::new();
        let (mut s, mut fatal, health) = supervisor(&stop);
        s.spawn("broken", || async { Err(PartError::Critical(anyhow::anyhow!("database is gone"))) });
        let e = fatal.recv().await.unwrap();
        assert!(format!("{e:#}").contains("database is gone"), "{e:#}");
        assert_eq!(health.get("broken").unwrap().state, PartState::Failed);

        s.spawn("looping", || async { Err(PartError::Runtime(anyhow::anyhow!("again"))) });
        let e = fatal.recv().await.unwrap();
        assert!(e.to_string().contains("looping failed 4 times"), "{e}");
        stop.cancel();
        s.join().await;
    }
}
