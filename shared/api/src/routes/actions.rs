//! Action instances: list with filters, detail, change, bulk assign, history, related controls.

use attest_domain::action::ActionPatch;
use attest_domain::identity::Permission;
use attest_domain::ids::{AssessmentId, GroupId, RegulationId};
use attest_domain::vocab::{Category, ImplementationStatus, TestStatus};
use attest_domain::DomainError;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::body::{bounded, JsonBody, DEFAULT_BODY_LIMIT};
use crate::claims::Caller;
use crate::etag::{if_match, versioned_json};
use crate::query::QueryParams;
use crate::usecases::actions::{self, find_instance, InstanceContext};
use crate::usecases::views::ActionSummary;
use crate::usecases::workspace::Workspace;
use crate::{ApiError, AppState, BASE_PATH};
use attest_store::regulations::ControlRef;

/// Query parameters of `GET /actions`, `/actions/{id}/history` and `/actions/{id}/controls`.
pub const LIST_QUERY: &[&str] = &[
    "assessment",
    "group",
    "owner",
    "implementation_status",
    "test_status",
    "category",
    "regulation",
    "cursor",
    "limit",
];
pub const HISTORY_QUERY: &[&str] = &["limit"];
pub const RELATED_QUERY: &[&str] = &["regulation"];

pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route(&format!("{BASE_PATH}/actions"), get(list))
        .route(&format!("{BASE_PATH}/actions/assign"), post(assign))
        .route(
            &format!("{BASE_PATH}/actions/{{id}}"),
            get(show).patch(update),
        )
        .route(&format!("{BASE_PATH}/actions/{{id}}/history"), get(history))
        .route(
            &format!("{BASE_PATH}/actions/{{id}}/controls"),
            get(related_controls),
        )
        .with_state(state);
    bounded(routes, DEFAULT_BODY_LIMIT)
}

#[derive(Serialize)]
struct ActionPage {
    items: Vec<ActionSummary>,
    next_cursor: Option<String>,
}

fn encode_cursor(id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id)
}

fn decode_cursor(cursor: &str) -> Result<String, ApiError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| ApiError::invalid("cursor", "not a cursor this API returned"))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<ActionPage>, ApiError> {
    caller.require(Permission::Read)?;
    let q = QueryParams::parse(raw.as_deref(), LIST_QUERY)?;
    let assessments = q.parsed("assessment", |s| AssessmentId::parse(s))?;
    let groups = q.parsed("group", |s| GroupId::parse(s))?;
    let regulations = q.parsed("regulation", |s| RegulationId::parse(s))?;
    let owners = q.all("owner");
    let impl_status = q.parsed("implementation_status", ImplementationStatus::parse)?;
    let test_status = q.parsed("test_status", TestStatus::parse)?;
    let categories = q.parsed("category", Category::parse)?;
    let after = q.one("cursor").map(|c| decode_cursor(&c)).transpose()?;
    let limit = q.limit(50, 200)?;

    let ws = Workspace::load(&state.store, &caller.0.tenant).await?;
    let mut items = Vec::new();
    let mut next_cursor = None;
    for (id, u) in ws.instances() {
        if after.as_ref().is_some_and(|a| &id <= a) {
            continue;
        }
        let keep = (assessments.is_empty()
            || assessments.iter().any(|a| u.assessments.contains(a)))
            && (groups.is_empty() || groups.iter().any(|g| u.groups.contains(g)))
            && (regulations.is_empty() || regulations.iter().any(|r| u.regulations.contains(r)))
            && (owners.is_empty()
                || u.status
                    .owner
                    .as_ref()
                    .is_some_and(|o| owners.iter().any(|w| w.eq_ignore_ascii_case(o))))
            && (impl_status.is_empty() || impl_status.contains(&u.status.implementation_status))
            && (test_status.is_empty() || test_status.contains(&u.status.test_status))
            && (categories.is_empty() || categories.contains(&u.def.category));
        if !keep {
            continue;
        }
        if items.len() == limit {
            next_cursor = items.last().map(|i: &ActionSummary| encode_cursor(&i.id));
            break;
        }
        items.push(ActionSummary::new(u.def, &u.instance, &u.status, u.version));
    }
    Ok(Json(ActionPage { items, next_cursor }))
}

