//! Stored scores and their history (API.md "Score recomputation and history").
//!
//! One item per scope (`T#{tenant}#SCORE`, sort key `tenant` or `A#{assessment}`) holds the
//! score as last recomputed; each change of it appends a point to the scope's history
//! (`T#{tenant}#SCOREHIST#{scope}`, sort key = time), in the same transaction as the new
//! score and its `ScoreChanged` event. The daily run adds one point per scope per day, once
//! (a per-day marker in the same transaction). Tenants with a stored score are listed in the
//! `SCORED` partition, so that the daily run finds them.

use attest_domain::event::Event;
use attest_domain::ids::{AssessmentId, TenantId};
use attest_domain::vocab::Category;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::backend::{BackendError, Condition, Item, Query, WriteOp};
use crate::record::{decode, encode, Versioned};
use crate::{keys, Key, Store, StoreError};

/// Whose score.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScoreScope {
    Tenant,
    Assessment(AssessmentId),
}

impl ScoreScope {
    pub fn key(&self) -> String {
        match self {
            ScoreScope::Tenant => "tenant".into(),
            ScoreScope::Assessment(id) => format!("A#{id}"),
        }
    }
}

/// The tenants with stored scores (the daily run's list); not under a tenant.
pub const SCORED_TENANTS: &str = "SCORED";

/// Achieved and possible points of one category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryPoints {
    pub category: Category,
    pub achieved: u32,
    pub possible: u32,
}

/// A scope's score as computed at `at`, with what the views show beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreRecord {
    pub at: DateTime<Utc>,
    pub achieved: u32,
    pub possible: u32,
    pub percent: f64,
    /// An assessment's `(controls_total, controls_assessed)`.
    #[serde(default)]
    pub progress: Option<(u32, u32)>,
    /// The tenant's split by category.
    #[serde(default)]
    pub by_category: Vec<CategoryPoints>,
    /// How many live assessments the tenant's score counts.
    #[serde(default)]
    pub assessments: Option<usize>,
}

impl ScoreRecord {
    /// Whether the score itself (not when it was computed) differs.
    pub fn same_points(&self, other: &ScoreRecord) -> bool {
        (self.achieved, self.possible) == (other.achieved, other.possible)
    }

    /// Whether anything the views show differs.
    pub fn same_view(&self, other: &ScoreRecord) -> bool {
        self.same_points(other)
            && self.progress == other.progress
            && self.by_category == other.by_category
            && self.assessments == other.assessments
    }
}

/// How many points one history read returns at most.
pub const MAX_HISTORY_POINTS: usize = 10_000;

fn point_sk(at: DateTime<Utc>) -> String {
    format!(
        "{}#{}",
        at.format("%Y-%m-%dT%H:%M:%S%.9fZ"),
        &attest_domain::ids::new_id()[..8]
    )
}

fn point_op(tenant: &TenantId, scope: &ScoreScope, record: &ScoreRecord) -> WriteOp {
    WriteOp::Put {
        item: encode(
            Key::new(
                keys::score_history(tenant, &scope.key()),
                point_sk(record.at),
            ),
            1,
            record,
        ),
        condition: Condition::NotExists,
    }
}

impl Store {
    pub async fn get_score(
        &self,
        tenant: &TenantId,
        scope: &ScoreScope,
    ) -> Result<Option<Versioned<ScoreRecord>>, StoreError> {
        match self
            .backend()
            .get(&keys::score(tenant, &scope.key()))
            .await?
        {
            Some(item) => Ok(Some(decode(item)?)),
            None => Ok(None),
        }
    }

    /// The stored scores of several assessments, in the order asked (one batch read).
    pub async fn get_scores(
        &self,
        tenant: &TenantId,
        ids: &[&AssessmentId],
    ) -> Result<Vec<Option<ScoreRecord>>, StoreError> {
        let keys: Vec<Key> = ids
            .iter()
            .map(|id| keys::score(tenant, &ScoreScope::Assessment((*id).clone()).key()))
            .collect();
        self.backend()
            .get_many(&keys)
            .await?
            .into_iter()
            .map(|i| match i {
                Some(item) => Ok(Some(decode::<ScoreRecord>(item)?.value)),
                None => Ok(None),
            })
            .collect()
    }

