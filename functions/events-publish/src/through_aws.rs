//! The AWS path for real: changes made through the use cases over DynamoDB Local, the table's
//! stream read with the DynamoDB Streams API and handed to the handler as Lambda delivers it,
//! and the handler publishing to EventBridge (moto's server), where a rule on the bus sends
//! every `attest` event to an SQS queue that the test reads.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use attest_api::usecases::assessments::{self, CreateAssessment};
use attest_api::usecases::{actions, regulations};
use attest_api::AppState;
use attest_domain::action::ActionPatch;
use attest_domain::event::{EventType, Subject};
use attest_domain::group::GroupName;
use attest_domain::identity::{Identity, Role};
use attest_domain::ids::{RegulationId, TenantId, UserId};
use attest_domain::vocab::{ImplementationStatus, TestStatus, TestingType};
use attest_store_dynamodb::DynamoDbBackend;
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use aws_sdk_eventbridge::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_eventbridge::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_eventbridge::operation::put_events::PutEventsInput;
use serde_json::{json, Value};

use super::*;

/// Lambda's batch size for the stream (template.yaml).
const BATCH_SIZE: usize = 100;

/// Counts `PutEvents` calls and the entries of each.
#[derive(Debug, Clone, Default)]
struct PutEventsCalls(Arc<Mutex<Vec<usize>>>);

impl PutEventsCalls {
    fn sizes(&self) -> Vec<usize> {
        self.0.lock().unwrap().clone()
    }
}

impl Intercept for PutEventsCalls {
    fn name(&self) -> &'static str {
        "PutEventsCalls"
    }

    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if let Some(input) = context.input().downcast_ref::<PutEventsInput>() {
            self.0.lock().unwrap().push(input.entries().len());
        }
        Ok(())
    }
}

/// A table in DynamoDB Local (created as the stack creates it: with a NEW_IMAGE stream), a bus
/// in moto with a rule sending every `attest` event to a queue, and the publisher to it.
struct Aws {
    table: String,
    dynamodb: aws_sdk_dynamodb::Client,
    streams: aws_sdk_dynamodbstreams::Client,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    publisher: EventBridgePublisher,
    calls: PutEventsCalls,
    store: Store,
}

