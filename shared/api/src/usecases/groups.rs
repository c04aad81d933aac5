//! Assessment groups: list, read, create (optionally copying another group's shared actions),
//! rename.

use std::collections::BTreeSet;

use attest_domain::action::{diff, ActionStatus, InstanceRef, InstanceScope};
use attest_domain::event::{EventType, Subject};
use attest_domain::evidence::{Evidence, EvidenceKind};
use attest_domain::group::{AssessmentGroup, GroupName};
use attest_domain::history::Source;
use attest_domain::identity::Identity;
use attest_domain::ids::{new_id, EvidenceId, GroupId, TenantId};
use attest_domain::{DomainError, FieldError};
use attest_store::groups::NewGroup;
use attest_store::instances::InstanceUpdate;
use attest_store::{StoreError, Versioned};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::evidence::{history_entry, summary};
use crate::AppState;

/// What can go wrong with groups.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("invalid {}: {}", .0.field, .0.message)]
    Invalid(FieldError),
    /// The name is taken, or the group changed meanwhile without If-Match.
    #[error("{0}")]
    Conflict(String),
    #[error("If-Match names version {expected} but group {id} is at version {current}; reload it and retry")]
    Stale {
        id: GroupId,
        expected: u64,
        current: u64,
    },
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for GroupError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => GroupError::NotFound(what),
            StoreError::Conflict(m) => GroupError::Conflict(m),
            other => GroupError::Store(other),
        }
    }
}

impl From<DomainError> for GroupError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid(f) => GroupError::Invalid(f),
            DomainError::Conflict(m) => GroupError::Conflict(m),
        }
    }
}

