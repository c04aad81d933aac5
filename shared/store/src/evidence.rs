//! Evidence records: one item by id, one in the action instance's list, and a history entry
//! of the instance for every add, check and delete — written together. An instance's list is
//! one partition, so listing it is one query.

use attest_domain::action::InstanceRef;
use attest_domain::evidence::Evidence;
use attest_domain::history::HistoryEntry;
use attest_domain::ids::{AssessmentId, EvidenceId, TenantId};

use crate::backend::{BackendError, Condition, WriteOp};
use crate::instances::{change_token, history_sk};
use crate::record::{decode, encode, Versioned};
use crate::{keys, Key, Store, StoreError};

fn history_ops(
    tenant: &TenantId,
    instance: &InstanceRef,
    history: &[HistoryEntry],
) -> Vec<WriteOp> {
    let pk = keys::history(tenant, instance);
    let change = change_token();
    history
        .iter()
        .enumerate()
        .map(|(n, e)| WriteOp::Put {
            item: encode(Key::new(pk.clone(), history_sk(e, &change, n)), 1, e),
            condition: Condition::Always,
        })
        .collect()
}

/// The writes that mark a record as kept by an archived assessment: the record, conditioned
/// on its version, and its copy in the action's list. `None` when it is marked already.
pub(crate) fn archive_mark_ops(
    tenant: &TenantId,
    current: &Versioned<Evidence>,
    assessment: &AssessmentId,
) -> Option<Vec<WriteOp>> {
    if current.value.archived_in.contains(assessment) {
        return None;
    }
    let mut next = current.value.clone();
    next.archived_in.push(assessment.clone());
    let version = current.version + 1;
    Some(vec![
        WriteOp::Put {
            item: encode(keys::evidence(tenant, &next.id), version, &next),
            condition: Condition::Version(current.version),
        },
        WriteOp::Put {
            item: encode(
                keys::evidence_in(tenant, &next.action, &next.id),
                version,
                &next,
            ),
            condition: Condition::Always,
        },
    ])
}

impl Store {
    pub async fn add_evidence(
        &self,
        tenant: &TenantId,
        evidence: &Evidence,
        history: &[HistoryEntry],
        events: &[attest_domain::event::Event],
    ) -> Result<(), StoreError> {
        let mut ops = vec![
            WriteOp::Put {
                item: encode(keys::evidence(tenant, &evidence.id), 1, evidence),
                condition: Condition::NotExists,
            },
            WriteOp::Put {
                item: encode(
                    keys::evidence_in(tenant, &evidence.action, &evidence.id),
                    1,
                    evidence,
                ),
                condition: Condition::Always,
            },
        ];
        ops.extend(history_ops(tenant, &evidence.action, history));
        ops.extend(crate::events::events_ops(events));
        match self.backend().write(ops).await {
            Ok(()) => Ok(()),
            Err(BackendError::ConditionFailed { .. }) => Err(StoreError::Conflict(format!(
                "evidence {} already exists",
                evidence.id
            ))),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_evidence(
        &self,
        tenant: &TenantId,
        id: &EvidenceId,
    ) -> Result<Versioned<Evidence>, StoreError> {
        match self.backend().get(&keys::evidence(tenant, id)).await? {
            Some(item) => Ok(decode(item)?),
            None => Err(StoreError::NotFound(format!("evidence {id}"))),
        }
    }

    /// An action instance's evidence, oldest first: one query of the instance's partition.
    pub async fn list_evidence(
        &self,
        tenant: &TenantId,
        instance: &InstanceRef,
    ) -> Result<Vec<Evidence>, StoreError> {
        Ok(self
            .list_evidence_versioned(tenant, instance)
            .await?
            .into_iter()
            .map(|v| v.value)
            .collect())
    }

    /// The same, with each record's version (the list holds a copy written at the record's
    /// version, so a change can be conditioned on it).
    pub async fn list_evidence_versioned(
        &self,
        tenant: &TenantId,
        instance: &InstanceRef,
    ) -> Result<Vec<Versioned<Evidence>>, StoreError> {
        let items = self
            .query_all(keys::evidence_of(tenant, instance), "")
            .await?;
        let mut out = items
            .into_iter()
            .map(decode::<Evidence>)
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| {
            a.value
                .created_at
                .cmp(&b.value.created_at)
                .then(a.value.id.cmp(&b.value.id))
        });
        Ok(out)
    }

    /// Replaces a record that is still at `current.version` (a check's outcome).
    pub async fn update_evidence(
        &self,
        tenant: &TenantId,
        current: &Versioned<Evidence>,
        next: &Evidence,
        history: &[HistoryEntry],
        events: &[attest_domain::event::Event],
    ) -> Result<Versioned<Evidence>, StoreError> {
        let version = current.version + 1;
        let mut ops = vec![
            WriteOp::Put {
                item: encode(keys::evidence(tenant, &next.id), version, next),
                condition: Condition::Version(current.version),
            },
            WriteOp::Put {
                item: encode(
                    keys::evidence_in(tenant, &next.action, &next.id),
                    version,
                    next,
                ),
                condition: Condition::Always,
            },
        ];
        ops.extend(history_ops(tenant, &next.action, history));
        ops.extend(crate::events::events_ops(events));
        match self.backend().write(ops).await {
            Ok(()) => Ok(Versioned {
                version,
                value: next.clone(),
            }),
            Err(BackendError::ConditionFailed { .. }) => Err(StoreError::StaleVersion {
                expected: current.version,
                current: current.version + 1,
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes the evidence from its action. A record an archived assessment links to stays
    /// (it is only taken off the action's list), so that the archive keeps its download.
    pub async fn delete_evidence(
        &self,
        tenant: &TenantId,
        current: &Versioned<Evidence>,
        history: &[HistoryEntry],
        events: &[attest_domain::event::Event],
    ) -> Result<(), StoreError> {
        let e = &current.value;
        let record = if e.archived_in.is_empty() {
            WriteOp::Delete {
                key: keys::evidence(tenant, &e.id),
                condition: Condition::Version(current.version),
            }
        } else {
            WriteOp::Check {
                key: keys::evidence(tenant, &e.id),
                condition: Condition::Version(current.version),
            }
        };
        let mut ops = vec![
            record,
            WriteOp::Delete {
                key: keys::evidence_in(tenant, &e.action, &e.id),
                condition: Condition::Always,
            },
        ];
        ops.extend(history_ops(tenant, &e.action, history));
        ops.extend(crate::events::events_ops(events));
        match self.backend().write(ops).await {
            Ok(()) => Ok(()),
            Err(BackendError::ConditionFailed { .. }) => Err(StoreError::Conflict(format!(
                "evidence {} changed while it was deleted; try again",
                e.id
            ))),
            Err(e) => Err(e.into()),
        }
    }
}
