//! `GET /health` (liveness) and `GET /openapi.json`: no token needed.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

pub fn router() -> Router {
    Router::new()
        .route(&format!("{}/health", crate::BASE_PATH), get(health))
        .route(&format!("{}/openapi.json", crate::BASE_PATH), get(openapi))
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

async fn openapi() -> Json<Value> {
    Json(super::openapi::document())
}
