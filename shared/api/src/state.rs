//! What the routes share.

use std::sync::Arc;

use attest_blobs::BlobStore;
use attest_store::Store;

/// Where evidence files go, and how large they may be.
#[derive(Clone)]
pub struct EvidenceConfig {
    pub blobs: Arc<dyn BlobStore>,
    pub max_bytes: u64,
}

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// Set where the evidence routes are served.
    pub evidence: Option<EvidenceConfig>,
}

impl AppState {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            evidence: None,
        }
    }

    pub fn with_evidence(mut self, evidence: EvidenceConfig) -> Self {
        self.evidence = Some(evidence);
        self
    }
}
