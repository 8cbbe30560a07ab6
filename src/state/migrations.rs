//! Schema migrations, numbered by `PRAGMA user_version`. Append only: never edit a shipped one.

use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        trigger TEXT NOT NULL,
        engine TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        base_hash TEXT,
        candidate_hash TEXT,
        metrics TEXT,
        policy TEXT,
        decision TEXT,
        decided_by TEXT,
        decided_at TEXT,
        error TEXT,
        estimated_cost_usd REAL NOT NULL DEFAULT 0,
        cost_usd REAL,
        generation INTEGER
     );
     CREATE INDEX jobs_status ON jobs(status);
     CREATE TABLE generations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at TEXT NOT NULL,
        job_id INTEGER,
        reason TEXT NOT NULL,
        store_hash TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        files INTEGER NOT NULL
     );
     CREATE TABLE job_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id INTEGER NOT NULL REFERENCES jobs(id),
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        message TEXT NOT NULL
     );
     CREATE INDEX job_events_job ON job_events(job_id, id);
     CREATE TABLE ledger (
        day TEXT PRIMARY KEY,
        jobs INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL NOT NULL DEFAULT 0
     );
     CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    // 2: rollbacks, with the jobs each took back or brought back (JSON arrays of job ids).
    "CREATE TABLE rollbacks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        by TEXT NOT NULL,
        restored_generation INTEGER NOT NULL,
        saved_generation INTEGER NOT NULL,
        undid_jobs TEXT NOT NULL,
        redid_jobs TEXT NOT NULL
     );",
];

pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let current: usize = conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    if current > MIGRATIONS.len() {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "state database schema version {current} is newer than this dreamd understands ({}); upgrade dreamd",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}
