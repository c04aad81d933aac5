//! `GET /events`: the tenant's domain events, oldest first.

use axum::extract::{RawQuery, State};
use axum::Json;
use serde::Serialize;

use attest_domain::event::Event;

use crate::claims::Caller;
use crate::query::QueryParams;
use crate::usecases::events::{self as usecase, EventsError, MAX_LIMIT};
use crate::{ApiError, AppState};

impl From<EventsError> for ApiError {
    fn from(e: EventsError) -> Self {
        match e {
            EventsError::Invalid { field, message } => ApiError::invalid(field, message),
            EventsError::Store(e) => ApiError::from(e),
        }
    }
}

pub const LIST_QUERY: &[&str] = &["after", "type", "limit"];

#[derive(Serialize)]
pub(crate) struct EventList {
    items: Vec<Event>,
    /// Pass as `after` to read on; null at the end.
    next: Option<String>,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<EventList>, ApiError> {
    let q = QueryParams::parse(raw.as_deref(), LIST_QUERY)?;
    let limit = q.limit(100, MAX_LIMIT)?;
    let (after, kind) = (q.one("after"), q.one("type"));
    let page = usecase::list(
        &state,
        &caller.0,
        after.as_deref(),
        kind.as_deref(),
        Some(limit),
    )
    .await?;
    Ok(Json(EventList {
        items: page.events,
        next: page.next,
    }))
}
