//! Adversarial suite: probes the real `attest serve` binary as an attacker and a careless
//! client would, generated from the route table (`attest_api::routes::table::ROUTES`) so that
//! new routes are covered as they are added.
//!
//! - `tokens`: forged, expired, premature and mis-schemed credentials on every protected route.
//! - `cross_tenant`: another tenant's administrators holding every id of a tenant.
//! - `roles`: API.md's role matrix on every route, for every role.
//! - `concurrency`: concurrent writers, with and without If-Match; racing creates.
//! - `bad_input`: wrongly typed, unknown and overlong values in every body field; long ids,
//!   names and lists.
//!
//! Each test starts its own server over a fresh data dir; every server checks connector
//! credentials against the one Zoom fake of the test kit that this binary starts
//! (`support::zoom`).

#[path = "../e2e/common/mod.rs"]
mod common;
mod support;

mod bad_input;
mod concurrency;
mod cross_tenant;
mod roles;
mod tokens;
