//! Domain events: the tenant's event log and the outbox, written in the same transaction as
//! the change they describe (API.md "Domain events").
//!
//! Each event is two items: one in the tenant's log (`T#{tenant}#EVENT`, sort key = the event
//! id, which sorts by time; kept 400 days) and one in the outbox (`OUTBOX`, the only partition
//! not under a tenant, so that one reader finds every undelivered event). In AWS the table's
//! stream hands new outbox items to `events-publish`, which puts them on EventBridge and
//! deletes them; `attest serve` drains the same outbox to its in-process bus after each commit
//! and at start-up. Either way an event leaves the outbox only after it was delivered.

use attest_domain::event::{Event, EventType};
use attest_domain::ids::TenantId;
use serde::{Deserialize, Serialize};

use crate::backend::{Condition, Item, Query, WriteOp, TTL_FIELD};
use crate::{keys, Key, Store, StoreError};

/// The outbox partition.
pub const OUTBOX: &str = "OUTBOX";
/// How long the log keeps an event.
pub const EVENT_RETENTION_DAYS: i64 = 400;
/// How long an undelivered outbox item is kept.
pub const OUTBOX_RETENTION_DAYS: i64 = 7;

/// An event as stored: the envelope and its expiry.
#[derive(Serialize, Deserialize)]
struct StoredEvent {
    #[serde(flatten)]
    event: Event,
    ttl: i64,
}

fn stored(event: &Event, days: i64) -> serde_json::Value {
    let ttl = (event.at + chrono::Duration::days(days)).timestamp();
    let mut body = serde_json::to_value(event).expect("events serialize");
    body[TTL_FIELD] = ttl.into();
    body
}

pub fn outbox_key(event_id: &str) -> Key {
    Key::new(OUTBOX, event_id)
}

/// The two writes that record `event` as it is.
pub fn event_ops(event: &Event) -> [WriteOp; 2] {
    [
        WriteOp::Put {
            item: Item {
                key: keys::event(&event.tenant, &event.id),
                version: 1,
                body: stored(event, EVENT_RETENTION_DAYS),
            },
            condition: Condition::NotExists,
        },
        WriteOp::Put {
            item: Item {
                key: outbox_key(&event.id),
                version: 1,
                body: stored(event, OUTBOX_RETENTION_DAYS),
            },
            condition: Condition::NotExists,
        },
    ]
}

/// The writes of every event of a change; they go into the change's transaction, and are
/// built just before it is sent. Each event gets its id here, drawn now: ids sort by time, so
/// the log's order follows the order in which changes are sent, not the order in which their
/// events were first described (an import describes its event seconds before its last write).
pub fn events_ops(events: &[Event]) -> Vec<WriteOp> {
    events
        .iter()
        .flat_map(|e| {
            event_ops(&Event {
                id: attest_domain::event::new_event_id(),
                ..e.clone()
            })
        })
        .collect()
}

/// Reads an event back from an item body (the log, the outbox, or a stream record's image).
pub fn decode_event(body: serde_json::Value) -> Result<Event, StoreError> {
    serde_json::from_value::<StoredEvent>(body)
        .map(|s| s.event)
        .map_err(|e| StoreError::Backend(crate::BackendError::Corrupt(format!("event: {e}"))))
}

/// Outbox items set aside: they could not be read or delivered (kept, with why).
pub const UNDELIVERABLE: &str = "OUTBOXDEAD";

/// An outbox item as read: its id, and its event or why it is not one.
#[derive(Debug, Clone)]
pub struct OutboxItem {
    pub id: String,
    pub event: Result<Event, String>,
    pub body: serde_json::Value,
}

/// A page of a tenant's events.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPage {
    pub events: Vec<Event>,
    /// The id of the last event looked at, when more may follow.
    pub next: Option<String>,
}

/// How many log items one listing reads at most, whatever its filter.
const MAX_SCANNED: usize = 2_000;

impl Store {
    /// Records events on their own (for changes whose write already committed, e.g. nothing).
    pub async fn record_events(&self, events: &[Event]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        self.write_chunked(events.iter().flat_map(event_ops).collect())
            .await?;
        Ok(())
    }

