//! Watching the memory and sessions directories.
//!
//! Filesystem events are hints only. Whenever one arrives (debounced), when the OS says
//! events were lost (`need_rescan`), at start, every `poll_interval` as a safety net, and
//! when asked ([`WatchHandle::rescan`]), the picture is rebuilt from a full [`Scan`] and
//! sent as a [`WatchEvent`]. Consumers never reason about individual events.
//!
//! Native events (inotify) are used when possible. If the watcher cannot be created or the
//! OS watch limit is hit, we switch to notify's `PollWatcher` with `poll_interval`, and say
//! so once in the log. `triggers.watch: poll` forces polling (NFS, some container
//! filesystems deliver no events).

use crate::config::triggers::WatchMode as ConfiguredMode;
use crate::config::{Config, HumanDuration, Layout};
use crate::gate::StoreStats;
use crate::sessions::{self, SessionStat};
use chrono::{DateTime, Utc};
use notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{new_debouncer_opt, DebounceEventResult, Debouncer, NoCache, RecommendedCache};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// The index file whose length matters (Claude Code loads only its first 200 lines).
pub const INDEX_FILE: &str = "MEMORY.md";

#[derive(Debug, Clone, PartialEq)]
pub struct WatchConfig {
    pub memory_dir: PathBuf,
    pub sessions_dir: Option<PathBuf>,
    pub layout: Layout,
    pub session_glob: String,
    /// PollWatcher interval.
    pub poll_interval: Duration,
    /// Period of the safety-net rescan (the config uses `poll_interval` for both).
    pub rescan_interval: Duration,
    /// Events are batched until the tree has been quiet this long.
    pub debounce: Duration,
    pub force_poll: bool,
}

impl WatchConfig {
    pub fn from_config(c: &Config) -> WatchConfig {
        WatchConfig {
            memory_dir: c.agent.memory_dir.clone(),
            sessions_dir: c.agent.sessions_dir.clone(),
            layout: c.agent.layout,
            session_glob: c.triggers.session_glob.clone(),
            poll_interval: c.triggers.poll_interval.0.max(Duration::from_millis(100)),
            rescan_interval: c.triggers.poll_interval.0.max(Duration::from_millis(100)),
            debounce: Duration::from_secs(1),
            force_poll: c.triggers.watch == ConfiguredMode::Poll,
        }
    }
}

/// The memory directory as data. Dot-files (`.consolidate-lock`) are not part of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MemoryScan {
    pub bytes: u64,
    pub files: u32,
    pub index_lines: u32,
    pub index_bytes: u64,
    /// Newest file mtime: the last write, for the quiet period.
    pub newest_mtime: Option<DateTime<Utc>>,
    /// Same value as `Store::read(dir).hash()` for the same content.
    pub hash: String,
    /// Why the directory could not be scanned (missing, unreadable); the rest is then empty.
    pub error: Option<String>,
}

