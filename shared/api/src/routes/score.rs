//! `GET /score`: the tenant's overall compliance score and its split by category.

use attest_domain::identity::Permission;
use attest_domain::vocab::Category;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::claims::Caller;
use crate::usecases::views::ScoreView;
use crate::usecases::workspace::Workspace;
use crate::{ApiError, AppState, BASE_PATH};

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(&format!("{BASE_PATH}/score"), get(score))
        .with_state(state)
}

#[derive(Serialize)]
struct CategoryScore {
    category: Category,
    score: ScoreView,
}

#[derive(Serialize)]
struct ScoreResponse {
    overall: ScoreView,
    by_category: Vec<CategoryScore>,
    assessments: usize,
}

async fn score(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<ScoreResponse>, ApiError> {
    caller.require(Permission::Read)?;
    let ws = Workspace::load(&state.store, &caller.0.tenant).await?;
    let score = ws.tenant_score();
    Ok(Json(ScoreResponse {
        overall: score.overall().into(),
        by_category: score
            .by_category()
            .iter()
            .map(|(c, s)| CategoryScore {
                category: *c,
                score: (*s).into(),
            })
            .collect(),
        assessments: ws.live().count(),
    }))
}
