//! The handler over an embedded store wrapped so that some tenants' data fails or hangs, the
//! in-memory secret store, and the Zoom fake for a run that really reads a service.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use attest_api::state::{ConnectorPorts, RunQueue};
use attest_domain::connector::{Connector, ConnectorState, Outcome, Trigger};
use attest_domain::ids::TenantId;
use attest_fakes::ZoomFake;
use attest_secrets::{MemorySecrets, Secret, SecretRef, SecretStore};
use attest_store::backend::{Backend, BackendError, Item, Page, Query, WriteOp};
use attest_store::{Key, Store};
use serde_json::json;

use super::*;

/// Tenants whose data the store cannot reach, and tenants whose reads never answer.
const FLAKY: &str = "flaky";
const SLOW: &str = "slow";

/// An embedded store that fails every call on [`FLAKY`]'s keys and hangs on [`SLOW`]'s.
struct Troubled(attest_store_embedded::EmbeddedBackend);

impl Troubled {
    async fn check(&self, pk: &str) -> Result<(), BackendError> {
        if pk.contains(&format!("#{FLAKY}#")) {
            return Err(BackendError::Unavailable("the table is unreachable".into()));
        }
        if pk.contains(&format!("#{SLOW}#")) {
            std::future::pending::<()>().await;
        }
        Ok(())
    }
}

#[async_trait]
impl Backend for Troubled {
    async fn get(&self, key: &Key) -> Result<Option<Item>, BackendError> {
        self.check(&key.pk).await?;
        self.0.get(key).await
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, BackendError> {
        for k in keys {
            self.check(&k.pk).await?;
        }
        self.0.get_many(keys).await
    }

    async fn query(&self, query: &Query) -> Result<Page, BackendError> {
        self.check(&query.pk).await?;
        self.0.query(query).await
    }

    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), BackendError> {
        for op in &ops {
            self.check(&op.key().pk).await?;
        }
        self.0.write(ops).await
    }
}

/// A queue that only counts: connector-run queues nothing.
struct NoQueue;

#[async_trait]
impl RunQueue for NoQueue {
    async fn enqueue(&self, _: &[RunRequest]) -> Result<(), String> {
        Err("connector-run queues nothing".into())
    }
}

struct World {
    _dir: tempfile::TempDir,
    state: AppState,
    secrets: Arc<MemorySecrets>,
    zoom: ZoomFake,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let backend =
        attest_store_embedded::EmbeddedBackend::open(&dir.path().join("db.redb")).unwrap();
    let zoom = ZoomFake::start().await;
    let secrets = Arc::new(MemorySecrets::new());
    let state =
        AppState::new(Store::new(Arc::new(Troubled(backend)))).with_connectors(ConnectorPorts {
            secrets: secrets.clone(),
            queue: Arc::new(NoQueue),
            http: Arc::new(attest_connectors::HttpClient::new(
                attest_connectors::Endpoints::for_tests(&zoom.api_url(), &zoom.oauth_url()),
            )),
        });
    World {
        _dir: dir,
        state,
        secrets,
        zoom,
    }
}

impl World {
    /// A Zoom connector of `tenant` whose credentials are the fake's.
    async fn zoom_connector(&self, tenant: &TenantId, id: &str) {
        let now = chrono::Utc::now();
        let c = Connector {
            id: id.to_owned(),
            kind: "zoom".to_owned(),
            service: "zoom".to_owned(),
            name: format!("Zoom {id}"),
            state: ConnectorState::Active,
            settings: Default::default(),
            credential_fields: vec![
                "account_id".into(),
                "client_id".into(),
                "client_secret".into(),
            ],
            created_at: now,
            created_by: "alice".to_owned(),
            updated_at: now,
        };
        self.secrets
            .put(
                &SecretRef::new(tenant.as_str(), id),
                &Secret::new(BTreeMap::from([
                    ("account_id".into(), self.zoom.account_id().to_owned()),
                    ("client_id".into(), self.zoom.client_id().to_owned()),
                    ("client_secret".into(), self.zoom.client_secret().to_owned()),
                ])),
            )
            .await
            .unwrap();
        self.state
            .store
            .create_connector(tenant, &c, &c.name.to_lowercase(), &[])
            .await
            .unwrap();
    }
}

fn request(tenant: &str, connector: &str, run: &str) -> String {
    serde_json::to_string(&RunRequest {
        tenant: tenant.to_owned(),
        connector_id: connector.to_owned(),
        run_id: run.to_owned(),
        trigger: Trigger::Schedule,
    })
    .unwrap()
}

