//! The HTTP client every connector uses, and the rules it enforces:
//!
//! - https only; plain http (and https) to a loopback address (127.0.0.0/8, ::1,
//!   `localhost`) only when loopback is allowed (`ATTEST_ALLOW_LOOPBACK_CONNECTORS=1`, or
//!   [`Endpoints::for_tests`]); never to another private, link-local or unspecified address
//!   written as an IP;
//! - a Salesforce `instance_url` must be https on a Salesforce host
//!   ([`SALESFORCE_HOST_SUFFIXES`]), which closes server-side request forgery through a
//!   tenant-supplied URL;
//! - connect timeout [`CONNECT_TIMEOUT`], whole-request timeout [`REQUEST_TIMEOUT`];
//! - redirects followed only on the same scheme, host and port (at most 5);
//! - HTTP 429 waits for its `Retry-After` (seconds or HTTP date) when that is at most
//!   [`MAX_RETRY_AFTER`], at most [`MAX_RATE_LIMITED`] times, then gives up with
//!   `rate_limit`;
//! - 5xx and network errors are retried [`MAX_RETRIES`] times with exponential backoff and
//!   jitter, then give up with `source_unavailable`;
//! - response bodies are bounded ([`MAX_BODY_BYTES`]);
//! - nothing secret is logged: tracing (debug) names the method, host, path, status and
//!   attempt only, and errors never carry a token, a secret or a header.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};

use crate::model::{ConnectorError, RunStats};

/// How long to wait for a TCP/TLS connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one request (connect to last body byte) may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Retries of one request after a 5xx or a network error.
pub const MAX_RETRIES: u32 = 3;
/// Retries of one request after a 429.
pub const MAX_RATE_LIMITED: u32 = 3;
/// The longest `Retry-After` honoured; a longer one gives up at once.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// The largest response body read.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Base delay of the exponential backoff (overridable with [`HttpClient::with_backoff`]).
pub const DEFAULT_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(20);
const MAX_REDIRECTS: usize = 5;

/// Host suffixes of Salesforce org URLs: My Domain (`*.my.salesforce.com`, with its
/// `sandbox.`, `develop.`, `scratch.`, `demo.`, `trailblaze.`, `patch.` variants), legacy
/// instance URLs (`na1.salesforce.com`), `*.force.com` and `*.cloudforce.com` (legacy
/// domains), and Government Cloud Plus – Defense (`*.my.salesforce.mil`).
/// ("My Domain URL Formats", Salesforce Help,
/// <https://help.salesforce.com/s/articleView?id=sf.domain_name_formats.htm>.)
pub const SALESFORCE_HOST_SUFFIXES: [&str; 4] = [
    ".salesforce.com",
    ".force.com",
    ".cloudforce.com",
    ".salesforce.mil",
];

/// Where the connectors' services are, and whether loopback addresses are allowed (only for
/// local runs against the test fakes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    zoom_api: String,
    zoom_oauth: String,
    slack: String,
    allow_loopback: bool,
}

impl Endpoints {
    pub const DEFAULT_ZOOM_API: &'static str = "https://api.zoom.us/v2";
    pub const DEFAULT_ZOOM_OAUTH: &'static str = "https://zoom.us";
    pub const DEFAULT_SLACK: &'static str = "https://slack.com/api";

    /// `ATTEST_ENDPOINT_ZOOM_API` (default `https://api.zoom.us/v2`),
    /// `ATTEST_ENDPOINT_ZOOM_OAUTH` (default `https://zoom.us`),
    /// `ATTEST_ENDPOINT_SLACK` (default `https://slack.com/api`),
    /// `ATTEST_ALLOW_LOOPBACK_CONNECTORS=1` to allow loopback addresses.
    pub fn from_env() -> Self {
        let var = |name: &str, default: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        let allow = std::env::var("ATTEST_ALLOW_LOOPBACK_CONNECTORS")
            .map(|v| v.trim() == "1")
            .unwrap_or(false);
        Self::new(
            &var("ATTEST_ENDPOINT_ZOOM_API", Self::DEFAULT_ZOOM_API),
            &var("ATTEST_ENDPOINT_ZOOM_OAUTH", Self::DEFAULT_ZOOM_OAUTH),
            allow,
        )
        .with_slack(&var("ATTEST_ENDPOINT_SLACK", Self::DEFAULT_SLACK))
    }

