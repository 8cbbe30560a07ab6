//! The local HTTP API on a Unix socket. `route` is the whole table; each endpoint group has
//! its handler file. Handlers translate HTTP to reads of the context or commands to the job
//! owner, and run blocking reads on the blocking pool.

mod decisions;
mod dreams;
mod events;
mod generations;
mod health;
pub mod http;
mod jobs;
mod status;

use crate::context::Context;
use crate::error::OpError;
use crate::jobs::Jobs;
use crate::supervise::PartResult;
use anyhow::{Context as _, Result};
use http::{error_response, Body, Reply};
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;
use tokio::net::UnixListener;

/// What every handler gets.
#[derive(Clone)]
pub struct Api {
    pub ctx: Arc<Context>,
    pub jobs: Jobs,
}

async fn route(api: &Api, req: Request<Incoming>) -> Reply {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (&method, segments.as_slice()) {
        (&Method::GET, ["v1", "health"]) => health::get(),
        (&Method::GET, ["v1", "status"]) => status::get(api).await,
        (&Method::POST, ["v1", "dreams"]) => dreams::post(api, req).await,
        (&Method::GET, ["v1", "jobs"]) => jobs::list(api, &query).await,
        (&Method::GET, ["v1", "jobs", id]) => jobs::show(api, id).await,
        (&Method::GET, ["v1", "jobs", id, "diff"]) => jobs::diff(api, id).await,
        (&Method::GET, ["v1", "jobs", id, "events"]) => events::get(api, id, &query).await,
        (&Method::POST, ["v1", "jobs", id, "approve"]) => decisions::approve(api, id, req).await,
        (&Method::POST, ["v1", "jobs", id, "cancel"]) => decisions::cancel(api, id, req).await,
        (&Method::POST, ["v1", "jobs", id, "discard"]) => decisions::discard(api, id, req).await,
        (&Method::GET, ["v1", "generations"]) => generations::list(api).await,
        (&Method::POST, ["v1", "rollback"]) => generations::rollback(api, req).await,
        (_, ["v1", "health" | "status" | "jobs" | "dreams" | "generations" | "rollback", ..]) => {
            Err(OpError::MethodNotAllowed(format!("{method} is not allowed on {path}")))
        }
        _ => Err(OpError::NotFound(format!("no such endpoint: {method} {path}"))),
    }
}

async fn handle(api: Api, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let resp = route(&api, req).await.unwrap_or_else(|e| error_response(&e));
    tracing::debug!(%method, %path, status = resp.status().as_u16(), "api request");
    Ok(resp)
}

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
    // SAFETY: umask only swaps the process's file mode mask.
    let old = unsafe { libc::umask(0o177) };
    let listener = UnixListener::bind(path);
    unsafe { libc::umask(old) };
    let listener = listener.with_context(|| format!("cannot listen on {}", path.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// The API server as a supervised part: accept connections until shutdown, then give open
/// ones a few seconds to finish. A restarted server keeps the same (bound) listener.
pub async fn serve(api: Api, listener: Arc<UnixListener>) -> PartResult {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of descriptors and the like: pass, do not spin.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let header_timeout = api.ctx.config().api.header_timeout.0.max(std::time::Duration::from_secs(1));
                let a = api.clone();
                let service = hyper::service::service_fn(move |req| handle(a.clone(), req));
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(header_timeout)
                    .serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            _ = api.ctx.shutdown.cancelled() => break,
        }
    }
    if tokio::time::timeout(std::time::Duration::from_secs(5), graceful.shutdown()).await.is_err() {
        tracing::warn!("some API connections did not close within 5s");
    }
    Ok(())
}
