//! The `slack` kind: messages of the channels a Slack app's bot is in, read with its bot token.
//!
//! Documentation (Slack Web API, <https://docs.slack.dev/apis/web-api/>):
//! - Calls are `GET https://slack.com/api/{method}` with arguments in the query and the token
//!   as `Authorization: Bearer xoxb-…` (never as a query parameter). Every answer is a JSON
//!   object with `ok`; failures are HTTP 200 with `{"ok": false, "error": "<code>"}`
//!   (`missing_scope` adds `needed` and `provided`), except rate limits.
//! - "Rate limits", <https://docs.slack.dev/apis/web-api/rate-limits>: HTTP 429 with
//!   `Retry-After` (seconds) and `{"ok": false, "error": "ratelimited"}`, per method, app and
//!   workspace. [`HttpClient`] waits and retries; an `ok: false` `ratelimited` in an HTTP 200 is
//!   waited for here the same way.
//! - "Pagination", <https://docs.slack.dev/apis/web-api/pagination>: `cursor` + `limit`; the
//!   next cursor is `response_metadata.next_cursor`, empty on the last page; a page may hold
//!   fewer items than `limit`, even none, and still have a next cursor.
//! - `auth.test` (identity: `team`, `team_id`, `user`, `bot_id`).
//! - `conversations.list` (`types=public_channel,private_channel`; scopes `channels:read`,
//!   `groups:read`): channels with `is_member`, `is_archived`, `is_private`.
//! - `conversations.history` (scopes `channels:history`, `groups:history`): `channel`,
//!   `oldest`/`latest` (seconds with microseconds, as strings), `inclusive`, `limit`, `cursor`;
//!   newest first; parent messages only (thread replies are not returned). A bot reads only
//!   channels it is in: `not_in_channel` (public), `channel_not_found` (private).
//! - `users.list` (scope `users:read`; `profile.email` only with `users:read.email`): includes
//!   deleted users (`deleted: true`) and bots (`is_bot`).
//!
//! Choices:
//! - A public channel the bot is not in is not read (that would spend a rate-limited call to
//!   learn `not_in_channel`); it is reported as a `permission` error of that channel, asking to
//!   invite the app, unless it is archived. The other channels import.
//! - Archived channels the bot is in are read too (messages of the window posted before the
//!   channel was archived).
//! - Without `groups:read`, public channels are still imported and the missing scope is
//!   reported; without `users:read`, messages import with no e-mail and the scope is reported.
//! - A rate limit or an unavailable Slack that outlasts the client's retries stops the run
//!   (further calls would meet the same); the channels left are reported.
//! - Deleted users and users without e-mail have `email: None`; a bot's message
//!   (`bot_id`, e.g. `subtype: bot_message`) has the bot id as `external_user` and no e-mail.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Map, Value};

use crate::data::{deliver, kind_info, DataKind, FetchReport, RawRecord, RecordSink, Window};
use crate::http::{retry_after, HttpClient, HttpRequest, MAX_RATE_LIMITED, MAX_RETRY_AFTER};
use crate::model::{ConnectorError, Credentials, ErrorCategory, FieldSpec, KindInfo, RunStats};
use crate::zoom::truncate;

/// Scopes a run needs; `groups:read` and `groups:history` add private channels.
pub const REQUIRED_SCOPES: [&str; 4] = [
    "channels:read",
    "channels:history",
    "users:read",
    "users:read.email",
];
/// The page size of every paged call ("We recommend no more than 200 results at a time").
pub const PAGE_LIMIT: u32 = 200;
/// Codes that mean the token is not usable at all.
const AUTH_ERRORS: [&str; 8] = [
    "not_authed",
    "invalid_auth",
    "token_revoked",
    "token_expired",
    "account_inactive",
    "not_allowed_token_type",
    "two_factor_setup_required",
    "org_login_required",
];
/// Codes that mean the app may not read this (channel).
const PERMISSION_ERRORS: [&str; 8] = [
    "missing_scope",
    "not_in_channel",
    "channel_not_found",
    "access_denied",
    "no_permission",
    "ekm_access_denied",
    "team_access_not_granted",
    "method_not_supported_for_channel_type",
];
/// Codes of a Slack-side failure.
const UNAVAILABLE_ERRORS: [&str; 4] = [
    "fatal_error",
    "internal_error",
    "service_unavailable",
    "request_timeout",
];

