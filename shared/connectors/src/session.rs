//! Bearer-token sessions: one access token per credentials and run, fetched when first
//! needed, fetched again once when the service says it expired.

use std::fmt;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::Url;

use crate::http::{HttpClient, HttpRequest, HttpResponse};
use crate::model::{ConnectorError, RunStats};

/// An access token. `Debug` hides it.
#[derive(Clone)]
pub struct AccessToken {
    value: String,
    expires_at: Option<Instant>,
    margin: Duration,
    /// Where the service says to send API requests (Salesforce's `instance_url`), checked.
    pub api_base: Option<Url>,
    /// What the token response says about the account (for `validate`'s detail).
    pub account: Option<String>,
}

impl AccessToken {
    /// `expires_in` as the service gave it; the token is treated as expired a little before
    /// (a tenth of its life, at most 30 s).
    pub fn new(value: String, expires_in: Option<Duration>) -> Self {
        let now = Instant::now();
        Self {
            value,
            expires_at: expires_in.map(|d| now + d),
            margin: expires_in
                .map(|d| (d / 10).min(Duration::from_secs(30)))
                .unwrap_or_default(),
            api_base: None,
            account: None,
        }
    }

    pub fn secret(&self) -> &str {
        &self.value
    }

    pub fn is_fresh(&self) -> bool {
        self.expires_at
            .is_none_or(|at| Instant::now() + self.margin < at)
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("api_base", &self.api_base.as_ref().map(|u| u.as_str()))
            .finish()
    }
}

/// How a service answered a request that did not succeed.
#[derive(Debug, Clone, PartialEq)]
pub enum Rejection {
    /// The service says the access token is expired or invalid: fetch one again (once).
    TokenRejected(String),
    Error(ConnectorError),
}

/// A service's token endpoint and error format.
#[async_trait]
pub trait TokenSource: Send + Sync {
    async fn fetch_token(
        &self,
        client: &HttpClient,
        stats: &mut RunStats,
    ) -> Result<AccessToken, ConnectorError>;

    /// Reads a non-2xx API response (`request` names it for messages).
    fn classify(&self, response: &HttpResponse, request: &str) -> Rejection;
}

/// Requests of one run with one set of credentials.
pub struct Session<'a, S> {
    pub client: &'a HttpClient,
    pub source: S,
    pub stats: RunStats,
    token: Option<AccessToken>,
}

impl<'a, S: TokenSource> Session<'a, S> {
    pub fn new(client: &'a HttpClient, source: S) -> Self {
        Self {
            client,
            source,
            stats: RunStats::default(),
            token: None,
        }
    }

    /// The current access token, fetched when there is none or it is about to expire.
    pub async fn token(&mut self) -> Result<&AccessToken, ConnectorError> {
        if !self.token.as_ref().is_some_and(AccessToken::is_fresh) {
            self.token = None;
            let token = self
                .source
                .fetch_token(self.client, &mut self.stats)
                .await?;
            self.token = Some(token);
        }
        Ok(self.token.as_ref().expect("set above"))
    }

    /// `GET url` with the access token; the JSON body of a 2xx response. A rejected token is
    /// fetched again once and the request repeated; a second rejection is `auth`.
    pub async fn get_json(
        &mut self,
        url: &Url,
        request: &str,
    ) -> Result<serde_json::Value, ConnectorError> {
        let mut refreshed = false;
        loop {
            let bearer = self.token().await?.secret().to_owned();
            let response = self
                .client
                .send(
                    &mut self.stats,
                    &HttpRequest::get(url.clone()).bearer(&bearer),
                )
                .await?;
            if response.status.is_success() {
                let json = response.json()?;
                self.stats.pages += 1;
                return Ok(json);
            }
            match self.source.classify(&response, request) {
                Rejection::TokenRejected(why) if !refreshed => {
                    tracing::debug!(request, reason = %why, "access token rejected");
                    tracing::debug!(request, "access token rejected; fetching a new one");
                    refreshed = true;
                    self.token = None;
                }
                Rejection::TokenRejected(why) => {
                    return Err(ConnectorError::auth(format!(
                        "{why}, again with a newly issued access token"
                    )))
                }
                Rejection::Error(e) => return Err(e),
            }
        }
    }
}
