//! Improvement-action updates (API.md "Improvement-action updates"). The built-in library is
//! versioned; each action instance records the library version whose definition of its action
//! the tenant accepted (`ActionStatus::library_version`), and sees that definition — guidance,
//! points, control mapping, testing type — until an administrator accepts the newer one.
//!
//! An instance nobody has worked on yet is not stored: it starts at the library's current
//! version, so it follows the library (there is nothing of the tenant's to review against a
//! new definition). Technical actions have one instance per tenant and update tenant-wide;
//! the others have one per assessment group and update group by group.

use attest_domain::action::{ActionStatus, InstanceRef, InstanceScope};
use attest_domain::event::{EventType, Subject};
use attest_domain::history::{HistoryEntry, Source};
use attest_domain::identity::{Identity, Permission};
use attest_domain::ids::{ActionId, AssessmentId, GroupId, RegulationId};
use attest_domain::regulation::ImprovementAction;
use attest_domain::score::action_score;
use attest_domain::vocab::{TestStatus, TestingType};
use attest_library::{Library, Mapping};
use attest_store::instances::InstanceUpdate;
use attest_store::usage::Usage;
use attest_store::{BackendError, StoreError, Versioned};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::actions::{find_instance, ActionError, InstanceContext};
use crate::AppState;

/// The status of an instance nobody has worked on: at the library's current version.
pub fn initial_status(def: &ImprovementAction) -> ActionStatus {
    ActionStatus::initial(def, attest_library::builtin().version())
}

/// The definition an instance sees: the library's as of the version it accepted (a tenant's
/// own generated action, which has no versions, as it is).
pub fn accepted<'a>(def: &'a ImprovementAction, status: &ActionStatus) -> &'a ImprovementAction {
    attest_library::builtin()
        .action_at(&def.id, status.library_version)
        .unwrap_or(def)
}

/// An instance's status (initial when not stored), version, and the definition it accepted.
pub fn at_accepted(
    def: ImprovementAction,
    stored: Option<Versioned<ActionStatus>>,
) -> (ImprovementAction, ActionStatus, u64) {
    let (status, version) = match stored {
        Some(v) => (v.value, v.version),
        None => (initial_status(&def), 0),
    };
    let def = accepted(&def, &status).clone();
    (def, status, version)
}

/// One field an update changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeView {
    pub field: String,
    pub old: Value,
    pub new: Value,
}

/// How much a score moves: points achieved and possible.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreDelta {
    pub achieved: i64,
    pub possible: i64,
}

/// An assessment an update touches, and how its score moves when it is accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AffectedAssessment {
    pub assessment_id: AssessmentId,
    pub name: String,
    pub regulation_id: RegulationId,
    pub score_change: ScoreDelta,
}

/// What accepting an action's newer definition would change (`pending_update`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingUpdate {
    pub from: u32,
    pub to: u32,
    pub changes: Vec<ChangeView>,
    pub assessments_affected: Vec<AffectedAssessment>,
    /// The instance's own contribution to the overall score: it counts once there.
    pub score_change: ScoreDelta,
}

/// Whether the action belongs to `regulation` under `mapping`: a built-in regulation maps
/// the actions the library says; a tenant's own regulation keeps the mapping it was made with.
fn maps_into(library: &Library, mapping: Option<&Mapping>, regulation: &RegulationId) -> bool {
    library.regulation(regulation).is_none() || mapping.is_some_and(|m| m.contains_key(regulation))
}

fn delta(
    old: Option<attest_domain::score::Score>,
    new: Option<attest_domain::score::Score>,
) -> ScoreDelta {
    let (o, n) = (old.unwrap_or_default(), new.unwrap_or_default());
    ScoreDelta {
        achieved: i64::from(n.achieved) - i64::from(o.achieved),
        possible: i64::from(n.possible) - i64::from(o.possible),
    }
}

/// The status an instance has once it accepts `new`: its testing type, and waiting for its
/// first automatic test when it becomes automatically tested (a result set by hand is not a
/// connector's to keep).
fn accepted_status(status: &ActionStatus, new: &ImprovementAction) -> ActionStatus {
    let mut after = status.clone();
    if new.testing_type != status.testing_type {
        after.testing_type = new.testing_type;
        if new.testing_type == TestingType::Automatic {
            after.test_status = TestStatus::ToBeDetected;
        }
    }
    after
}

