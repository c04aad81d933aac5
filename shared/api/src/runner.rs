//! Connector runs in `attest serve`: the run queue is a channel, a worker runs each request
//! on its own task (a few at a time, so one slow source never holds up the others), and a
//! timer queues every active connector at the import interval — what the AWS stack does with
//! EventBridge Scheduler, `connector-import`, SQS and `connector-run`. After each run the
//! outbox is drained, so the run's events reach score recomputation and alerts.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};

use crate::bus::LocalBus;
use crate::state::{RunQueue, RunRequest};
use crate::usecases::connectors;
use crate::AppState;

/// How many connectors run at once.
const CONCURRENT_RUNS: usize = 4;

/// The queue side: what `POST /connectors/{id}/run` and the schedule put requests on.
pub struct LocalRunQueue {
    tx: mpsc::UnboundedSender<RunRequest>,
}

#[async_trait::async_trait]
impl RunQueue for LocalRunQueue {
    async fn enqueue(&self, requests: &[RunRequest]) -> Result<(), String> {
        for r in requests {
            self.tx
                .send(r.clone())
                .map_err(|_| "the local run worker has stopped".to_owned())?;
        }
        Ok(())
    }
}

/// A queue and the receiver its worker reads.
pub fn local_queue() -> (Arc<LocalRunQueue>, mpsc::UnboundedReceiver<RunRequest>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Arc::new(LocalRunQueue { tx }), rx)
}

/// Runs queued requests until the queue closes.
pub async fn worker(
    state: AppState,
    bus: Arc<LocalBus>,
    mut rx: mpsc::UnboundedReceiver<RunRequest>,
) {
    let slots = Arc::new(Semaphore::new(CONCURRENT_RUNS));
    while let Some(request) = rx.recv().await {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let (state, bus) = (state.clone(), bus.clone());
        tokio::spawn(async move {
            match connectors::execute(&state, &request).await {
                Ok(done) => {
                    tracing::debug!(connector = %request.connector_id, run = %request.run_id, result = ?done, "run handled")
                }
                Err(e) => {
                    tracing::warn!(connector = %request.connector_id, run = %request.run_id, error = %e, "connector run failed to complete")
                }
            }
            bus.drain().await;
            drop(permit);
        });
    }
}

/// Queues every active connector every `every` (the first time one interval after start).
pub async fn schedule(state: AppState, every: Duration) {
    let period = chrono::TimeDelta::from_std(every).unwrap_or(chrono::TimeDelta::hours(24));
    if let Err(e) = connectors::schedule_started(&state, period).await {
        tracing::warn!(error = %e, "the import schedule's start was not noted");
    }
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        match connectors::schedule_all_every(&state, period).await {
            Ok(n) => tracing::info!(connectors = n, "scheduled connector runs queued"),
            Err(e) => {
                tracing::warn!(error = %e, "scheduled connector runs not queued; next interval retries")
            }
        }
    }
}
