//! The local server's stand-in for S3: evidence files under the data dir, uploaded and
//! downloaded through signed, expiring URLs, and checked on arrival by the same code as the
//! `evidence-uploaded` function. An upload URL works once: a second PUT (while the URL lives)
//! is refused with 409, so the file served is always the one checked. Blob errors reach HTTP
//! through the API's one mapping (a refused URL is 403, an outage 503).

use std::sync::Arc;

use attest_api::state::SystemClock;
use attest_api::usecases::evidence::{accept_upload, check_upload, parse_object_key};
use attest_api::ApiError;
use attest_blobs::attachment_disposition;
use attest_blobs::local::{LocalBlobs, BLOB_PATH};
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

/// Stores a file where its upload URL allows, once, and checks it at once (as S3 notifies
/// `evidence-uploaded`). A URL that does not allow the upload is 403; a second upload is 409.
async fn upload(
    State(state): State<BlobState>,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let grant = state.blobs.check_put(&key, &query(raw))?;
    let content_type = headers.get(header::CONTENT_TYPE);
    grant.check_content_type(content_type.and_then(|v| v.to_str().ok()))?;
    let body =
        body.map_err(|_| ApiError::PayloadTooLarge("the file is larger than accepted".into()))?;
    if body.len() as u64 > grant.size {
        return Err(ApiError::PayloadTooLarge(format!(
            "{} bytes sent; the URL allows {}",
            body.len(),
            grant.size
        )));
    }
    let evidence = parse_object_key(&key);
    if let Some((tenant, id)) = &evidence {
        accept_upload(&state.store, tenant, id).await?;
    }
    // Created once: of two uploads racing, the second is refused here (409).
    state.blobs.create(&key, &body).await?;
    if let Some((tenant, id)) = evidence {
        check_upload(&state.store, &*state.blobs, &SystemClock, &tenant, &id).await?;
    }
    Ok(StatusCode::OK)
}

async fn download(
    State(state): State<BlobState>,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let name = state.blobs.check_get(&key, &query(raw))?;
    let bytes = state
        .blobs
        .read(&key)
        .await?
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
