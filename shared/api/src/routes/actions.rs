//! Action instances: list with filters, detail, change, bulk assign, history, related controls.

use attest_domain::action::{ActionPatch, InstanceScope};
use attest_domain::ids::{AssessmentId, GroupId, RegulationId};
use attest_domain::vocab::{Category, ImplementationStatus, TestStatus};
use attest_store::regulations::ControlRef;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::body::JsonBody;
use crate::claims::Caller;
use crate::etag::{if_match, versioned_json};
use crate::query::QueryParams;
use crate::usecases::actions::{self, ActionError, ActionFilter, InstanceContext};
use crate::usecases::views::ActionSummary;
use crate::{ApiError, AppState};

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

impl From<ActionError> for ApiError {
    fn from(e: ActionError) -> Self {
        match e {
            e @ ActionError::NotFound(_) => ApiError::NotFound(format!("action {}", e.id())),
            ActionError::Invalid(f) => ApiError::invalid(f.field, f.message),
            ActionError::Forbidden(p) => ApiError::Forbidden(p),
            ActionError::Conflict(m) => ApiError::Conflict(m),
            e @ ActionError::Stale { .. } => ApiError::PreconditionFailed(e.to_string()),
            ActionError::Store(s) => s.into(),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct ActionPage {
    items: Vec<ActionSummary>,
    next_cursor: Option<String>,
}

fn encode_cursor(sk: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sk)
}

fn decode_cursor(cursor: &str) -> Result<String, ApiError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|s| !s.is_empty() && s.len() <= 300 && !s.contains('~'))
        .ok_or_else(|| ApiError::invalid("cursor", "not a cursor this API returned"))
}

fn summary(ctx: &InstanceContext) -> ActionSummary {
    ctx.summary()
}

/// The filters of `GET /actions` (and of its export): each repeatable, OR within one.
pub(crate) fn filter(q: &QueryParams) -> Result<ActionFilter, ApiError> {
    Ok(ActionFilter {
        assessments: q.parsed("assessment", |s| AssessmentId::parse(s))?,
        groups: q.parsed("group", |s| GroupId::parse(s))?,
        regulations: q.parsed("regulation", |s| RegulationId::parse(s))?,
        owners: q.all("owner"),
        implementation_status: q.parsed("implementation_status", ImplementationStatus::parse)?,
        test_status: q.parsed("test_status", TestStatus::parse)?,
        categories: q.parsed("category", Category::parse)?,
    })
}

pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<ActionPage>, ApiError> {
    let q = QueryParams::parse(raw.as_deref(), LIST_QUERY)?;
    let filter = filter(&q)?;
    let after = q.one("cursor").map(|c| decode_cursor(&c)).transpose()?;
    let limit = q.limit(50, 200)?;
    let page = actions::list(&state.store, &caller.0.tenant, &filter, after, limit).await?;
    Ok(Json(ActionPage {
        items: page.items.iter().map(summary).collect(),
        next_cursor: page.next.as_deref().map(encode_cursor),
    }))
}

#[derive(Serialize)]
pub(crate) struct UsedBy {
    assessment_id: AssessmentId,
    name: String,
    regulation_id: RegulationId,
}

#[derive(Serialize)]
pub(crate) struct ActionDetail {
    #[serde(flatten)]
    summary: ActionSummary,
    guidance: String,
    implementation_notes: String,
    test_notes: String,
    group_id: Option<GroupId>,
    assessments: Vec<UsedBy>,
}

pub(super) fn detail(ctx: &InstanceContext) -> Response {
    let body = ActionDetail {
        summary: summary(ctx),
        guidance: ctx.def.guidance.clone(),
        implementation_notes: ctx.status.implementation_notes.clone(),
        test_notes: ctx.status.test_notes.clone(),
        group_id: match &ctx.instance.scope {
            InstanceScope::Group(g) => Some(g.clone()),
            InstanceScope::Tenant => None,
        },
        assessments: ctx
            .usages
            .iter()
            .map(|u| UsedBy {
                assessment_id: u.assessment_id.clone(),
                name: u.assessment_name.clone(),
                regulation_id: u.regulation_id.clone(),
            })
            .collect(),
    };
    versioned_json(StatusCode::OK, ctx.version, body)
}

pub(crate) async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = actions::find_instance(&state.store, &caller.0.tenant, &id).await?;
    Ok(detail(&ctx))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(patch): JsonBody<ActionPatch>,
) -> Result<Response, ApiError> {
    let expected = if_match(&headers)?;
    let ctx = actions::update(&state, &caller.0, &id, &patch, expected).await?;
    Ok(detail(&ctx))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Assign {
    action_ids: Vec<String>,
    owner: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct AssignResult {
    items: Vec<ActionSummary>,
}

pub(crate) async fn assign(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<Assign>,
) -> Result<Json<AssignResult>, ApiError> {
    let changed = actions::assign(&state, &caller.0, &body.action_ids, body.owner).await?;
    Ok(Json(AssignResult {
        items: changed.iter().map(summary).collect(),
    }))
}

#[derive(Serialize)]
pub(crate) struct HistoryList {
    items: Vec<attest_domain::history::HistoryEntry>,
}

pub(crate) async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<HistoryList>, ApiError> {
    let q = QueryParams::parse(raw.as_deref(), HISTORY_QUERY)?;
    let limit = q.limit(100, 1000)?;
    let items = actions::history(&state.store, &caller.0.tenant, &id, limit).await?;
    Ok(Json(HistoryList { items }))
}

#[derive(Serialize)]
pub(crate) struct RelatedList {
    items: Vec<ControlRef>,
}

pub(crate) async fn related_controls(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<RelatedList>, ApiError> {
    let q = QueryParams::parse(raw.as_deref(), RELATED_QUERY)?;
    let only = q.parsed("regulation", |s| RegulationId::parse(s))?;
    let items = actions::related_controls(&state.store, &caller.0.tenant, &id, &only).await?;
    Ok(Json(RelatedList { items }))
}
