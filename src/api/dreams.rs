//! `POST /v1/dreams`: a dream asked for by a person. The gate decides, with `force` bypassing
//! thresholds, interval and quiet period but never quota, budget, lock or single flight.

use super::http::{parse_json, respond, Reply};
use super::Api;
use crate::gate::Trigger;
use crate::triggers::evaluate;
use hyper::StatusCode;
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DreamRequest {
    #[serde(default)]
    force: bool,
}

pub async fn post(api: &Api, body: &[u8]) -> Reply {
    let body: DreamRequest = parse_json(body)?;
    let trigger = Trigger::Manual { force: body.force };
    // A fresh look: a person asking expects the store as it is now.
    let (scan, view) = api
        .ctx
        .blocking(move |ctx| {
            let scan = evaluate::fresh_scan(ctx);
            evaluate::evaluate(ctx, trigger, &scan).map(|v| (scan, v))
        })
        .await??;
    crate::triggers::record_decision(&api.ctx, trigger, &view.decision);
    if !view.decision.is_fire() {
        tracing::info!(reason = %view.decision.reason().message, "gate: manual dream refused");
        return Err(evaluate::refusal(&view.decision));
    }
    tracing::info!(reason = %view.decision.reason().message, "gate: fire (manual)");
    let job = api.jobs.start(evaluate::trigger_name(trigger), scan.sessions.clone(), view.estimate_usd).await?;
    Ok(respond(StatusCode::ACCEPTED, json!({"job": job})))
}
