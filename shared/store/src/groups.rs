//! Assessment groups. A group item plus a name-lock item per group keep names unique per
//! tenant without regard to case; both are written in one transaction.

use attest_domain::group::{AssessmentGroup, GroupName};
use attest_domain::ids::{GroupId, TenantId};
use serde::{Deserialize, Serialize};

use crate::backend::{BackendError, Condition, WriteOp};
use crate::record::{decode, encode, Versioned};
use crate::{keys, Store, StoreError};

pub(crate) fn name_taken(name: &GroupName) -> StoreError {
    StoreError::Conflict(format!(
        "a group named {:?} already exists (names are compared without regard to case)",
        name.as_str()
    ))
}

/// The group item itself, written only if no group has its id.
pub(crate) fn group_item(tenant: &TenantId, group: &AssessmentGroup) -> WriteOp {
    WriteOp::Put {
        item: encode(keys::group(tenant, &group.id), 1, group),
        condition: Condition::NotExists,
    }
}

pub(crate) fn lock_item(tenant: &TenantId, group: &AssessmentGroup) -> WriteOp {
    WriteOp::Put {
        item: crate::record::encode(
            keys::group_name(tenant, &group.name.unique_key()),
            1,
            &serde_json::json!({ "group_id": group.id }),
        ),
        condition: Condition::NotExists,
    }
}

/// A group whose instances are being copied from another (see [`Store::create_group`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CopyMark {
    pub from: GroupId,
    pub to: GroupId,
    pub since: chrono::DateTime<chrono::Utc>,
}

/// A group to create, and the group its shared actions start from.
#[derive(Debug, Clone, Copy)]
pub struct NewGroup<'a> {
    pub group: &'a AssessmentGroup,
    pub copy_from: Option<&'a GroupId>,
}

impl NewGroup<'_> {
    /// The group item, its name lock and, with `copy_from`, the copy marker: written in one
    /// transaction, so that a copy that does not finish is found and finished later.
    pub(crate) fn ops(&self, tenant: &TenantId) -> Vec<WriteOp> {
        let mut ops = vec![
            group_item(tenant, self.group),
            lock_item(tenant, self.group),
        ];
        if let Some(from) = self.copy_from {
            ops.push(WriteOp::Put {
                item: encode(
                    keys::copy_mark(tenant, &self.group.id),
                    1,
                    &CopyMark {
                        from: from.clone(),
                        to: self.group.id.clone(),
                        since: self.group.created_at,
                    },
                ),
                condition: Condition::Always,
            });
        }
        ops
    }
}

