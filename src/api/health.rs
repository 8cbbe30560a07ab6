//! `GET /v1/health`: answers without touching the disk, so it stays fast under any load.

use super::http::{ok, Reply};
use serde_json::json;

pub fn get() -> Reply {
    Ok(ok(json!({"ok": true, "version": env!("CARGO_PKG_VERSION")})))
}
