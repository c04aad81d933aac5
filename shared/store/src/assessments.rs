//! Assessments, the locks that keep one assessment per (regulation, service) in a group, and
//! the frozen snapshots of archived assessments.

use crate::groups::NewGroup;
use attest_domain::assessment::Assessment;
use attest_domain::ids::{AssessmentId, TenantId};
use serde::{Deserialize, Serialize};

use crate::backend::{BackendError, Condition, WriteOp, MAX_TRANSACTION_OPS};
use crate::record::{decode, encode, Versioned};
use crate::usage::{clear_mark_op, mark_op, Usage};
use crate::{keys, Key, Store, StoreError};

const SNAPSHOT_PART_CHARS: usize = 300 * 1024;

#[derive(Serialize, Deserialize)]
struct SnapshotPart {
    text: String,
}

fn pair_locks(tenant: &TenantId, a: &Assessment) -> Vec<Key> {
    a.services
        .iter()
        .map(|s| keys::pair_lock(tenant, &a.group_id, &a.regulation_id, s))
        .collect()
}

/// What an archive writes: when, the frozen snapshot, the uses it ends, the evidence records
/// it keeps and its events.
pub struct Archive<'a> {
    pub at: chrono::DateTime<chrono::Utc>,
    pub snapshot: &'a serde_json::Value,
    pub usages: &'a [Usage],
    pub evidence: &'a [Versioned<attest_domain::evidence::Evidence>],
    pub events: &'a [attest_domain::event::Event],
}

