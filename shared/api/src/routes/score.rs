//! `GET /score`: the tenant's overall compliance score and its split by category.

use axum::extract::State;
use axum::Json;

use crate::claims::Caller;
use crate::usecases::score::{self as usecase, ScoreError, TenantScoreView};
use crate::{ApiError, AppState};

impl From<ScoreError> for ApiError {
    fn from(e: ScoreError) -> Self {
        match e {
            ScoreError::Store(e) => ApiError::from(e),
        }
    }
}

pub(crate) async fn score(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<TenantScoreView>, ApiError> {
    Ok(Json(usecase::tenant_score(&state, &caller.0.tenant).await?))
}
