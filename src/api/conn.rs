//! One connection, before hyper sees it: the request head is read here, within the header
//! timeout and a size cap, and checked the way hyper would check it. What fails is answered
//! with the API's JSON error body (hyper's own error answers have none): 408 for a head that
//! never completes, 431 for one too large, 400 for a malformed one, 413 for an announced body
//! over the cap. A sound head is replayed to hyper, which serves one request per connection.

use bytes::{Bytes, BytesMut};
use hyper::StatusCode;
use serde_json::json;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// Largest request head (request line and headers) accepted.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Most headers in a request.
const MAX_HEADERS: usize = 64;
/// How long an early answer may take to write before the connection is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// After an early answer: how long, and how much, of what the client still sends is dropped.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 4 << 20;

/// Why a request head is refused, as the status and message of the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Early {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

fn early(status: StatusCode, code: &'static str, message: impl Into<String>) -> Early {
    Early { status, code, message: message.into() }
}

/// Read until the end of the head (`\r\n\r\n`). `Ok(None)`: the client left first.
pub async fn read_head<S: AsyncRead + Unpin>(io: &mut S, timeout: Duration) -> Result<Option<BytesMut>, Early> {
    let mut buf = BytesMut::with_capacity(1024);
    let read = async {
        loop {
            if let Some(end) = head_end(&buf) {
                if end > MAX_HEAD_BYTES {
                    return Err(too_large());
                }
                return Ok(Some(()));
            }
            if buf.len() > MAX_HEAD_BYTES {
                return Err(too_large());
            }
            match io.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return Ok(None),
                Ok(_) => {}
            }
        }
    };
    match tokio::time::timeout(timeout, read).await {
        Err(_) => Err(early(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            format!("the request headers did not arrive within {}", crate::config::HumanDuration(timeout)),
        )),
        Ok(Err(e)) => Err(e),
        Ok(Ok(None)) => Ok(None),
        Ok(Ok(Some(()))) => Ok(Some(buf)),
    }
}

fn too_large() -> Early {
    early(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "headers_too_large",
        format!("the request line and headers exceed {MAX_HEAD_BYTES} bytes"),
    )
}

fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Check a complete head as hyper would, plus the body cap on an announced length.
pub fn check_head(head: &[u8], max_body: u64) -> Result<(), Early> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(early(StatusCode::BAD_REQUEST, "bad_request", "incomplete request head")),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(early(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large", format!("more than {MAX_HEADERS} headers")))
        }
        Err(e) => return Err(early(StatusCode::BAD_REQUEST, "bad_request", format!("malformed request: {e}"))),
    }
    let bad = |m: String| Err(early(StatusCode::BAD_REQUEST, "bad_request", m));
    let method = req.method.unwrap_or("");
    if hyper::Method::from_bytes(method.as_bytes()).is_err() {
        return bad(format!("malformed method {method:?}"));
    }
    let target = req.path.unwrap_or("");
    if !target.starts_with('/') || target.parse::<hyper::Uri>().is_err() {
        return bad("the request target must be a path like /v1/status".into());
    }
    let mut length: Option<u64> = None;
    let mut chunked = false;
    for h in req.headers.iter() {
        let value = std::str::from_utf8(h.value).unwrap_or("").trim();
        if h.name.eq_ignore_ascii_case("content-length") {
            let Ok(n) = value.parse::<u64>() else { return bad(format!("invalid Content-Length {value:?}")) };
            if length.is_some_and(|l| l != n) {
                return bad("conflicting Content-Length headers".into());
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            if !value.rsplit(',').next().is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked")) {
                return bad(format!("unsupported Transfer-Encoding {value:?}, expected chunked"));
            }
            chunked = true;
        }
    }
    if chunked && length.is_some() {
        // Request smuggling territory: refuse rather than pick one.
        return bad("both Content-Length and Transfer-Encoding".into());
    }
    if let Some(n) = length.filter(|n| *n > max_body) {
        return Err(body_too_large(n, max_body));
    }
    Ok(())
}

pub fn body_too_large(n: u64, max: u64) -> Early {
    early(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("the request body ({n} bytes) is over the limit of {max} bytes (api.max_body_bytes)"),
    )
}

