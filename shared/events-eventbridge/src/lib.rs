//! Publishing domain events (API.md "Domain events"): the [`EventPublisher`] port, and its
//! adapter over Amazon EventBridge, [`EventBridgePublisher`].
//!
//! Each event becomes one EventBridge entry: source `attest`, detail-type the event's type,
//! detail the envelope, time the event's time, on the configured bus. `PutEvents` takes at
//! most 10 entries (and 256 KiB) a call, and may accept some entries of a call and refuse
//! others: refused entries, and calls that fail as a whole for a reason that may pass
//! (throttling, a server error, the network), are tried again a bounded number of times with a
//! short backoff; what still fails is handed back to the caller, which decides (the
//! `events-publish` function reports those records back to the table's stream).

use std::time::Duration;

use async_trait::async_trait;
use attest_domain::event::Event;
use aws_sdk_eventbridge::config::http::HttpResponse;
use aws_sdk_eventbridge::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_eventbridge::operation::put_events::PutEventsError;
use aws_sdk_eventbridge::primitives::DateTime;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_eventbridge::Client;

/// The `source` of every event Attest puts on a bus.
pub const SOURCE: &str = "attest";
/// Most entries one `PutEvents` call takes.
pub const MAX_ENTRIES_PER_CALL: usize = 10;
/// Most bytes of entries one `PutEvents` call takes (as EventBridge counts them).
pub const MAX_BYTES_PER_CALL: usize = 256 * 1024;

/// An event that could not be published, and why (the last reason seen).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpublished {
    pub event_id: String,
    pub reason: String,
}

/// Where domain events go once committed: the port `events-publish` publishes through.
#[async_trait]
pub trait EventPublisher: Send + Sync {
    /// Publishes `events` (each at least once) and returns those that could not be
    /// published, in the order given; an empty list means every one was.
    async fn publish(&self, events: &[Event]) -> Vec<Unpublished>;
}

/// The size EventBridge counts for an entry: its source, detail-type and detail in UTF-8
/// bytes, and 14 for its time.
fn entry_size(event: &Event, detail: &str) -> usize {
    SOURCE.len() + event.kind.as_str().len() + detail.len() + 14
}

/// Splits `sized` (item, size) into runs of at most [`MAX_ENTRIES_PER_CALL`] items and
/// [`MAX_BYTES_PER_CALL`] bytes, in order; an item larger than the limit goes alone.
fn chunks<T>(sized: Vec<(T, usize)>) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = Vec::new();
    let mut bytes = 0;
    for (item, size) in sized {
        match out.last_mut() {
            Some(last)
                if last.len() < MAX_ENTRIES_PER_CALL && bytes + size <= MAX_BYTES_PER_CALL =>
            {
                bytes += size;
                last.push(item);
            }
            _ => {
                bytes = size;
                out.push(vec![item]);
            }
        }
    }
    out
}

/// Why a whole `PutEvents` call failed, and whether trying again may help.
struct CallFailure {
    reason: String,
    retryable: bool,
}

/// Throttling, a server error or no answer may pass; a refused request (the bus does not
/// exist, access denied, a malformed request) will not.
fn call_failure(e: SdkError<PutEventsError, HttpResponse>) -> CallFailure {
    let retryable = match &e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(s) => {
            s.raw().status().is_server_error()
                || matches!(
                    e.code(),
                    Some(
                        "ThrottlingException"
                            | "Throttling"
                            | "TooManyRequestsException"
                            | "InternalException"
                            | "InternalFailure"
                            | "ServiceUnavailable"
                    )
                )
        }
        _ => false,
    };
    CallFailure {
        reason: DisplayErrorContext(&e).to_string(),
        retryable,
    }
}

/// Publishes to an EventBridge bus.
#[derive(Clone)]
pub struct EventBridgePublisher {
    client: Client,
    bus: String,
    attempts: u32,
    backoff: Duration,
}

