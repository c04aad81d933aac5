//! A fake of Zoom's Server-to-Server OAuth token endpoint and of the REST API v2 routes the Zoom
//! connector reads, on one loopback server.
//!
//! # Routes
//! * `POST /oauth/token` — `token`
//! * `GET /v2/accounts/{me|accountId}/settings[?option=..][&custom_query_fields=..]` — `settings`
//! * `GET /v2/report/activities?from=&to=&page_size=&next_page_token=` — `activities`
//!
//! # Settings groups and the pointer mapping of [`ZoomFake::set`]
//! The fake keeps one JSON value per *settings group*. The first segment of a pointer names the
//! group, the rest points into the group's value:
//!
//! | group (first segment) | how the API returns it |
//! |---|---|
//! | `schedule_meeting`, `in_meeting`, `email_notification`, `zoom_rooms`, `security`, `recording`, `telephony`, `tsp`, `integration`, `feature`, `other_options` | members of the default document (no `option`): `{"schedule_meeting": {...}, ...}` |
//! | `security` (also) | `option=security` → `{"security": {...}}` (the same object as in the default document) |
//! | `meeting_security` | `option=meeting_security` → `{"meeting_security": {...}}` (not in the default document) |
//! | `meeting_authentication` | `option=meeting_authentication` → the group value itself, flat: `{"meeting_authentication": false, "allow_authentication_exception": true, "authentication_options": [...]}` |
//! | `recording_authentication` | `option=recording_authentication` → flat: `{"recording_authentication": true, "authentication_options": [...]}` |
//!
//! So `set("/in_meeting/waiting_room", json!(true))`,
//! `set("/security/password_requirement/minimum_password_length", json!(9))`,
//! `set("/meeting_security/waiting_room", json!(true))` and
//! `set("/meeting_authentication/meeting_authentication", json!(true))`.
//! `set("/<group>", value)` replaces a whole group; `remove("/<group>")` drops it (the default
//! document then lacks it; an option request for it answers `{}`).

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use axum::{
    extract::{Request, State},
    http::Method,
    response::Response,
    Router,
};
use chrono::{DateTime, Months, NaiveDate, SecondsFormat, Utc};
use serde_json::{json, Map, Value};
use tokio::task::JoinHandle;

use crate::common::{
    auth_token, basic_credentials, bind, form_pairs, has_bearer, json_response, param,
    pointer_tokens, random_string, remove_at, set_at, spawn, Recorded, ALNUM, URL_SAFE,
};

/// Groups of the default document, in the order the fake emits them.
const DEFAULT_GROUPS: &[&str] = &[
    "schedule_meeting",
    "in_meeting",
    "email_notification",
    "zoom_rooms",
    "security",
    "recording",
    "telephony",
    "tsp",
    "integration",
    "feature",
    "other_options",
];
/// The documented values of the `option` query parameter.
const OPTIONS: &[&str] = &[
    "meeting_authentication",
    "recording_authentication",
    "security",
    "meeting_security",
];
const DEFAULT_PAGE_SIZE: usize = 30;
const MAX_PAGE_SIZE: usize = 300;
/// "The expiration period for this token is 15 minutes." (next_page_token)
const PAGE_TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);
const SCOPE: &str = "account:read:admin report:read:admin";

struct Token {
    issued: Instant,
    ttl: Duration,
    revoked: bool,
}

struct Activity {
    email: String,
    time: DateTime<Utc>,
    kind: String,
}

struct PageCursor {
    logs: Vec<Value>,
    offset: usize,
    from: NaiveDate,
    to: NaiveDate,
    created: Instant,
}

enum RateLimit {
    PerSecond(u64),
    Daily,
}

struct ZoomState {
    tokens: HashMap<String, Token>,
    token_ttl: u64,
    tokens_issued: usize,
    groups: Map<String, Value>,
    denied: HashSet<String>,
    activities: Vec<Activity>,
    cursors: HashMap<String, PageCursor>,
    rate_limits: VecDeque<RateLimit>,
    faults: VecDeque<u16>,
    requests: Vec<Recorded>,
}

struct Inner {
    state: Mutex<ZoomState>,
    account_id: String,
    client_id: String,
    client_secret: String,
    base: String,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, ZoomState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running fake of Zoom (OAuth host and API host on one loopback port). Dropping it stops the
/// server.
pub struct ZoomFake {
    inner: Arc<Inner>,
    handle: JoinHandle<()>,
}

impl Drop for ZoomFake {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

impl ZoomFake {
    /// Starts the fake on `127.0.0.1:0` with fresh credentials and the default account.
    pub async fn start() -> ZoomFake {
        let (listener, addr) = bind().await;
        let inner = Arc::new(Inner {
            state: Mutex::new(ZoomState {
                tokens: HashMap::new(),
                token_ttl: 3600,
                tokens_issued: 0,
                groups: default_groups(),
                denied: HashSet::new(),
                activities: Vec::new(),
                cursors: HashMap::new(),
                rate_limits: VecDeque::new(),
                faults: VecDeque::new(),
                requests: Vec::new(),
            }),
            account_id: random_string(22, URL_SAFE),
            client_id: random_string(22, ALNUM),
            client_secret: random_string(32, ALNUM),
            base: format!("http://{addr}"),
        });
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let handle = spawn(listener, app);
        ZoomFake { inner, handle }
    }

