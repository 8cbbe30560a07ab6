//! `GET /v1/jobs` (with the rollbacks), `GET /v1/jobs/ID` (with its report) and
//! `GET /v1/jobs/ID/diff`. Read-only: job state is written by the job owner alone.
//!
//! An applied job that a rollback took back carries `rolled_back` (the rollback); the list
//! also has the recent `rollbacks`, so that both show in `dreamd jobs`.

use super::http::{ok, parse_id, query_param, with_type, Reply};
use super::Api;
use crate::context::Context;
use crate::diff;
use crate::error::OpError;
use crate::report::Report;
use crate::state::{Job, Rollback};
use hyper::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn with_rollback(job: &Job, undone: &BTreeMap<i64, Rollback>) -> Value {
    let mut v = json!(job);
    v["rolled_back"] = json!(undone.get(&job.id));
    v
}

pub async fn list(api: &Api, query: &str) -> Reply {
    let limit = match query_param(query, "limit") {
        Some(v) => parse_id(&v, "limit")?.min(1000),
        None => 50,
    };
    let v = api
        .ctx
        .blocking(move |ctx| -> Result<Value, OpError> {
            let jobs = ctx.state.jobs(limit as usize)?;
            let undone = ctx.state.rolled_back_jobs()?;
            // Rollbacks as recent as the oldest job listed (all of them when every job is).
            let oldest = jobs.last().map(|j| j.created_at);
            let rollbacks: Vec<Rollback> = ctx
                .state
                .rollbacks(limit as usize)?
                .into_iter()
                .filter(|r| jobs.len() < limit as usize || oldest.is_none_or(|t| r.at >= t))
                .collect();
            Ok(json!({"jobs": jobs.iter().map(|j| with_rollback(j, &undone)).collect::<Vec<_>>(), "rollbacks": rollbacks}))
        })
        .await??;
    Ok(ok(v))
}

pub async fn show(api: &Api, id: &str) -> Reply {
    let id = parse_id(id, "job id")?;
    let v = api
        .ctx
        .blocking(move |ctx| -> Result<Vec<u8>, OpError> {
            let job = ctx.state.job(id)?;
            let undone = ctx.state.rolled_back_jobs()?;
            let report = ctx.job_dir(id).read_report().ok();
            // Straight to bytes: a 100 MB store's report as a JSON tree is several times its size.
            let mut bytes = serde_json::to_vec_pretty(&Shown { job: with_rollback(&job, &undone), report }).map_err(anyhow::Error::from)?;
            bytes.push(b'\n');
            Ok(bytes)
        })
        .await??;
    Ok(with_type(StatusCode::OK, v.into(), "application/json"))
}

#[derive(serde::Serialize)]
struct Shown {
    job: Value,
    report: Option<Report>,
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
