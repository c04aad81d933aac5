//! Users the tenant has seen, and the roles assigned to them in the app (which add to the
//! roles their token carries).

use std::collections::BTreeSet;

use attest_domain::identity::Role;
use attest_domain::ids::{TenantId, UserId};
use serde::{Deserialize, Serialize};

use crate::backend::{BackendError, Condition, WriteOp};
use crate::record::{decode, encode, Versioned};
use crate::{keys, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub id: UserId,
    pub name: Option<String>,
    pub email: Option<String>,
    /// Roles assigned in Attest, added to the token's.
    pub roles: BTreeSet<Role>,
    pub first_seen: chrono::DateTime<chrono::Utc>,
}

impl Store {
    pub async fn get_user(
        &self,
        tenant: &TenantId,
        id: &UserId,
    ) -> Result<Option<Versioned<UserRecord>>, StoreError> {
        match self.backend().get(&keys::user(tenant, id)).await? {
            Some(item) => Ok(Some(decode(item)?)),
            None => Ok(None),
        }
    }

    /// Records a user the first time they are seen; a concurrent first sight is fine.
    pub async fn record_user(
        &self,
        tenant: &TenantId,
        user: &UserRecord,
    ) -> Result<(), StoreError> {
        let op = WriteOp::Put {
            item: encode(keys::user(tenant, &user.id), 1, user),
            condition: Condition::NotExists,
        };
        match self.backend().write(vec![op]).await {
            Ok(()) | Err(BackendError::ConditionFailed { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn list_users(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<Versioned<UserRecord>>, StoreError> {
        let items = self.query_all(keys::users(tenant), "").await?;
        Ok(items.into_iter().map(decode).collect::<Result<_, _>>()?)
    }

    /// Replaces the app-assigned roles. `expected_version` 0 means the user is not stored yet.
    pub async fn set_user_roles(
        &self,
        tenant: &TenantId,
        user: UserRecord,
        expected_version: u64,
        events: &[attest_domain::event::Event],
    ) -> Result<Versioned<UserRecord>, StoreError> {
        let version = expected_version + 1;
        let condition = if expected_version == 0 {
            Condition::NotExists
        } else {
            Condition::Version(expected_version)
        };
        let op = WriteOp::Put {
            item: encode(keys::user(tenant, &user.id), version, &user),
            condition,
        };
        let mut ops = vec![op];
        ops.extend(crate::events::events_ops(events));
        match self.backend().write(ops).await {
            Ok(()) => Ok(Versioned {
                version,
                value: user,
            }),
            Err(BackendError::ConditionFailed { .. }) => {
                let current = self
                    .get_user(tenant, &user.id)
                    .await?
                    .map(|u| u.version)
                    .unwrap_or(0);
                Err(StoreError::StaleVersion {
                    expected: expected_version,
                    current,
                })
            }
            Err(e) => Err(e.into()),
        }
    }
}
