//! `GET /v1/jobs`, `GET /v1/jobs/ID` (with its report) and `GET /v1/jobs/ID/diff`. Read-only:
//! job state is written by the job owner alone.

use super::http::{ok, parse_id, query_param, Reply};
use super::Api;
use crate::context::Context;
use crate::diff;
use crate::error::OpError;
use serde_json::{json, Value};

pub async fn list(api: &Api, query: &str) -> Reply {
    let limit = query_param(query, "limit").map(|v| parse_id(&v, "limit")).transpose()?.unwrap_or(50).clamp(1, 1000);
    let jobs = api.ctx.blocking(move |ctx| ctx.state.jobs(limit as usize)).await??;
    Ok(ok(json!({"jobs": jobs})))
}

pub async fn show(api: &Api, id: &str) -> Reply {
    let id = parse_id(id, "job id")?;
    let v = api
        .ctx
        .blocking(move |ctx| -> Result<Value, OpError> {
            let job = ctx.state.job(id)?;
            let report = ctx.job_dir(id).read_report().ok();
            Ok(json!({"job": job, "report": report}))
        })
        .await??;
    Ok(ok(v))
}

pub async fn diff(api: &Api, id: &str) -> Reply {
    let id = parse_id(id, "job id")?;
    Ok(ok(api.ctx.blocking(move |ctx| job_diff(ctx, id)).await??))
}

fn job_diff(ctx: &Context, id: i64) -> Result<Value, OpError> {
    let job = ctx.state.job(id)?;
    let dir = ctx.job_dir(id);
    let (base, candidate) = match (dir.read_base(), dir.read_candidate()) {
        (Ok(b), Ok(c)) => (b, c),
        _ => return Err(OpError::Conflict(format!("job {id} is {} and has no staged candidate to diff", job.status))),
    };
    // Entries dropped without explanation come first: they are what a reviewer must see.
    let dropped: Vec<String> = job
        .policy
        .as_ref()
        .and_then(|p| p.get("checks"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| c.get("name").and_then(Value::as_str) == Some("entry_loss"))
        .flat_map(|c| c.get("details").and_then(Value::as_array).cloned().unwrap_or_default())
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    Ok(json!({"job": id, "status": job.status, "dropped": dropped, "files": diff::store_diff(&base, &candidate)}))
}
