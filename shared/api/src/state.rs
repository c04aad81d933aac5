//! The ports the use cases run over: storage, evidence files and the clock. The Lambda
//! functions and `attest serve` fill them with real adapters; unit tests with a store on a
//! temporary file and a fixed clock.

use std::sync::Arc;

use attest_blobs::BlobStore;
use attest_store::Store;
use chrono::{DateTime, Utc};

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

/// The ports, shared by every route. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// Set where the evidence routes are served.
    pub evidence: Option<EvidenceConfig>,
    pub clock: Arc<dyn Clock>,
}

impl AppState {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            evidence: None,
            clock: Arc::new(SystemClock),
        }
    }

    pub fn with_evidence(mut self, evidence: EvidenceConfig) -> Self {
        self.evidence = Some(evidence);
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
