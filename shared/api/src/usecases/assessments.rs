//! Assessments: create (in an existing group or a new one), list, read, controls with filters,
//! evidence, archive (a frozen snapshot) and delete. Each live assessment keeps the usage
//! index of the instances it uses current (see `attest_store::usage`).

use std::collections::BTreeMap;

use super::views::stored_view;
use attest_domain::action::InstanceRef;
use attest_domain::assessment::{normalize_services, Assessment};
use attest_domain::event::{EventType, Subject};
use attest_domain::evidence::Evidence;
use attest_domain::group::GroupName;
use attest_domain::identity::Identity;
use attest_domain::ids::{new_id, AssessmentId, GroupId, RegulationId, TenantId};
use attest_domain::snapshot::{FrozenControl, Snapshot, SNAPSHOT_FORMAT};
use attest_domain::{DomainError, FieldError};
use attest_store::groups::NewGroup;
use attest_store::scores::{ScoreRecord, ScoreScope};
use attest_store::usage::Usage;
use attest_store::{StoreError, Versioned};
use serde::Deserialize;

use super::catalog::Catalog;
use super::groups::{self, GroupError};
use super::views::{
    assessment_view, controls_view, AssessmentView, ControlFilter, ControlView, ResolvedActions,
};
use crate::AppState;

/// What can go wrong with assessments.
#[derive(Debug, thiserror::Error)]
pub enum AssessmentError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("invalid {}: {}", .0.field, .0.message)]
    Invalid(FieldError),
    /// A rule of the current state: archived, a (regulation, service) pair taken, a name taken.
    #[error("{0}")]
    Conflict(String),
    /// Stored data that does not hold together (a missing template, an unreadable snapshot).
    #[error("{0}")]
    Broken(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AssessmentError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => AssessmentError::NotFound(what),
            StoreError::Conflict(m) => AssessmentError::Conflict(m),
            other => AssessmentError::Store(other),
        }
    }
}

impl From<DomainError> for AssessmentError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid(f) => AssessmentError::Invalid(f),
            DomainError::Conflict(m) => AssessmentError::Conflict(m),
        }
    }
}

impl From<GroupError> for AssessmentError {
    fn from(e: GroupError) -> Self {
        match e {
            GroupError::NotFound(what) => AssessmentError::NotFound(what),
            GroupError::Invalid(f) => AssessmentError::Invalid(f),
            GroupError::Conflict(m) => AssessmentError::Conflict(m),
            GroupError::Stale { .. } => AssessmentError::Conflict(e.to_string()),
            GroupError::Store(s) => AssessmentError::Store(s),
        }
    }
}

fn invalid(field: &str, message: impl Into<String>) -> AssessmentError {
    AssessmentError::Invalid(FieldError::new(field, message))
}

/// A path id that is not a valid id cannot name a stored assessment: not found.
pub fn parse_id(raw: &str) -> Result<AssessmentId, AssessmentError> {
    AssessmentId::parse(raw).map_err(|_| AssessmentError::NotFound(format!("assessment {raw}")))
}

/// Longest assessment name.
pub const MAX_NAME_CHARS: usize = 200;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAssessment {
    pub regulation_id: RegulationId,
    pub group_id: Option<GroupId>,
    pub group_name: Option<GroupName>,
    pub copy_from: Option<GroupId>,
    pub services: Vec<String>,
    /// Connector instances for its services (default: every instance of them).
    #[serde(default)]
    pub connectors: Option<Vec<String>>,
    pub name: Option<String>,
}

