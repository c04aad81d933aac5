//! The handler over an embedded store, with a publisher that refuses chosen events; stream
//! records built as Lambda delivers them.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use attest_domain::event::{EventType, Subject};
use attest_domain::ids::TenantId;
use attest_events_eventbridge::Unpublished;
use attest_store::{Backend, BackendError, Item, Key, Page, Query, WriteOp};
use serde_json::{json, Value};

use super::*;

/// Publishes everything but the events named in `refuse`; notes every batch it is given.
#[derive(Default)]
struct FakePublisher {
    refuse: Vec<String>,
    batches: Mutex<Vec<Vec<String>>>,
}

#[async_trait]
impl EventPublisher for FakePublisher {
    async fn publish(&self, events: &[Event]) -> Vec<Unpublished> {
        self.batches
            .lock()
            .unwrap()
            .push(events.iter().map(|e| e.id.clone()).collect());
        events
            .iter()
            .filter(|e| self.refuse.contains(&e.id))
            .map(|e| Unpublished {
                event_id: e.id.clone(),
                reason: "refused".into(),
            })
            .collect()
    }
}

/// An embedded store whose writes fail once `fail_writes` is set.
struct Flaky {
    inner: attest_store_embedded::EmbeddedBackend,
    fail_writes: Mutex<bool>,
}

#[async_trait]
impl Backend for Flaky {
    async fn get(&self, key: &Key) -> Result<Option<Item>, BackendError> {
        self.inner.get(key).await
    }
    async fn query(&self, query: &Query) -> Result<Page, BackendError> {
        self.inner.query(query).await
    }
    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), BackendError> {
        if *self.fail_writes.lock().unwrap() {
            return Err(BackendError::Unavailable("scripted".into()));
        }
        self.inner.write(ops).await
    }
}

struct Fixture {
    store: Store,
    backend: Arc<Flaky>,
    tenant: TenantId,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(Flaky {
        inner: attest_store_embedded::EmbeddedBackend::open(&dir.path().join("db")).unwrap(),
        fail_writes: Mutex::new(false),
    });
    Fixture {
        store: Store::new(backend.clone()),
        backend,
        tenant: TenantId::parse("acme").unwrap(),
        _dir: dir,
    }
}

impl Fixture {
    /// `n` events recorded as a change records them: in the tenant's log and the outbox.
    async fn record(&self, n: usize) -> Vec<Event> {
        let events: Vec<Event> = (0..n)
            .map(|i| {
                Event::new(
                    &self.tenant,
                    EventType::ActionUpdated,
                    chrono::Utc::now(),
                    Some("alice"),
                    Subject::new("action", format!("a{i}")),
                    json!({"n": i}),
                )
            })
            .collect();
        self.store.record_events(&events).await.unwrap();
        events
    }

    async fn outbox(&self) -> Vec<String> {
        let items = self.store.outbox(100).await.unwrap();
        items.into_iter().map(|e| e.id).collect()
    }
}

/// The stream record of an item written as `op` (`INSERT`, or `name`), as Lambda delivers it:
/// DynamoDB JSON, the item as the DynamoDB backend stores it.
fn record_of(op: &WriteOp, name: &str, sequence: u32) -> Value {
    let WriteOp::Put { item, .. } = op else {
        panic!("a put")
    };
    let keys = json!({"pk": {"S": item.key.pk}, "sk": {"S": item.key.sk}});
    let mut image = keys.clone();
    image["ver"] = json!({"N": item.version.to_string()});
    image["body"] = json!({"S": item.body.to_string()});
    json!({
        "eventID": format!("e{sequence}"),
        "eventName": name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1_764_000_000,
            "Keys": keys,
            "NewImage": image,
            "SequenceNumber": format!("{:021}", 1000 + sequence),
            "SizeBytes": 300,
            "StreamViewType": "NEW_IMAGE",
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/attest/stream/2026-01-01T00:00:00.000",
    })
}

/// The outbox insert of `event`.
fn outbox_insert(event: &Event, sequence: u32) -> Value {
    record_of(
        &attest_store::events::event_ops(event)[1],
        "INSERT",
        sequence,
    )
}

fn batch(records: Vec<Value>) -> StreamEvent {
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

fn sequence(n: u32) -> String {
    format!("{:021}", 1000 + n)
}

fn reported(response: &DynamoDbEventResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap())
        .collect()
}

#[tokio::test]
async fn published_events_leave_the_outbox_and_the_first_refused_one_is_reported() {
    let f = fixture();
    let events = f.record(5).await;
    let publisher = FakePublisher {
        refuse: vec![events[3].id.clone(), events[1].id.clone()],
        ..Default::default()
    };
    let records = events
        .iter()
        .zip(0..)
        .map(|(e, i)| outbox_insert(e, i))
        .collect();
    let response = handle(&f.store, &publisher, batch(records)).await.unwrap();

    assert_eq!(
        reported(&response),
        [sequence(1)],
        "the first refused record"
    );
    assert_eq!(
        serde_json::to_value(&response).unwrap(),
        json!({"batchItemFailures": [{"itemIdentifier": sequence(1)}]})
    );
    let all: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
    assert_eq!(*publisher.batches.lock().unwrap(), vec![all.clone()]);
    assert_eq!(f.outbox().await, [all[1].clone(), all[3].clone()]);

    // Lambda retries from the reported record: what was published goes again, and the rest
    // leaves the outbox.
    let retry = FakePublisher::default();
    let records = (1..5)
        .map(|i| outbox_insert(&events[i], i as u32))
        .collect();
    let response = handle(&f.store, &retry, batch(records)).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        serde_json::to_value(&response).unwrap(),
        json!({"batchItemFailures": []})
    );
    assert!(f.outbox().await.is_empty());
}

