//! The local HTTP API on a Unix socket: JSON in and out, errors as
//! `{"error": {"code", "message"}}` with a 4xx/5xx status.

use crate::app::{App, OpError};
use crate::diff;
use crate::job::JobStatus;
use crate::state::Job;
use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;
use tokio::net::UnixListener;

pub type Body = BoxBody<Bytes, Infallible>;

/// Largest request body accepted (requests are small JSON documents).
const MAX_BODY: usize = 64 * 1024;

/// Bind the socket safely: refuse if a live daemon answers on it, remove it if stale, and
/// create it with mode 0600 (owner only).
pub async fn bind(path: &Path) -> Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create socket directory {}", dir.display()))?;
    }
    if path.exists() {
        use std::os::unix::fs::FileTypeExt;
        let meta = std::fs::symlink_metadata(path)?;
        if !meta.file_type().is_socket() {
            anyhow::bail!("{} exists and is not a socket; refusing to replace it", path.display());
        }
        if tokio::net::UnixStream::connect(path).await.is_ok() {
            anyhow::bail!("another dreamd is already listening on {}", path.display());
        }
        std::fs::remove_file(path).with_context(|| format!("cannot remove stale socket {}", path.display()))?;
        tracing::info!(socket = %path.display(), "removed a stale socket");
    }
    // The umask makes the socket owner-only from the moment it exists (no chmod race).
    let old = unsafe { libc::umask(0o177) };
    let listener = UnixListener::bind(path);
    unsafe { libc::umask(old) };
    let listener = listener.with_context(|| format!("cannot listen on {}", path.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

pub async fn handle(app: Arc<App>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let resp = match route(&app, req, &method, &path, &query).await {
        Ok(r) => r,
        Err(e) => error_response(&e),
    };
    tracing::debug!(%method, %path, status = resp.status().as_u16(), "api request");
    Ok(resp)
}

async fn route(app: &Arc<App>, req: Request<Incoming>, method: &Method, path: &str, query: &str) -> Result<Response<Body>, OpError> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        (&Method::GET, ["v1", "health"]) => Ok(ok(json!({"ok": true, "version": env!("CARGO_PKG_VERSION")}))),
        (&Method::GET, ["v1", "status"]) => Ok(ok(crate::status::status(app)?)),
        (&Method::GET, ["v1", "jobs"]) => {
            let limit = query_param(query, "limit").map(|v| parse_id(&v, "limit")).transpose()?.unwrap_or(50).clamp(1, 1000);
            Ok(ok(json!({"jobs": app.state.jobs(limit as usize)?})))
        }
        (&Method::GET, ["v1", "jobs", id]) => {
            let job = app.state.job(parse_id(id, "job id")?)?;
            Ok(ok(job_with_report(app, &job)))
        }
        (&Method::GET, ["v1", "jobs", id, "diff"]) => Ok(ok(job_diff(app, parse_id(id, "job id")?)?)),
        (&Method::GET, ["v1", "jobs", id, "events"]) => {
            let id = parse_id(id, "job id")?;
            app.state.job(id)?;
            let after = query_param(query, "after").map(|v| parse_id(&v, "after")).transpose()?.unwrap_or(0);
            if query_param(query, "follow").is_some_and(|v| v == "true" || v == "1") {
                Ok(follow_events(app.clone(), id, after))
            } else {
                Ok(ok(json!({"events": app.state.events(id, after)?})))
            }
        }
        (&Method::POST, ["v1", "dreams"]) => {
            let body: DreamRequest = read_json(req).await?;
            let job = app.request_dream(body.force).await?;
            Ok(respond(StatusCode::ACCEPTED, json!({"job": job})))
        }
        (&Method::POST, ["v1", "jobs", id, "approve"]) => {
            let id = parse_id(id, "job id")?;
            let body: ApproveRequest = read_json(req).await?;
            if body.changes.is_some() {
                return Err(OpError::BadRequest(
                    "partial approval (\"changes\") is not supported yet; approve the whole job without a body".into(),
                ));
            }
            let job = app.approve(id, body.by.as_deref().unwrap_or("api")).await?;
            Ok(ok(json!({"job": job})))
        }
        (&Method::POST, ["v1", "jobs", id, "cancel"]) => {
            let id = parse_id(id, "job id")?;
            let body: DecisionRequest = read_json(req).await?;
            let job = app.cancel(id, body.by.as_deref().unwrap_or("api")).await?;
            Ok(ok(json!({"job": job})))
        }
        (&Method::POST, ["v1", "jobs", id, "discard"]) => {
            let id = parse_id(id, "job id")?;
            let body: DecisionRequest = read_json(req).await?;
            let job = app.discard(id, body.by.as_deref().unwrap_or("api")).await?;
            Ok(ok(json!({"job": job})))
        }
        (&Method::GET, ["v1", "generations"]) => Ok(ok(json!({"generations": app.state.generations()?}))),
        (&Method::POST, ["v1", "rollback"]) => {
            let body: RollbackRequest = read_json(req).await?;
            Ok(ok(serde_json::to_value(app.rollback(body.generation).await?).map_err(anyhow::Error::from)?))
        }
        (_, ["v1", "health" | "status" | "jobs" | "dreams" | "generations" | "rollback", ..]) => {
            Err(OpError::MethodNotAllowed(format!("{method} is not allowed on {path}")))
        }
        _ => Err(OpError::NotFound(format!("no such endpoint: {method} {path}"))),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DreamRequest {
    #[serde(default)]
    force: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApproveRequest {
    #[serde(default)]
    changes: Option<Vec<String>>,
    #[serde(default)]
    by: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionRequest {
    #[serde(default)]
    by: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackRequest {
    #[serde(default)]
    generation: Option<i64>,
}

/// An empty body is `{}`; anything else must be a JSON object of the expected shape.
async fn read_json<T: for<'de> Deserialize<'de> + Default>(req: Request<Incoming>) -> Result<T, OpError> {
    let body = http_body_util::Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| OpError::BadRequest(format!("cannot read request body: {e}")))?
        .to_bytes();
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&body).map_err(|e| OpError::BadRequest(format!("invalid JSON body: {e}")))
}

fn parse_id(s: &str, what: &str) -> Result<i64, OpError> {
    s.parse::<i64>().ok().filter(|v| *v >= 0).ok_or_else(|| OpError::BadRequest(format!("{what} {s:?} is not a number")))
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').filter_map(|kv| kv.split_once('=')).find(|(k, _)| *k == key).map(|(_, v)| v.to_string())
}

fn job_with_report(app: &App, job: &Job) -> Value {
    let report = app.job_dir(job.id).read_report().ok();
    json!({"job": job, "report": report})
}

fn job_diff(app: &App, id: i64) -> Result<Value, OpError> {
    let job = app.state.job(id)?;
    let dir = app.job_dir(id);
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

/// Stream a job's events as NDJSON until the job is done or the client goes away.
fn follow_events(app: Arc<App>, id: i64, after: i64) -> Response<Body> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let mut live = app.events.subscribe();
    tokio::spawn(async move {
        let mut last = after;
        let line = |e: &crate::state::JobEvent| Bytes::from(format!("{}\n", serde_json::to_string(e).unwrap_or_default()));
        loop {
            // Catch up from the database (covers events missed while subscribing or lagging).
            for e in app.state.events(id, last).unwrap_or_default() {
                last = e.id;
                if tx.send(line(&e)).await.is_err() {
                    return;
                }
            }
            let done = app.state.job(id).map(|j| j.status.is_terminal() || j.status == JobStatus::Held).unwrap_or(true);
            if done {
                // Events recorded between the catch-up above and the status read.
                for e in app.state.events(id, last).unwrap_or_default() {
                    if tx.send(line(&e)).await.is_err() {
                        return;
                    }
                }
                return;
            }
            tokio::select! {
                r = live.recv() => if let Err(tokio::sync::broadcast::error::RecvError::Closed) = r { return },
                _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                _ = tx.closed() => return,
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx)) });
    let mut resp = Response::new(StreamBody::new(stream).boxed());
    resp.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/x-ndjson"));
    resp
}

fn ok(v: Value) -> Response<Body> {
    respond(StatusCode::OK, v)
}

fn respond(status: StatusCode, v: Value) -> Response<Body> {
    let mut bytes = serde_json::to_vec_pretty(&v).unwrap_or_default();
    bytes.push(b'\n');
    let mut resp = Response::new(Full::new(Bytes::from(bytes)).boxed());
    *resp.status_mut() = status;
    resp.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    resp
}

fn error_response(e: &OpError) -> Response<Body> {
    let status = match e {
        OpError::NotFound(_) => StatusCode::NOT_FOUND,
        OpError::Conflict(_) => StatusCode::CONFLICT,
        OpError::Limited(_) => StatusCode::TOO_MANY_REQUESTS,
        OpError::BadRequest(_) => StatusCode::BAD_REQUEST,
        OpError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
        OpError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if status.is_server_error() {
        tracing::error!(error = %e, "api request failed");
    }
    respond(status, json!({"error": {"code": e.code(), "message": e.to_string()}}))
}
