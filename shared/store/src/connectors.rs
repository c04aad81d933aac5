//! Connector instances, their runs, leases and latest check results (API.md "Connectors").
//!
//! - Connectors: `T#{tenant}#CONN`, sort key = connector id; versioned (the API's ETag).
//! - Names: `T#{tenant}#CONNNAME`, sort key = the lower-cased name: the lock that keeps names
//!   unique per tenant, written with the connector.
//! - The scheduler's index: `CONNIDX` (one partition for the stack), sort key =
//!   `{tenant}#{connector}`, body `{tenant, id, state}`; written with every connector change,
//!   so that the 24-hour fan-out reads one partition, never a tenant's data.
//! - Stats: `T#{tenant}#CONNSTAT`, sort key = connector id: the last run, the last success and
//!   the items imported in total (what `/status` shows), written with each run's record.
//! - Runs: `T#{tenant}#CONNRUN#{connector}`, sort key = run id (time-ordered), kept 400 days.
//! - Leases: `T#{tenant}#CONNLEASE`, sort key = connector id, `{run_id, until}`: one run per
//!   connector at a time; an expired lease is taken over.
//! - Check results: `T#{tenant}#CONNRES`, sort key = connector id: the verdicts of its last
//!   run, which the action statuses combine across instances.

use attest_domain::connector::{Connector, ConnectorState, ConnectorStats, RunRecord};
use attest_domain::event::Event;
use attest_domain::ids::TenantId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::backend::{BackendError, Condition, Query, WriteOp, TTL_FIELD};
use crate::keys::pk;
use crate::record::{decode, encode, Versioned};
use crate::{Key, Store, StoreError};

/// Run records are kept this long.
const RUN_TTL_DAYS: i64 = 400;

fn connectors_pk(tenant: &TenantId) -> String {
    pk(tenant, "CONN")
}

fn connector_key(tenant: &TenantId, id: &str) -> Key {
    Key::new(connectors_pk(tenant), id)
}

fn name_key(tenant: &TenantId, unique_name: &str) -> Key {
    Key::new(pk(tenant, "CONNNAME"), unique_name)
}

/// The scheduler's partition of every connector of the stack.
pub const INDEX_PK: &str = "CONNIDX";

fn index_key(tenant: &TenantId, id: &str) -> Key {
    Key::new(INDEX_PK, format!("{tenant}#{id}"))
}

fn stats_key(tenant: &TenantId, id: &str) -> Key {
    Key::new(pk(tenant, "CONNSTAT"), id)
}

fn runs_pk(tenant: &TenantId, id: &str) -> String {
    pk(tenant, &format!("CONNRUN#{id}"))
}

fn lease_key(tenant: &TenantId, id: &str) -> Key {
    Key::new(pk(tenant, "CONNLEASE"), id)
}

fn results_key(tenant: &TenantId, id: &str) -> Key {
    Key::new(pk(tenant, "CONNRES"), id)
}

/// A connector in the scheduler's index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexedConnector {
    pub tenant: TenantId,
    pub id: String,
    pub state: ConnectorState,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Lease {
    run_id: String,
    until: DateTime<Utc>,
}

/// A page of runs, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPage {
    pub runs: Vec<RunRecord>,
    pub next: Option<String>,
}

fn index_op(tenant: &TenantId, c: &Connector) -> WriteOp {
    WriteOp::Put {
        item: encode(
            index_key(tenant, &c.id),
            1,
            &IndexedConnector {
                tenant: tenant.clone(),
                id: c.id.clone(),
                state: c.state,
            },
        ),
        condition: Condition::Always,
    }
}

fn name_op(tenant: &TenantId, unique_name: &str, id: &str) -> WriteOp {
    WriteOp::Put {
        item: encode(
            name_key(tenant, unique_name),
            1,
            &serde_json::json!({ "id": id }),
        ),
        condition: Condition::NotExists,
    }
}

fn taken(name: &str) -> StoreError {
    StoreError::Conflict(format!(
        "a connector named {name:?} exists already; names are unique per organisation"
    ))
}

