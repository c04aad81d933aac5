//! Local bearer tokens: HS256 JWTs with the claims API.md names, minted by `attest token` and
//! verified by `attest serve`.

use attest_domain::identity::{Identity, Role};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

pub use chrono::Duration;

pub const ISSUER: &str = "attest-local";
pub const AUDIENCE: &str = "attest";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    tenant: String,
    roles: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    iss: String,
    aud: String,
    iat: i64,
    exp: i64,
}

pub struct TokenRequest<'a> {
    pub tenant: &'a str,
    pub user: &'a str,
    pub roles: &'a [Role],
    pub name: Option<&'a str>,
    pub email: Option<&'a str>,
    pub ttl: chrono::Duration,
}

pub fn mint(secret: &[u8], req: &TokenRequest<'_>) -> Result<String, jsonwebtoken::errors::Error> {
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        sub: req.user.to_owned(),
        tenant: req.tenant.to_owned(),
        roles: req.roles.iter().map(|r| r.as_str().to_owned()).collect(),
        name: req.name.map(str::to_owned),
        email: req.email.map(str::to_owned),
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        iat: now,
        exp: now + req.ttl.num_seconds(),
    };
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
}

/// Verifies signature, issuer, audience and expiry, then reads the identity from the claims
/// exactly as the Lambda functions read the authorizer's.
pub fn verify(secret: &[u8], token: &str) -> Result<Identity, attest_api::ApiError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let data = decode::<serde_json::Map<String, serde_json::Value>>(
        token,
        &DecodingKey::from_secret(secret),
        &validation,
    )
    .map_err(|e| {
        attest_api::ApiError::Unauthorized(format!("the bearer token is not valid: {e}"))
    })?;
    attest_api::claims::identity_from_claims(&data.claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(ttl: i64) -> TokenRequest<'static> {
        TokenRequest {
            tenant: "acme",
            user: "alice",
            roles: &[Role::Assessor, Role::Reader],
            name: Some("Alice"),
            email: None,
            ttl: chrono::Duration::seconds(ttl),
        }
    }

    #[test]
    fn minted_tokens_verify_into_the_identity() {
        let token = mint(b"secret", &request(3600)).unwrap();
        let id = verify(b"secret", &token).unwrap();
        assert_eq!(id.tenant.as_str(), "acme");
        assert_eq!(id.user.as_str(), "alice");
        assert_eq!(id.roles, [Role::Reader, Role::Assessor].into());
        assert_eq!(id.name.as_deref(), Some("Alice"));
    }

    #[test]
    fn wrong_secret_expired_or_garbled_tokens_are_refused() {
        let token = mint(b"secret", &request(3600)).unwrap();
        assert!(verify(b"other", &token).is_err());
        let expired = mint(b"secret", &request(-3600)).unwrap();
        assert!(verify(b"secret", &expired).is_err());
        assert!(verify(b"secret", "not.a.token").is_err());
        let mut tampered = token.clone();
        tampered.insert(tampered.len() / 2, 'x');
        assert!(verify(b"secret", &tampered).is_err());
    }
}
