//! Records data connectors import, keyed for the two reads users make (API.md "Data
//! connectors"):
//!
//! - by connector and time: `T#{tenant}#REC#{connector}`, sort key `{at}#{id}`;
//! - by person and time: `T#{tenant}#RECP#{person}`, sort key `{at}#{connector}#{id}`, a copy
//!   of the record (so a person's timeline is one query);
//!
//! `{at}` is the record's time, fixed width with nanoseconds (`2026-11-27T04:00:00.000000000Z`),
//! so sort order is time order; `{id}` is the first 32 hex digits of the SHA-256 of the
//! record's source id. Keys are derived from the record alone, so importing a record twice (an
//! overlapping window, a re-run after a crash) finds its key taken: it is counted as a
//! duplicate and written once.
//!
//! - The import watermark: `T#{tenant}#CONNWM`, sort key = connector id, `{to}`: the end of the
//!   last window whose records were all committed.

use attest_domain::ids::TenantId;
use attest_domain::imported::ImportedRecord;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::backend::{BackendError, Condition, Item, Query, WriteOp, MAX_BATCH_GET};
use crate::keys::pk;
use crate::record::{decode, encode};
use crate::{Key, Store, StoreError};

/// Most records one transaction writes (each is two items).
const PER_WRITE: usize = 50;

fn time_key(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

fn source_hash(source_id: &str) -> String {
    hex::encode(&Sha256::digest(source_id.as_bytes())[..16])
}

fn records_pk(tenant: &TenantId, connector: &str) -> String {
    pk(tenant, &format!("REC#{connector}"))
}

fn person_pk(tenant: &TenantId, person: &str) -> String {
    pk(tenant, &format!("RECP#{person}"))
}

fn record_key(tenant: &TenantId, r: &ImportedRecord) -> Key {
    Key::new(
        records_pk(tenant, &r.connector_id),
        format!("{}#{}", time_key(r.at), source_hash(&r.source_id)),
    )
}

fn person_key(tenant: &TenantId, person: &str, r: &ImportedRecord) -> Key {
    Key::new(
        person_pk(tenant, person),
        format!(
            "{}#{}#{}",
            time_key(r.at),
            r.connector_id,
            source_hash(&r.source_id)
        ),
    )
}

fn watermark_key(tenant: &TenantId, connector: &str) -> Key {
    Key::new(pk(tenant, "CONNWM"), connector)
}

/// What [`Store::put_records`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub imported: u64,
    pub duplicates: u64,
    /// Of the imported ones, those mapped to no person.
    pub unmapped: u64,
}

/// Whose records a listing reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordScope {
    Connector(String),
    Person(String),
}

/// A page of records in time order, and where the next starts.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordPage {
    pub records: Vec<ImportedRecord>,
    pub next: Option<String>,
}

fn ops_for(tenant: &TenantId, r: &ImportedRecord) -> Vec<WriteOp> {
    let mut ops = vec![WriteOp::Put {
        item: encode(record_key(tenant, r), 1, r),
        condition: Condition::NotExists,
    }];
    if let Some(person) = &r.person {
        ops.push(WriteOp::Put {
            item: encode(person_key(tenant, person, r), 1, r),
            condition: Condition::Always,
        });
    }
    ops
}

