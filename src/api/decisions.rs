//! `POST /v1/jobs/ID/{approve,cancel,discard}`: a person's decisions, carried out by the job
//! owner.

use super::http::{ok, parse_id, read_json, DecisionRequest, Reply};
use super::Api;
use crate::error::OpError;
use hyper::body::Incoming;
use hyper::Request;
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApproveRequest {
    #[serde(default)]
    changes: Option<Vec<String>>,
    #[serde(default)]
    by: Option<String>,
}

pub async fn approve(api: &Api, id: &str, req: Request<Incoming>) -> Reply {
    let id = parse_id(id, "job id")?;
    let body: ApproveRequest = read_json(req).await?;
    if body.changes.is_some() {
        return Err(OpError::BadRequest(
            "partial approval (\"changes\") is not supported yet; approve the whole job without a body".into(),
        ));
    }
    let job = api.jobs.approve(id, body.by.as_deref().unwrap_or("api")).await?;
    Ok(ok(json!({"job": job})))
}

pub async fn cancel(api: &Api, id: &str, req: Request<Incoming>) -> Reply {
    let id = parse_id(id, "job id")?;
    let body: DecisionRequest = read_json(req).await?;
    let job = api.jobs.cancel(id, body.by.as_deref().unwrap_or("api")).await?;
    Ok(ok(json!({"job": job})))
}

pub async fn discard(api: &Api, id: &str, req: Request<Incoming>) -> Reply {
    let id = parse_id(id, "job id")?;
    let body: DecisionRequest = read_json(req).await?;
    let job = api.jobs.discard(id, body.by.as_deref().unwrap_or("api")).await?;
    Ok(ok(json!({"job": job})))
}
