//! The DynamoDB storage backend. It implements only the primitives of
//! [`attest_store::Backend`]; item keys, layouts, conditions and transactions come from the one
//! data model in `attest-store`.
//!
//! Item layout: `pk` (S), `sk` (S), `ver` (N), `body` (S, the JSON document).

pub mod schema;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use attest_store::backend::validate_write;
use attest_store::backend::MAX_BATCH_GET;
use attest_store::{Backend, BackendError, Condition, Item, Key, Page, Query, WriteOp};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, ConsumedCapacity, Delete, KeysAndAttributes, Put,
    ReturnConsumedCapacity, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;

use schema::{BODY, PARTITION_KEY, SORT_KEY, VERSION};

#[derive(Clone)]
pub struct DynamoDbBackend {
    client: Client,
    table: String,
    meter: Option<Arc<CapacityMeter>>,
}

impl DynamoDbBackend {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            meter: None,
        }
    }

    /// This backend, counting its calls into `meter` and asking DynamoDB for the capacity
    /// each one consumes (`ReturnConsumedCapacity=TOTAL`), for benchmarks and cost estimates.
    /// Without a meter (the default) requests do not ask for it.
    pub fn with_meter(mut self, meter: Arc<CapacityMeter>) -> Self {
        self.meter = Some(meter);
        self
    }

    /// `TOTAL` when metered, else nothing (the request is as without a meter).
    fn consumed(&self) -> Option<ReturnConsumedCapacity> {
        self.meter.as_ref().map(|_| ReturnConsumedCapacity::Total)
    }

    /// Counts a call about to be sent (whether or not it then succeeds).
    fn count(&self, operation: &'static str) {
        if let Some(m) = &self.meter {
            m.lock()
                .calls
                .entry(operation)
                .and_modify(|n| *n += 1)
                .or_insert(1);
        }
    }

    /// Adds the capacity a successful call reports; `write` says which kind of units a bare
    /// `CapacityUnits` figure is.
    fn record<'a>(&self, write: bool, capacity: impl IntoIterator<Item = &'a ConsumedCapacity>) {
        if let Some(m) = &self.meter {
            let mut totals = m.lock();
            for c in capacity {
                let (read, written) = match (c.read_capacity_units(), c.write_capacity_units()) {
                    (None, None) if write => (0.0, c.capacity_units().unwrap_or(0.0)),
                    (None, None) => (c.capacity_units().unwrap_or(0.0), 0.0),
                    (r, w) => (r.unwrap_or(0.0), w.unwrap_or(0.0)),
                };
                totals.read_units += read;
                totals.write_units += written;
            }
        }
    }
}

/// What a metered [`DynamoDbBackend`] consumed: DynamoDB calls by operation (`GetItem`,
/// `BatchGetItem`, `Query`, `PutItem`, `DeleteItem`, `TransactWriteItems`; every call sent,
/// a retried `BatchGetItem` for unprocessed keys included) and the read and write capacity
/// units the successful calls reported.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Consumed {
    pub calls: BTreeMap<&'static str, u64>,
    pub read_units: f64,
    pub write_units: f64,
}

impl Consumed {
    pub fn total_calls(&self) -> u64 {
        self.calls.values().sum()
    }
}

/// Sums the calls and capacity of every backend metered with it (see
/// [`DynamoDbBackend::with_meter`]). Shared between tasks; read with [`CapacityMeter::take`].
#[derive(Debug, Default)]
pub struct CapacityMeter {
    totals: Mutex<Consumed>,
}

impl CapacityMeter {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Consumed> {
        self.totals.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What was consumed since the meter was made or last taken.
    pub fn snapshot(&self) -> Consumed {
        self.lock().clone()
    }

    /// What was consumed since the meter was made or last taken, and starts again from zero.
    pub fn take(&self) -> Consumed {
        std::mem::take(&mut *self.lock())
    }
}

fn unavailable<E: std::error::Error + 'static, R: std::fmt::Debug>(
    e: SdkError<E, R>,
) -> BackendError {
    BackendError::Unavailable(DisplayErrorContext(&e).to_string())
}