/// The pending update of an instance, if the library has a newer definition of its action
/// that changes something.
pub fn pending(
    action: &ActionId,
    status: &ActionStatus,
    usages: &[Usage],
) -> Option<PendingUpdate> {
    let library = attest_library::builtin();
    let update = library.update(action, status.library_version)?;
    let (old, old_map) = library.definition_at(action, update.from)?;
    let (new, new_map) = library.definition_at(action, update.to)?;
    let after = accepted_status(status, new);
    let (old_score, new_score) = (action_score(old, status), action_score(new, &after));
    let assessments_affected = usages
        .iter()
        .map(|u| AffectedAssessment {
            assessment_id: u.assessment_id.clone(),
            name: u.assessment_name.clone(),
            regulation_id: u.regulation_id.clone(),
            score_change: delta(
                maps_into(library, old_map, &u.regulation_id).then_some(old_score),
                maps_into(library, new_map, &u.regulation_id).then_some(new_score),
            ),
        })
        .collect();
    Some(PendingUpdate {
        from: update.from,
        to: update.to,
        changes: update
            .changes
            .into_iter()
            .map(|c| ChangeView {
                field: c.field.to_owned(),
                old: c.old,
                new: c.new,
            })
            .collect(),
        assessments_affected,
        score_change: delta(Some(old_score), Some(new_score)),
    })
}

/// What can go wrong with updates.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("accepting updates needs the ManageAssessments permission")]
    Forbidden,
    #[error("action {0} has no pending update")]
    NothingPending(String),
    #[error(transparent)]
    Action(#[from] ActionError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One pending update as `GET /action-updates` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingItem {
    /// The instance id used by `/actions/{id}`.
    pub id: String,
    pub action_id: ActionId,
    pub title: String,
    pub group_id: Option<GroupId>,
    pub version: u64,
    pub pending_update: PendingUpdate,
}

/// `GET /action-updates`: the tenant's instances in use with a pending update. Reads only the
/// actions some release changed: one instance per changed technical action, one per group
/// for the others, and the usage of those with an older version.
pub async fn list(state: &AppState, caller: &Identity) -> Result<Vec<PendingItem>, UpdateError> {
    let tenant = &caller.tenant;
    let library = attest_library::builtin();
    let changed: Vec<&ActionId> = library.changed_actions().collect();
    if changed.is_empty() {
        return Ok(Vec::new());
    }
    let groups = state.store.list_groups(tenant).await?;
    let mut candidates = Vec::new();
    for id in changed {
        let Some(def) = library.action(id) else {
            continue;
        };
        if def.tenant_wide() {
            candidates.push(InstanceRef {
                action: id.clone(),
                scope: InstanceScope::Tenant,
            });
        } else {
            candidates.extend(groups.iter().map(|g| InstanceRef {
                action: id.clone(),
                scope: def.scope_in(&g.value.id),
            }));
        }
    }
    let stored = state.store.get_instances(tenant, &candidates).await?;
    let behind: Vec<(InstanceRef, Versioned<ActionStatus>)> = candidates
        .into_iter()
        .zip(stored)
        .filter_map(|(instance, stored)| Some((instance, stored?)))
        .filter(|(i, s)| library.update(&i.action, s.value.library_version).is_some())
        .collect();
    let mut out = Vec::new();
    for (instance, stored, usages) in with_usages(state, tenant, behind).await? {
        if usages.is_empty() {
            continue;
        }
        let Some(pending_update) = pending(&instance.action, &stored.value, &usages) else {
            continue;
        };
        let Some(current) = library.action(&instance.action) else {
            continue;
        };
        let def = accepted(current, &stored.value);
        out.push(PendingItem {
            id: instance.api_id(),
            action_id: instance.action.clone(),
            title: def.title.clone(),
            group_id: match &instance.scope {
                InstanceScope::Group(g) => Some(g.clone()),
                InstanceScope::Tenant => None,
            },
            version: stored.version,
            pending_update,
        });
    }
    Ok(out)
}

/// How many usage items are read at once.
const PARALLEL_READS: usize = 16;

