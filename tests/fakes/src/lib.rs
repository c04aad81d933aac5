//! Test fakes of the outside services Attest's connectors read, started by tests on loopback.
//!
//! Each fake binds `127.0.0.1:0`, serves on a background tokio task (so `start()` works in any
//! `#[tokio::test]` flavor), exposes its knobs through `&self`, records every request
//! ([`Recorded`]) and behaves as the service's public documentation says, awkward parts
//! included: the fakes are not meant to be easier than the real services.
//!
//! * [`ZoomFake`] — Zoom Server-to-Server OAuth and REST API v2 (account settings, sign-in/out
//!   activity report).
//! * [`SalesforceFake`] — Salesforce OAuth 2.0 client credentials flow and the Tooling API query
//!   resource over the Health Check objects.

// The default Zoom settings document is one large `json!` literal per group.
#![recursion_limit = "256"]

mod common;
pub mod salesforce;
pub mod slack;
pub mod zoom;

pub use common::Recorded;
pub use salesforce::SalesforceFake;
pub use slack::SlackFake;
pub use zoom::ZoomFake;
