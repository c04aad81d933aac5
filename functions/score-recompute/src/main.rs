//! Recomputes stored scores (API.md "Score recomputation and history"). EventBridge invokes
//! it with each event on the bus that can change a score (the rule in template.yaml), and
//! once a day with the schedule's `DailyScoreTick`.
//!
//! An event's scopes (its assessments and its tenant) are recomputed from current state, never
//! by adding deltas, and an event handled before is skipped (de-duplicated on its id), so
//! duplicated and reordered deliveries leave the same scores. The tick appends one history
//! point per scope per day. An error fails the invocation: Lambda retries it, then sends it to
//! the dead-letter queue.

use attest_api::usecases::score;
use attest_api::AppState;
use attest_domain::event::{Event, EventType};
use lambda_runtime::{service_fn, LambdaEvent};
use serde::Deserialize;
use serde_json::Value;

/// What the function reads of an EventBridge event: the bus's events carry the envelope as
/// `detail`; the schedule's input is `{"source", "detail-type": "DailyScoreTick", "detail"}`.
#[derive(Debug, Deserialize)]
struct Delivery {
    #[serde(rename = "detail-type")]
    detail_type: String,
    #[serde(default)]
    detail: Value,
}

/// What one invocation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The daily run: how many history points it appended.
    Daily { points: usize },
    /// An event: how many scopes' scores changed.
    Recomputed { changed: usize },
}

async fn handle(state: &AppState, payload: Value) -> Result<Outcome, attest_lambda::Error> {
    let delivery: Delivery =
        serde_json::from_value(payload).map_err(|e| format!("not an EventBridge event: {e}"))?;
    if delivery.detail_type == EventType::DailyScoreTick.as_str() {
        let points = score::daily(state).await?;
        tracing::info!(points, "daily score points appended");
        return Ok(Outcome::Daily { points });
    }
    let event: Event = serde_json::from_value(delivery.detail).map_err(|e| {
        format!(
            "{}: the detail is not an event envelope: {e}",
            delivery.detail_type
        )
    })?;
    if event.kind.as_str() != delivery.detail_type {
        tracing::warn!(event = %event.id, kind = event.kind.as_str(), detail_type = %delivery.detail_type, "detail-type and envelope type differ; the envelope's counts");
    }
    let changed = score::on_events(state, std::slice::from_ref(&event)).await?;
    tracing::info!(event = %event.id, tenant = %event.tenant, kind = event.kind.as_str(), changed = changed.len(), "scores recomputed");
    Ok(Outcome::Recomputed {
        changed: changed.len(),
    })
}

#[tokio::main]
async fn main() -> Result<(), attest_lambda::Error> {
    let config = attest_lambda::init().await;
    let state = AppState::new(attest_lambda::store(&config)?);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let state = state.clone();
        async move { handle(&state, event.payload).await.map(drop) }
    }))
    .await
}

#[cfg(test)]
mod tests;
