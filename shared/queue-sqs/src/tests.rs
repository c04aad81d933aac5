//! Against moto's SQS: batches of at most ten, every request arrives once and parses back;
//! refused entries are sent once more, and what is refused twice is an error that counts it.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use attest_domain::connector::Trigger;
use aws_sdk_sqs::config::interceptors::BeforeSerializationInterceptorContextMut;
use aws_sdk_sqs::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchInput;

use super::*;

/// Records each `SendMessageBatch` call's entries (their run ids), and makes SQS refuse the
/// entries of the run ids in `refuse` (a delay SQS does not accept), each as many times as
/// its count says.
#[derive(Debug, Clone, Default)]
struct Batches {
    calls: Arc<Mutex<Vec<Vec<String>>>>,
    refuse: Arc<Mutex<BTreeMap<String, usize>>>,
}

impl Batches {
    fn sizes(&self) -> Vec<usize> {
        self.calls.lock().unwrap().iter().map(Vec::len).collect()
    }

    fn calls(&self) -> Vec<Vec<String>> {
        self.calls.lock().unwrap().clone()
    }

    fn refuse(&self, run_id: &str, times: usize) {
        self.refuse.lock().unwrap().insert(run_id.to_owned(), times);
    }
}

fn run_id_of(body: &str) -> String {
    serde_json::from_str::<RunRequest>(body).unwrap().run_id
}

impl Intercept for Batches {
    fn name(&self) -> &'static str {
        "Batches"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let Some(input) = context.input_mut().downcast_mut::<SendMessageBatchInput>() else {
            return Ok(());
        };
        let mut refuse = self.refuse.lock().unwrap();
        let mut ids = Vec::new();
        for entry in input.entries.iter_mut().flatten() {
            let run_id = run_id_of(&entry.message_body);
            if let Some(left) = refuse.get_mut(&run_id).filter(|n| **n > 0) {
                *left -= 1;
                // SQS takes 0..=900: moto reports this entry in `Failed` and sends the others.
                entry.delay_seconds = Some(901);
            }
            ids.push(run_id);
        }
        self.calls.lock().unwrap().push(ids);
        Ok(())
    }
}

struct Sqs {
    client: Client,
    queue_url: String,
    batches: Batches,
}

async fn sqs() -> Sqs {
    let moto = attest_testkit::moto_server();
    let batches = Batches::default();
    let client = Client::from_conf(
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
            .interceptor(batches.clone())
            .build(),
    );
    let queue_url = client
        .create_queue()
        .queue_name(attest_testkit::unique_name("attest-runs"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    Sqs {
        client,
        queue_url,
        batches,
    }
}

impl Sqs {
    fn queue(&self) -> SqsRunQueue {
        SqsRunQueue::new(self.client.clone(), &self.queue_url)
    }

    /// Every message the queue holds, parsed, each deleted once read.
    async fn received(&self) -> Vec<RunRequest> {
        let mut out = Vec::new();
        loop {
            let page = self
                .client
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
                self.client
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

fn requests(n: usize) -> Vec<RunRequest> {
    (0..n)
        .map(|i| RunRequest {
            tenant: format!("tenant-{}", i % 3),
            connector_id: format!("connector-{i}"),
            run_id: format!("run-{i}"),
            trigger: if i % 2 == 0 {
                Trigger::Schedule
            } else {
                Trigger::Manual
            },
        })
        .collect()
}

/// The requests in run-id order, for comparing sets of deliveries.
fn sorted(mut requests: Vec<RunRequest>) -> Vec<RunRequest> {
    requests.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    requests
}

#[tokio::test]
async fn twenty_five_requests_take_three_batches_and_arrive_once_each() {
    let sqs = sqs().await;
    let sent = requests(25);
    sqs.queue().enqueue(&sent).await.unwrap();
    assert_eq!(sqs.batches.sizes(), [10, 10, 5]);
    let received = sqs.received().await;
    assert_eq!(received.len(), 25);
    let distinct: HashSet<&str> = received.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(distinct.len(), 25, "each request arrived once");
    assert_eq!(sorted(received), sorted(sent), "the bodies parse back");
}

#[tokio::test]
async fn no_requests_send_nothing() {
    let sqs = sqs().await;
    sqs.queue().enqueue(&[]).await.unwrap();
    assert!(sqs.batches.sizes().is_empty());
}

#[tokio::test]
async fn a_refused_entry_is_sent_once_more_on_its_own() {
    let sqs = sqs().await;
    let sent = requests(12);
    sqs.batches.refuse("run-3", 1);
    sqs.batches.refuse("run-11", 1);
    sqs.queue().enqueue(&sent).await.unwrap();
    let calls = sqs.batches.calls();
    assert_eq!(calls.len(), 4, "{calls:?}");
    assert_eq!(calls[1], ["run-3"]);
    assert_eq!(calls[3], ["run-11"]);
    assert_eq!(sorted(sqs.received().await), sorted(sent));
}

#[tokio::test]
async fn entries_refused_twice_are_an_error_that_counts_them() {
    let sqs = sqs().await;
    let sent = requests(10);
    sqs.batches.refuse("run-2", 2);
    sqs.batches.refuse("run-7", 2);
    let err = sqs.queue().enqueue(&sent).await.unwrap_err();
    assert!(
        err.starts_with("2 of 10 run request(s) were not queued:"),
        "{err}"
    );
    assert!(err.contains("DelaySeconds"), "names why: {err}");
    assert_eq!(sqs.batches.sizes(), [10, 2], "retried once, together");
    let received = sqs.received().await;
    let mut ids: Vec<String> = received.into_iter().map(|r| r.run_id).collect();
    ids.sort();
    let mut expected: Vec<String> = (0..10)
        .filter(|i| *i != 2 && *i != 7)
        .map(|i| format!("run-{i}"))
        .collect();
    expected.sort();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn an_unreachable_queue_counts_every_request() {
    let sqs = sqs().await;
    let missing = SqsRunQueue::new(sqs.client.clone(), format!("{}-missing", sqs.queue_url));
    let err = missing.enqueue(&requests(13)).await.unwrap_err();
    assert!(
        err.starts_with("13 of 13 run request(s) were not queued:"),
        "{err}"
    );
}