/// The instances with the assessments that use them, read 16 at a time, in their order.
async fn with_usages(
    state: &AppState,
    tenant: &attest_domain::ids::TenantId,
    instances: Vec<(InstanceRef, Versioned<ActionStatus>)>,
) -> Result<Vec<(InstanceRef, Versioned<ActionStatus>, Vec<Usage>)>, UpdateError> {
    let mut out = Vec::with_capacity(instances.len());
    let mut rest = instances.into_iter().peekable();
    while rest.peek().is_some() {
        let chunk: Vec<_> = rest.by_ref().take(PARALLEL_READS).collect();
        let mut reads = tokio::task::JoinSet::new();
        for (n, (instance, _)) in chunk.iter().enumerate() {
            let (store, tenant, instance) = (state.store.clone(), tenant.clone(), instance.clone());
            reads.spawn(async move { (n, store.usages_of(&tenant, &instance).await) });
        }
        let mut usages: Vec<Option<Vec<Usage>>> = vec![None; chunk.len()];
        while let Some(done) = reads.join_next().await {
            let (n, read) =
                done.map_err(|e| StoreError::Backend(BackendError::Unavailable(e.to_string())))?;
            usages[n] = Some(read?);
        }
        out.extend(
            chunk
                .into_iter()
                .zip(usages)
                .map(|((i, s), u)| (i, s, u.unwrap_or_default())),
        );
    }
    Ok(out)
}

/// How many times an acceptance that lost a race (without If-Match) is tried again.
const ATTEMPTS: u32 = 16;

