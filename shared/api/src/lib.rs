#![recursion_limit = "512"]
//! The Attest HTTP API: routers, identity, request parsing and problem+json errors.
//!
//! The Lambda functions and the local server (`attest serve`) mount these same routers; each
//! puts the caller's [`Identity`](attest_domain::identity::Identity) into the request
//! extensions in its own way (the API Gateway JWT authorizer's claims, or a locally verified
//! token), and the routes take it from there.

pub mod body;
pub mod bus;
pub mod claims;
pub mod etag;
pub mod problem;
pub mod query;
pub mod routes;
pub mod runner;
pub mod state;
pub mod usecases;

pub use problem::ApiError;
pub use state::AppState;

/// Where every route lives.
pub const BASE_PATH: &str = "/api/compliance";

/// Every route of the API, as the local server serves it (from the route table).
pub fn router(state: AppState) -> axum::Router {
    routes::table::router(state, None)
        .unwrap_or_default()
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
}
