//! An injectable clock, so that time-based rules (quota day, quiet period, backoff,
//! schedule) can be tested without sleeping.
//!
//! The daemon asks `clock_from_env()` once at start. Normally that is the system clock;
//! when `DREAMD_TEST_CLOCK_FILE` names a file, `now()` is the real time plus an offset in
//! seconds read from that file, so an integration test can jump the real binary a day
//! ahead by writing `86400` into the file.

use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// The environment variable that switches the daemon to a [`FileClock`].
pub const TEST_CLOCK_ENV: &str = "DREAMD_TEST_CLOCK_FILE";

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;

    /// How long a sleeper may wait on a deadline computed from `now()` before it must
    /// look at the clock again, because this clock can jump (wall-clock changes, suspend,
    /// or a test moving the offset). Timers in tokio are monotonic and would miss a jump.
    fn recheck_interval(&self) -> Duration {
        Duration::from_secs(60)
    }
}

/// The real wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Real time plus an offset (whole seconds, may be negative) read from a file.
///
/// The file is re-read whenever its mtime or size changes (one `stat` per `now()`).
/// A missing file means offset 0; garbage is warned about once per change and also
/// means offset 0, so a broken test setup degrades to the real clock, never a crash.
#[derive(Debug)]
pub struct FileClock {
    path: PathBuf,
    cache: Mutex<FileClockCache>,
}

#[derive(Debug, Default)]
struct FileClockCache {
    /// (mtime, len) of the file when `offset` was read; None = not read yet or missing.
    seen: Option<(Option<SystemTime>, u64)>,
    offset: i64,
}

impl FileClock {
    pub fn new(path: impl Into<PathBuf>) -> FileClock {
        FileClock { path: path.into(), cache: Mutex::new(FileClockCache::default()) }
    }

    /// The offset in seconds currently in force (re-reads the file if it changed).
    pub fn offset_secs(&self) -> i64 {
        let mut cache = match self.cache.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        let stamp = std::fs::metadata(&self.path).ok().map(|m| (m.modified().ok(), m.len()));
        if stamp != cache.seen || stamp.is_none() {
            cache.offset = match stamp {
                None => 0,
                Some(_) => read_offset(&self.path),
            };
            cache.seen = stamp;
        }
        cache.offset
    }
}

fn read_offset(path: &Path) -> i64 {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_offset(&text).unwrap_or_else(|| {
            tracing::warn!(path = %path.display(), content = %text.trim(), "test clock file does not hold a whole number of seconds; using offset 0");
            0
        }),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read test clock file; using offset 0");
            0
        }
    }
}

/// `86400`, `+86400`, `-3600`, surrounded by whitespace. An empty file is offset 0.
pub fn parse_offset(text: &str) -> Option<i64> {
    let t = text.trim();
    if t.is_empty() {
        return Some(0);
    }
    t.strip_prefix('+').unwrap_or(t).parse::<i64>().ok()
}

impl Clock for FileClock {
    fn now(&self) -> DateTime<Utc> {
        let real = Utc::now();
        real.checked_add_signed(chrono::Duration::seconds(self.offset_secs())).unwrap_or(real)
    }

    /// A test moves the offset at will; look again every second.
    fn recheck_interval(&self) -> Duration {
        Duration::from_secs(1)
    }
}

/// A clock that stands still until told to move: for unit tests of code that takes a clock.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> ManualClock {
        ManualClock(Mutex::new(at))
    }
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }
    pub fn advance(&self, by: chrono::Duration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn recheck_interval(&self) -> Duration {
        Duration::from_millis(50)
    }
}

/// The daemon's clock: a [`FileClock`] when `DREAMD_TEST_CLOCK_FILE` is set (and says so in
/// the log), the system clock otherwise.
pub fn clock_from_env() -> Arc<dyn Clock> {
    if !cfg!(feature = "test-hooks") {
        return Arc::new(SystemClock);
    }
    match std::env::var_os(TEST_CLOCK_ENV) {
        Some(path) if !path.is_empty() => {
            tracing::warn!(path = %Path::new(&path).display(), "using a test clock: now = real time + offset from this file");
            Arc::new(FileClock::new(path))
        }
        _ => Arc::new(SystemClock),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_with_new_mtime(path: &Path, text: &str, mtime_secs: u64) {
        std::fs::write(path, text).unwrap();
        // Force a distinct mtime so the change is seen even on coarse-mtime filesystems.
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(mtime_secs)).unwrap();
    }

    #[test]
    fn parse_offset_accepts_signed_integers_only() {
        assert_eq!(parse_offset("86400\n"), Some(86400));
        assert_eq!(parse_offset(" +60 "), Some(60));
        assert_eq!(parse_offset("-3600"), Some(-3600));
        assert_eq!(parse_offset(""), Some(0));
        assert_eq!(parse_offset("1.5"), None);
        assert_eq!(parse_offset("tomorrow"), None);
    }

    #[test]
    fn file_clock_follows_the_file() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("clock");
        let clock = FileClock::new(&path);
        // Missing file: real time.
        assert_eq!(clock.offset_secs(), 0);
        let drift = (clock.now() - Utc::now()).num_seconds().abs();
        assert!(drift <= 1, "{drift}");

        write_with_new_mtime(&path, "86400", 1_000);
        assert_eq!(clock.offset_secs(), 86400);
        let ahead = (clock.now() - Utc::now()).num_seconds();
        assert!((86399..=86401).contains(&ahead), "{ahead}");

        // Changed content with a new mtime is re-read.
        write_with_new_mtime(&path, "-60", 2_000);
        assert_eq!(clock.offset_secs(), -60);

        // Garbage: offset 0, no panic.
        write_with_new_mtime(&path, "next tuesday", 3_000);
        assert_eq!(clock.offset_secs(), 0);

        // Removed again: real time.
        write_with_new_mtime(&path, "120", 4_000);
        assert_eq!(clock.offset_secs(), 120);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(clock.offset_secs(), 0);
    }

    #[test]
    fn file_clock_sees_same_mtime_but_different_size() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("clock");
        let clock = FileClock::new(&path);
        write_with_new_mtime(&path, "1", 1_000);
        assert_eq!(clock.offset_secs(), 1);
        write_with_new_mtime(&path, "100", 1_000);
        assert_eq!(clock.offset_secs(), 100);
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let t0 = DateTime::parse_from_rfc3339("2026-03-29T00:00:00Z").unwrap().with_timezone(&Utc);
        let c = ManualClock::new(t0);
        assert_eq!(c.now(), t0);
        c.advance(chrono::Duration::hours(25));
        assert_eq!(c.now(), t0 + chrono::Duration::hours(25));
        c.set(t0);
        assert_eq!(c.now(), t0);
    }

    #[test]
    fn clock_from_env_picks_the_file_clock() {
        // Only this test touches the variable, so parallel tests are unaffected.
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("clock");
        write_with_new_mtime(&path, "7200", 1_000);
        std::env::set_var(TEST_CLOCK_ENV, &path);
        let c = clock_from_env();
        std::env::remove_var(TEST_CLOCK_ENV);
        let ahead = (c.now() - Utc::now()).num_seconds();
        assert!((7199..=7201).contains(&ahead), "{ahead}");
        assert_eq!(c.recheck_interval(), Duration::from_secs(1));
        let real = clock_from_env();
        assert!((real.now() - Utc::now()).num_seconds().abs() <= 1);
    }
}
