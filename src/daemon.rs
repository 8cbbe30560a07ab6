//! The daemon, shaped like mini-redis' `run(listener, shutdown)`: given a bound listener and a
//! cancellation token, recover, start the supervised parts, and run until the token is
//! cancelled (graceful: `Ok`) or a part fails critically (`Err`, so the process exits
//! non-zero and systemd restarts it).
//!
//! ```text
//! sources (watcher, scheduler, API) → trigger loop / dream verb → gate → job owner
//!   → engine → stage → verify → apply or hold
//! ```

use crate::api::{self, Api};
use crate::clock::{clock_from_env, Clock};
use crate::config::Config;
use crate::context::Context;
use crate::error::panic_message;
use crate::jobs::{self, Jobs};
use crate::state::State;
use crate::supervise::{RestartPolicy, Supervisor};
use crate::{apply, reload, triggers};
use anyhow::{Context as _, Result};
use std::sync::Arc;
use tokio::net::UnixListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How the daemon runs, besides its listener and shutdown token.
pub struct Options {
    pub config: Config,
    pub clock: Arc<dyn Clock>,
    /// Config reload requests (SIGHUP).
    pub reloads: Option<mpsc::Receiver<()>>,
    pub restart: RestartPolicy,
}

impl Options {
    pub fn new(config: Config) -> Options {
        Options { config, clock: clock_from_env(), reloads: None, restart: RestartPolicy::default() }
    }
}

/// Bind the configured socket (creating the state directory it lives in).
pub async fn bind(config: &Config) -> Result<UnixListener> {
    // Before the socket lands in it: a state directory holding only a socket would not look
    // like dreamd's, and would keep the umask's mode.
    crate::store::prepare_state_dir(&config.state_dir)
        .with_context(|| format!("cannot create state directory {}", config.state_dir.display()))?;
    api::bind(&config.socket_path(), config.api.shares_socket()).await
}

/// Run until `shutdown` is cancelled or a part fails critically.
pub async fn run(opts: Options, listener: UnixListener, shutdown: CancellationToken) -> Result<()> {
    start(opts, listener, shutdown).await?.wait().await
}

/// A started daemon: its context (for in-process tests and tools) and its main task.
pub struct Running {
    pub ctx: Arc<Context>,
    pub jobs: Jobs,
    task: tokio::task::JoinHandle<Result<()>>,
}

impl Running {
    /// Wait for the daemon to stop.
    pub async fn wait(self) -> Result<()> {
        self.task.await.map_err(|e| anyhow::anyhow!("the daemon {}", crate::error::join_error_message(e)))?
    }
}

