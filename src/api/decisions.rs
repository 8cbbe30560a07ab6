//! `POST /v1/jobs/ID/{approve,cancel,discard}`: a person's decisions, carried out by the job
//! owner.

use super::http::{by, ok, parse_id, parse_json, DecisionRequest, Reply};
use super::Api;
use crate::error::OpError;
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

pub async fn approve(api: &Api, id: &str, body: &[u8]) -> Reply {
    let id = parse_id(id, "job id")?;
    let body: ApproveRequest = parse_json(body)?;
    if body.changes.is_some() {
        return Err(OpError::BadRequest(
            "partial approval (\"changes\") is not supported yet; approve the whole job without a body".into(),
        ));
    }
    let job = api.jobs.approve(id, &by(body.by.as_deref(), "api")).await?;
    Ok(ok(json!({"job": job})))
}

pub async fn cancel(api: &Api, id: &str, body: &[u8]) -> Reply {
    let id = parse_id(id, "job id")?;
    let body: DecisionRequest = parse_json(body)?;
    let job = api.jobs.cancel(id, &by(body.by.as_deref(), "api")).await?;
    Ok(ok(json!({"job": job})))
}

pub async fn discard(api: &Api, id: &str, body: &[u8]) -> Reply {
    let id = parse_id(id, "job id")?;
    let body: DecisionRequest = parse_json(body)?;
    let job = api.jobs.discard(id, &by(body.by.as_deref(), "api")).await?;
    Ok(ok(json!({"job": job})))
}