/// `POST /actions/{id}/accept-update`: the instance takes the library's current definition of
/// its action (a testing type the update changes included), with a history entry and an
/// `ActionUpdateAccepted` event naming the assessments whose scores it moves.
pub async fn accept(
    state: &AppState,
    caller: &Identity,
    id: &str,
    expected_version: Option<u64>,
) -> Result<InstanceContext, UpdateError> {
    if !caller.can(Permission::ManageAssessments) {
        return Err(UpdateError::Forbidden);
    }
    let tenant = &caller.tenant;
    for _ in 0..ATTEMPTS {
        let ctx = find_instance(&state.store, tenant, id).await?;
        if let Some(expected) = expected_version.filter(|v| *v != ctx.version) {
            return Err(ActionError::Stale {
                id: ctx.instance.api_id(),
                expected,
                current: ctx.version,
            }
            .into());
        }
        let Some(pending) = pending(&ctx.instance.action, &ctx.status, &ctx.usages) else {
            return Err(UpdateError::NothingPending(id.to_owned()));
        };
        let (update, event) = acceptance(state, caller, &ctx, &pending);
        match state
            .store
            .update_instances(tenant, std::slice::from_ref(&update), &[event])
            .await
        {
            Ok(_) => {
                tracing::info!(tenant = %tenant, action = %ctx.instance.api_id(), from = pending.from, to = pending.to, "action update accepted");
                return Ok(find_instance(&state.store, tenant, id).await?);
            }
            Err(StoreError::StaleVersion { expected, current }) if expected_version.is_some() => {
                return Err(ActionError::Stale {
                    id: id.to_owned(),
                    expected,
                    current,
                }
                .into())
            }
            Err(StoreError::StaleVersion { .. })
            | Err(StoreError::Backend(BackendError::TransactionConflict)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ActionError::Conflict(format!(
        "action {id} kept changing while its update was accepted; try again"
    ))
    .into())
}

/// The write and the event of accepting `pending` on `ctx`.
fn acceptance(
    state: &AppState,
    caller: &Identity,
    ctx: &InstanceContext,
    pending: &PendingUpdate,
) -> (InstanceUpdate, attest_domain::event::Event) {
    let library = attest_library::builtin();
    let mut status = ctx.status.clone();
    status.library_version = pending.to;
    let now = state.now();
    let entry = |field: &str, old: Value, new: Value| HistoryEntry {
        at: now,
        by: Some(caller.user.to_string()),
        field: field.to_owned(),
        old,
        new,
        source: Source::Manual,
    };
    let mut history = vec![entry(
        "library_version",
        json!(pending.from),
        json!(pending.to),
    )];
    if let Some(new) = library.action_at(&ctx.instance.action, pending.to) {
        let after = accepted_status(&status, new);
        for c in attest_domain::action::diff(&status, &after) {
            history.push(entry(c.field, c.old, c.new));
        }
        status = after;
    }
    let mut data = super::events::affected(&ctx.usages);
    data["action"] = ctx.instance.api_id().into();
    data["from"] = pending.from.into();
    data["to"] = pending.to.into();
    data["changes"] = json!(pending.changes);
    let event = super::events::by(
        state,
        caller,
        EventType::ActionUpdateAccepted,
        Subject::new("action", ctx.instance.api_id()),
        data,
    );
    (
        InstanceUpdate {
            instance: ctx.instance.clone(),
            expected_version: ctx.version,
            status,
            history,
        },
        event,
    )
}

/// What `POST /action-updates/accept-all` did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AcceptedAll {
    /// The instances that took their update.
    pub accepted: Vec<String>,
    /// Those that could not, and why (they stay pending).
    pub failed: Vec<Failed>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failed {
    pub id: String,
    pub reason: String,
}

/// `POST /action-updates/accept-all`: accepts every pending update, each on its own (one that
/// fails stays pending and is named).
pub async fn accept_all(state: &AppState, caller: &Identity) -> Result<AcceptedAll, UpdateError> {
    if !caller.can(Permission::ManageAssessments) {
        return Err(UpdateError::Forbidden);
    }
    let mut out = AcceptedAll {
        accepted: Vec::new(),
        failed: Vec::new(),
    };
    for item in list(state, caller).await? {
        match accept(state, caller, &item.id, None).await {
            Ok(_) => out.accepted.push(item.id),
            // Accepted meanwhile by someone else: nothing left to do.
            Err(UpdateError::NothingPending(_)) => {}
            // The store failing: what was accepted stays accepted (and is logged); the caller
            // learns that the rest was not done, without the store's own words.
            Err(UpdateError::Store(e)) | Err(UpdateError::Action(ActionError::Store(e))) => {
                tracing::error!(tenant = %caller.tenant, accepted = ?out.accepted, error = %e, "accepting all updates stopped");
                return Err(UpdateError::Store(e));
            }
            Err(e) => out.failed.push(Failed {
                id: item.id,
                reason: e.to_string(),
            }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usecases::testkit::{assess, ports};
    use attest_domain::identity::Role;

    // A second library version reaches these use cases only through the process's library
    // (`ATTEST_LIBRARY_RELEASE`): tests/e2e/updates.rs runs them with one, on both stores.

    #[tokio::test]
    async fn with_the_shipped_library_nothing_is_pending() {
        let (state, admin, _dir) = ports();
        assess(&state, &admin, "nist-800-53-r5-moderate", "Europe").await;
        assert!(list(&state, &admin).await.unwrap().is_empty());
        let Err(err) = accept(&state, &admin, "session-lock", None).await else {
            panic!("accepted an update that is not there");
        };
        assert!(matches!(err, UpdateError::NothingPending(_)), "{err}");
        let all = accept_all(&state, &admin).await.unwrap();
        assert!(all.accepted.is_empty() && all.failed.is_empty());
        let ctx = find_instance(&state.store, &admin.tenant, "session-lock")
            .await
            .unwrap();
        assert_eq!(
            ctx.status.library_version,
            attest_library::builtin().version()
        );
        assert_eq!(ctx.summary().pending_update, None);
    }

    #[tokio::test]
    async fn only_administrators_accept() {
        let (state, admin, _dir) = ports();
        assess(&state, &admin, "nist-800-53-r5-moderate", "Europe").await;
        for role in [
            Role::Reader,
            Role::Contributor,
            Role::Assessor,
            Role::ConnectorAdmin,
        ] {
            let mut who = admin.clone();
            who.roles = [role].into();
            let Err(err) = accept(&state, &who, "session-lock", None).await else {
                panic!("{role:?} accepted");
            };
            assert!(matches!(err, UpdateError::Forbidden), "{role:?}: {err}");
            let err = accept_all(&state, &who).await.unwrap_err();
            assert!(matches!(err, UpdateError::Forbidden), "{role:?}: {err}");
        }
    }
}
