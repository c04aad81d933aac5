//! Local bearer tokens: HS256 JWTs with the claims API.md names, minted by `attest token` and
//! verified by `attest serve`.

use attest_domain::identity::{Identity, Role};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

pub use chrono::Duration;

pub const ISSUER: &str = "attest-local";
pub const AUDIENCE: &str = "attest";

/// Clock skew tolerated when checking `exp` and `nbf`, in seconds: a token is accepted until
/// `exp + LEEWAY_SECS` and from `nbf - LEEWAY_SECS`. docs/security.md states the same number.
pub const LEEWAY_SECS: u64 = 30;

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
    nbf: i64,
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
        nbf: now,
        exp: now + req.ttl.num_seconds(),
    };
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
}

/// Who the sign-in link `attest serve` prints signs in as: the README walkthrough's tenant and
/// administrator, with the `global_admin` role so that every page of the web app is offered
/// (connectors and users' roles included).
pub const LOCAL_ADMIN_TENANT: &str = "acme";
pub const LOCAL_ADMIN_USER: &str = "alice";
pub const LOCAL_ADMIN_ROLES: &[Role] = &[Role::GlobalAdmin];
/// How long that link's token lasts, in hours (as `attest token`'s default).
pub const LINK_HOURS: i64 = 12;

/// The web app's address with `token` in its fragment: the app keeps the token and removes it
/// from the address bar. Fragments are never sent to a server.
pub fn sign_in_link(base_url: &str, token: &str) -> String {
    format!("{}/#token={token}", base_url.trim_end_matches('/'))
}

/// The token in an `Authorization` header value. The scheme is matched case-insensitively
/// (RFC 7235: `bearer`, `Bearer` and `BEARER` are the same scheme); anything other than the
/// scheme, one or more spaces and a single token is refused.
pub fn bearer(value: &str) -> Result<&str, attest_api::ApiError> {
    let refused = || {
        attest_api::ApiError::Unauthorized("use the Authorization: Bearer <token> scheme".into())
    };
    let (scheme, rest) = value.trim().split_once(' ').ok_or_else(refused)?;
    let token = rest.trim_start_matches(' ');
    if !scheme.eq_ignore_ascii_case("bearer")
        || token.is_empty()
        || token.contains(|c: char| c.is_ascii_whitespace())
    {
        return Err(refused());
    }
    Ok(token)
}

/// Verifies the signature (HS256 only), issuer, audience, expiry (`exp`, required) and start
/// (`nbf`, when present), allowing [`LEEWAY_SECS`] of clock skew, then reads the identity from
/// the claims exactly as the Lambda functions read the authorizer's.
pub fn verify(secret: &[u8], token: &str) -> Result<Identity, attest_api::ApiError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.leeway = LEEWAY_SECS;
    let data = decode::<serde_json::Map<String, serde_json::Value>>(
        token,
        &DecodingKey::from_secret(secret),
        &validation,
    )
    .map_err(|e| attest_api::ApiError::Unauthorized(refusal(e.kind())))?;
    attest_api::claims::identity_from_claims(&data.claims)
}

