//! Assessments: create, list, read, controls with filters, evidence, archive, delete.

use std::collections::BTreeMap;

use attest_domain::evidence::Evidence;
use attest_domain::ids::AssessmentId;
use attest_domain::vocab::{ImplementationStatus, TestStatus};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::Json;
use serde::Serialize;

use crate::body::JsonBody;
use crate::claims::Caller;
use crate::etag::versioned_json;
use crate::query::QueryParams;
use crate::usecases::assessments::{self, AssessmentError, CreateAssessment};
use crate::usecases::views::{AssessmentView, ControlFilter, ControlView, ProgressView, ScoreView};
use crate::{ApiError, AppState, BASE_PATH};

/// Query parameters of `GET /assessments` and `GET /assessments/{id}/controls`.
pub const LIST_QUERY: &[&str] = &["include_archived", "cursor", "limit"];
pub const CONTROLS_QUERY: &[&str] = &[
    "article",
    "control",
    "owner",
    "implementation_status",
    "test_status",
];

impl From<AssessmentError> for ApiError {
    fn from(e: AssessmentError) -> Self {
        match e {
            AssessmentError::NotFound(what) => ApiError::NotFound(what),
            AssessmentError::Invalid(f) => ApiError::invalid(f.field, f.message),
            AssessmentError::Conflict(m) => ApiError::Conflict(m),
            AssessmentError::Broken(m) => ApiError::Internal(m),
            AssessmentError::Store(s) => s.into(),
        }
    }
}

fn with_etag(status: StatusCode, view: AssessmentView) -> Response {
    versioned_json(status, view.version, view)
}

pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<CreateAssessment>,
) -> Result<Response, ApiError> {
    let view = assessments::create(&state, &caller.0, body).await?;
    let location = format!("{BASE_PATH}/assessments/{}", view.id);
    let mut response = with_etag(StatusCode::CREATED, view);
    if let Ok(v) = location.parse() {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

#[derive(Serialize)]
pub(crate) struct AssessmentList {
    items: Vec<AssessmentView>,
    next_cursor: Option<String>,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<AssessmentList>, ApiError> {
    let q = QueryParams::parse(raw.as_deref(), LIST_QUERY)?;
    let include_archived = q.flag("include_archived")?;
    let after = q
        .one("cursor")
        .map(|c| {
            AssessmentId::parse(&c)
                .map_err(|_| ApiError::invalid("cursor", "not a cursor this API returned"))
        })
        .transpose()?;
    let limit = q.limit(50, 200)?;
    let page = assessments::list(
        &state,
        &caller.0.tenant,
        include_archived,
        after.map(|a| a.to_string()),
        limit,
    )
    .await?;
    Ok(Json(AssessmentList {
        items: page.items,
        next_cursor: page.next,
    }))
}

pub const SHOW_QUERY: &[&str] = &["as_of"];

pub(crate) async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref(), SHOW_QUERY)?;
    let view =
        assessments::show(&state, &caller.0.tenant, &id, q.instant_or_date("as_of")?).await?;
    Ok(with_etag(StatusCode::OK, view))
}

#[derive(Serialize)]
pub(crate) struct ControlList {
    assessment_id: AssessmentId,
    archived: bool,
    score: ScoreView,
    progress: ProgressView,
    items: Vec<ControlView>,
}

pub(crate) async fn controls(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<ControlList>, ApiError> {
    let q = QueryParams::parse(raw.as_deref(), CONTROLS_QUERY)?;
    let filter = ControlFilter {
        article: q.all("article"),
        control: q.all("control"),
        owner: q.all("owner"),
        implementation_status: q.parsed("implementation_status", ImplementationStatus::parse)?,
        test_status: q.parsed("test_status", TestStatus::parse)?,
    };
    let (view, items) = assessments::controls(&state, &caller.0.tenant, &id, &filter).await?;
    Ok(Json(ControlList {
        assessment_id: view.id,
        archived: view.archived,
        score: view.score,
        progress: view.progress,
        items,
    }))
}

#[derive(Serialize)]
pub(crate) struct AssessmentEvidence {
    assessment_id: AssessmentId,
    archived: bool,
    /// Evidence by action instance id.
    items: BTreeMap<String, Vec<Evidence>>,
}

pub(crate) async fn evidence(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<AssessmentEvidence>, ApiError> {
    let (assessment_id, archived, items) =
        assessments::evidence(&state, &caller.0.tenant, &id).await?;
    Ok(Json(AssessmentEvidence {
        assessment_id,
        archived,
        items,
    }))
}

pub(crate) async fn archive(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let view = assessments::archive(&state, &caller.0, &id).await?;
    Ok(with_etag(StatusCode::OK, view))
}

pub(crate) async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    assessments::delete(&state, &caller.0, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
