//! Running under systemd: readiness and watchdog notifications, and the directories systemd
//! creates for the service (`StateDirectory=`, `RuntimeDirectory=`). Every function is a no-op
//! or `None` when dreamd was not started by systemd, so callers need no `if`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Tell systemd the daemon is serving (`Type=notify`): call once state is recovered and the API
/// socket is bound, never before.
pub fn notify_ready() {
    notify(&[sd_notify::NotifyState::Ready, sd_notify::NotifyState::Status("serving")]);
}

/// A watchdog keep-alive (`WatchdogSec=`); send it from the loop whose health it vouches for.
pub fn notify_watchdog() {
    notify(&[sd_notify::NotifyState::Watchdog]);
}

/// Shutdown has begun: systemd stops expecting watchdog pings.
pub fn notify_stopping() {
    notify(&[sd_notify::NotifyState::Stopping]);
}

fn notify(state: &[sd_notify::NotifyState]) {
    if let Err(e) = sd_notify::notify(state) {
        // Losing a notification is not fatal; systemd's own timeouts report the consequence.
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

/// How often to ping the watchdog: half of `WatchdogSec=`, as sd_watchdog_enabled(3)
/// recommends, or `None` when no watchdog is armed for this process.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().and_then(ping_interval)
}

fn ping_interval(timeout: Duration) -> Option<Duration> {
    (!timeout.is_zero()).then(|| timeout / 2)
}

/// The service's `StateDirectory=` (`$STATE_DIRECTORY`), the default `state_dir` under systemd.
pub fn state_dir_default() -> Option<PathBuf> {
    first_dir(std::env::var_os("STATE_DIRECTORY").as_deref())
}

/// The service's `RuntimeDirectory=` (`$RUNTIME_DIRECTORY`), where the socket goes by default.
pub fn runtime_dir_default() -> Option<PathBuf> {
    first_dir(std::env::var_os("RUNTIME_DIRECTORY").as_deref())
}

/// systemd passes one absolute path per configured directory, separated by colons; the first
/// is ours. Anything else (empty, relative) is ignored rather than trusted.
fn first_dir(value: Option<&OsStr>) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = value?.as_bytes();
    let first = bytes.split(|b| *b == b':').next()?;
    let path = Path::new(OsStr::from_bytes(first));
    path.is_absolute().then(|| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_absolute_directory_wins() {
        assert_eq!(first_dir(Some(OsStr::new("/var/lib/dreamd"))), Some(PathBuf::from("/var/lib/dreamd")));
        assert_eq!(first_dir(Some(OsStr::new("/var/lib/dreamd/a:/var/lib/other"))), Some(PathBuf::from("/var/lib/dreamd/a")));
        assert_eq!(first_dir(Some(OsStr::new(""))), None);
        assert_eq!(first_dir(Some(OsStr::new("relative/dir"))), None);
        assert_eq!(first_dir(None), None);
    }

    #[test]
    fn watchdog_pings_at_half_the_timeout() {
        assert_eq!(ping_interval(Duration::from_secs(60)), Some(Duration::from_secs(30)));
        assert_eq!(ping_interval(Duration::ZERO), None);
    }
}
