//! `GET /health` (liveness) and `GET /openapi.json`: no token needed.

use axum::Json;
use serde_json::{json, Value};

pub(crate) async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

pub(crate) async fn openapi() -> Json<Value> {
    Json(super::openapi::document())
}
