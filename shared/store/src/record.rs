//! Typed items: how a domain value becomes an item body and back.

use serde::{de::DeserializeOwned, Serialize};

use crate::backend::{BackendError, Item, Key};

/// A value with the version of the item that holds it (the API's ETag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned<T> {
    pub version: u64,
    pub value: T,
}

pub fn encode<T: Serialize>(key: Key, version: u64, value: &T) -> Item {
    Item {
        key,
        version,
        body: serde_json::to_value(value).expect("domain values serialize to JSON"),
    }
}

pub fn decode<T: DeserializeOwned>(item: Item) -> Result<Versioned<T>, BackendError> {
    let value = serde_json::from_value(item.body)
        .map_err(|e| BackendError::Corrupt(format!("{}/{}: {e}", item.key.pk, item.key.sk)))?;
    Ok(Versioned {
        version: item.version,
        value,
    })
}
