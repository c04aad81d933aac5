//! Insider-risk signals and the people leaving (API.md "Data connectors").
//!
//! - Signals: `T#{tenant}#SIGNAL#{person}`, sort key `{at}#{id}` (time order; a person's
//!   signals newest first is one descending query). Written if absent, with their
//!   `SignalRecorded` event: a record imported twice gives its signal once.
//! - Departing people: `T#{tenant}#DEPART`, sort key = the person, the latest resignation or
//!   termination on record (the one with the latest last working date).

use attest_domain::event::Event;
use attest_domain::ids::TenantId;
use attest_domain::signal::{Departing, Signal};

use crate::backend::{BackendError, Condition, Query, WriteOp};
use crate::keys::pk;
use crate::record::{decode, encode};
use crate::{Key, Store, StoreError};

fn signals_pk(tenant: &TenantId, person: &str) -> String {
    pk(tenant, &format!("SIGNAL#{person}"))
}

fn signal_key(tenant: &TenantId, s: &Signal) -> Key {
    Key::new(
        signals_pk(tenant, &s.person),
        format!("{}#{}", s.at.format("%Y-%m-%dT%H:%M:%S%.9fZ"), s.id),
    )
}

fn departing_pk(tenant: &TenantId) -> String {
    pk(tenant, "DEPART")
}

impl Store {
    /// Stores the signals not stored before, each with its event (`events[i]` for
    /// `signals[i]`). Returns how many were new.
    pub async fn put_signals(
        &self,
        tenant: &TenantId,
        signals: &[Signal],
        events: &[Event],
    ) -> Result<usize, StoreError> {
        assert_eq!(signals.len(), events.len(), "one event per signal");
        let mut new = 0;
        for (s, e) in signals.iter().zip(events) {
            let mut ops = vec![WriteOp::Put {
                item: encode(signal_key(tenant, s), 1, s),
                condition: Condition::NotExists,
            }];
            ops.extend(crate::events::events_ops(std::slice::from_ref(e)));
            match self.backend().write(ops).await {
                Ok(()) => new += 1,
                Err(BackendError::ConditionFailed { index: 0 }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(new)
    }

    /// A person's signals, newest first, at most `limit`.
    pub async fn person_signals(
        &self,
        tenant: &TenantId,
        person: &str,
        limit: usize,
    ) -> Result<Vec<Signal>, StoreError> {
        let mut query = Query::prefix(signals_pk(tenant, person), "");
        query.descending = true;
        query.limit = Some(limit);
        let page = self.backend().query(&query).await?;
        page.items
            .into_iter()
            .map(|i| Ok(decode(i)?.value))
            .collect()
    }

    /// Records that a person is leaving, unless a later last working date is on record.
    pub async fn put_departing(&self, tenant: &TenantId, d: &Departing) -> Result<(), StoreError> {
        let key = Key::new(departing_pk(tenant), d.person.as_str());
        for _ in 0..8 {
            let (condition, version) = match self.backend().get(&key).await? {
                None => (Condition::NotExists, 1),
                Some(item) => {
                    let current = decode::<Departing>(item)?;
                    if current.value.last_working_date >= d.last_working_date {
                        return Ok(());
                    }
                    (Condition::Version(current.version), current.version + 1)
                }
            };
            match self
                .backend()
                .write(vec![WriteOp::Put {
                    item: encode(key.clone(), version, d),
                    condition,
                }])
                .await
            {
                Ok(()) => return Ok(()),
                Err(BackendError::ConditionFailed { .. })
                | Err(BackendError::TransactionConflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict(format!(
            "{} kept changing while recorded as departing",
            d.person
        )))
    }

    /// The person's departure on record, if any.
    pub async fn departing(
        &self,
        tenant: &TenantId,
        person: &str,
    ) -> Result<Option<Departing>, StoreError> {
        match self
            .backend()
            .get(&Key::new(departing_pk(tenant), person))
            .await?
        {
            Some(item) => Ok(Some(decode(item)?.value)),
            None => Ok(None),
        }
    }

    /// Every departure on record in the tenant.
    pub async fn list_departing(&self, tenant: &TenantId) -> Result<Vec<Departing>, StoreError> {
        self.query_all(departing_pk(tenant), "")
            .await?
            .into_iter()
            .map(|i| Ok(decode(i)?.value))
            .collect()
    }
}
