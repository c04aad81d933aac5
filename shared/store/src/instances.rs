//! Action instances and their history. An instance nobody has changed yet is not stored: it
//! has version 0 and the action's initial status. Every change writes the instance and its
//! history entries in one transaction, conditioned on the version the change was based on.

use std::collections::HashMap;

use attest_domain::action::{ActionStatus, InstanceRef, InstanceScope};
use attest_domain::history::HistoryEntry;
use attest_domain::ids::{ActionId, GroupId, TenantId};
use serde::{Deserialize, Serialize};

use crate::backend::{BackendError, Condition, WriteOp, MAX_TRANSACTION_OPS};
use crate::record::{decode, encode, Versioned};
use crate::{keys, Key, Query, Store, StoreError};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredInstance {
    action_id: ActionId,
    scope: InstanceScope,
    status: ActionStatus,
}

/// One instance's change: the version it was based on (0: not stored yet), the new status,
/// and the history entries that describe it.
#[derive(Debug, Clone)]
pub struct InstanceUpdate {
    pub instance: InstanceRef,
    pub expected_version: u64,
    pub status: ActionStatus,
    pub history: Vec<HistoryEntry>,
}

impl InstanceUpdate {
    pub fn ops(&self) -> usize {
        1 + self.history.len()
    }
}

/// Time, then the change (a token of its own, so that two changes at the same instant never
/// overwrite each other's entries), then the entry's place in its change counted down, so
/// that newest-first reads list one change's fields together in their natural order.
pub(crate) fn history_sk(entry: &HistoryEntry, change: &str, n: usize) -> String {
    format!(
        "{}#{change}#{:03}",
        entry.at.format("%Y-%m-%dT%H:%M:%S%.9fZ"),
        999 - n.min(999)
    )
}

/// A token that tells one change's history entries from another's written at the same time.
pub(crate) fn change_token() -> String {
    attest_domain::ids::new_id()[..12].to_owned()
}

fn decode_instance(
    item: crate::Item,
) -> Result<(InstanceRef, Versioned<ActionStatus>), BackendError> {
    let v = decode::<StoredInstance>(item)?;
    Ok((
        InstanceRef {
            action: v.value.action_id,
            scope: v.value.scope,
        },
        Versioned {
            version: v.version,
            value: v.value.status,
        },
    ))
}

impl Store {
    /// Every stored instance of the tenant.
    pub async fn list_instances(
        &self,
        tenant: &TenantId,
    ) -> Result<HashMap<InstanceRef, Versioned<ActionStatus>>, StoreError> {
        let items = self.query_all(keys::instances(tenant), "").await?;
        Ok(items
            .into_iter()
            .map(decode_instance)
            .collect::<Result<_, _>>()?)
    }

    /// The stored tenant-wide instances (technical and provider actions).
    pub async fn list_tenant_instances(
        &self,
        tenant: &TenantId,
    ) -> Result<HashMap<InstanceRef, Versioned<ActionStatus>>, StoreError> {
        let items = self.query_all(keys::instances(tenant), "T#").await?;
        Ok(items
            .into_iter()
            .map(decode_instance)
            .collect::<Result<_, _>>()?)
    }

    /// The stored instances one group sees: the tenant-wide ones and the group's own.
    pub async fn list_instances_for_group(
        &self,
        tenant: &TenantId,
        group: &GroupId,
    ) -> Result<HashMap<InstanceRef, Versioned<ActionStatus>>, StoreError> {
        let mut items = self.query_all(keys::instances(tenant), "T#").await?;
        items.extend(
            self.query_all(
                keys::instances(tenant),
                &keys::group_instances_prefix(group),
            )
            .await?,
        );
        Ok(items
            .into_iter()
            .map(decode_instance)
            .collect::<Result<_, _>>()?)
    }

    /// The stored instances scoped to one group (not the tenant-wide ones).
    pub async fn list_group_instances(
        &self,
        tenant: &TenantId,
        group: &GroupId,
    ) -> Result<HashMap<InstanceRef, Versioned<ActionStatus>>, StoreError> {
        let items = self
            .query_all(
                keys::instances(tenant),
                &keys::group_instances_prefix(group),
            )
            .await?;
        Ok(items
            .into_iter()
            .map(decode_instance)
            .collect::<Result<_, _>>()?)
    }

    /// Stores new instances (version 0 before) with their history, as many per transaction
    /// as fit; each instance lands whole with its history. For copies whose parts may land
    /// one transaction at a time.
    pub async fn create_instances(
        &self,
        tenant: &TenantId,
        updates: Vec<InstanceUpdate>,
    ) -> Result<usize, StoreError> {
        let count = updates.len();
        let mut batch: Vec<InstanceUpdate> = Vec::new();
        let mut ops = 0;
        for u in updates {
            if ops + u.ops() > MAX_TRANSACTION_OPS && !batch.is_empty() {
                self.update_instances(tenant, &batch, &[]).await?;
                batch.clear();
                ops = 0;
            }
            ops += u.ops();
            batch.push(u);
        }
        if !batch.is_empty() {
            self.update_instances(tenant, &batch, &[]).await?;
        }
        Ok(count)
    }

