//! The in-process event bus of `attest serve`: the outbox (see `attest_store::events`)
//! drained to the consumers the AWS stack runs as functions — score recomputation, then
//! alerts. In AWS, `events-publish` and EventBridge do this; the consumers are the same use
//! cases.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use attest_domain::event::Event;
use attest_store::events::OutboxItem;

use crate::usecases::{alerts, score};
use crate::AppState;

/// How many outbox items one round reads.
const BATCH: usize = 100;
/// How many rounds one drain takes at most, so that a request's drain ends however fast
/// others write (what is left goes with the next drain).
const ROUNDS: usize = 10;
/// How many times an event is tried before it is set aside (kept, with why).
const MAX_ATTEMPTS: u32 = 10;
/// The pause after an event's first failed delivery; it doubles with each failure.
const FIRST_PAUSE: Duration = Duration::from_secs(1);
/// The longest pause between two tries of one event.
const LONGEST_PAUSE: Duration = Duration::from_secs(300);

/// Delivers events to the consumers: score recomputation, then alerts.
pub async fn deliver(state: &AppState, events: &[Event]) -> Result<(), String> {
    score::on_events(state, events)
        .await
        .map_err(|e| format!("score recomputation: {e}"))?;
    alerts::on_events(state, events)
        .await
        .map_err(|e| format!("alerts: {e}"))?;
    Ok(())
}

/// An event whose delivery failed: how often, and when it may be tried again.
struct Failing {
    attempts: u32,
    not_before: Instant,
}

/// The local bus: one drain at a time.
pub struct LocalBus {
    state: AppState,
    failing: tokio::sync::Mutex<HashMap<String, Failing>>,
}

impl LocalBus {
    pub fn new(state: AppState) -> Arc<Self> {
        Arc::new(Self {
            state,
            failing: tokio::sync::Mutex::new(HashMap::new()),
        })
    }

    /// Delivers what is in the outbox, oldest first, and takes each event out once it was
    /// delivered; events the consumers write meanwhile (`ScoreChanged`, `AlertRaised`) are
    /// delivered in the same drain. When a batch fails, its events are delivered one by one:
    /// only those that fail stay, and are tried again after a pause that doubles (1 s to
    /// 5 min); after [`MAX_ATTEMPTS`], or at once when it cannot be read as an event, an item
    /// is set aside (`OUTBOXDEAD`, kept with why). At most [`ROUNDS`] batches per drain.
    /// Returns how many events were delivered.
    pub async fn drain(&self) -> usize {
        let mut failing = self.failing.lock().await;
        let mut delivered = 0;
        let mut after: Option<String> = None;
        for _ in 0..ROUNDS {
            let items = match self.state.store.outbox_page(after.as_deref(), BATCH).await {
                Ok(items) if !items.is_empty() => items,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "the outbox could not be read; the next drain retries");
                    break;
                }
            };
            after = items.last().map(|i| i.id.clone());
            let now = Instant::now();
            let mut ready: Vec<(OutboxItem, Event)> = Vec::new();
            for item in items {
                match item.event.clone() {
                    Err(why) => self.set_aside(&item, &why).await,
                    Ok(_) if failing.get(&item.id).is_some_and(|f| f.not_before > now) => {}
                    Ok(event) => ready.push((item, event)),
                }
            }
            let events: Vec<Event> = ready.iter().map(|(_, e)| e.clone()).collect();
            let done: Vec<String> = if events.is_empty() {
                Vec::new()
            } else if deliver(&self.state, &events).await.is_ok() {
                events.iter().map(|e| e.id.clone()).collect()
            } else {
                let mut done = Vec::new();
                for (item, event) in &ready {
                    match deliver(&self.state, std::slice::from_ref(event)).await {
                        Ok(()) => done.push(event.id.clone()),
                        Err(why) => self.failed(&mut failing, item, &why).await,
                    }
                }
                done
            };
            if let Err(e) = self.state.store.remove_from_outbox(&done).await {
                tracing::warn!(error = %e, "delivered events stay in the outbox; consumers skip them");
                break;
            }
            for id in &done {
                failing.remove(id);
            }
            delivered += done.len();
        }
        delivered
    }

    async fn failed(&self, failing: &mut HashMap<String, Failing>, item: &OutboxItem, why: &str) {
        let f = failing.entry(item.id.clone()).or_insert(Failing {
            attempts: 0,
            not_before: Instant::now(),
        });
        f.attempts += 1;
        if f.attempts >= MAX_ATTEMPTS {
            self.set_aside(item, why).await;
            failing.remove(&item.id);
            return;
        }
        let pause = FIRST_PAUSE
            .saturating_mul(1 << (f.attempts - 1).min(16))
            .min(LONGEST_PAUSE);
        f.not_before = Instant::now() + pause;
        tracing::warn!(event = %item.id, attempts = f.attempts, error = %why, "delivery failed; tried again in {pause:?}");
    }

    async fn set_aside(&self, item: &OutboxItem, why: &str) {
        tracing::error!(event = %item.id, error = %why, "an outbox item set aside, undelivered");
        if let Err(e) = self.state.store.set_aside(item, why).await {
            tracing::warn!(event = %item.id, error = %e, "could not set aside; the next drain tries again");
        }
    }
}

