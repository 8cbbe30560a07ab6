//! HTTP plumbing shared by the handlers: JSON bodies in and out, errors as
//! `{"error": {"code", "message"}}` with a 4xx/5xx status.

use crate::error::OpError;
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use std::convert::Infallible;

pub type Body = BoxBody<Bytes, Infallible>;
pub type Reply = Result<Response<Body>, OpError>;

/// Largest request body accepted (requests are small JSON documents).
const MAX_BODY: usize = 64 * 1024;

/// An empty body is `{}`; anything else must be a JSON object of the expected shape.
pub async fn read_json<T: for<'de> Deserialize<'de> + Default>(req: Request<Incoming>) -> Result<T, OpError> {
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

pub fn parse_id(s: &str, what: &str) -> Result<i64, OpError> {
    s.parse::<i64>().ok().filter(|v| *v >= 0).ok_or_else(|| OpError::BadRequest(format!("{what} {s:?} is not a number")))
}

pub fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').filter_map(|kv| kv.split_once('=')).find(|(k, _)| *k == key).map(|(_, v)| v.to_string())
}

pub fn ok(v: Value) -> Response<Body> {
    respond(StatusCode::OK, v)
}

pub fn respond(status: StatusCode, v: Value) -> Response<Body> {
    let mut bytes = serde_json::to_vec_pretty(&v).unwrap_or_default();
    bytes.push(b'\n');
    let mut resp = Response::new(Full::new(Bytes::from(bytes)).boxed());
    *resp.status_mut() = status;
    resp.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    resp
}

pub fn error_response(e: &OpError) -> Response<Body> {
    let status = match e {
        OpError::NotFound(_) => StatusCode::NOT_FOUND,
        OpError::Conflict(_) => StatusCode::CONFLICT,
        OpError::Limited(_) => StatusCode::TOO_MANY_REQUESTS,
        OpError::BadRequest(_) => StatusCode::BAD_REQUEST,
        OpError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
        OpError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        OpError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if status.is_server_error() {
        tracing::error!(error = %e, "api request failed");
    }
    respond(status, json!({"error": {"code": e.code(), "message": e.to_string()}}))
}

/// `{"by": "..."}`: who decided, for approve, cancel and discard.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    #[serde(default)]
    pub by: Option<String>,
}
