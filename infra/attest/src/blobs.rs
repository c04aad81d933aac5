//! The local server's stand-in for S3: evidence files under the data dir, uploaded and
//! downloaded through signed, expiring URLs, and checked on arrival by the same code as the
//! `evidence-uploaded` function. An upload URL works once: a second PUT (while the URL lives)
//! is refused with 409, so the file served is always the one checked.

use std::sync::Arc;

use attest_api::usecases::evidence::check_upload;
use attest_api::ApiError;
use attest_blobs::local::{LocalBlobs, BLOB_PATH};
use attest_blobs::{attachment_disposition, parse_evidence_key, BlobError};
use attest_domain::evidence::EvidenceStatus;
use attest_domain::ids::TenantId;
use attest_store::Store;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use axum::Router;

#[derive(Clone)]
pub struct BlobState {
    pub blobs: Arc<LocalBlobs>,
    pub store: Store,
}

pub fn router(state: BlobState, max_bytes: u64) -> Router {
    Router::new()
        .route(&format!("{BLOB_PATH}/{{*key}}"), put(upload).get(download))
        .layer(DefaultBodyLimit::max(max_bytes as usize))
        .with_state(state)
}

fn query(raw: Option<String>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn refused(e: impl std::fmt::Display) -> ApiError {
    ApiError::Denied(format!("this URL does not allow it: {e}"))
}

async fn upload(
    State(state): State<BlobState>,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let grant = state.blobs.check_put(&key, &query(raw)).map_err(refused)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type != grant.content_type {
        return Err(refused(format!(
            "it was signed for Content-Type {}, not {content_type:?}",
            grant.content_type
        )));
    }
    let body =
        body.map_err(|_| ApiError::PayloadTooLarge("the file is larger than accepted".into()))?;
    if body.len() as u64 > grant.size {
        return Err(ApiError::PayloadTooLarge(format!(
            "{} bytes sent; the URL allows {}",
            body.len(),
            grant.size
        )));
    }
    let evidence = match parse_evidence_key(&key) {
        Some((tenant, id)) => Some((
            TenantId::parse(tenant).map_err(|e| ApiError::Internal(e.to_string()))?,
            id,
        )),
        None => None,
    };
    const USED: &str = "this upload URL was used already; declare the file again to upload another";
    // Once checked, a file is not uploaded again (and a removed one's URL stores nothing).
    if let Some((tenant, id)) = &evidence {
        let status = state.store.get_evidence(tenant, id).await?.value.status;
        if status != EvidenceStatus::Pending {
            return Err(ApiError::Conflict(format!(
                "{USED} (evidence {id} is {})",
                status.as_str()
            )));
        }
    }
    // Created once: of two uploads racing, the second is refused here.
    state.blobs.create(&key, &body).await.map_err(|e| match e {
        BlobError::Exists(_) => ApiError::Conflict(format!("{USED} (a file arrived at it)")),
        e => ApiError::Unavailable(e.to_string()),
    })?;
    // As S3 notifies evidence-uploaded, the local store checks the file right away.
    if let Some((tenant, id)) = evidence {
        check_upload(&state.store, &*state.blobs, &tenant, id).await?;
    }
    Ok(StatusCode::OK)
}

async fn download(
    State(state): State<BlobState>,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let name = state.blobs.check_get(&key, &query(raw)).map_err(refused)?;
    let bytes = state
        .blobs
        .read(&key)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?
        .ok_or_else(|| ApiError::NotFound("file".into()))?;
    let mut response = (StatusCode::OK, bytes).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(&attachment_disposition(&name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}