pub struct Slack {
    info: KindInfo,
}

pub(crate) static SLACK: LazyLock<Slack> = LazyLock::new(|| Slack {
    info: kind_info(
        "slack",
        "Slack",
        "slack",
        vec![FieldSpec {
            name: "bot_token",
            secret: true,
            required: true,
            description: "Bot User OAuth Token (xoxb-…) of a Slack app installed in the \
                          workspace (OAuth & Permissions), with the scopes channels:read, \
                          channels:history, users:read and users:read.email (groups:read and \
                          groups:history for private channels); invite the app to the \
                          channels to import",
        }],
    ),
});

/// One failed call: the connector error, and Slack's error code when it gave one.
struct Failure {
    code: Option<String>,
    needed: Option<String>,
    error: ConnectorError,
}

impl From<ConnectorError> for Failure {
    fn from(error: ConnectorError) -> Self {
        Self {
            code: None,
            needed: None,
            error,
        }
    }
}

/// Calls of one run with one bot token.
struct Api<'a> {
    client: &'a HttpClient,
    token: String,
    stats: RunStats,
}

/// A successful answer: its body, and the token's scopes when Slack sent `x-oauth-scopes`.
struct Answer {
    body: Value,
    scopes: Option<Vec<String>>,
}

impl<'a> Api<'a> {
    fn new(client: &'a HttpClient, creds: &Credentials) -> Result<Self, ConnectorError> {
        let token = creds.require("bot_token")?.trim().to_owned();
        if !token.starts_with("xoxb-") {
            return Err(ConnectorError::auth(
                "bot_token: not a bot token; expected the Bot User OAuth Token, which starts \
                 with xoxb-",
            ));
        }
        Ok(Self {
            client,
            token,
            stats: RunStats::default(),
        })
    }

    /// `GET {base}/{method}?{args}`; the body of an `ok: true` answer.
    async fn call(&mut self, method: &str, args: &[(&str, &str)]) -> Result<Answer, Failure> {
        let endpoints = self.client.endpoints();
        let mut url = endpoints.check_url(&format!("{}/{method}", endpoints.slack()))?;
        if !args.is_empty() {
            let mut query = url.query_pairs_mut();
            for (k, v) in args {
                query.append_pair(k, v);
            }
        }
        let request = HttpRequest::get(url).bearer(&self.token);
        let mut limited = 0u32;
        loop {
            let response = self.client.send(&mut self.stats, &request).await?;
            let body = response.json_or_null();
            let ok = body.get("ok").and_then(Value::as_bool);
            if response.status.is_success() && ok == Some(true) {
                self.stats.pages += 1;
                return Ok(Answer {
                    scopes: scopes(&response.headers),
                    body,
                });
            }
            let code = body.get("error").and_then(Value::as_str).map(str::to_owned);
            if code.as_deref() == Some("ratelimited") && limited < MAX_RATE_LIMITED {
                // an HTTP 429 is waited for by the client; this is the same code in a 200
                let wait = retry_after(&response.headers).unwrap_or(Duration::from_secs(1));
                if wait <= MAX_RETRY_AFTER {
                    limited += 1;
                    self.stats.retries += 1;
                    tokio::time::sleep(wait).await;
                    continue;
                }
            }
            let needed = body
                .get("needed")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let error = match &code {
                Some(code) => classify(method, code, &body),
                None if response.status.is_success() => ConnectorError::bad_record(format!(
                    "Slack answered {method} with something other than a Web API response \
                     (HTTP {}); check ATTEST_ENDPOINT_SLACK",
                    response.status.as_u16()
                )),
                None => status_error(method, response.status),
            };
            return Err(Failure {
                code,
                needed,
                error,
            });
        }
    }
}

