//! Users and the roles assigned to them in the app.

use std::collections::BTreeSet;

use attest_domain::identity::{Permission, Role};
use attest_domain::ids::UserId;
use attest_store::users::UserRecord;
use attest_store::Versioned;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::body::{bounded, JsonBody, DEFAULT_BODY_LIMIT};
use crate::claims::Caller;
use crate::etag::{if_match, versioned_json};
use crate::{ApiError, AppState, BASE_PATH};

pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route(&format!("{BASE_PATH}/users"), get(list))
        .route(&format!("{BASE_PATH}/users/{{id}}/roles"), put(set_roles))
        .with_state(state);
    bounded(routes, DEFAULT_BODY_LIMIT)
}

#[derive(Serialize)]
struct UserView {
    id: UserId,
    name: Option<String>,
    email: Option<String>,
    /// Roles assigned in Attest; they add to those the user's token carries.
    roles: BTreeSet<Role>,
    first_seen: chrono::DateTime<chrono::Utc>,
    version: u64,
}

impl From<Versioned<UserRecord>> for UserView {
    fn from(u: Versioned<UserRecord>) -> Self {
        Self {
            id: u.value.id,
            name: u.value.name,
            email: u.value.email,
            roles: u.value.roles,
            first_seen: u.value.first_seen,
            version: u.version,
        }
    }
}

#[derive(Serialize)]
struct UserList {
    items: Vec<UserView>,
}

async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<UserList>, ApiError> {
    caller.require(Permission::Read)?;
    let users = state.store.list_users(&caller.0.tenant).await?;
    Ok(Json(UserList {
        items: users.into_iter().map(UserView::from).collect(),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetRoles {
    roles: BTreeSet<Role>,
}

async fn set_roles(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SetRoles>,
) -> Result<Response, ApiError> {
    caller.require(Permission::ManageUsers)?;
    let id = UserId::parse(&id).map_err(|e| ApiError::invalid("id", e.to_string()))?;
    let tenant = &caller.0.tenant;
    let current = state.store.get_user(tenant, &id).await?;
    let version = current.as_ref().map(|u| u.version).unwrap_or(0);
    if let Some(expected) = if_match(&headers)?.filter(|v| *v != version) {
        return Err(ApiError::PreconditionFailed(format!(
            "If-Match names version {expected} but user {id} is at version {version}"
        )));
    }
    let mut record = current.map(|u| u.value).unwrap_or(UserRecord {
        id: id.clone(),
        name: None,
        email: None,
        roles: BTreeSet::new(),
        first_seen: chrono::Utc::now(),
    });
    record.roles = body.roles;
    let saved = state.store.set_user_roles(tenant, record, version).await?;
    tracing::info!(tenant = %tenant, user = %id, by = %caller.0.user, "roles assigned");
    Ok(versioned_json(
        StatusCode::OK,
        saved.version,
        UserView::from(saved),
    ))
}
