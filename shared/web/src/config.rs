//! How the app signs people in, and which other origins it may talk to: `attest serve` uses
//! local tokens ([`Config::local`]); in AWS the `web` function reads Cognito's hosted UI and the
//! evidence bucket from its environment ([`Config::from_env`]).

use serde::Serialize;

/// Environment variables [`Config::from_env`] reads.
pub const ENV_COGNITO_DOMAIN: &str = "COGNITO_DOMAIN";
pub const ENV_COGNITO_CLIENT_ID: &str = "COGNITO_CLIENT_ID";
pub const ENV_REDIRECT_URI: &str = "WEB_REDIRECT_URI";
pub const ENV_EVIDENCE_ORIGIN: &str = "EVIDENCE_BUCKET_ORIGIN";

/// What the web app is told at `GET /config.json`, and what the Content-Security-Policy lets
/// it connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub sign_in: SignIn,
    /// Origins besides the app's own that the app fetches from: where presigned evidence URLs
    /// point (the S3 bucket). Cognito's domain is added by itself.
    pub evidence_origins: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    /// A token in the address's fragment (`/#token=...`), as `attest serve` and
    /// `attest token --link` print it.
    Local,
    /// Cognito's hosted UI, authorization code flow with PKCE.
    Cognito(Cognito),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cognito {
    /// The hosted UI's host, e.g. `attest-1a2b3c4d.auth.eu-west-1.amazoncognito.com`.
    pub domain: String,
    /// The user pool app client (public: no secret).
    pub client_id: String,
    /// Where Cognito sends the browser back; `None`: the app's own origin followed by `/`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// `attest serve`: local tokens, evidence served by the server itself.
    pub fn local() -> Config {
        Config {
            sign_in: SignIn::Local,
            evidence_origins: Vec::new(),
        }
    }

    /// From the process environment (see [`Config::from_lookup`]).
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    /// `COGNITO_DOMAIN` and `COGNITO_CLIENT_ID` (both or neither: neither is local sign-in),
    /// `WEB_REDIRECT_URI` (optional), `EVIDENCE_BUCKET_ORIGIN` (optional; several origins
    /// separated by spaces). Every value is checked, since they end up in a response header.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let sign_in = match (get(ENV_COGNITO_DOMAIN), get(ENV_COGNITO_CLIENT_ID)) {
            (None, None) => SignIn::Local,
            (Some(domain), Some(client_id)) => {
                let domain = domain.trim().to_ascii_lowercase();
                let client_id = client_id.trim().to_owned();
                if !is_host(&domain) {
                    return Err(invalid(ENV_COGNITO_DOMAIN, &domain, "a host name"));
                }
                if client_id.is_empty() || !client_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(invalid(
                        ENV_COGNITO_CLIENT_ID,
                        &client_id,
                        "letters and digits",
                    ));
                }
                let redirect_uri = match get(ENV_REDIRECT_URI) {
                    Some(uri) if is_redirect_uri(uri.trim()) => Some(uri.trim().to_owned()),
                    Some(uri) => {
                        return Err(invalid(
                            ENV_REDIRECT_URI,
                            &uri,
                            "an https:// URL (http:// only to localhost)",
                        ))
                    }
                    None => None,
                };
                SignIn::Cognito(Cognito {
                    domain,
                    client_id,
                    redirect_uri,
                })
            }
            _ => {
                return Err(ConfigError(format!(
                    "set both {ENV_COGNITO_DOMAIN} and {ENV_COGNITO_CLIENT_ID}, or neither"
                )))
            }
        };
        let mut evidence_origins: Vec<String> = Vec::new();
        for o in get(ENV_EVIDENCE_ORIGIN)
            .unwrap_or_default()
            .split_ascii_whitespace()
        {
            let o = o.trim_end_matches('/').to_ascii_lowercase();
            if !is_https_origin(&o) {
                return Err(invalid(ENV_EVIDENCE_ORIGIN, &o, "https:// origins"));
            }
            if !evidence_origins.contains(&o) {
                evidence_origins.push(o);
            }
        }
        Ok(Config {
            sign_in,
            evidence_origins,
        })
    }

    /// The `Content-Security-Policy` of every answer: the app's own scripts and styles only,
    /// no inline code, no frames, and connections to the API (same origin), the evidence
    /// bucket and Cognito's token endpoint.
    pub fn content_security_policy(&self) -> String {
        let mut connect = vec!["'self'".to_owned()];
        connect.extend(self.evidence_origins.iter().cloned());
        if let SignIn::Cognito(c) = &self.sign_in {
            connect.push(format!("https://{}", c.domain));
        }
        format!(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src {}; form-action 'self'; base-uri 'none'; frame-ancestors 'none'; \
             require-trusted-types-for 'script'; trusted-types 'none'",
            connect.join(" ")
        )
    }

    /// The body of `GET /config.json`.
    pub fn client_json(&self) -> serde_json::Value {
        match &self.sign_in {
            SignIn::Local => serde_json::json!({"sign_in": "local"}),
            SignIn::Cognito(c) => serde_json::json!({"sign_in": "cognito", "cognito": c}),
        }
    }
}

