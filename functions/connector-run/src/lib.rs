//! Connector runs (API.md "Connectors"): Lambda's SQS event source hands this function a batch
//! of messages from the run queue, each a [`RunRequest`] (what `connector-import` and
//! `POST /connectors/{id}/run` queue). Each request is run with [`connectors::execute`] on a
//! task of its own, all of the batch at once, so a slow or failing run never holds up the
//! others.
//!
//! The answer is a partial batch response: the ids of the messages whose run failed to
//! complete (the table or the secret store failing, a run still going when the invocation is
//! about to time out). Only those are received again, after the queue's visibility timeout;
//! after 3 receives a request goes to the dead-letter queue. A run that completes is never
//! reported, whatever its outcome: a failed run (the service refused the credentials, was
//! down, ...) is recorded in the connector's history and retried by the next schedule.
//! Requests that no retry can help are logged and dropped: a body that is not a run request,
//! an invalid tenant or connector kind, a connector that is gone, one that another run holds
//! (its lease).
//!
//! Logs name tenants, connectors, runs and outcomes, never credentials.

use std::time::Duration;

use attest_api::state::RunRequest;
use attest_api::usecases::connectors::{self, ConnectorUseError, Executed};
use attest_api::AppState;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use tokio::time::Instant;

/// How long before the invocation's deadline the runs still going are given up on and
/// reported, so that the response reaches Lambda before the time-out.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(10);

/// What became of one message.
#[derive(Debug, PartialEq, Eq)]
pub enum Handled {
    /// The run completed (whatever its outcome), or there was nothing to run.
    Done(Executed),
    /// Not something a retry can help: logged and dropped.
    Dropped(String),
    /// The run failed to complete: reported, so the message is received again.
    Failed(String),
}

/// Runs one message's request.
pub async fn handle_message(state: &AppState, message: &SqsMessage) -> Handled {
    let id = message.message_id.as_deref().unwrap_or("-");
    let Some(body) = message.body.as_deref() else {
        tracing::error!(message = id, "a message without a body; dropped");
        return Handled::Dropped("no body".into());
    };
    let request: RunRequest = match serde_json::from_str(body) {
        Ok(r) => r,
        Err(e) => {
            // serde's message names the position and what was expected, not the body.
            tracing::error!(message = id, bytes = body.len(), error = %e, "not a run request; dropped");
            return Handled::Dropped(format!("not a run request: {e}"));
        }
    };
    let (tenant, connector, run) = (&request.tenant, &request.connector_id, &request.run_id);
    match connectors::execute(state, &request).await {
        Ok(done) => {
            match &done {
                Executed::Ran(outcome) => {
                    tracing::info!(message = id, %tenant, %connector, %run, outcome = ?outcome, "connector run completed")
                }
                Executed::Busy => {
                    tracing::info!(message = id, %tenant, %connector, %run, "another run of the connector is under way; skipped")
                }
                Executed::Gone => {
                    tracing::info!(message = id, %tenant, %connector, %run, "the connector is gone; nothing to run")
                }
            }
            Handled::Done(done)
        }
        Err(e @ (ConnectorUseError::Invalid(_) | ConnectorUseError::NotFound(_))) => {
            tracing::error!(message = id, %tenant, %connector, %run, error = %e, "a run request no retry can help; dropped");
            Handled::Dropped(e.to_string())
        }
        Err(e) => {
            tracing::warn!(message = id, %tenant, %connector, %run, error = %e, "connector run failed to complete; the message is reported for a retry");
            Handled::Failed(e.to_string())
        }
    }
}

/// Runs every message of a batch at once and reports the ones whose run failed to complete.
/// Runs still going at `deadline` are stopped and reported too (their lease expires before the
/// message is received again).
pub async fn handle(
    state: &AppState,
    batch: SqsEvent,
    deadline: Option<Instant>,
) -> SqsBatchResponse {
    let mut tasks = Vec::with_capacity(batch.records.len());
    for message in batch.records {
        let state = state.clone();
        let id = message.message_id.clone();
        let task = tokio::spawn(async move { handle_message(&state, &message).await });
        tasks.push((id, task));
    }
    let mut response = SqsBatchResponse::default();
    for (id, mut task) in tasks {
        let outcome = match deadline {
            Some(at) => {
                match tokio::time::timeout_at(at, &mut task).await {
                    Ok(joined) => joined,
                    Err(_) => {
                        task.abort();
                        tracing::warn!(message = id.as_deref().unwrap_or("-"), "run still going as the invocation ends; stopped and reported for a retry");
                        Ok(Handled::Failed("still running at the deadline".into()))
                    }
                }
            }
            None => task.await,
        };
        let failed = match outcome {
            Ok(Handled::Failed(_)) => true,
            Ok(_) => false,
            Err(e) => {
                tracing::error!(message = id.as_deref().unwrap_or("-"), error = %e, "a run's task ended abnormally; reported for a retry");
                true
            }
        };
        if failed {
            match id {
                Some(id) => {
                    let mut failure = BatchItemFailure::default();
                    failure.item_identifier = id;
                    response.batch_item_failures.push(failure);
                }
                None => tracing::error!("a failed message without an id cannot be reported; it is deleted with the batch"),
            }
        }
    }
    if !response.batch_item_failures.is_empty() {
        tracing::warn!(
            failed = response.batch_item_failures.len(),
            "run requests reported for a retry"
        );
    }
    response
}

/// The instant [`DEADLINE_MARGIN`] before an invocation's deadline (milliseconds since the
/// epoch, as Lambda gives it); `None` when it is not in the future.
pub fn deadline_from_epoch_ms(deadline_ms: u64) -> Option<Instant> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_millis() as u64;
    let left = Duration::from_millis(deadline_ms.checked_sub(now_ms)?);
    Some(Instant::now() + left.saturating_sub(DEADLINE_MARGIN))
}

#[cfg(test)]
mod tests;