    /// `http://127.0.0.1:PORT`; the token endpoint is `{oauth_url}/oauth/token`.
    pub fn oauth_url(&self) -> String {
        self.inner.base.clone()
    }

    /// `http://127.0.0.1:PORT/v2`.
    pub fn api_url(&self) -> String {
        format!("{}/v2", self.inner.base)
    }

    /// The account id the valid credentials belong to.
    pub fn account_id(&self) -> &str {
        &self.inner.account_id
    }

    /// The valid client id.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The valid client secret.
    pub fn client_secret(&self) -> &str {
        &self.inner.client_secret
    }

    /// Lifetime (and `expires_in`) of tokens issued from now on. Default 3600.
    pub fn set_token_ttl(&self, secs: u64) {
        self.inner.lock().token_ttl = secs;
    }

    /// Every token issued so far is expired: API calls with them get 401 code 124
    /// "Access token is expired.". Tokens issued later are valid.
    pub fn expire_tokens(&self) {
        for token in self.inner.lock().tokens.values_mut() {
            token.revoked = true;
        }
    }

    /// Number of access tokens issued (successful token requests).
    pub fn tokens_issued(&self) -> usize {
        self.inner.lock().tokens_issued
    }

    /// Sets a settings value by RFC 6901 pointer whose first segment is the group (see the module
    /// documentation). Panics on an unknown group.
    pub fn set(&self, pointer: &str, value: Value) {
        let tokens = pointer_tokens(pointer);
        let mut st = self.inner.lock();
        let group = tokens[0].clone();
        assert!(
            is_group(&group),
            "unknown Zoom settings group {group:?} in {pointer:?}"
        );
        if tokens.len() == 1 {
            st.groups.insert(group, value);
            return;
        }
        let slot = st
            .groups
            .entry(group)
            .or_insert_with(|| Value::Object(Map::new()));
        set_at(slot, &tokens[1..], value, pointer);
    }

    /// Removes a field (a setting the account does not have), or a whole group with `/<group>`.
    pub fn remove(&self, pointer: &str) {
        let tokens = pointer_tokens(pointer);
        let mut st = self.inner.lock();
        if tokens.len() == 1 {
            st.groups.remove(&tokens[0]);
            return;
        }
        if let Some(slot) = st.groups.get_mut(&tokens[0]) {
            remove_at(slot, &tokens[1..]);
        }
    }

    /// The current value at a pointer (same mapping as [`ZoomFake::set`]).
    pub fn get(&self, pointer: &str) -> Option<Value> {
        let tokens = pointer_tokens(pointer);
        let st = self.inner.lock();
        let group = st.groups.get(&tokens[0])?;
        let rest: String = tokens[1..]
            .iter()
            .map(|t| format!("/{}", t.replace('~', "~0").replace('/', "~1")))
            .collect();
        group.pointer(&rest).cloned()
    }

    /// That `option` value (`meeting_authentication`, `recording_authentication`, `security`,
    /// `meeting_security`, or `default` for the request without `option`) answers HTTP 400
    /// `{"code": 200, "message": "No permission."}`; the others still work.
    pub fn deny_option(&self, option: &str) {
        self.inner.lock().denied.insert(option.to_owned());
    }

    /// Adds a sign-in/sign-out record (`kind` is the `type` value: "Sign in" or "Sign out").
    pub fn add_activity(&self, email: &str, time: DateTime<Utc>, kind: &str) {
        self.inner.lock().activities.push(Activity {
            email: email.to_owned(),
            time,
            kind: kind.to_owned(),
        });
    }

    /// The next `n` authenticated API requests (not token requests) answer 429 with
    /// `Retry-After: <retry_after_secs>` and the `X-RateLimit-*` headers (type `QPS`).
    pub fn rate_limit_next(&self, n: usize, retry_after_secs: u64) {
        let mut st = self.inner.lock();
        for _ in 0..n {
            st.rate_limits
                .push_back(RateLimit::PerSecond(retry_after_secs));
        }
    }

