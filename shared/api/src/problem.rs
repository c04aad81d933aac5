//! Errors as `application/problem+json` (RFC 9457), mapped to HTTP once, here.

use attest_domain::identity::Permission;
use attest_domain::{DomainError, FieldError};
use attest_store::{BackendError, StoreError};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// Malformed request: unreadable JSON, a bad header or query parameter.
    #[error("{detail}")]
    BadRequest {
        detail: String,
        errors: Vec<FieldError>,
    },
    #[error("{0}")]
    Unauthorized(String),
    #[error("this needs the {0:?} permission")]
    Forbidden(Permission),
    /// Refused for another reason than a missing permission (a bad or expired signed URL).
    #[error("{0}")]
    Denied(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{detail}")]
    Unprocessable {
        detail: String,
        errors: Vec<FieldError>,
    },
    /// 422 for a request whose parts were refused (the rows of an imported workbook), each
    /// listed, with why, in the problem's `rejected` member.
    #[error("{detail}")]
    Rejected {
        detail: String,
        rejected: Vec<serde_json::Value>,
    },
    #[error("{0}")]
    MethodNotAllowed(String),
    /// Something failed on our side. The detail is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
    #[error("storage is unavailable")]
    Unavailable(String),
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    title: &'a str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [FieldError],
    #[serde(skip_serializing_if = "Option::is_none")]
    rejected: Option<&'a [serde_json::Value]>,
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let e = FieldError::new(field, message);
        Self::Unprocessable {
            detail: format!("invalid {}: {}", e.field, e.message),
            errors: vec![e],
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::Denied(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unprocessable { .. } | ApiError::Rejected { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            ApiError::BadRequest { .. } => "bad-request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) | ApiError::Denied(_) => "forbidden",
            ApiError::NotFound(_) => "not-found",
            ApiError::Conflict(_) => "conflict",
            ApiError::PreconditionFailed(_) => "precondition-failed",
            ApiError::PayloadTooLarge(_) => "payload-too-large",
            ApiError::UnsupportedMediaType(_) => "unsupported-media-type",
            ApiError::Unprocessable { .. } => "validation",
            ApiError::Rejected { .. } => "rejected",
            ApiError::MethodNotAllowed(_) => "method-not-allowed",
            ApiError::Internal(_) => "internal",
            ApiError::Unavailable(_) => "unavailable",
        }
    }

    fn public_detail(&self) -> String {
        match self {
            ApiError::Internal(_) => "something went wrong on our side; it has been logged".into(),
            ApiError::Unavailable(_) => "storage is unavailable; try again shortly".into(),
            ApiError::Forbidden(p) => format!(
                "your roles do not allow this (it needs the {} permission)",
                serde_json::to_value(p)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            ),
            other => other.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            ApiError::Internal(detail) | ApiError::Unavailable(detail) => {
                tracing::error!(status = status.as_u16(), error = %detail, "request failed")
            }
            _ => tracing::debug!(status = status.as_u16(), error = %self, "request refused"),
        }
        let errors = match &self {
            ApiError::BadRequest { errors, .. } | ApiError::Unprocessable { errors, .. } => {
                errors.as_slice()
            }
            _ => &[],
        };
        let kind = format!("https://attest.dev/problems/{}", self.slug());
        let problem = Problem {
            kind: &kind,
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: self.public_detail(),
            errors,
            rejected: match &self {
                ApiError::Rejected { rejected, .. } => Some(rejected.as_slice()),
                _ => None,
            },
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid(f) => ApiError::Unprocessable {
                detail: format!("invalid {}: {}", f.field, f.message),
                errors: vec![f],
            },
            DomainError::Conflict(m) => ApiError::Conflict(m),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::NotFound(what),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::StaleVersion { expected, current } => ApiError::PreconditionFailed(format!(
                "If-Match names version {expected} but the resource is at version {current}; reload it and retry"
            )),
            StoreError::Backend(BackendError::Unavailable(m)) => ApiError::Unavailable(m),
            StoreError::Backend(BackendError::TransactionConflict) => {
                ApiError::Conflict("a concurrent change touched the same data; retry".into())
            }
            StoreError::Backend(other) => ApiError::Internal(other.to_string()),
        }
    }
}
