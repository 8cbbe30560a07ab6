//! Rollbacks, recorded: which generation was put back, who asked, and which applied jobs that
//! took back (or brought back, when a rollback is itself rolled back). `jobs` and `show` use
//! it so that an applied job that is no longer live says so.
//!
//! Which jobs are live is replayed from the durable record: applies and rollbacks in the
//! order of the generations they made. Restoring generation G makes live again exactly what
//! was live just before the apply or rollback that saved G.

use super::State;
use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollback {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub by: String,
    /// The generation put back.
    pub restored_generation: i64,
    /// The generation that keeps the store this rollback replaced.
    pub saved_generation: i64,
    /// Applied jobs whose changes it took back.
    pub undid_jobs: Vec<i64>,
    /// Jobs it brought back (restoring a generation saved by an earlier rollback).
    pub redid_jobs: Vec<i64>,
}

/// Something that replaced the live store, in generation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replacement {
    /// Job `job` was applied; the store it replaced is generation `saved`.
    Apply { saved: i64, job: i64 },
    /// Generation `restored` was put back; the store it replaced is generation `saved`.
    Restore { saved: i64, restored: i64 },
}

impl Replacement {
    fn saved(&self) -> i64 {
        match self {
            Replacement::Apply { saved, .. } | Replacement::Restore { saved, .. } => *saved,
        }
    }
}

/// The jobs live after `history`, and what was live just before each generation was saved.
pub fn replay(history: &[Replacement]) -> (BTreeSet<i64>, BTreeMap<i64, BTreeSet<i64>>) {
    let mut events = history.to_vec();
    events.sort_by_key(Replacement::saved);
    let mut live = BTreeSet::new();
    let mut before: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    for e in events {
        before.insert(e.saved(), live.clone());
        match e {
            Replacement::Apply { job, .. } => {
                live.insert(job);
            }
            // A generation from before the record began: what it holds is unknown; keep the set.
            Replacement::Restore { restored, .. } => {
                if let Some(then) = before.get(&restored) {
                    live = then.clone();
                }
            }
        }
    }
    (live, before)
}

/// Newest (highest id) first.
trait RevSorted: Iterator<Item = i64> + Sized {
    fn rev_sorted(self) -> Vec<i64> {
        let mut v: Vec<i64> = self.collect();
        v.sort_unstable_by(|a, b| b.cmp(a));
        v
    }
}

impl<I: Iterator<Item = i64>> RevSorted for I {}

impl State {
    /// Applies and rollbacks so far.
    pub fn replacements(&self) -> Result<Vec<Replacement>> {
        let c = self.conn();
        let mut out = Vec::new();
        let mut stmt = c.prepare("SELECT id, generation FROM jobs WHERE status = 'applied' AND generation IS NOT NULL")?;
        for row in stmt.query_map([], |r| Ok(Replacement::Apply { job: r.get(0)?, saved: r.get(1)? }))? {
            out.push(row?);
        }
        let mut stmt = c.prepare("SELECT saved_generation, restored_generation FROM rollbacks")?;
        for row in stmt.query_map([], |r| Ok(Replacement::Restore { saved: r.get(0)?, restored: r.get(1)? }))? {
            out.push(row?);
        }
        Ok(out)
    }

    /// Record a rollback that put `restored` back and saved the replaced store as `saved`. The
    /// jobs it undid and redid are worked out from the record before it.
    pub fn record_rollback(&self, at: DateTime<Utc>, by: &str, restored: i64, saved: i64) -> Result<Rollback> {
        let (now_live, before) = replay(&self.replacements()?);
        let then_live = before.get(&restored).cloned().unwrap_or_else(|| now_live.clone());
        let undid: Vec<i64> = now_live.difference(&then_live).copied().rev_sorted();
        let redid: Vec<i64> = then_live.difference(&now_live).copied().rev_sorted();
        let c = self.conn();
        c.execute(
            "INSERT INTO rollbacks (at, by, restored_generation, saved_generation, undid_jobs, redid_jobs) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![at.to_rfc3339(), by, restored, saved, serde_json::to_string(&undid)?, serde_json::to_string(&redid)?],
        )?;
        Ok(Rollback {
            id: c.last_insert_rowid(),
            at,
            by: by.to_string(),
            restored_generation: restored,
            saved_generation: saved,
            undid_jobs: undid,
            redid_jobs: redid,
        })
    }

