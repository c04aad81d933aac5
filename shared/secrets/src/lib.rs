//! Connector credentials (a Zoom client secret, a Salesforce client secret, ...) and where
//! they are kept: the [`SecretStore`] port, its local adapter [`LocalSecrets`] (sealed files in
//! the data dir, for `attest serve`), and [`MemorySecrets`] for use-case unit tests. The AWS
//! adapter (Secrets Manager) is the crate `attest-secrets-aws`.
//!
//! A [`Secret`] never leaves by accident: its `Debug` prints only field names, it has no
//! `Display` and no `Serialize`; the only way to its values is [`Secret::get`] and the explicit
//! [`Secret::to_json_bytes`]. The values are wiped from memory when a `Secret` is dropped.
//! [`SecretError`] messages never hold a secret value.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use zeroize::{Zeroize, Zeroizing};

mod local;
mod memory;

pub use local::LocalSecrets;
pub use memory::MemorySecrets;

/// A connector's credentials: field name (e.g. `client_id`, `client_secret`) -> value.
///
/// `Debug` prints the field names with `<redacted>` values; there is no `Display`, and no
/// serde implementation, so that a `Secret` is never serialised into a response, an event or
/// a log line by accident: [`Secret::to_json_bytes`] and [`Secret::from_json_bytes`] are the
/// explicit ways in and out. The values are zeroised on drop (best effort: copies the caller
/// makes of [`Secret::get`]'s answers, or buffers of the JSON codec, are not).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(BTreeMap<String, String>);

impl Secret {
    pub fn new(map: BTreeMap<String, String>) -> Self {
        Self(map)
    }

    /// The value of `field`, if set.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    /// The field names, in order.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Our fields, with those `update` sets replaced by its values (a partial update of the
    /// credentials: fields it does not name keep their values).
    pub fn merged(&self, update: &Secret) -> Secret {
        let mut map = self.0.clone();
        for (field, value) in &update.0 {
            map.insert(field.clone(), value.clone());
        }
        Secret(map)
    }

    /// The JSON object `{"field": "value", ...}`: for a secret store to keep. Never put it in a
    /// response, an event or a log line.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        // A map of strings always serialises.
        serde_json::to_vec(&self.0).expect("a map of strings serialises")
    }

    /// The secret from [`Secret::to_json_bytes`]'s JSON object. The error says where the JSON
    /// is wrong but never quotes it.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Secret, SecretError> {
        serde_json::from_slice::<BTreeMap<String, String>>(bytes)
            .map(Secret)
            .map_err(|e| {
                // serde_json's messages may quote the input (`invalid type: string "..."`):
                // say only what kind of error it is and where.
                let kind = match e.classify() {
                    serde_json::error::Category::Io => "an I/O error",
                    serde_json::error::Category::Syntax => "invalid JSON",
                    serde_json::error::Category::Data => "not an object of strings",
                    serde_json::error::Category::Eof => "truncated JSON",
                };
                SecretError::Unavailable(format!(
                    "stored secret is {kind} (line {}, column {})",
                    e.line(),
                    e.column()
                ))
            })
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Secret {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Secret(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Redacted;
        impl fmt::Debug for Redacted {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("<redacted>")
            }
        }
        f.write_str("Secret")?;
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, Redacted)))
            .finish()
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        for value in self.0.values_mut() {
            value.zeroize();
        }
    }
}

/// Where a secret lives: one per connector instance of a tenant. Both ids are opaque strings
/// to the stores, which encode them (never use them raw) in file and secret names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretRef {
    pub tenant: String,
    pub connector: String,
}

impl SecretRef {
    pub fn new(tenant: impl Into<String>, connector: impl Into<String>) -> Self {
        Self {
            tenant: tenant.into(),
            connector: connector.into(),
        }
    }
}

/// Why a secret store did not answer. The messages never hold a secret value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// No secret is stored at that place.
    #[error("secret not found")]
    NotFound,
    /// The store is unreachable, refused the call, or the stored secret does not open
    /// (wrong key, altered, unreadable).
    #[error("secret store unavailable: {0}")]
    Unavailable(String),
}

/// Where connector credentials are kept.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Stores `secret` at `at`, creating it or replacing the whole of what was there.
    async fn put(&self, at: &SecretRef, secret: &Secret) -> Result<(), SecretError>;
    /// The secret at `at`; [`SecretError::NotFound`] if there is none.
    async fn get(&self, at: &SecretRef) -> Result<Secret, SecretError>;
    /// Removes the secret at `at`; removing one that is not there is `Ok`.
    async fn delete(&self, at: &SecretRef) -> Result<(), SecretError>;
}

/// A byte buffer wiped on drop, for the plaintext JSON on its way to or from a store.
pub(crate) type Plain = Zeroizing<Vec<u8>>;

#[cfg(test)]
mod tests {
    use super::*;

    fn zoom() -> Secret {
        Secret::from_iter([("client_id", "zid"), ("client_secret", "s3cr3t-value")])
    }

    #[test]
    fn debug_names_fields_but_not_values() {
        let printed = format!("{:?}", zoom());
        assert_eq!(
            printed,
            r#"Secret{"client_id": <redacted>, "client_secret": <redacted>}"#
        );
        let pretty = format!("{:#?}", zoom());
        assert!(!pretty.contains("s3cr3t"), "{pretty}");
        assert!(!pretty.contains("zid"), "{pretty}");
    }

    #[test]
    fn get_and_fields() {
        let s = zoom();
        assert_eq!(s.get("client_secret"), Some("s3cr3t-value"));
        assert_eq!(s.get("nope"), None);
        assert_eq!(
            s.fields().collect::<Vec<_>>(),
            ["client_id", "client_secret"]
        );
        assert!(!s.is_empty());
        assert!(Secret::default().is_empty());
    }

    #[test]
    fn merged_replaces_the_updated_fields_and_keeps_the_others() {
        let update = Secret::from_iter([("client_secret", "new"), ("account_id", "a1")]);
        let m = zoom().merged(&update);
        assert_eq!(m.get("client_id"), Some("zid"));
        assert_eq!(m.get("client_secret"), Some("new"));
        assert_eq!(m.get("account_id"), Some("a1"));
        assert_eq!(m.fields().count(), 3);
    }

    #[test]
    fn json_round_trip() {
        let bytes = zoom().to_json_bytes();
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"client_id":"zid","client_secret":"s3cr3t-value"}"#
        );
        assert_eq!(Secret::from_json_bytes(&bytes).unwrap(), zoom());
    }

    #[test]
    fn json_errors_do_not_quote_the_input() {
        for bad in [
            &br#"{"client_secret": 12345678}"#[..],
            br#"{"client_secret": "s3cr3t"#,
            br#"["s3cr3t"]"#,
            br#"s3cr3t"#,
        ] {
            let err = Secret::from_json_bytes(bad).unwrap_err();
            let SecretError::Unavailable(message) = &err else {
                panic!("{err:?}")
            };
            assert!(!message.contains("s3cr3t"), "{message}");
            assert!(!message.contains("12345678"), "{message}");
        }
    }
}
