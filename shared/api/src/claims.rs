//! The caller's identity from token claims (API.md "Identity"), and the extractor routes use.
//!
//! Claims come as full JSON from the local server's own tokens, and as a map of strings from
//! API Gateway's JWT authorizer, which flattens arrays into `"[a b]"`. Both are accepted.

use std::collections::BTreeSet;

use attest_domain::identity::{Identity, Role};
use attest_domain::ids::{TenantId, UserId};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use crate::routes::table::RouteSpec;
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

/// The authenticated caller of a route, as [`authorize`] resolved it (token roles plus the
/// roles assigned in the app). Missing identity is a 401.
#[derive(Clone)]
pub struct Caller(pub Identity);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| unauthenticated(parts))
    }
}

fn unauthenticated(parts: &Parts) -> ApiError {
    parts
        .extensions
        .get::<ApiError>()
        .cloned()
        .unwrap_or_else(|| ApiError::Unauthorized("this route needs a bearer token".into()))
}

/// The permission check of every non-public route, placed by the route table in front of
/// the route's handler: 401 without a verified identity, 403 without the route's permission.
/// The roles assigned in the app are added to the token's. A user is recorded the first time
/// they change something (never on a read, so read-only functions need no write access).
pub async fn authorize(
    State((state, spec)): State<(crate::AppState, &'static RouteSpec)>,
    req: Request,
    next: Next,
) -> Response {
    let Some(permission) = spec.permission else {
        return next.run(req).await;
    };
    let (mut parts, body) = req.into_parts();
    let refused = match resolve(&state, &parts, spec.method != "GET").await {
        Ok(identity) if identity.can(permission) => {
            parts.extensions.insert(Caller(identity));
            return next.run(Request::from_parts(parts, body)).await;
        }
        Ok(_) => ApiError::Forbidden(permission),
        Err(e) => e,
    };
    // Read what the client is sending (at most the route's limit, checked before) so that it
    // receives the refusal: closing a connection with unread data resets it, and the answer
    // is lost on the way.
    let _ = axum::body::to_bytes(body, spec.body_limit).await;
    refused.into_response()
}

async fn resolve(
    state: &crate::AppState,
    parts: &Parts,
    writes: bool,
) -> Result<Identity, ApiError> {
    let identity = parts
        .extensions
        .get::<Identity>()
        .cloned()
        .ok_or_else(|| unauthenticated(parts))?;
    match state
        .store
        .get_user(&identity.tenant, &identity.user)
        .await?
    {
        Some(record) => Ok(identity.with_roles(record.value.roles)),
        None if writes => {
            let record = attest_store::users::UserRecord {
                id: identity.user.clone(),
                name: identity.name.clone(),
                email: identity.email.clone(),
                roles: BTreeSet::new(),
                first_seen: state.now(),
            };
            state.store.record_user(&identity.tenant, &record).await?;
            Ok(identity)
        }
        None => Ok(identity),
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
