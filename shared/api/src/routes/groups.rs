//! Assessment groups: `GET /groups`, `POST /groups`, `PATCH /groups/{id}`.

use attest_domain::action::{diff, ActionStatus, InstanceRef, InstanceScope};
use attest_domain::group::{AssessmentGroup, GroupName};
use std::collections::BTreeSet;

use attest_domain::evidence::{Evidence, EvidenceKind};
use attest_domain::history::Source;
use attest_domain::identity::Permission;
use attest_domain::ids::{new_id, GroupId};
use attest_store::instances::InstanceUpdate;
use attest_store::{StoreError, Versioned};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::body::{bounded, JsonBody, DEFAULT_BODY_LIMIT};
use crate::claims::Caller;
use crate::etag::{if_match, versioned_json};
use crate::usecases::evidence::{history_entry, summary};
use crate::usecases::workspace::Workspace;
use crate::{ApiError, AppState, BASE_PATH};

pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route(&format!("{BASE_PATH}/groups"), get(list).post(create))
        .route(
            &format!("{BASE_PATH}/groups/{{id}}"),
            patch(rename).get(show),
        )
        .with_state(state);
    bounded(routes, DEFAULT_BODY_LIMIT)
}

#[derive(Serialize)]
pub struct GroupView {
    pub id: GroupId,
    pub name: String,
    pub version: u64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub created_by: String,
}

impl From<Versioned<AssessmentGroup>> for GroupView {
    fn from(g: Versioned<AssessmentGroup>) -> Self {
        Self {
            id: g.value.id,
            name: g.value.name.as_str().to_owned(),
            version: g.version,
            created_at: g.value.created_at,
            created_by: g.value.created_by,
        }
    }
}

fn single(status: StatusCode, group: Versioned<AssessmentGroup>) -> Response {
    let location = format!("{BASE_PATH}/groups/{}", group.value.id);
    let mut response = versioned_json(status, group.version, GroupView::from(group));
    if status == StatusCode::CREATED {
        if let Ok(v) = location.parse() {
            response.headers_mut().insert(header::LOCATION, v);
        }
    }
    response
}

/// A path id that is not a valid id cannot name a stored group: 404, like any unknown id.
fn group_id(raw: &str) -> Result<GroupId, ApiError> {
    GroupId::parse(raw).map_err(|_| ApiError::NotFound(format!("group {raw}")))
}

#[derive(Serialize)]
pub struct GroupList {
    pub items: Vec<GroupView>,
}

async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<GroupList>, ApiError> {
    caller.require(Permission::Read)?;
    let groups = state.store.list_groups(&caller.0.tenant).await?;
    Ok(Json(GroupList {
        items: groups.into_iter().map(GroupView::from).collect(),
    }))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Permission::Read)?;
    let group = state
        .store
        .get_group(&caller.0.tenant, &group_id(&id)?)
        .await?;
    Ok(single(StatusCode::OK, group))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateGroup {
    name: GroupName,
    /// A group whose shared non-technical actions' owners, statuses, dates, notes and
    /// evidence links the new group starts from.
    copy_from: Option<GroupId>,
}

/// Creates a group; with `copy_from`, its shared non-technical actions start from that
/// group's owners, statuses, dates and notes (recorded in history with source `import`).
/// Checks that `copy_from` names one of the tenant's groups (422 naming it otherwise).
pub async fn check_copy_source(
    state: &AppState,
    tenant: &attest_domain::ids::TenantId,
    source: &GroupId,
) -> Result<(), ApiError> {
    state
        .store
        .get_group(tenant, source)
        .await
        .map(|_| ())
        .map_err(|e| match e {
            StoreError::NotFound(_) => {
                ApiError::invalid("copy_from", format!("no group {source} to copy from"))
            }
            other => other.into(),
        })
}

/// A new group, not stored yet.
pub fn new_group_named(caller: &Caller, name: GroupName) -> AssessmentGroup {
    AssessmentGroup {
        id: GroupId::parse(new_id()).expect("generated ids are valid"),
        name,
        created_at: chrono::Utc::now(),
        created_by: caller.0.user.to_string(),
    }
}