impl Store {
    /// Every group of the tenant, ordered by name (case-insensitive).
    pub async fn list_groups(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<Versioned<AssessmentGroup>>, StoreError> {
        let items = self.query_all(keys::groups(tenant), "").await?;
        let mut groups = items
            .into_iter()
            .map(decode::<AssessmentGroup>)
            .collect::<Result<Vec<_>, _>>()?;
        groups.sort_by_cached_key(|g| g.value.name.unique_key());
        Ok(groups)
    }

    /// Several groups by id (those that exist).
    pub async fn get_groups(
        &self,
        tenant: &TenantId,
        ids: &[&GroupId],
    ) -> Result<Vec<Versioned<AssessmentGroup>>, StoreError> {
        let keys: Vec<_> = ids.iter().map(|id| keys::group(tenant, id)).collect();
        let mut out = Vec::with_capacity(keys.len());
        for item in self.backend().get_many(&keys).await?.into_iter().flatten() {
            out.push(decode(item)?);
        }
        Ok(out)
    }

    pub async fn get_group(
        &self,
        tenant: &TenantId,
        id: &GroupId,
    ) -> Result<Versioned<AssessmentGroup>, StoreError> {
        match self.backend().get(&keys::group(tenant, id)).await? {
            Some(item) => Ok(decode(item)?),
            None => Err(StoreError::NotFound(format!("group {id}"))),
        }
    }

    /// Stores a new group; 409-style conflict when the name is taken. With `copy_from`, a copy
    /// marker lands with it; the caller copies, then clears it ([`Store::clear_copy_mark`]).
    pub async fn create_group(
        &self,
        tenant: &TenantId,
        new: NewGroup<'_>,
        events: &[attest_domain::event::Event],
    ) -> Result<Versioned<AssessmentGroup>, StoreError> {
        let mut ops = new.ops(tenant);
        ops.extend(crate::events::events_ops(events));
        match self.backend().write(ops).await {
            Ok(()) => Ok(Versioned {
                version: 1,
                value: new.group.clone(),
            }),
            Err(BackendError::ConditionFailed { index: 1 }) => Err(name_taken(&new.group.name)),
            Err(BackendError::ConditionFailed { .. }) => Err(StoreError::Conflict(format!(
                "group {} already exists",
                new.group.id
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Copies whose writer did not finish, older than `before`.
    pub async fn pending_copies(
        &self,
        tenant: &TenantId,
        before: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<CopyMark>, StoreError> {
        let items = self.query_all(keys::copy_marks(tenant), "").await?;
        Ok(items
            .into_iter()
            .map(|i| decode::<CopyMark>(i).map(|v| v.value))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter(|m| m.since < before)
            .collect())
    }

    /// Ends a copy: the marker goes, with the copy's events.
    pub async fn clear_copy_mark(
        &self,
        tenant: &TenantId,
        to: &GroupId,
        events: &[attest_domain::event::Event],
    ) -> Result<(), StoreError> {
        let mut ops = vec![WriteOp::Delete {
            key: keys::copy_mark(tenant, to),
            condition: Condition::Always,
        }];
        ops.extend(crate::events::events_ops(events));
        Ok(self.backend().write(ops).await?)
    }

    /// Renames a group. With `expected_version` (If-Match), a stale version changes nothing;
    /// without it, a concurrent change is re-read and the rename applied on top.
    pub async fn rename_group(
        &self,
        tenant: &TenantId,
        id: &GroupId,
        name: GroupName,
        expected_version: Option<u64>,
        event: &(dyn Fn(&AssessmentGroup, &AssessmentGroup) -> attest_domain::event::Event + Sync),
    ) -> Result<Versioned<AssessmentGroup>, StoreError> {
        const ATTEMPTS: usize = 5;
        for _ in 0..ATTEMPTS {
            let current = self.get_group(tenant, id).await?;
            if let Some(expected) = expected_version.filter(|v| *v != current.version) {
                return Err(StoreError::StaleVersion {
                    expected,
                    current: current.version,
                });
            }
            let mut renamed = current.value.clone();
            renamed.name = name.clone();
            if renamed.name == current.value.name {
                return Ok(current);
            }
            let version = current.version + 1;
            let mut ops = vec![WriteOp::Put {
                item: encode(keys::group(tenant, id), version, &renamed),
                condition: Condition::Version(current.version),
            }];
            let (old_key, new_key) = (current.value.name.unique_key(), renamed.name.unique_key());
            if old_key != new_key {
                ops.push(lock_item(tenant, &renamed));
                ops.push(WriteOp::Delete {
                    key: keys::group_name(tenant, &old_key),
                    condition: Condition::Always,
                });
            }
            ops.extend(crate::events::events_ops(&[event(
                &current.value,
                &renamed,
            )]));
            match self.backend().write(ops).await {
                Ok(()) => {
                    return Ok(Versioned {
                        version,
                        value: renamed,
                    })
                }
                Err(BackendError::ConditionFailed { index: 0 })
                | Err(BackendError::TransactionConflict) => {
                    if let Some(expected) = expected_version {
                        let now = self.get_group(tenant, id).await?;
                        return Err(StoreError::StaleVersion {
                            expected,
                            current: now.version,
                        });
                    }
                }
                Err(BackendError::ConditionFailed { .. }) => return Err(name_taken(&renamed.name)),
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict(format!(
            "group {id} kept changing while it was renamed; try again"
        )))
    }
}
