//! Which live assessments use which action instance: the index that lets `/actions/{id}` find
//! an instance by key and `GET /actions` page through the instances in use with one query.
//!
//! One item per instance in use, sort key = the instance's (`T#{action}` or
//! `G#{group}#{action}`), holding the assessments that use it. Reading an instance's uses is
//! one `GetItem`; a page of 50 instances is one `Query` of 50 items, however many assessments
//! share them. An assessment adds itself to its instances' items when it is created and takes
//! itself off when it is archived or deleted, item by item under version conditions (re-read
//! and re-applied when a concurrent change wins). Those are more items than one transaction
//! holds, so a marker item (`USEIDX`) is written in the same transaction as the assessment
//! change and removed once the index agrees with it; a marker left behind by a crash names the
//! assessment whose uses must be mended ([`Store::pending_usage_marks`]). Adding and removing
//! are idempotent, so mending is doing it again.

use std::collections::BTreeMap;

use attest_domain::action::{InstanceRef, InstanceScope};
use attest_domain::ids::{ActionId, AssessmentId, GroupId, RegulationId, TenantId};
use serde::{Deserialize, Serialize};

use crate::backend::{BackendError, Condition, Page, Query, WriteOp, MAX_TRANSACTION_OPS};
use crate::record::{decode, encode, Versioned};
use crate::{keys, Key, Store, StoreError};

/// One live assessment's use of one instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub action_id: ActionId,
    pub scope: InstanceScope,
    pub assessment_id: AssessmentId,
    pub assessment_name: String,
    pub regulation_id: RegulationId,
    pub group_id: GroupId,
}

impl Usage {
    pub fn instance(&self) -> InstanceRef {
        InstanceRef {
            action: self.action_id.clone(),
            scope: self.scope.clone(),
        }
    }
}

/// One assessment in an instance's item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Use {
    assessment_id: AssessmentId,
    assessment_name: String,
    regulation_id: RegulationId,
    group_id: GroupId,
}

/// An instance in use, and by whom.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct InstanceUses {
    action_id: ActionId,
    scope: InstanceScope,
    uses: Vec<Use>,
}

impl InstanceUses {
    fn usages(self) -> Vec<Usage> {
        let (action_id, scope) = (self.action_id, self.scope);
        self.uses
            .into_iter()
            .map(|u| Usage {
                action_id: action_id.clone(),
                scope: scope.clone(),
                assessment_id: u.assessment_id,
                assessment_name: u.assessment_name,
                regulation_id: u.regulation_id,
                group_id: u.group_id,
            })
            .collect()
    }
}

fn uses_key(tenant: &TenantId, instance: &InstanceRef) -> Key {
    Key::new(keys::usages(tenant), keys::instance_sk(instance))
}

fn decode_uses(item: crate::Item) -> Result<Vec<Usage>, StoreError> {
    Ok(decode::<InstanceUses>(item)?.value.usages())
}

/// A change to the index: add these uses, or take one assessment off these instances.
enum Change<'a> {
    Add(&'a [Usage]),
    Remove(&'a [Usage]),
}

/// Most bytes of items one index transaction writes (DynamoDB takes 4 MB).
const MAX_TRANSACTION_BYTES: usize = 3 * 1024 * 1024;
/// Largest index item (DynamoDB takes 400 KB an item): about 1,900 assessments sharing one
/// instance.
const MAX_ITEM_BYTES: usize = 380 * 1024;
/// How many times a chunk is re-read and re-applied when concurrent changes keep winning.
const ATTEMPTS: usize = 50;

/// A marker: the usage index of this assessment is being changed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UsageMark {
    pub assessment_id: AssessmentId,
    pub since: chrono::DateTime<chrono::Utc>,
}

/// The marker written with an assessment change that the usage index must follow.
pub(crate) fn mark_op(
    tenant: &TenantId,
    id: &AssessmentId,
    at: chrono::DateTime<chrono::Utc>,
) -> WriteOp {
    WriteOp::Put {
        item: encode(
            keys::usage_mark(tenant, id),
            1,
            &UsageMark {
                assessment_id: id.clone(),
                since: at,
            },
        ),
        condition: Condition::Always,
    }
}