    /// The next `n` authenticated API requests answer 429 as for an exhausted daily limit: the
    /// documented `Retry-After` is then a timestamp (`2020-05-31T00:00:00Z`, the next UTC
    /// midnight), not a number of seconds, and `X-RateLimit-Type: Daily-limit`.
    pub fn rate_limit_daily_next(&self, n: usize) {
        let mut st = self.inner.lock();
        for _ in 0..n {
            st.rate_limits.push_back(RateLimit::Daily);
        }
    }

    /// The next `n` API requests (not token requests) answer `status` (meant for 5xx) before any
    /// authentication.
    pub fn fail_next(&self, n: usize, status: u16) {
        let mut st = self.inner.lock();
        for _ in 0..n {
            st.faults.push_back(status);
        }
    }

    /// Every request so far, token requests included.
    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.lock().requests.clone()
    }

    /// Number of requests to `/v2/...` (whatever their outcome).
    pub fn api_requests(&self) -> usize {
        self.inner
            .lock()
            .requests
            .iter()
            .filter(|r| r.path == "/v2" || r.path.starts_with("/v2/") || r.path.starts_with("/v2?"))
            .count()
    }
}

fn is_group(name: &str) -> bool {
    DEFAULT_GROUPS.contains(&name) || OPTIONS.contains(&name)
}

async fn handle(State(inner): State<Arc<Inner>>, req: Request) -> Response {
    let method = req.method().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_else(|| req.uri().path().to_owned());
    let bearer = has_bearer(req.headers());
    let resp = route(&inner, req).await;
    inner.lock().requests.push(Recorded {
        method,
        path,
        status: resp.status().as_u16(),
        bearer,
    });
    resp
}

async fn route(inner: &Inner, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    if path == "/oauth/token" {
        return token(inner, req).await;
    }
    if path == "/v2" || path.starts_with("/v2/") {
        return api(inner, req);
    }
    json_response(404, &json!({"code": 404, "message": "Not Found"}), &[])
}

fn oauth_error(status: u16, reason: &str, error: &str) -> Response {
    json_response(
        status,
        &json!({"reason": reason, "error": error}),
        &[("Cache-Control", "no-store".to_owned())],
    )
}

/// `POST /oauth/token?grant_type=account_credentials&account_id=...` with HTTP Basic
/// `client_id:client_secret`.
///
/// Docs: "Server-to-Server OAuth" (<https://developers.zoom.us/docs/internal-apps/s2s-oauth/>,
/// also <https://developers.zoom.us/docs/rooms/s2s-oauth/>): grant type `account_credentials`,
/// token lifetime one hour (3600 s), no refresh token, several tokens may be used at once.
/// `grant_type`/`account_id` are accepted in the query string (as the doc's example) or in an
/// `application/x-www-form-urlencoded` body. Success:
/// `{"access_token", "token_type": "bearer", "expires_in": 3600, "scope", "api_url"}`.
/// Errors ("OAuth error messages", <https://developers.zoom.us/docs/integrations/oauth-error-messages/>,
/// bodies as Zoom sends them, e.g. `400 {"reason":"Invalid client_id or client_secret","error":"invalid_client"}`
/// and `400 {"reason":"unsupported grant type","error":"unsupported_grant_type"}`):
/// missing Basic credentials → 400 `invalid_request` "Client ID or client secret is missing.";
/// wrong client id/secret → 400 `invalid_client`; missing grant type → 400 `invalid_request`
/// "Missing grant type"; other grant type → 400 `unsupported_grant_type`; missing/wrong
/// `account_id` → 400 `invalid_request` (reason text is the fake's choice: the docs give none).
async fn token(inner: &Inner, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if parts.method != Method::POST {
        return oauth_error(405, "Method Not Allowed", "invalid_request");
    }
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let mut params = form_pairs(parts.uri.query().unwrap_or("").as_bytes());
    params.extend(form_pairs(&bytes));

    let Some((id, secret)) = basic_credentials(&parts.headers) else {
        return oauth_error(
            400,
            "Client ID or client secret is missing.",
            "invalid_request",
        );
    };
    if id != inner.client_id || secret != inner.client_secret {
        return oauth_error(400, "Invalid client_id or client_secret", "invalid_client");
    }
    match param(&params, "grant_type") {
        None | Some("") => return oauth_error(400, "Missing grant type", "invalid_request"),
        Some("account_credentials") => {}
        Some(_) => return oauth_error(400, "unsupported grant type", "unsupported_grant_type"),
    }
    match param(&params, "account_id") {
        None | Some("") => return oauth_error(400, "Missing account_id", "invalid_request"),
        Some(a) if a != inner.account_id => {
            return oauth_error(400, "Invalid account_id", "invalid_request")
        }
        Some(_) => {}
    }

    let mut st = inner.lock();
    let ttl = st.token_ttl;
    let access_token = format!("eyJ{}", random_string(180, URL_SAFE));
    st.tokens.insert(
        access_token.clone(),
        Token {
            issued: Instant::now(),
            ttl: Duration::from_secs(ttl),
            revoked: false,
        },
    );
    st.tokens_issued += 1;
    json_response(
        200,
        &json!({
            "access_token": access_token,
            "token_type": "bearer",
            "expires_in": ttl,
            "scope": SCOPE,
            "api_url": inner.base,
        }),
        &[("Cache-Control", "no-store".to_owned())],
    )
}

/// Zoom API error body `{"code": .., "message": ..}`.
fn api_error(status: u16, code: i64, message: &str) -> Response {
    json_response(status, &json!({"code": code, "message": message}), &[])
}

/// Zoom's validation-failure body (Error Codes page, "Error response when sending invalid fields").
fn validation_error(field: &str) -> Response {
    json_response(
        400,
        &json!({
            "code": 300,
            "message": "Validation Failed.",
            "errors": [{"field": field, "message": "Invalid field."}]
        }),
        &[],
    )
}

/// Rate-limit label and the per-second limit of a Pro account for it (rate limits page).
fn rate_label(path: &str) -> (&'static str, u32) {
    if path.starts_with("/v2/report/") {
        ("Heavy", 10)
    } else if path.ends_with("/settings") {
        ("Medium", 20)
    } else {
        ("Light", 30)
    }
}

/// All `/v2/...` requests: faults, then authentication, then rate limits, then the route.
///
/// Authentication errors follow Zoom's REST errors ("Error Codes",
/// <https://developers.zoom.us/docs/api/errors/>): HTTP 401 with `{"code": 124, "message":
/// "Invalid access token."}` for a missing or unknown token and `{"code": 124, "message":
/// "Access token is expired."}` for an expired one.
///
/// Rate limits ("Rate limits", <https://developers.zoom.us/docs/api/rate-limits/>): HTTP 429,
/// body `{"code": 429, "message": "You have reached the maximum per-second rate limit for this
/// API. Try again later."}`, headers `X-RateLimit-Category` (the endpoint's rate limit label),
/// `X-RateLimit-Type` (`QPS` or `Daily-limit`), `X-RateLimit-Limit`, `X-RateLimit-Remaining: 0`,
/// `Retry-After`. Successful responses carry `X-RateLimit-Category/-Limit/-Remaining` too.
fn api(inner: &Inner, req: Request) -> Response {
    let mut st = inner.lock();
    if let Some(status) = st.faults.pop_front() {
        let reason = axum::http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Server Error");
        return api_error(status, i64::from(status), reason);
    }

    let now = Instant::now();
    match auth_token(req.headers(), &["Bearer"]).and_then(|t| st.tokens.get(&t)) {
        None => return api_error(401, 124, "Invalid access token."),
        Some(t) if t.revoked || now.duration_since(t.issued) >= t.ttl => {
            return api_error(401, 124, "Access token is expired.")
        }
        Some(_) => {}
    }

    let path = req.uri().path().to_owned();
    let (category, limit) = rate_label(&path);
    if let Some(rl) = st.rate_limits.pop_front() {
        let (kind, retry_after, message) = match rl {
            RateLimit::PerSecond(secs) => (
                "QPS",
                secs.to_string(),
                "You have reached the maximum per-second rate limit for this API. Try again later."
                    .to_owned(),
            ),
            RateLimit::Daily => {
                let midnight = (Utc::now().date_naive() + chrono::Days::new(1))
                    .and_hms_opt(0, 0, 0)
                    .expect("midnight")
                    .and_utc();
                (
                    "Daily-limit",
                    midnight.to_rfc3339_opts(SecondsFormat::Secs, true),
                    format!(
                        "You have exceeded the daily rate limit of ({limit}) of {category} API requests permitted for this account. You may resume these requests at GMT 00:00:00."
                    ),
                )
            }
        };
        return json_response(
            429,
            &json!({"code": 429, "message": message}),
            &[
                ("X-RateLimit-Category", category.to_owned()),
                ("X-RateLimit-Type", kind.to_owned()),
                ("X-RateLimit-Limit", limit.to_string()),
                ("X-RateLimit-Remaining", "0".to_owned()),
                ("Retry-After", retry_after),
            ],
        );
    }

    let remaining = limit.saturating_sub(1);
    let query = form_pairs(req.uri().query().unwrap_or("").as_bytes());
    let segs: Vec<&str> = path["/v2".len()..]
        .trim_start_matches('/')
        .split('/')
        .collect();
    let mut resp = match (req.method(), segs.as_slice()) {
        (&Method::GET, ["accounts", id, "settings"]) => settings(inner, &st, id, &query),
        (&Method::GET, ["report", "activities"]) => activities(&mut st, &query),
        (_, ["accounts", _, "settings"]) | (_, ["report", "activities"]) => {
            api_error(405, 405, "Method Not Allowed")
        }
        _ => api_error(404, 404, "Not Found"),
    };
    for (name, value) in [
        ("X-RateLimit-Category", category.to_owned()),
        ("X-RateLimit-Limit", limit.to_string()),
        ("X-RateLimit-Remaining", remaining.to_string()),
    ] {
        if let Ok(v) = axum::http::HeaderValue::from_str(&value) {
            resp.headers_mut().insert(name, v);
        }
    }
    resp
}

/// `GET /v2/accounts/{accountId}/settings` — "Get account settings" (operationId
/// `accountSettings`, Zoom Meeting API, <https://developers.zoom.us/docs/api/accounts/#tag/accounts/GET/accounts/{accountId}/settings>).
///
/// `accountId` is `me` or the token's own account id; any other id → 404 `{"code": 2001,
/// "message": "Account does not exist: {id}."}` (documented 404/2001). `option` is one of the
/// documented enum values (`meeting_authentication`, `recording_authentication`, `security`,
/// `meeting_security`); an empty `option` is the default document (the parameter has
/// `allowEmptyValue`); any other value → 400 validation error on field `option`.
/// `custom_query_fields` (comma-separated field names) keeps only those fields of each group.
/// A denied option ([`ZoomFake::deny_option`]) → 400 `{"code": 200, "message": "No permission."}`
/// (Zoom's error code 200 is the documented error of this endpoint; Zoom sends code-200 errors
/// with HTTP 400).
fn settings(inner: &Inner, st: &ZoomState, id: &str, query: &[(String, String)]) -> Response {
    if id != "me" && id != inner.account_id {
        return api_error(404, 2001, &format!("Account does not exist: {id}."));
    }
    let option = param(query, "option").unwrap_or("");
    let denied_key = if option.is_empty() { "default" } else { option };
    if !option.is_empty() && !OPTIONS.contains(&option) {
        return validation_error("option");
    }
    if st.denied.contains(denied_key) {
        return api_error(400, 200, "No permission.");
    }
    let doc = match option {
        "" => {
            let mut map = Map::new();
            for group in DEFAULT_GROUPS {
                if let Some(v) = st.groups.get(*group) {
                    map.insert((*group).to_owned(), v.clone());
                }
            }
            Value::Object(map)
        }
        "security" | "meeting_security" => match st.groups.get(option) {
            Some(v) => json!({ option: v }),
            None => json!({}),
        },
        _ => st.groups.get(option).cloned().unwrap_or_else(|| json!({})),
    };
    let doc = match param(query, "custom_query_fields") {
        Some(fields) if !fields.trim().is_empty() => {
            let wanted: HashSet<&str> = fields.split(',').map(str::trim).collect();
            filter_fields(doc, &wanted)
        }
        _ => doc,
    };
    json_response(200, &doc, &[])
}

fn filter_fields(doc: Value, wanted: &HashSet<&str>) -> Value {
    let Value::Object(map) = doc else { return doc };
    let mut out = Map::new();
    for (key, value) in map {
        match value {
            Value::Object(group) => {
                let kept: Map<String, Value> = group
                    .into_iter()
                    .filter(|(k, _)| wanted.contains(k.as_str()))
                    .collect();
                if !kept.is_empty() {
                    out.insert(key, Value::Object(kept));
                }
            }
            other => {
                if wanted.contains(key.as_str()) {
                    out.insert(key, other);
                }
            }
        }
    }
    Value::Object(out)
}

/// `GET /v2/report/activities` — "Get sign In / sign out activity report" (operationId
/// `reportSignInSignOutActivities`, <https://developers.zoom.us/docs/api/accounts/#tag/reports/GET/report/activities>).
///
/// Query: `from`, `to` (`yyyy-mm-dd`; "specify a monthly date range ... the API only provides
/// one month worth of data in one request"), `page_size` (default 30, max 300; larger values are
/// capped at 300), `next_page_token` ("The expiration period for this token is 15 minutes").
/// Response: `{"from", "to", "page_size", "next_page_token", "activity_logs": [{"email", "time",
/// "type", "ip_address", "client_type", "version"}]}`; `next_page_token` is `""` on the last
/// page. Records are those whose UTC date lies in `[from, to]`, newest first.
/// Choices where the docs are silent: a missing `to` is today (UTC), a missing `from` equals
/// `to`; a range longer than one month or `from` after `to` → 400 code 300; a bad date or
/// page_size → 400 validation error; an unknown or expired `next_page_token` → 400
/// `{"code": 300, "message": "The next page token is invalid or expired."}` (Zoom's report error).
/// With a valid `next_page_token` the `from`/`to` of the first request apply.
fn activities(st: &mut ZoomState, query: &[(String, String)]) -> Response {
    let page_size = match param(query, "page_size") {
        None | Some("") => DEFAULT_PAGE_SIZE,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n >= 1 => usize::try_from(n)
                .unwrap_or(MAX_PAGE_SIZE)
                .min(MAX_PAGE_SIZE),
            _ => return validation_error("page_size"),
        },
    };