/// Write an early answer and close. A client that does not read it is dropped. What the
/// client still sends (a body announced too large) is read and dropped for a moment first, so
/// closing with unread data does not reset the connection before the answer is read.
pub async fn answer<S: AsyncRead + AsyncWrite + Unpin>(io: &mut S, e: &Early, extra_headers: &[(&str, &str)]) {
    let body = format!("{}\n", json!({"error": {"code": e.code, "message": e.message}}));
    let mut head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        e.status.as_u16(),
        e.status.canonical_reason().unwrap_or(""),
        body.len()
    );
    for (k, v) in extra_headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let write = async {
        io.write_all(head.as_bytes()).await?;
        io.write_all(body.as_bytes()).await?;
        io.shutdown().await
    };
    if tokio::time::timeout(WRITE_TIMEOUT, write).await.is_err() {
        return;
    }
    let drain = async {
        let mut sink = [0u8; 8192];
        let mut left = LINGER_BYTES;
        while left > 0 {
            match io.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// A stream that yields `prefix` before reading from `inner`: the head already read, replayed.
pub struct Prefixed<S> {
    prefix: Bytes,
    inner: S,
}

impl<S> Prefixed<S> {
    pub fn new(prefix: Bytes, inner: S) -> Self {
        Prefixed { prefix, inner }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            let chunk = self.prefix.split_to(n);
            buf.put_slice(&chunk);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(head: &str) -> Option<u16> {
        check_head(head.as_bytes(), 1000).err().map(|e| e.status.as_u16())
    }

    #[test]
    fn sound_heads_pass() {
        assert_eq!(status("GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n"), None);
        assert_eq!(status("POST /v1/dreams HTTP/1.1\r\nContent-Length: 2\r\n\r\n"), None);
        assert_eq!(status("POST /v1/dreams HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), None);
    }

    #[test]
    fn malformed_heads_are_400_and_large_ones_413_or_431() {
        for bad in [
            "GET /v1/status\r\n\r\n",
            "G\u{1}T /v1/status HTTP/1.1\r\n\r\n",
            "GET v1/status HTTP/1.1\r\n\r\n",
            "GET /v1/status HTTP/1.1\r\nBad Header: x\r\n\r\n",
            "POST /v1/dreams HTTP/1.1\r\nContent-Length: x\r\n\r\n",
            "POST /v1/dreams HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "POST /v1/dreams HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            "POST /v1/dreams HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n",
            "GET /v1/status HTTP/2.0\r\n\r\n",
        ] {
            assert_eq!(status(bad), Some(400), "{bad:?}");
        }
        assert_eq!(status("POST /v1/dreams HTTP/1.1\r\nContent-Length: 1001\r\n\r\n"), Some(413));
        let many: String = (0..70).map(|i| format!("X-{i}: y\r\n")).collect();
        assert_eq!(status(&format!("GET / HTTP/1.1\r\n{many}\r\n")), Some(431));
    }

    #[tokio::test]
    async fn a_head_that_never_ends_times_out_and_a_huge_one_is_431() {
        let (mut client, mut server) = tokio::io::duplex(64 * 1024);
        client.write_all(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        let e = read_head(&mut server, Duration::from_millis(50)).await.unwrap_err();
        assert_eq!(e.status, StatusCode::REQUEST_TIMEOUT);

        let (mut client, mut server) = tokio::io::duplex(64 * 1024);
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD_BYTES));
        client.write_all(big.as_bytes()).await.unwrap();
        let e = read_head(&mut server, Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(e.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    }

    #[tokio::test]
    async fn the_head_is_replayed_before_the_rest() {
        let (mut client, mut server) = tokio::io::duplex(1024);
        client.write_all(b"GET / HTTP/1.1\r\n\r\nBODY").await.unwrap();
        drop(client);
        let head = read_head(&mut server, Duration::from_secs(5)).await.unwrap().unwrap();
        let mut all = Vec::new();
        Prefixed::new(head.freeze(), server).read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"GET / HTTP/1.1\r\n\r\nBODY");
    }
}