/// Open the state, recover from a crash, start every part; return once they run.
pub async fn start(opts: Options, listener: UnixListener, shutdown: CancellationToken) -> Result<Running> {
    let Options { config, clock, reloads, restart } = opts;
    crate::store::prepare_state_dir(&config.state_dir)
        .with_context(|| format!("cannot create state directory {}", config.state_dir.display()))?;
    if let Some(problem) = config.memory_dir_problem() {
        tracing::warn!("{problem}");
    }
    let state = State::open(&config.db_path())?;
    // The parts stop on `stop`; the caller's token is never cancelled by the daemon itself.
    let stop = shutdown.child_token();
    let ctx = Context::new(config, state, clock, stop.clone());
    recover_journal(&ctx).await;

    let tcp = api::tcp::bind(&ctx.config()).await?;
    let tcp_info = tcp.as_ref().and_then(|t| Some((t.listener.local_addr().ok()?, t.token.clone())));
    let tcp = tcp.map(|t| Arc::new(t.listener));
    let listener = Arc::new(listener);
    let socket = listener.local_addr().ok().and_then(|a| a.as_pathname().map(|p| p.to_path_buf()));
    // Its identity now, so that shutdown removes this socket and nothing that replaced it.
    let socket_id = socket.as_deref().and_then(file_identity);
    let (jobs, inbox) = Jobs::channel();
    let c = ctx.clone();
    let now = Arc::new(move || c.now());
    let (mut supervisor, mut fatal) = Supervisor::new(ctx.health.clone(), now, stop.clone(), restart);
    {
        let (ctx, inbox) = (ctx.clone(), inbox.clone());
        supervisor.spawn("job_owner", move || jobs::run_owner(ctx.clone(), inbox.clone()));
    }
    {
        let api = Api::new(ctx.clone(), jobs.clone(), tcp_info.clone());
        let (listener, tcp) = (listener.clone(), tcp.clone());
        supervisor.spawn("api", move || api::serve(api.clone(), listener.clone(), tcp.clone()));
    }
    {
        let ctx = ctx.clone();
        supervisor.spawn("watcher", move || triggers::watcher::run(ctx.clone()));
    }
    {
        let ctx = ctx.clone();
        supervisor.spawn("scheduler", move || triggers::scheduler::run(ctx.clone()));
    }
    {
        let (ctx, jobs) = (ctx.clone(), jobs.clone());
        supervisor.spawn("triggers", move || triggers::run(ctx.clone(), jobs.clone()));
    }
    let config = ctx.config();
    tracing::info!(agent = %config.agent.name, socket = %socket.as_deref().map_or("unnamed".into(), |p| p.display().to_string()), memory_dir = %config.agent.memory_dir.display(), "dreamd is running");
    if let Some((address, _)) = &tcp_info {
        tracing::info!(%address, token_file = %config.token_path().unwrap_or_default().display(), "API also on TCP (bearer token)");
    }

    // systemd (Type=notify): recovered, socket bound, parts started.
    crate::systemd::notify_ready();

    let main = ctx.clone();
    let task = tokio::spawn(async move {
        let ctx = main;
        let mut reloads = reloads;
        // WatchdogSec=: pinged from this loop, and only while no part has failed for good, so a
        // daemon that is stuck or broken is restarted by systemd.
        let mut watchdog = crate::systemd::watchdog_interval().map(tokio::time::interval);
        let result = loop {
            tokio::select! {
                _ = stop.cancelled() => break Ok(()),
                _ = async { match watchdog.as_mut() { Some(w) => { w.tick().await; } None => std::future::pending::<()>().await } } => {
                    if ctx.health.snapshot().values().all(|p| p.state != crate::supervise::PartState::Failed) {
                        crate::systemd::notify_watchdog();
                    }
                }
                Some(e) = fatal.recv() => break Err(e),
                Some(()) = async { match reloads.as_mut() { Some(r) => r.recv().await, None => std::future::pending().await } } => {
                    let c = ctx.clone();
                    if let Err(e) = ctx.blocking(move |_| reload::reload(&c)).await {
                        tracing::error!(error = %e, "config reload failed");
                    }
                }
            }
        };
        tracing::info!("shutting down");
        stop.cancel();
        supervisor.join().await;
        drop(listener);
        if let Some(path) = socket {
            if socket_id.is_some() && file_identity(&path) == socket_id {
                let _ = std::fs::remove_file(path);
            } else {
                tracing::warn!(socket = %path.display(), "the socket path no longer holds dreamd's socket; left as it is");
            }
        }
        result
    });
    Ok(Running { ctx, jobs, task })
}

/// Finish or undo an apply cut short by a crash, before anything else looks at the store.
/// A failure (or a panic) is logged and shown in `status`; the daemon starts regardless.
async fn recover_journal(ctx: &Arc<Context>) {
    let c = ctx.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        // Finishes or undoes the apply on disk, then brings the database in line with it.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            fail::fail_point!("daemon::recover");
            apply::reconcile(&c.config(), &c.state, c.now())
        }))
    })
    .await;
    let error = match outcome {
        Ok(Ok(Ok(None))) => None,
        Ok(Ok(Ok(Some(msg)))) => {
            tracing::warn!("{msg}");
            None
        }
        Ok(Ok(Err(e))) => Some(format!("{e:#}")),
        Ok(Err(panic)) => Some(format!("panicked: {}", panic_message(&*panic))),
        Err(e) => Some(crate::error::join_error_message(e)),
    };
    if let Some(e) = error {
        tracing::error!(error = %e, "crash recovery of the apply journal failed; the journal is kept for the next start");
        ctx.health.record_error("recovery", &format!("apply journal: {e}"), ctx.now());
    }
}

/// (device, inode) of what is at `path`, without following a link.
fn file_identity(path: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).ok().map(|m| (m.dev(), m.ino()))
}
