//! `GET /v1/jobs/ID/events[?after=N][&follow=true]`: a job's log; with `follow`, streamed as
//! NDJSON until the job is done (or held) or the client goes away.

use super::http::{ok, parse_bool, parse_count, parse_id, query_param, Body, Reply};
use super::Api;
use crate::context::Context;
use crate::job::JobStatus;
use crate::state::JobEvent;
use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::Response;
use serde_json::json;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

pub async fn get(api: &Api, id: &str, query: &str) -> Reply {
    let id = parse_id(id, "job id")?;
    let after = query_param(query, "after").map(|v| parse_count(&v, "after")).transpose()?.unwrap_or(0);
    let stream = query_param(query, "follow").map(|v| parse_bool(&v, "follow")).transpose()?.unwrap_or(false);
    api.ctx.blocking(move |ctx| ctx.state.job(id)).await??;
    if stream {
        return Ok(follow(api.ctx.clone(), id, after));
    }
    let events = api.ctx.blocking(move |ctx| ctx.state.events(id, after)).await??;
    Ok(ok(json!({"events": events})))
}

fn follow(ctx: Arc<Context>, id: i64, after: i64) -> Response<Body> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    // Subscribe before the first catch-up, so no event falls between the two.
    let mut live = ctx.events.subscribe();
    let mut notices = ctx.notices.subscribe();
    tokio::spawn(async move {
        let mut last = after;
        let line = |e: &JobEvent| Bytes::from(format!("{}\n", serde_json::to_string(e).unwrap_or_default()));
        loop {
            // Catch up from the database (covers events missed while lagging).
            let (events, done) = match ctx
                .blocking(move |ctx| {
                    let done = ctx.state.job(id).map(|j| j.status.is_terminal() || j.status == JobStatus::Held).unwrap_or(true);
                    // Read after the status: an event recorded before the job ended is included.
                    (ctx.state.events(id, last).unwrap_or_default(), done)
                })
                .await
            {
                Ok(x) => x,
                Err(_) => return,
            };
            for e in &events {
                last = e.id;
                if tx.send(line(e)).await.is_err() {
                    return;
                }
            }
            if done {
                return;
            }
            tokio::select! {
                r = live.recv() => if let Err(RecvError::Closed) = r { return },
                r = notices.recv() => if let Err(RecvError::Closed) = r { return },
                _ = tx.closed() => return,
                _ = ctx.shutdown.cancelled() => return,
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx)) });
    let mut resp = Response::new(StreamBody::new(stream).boxed());
    resp.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/x-ndjson"));
    resp
}
