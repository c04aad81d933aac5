//! Errors of the data model, in terms a use case can act on.

use crate::backend::BackendError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    /// A uniqueness or state rule kept in storage refused the write.
    #[error("{0}")]
    Conflict(String),
    /// The caller's version is not the stored one.
    #[error("version {expected} is stale; the current version is {current}")]
    StaleVersion { expected: u64, current: u64 },
    #[error(transparent)]
    Backend(#[from] BackendError),
}