#[derive(Serialize)]
struct UsedBy {
    assessment_id: AssessmentId,
    name: String,
    regulation_id: RegulationId,
}

#[derive(Serialize)]
struct ActionDetail {
    #[serde(flatten)]
    summary: ActionSummary,
    guidance: String,
    implementation_notes: String,
    test_notes: String,
    group_id: Option<GroupId>,
    assessments: Vec<UsedBy>,
}

fn detail(ctx: &InstanceContext) -> Response {
    let body = ActionDetail {
        summary: ActionSummary::new(&ctx.def, &ctx.instance, &ctx.status, ctx.version),
        guidance: ctx.def.guidance.clone(),
        implementation_notes: ctx.status.implementation_notes.clone(),
        test_notes: ctx.status.test_notes.clone(),
        group_id: match &ctx.instance.scope {
            attest_domain::action::InstanceScope::Group(g) => Some(g.clone()),
            attest_domain::action::InstanceScope::Tenant => None,
        },
        assessments: ctx
            .usages
            .iter()
            .map(|a| UsedBy {
                assessment_id: a.value.id.clone(),
                name: a.value.name.clone(),
                regulation_id: a.value.regulation_id.clone(),
            })
            .collect(),
    };
    versioned_json(StatusCode::OK, ctx.version, body)
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Permission::Read)?;
    Ok(detail(
        &find_instance(&state.store, &caller.0.tenant, &id).await?,
    ))
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(patch): JsonBody<ActionPatch>,
) -> Result<Response, ApiError> {
    caller
        .require(Permission::EditData)
        .or_else(|_| caller.require(Permission::EditTests))?;
    let expected = if_match(&headers)?;
    let ctx = actions::update(&state.store, &caller.0, &id, &patch, expected).await?;
    Ok(detail(&ctx))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Assign {
    action_ids: Vec<String>,
    owner: Option<String>,
}

#[derive(Serialize)]
struct AssignResult {
    items: Vec<ActionSummary>,
}

async fn assign(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<Assign>,
) -> Result<Json<AssignResult>, ApiError> {
    caller.require(Permission::EditData)?;
    let changed = actions::assign(&state.store, &caller.0, &body.action_ids, body.owner).await?;
    let items = changed
        .iter()
        .map(|(ctx, v)| ActionSummary::new(&ctx.def, &ctx.instance, &ctx.status, *v))
        .collect();
    Ok(Json(AssignResult { items }))
}

#[derive(Serialize)]
struct HistoryList {
    items: Vec<attest_domain::history::HistoryEntry>,
}

async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<HistoryList>, ApiError> {
    caller.require(Permission::Read)?;
    let q = QueryParams::parse(raw.as_deref(), HISTORY_QUERY)?;
    let limit = q.limit(100, 1000)?;
    let ctx = find_instance(&state.store, &caller.0.tenant, &id).await?;
    let items = state
        .store
        .list_history(&caller.0.tenant, &ctx.instance, limit)
        .await?;
    Ok(Json(HistoryList { items }))
}

#[derive(Serialize)]
struct RelatedList {
    items: Vec<ControlRef>,
}

async fn related_controls(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<RelatedList>, ApiError> {
    caller.require(Permission::Read)?;
    let q = QueryParams::parse(raw.as_deref(), RELATED_QUERY)?;
    let only = q.parsed("regulation", |s| {
        RegulationId::parse(s).map_err(|e: DomainError| e)
    })?;
    let items = actions::related_controls(&state.store, &caller.0.tenant, &id, &only).await?;
    Ok(Json(RelatedList { items }))
}