/// The scopes of `x-oauth-scopes` (comma-separated), when Slack sent the header.
fn scopes(headers: &HeaderMap) -> Option<Vec<String>> {
    let raw = headers.get("x-oauth-scopes")?.to_str().ok()?;
    Some(
        raw.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    )
}

/// The required scopes missing from `granted`.
fn missing_scopes(granted: &[String]) -> Vec<&'static str> {
    REQUIRED_SCOPES
        .into_iter()
        .filter(|s| !granted.iter().any(|g| g == s))
        .collect()
}

/// A non-2xx answer without a Slack error code.
fn status_error(method: &str, status: StatusCode) -> ConnectorError {
    let said = format!(
        "Slack answered {method} with HTTP {}{}",
        status.as_u16(),
        status
            .canonical_reason()
            .map(|r| format!(" {r}"))
            .unwrap_or_default()
    );
    match status.as_u16() {
        401 => ConnectorError::auth(format!("{said}; check bot_token")),
        403 => ConnectorError::permission(said),
        404 => ConnectorError::unavailable(format!(
            "{said}; check that ATTEST_ENDPOINT_SLACK is the Web API base (https://slack.com/api)"
        )),
        _ => ConnectorError::bad_record(said),
    }
}

/// Slack's error code as a connector error (the message names the method and the code, and
/// what to do; never the token).
fn classify(method: &str, code: &str, body: &Value) -> ConnectorError {
    let code_text = truncate(code, 80);
    if AUTH_ERRORS.contains(&code) {
        let hint = match code {
            "token_revoked" | "account_inactive" => {
                "the app was uninstalled or its token revoked; reinstall it and store the new \
                 bot_token"
            }
            "token_expired" => {
                "the token expired (token rotation is on); store a bot_token of an app without \
                 token rotation"
            }
            _ => "check bot_token",
        };
        return ConnectorError::auth(format!(
            "Slack refused the bot token ({method}: {code_text}); {hint}"
        ));
    }
    if code == "missing_scope" {
        let needed = body.get("needed").and_then(Value::as_str).unwrap_or("");
        let provided = body.get("provided").and_then(Value::as_str).unwrap_or("");
        return ConnectorError::permission(format!(
            "the Slack app lacks the scope {} needed by {method} (it has: {}); add it under \
             OAuth & Permissions and reinstall the app",
            truncate(needed, 200),
            if provided.is_empty() {
                "none".to_owned()
            } else {
                truncate(provided, 400)
            }
        ));
    }
    if PERMISSION_ERRORS.contains(&code) {
        let hint = match code {
            "not_in_channel" => "; invite the app to the channel to import it",
            "channel_not_found" => {
                "; the channel was deleted, or it is private and the app is not in it"
            }
            _ => "",
        };
        return ConnectorError::permission(format!("Slack refused {method}: {code_text}{hint}"));
    }
    if code == "ratelimited" {
        return ConnectorError::rate_limit(format!(
            "rate limited by Slack ({method}: ratelimited), longer than a run waits"
        ));
    }
    if UNAVAILABLE_ERRORS.contains(&code) {
        return ConnectorError::unavailable(format!(
            "Slack could not answer {method}: {code_text}"
        ));
    }
    ConnectorError::bad_record(format!("Slack answered {method} with {code_text}"))
}

/// A channel as `conversations.list` gave it.
struct Channel {
    id: String,
    name: String,
    private: bool,
    member: bool,
    archived: bool,
}

impl Channel {
    fn label(&self) -> String {
        format!("#{} ({})", self.name, self.id)
    }
}

/// What the run knows of a user: their e-mail when Slack gave one (not for deleted users and
/// bots).
type Users = HashMap<String, Option<String>>;

