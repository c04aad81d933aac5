//! Evidence of an action: declare a file (and get an upload URL) or a link, list, download,
//! delete.

use std::collections::BTreeMap;
use std::time::Duration;

use attest_domain::evidence::{
    check_declaration, check_link, DeclarationError, Evidence, EvidenceKind, EvidenceStatus,
};
use attest_domain::history::Source;
use attest_domain::ids::new_id;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::body::JsonBody;
use crate::claims::Caller;
use crate::state::EvidenceConfig;
use crate::usecases::actions::find_instance;
use crate::usecases::evidence::{history_entry, object_key, summary};
use crate::{ApiError, AppState};

/// Upload URLs live 15 minutes, download URLs 5.
pub const UPLOAD_URL_LIFETIME: Duration = Duration::from_secs(15 * 60);
pub const DOWNLOAD_URL_LIFETIME: Duration = Duration::from_secs(5 * 60);

fn config(state: &AppState) -> Result<&EvidenceConfig, ApiError> {
    state.evidence.as_ref().ok_or_else(|| {
        ApiError::Internal("evidence storage is not configured for this function".into())
    })
}

/// `{kind: "document", file_name, content_type, size}` or `{kind: "link", name, url}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewEvidence {
    kind: EvidenceKind,
    file_name: Option<String>,
    content_type: Option<String>,
    size: Option<u64>,
    name: Option<String>,
    url: Option<String>,
}

fn required<T>(value: Option<T>, field: &str, kind: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::invalid(field, format!("a {kind} needs {field}")))
}

#[derive(Serialize)]
pub(crate) struct Added {
    evidence_id: String,
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
) -> Result<Response, ApiError> {
    let cfg = config(&state)?;
    let tenant = &caller.0.tenant;
    let ctx = find_instance(&state.store, tenant, &id).await?;
    let now = chrono::Utc::now();
    let by = caller.0.user.as_str();
    let mut upload = None;
    let evidence = match body.kind {
        EvidenceKind::Document => {
            let file_name = required(body.file_name, "file_name", "document")?;
            let content_type = required(body.content_type, "content_type", "document")?;
            let size = required(body.size, "size", "document")?;
            check_declaration(&file_name, &content_type, size, cfg.max_bytes).map_err(
                |e| match e {
                    DeclarationError::Unsupported(m) => ApiError::UnsupportedMediaType(m),
                    DeclarationError::TooLarge(m) => ApiError::PayloadTooLarge(m),
                    DeclarationError::Invalid(d) => d.into(),
                },
            )?;
            let evidence = Evidence::pending_document(
                new_id(),
                ctx.instance.api_id(),
                &file_name,
                &content_type,
                size,
                by,
                now,
            );
            let presigned = cfg
                .blobs
                .presign_put(
                    &object_key(tenant, &evidence),
                    &content_type,
                    size,
                    UPLOAD_URL_LIFETIME,
                )
                .await
                .map_err(|e| ApiError::Unavailable(e.to_string()))?;
            upload = Some((
                presigned,
                now + chrono::Duration::from_std(UPLOAD_URL_LIFETIME).expect("15 minutes"),
            ));
            evidence
        }
        EvidenceKind::Link => {
            let name = required(body.name, "name", "link")?;
            let url = required(body.url, "url", "link")?;
            check_link(&name, &url)?;
            Evidence::link(new_id(), ctx.instance.api_id(), &name, &url, by, now)
        }
    };
    let entry = history_entry(
        caller.0.user.as_str(),
        Source::Manual,
        serde_json::Value::Null,
        summary(&evidence),
    );
    state
        .store
        .add_evidence(tenant, &evidence, &[entry])
        .await?;
    let (upload_url, upload_headers, expires_at) = match upload {
        Some((p, e)) => (Some(p.url), Some(p.headers.into_iter().collect()), Some(e)),
        None => (None, None, None),
    };
    Ok((
        StatusCode::CREATED,
        Json(Added {
            evidence_id: evidence.id.clone(),
            upload_url,
            upload_headers,
            expires_at,
            evidence,
        }),
    )
        .into_response())
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
    let ctx = find_instance(&state.store, &caller.0.tenant, &id).await?;
    Ok(Json(EvidenceList {
        items: state
            .store
            .list_evidence(&caller.0.tenant, &ctx.instance)
            .await?,
    }))
}

pub(crate) async fn download(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let cfg = config(&state)?;
    let e = state.store.get_evidence(&caller.0.tenant, &id).await?.value;
    if e.kind == EvidenceKind::Link {
        return Err(ApiError::Conflict(format!(
            "evidence {id} is a link: {}",
            e.url.unwrap_or_default()
        )));
    }
    if e.status != EvidenceStatus::Verified {
        return Err(ApiError::Conflict(format!(
            "evidence {id} is {}, not verified; only verified files are downloaded",
            e.status.as_str()
        )));
    }
    let url = cfg
        .blobs
        .presign_get(
            &object_key(&caller.0.tenant, &e),
            &e.name,
            DOWNLOAD_URL_LIFETIME,
        )
        .await
        .map_err(|err| ApiError::Unavailable(err.to_string()))?;
    let expires_at =
        chrono::Utc::now() + chrono::Duration::from_std(DOWNLOAD_URL_LIFETIME).expect("5 minutes");
    let mut response = (
        StatusCode::SEE_OTHER,
        Json(json!({"url": url, "expires_at": expires_at, "file_name": e.name})),
    )
        .into_response();
    if let Ok(v) = url.parse() {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

pub(crate) async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let cfg = config(&state)?;
    let tenant = &caller.0.tenant;
    let current = state.store.get_evidence(tenant, &id).await?;
    let ctx = find_instance(&state.store, tenant, &current.value.action).await?;
    if ctx.status.test_status.locks_evidence() {
        return Err(ApiError::Conflict(format!(
            "the action's test status is {}; evidence cannot be deleted while a test result stands",
            ctx.status.test_status
        )));
    }
    let entry = history_entry(
        caller.0.user.as_str(),
        Source::Manual,
        summary(&current.value),
        serde_json::Value::Null,
    );
    state
        .store
        .delete_evidence(tenant, &current, &[entry])
        .await?;
    if current.value.kind == EvidenceKind::Document && current.value.archived_in.is_empty() {
        cfg.blobs
            .delete(&object_key(tenant, &current.value))
            .await
            .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    }
    Ok(StatusCode::NO_CONTENT)
}