#[cfg(test)]
mod tests {
    use attest_domain::assessment::Assessment;
    use attest_domain::event::{EventType, Subject};
    use attest_domain::group::{AssessmentGroup, GroupName};
    use attest_domain::ids::{AssessmentId, GroupId, RegulationId};
    use attest_store::backend::{Condition, Item, Key, WriteOp};
    use attest_store::groups::NewGroup;

    use super::*;
    use crate::usecases::testkit::{assess, ports};

    /// An item that is not an event and an event whose delivery fails leave the others
    /// delivered: the first is set aside at once, the second stays for later tries.
    #[tokio::test]
    async fn one_bad_item_or_failing_event_does_not_hold_up_the_others() {
        let (state, caller, _dir) = ports();
        assess(&state, &caller, "soc2-2017", "Europe").await;
        // An assessment of a regulation that does not exist: recomputing it fails.
        let group = AssessmentGroup {
            id: GroupId::parse("g-broken").unwrap(),
            name: GroupName::parse("Broken").unwrap(),
            created_at: state.now(),
            created_by: "alice".into(),
        };
        let broken = Assessment {
            id: AssessmentId::parse("broken").unwrap(),
            name: "Broken".into(),
            group_id: group.id.clone(),
            regulation_id: RegulationId::parse("gone").unwrap(),
            services: vec!["aws".into()],
            created_at: state.now(),
            connectors: None,
            archived_at: None,
        };
        let failing = Event::new(
            &caller.tenant,
            EventType::AssessmentCreated,
            state.now(),
            None,
            Subject::new("assessment", "broken"),
            serde_json::json!({}),
        );
        state
            .store
            .create_assessment(
                &caller.tenant,
                &broken,
                Some(NewGroup {
                    group: &group,
                    copy_from: None,
                }),
                &[],
                std::slice::from_ref(&failing),
            )
            .await
            .unwrap();
        state
            .store
            .backend()
            .write(vec![WriteOp::Put {
                item: Item {
                    key: Key::new(attest_store::events::OUTBOX, "0-not-an-event"),
                    version: 1,
                    body: serde_json::json!({"what": "is this"}),
                },
                condition: Condition::Always,
            }])
            .await
            .unwrap();
        let waiting = state.store.outbox_page(None, 100).await.unwrap().len();
        assert!(waiting >= 4, "{waiting}");

        let bus = LocalBus::new(state.clone());
        let delivered = bus.drain().await;
        // All but the two bad ones, and the ScoreChanged events their recomputation wrote.
        assert!(delivered > waiting - 2, "{delivered} of {waiting}");
        let left = state.store.outbox_page(None, 100).await.unwrap();
        let subjects: Vec<&str> = left
            .iter()
            .map(|i| i.event.as_ref().unwrap().subject.id.as_str())
            .collect();
        assert_eq!(
            subjects,
            [failing.subject.id.as_str()],
            "only the failing event stays"
        );
        let aside = state
            .store
            .backend()
            .get(&Key::new(
                attest_store::events::UNDELIVERABLE,
                "0-not-an-event",
            ))
            .await
            .unwrap();
        assert!(aside.is_some(), "the unreadable item is kept aside");
        // Tried again only after its pause: a drain right away leaves it alone.
        assert_eq!(bus.drain().await, 0);
        assert_eq!(state.store.outbox_page(None, 100).await.unwrap().len(), 1);
        // The scores of the healthy events were recomputed.
        assert!(state
            .store
            .get_score(&caller.tenant, &attest_store::scores::ScoreScope::Tenant)
            .await
            .unwrap()
            .is_some());
    }
}