/// `conversations.list` to the end. Without `groups:read`, public channels only (the missing
/// scope goes in `errors`).
async fn list_channels(
    api: &mut Api<'_>,
    errors: &mut Vec<ConnectorError>,
) -> Result<Vec<Channel>, ConnectorError> {
    let limit = PAGE_LIMIT.to_string();
    let mut types = "public_channel,private_channel";
    let mut channels = Vec::new();
    let mut cursor = String::new();
    loop {
        let mut args = vec![
            ("types", types),
            ("exclude_archived", "false"),
            ("limit", limit.as_str()),
        ];
        if !cursor.is_empty() {
            args.push(("cursor", cursor.as_str()));
        }
        let answer = match api.call("conversations.list", &args).await {
            Ok(a) => a,
            Err(f)
                if f.code.as_deref() == Some("missing_scope")
                    && f.needed.as_deref() == Some("groups:read")
                    && cursor.is_empty()
                    && types != "public_channel" =>
            {
                errors.push(ConnectorError::permission(format!(
                    "private channels are not imported: {}",
                    f.error.message
                )));
                types = "public_channel";
                continue;
            }
            Err(f) => return Err(f.error),
        };
        for c in answer
            .body
            .get("channels")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(id) = c.get("id").and_then(Value::as_str) else {
                continue;
            };
            let flag = |name: &str| c.get(name).and_then(Value::as_bool);
            channels.push(Channel {
                id: id.to_owned(),
                name: c
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or(id)
                    .to_owned(),
                private: flag("is_private").unwrap_or(false),
                // a channel listed without is_member is tried (Slack then says)
                member: flag("is_member").unwrap_or(true),
                archived: flag("is_archived").unwrap_or(false),
            });
        }
        match next_cursor(&answer.body, &cursor, "conversations.list")? {
            Some(next) => cursor = next,
            None => return Ok(channels),
        }
    }
}

/// `response_metadata.next_cursor`: `None` at the end; an error when Slack repeats the
/// cursor just used (the run would loop).
fn next_cursor(
    body: &Value,
    previous: &str,
    method: &str,
) -> Result<Option<String>, ConnectorError> {
    let next = body
        .pointer("/response_metadata/next_cursor")
        .and_then(Value::as_str)
        .unwrap_or("");
    if next.is_empty() {
        Ok(None)
    } else if next == previous {
        Err(ConnectorError::bad_record(format!(
            "Slack answered {method} with the same cursor again; stopped paging"
        )))
    } else {
        Ok(Some(next.to_owned()))
    }
}

/// `users.list` to the end into `users`; when Slack names the token's scopes and
/// `users:read.email` is not among them, says so in `errors` (ids still import).
async fn list_users(
    api: &mut Api<'_>,
    users: &mut Users,
    errors: &mut Vec<ConnectorError>,
) -> Result<(), ConnectorError> {
    let limit = PAGE_LIMIT.to_string();
    let mut cursor = String::new();
    let mut checked_scope = false;
    loop {
        let mut args = vec![("limit", limit.as_str())];
        if !cursor.is_empty() {
            args.push(("cursor", cursor.as_str()));
        }
        let answer = api.call("users.list", &args).await.map_err(|f| f.error)?;
        if !checked_scope {
            checked_scope = true;
            if let Some(granted) = &answer.scopes {
                if !granted.iter().any(|s| s == "users:read.email") {
                    errors.push(ConnectorError::permission(
                        "e-mails of message authors are not known: the Slack app lacks the \
                         scope users:read.email; add it under OAuth & Permissions and \
                         reinstall the app",
                    ));
                }
            }
        }
        for m in answer
            .body
            .get("members")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(id) = m.get("id").and_then(Value::as_str) else {
                continue;
            };
            let deleted = m.get("deleted").and_then(Value::as_bool).unwrap_or(false);
            let bot = m.get("is_bot").and_then(Value::as_bool).unwrap_or(false);
            let email = m
                .pointer("/profile/email")
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|e| !e.is_empty() && !deleted && !bot)
                .map(str::to_lowercase);
            users.insert(id.to_owned(), email);
        }
        match next_cursor(&answer.body, &cursor, "users.list")? {
            Some(next) => cursor = next,
            None => return Ok(()),
        }
    }
}