pub(crate) fn clear_mark_op(tenant: &TenantId, id: &AssessmentId) -> WriteOp {
    WriteOp::Delete {
        key: keys::usage_mark(tenant, id),
        condition: Condition::Always,
    }
}

impl Store {
    /// Adds `usages` to their instances' items (idempotent) and then clears the assessment's
    /// marker.
    pub async fn put_usages(
        &self,
        tenant: &TenantId,
        assessment: &AssessmentId,
        usages: &[Usage],
    ) -> Result<(), StoreError> {
        self.change_uses(tenant, Change::Add(usages)).await?;
        self.clear_usage_mark(tenant, assessment).await
    }

    /// Takes `usages` off their instances' items (idempotent); an item left with no use goes.
    /// The caller clears the marker with the assessment change.
    pub async fn delete_usages(
        &self,
        tenant: &TenantId,
        usages: &[Usage],
    ) -> Result<(), StoreError> {
        self.change_uses(tenant, Change::Remove(usages)).await
    }

    async fn change_uses(&self, tenant: &TenantId, change: Change<'_>) -> Result<(), StoreError> {
        let usages = match change {
            Change::Add(u) | Change::Remove(u) => u,
        };
        let mut by_instance: BTreeMap<InstanceRef, Vec<&Usage>> = BTreeMap::new();
        for u in usages {
            by_instance.entry(u.instance()).or_default().push(u);
        }
        let instances: Vec<(InstanceRef, Vec<&Usage>)> = by_instance.into_iter().collect();
        let adding = matches!(change, Change::Add(_));
        for chunk in instances.chunks(MAX_TRANSACTION_OPS) {
            self.change_chunk(tenant, chunk, adding).await?;
        }
        Ok(())
    }

