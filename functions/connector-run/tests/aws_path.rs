//! The AWS path of a scheduled connector run, end to end: a Zoom connector activated through
//! the use case (credentials checked against the Zoom fake, stored in moto's Secrets Manager,
//! the connector in DynamoDB Local); `connector-import`'s handler queues its run on moto's SQS;
//! the message, received from the queue, goes to `connector-run`'s handler as Lambda's SQS
//! event source hands it over; the run reads the fake with the credentials from Secrets
//! Manager and lands in the connector's history. Every log line of all that (at debug level,
//! the most the template allows) is captured: none holds the client secret.
//!
//! Its own test binary: the log capture is the process's global subscriber.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex};

use attest_api::state::ConnectorPorts;
use attest_api::usecases::connectors::{self, NewConnector};
use attest_api::AppState;
use attest_domain::connector::{Outcome, Trigger};
use attest_domain::identity::{Identity, Role};
use attest_domain::ids::{TenantId, UserId};
use attest_fakes::ZoomFake;
use attest_queue_sqs::SqsRunQueue;
use attest_secrets_aws::SecretsManagerStore;
use attest_store::Store;
use attest_store_dynamodb::DynamoDbBackend;
use aws_lambda_events::event::sqs::SqsEvent;
use base64::Engine;
use serde_json::{json, Value};

/// Everything the process logs.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// JSON log lines, as the functions write them (attest_lambda::init_tracing), with spans.
    fn install() -> Captured {
        let captured = Captured::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(move || writer.clone())
            .init();
        captured
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

struct Aws {
    store: Store,
    secrets_client: aws_sdk_secretsmanager::Client,
    secrets: SecretsManagerStore,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
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
    let secrets_client = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::Config::builder()
            .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
            .endpoint_url(&moto.endpoint)
            .region(aws_sdk_secretsmanager::config::Region::new(moto.region))
            .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
                moto.access_key,
                moto.secret_key,
                None,
                None,
                "tests",
            ))
            .build(),
    );
    let table = attest_testkit::unique_name("attest-runs");
    attest_store_dynamodb::schema::create_table(&dynamodb, &table)
        .await
        .unwrap();
    let queue_url = sqs
        .create_queue()
        .queue_name(attest_testkit::unique_name("attest-run-queue"))
        // As the template sets it: a received message stays hidden while its run goes on.
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            "1800",
        )
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    // A prefix of this test's own, in the shape of the template's `attest/`.
    let prefix = format!("{}/", attest_testkit::unique_name("attest"));
    Aws {
        store: Store::new(Arc::new(DynamoDbBackend::new(dynamodb, &table))),
        secrets: SecretsManagerStore::new(secrets_client.clone(), prefix),
        secrets_client,
        sqs,
        queue_url,
    }
}

impl Aws {
    /// The state a connector function has: the table, Secrets Manager, the run queue, and the
    /// client for outside services pointed at the fake.
    fn state(&self, zoom: &ZoomFake) -> AppState {
        AppState::new(self.store.clone()).with_connectors(ConnectorPorts {
            secrets: Arc::new(self.secrets.clone()),
            queue: Arc::new(SqsRunQueue::new(self.sqs.clone(), &self.queue_url)),
            http: Arc::new(attest_connectors::HttpClient::new(
                attest_connectors::Endpoints::for_tests(&zoom.api_url(), &zoom.oauth_url()),
            )),
        })
    }

