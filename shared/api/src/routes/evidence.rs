//! Evidence of an action: declare a file (and get an upload URL) or a link, list, download,
//! delete.

use std::collections::BTreeMap;

use attest_blobs::BlobError;
use attest_domain::evidence::Evidence;
use attest_domain::ids::EvidenceId;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::body::JsonBody;
use crate::claims::Caller;
use crate::usecases::evidence::{self, EvidenceError, NewEvidence};
use crate::{ApiError, AppState};

impl From<EvidenceError> for ApiError {
    fn from(e: EvidenceError) -> Self {
        match e {
            EvidenceError::ActionNotFound(id) => ApiError::NotFound(format!("action {id}")),
            EvidenceError::NotFound(id) => ApiError::NotFound(format!("evidence {id}")),
            EvidenceError::Invalid(f) => ApiError::invalid(f.field, f.message),
            EvidenceError::Unsupported(m) => ApiError::UnsupportedMediaType(m),
            EvidenceError::TooLarge(m) => ApiError::PayloadTooLarge(m),
            EvidenceError::Conflict(m) => ApiError::Conflict(m),
            e @ EvidenceError::NotConfigured => ApiError::Internal(e.to_string()),
            EvidenceError::Blob(b) => b.into(),
            EvidenceError::Store(s) => s.into(),
        }
    }
}

/// Evidence files, wherever they are stored: what was asked for is refused with a 4xx (a
/// malformed key, a URL that does not allow it, an object that is there already); only an
/// outage of the storage is 503.
impl From<BlobError> for ApiError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::Unavailable(m) => ApiError::Unavailable(m),
            e @ BlobError::Invalid(_) => ApiError::BadRequest {
                detail: e.to_string(),
                errors: vec![],
            },
            e @ BlobError::Refused(_) => ApiError::Denied(e.to_string()),
            BlobError::Exists(m) => ApiError::Conflict(m),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct Added {
    evidence_id: EvidenceId,
    #[serde(skip_serializing_if = "Option::is_none")]
    upload_url: Option<String>,
    /// Headers the PUT to `upload_url` must carry, exactly (they are signed).
    #[serde(skip_serializing_if = "Option::is_none")]
    upload_headers: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    evidence: Evidence,
}

pub(crate) async fn add(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<NewEvidence>,
) -> Result<(StatusCode, Json<Added>), ApiError> {
    let added = evidence::add(&state, &caller.0, &id, body).await?;
    let upload = added.upload;
    let body = Added {
        evidence_id: added.evidence.id.clone(),
        upload_url: upload.as_ref().map(|u| u.url.clone()),
        expires_at: upload.as_ref().map(|u| u.expires_at),
        upload_headers: upload.map(|u| u.headers),
        evidence: added.evidence,
    };
    Ok((StatusCode::CREATED, Json(body)))
}

#[derive(Serialize)]
pub(crate) struct EvidenceList {
    items: Vec<Evidence>,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<EvidenceList>, ApiError> {
    let items = evidence::list(&state.store, &caller.0.tenant, &id).await?;
    Ok(Json(EvidenceList { items }))
}

#[derive(Serialize)]
pub(crate) struct Download {
    expires_at: chrono::DateTime<chrono::Utc>,
    file_name: String,
    url: String,
}

/// 303 to a short-lived URL of the file; the body says the same.
pub(crate) async fn download(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let d = evidence::download(&state, &caller.0.tenant, &id).await?;
    let location = d.url.parse().ok();
    let body = Download {
        expires_at: d.expires_at,
        file_name: d.file_name,
        url: d.url,
    };
    let mut response = (StatusCode::SEE_OTHER, Json(body)).into_response();
    if let Some(v) = location {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

pub(crate) async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    evidence::remove(&state, &caller.0, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use attest_domain::FieldError;
    use attest_store::{BackendError, StoreError};
    use axum::http::StatusCode;

    use super::*;

    #[test]
    fn blob_errors_are_refusals_except_outages() {
        for (e, status) in [
            (
                BlobError::Invalid("bad key".into()),
                StatusCode::BAD_REQUEST,
            ),
            (BlobError::Refused("expired".into()), StatusCode::FORBIDDEN),
            (BlobError::Exists("used".into()), StatusCode::CONFLICT),
            (
                BlobError::Unavailable("S3 down".into()),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
        ] {
            let via_evidence = ApiError::from(EvidenceError::Blob(e.clone()));
            assert_eq!(ApiError::from(e).status(), status);
            assert_eq!(via_evidence.status(), status);
        }
    }

    #[test]
    fn evidence_errors_map_to_http() {
        let cases = [
            (
                EvidenceError::ActionNotFound("a1".into()),
                StatusCode::NOT_FOUND,
                "action a1 not found",
            ),
            (
                EvidenceError::NotFound("e1".into()),
                StatusCode::NOT_FOUND,
                "evidence e1 not found",
            ),
            (
                EvidenceError::Invalid(FieldError::new("url", "not a valid link")),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid url: not a valid link",
            ),
            (
                EvidenceError::Unsupported("no .exe".into()),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "no .exe",
            ),
            (
                EvidenceError::TooLarge("too big".into()),
                StatusCode::PAYLOAD_TOO_LARGE,
                "too big",
            ),
            (
                EvidenceError::Conflict("a link".into()),
                StatusCode::CONFLICT,
                "a link",
            ),
            (
                EvidenceError::NotConfigured,
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error: evidence storage is not configured for this function",
            ),
            (
                EvidenceError::Store(StoreError::Backend(BackendError::Unavailable("x".into()))),
                StatusCode::SERVICE_UNAVAILABLE,
                "storage is unavailable",
            ),
        ];
        for (e, status, message) in cases {
            let api = ApiError::from(e);
            assert_eq!((api.status(), api.to_string().as_str()), (status, message));
        }
    }
}
