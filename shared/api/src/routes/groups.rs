//! Assessment groups: `GET /groups`, `POST /groups`, `GET`/`PATCH /groups/{id}`.

use attest_domain::group::{AssessmentGroup, GroupName};
use attest_domain::ids::GroupId;
use attest_store::Versioned;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::body::JsonBody;
use crate::claims::Caller;
use crate::etag::{if_match, versioned_json};
use crate::usecases::groups::{self, CreateGroup, GroupError};
use crate::{ApiError, AppState, BASE_PATH};

impl From<GroupError> for ApiError {
    fn from(e: GroupError) -> Self {
        match e {
            GroupError::NotFound(what) => ApiError::NotFound(what),
            GroupError::Invalid(f) => ApiError::invalid(f.field, f.message),
            GroupError::Conflict(m) => ApiError::Conflict(m),
            e @ GroupError::Stale { .. } => ApiError::PreconditionFailed(e.to_string()),
            GroupError::Store(s) => s.into(),
        }
    }
}

#[derive(Serialize)]
pub struct GroupView {
    pub id: GroupId,
    pub name: String,
    pub version: u64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub created_by: String,
}

impl From<Versioned<AssessmentGroup>> for GroupView {
    fn from(g: Versioned<AssessmentGroup>) -> Self {
        Self {
            id: g.value.id,
            name: g.value.name.as_str().to_owned(),
            version: g.version,
            created_at: g.value.created_at,
            created_by: g.value.created_by,
        }
    }
}

fn single(status: StatusCode, group: Versioned<AssessmentGroup>) -> Response {
    let location = format!("{BASE_PATH}/groups/{}", group.value.id);
    let mut response = versioned_json(status, group.version, GroupView::from(group));
    if status == StatusCode::CREATED {
        if let Ok(v) = location.parse() {
            response.headers_mut().insert(header::LOCATION, v);
        }
    }
    response
}

#[derive(Serialize)]
pub struct GroupList {
    pub items: Vec<GroupView>,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<GroupList>, ApiError> {
    let groups = groups::list(&state, &caller.0.tenant).await?;
    Ok(Json(GroupList {
        items: groups.into_iter().map(GroupView::from).collect(),
    }))
}

pub(crate) async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let group = groups::show(&state, &caller.0.tenant, &id).await?;
    Ok(single(StatusCode::OK, group))
}

pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<CreateGroup>,
) -> Result<Response, ApiError> {
    let created = groups::create(&state, &caller.0, body).await?;
    Ok(single(StatusCode::CREATED, created))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RenameGroup {
    name: GroupName,
}

pub(crate) async fn rename(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<RenameGroup>,
) -> Result<Response, ApiError> {
    let expected = if_match(&headers)?;
    let renamed = groups::rename(&state, &caller.0, &id, body.name, expected).await?;
    Ok(single(StatusCode::OK, renamed))
}
