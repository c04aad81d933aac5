//! The 24-hour connector schedule (API.md "Connectors"): EventBridge Scheduler invokes this
//! function once a day (`rate(24 hours)` in template.yaml) and it puts one run request per
//! active connector of the stack on the run queue ([`connectors::schedule_all`]: the
//! scheduler's index partition, never a tenant's data), where `connector-run` takes them.
//!
//! It logs how many requests it queued, never anything of a connector's credentials (it never
//! reads them). An error (the table or the queue failing) fails the invocation: Lambda retries
//! it, then keeps it in the dead-letter queue. A retried invocation may queue a connector
//! twice; the run's lease makes the second run wait its turn or skip.

use attest_api::usecases::connectors;
use attest_api::AppState;
use serde::Serialize;
use serde_json::Value;

/// What one invocation did: how many run requests it queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Queued {
    pub queued: usize,
}

/// Queues a run of every active connector. The payload (the schedule's input) is not read
/// beyond its `detail-type`, which is logged.
pub async fn handle(state: &AppState, payload: &Value) -> Result<Queued, attest_lambda::Error> {
    let trigger = payload
        .get("detail-type")
        .and_then(Value::as_str)
        .unwrap_or("invocation");
    match connectors::schedule_all(state).await {
        Ok(queued) => {
            tracing::info!(queued, trigger, "scheduled connector runs queued");
            Ok(Queued { queued })
        }
        Err(e) => {
            tracing::error!(error = %e, trigger, "scheduled connector runs not queued");
            Err(e.into())
        }
    }
}
