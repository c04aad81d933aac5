//! The in-process event bus of `attest serve`: the outbox (see `attest_store::events`)
//! drained to the consumers the AWS stack runs as functions — score recomputation and alerts.
//! In AWS, `events-publish` and EventBridge do this; the consumers are the same use cases.

use std::collections::HashMap;
use std::sync::Arc;

use attest_domain::event::Event;

use crate::usecases::{alerts, score};
use crate::AppState;

/// How many outbox items one round reads.
const BATCH: usize = 100;
/// How many times an event whose delivery fails is tried before it is set aside (logged).
const MAX_FAILURES: u32 = 5;

/// Delivers every event to the consumers: score recomputation, then alerts.
pub async fn deliver(state: &AppState, events: &[Event]) -> Result<(), String> {
    score::on_events(state, events)
        .await
        .map_err(|e| format!("score recomputation: {e}"))?;
    // The ScoreChanged events recomputation writes reach alerts in the drain's next round.
    alerts::on_events(state, events)
        .await
        .map_err(|e| format!("alert evaluation: {e}"))?;
    Ok(())
}

/// The local bus: one drain at a time.
pub struct LocalBus {
    state: AppState,
    /// Failed deliveries per event id; held while draining.
    failures: tokio::sync::Mutex<HashMap<String, u32>>,
}

impl LocalBus {
    pub fn new(state: AppState) -> Arc<Self> {
        Arc::new(Self {
            state,
            failures: tokio::sync::Mutex::new(HashMap::new()),
        })
    }

    /// Delivers what is in the outbox, oldest first, and takes each event out once it was
    /// delivered; events the consumers write meanwhile (`ScoreChanged`, `AlertRaised`) are
    /// delivered in the same drain. A delivery that fails leaves its events in the outbox for
    /// the next drain (at most [`MAX_FAILURES`] times). Returns how many were delivered.
    pub async fn drain(&self) -> usize {
        let mut failures = self.failures.lock().await;
        let mut delivered = 0;
        loop {
            let batch = match self.state.store.outbox(BATCH).await {
                Ok(batch) if !batch.is_empty() => batch,
                Ok(_) => return delivered,
                Err(e) => {
                    tracing::warn!(error = %e, "the outbox could not be read; next drain retries");
                    return delivered;
                }
            };
            let ids: Vec<String> = batch.iter().map(|e| e.id.clone()).collect();
            if let Err(e) = deliver(&self.state, &batch).await {
                let worst = ids
                    .iter()
                    .map(|id| {
                        let n = failures.entry(id.clone()).or_default();
                        *n += 1;
                        *n
                    })
                    .max()
                    .unwrap_or(0);
                if worst < MAX_FAILURES {
                    tracing::warn!(error = %e, events = ids.len(), "delivery failed; next drain retries");
                    return delivered;
                }
                tracing::error!(error = %e, events = ?ids, "delivery failed {MAX_FAILURES} times; events set aside");
            }
            if let Err(e) = self.state.store.remove_from_outbox(&ids).await {
                tracing::warn!(error = %e, "delivered events stay in the outbox; consumers skip them");
                return delivered;
            }
            for id in &ids {
                failures.remove(id);
            }
            delivered += ids.len();
        }
    }
}
