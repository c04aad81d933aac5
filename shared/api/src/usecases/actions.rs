//! Action instances: found by key, listed through the usage index, changed under the status
//! rules (re-applied after a lost race when no If-Match was sent), bulk-assigned, their
//! history and the controls they meet.

use std::collections::{BTreeSet, HashMap};

use attest_domain::action::{apply_patch, ensure_editable, ActionPatch, ActionStatus, InstanceRef};
use attest_domain::event::{EventType, Subject};
use attest_domain::history::{HistoryEntry, Source};
use attest_domain::identity::{Identity, Permission};
use attest_domain::ids::{ActionId, AssessmentId, GroupId, RegulationId, TenantId};
use attest_domain::regulation::ImprovementAction;
use attest_domain::vocab::{Category, ImplementationStatus, TestStatus};
use attest_domain::{DomainError, FieldError};
use attest_store::instances::InstanceUpdate;
use attest_store::regulations::ControlRef;
use attest_store::usage::Usage;
use attest_store::{keys, BackendError, Store, StoreError};

use super::updates;
use crate::AppState;

/// What can go wrong with action instances.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("action {0} not found")]
    NotFound(String),
    #[error("invalid {}: {}", .0.field, .0.message)]
    Invalid(FieldError),
    /// A field the caller's roles may not change.
    #[error("this needs the {0:?} permission")]
    Forbidden(Permission),
    /// A rule of the current state (provider-managed, automatic tests, verdict without
    /// implementation, ...), or changes that kept racing.
    #[error("{0}")]
    Conflict(String),
    #[error("If-Match names version {expected} but action {id} is at version {current}; reload it and retry")]
    Stale {
        id: String,
        expected: u64,
        current: u64,
    },
    #[error(transparent)]
    Store(StoreError),
}

impl ActionError {
    /// The action id a `NotFound` names.
    pub fn id(&self) -> &str {
        match self {
            ActionError::NotFound(id) | ActionError::Stale { id, .. } => id,
            _ => "",
        }
    }
}

impl From<StoreError> for ActionError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => ActionError::Conflict(m),
            other => ActionError::Store(other),
        }
    }
}

impl From<DomainError> for ActionError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid(f) => ActionError::Invalid(f),
            DomainError::Conflict(m) => ActionError::Conflict(m),
        }
    }
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ActionError {
    ActionError::Invalid(FieldError::new(field, message))
}

/// An instance that live assessments use, with its current status.
pub struct InstanceContext {
    pub def: ImprovementAction,
    pub instance: InstanceRef,
    pub status: ActionStatus,
    pub version: u64,
    pub usages: Vec<Usage>,
}

impl InstanceContext {
    /// The instance as listed, with its pending update if any.
    pub fn summary(&self) -> crate::usecases::views::ActionSummary {
        let mut s = crate::usecases::views::ActionSummary::new(
            &self.def,
            &self.instance,
            &self.status,
            self.version,
        );
        s.pending_update = updates::pending(&self.instance.action, &self.status, &self.usages);
        s
    }
}

/// The template of an action: the library's, or one of the tenant's generated ones (by key).
async fn definition(
    store: &Store,
    tenant: &TenantId,
    id: &ActionId,
) -> Result<Option<ImprovementAction>, ActionError> {
    if let Some(def) = attest_library::builtin().action(id) {
        return Ok(Some(def.clone()));
    }
    Ok(store.get_action_defs(tenant, &[id]).await?.pop())
}

/// Resolves `/actions/{id}` by key: its template, the live assessments that use it (one
/// query of the usage index) and its status. An id that no live assessment uses is 404.
pub async fn find_instance(
    store: &Store,
    tenant: &TenantId,
    id: &str,
) -> Result<InstanceContext, ActionError> {
    let not_found = || ActionError::NotFound(id.to_owned());
    let instance = InstanceRef::parse(id).ok_or_else(not_found)?;
    let (usages, def, stored) = tokio::try_join!(
        async { Ok::<_, ActionError>(store.usages_of(tenant, &instance).await?) },
        definition(store, tenant, &instance.action),
        async { Ok(store.get_instance(tenant, &instance).await?) },
    )?;
    let def = def.ok_or_else(not_found)?;
    if usages.is_empty() {
        return Err(not_found());
    }
    let (def, status, version) = updates::at_accepted(def, stored);
    Ok(InstanceContext {
        def,
        instance,
        status,
        version,
        usages,
    })
}