    /// The tenant's events after `after`, oldest first, at most `limit`, only of `kind` if
    /// given. Reads at most [`MAX_SCANNED`] items per call; `next` then resumes the scan.
    pub async fn list_events(
        &self,
        tenant: &TenantId,
        after: Option<&str>,
        kind: Option<EventType>,
        limit: usize,
    ) -> Result<EventPage, StoreError> {
        let mut query = Query::prefix(keys::events(tenant), "");
        query.after = after.map(str::to_owned);
        let mut events = Vec::new();
        let mut scanned = 0;
        loop {
            query.limit = Some(match kind {
                None => limit - events.len(),
                Some(_) => (MAX_SCANNED - scanned).min(500),
            });
            let page = self.backend().query(&query).await?;
            for item in page.items {
                scanned += 1;
                let last = item.key.sk.clone();
                let event = decode_event(item.body)?;
                if kind.is_none_or(|k| k == event.kind) {
                    events.push(event);
                }
                if events.len() == limit || scanned == MAX_SCANNED {
                    return Ok(EventPage {
                        events,
                        next: Some(last),
                    });
                }
                query.after = Some(last);
            }
            if page.next.is_none() {
                return Ok(EventPage { events, next: None });
            }
        }
    }

    /// Undelivered events, oldest first, at most `limit` (items that cannot be read as events
    /// are left out: see [`Store::outbox_page`]).
    pub async fn outbox(&self, limit: usize) -> Result<Vec<Event>, StoreError> {
        Ok(self
            .outbox_page(None, limit)
            .await?
            .into_iter()
            .filter_map(|i| i.event.ok())
            .collect())
    }

    /// Outbox items after `after`, oldest first, at most `limit`, each read as an event or
    /// with the reason it cannot be.
    pub async fn outbox_page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let mut query = Query::prefix(OUTBOX, "");
        query.after = after.map(str::to_owned);
        query.limit = Some(limit);
        let page = self.backend().query(&query).await?;
        Ok(page
            .items
            .into_iter()
            .map(|i| OutboxItem {
                id: i.key.sk,
                event: decode_event(i.body.clone()).map_err(|e| e.to_string()),
                body: i.body,
            })
            .collect())
    }

    /// Moves an outbox item that cannot be delivered to [`UNDELIVERABLE`], with why, in one
    /// transaction: it leaves the outbox but is kept for an operator.
    pub async fn set_aside(&self, item: &OutboxItem, reason: &str) -> Result<(), StoreError> {
        let ops = vec![
            WriteOp::Put {
                item: Item {
                    key: Key::new(UNDELIVERABLE, item.id.clone()),
                    version: 1,
                    body: serde_json::json!({
                        "item": item.body,
                        "reason": reason,
                        "at": chrono::Utc::now(),
                    }),
                },
                condition: Condition::Always,
            },
            WriteOp::Delete {
                key: outbox_key(&item.id),
                condition: Condition::Always,
            },
        ];
        self.backend().write(ops).await?;
        Ok(())
    }

    /// Takes delivered events out of the outbox.
    pub async fn remove_from_outbox(&self, ids: &[String]) -> Result<(), StoreError> {
        let ops = ids
            .iter()
            .map(|id| WriteOp::Delete {
                key: outbox_key(id),
                condition: Condition::Always,
            })
            .collect();
        self.write_chunked(ops).await?;
        Ok(())
    }

    /// Whether consumer `consumer` has handled the event ([`Store::claim_event`]).
    pub async fn event_handled(
        &self,
        tenant: &TenantId,
        consumer: &str,
        event: &Event,
    ) -> Result<bool, StoreError> {
        Ok(self
            .backend()
            .get(&keys::event_seen(tenant, consumer, &event.id))
            .await?
            .is_some())
    }

    /// Claims `event_id` for consumer `consumer` (de-duplication): true the first time only.
    /// The claim is kept as long as the event.
    pub async fn claim_event(
        &self,
        tenant: &TenantId,
        consumer: &str,
        event: &Event,
    ) -> Result<bool, StoreError> {
        let mut body = serde_json::json!({});
        body[TTL_FIELD] = (event.at + chrono::Duration::days(EVENT_RETENTION_DAYS))
            .timestamp()
            .into();
        let op = WriteOp::Put {
            item: Item {
                key: keys::event_seen(tenant, consumer, &event.id),
                version: 1,
                body,
            },
            condition: Condition::NotExists,
        };
        match self.backend().write(vec![op]).await {
            Ok(()) => Ok(true),
            Err(crate::BackendError::ConditionFailed { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}
