//! `GET /v1/openapi.json`: the published contract, `docs/openapi.json`, compiled in. Kept in
//! step with the route table and the answers by tests/openapi.rs.

use super::http::{with_type, Reply};
use bytes::Bytes;
use hyper::StatusCode;

pub const DOCUMENT: &str = include_str!("../../docs/openapi.json");

pub fn get() -> Reply {
    Ok(with_type(StatusCode::OK, Bytes::from_static(DOCUMENT.as_bytes()), "application/json"))
}
