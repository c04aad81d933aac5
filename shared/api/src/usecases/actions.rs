//! Finding an action instance by its API id, and changing it under the status rules.

use attest_domain::action::{
    apply_patch, ensure_editable, ActionPatch, ActionStatus, InstanceRef, InstanceScope,
};
use attest_domain::assessment::Assessment;
use attest_domain::history::Source;
use attest_domain::identity::Identity;
use attest_domain::ids::TenantId;
use attest_domain::regulation::ImprovementAction;
use attest_store::instances::InstanceUpdate;
use attest_store::regulations::ControlRef;
use attest_store::{BackendError, Store, StoreError, Versioned};

use super::catalog::Catalog;
use crate::ApiError;

/// An instance that live assessments use, with its current status.
pub struct InstanceContext {
    pub def: ImprovementAction,
    pub instance: InstanceRef,
    pub status: ActionStatus,
    pub version: u64,
    pub usages: Vec<Versioned<Assessment>>,
}

/// Resolves `/actions/{id}`. An id that no live assessment of the tenant uses is 404.
pub async fn find_instance(
    store: &Store,
    tenant: &TenantId,
    id: &str,
) -> Result<InstanceContext, ApiError> {
    let not_found = || ApiError::NotFound(format!("action {id}"));
    let instance = InstanceRef::parse(id).ok_or_else(not_found)?;
    let assessments: Vec<Versioned<Assessment>> = store
        .list_assessments(tenant)
        .await?
        .into_iter()
        .filter(|a| !a.value.is_archived())
        .filter(|a| match &instance.scope {
            InstanceScope::Tenant => true,
            InstanceScope::Group(g) => &a.value.group_id == g,
        })
        .collect();
    let catalog = Catalog::load_for(
        store,
        tenant,
        assessments.iter().map(|a| &a.value.regulation_id),
    )
    .await?;
    let def = catalog
        .action(&instance.action)
        .ok_or_else(not_found)?
        .clone();
    let usages: Vec<_> = assessments
        .into_iter()
        .filter(|a| def.scope_in(&a.value.group_id) == instance.scope)
        .filter(|a| {
            catalog
                .regulation(&a.value.regulation_id)
                .is_some_and(|r| r.controls().any(|c| c.actions.contains(&instance.action)))
        })
        .collect();
    if usages.is_empty() {
        return Err(not_found());
    }
    let (status, version) = match store.get_instance(tenant, &instance).await? {
        Some(v) => (v.value, v.version),
        None => (ActionStatus::initial(&def), 0),
    };
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
) -> Result<InstanceUpdate, ApiError> {
    for p in patch.required_permissions() {
        if !caller.can(p) {
            return Err(ApiError::Forbidden(p));
        }
    }
    ensure_editable(&ctx.def)?;
    if let Some(expected) = expected_version.filter(|v| *v != ctx.version) {
        return Err(ApiError::PreconditionFailed(format!(
            "If-Match names version {expected} but action {} is at version {}; reload it and retry",
            ctx.instance.api_id(),
            ctx.version
        )));
    }
    let (status, changes) = apply_patch(&ctx.status, patch, &Source::Manual)?;
    let now = chrono::Utc::now();
    Ok(InstanceUpdate {
        instance: ctx.instance.clone(),
        expected_version: ctx.version,
        status,
        history: changes
            .into_iter()
            .map(|c| c.into_entry(now, caller.user.as_str(), Source::Manual))
            .collect(),
    })
}

