//! Alert policies, their threshold counts, and the alerts they raise (API.md "Alerts").
//!
//! - Policies: `T#{tenant}#ALERTPOL`, sort key = policy id. The same partition holds the
//!   marker [`DEFAULTS_MARKER`] (a sort key no policy id can be) that says the tenant's default
//!   policies were made: they are made once, with the marker, so a deleted default stays
//!   deleted.
//! - Threshold counts: `T#{tenant}#ALERTWIN`, sort key = policy id; versioned, so that
//!   concurrent evaluations of one policy take turns. A policy change that changes what it
//!   counts removes its count in the same transaction.
//! - Alerts: `T#{tenant}#ALERT`, sort key = alert id. Alert ids start with the raising event's
//!   time-ordered id, so a descending query lists the newest first.
//!
//! Every write lands with its events (`AlertPolicyChanged`, `AlertRaised`, `AlertUpdated`).

use attest_domain::alert::{default_policies, Alert, AlertPolicy, AlertWindow};
use attest_domain::event::Event;
use attest_domain::ids::TenantId;
use chrono::{DateTime, Utc};

use crate::backend::{BackendError, Condition, Query, WriteOp};
use crate::keys::pk;
use crate::record::{decode, encode, Versioned};
use crate::{Key, Store, StoreError};

/// The sort key of the "defaults made" marker in the policies partition (`#` is in no id).
pub const DEFAULTS_MARKER: &str = "#defaults";

fn policies_pk(tenant: &TenantId) -> String {
    pk(tenant, "ALERTPOL")
}

fn policy_key(tenant: &TenantId, id: &str) -> Key {
    Key::new(policies_pk(tenant), id)
}

fn window_key(tenant: &TenantId, policy: &str) -> Key {
    Key::new(pk(tenant, "ALERTWIN"), policy)
}

fn alerts_pk(tenant: &TenantId) -> String {
    pk(tenant, "ALERT")
}

fn alert_key(tenant: &TenantId, id: &str) -> Key {
    Key::new(alerts_pk(tenant), id)
}

/// Version `0` means "not stored yet".
fn expect(version: u64) -> Condition {
    match version {
        0 => Condition::NotExists,
        v => Condition::Version(v),
    }
}

fn lost_race(e: BackendError, expected: u64) -> StoreError {
    match e {
        BackendError::ConditionFailed { .. } | BackendError::TransactionConflict => {
            StoreError::StaleVersion {
                expected,
                current: expected + 1,
            }
        }
        other => other.into(),
    }
}

/// A page of alerts, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertPage {
    pub alerts: Vec<Versioned<Alert>>,
    /// The id of the last alert looked at, when more may follow.
    pub next: Option<String>,
}

/// How many alerts one listing reads at most, whatever its filter.
const MAX_SCANNED: usize = 2_000;

/// An alert to store, with what lands with it.
pub struct AlertWrite<'a> {
    pub alert: &'a Alert,
    /// The version read (`0`: a new alert).
    pub version: u64,
    /// A threshold policy's count and the version read (`0`: none stored).
    pub window: Option<(&'a str, &'a AlertWindow, u64)>,
    pub events: &'a [Event],
}

impl Store {
    /// Makes the tenant's default policies unless they were made before (a deleted default
    /// does not come back). True when this call made them.
    pub async fn ensure_default_alert_policies(
        &self,
        tenant: &TenantId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        if self
            .backend()
            .get(&policy_key(tenant, DEFAULTS_MARKER))
            .await?
            .is_some()
        {
            return Ok(false);
        }
        self.make_defaults(tenant, now).await
    }

