//! The ports the use cases run over: storage, evidence files and the clock. The Lambda
//! functions and `attest serve` fill them with real adapters; unit tests with a store on a
//! temporary file and a fixed clock.

use std::sync::Arc;

use attest_blobs::BlobStore;
use attest_connectors::HttpClient;
use attest_secrets::SecretStore;
use attest_store::Store;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What time it is. A port so that use cases can be tested at a fixed instant.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that always says the same time (tests).
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// Where evidence files go, and how large they may be.
#[derive(Clone)]
pub struct EvidenceConfig {
    pub blobs: Arc<dyn BlobStore>,
    pub max_bytes: u64,
}

/// A request to run one connector: what the 24-hour schedule and `POST /connectors/{id}/run`
/// put on the run queue (SQS in AWS, a channel in `attest serve`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRequest {
    pub tenant: String,
    pub connector_id: String,
    pub run_id: String,
    pub trigger: attest_domain::connector::Trigger,
}

/// Where run requests wait for a worker.
#[async_trait::async_trait]
pub trait RunQueue: Send + Sync {
    /// Queues every request; an error names what could not be queued.
    async fn enqueue(&self, requests: &[RunRequest]) -> Result<(), String>;
}

/// What connectors need: the secret store for credentials, the run queue and the client
/// for outside services.
#[derive(Clone)]
pub struct ConnectorPorts {
    pub secrets: Arc<dyn SecretStore>,
    pub queue: Arc<dyn RunQueue>,
    pub http: Arc<HttpClient>,
}

/// The ports, shared by every route. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// Set where the evidence routes are served.
    pub evidence: Option<EvidenceConfig>,
    /// Set where the connector routes are served and connectors run.
    pub connectors: Option<ConnectorPorts>,
    pub clock: Arc<dyn Clock>,
}

impl AppState {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            evidence: None,
            connectors: None,
            clock: Arc::new(SystemClock),
        }
    }

    pub fn with_evidence(mut self, evidence: EvidenceConfig) -> Self {
        self.evidence = Some(evidence);
        self
    }

    pub fn with_connectors(mut self, connectors: ConnectorPorts) -> Self {
        self.connectors = Some(connectors);
        self
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}