/// A `ts` (`"1700000000.000100"`) as a time, to the microsecond.
pub fn parse_ts(ts: &str) -> Option<DateTime<Utc>> {
    let (secs, frac) = ts.trim().split_once('.').unwrap_or((ts.trim(), ""));
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = secs.parse().ok()?;
    let mut micros: String = frac.chars().take(6).collect();
    while micros.len() < 6 {
        micros.push('0');
    }
    let micros: u32 = micros.parse().ok()?;
    DateTime::from_timestamp(secs, micros * 1000)
}

/// A time as a `ts` argument: seconds with six decimals, rounded down (`up`: up) to the
/// microsecond.
pub fn ts_arg(at: DateTime<Utc>, up: bool) -> String {
    let mut micros = at.timestamp_micros();
    if up && at.timestamp_subsec_nanos() % 1000 != 0 {
        micros += 1;
    }
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    format!("{secs}.{frac:06}")
}

/// A message as a record; `None` without a readable `ts`.
fn record(channel: &Channel, m: &Value, users: &Users) -> Option<RawRecord> {
    let ts = m.get("ts").and_then(Value::as_str)?;
    let at = parse_ts(ts)?;
    let text_of = |name: &str| m.get(name).and_then(Value::as_str);
    let user = text_of("user");
    let bot_id = text_of("bot_id");
    let (external_user, email) = match (bot_id, user) {
        (Some(bot), _) => (Some(bot.to_owned()), None),
        (None, Some(user)) => (Some(user.to_owned()), users.get(user).cloned().flatten()),
        (None, None) => (None, None),
    };
    let mut data = Map::new();
    data.insert("channel".into(), json!(channel.id));
    data.insert("channel_name".into(), json!(channel.name));
    data.insert("private".into(), json!(channel.private));
    data.insert("ts".into(), json!(ts));
    for field in [
        "user",
        "bot_id",
        "username",
        "subtype",
        "thread_ts",
        "reply_count",
        "edited",
    ] {
        if let Some(v) = m.get(field).filter(|v| !v.is_null()) {
            data.insert(field.into(), v.clone());
        }
    }
    if let Some(files) = m.get("files").and_then(Value::as_array) {
        let files: Vec<Value> = files
            .iter()
            .map(|f| json!({"id": f.get("id"), "name": f.get("name")}))
            .collect();
        data.insert("files".into(), Value::Array(files));
    }
    Some(RawRecord {
        source_id: format!("{}:{ts}", channel.id),
        kind: "message".to_owned(),
        at,
        external_user,
        email,
        container: Some(format!("#{}", channel.name)),
        text: text_of("text").unwrap_or("").to_owned(),
        data: Value::Object(data),
    })
}

/// How reading one channel ended.
enum ChannelEnd {
    Done,
    /// An error of this channel; the run goes on.
    Failed(ConnectorError),
    /// An error further calls would meet too (auth, rate limit, Slack unavailable).
    Stop(ConnectorError),
    /// The sink failed: the run stops with this error.
    Sink(ConnectorError),
}