fn key_attrs(key: &Key) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (PARTITION_KEY.to_owned(), AttributeValue::S(key.pk.clone())),
        (SORT_KEY.to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

fn item_attrs(item: &Item) -> HashMap<String, AttributeValue> {
    let mut attrs = key_attrs(&item.key);
    attrs.insert(
        VERSION.to_owned(),
        AttributeValue::N(item.version.to_string()),
    );
    attrs.insert(BODY.to_owned(), AttributeValue::S(item.body.to_string()));
    // An expiry the data model asks for (`ttl`, seconds since the epoch) becomes the
    // attribute the table's time to live reads.
    if let Some(ttl) = item
        .body
        .get(attest_store::backend::TTL_FIELD)
        .and_then(|v| v.as_i64())
    {
        attrs.insert(schema::TTL.to_owned(), AttributeValue::N(ttl.to_string()));
    }
    attrs
}

fn read_item(attrs: &HashMap<String, AttributeValue>) -> Result<Item, BackendError> {
    let s = |name: &str| {
        attrs.get(name).and_then(|v| v.as_s().ok()).ok_or_else(|| {
            BackendError::Corrupt(format!("attribute {name} missing or not a string"))
        })
    };
    let (pk, sk) = (s(PARTITION_KEY)?, s(SORT_KEY)?);
    let version = attrs
        .get(VERSION)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| BackendError::Corrupt(format!("{pk}/{sk}: attribute {VERSION} missing")))?;
    let body = serde_json::from_str(s(BODY)?)
        .map_err(|e| BackendError::Corrupt(format!("{pk}/{sk}: {e}")))?;
    Ok(Item {
        key: Key::new(pk, sk),
        version,
        body,
    })
}

/// A condition as a DynamoDB condition expression with its names and values.
struct Expr {
    text: &'static str,
    names: Option<HashMap<String, String>>,
    values: Option<HashMap<String, AttributeValue>>,
}

fn condition_expr(condition: Condition) -> Option<Expr> {
    let pk_name = || {
        Some(HashMap::from([(
            "#pk".to_owned(),
            PARTITION_KEY.to_owned(),
        )]))
    };
    match condition {
        Condition::Always => None,
        Condition::NotExists => Some(Expr {
            text: "attribute_not_exists(#pk)",
            names: pk_name(),
            values: None,
        }),
        Condition::Exists => Some(Expr {
            text: "attribute_exists(#pk)",
            names: pk_name(),
            values: None,
        }),
        Condition::Version(v) => Some(Expr {
            text: "#ver = :ver",
            names: Some(HashMap::from([("#ver".to_owned(), VERSION.to_owned())])),
            values: Some(HashMap::from([(
                ":ver".to_owned(),
                AttributeValue::N(v.to_string()),
            )])),
        }),
    }
}

fn transact_item(table: &str, op: &WriteOp) -> Result<TransactWriteItem, BackendError> {
    let expr = condition_expr(op.condition());
    let (text, names, values) = match expr {
        Some(e) => (Some(e.text.to_owned()), e.names, e.values),
        None => (None, None, None),
    };
    let built = match op {
        WriteOp::Put { item, .. } => TransactWriteItem::builder().put(
            Put::builder()
                .table_name(table)
                .set_item(Some(item_attrs(item)))
                .set_condition_expression(text)
                .set_expression_attribute_names(names)
                .set_expression_attribute_values(values)
                .build()
                .map_err(|e| BackendError::InvalidWrite(e.to_string()))?,
        ),
        WriteOp::Delete { key, .. } => TransactWriteItem::builder().delete(
            Delete::builder()
                .table_name(table)
                .set_key(Some(key_attrs(key)))
                .set_condition_expression(text)
                .set_expression_attribute_names(names)
                .set_expression_attribute_values(values)
                .build()
                .map_err(|e| BackendError::InvalidWrite(e.to_string()))?,
        ),
        WriteOp::Check { key, .. } => TransactWriteItem::builder().condition_check(
            ConditionCheck::builder()
                .table_name(table)
                .set_key(Some(key_attrs(key)))
                // A check always has a condition; `Always` checks that the key is well formed.
                .condition_expression(text.unwrap_or_else(|| {
                    "attribute_exists(#pk) OR attribute_not_exists(#pk)".to_owned()
                }))
                .set_expression_attribute_names(names.or_else(|| {
                    Some(HashMap::from([(
                        "#pk".to_owned(),
                        PARTITION_KEY.to_owned(),
                    )]))
                }))
                .set_expression_attribute_values(values)
                .build()
                .map_err(|e| BackendError::InvalidWrite(e.to_string()))?,
        ),
    };
    Ok(built.build())
}

/// The outcome of a single conditional write: a failed condition, or another failure.
fn single_write_result<O, E, R>(sent: Result<O, SdkError<E, R>>) -> Result<(), BackendError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match sent {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
            Err(BackendError::ConditionFailed { index: 0 })
        }
        Err(e) => Err(BackendError::Unavailable(
            DisplayErrorContext(&e).to_string(),
        )),
    }
}