async fn aws() -> Aws {
    let local = attest_testkit::dynamodb_local();
    let moto = attest_testkit::moto_server();
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .endpoint_url(&local.endpoint)
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "test", "test", None, None, "tests",
            ))
            .build(),
    );
    let streams = aws_sdk_dynamodbstreams::Client::from_conf(
        aws_sdk_dynamodbstreams::Config::builder()
            .behavior_version(aws_sdk_dynamodbstreams::config::BehaviorVersion::latest())
            .endpoint_url(&local.endpoint)
            .region(aws_sdk_dynamodbstreams::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodbstreams::config::Credentials::new(
                "test", "test", None, None, "tests",
            ))
            .build(),
    );
    let calls = PutEventsCalls::default();
    let events = aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::Config::builder()
            .behavior_version(aws_sdk_eventbridge::config::BehaviorVersion::latest())
            .endpoint_url(&moto.endpoint)
            .region(aws_sdk_eventbridge::config::Region::new(moto.region))
            .credentials_provider(aws_sdk_eventbridge::config::Credentials::new(
                moto.access_key,
                moto.secret_key,
                None,
                None,
                "tests",
            ))
            .interceptor(calls.clone())
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .endpoint_url(&moto.endpoint)
            .region(aws_sdk_sqs::config::Region::new(moto.region))
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                moto.access_key,
                moto.secret_key,
                None,
                None,
                "tests",
            ))
            .build(),
    );

    let table = attest_testkit::unique_name("attest-publish");
    attest_store_dynamodb::schema::create_table(&dynamodb, &table)
        .await
        .unwrap();
    let bus = attest_testkit::unique_name("attest-events");
    events.create_event_bus().name(&bus).send().await.unwrap();
    let queue_url = sqs
        .create_queue()
        .queue_name(attest_testkit::unique_name("attest-consumer"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    events
        .put_rule()
        .name("every-attest-event")
        .event_bus_name(&bus)
        .event_pattern(r#"{"source":["attest"]}"#)
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule("every-attest-event")
        .event_bus_name(&bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("consumer")
                .arn(queue_arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    Aws {
        store: Store::new(Arc::new(DynamoDbBackend::new(dynamodb.clone(), &table))),
        table,
        dynamodb,
        streams,
        sqs,
        queue_url,
        publisher: EventBridgePublisher::new(events, bus),
        calls,
    }
}

/// An attribute value in DynamoDB JSON, as Lambda writes it in stream events.
fn dynamodb_json(value: &AttributeValue) -> Value {
    let map = |m: &HashMap<String, AttributeValue>| -> Value {
        m.iter()
            .map(|(k, v)| (k.clone(), dynamodb_json(v)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    match value {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(b) => json!({ "NULL": b }),
        AttributeValue::Ss(v) => json!({ "SS": v }),
        AttributeValue::Ns(v) => json!({ "NS": v }),
        AttributeValue::L(v) => json!({ "L": v.iter().map(dynamodb_json).collect::<Vec<_>>() }),
        AttributeValue::M(m) => json!({ "M": map(m) }),
        other => panic!("the table stores no such attribute: {other:?}"),
    }
}

fn image(attrs: Option<&HashMap<String, AttributeValue>>) -> Value {
    attrs
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), dynamodb_json(v)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// A stream record as Lambda hands it to a function.
fn lambda_record(record: &Record, stream_arn: &str) -> Value {
    let change = record.dynamodb().expect("a stream record has its change");
    let mut dynamodb = json!({
        "ApproximateCreationDateTime": change.approximate_creation_date_time().map(|t| t.secs()),
        "Keys": image(change.keys()),
        "SequenceNumber": change.sequence_number(),
        "SizeBytes": change.size_bytes(),
        "StreamViewType": change.stream_view_type().map(|v| v.as_str()),
    });
    if change.new_image().is_some() {
        dynamodb["NewImage"] = image(change.new_image());
    }
    json!({
        "eventID": record.event_id(),
        "eventName": record.event_name().map(|n| n.as_str()),
        "eventVersion": record.event_version(),
        "eventSource": record.event_source(),
        "awsRegion": record.aws_region(),
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    })
}

impl Aws {
    /// Every record of the table's stream so far, oldest first, as Lambda delivers them.
    async fn stream(&self) -> Vec<Value> {
        let arn = self
            .dynamodb
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .unwrap()
            .table()
            .unwrap()
            .latest_stream_arn()
            .expect("the table has a stream")
            .to_owned();
        let description = self
            .streams
            .describe_stream()
            .stream_arn(&arn)
            .send()
            .await
            .unwrap();
        let mut records = Vec::new();
        for shard in description.stream_description().unwrap().shards() {
            let mut iterator = self
                .streams
                .get_shard_iterator()
                .stream_arn(&arn)
                .shard_id(shard.shard_id().unwrap())
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await
                .unwrap()
                .shard_iterator()
                .map(str::to_owned);
            while let Some(it) = iterator {
                let page = self
                    .streams
                    .get_records()
                    .shard_iterator(it)
                    .send()
                    .await
                    .unwrap();
                if page.records().is_empty() {
                    break;
                }
                records.extend(page.records().iter().map(|r| lambda_record(r, &arn)));
                iterator = page.next_shard_iterator().map(str::to_owned);
            }
        }
        records
    }

    /// Hands the stream to the handler in batches, as Lambda would (no failures expected).
    async fn deliver(&self, records: Vec<Value>) {
        for chunk in records.chunks(BATCH_SIZE) {
            let batch: StreamEvent = serde_json::from_value(json!({ "Records": chunk })).unwrap();
            let response = handle(&self.store, &self.publisher, batch).await.unwrap();
            assert!(
                response.batch_item_failures.is_empty(),
                "{:?}",
                response.batch_item_failures
            );
        }
    }

    /// Every message the queue holds (EventBridge events, as JSON).
    async fn received(&self) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let page = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap();
            if page.messages().is_empty() {
                return out;
            }
            for m in page.messages() {
                out.push(serde_json::from_str(m.body().unwrap()).unwrap());
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    /// Asserts that every event of the tenant's log arrived on the queue exactly once, as
    /// published (detail = envelope, detail-type = type), and that the outbox is empty.
    async fn assert_delivered_once(&self, tenant: &TenantId) -> usize {
        let log = self
            .store
            .list_events(tenant, None, None, 500)
            .await
            .unwrap()
            .events;
        let received = self.received().await;
        let mut by_id: HashMap<String, Vec<&Value>> = HashMap::new();
        for message in &received {
            let id = message["detail"]["id"].as_str().unwrap().to_owned();
            by_id.entry(id).or_default().push(message);
        }
        for event in &log {
            let arrived = by_id.remove(&event.id).unwrap_or_default();
            assert_eq!(
                arrived.len(),
                1,
                "{} arrived {} times",
                event.id,
                arrived.len()
            );
            let message = arrived[0];
            assert_eq!(message["source"], "attest");
            assert_eq!(message["detail-type"], event.kind.as_str());
            assert_eq!(message["detail"], serde_json::to_value(event).unwrap());
        }
        assert!(by_id.is_empty(), "not in the log: {:?}", by_id.keys());
        assert!(
            self.store.outbox(100).await.unwrap().is_empty(),
            "the outbox is empty"
        );
        log.len()
    }
}

fn administrator() -> Identity {
    Identity {
        tenant: TenantId::parse("acme").unwrap(),
        user: UserId::parse("alice").unwrap(),
        name: None,
        email: None,
        roles: BTreeSet::from([Role::Administrator]),
    }
}

#[tokio::test]
async fn changes_reach_the_bus_once_each_through_the_stream() {
    let aws = aws().await;
    let state = AppState::new(aws.store.clone());
    let caller = administrator();
    let regulation = regulations::create(
        &state,
        &caller,
        serde_json::from_value(json!({
            "id": "two", "name": "Two",
            "families": [{"id": "F", "title": "F", "controls": [
                {"id": "C-1", "title": "One"}, {"id": "C-2", "title": "Two"}]}],
        }))
        .unwrap(),
    )
    .await
    .unwrap();
    let assessment = assessments::create(
        &state,
        &caller,
        CreateAssessment {
            connectors: None,
            regulation_id: RegulationId::parse("two").unwrap(),
            group_id: None,
            group_name: Some(GroupName::parse("Europe").unwrap()),
            copy_from: None,
            services: vec!["aws".into()],
            name: None,
        },
    )
    .await
    .unwrap();
    for control in &regulation.families[0].controls {
        let instance = format!("{}@{}", control.actions[0].id, assessment.group_id);
        let patch = ActionPatch {
            implementation_status: Some(ImplementationStatus::Implemented),
            test_status: Some(TestStatus::Passed),
            testing_type: Some(TestingType::Manual),
            ..Default::default()
        };
        actions::update(&state, &caller, &instance, &patch, None)
            .await
            .unwrap();
    }

    let records = aws.stream().await;
    assert!(records.len() > 10, "{} records", records.len());
    // Unfiltered (every insert of the change's items, not only the outbox's): the handler
    // skips what is not an outbox insert.
    aws.deliver(records).await;
    let kinds: BTreeSet<EventType> = aws
        .store
        .list_events(&caller.tenant, None, None, 500)
        .await
        .unwrap()
        .events
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            EventType::RegulationImported,
            EventType::AssessmentCreated,
            EventType::GroupCreated,
            EventType::ActionUpdated
        ])
    );
    let delivered = aws.assert_delivered_once(&caller.tenant).await;
    assert_eq!(delivered, 5);
    assert_eq!(aws.calls.sizes(), [5], "one call for five events");

    // The publisher's deletes are in the stream too (REMOVE records): delivered again, the
    // stream publishes nothing more.
    let again = aws.stream().await;
    assert!(again.iter().any(|r| r["eventName"] == "REMOVE"));
    let removes: Vec<Value> = again
        .into_iter()
        .filter(|r| r["eventName"] == "REMOVE")
        .collect();
    aws.deliver(removes).await;
    assert_eq!(aws.calls.sizes(), [5], "nothing more was published");
    assert!(aws.received().await.is_empty());
}

#[tokio::test]
async fn a_batch_of_25_events_takes_three_put_events_calls() {
    let aws = aws().await;
    let tenant = TenantId::parse("acme").unwrap();
    let events: Vec<Event> = (0..25)
        .map(|i| {
            Event::new(
                &tenant,
                EventType::EvidenceAdded,
                chrono::Utc::now(),
                Some("alice"),
                Subject::new("evidence", format!("e{i}")),
                json!({"n": i}),
            )
        })
        .collect();
    aws.store.record_events(&events).await.unwrap();
    let records = aws.stream().await;
    assert_eq!(
        records.len(),
        50,
        "each event: its log item and its outbox item"
    );
    let batch: StreamEvent = serde_json::from_value(json!({ "Records": records })).unwrap();
    let response = handle(&aws.store, &aws.publisher, batch).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(aws.calls.sizes(), [10, 10, 5]);
    assert_eq!(aws.assert_delivered_once(&tenant).await, 25);
}