pub async fn create_group_named(
    state: &AppState,
    caller: &Caller,
    name: GroupName,
    copy_from: Option<GroupId>,
) -> Result<Versioned<AssessmentGroup>, ApiError> {
    let tenant = &caller.0.tenant;
    if let Some(source) = &copy_from {
        check_copy_source(state, tenant, source).await?;
    }
    let group = new_group_named(caller, name);
    let created = state.store.create_group(tenant, &group).await?;
    tracing::info!(tenant = %tenant, group = %created.value.id, "group created");
    if let Some(source) = &copy_from {
        let copied = copy_instances(state, caller, source, &created.value.id).await?;
        tracing::info!(tenant = %tenant, group = %created.value.id, from = %source, copied, "group instances copied");
    }
    Ok(created)
}

pub async fn copy_instances(
    state: &AppState,
    caller: &Caller,
    from: &GroupId,
    to: &GroupId,
) -> Result<usize, ApiError> {
    let tenant = &caller.0.tenant;
    let now = chrono::Utc::now();
    let mut updates = Vec::new();
    for (instance, status) in state.store.list_instances_for_group(tenant, from).await? {
        if instance.scope != InstanceScope::Group(from.clone()) {
            continue;
        }
        let blank = ActionStatus::blank(status.value.testing_type);
        let history = diff(&blank, &status.value)
            .into_iter()
            .map(|c| c.into_entry(now, caller.0.user.as_str(), Source::Import))
            .collect();
        updates.push(InstanceUpdate {
            instance: InstanceRef {
                action: instance.action,
                scope: InstanceScope::Group(to.clone()),
            },
            expected_version: 0,
            status: status.value,
            history,
        });
    }
    let count = updates.len();
    let mut batch: Vec<InstanceUpdate> = Vec::new();
    for u in updates {
        if batch.iter().map(InstanceUpdate::ops).sum::<usize>() + u.ops()
            > attest_store::backend::MAX_TRANSACTION_OPS
        {
            state.store.update_instances(tenant, &batch).await?;
            batch.clear();
        }
        batch.push(u);
    }
    if !batch.is_empty() {
        state.store.update_instances(tenant, &batch).await?;
    }
    copy_evidence_links(state, caller, from, to).await?;
    Ok(count)
}

/// Evidence links of the source group's shared actions point at the same pages for the new
/// group. (Uploaded files stay with the group that uploaded them.)
async fn copy_evidence_links(
    state: &AppState,
    caller: &Caller,
    from: &GroupId,
    to: &GroupId,
) -> Result<(), ApiError> {
    let tenant = &caller.0.tenant;
    let ws = Workspace::load(&state.store, tenant).await?;
    let mut actions = BTreeSet::new();
    for a in ws.live().filter(|a| &a.value.group_id == from) {
        if let Some((_, resolved)) = ws.resolve(&a.value) {
            actions.extend(
                resolved
                    .entries
                    .values()
                    .filter(|e| e.instance.scope == InstanceScope::Group(from.clone()))
                    .map(|e| e.instance.action.clone()),
            );
        }
    }
    let now = chrono::Utc::now();
    for action in actions {
        let source = InstanceRef {
            action: action.clone(),
            scope: InstanceScope::Group(from.clone()),
        };
        let target = InstanceRef {
            action,
            scope: InstanceScope::Group(to.clone()),
        };
        for link in state
            .store
            .list_evidence(tenant, &source)
            .await?
            .into_iter()
            .filter(|e| e.kind == EvidenceKind::Link)
        {
            let copy = Evidence {
                id: new_id(),
                action: target.api_id(),
                created_by: caller.0.user.to_string(),
                created_at: now,
                archived_in: Vec::new(),
                ..link
            };
            let entry = history_entry(
                caller.0.user.as_str(),
                Source::Import,
                serde_json::Value::Null,
                summary(&copy),
            );
            state.store.add_evidence(tenant, &copy, &[entry]).await?;
        }
    }
    Ok(())
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<CreateGroup>,
) -> Result<Response, ApiError> {
    caller.require(Permission::ManageAssessments)?;
    let created = create_group_named(&state, &caller, body.name, body.copy_from).await?;
    Ok(single(StatusCode::CREATED, created))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RenameGroup {
    name: GroupName,
}

async fn rename(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<RenameGroup>,
) -> Result<Response, ApiError> {
    caller.require(Permission::EditData)?;
    let expected = if_match(&headers)?;
    let renamed = state
        .store
        .rename_group(&caller.0.tenant, &group_id(&id)?, body.name, expected)
        .await?;
    Ok(single(StatusCode::OK, renamed))
}