impl MemoryScan {
    pub fn stats(&self) -> StoreStats {
        StoreStats { bytes: self.bytes, files: self.files, index_lines: self.index_lines, last_write: self.newest_mtime }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Scan {
    pub memory: MemoryScan,
    pub sessions: Vec<SessionStat>,
    pub sessions_error: Option<String>,
    pub scanned_at: Option<DateTime<Utc>>,
}

impl Scan {
    /// Same content as `other`, ignoring when the scans were taken.
    pub fn same_as(&self, other: &Scan) -> bool {
        self.memory == other.memory && self.sessions == other.sessions && self.sessions_error == other.sessions_error
    }
}

/// Scan the memory directory. Unreadable files are warned about and skipped.
pub fn scan_memory(dir: &Path) -> MemoryScan {
    let files = match crate::store::list_files(dir) {
        Ok(f) => f,
        Err(e) => return MemoryScan { error: Some(format!("{e:#}")), ..Default::default() },
    };
    let mut out = MemoryScan::default();
    // Same framing as Store::hash, streamed so the whole store is never held at once.
    let mut h = Sha256::new();
    for rel in files {
        let path = dir.join(&rel);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read memory file during scan; skipping it");
                continue;
            }
        };
        let mtime = std::fs::metadata(&path).and_then(|m| m.modified()).ok().map(DateTime::<Utc>::from);
        out.newest_mtime = out.newest_mtime.max(mtime);
        out.files += 1;
        out.bytes += bytes.len() as u64;
        if rel == INDEX_FILE {
            out.index_bytes = bytes.len() as u64;
            out.index_lines = String::from_utf8_lossy(&bytes).lines().count() as u32;
        }
        h.update((rel.len() as u64).to_le_bytes());
        h.update(rel.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    out.hash = hex::encode(h.finalize());
    out
}

/// A full scan of both directories (blocking I/O; run it off the async runtime).
pub fn scan(cfg: &WatchConfig) -> Scan {
    let memory = scan_memory(&cfg.memory_dir);
    let (sessions, sessions_error) = match &cfg.sessions_dir {
        None => (Vec::new(), None),
        Some(dir) => match sessions::discover(dir, cfg.layout, &cfg.session_glob) {
            Ok(files) => (sessions::stat_sessions(&files), None),
            Err(e) => (Vec::new(), Some(format!("{e:#}"))),
        },
    };
    Scan { memory, sessions, sessions_error, scanned_at: Some(Utc::now()) }
}

/// Which mechanism delivers change hints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WatchMode {
    Native,
    Poll,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanCause {
    Start,
    /// Filesystem events (or lost events: `need_rescan`).
    Event,
    /// The safety-net period elapsed.
    Periodic,
    /// [`WatchHandle::rescan`].
    Requested,
}

#[derive(Debug, Clone)]
pub struct WatchEvent {
    pub scan: Scan,
    pub cause: ScanCause,
    /// False when the scan shows the same content as the previous one.
    pub changed: bool,
}

enum Request {
    Rescan {
        rewatch: bool,
    },
    /// New settings (a reload): re-create the watches with them, in place.
    Reconfigure(WatchConfig),
}

/// Controls a running watcher. Dropping it stops the watcher.
pub struct WatchHandle {
    requests: mpsc::Sender<Request>,
    mode: Arc<Mutex<WatchMode>>,
    task: tokio::task::JoinHandle<()>,
}

impl WatchHandle {
    /// Scan now. With `rewatch`, also re-create the watches: call it after the memory
    /// directory was swapped (a new inode at the same path).
    pub fn rescan(&self, rewatch: bool) {
        // A full queue already holds a pending rescan: nothing is lost.
        let _ = self.requests.try_send(Request::Rescan { rewatch });
    }

    /// Switch to new settings without stopping: watches are re-created and the directories
    /// rescanned. A full queue is waited out on another task, so this never blocks.
    pub fn reconfigure(&self, cfg: WatchConfig) {
        let requests = self.requests.clone();
        tokio::spawn(async move {
            let _ = requests.send(Request::Reconfigure(cfg)).await;
        });
    }

    pub fn mode(&self) -> WatchMode {
        *self.mode.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub async fn shutdown(self) {
        drop(self.requests);
        let _ = self.task.await;
    }
}

pub struct Watcher;

impl Watcher {
    /// Start watching; the first event (cause `Start`) follows immediately.
    pub async fn start(cfg: WatchConfig, events: mpsc::Sender<WatchEvent>) -> anyhow::Result<WatchHandle> {
        let (req_tx, req_rx) = mpsc::channel(4);
        let mode = Arc::new(Mutex::new(if cfg.force_poll { WatchMode::Poll } else { WatchMode::Native }));
        let task = tokio::spawn(run(cfg, events, req_rx, mode.clone()));
        Ok(WatchHandle { requests: req_tx, mode, task })
    }
}

/// Shared between the notify thread and the watch task.
struct Hints {
    dirty: mpsc::Sender<()>,
    limit_hit: AtomicBool,
}

enum Backend {
    Native(#[allow(dead_code)] Debouncer<notify::RecommendedWatcher, RecommendedCache>),
    Poll(#[allow(dead_code)] Debouncer<notify::PollWatcher, NoCache>),
}

/// The live watches and the directories we could not watch yet (missing ones).
struct Watching {
    _backend: Option<Backend>,
    unwatched: Vec<PathBuf>,
}

fn is_limit_error(e: &notify::Error) -> bool {
    match &e.kind {
        notify::ErrorKind::MaxFilesWatch => true,
        notify::ErrorKind::Io(io) => matches!(io.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EMFILE) | Some(libc::ENFILE)),
        _ => false,
    }
}

fn is_missing(e: &notify::Error) -> bool {
    match &e.kind {
        notify::ErrorKind::PathNotFound => true,
        notify::ErrorKind::Io(io) => io.kind() == std::io::ErrorKind::NotFound,
        _ => false,
    }
}

/// Events that mean content may have changed. Opens and reads (including our own scans)
/// are not; events touching only dot-files (the agent's lock) are not either.
fn relevant(e: &notify_debouncer_full::DebouncedEvent) -> bool {
    if e.need_rescan() {
        return true;
    }
    let kind_matters = match e.kind {
        EventKind::Access(notify::event::AccessKind::Close(notify::event::AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    };
    let only_dot_files =
        !e.paths.is_empty() && e.paths.iter().all(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')));
    kind_matters && !only_dot_files
}

fn handler(hints: Arc<Hints>) -> impl FnMut(DebounceEventResult) + Send + 'static {
    move |res: DebounceEventResult| match res {
        Ok(events) => {
            if events.iter().any(relevant) {
                let _ = hints.dirty.try_send(());
            }
        }
        Err(errors) => {
            if errors.iter().any(is_limit_error) {
                hints.limit_hit.store(true, Ordering::SeqCst);
            }
            let _ = hints.dirty.try_send(());
        }
    }
}

fn dirs(cfg: &WatchConfig) -> Vec<PathBuf> {
    std::iter::once(cfg.memory_dir.clone()).chain(cfg.sessions_dir.clone()).collect()
}

/// Set up watches in `mode`. Returns None when native watching is impossible here (the
/// caller falls back to polling).
fn setup(cfg: &WatchConfig, mode: WatchMode, hints: &Arc<Hints>) -> Option<Watching> {
    let tick = (cfg.debounce / 2).max(Duration::from_millis(50));
    let mut unwatched = Vec::new();
    macro_rules! watch_all {
        ($deb:expr) => {{
            let mut deb = $deb;
            for dir in dirs(cfg) {
                match deb.watch(&dir, RecursiveMode::Recursive) {
                    Ok(()) => {}
                    Err(e) if is_missing(&e) || !dir.exists() => unwatched.push(dir),
                    Err(e) if is_limit_error(&e) && mode == WatchMode::Native => return None,
                    Err(e) => {
                        tracing::warn!(dir = %dir.display(), error = %e, "cannot watch directory; relying on periodic rescans");
                        unwatched.push(dir);
                    }
                }
            }
            deb
        }};
    }
    let backend = match mode {
        WatchMode::Native => {
            let deb = new_debouncer_opt::<_, notify::RecommendedWatcher, RecommendedCache>(
                cfg.debounce,
                Some(tick),
                handler(hints.clone()),
                RecommendedCache::new(),
                notify::Config::default(),
            );
            match deb {
                Ok(deb) => Backend::Native(watch_all!(deb)),
                Err(e) => {
                    tracing::debug!(error = %e, "native file watcher unavailable");
                    return None;
                }
            }
        }
        WatchMode::Poll => {
            let deb = new_debouncer_opt::<_, notify::PollWatcher, NoCache>(
                cfg.debounce,
                Some(tick),
                handler(hints.clone()),
                NoCache,
                notify::Config::default().with_poll_interval(cfg.poll_interval),
            );
            match deb {
                Ok(deb) => Backend::Poll(watch_all!(deb)),
                Err(e) => {
                    // Cannot even poll with notify (no thread?): periodic rescans still run.
                    tracing::warn!(error = %e, "cannot start the polling watcher; relying on periodic rescans");
                    return Some(Watching { _backend: None, unwatched: dirs(cfg) });
                }
            }
        }
    };
    Some(Watching { _backend: Some(backend), unwatched })
}

/// Paths for a log field: a plain comma-separated string, not Rust's debug notation.
fn list_paths(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// Watches in the current mode, falling back to polling (logged once) if native fails.
fn establish(cfg: &WatchConfig, mode: &Mutex<WatchMode>, hints: &Arc<Hints>, fallback_logged: &mut bool) -> Watching {
    let current = *mode.lock().unwrap_or_else(|p| p.into_inner());
    if current == WatchMode::Native {
        if let Some(w) = setup(cfg, WatchMode::Native, hints) {
            if !w.unwatched.is_empty() {
                tracing::info!(dirs = %list_paths(&w.unwatched), "directories do not exist yet; will watch them once they appear");
            }
            return w;
        }
        if !*fallback_logged {
            tracing::warn!(
                interval = %HumanDuration(cfg.poll_interval),
                "filesystem events are unavailable (inotify could not be set up or its watch limit is reached); polling instead"
            );
            *fallback_logged = true;
        }
        *mode.lock().unwrap_or_else(|p| p.into_inner()) = WatchMode::Poll;
    }
    setup(cfg, WatchMode::Poll, hints).unwrap_or(Watching { _backend: None, unwatched: dirs(cfg) })
}

async fn run(mut cfg: WatchConfig, events: mpsc::Sender<WatchEvent>, mut requests: mpsc::Receiver<Request>, mode: Arc<Mutex<WatchMode>>) {
    let (dirty_tx, mut dirty_rx) = mpsc::channel::<()>(1);
    let hints = Arc::new(Hints { dirty: dirty_tx, limit_hit: AtomicBool::new(false) });
    let mut fallback_logged = false;
    if cfg.force_poll {
        tracing::info!(interval = %HumanDuration(cfg.poll_interval), "watching by polling, as configured");
    }
    let mut watching = establish(&cfg, &mode, &hints, &mut fallback_logged);
    let mut periodic = tokio::time::interval_at(tokio::time::Instant::now() + cfg.rescan_interval, cfg.rescan_interval);
    periodic.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut previous: Option<Scan> = None;
    let mut cause = ScanCause::Start;
    loop {
        let scan_cfg = cfg.clone();
        let scan = match tokio::task::spawn_blocking(move || scan(&scan_cfg)).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "directory scan failed; will retry");
                Scan::default()
            }
        };
        let changed = previous.as_ref().is_none_or(|p| !p.same_as(&scan));
        previous = Some(scan.clone());
        if events.send(WatchEvent { scan, cause, changed }).await.is_err() {
            break; // nobody listens any more
        }

        let mut rewatch = false;
        tokio::select! {
            req = requests.recv() => match req {
                None => break,
                Some(Request::Rescan { rewatch: r }) => {
                    rewatch = r;
                    cause = ScanCause::Requested;
                }
                Some(Request::Reconfigure(new)) => {
                    *mode.lock().unwrap_or_else(|p| p.into_inner()) = if new.force_poll { WatchMode::Poll } else { WatchMode::Native };
                    if new.rescan_interval != cfg.rescan_interval {
                        periodic = tokio::time::interval_at(tokio::time::Instant::now() + new.rescan_interval, new.rescan_interval);
                        periodic.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    }
                    if new.force_poll && !cfg.force_poll {
                        tracing::info!(interval = ?new.poll_interval, "watching by polling, as configured");
                    }
                    cfg = new;
                    rewatch = true;
                    cause = ScanCause::Requested;
                }
            },
            _ = dirty_rx.recv() => cause = ScanCause::Event,
            _ = periodic.tick() => {
                cause = ScanCause::Periodic;
                // Directories that did not exist may have appeared.
                rewatch = watching.unwatched.iter().any(|d| d.exists());
            }
        }
        if hints.limit_hit.swap(false, Ordering::SeqCst) && *mode.lock().unwrap_or_else(|p| p.into_inner()) == WatchMode::Native {
            // Lost native watches (limit reached while adding subdirectories): poll instead.
            *mode.lock().unwrap_or_else(|p| p.into_inner()) = WatchMode::Poll;
            if !fallback_logged {
                tracing::warn!(interval = %HumanDuration(cfg.poll_interval), "inotify watch limit reached; polling instead");
                fallback_logged = true;
            }
            rewatch = true;
        }
        if rewatch {
            // Drop the old watches first so a swapped directory is watched by its new inode.
            drop(watching._backend.take());
            watching = establish(&cfg, &mode, &hints, &mut fallback_logged);
        }
    }
    drop(watching);
}

#[cfg(test)]
mod tests;