impl EventBridgePublisher {
    /// Publishes on the bus named `bus` (a name or an ARN): each entry tried at most 4 times,
    /// 50 ms apart at first, doubling.
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
            attempts: 4,
            backoff: Duration::from_millis(50),
        }
    }

    /// Tries each entry at most `attempts` times (at least once), waiting `backoff` before the
    /// second try and twice as long before each further one.
    pub fn with_retries(mut self, attempts: u32, backoff: Duration) -> Self {
        self.attempts = attempts.max(1);
        self.backoff = backoff;
        self
    }

    fn entry(&self, event: &Event, detail: String) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .source(SOURCE)
            .detail_type(event.kind.as_str())
            .detail(detail)
            .time(DateTime::from_millis(event.at.timestamp_millis()))
            .event_bus_name(&self.bus)
            .build()
    }

    /// One `PutEvents` call: per entry, `None` if it was accepted, else why not.
    async fn put(
        &self,
        entries: &[PutEventsRequestEntry],
    ) -> Result<Vec<Option<String>>, CallFailure> {
        let out = self
            .client
            .put_events()
            .set_entries(Some(entries.to_vec()))
            .send()
            .await
            .map_err(call_failure)?;
        let results = out.entries();
        if results.len() != entries.len() {
            // The answer should pair each entry with a result; without that, none is known.
            return Err(CallFailure {
                reason: format!(
                    "PutEvents answered {} results for {} entries",
                    results.len(),
                    entries.len()
                ),
                retryable: true,
            });
        }
        Ok(results
            .iter()
            .map(|r| {
                r.error_code().map(|code| match r.error_message() {
                    Some(message) => format!("{code}: {message}"),
                    None => code.to_owned(),
                })
            })
            .collect())
    }

    /// Publishes one call's worth of events, retrying what fails; returns what still did.
    async fn publish_chunk(&self, chunk: Vec<(&Event, PutEventsRequestEntry)>) -> Vec<Unpublished> {
        let mut pending = chunk;
        let mut reasons: Vec<String> = Vec::new();
        for attempt in 0..self.attempts {
            if attempt > 0 {
                tokio::time::sleep(self.backoff * 2u32.pow((attempt - 1).min(10))).await;
            }
            let entries: Vec<PutEventsRequestEntry> =
                pending.iter().map(|(_, e)| e.clone()).collect();
            match self.put(&entries).await {
                Ok(results) => {
                    let mut failed = Vec::new();
                    reasons.clear();
                    for (entry, result) in pending.into_iter().zip(results) {
                        if let Some(reason) = result {
                            tracing::warn!(event = %entry.0.id, attempt, reason = %reason, "EventBridge refused an entry");
                            failed.push(entry);
                            reasons.push(reason);
                        }
                    }
                    pending = failed;
                    if pending.is_empty() {
                        return Vec::new();
                    }
                }
                Err(failure) => {
                    tracing::warn!(entries = pending.len(), attempt, retryable = failure.retryable, error = %failure.reason, "PutEvents failed");
                    reasons = vec![failure.reason; pending.len()];
                    if !failure.retryable {
                        break;
                    }
                }
            }
        }
        pending
            .into_iter()
            .zip(reasons)
            .map(|((event, _), reason)| Unpublished {
                event_id: event.id.clone(),
                reason,
            })
            .collect()
    }
}

#[async_trait]
impl EventPublisher for EventBridgePublisher {
    async fn publish(&self, events: &[Event]) -> Vec<Unpublished> {
        let sized = events
            .iter()
            .map(|event| {
                let detail = serde_json::to_string(event).expect("events serialize");
                let size = entry_size(event, &detail);
                ((event, self.entry(event, detail)), size)
            })
            .collect();
        let mut unpublished = Vec::new();
        for chunk in chunks(sized) {
            unpublished.extend(self.publish_chunk(chunk).await);
        }
        unpublished
    }
}

#[cfg(test)]
mod tests;