/// Checks permissions for the patch's fields, applies the rules, and prepares the write.
pub fn prepare_update(
    ctx: &InstanceContext,
    patch: &ActionPatch,
    caller: &Identity,
    expected_version: Option<u64>,
    now: chrono::DateTime<chrono::Utc>,
    source: Source,
) -> Result<InstanceUpdate, ActionError> {
    for p in patch.required_permissions() {
        if !caller.can(p) {
            return Err(ActionError::Forbidden(p));
        }
    }
    ensure_editable(&ctx.def)?;
    if let Some(expected) = expected_version.filter(|v| *v != ctx.version) {
        return Err(ActionError::Stale {
            id: ctx.instance.api_id(),
            expected,
            current: ctx.version,
        });
    }
    let (status, changes) = apply_patch(&ctx.status, patch, &Source::Manual)?;
    Ok(InstanceUpdate {
        instance: ctx.instance.clone(),
        expected_version: ctx.version,
        status,
        history: changes
            .into_iter()
            .map(|c| c.into_entry(now, caller.user.as_str(), source.clone()))
            .collect(),
    })
}

/// `GET /actions` filters. Each list is OR; the lists combine with AND.
#[derive(Debug, Default, Clone)]
pub struct ActionFilter {
    pub assessments: Vec<AssessmentId>,
    pub groups: Vec<GroupId>,
    pub regulations: Vec<RegulationId>,
    pub owners: Vec<String>,
    pub implementation_status: Vec<ImplementationStatus>,
    pub test_status: Vec<TestStatus>,
    pub categories: Vec<Category>,
}

impl ActionFilter {
    fn uses(&self, usages: &[Usage]) -> bool {
        (self.assessments.is_empty()
            || usages
                .iter()
                .any(|u| self.assessments.contains(&u.assessment_id)))
            && (self.groups.is_empty() || usages.iter().any(|u| self.groups.contains(&u.group_id)))
            && (self.regulations.is_empty()
                || usages
                    .iter()
                    .any(|u| self.regulations.contains(&u.regulation_id)))
    }

    fn status(&self, def: &ImprovementAction, status: &ActionStatus) -> bool {
        (self.owners.is_empty()
            || status
                .owner
                .as_ref()
                .is_some_and(|o| self.owners.iter().any(|w| w.eq_ignore_ascii_case(o))))
            && (self.implementation_status.is_empty()
                || self
                    .implementation_status
                    .contains(&status.implementation_status))
            && (self.test_status.is_empty() || self.test_status.contains(&status.test_status))
            && (self.categories.is_empty() || self.categories.contains(&def.category))
    }
}

/// One page of `GET /actions`: the instances and where the next page starts.
pub struct ActionPage {
    pub items: Vec<InstanceContext>,
    /// The sort key of the last instance examined, when there may be more.
    pub next: Option<String>,
}

/// Most instances one listing request examines: a filter that matches little returns a short
/// page with a cursor rather than reading the whole tenant.
const MAX_EXAMINED: usize = 1000;
/// Fewest instances read from the index at a time.
const MIN_BATCH: usize = 50;

