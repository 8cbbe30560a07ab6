//! The session baseline: what a dream saw of the sessions becomes "not new" once its job is
//! applied, discarded or found nothing to change.

use crate::context::Context;
use crate::sessions::{self, SessionLedger, SessionStat};

/// Key of the persisted session baseline (what was counted at the last settled dream).
pub const LEDGER_KEY: &str = "session_ledger";

fn job_key(job_id: i64) -> String {
    format!("job_sessions/{job_id}")
}

/// What a job saw of the sessions when it started.
pub fn remember(ctx: &Context, job_id: i64, seen: &[SessionStat]) {
    let ledger = sessions::baseline(seen, ctx.now());
    if let Err(e) = ctx.state.kv_set(&job_key(job_id), &ledger) {
        tracing::warn!(job = job_id, error = %e, "cannot record the sessions a job saw");
    }
}

/// The job was settled: the sessions it saw are no longer new.
pub fn settle(ctx: &Context, job_id: i64) {
    match ctx.state.kv_get::<SessionLedger>(&job_key(job_id)) {
        Ok(Some(ledger)) => {
            if let Err(e) = ctx.state.kv_set(LEDGER_KEY, &ledger) {
                tracing::warn!(job = job_id, error = %e, "cannot save the session baseline");
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(job = job_id, error = %e, "cannot read the sessions a job saw"),
    }
}
