//! `GET /v1/generations` and `POST /v1/rollback`.

use super::http::{ok, read_json, Reply};
use super::Api;
use hyper::body::Incoming;
use hyper::Request;
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackRequest {
    #[serde(default)]
    generation: Option<i64>,
}

pub async fn list(api: &Api) -> Reply {
    let gens = api.ctx.blocking(|ctx| ctx.state.generations()).await??;
    Ok(ok(json!({"generations": gens})))
}

pub async fn rollback(api: &Api, req: Request<Incoming>) -> Reply {
    let body: RollbackRequest = read_json(req).await?;
    let outcome = api.jobs.rollback(body.generation).await?;
    Ok(ok(serde_json::to_value(outcome).map_err(anyhow::Error::from)?))
}
