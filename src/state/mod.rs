//! Durable state in SQLite (WAL): jobs, generations, per-job event log, quota ledger, and a
//! small key/value table for counters that must survive restarts.

mod migrations;
mod rollbacks;
mod stats;

pub use rollbacks::{replay, Replacement, Rollback};
pub use stats::JobCount;

use crate::job::{IllegalTransition, JobStatus};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

pub struct State {
    conn: Mutex<Connection>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: i64,
    pub trigger: String,
    pub engine: String,
    pub status: JobStatus,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub base_hash: Option<String>,
    pub candidate_hash: Option<String>,
    pub metrics: Option<serde_json::Value>,
    pub policy: Option<serde_json::Value>,
    pub decision: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub estimated_cost_usd: f64,
    pub cost_usd: Option<f64>,
    /// The generation that holds the store this job replaced, once applied.
    pub generation: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    /// The job whose apply (or the rollback) replaced this store.
    pub job_id: Option<i64>,
    pub reason: String,
    pub store_hash: String,
    pub bytes: u64,
    pub files: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobEvent {
    pub id: i64,
    pub job_id: i64,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LedgerDay {
    pub day: String,
    pub jobs: u32,
    pub cost_usd: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("job {0} not found")]
    NotFound(i64),
    #[error("job {id}: {source}")]
    Illegal { id: i64, source: IllegalTransition },
    #[error(transparent)]
    Db(#[from] anyhow::Error),
}

impl From<rusqlite::Error> for StateError {
    fn from(e: rusqlite::Error) -> Self {
        StateError::Db(e.into())
    }
}

/// Fields set alongside a status change.
#[derive(Debug, Default, Clone)]
pub struct JobUpdate {
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub base_hash: Option<String>,
    pub candidate_hash: Option<String>,
    pub metrics: Option<serde_json::Value>,
    pub policy: Option<serde_json::Value>,
    pub decision: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub cost_usd: Option<f64>,
    pub generation: Option<i64>,
}

const JOB_COLUMNS: &str = "id, trigger, engine, status, created_at, started_at, finished_at, base_hash, candidate_hash, \
     metrics, policy, decision, decided_by, decided_at, error, estimated_cost_usd, cost_usd, generation";

impl State {
    /// Open (or create) the database. Its directory is made 0700 and the database files 0600
    /// whatever the umask: they hold copies of the agent's memory and its history.
    pub fn open(path: &Path) -> Result<State> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::store::prepare_state_dir(dir).with_context(|| format!("cannot create state directory {}", dir.display()))?;
        }
        make_private_file(path)?;
        let mut conn = Connection::open(path).with_context(|| format!("cannot open state database {}", path.display()))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        for suffix in ["-wal", "-shm"] {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            if Path::new(&side).exists() {
                make_private_file(Path::new(&side))?;
            }
        }
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations::migrate(&mut conn).with_context(|| format!("cannot migrate state database {}", path.display()))?;
        Ok(State { conn: Mutex::new(conn) })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll back).
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn insert_job(&self, trigger: &str, engine: &str, estimated_cost_usd: f64, now: DateTime<Utc>) -> Result<Job> {
        let id = {
            let c = self.conn();
            c.execute(
                "INSERT INTO jobs (trigger, engine, status, created_at, estimated_cost_usd) VALUES (?1, ?2, 'queued', ?3, ?4)",
                params![trigger, engine, now.to_rfc3339(), estimated_cost_usd],
            )?;
            c.last_insert_rowid()
        };
        Ok(self.job(id)?)
    }

    pub fn job(&self, id: i64) -> Result<Job, StateError> {
        let c = self.conn();
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1");
        c.query_row(&sql, [id], row_to_job).optional()?.ok_or(StateError::NotFound(id))
    }

