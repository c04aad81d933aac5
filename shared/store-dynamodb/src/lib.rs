//! The DynamoDB storage backend. It implements only the primitives of
//! [`attest_store::Backend`]; item keys, layouts, conditions and transactions come from the one
//! data model in `attest-store`.
//!
//! Item layout: `pk` (S), `sk` (S), `ver` (N), `body` (S, the JSON document).

pub mod schema;

use std::collections::HashMap;

use async_trait::async_trait;
use attest_store::backend::validate_write;
use attest_store::backend::MAX_BATCH_GET;
use attest_store::{Backend, BackendError, Condition, Item, Key, Page, Query, WriteOp};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, KeysAndAttributes, Put, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;

use schema::{BODY, PARTITION_KEY, SORT_KEY, VERSION};

#[derive(Clone)]
pub struct DynamoDbBackend {
    client: Client,
    table: String,
}

impl DynamoDbBackend {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
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
            WriteOp::Put { item, .. } => single_write_result(
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(item_attrs(item)))
                    .set_condition_expression(text)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .send()
                    .await,
            ),
            WriteOp::Delete { key, .. } => single_write_result(
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(key_attrs(key)))
                    .set_condition_expression(text)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .send()
                    .await,
            ),
            WriteOp::Check { .. } => Err(BackendError::InvalidWrite(
                "a lone check writes nothing".into(),
            )),
        }
    }
}

#[async_trait]
impl Backend for DynamoDbBackend {
    async fn get(&self, key: &Key) -> Result<Option<Item>, BackendError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
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
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, keys)
                    .send()
                    .await
                    .map_err(unavailable)?;
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
            .send()
            .await
            .map_err(unavailable)?;
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
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(()),
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
