//! Claude Code's consolidation lock, `.consolidate-lock` in the memory directory.
//!
//! Protocol (see shared/reference/claude-code.md): the file's body is the holder's PID and
//! its mtime is the time of the last consolidation. A lock is *held* while its PID is alive
//! and its mtime is less than 60 minutes old; otherwise anyone may take it over. To take
//! it: write your PID, read it back; if the body is not your PID, someone else won. After a
//! successful consolidation the mtime stays at the consolidation time (so the agent's own
//! auto-dream does not redo the work); after a failure the file is rolled back to what it
//! was, so the next attempt is not delayed.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub const LOCK_FILE: &str = ".consolidate-lock";

/// A lock whose mtime is older than this is stale, whoever holds it.
pub const STALE_AFTER: chrono::Duration = chrono::Duration::minutes(60);

/// What the lock file says right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LockStatus {
    /// No lock file.
    Absent,
    /// Held by another live process; it becomes stale at `stale_at` at the latest.
    HeldByOther { pid: u32, since: DateTime<Utc>, stale_at: DateTime<Utc> },
    /// The body is our own PID (we hold it, or held it last).
    Ours { since: Option<DateTime<Utc>> },
    /// Present but takeable: the holder is dead, the mtime is older than 60 minutes,
    /// or the body is not a PID.
    Free { pid: Option<u32>, since: Option<DateTime<Utc>>, why: FreeReason },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FreeReason {
    Stale,
    DeadHolder,
    NoPid,
}

impl LockStatus {
    /// True when a dream must not start (another live process holds the lock).
    pub fn blocks(&self) -> bool {
        matches!(self, LockStatus::HeldByOther { .. })
    }

    /// The time of the last consolidation, if the lock file says so (its mtime).
    pub fn last_consolidation(&self) -> Option<DateTime<Utc>> {
        match self {
            LockStatus::Absent => None,
            LockStatus::HeldByOther { since, .. } => Some(*since),
            LockStatus::Ours { since } | LockStatus::Free { since, .. } => *since,
        }
    }
}

pub fn lock_path(memory_dir: &Path) -> PathBuf {
    memory_dir.join(LOCK_FILE)
}

/// Is a process with this PID running? `kill(pid, 0)`: success or EPERM means it exists.
pub fn pid_alive(pid: u32) -> bool {
    // PID 0 and values beyond i32 would address process groups or wrap: never "alive".
    if pid == 0 || pid > i32::MAX as u32 {
        return false;
    }
    // SAFETY: signal 0 performs only the existence and permission check.
    let rc = unsafe { libc::kill(pid as libc::pid_t, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Classify a lock from its body and mtime; pure apart from the liveness probe.
pub fn classify(body: &str, mtime: Option<DateTime<Utc>>, now: DateTime<Utc>, own_pid: u32, alive: impl Fn(u32) -> bool) -> LockStatus {
    let pid = body.trim().parse::<u32>().ok();
    if pid == Some(own_pid) {
        return LockStatus::Ours { since: mtime };
    }
    let Some(pid) = pid else {
        return LockStatus::Free { pid: None, since: mtime, why: FreeReason::NoPid };
    };
    // An unknown mtime cannot prove freshness: treat as stale.
    let fresh = mtime.is_some_and(|m| now - m < STALE_AFTER);
    if !fresh {
        return LockStatus::Free { pid: Some(pid), since: mtime, why: FreeReason::Stale };
    }
    if !alive(pid) {
        return LockStatus::Free { pid: Some(pid), since: mtime, why: FreeReason::DeadHolder };
    }
    let since = mtime.unwrap_or(now);
    LockStatus::HeldByOther { pid, since, stale_at: since + STALE_AFTER }
}

/// Read the lock in `memory_dir` as of `now`. An unreadable file is reported as held by
/// nobody we know of (`Free/NoPid`) with a warning: the lock is advisory, and a broken
/// one must not stop dreams forever.
pub fn inspect(memory_dir: &Path, now: DateTime<Utc>) -> LockStatus {
    let path = lock_path(memory_dir);
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return LockStatus::Absent,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot stat the consolidation lock; treating it as free");
            return LockStatus::Free { pid: None, since: None, why: FreeReason::NoPid };
        }
    };
    let mtime = meta.modified().ok().map(DateTime::<Utc>::from);
    let body = match read_nofollow(&path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read the consolidation lock; treating it as free");
            String::new()
        }
    };
    classify(&body, mtime, now, std::process::id(), pid_alive)
}