/// `GET /actions/{id}/controls`: the controls, across the built-in and the tenant's own
/// regulations (or only those in `only`), that the instance's action meets.
pub async fn related_controls(
    store: &Store,
    tenant: &TenantId,
    id: &str,
    only: &[attest_domain::ids::RegulationId],
) -> Result<Vec<ControlRef>, ApiError> {
    let ctx = find_instance(store, tenant, id).await?;
    let action = &ctx.instance.action;
    let mut items: Vec<ControlRef> = Vec::new();
    for reg in attest_library::builtin().regulations() {
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
fn lost_race(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::StaleVersion { .. } | StoreError::Backend(BackendError::TransactionConflict)
    )
}

/// A short, growing, random pause before trying again, so that racing writers spread out.
async fn pause(attempt: u32) {
    let most = 2u64 << attempt.min(6);
    let ms = rand::random_range(0..most);
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
}

/// Re-reads the instance's status and version after a lost race.
async fn refresh(
    store: &Store,
    tenant: &TenantId,
    ctx: &mut InstanceContext,
) -> Result<(), ApiError> {
    let (status, version) = match store.get_instance(tenant, &ctx.instance).await? {
        Some(v) => (v.value, v.version),
        None => (ActionStatus::initial(&ctx.def), 0),
    };
    ctx.status = status;
    ctx.version = version;
    Ok(())
}

fn kept_changing(what: &str) -> ApiError {
    ApiError::Conflict(format!(
        "{what} kept changing while this change was applied; try again"
    ))
}

/// `PATCH /actions/{id}`: applies `patch` under the rules. With `expected_version` (If-Match)
/// a stale version is 412; without it the patch is applied on the current version, re-read
/// and re-checked after each lost race.
pub async fn update(
    store: &Store,
    caller: &Identity,
    id: &str,
    patch: &ActionPatch,
    expected_version: Option<u64>,
) -> Result<InstanceContext, ApiError> {
    if patch.is_empty() {
        return Err(ApiError::invalid(
            "body",
            "name at least one field to change",
        ));
    }
    let mut ctx = find_instance(store, &caller.tenant, id).await?;
    for attempt in 0..ATTEMPTS {
        let update = prepare_update(&ctx, patch, caller, expected_version)?;
        match store
            .update_instances(&caller.tenant, std::slice::from_ref(&update))
            .await
        {
            Ok(versions) => {
                ctx.status = update.status;
                ctx.version = versions[0];
                return Ok(ctx);
            }
            Err(e) if expected_version.is_none() && lost_race(&e) => {
                pause(attempt).await;
                refresh(store, &caller.tenant, &mut ctx).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(kept_changing(&format!("action {id}")))
}

/// Most instances one bulk assignment changes (each is two writes in one transaction).
pub const MAX_BULK: usize = 50;

/// `POST /actions/assign`: sets the owner of every named instance, all or none; applied on
/// the current versions, re-read after a lost race.
pub async fn assign(
    store: &Store,
    caller: &Identity,
    ids: &[String],
    owner: Option<String>,
) -> Result<Vec<(InstanceContext, u64)>, ApiError> {
    if ids.is_empty() || ids.len() > MAX_BULK {
        return Err(ApiError::invalid(
            "action_ids",
            format!("give 1 to {MAX_BULK} action ids"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = ids.iter().find(|id| !seen.insert(id.as_str())) {
        return Err(ApiError::invalid(
            "action_ids",
            format!("{dup} appears twice"),
        ));
    }
    let patch = ActionPatch {
        owner: Some(owner),
        ..Default::default()
    };
    let mut contexts = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        contexts.push(
            find_instance(store, &caller.tenant, id)
                .await
                .map_err(|e| match e {
                    ApiError::NotFound(_) => {
                        ApiError::invalid(format!("action_ids[{i}]"), format!("no action {id}"))
                    }
                    other => other,
                })?,
        );
    }
    for attempt in 0..ATTEMPTS {
        let updates = contexts
            .iter()
            .map(|ctx| prepare_update(ctx, &patch, caller, None))
            .collect::<Result<Vec<_>, _>>()?;
        match store.update_instances(&caller.tenant, &updates).await {
            Ok(versions) => {
                return Ok(contexts
                    .into_iter()
                    .zip(updates)
                    .zip(versions)
                    .map(|((mut ctx, u), v)| {
                        ctx.status = u.status;
                        ctx.version = v;
                        (ctx, v)
                    })
                    .collect())
            }
            Err(e) if lost_race(&e) => {
                pause(attempt).await;
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

    use attest_domain::assessment::Assessment;
    use attest_domain::group::{AssessmentGroup, GroupName};
    use attest_domain::identity::Role;
    use attest_domain::ids::{AssessmentId, GroupId, RegulationId, UserId};

    use super::*;

    /// A store on a real embedded file, with one ISO 27001 assessment, and an administrator.
    async fn tenant() -> (Store, Identity, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let backend =
            attest_store_embedded::EmbeddedBackend::open(&dir.path().join("a.redb")).unwrap();
        let store = Store::new(Arc::new(backend));
        let caller = Identity {
            tenant: TenantId::parse("acme").unwrap(),
            user: UserId::parse("alice").unwrap(),
            name: None,
            email: None,
            roles: BTreeSet::from([Role::Administrator]),
        };
        let group = AssessmentGroup {
            id: GroupId::parse("g1").unwrap(),
            name: GroupName::parse("Europe").unwrap(),
            created_at: chrono::Utc::now(),
            created_by: "alice".into(),
        };
        let assessment = Assessment {
            id: AssessmentId::parse("a1").unwrap(),
            name: "ISO".into(),
            group_id: group.id.clone(),
            regulation_id: RegulationId::parse("iso-27001-2022").unwrap(),
            services: vec!["aws".into()],
            created_at: chrono::Utc::now(),
            archived_at: None,
        };
        store
            .create_assessment(&caller.tenant, &assessment, Some(&group))
            .await
            .unwrap();
        (store, caller, dir)
    }

    fn owner(o: &str) -> ActionPatch {
        ActionPatch {
            owner: Some(Some(o.into())),
            ..Default::default()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_changes_without_if_match_all_apply() {
        let (store, caller, _dir) = tenant().await;
        let writers: Vec<_> = (0..30)
            .map(|i| {
                let (store, caller) = (store.clone(), caller.clone());
                tokio::spawn(async move {
                    update(
                        &store,
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
        let ctx = find_instance(&store, &caller.tenant, "mfa-admins")
            .await
            .unwrap();
        assert_eq!(ctx.version, 30, "every change applied once");
        let history = store
            .list_history(&caller.tenant, &ctx.instance, 1000)
            .await
            .unwrap();
        assert_eq!(history.len(), 30);
    }

    #[tokio::test]
    async fn a_stale_if_match_is_412_and_changes_nothing() {
        let (store, caller, _dir) = tenant().await;
        update(&store, &caller, "mfa-admins", &owner("a"), None)
            .await
            .unwrap();
        let err = update(&store, &caller, "mfa-admins", &owner("b"), Some(0))
            .await
            .err()
            .unwrap();
        assert!(
            matches!(&err, ApiError::PreconditionFailed(m) if m.contains("version 0") && m.contains("version 1")),
            "{err:?}"
        );
        let ctx = find_instance(&store, &caller.tenant, "mfa-admins")
            .await
            .unwrap();
        assert_eq!(ctx.status.owner.as_deref(), Some("a"));
        assert_eq!(ctx.version, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn overlapping_bulk_assignments_all_apply() {
        let (store, caller, _dir) = tenant().await;
        let ids: Vec<String> = ["mfa-admins", "asset-inventory"].map(String::from).to_vec();
        let writers: Vec<_> = (0..10)
            .map(|i| {
                let (store, caller, ids) = (store.clone(), caller.clone(), ids.clone());
                tokio::spawn(
                    async move { assign(&store, &caller, &ids, Some(format!("o{i}"))).await },
                )
            })
            .collect();
        for w in writers {
            w.await.unwrap().unwrap_or_else(|e| panic!("{e}"));
        }
        for id in &ids {
            assert_eq!(
                find_instance(&store, &caller.tenant, id)
                    .await
                    .unwrap()
                    .version,
                10
            );
        }
    }
}
