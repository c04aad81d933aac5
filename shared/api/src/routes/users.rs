//! Users and the roles assigned to them in the app.

use attest_domain::DomainError;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;

use crate::body::JsonBody;
use crate::claims::Caller;
use crate::etag::{if_match, versioned_json};
use crate::usecases::users::{self, SetRoles, UserError, UserList};
use crate::{ApiError, AppState};

impl From<UserError> for ApiError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::Invalid(f) => ApiError::from(DomainError::Invalid(f)),
            UserError::Stale(m) => ApiError::PreconditionFailed(m),
            UserError::NotFound(what) => ApiError::NotFound(what),
            UserError::Store(e) => ApiError::from(e),
        }
    }
}

pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<UserList>, ApiError> {
    Ok(Json(users::list(&state, &caller.0.tenant).await?))
}

pub(crate) async fn set_roles(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SetRoles>,
) -> Result<Response, ApiError> {
    let id = users::user_id(&id)?;
    let expected = if_match(&headers)?;
    let user = users::set_roles(&state, &caller.0, &id, body, expected).await?;
    Ok(versioned_json(StatusCode::OK, user.version, user))
}