impl Store {
    /// Stores records not stored before (by their source id); the others are counted as
    /// duplicates. Reads the keys first (a batch per 100), writes the new ones in
    /// transactions; one that meets a record written meanwhile is written record by record.
    pub async fn put_records(
        &self,
        tenant: &TenantId,
        records: &[ImportedRecord],
    ) -> Result<Written, StoreError> {
        let mut written = Written::default();
        let mut seen = std::collections::HashSet::new();
        for chunk in records.chunks(PER_WRITE.min(MAX_BATCH_GET)) {
            let keys: Vec<Key> = chunk.iter().map(|r| record_key(tenant, r)).collect();
            let existing = self.backend().get_many(&keys).await?;
            let mut fresh = Vec::new();
            for ((r, key), found) in chunk.iter().zip(&keys).zip(existing) {
                if found.is_some() || !seen.insert(key.clone()) {
                    written.duplicates += 1;
                } else {
                    fresh.push(r);
                }
            }
            if fresh.is_empty() {
                continue;
            }
            let ops: Vec<WriteOp> = fresh.iter().flat_map(|r| ops_for(tenant, r)).collect();
            match self.backend().write(ops).await {
                Ok(()) => {
                    written.imported += fresh.len() as u64;
                    written.unmapped += fresh.iter().filter(|r| r.person.is_none()).count() as u64;
                }
                Err(BackendError::ConditionFailed { .. })
                | Err(BackendError::TransactionConflict) => {
                    for r in fresh {
                        match self.backend().write(ops_for(tenant, r)).await {
                            Ok(()) => {
                                written.imported += 1;
                                written.unmapped += u64::from(r.person.is_none());
                            }
                            Err(BackendError::ConditionFailed { .. }) => written.duplicates += 1,
                            Err(e) => return Err(e.into()),
                        }
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(written)
    }

    /// Records of a connector or a person from `from` to `to` (inclusive), oldest first, at
    /// most `limit`, after `after` (a page's `next`).
    pub async fn list_records(
        &self,
        tenant: &TenantId,
        scope: &RecordScope,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after: Option<String>,
        limit: usize,
    ) -> Result<RecordPage, StoreError> {
        let pk = match scope {
            RecordScope::Connector(c) => records_pk(tenant, c),
            RecordScope::Person(p) => person_pk(tenant, p),
        };
        let start = time_key(from);
        let end = format!("{}~", time_key(to));
        let mut query = Query::prefix(pk, "");
        query.after = Some(match after {
            Some(a) if a > start => a,
            _ => start,
        });
        query.limit = Some(limit);
        let page = self.backend().query(&query).await?;
        let mut records = Vec::with_capacity(page.items.len());
        let mut last = None;
        for item in page.items {
            if item.key.sk > end {
                return Ok(RecordPage {
                    records,
                    next: None,
                });
            }
            last = Some(item.key.sk.clone());
            records.push(decode::<ImportedRecord>(item)?.value);
        }
        let next = page.next.and(last);
        Ok(RecordPage { records, next })
    }

    /// Deletes a connector's records older than `before` (and their person copies), at most
    /// `max` of them; returns how many went. Call again while it returns `max`.
    pub async fn delete_records_before(
        &self,
        tenant: &TenantId,
        connector: &str,
        before: DateTime<Utc>,
        max: usize,
    ) -> Result<usize, StoreError> {
        let end = time_key(before);
        let mut query = Query::prefix(records_pk(tenant, connector), "");
        // The oldest record first: when it is young enough, nothing more is read.
        query.limit = Some(1);
        let oldest = self.backend().query(&query).await?;
        if oldest.items.first().is_none_or(|i| i.key.sk >= end) {
            return Ok(0);
        }
        query.limit = Some(max);
        let page = self.backend().query(&query).await?;
        let old: Vec<Item> = page
            .items
            .into_iter()
            .take_while(|i| i.key.sk < end)
            .collect();
        let mut ops = Vec::with_capacity(old.len() * 2);
        for item in &old {
            let r: ImportedRecord = decode(item.clone())?.value;
            if let Some(person) = &r.person {
                ops.push(WriteOp::Delete {
                    key: person_key(tenant, person, &r),
                    condition: Condition::Always,
                });
            }
            ops.push(WriteOp::Delete {
                key: item.key.clone(),
                condition: Condition::Always,
            });
        }
        self.write_chunked(ops).await?;
        Ok(old.len())
    }

    /// The end of the last window whose records were all committed.
    pub async fn import_watermark(
        &self,
        tenant: &TenantId,
        connector: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self
            .backend()
            .get(&watermark_key(tenant, connector))
            .await?
            .and_then(|i| serde_json::from_value(i.body["to"].clone()).ok()))
    }

    /// Moves the watermark to `to` (only forward).
    pub async fn advance_watermark(
        &self,
        tenant: &TenantId,
        connector: &str,
        to: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if self
            .import_watermark(tenant, connector)
            .await?
            .is_some_and(|current| current >= to)
        {
            return Ok(());
        }
        let op = WriteOp::Put {
            item: encode(
                watermark_key(tenant, connector),
                1,
                &serde_json::json!({ "to": to }),
            ),
            condition: Condition::Always,
        };
        Ok(self.backend().write(vec![op]).await?)
    }
}
