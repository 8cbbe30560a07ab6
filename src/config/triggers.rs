//! `triggers:` and `limits:` sections: when a dream fires on its own, and how much may run.

use super::duration::HumanDuration;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TriggersConfig {
    /// Finished sessions since the last dream needed to fire (0 or null disables this threshold).
    pub min_new_sessions: Option<u32>,
    /// Store size in bytes that fires a dream on its own.
    pub max_memory_bytes: Option<u64>,
    /// Number of memory files that fires a dream on its own.
    pub max_memory_files: Option<u32>,
    /// Lines in MEMORY.md that fire a dream (Claude Code loads only the first 200).
    pub max_index_lines: Option<u32>,
    /// Minimum time between two dreams.
    pub min_interval: HumanDuration,
    /// The memory directory must have been quiet this long before a dream starts.
    pub quiet_period: HumanDuration,
    /// A session with no write for this long counts as finished.
    pub session_idle: HumanDuration,
    /// Cron expression, 5 fields (minute precision) or 6 (with seconds).
    pub schedule: Option<String>,
    /// IANA time zone for the schedule and for the quota's calendar day.
    pub timezone: String,
    /// Skip a schedule tick when no new session arrived since the last dream.
    pub schedule_requires_new_sessions: bool,
    /// Polling interval when filesystem events are unavailable, and the safety-net rescan period.
    pub poll_interval: HumanDuration,
    /// Generic layout: which files under sessions_dir are sessions.
    pub session_glob: String,
    /// `auto`: filesystem events (inotify), falling back to polling when unavailable;
    /// `poll`: always poll every `poll_interval` (NFS and other remote filesystems).
    pub watch: WatchMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum WatchMode {
    #[default]
    Auto,
    Poll,
}

impl TriggersConfig {
    /// The configured time zone; UTC if it does not parse (config validation rejects that).
    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::Tz::UTC)
    }
}

impl Default for TriggersConfig {
    fn default() -> Self {
        TriggersConfig {
            min_new_sessions: Some(5),
            max_memory_bytes: None,
            max_memory_files: None,
            max_index_lines: Some(200),
            min_interval: HumanDuration::secs(24 * 3600),
            quiet_period: HumanDuration::secs(120),
            session_idle: HumanDuration::secs(600),
            schedule: None,
            timezone: "UTC".into(),
            schedule_requires_new_sessions: true,
            poll_interval: HumanDuration::secs(300),
            session_glob: "**/*.jsonl".into(),
            watch: WatchMode::Auto,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Jobs per calendar day (in `triggers.timezone`).
    pub max_jobs_per_day: u32,
    /// Spend per calendar day, in USD.
    pub daily_budget_usd: f64,
    /// Optional spend per calendar month, in USD.
    pub monthly_budget_usd: Option<f64>,
    /// First backoff after a failed job; doubles per consecutive failure.
    pub failure_backoff: HumanDuration,
    /// Cap on the backoff.
    pub max_failure_backoff: HumanDuration,
    /// A job running longer than this is canceled.
    pub job_timeout: HumanDuration,
    /// The built-in engine's memory budget, in MiB: over it, the largest files are left as
    /// they are and the report says so (`engine/builtin/budget.rs`). `null`: no limit.
    pub max_memory_mb: Option<u64>,
}

impl LimitsConfig {
    /// The built-in engine's memory budget in bytes.
    pub fn memory_budget(&self) -> Option<u64> {
        self.max_memory_mb.map(|mb| mb.saturating_mul(1 << 20))
    }

    /// The largest store a dream reads: it holds the store twice (input and candidate), so
    /// half the budget. Past it the dream fails with a clear error instead of being killed.
    pub fn max_store_bytes(&self) -> Option<u64> {
        self.memory_budget().map(|b| b / 2)
    }
}

/// A sidecar typically runs under a 256–512 MB memory limit.
pub const DEFAULT_MAX_MEMORY_MB: u64 = 512;

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_jobs_per_day: 10,
            daily_budget_usd: 5.0,
            monthly_budget_usd: None,
            failure_backoff: HumanDuration::secs(300),
            max_failure_backoff: HumanDuration::secs(6 * 3600),
            job_timeout: HumanDuration::secs(3600),
            max_memory_mb: Some(DEFAULT_MAX_MEMORY_MB),
        }
    }
}