impl DynamoDbBackend {
    /// One Put or Delete: a single conditional call instead of a transaction.
    async fn write_one(&self, op: &WriteOp) -> Result<(), BackendError> {
        let (text, names, values) = match condition_expr(op.condition()) {
            Some(e) => (Some(e.text.to_owned()), e.names, e.values),
            None => (None, None, None),
        };
        match op {
            WriteOp::Put { item, .. } => {
                self.count("PutItem");
                let sent = self
                    .client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(item_attrs(item)))
                    .set_condition_expression(text)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .set_return_consumed_capacity(self.consumed())
                    .send()
                    .await;
                if let Ok(out) = &sent {
                    self.record(true, out.consumed_capacity());
                }
                single_write_result(sent)
            }
            WriteOp::Delete { key, .. } => {
                self.count("DeleteItem");
                let sent = self
                    .client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(key_attrs(key)))
                    .set_condition_expression(text)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .set_return_consumed_capacity(self.consumed())
                    .send()
                    .await;
                if let Ok(out) = &sent {
                    self.record(true, out.consumed_capacity());
                }
                single_write_result(sent)
            }
            WriteOp::Check { .. } => Err(BackendError::InvalidWrite(
                "a lone check writes nothing".into(),
            )),
        }
    }
}

#[async_trait]
impl Backend for DynamoDbBackend {
    async fn get(&self, key: &Key) -> Result<Option<Item>, BackendError> {
        self.count("GetItem");
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .consistent_read(true)
            .set_return_consumed_capacity(self.consumed())
            .send()
            .await
            .map_err(unavailable)?;
        self.record(false, out.consumed_capacity());
        out.item().map(read_item).transpose()
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, BackendError> {
        let mut found: HashMap<Key, Item> = HashMap::new();
        let mut unique: Vec<&Key> = keys.iter().collect();
        unique.sort();
        unique.dedup();
        for chunk in unique.chunks(MAX_BATCH_GET) {
            let mut request = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.iter().map(|k| key_attrs(k)).collect()))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| BackendError::InvalidWrite(e.to_string()))?,
            );
            // DynamoDB may return part of a batch and the rest as unprocessed keys.
            let mut attempt = 0u32;
            while let Some(keys) = request.take() {
                self.count("BatchGetItem");
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, keys)
                    .set_return_consumed_capacity(self.consumed())
                    .send()
                    .await
                    .map_err(unavailable)?;
                self.record(false, out.consumed_capacity());
                for attrs in out
                    .responses()
                    .and_then(|r| r.get(&self.table))
                    .into_iter()
                    .flatten()
                {
                    let item = read_item(attrs)?;
                    found.insert(item.key.clone(), item);
                }
                request = out
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.table))
                    .filter(|k| !k.keys().is_empty())
                    .cloned();
                if request.is_some() {
                    attempt += 1;
                    if attempt > 8 {
                        return Err(BackendError::Unavailable(
                            "BatchGetItem kept returning unprocessed keys".into(),
                        ));
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20 << attempt.min(5)))
                        .await;
                }
            }
        }
        Ok(keys.iter().map(|k| found.get(k).cloned()).collect())
    }

    async fn query(&self, q: &Query) -> Result<Page, BackendError> {
        let mut values = HashMap::from([(":pk".to_owned(), AttributeValue::S(q.pk.clone()))]);
        let mut key_condition = "#pk = :pk".to_owned();
        let mut names = HashMap::from([("#pk".to_owned(), PARTITION_KEY.to_owned())]);
        if !q.sk_prefix.is_empty() {
            key_condition.push_str(" AND begins_with(#sk, :prefix)");
            names.insert("#sk".to_owned(), SORT_KEY.to_owned());
            values.insert(":prefix".to_owned(), AttributeValue::S(q.sk_prefix.clone()));
        }
        self.count("Query");
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(key_condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .set_exclusive_start_key(
                q.after
                    .as_ref()
                    .map(|sk| key_attrs(&Key::new(q.pk.clone(), sk.clone()))),
            )
            .set_limit(q.limit.map(|l| l.min(i32::MAX as usize) as i32))
            .scan_index_forward(!q.descending)
            .consistent_read(true)
            .set_return_consumed_capacity(self.consumed())
            .send()
            .await
            .map_err(unavailable)?;
        self.record(false, out.consumed_capacity());
        let items = out
            .items()
            .iter()
            .map(read_item)
            .collect::<Result<Vec<_>, _>>()?;
        let next = out
            .last_evaluated_key()
            .and_then(|k| k.get(SORT_KEY))
            .and_then(|v| v.as_s().ok())
            .cloned();
        Ok(Page { items, next })
    }

    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), BackendError> {
        validate_write(&ops)?;
        if let [op @ (WriteOp::Put { .. } | WriteOp::Delete { .. })] = ops.as_slice() {
            return self.write_one(op).await;
        }
        let items = ops
            .iter()
            .map(|op| transact_item(&self.table, op))
            .collect::<Result<Vec<_>, _>>()?;
        self.count("TransactWriteItems");
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .set_return_consumed_capacity(self.consumed())
            .send()
            .await;
        let err = match result {
            Ok(out) => {
                self.record(true, out.consumed_capacity());
                return Ok(());
            }
            Err(e) => e,
        };
        let service = match err {
            SdkError::ServiceError(s) => s.into_err(),
            other => return Err(unavailable(other)),
        };
        if let aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) = &service {
            let codes: Vec<&str> = c
                .cancellation_reasons()
                .iter()
                .map(|r| r.code().unwrap_or("None"))
                .collect();
            if let Some(index) = codes.iter().position(|c| *c == "ConditionalCheckFailed") {
                return Err(BackendError::ConditionFailed { index });
            }
            if codes.contains(&"TransactionConflict") {
                return Err(BackendError::TransactionConflict);
            }
            return Err(BackendError::Unavailable(format!("transaction cancelled: {}", codes.join(", "))));
        }
        if service.is_transaction_in_progress_exception() {
            return Err(BackendError::TransactionConflict);
        }
        Err(BackendError::Unavailable(
            DisplayErrorContext(&service).to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};

    fn client() -> Client {
        let local = attest_testkit::dynamodb_local();
        Client::from_conf(
            aws_sdk_dynamodb::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .endpoint_url(&local.endpoint)
                .region(Region::new("us-east-1"))
                .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
                .build(),
        )
    }

    fn put(sk: &str) -> WriteOp {
        WriteOp::Put {
            item: Item {
                key: Key::new("p", sk),
                version: 1,
                body: serde_json::json!({ "text": "x".repeat(100) }),
            },
            condition: Condition::NotExists,
        }
    }

    #[test]
    fn an_unmetered_backend_does_not_ask_for_capacity() {
        let backend = DynamoDbBackend::new(client_unused(), "t");
        assert_eq!(backend.consumed(), None);
        let meter = Arc::new(CapacityMeter::new());
        let backend = backend.with_meter(meter);
        assert_eq!(backend.consumed(), Some(ReturnConsumedCapacity::Total));
    }

    /// A client that is never called (no endpoint needed).
    fn client_unused() -> Client {
        Client::from_conf(
            aws_sdk_dynamodb::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .build(),
        )
    }

    #[tokio::test]
    async fn the_meter_counts_calls_and_sums_capacity() {
        let client = client();
        let table = attest_testkit::unique_name("attest-meter");
        schema::create_table(&client, &table).await.unwrap();
        let meter = Arc::new(CapacityMeter::new());
        let backend = DynamoDbBackend::new(client, table).with_meter(meter.clone());

        backend.write(vec![put("a")]).await.unwrap();
        backend.write(vec![put("b"), put("c")]).await.unwrap();
        let written = meter.take();
        assert_eq!(
            written.calls,
            BTreeMap::from([("PutItem", 1), ("TransactWriteItems", 1)])
        );
        // One item of under 1 KB: 1 unit; a transaction of two: 2 units each.
        assert!(written.write_units >= 3.0, "{written:?}");
        assert_eq!(written.read_units, 0.0);

        backend.get(&Key::new("p", "a")).await.unwrap().unwrap();
        let keys = [Key::new("p", "a"), Key::new("p", "b")];
        assert_eq!(backend.get_many(&keys).await.unwrap().len(), 2);
        let page = backend.query(&Query::prefix("p", "")).await.unwrap();
        assert_eq!(page.items.len(), 3);
        let read = meter.take();
        assert_eq!(
            read.calls,
            BTreeMap::from([("BatchGetItem", 1), ("GetItem", 1), ("Query", 1)])
        );
        // Strongly consistent reads: at least one unit per item read by key, one per query.
        assert!(read.read_units >= 4.0, "{read:?}");
        assert_eq!(read.write_units, 0.0);

        // A failed condition is a call, with no capacity reported.
        assert!(backend.write(vec![put("a")]).await.is_err());
        let failed = meter.take();
        assert_eq!(failed.total_calls(), 1);
        assert_eq!(meter.snapshot(), Consumed::default());
    }
}
