//! An in-memory [`SecretStore`] for use-case unit tests.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::{Secret, SecretError, SecretRef, SecretStore};

/// Secrets in a map in memory, for tests; it can be made to fail every call
/// ([`MemorySecrets::set_unavailable`]) to test how callers handle an unreachable store.
#[derive(Default)]
pub struct MemorySecrets {
    secrets: Mutex<HashMap<SecretRef, Secret>>,
    unavailable: AtomicBool,
}

impl std::fmt::Debug for MemorySecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Only where secrets are, never what (Secret's Debug would redact them anyway).
        let mut places: Vec<SecretRef> = self.map().keys().cloned().collect();
        places.sort();
        f.debug_struct("MemorySecrets")
            .field("places", &places)
            .field("unavailable", &self.unavailable.load(Ordering::Relaxed))
            .finish()
    }
}

impl MemorySecrets {
    pub fn new() -> Self {
        Self::default()
    }

    /// From now on every call fails with [`SecretError::Unavailable`] (`true`), or works again
    /// (`false`).
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::Relaxed);
    }

    /// Whether a secret is stored at `at` (regardless of [`MemorySecrets::set_unavailable`]).
    pub fn contains(&self, at: &SecretRef) -> bool {
        self.map().contains_key(at)
    }

    /// How many secrets are stored.
    pub fn len(&self) -> usize {
        self.map().len()
    }

    pub fn is_empty(&self) -> bool {
        self.map().is_empty()
    }

    fn map(&self) -> MutexGuard<'_, HashMap<SecretRef, Secret>> {
        self.secrets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn check(&self) -> Result<(), SecretError> {
        if self.unavailable.load(Ordering::Relaxed) {
            return Err(SecretError::Unavailable(
                "the in-memory secret store was set unavailable".into(),
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl SecretStore for MemorySecrets {
    async fn put(&self, at: &SecretRef, secret: &Secret) -> Result<(), SecretError> {
        self.check()?;
        self.map().insert(at.clone(), secret.clone());
        Ok(())
    }

    async fn get(&self, at: &SecretRef) -> Result<Secret, SecretError> {
        self.check()?;
        self.map().get(at).cloned().ok_or(SecretError::NotFound)
    }

    async fn delete(&self, at: &SecretRef) -> Result<(), SecretError> {
        self.check()?;
        self.map().remove(at);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn behaves_like_a_store() {
        let store = MemorySecrets::new();
        let place = SecretRef::new("acme", "zoom");
        let secret = Secret::from_iter([("client_secret", "hush")]);
        assert_eq!(store.get(&place).await, Err(SecretError::NotFound));
        store.put(&place, &secret).await.unwrap();
        assert_eq!(store.get(&place).await.unwrap(), secret);
        assert!(store.contains(&place));
        assert_eq!(store.len(), 1);
        assert!(!format!("{store:?}").contains("hush"));

        store.set_unavailable(true);
        assert!(matches!(
            store.get(&place).await,
            Err(SecretError::Unavailable(_))
        ));
        store.set_unavailable(false);

        store.delete(&place).await.unwrap();
        store.delete(&place).await.unwrap();
        assert!(store.is_empty());
        assert_eq!(store.get(&place).await, Err(SecretError::NotFound));
    }
}
