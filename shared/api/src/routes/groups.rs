//! Assessment groups: `GET /groups`, `POST /groups`, `PATCH /groups/{id}`.

use attest_domain::group::{AssessmentGroup, GroupName};
use attest_domain::identity::Permission;
use attest_domain::ids::{new_id, GroupId};
use attest_store::Versioned;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::body::{JsonBody, DEFAULT_BODY_LIMIT};
use crate::claims::Caller;
use crate::etag::{etag, if_match};
use crate::{ApiError, AppState, BASE_PATH};

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(&format!("{BASE_PATH}/groups"), get(list).post(create))
        .route(
            &format!("{BASE_PATH}/groups/{{id}}"),
            patch(rename).get(show),
        )
        .layer(DefaultBodyLimit::max(DEFAULT_BODY_LIMIT))
        .with_state(state)
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
    let tag = etag(group.version);
    let location = format!("{BASE_PATH}/groups/{}", group.value.id);
    let mut response = (status, Json(GroupView::from(group))).into_response();
    response.headers_mut().insert(header::ETAG, tag);
    if status == StatusCode::CREATED {
        if let Ok(v) = location.parse() {
            response.headers_mut().insert(header::LOCATION, v);
        }
    }
    response
}

/// A path id that is not a valid id cannot name a stored group: 404, like any unknown id.
fn group_id(raw: &str) -> Result<GroupId, ApiError> {
    GroupId::parse(raw).map_err(|_| ApiError::NotFound(format!("group {raw}")))
}

#[derive(Serialize)]
pub struct GroupList {
    pub items: Vec<GroupView>,
}

async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<GroupList>, ApiError> {
    caller.require(Permission::Read)?;
    let groups = state.store.list_groups(&caller.0.tenant).await?;
    Ok(Json(GroupList {
        items: groups.into_iter().map(GroupView::from).collect(),
    }))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Permission::Read)?;
    let group = state
        .store
        .get_group(&caller.0.tenant, &group_id(&id)?)
        .await?;
    Ok(single(StatusCode::OK, group))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateGroup {
    name: GroupName,
    /// A group whose shared non-technical actions' owners, statuses, dates, notes and
    /// evidence links the new group starts from.
    copy_from: Option<GroupId>,
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<CreateGroup>,
) -> Result<Response, ApiError> {
    caller.require(Permission::ManageAssessments)?;
    let tenant = &caller.0.tenant;
    if let Some(source) = &body.copy_from {
        state
            .store
            .get_group(tenant, source)
            .await
            .map_err(|e| match e {
                attest_store::StoreError::NotFound(_) => {
                    ApiError::invalid("copy_from", format!("no group {source} to copy from"))
                }
                other => other.into(),
            })?;
    }
    let group = AssessmentGroup {
        id: GroupId::parse(new_id()).expect("generated ids are valid"),
        name: body.name,
        created_at: chrono::Utc::now(),
        created_by: caller.0.user.to_string(),
    };
    let created = state.store.create_group(tenant, &group).await?;
    tracing::info!(tenant = %tenant, group = %created.value.id, "group created");
    Ok(single(StatusCode::CREATED, created))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RenameGroup {
    name: GroupName,
}

async fn rename(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<RenameGroup>,
) -> Result<Response, ApiError> {
    caller.require(Permission::EditData)?;
    let expected = if_match(&headers)?;
    let renamed = state
        .store
        .rename_group(&caller.0.tenant, &group_id(&id)?, body.name, expected)
        .await?;
    Ok(single(StatusCode::OK, renamed))
}