    let now = Instant::now();
    st.cursors
        .retain(|_, c| now.duration_since(c.created) < PAGE_TOKEN_LIFETIME);

    let (logs, offset, from, to) = match param(query, "next_page_token") {
        Some(tok) if !tok.is_empty() => match st.cursors.get(tok) {
            Some(c) => (c.logs.clone(), c.offset, c.from, c.to),
            None => return api_error(400, 300, "The next page token is invalid or expired."),
        },
        _ => {
            // Err(()) = present but not a yyyy-mm-dd date.
            let parse = |name: &str| -> Result<Option<NaiveDate>, ()> {
                match param(query, name) {
                    None | Some("") => Ok(None),
                    Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                        .map(Some)
                        .map_err(|_| ()),
                }
            };
            let to = match parse("to") {
                Ok(v) => v.unwrap_or_else(|| Utc::now().date_naive()),
                Err(()) => return validation_error("to"),
            };
            let from = match parse("from") {
                Ok(v) => v.unwrap_or(to),
                Err(()) => return validation_error("from"),
            };
            if from > to {
                return api_error(
                    400,
                    300,
                    "The from date should be earlier than the to date.",
                );
            }
            if from
                .checked_add_months(Months::new(1))
                .is_some_and(|m| to > m)
            {
                return api_error(400, 300, "The date range should be within one month.");
            }
            let mut selected: Vec<&Activity> = st
                .activities
                .iter()
                .filter(|a| {
                    let d = a.time.date_naive();
                    d >= from && d <= to
                })
                .collect();
            // Newest first; equal times keep insertion order.
            selected.sort_by_key(|a| std::cmp::Reverse(a.time));
            let logs = selected.into_iter().map(activity_json).collect();
            (logs, 0, from, to)
        }
    };