    /// Endpoints of the test fakes, loopback allowed.
    pub fn for_tests(zoom_api: &str, zoom_oauth: &str) -> Self {
        Self::new(zoom_api, zoom_oauth, true)
    }

    pub fn new(zoom_api: &str, zoom_oauth: &str, allow_loopback: bool) -> Self {
        Self {
            zoom_api: zoom_api.trim().trim_end_matches('/').to_owned(),
            zoom_oauth: zoom_oauth.trim().trim_end_matches('/').to_owned(),
            slack: Self::DEFAULT_SLACK.to_owned(),
            allow_loopback,
        }
    }

    /// The same endpoints with the Slack Web API base `slack` (e.g. a fake's, for tests:
    /// `Endpoints::for_tests(..).with_slack(&format!("{}/api", fake.url()))`).
    pub fn with_slack(mut self, slack: &str) -> Self {
        self.slack = slack.trim().trim_end_matches('/').to_owned();
        self
    }

    /// The Zoom REST API base, e.g. `https://api.zoom.us/v2` (no trailing slash).
    pub fn zoom_api(&self) -> &str {
        &self.zoom_api
    }

    /// The Zoom OAuth base, e.g. `https://zoom.us` (no trailing slash).
    pub fn zoom_oauth(&self) -> &str {
        &self.zoom_oauth
    }

    /// The Slack Web API base, e.g. `https://slack.com/api` (no trailing slash); a method's
    /// URL is `{base}/{method}`.
    pub fn slack(&self) -> &str {
        &self.slack
    }

    pub fn allow_loopback(&self) -> bool {
        self.allow_loopback
    }

    /// `url` parsed, when the client may send a request there: https to a public host, or
    /// http(s) to a loopback address when loopback is allowed. Category `source_unavailable`
    /// otherwise (the message names the URL's scheme and host, never its query).
    pub fn check_url(&self, url: &str) -> Result<Url, ConnectorError> {
        let parsed = Url::parse(url).map_err(|e| {
            ConnectorError::unavailable(format!("refused to connect: not a valid URL ({e})"))
        })?;
        let refuse = |why: &str| {
            ConnectorError::unavailable(format!(
                "refused to connect to {}://{}: {why}",
                parsed.scheme(),
                parsed.host_str().unwrap_or("")
            ))
        };
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(refuse("URLs with user information are not allowed"));
        }
        let Some(host) = parsed.host_str() else {
            return Err(refuse("the URL has no host"));
        };
        let loopback = is_loopback_host(host);
        match parsed.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => return Err(refuse("only https is allowed")),
            _ => return Err(refuse("only https is allowed")),
        }
        if loopback {
            if !self.allow_loopback {
                return Err(refuse(
                    "loopback addresses are allowed only with ATTEST_ALLOW_LOOPBACK_CONNECTORS=1",
                ));
            }
            return Ok(parsed);
        }
        if let Some(ip) = host_ip(host) {
            if !is_public_ip(ip) {
                return Err(refuse(
                    "private, link-local and reserved addresses are not allowed",
                ));
            }
        }
        Ok(parsed)
    }

    /// A Salesforce `instance_url` credential, reduced to its origin (`https://host[:port]`):
    /// https on a Salesforce host ([`SALESFORCE_HOST_SUFFIXES`]), or a loopback URL when
    /// loopback is allowed. Category `auth`, the message naming `instance_url`, otherwise.
    pub fn check_salesforce_instance(&self, url: &str) -> Result<Url, ConnectorError> {
        let invalid = |why: &str| {
            ConnectorError::auth(format!(
                "instance_url: {why}; expected the https address of your Salesforce org, \
                 e.g. https://yourcompany.my.salesforce.com"
            ))
        };
        let parsed = Url::parse(url.trim()).map_err(|_| invalid("not a valid URL"))?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(invalid("user information is not allowed"));
        }
        if parsed.query().is_some()
            || parsed.fragment().is_some()
            || !matches!(parsed.path(), "" | "/")
        {
            return Err(invalid("it must not have a path or a query"));
        }
        let Some(host) = parsed.host_str() else {
            return Err(invalid("it has no host"));
        };
        let loopback = is_loopback_host(host);
        if loopback && self.allow_loopback && matches!(parsed.scheme(), "http" | "https") {
            return origin(&parsed).ok_or_else(|| invalid("not a valid URL"));
        }
        if parsed.scheme() != "https" {
            return Err(invalid("only https is allowed"));
        }
        if host_ip(host).is_some() {
            return Err(invalid(&format!("{host} is not a Salesforce host")));
        }
        let host_lc = host.to_ascii_lowercase();
        let on_salesforce = SALESFORCE_HOST_SUFFIXES.iter().any(|suffix| {
            host_lc.len() > suffix.len()
                && host_lc.ends_with(suffix)
                && !host_lc[..host_lc.len() - suffix.len()].ends_with('.')
        });
        if !on_salesforce {
            return Err(invalid(&format!("{host} is not a Salesforce host")));
        }
        origin(&parsed).ok_or_else(|| invalid("not a valid URL"))
    }
}