/// One channel's messages of the window, page by page into the sink.
async fn read_channel(
    api: &mut Api<'_>,
    channel: &Channel,
    window: &Window,
    users: &Users,
    sink: &mut dyn RecordSink,
    report: &mut FetchReport,
) -> ChannelEnd {
    let oldest = ts_arg(window.from, false);
    let latest = ts_arg(window.to, true);
    let limit = PAGE_LIMIT.to_string();
    let mut cursor = String::new();
    loop {
        let mut args = vec![
            ("channel", channel.id.as_str()),
            ("oldest", oldest.as_str()),
            ("latest", latest.as_str()),
            ("inclusive", "true"),
            ("limit", limit.as_str()),
        ];
        if !cursor.is_empty() {
            args.push(("cursor", cursor.as_str()));
        }
        let answer = match api.call("conversations.history", &args).await {
            Ok(a) => a,
            Err(f) => {
                let e = ConnectorError::new(
                    f.error.category,
                    format!("{}: {}", channel.label(), f.error.message),
                );
                return match e.category {
                    ErrorCategory::Auth
                    | ErrorCategory::RateLimit
                    | ErrorCategory::SourceUnavailable => ChannelEnd::Stop(e),
                    _ => ChannelEnd::Failed(e),
                };
            }
        };
        let mut records = Vec::new();
        let mut unreadable = 0usize;
        for m in answer
            .body
            .get("messages")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            match record(channel, m, users) {
                Some(r) if window.contains(r.at) => records.push(r),
                Some(_) => {}
                None => unreadable += 1,
            }
        }
        if unreadable > 0 {
            report.errors.push(ConnectorError::bad_record(format!(
                "{}: {unreadable} message(s) without a readable ts were skipped",
                channel.label()
            )));
        }
        if let Err(e) = deliver(sink, report, records).await {
            return ChannelEnd::Sink(e);
        }
        match next_cursor(&answer.body, &cursor, "conversations.history") {
            Ok(Some(next)) => cursor = next,
            Ok(None) => return ChannelEnd::Done,
            Err(e) => {
                return ChannelEnd::Failed(ConnectorError::new(
                    e.category,
                    format!("{}: {}", channel.label(), e.message),
                ))
            }
        }
    }
}

#[async_trait]
impl DataKind for Slack {
    fn info(&self) -> &KindInfo {
        &self.info
    }

    /// `auth.test`; when Slack names the token's scopes (`x-oauth-scopes`), a missing
    /// required scope is a `permission` error.
    async fn validate(
        &self,
        client: &HttpClient,
        creds: &Credentials,
    ) -> Result<String, ConnectorError> {
        let mut api = Api::new(client, creds)?;
        let answer = api.call("auth.test", &[]).await.map_err(|f| f.error)?;
        if let Some(granted) = &answer.scopes {
            let missing = missing_scopes(granted);
            if !missing.is_empty() {
                return Err(ConnectorError::permission(format!(
                    "the Slack app lacks the scope(s) {} (it has: {}); add them under OAuth & \
                     Permissions and reinstall the app",
                    missing.join(", "),
                    truncate(&granted.join(","), 400)
                )));
            }
        }
        let field = |name: &str| {
            answer
                .body
                .get(name)
                .and_then(Value::as_str)
                .map(|s| truncate(s, 100))
                .unwrap_or_default()
        };
        Ok(format!(
            "signed in to Slack workspace {} ({}) as {}",
            field("team"),
            field("team_id"),
            field("user")
        ))
    }

