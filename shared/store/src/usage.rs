//! Which live assessment uses which action instance: the index that lets `/actions/{id}` find
//! an instance by key and `GET /actions` page through the tenant's instances with one query.
//!
//! One item per (instance, assessment), sort key `{instance sort key}#{assessment id}`, so that
//! one prefix query lists an instance's assessments and the partition, in order, lists every
//! used instance with its assessments side by side. An assessment writes its items when it is
//! created and removes them when it is archived or deleted. Those are more items than one
//! transaction holds, so a marker item (`USEIDX`) is written in the same transaction as the
//! assessment change and removed once the index agrees with it; a marker left behind by a
//! crash names the assessment whose index must be mended ([`Store::pending_usage_marks`]).

use attest_domain::action::{InstanceRef, InstanceScope};
use attest_domain::ids::{ActionId, AssessmentId, GroupId, RegulationId, TenantId};
use serde::{Deserialize, Serialize};

use crate::backend::{Condition, Page, Query, WriteOp};
use crate::record::{decode, encode};
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

/// A marker: the usage index of this assessment is being changed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UsageMark {
    pub assessment_id: AssessmentId,
    pub since: chrono::DateTime<chrono::Utc>,
}

fn usage_key(tenant: &TenantId, u: &Usage) -> Key {
    Key::new(
        keys::usages(tenant),
        format!("{}#{}", keys::instance_sk(&u.instance()), u.assessment_id),
    )
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

/// The sort key just past every usage item of an instance (to resume a listing after it).
pub fn after_instance(instance_sk: &str) -> String {
    // '~' sorts after every character an assessment id may hold.
    format!("{instance_sk}#~")
}

impl Store {
    /// Writes `usages` (idempotent) and then clears the assessment's marker.
    pub async fn put_usages(
        &self,
        tenant: &TenantId,
        assessment: &AssessmentId,
        usages: &[Usage],
    ) -> Result<(), StoreError> {
        let ops = usages
            .iter()
            .map(|u| WriteOp::Put {
                item: encode(usage_key(tenant, u), 1, u),
                condition: Condition::Always,
            })
            .collect();
        self.write_chunked(ops).await?;
        self.clear_usage_mark(tenant, assessment).await
    }

    /// Removes `usages` (idempotent). The caller clears the marker with the assessment change.
    pub async fn delete_usages(
        &self,
        tenant: &TenantId,
        usages: &[Usage],
    ) -> Result<(), StoreError> {
        let ops = usages
            .iter()
            .map(|u| WriteOp::Delete {
                key: usage_key(tenant, u),
                condition: Condition::Always,
            })
            .collect();
        Ok(self.write_chunked(ops).await?)
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

    /// The live assessments that use one instance (one query).
    pub async fn usages_of(
        &self,
        tenant: &TenantId,
        instance: &InstanceRef,
    ) -> Result<Vec<Usage>, StoreError> {
        let items = self
            .query_all(
                keys::usages(tenant),
                &format!("{}#", keys::instance_sk(instance)),
            )
            .await?;
        Ok(items
            .into_iter()
            .map(|i| decode::<Usage>(i).map(|v| v.value))
            .collect::<Result<_, _>>()?)
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
        Ok(items
            .into_iter()
            .map(|i| decode::<Usage>(i).map(|v| v.value))
            .collect::<Result<_, _>>()?)
    }

    /// One page of the tenant's usage items in instance order, after sort key `after`.
    pub async fn usage_page(
        &self,
        tenant: &TenantId,
        after: Option<String>,
        limit: usize,
    ) -> Result<(Vec<Usage>, Option<String>), StoreError> {
        let mut query = Query::prefix(keys::usages(tenant), "");
        query.after = after;
        query.limit = Some(limit);
        let Page { items, next } = self.backend().query(&query).await?;
        let usages = items
            .into_iter()
            .map(|i| decode::<Usage>(i).map(|v| v.value))
            .collect::<Result<_, _>>()?;
        Ok((usages, next))
    }
}