fn origin(url: &Url) -> Option<Url> {
    let mut o = url.clone();
    o.set_path("/");
    o.set_query(None);
    o.set_fragment(None);
    Some(o)
}

/// An IP written as the host (IPv6 in brackets).
fn host_ip(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok()
}

fn is_loopback_host(host: &str) -> bool {
    let h = host.to_ascii_lowercase();
    if h == "localhost" || h.ends_with(".localhost") {
        return true;
    }
    match host_ip(&h) {
        Some(IpAddr::V4(v4)) => v4.is_loopback(),
        Some(IpAddr::V6(v6)) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        None => false,
    }
}

fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1])) // shared address space
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_ip(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80) // link local
        }
    }
}

/// How a request authenticates. `Debug` hides the values.
#[derive(Clone, Default)]
pub enum Auth {
    #[default]
    None,
    Bearer(String),
    Basic {
        user: String,
        password: String,
    },
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Auth::Basic { .. } => f.write_str("Basic(<redacted>)"),
        }
    }
}

/// One request to send. `Debug` hides the credentials and the form values.
#[derive(Clone)]
pub struct HttpRequest {
    pub method: Method,
    pub url: Url,
    pub auth: Auth,
    /// An `application/x-www-form-urlencoded` body.
    pub form: Option<Vec<(String, String)>>,
    /// Counted as a token request in [`RunStats`].
    pub token_request: bool,
}

impl HttpRequest {
    pub fn get(url: Url) -> Self {
        Self {
            method: Method::GET,
            url,
            auth: Auth::None,
            form: None,
            token_request: false,
        }
    }

    pub fn post(url: Url) -> Self {
        Self {
            method: Method::POST,
            ..Self::get(url)
        }
    }

    pub fn bearer(mut self, token: &str) -> Self {
        self.auth = Auth::Bearer(token.to_owned());
        self
    }

    pub fn basic(mut self, user: &str, password: &str) -> Self {
        self.auth = Auth::Basic {
            user: user.to_owned(),
            password: password.to_owned(),
        };
        self
    }

    pub fn form(mut self, fields: Vec<(String, String)>) -> Self {
        self.form = Some(fields);
        self
    }

    /// Marks a request for an access token.
    pub fn token(mut self) -> Self {
        self.token_request = true;
        self
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("host", &self.url.host_str())
            .field("path", &self.url.path())
            .field("auth", &self.auth)
            .field(
                "form",
                &self
                    .form
                    .as_ref()
                    .map(|f| f.iter().map(|(k, _)| k).collect::<Vec<_>>()),
            )
            .finish()
    }
}

/// A response that the client did not retry (anything but 429 and 5xx). `Debug` shows the
/// status and the body's length only (a token response's body is a secret).
#[derive(Clone)]
pub struct HttpResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl HttpResponse {
    /// The body as JSON (category `bad_record` when it is not).
    pub fn json(&self) -> Result<serde_json::Value, ConnectorError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            ConnectorError::bad_record(format!(
                "the response ({}) is not valid JSON: {e}",
                self.status.as_u16()
            ))
        })
    }

    /// The body as JSON, or `Null` when it is not.
    pub fn json_or_null(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// The HTTP client of connector runs: one per process is enough (it pools connections);
/// counters live in the [`RunStats`] each call is given.
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    endpoints: Endpoints,
    backoff: Duration,
}

