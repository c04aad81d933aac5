//! Publishes domain events (API.md "Domain events"): the table's stream hands each new outbox
//! item (an INSERT under `pk` `OUTBOX`) to this function, which puts its event on the stack's
//! bus (source `attest`, detail-type the event's type, detail the envelope; at most 10 entries
//! a `PutEvents`, refused entries retried) and then takes it out of the outbox.
//!
//! Records the function cannot publish are reported back to the stream as a partial batch
//! failure: the first of them in stream order, so that Lambda retries the batch from that
//! record on (records after it that were published go again: delivery is at least once and
//! consumers de-duplicate on the event id). An outbox item whose body cannot be read as an
//! event is reported too (a publisher older than the writer, during a deploy, reads it once
//! it is updated; otherwise the stream's retries end in its dead-letter queue). Records that
//! are not outbox inserts (the event source filters them out) are skipped. Failing to delete
//! a published outbox item is logged, not fatal: the item expires after 7 days.

use std::collections::HashSet;

use attest_domain::event::Event;
use attest_events_eventbridge::{EventBridgePublisher, EventPublisher};
use attest_store::events::{decode_event, OUTBOX};
use attest_store::Store;
use attest_store_dynamodb::schema::{BODY, PARTITION_KEY};
use aws_lambda_events::event::dynamodb::{Event as StreamEvent, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_dynamo::AttributeValue;

/// What a stream record holds for this function: nothing (`None`: not an outbox insert), an
/// event, or an outbox item that cannot be read as one (why).
fn outbox_event(record: &EventRecord) -> Option<Result<Event, String>> {
    if record.event_name != "INSERT" {
        return None;
    }
    match record.change.keys.get(PARTITION_KEY) {
        Some(AttributeValue::S(pk)) if pk == OUTBOX => {}
        _ => return None,
    }
    let Some(AttributeValue::S(body)) = record.change.new_image.get(BODY) else {
        return Some(Err(format!("the new image has no string attribute {BODY}")));
    };
    Some(
        serde_json::from_str(body)
            .map_err(|e| format!("{BODY} is not JSON: {e}"))
            .and_then(|body| decode_event(body).map_err(|e| e.to_string())),
    )
}

/// Publishes the outbox inserts of one stream batch and deletes the published ones from the
/// outbox; reports the first record that was not published. An error (a failed record without
/// a sequence number to report) fails the whole batch.
async fn handle(
    store: &Store,
    publisher: &dyn EventPublisher,
    batch: StreamEvent,
) -> Result<DynamoDbEventResponse, attest_lambda::Error> {
    let mut events: Vec<(usize, Event)> = Vec::new();
    let mut first_failed: Option<usize> = None;
    for (i, record) in batch.records.iter().enumerate() {
        match outbox_event(record) {
            None => {
                tracing::debug!(event_id = %record.event_id, name = %record.event_name, "not an outbox insert; skipped");
            }
            Some(Ok(event)) => events.push((i, event)),
            Some(Err(reason)) => {
                tracing::error!(event_id = %record.event_id, reason = %reason, "an outbox item that is not an event; reported");
                first_failed.get_or_insert(i);
            }
        }
    }
    let to_publish: Vec<Event> = events.iter().map(|(_, e)| e.clone()).collect();
    let unpublished = publisher.publish(&to_publish).await;
    for u in &unpublished {
        tracing::error!(event = %u.event_id, reason = %u.reason, "event not published; its record is reported for a retry");
    }
    let failed: HashSet<&str> = unpublished.iter().map(|u| u.event_id.as_str()).collect();
    let mut published = Vec::new();
    for (i, event) in &events {
        if failed.contains(event.id.as_str()) {
            first_failed = Some(first_failed.map_or(*i, |f| f.min(*i)));
        } else {
            published.push(event.id.clone());
        }
    }
    if !published.is_empty() {
        match store.remove_from_outbox(&published).await {
            Ok(()) => tracing::info!(events = published.len(), "events published"),
            Err(e) => {
                tracing::warn!(events = published.len(), error = %e, "events published; their outbox items stay until they expire")
            }
        }
    }
    let mut response = DynamoDbEventResponse::default();
    if let Some(i) = first_failed {
        let record = &batch.records[i];
        let Some(sequence) = record.change.sequence_number.clone() else {
            return Err(format!(
                "record {} failed and has no sequence number to report",
                record.event_id
            )
            .into());
        };
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = Some(sequence);
        response.batch_item_failures.push(failure);
    }
    Ok(response)
}

/// How old an outbox item must be before the sweep publishes it: younger ones are the
/// stream's to deliver.
const SWEEP_AGE: chrono::Duration = chrono::Duration::minutes(5);
/// How many outbox items one sweep looks at.
const SWEEP_ITEMS: usize = 1_000;

/// What a sweep did.
#[derive(Debug, Default, PartialEq, Eq, serde::Serialize)]
struct Swept {
    published: usize,
    failed: usize,
    set_aside: usize,
}

/// The scheduled sweep: publishes outbox items older than [`SWEEP_AGE`] — events whose
/// stream records were given up on (their batch ended in the dead-letter queue after the
/// stream's retries) or were never handed over — and deletes them; an item that is not an
/// event is set aside (`OUTBOXDEAD`). Delivery stays at least once: the consumers
/// de-duplicate on the event id.
async fn sweep(
    store: &Store,
    publisher: &dyn EventPublisher,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Swept, attest_lambda::Error> {
    let mut swept = Swept::default();
    let mut after: Option<String> = None;
    let mut seen = 0;
    while seen < SWEEP_ITEMS {
        let items = store.outbox_page(after.as_deref(), 100).await?;
        let Some(last) = items.last() else { break };
        after = Some(last.id.clone());
        seen += items.len();
        let mut old = Vec::new();
        for item in items {
            match item.event {
                Ok(event) if event.at <= now - SWEEP_AGE => old.push(event),
                Ok(_) => {}
                Err(ref why) => {
                    tracing::error!(item = %item.id, reason = %why, "an outbox item that is not an event; set aside");
                    store.set_aside(&item, why).await?;
                    swept.set_aside += 1;
                }
            }
        }
        if old.is_empty() {
            continue;
        }
        let failed: HashSet<String> = publisher
            .publish(&old)
            .await
            .into_iter()
            .map(|u| u.event_id)
            .collect();
        let published: Vec<String> = old
            .iter()
            .map(|e| e.id.clone())
            .filter(|id| !failed.contains(id))
            .collect();
        store.remove_from_outbox(&published).await?;
        swept.published += published.len();
        swept.failed += failed.len();
    }
    if swept != Swept::default() {
        tracing::warn!(?swept, "outbox swept: events the stream had not delivered");
    }
    Ok(swept)
}

/// What invokes the function: the table's stream (a batch of records), or the schedule's
/// sweep (`detail-type` `OutboxSweep`).
async fn dispatch(
    store: &Store,
    publisher: &dyn EventPublisher,
    payload: serde_json::Value,
) -> Result<serde_json::Value, attest_lambda::Error> {
    if payload.get("detail-type").and_then(|v| v.as_str()) == Some("OutboxSweep") {
        let swept = sweep(store, publisher, chrono::Utc::now()).await?;
        return Ok(serde_json::to_value(swept)?);
    }
    let batch: StreamEvent = serde_json::from_value(payload)?;
    Ok(serde_json::to_value(
        handle(store, publisher, batch).await?,
    )?)
}

#[tokio::main]
async fn main() -> Result<(), attest_lambda::Error> {
    let config = attest_lambda::init().await;
    let store = attest_lambda::store(&config)?;
    let bus = std::env::var("EVENT_BUS_NAME").map_err(|_| "EVENT_BUS_NAME is not set")?;
    // The publisher retries on its own (refused entries alone, throttled calls with a pause):
    // the SDK's retries inside those would multiply and could outlast the function's time-out.
    let client = aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::config::Builder::from(&config)
            .retry_config(aws_sdk_eventbridge::config::retry::RetryConfig::disabled())
            .build(),
    );
    let publisher = EventBridgePublisher::new(client, bus);
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let (store, publisher) = (store.clone(), publisher.clone());
        async move { dispatch(&store, &publisher, event.payload).await }
    }))
    .await
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod through_aws;
