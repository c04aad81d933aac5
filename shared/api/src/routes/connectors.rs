//! Connectors: `GET /connector-kinds`, `GET`/`POST /connectors`,
//! `GET`/`PUT`/`DELETE /connectors/{id}`, `GET /connectors/{id}/status`,
//! `GET /connectors/{id}/history`, `POST /connectors/{id}/validate`, `POST /connectors/{id}/run`.

use attest_connectors::KindInfo;
use attest_domain::connector::{Connector, RunRecord};
use attest_store::Versioned;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde::Serialize;

use crate::body::JsonBody;
use crate::claims::Caller;
use crate::etag::{if_match, versioned_json};
use crate::query::QueryParams;
use crate::usecases::connectors::{
    self as usecase, ConnectorChange, ConnectorUseError, ConnectorView, NewConnector, StatusView,
    Validation, MAX_HISTORY,
};
use crate::usecases::insider as usecase_insider;
use crate::{ApiError, AppState, BASE_PATH};

impl From<ConnectorUseError> for ApiError {
    fn from(e: ConnectorUseError) -> Self {
        match e {
            ConnectorUseError::NotFound(what) => ApiError::NotFound(what),
            ConnectorUseError::Invalid(errors) => ApiError::Unprocessable {
                detail: errors
                    .iter()
                    .map(|f| format!("invalid {}: {}", f.field, f.message))
                    .collect::<Vec<_>>()
                    .join("; "),
                errors,
            },
            e @ ConnectorUseError::Stale { .. } => ApiError::PreconditionFailed(e.to_string()),
            ConnectorUseError::Conflict(m) => ApiError::Conflict(m),
            ConnectorUseError::Unavailable(m) => ApiError::Unavailable(m),
            ConnectorUseError::UnsupportedType(m) => ApiError::UnsupportedMediaType(m),
            ConnectorUseError::Store(s) => s.into(),
        }
    }
}

pub const HISTORY_QUERY: &[&str] = &["limit", "cursor"];
pub const ITEMS_QUERY: &[&str] = &["person", "from", "to", "q", "cursor", "limit"];

fn one(status: StatusCode, c: Versioned<Connector>) -> Response {
    let location = format!("{BASE_PATH}/connectors/{}", c.value.id);
    let mut response = versioned_json(status, c.version, ConnectorView::from(c));
    if status == StatusCode::CREATED {
        if let Ok(v) = location.parse() {
            response.headers_mut().insert(header::LOCATION, v);
        }
    }
    response
}

#[derive(Serialize)]
pub(crate) struct KindList {
    items: Vec<&'static KindInfo>,
}

pub(crate) async fn kinds(_caller: Caller) -> Json<KindList> {
    Json(KindList {
        items: usecase::kinds(),
    })
}

#[derive(Serialize)]
pub(crate) struct ConnectorList {
    items: Vec<ConnectorView>,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<ConnectorList>, ApiError> {
    let items = usecase::list(&state, &caller.0.tenant).await?;
    Ok(Json(ConnectorList {
        items: items.into_iter().map(ConnectorView::from).collect(),
    }))
}

pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewConnector>,
) -> Result<Response, ApiError> {
    let created = usecase::create(&state, &caller.0, body).await?;
    Ok(one(StatusCode::CREATED, created))
}

pub(crate) async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let c = usecase::show(&state, &caller.0.tenant, &id).await?;
    Ok(one(StatusCode::OK, c))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(change): JsonBody<ConnectorChange>,
) -> Result<Response, ApiError> {
    let expected = if_match(&headers)?;
    let c = usecase::update(&state, &caller.0, &id, change, expected).await?;
    Ok(one(StatusCode::OK, c))
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let expected = if_match(&headers)?;
    usecase::delete(&state, &caller.0, &id, expected).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn status(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<StatusView>, ApiError> {
    Ok(Json(usecase::status(&state, &caller.0.tenant, &id).await?))
}

#[derive(Serialize)]
pub(crate) struct RunList {
    items: Vec<RunRecord>,
    next_cursor: Option<String>,
}

pub(crate) async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<RunList>, ApiError> {
    let q = QueryParams::parse(raw.as_deref(), HISTORY_QUERY)?;
    let limit = q.limit(20, MAX_HISTORY)?;
    let page = usecase::history(&state, &caller.0.tenant, &id, limit, q.one("cursor")).await?;
    Ok(Json(RunList {
        items: page.runs,
        next_cursor: page.next,
    }))
}

pub(crate) async fn items(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<usecase::ItemPage>, ApiError> {
    let q = QueryParams::parse(raw.as_deref(), ITEMS_QUERY)?;
    let query = usecase::ItemQuery {
        person: q.one("person"),
        from: q.time("from")?,
        to: q.time("to")?,
        q: q.one("q"),
        cursor: q.one("cursor"),
        limit: q.limit(50, 200)?,
    };
    Ok(Json(
        usecase::items(&state, &caller.0.tenant, &id, query).await?,
    ))
}

/// The upload's `Content-Type` (parameters such as `charset` aside), lower case.
fn upload_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

pub(crate) async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<usecase_insider::Uploaded>, ApiError> {
    let kind = upload_type(&headers);
    Ok(Json(
        usecase_insider::upload(&state, &caller.0, &id, &kind, &body).await?,
    ))
}

#[derive(Serialize)]
pub(crate) struct SignalList {
    items: Vec<attest_domain::signal::Signal>,
}

pub(crate) async fn person_signals(
    State(state): State<AppState>,
    caller: Caller,
    Path(email): Path<String>,
) -> Result<Json<SignalList>, ApiError> {
    let items = usecase_insider::person_signals(&state, &caller.0.tenant, &email).await?;
    Ok(Json(SignalList { items }))
}

#[derive(Serialize)]
pub(crate) struct DepartingList {
    items: Vec<usecase_insider::DepartingView>,
}

pub(crate) async fn departing(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<DepartingList>, ApiError> {
    let items = usecase_insider::departing(&state, &caller.0.tenant).await?;
    Ok(Json(DepartingList { items }))
}

pub(crate) async fn validate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Validation>, ApiError> {
    Ok(Json(
        usecase::validate(&state, &caller.0.tenant, &id).await?,
    ))
}

#[derive(Serialize)]
pub(crate) struct RunQueued {
    run_id: String,
    status: &'static str,
}

pub(crate) async fn run(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<RunQueued>), ApiError> {
    let run_id = usecase::run_now(&state, &caller.0.tenant, &id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(RunQueued {
            run_id,
            status: "queued",
        }),
    ))
}