    /// Stores a recomputed score over the version read (`0`: none was stored). With `point`,
    /// the score changed: a history point and `events` land with it. A concurrent
    /// recomputation is a [`StoreError::StaleVersion`]: read again and recompute.
    pub async fn put_score(
        &self,
        tenant: &TenantId,
        scope: &ScoreScope,
        expected_version: u64,
        record: &ScoreRecord,
        point: bool,
        events: &[Event],
    ) -> Result<(), StoreError> {
        let mut ops = vec![WriteOp::Put {
            item: encode(
                keys::score(tenant, &scope.key()),
                expected_version + 1,
                record,
            ),
            condition: match expected_version {
                0 => Condition::NotExists,
                v => Condition::Version(v),
            },
        }];
        if point {
            ops.push(point_op(tenant, scope, record));
        }
        if expected_version == 0 && *scope == ScoreScope::Tenant {
            ops.push(WriteOp::Put {
                item: Item {
                    key: Key::new(SCORED_TENANTS, tenant.as_str()),
                    version: 1,
                    body: serde_json::json!({}),
                },
                condition: Condition::Always,
            });
        }
        ops.extend(crate::events::events_ops(events));
        match self.backend().write(ops).await {
            Ok(()) => Ok(()),
            Err(BackendError::ConditionFailed { index: 0 })
            | Err(BackendError::TransactionConflict) => Err(StoreError::StaleVersion {
                expected: expected_version,
                current: expected_version + 1,
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// The daily point of a scope: appended once per `day` (false if it already was).
    pub async fn daily_point(
        &self,
        tenant: &TenantId,
        scope: &ScoreScope,
        record: &ScoreRecord,
        day: NaiveDate,
    ) -> Result<bool, StoreError> {
        let marker = WriteOp::Put {
            item: Item {
                key: Key::new(
                    keys::score_days(tenant, &scope.key()),
                    day.format("%Y-%m-%d").to_string(),
                ),
                version: 1,
                body: serde_json::json!({}),
            },
            condition: Condition::NotExists,
        };
        match self
            .backend()
            .write(vec![marker, point_op(tenant, scope, record)])
            .await
        {
            Ok(()) => Ok(true),
            Err(BackendError::ConditionFailed { index: 0 }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether the scope's point of `day` was taken.
    pub async fn has_daily_point(
        &self,
        tenant: &TenantId,
        scope: &ScoreScope,
        day: NaiveDate,
    ) -> Result<bool, StoreError> {
        Ok(self
            .backend()
            .get(&Key::new(
                keys::score_days(tenant, &scope.key()),
                day.format("%Y-%m-%d").to_string(),
            ))
            .await?
            .is_some())
    }

    /// A scope's points from `from` to `to` (both included), oldest first, at most
    /// [`MAX_HISTORY_POINTS`].
    pub async fn score_history(
        &self,
        tenant: &TenantId,
        scope: &ScoreScope,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ScoreRecord>, StoreError> {
        let mut query = Query::prefix(keys::score_history(tenant, &scope.key()), "");
        // Sort keys start with the time: resume just before `from`.
        query.after = Some(from.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string());
        let mut out = Vec::new();
        loop {
            query.limit = Some(MAX_HISTORY_POINTS - out.len());
            let page = self.backend().query(&query).await?;
            for item in page.items {
                let record = decode::<ScoreRecord>(item)?.value;
                if record.at > to {
                    return Ok(out);
                }
                if record.at >= from {
                    out.push(record);
                }
            }
            match page.next {
                Some(next) if out.len() < MAX_HISTORY_POINTS => query.after = Some(next),
                _ => return Ok(out),
            }
        }
    }

    /// The last point at or before `at`, if the scope had one by then.
    pub async fn score_as_of(
        &self,
        tenant: &TenantId,
        scope: &ScoreScope,
        at: DateTime<Utc>,
    ) -> Result<Option<ScoreRecord>, StoreError> {
        let mut query = Query::prefix(keys::score_history(tenant, &scope.key()), "");
        query.descending = true;
        // Every sort key of that instant is below this one ('~' sorts after '#').
        query.after = Some(format!("{}~", at.format("%Y-%m-%dT%H:%M:%S%.9fZ")));
        query.limit = Some(1);
        let page = self.backend().query(&query).await?;
        match page.items.into_iter().next() {
            Some(item) => Ok(Some(decode::<ScoreRecord>(item)?.value)),
            None => Ok(None),
        }
    }

    /// Tenants with a stored score.
    pub async fn scored_tenants(&self) -> Result<Vec<TenantId>, StoreError> {
        self.query_all(SCORED_TENANTS.to_owned(), "")
            .await?
            .into_iter()
            .map(|i| {
                TenantId::parse(i.key.sk.clone()).map_err(|e| {
                    StoreError::Backend(BackendError::Corrupt(format!("tenant {}: {e}", i.key.sk)))
                })
            })
            .collect()
    }
}
