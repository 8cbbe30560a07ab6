//! A minimal HTTP/1 client over the daemon's Unix socket.

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::path::{Path, PathBuf};

pub struct Client {
    socket: PathBuf,
}

/// How long the daemon may take to answer (the head of a stream, or a whole reply): every
/// verb's work runs off the daemon's async workers, so a longer wait means a daemon that
/// accepts and never answers, which must not hang a probe or a script forever.
/// `$DREAMD_ANSWER_TIMEOUT` (e.g. `5s`) overrides the default of a minute.
fn answer_timeout() -> std::time::Duration {
    std::env::var("DREAMD_ANSWER_TIMEOUT")
        .ok()
        .and_then(|v| v.parse::<crate::config::HumanDuration>().ok())
        .map_or(std::time::Duration::from_secs(60), |d| d.0)
}
/// The largest reply or single streamed line read from the daemon.
const MAX_REPLY_BYTES: usize = 64 << 20;

/// A non-2xx answer, with the daemon's error message. The status becomes the exit code; it is
/// shown only when the daemon itself failed.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.status.is_server_error() {
            write!(f, "{} (the daemon answered {})", self.message, self.status)
        } else {
            f.write_str(&self.message)
        }
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    fn from_body(status: StatusCode, body: &[u8]) -> ApiError {
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let text = |p: &str| v.pointer(p).and_then(Value::as_str).map(String::from);
        ApiError {
            status,
            code: text("/error/code").unwrap_or_else(|| "unknown".into()),
            message: text("/error/message").unwrap_or_else(|| format!("request failed ({status})")),
        }
    }
}

impl Client {
    pub fn new(socket: &Path) -> Client {
        Client { socket: socket.to_path_buf() }
    }

    async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Response<Incoming>> {
        let limit = answer_timeout();
        tokio::time::timeout(limit, self.send_now(method, path, body))
            .await
            .map_err(|_| anyhow::anyhow!("dreamd at {} did not answer within {limit:?}", self.socket.display()))?
    }

    async fn send_now(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Response<Incoming>> {
        let stream = tokio::net::UnixStream::connect(&self.socket)
            .await
            .with_context(|| format!("cannot connect to dreamd at {} (is the daemon running?)", self.socket.display()))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let bytes = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, "dreamd")
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(bytes))?;
        Ok(sender.send_request(req).await?)
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value> {
        let resp = self.send(method, path, body).await?;
        let status = resp.status();
        let body = http_body_util::Limited::new(resp.into_body(), MAX_REPLY_BYTES);
        let limit = answer_timeout();
        let bytes = tokio::time::timeout(limit, body.collect())
            .await
            .map_err(|_| anyhow::anyhow!("dreamd's answer did not arrive within {limit:?}"))?
            .map_err(|e| anyhow::anyhow!("cannot read dreamd's answer: {e}"))?
            .to_bytes();
        if !status.is_success() {
            return Err(ApiError::from_body(status, &bytes).into());
        }
        serde_json::from_slice(&bytes).with_context(|| format!("daemon sent a non-JSON answer ({status})"))
    }

    pub async fn get(&self, path: &str) -> Result<Value> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.call(Method::POST, path, Some(body)).await
    }

    /// Stream NDJSON lines to `each` until the daemon closes the stream.
    pub async fn stream_lines(&self, path: &str, mut each: impl FnMut(Value)) -> Result<()> {
        let resp = self.send(Method::GET, path, None).await?;
        let status = resp.status();
        if !status.is_success() {
            let bytes = resp.into_body().collect().await?.to_bytes();
            return Err(ApiError::from_body(status, &bytes).into());
        }
        let mut body = resp.into_body();
        let mut buf = Vec::new();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                buf.extend_from_slice(&data);
                if buf.len() > MAX_REPLY_BYTES && !buf.contains(&b'\n') {
                    anyhow::bail!("dreamd sent a line longer than {MAX_REPLY_BYTES} bytes");
                }
                while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=pos).collect();
                    if let Ok(v) = serde_json::from_slice(&line) {
                        each(v);
                    }
                }
            }
        }
        Ok(())
    }
}