    /// What Lambda's event source would receive from the queue: the messages as an SQS event
    /// (ids, receipt handles, bodies, attributes), and the receipt handles by message id.
    async fn receive(&self) -> (SqsEvent, Vec<(String, String)>) {
        let page = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(5)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap();
        let mut handles = Vec::new();
        let records: Vec<Value> = page
            .messages()
            .iter()
            .map(|m| {
                let id = m.message_id().unwrap().to_owned();
                let handle = m.receipt_handle().unwrap().to_owned();
                handles.push((id.clone(), handle.clone()));
                let attributes: serde_json::Map<String, Value> = m
                    .attributes()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.as_str().to_owned(), Value::from(v.as_str())))
                    .collect();
                json!({
                    "messageId": id,
                    "receiptHandle": handle,
                    "body": m.body(),
                    "attributes": attributes,
                    "messageAttributes": {},
                    "md5OfBody": m.md5_of_body(),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:attest-run-queue",
                    "awsRegion": "us-east-1",
                })
            })
            .collect();
        (
            serde_json::from_value(json!({ "Records": records })).unwrap(),
            handles,
        )
    }

    /// What Lambda does with a batch once the function answered: deletes the messages not
    /// reported as failures.
    async fn delete_all_but(&self, handles: &[(String, String)], failed: &BTreeSet<String>) {
        for (id, handle) in handles {
            if !failed.contains(id) {
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
}

fn connector_admin() -> Identity {
    Identity {
        tenant: TenantId::parse("acme").unwrap(),
        user: UserId::parse("carol").unwrap(),
        name: None,
        email: None,
        roles: BTreeSet::from([Role::ConnectorAdmin]),
    }
}

#[tokio::test]
async fn a_scheduled_run_goes_from_the_schedule_through_sqs_to_the_history() {
    let logs = Captured::install();
    let aws = aws().await;
    let zoom = ZoomFake::start().await;
    let state = aws.state(&zoom);
    let caller = connector_admin();

    // Activated through the use case: validated against the fake, the secret in Secrets
    // Manager under the prefix, the connector in the table.
    let body: NewConnector = serde_json::from_value(json!({
        "kind": "zoom",
        "name": "Zoom production",
        "credentials": {
            "account_id": zoom.account_id(),
            "client_id": zoom.client_id(),
            "client_secret": zoom.client_secret(),
        },
    }))
    .unwrap();
    let created = connectors::create(&state, &caller, body).await.unwrap();
    let id = created.value.id.clone();
    let name = aws
        .secrets
        .secret_name(&attest_secrets::SecretRef::new("acme", id.as_str()));
    assert!(name.starts_with(aws.secrets.prefix()), "{name}");
    assert!(name.ends_with(&format!("acme/connectors/{id}")), "{name}");
    let stored = aws
        .secrets_client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .unwrap();
    let stored: Value = serde_json::from_str(stored.secret_string().unwrap()).unwrap();
    assert_eq!(stored["client_secret"].as_str(), Some(zoom.client_secret()));
    assert!(aws
        .store
        .list_runs(&caller.tenant, &id, 10, None)
        .await
        .unwrap()
        .runs
        .is_empty());

    // The schedule: connector-import queues the connector's run.
    let queued = attest_fn_connector_import::handle(
        &state,
        &json!({"source": "attest.scheduler", "detail-type": "ConnectorImport", "detail": {}}),
    )
    .await
    .unwrap();
    assert_eq!(queued.queued, 1);

    // Lambda's event source: the message from the queue to connector-run.
    let (event, handles) = aws.receive().await;
    assert_eq!(event.records.len(), 1, "one message per active connector");
    let request: attest_api::state::RunRequest =
        serde_json::from_str(event.records[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(
        (
            request.tenant.as_str(),
            request.connector_id.as_str(),
            request.trigger
        ),
        ("acme", id.as_str(), Trigger::Schedule)
    );
    let response = attest_fn_connector_run::handle(&state, event, None).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "{:?}",
        response.batch_item_failures
    );
    aws.delete_all_but(&handles, &BTreeSet::new()).await;
    let (left, _) = aws.receive().await;
    assert!(left.records.is_empty(), "the queue is empty");

    // The history: one succeeded, scheduled run, with what it read.
    let runs = aws
        .store
        .list_runs(&caller.tenant, &id, 10, None)
        .await
        .unwrap()
        .runs;
    assert_eq!(runs.len(), 1, "{runs:?}");
    let run = &runs[0];
    assert_eq!(run.id, request.run_id);
    assert_eq!(run.trigger, Trigger::Schedule);
    assert_eq!(run.outcome, Some(Outcome::Succeeded), "{run:?}");
    assert!(run.items_fetched > 0, "{run:?}");
    assert!(run.errors.is_empty(), "{run:?}");
    assert!(zoom.api_requests() > 0);

    // No log line holds the client secret, plainly or in the Basic credentials of the token
    // request.
    let text = logs.text();
    assert!(
        text.lines().count() > 5,
        "the capture saw the functions' logs:\n{text}"
    );
    assert!(text.contains("scheduled connector runs queued"), "{text}");
    assert!(text.contains("connector run completed"), "{text}");
    let secret = zoom.client_secret();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        zoom.client_id(),
        secret
    ));
    for line in text.lines() {
        assert!(
            !line.contains(secret),
            "a log line holds the client secret: {line}"
        );
        assert!(
            !line.contains(&basic),
            "a log line holds the Basic credentials: {line}"
        );
    }
}
