//! `GET /v1/generations` and `POST /v1/rollback`.

use super::http::{by, ok, parse_json, Reply};
use super::Api;
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackRequest {
    #[serde(default)]
    generation: Option<i64>,
    #[serde(default)]
    by: Option<String>,
}

pub async fn list(api: &Api) -> Reply {
    let gens = api.ctx.blocking(|ctx| ctx.state.generations()).await??;
    Ok(ok(json!({"generations": gens})))
}

pub async fn rollback(api: &Api, body: &[u8]) -> Reply {
    let body: RollbackRequest = parse_json(body)?;
    let outcome = api.jobs.rollback(body.generation, &by(body.by.as_deref(), "api")).await?;
    Ok(ok(serde_json::to_value(outcome).map_err(anyhow::Error::from)?))
}