    /// Newest first.
    pub fn rollbacks(&self, limit: usize) -> Result<Vec<Rollback>> {
        let c = self.conn();
        let mut stmt = c.prepare(
            "SELECT id, at, by, restored_generation, saved_generation, undid_jobs, redid_jobs FROM rollbacks ORDER BY id DESC LIMIT ?1",
        )?;
        let ids = |s: String| serde_json::from_str::<Vec<i64>>(&s).unwrap_or_default();
        let rows = stmt.query_map([limit as i64], |r| {
            Ok(Rollback {
                id: r.get(0)?,
                at: super::parse_ts(r.get(1)?),
                by: r.get(2)?,
                restored_generation: r.get(3)?,
                saved_generation: r.get(4)?,
                undid_jobs: ids(r.get(5)?),
                redid_jobs: ids(r.get(6)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Applied jobs that are no longer live, each with the (newest) rollback that undid it.
    pub fn rolled_back_jobs(&self) -> Result<BTreeMap<i64, Rollback>> {
        let (live, _) = replay(&self.replacements()?);
        let mut out = BTreeMap::new();
        // Oldest first, so the newest rollback that undid a job wins.
        for r in self.rollbacks(usize::MAX >> 1)?.into_iter().rev() {
            for job in &r.undid_jobs {
                if !live.contains(job) {
                    out.insert(*job, r.clone());
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::Replacement::*;
    use super::*;

    #[test]
    fn a_rollback_takes_back_what_followed_the_generation() {
        // job 1 saved gen 1, job 2 saved gen 2; rollback to gen 1 (saved as gen 3).
        let h = [Apply { saved: 1, job: 1 }, Apply { saved: 2, job: 2 }, Restore { saved: 3, restored: 1 }];
        let (live, _) = replay(&h);
        assert!(live.is_empty(), "both jobs undone: {live:?}");
        let h2 = [Apply { saved: 1, job: 1 }, Apply { saved: 2, job: 2 }, Restore { saved: 3, restored: 2 }];
        assert_eq!(replay(&h2).0, BTreeSet::from([1]));
    }

    #[test]
    fn rolling_back_a_rollback_brings_the_jobs_back() {
        let h = [Apply { saved: 1, job: 1 }, Restore { saved: 2, restored: 1 }, Restore { saved: 3, restored: 2 }];
        assert_eq!(replay(&h).0, BTreeSet::from([1]));
        let h = [
            Apply { saved: 1, job: 1 },
            Restore { saved: 2, restored: 1 },
            Restore { saved: 3, restored: 2 },
            Restore { saved: 4, restored: 1 },
        ];
        assert!(replay(&h).0.is_empty());
    }

    #[test]
    fn the_record_names_what_each_rollback_undid_and_redid() {
        let d = tempfile::tempdir().unwrap();
        let s = State::open(&d.path().join("db")).unwrap();
        let now = Utc::now();
        for _ in 0..2 {
            s.insert_job("manual", "builtin", 0.0, now).unwrap();
        }
        let c = s.conn();
        c.execute("UPDATE jobs SET status = 'applied', generation = id", []).unwrap();
        drop(c);
        let r1 = s.record_rollback(now, "cli:me", 1, 3).unwrap();
        assert_eq!((r1.undid_jobs.clone(), r1.redid_jobs.clone()), (vec![2, 1], vec![]));
        assert_eq!(s.rolled_back_jobs().unwrap().keys().copied().collect::<Vec<_>>(), vec![1, 2]);
        let r2 = s.record_rollback(now, "api", 3, 4).unwrap();
        assert_eq!((r2.undid_jobs, r2.redid_jobs), (vec![], vec![2, 1]));
        assert!(s.rolled_back_jobs().unwrap().is_empty(), "rolled forward again");
        assert_eq!(s.rollbacks(10).unwrap().iter().map(|r| r.id).collect::<Vec<_>>(), vec![r2.id, r1.id]);
    }
}
