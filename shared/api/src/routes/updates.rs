//! Improvement-action updates: the pending ones, accepting one, accepting all.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use serde::Serialize;

use crate::claims::Caller;
use crate::etag::if_match;
use crate::usecases::updates::{self, AcceptedAll, PendingItem, UpdateError};
use crate::{ApiError, AppState};

impl From<UpdateError> for ApiError {
    fn from(e: UpdateError) -> Self {
        match e {
            UpdateError::Forbidden => {
                ApiError::Forbidden(attest_domain::identity::Permission::ManageAssessments)
            }
            e @ UpdateError::NothingPending(_) => ApiError::Conflict(e.to_string()),
            UpdateError::Action(a) => a.into(),
            UpdateError::Store(s) => s.into(),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct PendingList {
    items: Vec<PendingItem>,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<PendingList>, ApiError> {
    let items = updates::list(&state, &caller.0).await?;
    Ok(Json(PendingList { items }))
}

pub(crate) async fn accept(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let expected = if_match(&headers)?;
    let ctx = updates::accept(&state, &caller.0, &id, expected).await?;
    Ok(super::actions::detail(&ctx))
}

pub(crate) async fn accept_all(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<AcceptedAll>, ApiError> {
    Ok(Json(updates::accept_all(&state, &caller.0).await?))
}
