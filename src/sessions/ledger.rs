//! Session accounting: which sessions are new since the last dream, and which of those
//! are finished.
//!
//! The ledger is the baseline: every session's (mtime, size) as seen by the last dream that
//! was applied or discarded. It is persisted (serde), so counts are a pure function of the
//! ledger and the directory: a restart neither resets nor double counts, and a session
//! written to many times still counts once.

use super::SessionFile;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A session's state on disk, with its subagent transcripts folded in: the newest mtime
/// and the total size of the session file and all its subagent files (a subagent can work
/// for a long time while the parent transcript stays silent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionStat {
    pub id: String,
    pub mtime: Option<DateTime<Utc>>,
    pub bytes: u64,
}

/// Stat the subagent files of each discovered session (I/O; unreadable ones are skipped).
pub fn stat_sessions(files: &[SessionFile]) -> Vec<SessionStat> {
    files
        .iter()
        .map(|s| {
            let mut stat = SessionStat { id: s.id.clone(), mtime: s.mtime, bytes: s.bytes };
            for sub in &s.subagents {
                let Ok(meta) = std::fs::metadata(sub) else { continue };
                stat.bytes += meta.len();
                let m = meta.modified().ok().map(DateTime::<Utc>::from);
                stat.mtime = stat.mtime.max(m);
            }
            stat
        })
        .collect()
}

/// What one session looked like when the baseline was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub mtime: Option<DateTime<Utc>>,
    pub bytes: u64,
}

/// The persisted baseline. `Default` (empty) means "no dream yet": every session is new.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionLedger {
    /// When the baseline was taken (for status only; counting uses the per-session marks).
    pub taken_at: Option<DateTime<Utc>>,
    pub sessions: BTreeMap<String, Seen>,
}

/// Sessions new or modified since the baseline.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SessionCounts {
    /// New sessions with no write for `session_idle`.
    pub new_finished: u32,
    /// New sessions written to within `session_idle` (still being written, presumably).
    pub new_in_progress: u32,
    pub finished_ids: Vec<String>,
    pub in_progress_ids: Vec<String>,
    /// When the first in-progress session becomes finished if nothing writes to it again.
    pub next_finish: Option<DateTime<Utc>>,
}

impl SessionCounts {
    pub fn new_total(&self) -> u32 {
        self.new_finished + self.new_in_progress
    }
}

/// Count the sessions that are new or changed (mtime or size) since `ledger`, and split
/// them by whether their last write is at least `idle` ago. A session with no known mtime
/// counts as finished (nothing says it is still being written). Deleted sessions do not
/// count. Ids are sorted.
pub fn count_sessions(ledger: &SessionLedger, current: &[SessionStat], now: DateTime<Utc>, idle: chrono::Duration) -> SessionCounts {
    let mut counts = SessionCounts::default();
    for s in current {
        let now_seen = Seen { mtime: s.mtime, bytes: s.bytes };
        if ledger.sessions.get(&s.id) == Some(&now_seen) {
            continue;
        }
        match s.mtime {
            Some(m) if now - m < idle => {
                counts.in_progress_ids.push(s.id.clone());
                let finish = m + idle;
                counts.next_finish = Some(counts.next_finish.map_or(finish, |f| f.min(finish)));
            }
            _ => counts.finished_ids.push(s.id.clone()),
        }
    }
    counts.finished_ids.sort();
    counts.in_progress_ids.sort();
    counts.finished_ids.dedup();
    counts.in_progress_ids.dedup();
    counts.new_finished = counts.finished_ids.len() as u32;
    counts.new_in_progress = counts.in_progress_ids.len() as u32;
    counts
}

