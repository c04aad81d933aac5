//! Regulation templates: the built-in library and the tenant's own (custom JSON, OSCAL import).

use attest_domain::DomainError;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::body::{parse_json, JsonBody};
use crate::claims::Caller;
use crate::query::QueryParams;
use crate::usecases::regulations::{
    self, NewRegulation, OscalImport, RegulationDetail, RegulationError, RegulationList,
};
use crate::{ApiError, AppState, BASE_PATH};

/// OSCAL catalogs are large (NIST's moderate baseline is 1.8 MB); Lambda takes 6 MB.
pub const OSCAL_BODY_LIMIT: usize = 6 * 1024 * 1024;
/// Query parameters of `POST /regulations/import/oscal`.
pub const IMPORT_QUERY: &[&str] = &["map_as", "name", "id"];

impl From<RegulationError> for ApiError {
    fn from(e: RegulationError) -> Self {
        match e {
            RegulationError::Invalid(f) => ApiError::from(DomainError::Invalid(f)),
            RegulationError::Conflict(m) => ApiError::Conflict(m),
            RegulationError::NotFound(what) => ApiError::NotFound(what),
            RegulationError::TooLarge(m) => ApiError::PayloadTooLarge(m),
            RegulationError::Store(e) => ApiError::from(e),
        }
    }
}

pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<RegulationList>, ApiError> {
    Ok(Json(regulations::list(&state, &caller.0.tenant).await?))
}

pub(crate) async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RegulationDetail>, ApiError> {
    Ok(Json(
        regulations::show(&state, &caller.0.tenant, &id).await?,
    ))
}

/// 201 with the new regulation and its Location.
fn created(detail: RegulationDetail) -> Response {
    let location = format!("{BASE_PATH}/regulations/{}", detail.summary.id);
    let mut response = (StatusCode::CREATED, Json(detail)).into_response();
    if let Ok(v) = location.parse() {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewRegulation>,
) -> Result<Response, ApiError> {
    Ok(created(regulations::create(&state, &caller.0, body).await?))
}

/// The OSCAL catalog's bytes: sent as JSON, and within [`OSCAL_BODY_LIMIT`].
fn oscal_bytes(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Bytes, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/json") && !content_type.contains("+json") {
        return Err(ApiError::UnsupportedMediaType(format!(
            "send the OSCAL catalog as application/json (got {content_type:?})"
        )));
    }
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(format!(
                "the catalog is larger than {} MB",
                OSCAL_BODY_LIMIT / 1024 / 1024
            ))
        } else {
            ApiError::BadRequest {
                detail: format!("could not read the body: {rejection}"),
                errors: vec![],
            }
        }
    })
}

pub(crate) async fn import_oscal(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref(), IMPORT_QUERY)?;
    let options = OscalImport::new(q.one("map_as"), q.one("id"), q.one("name"))?;
    let document: serde_json::Value = parse_json(&oscal_bytes(&headers, body)?)?;
    let detail = regulations::import_oscal(&state, &caller.0, options, &document).await?;
    Ok(created(detail))
}