fn invalid(var: &str, value: &str, expected: &str) -> ConfigError {
    ConfigError(format!("{var}={value:?} is not valid: expected {expected}"))
}

fn is_host(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// `https://host` or `https://host:port`, lower case, nothing after.
fn is_https_origin(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("https://") else {
        return false;
    };
    let (host, port) = rest.split_once(':').unwrap_or((rest, "443"));
    is_host(host) && !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
}

fn is_redirect_uri(s: &str) -> bool {
    let safe = s
        .bytes()
        .all(|b| b.is_ascii_graphic() && !b"\"'<>\\`".contains(&b));
    let scheme_ok = s.starts_with("https://")
        || s.starts_with("http://localhost:")
        || s.starts_with("http://localhost/");
    safe && scheme_ok && s.len() <= 1024
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn no_cognito_variables_means_local_sign_in() {
        assert_eq!(config(&[]).unwrap(), Config::local());
        assert_eq!(
            Config::local().client_json(),
            serde_json::json!({"sign_in": "local"})
        );
    }

    #[test]
    fn cognito_from_the_environment() {
        let c = config(&[
            (
                "COGNITO_DOMAIN",
                "attest-1a2b.auth.eu-west-1.amazoncognito.com",
            ),
            ("COGNITO_CLIENT_ID", "4abc123def"),
            ("WEB_REDIRECT_URI", "https://app.example.com/"),
            (
                "EVIDENCE_BUCKET_ORIGIN",
                "https://attest-evidence-x.s3.eu-west-1.amazonaws.com \
                 https://ATTEST-evidence-x.s3.eu-west-1.amazonaws.com/",
            ),
        ])
        .unwrap();
        assert_eq!(
            c.client_json(),
            serde_json::json!({"sign_in": "cognito", "cognito": {
                "domain": "attest-1a2b.auth.eu-west-1.amazoncognito.com",
                "client_id": "4abc123def",
                "redirect_uri": "https://app.example.com/"}})
        );
        let csp = c.content_security_policy();
        assert!(csp.contains(
            "connect-src 'self' https://attest-evidence-x.s3.eu-west-1.amazonaws.com \
             https://attest-1a2b.auth.eu-west-1.amazoncognito.com;"
        ));
    }

    #[test]
    fn values_that_could_bend_the_header_are_refused() {
        for vars in [
            vec![("COGNITO_DOMAIN", "a.example.com; script-src *")],
            vec![
                ("COGNITO_DOMAIN", "a.example.com; script-src *"),
                ("COGNITO_CLIENT_ID", "abc"),
            ],
            vec![
                ("COGNITO_DOMAIN", "a.example.com"),
                ("COGNITO_CLIENT_ID", "abc'"),
            ],
            vec![
                ("COGNITO_DOMAIN", "a.example.com"),
                ("COGNITO_CLIENT_ID", "abc"),
                ("WEB_REDIRECT_URI", "http://evil.example.com/"),
            ],
            vec![("EVIDENCE_BUCKET_ORIGIN", "http://bucket.example.com")],
            vec![("EVIDENCE_BUCKET_ORIGIN", "https://bucket.example.com/path")],
            vec![("EVIDENCE_BUCKET_ORIGIN", "https://*")],
        ] {
            assert!(config(&vars).is_err(), "{vars:?}");
        }
    }

    #[test]
    fn the_policy_allows_nothing_inline_and_no_other_host() {
        let csp = Config::local().content_security_policy();
        assert_eq!(
            csp,
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'; \
             require-trusted-types-for 'script'; trusted-types 'none'"
        );
    }
}