/// A new baseline from the sessions a dream saw. Take `seen` when the job starts (the
/// sessions it reads) and persist the result when the job is applied or discarded, so
/// that writes made while the job ran still count towards the next dream.
pub fn baseline(seen: &[SessionStat], taken_at: DateTime<Utc>) -> SessionLedger {
    SessionLedger {
        taken_at: Some(taken_at),
        sessions: seen.iter().map(|s| (s.id.clone(), Seen { mtime: s.mtime, bytes: s.bytes })).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }
    fn stat(id: &str, mtime: &str, bytes: u64) -> SessionStat {
        SessionStat { id: id.into(), mtime: Some(t(mtime)), bytes }
    }
    const IDLE: chrono::Duration = chrono::Duration::minutes(10);

    #[test]
    fn empty_ledger_counts_everything_and_splits_by_idle() {
        let now = t("2026-06-01T12:00:00Z");
        let cur = vec![
            stat("a", "2026-06-01T11:00:00Z", 10),
            stat("b", "2026-06-01T11:50:00Z", 10), // exactly idle ago: finished
            stat("c", "2026-06-01T11:55:00Z", 10),
            stat("d", "2026-06-01T11:59:00Z", 10),
            SessionStat { id: "e".into(), mtime: None, bytes: 3 },
        ];
        let c = count_sessions(&SessionLedger::default(), &cur, now, IDLE);
        assert_eq!(c.finished_ids, vec!["a", "b", "e"]);
        assert_eq!(c.in_progress_ids, vec!["c", "d"]);
        assert_eq!((c.new_finished, c.new_in_progress, c.new_total()), (3, 2, 5));
        assert_eq!(c.next_finish, Some(t("2026-06-01T12:05:00Z")));
    }

    #[test]
    fn baseline_resets_and_changes_count_once() {
        let t0 = t("2026-06-01T12:00:00Z");
        let cur = vec![stat("a", "2026-06-01T10:00:00Z", 10), stat("b", "2026-06-01T10:00:00Z", 20)];
        let ledger = baseline(&cur, t0);
        assert_eq!(count_sessions(&ledger, &cur, t0, IDLE), SessionCounts::default());

        // b grows twice, c appears, a is deleted: two new sessions, each counted once.
        let later = vec![stat("b", "2026-06-01T13:00:00Z", 25), stat("c", "2026-06-01T13:00:00Z", 5)];
        let c = count_sessions(&ledger, &later, t("2026-06-01T14:00:00Z"), IDLE);
        assert_eq!(c.finished_ids, vec!["b", "c"]);
        let later2 = vec![stat("b", "2026-06-01T13:30:00Z", 40), stat("c", "2026-06-01T13:00:00Z", 5)];
        let c2 = count_sessions(&ledger, &later2, t("2026-06-01T14:00:00Z"), IDLE);
        assert_eq!(c2.new_finished, 2);

        // A rewrite that keeps the size but changes the mtime counts; so does a same-mtime resize.
        let touched = vec![stat("a", "2026-06-01T11:00:00Z", 10), stat("b", "2026-06-01T10:00:00Z", 21)];
        assert_eq!(count_sessions(&ledger, &touched, t("2026-06-01T14:00:00Z"), IDLE).new_finished, 2);
    }

    #[test]
    fn ledger_survives_a_restart_via_json() {
        let t0 = t("2026-06-01T12:00:00Z");
        let cur = vec![stat("a", "2026-06-01T10:00:00Z", 10), SessionStat { id: "n".into(), mtime: None, bytes: 0 }];
        let ledger = baseline(&cur, t0);
        let json = serde_json::to_string(&ledger).unwrap();
        let back: SessionLedger = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ledger);
        // After the restart nothing is new, and a new session counts exactly once.
        let mut later = cur.clone();
        later.push(stat("z", "2026-06-01T12:30:00Z", 1));
        let c = count_sessions(&back, &later, t("2026-06-01T13:00:00Z"), IDLE);
        assert_eq!((c.new_finished, c.new_in_progress), (1, 0));
        assert_eq!(c.finished_ids, vec!["z"]);
    }

    #[test]
    fn duplicate_ids_count_once() {
        // Claude Code: the same session id in two project folders is one session.
        let cur = vec![stat("a", "2026-06-01T10:00:00Z", 1), stat("a", "2026-06-01T10:00:00Z", 2)];
        let c = count_sessions(&SessionLedger::default(), &cur, t("2026-06-01T12:00:00Z"), IDLE);
        assert_eq!(c.new_finished, 1);
    }

    #[test]
    fn future_mtime_is_in_progress() {
        let cur = vec![stat("a", "2026-06-01T12:05:00Z", 1)];
        let c = count_sessions(&SessionLedger::default(), &cur, t("2026-06-01T12:00:00Z"), IDLE);
        assert_eq!(c.in_progress_ids, vec!["a"]);
        assert_eq!(c.next_finish, Some(t("2026-06-01T12:15:00Z")));
    }

    #[test]
    fn stat_sessions_folds_in_subagents() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("s1.jsonl"), "{}\n").unwrap();
        std::fs::create_dir_all(d.path().join("s1/subagents")).unwrap();
        let sub = d.path().join("s1/subagents/agent-1.jsonl");
        std::fs::write(&sub, "{}\n{}\n").unwrap();
        let main_old = SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::options().write(true).open(d.path().join("s1.jsonl")).unwrap().set_modified(main_old).unwrap();
        let files = crate::sessions::discover(d.path(), crate::config::Layout::ClaudeCode, "**/*.jsonl").unwrap();
        let stats = stat_sessions(&files);
        assert_eq!(stats.len(), 1);
        assert_eq!(stats[0].bytes, 3 + 6);
        let sub_mtime = DateTime::<Utc>::from(std::fs::metadata(&sub).unwrap().modified().unwrap());
        assert_eq!(stats[0].mtime, Some(sub_mtime), "the subagent's recent write keeps the session fresh");
    }
}
