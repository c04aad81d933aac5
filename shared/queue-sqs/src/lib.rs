//! The connector run queue in Amazon SQS: the [`RunQueue`] adapter the Lambda functions use
//! (`api-connectors` for `POST /connectors/{id}/run`, `connector-import` for the 24-hour
//! schedule); `connector-run` reads the queue through its Lambda event source.
//!
//! Each [`RunRequest`] is one message whose body is the request's JSON. Requests go out with
//! `SendMessageBatch`, at most [`MAX_BATCH`] a call; the entries a call reports in `Failed`
//! are sent once more in a call of their own, and what fails again makes [`RunQueue::enqueue`]
//! answer an error naming how many requests were not queued (and why the first failed). A call
//! that fails as a whole (after the SDK's own retries) counts all its entries as not queued;
//! the other batches are still sent.

use async_trait::async_trait;
use attest_api::state::{RunQueue, RunRequest};
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_sdk_sqs::Client;

/// The environment variable naming the queue's URL.
pub const QUEUE_URL_VAR: &str = "CONNECTOR_RUN_QUEUE_URL";

/// Most entries SQS takes in one `SendMessageBatch`.
pub const MAX_BATCH: usize = 10;

/// The run queue: an SQS queue (standard; the run's lease makes a duplicate delivery harmless).
#[derive(Debug, Clone)]
pub struct SqsRunQueue {
    client: Client,
    queue_url: String,
}

impl SqsRunQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }

    /// The queue `CONNECTOR_RUN_QUEUE_URL` names, in the account of `config`.
    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, String> {
        let url = std::env::var(QUEUE_URL_VAR)
            .ok()
            .filter(|u| !u.is_empty())
            .ok_or_else(|| format!("{QUEUE_URL_VAR} is not set"))?;
        Ok(Self::new(Client::new(config), url))
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    /// Sends one batch (at most [`MAX_BATCH`] entries); returns the entries SQS did not take,
    /// each with why.
    async fn send_batch(
        &self,
        entries: Vec<SendMessageBatchRequestEntry>,
    ) -> Vec<(SendMessageBatchRequestEntry, String)> {
        let sent = self
            .client
            .send_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries.clone()))
            .send()
            .await;
        match sent {
            Ok(out) => out
                .failed()
                .iter()
                .filter_map(|f| {
                    let entry = entries.iter().find(|e| e.id() == f.id())?.clone();
                    let why = format!(
                        "{}{}{}",
                        f.code(),
                        f.message().map(|m| format!(": {m}")).unwrap_or_default(),
                        if f.sender_fault() {
                            " (sender fault)"
                        } else {
                            ""
                        }
                    );
                    Some((entry, why))
                })
                .collect(),
            Err(e) => {
                let why = DisplayErrorContext(&e).to_string();
                entries.into_iter().map(|e| (e, why.clone())).collect()
            }
        }
    }
}

/// The batch entry of the `i`th request of a batch: its id is unique within the batch.
fn entry(i: usize, request: &RunRequest) -> Result<SendMessageBatchRequestEntry, String> {
    let body = serde_json::to_string(request).map_err(|e| format!("a run request: {e}"))?;
    SendMessageBatchRequestEntry::builder()
        .id(i.to_string())
        .message_body(body)
        .build()
        .map_err(|e| e.to_string())
}

#[async_trait]
impl RunQueue for SqsRunQueue {
    async fn enqueue(&self, requests: &[RunRequest]) -> Result<(), String> {
        let mut not_queued = 0usize;
        let mut first_reason: Option<String> = None;
        for chunk in requests.chunks(MAX_BATCH) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, r)| entry(i, r))
                .collect::<Result<Vec<_>, _>>()?;
            let failed = self.send_batch(entries).await;
            if failed.is_empty() {
                continue;
            }
            tracing::warn!(
                failed = failed.len(),
                reason = %failed[0].1,
                "run requests refused by SQS; sending them once more"
            );
            let again = self
                .send_batch(failed.into_iter().map(|(e, _)| e).collect())
                .await;
            if let Some((_, why)) = again.first() {
                tracing::error!(failed = again.len(), reason = %why, "run requests not queued");
                first_reason.get_or_insert_with(|| why.clone());
                not_queued += again.len();
            }
        }
        match first_reason {
            None => Ok(()),
            Some(why) => Err(format!(
                "{not_queued} of {} run request(s) were not queued: {why}",
                requests.len()
            )),
        }
    }
}

#[cfg(test)]
mod tests;