impl HttpClient {
    pub fn new(endpoints: Endpoints) -> Self {
        let policy = reqwest::redirect::Policy::custom(|attempt| {
            let same_origin = attempt.previous().last().is_some_and(|prev| {
                prev.scheme() == attempt.url().scheme()
                    && prev.host_str() == attempt.url().host_str()
                    && prev.port_or_known_default() == attempt.url().port_or_known_default()
            });
            if same_origin && attempt.previous().len() <= MAX_REDIRECTS {
                attempt.follow()
            } else {
                attempt.stop()
            }
        });
        let inner = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .redirect(policy)
            .https_only(!endpoints.allow_loopback)
            .user_agent(concat!("attest-connectors/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client's TLS backend initialises");
        Self {
            inner,
            endpoints,
            backoff: DEFAULT_BACKOFF,
        }
    }

    /// The base delay of the exponential backoff between retries (tests make it small).
    /// A 429's `Retry-After` is honoured as given regardless.
    pub fn with_backoff(mut self, base: Duration) -> Self {
        self.backoff = base;
        self
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// Sends `request` (its URL checked by [`Endpoints::check_url`]), retrying 429, 5xx and
    /// network errors as the module documents. Any other response is returned as it came,
    /// for the kind to read its service's error format.
    pub async fn send(
        &self,
        stats: &mut RunStats,
        request: &HttpRequest,
    ) -> Result<HttpResponse, ConnectorError> {
        let url = self.endpoints.check_url(request.url.as_str())?;
        let host = url.host_str().unwrap_or("").to_owned();
        let mut failures = 0u32;
        let mut limited = 0u32;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            if request.token_request {
                stats.token_requests += 1;
            } else {
                stats.requests += 1;
            }
            let outcome = self.send_once(&url, request).await;
            let wait = match outcome {
                Ok(response) => {
                    tracing::debug!(
                        method = %request.method,
                        host = %host,
                        path = %url.path(),
                        status = response.status.as_u16(),
                        attempt,
                        "connector request"
                    );
                    if response.status == StatusCode::TOO_MANY_REQUESTS {
                        limited += 1;
                        let asked = retry_after(&response.headers);
                        if let Some(asked) = asked.filter(|a| *a > MAX_RETRY_AFTER) {
                            return Err(ConnectorError::rate_limit(format!(
                                "rate limited by {host} (429); it asks to wait {} s, longer \
                                 than a run waits ({} s)",
                                asked.as_secs(),
                                MAX_RETRY_AFTER.as_secs()
                            )));
                        }
                        if limited > MAX_RATE_LIMITED {
                            return Err(ConnectorError::rate_limit(format!(
                                "rate limited by {host} (429) {limited} times in a row"
                            )));
                        }
                        asked.unwrap_or_else(|| self.backoff_delay(limited - 1))
                    } else if response.status.is_server_error() {
                        failures += 1;
                        if failures > MAX_RETRIES {
                            return Err(ConnectorError::unavailable(format!(
                                "{host} answered {}{} after {failures} attempts",
                                response.status.as_u16(),
                                response
                                    .status
                                    .canonical_reason()
                                    .map(|r| format!(" {r}"))
                                    .unwrap_or_default()
                            )));
                        }
                        retry_after(&response.headers)
                            .filter(|a| *a <= MAX_RETRY_AFTER)
                            .unwrap_or_else(|| self.backoff_delay(failures - 1))
                    } else {
                        return Ok(response);
                    }
                }
                Err(SendError::Fatal(e)) => return Err(e),
                Err(SendError::Network(why)) => {
                    tracing::debug!(
                        method = %request.method,
                        host = %host,
                        path = %url.path(),
                        attempt,
                        error = %why,
                        "connector request failed"
                    );
                    failures += 1;
                    if failures > MAX_RETRIES {
                        return Err(ConnectorError::unavailable(format!(
                            "could not reach {host}: {why} (after {failures} attempts)"
                        )));
                    }
                    self.backoff_delay(failures - 1)
                }
            };
            stats.retries += 1;
            tokio::time::sleep(wait).await;
        }
    }

    async fn send_once(&self, url: &Url, request: &HttpRequest) -> Result<HttpResponse, SendError> {
        let mut builder = self
            .inner
            .request(request.method.clone(), url.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        builder = match &request.auth {
            Auth::None => builder,
            Auth::Bearer(token) => builder.bearer_auth(token),
            Auth::Basic { user, password } => builder.basic_auth(user, Some(password)),
        };
        if let Some(form) = &request.form {
            builder = builder.form(form);
        }
        let mut response = builder.send().await.map_err(network_error)?;
        let status = response.status();
        let headers = response.headers().clone();
        if response
            .content_length()
            .is_some_and(|n| n > MAX_BODY_BYTES as u64)
        {
            return Err(SendError::Fatal(too_large(url)));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(network_error)? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(SendError::Fatal(too_large(url)));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }

    /// base × 2^n, with jitter (between half and all of it), at most 20 s.
    fn backoff_delay(&self, n: u32) -> Duration {
        let full = self
            .backoff
            .saturating_mul(1u32 << n.min(16))
            .min(MAX_BACKOFF);
        full.mul_f64(0.5 + rand::random::<f64>() * 0.5)
    }
}

enum SendError {
    Network(String),
    Fatal(ConnectorError),
}

fn too_large(url: &Url) -> ConnectorError {
    ConnectorError::bad_record(format!(
        "the response from {} is larger than {} MiB",
        url.host_str().unwrap_or(""),
        MAX_BODY_BYTES / (1024 * 1024)
    ))
}

/// A short description of a transport error, without the URL.
fn network_error(e: reqwest::Error) -> SendError {
    let kind = if e.is_timeout() {
        "the request timed out"
    } else if e.is_connect() {
        "the connection failed"
    } else if e.is_body() || e.is_decode() {
        "the response body could not be read"
    } else {
        "the request failed"
    };
    let mut innermost: Option<String> = None;
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        innermost = Some(s.to_string());
        source = s.source();
    }
    SendError::Network(match innermost {
        Some(why) if !why.is_empty() => format!("{kind} ({why})"),
        _ => kind.to_owned(),
    })
}

/// `Retry-After` as a delay: delta-seconds or an HTTP date (RFC 9110 §10.2.3), or an RFC 3339
/// timestamp (what Zoom sends when a daily limit is exhausted).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value)
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(value))
        .ok()?;
    let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn prod() -> Endpoints {
        Endpoints::new(
            Endpoints::DEFAULT_ZOOM_API,
            Endpoints::DEFAULT_ZOOM_OAUTH,
            false,
        )
    }