    async fn make_defaults(
        &self,
        tenant: &TenantId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut ops = vec![WriteOp::Put {
            item: encode(
                policy_key(tenant, DEFAULTS_MARKER),
                1,
                &serde_json::json!({"at": now}),
            ),
            condition: Condition::NotExists,
        }];
        for p in default_policies(now) {
            ops.push(WriteOp::Put {
                item: encode(policy_key(tenant, &p.id), 1, &p),
                condition: Condition::NotExists,
            });
        }
        match self.backend().write(ops).await {
            Ok(()) => Ok(true),
            // Made by a concurrent caller.
            Err(BackendError::ConditionFailed { .. }) | Err(BackendError::TransactionConflict) => {
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The tenant's policies (the defaults made first if they never were), oldest first.
    pub async fn list_alert_policies(
        &self,
        tenant: &TenantId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Versioned<AlertPolicy>>, StoreError> {
        let mut items = self.query_all(policies_pk(tenant), "").await?;
        if !items.iter().any(|i| i.key.sk == DEFAULTS_MARKER) {
            self.make_defaults(tenant, now).await?;
            items = self.query_all(policies_pk(tenant), "").await?;
        }
        let mut policies = items
            .into_iter()
            .filter(|i| i.key.sk != DEFAULTS_MARKER)
            .map(decode::<AlertPolicy>)
            .collect::<Result<Vec<_>, _>>()?;
        policies.sort_by(|a, b| {
            (a.value.created_at, &a.value.id).cmp(&(b.value.created_at, &b.value.id))
        });
        Ok(policies)
    }

    /// One policy (the defaults made first if they never were).
    pub async fn get_alert_policy(
        &self,
        tenant: &TenantId,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Versioned<AlertPolicy>, StoreError> {
        let key = policy_key(tenant, id);
        let mut found = self.backend().get(&key).await?;
        if found.is_none() && self.ensure_default_alert_policies(tenant, now).await? {
            found = self.backend().get(&key).await?;
        }
        match found {
            Some(item) if id != DEFAULTS_MARKER => Ok(decode(item)?),
            _ => Err(StoreError::NotFound(format!("alert policy {id}"))),
        }
    }

    pub async fn create_alert_policy(
        &self,
        tenant: &TenantId,
        policy: &AlertPolicy,
        events: &[Event],
    ) -> Result<Versioned<AlertPolicy>, StoreError> {
        let mut ops = vec![WriteOp::Put {
            item: encode(policy_key(tenant, &policy.id), 1, policy),
            condition: Condition::NotExists,
        }];
        ops.extend(crate::events::events_ops(events));
        match self.backend().write(ops).await {
            Ok(()) => Ok(Versioned {
                version: 1,
                value: policy.clone(),
            }),
            Err(BackendError::ConditionFailed { .. }) => Err(StoreError::Conflict(format!(
                "alert policy {} already exists",
                policy.id
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Stores a changed policy over the version read; with `reset`, its count starts anew. A
    /// concurrent change is a [`StoreError::StaleVersion`].
    pub async fn update_alert_policy(
        &self,
        tenant: &TenantId,
        current: &Versioned<AlertPolicy>,
        next: &AlertPolicy,
        reset: bool,
        events: &[Event],
    ) -> Result<Versioned<AlertPolicy>, StoreError> {
        let version = current.version + 1;
        let mut ops = vec![WriteOp::Put {
            item: encode(policy_key(tenant, &next.id), version, next),
            condition: Condition::Version(current.version),
        }];
        if reset {
            ops.push(WriteOp::Delete {
                key: window_key(tenant, &next.id),
                condition: Condition::Always,
            });
        }
        ops.extend(crate::events::events_ops(events));
        self.backend()
            .write(ops)
            .await
            .map_err(|e| lost_race(e, current.version))?;
        Ok(Versioned {
            version,
            value: next.clone(),
        })
    }

    /// Deletes a policy at the version read, and its count. Its alerts stay.
    pub async fn delete_alert_policy(
        &self,
        tenant: &TenantId,
        current: &Versioned<AlertPolicy>,
        events: &[Event],
    ) -> Result<(), StoreError> {
        let mut ops = vec![
            WriteOp::Delete {
                key: policy_key(tenant, &current.value.id),
                condition: Condition::Version(current.version),
            },
            WriteOp::Delete {
                key: window_key(tenant, &current.value.id),
                condition: Condition::Always,
            },
        ];
        ops.extend(crate::events::events_ops(events));
        self.backend()
            .write(ops)
            .await
            .map_err(|e| lost_race(e, current.version))
    }

    /// A threshold policy's count, if it has one.
    pub async fn get_alert_window(
        &self,
        tenant: &TenantId,
        policy: &str,
    ) -> Result<Option<Versioned<AlertWindow>>, StoreError> {
        match self.backend().get(&window_key(tenant, policy)).await? {
            Some(item) => Ok(Some(decode(item)?)),
            None => Ok(None),
        }
    }

    /// Stores only a threshold policy's count, over the version read (`0`: none stored).
    pub async fn put_alert_window(
        &self,
        tenant: &TenantId,
        policy: &str,
        window: &AlertWindow,
        version: u64,
    ) -> Result<(), StoreError> {
        let op = WriteOp::Put {
            item: encode(window_key(tenant, policy), version + 1, window),
            condition: expect(version),
        };
        self.backend()
            .write(vec![op])
            .await
            .map_err(|e| lost_race(e, version))
    }

    pub async fn get_alert(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Versioned<Alert>, StoreError> {
        match self.backend().get(&alert_key(tenant, id)).await? {
            Some(item) => Ok(decode(item)?),
            None => Err(StoreError::NotFound(format!("alert {id}"))),
        }
    }

    /// Stores a new or changed alert over the version read, with the count of its policy (a
    /// threshold policy) and its events, all or nothing. Any of them changed meanwhile (or the
    /// new alert exists): [`StoreError::StaleVersion`].
    pub async fn write_alert(
        &self,
        tenant: &TenantId,
        w: AlertWrite<'_>,
    ) -> Result<Versioned<Alert>, StoreError> {
        let mut ops = vec![WriteOp::Put {
            item: encode(alert_key(tenant, &w.alert.id), w.version + 1, w.alert),
            condition: expect(w.version),
        }];
        if let Some((policy, window, version)) = w.window {
            ops.push(WriteOp::Put {
                item: encode(window_key(tenant, policy), version + 1, window),
                condition: expect(version),
            });
        }
        ops.extend(crate::events::events_ops(w.events));
        self.backend()
            .write(ops)
            .await
            .map_err(|e| lost_race(e, w.version))?;
        Ok(Versioned {
            version: w.version + 1,
            value: w.alert.clone(),
        })
    }

    /// The tenant's alerts that `keep` keeps, newest first, after `after` (an alert id), at
    /// most `limit`. Reads at most [`MAX_SCANNED`] alerts per call; `next` resumes.
    pub async fn list_alerts(
        &self,
        tenant: &TenantId,
        after: Option<&str>,
        keep: &(dyn Fn(&Alert) -> bool + Sync),
        limit: usize,
    ) -> Result<AlertPage, StoreError> {
        let mut query = Query::prefix(alerts_pk(tenant), "");
        query.descending = true;
        query.after = after.map(str::to_owned);
        let mut alerts = Vec::new();
        let mut scanned = 0;
        loop {
            query.limit = Some((MAX_SCANNED - scanned).min(500));
            let page = self.backend().query(&query).await?;
            for item in page.items {
                scanned += 1;
                let last = item.key.sk.clone();
                let alert = decode::<Alert>(item)?;
                if keep(&alert.value) {
                    alerts.push(alert);
                }
                if alerts.len() == limit || scanned == MAX_SCANNED {
                    return Ok(AlertPage {
                        alerts,
                        next: Some(last),
                    });
                }
                query.after = Some(last);
            }
            if page.next.is_none() {
                return Ok(AlertPage { alerts, next: None });
            }
        }
    }
}