    async fn fetch(
        &self,
        client: &HttpClient,
        creds: &Credentials,
        window: &Window,
        sink: &mut dyn RecordSink,
    ) -> Result<FetchReport, ConnectorError> {
        let mut api = Api::new(client, creds)?;
        let mut report = FetchReport::default();
        let channels = list_channels(&mut api, &mut report.errors).await?;

        let mut users = Users::new();
        match list_users(&mut api, &mut users, &mut report.errors).await {
            Ok(()) => {}
            Err(e) if e.category == ErrorCategory::Auth => return Err(e),
            Err(e) => report.errors.push(ConnectorError::new(
                e.category,
                format!("e-mails of message authors are not known: {}", e.message),
            )),
        }

        let mut stopped: Option<(ErrorCategory, Vec<String>)> = None;
        for channel in &channels {
            if let Some((_, left)) = &mut stopped {
                if channel.member {
                    left.push(channel.label());
                }
                continue;
            }
            if !channel.member {
                if !channel.archived {
                    report.errors.push(ConnectorError::permission(format!(
                        "{}: the app is not a member of this channel; invite it (/invite) to \
                         import its messages",
                        channel.label()
                    )));
                }
                continue;
            }
            match read_channel(&mut api, channel, window, &users, sink, &mut report).await {
                ChannelEnd::Done => {}
                ChannelEnd::Failed(e) => report.errors.push(e),
                ChannelEnd::Sink(e) => return Err(e),
                ChannelEnd::Stop(e) if e.category == ErrorCategory::Auth => return Err(e),
                ChannelEnd::Stop(e) => {
                    stopped = Some((e.category, Vec::new()));
                    report.errors.push(e);
                }
            }
        }
        if let Some((category, left)) = stopped.filter(|(_, left)| !left.is_empty()) {
            let shown: Vec<&str> = left.iter().take(20).map(String::as_str).collect();
            report.errors.push(ConnectorError::new(
                category,
                format!(
                    "{} channel(s) not read in this run after that error: {}{}",
                    left.len(),
                    shown.join(", "),
                    if left.len() > shown.len() {
                        ", …"
                    } else {
                        ""
                    }
                ),
            ));
        }
        report.stats = api.stats;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ts_round_trips_to_the_microsecond() {
        let at = parse_ts("1700000000.000100").unwrap();
        assert_eq!(at.timestamp_micros(), 1_700_000_000_000_100);
        assert_eq!(ts_arg(at, false), "1700000000.000100");
        assert_eq!(parse_ts("1700000000").unwrap().timestamp(), 1_700_000_000);
        assert_eq!(
            parse_ts("1700000000.1234567").unwrap().timestamp_micros(),
            1_700_000_000_123_456
        );
        for bad in ["", ".5", "abc", "1.2.3", "-1.0", "1e9"] {
            assert!(parse_ts(bad).is_none(), "{bad}");
        }
        let with_nanos = DateTime::from_timestamp(1_700_000_000, 1_500).unwrap();
        assert_eq!(ts_arg(with_nanos, false), "1700000000.000001");
        assert_eq!(ts_arg(with_nanos, true), "1700000000.000002");
    }

    #[test]
    fn error_codes_get_their_categories() {
        let body = json!({});
        for (code, category) in [
            ("invalid_auth", ErrorCategory::Auth),
            ("token_revoked", ErrorCategory::Auth),
            ("not_authed", ErrorCategory::Auth),
            ("not_in_channel", ErrorCategory::Permission),
            ("channel_not_found", ErrorCategory::Permission),
            ("ratelimited", ErrorCategory::RateLimit),
            ("internal_error", ErrorCategory::SourceUnavailable),
            ("invalid_cursor", ErrorCategory::BadRecord),
        ] {
            assert_eq!(classify("m", code, &body).category, category, "{code}");
        }
        let e = classify(
            "users.list",
            "missing_scope",
            &json!({"needed": "users:read", "provided": "channels:read"}),
        );
        assert_eq!(e.category, ErrorCategory::Permission);
        assert!(
            e.message.contains("users:read") && e.message.contains("users.list"),
            "{}",
            e.message
        );
    }

    #[test]
    fn only_bot_tokens_are_taken() {
        let client = HttpClient::new(crate::Endpoints::for_tests("http://127.0.0.1:1", "x"));
        let creds = |t: &str| {
            Credentials(std::collections::BTreeMap::from([(
                "bot_token".to_owned(),
                t.to_owned(),
            )]))
        };
        let e = Api::new(&client, &creds("xoxp-user-token-123"))
            .err()
            .unwrap();
        assert_eq!(e.category, ErrorCategory::Auth);
        assert!(e.message.starts_with("bot_token:"), "{}", e.message);
        assert!(!e.message.contains("xoxp-user-token-123"));
        assert!(Api::new(&client, &creds(" xoxb-1-2-abc ")).is_ok());
        assert!(Api::new(&client, &Credentials::default()).is_err());
    }

    #[test]
    fn scopes_are_checked_when_slack_names_them() {
        let granted: Vec<String> = ["channels:read", "users:read"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            missing_scopes(&granted),
            ["channels:history", "users:read.email"]
        );
        let mut h = HeaderMap::new();
        assert!(scopes(&h).is_none());
        h.insert(
            "x-oauth-scopes",
            "channels:read, users:read".parse().unwrap(),
        );
        assert_eq!(scopes(&h).unwrap(), granted);
    }
}
