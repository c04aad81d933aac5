//! Use cases: every behaviour of the API, free of HTTP types.
//!
//! One module per capability. Each takes the ports ([`crate::AppState`]: store, evidence
//! files, clock) and the caller's [`Identity`](attest_domain::identity::Identity), checks the
//! rules, reads and writes, and returns domain values or views. Each has its own error type;
//! `crate::problem` maps every one of them to HTTP, once. Route handlers only extract the
//! request, call one use case and shape the response.

pub mod actions;
pub mod catalog;
pub mod evidence;
pub mod regulations;
pub mod score;
pub mod users;
pub mod views;
pub mod workspace;
