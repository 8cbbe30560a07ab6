//! The daemon: recover, listen, run until shutdown. Shaped like mini-redis's `run(listener,
//! shutdown)`: everything long-lived is a task that ends when shutdown is signalled.

use crate::api;
use crate::app::App;
use crate::apply;
use crate::clock::{clock_from_env, Clock};
use crate::config::Config;
use crate::job::JobStatus;
use crate::memory::PinRules;
use crate::state::{JobUpdate, State};
use crate::store::Store;
use anyhow::{Context, Result};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Run the daemon until `shutdown` completes.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<()> {
    let (_reload_tx, reload_rx) = mpsc::channel(1);
    run_with(config, clock_from_env(), shutdown, reload_rx).await
}

/// Run with an explicit clock and a channel of config reload requests (SIGHUP).
pub async fn run_with(
    config: Config,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()>,
    mut reload: mpsc::Receiver<()>,
) -> Result<()> {
    crate::store::prepare_state_dir(&config.state_dir)
        .with_context(|| format!("cannot create state directory {}", config.state_dir.display()))?;
    if let Some(problem) = config.memory_dir_problem() {
        tracing::warn!("{problem}");
    }
    let state = State::open(&config.db_path())?;
    let socket = config.socket_path();
    let app = App::new(config, state, clock);
    recover(&app).await?;

    let listener = api::bind(&socket).await?;

    // Sources → gate: the watcher feeds scans to the trigger loop, which owns the schedule.
    let (scan_tx, scan_rx) = mpsc::channel(16);
    let watcher = crate::watch::Watcher::start(crate::watch::WatchConfig::from_config(&app.config()), scan_tx).await?;
    app.set_watch(Some(watcher));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let triggers = tokio::spawn(crate::trigger::run(app.clone(), scan_rx, stop_rx));

    tracing::info!(agent = %app.config().agent.name, socket = %socket.display(), memory_dir = %app.config().agent.memory_dir.display(), "dreamd is running");

    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let header_timeout = app_header_timeout(&app);
                let app = app.clone();
                let service = hyper::service::service_fn(move |req| api::handle(app.clone(), req));
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(header_timeout)
                    .serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            Some(()) = reload.recv() => reload_config(&app),
            _ = &mut shutdown => break,
        }
    }
    tracing::info!("shutting down");
    drop(listener);
    let _ = stop_tx.send(true);
    let _ = triggers.await;
    if let Some(w) = app.set_watch(None) {
        w.shutdown().await;
    }
    let _ = std::fs::remove_file(&socket);
    interrupt_running(&app).await;
    if tokio::time::timeout(std::time::Duration::from_secs(5), graceful.shutdown()).await.is_err() {
        tracing::warn!("some API connections did not close within 5s");
    }
    Ok(())
}

fn app_header_timeout(app: &App) -> std::time::Duration {
    app.config().api.header_timeout.0.max(std::time::Duration::from_secs(1))
}

/// Stop the running job and record that it was interrupted.
async fn interrupt_running(app: &Arc<App>) {
    let running = app.running.lock().await.take();
    if let Some((id, handle)) = running {
        handle.abort();
        let _ = handle.await;
        if let Ok(job) = app.state.job(id) {
            if matches!(job.status, JobStatus::Queued | JobStatus::Running) {
                let msg = "interrupted: dreamd shut down while the job was running";
                app.emit(id, "error", msg);
                let _ = app.state.transition(
                    id,
                    JobStatus::Failed,
                    JobUpdate { error: Some(msg.into()), finished_at: Some(app.now()), ..Default::default() },
                );
                tracing::warn!(job = id, "{msg}");
            }
        }
    }
}

/// Bring state and the live store to a consistent point after a crash or restart.
async fn recover(app: &Arc<App>) -> Result<()> {
    let config = app.config();
    if let Some(msg) = apply::reconcile(&config, &app.state, app.now())? {
        tracing::warn!("{msg}");
    }
    for job in app.state.in_flight_jobs()? {
        let id = job.id;
        match job.status {
            JobStatus::Queued | JobStatus::Running => {
                let msg = "interrupted: dreamd stopped while the job was running; request a new dream";
                app.emit(id, "error", msg);
                app.state.transition(
                    id,
                    JobStatus::Failed,
                    JobUpdate { error: Some(msg.into()), finished_at: Some(app.now()), ..Default::default() },
                )?;
                app.job_dir(id).remove();
                tracing::warn!(job = id, "{msg}");
            }
            JobStatus::Staged => {
                // Staged but undecided: decide now, from what was staged.
                let dir = app.job_dir(id);
                let staged = (dir.read_base(), dir.read_candidate(), dir.read_report());
                if let (Ok(base), Ok(candidate), Ok(report)) = staged {
                    let pins = PinRules::new(&config.policy.pinned_patterns)?;
                    tracing::info!(job = id, "deciding a job staged before the restart");
                    crate::runner::decide(app, id, &config, &base, &candidate, &report, &pins).await?;
                } else {
                    app.state.transition(
                        id,
                        JobStatus::Failed,
                        JobUpdate {
                            error: Some("staged files missing after restart".into()),
                            finished_at: Some(app.now()),
                            ..Default::default()
                        },
                    )?;
                }
            }
            JobStatus::Approved => {
                let live = Store::read(&config.agent.memory_dir)?.hash();
                if job.candidate_hash.as_deref() == Some(live.as_str()) {
                    app.state.transition(id, JobStatus::Applied, JobUpdate { finished_at: Some(app.now()), ..Default::default() })?;
                    tracing::warn!(job = id, "an apply interrupted by a restart had completed; job marked applied");
                } else {
                    let msg = "interrupted: dreamd stopped while applying; the live store was left as it was";
                    app.state.transition(
                        id,
                        JobStatus::Failed,
                        JobUpdate { error: Some(msg.into()), finished_at: Some(app.now()), ..Default::default() },
                    )?;
                    tracing::warn!(job = id, "{msg}");
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Keys read once at start: paths, and what the watcher was started with.
const RESTART_ONLY: [&str; 7] =
    ["state_dir", "api.socket", "agent.memory_dir", "agent.sessions_dir", "agent.layout", "triggers.watch", "triggers.poll_interval"];

/// Re-read the config file; keep the old config if the new one is invalid.
fn reload_config(app: &App) {
    let old = app.config();
    let Some(path) = old.source.clone() else {
        tracing::warn!("reload requested but the config has no file to re-read");
        return;
    };
    match Config::load(&path) {
        Err(e) => tracing::error!("config reload rejected, keeping the old config: {e}"),
        Ok(new) => {
            let changes = crate::config::diff(&old, &new);
            if changes.is_empty() {
                tracing::info!("config reloaded: nothing changed");
                return;
            }
            let restart: Vec<&String> = changes.iter().filter(|c| RESTART_ONLY.iter().any(|k| c.starts_with(k))).collect();
            if !restart.is_empty() {
                tracing::warn!(keys = ?restart, "these changes take effect only after a restart; keeping the running values");
            }
            let mut merged = new;
            merged.state_dir = old.state_dir.clone();
            merged.api.socket = old.api.socket.clone();
            merged.agent.memory_dir = old.agent.memory_dir.clone();
            merged.agent.sessions_dir = old.agent.sessions_dir.clone();
            merged.agent.layout = old.agent.layout;
            merged.triggers.watch = old.triggers.watch;
            merged.triggers.poll_interval = old.triggers.poll_interval;
            tracing::info!(changes = ?changes, "config reloaded");
            app.set_config(merged);
            app.wake.notify_one();
        }
    }
}