#[tokio::test]
async fn records_that_are_not_outbox_inserts_are_skipped() {
    let f = fixture();
    let events = f.record(2).await;
    let [log, outbox] = attest_store::events::event_ops(&events[0]);
    let records = vec![
        record_of(&log, "INSERT", 0),    // the tenant's log
        record_of(&outbox, "MODIFY", 1), // not an insert
        record_of(&outbox, "REMOVE", 2), // the publisher's own delete
        outbox_insert(&events[1], 3),    // the one to publish
        json!({"eventID": "e4", "eventName": "INSERT", "awsRegion": "us-east-1",
               "dynamodb": {"Keys": {"pk": {"S": "T#acme#SCORE"}, "sk": {"S": "tenant"}},
                            "SequenceNumber": sequence(4), "SizeBytes": 10}}),
    ];
    let publisher = FakePublisher::default();
    let response = handle(&f.store, &publisher, batch(records)).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        *publisher.batches.lock().unwrap(),
        [vec![events[1].id.clone()]]
    );
    assert_eq!(f.outbox().await, [events[0].id.clone()]);

    // A batch with nothing to publish publishes nothing.
    let response = handle(
        &f.store,
        &publisher,
        batch(vec![record_of(&log, "INSERT", 5)]),
    )
    .await
    .unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(publisher.batches.lock().unwrap()[1], Vec::<String>::new());
}

#[tokio::test]
async fn an_outbox_item_that_is_not_an_event_is_reported() {
    let f = fixture();
    let events = f.record(2).await;
    let mut broken = outbox_insert(&events[0], 1);
    broken["dynamodb"]["NewImage"]["body"] = json!({"S": "{\"id\": \"x\"}"});
    let mut no_body = outbox_insert(&events[0], 3);
    no_body["dynamodb"]["NewImage"]
        .as_object_mut()
        .unwrap()
        .remove("body");
    let records = vec![
        outbox_insert(&events[0], 0),
        broken,
        outbox_insert(&events[1], 2),
        no_body,
    ];
    let publisher = FakePublisher::default();
    let response = handle(&f.store, &publisher, batch(records)).await.unwrap();
    assert_eq!(reported(&response), [sequence(1)]);
    assert_eq!(
        *publisher.batches.lock().unwrap(),
        [vec![events[0].id.clone(), events[1].id.clone()]]
    );
    assert!(f.outbox().await.is_empty());
}

#[tokio::test]
async fn a_failed_outbox_delete_is_not_a_failure() {
    let f = fixture();
    let events = f.record(3).await;
    *f.backend.fail_writes.lock().unwrap() = true;
    let records = events
        .iter()
        .zip(0..)
        .map(|(e, i)| outbox_insert(e, i))
        .collect();
    let response = handle(&f.store, &FakePublisher::default(), batch(records))
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(f.outbox().await.len(), 3, "left to expire");
}

#[tokio::test]
async fn a_failed_record_without_a_sequence_number_fails_the_batch() {
    let f = fixture();
    let events = f.record(1).await;
    let mut record = outbox_insert(&events[0], 0);
    record["dynamodb"]
        .as_object_mut()
        .unwrap()
        .remove("SequenceNumber");
    let publisher = FakePublisher {
        refuse: vec![events[0].id.clone()],
        ..Default::default()
    };
    assert!(handle(&f.store, &publisher, batch(vec![record]))
        .await
        .is_err());
    assert_eq!(f.outbox().await.len(), 1);
}

/// The schedule's sweep publishes what the stream left behind (items older than five
/// minutes) and deletes it, leaves younger items to the stream, keeps what is refused, and
/// sets aside an item that is not an event; the schedule's payload reaches it.
#[tokio::test]
async fn the_sweep_publishes_what_the_stream_left_behind() {
    let f = fixture();
    let fresh = f.record(2).await;
    let now = chrono::Utc::now();
    let mut stale: Vec<Event> = (0..3)
        .map(|i| {
            Event::new(
                &f.tenant,
                EventType::AssessmentCreated,
                now - chrono::Duration::minutes(10 + i),
                None,
                Subject::new("assessment", format!("s{i}")),
                json!({}),
            )
        })
        .collect();
    f.store.record_events(&stale).await.unwrap();
    f.backend
        .inner
        .write(vec![WriteOp::Put {
            item: Item {
                key: Key::new(attest_store::events::OUTBOX, "zz-not-an-event"),
                version: 1,
                body: json!({"what": 1}),
            },
            condition: attest_store::Condition::Always,
        }])
        .await
        .unwrap();
    let refused = stale.pop().unwrap();
    let publisher = FakePublisher {
        refuse: vec![refused.id.clone()],
        ..Default::default()
    };
    let swept = dispatch(
        &f.store,
        &publisher,
        json!({"source": "attest.scheduler", "detail-type": "OutboxSweep", "detail": {}}),
    )
    .await
    .unwrap();
    assert_eq!(swept, json!({"published": 2, "failed": 1, "set_aside": 1}));
    let published: Vec<String> = publisher.batches.lock().unwrap().concat();
    for e in &stale {
        assert!(published.contains(&e.id), "{} published", e.id);
    }
    for e in &fresh {
        assert!(!published.contains(&e.id), "young items are the stream's");
    }
    let mut left = f.outbox().await;
    left.sort();
    let mut want: Vec<String> = fresh.iter().map(|e| e.id.clone()).collect();
    want.push(refused.id.clone());
    want.sort();
    assert_eq!(left, want);
    assert!(f
        .store
        .backend()
        .get(&Key::new(
            attest_store::events::UNDELIVERABLE,
            "zz-not-an-event"
        ))
        .await
        .unwrap()
        .is_some());
}