    fn local() -> Endpoints {
        Endpoints::for_tests("http://127.0.0.1:1/v2", "http://127.0.0.1:1")
    }

    #[test]
    fn https_to_public_hosts_is_allowed() {
        assert!(prod()
            .check_url("https://api.zoom.us/v2/accounts/me/settings")
            .is_ok());
        assert!(prod().check_url("https://93.184.216.34/x").is_ok());
        assert!(local().check_url("https://api.zoom.us/v2").is_ok());
    }

    #[test]
    fn plain_http_is_refused_except_to_loopback_when_allowed() {
        let e = prod().check_url("http://api.zoom.us/v2").unwrap_err();
        assert_eq!(e.category, crate::ErrorCategory::SourceUnavailable);
        assert!(e.message.contains("only https"), "{}", e.message);
        for url in [
            "http://127.0.0.1:8080/v2",
            "http://[::1]:80/",
            "http://localhost:3000",
            "http://127.1.2.3/",
        ] {
            assert!(prod().check_url(url).is_err(), "{url}");
            assert!(local().check_url(url).is_ok(), "{url}");
        }
        assert!(local().check_url("http://10.0.0.1/").is_err());
        assert!(local().check_url("http://example.com/").is_err());
        assert!(local().check_url("ftp://127.0.0.1/").is_err());
    }

    #[test]
    fn private_and_reserved_addresses_are_refused() {
        for url in [
            "https://10.1.2.3/",
            "https://192.168.0.1/",
            "https://172.16.5.4/",
            "https://169.254.169.254/latest/meta-data",
            "https://0.0.0.0/",
            "https://100.64.0.1/",
            "https://[fd00::1]/",
            "https://[fe80::1]/",
            "https://[::ffff:10.0.0.1]/",
            "https://127.0.0.1/",
        ] {
            assert!(prod().check_url(url).is_err(), "{url}");
        }
        assert!(local().check_url("https://169.254.169.254/").is_err());
        assert!(prod().check_url("https://user:pw@api.zoom.us/").is_err());
        assert!(prod().check_url("not a url").is_err());
    }

