//! Reports and interchange as Excel workbooks: an assessment's report, the action instances'
//! export and import (bulk update), one action's history.

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};

use crate::body::{XlsxBody, XLSX};
use crate::claims::Caller;
use crate::query::QueryParams;
use crate::usecases::oscal::{self, OscalError};
use crate::usecases::reports::{self, ImportMode, Refusal, RejectedRow, ReportError, Workbook};
use crate::{ApiError, AppState};

/// Query parameters of the report, the export (`GET /actions`'s filters, without paging) and
/// the import.
pub const REPORT_QUERY: &[&str] = &["as_of"];
pub const EXPORT_QUERY: &[&str] = &[
    "assessment",
    "group",
    "owner",
    "implementation_status",
    "test_status",
    "category",
    "regulation",
];
pub const IMPORT_QUERY: &[&str] = &["partial"];
/// The largest workbook an import takes.
pub const IMPORT_BODY_LIMIT: usize = 10 * 1024 * 1024;

/// The status `PATCH` would have answered a rejected row with.
fn status_of(refusal: Refusal) -> u16 {
    match refusal {
        Refusal::NotFound => 404,
        Refusal::Forbidden => 403,
        Refusal::Conflict => 409,
        Refusal::Stale => 412,
        Refusal::Invalid => 422,
    }
}

fn rejected_json(rows: &[RejectedRow]) -> Vec<Value> {
    rows.iter()
        .map(|r| json!({"row": r.row, "id": r.id, "status": status_of(r.refusal), "reason": r.reason}))
        .collect()
}

impl From<ReportError> for ApiError {
    fn from(e: ReportError) -> Self {
        match e {
            ReportError::NotFound(what) => ApiError::NotFound(what),
            ReportError::Invalid(f) => ApiError::invalid(f.field, f.message),
            ReportError::Unprocessable(detail) => ApiError::Unprocessable {
                detail,
                errors: vec![],
            },
            ReportError::Unreadable(detail) => ApiError::BadRequest {
                detail,
                errors: vec![],
            },
            ReportError::TooLarge(m) => ApiError::PayloadTooLarge(m),
            ReportError::Rejected(outcome) => ApiError::Rejected {
                detail: outcome.refusal(),
                rejected: rejected_json(&outcome.rejected),
            },
            ReportError::Conflict(m) => ApiError::Conflict(m),
            ReportError::Broken(m) => ApiError::Internal(m),
            ReportError::Store(s) => s.into(),
        }
    }
}

/// A workbook as an attachment (never cached: it holds the tenant's data).
fn attachment(workbook: Workbook) -> Response {
    let disposition = format!("attachment; filename=\"{}\"", workbook.file_name);
    let mut response = (StatusCode::OK, workbook.bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(XLSX));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

pub(crate) async fn assessment_report(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref(), REPORT_QUERY)?;
    let as_of = q.instant_or_date("as_of")?;
    let workbook = reports::assessment_report(&state, &caller.0.tenant, &id, as_of).await?;
    Ok(attachment(workbook))
}

pub(crate) async fn export_actions(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref(), EXPORT_QUERY)?;
    let filter = super::actions::filter(&q)?;
    let workbook = reports::export_actions(&state, &caller.0.tenant, &filter).await?;
    Ok(attachment(workbook))
}

#[derive(Serialize)]
pub(crate) struct ImportResult {
    applied: usize,
    skipped: usize,
    rejected: Vec<Value>,
}

pub(crate) async fn import_actions(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
    XlsxBody(body): XlsxBody,
) -> Result<Json<ImportResult>, ApiError> {
    let q = QueryParams::parse(raw.as_deref(), IMPORT_QUERY)?;
    let mode = match q.flag("partial")? {
        true => ImportMode::Partial,
        false => ImportMode::AllOrNothing,
    };
    let outcome = reports::import_actions(&state, &caller.0, &body, mode).await?;
    Ok(Json(ImportResult {
        applied: outcome.applied,
        skipped: outcome.skipped,
        rejected: rejected_json(&outcome.rejected),
    }))
}

pub(crate) async fn history_export(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let workbook = reports::history_export(&state, &caller.0.tenant, &id).await?;
    Ok(attachment(workbook))
}

impl From<OscalError> for ApiError {
    fn from(e: OscalError) -> Self {
        match e {
            OscalError::NotFound(what) => ApiError::NotFound(what),
            OscalError::Broken(m) => ApiError::Internal(m),
            OscalError::Store(s) => s.into(),
        }
    }
}

pub(crate) async fn oscal_results(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        oscal::assessment_results(&state, &caller.0, &id).await?,
    ))
}