/// A path id that is not a valid id cannot name a stored group: not found, like any unknown id.
pub fn parse_id(raw: &str) -> Result<GroupId, GroupError> {
    GroupId::parse(raw).map_err(|_| GroupError::NotFound(format!("group {raw}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateGroup {
    pub name: GroupName,
    /// A group whose shared non-technical actions' owners, statuses, dates, notes and
    /// evidence links the new group starts from.
    pub copy_from: Option<GroupId>,
}

pub async fn list(
    state: &AppState,
    tenant: &TenantId,
) -> Result<Vec<Versioned<AssessmentGroup>>, GroupError> {
    Ok(state.store.list_groups(tenant).await?)
}

pub async fn show(
    state: &AppState,
    tenant: &TenantId,
    id: &str,
) -> Result<Versioned<AssessmentGroup>, GroupError> {
    Ok(state.store.get_group(tenant, &parse_id(id)?).await?)
}

/// `POST /groups`: creates the group; with `copy_from`, its shared non-technical actions start
/// from that group's (recorded in history with source `import`). The group and a copy marker
/// land together; the copy follows, and the marker goes once it is complete, so a copy cut
/// short is finished by the next group creation of the tenant ([`finish_copies`]).
pub async fn create(
    state: &AppState,
    caller: &Identity,
    body: CreateGroup,
) -> Result<Versioned<AssessmentGroup>, GroupError> {
    finish_copies(state, caller).await?;
    if let Some(source) = &body.copy_from {
        check_copy_source(state, &caller.tenant, source).await?;
    }
    let group = new_group(state, caller, body.name);
    let new = NewGroup {
        group: &group,
        copy_from: body.copy_from.as_ref(),
    };
    let created = state
        .store
        .create_group(
            &caller.tenant,
            new,
            &[created_event(
                state,
                caller,
                &group,
                body.copy_from.as_ref(),
            )],
        )
        .await?;
    tracing::info!(tenant = %caller.tenant, group = %group.id, "group created");
    if let Some(source) = &body.copy_from {
        copy_or_leave_to_finish(state, caller, source, &group.id).await;
    }
    Ok(created)
}

/// `PATCH /groups/{id}`: renames. With `expected_version` (If-Match) a stale version changes
/// nothing; without it the rename is applied on the current version.
pub async fn rename(
    state: &AppState,
    caller: &Identity,
    id: &str,
    name: GroupName,
    expected_version: Option<u64>,
) -> Result<Versioned<AssessmentGroup>, GroupError> {
    let id = parse_id(id)?;
    let event = |old: &AssessmentGroup, new: &AssessmentGroup| {
        super::events::by(
            state,
            caller,
            EventType::GroupRenamed,
            Subject::new("group", new.id.as_str()),
            serde_json::json!({"old": old.name.as_str(), "new": new.name.as_str()}),
        )
    };
    state
        .store
        .rename_group(&caller.tenant, &id, name, expected_version, &event)
        .await
        .map_err(|e| match e {
            StoreError::StaleVersion { expected, current } => GroupError::Stale {
                id: id.clone(),
                expected,
                current,
            },
            other => other.into(),
        })
}

/// Checks that `copy_from` names one of the tenant's groups (invalid `copy_from` otherwise).
pub async fn check_copy_source(
    state: &AppState,
    tenant: &TenantId,
    source: &GroupId,
) -> Result<(), GroupError> {
    match state.store.get_group(tenant, source).await {
        Ok(_) => Ok(()),
        Err(StoreError::NotFound(_)) => Err(GroupError::Invalid(FieldError::new(
            "copy_from",
            format!("no group {source} to copy from"),
        ))),
        Err(e) => Err(e.into()),
    }
}

/// A new group, not stored yet.
/// The event of a group's creation (with the group it copies from, if any).
pub fn created_event(
    state: &AppState,
    caller: &Identity,
    group: &AssessmentGroup,
    copy_from: Option<&GroupId>,
) -> attest_domain::event::Event {
    super::events::by(
        state,
        caller,
        EventType::GroupCreated,
        Subject::new("group", group.id.as_str()),
        serde_json::json!({"name": group.name.as_str(), "copy_from": copy_from}),
    )
}

pub fn new_group(state: &AppState, caller: &Identity, name: GroupName) -> AssessmentGroup {
    AssessmentGroup {
        id: GroupId::parse(new_id()).expect("generated ids are valid"),
        name,
        created_at: state.now(),
        created_by: caller.user.to_string(),
    }
}

/// Finishes copies that were cut short (their marker is older than a minute).
pub async fn finish_copies(state: &AppState, caller: &Identity) -> Result<(), GroupError> {
    let before = state.now() - chrono::TimeDelta::minutes(1);
    for mark in state.store.pending_copies(&caller.tenant, before).await? {
        tracing::warn!(tenant = %caller.tenant, from = %mark.from, to = %mark.to, "finishing a group copy cut short");
        copy_or_leave_to_finish(state, caller, &mark.from, &mark.to).await;
    }
    Ok(())
}

/// Copies into a group that is stored already: what cannot be copied now stays behind its
/// marker for [`finish_copies`], and the request that created the group still succeeds.
pub async fn copy_or_leave_to_finish(
    state: &AppState,
    caller: &Identity,
    from: &GroupId,
    to: &GroupId,
) {
    if let Err(e) = copy(state, caller, from, to).await {
        tracing::warn!(tenant = %caller.tenant, from = %from, to = %to, error = %e, "group copy left to finish");
    }
}

/// Copies the source group's shared instances and evidence links into `to`, then clears the
/// copy marker. Idempotent: instances `to` has already are kept, and link copies have ids
/// derived from their source, so a second run adds nothing twice.
pub async fn copy(
    state: &AppState,
    caller: &Identity,
    from: &GroupId,
    to: &GroupId,
) -> Result<usize, GroupError> {
    let tenant = &caller.tenant;
    let mut count = 0;
    for attempt in 0..5 {
        match state
            .store
            .create_instances(tenant, missing_copies(state, caller, from, to).await?)
            .await
        {
            Ok(n) => {
                count = n;
                break;
            }
            // Another copier (or a change) stored some of them first: copy the rest again.
            Err(StoreError::StaleVersion { .. }) if attempt < 4 => {
                attest_store::pause_before_retry(attempt).await
            }
            Err(StoreError::StaleVersion { .. }) => {
                return Err(GroupError::Conflict(format!(
                    "group {to} kept changing while it was copied into; try again"
                )))
            }
            Err(e) => return Err(e.into()),
        }
    }
    copy_evidence_links(state, caller, from, to).await?;
    // The group's assessments (created with it, or since) may score differently now.
    let assessments: Vec<String> = state
        .store
        .list_assessments(tenant)
        .await?
        .into_iter()
        .filter(|a| &a.value.group_id == to && !a.value.is_archived())
        .map(|a| a.value.id.to_string())
        .collect();
    let copied = super::events::by(
        state,
        caller,
        EventType::GroupCopied,
        Subject::new("group", to.as_str()),
        serde_json::json!({"from": from, "copied": count, "assessments": assessments}),
    );
    state.store.clear_copy_mark(tenant, to, &[copied]).await?;
    tracing::info!(tenant = %tenant, from = %from, to = %to, copied = count, "group instances copied");
    Ok(count)
}

/// The source group's own instances that the target group does not have yet, as new
/// instances of the target (with history entries of source `import`).
async fn missing_copies(
    state: &AppState,
    caller: &Identity,
    from: &GroupId,
    to: &GroupId,
) -> Result<Vec<InstanceUpdate>, GroupError> {
    let tenant = &caller.tenant;
    let now = state.now();
    let present = state.store.list_group_instances(tenant, to).await?;
    Ok(state
        .store
        .list_group_instances(tenant, from)
        .await?
        .into_iter()
        .map(|(instance, status)| {
            let target = InstanceRef {
                action: instance.action,
                scope: InstanceScope::Group(to.clone()),
            };
            (target, status)
        })
        .filter(|(target, _)| !present.contains_key(target))
        .map(|(target, status)| {
            let blank =
                ActionStatus::blank(status.value.testing_type, status.value.library_version);
            let history = diff(&blank, &status.value)
                .into_iter()
                .map(|c| c.into_entry(now, caller.user.as_str(), Source::Import))
                .collect();
            InstanceUpdate {
                instance: target,
                expected_version: 0,
                status: status.value,
                history,
            }
        })
        .collect())
}

/// The id of a link's copy in another group: derived from both, so a copy is made once.
fn copy_id(source: &str, to: &GroupId) -> String {
    let digest = Sha256::digest(format!("{source}>{to}").as_bytes());
    hex::encode(&digest[..16])
}

/// Evidence links of the source group's shared actions point at the same pages for the new
/// group. (Uploaded files stay with the group that uploaded them.)
async fn copy_evidence_links(
    state: &AppState,
    caller: &Identity,
    from: &GroupId,
    to: &GroupId,
) -> Result<(), GroupError> {
    let tenant = &caller.tenant;
    let actions: BTreeSet<_> = state
        .store
        .usages_in_group(tenant, from)
        .await?
        .into_iter()
        .map(|u| u.action_id)
        .collect();
    let now = state.now();
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
            .filter(|e| e.kind() == EvidenceKind::Link)
        {
            let copy = Evidence {
                id: EvidenceId::parse(copy_id(link.id.as_str(), to))?,
                action: target.clone(),
                created_by: caller.user.clone(),
                created_at: now,
                archived_in: Vec::new(),
                ..link
            };
            let entry = history_entry(
                Some(&caller.user),
                Source::Import,
                now,
                serde_json::Value::Null,
                summary(&copy),
            );
            // Part of the group's creation: its GroupCreated event covers the copy.
            match state.store.add_evidence(tenant, &copy, &[entry], &[]).await {
                Ok(()) | Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}