/// The outcome of [`try_acquire`].
#[derive(Debug)]
pub enum Acquire {
    Acquired(LockGuard),
    /// Another live process holds the lock (or won the race for it).
    Busy {
        pid: Option<u32>,
    },
}

/// Our hold on the lock. Call [`LockGuard::release_success`] after a successful apply or
/// [`LockGuard::release_failure`] otherwise; dropping the guard without either rolls back.
#[derive(Debug)]
pub struct LockGuard {
    path: PathBuf,
    /// What the file held before we took it: (body, mtime), or None if it did not exist.
    previous: Option<(Vec<u8>, Option<SystemTime>)>,
    own_pid: u32,
    released: bool,
}

/// Take the lock in `memory_dir` for this process, as Claude Code does: write our PID,
/// read it back. A stale lock or one held by a dead process is taken over.
pub fn try_acquire(memory_dir: &Path, now: DateTime<Utc>) -> std::io::Result<Acquire> {
    try_acquire_as(memory_dir, now, std::process::id())
}

fn try_acquire_as(memory_dir: &Path, now: DateTime<Utc>, own_pid: u32) -> std::io::Result<Acquire> {
    let path = lock_path(memory_dir);
    let previous = match std::fs::symlink_metadata(&path) {
        Ok(meta) => Some((read_nofollow(&path)?, meta.modified().ok())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    if let Some((body, mtime)) = &previous {
        let status = classify(&String::from_utf8_lossy(body), mtime.map(DateTime::<Utc>::from), now, own_pid, pid_alive);
        if let LockStatus::HeldByOther { pid, .. } = status {
            return Ok(Acquire::Busy { pid: Some(pid) });
        }
    }
    write_nofollow(&path, own_pid.to_string().as_bytes())?;
    let back = read_nofollow(&path)?;
    let back_pid = String::from_utf8_lossy(&back).trim().parse::<u32>().ok();
    if back_pid != Some(own_pid) {
        // Someone wrote after us: they won. The file is theirs now; leave it alone.
        return Ok(Acquire::Busy { pid: back_pid });
    }
    Ok(Acquire::Acquired(LockGuard { path, previous, own_pid, released: false }))
}

impl LockGuard {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The dream was applied: leave our PID and set the mtime to the consolidation time,
    /// so the agent's own auto-dream counts this as its last consolidation.
    pub fn release_success(mut self, consolidated_at: DateTime<Utc>) -> std::io::Result<()> {
        self.released = true;
        set_mtime(&self.path, consolidated_at.into())
    }

    /// The dream failed or was not applied: put the file back as it was (or remove it if
    /// there was none), so the next attempt, ours or the agent's, is not delayed.
    pub fn release_failure(mut self) -> std::io::Result<()> {
        self.released = true;
        self.roll_back()
    }

    fn roll_back(&self) -> std::io::Result<()> {
        // Only touch the file if it is still ours: a taker after a stale period owns it now.
        let still_ours =
            read_nofollow(&self.path).ok().and_then(|b| String::from_utf8_lossy(&b).trim().parse::<u32>().ok()) == Some(self.own_pid);
        if !still_ours {
            return Ok(());
        }
        match &self.previous {
            None => std::fs::remove_file(&self.path),
            Some((body, mtime)) => {
                write_nofollow(&self.path, body)?;
                match mtime {
                    Some(m) => set_mtime(&self.path, *m),
                    None => Ok(()),
                }
            }
        }
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if !self.released {
            if let Err(e) = self.roll_back() {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot roll back the consolidation lock");
            }
        }
    }
}

fn set_mtime(path: &Path, at: SystemTime) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::File::options().write(true).custom_flags(libc::O_NOFOLLOW).open(path)?.set_modified(at)
}

// The lock lives in the agent's directory: a symbolic link planted in its place is an error,
// never a way to make dreamd write (or read) somewhere else.
fn write_nofollow(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK: a FIFO in its place fails to open instead of blocking dreamd.
    let mut f =
        std::fs::File::options().write(true).create(true).truncate(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(path)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other(format!("{} is not a regular file", path.display())));
    }
    f.write_all(bytes)
}

