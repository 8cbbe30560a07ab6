//! The async side of schedules: wake at each fire instant and send a tick.
//!
//! Fire instants come from [`next_fire`] (DST-correct, pure). tokio-cron-scheduler wakes us
//! at them through one-shot jobs, re-armed after every fire. Its own cron jobs are not used
//! because they evaluate expressions in a fixed UTC offset and drift an hour across DST.
//!
//! A wake is never trusted blindly: the clock is read again, a wake that comes early is
//! topped up with a short sleep, and no single wait is longer than the clock's
//! `recheck_interval()`, so wall-clock jumps (suspend, NTP, a test clock) are noticed.
//! A fire instant that was jumped over fires once when noticed (no catch-up storm).

use super::{next_fire, CronSchedule};
use crate::clock::Clock;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio_cron_scheduler::{Job, JobScheduler};

#[derive(Debug, Clone, thiserror::Error)]
#[error("scheduler: {0}")]
pub struct SchedulerError(pub String);

/// A running schedule. Ticks go into the `mpsc::Sender<()>` given to [`Scheduler::start`];
/// a tick the receiver has not taken yet absorbs the next one (coalescing).
pub struct Scheduler {
    state: watch::Receiver<SchedulerState>,
    rearm: Arc<Notify>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// What the scheduler is waiting for; observable, so callers wait on it instead of sleeping.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedulerState {
    /// The next fire instant.
    pub next: Option<DateTime<Utc>>,
    /// Times the scheduler woke up and read the clock.
    pub wakes: u64,
    /// Times a wake-up was armed (the first one proves the task has read the clock).
    pub armed: u64,
}

/// Wakes that arrive up to this much before the fire instant are topped up by a sleep.
const EARLY_TOLERANCE: chrono::Duration = chrono::Duration::seconds(3);

impl Scheduler {
    pub async fn start(
        schedule: CronSchedule,
        tz: Tz,
        clock: Arc<dyn Clock>,
        ticks: mpsc::Sender<()>,
    ) -> Result<Scheduler, SchedulerError> {
        let jobs = JobScheduler::new().await.map_err(|e| SchedulerError(format!("cannot create: {e}")))?;
        jobs.start().await.map_err(|e| SchedulerError(format!("cannot start: {e}")))?;
        // Known before the task runs, so whoever started the schedule can report it at once.
        let first = SchedulerState { next: next_fire(&schedule, tz, clock.now()), ..Default::default() };
        let (state_tx, state) = watch::channel(first);
        let rearm = Arc::new(Notify::new());
        let (stop_tx, stop_rx) = oneshot::channel();
        let task = tokio::spawn(run(jobs, schedule, tz, clock, ticks, state_tx, rearm.clone(), stop_rx));
        Ok(Scheduler { state, rearm, stop: Some(stop_tx), task: Some(task) })
    }

    /// The next fire instant, for `dreamd status`.
    pub fn next_tick(&self) -> Option<DateTime<Utc>> {
        self.state.borrow().next
    }

    /// Follow the scheduler's state (next fire instant, wake-ups).
    pub fn subscribe(&self) -> watch::Receiver<SchedulerState> {
        self.state.clone()
    }

    /// Recompute the next fire instant now (e.g. after the clock was moved).
    pub fn rearm(&self) {
        self.rearm.notify_one();
    }

    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn run(
    mut jobs: JobScheduler,
    schedule: CronSchedule,
    tz: Tz,
    clock: Arc<dyn Clock>,
    ticks: mpsc::Sender<()>,
    state: watch::Sender<SchedulerState>,
    rearm: Arc<Notify>,
    mut stop: oneshot::Receiver<()>,
) {
    let (wake_tx, mut wake_rx) = mpsc::channel::<()>(4);
    let set_next = |t: Option<DateTime<Utc>>| {
        state.send_if_modified(|s| {
            let changed = s.next != t;
            s.next = t;
            changed
        });
    };
    // The last instant we fired for: never fire the same instant twice.
    let mut fired: Option<DateTime<Utc>> = None;
    let mut armed_job = None;
    loop {
        let now = clock.now();
        let after = fired.map_or(now, |f| f.max(now));
        let Some(target) = next_fire(&schedule, tz, after) else {
            tracing::warn!(schedule = %schedule.six_field, "schedule never fires again");
            set_next(None);
            break;
        };
        set_next(Some(target));

        // Arm a one-shot wake at the target, or at the recheck horizon if that is sooner.
        let until_target = (target - now).to_std().unwrap_or(Duration::ZERO);
        let delay = until_target.min(clock.recheck_interval());
        // Round up: tokio-cron-scheduler truncates to whole seconds and would wake early.
        let delay = Duration::from_secs(delay.as_secs() + u64::from(delay.subsec_nanos() > 0));
        if let Some(old) = armed_job.take() {
            let _ = jobs.remove(&old).await;
        }
        let tx = wake_tx.clone();
        let job = Job::new_one_shot_async(delay, move |_id, _sched| {
            let tx = tx.clone();
            Box::pin(async move {
                let _ = tx.try_send(());
            })
        });
        match job {
            Ok(job) => match jobs.add(job).await {
                Ok(id) => {
                    armed_job = Some(id);
                    state.send_modify(|s| s.armed += 1);
                }
                Err(e) => tracing::warn!(error = %e, "cannot arm the schedule's wake-up; retrying"),
            },
            Err(e) => tracing::warn!(error = %e, "cannot create the schedule's wake-up; retrying"),
        }
        if armed_job.is_none() {
            // Still wait, so a persistent failure does not spin.
            tokio::time::sleep(clock.recheck_interval()).await;
            continue;
        }

        tokio::select! {
            _ = &mut stop => break,
            _ = rearm.notified() => continue,
            woke = wake_rx.recv() => if woke.is_none() { break },
        }
        state.send_modify(|s| s.wakes += 1);
        armed_job = None; // a one-shot that ran removes itself

        let mut now = clock.now();
        if now < target && target - now <= EARLY_TOLERANCE {
            if let Ok(rest) = (target - now).to_std() {
                tokio::time::sleep(rest).await;
            }
            now = clock.now();
        }
        if now >= target {
            fired = Some(target);
            match ticks.try_send(()) {
                Ok(()) => tracing::debug!(at = %target, "schedule tick"),
                Err(mpsc::error::TrySendError::Full(())) => tracing::debug!("schedule tick coalesced with a pending one"),
                Err(mpsc::error::TrySendError::Closed(())) => break,
            }
        }
    }
    if let Some(old) = armed_job.take() {
        let _ = jobs.remove(&old).await;
    }
    let _ = jobs.shutdown().await;
    set_next(None);
}