/// The connector instances an assessment chose: each one of the tenant's connectors, of a
/// service the assessment covers; named once each.
async fn choose_connectors(
    state: &AppState,
    tenant: &TenantId,
    services: &[String],
    ids: &[String],
) -> Result<Vec<String>, AssessmentError> {
    if ids.is_empty() {
        return Err(invalid(
            "connectors",
            "choose at least one connector, or leave connectors out to use every instance of the services",
        ));
    }
    let existing = state.store.list_connectors(tenant).await?;
    let mut chosen: Vec<String> = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        let field = format!("connectors[{i}]");
        let Some(c) = existing.iter().find(|c| &c.value.id == id) else {
            return Err(invalid(&field, format!("no connector {id}")));
        };
        if !services.contains(&c.value.service) {
            return Err(invalid(
                &field,
                format!(
                    "connector {id} is for service {}, which the assessment does not cover",
                    c.value.service
                ),
            ));
        }
        if chosen.contains(id) {
            return Err(invalid(&field, format!("connector {id} is named twice")));
        }
        chosen.push(id.clone());
    }
    Ok(chosen)
}

/// The instances an assessment uses, as usage items.
pub fn usages(catalog: &Catalog, a: &Assessment) -> Vec<Usage> {
    let Some(regulation) = catalog.regulation(&a.regulation_id) else {
        return Vec::new();
    };
    regulation
        .action_ids()
        .into_iter()
        .filter_map(|id| catalog.action(id))
        .filter(|def| def.applies_to(&a.services))
        .map(|def| Usage {
            action_id: def.id.clone(),
            scope: def.scope_in(&a.group_id),
            assessment_id: a.id.clone(),
            assessment_name: a.name.clone(),
            regulation_id: a.regulation_id.clone(),
            group_id: a.group_id.clone(),
        })
        .collect()
}

/// Mends the usage index of assessments whose change was cut short (marker older than a
/// minute): a live assessment gets its usage items back; otherwise the marker goes.
pub async fn mend_usage_index(state: &AppState, tenant: &TenantId) -> Result<(), AssessmentError> {
    let before = state.now() - chrono::TimeDelta::minutes(1);
    for mark in state.store.pending_usage_marks(tenant, before).await? {
        tracing::warn!(tenant = %tenant, assessment = %mark.assessment_id, "mending a usage index cut short");
        // One that cannot be mended now is tried again next time; it never blocks the
        // request that found it.
        if let Err(e) = mend_one(state, tenant, &mark.assessment_id).await {
            tracing::warn!(tenant = %tenant, assessment = %mark.assessment_id, error = %e, "usage index not mended yet");
        }
    }
    Ok(())
}

async fn mend_one(
    state: &AppState,
    tenant: &TenantId,
    id: &AssessmentId,
) -> Result<(), AssessmentError> {
    match state.store.get_assessment(tenant, id).await {
        Ok(a) if !a.value.is_archived() => {
            let catalog = Catalog::load_for(&state.store, tenant, [&a.value.regulation_id]).await?;
            let uses = usages(&catalog, &a.value);
            Ok(state.store.put_usages(tenant, &a.value.id, &uses).await?)
        }
        Ok(_) | Err(StoreError::NotFound(_)) => {
            Ok(state.store.clear_usage_mark(tenant, id).await?)
        }
        Err(e) => Err(e.into()),
    }
}

/// The event of an assessment's creation, archive or deletion.
fn assessment_event(
    state: &AppState,
    caller: &Identity,
    kind: EventType,
    a: &Assessment,
) -> attest_domain::event::Event {
    super::events::by(
        state,
        caller,
        kind,
        Subject::new("assessment", a.id.as_str()),
        serde_json::json!({
            "name": a.name,
            "group": a.group_id,
            "regulation": a.regulation_id,
            "regulations": [a.regulation_id],
            "services": a.services,
        }),
    )
}

