//! HTTP plumbing shared by the handlers: JSON bodies in and out, errors as
//! `{"error": {"code", "message"}}` with a 4xx/5xx status.

use crate::error::OpError;
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::time::Duration;

pub type Body = BoxBody<Bytes, Infallible>;
pub type Reply = Result<Response<Body>, OpError>;

/// Read a request body within the size cap and the body timeout. A client that announces a
/// body and never sends it gets 408; one over the cap 413 (a chunked one is cut off there).
pub async fn read_body(req: Request<Incoming>, max: u64, timeout: Duration) -> Result<Bytes, Box<Response<Body>>> {
    let limited = http_body_util::Limited::new(req.into_body(), usize::try_from(max).unwrap_or(usize::MAX));
    let refused = match tokio::time::timeout(timeout, limited.collect()).await {
        Err(_) => Err(error(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            &format!("the request body did not arrive within {} (api.body_timeout)", crate::config::HumanDuration(timeout)),
        )),
        Ok(Err(e)) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            &format!("the request body is over the limit of {max} bytes (api.max_body_bytes)"),
        )),
        Ok(Err(e)) => Err(error(StatusCode::BAD_REQUEST, "bad_request", &format!("cannot read the request body: {e}"))),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    };
    refused.map_err(Box::new)
}

/// An empty body is `{}`; anything else must be a JSON object of the expected shape (never
/// an array, which serde would take for a struct's fields in order). A number with a zero
/// fraction (`3.0`) is the integer it equals, as JSON Schema has it.
pub fn parse_json<T: for<'de> Deserialize<'de> + Default>(body: &[u8]) -> Result<T, OpError> {
    // JSON's whitespace only (a form feed is not).
    if body.iter().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
        return Ok(T::default());
    }
    let bad = |e: serde_json::Error| OpError::BadRequest(format!("invalid JSON body: {e}"));
    let mut value: Value = serde_json::from_slice(body).map_err(bad)?;
    if !value.is_object() {
        return Err(OpError::BadRequest("invalid JSON body: expected an object like {}".into()));
    }
    integral(&mut value);
    serde_json::from_value(value).map_err(bad)
}

fn integral(v: &mut Value) {
    match v {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15) {
                *v = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral),
        Value::Object(map) => map.values_mut().for_each(integral),
        _ => {}
    }
}

/// A job id: 1 to 18 ASCII digits, above 0 (no sign, no spaces, no `..`).
pub fn parse_id(s: &str, what: &str) -> Result<i64, OpError> {
    let shown = crate::untrusted::one_line(s, 40);
    if s.is_empty() || s.len() > 18 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(OpError::BadRequest(format!("{what} {shown:?} is not a number")));
    }
    s.parse::<i64>().ok().filter(|v| *v > 0).ok_or_else(|| OpError::BadRequest(format!("{what} {shown:?} is not a positive number")))
}

/// A non-negative count in a query (`after=0` is the start).
pub fn parse_count(s: &str, what: &str) -> Result<i64, OpError> {
    if s == "0" {
        return Ok(0);
    }
    parse_id(s, what)
}

pub fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').filter_map(|kv| kv.split_once('=')).find(|(k, _)| *k == key).map(|(_, v)| v.to_string())
}

/// `true`/`1` or `false`/`0`; anything else is a bad request.
pub fn parse_bool(s: &str, what: &str) -> Result<bool, OpError> {
    match s {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(OpError::BadRequest(format!("{what} {:?} is not true or false", crate::untrusted::one_line(s, 40)))),
    }
}

pub fn ok(v: Value) -> Response<Body> {
    respond(StatusCode::OK, v)
}

pub fn respond(status: StatusCode, v: Value) -> Response<Body> {
    let mut bytes = serde_json::to_vec_pretty(&v).unwrap_or_default();
    bytes.push(b'\n');
    with_type(status, Bytes::from(bytes), "application/json")
}

/// A response with a body of the given content type.
pub fn with_type(status: StatusCode, body: Bytes, content_type: &'static str) -> Response<Body> {
    let mut resp = Response::new(Full::new(body).boxed());
    *resp.status_mut() = status;
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// An error answer of any status, in the API's error shape.
pub fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    respond(status, json!({"error": {"code": code, "message": message}}))
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
    error(status, e.code(), &e.to_string())
}

/// `{"by": "..."}`: who decided, for approve, cancel and discard.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    #[serde(default)]
    pub by: Option<String>,
}

/// The `by` of a request: who asked, one line, bounded (it goes into the log and the job).
pub fn by(given: Option<&str>, default: &str) -> String {
    match given.map(|b| crate::untrusted::one_line(b, 100)) {
        Some(b) if !b.trim().is_empty() => b,
        _ => default.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_plain_positive_numbers() {
        assert_eq!(parse_id("12", "job id").unwrap(), 12);
        for bad in ["0", "-1", "+1", " 1", "1 ", "1.0", "..", "", "1e3", "99999999999999999999", "１"] {
            assert!(parse_id(bad, "job id").is_err(), "{bad:?}");
        }
        assert_eq!(parse_count("0", "after").unwrap(), 0);
    }

    #[derive(Debug, Default, Deserialize, PartialEq)]
    struct Req {
        #[serde(default)]
        generation: Option<i64>,
        #[serde(default)]
        by: Option<String>,
    }

    #[test]
    fn bodies_are_objects_and_integral_numbers_are_integers() {
        assert_eq!(parse_json::<Req>(b"").unwrap(), Req::default());
        assert_eq!(parse_json::<Req>(b"{\"generation\": 3.0}").unwrap().generation, Some(3));
        assert!(parse_json::<Req>(b"{\"generation\": 3.5}").is_err());
        assert!(parse_json::<Req>(b"[null, null]").is_err(), "an array is not an object");
        assert!(parse_json::<Req>(b"null").is_err());
        assert_eq!(parse_json::<Req>(b" \r\n\t").unwrap(), Req::default());
        assert!(parse_json::<Req>(b"\x0c").is_err(), "a form feed is not JSON whitespace");
        assert!(parse_json::<Req>(b"{\"by\": 1}").is_err());
    }

    #[test]
    fn bools_are_strict() {
        assert!(parse_bool("true", "follow").unwrap());
        assert!(!parse_bool("0", "follow").unwrap());
        assert!(parse_bool("yes", "follow").is_err());
    }
}
