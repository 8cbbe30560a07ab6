//! The local HTTP API: a Unix socket, and optionally a loopback TCP listener. `routes::ROUTES`
//! is the whole table; each endpoint group has its handler file. Every request passes, in
//! order: the connection cap, the head checks (`conn`), who is asking (`access`), the route,
//! the content type and body limits of a POST, then the handler. Handlers translate HTTP to
//! reads of the context or commands to the job owner, and run blocking reads on the blocking
//! pool.

pub mod access;
mod conn;
mod decisions;
mod dreams;
mod events;
mod generations;
mod health;
pub mod http;
mod jobs;
mod metrics;
mod openapi;
pub mod routes;
mod status;
pub mod tcp;

use crate::context::Context;
use crate::jobs::Jobs;
use crate::supervise::PartResult;
use access::{Peer, PeerCred, Refusal};
use anyhow::{Context as _, Result};
use bytes::Bytes;
use http::{error, error_response, Body, Reply};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, AUTHORIZATION, CONTENT_TYPE, HOST, ORIGIN, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use routes::{Endpoint, Match, ROUTES};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};

pub use openapi::DOCUMENT as OPENAPI;

/// What every handler gets.
#[derive(Clone)]
pub struct Api {
    pub ctx: Arc<Context>,
    pub jobs: Jobs,
    /// The TCP listener's address and bearer token, when it is on.
    pub tcp: Option<Arc<TcpInfo>>,
    /// Connections being served (both listeners), against `api.max_connections`.
    active: Arc<AtomicUsize>,
}

pub struct TcpInfo {
    pub address: SocketAddr,
    token: String,
}

impl Api {
    pub fn new(ctx: Arc<Context>, jobs: Jobs, tcp: Option<(SocketAddr, String)>) -> Api {
        let tcp = tcp.map(|(address, token)| Arc::new(TcpInfo { address, token }));
        Api { ctx, jobs, tcp, active: Arc::new(AtomicUsize::new(0)) }
    }
}

/// One served connection, counted until dropped.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Who is asking, before the route: the peer check on the socket, host/origin/token on TCP.
/// `None`: admitted; otherwise the refusal to send.
fn admit(api: &Api, peer: &Peer, req: &Request<Incoming>) -> Option<Response<Body>> {
    let config = api.ctx.config();
    let header = |name| req.headers().get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    let refusal = match peer {
        Peer::Unix(cred) => {
            // SAFETY: geteuid has no preconditions.
            let me = unsafe { libc::geteuid() };
            match cred {
                Some(c) if access::peer_allowed(c, me, &config.api.allowed_uids, &config.api.allowed_gids) => return None,
                _ => {
                    api.ctx.metrics.api_refused("peer");
                    tracing::warn!(peer = %peer, "api: request refused: this user may not use the socket (api.allowed_uids, api.allowed_gids)");
                    Refusal::Forbidden(format!("{peer} may not use this socket; allow it with api.allowed_uids or api.allowed_gids"))
                }
            }
        }
        Peer::Tcp(_) => {
            // (Unreachable without a TCP listener; nothing to check then: admitted.)
            let tcp = api.tcp.as_ref()?;
            let hosts = config.api.tcp.as_ref().map(|t| t.allowed_hosts.clone()).unwrap_or_else(crate::config::api::default_allowed_hosts);
            match access::check_tcp(header(HOST), header(ORIGIN), header(AUTHORIZATION), &hosts, &tcp.token) {
                Ok(()) => return None,
                Err(r) => {
                    let why = match &r {
                        Refusal::Unauthorized(_) => "token",
                        Refusal::Forbidden(m) if m.starts_with("Host") => "host",
                        Refusal::Forbidden(_) => "origin",
                    };
                    api.ctx.metrics.api_refused(why);
                    tracing::warn!(peer = %peer, reason = why, "api: request refused");
                    r
                }
            }
        }
    };
    Some(match refusal {
        Refusal::Forbidden(m) => error(StatusCode::FORBIDDEN, "forbidden", &m),
        Refusal::Unauthorized(m) => {
            let mut resp = error(StatusCode::UNAUTHORIZED, "unauthorized", &m);
            resp.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"dreamd\""));
            resp
        }
    })
}

async fn route(api: &Api, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let (endpoint, id) = match routes::find(&ROUTES, &method, &path) {
        Match::Found(r, id) => (r.endpoint, id.unwrap_or_default()),
        Match::WrongMethod(allowed) => {
            let list: Vec<&str> = allowed.iter().map(Method::as_str).collect();
            let mut resp = error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                &format!("{method} is not allowed on {path}; use {}", list.join(", ")),
            );
            if let Ok(v) = HeaderValue::from_str(&list.join(", ")) {
                resp.headers_mut().insert(ALLOW, v);
            }
            return resp;
        }
        Match::NotFound => {
            let shown = crate::untrusted::one_line(&path, 200);
            return error(StatusCode::NOT_FOUND, "not_found", &format!("no such endpoint: {method} {shown}"));
        }
    };
    let body = if method == Method::POST {
        match post_body(api, req).await {
            Ok(b) => b,
            Err(refused) => return *refused,
        }
    } else {
        Bytes::new()
    };
    let reply: Reply = match endpoint {
        Endpoint::Health => health::get(),
        Endpoint::Status => status::get(api).await,
        Endpoint::Metrics => metrics::get(api).await,
        Endpoint::OpenApi => openapi::get(),
        Endpoint::RequestDream => dreams::post(api, &body).await,
        Endpoint::ListJobs => jobs::list(api, &query).await,
        Endpoint::GetJob => jobs::show(api, &id).await,
        Endpoint::GetJobDiff => jobs::diff(api, &id).await,
        Endpoint::GetJobEvents => events::get(api, &id, &query).await,
        Endpoint::ApproveJob => decisions::approve(api, &id, &body).await,
        Endpoint::CancelJob => decisions::cancel(api, &id, &body).await,
        Endpoint::DiscardJob => decisions::discard(api, &id, &body).await,
        Endpoint::ListGenerations => generations::list(api).await,
        Endpoint::Rollback => generations::rollback(api, &body).await,
    };
    reply.unwrap_or_else(|e| error_response(&e))
}

