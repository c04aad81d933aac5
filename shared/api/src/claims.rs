//! The caller's identity from token claims (API.md "Identity"), and the extractor routes use.
//!
//! Claims come as full JSON from the local server's own tokens, and as a map of strings from
//! API Gateway's JWT authorizer, which flattens arrays into `"[a b]"`. Both are accepted.

use std::collections::BTreeSet;

use attest_domain::identity::{Identity, Permission, Role};
use attest_domain::ids::{TenantId, UserId};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde_json::{Map, Value};

use crate::ApiError;

fn string_claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// A list claim: a JSON array, a JSON array in a string, or API Gateway's `"[a b]"`.
fn list_claim(claims: &Map<String, Value>, name: &str) -> Vec<String> {
    match claims.get(name) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(s)) => {
            if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(s) {
                return items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect();
            }
            s.trim_start_matches('[')
                .trim_end_matches(']')
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect()
        }
        _ => Vec::new(),
    }
}

/// Builds the caller from verified claims. Role names that are not Attest roles (other
/// Cognito groups, say) are ignored.
pub fn identity_from_claims(claims: &Map<String, Value>) -> Result<Identity, ApiError> {
    let sub = string_claim(claims, "sub")
        .ok_or_else(|| ApiError::Unauthorized("the token has no sub claim".into()))?;
    let tenant = string_claim(claims, "tenant")
        .or_else(|| string_claim(claims, "custom:tenant"))
        .ok_or_else(|| ApiError::Unauthorized("the token has no tenant claim".into()))?;
    let tenant =
        TenantId::parse(tenant).map_err(|e| ApiError::Unauthorized(format!("the token's {e}")))?;
    let user =
        UserId::parse(sub).map_err(|e| ApiError::Unauthorized(format!("the token's {e}")))?;
    let mut roles: BTreeSet<Role> = BTreeSet::new();
    for name in ["roles", "cognito:groups"] {
        roles.extend(
            list_claim(claims, name)
                .iter()
                .filter_map(|r| Role::parse(r).ok()),
        );
    }
    Ok(Identity {
        tenant,
        user,
        name: string_claim(claims, "name").map(str::to_owned),
        email: string_claim(claims, "email").map(str::to_owned),
        roles,
    })
}

/// The authenticated caller of a route. Missing identity is a 401.
pub struct Caller(pub Identity);

impl Caller {
    /// 403 unless the caller's roles grant `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.0.can(permission) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(permission))
        }
    }
}

/// The verified caller, with the roles assigned in the app added to the token's. A user is
/// recorded the first time they call, so that they can be listed and given roles.
impl FromRequestParts<crate::AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &crate::AppState,
    ) -> Result<Self, Self::Rejection> {
        let identity = match parts.extensions.get::<Identity>() {
            Some(identity) => identity.clone(),
            None => {
                return Err(parts
                    .extensions
                    .get::<ApiError>()
                    .cloned()
                    .unwrap_or_else(|| {
                        ApiError::Unauthorized("this route needs a bearer token".into())
                    }))
            }
        };
        match state
            .store
            .get_user(&identity.tenant, &identity.user)
            .await?
        {
            Some(record) => Ok(Caller(identity.with_roles(record.value.roles))),
            None => {
                let record = attest_store::users::UserRecord {
                    id: identity.user.clone(),
                    name: identity.name.clone(),
                    email: identity.email.clone(),
                    roles: BTreeSet::new(),
                    first_seen: chrono::Utc::now(),
                };
                state.store.record_user(&identity.tenant, &record).await?;
                Ok(Caller(identity))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn local_tokens_carry_json_claims() {
        let id = identity_from_claims(&claims(json!({
            "sub": "alice", "tenant": "acme", "roles": ["assessor", "reader", "pilot"], "email": "a@acme.test"
        })))
        .unwrap();
        assert_eq!(id.tenant.as_str(), "acme");
        assert_eq!(id.roles, [Role::Reader, Role::Assessor].into());
        assert_eq!(id.email.as_deref(), Some("a@acme.test"));
    }

    #[test]
    fn api_gateway_flattens_cognito_claims_into_strings() {
        let id = identity_from_claims(&claims(json!({
            "sub": "9f1c", "custom:tenant": "globex", "cognito:groups": "[administrator contributor]"
        })))
        .unwrap();
        assert_eq!(id.tenant.as_str(), "globex");
        assert_eq!(id.roles, [Role::Contributor, Role::Administrator].into());
        let id = identity_from_claims(&claims(
            json!({"sub": "x", "tenant": "t", "roles": "[\"reader\"]"}),
        ))
        .unwrap();
        assert_eq!(id.roles, [Role::Reader].into());
    }

    #[test]
    fn missing_or_bad_tenant_is_unauthorized() {
        for c in [
            json!({"sub": "a"}),
            json!({"tenant": "t"}),
            json!({"sub": "a", "tenant": "x#y"}),
        ] {
            let err = identity_from_claims(&claims(c)).unwrap_err();
            assert!(matches!(err, ApiError::Unauthorized(_)), "{err}");
        }
    }
}