    /// Applies one chunk: reads its items, writes the changed ones under version conditions
    /// (in transactions of at most 3 MB), and starts again from a fresh read when a
    /// concurrent change won.
    async fn change_chunk(
        &self,
        tenant: &TenantId,
        chunk: &[(InstanceRef, Vec<&Usage>)],
        adding: bool,
    ) -> Result<(), StoreError> {
        for attempt in 0..ATTEMPTS {
            let keys: Vec<Key> = chunk.iter().map(|(i, _)| uses_key(tenant, i)).collect();
            let current = self.backend().get_many(&keys).await?;
            let mut batches: Vec<(Vec<WriteOp>, usize)> = vec![(Vec::new(), 0)];
            for (((instance, edits), key), item) in chunk.iter().zip(keys).zip(current) {
                let stored: Option<Versioned<InstanceUses>> = item.map(decode).transpose()?;
                let Some(op) = edited(instance, edits, key, stored, adding) else {
                    continue;
                };
                let size = match &op {
                    WriteOp::Put { item, .. } => item.size(),
                    _ => 0,
                };
                if size > MAX_ITEM_BYTES {
                    return Err(StoreError::Conflict(format!(
                        "action {} is used by more live assessments than one index item holds; archive some first",
                        instance.api_id()
                    )));
                }
                let last = batches.last_mut().expect("one batch");
                if last.1 + size > MAX_TRANSACTION_BYTES && !last.0.is_empty() {
                    batches.push((Vec::new(), 0));
                }
                let last = batches.last_mut().expect("one batch");
                last.0.push(op);
                last.1 += size;
            }
            let mut raced = false;
            for (ops, _) in batches.into_iter().filter(|(ops, _)| !ops.is_empty()) {
                match self.backend().write(ops).await {
                    Ok(()) => {}
                    Err(
                        BackendError::ConditionFailed { .. } | BackendError::TransactionConflict,
                    ) => {
                        raced = true;
                        break;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            if !raced {
                return Ok(());
            }
            crate::pause_before_retry(attempt as u32).await;
        }
        Err(StoreError::Conflict(
            "the assessments' index kept changing; try again".into(),
        ))
    }

    /// Marks an assessment's index as changing (before removing its usages).
    pub async fn mark_usages(
        &self,
        tenant: &TenantId,
        assessment: &AssessmentId,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        Ok(self
            .backend()
            .write(vec![mark_op(tenant, assessment, at)])
            .await?)
    }

    pub async fn clear_usage_mark(
        &self,
        tenant: &TenantId,
        assessment: &AssessmentId,
    ) -> Result<(), StoreError> {
        Ok(self
            .backend()
            .write(vec![clear_mark_op(tenant, assessment)])
            .await?)
    }

    /// Markers older than `before`: changes whose writer did not finish.
    pub async fn pending_usage_marks(
        &self,
        tenant: &TenantId,
        before: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<UsageMark>, StoreError> {
        let items = self.query_all(keys::usage_marks(tenant), "").await?;
        Ok(items
            .into_iter()
            .map(|i| decode::<UsageMark>(i).map(|v| v.value))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter(|m| m.since < before)
            .collect())
    }

    /// The live assessments that use one instance (one `GetItem`).
    pub async fn usages_of(
        &self,
        tenant: &TenantId,
        instance: &InstanceRef,
    ) -> Result<Vec<Usage>, StoreError> {
        match self.backend().get(&uses_key(tenant, instance)).await? {
            Some(item) => decode_uses(item),
            None => Ok(Vec::new()),
        }
    }

    /// The uses of one group's own instances (not the tenant-wide ones).
    pub async fn usages_in_group(
        &self,
        tenant: &TenantId,
        group: &GroupId,
    ) -> Result<Vec<Usage>, StoreError> {
        let items = self
            .query_all(keys::usages(tenant), &keys::group_instances_prefix(group))
            .await?;
        let mut out = Vec::new();
        for item in items {
            out.extend(decode_uses(item)?);
        }
        Ok(out)
    }

    /// One page of the instances in use, in instance order after sort key `after` (an
    /// instance's), each with its uses: at most `limit` instances, one query.
    pub async fn usage_page(
        &self,
        tenant: &TenantId,
        after: Option<String>,
        limit: usize,
    ) -> Result<(Vec<Vec<Usage>>, Option<String>), StoreError> {
        let mut query = Query::prefix(keys::usages(tenant), "");
        query.after = after;
        query.limit = Some(limit);
        let Page { items, next } = self.backend().query(&query).await?;
        let instances = items
            .into_iter()
            .map(decode_uses)
            .collect::<Result<_, _>>()?;
        Ok((instances, next))
    }
}

/// The write that applies `edits` to an instance's item, if it changes anything.
fn edited(
    instance: &InstanceRef,
    edits: &[&Usage],
    key: Key,
    stored: Option<Versioned<InstanceUses>>,
    adding: bool,
) -> Option<WriteOp> {
    let (version, mut uses) = match stored {
        Some(v) => (v.version, v.value.uses),
        None => (0, Vec::new()),
    };
    let before = uses.clone();
    for e in edits {
        uses.retain(|u| u.assessment_id != e.assessment_id);
        if adding {
            uses.push(Use {
                assessment_id: e.assessment_id.clone(),
                assessment_name: e.assessment_name.clone(),
                regulation_id: e.regulation_id.clone(),
                group_id: e.group_id.clone(),
            });
        }
    }
    uses.sort_by(|a, b| a.assessment_id.cmp(&b.assessment_id));
    if uses == before {
        return None;
    }
    let condition = match version {
        0 => Condition::NotExists,
        v => Condition::Version(v),
    };
    if uses.is_empty() {
        return Some(WriteOp::Delete { key, condition });
    }
    let body = InstanceUses {
        action_id: instance.action.clone(),
        scope: instance.scope.clone(),
        uses,
    };
    Some(WriteOp::Put {
        item: encode(key, version + 1, &body),
        condition,
    })
}
