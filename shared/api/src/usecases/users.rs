//! Users the tenant has seen, and the roles assigned to them in the app (which add to the
//! roles their token carries).

use std::collections::BTreeSet;

use attest_domain::event::{EventType, Subject};
use attest_domain::identity::{Identity, Role};
use attest_domain::ids::{TenantId, UserId};
use attest_domain::FieldError;
use attest_store::users::UserRecord;
use attest_store::{StoreError, Versioned};
use serde::{Deserialize, Serialize};

use crate::AppState;

/// Why users could not be listed or their roles set.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("invalid {}: {}", .0.field, .0.message)]
    Invalid(FieldError),
    /// A path id that is not a valid id names nobody.
    #[error("{0} not found")]
    NotFound(String),
    /// The caller named a version (If-Match) that is not the stored one.
    #[error("{0}")]
    Stale(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserView {
    pub id: UserId,
    pub name: Option<String>,
    pub email: Option<String>,
    /// Roles assigned in Attest; they add to those the user's token carries.
    pub roles: BTreeSet<Role>,
    pub first_seen: chrono::DateTime<chrono::Utc>,
    pub version: u64,
}

impl From<Versioned<UserRecord>> for UserView {
    fn from(u: Versioned<UserRecord>) -> Self {
        Self {
            id: u.value.id,
            name: u.value.name,
            email: u.value.email,
            roles: u.value.roles,
            first_seen: u.value.first_seen,
            version: u.version,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct UserList {
    pub items: Vec<UserView>,
}

/// `GET /users`: every user the tenant has seen or assigned roles to.
pub async fn list(state: &AppState, tenant: &TenantId) -> Result<UserList, UserError> {
    let users = state.store.list_users(tenant).await?;
    Ok(UserList {
        items: users.into_iter().map(UserView::from).collect(),
    })
}

/// The body of `PUT /users/{id}/roles`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetRoles {
    pub roles: BTreeSet<Role>,
}

/// The user id of `PUT /users/{id}/roles`, checked (422 naming `id`).
pub fn user_id(raw: &str) -> Result<UserId, UserError> {
    UserId::parse(raw).map_err(|_| UserError::NotFound(format!("user {raw}")))
}

/// `PUT /users/{id}/roles`: replaces the roles assigned in the app to user `id` (recorded now
/// if the user was never seen). With `expected_version` (If-Match), a stale one is refused.
pub async fn set_roles(
    state: &AppState,
    caller: &Identity,
    id: &UserId,
    body: SetRoles,
    expected_version: Option<u64>,
) -> Result<UserView, UserError> {
    let tenant = &caller.tenant;
    let current = state.store.get_user(tenant, id).await?;
    let version = current.as_ref().map(|u| u.version).unwrap_or(0);
    if let Some(expected) = expected_version.filter(|v| *v != version) {
        return Err(UserError::Stale(format!(
            "If-Match names version {expected} but user {id} is at version {version}"
        )));
    }
    let mut record = current.map(|u| u.value).unwrap_or_else(|| UserRecord {
        id: id.clone(),
        name: None,
        email: None,
        roles: BTreeSet::new(),
        first_seen: state.now(),
    });
    let event = super::events::by(
        state,
        caller,
        EventType::UserRolesChanged,
        Subject::new("user", id.as_str()),
        serde_json::json!({"old": record.roles, "new": body.roles}),
    );
    record.roles = body.roles;
    let saved = state
        .store
        .set_user_roles(tenant, record, version, &[event])
        .await?;
    tracing::info!(tenant = %tenant, user = %id, by = %caller.user, "roles assigned");
    Ok(UserView::from(saved))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::TimeZone;

    use super::*;
    use crate::state::FixedClock;

    fn ports() -> (AppState, Identity, tempfile::TempDir) {
        let (state, caller, dir) = crate::usecases::testkit::ports();
        let now = chrono::Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap();
        (state.with_clock(Arc::new(FixedClock(now))), caller, dir)
    }

    fn rob_id() -> UserId {
        user_id("rob").unwrap()
    }

    fn roles(r: &[Role]) -> SetRoles {
        SetRoles {
            roles: r.iter().copied().collect(),
        }
    }

    #[tokio::test]
    async fn roles_are_set_and_listed() {
        let (state, caller, _dir) = ports();
        assert!(list(&state, &caller.tenant).await.unwrap().items.is_empty());

        let rob = set_roles(&state, &caller, &rob_id(), roles(&[Role::Reader]), None)
            .await
            .unwrap();
        assert_eq!(rob.id.as_str(), "rob");
        assert_eq!(rob.version, 1);
        assert_eq!(rob.roles, BTreeSet::from([Role::Reader]));
        assert_eq!(rob.first_seen, state.now(), "first seen now, by the clock");

        let rob = set_roles(
            &state,
            &caller,
            &rob_id(),
            roles(&[Role::Reader, Role::Administrator]),
            Some(1),
        )
        .await
        .unwrap();
        assert_eq!(rob.version, 2);

        let listed = list(&state, &caller.tenant).await.unwrap();
        assert_eq!(listed.items, vec![rob]);

        let other = TenantId::parse("other").unwrap();
        assert!(list(&state, &other).await.unwrap().items.is_empty());
    }

    #[tokio::test]
    async fn a_stale_version_is_refused_and_changes_nothing() {
        let (state, caller, _dir) = ports();
        set_roles(&state, &caller, &rob_id(), roles(&[Role::Reader]), None)
            .await
            .unwrap();
        let err = set_roles(&state, &caller, &rob_id(), roles(&[]), Some(0))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, UserError::Stale(m) if m == "If-Match names version 0 but user rob is at version 1"),
            "{err:?}"
        );
        // A user never seen is at version 0.
        let err = set_roles(
            &state,
            &caller,
            &user_id("nobody").unwrap(),
            roles(&[]),
            Some(3),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, UserError::Stale(_)), "{err:?}");

        let listed = list(&state, &caller.tenant).await.unwrap();
        assert_eq!(listed.items.len(), 1);
        assert_eq!(listed.items[0].roles, BTreeSet::from([Role::Reader]));
        assert_eq!(listed.items[0].version, 1);
    }

    #[test]
    fn a_malformed_user_id_names_nobody() {
        let err = user_id("not an id").unwrap_err();
        assert!(matches!(&err, UserError::NotFound(_)), "{err:?}");
        assert_eq!(user_id("rob").unwrap().as_str(), "rob");
    }
}