/// An SQS event as Lambda hands it to the function: `(message id, body)` each.
fn batch(messages: &[(&str, Option<&str>)]) -> SqsEvent {
    let records: Vec<serde_json::Value> = messages
        .iter()
        .map(|(id, body)| {
            json!({
                "messageId": id,
                "receiptHandle": format!("handle-{id}"),
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1767225600000",
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": "1767225600001"
                },
                "messageAttributes": {},
                "md5OfBody": "0123456789abcdef0123456789abcdef",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:attest-ConnectorRunQueue",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

fn failed_ids(response: &SqsBatchResponse) -> BTreeSet<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

#[tokio::test]
async fn only_the_runs_that_failed_to_complete_are_reported() {
    let w = world().await;
    let acme = TenantId::parse("acme").unwrap();
    w.zoom_connector(&acme, "zoom-1").await;
    let good = request("acme", "zoom-1", "run-1");
    let flaky = request(FLAKY, "zoom-9", "run-2");
    let gone = request("acme", "no-such-connector", "run-3");
    let bad_tenant = request("Not A Tenant!", "zoom-1", "run-4");
    let response = handle(
        &w.state,
        batch(&[
            ("m-good", Some(&good)),
            ("m-broken", Some("{\"tenant\": \"acme\"")),
            ("m-not-a-request", Some("{\"hello\": \"world\"}")),
            ("m-empty", None),
            ("m-flaky", Some(&flaky)),
            ("m-gone", Some(&gone)),
            ("m-bad-tenant", Some(&bad_tenant)),
        ]),
        None,
    )
    .await;
    // Only the run the table failed: the broken messages are dropped, never retried.
    assert_eq!(
        failed_ids(&response),
        BTreeSet::from(["m-flaky".to_owned()])
    );
    let wire = serde_json::to_value(&response).unwrap();
    assert_eq!(
        wire["batchItemFailures"],
        json!([{"itemIdentifier": "m-flaky"}]),
        "what Lambda reads"
    );

    // The good one really ran against the fake.
    let runs = w
        .state
        .store
        .list_runs(&acme, "zoom-1", 10, None)
        .await
        .unwrap()
        .runs;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].id, "run-1");
    assert_eq!(runs[0].trigger, Trigger::Schedule);
    assert_eq!(runs[0].outcome, Some(Outcome::Succeeded), "{:?}", runs[0]);
    assert!(w.zoom.api_requests() > 0);
}

#[tokio::test]
async fn each_message_is_classified() {
    let w = world().await;
    let acme = TenantId::parse("acme").unwrap();
    w.zoom_connector(&acme, "zoom-1").await;
    let one = |body: &str| batch(&[("m", Some(body))]).records.remove(0);
    assert_eq!(
        handle_message(&w.state, &one(&request("acme", "zoom-1", "r1"))).await,
        Handled::Done(Executed::Ran(Outcome::Succeeded))
    );
    assert_eq!(
        handle_message(&w.state, &one(&request("acme", "gone", "r2"))).await,
        Handled::Done(Executed::Gone)
    );
    assert!(matches!(
        handle_message(&w.state, &one("not json")).await,
        Handled::Dropped(why) if why.starts_with("not a run request")
    ));
    assert!(matches!(
        handle_message(&w.state, &one(&request("Not A Tenant!", "c", "r3"))).await,
        Handled::Dropped(_)
    ));
    assert!(matches!(
        handle_message(&w.state, &one(&request(FLAKY, "c", "r4"))).await,
        Handled::Failed(why) if why.contains("unreachable")
    ));

    // A run of a connector whose lease another run holds is skipped, not retried.
    let now = chrono::Utc::now();
    assert!(w
        .state
        .store
        .acquire_run_lease(
            &acme,
            "zoom-1",
            "other-run",
            now,
            now + chrono::TimeDelta::minutes(15)
        )
        .await
        .unwrap());
    assert_eq!(
        handle_message(&w.state, &one(&request("acme", "zoom-1", "r5"))).await,
        Handled::Done(Executed::Busy)
    );

    // Without connector ports every run fails to complete (and is retried).
    let mut bare = w.state.clone();
    bare.connectors = None;
    assert!(matches!(
        handle_message(&bare, &one(&request("acme", "zoom-1", "r6"))).await,
        Handled::Failed(_)
    ));
}

#[tokio::test]
async fn a_run_that_hangs_holds_up_no_other_and_is_reported_at_the_deadline() {
    let w = world().await;
    let acme = TenantId::parse("acme").unwrap();
    w.zoom_connector(&acme, "zoom-1").await;
    w.zoom_connector(&acme, "zoom-2").await;
    let slow = request(SLOW, "c", "run-slow");
    let (a, b) = (
        request("acme", "zoom-1", "run-a"),
        request("acme", "zoom-2", "run-b"),
    );
    let started = Instant::now();
    let deadline = started + Duration::from_secs(5);
    let response = handle(
        &w.state,
        batch(&[
            ("m-slow", Some(&slow)),
            ("m-a", Some(&a)),
            ("m-b", Some(&b)),
        ]),
        Some(deadline),
    )
    .await;
    assert_eq!(failed_ids(&response), BTreeSet::from(["m-slow".to_owned()]));
    assert!(started.elapsed() < Duration::from_secs(15));
    for c in ["zoom-1", "zoom-2"] {
        let runs = w
            .state
            .store
            .list_runs(&acme, c, 10, None)
            .await
            .unwrap()
            .runs;
        assert_eq!(runs.len(), 1, "{c} ran while the slow one hung");
    }
}

#[test]
fn the_deadline_leaves_a_margin() {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let at = deadline_from_epoch_ms(now_ms + 60_000).unwrap();
    let left = at - Instant::now();
    assert!(
        left > Duration::from_secs(45) && left <= Duration::from_secs(50),
        "{left:?}"
    );
    assert!(deadline_from_epoch_ms(now_ms - 1_000).is_none());
}
