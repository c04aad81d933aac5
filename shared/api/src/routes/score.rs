//! `GET /score` (also `as_of`), and the score history of the tenant and of an assessment.

use axum::extract::{Path, RawQuery, State};
use axum::Json;

use crate::claims::Caller;
use crate::query::QueryParams;
use crate::usecases::score::{self as usecase, PointView, ScoreError, TenantScoreView};
use crate::{ApiError, AppState};

impl From<ScoreError> for ApiError {
    fn from(e: ScoreError) -> Self {
        match e {
            ScoreError::NotFound(what) => ApiError::NotFound(what),
            ScoreError::Invalid { field, message } => ApiError::invalid(field, message),
            ScoreError::Assessment(e) => ApiError::from(e),
            ScoreError::Store(e) => ApiError::from(e),
        }
    }
}

pub const SCORE_QUERY: &[&str] = &["as_of"];
pub const HISTORY_QUERY: &[&str] = &["from", "to"];

pub(crate) async fn score(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<TenantScoreView>, ApiError> {
    let q = QueryParams::parse(raw.as_deref(), SCORE_QUERY)?;
    let view = usecase::tenant_score(&state, &caller.0.tenant, q.instant_or_date("as_of")?).await?;
    Ok(Json(view))
}

#[derive(serde::Serialize)]
pub(crate) struct History {
    scope: String,
    items: Vec<PointView>,
}

pub(crate) async fn history(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<History>, ApiError> {
    let q = QueryParams::parse(raw.as_deref(), HISTORY_QUERY)?;
    let (from, to) = (q.time("from")?, q.time("to")?);
    let items = usecase::history(&state, &caller.0.tenant, None, from, to).await?;
    Ok(Json(History {
        scope: "tenant".into(),
        items,
    }))
}

pub(crate) async fn assessment_history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<History>, ApiError> {
    let q = QueryParams::parse(raw.as_deref(), HISTORY_QUERY)?;
    let (from, to) = (q.time("from")?, q.time("to")?);
    let items = usecase::history(&state, &caller.0.tenant, Some(&id), from, to).await?;
    Ok(Json(History { scope: id, items }))
}