    #[test]
    fn salesforce_instance_urls_must_be_https_on_a_salesforce_host() {
        for ok in [
            "https://acme.my.salesforce.com",
            "https://acme.my.salesforce.com/",
            "https://acme--uat.sandbox.my.salesforce.com",
            "https://acme-dev-ed.develop.my.salesforce.com",
            "https://na1.salesforce.com",
            "https://acme.my.salesforce.mil",
            "https://ACME.MY.SALESFORCE.COM",
        ] {
            let u = prod().check_salesforce_instance(ok).unwrap();
            assert_eq!(u.path(), "/");
        }
        for bad in [
            "http://acme.my.salesforce.com",
            "https://salesforce.com.evil.example",
            "https://evilsalesforce.com",
            "https://salesforce.com",
            "https://acme..salesforce.com",
            "https://10.0.0.1",
            "https://169.254.169.254",
            "https://acme.my.salesforce.com/services/data",
            "https://acme.my.salesforce.com?x=1",
            "https://u:p@acme.my.salesforce.com",
            "https://127.0.0.1:8443",
            "acme.my.salesforce.com",
        ] {
            let e = prod().check_salesforce_instance(bad).unwrap_err();
            assert_eq!(e.category, crate::ErrorCategory::Auth, "{bad}");
            assert!(
                e.message.starts_with("instance_url: "),
                "{bad}: {}",
                e.message
            );
        }
        // the fakes: loopback, only when allowed
        assert!(local()
            .check_salesforce_instance("http://127.0.0.1:5555")
            .is_ok());
        assert!(local()
            .check_salesforce_instance("http://10.0.0.1:5555")
            .is_err());
        assert!(prod()
            .check_salesforce_instance("http://127.0.0.1:5555")
            .is_err());
    }

    #[test]
    fn endpoints_drop_trailing_slashes() {
        let e = Endpoints::for_tests("http://127.0.0.1:9/v2/", "http://127.0.0.1:9/");
        assert_eq!(e.zoom_api(), "http://127.0.0.1:9/v2");
        assert_eq!(e.zoom_oauth(), "http://127.0.0.1:9");
        assert!(e.allow_loopback());
        assert_eq!(e.slack(), Endpoints::DEFAULT_SLACK);
        let e = e.with_slack("http://127.0.0.1:9/api/");
        assert_eq!(e.slack(), "http://127.0.0.1:9/api");
        assert!(e.allow_loopback());
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let later = chrono::Utc::now() + chrono::Duration::seconds(30);
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_str(&later.format("%a, %d %b %Y %H:%M:%S GMT").to_string()).unwrap(),
        );
        let d = retry_after(&h).unwrap();
        assert!(
            d <= Duration::from_secs(30) && d >= Duration::from_secs(28),
            "{d:?}"
        );
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("2020-05-31T00:00:00Z"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        let later = (chrono::Utc::now() + chrono::Duration::hours(3))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        h.insert(RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        assert!(retry_after(&h).unwrap() > MAX_RETRY_AFTER);
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn backoff_grows_and_is_bounded() {
        let c = HttpClient::new(local()).with_backoff(Duration::from_millis(100));
        let d0 = c.backoff_delay(0);
        assert!(d0 >= Duration::from_millis(50) && d0 <= Duration::from_millis(100));
        let d3 = c.backoff_delay(3);
        assert!(d3 >= Duration::from_millis(400) && d3 <= Duration::from_millis(800));
        assert!(c.backoff_delay(30) <= MAX_BACKOFF);
    }

    #[test]
    fn debug_hides_credentials() {
        let r = HttpRequest::post(Url::parse("https://zoom.us/oauth/token?account_id=a").unwrap())
            .basic("client-id-value", "secret-value")
            .form(vec![("client_secret".into(), "form-secret".into())]);
        let shown = format!("{r:?}");
        assert!(!shown.contains("secret-value"), "{shown}");
        assert!(!shown.contains("form-secret"), "{shown}");
        assert!(!shown.contains("client-id-value"), "{shown}");
        let shown = format!("{:?}", Auth::Bearer("tok-123".into()));
        assert!(!shown.contains("tok-123"));
    }
}
