//! Storage for Attest.
//!
//! One data model — item keys, item layout, conditions and transactions — written once in this
//! crate ([`Store`]), over a small [`Backend`] trait of primitive operations (get, query by
//! partition and sort-key prefix, conditional transactional write). The DynamoDB backend and
//! the embedded backend implement only those primitives, and both pass the same contract suite
//! ([`contract`], behind the `contract` feature).

pub mod alerts;
pub mod assessments;
pub mod backend;
pub mod connectors;
pub mod error;
pub mod events;
pub mod evidence;
pub mod groups;
pub mod imported;
pub mod instances;
pub mod keys;
pub mod record;
pub mod regulations;
pub mod scores;
pub mod signals;
pub mod usage;
pub mod users;

#[cfg(feature = "contract")]
pub mod contract;

pub use backend::{Backend, BackendError, Condition, Item, Key, Page, Query, WriteOp};
pub use error::StoreError;
pub use record::Versioned;

use std::sync::Arc;

/// The Attest data model over one backend. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
}

impl Store {
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        Self { backend }
    }

    pub fn backend(&self) -> &dyn Backend {
        &*self.backend
    }

    /// Writes `ops` in transactions of at most [`backend::MAX_TRANSACTION_OPS`], in order.
    /// Only for writes whose parts are safe to land one transaction at a time.
    pub(crate) async fn write_chunked(&self, ops: Vec<WriteOp>) -> Result<(), BackendError> {
        let mut ops = ops;
        while !ops.is_empty() {
            let rest = ops.split_off(ops.len().min(backend::MAX_TRANSACTION_OPS));
            self.backend.write(ops).await?;
            ops = rest;
        }
        Ok(())
    }

    /// Every item of one partition under a sort-key prefix, following pages to the end.
    pub(crate) async fn query_all(
        &self,
        pk: String,
        sk_prefix: &str,
    ) -> Result<Vec<Item>, BackendError> {
        let mut out = Vec::new();
        let mut query = Query::prefix(pk, sk_prefix);
        loop {
            let page = self.backend.query(&query).await?;
            out.extend(page.items);
            match page.next {
                Some(next) => query.after = Some(next),
                None => return Ok(out),
            }
        }
    }
}

/// A short, growing, random pause before a write that lost a race is tried again, so that
/// racing writers spread out (up to 128 ms from the seventh attempt on).
pub async fn pause_before_retry(attempt: u32) {
    let most = 2u64 << attempt.min(6);
    let ms = rand::random_range(0..most);
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
}