/// `POST /assessments`: in an existing group (`group_id`) or a new one (`group_name`, which
/// may `copy_from` another group). The new group and the assessment land in one transaction.
pub async fn create(
    state: &AppState,
    caller: &Identity,
    body: CreateAssessment,
) -> Result<AssessmentView, AssessmentError> {
    let tenant = &caller.tenant;
    let services = normalize_services(&body.services)?;
    let connectors = match &body.connectors {
        Some(ids) => Some(choose_connectors(state, tenant, &services, ids).await?),
        None => None,
    };
    let catalog = Catalog::load_for(&state.store, tenant, [&body.regulation_id]).await?;
    let regulation = catalog.regulation(&body.regulation_id).ok_or_else(|| {
        invalid(
            "regulation_id",
            format!("no regulation {}", body.regulation_id),
        )
    })?;
    let name = match body.name.as_deref().map(str::trim) {
        Some("") => return Err(invalid("name", "must not be empty")),
        Some(n) if n.chars().count() > MAX_NAME_CHARS => {
            return Err(invalid(
                "name",
                format!("must be at most {MAX_NAME_CHARS} characters"),
            ))
        }
        Some(n) => n.to_owned(),
        None => format!("{} - {}", services.join(", "), regulation.name),
    };
    mend_usage_index(state, tenant).await?;
    let (group_id, new_group, group_name) = match (body.group_id, body.group_name) {
        (Some(id), None) => {
            if body.copy_from.is_some() {
                return Err(invalid(
                    "copy_from",
                    "only a new group (group_name) can copy from another group",
                ));
            }
            let existing = match state.store.get_group(tenant, &id).await {
                Ok(g) => g,
                Err(StoreError::NotFound(_)) => {
                    return Err(invalid("group_id", format!("no group {id}")))
                }
                Err(e) => return Err(e.into()),
            };
            (id, None, existing.value.name)
        }
        (None, Some(group_name)) => {
            groups::finish_copies(state, caller).await?;
            if let Some(source) = &body.copy_from {
                groups::check_copy_source(state, tenant, source).await?;
            }
            let group = groups::new_group(state, caller, group_name.clone());
            (group.id.clone(), Some(group), group_name)
        }
        _ => {
            return Err(invalid(
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
        created_at: state.now(),
        connectors,
        archived_at: None,
    };
    let new = new_group.as_ref().map(|group| NewGroup {
        group,
        copy_from: body.copy_from.as_ref(),
    });
    let uses = usages(&catalog, &assessment);
    let mut events = vec![assessment_event(
        state,
        caller,
        EventType::AssessmentCreated,
        &assessment,
    )];
    if let Some(group) = &new_group {
        events.push(groups::created_event(
            state,
            caller,
            group,
            body.copy_from.as_ref(),
        ));
    }
    let created = state
        .store
        .create_assessment(tenant, &assessment, new, &uses, &events)
        .await
        .map_err(|e| match e {
            StoreError::NotFound(what) => invalid("group_id", format!("no {what}")),
            other => other.into(),
        })?;
    if let (Some(group), Some(source)) = (&new_group, &body.copy_from) {
        groups::copy_or_leave_to_finish(state, caller, source, &group.id).await;
    }
    tracing::info!(tenant = %tenant, assessment = %assessment.id, regulation = %assessment.regulation_id, "assessment created");
    super::connectors::assessment_created(state, tenant, &assessment.services).await;
    // A new assessment's instances are those of its group: read them once for its view.
    let statuses = state
        .store
        .list_instances_for_group(tenant, &assessment.group_id)
        .await?;
    let resolved = ResolvedActions::new(regulation, &assessment, &catalog, &statuses);
    Ok(assessment_view(
        &created,
        group_name.as_str(),
        regulation,
        &resolved,
    ))
}

/// One page of `GET /assessments`, and where the next starts.
pub struct AssessmentPage {
    pub items: Vec<AssessmentView>,
    pub next: Option<String>,
}

/// `GET /assessments`: the tenant's assessments with score and progress, in id order, a page
/// at a time (archived ones from their snapshot with `include_archived`). A page reads its
/// assessments (one query), their groups (one batch), their templates, the tenant-wide
/// instances (one query) and each of its groups' own instances (one query per group).
pub async fn list(
    state: &AppState,
    tenant: &TenantId,
    include_archived: bool,
    after: Option<String>,
    limit: usize,
) -> Result<AssessmentPage, AssessmentError> {
    let mut chosen: Vec<Versioned<Assessment>> = Vec::new();
    let mut cursor = after;
    let next = loop {
        let (page, next) = state
            .store
            .assessment_page(tenant, cursor.clone(), limit + 1 - chosen.len())
            .await?;
        chosen.extend(
            page.into_iter()
                .filter(|a| include_archived || !a.value.is_archived()),
        );
        if chosen.len() > limit {
            chosen.truncate(limit);
            break chosen.last().map(|a| a.value.id.to_string());
        }
        match next {
            Some(n) => cursor = Some(n),
            None => break None,
        }
    };
    if let Some(items) = stored_page(state, tenant, &chosen).await? {
        return Ok(AssessmentPage { items, next });
    }
    let live: Vec<&Versioned<Assessment>> =
        chosen.iter().filter(|a| !a.value.is_archived()).collect();
    let mut group_ids: Vec<&GroupId> = live.iter().map(|a| &a.value.group_id).collect();
    group_ids.sort();
    group_ids.dedup();
    let groups: BTreeMap<GroupId, String> = state
        .store
        .get_groups(tenant, &group_ids)
        .await?
        .into_iter()
        .map(|g| (g.value.id, g.value.name.as_str().to_owned()))
        .collect();
    let catalog = Catalog::load_for(
        &state.store,
        tenant,
        live.iter().map(|a| &a.value.regulation_id),
    )
    .await?;
    let shared = if live.is_empty() {
        Default::default()
    } else {
        state.store.list_tenant_instances(tenant).await?
    };
    let mut own = BTreeMap::new();
    for g in group_ids {
        own.insert(
            g.clone(),
            state.store.list_group_instances(tenant, g).await?,
        );
    }
    let mut items = Vec::with_capacity(chosen.len());
    for a in &chosen {
        if a.value.is_archived() {
            items.push(snapshot(state, tenant, &a.value.id).await?.0);
            continue;
        }
        let Some(regulation) = catalog.regulation(&a.value.regulation_id) else {
            tracing::warn!(assessment = %a.value.id, "an assessment uses a missing regulation");
            continue;
        };
        let mut statuses = shared.clone();
        if let Some(mine) = own.get(&a.value.group_id) {
            statuses.extend(mine.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        let resolved = ResolvedActions::new(regulation, &a.value, &catalog, &statuses);
        let group_name = groups
            .get(&a.value.group_id)
            .map(String::as_str)
            .unwrap_or("");
        items.push(assessment_view(a, group_name, regulation, &resolved));
    }
    Ok(AssessmentPage { items, next })
}

/// A page's views from stored scores (one batch read of the scores, one of the groups, one
/// of the tenant's regulation headers), or `None` when one of them has no stored score yet.
async fn stored_page(
    state: &AppState,
    tenant: &TenantId,
    chosen: &[Versioned<Assessment>],
) -> Result<Option<Vec<AssessmentView>>, AssessmentError> {
    if chosen.is_empty() {
        return Ok(Some(Vec::new()));
    }
    let ids: Vec<&AssessmentId> = chosen.iter().map(|a| &a.value.id).collect();
    let mut group_ids: Vec<&GroupId> = chosen.iter().map(|a| &a.value.group_id).collect();
    group_ids.sort();
    group_ids.dedup();
    let (scores, groups, names) = tokio::try_join!(
        state.store.get_scores(tenant, &ids),
        state.store.get_groups(tenant, &group_ids),
        Catalog::names(
            &state.store,
            tenant,
            chosen.iter().map(|a| &a.value.regulation_id)
        ),
    )?;
    let groups: BTreeMap<GroupId, String> = groups
        .into_iter()
        .map(|g| (g.value.id, g.value.name.as_str().to_owned()))
        .collect();
    let mut items = Vec::with_capacity(chosen.len());
    for (a, score) in chosen.iter().zip(scores) {
        let Some(score) = score else {
            return Ok(None);
        };
        let group = groups.get(&a.value.group_id).map(String::as_str);
        let name = names.get(&a.value.regulation_id).map(String::as_str);
        items.push(stored_view(
            a,
            group.unwrap_or(""),
            name.unwrap_or(""),
            &score,
        ));
    }
    Ok(Some(items))
}

/// An archive's frozen view and controls, and the evidence it links to.
async fn snapshot(
    state: &AppState,
    tenant: &TenantId,
    id: &AssessmentId,
) -> Result<(AssessmentView, Vec<ControlView>, EvidenceById), AssessmentError> {
    let value = state.store.get_snapshot(tenant, id).await?;
    let s: Snapshot = serde_json::from_value(value)
        .map_err(|e| AssessmentError::Broken(format!("snapshot of {id}: {e}")))?;
    Ok((
        s.assessment.into(),
        s.controls.into_iter().map(ControlView::from).collect(),
        s.evidence,
    ))
}

/// The live view of one assessment and its controls: its group, its regulation (with the
/// generated actions it references) and its group's instances.
async fn live_view(
    state: &AppState,
    tenant: &TenantId,
    a: &Versioned<Assessment>,
) -> Result<(AssessmentView, Vec<ControlView>), AssessmentError> {
    let group = state.store.get_group(tenant, &a.value.group_id).await?;
    let catalog = Catalog::load_for(&state.store, tenant, [&a.value.regulation_id]).await?;
    let regulation = catalog.regulation(&a.value.regulation_id).ok_or_else(|| {
        AssessmentError::Broken(format!(
            "assessment {} uses missing regulation {}",
            a.value.id, a.value.regulation_id
        ))
    })?;
    let statuses = state
        .store
        .list_instances_for_group(tenant, &a.value.group_id)
        .await?;
    let resolved = ResolvedActions::new(regulation, &a.value, &catalog, &statuses);
    Ok((
        assessment_view(a, group.value.name.as_str(), regulation, &resolved),
        controls_view(regulation, &resolved),
    ))
}

/// An assessment and its controls, live or frozen.
async fn view(
    state: &AppState,
    tenant: &TenantId,
    id: &str,
) -> Result<(AssessmentView, Vec<ControlView>, Versioned<Assessment>), AssessmentError> {
    let a = state.store.get_assessment(tenant, &parse_id(id)?).await?;
    if a.value.is_archived() {
        let (view, controls, _) = snapshot(state, tenant, &a.value.id).await?;
        Ok((view, controls, a))
    } else {
        let (view, controls) = live_view(state, tenant, &a).await?;
        Ok((view, controls, a))
    }
}

/// `GET /assessments/{id}`: the stored score (`as_of`: the last point at or before it, 404
/// before the first). An assessment not recomputed yet is computed on the spot.
pub async fn show(
    state: &AppState,
    tenant: &TenantId,
    id: &str,
    as_of: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<AssessmentView, AssessmentError> {
    let a = state.store.get_assessment(tenant, &parse_id(id)?).await?;
    let scope = ScoreScope::Assessment(a.value.id.clone());
    let record = match as_of {
        Some(at) => Some(
            state
                .store
                .score_as_of(tenant, &scope, at)
                .await?
                .ok_or_else(|| {
                    AssessmentError::NotFound(format!("a score of assessment {id} at {at}"))
                })?,
        ),
        None => state
            .store
            .get_score(tenant, &scope)
            .await?
            .map(|s| s.value),
    };
    let Some(record) = record else {
        return Ok(view(state, tenant, id).await?.0);
    };
    let (group, names) = tokio::try_join!(
        state.store.get_group(tenant, &a.value.group_id),
        Catalog::names(&state.store, tenant, [&a.value.regulation_id]),
    )?;
    let regulation_name = names
        .get(&a.value.regulation_id)
        .map(String::as_str)
        .unwrap_or("");
    Ok(stored_view(
        &a,
        group.value.name.as_str(),
        regulation_name,
        &record,
    ))
}

/// An assessment's score from current state (live: its group's instances; archived: its
/// snapshot), with its progress, and its regulation.
pub async fn current_score(
    state: &AppState,
    tenant: &TenantId,
    id: &AssessmentId,
) -> Result<(ScoreRecord, String), AssessmentError> {
    let (view, _, _) = view(state, tenant, id.as_str()).await?;
    Ok((
        ScoreRecord {
            at: state.now(),
            achieved: view.score.achieved,
            possible: view.score.possible,
            percent: view.score.percent,
            progress: Some((
                view.progress.controls_total,
                view.progress.controls_assessed,
            )),
            by_category: Vec::new(),
            assessments: None,
        },
        view.regulation_id.to_string(),
    ))
}

/// `GET /assessments/{id}/controls`: the view and the controls that pass the filter.
pub async fn controls(
    state: &AppState,
    tenant: &TenantId,
    id: &str,
    filter: &ControlFilter,
) -> Result<(AssessmentView, Vec<ControlView>), AssessmentError> {
    let (view, controls, _) = view(state, tenant, id).await?;
    Ok((
        view,
        controls.into_iter().filter(|c| filter.matches(c)).collect(),
    ))
}

/// Evidence by action instance id.
pub type EvidenceById = BTreeMap<String, Vec<Evidence>>;

/// How many evidence lists are read at once.
const PARALLEL_READS: usize = 16;

/// The evidence of every action an assessment uses, with versions: one query per action (an
/// action's evidence is one partition), 16 at a time.
async fn evidence_of(
    state: &AppState,
    tenant: &TenantId,
    controls: &[ControlView],
) -> Result<BTreeMap<String, Vec<Versioned<Evidence>>>, AssessmentError> {
    let mut ids: Vec<&str> = controls
        .iter()
        .flat_map(|c| c.actions.iter().map(|a| a.id.as_str()))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out = BTreeMap::new();
    for chunk in ids.chunks(PARALLEL_READS) {
        let mut reads = tokio::task::JoinSet::new();
        for id in chunk {
            let instance = InstanceRef::parse(id)
                .ok_or_else(|| AssessmentError::Broken(format!("bad instance id {id}")))?;
            let (store, tenant, id) = (state.store.clone(), tenant.clone(), id.to_string());
            reads.spawn(async move {
                let items = store.list_evidence_versioned(&tenant, &instance).await;
                (id, items)
            });
        }
        while let Some(done) = reads.join_next().await {
            let (id, items) = done.map_err(|e| AssessmentError::Broken(e.to_string()))?;
            let items = items?;
            if !items.is_empty() {
                out.insert(id, items);
            }
        }
    }
    Ok(out)
}

fn values(evidence: BTreeMap<String, Vec<Versioned<Evidence>>>) -> EvidenceById {
    evidence
        .into_iter()
        .map(|(k, v)| (k, v.into_iter().map(|e| e.value).collect()))
        .collect()
}

/// `GET /assessments/{id}/evidence`: evidence by action instance id (frozen for archives).
pub async fn evidence(
    state: &AppState,
    tenant: &TenantId,
    id: &str,
) -> Result<(AssessmentId, bool, EvidenceById), AssessmentError> {
    let a = state.store.get_assessment(tenant, &parse_id(id)?).await?;
    let items = if a.value.is_archived() {
        snapshot(state, tenant, &a.value.id).await?.2
    } else {
        let (_, controls) = live_view(state, tenant, &a).await?;
        values(evidence_of(state, tenant, &controls).await?)
    };
    let archived = a.value.is_archived();
    Ok((a.value.id, archived, items))
}

/// `POST /assessments/{id}/archive`: freezes a snapshot of the controls, statuses, scores and
/// evidence, marks the evidence as kept by the archive, and ends the assessment's uses.
pub async fn archive(
    state: &AppState,
    caller: &Identity,
    id: &str,
) -> Result<AssessmentView, AssessmentError> {
    let tenant = &caller.tenant;
    mend_usage_index(state, tenant).await?;
    let a = state.store.get_assessment(tenant, &parse_id(id)?).await?;
    a.value.ensure_live()?;
    let (mut view, controls) = live_view(state, tenant, &a).await?;
    let at = state.now();
    view.archived = true;
    view.archived_at = Some(at);
    view.version = a.version + 1;
    // Evidence the archive links to outlives its removal from the live action: the store
    // marks it in the archive's transaction.
    let evidence = evidence_of(state, tenant, &controls).await?;
    let records: Vec<Versioned<Evidence>> = evidence.values().flatten().cloned().collect();
    let mut frozen = values(evidence);
    for e in frozen.values_mut().flatten() {
        if !e.archived_in.contains(&a.value.id) {
            e.archived_in.push(a.value.id.clone());
        }
    }
    let snapshot = serde_json::to_value(Snapshot {
        format: SNAPSHOT_FORMAT,
        assessment: (&view).into(),
        controls: controls.iter().map(FrozenControl::from).collect(),
        evidence: frozen,
    })
    .map_err(|e| AssessmentError::Broken(e.to_string()))?;
    let catalog = Catalog::load_for(&state.store, tenant, [&a.value.regulation_id]).await?;
    let uses = usages(&catalog, &a.value);
    state
        .store
        .archive_assessment(
            tenant,
            &a,
            attest_store::assessments::Archive {
                at,
                snapshot: &snapshot,
                usages: &uses,
                evidence: &records,
                events: &[assessment_event(
                    state,
                    caller,
                    EventType::AssessmentArchived,
                    &a.value,
                )],
            },
        )
        .await?;
    tracing::info!(tenant = %tenant, assessment = %a.value.id, "assessment archived");
    Ok(view)
}

/// `DELETE /assessments/{id}`: a live assessment only (an archive is the record of what was
/// assessed and is kept).
pub async fn delete(state: &AppState, caller: &Identity, id: &str) -> Result<(), AssessmentError> {
    let tenant = &caller.tenant;
    mend_usage_index(state, tenant).await?;
    let a = state.store.get_assessment(tenant, &parse_id(id)?).await?;
    a.value.ensure_live()?;
    let catalog = Catalog::load_for(&state.store, tenant, [&a.value.regulation_id]).await?;
    state
        .store
        .delete_assessment(
            tenant,
            &a,
            &usages(&catalog, &a.value),
            &[assessment_event(
                state,
                caller,
                EventType::AssessmentDeleted,
                &a.value,
            )],
        )
        .await?;
    tracing::info!(tenant = %tenant, assessment = %a.value.id, "assessment deleted");
    Ok(())
}

#[cfg(test)]
mod tests {
    use attest_domain::action::ActionPatch;
    use attest_domain::ids::EvidenceId;

    use super::*;
    use crate::usecases::actions;
    use crate::usecases::testkit::{assess, ports};

    /// Links `n` pages to an action instance.
    async fn links(state: &AppState, caller: &Identity, instance: &str, n: usize) {
        let instance = InstanceRef::parse(instance).unwrap();
        for i in 0..n {
            let link = Evidence::link(
                EvidenceId::generate(),
                instance.clone(),
                &format!("page {i}"),
                &format!("https://intranet.example/p/{i}"),
                &caller.user,
                state.now(),
            );
            state
                .store
                .add_evidence(&caller.tenant, &link, &[], &[])
                .await
                .unwrap();
        }
    }

    fn owner(o: &str) -> ActionPatch {
        ActionPatch {
            owner: Some(Some(o.into())),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn an_archive_is_frozen_keeps_its_evidence_and_cannot_be_deleted() {
        let (state, caller, _dir) = ports();
        let iso = assess(&state, &caller, "iso-27001-2022", "Europe").await;
        actions::update(&state, &caller, "mfa-admins", &owner("cara"), None)
            .await
            .unwrap();
        // More evidence than one transaction holds beside the archive (48 with one service).
        links(&state, &caller, "mfa-admins", 60).await;
        let archived = archive(&state, &caller, iso.id.as_str()).await.unwrap();
        assert!(archived.archived);
        // Later changes do not reach the archive.
        actions::update(&state, &caller, "mfa-admins", &owner("dan"), None)
            .await
            .err()
            .expect("no live assessment uses it any more");
        let filter = ControlFilter {
            control: vec!["A.8.5".into()],
            ..Default::default()
        };
        let (view, controls) = super::controls(&state, &caller.tenant, iso.id.as_str(), &filter)
            .await
            .unwrap();
        assert_eq!(view, archived);
        let mfa = controls[0]
            .actions
            .iter()
            .find(|a| a.id == "mfa-admins")
            .unwrap();
        assert_eq!(mfa.owner.as_deref(), Some("cara"));
        // Every linked record is marked as kept by the archive, and the archive lists them.
        let instance = InstanceRef::parse("mfa-admins").unwrap();
        let stored = state
            .store
            .list_evidence(&caller.tenant, &instance)
            .await
            .unwrap();
        assert_eq!(stored.len(), 60);
        assert!(stored.iter().all(|e| e.archived_in == vec![iso.id.clone()]));
        let (_, frozen, items) = super::evidence(&state, &caller.tenant, iso.id.as_str())
            .await
            .unwrap();
        assert!(frozen);
        assert_eq!(items["mfa-admins"].len(), 60);
        // An archive is kept.
        assert!(matches!(
            delete(&state, &caller, iso.id.as_str()).await,
            Err(AssessmentError::Conflict(_))
        ));
        assert!(matches!(
            archive(&state, &caller, iso.id.as_str()).await,
            Err(AssessmentError::Conflict(_))
        ));
    }

    #[tokio::test]
    async fn a_cut_short_index_is_mended_by_the_next_assessment_change() {
        let (state, caller, _dir) = ports();
        let iso = assess(&state, &caller, "iso-27001-2022", "Europe").await;
        // A writer that died between marking and removing the uses of ISO, a while ago.
        let catalog = Catalog::load_for(&state.store, &caller.tenant, [&iso.regulation_id])
            .await
            .unwrap();
        let stored = state
            .store
            .get_assessment(&caller.tenant, &iso.id)
            .await
            .unwrap();
        state
            .store
            .mark_usages(
                &caller.tenant,
                &iso.id,
                state.now() - chrono::TimeDelta::minutes(5),
            )
            .await
            .unwrap();
        state
            .store
            .delete_usages(&caller.tenant, &usages(&catalog, &stored.value))
            .await
            .unwrap();
        assert!(
            actions::find_instance(&state.store, &caller.tenant, "mfa-admins")
                .await
                .is_err(),
            "the index lost ISO's uses"
        );
        assess(&state, &caller, "gdpr", "Americas").await;
        let ctx = actions::find_instance(&state.store, &caller.tenant, "mfa-admins")
            .await
            .unwrap();
        assert!(ctx.usages.iter().any(|u| u.assessment_id == iso.id));
    }
}

#[cfg(test)]
mod paging_tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::usecases::testkit::{assess, ports};

    #[tokio::test]
    async fn the_list_pages_through_every_assessment_once() {
        let (state, caller, _dir) = ports();
        let mut made = BTreeSet::new();
        for (i, reg) in [
            "iso-27001-2022",
            "gdpr",
            "soc2-2017",
            "nist-800-53-r5-moderate",
            "gdpr",
        ]
        .iter()
        .enumerate()
        {
            made.insert(assess(&state, &caller, reg, &format!("G{i}")).await.id);
        }
        let frozen = made.iter().next().unwrap().clone();
        archive(&state, &caller, frozen.as_str()).await.unwrap();
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = list(&state, &caller.tenant, true, after, 2).await.unwrap();
            assert!(page.items.len() <= 2);
            seen.extend(page.items.iter().map(|a| (a.id.clone(), a.archived)));
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert_eq!(
            seen.iter()
                .map(|(id, _)| id.clone())
                .collect::<BTreeSet<_>>(),
            made
        );
        assert_eq!(seen.len(), 5);
        assert!(seen.iter().any(|(id, archived)| *id == frozen && *archived));
        // Without archives, the archived one is left out.
        let live = list(&state, &caller.tenant, false, None, 50).await.unwrap();
        assert_eq!(live.items.len(), 4);
        assert!(live.next.is_none());
        assert!(live
            .items
            .iter()
            .all(|a| !a.archived && a.score.possible > 0));
    }
}