    /// Newest first.
    pub fn jobs(&self, limit: usize) -> Result<Vec<Job>> {
        let c = self.conn();
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs ORDER BY id DESC LIMIT ?1");
        let mut stmt = c.prepare(&sql)?;
        let rows = stmt.query_map([limit as i64], row_to_job)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Jobs that occupy the single flight (queued, running, staged, approved), newest first.
    pub fn in_flight_jobs(&self) -> Result<Vec<Job>> {
        let in_flight: Vec<&str> = JobStatus::ALL.iter().filter(|s| s.is_in_flight()).map(|s| s.as_str()).collect();
        let placeholders = vec!["?"; in_flight.len()].join(", ");
        let c = self.conn();
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE status IN ({placeholders}) ORDER BY id DESC");
        let mut stmt = c.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(in_flight), row_to_job)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Move a job to `next`, refusing illegal transitions, in one transaction.
    pub fn transition(&self, id: i64, next: JobStatus, u: JobUpdate) -> Result<Job, StateError> {
        self.write_job(id, Some(next), u)
    }

    /// Set fields of a job without changing its status.
    pub fn update(&self, id: i64, u: JobUpdate) -> Result<Job, StateError> {
        self.write_job(id, None, u)
    }

    fn write_job(&self, id: i64, next: Option<JobStatus>, u: JobUpdate) -> Result<Job, StateError> {
        {
            let mut c = self.conn();
            let tx = c.transaction()?;
            let current: Option<String> = tx.query_row("SELECT status FROM jobs WHERE id = ?1", [id], |r| r.get(0)).optional()?;
            let current: JobStatus = current.ok_or(StateError::NotFound(id))?.parse().map_err(anyhow::Error::msg)?;
            if let Some(next) = next {
                current.check(next).map_err(|source| StateError::Illegal { id, source })?;
            }
            let next = next.unwrap_or(current);
            let json = |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string());
            let ts = |t: &Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339());
            tx.execute(
                "UPDATE jobs SET status = ?2,
                    started_at = COALESCE(?3, started_at), finished_at = COALESCE(?4, finished_at),
                    base_hash = COALESCE(?5, base_hash), candidate_hash = COALESCE(?6, candidate_hash),
                    metrics = COALESCE(?7, metrics), policy = COALESCE(?8, policy),
                    decision = COALESCE(?9, decision), decided_by = COALESCE(?10, decided_by),
                    decided_at = COALESCE(?11, decided_at), error = COALESCE(?12, error),
                    cost_usd = COALESCE(?13, cost_usd), generation = COALESCE(?14, generation)
                 WHERE id = ?1",
                params![
                    id,
                    next.as_str(),
                    ts(&u.started_at),
                    ts(&u.finished_at),
                    u.base_hash,
                    u.candidate_hash,
                    json(&u.metrics),
                    json(&u.policy),
                    u.decision,
                    u.decided_by,
                    ts(&u.decided_at),
                    u.error,
                    u.cost_usd,
                    u.generation
                ],
            )?;
            tx.commit()?;
        }
        self.job(id)
    }

    pub fn add_event(&self, job_id: i64, at: DateTime<Utc>, kind: &str, message: &str) -> Result<JobEvent> {
        let c = self.conn();
        c.execute(
            "INSERT INTO job_events (job_id, at, kind, message) VALUES (?1, ?2, ?3, ?4)",
            params![job_id, at.to_rfc3339(), kind, message],
        )?;
        Ok(JobEvent { id: c.last_insert_rowid(), job_id, at, kind: kind.into(), message: message.into() })
    }

    /// Events of a job with id greater than `after`, oldest first.
    pub fn events(&self, job_id: i64, after: i64) -> Result<Vec<JobEvent>> {
        let c = self.conn();
        let mut stmt = c.prepare("SELECT id, job_id, at, kind, message FROM job_events WHERE job_id = ?1 AND id > ?2 ORDER BY id")?;
        let rows = stmt.query_map(params![job_id, after], |r| {
            Ok(JobEvent { id: r.get(0)?, job_id: r.get(1)?, at: parse_ts(r.get::<_, String>(2)?), kind: r.get(3)?, message: r.get(4)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Record a generation under its own id (allocated by the caller, who names its directory).
    pub fn insert_generation(&self, g: &Generation) -> Result<i64> {
        let c = self.conn();
        c.execute(
            "INSERT INTO generations (id, created_at, job_id, reason, store_hash, bytes, files) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![g.id, g.created_at.to_rfc3339(), g.job_id, g.reason, g.store_hash, g.bytes as i64, g.files as i64],
        )?;
        Ok(c.last_insert_rowid())
    }

    /// Newest first.
    pub fn generations(&self) -> Result<Vec<Generation>> {
        let c = self.conn();
        let mut stmt = c.prepare("SELECT id, created_at, job_id, reason, store_hash, bytes, files FROM generations ORDER BY id DESC")?;
        let rows = stmt.query_map([], |r| {
            Ok(Generation {
                id: r.get(0)?,
                created_at: parse_ts(r.get::<_, String>(1)?),
                job_id: r.get(2)?,
                reason: r.get(3)?,
                store_hash: r.get(4)?,
                bytes: r.get::<_, i64>(5)? as u64,
                files: r.get::<_, i64>(6)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Record a finished apply in one transaction: the generation (unless already there) and,
    /// with `job_id`, the job `applied` with that generation. `repair` is for reconciling after
    /// a crash: the filesystem shows the apply happened, so the job becomes applied from
    /// whatever status the interruption left it in.
    /// The job's `applied` event is written in the same transaction, so whoever sees the job
    /// applied also finds the event (a follower of the live log stops at the terminal status).
    pub fn record_apply(
        &self,
        g: &Generation,
        job_id: Option<i64>,
        now: DateTime<Utc>,
        repair: bool,
        event: &str,
    ) -> Result<Option<JobEvent>, StateError> {
        let mut recorded = None;
        let mut c = self.conn();
        let tx = c.transaction()?;
        tx.execute(
            "INSERT OR IGNORE INTO generations (id, created_at, job_id, reason, store_hash, bytes, files)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![g.id, g.created_at.to_rfc3339(), g.job_id, g.reason, g.store_hash, g.bytes as i64, g.files as i64],
        )?;
        if let Some(id) = job_id {
            let current: Option<String> = tx.query_row("SELECT status FROM jobs WHERE id = ?1", [id], |r| r.get(0)).optional()?;
            let current: JobStatus = current.ok_or(StateError::NotFound(id))?.parse().map_err(anyhow::Error::msg)?;
            if current != JobStatus::Applied {
                if !repair {
                    current.check(JobStatus::Applied).map_err(|source| StateError::Illegal { id, source })?;
                }
                tx.execute(
                    "UPDATE jobs SET status = 'applied', generation = ?2, finished_at = ?3, error = NULL WHERE id = ?1",
                    params![id, g.id, now.to_rfc3339()],
                )?;
                tx.execute(
                    "INSERT INTO job_events (job_id, at, kind, message) VALUES (?1, ?2, 'applied', ?3)",
                    params![id, now.to_rfc3339(), event],
                )?;
                let eid = tx.last_insert_rowid();
                recorded = Some(JobEvent { id: eid, job_id: id, at: now, kind: "applied".into(), message: event.into() });
            }
        }
        tx.commit()?;
        Ok(recorded)
    }

    /// After a crash: an apply of this job was undone. A job still in flight ends `stale` (the
    /// live store had changed) or `failed`; a job already finished is left as it is.
    pub fn record_not_applied(&self, id: i64, stale: bool, message: &str, now: DateTime<Utc>) -> Result<(), StateError> {
        let job = self.job(id)?;
        if !job.status.is_in_flight() {
            return Ok(());
        }
        let next = if stale && job.status.can_become(JobStatus::Stale) { JobStatus::Stale } else { JobStatus::Failed };
        self.transition(id, next, JobUpdate { error: Some(message.into()), finished_at: Some(now), ..Default::default() })?;
        Ok(())
    }

    pub fn delete_generation(&self, id: i64) -> Result<()> {
        self.conn().execute("DELETE FROM generations WHERE id = ?1", [id])?;
        Ok(())
    }

    /// Count a job (and its estimated cost) against a quota day.
    pub fn ledger_add(&self, day: &str, jobs: u32, cost_usd: f64) -> Result<()> {
        self.conn().execute(
            "INSERT INTO ledger (day, jobs, cost_usd) VALUES (?1, ?2, ?3)
             ON CONFLICT(day) DO UPDATE SET jobs = jobs + excluded.jobs, cost_usd = cost_usd + excluded.cost_usd",
            params![day, jobs, cost_usd],
        )?;
        Ok(())
    }

    pub fn ledger_day(&self, day: &str) -> Result<LedgerDay> {
        let c = self.conn();
        let row = c
            .query_row("SELECT day, jobs, cost_usd FROM ledger WHERE day = ?1", [day], |r| {
                Ok(LedgerDay { day: r.get(0)?, jobs: r.get(1)?, cost_usd: r.get(2)? })
            })
            .optional()?;
        Ok(row.unwrap_or(LedgerDay { day: day.into(), ..Default::default() }))
    }

    /// Total cost of the days whose key starts with `month` (`YYYY-MM`).
    pub fn ledger_month_cost(&self, month: &str) -> Result<f64> {
        let c = self.conn();
        let v: Option<f64> = c.query_row("SELECT SUM(cost_usd) FROM ledger WHERE substr(day, 1, 7) = ?1", [month], |r| r.get(0))?;
        Ok(v.unwrap_or(0.0))
    }

    pub fn kv_get<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let c = self.conn();
        let v: Option<String> = c.query_row("SELECT value FROM kv WHERE key = ?1", [key], |r| r.get(0)).optional()?;
        match v {
            Some(s) => Ok(serde_json::from_str(&s).ok()),
            None => Ok(None),
        }
    }

    pub fn kv_set<T: Serialize>(&self, key: &str, value: &T) -> Result<()> {
        let s = serde_json::to_string(value)?;
        self.conn().execute(
            "INSERT INTO kv (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, s],
        )?;
        Ok(())
    }
}

/// Create `path` if needed and make it 0600, never through a symbolic link.
fn make_private_file(path: &Path) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let f = std::fs::File::options()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .with_context(|| format!("cannot open state database {}", path.display()))?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600)).with_context(|| format!("cannot make {} private", path.display()))
}

fn parse_ts(s: String) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&s).map(|t| t.with_timezone(&Utc)).unwrap_or_default()
}

fn row_to_job(r: &rusqlite::Row<'_>) -> rusqlite::Result<Job> {
    let ts = |i: usize| -> rusqlite::Result<Option<DateTime<Utc>>> { Ok(r.get::<_, Option<String>>(i)?.map(parse_ts)) };
    let json = |i: usize| -> rusqlite::Result<Option<serde_json::Value>> {
        Ok(r.get::<_, Option<String>>(i)?.and_then(|s| serde_json::from_str(&s).ok()))
    };
    let status: String = r.get(3)?;
    Ok(Job {
        id: r.get(0)?,
        trigger: r.get(1)?,
        engine: r.get(2)?,
        status: status.parse().unwrap_or(JobStatus::Failed),
        created_at: parse_ts(r.get(4)?),
        started_at: ts(5)?,
        finished_at: ts(6)?,
        base_hash: r.get(7)?,
        candidate_hash: r.get(8)?,
        metrics: json(9)?,
        policy: json(10)?,
        decision: r.get(11)?,
        decided_by: r.get(12)?,
        decided_at: ts(13)?,
        error: r.get(14)?,
        estimated_cost_usd: r.get(15)?,
        cost_usd: r.get(16)?,
        generation: r.get(17)?,
    })
}

#[cfg(test)]
mod tests;
