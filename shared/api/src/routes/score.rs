//! `GET /score`: the tenant's overall compliance score and its split by category.

use attest_domain::identity::Permission;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use crate::claims::Caller;
use crate::usecases::score::{self as usecase, ScoreError, TenantScoreView};
use crate::{ApiError, AppState, BASE_PATH};

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(&format!("{BASE_PATH}/score"), get(score))
        .with_state(state)
}

impl From<ScoreError> for ApiError {
    fn from(e: ScoreError) -> Self {
        match e {
            ScoreError::Store(e) => ApiError::from(e),
        }
    }
}

async fn score(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<TenantScoreView>, ApiError> {
    caller.require(Permission::Read)?;
    Ok(Json(usecase::tenant_score(&state, &caller.0.tenant).await?))
}
