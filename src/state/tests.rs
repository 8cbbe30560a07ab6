use super::*;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-01T10:00:00Z").unwrap().into()
}

#[test]
fn jobs_persist_across_reopen_and_transitions_are_checked() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("dreamd.db");
    let id = {
        let s = State::open(&db).unwrap();
        let j = s.insert_job("manual", "builtin", 0.0, now()).unwrap();
        assert_eq!(j.status, JobStatus::Queued);
        s.transition(j.id, JobStatus::Running, JobUpdate { started_at: Some(now()), base_hash: Some("abc".into()), ..Default::default() })
            .unwrap();
        s.transition(j.id, JobStatus::Staged, JobUpdate::default()).unwrap();
        s.transition(j.id, JobStatus::Held, JobUpdate { policy: Some(serde_json::json!({"ok": false})), ..Default::default() }).unwrap();
        let e = s.transition(j.id, JobStatus::Applied, JobUpdate::default()).unwrap_err();
        assert!(matches!(e, StateError::Illegal { .. }), "{e}");
        j.id
    };
    let s = State::open(&db).unwrap();
    let j = s.job(id).unwrap();
    assert_eq!(j.status, JobStatus::Held);
    assert_eq!(j.base_hash.as_deref(), Some("abc"));
    assert_eq!(j.started_at, Some(now()));
    assert_eq!(j.policy, Some(serde_json::json!({"ok": false})));
    assert!(matches!(s.job(999), Err(StateError::NotFound(999))));
}

#[test]
fn wal_mode_and_schema_version() {
    let d = tempfile::tempdir().unwrap();
    let s = State::open(&d.path().join("x.db")).unwrap();
    let c = s.conn();
    let mode: String = c.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let v: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(v as usize, migrations_len());
}

fn migrations_len() -> usize {
    2
}

#[test]
fn refuses_a_newer_schema() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("x.db");
    {
        let c = Connection::open(&db).unwrap();
        c.pragma_update(None, "user_version", 99).unwrap();
    }
    let e = State::open(&db).err().unwrap();
    assert!(format!("{e:#}").contains("newer than this dreamd understands"), "{e:#}");
}

#[test]
fn ledger_adds_per_day_and_month() {
    let d = tempfile::tempdir().unwrap();
    let s = State::open(&d.path().join("x.db")).unwrap();
    s.ledger_add("2026-06-01", 1, 0.5).unwrap();
    s.ledger_add("2026-06-01", 1, 0.25).unwrap();
    s.ledger_add("2026-06-02", 1, 1.0).unwrap();
    s.ledger_add("2026-07-01", 1, 9.0).unwrap();
    let day = s.ledger_day("2026-06-01").unwrap();
    assert_eq!((day.jobs, day.cost_usd), (2, 0.75));
    assert_eq!(s.ledger_day("2026-06-03").unwrap().jobs, 0);
    assert_eq!(s.ledger_month_cost("2026-06").unwrap(), 1.75);
}

#[test]
fn events_and_kv() {
    let d = tempfile::tempdir().unwrap();
    let s = State::open(&d.path().join("x.db")).unwrap();
    let j = s.insert_job("manual", "builtin", 0.0, now()).unwrap();
    let e1 = s.add_event(j.id, now(), "read", "MEMORY.md").unwrap();
    s.add_event(j.id, now(), "write", "x.md").unwrap();
    assert_eq!(s.events(j.id, 0).unwrap().len(), 2);
    assert_eq!(s.events(j.id, e1.id).unwrap()[0].message, "x.md");
    s.kv_set("k", &vec![1, 2]).unwrap();
    assert_eq!(s.kv_get::<Vec<i32>>("k").unwrap(), Some(vec![1, 2]));
    assert_eq!(s.kv_get::<Vec<i32>>("missing").unwrap(), None);
}

fn staged_job(s: &State) -> i64 {
    let j = s.insert_job("manual", "builtin", 0.0, now()).unwrap();
    s.transition(j.id, JobStatus::Running, JobUpdate::default()).unwrap();
    s.transition(j.id, JobStatus::Staged, JobUpdate::default()).unwrap();
    j.id
}

fn generation(id: i64, job_id: Option<i64>) -> Generation {
    Generation { id, created_at: now(), job_id, reason: "apply".into(), store_hash: "h".into(), bytes: 1, files: 1 }
}

#[test]
fn record_apply_writes_job_and_generation_together() {
    let d = tempfile::tempdir().unwrap();
    let s = State::open(&d.path().join("x.db")).unwrap();
    let id = staged_job(&s);
    s.record_apply(&generation(1, Some(id)), Some(id), now(), false, "applied").unwrap();
    let j = s.job(id).unwrap();
    assert_eq!((j.status, j.generation), (JobStatus::Applied, Some(1)));
    assert_eq!(s.generations().unwrap().len(), 1);
    // Recording it again (recovery after a crash past the commit) changes nothing.
    s.record_apply(&generation(1, Some(id)), Some(id), now(), true, "applied").unwrap();
    assert_eq!(s.generations().unwrap().len(), 1);

    // An illegal transition rolls the generation back too.
    let other = staged_job(&s);
    s.transition(other, JobStatus::Failed, JobUpdate { error: Some("interrupted".into()), ..Default::default() }).unwrap();
    assert!(matches!(s.record_apply(&generation(2, Some(other)), Some(other), now(), false, "applied"), Err(StateError::Illegal { .. })));
    assert_eq!(s.generations().unwrap().len(), 1, "nothing half-recorded");
    // Repair: the filesystem says it was applied.
    s.record_apply(&generation(2, Some(other)), Some(other), now(), true, "applied").unwrap();
    let j = s.job(other).unwrap();
    assert_eq!((j.status, j.generation, j.error), (JobStatus::Applied, Some(2), None));
}

#[test]
fn record_not_applied_ends_only_jobs_in_flight() {
    let d = tempfile::tempdir().unwrap();
    let s = State::open(&d.path().join("x.db")).unwrap();
    let stale = staged_job(&s);
    s.record_not_applied(stale, true, "changed", now()).unwrap();
    assert_eq!(s.job(stale).unwrap().status, JobStatus::Stale);
    let failed = staged_job(&s);
    s.record_not_applied(failed, false, "undone", now()).unwrap();
    let j = s.job(failed).unwrap();
    assert_eq!((j.status, j.error.as_deref()), (JobStatus::Failed, Some("undone")));
    s.record_not_applied(failed, true, "again", now()).unwrap();
    assert_eq!(s.job(failed).unwrap().error.as_deref(), Some("undone"), "a finished job is left alone");
}

#[test]
fn database_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("state");
    let s = State::open(&dir.join("dreamd.db")).unwrap();
    s.insert_job("manual", "builtin", 0.0, now()).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    for f in ["dreamd.db", "dreamd.db-wal", "dreamd.db-shm"] {
        if dir.join(f).exists() {
            assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
        }
    }
}
