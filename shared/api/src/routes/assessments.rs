//! Assessments: create, list, detail, controls with filters, archive, delete.

use std::collections::BTreeMap;

use attest_domain::action::InstanceRef;
use attest_domain::assessment::{normalize_services, Assessment};
use attest_domain::evidence::Evidence;
use attest_domain::group::GroupName;
use attest_domain::identity::Permission;
use attest_domain::ids::{new_id, AssessmentId, GroupId, RegulationId};
use attest_domain::vocab::{ImplementationStatus, TestStatus};
use attest_store::{StoreError, Versioned};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::body::{bounded, JsonBody, DEFAULT_BODY_LIMIT};
use crate::claims::Caller;
use crate::etag::versioned_json;
use crate::query::QueryParams;
use crate::routes::groups::{check_copy_source, copy_instances, new_group_named};
use crate::usecases::catalog::Catalog;
use crate::usecases::views::{
    assessment_view, controls_view, AssessmentView, ControlFilter, ControlView, ProgressView,
    ResolvedActions, ScoreView,
};
use crate::usecases::workspace::Workspace;
use crate::{ApiError, AppState, BASE_PATH};

pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route(&format!("{BASE_PATH}/assessments"), get(list).post(create))
        .route(
            &format!("{BASE_PATH}/assessments/{{id}}"),
            get(show).delete(remove),
        )
        .route(
            &format!("{BASE_PATH}/assessments/{{id}}/controls"),
            get(controls),
        )
        .route(
            &format!("{BASE_PATH}/assessments/{{id}}/archive"),
            post(archive),
        )
        .route(
            &format!("{BASE_PATH}/assessments/{{id}}/evidence"),
            get(evidence),
        )
        .with_state(state);
    bounded(routes, DEFAULT_BODY_LIMIT)
}

/// Query parameters of `GET /assessments` and `GET /assessments/{id}/controls`.
pub const LIST_QUERY: &[&str] = &["include_archived"];
pub const CONTROLS_QUERY: &[&str] = &[
    "article",
    "control",
    "owner",
    "implementation_status",
    "test_status",
];

fn assessment_id(raw: &str) -> Result<AssessmentId, ApiError> {
    AssessmentId::parse(raw).map_err(|_| ApiError::NotFound(format!("assessment {raw}")))
}

fn with_etag(status: StatusCode, view: AssessmentView) -> Response {
    versioned_json(status, view.version, view)
}

/// What an archived assessment froze.
#[derive(Serialize, Deserialize)]
struct Snapshot {
    assessment: AssessmentView,
    controls: Vec<ControlView>,
    /// Evidence of each action instance, by instance id.
    #[serde(default)]
    evidence: BTreeMap<String, Vec<Evidence>>,
}

/// The evidence of every action an assessment uses (one query per action).
async fn evidence_of(
    state: &AppState,
    caller: &Caller,
    controls: &[ControlView],
) -> Result<BTreeMap<String, Vec<Evidence>>, ApiError> {
    let mut out = BTreeMap::new();
    for action in controls.iter().flat_map(|c| c.actions.iter()) {
        if out.contains_key(&action.id) {
            continue;
        }
        let instance = InstanceRef::parse(&action.id)
            .ok_or_else(|| ApiError::Internal(format!("bad instance id {}", action.id)))?;
        let items = state
            .store
            .list_evidence(&caller.0.tenant, &instance)
            .await?;
        out.insert(action.id.clone(), items);
    }
    out.retain(|_, v: &mut Vec<Evidence>| !v.is_empty());
    Ok(out)
}

#[derive(Serialize)]
struct AssessmentEvidence {
    assessment_id: AssessmentId,
    archived: bool,
    /// Evidence by action instance id.
    items: BTreeMap<String, Vec<Evidence>>,
}