    /// Several stored instances by key, in the order asked (`None`: nobody changed it yet).
    pub async fn get_instances(
        &self,
        tenant: &TenantId,
        instances: &[InstanceRef],
    ) -> Result<Vec<Option<Versioned<ActionStatus>>>, StoreError> {
        let keys: Vec<Key> = instances
            .iter()
            .map(|i| keys::instance(tenant, i))
            .collect();
        let mut out = Vec::with_capacity(keys.len());
        for item in self.backend().get_many(&keys).await? {
            out.push(item.map(decode_instance).transpose()?.map(|(_, v)| v));
        }
        Ok(out)
    }

    /// A stored instance; `None` when nobody has changed it yet.
    pub async fn get_instance(
        &self,
        tenant: &TenantId,
        instance: &InstanceRef,
    ) -> Result<Option<Versioned<ActionStatus>>, StoreError> {
        match self
            .backend()
            .get(&keys::instance(tenant, instance))
            .await?
        {
            Some(item) => Ok(Some(decode_instance(item)?.1)),
            None => Ok(None),
        }
    }

    /// Applies all updates or none. A stale version is reported for the first instance whose
    /// version moved on.
    pub async fn update_instances(
        &self,
        tenant: &TenantId,
        updates: &[InstanceUpdate],
        events: &[attest_domain::event::Event],
    ) -> Result<Vec<u64>, StoreError> {
        let total: usize =
            updates.iter().map(InstanceUpdate::ops).sum::<usize>() + 2 * events.len();
        if total > MAX_TRANSACTION_OPS {
            return Err(StoreError::Conflict(format!(
                "this change touches {total} records; at most {MAX_TRANSACTION_OPS} change together"
            )));
        }
        let mut ops = Vec::with_capacity(total);
        let mut owner = Vec::with_capacity(total);
        for (i, u) in updates.iter().enumerate() {
            let stored = StoredInstance {
                action_id: u.instance.action.clone(),
                scope: u.instance.scope.clone(),
                status: u.status.clone(),
            };
            ops.push(WriteOp::Put {
                item: encode(
                    keys::instance(tenant, &u.instance),
                    u.expected_version + 1,
                    &stored,
                ),
                condition: match u.expected_version {
                    0 => Condition::NotExists,
                    v => Condition::Version(v),
                },
            });
            owner.push(i);
            let pk = keys::history(tenant, &u.instance);
            let change = change_token();
            for (n, entry) in u.history.iter().enumerate() {
                ops.push(WriteOp::Put {
                    item: encode(
                        Key::new(pk.clone(), history_sk(entry, &change, n)),
                        1,
                        entry,
                    ),
                    condition: Condition::Always,
                });
                owner.push(i);
            }
        }
        ops.extend(crate::events::events_ops(events));
        match self.backend().write(ops).await {
            Ok(()) => Ok(updates.iter().map(|u| u.expected_version + 1).collect()),
            Err(BackendError::ConditionFailed { index }) => {
                let u = &updates[owner[index]];
                let current = self
                    .get_instance(tenant, &u.instance)
                    .await?
                    .map(|v| v.version)
                    .unwrap_or(0);
                Err(StoreError::StaleVersion {
                    expected: u.expected_version,
                    current,
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// An instance's history, newest first.
    pub async fn list_history(
        &self,
        tenant: &TenantId,
        instance: &InstanceRef,
        limit: usize,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        let mut query = Query::prefix(keys::history(tenant, instance), "");
        query.descending = true;
        let mut out = Vec::new();
        loop {
            query.limit = Some(limit - out.len());
            let page = self.backend().query(&query).await?;
            for item in page.items {
                out.push(decode::<HistoryEntry>(item)?.value);
            }
            match page.next {
                Some(next) if out.len() < limit => query.after = Some(next),
                _ => return Ok(out),
            }
        }
    }

    /// An instance's history entries recorded after `after`, newest first: read newest first
    /// a page at a time, stopping at the first entry at or before `after` (what reconstructing
    /// a past state needs, however long the history is before it).
    pub async fn list_history_since(
        &self,
        tenant: &TenantId,
        instance: &InstanceRef,
        after: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        const PAGE: usize = 100;
        let mut query = Query::prefix(keys::history(tenant, instance), "");
        query.descending = true;
        query.limit = Some(PAGE);
        let mut out = Vec::new();
        loop {
            let page = self.backend().query(&query).await?;
            for item in page.items {
                let entry = decode::<HistoryEntry>(item)?.value;
                if entry.at <= after {
                    return Ok(out);
                }
                out.push(entry);
            }
            match page.next {
                Some(next) => query.after = Some(next),
                None => return Ok(out),
            }
        }
    }
}