/// Why a token was refused, in words a client can act on.
fn refusal(kind: &ErrorKind) -> String {
    let why = match kind {
        ErrorKind::ExpiredSignature => "it has expired (exp is in the past)".to_owned(),
        ErrorKind::ImmatureSignature => "it is not valid yet (nbf is in the future)".to_owned(),
        ErrorKind::InvalidSignature => "its signature does not match".to_owned(),
        ErrorKind::InvalidAlgorithm => "it is not signed with HS256".to_owned(),
        ErrorKind::InvalidIssuer => format!("it was not issued by {ISSUER}"),
        ErrorKind::InvalidAudience => format!("it is not meant for {AUDIENCE}"),
        ErrorKind::MissingRequiredClaim(claim) => format!("it has no {claim} claim"),
        ErrorKind::InvalidClaimFormat(claim) => format!("its {claim} claim is malformed"),
        _ => "it is not a well-formed JWT".to_owned(),
    };
    format!("the bearer token is not valid: {why}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

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

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    /// A token signed with `secret` carrying exactly `claims`.
    fn signed(secret: &[u8], claims: &Value) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(secret),
        )
        .unwrap()
    }

    fn valid_claims() -> Value {
        json!({
            "sub": "alice", "tenant": "acme", "roles": ["reader"],
            "iss": ISSUER, "aud": AUDIENCE, "iat": now(), "exp": now() + 3600,
        })
    }

    fn with(mut claims: Value, name: &str, value: Value) -> Value {
        claims[name] = value;
        claims
    }

    fn without(mut claims: Value, name: &str) -> Value {
        claims.as_object_mut().unwrap().remove(name);
        claims
    }

    /// The 401 detail for `token`, which must be refused.
    fn refused(token: &str) -> String {
        match verify(b"secret", token) {
            Err(attest_api::ApiError::Unauthorized(detail)) => detail,
            other => panic!("expected 401, got {:?}", other.map(|id| id.user)),
        }
    }

    #[test]
    fn the_sign_in_link_carries_the_token_in_its_fragment() {
        let token = mint(b"secret", &request(3600)).unwrap();
        for base in ["http://127.0.0.1:8080", "http://127.0.0.1:8080/"] {
            let link = sign_in_link(base, &token);
            assert_eq!(link, format!("http://127.0.0.1:8080/#token={token}"));
            let taken = link.split_once("#token=").unwrap().1;
            assert_eq!(verify(b"secret", taken).unwrap().user.as_str(), "alice");
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

    #[test]
    fn a_token_not_valid_yet_is_refused_and_says_why() {
        let early = signed(b"secret", &with(valid_claims(), "nbf", json!(now() + 3600)));
        let detail = refused(&early);
        assert!(detail.contains("not valid yet"), "{detail}");
        assert!(detail.contains("nbf"), "{detail}");
        // Just past the leeway is still too early.
        let leeway = LEEWAY_SECS as i64;
        let early = signed(
            b"secret",
            &with(valid_claims(), "nbf", json!(now() + leeway + 5)),
        );
        assert!(refused(&early).contains("nbf"));
    }

    #[test]
    fn exp_and_nbf_allow_the_stated_leeway_and_no_more() {
        let leeway = LEEWAY_SECS as i64;
        assert!((1..=60).contains(&leeway), "a small, explicit leeway");
        let skewed = with(valid_claims(), "nbf", json!(now() + leeway - 5));
        assert!(verify(b"secret", &signed(b"secret", &skewed)).is_ok());
        let just_expired = with(valid_claims(), "exp", json!(now() - leeway + 5));
        assert!(verify(b"secret", &signed(b"secret", &just_expired)).is_ok());
        let expired = with(valid_claims(), "exp", json!(now() - leeway - 5));
        let detail = refused(&signed(b"secret", &expired));
        assert!(detail.contains("expired"), "{detail}");
        let past_nbf = with(valid_claims(), "nbf", json!(now() - 3600));
        assert!(verify(b"secret", &signed(b"secret", &past_nbf)).is_ok());
    }

    #[test]
    fn minted_tokens_carry_nbf() {
        let token = mint(b"secret", &request(60)).unwrap();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        let data =
            decode::<Value>(&token, &DecodingKey::from_secret(b"secret"), &validation).unwrap();
        assert_eq!(data.claims["nbf"], data.claims["iat"]);
    }

    #[test]
    fn forged_tokens_are_refused() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        // alg none, with and without a signature part.
        let header = json!({"alg": "none", "typ": "JWT"});
        let unsigned = format!("{}.{}", b64(&header), b64(&valid_claims()));
        refused(&format!("{unsigned}."));
        refused(&unsigned);
        // Another HMAC algorithm with the right secret is still not HS256.
        let hs512 = encode(
            &Header::new(Algorithm::HS512),
            &valid_claims(),
            &EncodingKey::from_secret(b"secret"),
        )
        .unwrap();
        refused(&hs512);
        // Wrong secret.
        let detail = refused(&signed(b"other", &valid_claims()));
        assert!(detail.contains("signature"), "{detail}");
        // Wrong issuer or audience.
        refused(&signed(
            b"secret",
            &with(valid_claims(), "iss", json!("someone")),
        ));
        refused(&signed(
            b"secret",
            &with(valid_claims(), "aud", json!("other")),
        ));
        // Missing claims.
        for claim in ["exp", "iss", "aud", "sub", "tenant"] {
            let detail = refused(&signed(b"secret", &without(valid_claims(), claim)));
            assert!(detail.contains(claim), "{claim}: {detail}");
        }
        // Malformed nbf.
        refused(&signed(
            b"secret",
            &with(valid_claims(), "nbf", json!("soon")),
        ));
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for value in [
            "Bearer xyz",
            "bearer xyz",
            "BEARER xyz",
            "bEaReR xyz",
            "Bearer   xyz",
        ] {
            assert_eq!(bearer(value).unwrap(), "xyz", "{value}");
        }
    }

    #[test]
    fn other_schemes_missing_tokens_and_extra_parts_are_refused() {
        for value in [
            "Basic dXNlcjpwYXNz",
            "Bearer",
            "Bearer ",
            "bearer    ",
            "xyz",
            "Bearer xyz extra",
            "Bearer xyz\tmore",
            "Bearerxyz",
            "Bearer\txyz",
            "Token xyz",
            "",
        ] {
            let err = bearer(value).unwrap_err();
            assert!(
                matches!(err, attest_api::ApiError::Unauthorized(_)),
                "{value:?}: {err}"
            );
        }
    }
}