impl Store {
    /// Stores a new connector with its name lock and index entry. A name in use is a
    /// [`StoreError::Conflict`].
    pub async fn create_connector(
        &self,
        tenant: &TenantId,
        c: &Connector,
        unique_name: &str,
        events: &[Event],
    ) -> Result<Versioned<Connector>, StoreError> {
        let mut ops = vec![
            name_op(tenant, unique_name, &c.id),
            WriteOp::Put {
                item: encode(connector_key(tenant, &c.id), 1, c),
                condition: Condition::NotExists,
            },
            index_op(tenant, c),
        ];
        ops.extend(crate::events::events_ops(events));
        match self.backend().write(ops).await {
            Ok(()) => Ok(Versioned {
                version: 1,
                value: c.clone(),
            }),
            Err(BackendError::ConditionFailed { index: 0 }) => Err(taken(&c.name)),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_connector(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Versioned<Connector>, StoreError> {
        match self.backend().get(&connector_key(tenant, id)).await? {
            Some(item) => Ok(decode(item)?),
            None => Err(StoreError::NotFound(format!("connector {id}"))),
        }
    }

    /// The tenant's connectors, in id order.
    pub async fn list_connectors(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<Versioned<Connector>>, StoreError> {
        self.query_all(connectors_pk(tenant), "")
            .await?
            .into_iter()
            .map(|i| Ok(decode(i)?))
            .collect()
    }

    /// Stores a changed connector over the version read; a new name moves the name lock.
    pub async fn update_connector(
        &self,
        tenant: &TenantId,
        current: &Versioned<Connector>,
        next: &Connector,
        names: Option<(&str, &str)>,
        events: &[Event],
    ) -> Result<Versioned<Connector>, StoreError> {
        let version = current.version + 1;
        let mut ops = Vec::new();
        if let Some((old, new)) = names {
            ops.push(name_op(tenant, new, &next.id));
            ops.push(WriteOp::Delete {
                key: name_key(tenant, old),
                condition: Condition::Always,
            });
        }
        ops.push(WriteOp::Put {
            item: encode(connector_key(tenant, &next.id), version, next),
            condition: Condition::Version(current.version),
        });
        ops.push(index_op(tenant, next));
        ops.extend(crate::events::events_ops(events));
        match self.backend().write(ops).await {
            Ok(()) => Ok(Versioned {
                version,
                value: next.clone(),
            }),
            Err(BackendError::ConditionFailed { index: 0 }) if names.is_some() => {
                Err(taken(&next.name))
            }
            Err(BackendError::ConditionFailed { .. }) | Err(BackendError::TransactionConflict) => {
                Err(StoreError::StaleVersion {
                    expected: current.version,
                    current: current.version + 1,
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a connector at the version read, with its name lock, index entry, stats,
    /// results and lease. Its run records expire on their own.
    pub async fn delete_connector(
        &self,
        tenant: &TenantId,
        current: &Versioned<Connector>,
        unique_name: &str,
        events: &[Event],
    ) -> Result<(), StoreError> {
        let id = &current.value.id;
        let mut ops = vec![WriteOp::Delete {
            key: connector_key(tenant, id),
            condition: Condition::Version(current.version),
        }];
        for key in [
            name_key(tenant, unique_name),
            index_key(tenant, id),
            stats_key(tenant, id),
            results_key(tenant, id),
            lease_key(tenant, id),
        ] {
            ops.push(WriteOp::Delete {
                key,
                condition: Condition::Always,
            });
        }
        ops.extend(crate::events::events_ops(events));
        self.backend().write(ops).await.map_err(|e| match e {
            BackendError::ConditionFailed { .. } | BackendError::TransactionConflict => {
                StoreError::StaleVersion {
                    expected: current.version,
                    current: current.version + 1,
                }
            }
            other => other.into(),
        })
    }

    /// Every connector of the stack, from the scheduler's index (one partition).
    pub async fn indexed_connectors(&self) -> Result<Vec<IndexedConnector>, StoreError> {
        self.query_all(INDEX_PK.to_owned(), "")
            .await?
            .into_iter()
            .filter(|i| !i.key.sk.starts_with('#'))
            .map(|i| Ok(decode(i)?.value))
            .collect()
    }

    /// Takes the connector's run lease until `until` unless another run holds an unexpired
    /// one. True when taken.
    pub async fn acquire_run_lease(
        &self,
        tenant: &TenantId,
        id: &str,
        run_id: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let key = lease_key(tenant, id);
        let condition = match self.backend().get(&key).await? {
            None => Condition::NotExists,
            Some(item) => {
                let held: Versioned<Lease> = decode(item)?;
                if held.value.until > now {
                    return Ok(false);
                }
                Condition::Version(held.version)
            }
        };
        let version = match condition {
            Condition::Version(v) => v + 1,
            _ => 1,
        };
        let lease = Lease {
            run_id: run_id.to_owned(),
            until,
        };
        match self
            .backend()
            .write(vec![WriteOp::Put {
                item: encode(key, version, &lease),
                condition,
            }])
            .await
        {
            Ok(()) => Ok(true),
            Err(BackendError::ConditionFailed { .. }) | Err(BackendError::TransactionConflict) => {
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Extends the lease to `until` if `run_id` still holds it. False when it does not (it
    /// expired and another run took it).
    pub async fn renew_run_lease(
        &self,
        tenant: &TenantId,
        id: &str,
        run_id: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let key = lease_key(tenant, id);
        let Some(item) = self.backend().get(&key).await? else {
            return Ok(false);
        };
        let held: Versioned<Lease> = decode(item)?;
        if held.value.run_id != run_id {
            return Ok(false);
        }
        let lease = Lease {
            run_id: run_id.to_owned(),
            until,
        };
        match self
            .backend()
            .write(vec![WriteOp::Put {
                item: encode(key, held.version + 1, &lease),
                condition: Condition::Version(held.version),
            }])
            .await
        {
            Ok(()) => Ok(true),
            Err(BackendError::ConditionFailed { .. }) | Err(BackendError::TransactionConflict) => {
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Gives the lease back if `run_id` still holds it.
    pub async fn release_run_lease(
        &self,
        tenant: &TenantId,
        id: &str,
        run_id: &str,
    ) -> Result<(), StoreError> {
        let key = lease_key(tenant, id);
        let Some(item) = self.backend().get(&key).await? else {
            return Ok(());
        };
        let held: Versioned<Lease> = decode(item)?;
        if held.value.run_id != run_id {
            return Ok(());
        }
        match self
            .backend()
            .write(vec![WriteOp::Delete {
                key,
                condition: Condition::Version(held.version),
            }])
            .await
        {
            Ok(()) | Err(BackendError::ConditionFailed { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Stores a connector's latest check results.
    pub async fn put_connector_results(
        &self,
        tenant: &TenantId,
        id: &str,
        results: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let op = WriteOp::Put {
            item: encode(results_key(tenant, id), 1, results),
            condition: Condition::Always,
        };
        Ok(self.backend().write(vec![op]).await?)
    }

    /// Records a finished run: its record and the connector's stats, with the run's events,
    /// in one transaction.
    pub async fn record_run(
        &self,
        tenant: &TenantId,
        run: &RunRecord,
        stats: &ConnectorStats,
        events: &[Event],
    ) -> Result<(), StoreError> {
        let mut record = encode(
            Key::new(runs_pk(tenant, &run.connector_id), &run.id),
            1,
            run,
        );
        let expires = run.started_at + chrono::TimeDelta::days(RUN_TTL_DAYS);
        record.body[TTL_FIELD] = serde_json::json!(expires.timestamp());
        let mut ops = vec![
            WriteOp::Put {
                item: record,
                condition: Condition::Always,
            },
            WriteOp::Put {
                item: encode(stats_key(tenant, &run.connector_id), 1, stats),
                condition: Condition::Always,
            },
        ];
        ops.extend(crate::events::events_ops(events));
        Ok(self.backend().write(ops).await?)
    }

    /// A connector's stats (empty before its first run).
    pub async fn connector_stats(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<ConnectorStats, StoreError> {
        match self.backend().get(&stats_key(tenant, id)).await? {
            Some(item) => Ok(decode(item)?.value),
            None => Ok(ConnectorStats::default()),
        }
    }

    /// The latest check results of these connectors, in the order asked.
    pub async fn connector_results(
        &self,
        tenant: &TenantId,
        ids: &[&str],
    ) -> Result<Vec<Option<serde_json::Value>>, StoreError> {
        let keys: Vec<Key> = ids.iter().map(|id| results_key(tenant, id)).collect();
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(crate::backend::MAX_BATCH_GET) {
            out.extend(
                self.backend()
                    .get_many(chunk)
                    .await?
                    .into_iter()
                    .map(|i| i.map(|i| i.body)),
            );
        }
        Ok(out)
    }

    /// A connector's runs, newest first, `limit` at a time after `after` (a page's `next`).
    pub async fn list_runs(
        &self,
        tenant: &TenantId,
        id: &str,
        limit: usize,
        after: Option<String>,
    ) -> Result<RunPage, StoreError> {
        let mut query = Query::prefix(runs_pk(tenant, id), "");
        query.descending = true;
        query.limit = Some(limit);
        query.after = after;
        let page = self.backend().query(&query).await?;
        let next = page.next;
        let runs = page
            .items
            .into_iter()
            .map(|mut i| {
                if let Some(body) = i.body.as_object_mut() {
                    body.remove(TTL_FIELD);
                }
                Ok(decode::<RunRecord>(i)?.value)
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(RunPage { runs, next })
    }

    /// Notes when the schedule last queued every connector (or started) and when it queues
    /// them next (for `next_run_at`).
    pub async fn put_schedule_mark(
        &self,
        at: DateTime<Utc>,
        next: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let op = WriteOp::Put {
            item: encode(
                schedule_key(),
                1,
                &serde_json::json!({ "at": at, "next": next }),
            ),
            condition: Condition::Always,
        };
        Ok(self.backend().write(vec![op]).await?)
    }

    /// When the schedule queues every connector next, if a schedule ever ran or started.
    pub async fn schedule_mark(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self
            .backend()
            .get(&schedule_key())
            .await?
            .and_then(|i| serde_json::from_value(i.body["next"].clone()).ok()))
    }
}

/// The schedule's last fan-out, in the index partition (a sort key no `{tenant}#{id}` is).
fn schedule_key() -> Key {
    Key::new(INDEX_PK, "#schedule")
}