/// `GET /actions`: pages through the instances in use (one index item each, with the
/// assessments that use it) in instance order after `after` (an instance's sort key from a
/// previous page), reading the templates and statuses of the instances it meets by key, until
/// `limit` pass the filter. Unfiltered, a page is one query and one or two batch reads.
pub async fn list(
    store: &Store,
    tenant: &TenantId,
    filter: &ActionFilter,
    after: Option<String>,
    limit: usize,
) -> Result<ActionPage, ActionError> {
    let mut items = Vec::new();
    let mut examined = 0;
    let mut cursor = after;
    loop {
        // At least a page's worth each time, so that a filter that matches little does not
        // read the index a few items at a time.
        let want = (limit - items.len()).max(MIN_BATCH);
        let (page, next) = store.usage_page(tenant, cursor.clone(), want).await?;
        examined += page.len();
        if let Some(last) = page.last().and_then(|u| u.first()) {
            cursor = Some(keys::instance_sk(&last.instance()));
        }
        let candidates: Vec<Vec<Usage>> = page
            .into_iter()
            .filter(|g| !g.is_empty() && filter.uses(g))
            .collect();
        for ctx in resolve(store, tenant, candidates).await? {
            if !filter.status(&ctx.def, &ctx.status) {
                continue;
            }
            let sk = keys::instance_sk(&ctx.instance);
            items.push(ctx);
            if items.len() == limit {
                // The next page starts after this one: what follows it was read, not shown.
                return Ok(ActionPage {
                    items,
                    next: Some(sk),
                });
            }
        }
        if next.is_none() {
            return Ok(ActionPage { items, next: None });
        }
        if examined >= MAX_EXAMINED {
            return Ok(ActionPage {
                items,
                next: cursor,
            });
        }
    }
}

/// Templates and statuses of instances, by key, in as few calls as the store allows.
async fn resolve(
    store: &Store,
    tenant: &TenantId,
    groups: Vec<Vec<Usage>>,
) -> Result<Vec<InstanceContext>, ActionError> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let instances: Vec<InstanceRef> = groups.iter().map(|g| g[0].instance()).collect();
    let library = attest_library::builtin();
    let own: BTreeSet<&ActionId> = instances
        .iter()
        .map(|i| &i.action)
        .filter(|a| library.action(a).is_none())
        .collect();
    let own: Vec<&ActionId> = own.into_iter().collect();
    let (defs, statuses) = tokio::try_join!(
        async {
            Ok::<_, StoreError>(if own.is_empty() {
                Vec::new()
            } else {
                store.get_action_defs(tenant, &own).await?
            })
        },
        store.get_instances(tenant, &instances),
    )?;
    let defs: HashMap<ActionId, ImprovementAction> =
        defs.into_iter().map(|d| (d.id.clone(), d)).collect();
    let mut out = Vec::with_capacity(groups.len());
    for ((instance, usages), stored) in instances.into_iter().zip(groups).zip(statuses) {
        let Some(def) = library
            .action(&instance.action)
            .or_else(|| defs.get(&instance.action))
            .cloned()
        else {
            tracing::warn!(action = %instance.action, "an assessment uses an unknown action");
            continue;
        };
        let (def, status, version) = updates::at_accepted(def, stored);
        out.push(InstanceContext {
            def,
            instance,
            status,
            version,
            usages,
        });
    }
    Ok(out)
}

/// `GET /actions/{id}/history`: newest first.
pub async fn history(
    store: &Store,
    tenant: &TenantId,
    id: &str,
    limit: usize,
) -> Result<Vec<HistoryEntry>, ActionError> {
    let ctx = find_instance(store, tenant, id).await?;
    Ok(store.list_history(tenant, &ctx.instance, limit).await?)
}

/// `GET /actions/{id}/controls`: the controls, across the built-in and the tenant's own
/// regulations (or only those in `only`), that the instance's action meets.
pub async fn related_controls(
    store: &Store,
    tenant: &TenantId,
    id: &str,
    only: &[RegulationId],
) -> Result<Vec<ControlRef>, ActionError> {
    let ctx = find_instance(store, tenant, id).await?;
    let action = &ctx.instance.action;
    let library = attest_library::builtin();
    let mut items: Vec<ControlRef> = Vec::new();
    for current in library.regulations() {
        // As the instance accepted its action's mapping, until it accepts a newer one.
        let accepted = library.regulation_as_accepted(current, |a| {
            (a == action).then_some(ctx.status.library_version)
        });
        let reg = accepted.as_ref().unwrap_or(current);
        for family in &reg.families {
            for control in family
                .controls
                .iter()
                .filter(|c| c.actions.contains(action))
            {
                items.push(ControlRef {
                    regulation_id: reg.id.clone(),
                    regulation_name: reg.name.clone(),
                    family_id: family.id.clone(),
                    family_title: family.title.clone(),
                    control_id: control.id.clone(),
                    title: control.title.clone(),
                });
            }
        }
    }
    items.extend(store.controls_meeting(tenant, action).await?);
    items.retain(|c| only.is_empty() || only.contains(&c.regulation_id));
    Ok(items)
}

