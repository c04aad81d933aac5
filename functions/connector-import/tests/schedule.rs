//! The schedule's fan-out over the AWS path: connectors in DynamoDB Local (two tenants, one
//! connector paused), the run queue in moto's SQS. Exactly one message per active connector.

use std::collections::BTreeSet;
use std::sync::Arc;

use attest_api::state::{ConnectorPorts, RunRequest};
use attest_api::AppState;
use attest_domain::connector::{Connector, ConnectorState, Trigger};
use attest_domain::ids::TenantId;
use attest_fn_connector_import::{handle, Queued};
use attest_queue_sqs::SqsRunQueue;
use attest_store::Store;
use attest_store_dynamodb::DynamoDbBackend;
use chrono::Utc;
use serde_json::json;

struct Aws {
    store: Store,
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
    let table = attest_testkit::unique_name("attest-import");
    attest_store_dynamodb::schema::create_table(&dynamodb, &table)
        .await
        .unwrap();
    let queue_url = sqs
        .create_queue()
        .queue_name(attest_testkit::unique_name("attest-runs"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    Aws {
        store: Store::new(Arc::new(DynamoDbBackend::new(dynamodb, &table))),
        sqs,
        queue_url,
    }
}

impl Aws {
    fn state(&self) -> AppState {
        AppState::new(self.store.clone()).with_connectors(ConnectorPorts {
            secrets: Arc::new(attest_secrets::MemorySecrets::new()),
            queue: Arc::new(SqsRunQueue::new(self.sqs.clone(), &self.queue_url)),
            http: Arc::new(attest_connectors::HttpClient::new(
                attest_connectors::Endpoints::from_env(),
            )),
        })
    }

    /// Every message on the queue, parsed, each deleted once read.
    async fn received(&self) -> Vec<RunRequest> {
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
}

fn connector(id: &str, name: &str, state: ConnectorState) -> Connector {
    let now = Utc::now();
    Connector {
        id: id.to_owned(),
        kind: "zoom".to_owned(),
        service: "zoom".to_owned(),
        name: name.to_owned(),
        state,
        settings: Default::default(),
        credential_fields: vec![
            "account_id".into(),
            "client_id".into(),
            "client_secret".into(),
        ],
        created_at: now,
        created_by: "alice".to_owned(),
        updated_at: now,
    }
}

fn schedule_input() -> serde_json::Value {
    json!({"source": "attest.scheduler", "detail-type": "ConnectorImport", "detail": {}})
}

#[tokio::test]
async fn one_message_per_active_connector_of_the_stack() {
    let aws = aws().await;
    let acme = TenantId::parse("acme").unwrap();
    let globex = TenantId::parse("globex").unwrap();
    for (tenant, c) in [
        (
            &acme,
            connector("c-active", "Zoom prod", ConnectorState::Active),
        ),
        (
            &acme,
            connector("c-paused", "Zoom test", ConnectorState::Paused),
        ),
        (
            &globex,
            connector("g-active", "Zoom", ConnectorState::Active),
        ),
    ] {
        let unique = c.name.to_lowercase();
        aws.store
            .create_connector(tenant, &c, &unique, &[])
            .await
            .unwrap();
    }
    assert!(aws.store.schedule_mark().await.unwrap().is_none());

    let state = aws.state();
    let done = handle(&state, &schedule_input()).await.unwrap();
    assert_eq!(done, Queued { queued: 2 });
    assert_eq!(serde_json::to_value(done).unwrap(), json!({"queued": 2}));

    let received = aws.received().await;
    assert_eq!(received.len(), 2, "{received:?}");
    let got: BTreeSet<(String, String)> = received
        .iter()
        .map(|r| (r.tenant.clone(), r.connector_id.clone()))
        .collect();
    assert_eq!(
        got,
        BTreeSet::from([
            ("acme".to_owned(), "c-active".to_owned()),
            ("globex".to_owned(), "g-active".to_owned()),
        ])
    );
    assert!(received.iter().all(|r| r.trigger == Trigger::Schedule));
    assert_ne!(received[0].run_id, received[1].run_id);
    assert!(
        aws.store.schedule_mark().await.unwrap().is_some(),
        "the schedule's mark is written (next_run_at)"
    );
}

#[tokio::test]
async fn no_connectors_queue_nothing_and_a_missing_queue_fails_the_invocation() {
    let aws = aws().await;
    let state = aws.state();
    assert_eq!(
        handle(&state, &schedule_input()).await.unwrap(),
        Queued { queued: 0 }
    );
    assert!(aws.received().await.is_empty());

    let acme = TenantId::parse("acme").unwrap();
    let c = connector("c1", "Zoom", ConnectorState::Active);
    aws.store
        .create_connector(&acme, &c, "zoom", &[])
        .await
        .unwrap();
    let mut broken = state.clone();
    let mut ports = broken.connectors.clone().unwrap();
    ports.queue = Arc::new(SqsRunQueue::new(
        aws.sqs.clone(),
        format!("{}-gone", aws.queue_url),
    ));
    broken.connectors = Some(ports);
    let err = handle(&broken, &schedule_input()).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("1 of 1 run request(s) were not queued"),
        "{err}"
    );
}
