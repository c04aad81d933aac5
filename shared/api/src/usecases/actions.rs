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
use attest_store::{Store, Versioned};

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