/// How many times a change sent without If-Match is applied again on the current version when
/// concurrent changes keep winning the race (with If-Match, a lost race is 412 at once).
const ATTEMPTS: u32 = 64;

/// Whether a write lost a race with another writer.
pub fn lost_race(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::StaleVersion { .. } | StoreError::Backend(BackendError::TransactionConflict)
    )
}

/// Re-reads the instance's status and version after a lost race.
async fn refresh(
    store: &Store,
    tenant: &TenantId,
    ctx: &mut InstanceContext,
) -> Result<(), ActionError> {
    let current = definition(store, tenant, &ctx.instance.action)
        .await?
        .unwrap_or_else(|| ctx.def.clone());
    let stored = store.get_instance(tenant, &ctx.instance).await?;
    (ctx.def, ctx.status, ctx.version) = updates::at_accepted(current, stored);
    Ok(())
}

fn kept_changing(what: &str) -> ActionError {
    ActionError::Conflict(format!(
        "{what} kept changing while this change was applied; try again"
    ))
}

/// `PATCH /actions/{id}`: applies `patch` under the rules. With `expected_version` (If-Match)
/// a stale version is 412; without it the patch is applied on the current version, re-read
/// and re-checked after each lost race.
pub async fn update(
    state: &AppState,
    caller: &Identity,
    id: &str,
    patch: &ActionPatch,
    expected_version: Option<u64>,
) -> Result<InstanceContext, ActionError> {
    if patch.is_empty() {
        return Err(invalid("body", "name at least one field to change"));
    }
    let store = &state.store;
    let mut ctx = find_instance(store, &caller.tenant, id).await?;
    for attempt in 0..ATTEMPTS {
        let now = state.now();
        let update = prepare_update(&ctx, patch, caller, expected_version, now, Source::Manual)?;
        let event = super::events::action_updated(
            &caller.tenant,
            Some(caller.user.as_str()),
            now,
            &update,
            &ctx.usages,
        );
        match store
            .update_instances(
                &caller.tenant,
                std::slice::from_ref(&update),
                std::slice::from_ref(&event),
            )
            .await
        {
            Ok(versions) => {
                ctx.status = update.status;
                ctx.version = versions[0];
                return Ok(ctx);
            }
            Err(StoreError::StaleVersion { expected, current }) if expected_version.is_some() => {
                return Err(ActionError::Stale {
                    id: id.to_owned(),
                    expected,
                    current,
                })
            }
            Err(e) if expected_version.is_none() && lost_race(&e) => {
                attest_store::pause_before_retry(attempt).await;
                refresh(store, &caller.tenant, &mut ctx).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(kept_changing(&format!("action {id}")))
}

/// Most instances one bulk assignment changes: each is two writes (the instance and its
/// history entry) and the assignment's event two more, in one transaction of at most 100.
pub const MAX_BULK: usize = (attest_store::backend::MAX_TRANSACTION_OPS - 2) / 2;

/// `POST /actions/assign`: sets the owner of every named instance, all or none; applied on
/// the current versions, re-read after a lost race.
pub async fn assign(
    state: &AppState,
    caller: &Identity,
    ids: &[String],
    owner: Option<String>,
) -> Result<Vec<InstanceContext>, ActionError> {
    if ids.is_empty() || ids.len() > MAX_BULK {
        return Err(invalid(
            "action_ids",
            format!("give 1 to {MAX_BULK} action ids"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = ids.iter().find(|id| !seen.insert(id.as_str())) {
        return Err(invalid("action_ids", format!("{dup} appears twice")));
    }
    let patch = ActionPatch {
        owner: Some(owner),
        ..Default::default()
    };
    let store = &state.store;
    let mut contexts = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        contexts.push(
            find_instance(store, &caller.tenant, id)
                .await
                .map_err(|e| match e {
                    ActionError::NotFound(_) => {
                        invalid(format!("action_ids[{i}]"), format!("no action {id}"))
                    }
                    other => other,
                })?,
        );
    }
    for attempt in 0..ATTEMPTS {
        let now = state.now();
        let updates = contexts
            .iter()
            .map(|ctx| prepare_update(ctx, &patch, caller, None, now, Source::Manual))
            .collect::<Result<Vec<_>, _>>()?;
        let mut data = super::events::affected(
            &contexts
                .iter()
                .flat_map(|c| c.usages.iter().cloned())
                .collect::<Vec<_>>(),
        );
        data["actions"] = ids.into();
        data["owner"] = patch.owner.clone().flatten().into();
        let event = super::events::by(
            state,
            caller,
            EventType::ActionsAssigned,
            Subject::new("actions", ids.join(",")),
            data,
        );
        match store
            .update_instances(&caller.tenant, &updates, std::slice::from_ref(&event))
            .await
        {
            Ok(versions) => {
                return Ok(contexts
                    .into_iter()
                    .zip(updates)
                    .zip(versions)
                    .map(|((mut ctx, u), v)| {
                        ctx.status = u.status;
                        ctx.version = v;
                        ctx
                    })
                    .collect())
            }
            Err(e) if lost_race(&e) => {
                attest_store::pause_before_retry(attempt).await;
                for ctx in &mut contexts {
                    refresh(store, &caller.tenant, ctx).await?;
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(kept_changing("these actions"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use std::sync::Arc;

    use super::*;
    use crate::usecases::assessments;
    use crate::usecases::testkit::{assess, ports, Recording};

    /// A tenant with one ISO 27001 assessment.
    async fn tenant() -> (AppState, Identity, tempfile::TempDir) {
        let (state, caller, dir) = ports();
        assess(&state, &caller, "iso-27001-2022", "Europe").await;
        (state, caller, dir)
    }

    fn owner(o: &str) -> ActionPatch {
        ActionPatch {
            owner: Some(Some(o.into())),
            ..Default::default()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_changes_without_if_match_all_apply() {
        let (state, caller, _dir) = tenant().await;
        let writers: Vec<_> = (0..30)
            .map(|i| {
                let (state, caller) = (state.clone(), caller.clone());
                tokio::spawn(async move {
                    update(
                        &state,
                        &caller,
                        "mfa-admins",
                        &owner(&format!("o{i}")),
                        None,
                    )
                    .await
                })
            })
            .collect();
        for w in writers {
            let ctx = w.await.unwrap().unwrap_or_else(|e| panic!("{e}"));
            assert!(ctx.version >= 1);
        }
        let ctx = find_instance(&state.store, &caller.tenant, "mfa-admins")
            .await
            .unwrap();
        assert_eq!(ctx.version, 30, "every change applied once");
        let history = history(&state.store, &caller.tenant, "mfa-admins", 1000)
            .await
            .unwrap();
        assert_eq!(history.len(), 30);
    }

    #[tokio::test]
    async fn a_stale_if_match_is_412_and_changes_nothing() {
        let (state, caller, _dir) = tenant().await;
        update(&state, &caller, "mfa-admins", &owner("a"), None)
            .await
            .unwrap();
        let err = update(&state, &caller, "mfa-admins", &owner("b"), Some(0))
            .await
            .err()
            .unwrap();
        assert!(
            matches!(
                &err,
                ActionError::Stale {
                    expected: 0,
                    current: 1,
                    ..
                }
            ),
            "{err:?}"
        );
        let ctx = find_instance(&state.store, &caller.tenant, "mfa-admins")
            .await
            .unwrap();
        assert_eq!(ctx.status.owner.as_deref(), Some("a"));
        assert_eq!(ctx.version, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn overlapping_bulk_assignments_all_apply() {
        let (state, caller, _dir) = tenant().await;
        let ids: Vec<String> = ["mfa-admins", "asset-inventory"].map(String::from).to_vec();
        let writers: Vec<_> = (0..10)
            .map(|i| {
                let (state, caller, ids) = (state.clone(), caller.clone(), ids.clone());
                tokio::spawn(
                    async move { assign(&state, &caller, &ids, Some(format!("o{i}"))).await },
                )
            })
            .collect();
        for w in writers {
            w.await.unwrap().unwrap_or_else(|e| panic!("{e}"));
        }
        for id in &ids {
            let ctx = find_instance(&state.store, &caller.tenant, id)
                .await
                .unwrap();
            assert_eq!(ctx.version, 10);
        }
    }

    /// The largest bulk assignment fits one transaction with its event; one more is refused.
    #[tokio::test]
    async fn the_largest_bulk_assignment_lands_with_its_event() {
        let (state, caller, _dir) = ports();
        let a = assess(&state, &caller, "iso-27001-2022", "Europe").await;
        let controls =
            assessments::controls(&state, &caller.tenant, a.id.as_str(), &Default::default())
                .await
                .unwrap()
                .1;
        let mut ids: Vec<String> = controls
            .iter()
            .flat_map(|c| c.actions.iter())
            .filter(|x| x.managed_by == attest_domain::vocab::ManagedBy::Customer)
            .map(|x| x.id.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        assert!(ids.len() > MAX_BULK, "{}", ids.len());
        ids.truncate(MAX_BULK + 1);
        let refused = assign(&state, &caller, &ids, Some("dana".into())).await;
        assert!(matches!(refused, Err(ActionError::Invalid(_))));
        ids.pop();
        let done = assign(&state, &caller, &ids, Some("dana".into()))
            .await
            .unwrap();
        assert_eq!(done.len(), MAX_BULK);
        let events = state
            .store
            .list_events(
                &caller.tenant,
                None,
                Some(attest_domain::event::EventType::ActionsAssigned),
                10,
            )
            .await
            .unwrap()
            .events;
        assert_eq!(events.len(), 1);
        assert_eq!(
            events[0].data["actions"].as_array().unwrap().len(),
            MAX_BULK
        );
    }

    #[tokio::test]
    async fn instances_are_found_by_key_with_the_assessments_that_use_them() {
        let (state, caller, _dir) = ports();
        let iso = assess(&state, &caller, "iso-27001-2022", "Europe").await;
        let nist = assess(&state, &caller, "nist-800-53-r5-moderate", "Asia").await;
        // Technical: one instance for the tenant, used by both.
        let ctx = find_instance(&state.store, &caller.tenant, "mfa-admins")
            .await
            .unwrap();
        let mut used: Vec<_> = ctx.usages.iter().map(|u| u.assessment_id.clone()).collect();
        used.sort();
        let mut want = vec![iso.id.clone(), nist.id.clone()];
        want.sort();
        assert_eq!(used, want);
        // Documentation: one per group; the other group's id is not found.
        let policy = format!("infosec-policy@{}", iso.group_id);
        let ctx = find_instance(&state.store, &caller.tenant, &policy)
            .await
            .unwrap();
        assert_eq!(ctx.usages.len(), 1);
        assert!(matches!(
            find_instance(&state.store, &caller.tenant, "infosec-policy").await,
            Err(ActionError::NotFound(_))
        ));
        // Archived: no longer used, so not found; the other group's is.
        assessments::archive(&state, &caller, iso.id.as_str())
            .await
            .unwrap();
        assert!(matches!(
            find_instance(&state.store, &caller.tenant, &policy).await,
            Err(ActionError::NotFound(_))
        ));
        let ctx = find_instance(&state.store, &caller.tenant, "mfa-admins")
            .await
            .unwrap();
        assert_eq!(ctx.usages.len(), 1);
    }

    #[tokio::test]
    async fn listing_pages_through_every_instance_once_and_filters() {
        let (state, caller, _dir) = ports();
        let iso = assess(&state, &caller, "iso-27001-2022", "Europe").await;
        assess(&state, &caller, "gdpr", "Americas").await;
        assess(&state, &caller, "soc2-2017", "Asia").await;
        update(&state, &caller, "mfa-admins", &owner("cara"), None)
            .await
            .unwrap();
        let everything = ActionFilter::default();
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = list(&state.store, &caller.tenant, &everything, after, 7)
                .await
                .unwrap();
            assert!(page.items.len() <= 7);
            seen.extend(page.items.iter().map(|c| c.instance.api_id()));
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        let distinct: BTreeSet<_> = seen.iter().cloned().collect();
        assert_eq!(distinct.len(), seen.len(), "no instance twice");
        assert!(seen.len() > 50, "{} instances", seen.len());
        // Filters: by owner, and by assessment.
        let by_owner = ActionFilter {
            owners: vec!["CARA".into()],
            ..Default::default()
        };
        let page = list(&state.store, &caller.tenant, &by_owner, None, 50)
            .await
            .unwrap();
        let ids: Vec<_> = page.items.iter().map(|c| c.instance.api_id()).collect();
        assert_eq!(ids, ["mfa-admins"]);
        let in_iso = ActionFilter {
            assessments: vec![iso.id.clone()],
            ..Default::default()
        };
        let page = list(&state.store, &caller.tenant, &in_iso, None, 200)
            .await
            .unwrap();
        assert!(page
            .items
            .iter()
            .all(|c| c.usages.iter().any(|u| u.assessment_id == iso.id)));
        assert!(page
            .items
            .iter()
            .any(|c| c.instance.api_id() == "mfa-admins"));
    }

    /// The reads one listing page makes, in a tenant of `groups` groups each assessing the four
    /// built-in regulations (every group shares the tenant-wide instances).
    async fn listing_reads(groups: usize) -> Vec<String> {
        let (ported, caller, dir) = ports();
        drop(ported);
        let backend = Arc::new(Recording::open(&dir.path().join("r.redb")));
        let state = AppState::new(Store::new(backend.clone()));
        for g in 0..groups {
            let first = assess(&state, &caller, "iso-27001-2022", &format!("G{g}")).await;
            for reg in ["gdpr", "soc2-2017", "nist-800-53-r5-moderate"] {
                let body = assessments::CreateAssessment {
                    connectors: None,
                    regulation_id: RegulationId::parse(reg).unwrap(),
                    group_id: Some(first.group_id.clone()),
                    group_name: None,
                    copy_from: None,
                    services: vec!["aws".into()],
                    name: None,
                };
                assessments::create(&state, &caller, body).await.unwrap();
            }
        }
        update(&state, &caller, "mfa-admins", &owner("cara"), None)
            .await
            .unwrap();
        backend.take();
        // The first page, and the page where the tenant-wide instances start.
        let first = list(
            &state.store,
            &caller.tenant,
            &ActionFilter::default(),
            None,
            50,
        )
        .await
        .unwrap();
        assert_eq!(first.items.len(), 50);
        let shared = list(
            &state.store,
            &caller.tenant,
            &ActionFilter::default(),
            Some("T#".into()),
            50,
        )
        .await
        .unwrap();
        assert_eq!(shared.items.len(), 50);
        assert!(shared.items.iter().all(|c| c.usages.len() % groups == 0));
        assert!(shared.items.iter().any(|c| c.usages.len() == 4 * groups));
        backend
            .take()
            .into_iter()
            .map(|r| r.split(' ').next().unwrap_or_default().to_owned())
            .collect()
    }

    #[tokio::test]
    async fn a_listing_page_makes_the_same_reads_however_many_assessments_share_instances() {
        let one = listing_reads(1).await;
        let five = listing_reads(5).await;
        assert_eq!(
            one, five,
            "reads of two pages: one group {one:?}, five {five:?}"
        );
        assert!(one.len() <= 6, "{one:?}");
    }
}
