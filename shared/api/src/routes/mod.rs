//! Routes, one module per resource area.

pub mod actions;
pub mod alerts;
pub mod assessments;
pub mod connectors;
pub mod events;
pub mod evidence;
pub mod groups;
pub mod health;
pub mod openapi;
pub mod regulations;
pub mod reports;
pub mod score;
pub mod table;
pub mod updates;
pub mod users;

use crate::ApiError;

pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("route {}", uri.path()))
}

pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("{method} is not allowed on {}", uri.path()))
}