impl Store {
    /// Stores a new assessment in an existing group; conflict when the group already holds an
    /// assessment of the same regulation for one of its services. With `new_group`, the group
    /// (and its name lock) is created in the same transaction: on any failure neither exists.
    /// `usages` (the instances the assessment uses) are indexed after it: see [`crate::usage`].
    pub async fn create_assessment(
        &self,
        tenant: &TenantId,
        a: &Assessment,
        new_group: Option<NewGroup<'_>>,
        usages: &[Usage],
        events: &[attest_domain::event::Event],
    ) -> Result<Versioned<Assessment>, StoreError> {
        // The group first (checked, or created with its lock), then the assessment.
        let mut ops = match new_group {
            None => vec![WriteOp::Check {
                key: keys::group(tenant, &a.group_id),
                condition: Condition::Exists,
            }],
            Some(g) => g.ops(tenant),
        };
        let group_ops = ops.len();
        ops.push(WriteOp::Put {
            item: encode(keys::assessment(tenant, &a.id), 1, a),
            condition: Condition::NotExists,
        });
        ops.push(mark_op(tenant, &a.id, a.created_at));
        let locks_from = ops.len();
        let lock_body = serde_json::json!({ "assessment_id": a.id });
        for key in pair_locks(tenant, a) {
            ops.push(WriteOp::Put {
                item: crate::Item {
                    key,
                    version: 1,
                    body: lock_body.clone(),
                },
                condition: Condition::NotExists,
            });
        }
        ops.extend(crate::events::events_ops(events));
        match self.backend().write(ops).await {
            Ok(()) => {
                // The assessment is stored: if its uses cannot be written now, its marker
                // stays and the next assessment change of the tenant writes them.
                if let Err(e) = self.put_usages(tenant, &a.id, usages).await {
                    tracing::warn!(assessment = %a.id, error = %e, "usage index left to mend");
                }
                Ok(Versioned {
                    version: 1,
                    value: a.clone(),
                })
            }
            Err(BackendError::ConditionFailed { index: 0 }) => Err(match new_group {
                None => StoreError::NotFound(format!("group {}", a.group_id)),
                Some(g) => StoreError::Conflict(format!("group {} already exists", g.group.id)),
            }),
            Err(BackendError::ConditionFailed { index }) if index < group_ops => Err(new_group
                .map_or_else(
                    || StoreError::Conflict("a concurrent change; retry".into()),
                    |g| crate::groups::name_taken(&g.group.name),
                )),
            Err(BackendError::ConditionFailed { index }) if index < locks_from => Err(
                StoreError::Conflict(format!("assessment {} already exists", a.id)),
            ),
            Err(BackendError::ConditionFailed { index }) => Err(StoreError::Conflict(format!(
                "the group already has an assessment of regulation {} for service {}",
                a.regulation_id,
                a.services[index - locks_from]
            ))),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn list_assessments(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<Versioned<Assessment>>, StoreError> {
        let items = self.query_all(keys::assessments(tenant), "").await?;
        let mut out = items
            .into_iter()
            .map(decode::<Assessment>)
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| {
            a.value
                .created_at
                .cmp(&b.value.created_at)
                .then(a.value.id.cmp(&b.value.id))
        });
        Ok(out)
    }

    /// After an archive or delete lost its race: the uses it took off go back only if the
    /// assessment is still live (another request may have archived or deleted it, and then
    /// they must stay off; the marker is left for the mender).
    async fn restore_uses_if_live(
        &self,
        tenant: &TenantId,
        id: &AssessmentId,
        usages: &[Usage],
    ) -> Result<(), StoreError> {
        let live = match self.backend().get(&keys::assessment(tenant, id)).await? {
            Some(item) => !decode::<Assessment>(item)?.value.is_archived(),
            None => false,
        };
        if live {
            self.put_usages(tenant, id, usages).await?;
        }
        Ok(())
    }

    /// One page of the tenant's assessments in id order, after id `after`.
    pub async fn assessment_page(
        &self,
        tenant: &TenantId,
        after: Option<String>,
        limit: usize,
    ) -> Result<(Vec<Versioned<Assessment>>, Option<String>), StoreError> {
        let mut query = crate::Query::prefix(keys::assessments(tenant), "");
        query.after = after;
        query.limit = Some(limit);
        let page = self.backend().query(&query).await?;
        let items = page
            .items
            .into_iter()
            .map(decode::<Assessment>)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((items, page.next))
    }

    pub async fn get_assessment(
        &self,
        tenant: &TenantId,
        id: &AssessmentId,
    ) -> Result<Versioned<Assessment>, StoreError> {
        match self.backend().get(&keys::assessment(tenant, id)).await? {
            Some(item) => Ok(decode(item)?),
            None => Err(StoreError::NotFound(format!("assessment {id}"))),
        }
    }

    /// Freezes the assessment: stores `snapshot`, marks it archived, releases its pair locks
    /// (archiving breaks its tie to the group), ends its uses, and marks `evidence` (what the
    /// snapshot links to) as kept by the archive. Conflict if it is archived already.
    ///
    /// The archive and the evidence marks land in one transaction when they fit (38 to 47
    /// evidence records, as the assessment covers 20 services or one); beyond that the marks go
    /// first, in transactions of their own, and the archive last. A mark whose archive then fails only keeps a record longer than
    /// needed; no archive ever lacks its marks.
    pub async fn archive_assessment(
        &self,
        tenant: &TenantId,
        current: &Versioned<Assessment>,
        archive: Archive<'_>,
    ) -> Result<Versioned<Assessment>, StoreError> {
        let Archive {
            at,
            snapshot,
            usages,
            evidence,
            events,
        } = archive;
        current
            .value
            .ensure_live()
            .map_err(|e| StoreError::Conflict(e.to_string()))?;
        let changed = || {
            StoreError::Conflict(format!(
                "assessment {} or its evidence changed while it was archived; try again",
                current.value.id
            ))
        };
        self.mark_usages(tenant, &current.value.id, at).await?;
        self.delete_usages(tenant, usages).await?;
        let text = snapshot.to_string();
        let pk = keys::snapshot_parts(tenant, &current.value.id);
        let chars: Vec<char> = text.chars().collect();
        let parts: Vec<WriteOp> = chars
            .chunks(SNAPSHOT_PART_CHARS)
            .enumerate()
            .map(|(i, chunk)| WriteOp::Put {
                item: encode(
                    Key::new(pk.clone(), format!("{i:04}")),
                    1,
                    &SnapshotPart {
                        text: chunk.iter().collect(),
                    },
                ),
                condition: Condition::Always,
            })
            .collect();
        self.write_chunked(parts).await?;
        let mut archived = current.value.clone();
        archived.archived_at = Some(at);
        let version = current.version + 1;
        let mut ops = vec![WriteOp::Put {
            item: encode(keys::assessment(tenant, &archived.id), version, &archived),
            condition: Condition::Version(current.version),
        }];
        ops.extend(
            pair_locks(tenant, &current.value)
                .into_iter()
                .map(|key| WriteOp::Delete {
                    key,
                    condition: Condition::Always,
                }),
        );
        ops.push(clear_mark_op(tenant, &archived.id));
        ops.extend(crate::events::events_ops(events));
        // Evidence marks, a record (2 writes) at a time, into the archive's transaction while
        // they fit, into earlier ones beyond.
        let mut earlier: Vec<Vec<WriteOp>> = Vec::new();
        for marks in evidence
            .iter()
            .filter_map(|e| crate::evidence::archive_mark_ops(tenant, e, &archived.id))
        {
            if ops.len() + marks.len() <= MAX_TRANSACTION_OPS {
                ops.extend(marks);
                continue;
            }
            match earlier.last_mut() {
                Some(batch) if batch.len() + marks.len() <= MAX_TRANSACTION_OPS => {
                    batch.extend(marks)
                }
                _ => earlier.push(marks),
            }
        }
        for batch in earlier {
            match self.backend().write(batch).await {
                Ok(()) => {}
                Err(BackendError::ConditionFailed { .. }) => {
                    self.restore_uses_if_live(tenant, &archived.id, usages)
                        .await?;
                    return Err(changed());
                }
                Err(e) => return Err(e.into()),
            }
        }
        match self.backend().write(ops).await {
            Ok(()) => Ok(Versioned {
                version,
                value: archived,
            }),
            Err(BackendError::ConditionFailed { .. }) => {
                self.restore_uses_if_live(tenant, &archived.id, usages)
                    .await?;
                Err(changed())
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_snapshot(
        &self,
        tenant: &TenantId,
        id: &AssessmentId,
    ) -> Result<serde_json::Value, StoreError> {
        let items = self.query_all(keys::snapshot_parts(tenant, id), "").await?;
        let mut text = String::new();
        for item in items {
            text.push_str(&decode::<SnapshotPart>(item)?.value.text);
        }
        serde_json::from_str(&text).map_err(|e| {
            StoreError::Backend(BackendError::Corrupt(format!(
                "snapshot of assessment {id}: {e}"
            )))
        })
    }

    /// Deletes the assessment, its pair locks and its snapshot. Action instances stay: other
    /// assessments share them.
    pub async fn delete_assessment(
        &self,
        tenant: &TenantId,
        current: &Versioned<Assessment>,
        usages: &[Usage],
        events: &[attest_domain::event::Event],
    ) -> Result<(), StoreError> {
        let a = &current.value;
        if !usages.is_empty() {
            self.mark_usages(tenant, &a.id, chrono::Utc::now()).await?;
            self.delete_usages(tenant, usages).await?;
        }
        let mut ops = vec![
            WriteOp::Delete {
                key: keys::assessment(tenant, &a.id),
                condition: Condition::Version(current.version),
            },
            clear_mark_op(tenant, &a.id),
        ];
        if !a.is_archived() {
            ops.extend(
                pair_locks(tenant, a)
                    .into_iter()
                    .map(|key| WriteOp::Delete {
                        key,
                        condition: Condition::Always,
                    }),
            );
        }
        ops.extend(crate::events::events_ops(events));
        match self.backend().write(ops).await {
            Ok(()) => {}
            Err(BackendError::ConditionFailed { .. }) => {
                self.restore_uses_if_live(tenant, &a.id, usages).await?;
                return Err(StoreError::Conflict(format!(
                    "assessment {} changed while it was deleted; try again",
                    a.id
                )));
            }
            Err(e) => return Err(e.into()),
        }
        let parts = self
            .query_all(keys::snapshot_parts(tenant, &a.id), "")
            .await?;
        let deletes = parts
            .into_iter()
            .map(|i| WriteOp::Delete {
                key: i.key,
                condition: Condition::Always,
            })
            .collect();
        self.write_chunked(deletes).await?;
        Ok(())
    }
}