    let end = (offset + page_size).min(logs.len());
    let page: Vec<Value> = logs.get(offset..end).unwrap_or(&[]).to_vec();
    let next_page_token = if end < logs.len() {
        let tok = random_string(35, ALNUM);
        st.cursors.insert(
            tok.clone(),
            PageCursor {
                logs,
                offset: end,
                from,
                to,
                created: now,
            },
        );
        tok
    } else {
        String::new()
    };
    json_response(
        200,
        &json!({
            "from": from.format("%Y-%m-%d").to_string(),
            "to": to.format("%Y-%m-%d").to_string(),
            "page_size": page_size,
            "next_page_token": next_page_token,
            "activity_logs": page,
        }),
        &[],
    )
}

fn activity_json(a: &Activity) -> Value {
    let n = a
        .email
        .bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
        % 250
        + 2;
    json!({
        "email": a.email,
        "time": a.time.to_rfc3339_opts(SecondsFormat::Secs, true),
        "type": a.kind,
        "ip_address": format!("203.0.113.{n}"),
        "client_type": "Browser",
        "version": "-",
    })
}

/// The default account: a paid (Pro) account with a mix of settings, so that some CIS-style
/// checks pass and others fail. Field names and types follow the `AccountSettings`,
/// `AccountSettingsSecurity`, `AccountSettingsAuthentication` and "Meeting or Webinar Security
/// Account Settings" schemas of the Zoom Meeting API.
fn default_groups() -> Map<String, Value> {
    let mut groups = Map::new();
    groups.insert(
        "schedule_meeting".into(),
        json!({
            "audio_type": "both",
            "embed_password_in_join_link": true,
            "enforce_login": false,
            "enforce_login_domains": "",
            "enforce_login_with_domains": false,
            "force_pmi_jbh_password": false,
            "host_video": false,
            "jbh_time": 0,
            "join_before_host": true,
            "meeting_authentication": false,
            "meeting_password_requirement": {
                "consecutive_characters_length": 0,
                "have_letter": false,
                "have_number": true,
                "have_special_character": false,
                "have_upper_and_lower_characters": false,
                "length": 6,
                "only_allow_numeric": false,
                "weak_enhance_detection": false
            },
            "mute_upon_entry": false,
            "not_store_meeting_topic": false,
            "participant_video": false,
            "personal_meeting": true,
            "pstn_password_protected": true,
            "require_password_for_instant_meetings": true,
            "require_password_for_pmi_meetings": "jbh_only",
            "require_password_for_scheduled_meetings": true,
            "require_password_for_scheduling_new_meetings": true,
            "upcoming_meeting_reminder": true,
            "use_pmi_for_instant_meetings": false,
            "use_pmi_for_scheduled_meetings": false,
            "always_display_zoom_meeting_as_topic": {
                "enable": false,
                "display_topic_for_scheduled_meetings": false
            },
            "hide_meeting_description": {
                "enable": false,
                "hide_description_for_scheduled_meetings": false
            }
        }),
    );
    groups.insert(
        "in_meeting".into(),
        json!({
            "alert_guest_join": true,
            "allow_live_streaming": false,
            "allow_participants_chat_with": 1,
            "allow_participants_to_rename": true,
            "allow_show_zoom_windows": false,
            "allow_users_save_chats": 2,
            "annotation": true,
            "anonymous_question_answer": true,
            "attendee_on_hold": true,
            "auto_answer": false,
            "auto_saving_chat": false,
            "breakout_room": true,
            "chat": true,
            "closed_caption": true,
            "co_host": true,
            "custom_data_center_regions": false,
            "custom_live_streaming_service": false,
            "custom_service_instructions": "",
            "data_center_regions": [],
            "dscp_audio": 56,
            "dscp_marking": false,
            "dscp_video": 40,
            "e2e_encryption": true,
            "entry_exit_chime": "host",
            "far_end_camera_control": false,
            "feedback": false,
            "file_transfer": true,
            "group_hd": false,
            "meeting_reactions": true,
            "original_audio": true,
            "p2p_connetion": false,
            "p2p_ports": false,
            "polling": true,
            "ports_range": "",
            "post_meeting_feedback": false,
            "private_chat": true,
            "record_play_own_voice": false,
            "remote_control": true,
            "remote_support": false,
            "request_permission_to_unmute": false,
            "screen_sharing": true,
            "sending_default_email_invites": false,
            "show_a_join_from_your_browser_link": true,
            "show_meeting_control_toolbar": false,
            "stereo_audio": false,
            "use_html_format_email": false,
            "virtual_background": true,
            "waiting_room": false,
            "watermark": false,
            "webinar_question_answer": true,
            "whiteboard": true,
            "who_can_share_screen": "all",
            "who_can_share_screen_when_someone_is_sharing": "host",
            "workplace_by_facebook": false
        }),
    );
    groups.insert(
        "email_notification".into(),
        json!({
            "alternative_host_reminder": true,
            "cancel_meeting_reminder": true,
            "cloud_recording_available_reminder": true,
            "jbh_reminder": true,
            "schedule_for_reminder": true
        }),
    );
    groups.insert(
        "zoom_rooms".into(),
        json!({
            "auto_start_stop_scheduled_meetings": false,
            "cmr_for_instant_meeting": false,
            "force_private_meeting": false,
            "hide_host_information": false,
            "list_meetings_with_calendar": false,
            "start_airplay_manually": false,
            "ultrasonic": false,
            "upcoming_meeting_alert": true,
            "weekly_system_restart": true,
            "zr_post_meeting_feedback": false
        }),
    );
    groups.insert(
        "security".into(),
        json!({
            "admin_change_name_pic": false,
            "admin_change_user_info": false,
            "user_modifiable_info_by_admin": [],
            "signin_with_sso": {
                "enable": false,
                "require_sso_for_domains": false,
                "domains": [],
                "sso_bypass_users": []
            },
            "hide_billing_info": false,
            "import_photos_from_devices": true,
            "password_requirement": {
                "consecutive_characters_length": 0,
                "have_special_character": false,
                "minimum_password_length": 0,
                "weak_enhance_detection": false
            },
            "sign_again_period_for_inactivity_on_client": 0,
            "sign_again_period_for_inactivity_on_web": 120,
            "sign_in_with_two_factor_auth": "none"
        }),
    );
    groups.insert(
        "recording".into(),
        json!({
            "account_user_access_recording": false,
            "archive": {
                "enable": false,
                "settings": {
                    "audio_file": false,
                    "cc_transcript_file": false,
                    "chat_file": false,
                    "chat_with_sender_email": false,
                    "video_file": false
                },
                "type": 1
            },
            "auto_delete_cmr": false,
            "auto_delete_cmr_days": 30,
            "auto_recording": "none",
            "cloud_recording": true,
            "cloud_recording_download": true,
            "cloud_recording_download_host": true,
            "display_participant_name": true,
            "host_delete_cloud_recording": true,
            "ip_address_access_control": {
                "enable": false,
                "ip_addresses_or_ranges": ""
            },
            "local_recording": true,
            "optimize_recording_for_3rd_party_video_editor": false,
            "prevent_host_access_recording": false,
            "record_audio_file": true,
            "record_files_separately": {
                "active_speaker": true,
                "gallery_view": true,
                "shared_screen": true
            },
            "record_gallery_view": true,
            "record_speaker_view": true,
            "recording_audio_transcript": false,
            "recording_authentication": true,
            "recording_disclaimer": true,
            "recording_password_requirement": {
                "have_letter": true,
                "have_number": true,
                "have_special_character": false,
                "length": 8,
                "only_allow_numeric": false
            },
            "recording_thumbnails": true,
            "required_password_for_existing_cloud_recordings": false,
            "required_password_for_shared_cloud_recordings": true,
            "save_chat_text": true,
            "save_close_caption": false,
            "save_panelist_chat": true,
            "save_poll_results": false,
            "show_timestamp": true
        }),
    );
    groups.insert(
        "telephony".into(),
        json!({
            "audio_conference_info": "",
            "show_international_numbers_link": true,
            "telephony_regions": {
                "allowed_values": ["US"],
                "selection_values": "US"
            },
            "third_party_audio": false
        }),
    );
    groups.insert(
        "tsp".into(),
        json!({
            "call_out": false,
            "call_out_countries": [],
            "display_toll_free_numbers": false,
            "show_international_numbers_link": false
        }),
    );
    groups.insert(
        "integration".into(),
        json!({
            "box": false,
            "dropbox": false,
            "google_calendar": false,
            "google_drive": false,
            "kubi": false,
            "microsoft_one_drive": false
        }),
    );
    groups.insert(
        "feature".into(),
        json!({
            "cn_meeting": false,
            "in_meeting": false,
            "large_meeting": false,
            "large_meeting_capacity": 500,
            "meeting_capacity": 100,
            "webinar": false,
            "webinar_capacity": 100,
            "zoom_phone": false
        }),
    );
    groups.insert(
        "other_options".into(),
        json!({
            "allow_auto_active_users": false,
            "allow_users_contact_support_via_chat": true,
            "allow_users_enter_and_share_pronouns": true,
            "blur_snapshot": true,
            "display_meetings_scheduled_for_others": true,
            "meeting_qos_and_mos": 0,
            "show_one_user_meeting_on_dashboard": false,
            "use_cdn": "default"
        }),
    );
    groups.insert(
        "meeting_security".into(),
        json!({
            "auto_security": true,
            "block_user_domain": false,
            "block_user_domain_list": [],
            "chat_etiquette_tool": {
                "enable": false,
                "policies": [],
                "policy_max_count": 14
            },
            "embed_password_in_join_link": true,
            "encryption_type": "enhanced_encryption",
            "end_to_end_encrypted_meetings": false,
            "meeting_password": true,
            "meeting_password_requirement": {
                "consecutive_characters_length": 0,
                "have_letter": false,
                "have_number": true,
                "have_special_character": false,
                "have_upper_and_lower_characters": false,
                "length": 6,
                "only_allow_numeric": false,
                "weak_enhance_detection": false
            },
            "only_authenticated_can_join_from_webclient": false,
            "phone_password": true,
            "pmi_password": false,
            "require_password_for_scheduled_meeting": true,
            "require_password_for_scheduled_webinar": false,
            "waiting_room": false,
            "waiting_room_settings": {
                "participants_to_place_in_waiting_room": 1,
                "users_who_can_admit_participants_from_waiting_room": 0,
                "whitelisted_domains_for_waiting_room": ""
            },
            "webinar_password": false
        }),
    );
    groups.insert(
        "meeting_authentication".into(),
        json!({
            "allow_authentication_exception": true,
            "authentication_options": [
                {
                    "default_option": false,
                    "id": "signIn_D8cJuqWVQ623CI4Q8yQK0Q",
                    "name": "Sign in to Zoom",
                    "type": "enforce_login",
                    "visible": true
                },
                {
                    "default_option": false,
                    "domains": "example.com",
                    "id": "domain_GFkWxz4lQpyZ8S0nTZbn4w",
                    "name": "Sign in to Zoom with specified domains",
                    "type": "enforce_login_with_domains",
                    "visible": true
                }
            ],
            "meeting_authentication": false
        }),
    );
    groups.insert(
        "recording_authentication".into(),
        json!({
            "authentication_options": [
                {
                    "default_option": true,
                    "id": "internal_Xy3VvxO3Rsa1rZqG5Gmx6A",
                    "name": "Sign in to Zoom",
                    "type": "internally",
                    "visible": true
                },
                {
                    "default_option": false,
                    "domains": "example.com",
                    "id": "domain_0c2fQTjfQpejHkD2H4eL7Q",
                    "name": "Sign in to Zoom with specified domains",
                    "type": "enforce_login_with_domains",
                    "visible": true
                }
            ],
            "recording_authentication": true
        }),
    );
    groups
}
