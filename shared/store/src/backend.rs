//! The primitive operations a storage backend provides. Everything above them — which items
//! exist, how they are keyed, which conditions guard a write — lives in the data model.

use async_trait::async_trait;

/// Most operations DynamoDB accepts in one TransactWriteItems call.
pub const MAX_TRANSACTION_OPS: usize = 100;
/// Most keys DynamoDB reads in one BatchGetItem call.
pub const MAX_BATCH_GET: usize = 100;
/// The most data one query page returns (DynamoDB's 1 MB); backends stop a page there.
pub const MAX_PAGE_BYTES: usize = 1024 * 1024;

/// A top-level body field with an expiry (seconds since the epoch). Backends with a time to
/// live (DynamoDB) delete the item some time after it; others keep it.
pub const TTL_FIELD: &str = "ttl";

/// An item's primary key: partition key and sort key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }
}

/// A stored item: key, version (starts at 1, grows by one on every write) and a JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub key: Key,
    pub version: u64,
    pub body: serde_json::Value,
}

impl Item {
    /// Approximate stored size, used to cut query pages the way DynamoDB does.
    pub fn size(&self) -> usize {
        self.key.pk.len() + self.key.sk.len() + 8 + self.body.to_string().len()
    }
}

/// What must hold for a write to happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Always,
    /// No item with this key exists.
    NotExists,
    /// An item with this key exists.
    Exists,
    /// The item exists with exactly this version.
    Version(u64),
}

impl Condition {
    /// Whether the condition holds for the item's current version (`None`: no item).
    pub fn holds(self, current: Option<u64>) -> bool {
        match self {
            Condition::Always => true,
            Condition::NotExists => current.is_none(),
            Condition::Exists => current.is_some(),
            Condition::Version(v) => current == Some(v),
        }
    }
}

/// One operation of an atomic write.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOp {
    Put {
        item: Item,
        condition: Condition,
    },
    Delete {
        key: Key,
        condition: Condition,
    },
    /// Writes nothing; the whole write fails unless the condition holds.
    Check {
        key: Key,
        condition: Condition,
    },
}

impl WriteOp {
    pub fn key(&self) -> &Key {
        match self {
            WriteOp::Put { item, .. } => &item.key,
            WriteOp::Delete { key, .. } | WriteOp::Check { key, .. } => key,
        }
    }

    pub fn condition(&self) -> Condition {
        match self {
            WriteOp::Put { condition, .. }
            | WriteOp::Delete { condition, .. }
            | WriteOp::Check { condition, .. } => *condition,
        }
    }
}

/// Items of one partition whose sort key starts with `sk_prefix`, in sort-key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub pk: String,
    pub sk_prefix: String,
    /// Resume after this sort key (a page's `next`).
    pub after: Option<String>,
    pub limit: Option<usize>,
    pub descending: bool,
}

impl Query {
    pub fn prefix(pk: impl Into<String>, sk_prefix: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk_prefix: sk_prefix.into(),
            after: None,
            limit: None,
            descending: false,
        }
    }
}

/// One page of a query. `next` is set when there may be more: pass it as `Query::after`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    pub items: Vec<Item>,
    pub next: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The condition of operation `index` (in the order given) did not hold; nothing was written.
    #[error("condition of write {index} did not hold")]
    ConditionFailed { index: usize },
    /// The write could not be applied as asked (too many operations, one key twice, ...).
    #[error("invalid write: {0}")]
    InvalidWrite(String),
    /// Another transaction touched the same items; retrying may succeed.
    #[error("write conflicted with another transaction")]
    TransactionConflict,
    /// The store could not be reached or failed.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Stored data that cannot be read back.
    #[error("corrupt item: {0}")]
    Corrupt(String),
}

/// The primitives a storage backend provides.
#[async_trait]
pub trait Backend: Send + Sync {
    async fn get(&self, key: &Key) -> Result<Option<Item>, BackendError>;

    /// Several items by key, in the order asked (`None` where there is none). Backends read
    /// them in as few calls as they can (DynamoDB: one BatchGetItem per 100 keys).
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, BackendError> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(self.get(key).await?);
        }
        Ok(out)
    }

    /// One page of a query; a page holds at most `limit` items and about [`MAX_PAGE_BYTES`].
    async fn query(&self, query: &Query) -> Result<Page, BackendError>;

    /// Applies every operation, or none of them. At most [`MAX_TRANSACTION_OPS`] operations,
    /// each on a different key.
    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), BackendError>;
}

/// Checks what every backend refuses before touching storage.
pub fn validate_write(ops: &[WriteOp]) -> Result<(), BackendError> {
    if ops.is_empty() {
        return Err(BackendError::InvalidWrite("no operations".into()));
    }
    if ops.len() > MAX_TRANSACTION_OPS {
        return Err(BackendError::InvalidWrite(format!(
            "{} operations; at most {MAX_TRANSACTION_OPS} in one write",
            ops.len()
        )));
    }
    let mut keys = std::collections::HashSet::new();
    for op in ops {
        if !keys.insert(op.key()) {
            return Err(BackendError::InvalidWrite(format!(
                "key {}/{} appears twice in one write",
                op.key().pk,
                op.key().sk
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions() {
        assert!(Condition::NotExists.holds(None));
        assert!(!Condition::NotExists.holds(Some(1)));
        assert!(Condition::Exists.holds(Some(3)));
        assert!(Condition::Version(3).holds(Some(3)));
        assert!(!Condition::Version(3).holds(Some(4)));
        assert!(!Condition::Version(3).holds(None));
        assert!(Condition::Always.holds(None));
    }

    #[test]
    fn writes_are_bounded_and_keys_distinct() {
        let put = |sk: &str| WriteOp::Put {
            item: Item {
                key: Key::new("p", sk),
                version: 1,
                body: serde_json::json!({}),
            },
            condition: Condition::Always,
        };
        assert!(validate_write(&[]).is_err());
        assert!(validate_write(&[put("a"), put("a")]).is_err());
        let many: Vec<_> = (0..101).map(|i| put(&i.to_string())).collect();
        assert!(validate_write(&many).is_err());
        assert!(validate_write(&many[..100]).is_ok());
    }
}
