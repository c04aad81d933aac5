//! Use cases: every behaviour of the API, free of HTTP types.
//!
//! One module per capability. Each takes the ports ([`crate::AppState`]: store, evidence
//! files, clock) and the caller's [`Identity`](attest_domain::identity::Identity), checks the
//! rules, reads and writes, and returns domain values or views. Each has its own error type,
//! mapped to HTTP once, by an `impl From<…Error> for ApiError` in the route module that serves
//! the capability. Route handlers only extract the request, call one use case and shape the
//! response; the route table (`crate::routes::table`) declares each route once, with its
//! permission, which is checked before the handler runs.

pub mod actions;
pub mod alerts;
pub mod assessments;
pub mod catalog;
pub mod connectors;
pub mod events;
pub mod evidence;
pub mod groups;
pub mod insider;
pub mod oscal;
pub mod regulations;
pub mod reports;
pub mod score;
#[cfg(test)]
pub(crate) mod testkit;
pub mod updates;
pub mod users;
pub mod views;
pub mod workspace;