fn read_nofollow(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut out = Vec::new();
    std::fs::File::options().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(path)?.read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// A PID that is not running: beyond the kernel's pid_max, so it can never be allocated.
    fn dead_pid() -> u32 {
        let max = std::fs::read_to_string("/proc/sys/kernel/pid_max").ok().and_then(|s| s.trim().parse::<u32>().ok()).unwrap_or(4_194_304);
        max + 1
    }

    /// A live PID that is not ours: our parent (the test harness's launcher).
    fn other_live_pid() -> u32 {
        std::os::unix::process::parent_id()
    }

    fn write_lock(dir: &Path, body: &str, mtime: SystemTime) {
        let p = lock_path(dir);
        std::fs::write(&p, body).unwrap();
        set_mtime(&p, mtime).unwrap();
    }

    #[test]
    fn pid_liveness() {
        assert!(pid_alive(std::process::id()));
        assert!(pid_alive(other_live_pid()));
        assert!(!pid_alive(dead_pid()));
        assert!(!pid_alive(0));
        assert!(!pid_alive(u32::MAX));
    }

    #[test]
    fn classify_covers_every_case() {
        let now = t("2026-06-01T12:00:00Z");
        let recent = Some(t("2026-06-01T11:30:00Z"));
        let old = Some(t("2026-06-01T10:59:59Z"));
        let alive = |_| true;
        let dead = |_| false;
        assert!(matches!(classify("42", recent, now, 7, alive), LockStatus::HeldByOther { pid: 42, .. }));
        if let LockStatus::HeldByOther { stale_at, .. } = classify("42\n", recent, now, 7, alive) {
            assert_eq!(stale_at, t("2026-06-01T12:30:00Z"));
        }
        assert!(matches!(classify("42", old, now, 7, alive), LockStatus::Free { why: FreeReason::Stale, .. }));
        assert!(matches!(classify("42", None, now, 7, alive), LockStatus::Free { why: FreeReason::Stale, .. }));
        assert!(matches!(classify("42", recent, now, 7, dead), LockStatus::Free { why: FreeReason::DeadHolder, .. }));
        assert!(matches!(classify("", recent, now, 7, alive), LockStatus::Free { why: FreeReason::NoPid, .. }));
        assert!(matches!(classify("garbage", recent, now, 7, alive), LockStatus::Free { why: FreeReason::NoPid, .. }));
        assert!(matches!(classify("7", recent, now, 7, alive), LockStatus::Ours { .. }));
        assert!(classify("42", recent, now, 7, alive).blocks());
        assert!(!classify("42", old, now, 7, alive).blocks());
    }

    #[test]
    fn inspect_real_files() {
        let d = tempfile::tempdir().unwrap();
        let now = Utc::now();
        assert_eq!(inspect(d.path(), now), LockStatus::Absent);

        write_lock(d.path(), &other_live_pid().to_string(), SystemTime::now());
        assert!(inspect(d.path(), now).blocks(), "{:?}", inspect(d.path(), now));
        // The same lock an hour and a bit later is stale.
        assert!(!inspect(d.path(), now + chrono::Duration::minutes(61)).blocks());

        write_lock(d.path(), &other_live_pid().to_string(), SystemTime::now() - Duration::from_secs(2 * 3600));
        assert!(matches!(inspect(d.path(), now), LockStatus::Free { why: FreeReason::Stale, .. }));

        write_lock(d.path(), &dead_pid().to_string(), SystemTime::now());
        assert!(matches!(inspect(d.path(), now), LockStatus::Free { why: FreeReason::DeadHolder, .. }));

        write_lock(d.path(), &std::process::id().to_string(), SystemTime::now());
        assert!(matches!(inspect(d.path(), now), LockStatus::Ours { .. }));
    }

    #[test]
    fn acquire_fresh_then_release_success_sets_mtime() {
        let d = tempfile::tempdir().unwrap();
        let Acquire::Acquired(g) = try_acquire(d.path(), Utc::now()).unwrap() else { panic!("should acquire") };
        assert_eq!(std::fs::read_to_string(lock_path(d.path())).unwrap(), std::process::id().to_string());
        let at = t("2026-06-01T03:00:00Z");
        g.release_success(at).unwrap();
        let meta = std::fs::metadata(lock_path(d.path())).unwrap();
        assert_eq!(DateTime::<Utc>::from(meta.modified().unwrap()), at);
        assert_eq!(std::fs::read_to_string(lock_path(d.path())).unwrap(), std::process::id().to_string());
    }

    #[test]
    fn live_holder_blocks_acquire() {
        let d = tempfile::tempdir().unwrap();
        write_lock(d.path(), &other_live_pid().to_string(), SystemTime::now());
        match try_acquire(d.path(), Utc::now()).unwrap() {
            Acquire::Busy { pid } => assert_eq!(pid, Some(other_live_pid())),
            Acquire::Acquired(_) => panic!("must not take a live lock"),
        }
        // Untouched.
        assert_eq!(std::fs::read_to_string(lock_path(d.path())).unwrap(), other_live_pid().to_string());
    }

    #[test]
    fn stale_or_dead_lock_is_taken_over_and_failure_rolls_back() {
        for (body, age) in [(other_live_pid().to_string(), 3 * 3600u64), (dead_pid().to_string(), 60)] {
            let d = tempfile::tempdir().unwrap();
            let before = SystemTime::UNIX_EPOCH
                + Duration::from_secs(SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() - age);
            write_lock(d.path(), &body, before);
            let Acquire::Acquired(g) = try_acquire(d.path(), Utc::now()).unwrap() else { panic!("should take over {body}") };
            assert_eq!(std::fs::read_to_string(lock_path(d.path())).unwrap(), std::process::id().to_string());
            g.release_failure().unwrap();
            assert_eq!(std::fs::read_to_string(lock_path(d.path())).unwrap(), body);
            assert_eq!(std::fs::metadata(lock_path(d.path())).unwrap().modified().unwrap(), before);
        }
    }

    #[test]
    fn failure_without_previous_lock_removes_it_and_drop_rolls_back() {
        let d = tempfile::tempdir().unwrap();
        let Acquire::Acquired(g) = try_acquire(d.path(), Utc::now()).unwrap() else { panic!() };
        g.release_failure().unwrap();
        assert!(!lock_path(d.path()).exists());

        let Acquire::Acquired(g) = try_acquire(d.path(), Utc::now()).unwrap() else { panic!() };
        drop(g);
        assert!(!lock_path(d.path()).exists(), "drop without release must roll back");
    }

    #[test]
    fn guard_leaves_alone_a_lock_someone_else_took() {
        let d = tempfile::tempdir().unwrap();
        let Acquire::Acquired(g) = try_acquire(d.path(), Utc::now()).unwrap() else { panic!() };
        // Another process took it over (e.g. after our hold went stale): PID 1 is alive.
        write_lock(d.path(), "1", SystemTime::now());
        match try_acquire(d.path(), Utc::now()).unwrap() {
            Acquire::Busy { pid } => assert_eq!(pid, Some(1)),
            Acquire::Acquired(_) => panic!("PID 1 holds it"),
        }
        drop(g);
        assert_eq!(std::fs::read_to_string(lock_path(d.path())).unwrap(), "1");
    }

    #[test]
    fn missing_memory_dir_is_an_error_not_a_panic() {
        assert!(try_acquire(Path::new("/nonexistent/dreamd/memory"), Utc::now()).is_err());
        assert_eq!(inspect(Path::new("/nonexistent/dreamd/memory"), Utc::now()), LockStatus::Absent);
    }
}