/// A POST's body: JSON only (a browser's cross-site form cannot send that without asking
/// first), within the size cap and the body timeout.
async fn post_body(api: &Api, req: Request<Incoming>) -> Result<Bytes, Box<Response<Body>>> {
    let content_type = req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if !access::is_json(content_type) {
        return Err(Box::new(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            &format!("a POST must have Content-Type: application/json (got {:?})", content_type.unwrap_or("none")),
        )));
    }
    let config = api.ctx.config();
    http::read_body(req, config.api.max_body_bytes, config.api.body_timeout.0).await
}

async fn handle(api: Api, peer: Peer, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let resp = match admit(&api, &peer, &req) {
        Some(refused) => refused,
        None => route(&api, req).await,
    };
    tracing::debug!(%method, path = %crate::untrusted::one_line(&path, 200), status = resp.status().as_u16(), "api request");
    Ok(resp)
}

/// Bind the socket safely: refuse if a live daemon answers on it, remove it if stale, and
/// create it with mode 0600 (owner only), or 0666 when other users are allowed in (then the
/// peer check is the gate).
pub async fn bind(path: &Path, shared: bool) -> Result<UnixListener> {
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
    let mode = if shared { 0o666 } else { 0o600 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    if shared {
        tracing::info!(socket = %path.display(), "the socket accepts other users; each request is checked against api.allowed_uids and api.allowed_gids");
    }
    Ok(listener)
}

/// Serve one accepted connection: count it against the cap, read and check its head, then let
/// hyper serve its one request.
fn serve_connection<S>(api: &Api, graceful: &hyper_util::server::graceful::GracefulShutdown, mut stream: S, peer: Peer)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let config = api.ctx.config();
    let slot = Slot(api.active.clone());
    let over = api.active.fetch_add(1, Ordering::SeqCst) >= config.api.max_connections;
    let api = api.clone();
    let watcher = graceful.watcher();
    tokio::spawn(async move {
        let _slot = slot;
        if over {
            api.ctx.metrics.api_refused("connections");
            let e = conn::Early {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "unavailable",
                message: format!("too many connections (api.max_connections: {}); try again shortly", config.api.max_connections),
            };
            conn::answer(&mut stream, &e, &[("retry-after", "1")]).await;
            return;
        }
        let head = match conn::read_head(&mut stream, config.api.header_timeout.0).await {
            Ok(Some(head)) => head,
            Ok(None) => return,
            Err(e) => return conn::answer(&mut stream, &e, &[]).await,
        };
        if let Err(e) = conn::check_head(&head, config.api.max_body_bytes) {
            return conn::answer(&mut stream, &e, &[]).await;
        }
        let service = hyper::service::service_fn(move |req| handle(api.clone(), peer.clone(), req));
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .keep_alive(false)
            .header_read_timeout(config.api.header_timeout.0)
            .serve_connection(TokioIo::new(conn::Prefixed::new(head.freeze(), stream)), service);
        if let Err(e) = watcher.watch(connection).await {
            tracing::debug!(error = %e, "connection ended with an error");
        }
    });
}

/// The API server as a supervised part: accept connections on the socket (and the TCP
/// listener) until shutdown, then give open ones a few seconds to finish. A restarted server
/// keeps the same (bound) listeners.
pub async fn serve(api: Api, unix: Arc<UnixListener>, tcp: Option<Arc<TcpListener>>) -> PartResult {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = unix.accept() => match accepted {
                Ok((stream, _)) => {
                    let cred = stream.peer_cred().ok().map(|c| PeerCred { uid: c.uid(), gid: c.gid(), pid: c.pid() });
                    serve_connection(&api, &graceful, stream, Peer::Unix(cred));
                }
                Err(e) => pause_after(e).await,
            },
            accepted = async { match tcp.as_ref() { Some(l) => l.accept().await, None => std::future::pending().await } } => match accepted {
                Ok((stream, addr)) => serve_connection(&api, &graceful, stream, Peer::Tcp(addr)),
                Err(e) => pause_after(e).await,
            },
            _ = api.ctx.shutdown.cancelled() => break,
        }
    }
    if tokio::time::timeout(std::time::Duration::from_secs(5), graceful.shutdown()).await.is_err() {
        tracing::warn!("some API connections did not close within 5s");
    }
    Ok(())
}

/// Out of descriptors and the like: pass, do not spin.
async fn pause_after(e: std::io::Error) {
    tracing::warn!(error = %e, "accept failed");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
}
