//! The `attest` command outside Lambda: a local server that mounts the same routers the
//! Lambda functions use, over the embedded store, with its own token verification.

pub mod blobs;
pub mod data_dir;
pub mod server;
pub mod token;
