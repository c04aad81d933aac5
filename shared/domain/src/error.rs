//! Domain errors. Each one names what is wrong so that the HTTP layer can turn it into a
//! problem+json body without guessing.

use serde::Serialize;

/// One invalid field and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// A value that parsed but is not acceptable (HTTP 422).
    #[error("invalid {}: {}", .0.field, .0.message)]
    Invalid(FieldError),
    /// The change conflicts with the current state of the resource (HTTP 409).
    #[error("{0}")]
    Conflict(String),
}

impl DomainError {
    /// The message alone, for places that name the field themselves (serde errors).
    pub fn message(&self) -> String {
        match self {
            DomainError::Invalid(f) => f.message.clone(),
            DomainError::Conflict(m) => m.clone(),
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(FieldError::new(field, message))
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict(message.into())
    }
}