async fn evidence(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<AssessmentEvidence>, ApiError> {
    caller.require(Permission::Read)?;
    let a = state
        .store
        .get_assessment(&caller.0.tenant, &assessment_id(&id)?)
        .await?;
    let items = if a.value.is_archived() {
        snapshot(&state, &caller, &a.value.id).await?.evidence
    } else {
        let (_, controls) = live_view(&state, &caller, &a).await?;
        evidence_of(&state, &caller, &controls).await?
    };
    let archived = a.value.is_archived();
    Ok(Json(AssessmentEvidence {
        assessment_id: a.value.id,
        archived,
        items,
    }))
}

async fn snapshot(
    state: &AppState,
    caller: &Caller,
    id: &AssessmentId,
) -> Result<Snapshot, ApiError> {
    let value = state.store.get_snapshot(&caller.0.tenant, id).await?;
    serde_json::from_value(value).map_err(|e| ApiError::Internal(format!("snapshot of {id}: {e}")))
}

/// The live view of one assessment and its controls.
async fn live_view(
    state: &AppState,
    caller: &Caller,
    a: &Versioned<Assessment>,
) -> Result<(AssessmentView, Vec<ControlView>), ApiError> {
    let tenant = &caller.0.tenant;
    let group = state.store.get_group(tenant, &a.value.group_id).await?;
    let catalog = Catalog::load_for(&state.store, tenant, [&a.value.regulation_id]).await?;
    let regulation = catalog.regulation(&a.value.regulation_id).ok_or_else(|| {
        ApiError::Internal(format!(
            "assessment {} uses missing regulation {}",
            a.value.id, a.value.regulation_id
        ))
    })?;
    let statuses = state
        .store
        .list_instances_for_group(tenant, &a.value.group_id)
        .await?;
    let resolved = ResolvedActions::new(regulation, &a.value.group_id, &catalog, &statuses);
    Ok((
        assessment_view(a, group.value.name.as_str(), regulation, &resolved),
        controls_view(regulation, &resolved),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateAssessment {
    regulation_id: RegulationId,
    group_id: Option<GroupId>,
    group_name: Option<GroupName>,
    copy_from: Option<GroupId>,
    services: Vec<String>,
    name: Option<String>,
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<CreateAssessment>,
) -> Result<Response, ApiError> {
    caller.require(Permission::ManageAssessments)?;
    let tenant = &caller.0.tenant;
    let services = normalize_services(&body.services)?;
    let catalog = Catalog::load_for(&state.store, tenant, [&body.regulation_id]).await?;
    let regulation = catalog.regulation(&body.regulation_id).ok_or_else(|| {
        ApiError::invalid(
            "regulation_id",
            format!("no regulation {}", body.regulation_id),
        )
    })?;
    let name = match body.name.as_deref().map(str::trim) {
        Some("") => return Err(ApiError::invalid("name", "must not be empty")),
        Some(n) if n.chars().count() > 200 => {
            return Err(ApiError::invalid("name", "must be at most 200 characters"))
        }
        Some(n) => n.to_owned(),
        None => format!("{} - {}", services.join(", "), regulation.name),
    };
    let mut new_group = None;
    let group_id = match (body.group_id, body.group_name) {
        (Some(id), None) => {
            if body.copy_from.is_some() {
                return Err(ApiError::invalid(
                    "copy_from",
                    "only a new group (group_name) can copy from another group",
                ));
            }
            state
                .store
                .get_group(tenant, &id)
                .await
                .map_err(|e| match e {
                    StoreError::NotFound(_) => {
                        ApiError::invalid("group_id", format!("no group {id}"))
                    }
                    other => other.into(),
                })?;
            id
        }
        (None, Some(group_name)) => {
            if let Some(source) = &body.copy_from {
                check_copy_source(&state, tenant, source).await?;
            }
            let group = new_group_named(&caller, group_name);
            let id = group.id.clone();
            new_group = Some(group);
            id
        }
        _ => {
            return Err(ApiError::invalid(
                "group_id",
                "give either group_id (an existing group) or group_name (a new one)",
            ))
        }
    };
    let assessment = Assessment {
        id: AssessmentId::parse(new_id()).expect("generated ids are valid"),
        name,
        group_id,
        regulation_id: body.regulation_id,
        services,
        created_at: chrono::Utc::now(),
        archived_at: None,
    };
    let created = state
        .store
        .create_assessment(tenant, &assessment, new_group.as_ref())
        .await
        .map_err(|e| match e {
            StoreError::NotFound(what) => ApiError::invalid("group_id", format!("no {what}")),
            other => other.into(),
        })?;
    if let (Some(group), Some(source)) = (&new_group, &body.copy_from) {
        copy_instances(&state, &caller, source, &group.id).await?;
    }
    tracing::info!(tenant = %tenant, assessment = %created.value.id, regulation = %created.value.regulation_id, "assessment created");
    let (view, _) = live_view(&state, &caller, &created).await?;
    let mut response = with_etag(StatusCode::CREATED, view);
    if let Ok(v) = format!("{BASE_PATH}/assessments/{}", created.value.id).parse() {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

#[derive(Serialize)]
struct AssessmentList {
    items: Vec<AssessmentView>,
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<AssessmentList>, ApiError> {
    caller.require(Permission::Read)?;
    let q = QueryParams::parse(raw.as_deref(), LIST_QUERY)?;
    let include_archived = q.flag("include_archived")?;
    let ws = Workspace::load(&state.store, &caller.0.tenant).await?;
    let mut items = Vec::new();
    for a in &ws.assessments {
        if a.value.is_archived() {
            if include_archived {
                items.push(snapshot(&state, &caller, &a.value.id).await?.assessment);
            }
            continue;
        }
        if let Some((regulation, resolved)) = ws.resolve(&a.value) {
            items.push(assessment_view(
                a,
                ws.group_name(&a.value.group_id),
                regulation,
                &resolved,
            ));
        }
    }
    Ok(Json(AssessmentList { items }))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Permission::Read)?;
    let a = state
        .store
        .get_assessment(&caller.0.tenant, &assessment_id(&id)?)
        .await?;
    let view = if a.value.is_archived() {
        snapshot(&state, &caller, &a.value.id).await?.assessment
    } else {
        live_view(&state, &caller, &a).await?.0
    };
    Ok(with_etag(StatusCode::OK, view))
}

#[derive(Serialize)]
struct ControlList {
    assessment_id: AssessmentId,
    archived: bool,
    score: ScoreView,
    progress: ProgressView,
    items: Vec<ControlView>,
}

async fn controls(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<ControlList>, ApiError> {
    caller.require(Permission::Read)?;
    let q = QueryParams::parse(raw.as_deref(), CONTROLS_QUERY)?;
    let filter = ControlFilter {
        article: q.all("article"),
        control: q.all("control"),
        owner: q.all("owner"),
        implementation_status: q.parsed("implementation_status", ImplementationStatus::parse)?,
        test_status: q.parsed("test_status", TestStatus::parse)?,
    };
    let a = state
        .store
        .get_assessment(&caller.0.tenant, &assessment_id(&id)?)
        .await?;
    let (view, controls) = if a.value.is_archived() {
        let s = snapshot(&state, &caller, &a.value.id).await?;
        (s.assessment, s.controls)
    } else {
        live_view(&state, &caller, &a).await?
    };
    Ok(Json(ControlList {
        assessment_id: view.id,
        archived: view.archived,
        score: view.score,
        progress: view.progress,
        items: controls.into_iter().filter(|c| filter.matches(c)).collect(),
    }))
}

async fn archive(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Permission::ManageAssessments)?;
    let a = state
        .store
        .get_assessment(&caller.0.tenant, &assessment_id(&id)?)
        .await?;
    a.value.ensure_live()?;
    let (mut view, controls) = live_view(&state, &caller, &a).await?;
    let at = chrono::Utc::now();
    view.archived = true;
    view.archived_at = Some(at);
    view.version = a.version + 1;
    // Evidence the archive links to outlives its removal from the live action.
    let mut evidence = evidence_of(&state, &caller, &controls).await?;
    for items in evidence.values_mut() {
        for e in items.iter_mut() {
            let current = state.store.get_evidence(&caller.0.tenant, &e.id).await?;
            let mut next = current.value.clone();
            next.archived_in.push(a.value.id.to_string());
            state
                .store
                .update_evidence(&caller.0.tenant, &current, &next, &[])
                .await?;
            *e = next;
        }
    }
    let snapshot = serde_json::to_value(Snapshot {
        assessment: view.clone(),
        controls,
        evidence,
    })
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    state
        .store
        .archive_assessment(&caller.0.tenant, &a, at, &snapshot)
        .await?;
    tracing::info!(tenant = %caller.0.tenant, assessment = %a.value.id, "assessment archived");
    Ok(with_etag(StatusCode::OK, view))
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::ManageAssessments)?;
    let a = state
        .store
        .get_assessment(&caller.0.tenant, &assessment_id(&id)?)
        .await?;
    // An archive is the record of what was assessed: it is kept.
    a.value.ensure_live()?;
    state.store.delete_assessment(&caller.0.tenant, &a).await?;
    tracing::info!(tenant = %caller.0.tenant, assessment = %a.value.id, "assessment deleted");
    Ok(StatusCode::NO_CONTENT)
}
