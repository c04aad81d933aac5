//! The embedded storage backend: one redb database file, ACID, for the local server.
//!
//! It implements only the primitives of [`attest_store::Backend`]; the data model above it is
//! the same one that runs on DynamoDB.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use attest_store::backend::{validate_write, MAX_PAGE_BYTES};
use attest_store::{Backend, BackendError, Item, Key, Page, Query, WriteOp};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

/// (partition key, sort key) -> stored item.
const ITEMS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("items");

#[derive(Serialize, Deserialize)]
struct Stored {
    version: u64,
    body: serde_json::Value,
}

#[derive(Clone)]
pub struct EmbeddedBackend {
    db: Arc<Database>,
}

fn unavailable(e: impl std::fmt::Display) -> BackendError {
    BackendError::Unavailable(e.to_string())
}

fn decode(pk: &str, sk: &str, bytes: &[u8]) -> Result<Item, BackendError> {
    let stored: Stored = serde_json::from_slice(bytes)
        .map_err(|e| BackendError::Corrupt(format!("{pk}/{sk}: {e}")))?;
    Ok(Item {
        key: Key::new(pk, sk),
        version: stored.version,
        body: stored.body,
    })
}

impl EmbeddedBackend {
    /// Opens (or creates) the database file at `path`.
    pub fn open(path: &Path) -> Result<Self, BackendError> {
        let db = Database::create(path).map_err(unavailable)?;
        let txn = db.begin_write().map_err(unavailable)?;
        txn.open_table(ITEMS).map_err(unavailable)?;
        txn.commit().map_err(unavailable)?;
        Ok(Self { db: Arc::new(db) })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Database) -> Result<T, BackendError> + Send + 'static,
    ) -> Result<T, BackendError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(unavailable)?
    }
}

fn query_page(db: &Database, q: &Query) -> Result<Page, BackendError> {
    let txn = db.begin_read().map_err(unavailable)?;
    let table = txn.open_table(ITEMS).map_err(unavailable)?;
    // Every sort key with the prefix lies in [prefix, prefix + U+10FFFF]; the filter below
    // keeps the few longer keys beyond that bound honest.
    let upper = format!("{}\u{10FFFF}", q.sk_prefix);
    let (lo, hi) = match (&q.after, q.descending) {
        (Some(after), false) => (after.as_str(), upper.as_str()),
        (Some(after), true) => (q.sk_prefix.as_str(), after.as_str()),
        (None, _) => (q.sk_prefix.as_str(), upper.as_str()),
    };
    let range = table
        .range((q.pk.as_str(), lo)..=(q.pk.as_str(), hi))
        .map_err(unavailable)?;
    let iter: Box<dyn Iterator<Item = _>> = if q.descending {
        Box::new(range.rev())
    } else {
        Box::new(range)
    };
    let limit = q.limit.unwrap_or(usize::MAX);
    let mut page = Page::default();
    let mut bytes = 0;
    for entry in iter {
        let (k, v) = entry.map_err(unavailable)?;
        let (pk, sk) = k.value();
        if !sk.starts_with(q.sk_prefix.as_str()) || q.after.as_deref() == Some(sk) {
            continue;
        }
        let item = decode(pk, sk, v.value())?;
        bytes += item.size();
        page.items.push(item);
        if page.items.len() >= limit || bytes >= MAX_PAGE_BYTES {
            page.next = Some(sk.to_owned());
            break;
        }
    }
    Ok(page)
}

fn apply(db: &Database, ops: Vec<WriteOp>) -> Result<(), BackendError> {
    validate_write(&ops)?;
    let txn = db.begin_write().map_err(unavailable)?;
    {
        let mut table = txn.open_table(ITEMS).map_err(unavailable)?;
        for (index, op) in ops.iter().enumerate() {
            let key = op.key();
            let current = table
                .get((key.pk.as_str(), key.sk.as_str()))
                .map_err(unavailable)?
                .map(|v| decode(&key.pk, &key.sk, v.value()).map(|i| i.version))
                .transpose()?;
            if !op.condition().holds(current) {
                // Dropping the transaction without commit rolls back what was written so far.
                return Err(BackendError::ConditionFailed { index });
            }
            match op {
                WriteOp::Put { item, .. } => {
                    let bytes = serde_json::to_vec(&Stored {
                        version: item.version,
                        body: item.body.clone(),
                    })
                    .map_err(|e| BackendError::InvalidWrite(e.to_string()))?;
                    table
                        .insert((key.pk.as_str(), key.sk.as_str()), bytes.as_slice())
                        .map_err(unavailable)?;
                }
                WriteOp::Delete { .. } => {
                    table
                        .remove((key.pk.as_str(), key.sk.as_str()))
                        .map_err(unavailable)?;
                }
                WriteOp::Check { .. } => {}
            }
        }
    }
    txn.commit().map_err(unavailable)
}

#[async_trait]
impl Backend for EmbeddedBackend {
    async fn get(&self, key: &Key) -> Result<Option<Item>, BackendError> {
        let key = key.clone();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(ITEMS).map_err(unavailable)?;
            let found = table
                .get((key.pk.as_str(), key.sk.as_str()))
                .map_err(unavailable)?;
            found
                .map(|v| decode(&key.pk, &key.sk, v.value()))
                .transpose()
        })
        .await
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, BackendError> {
        let keys = keys.to_vec();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(ITEMS).map_err(unavailable)?;
            keys.iter()
                .map(|key| {
                    table
                        .get((key.pk.as_str(), key.sk.as_str()))
                        .map_err(unavailable)?
                        .map(|v| decode(&key.pk, &key.sk, v.value()))
                        .transpose()
                })
                .collect()
        })
        .await
    }

    async fn query(&self, query: &Query) -> Result<Page, BackendError> {
        let query = query.clone();
        self.blocking(move |db| query_page(db, &query)).await
    }

    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), BackendError> {
        self.blocking(move |db| apply(db, ops)).await
    }
}
