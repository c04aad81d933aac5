//! A fake of the Slack Web API methods a message-importing connector calls, on one loopback
//! server: `{url}/api/<method>`.
//!
//! # Conventions followed ("Slack Web API", <https://docs.slack.dev/apis/web-api/>)
//! * Methods are `GET` or `POST` `/api/METHOD_FAMILY.method`. Arguments come as query-string
//!   parameters, as an `application/x-www-form-urlencoded` (or `multipart/form-data`, or
//!   `text/plain`, read as URL-encoded) `POST` body, as a mix of both, or as an `application/json`
//!   object (all four methods list `application/json` among their content types). A body value
//!   wins over a query value of the same name.
//! * The token is `Authorization: Bearer xoxb-...`, or a `token` parameter in a URL-encoded or
//!   multipart `POST` body. "Tokens cannot be sent as a query parameter" and not "as an attribute in
//!   your posted JSON": such a token is ignored (so the call is `not_authed`).
//! * Every answer is a JSON object with a boolean `ok`; failures are **HTTP 200** with
//!   `{"ok": false, "error": "<code>"}`, except rate limiting (HTTP 429, below). Body errors as the
//!   method pages list them: `missing_post_type` (a `POST` body without `Content-Type`),
//!   `invalid_post_type` (another type), `invalid_charset` (a `charset` other than `utf-8` or
//!   `iso-8859-1`), `invalid_form_data` (multipart without a boundary or unparseable),
//!   `invalid_json` / `json_not_object` (JSON bodies), `request_timeout` (body unreadable or over
//!   1 MiB).
//! * Authentication, in this order: no token → `not_authed`; any token but [`SlackFake::bot_token`]
//!   → `invalid_auth`; the bot token after [`SlackFake::revoke_token`] → `token_revoked`.
//! * Scopes: the token holds [`DEFAULT_SCOPES`] unless [`SlackFake::set_scopes`] says otherwise. A
//!   method needing a scope the token lacks answers
//!   `{"ok": false, "error": "missing_scope", "needed": "<scope>", "provided": "<a,b,...>"}`.
//! * Unknown methods: HTTP 404 `{"ok": false, "error": "unknown_method", "req_method": "<name>"}`
//!   (the fake's choice of status: the documentation gives none). Other HTTP verbs: 405.
//!
//! # Pagination ("Pagination", <https://docs.slack.dev/apis/web-api/pagination>)
//! `cursor` + `limit`; the next page's cursor is `response_metadata.next_cursor`, an **empty
//! string** on the last page. Cursors are standard base64 (so they may end in `=` and contain `+`
//! or `/`: "When presenting this value as a URL or POST parameter, it *must* be encoded"; an
//! unencoded `+` arrives as a space and the cursor is then `invalid_cursor`). They are tied to the
//! method and to the query they came from (channel, `oldest`, `latest`, `inclusive`, `types`,
//! `exclude_archived`; not `limit`, which may change between pages): any other cursor, gibberish,
//! or one issued before [`SlackFake::expire_cursors`] ("of too great a vintage") is
//! `invalid_cursor`. "Invalid `limit` values are currently magically adjusted to something
//! sensible": above the maximum is clamped to it, zero or negative is the default. Each method
//! page says to "specify a `limit` value under `1000`", so the maximum is 999 everywhere.
//!
//! # Rate limits ("Rate limits", <https://docs.slack.dev/apis/web-api/rate-limits>)
//! HTTP 429 with `Retry-After: <seconds>` and the body `{"ok": false, "error": "ratelimited"}`
//! (the `ratelimited` code of every method's error table). Limits are "per API method per
//! workspace per app": a limited method does not hold up the others. Tiers as the method pages
//! give them: `conversations.list` and `users.list` Tier 2 (20+ per minute),
//! `conversations.history` Tier 3 (50+ per minute), `auth.test` special ("hundreds of requests per
//! minute", taken as 300). By default nothing is limited except what
//! [`SlackFake::rate_limit_next`] queues; [`SlackFake::enforce_tier_limits`] turns on a sliding
//! one-minute window at those figures. Only authenticated calls count.
//!
//! # Workspace contents
//! Like a real workspace, `users.list` also lists `USLACKBOT` (`is_bot: false`, no e-mail, as in
//! the documentation's pagination walkthrough) and the app's own bot user
//! ([`SlackFake::bot_user_id`], `is_bot: true`).

use std::{
    collections::{hash_map::DefaultHasher, BTreeMap, HashMap, VecDeque},
    hash::{Hash, Hasher},
    ops::Bound,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, Method},
    response::Response,
    Router,
};
use base64::Engine as _;
use serde_json::{json, Map, Value};
use tokio::task::JoinHandle;

use crate::common::{
    auth_token, bind, form_pairs, has_bearer, json_response, param, random_string, spawn, Recorded,
    ALNUM,
};

/// Scopes the bot token holds by default: what a message-importing connector requests.
pub const DEFAULT_SCOPES: &[&str] = &[
    "channels:read",
    "groups:read",
    "channels:history",
    "groups:history",
    "users:read",
    "users:read.email",
];

const METHODS: &[&str] = &[
    "auth.test",
    "conversations.history",
    "conversations.list",
    "users.list",
];
const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const DIGITS: &[u8] = b"0123456789";
const DEFAULT_LIMIT: usize = 100;
/// "To begin pagination, specify a `limit` value under `1000`" (each method's Pagination section).
const MAX_LIMIT: usize = 999;
/// `users.list` without `limit` delivers the whole set; above this many users it answers
/// `limit_required` ("For large teams a limit is required"; the threshold is the fake's choice).
const UNPAGED_USERS_MAX: usize = 1000;
const MAX_BODY: usize = 1 << 20;
const TEAM_NAME: &str = "Attest Test Workspace";
const TEAM_DOMAIN: &str = "attest-test";
const BOT_USER_NAME: &str = "attest";

struct Message {
    /// Author of a user message; `None` for a `bot_message`.
    user: Option<String>,
    /// The integration of a `bot_message`.
    bot_id: Option<String>,
    text: String,
    /// `(editor, edit ts in microseconds)`.
    edited: Option<(String, i64)>,
    /// Thread replies to this message: `(ts in microseconds, user)`, oldest first.
    replies: Vec<(i64, String)>,
}

struct Channel {
    name: String,
    private: bool,
    member: bool,
    archived: bool,
    created: i64,
    /// Parent and unthreaded messages, keyed by ts in microseconds.
    messages: BTreeMap<i64, Message>,
    /// Thread replies (never returned by `conversations.history`): ts → (parent ts, user, text).
    replies: BTreeMap<i64, (i64, String, String)>,
}

impl Channel {
    /// The first ts at or after `micros` not used by a message or reply of this channel.
    fn free_ts(&self, mut micros: i64) -> i64 {
        while self.messages.contains_key(&micros) || self.replies.contains_key(&micros) {
            micros += 1;
        }
        micros
    }
}

struct User {
    name: String,
    real_name: String,
    email: Option<String>,
    deleted: bool,
    is_bot: bool,
    bot_id: Option<String>,
    updated: i64,
}

struct SlackState {
    revoked: bool,
    scopes: Vec<String>,
    users: BTreeMap<String, User>,
    channels: BTreeMap<String, Channel>,
    rate_limits: HashMap<String, VecDeque<u64>>,
    enforce_tiers: bool,
    windows: HashMap<String, VecDeque<Instant>>,
    cursor_epoch: u64,
    requests: Vec<Recorded>,
}

struct Inner {
    state: Mutex<SlackState>,
    token: String,
    team_id: String,
    bot_user_id: String,
    bot_id: String,
    /// Makes cursors of one fake meaningless to another.
    salt: String,
    base: String,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, SlackState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running fake of the Slack Web API. Dropping it stops the server.
pub struct SlackFake {
    inner: Arc<Inner>,
    handle: JoinHandle<()>,
}

impl Drop for SlackFake {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

impl SlackFake {
    /// Starts the fake on `127.0.0.1:0` with a fresh workspace: no channels, no messages, and the
    /// users `USLACKBOT` and the app's bot user.
    pub async fn start() -> SlackFake {
        let (listener, addr) = bind().await;
        let team_id = format!("T{}", random_string(10, UPPER_ALNUM));
        let bot_user_id = format!("U{}", random_string(10, UPPER_ALNUM));
        let bot_id = format!("B{}", random_string(10, UPPER_ALNUM));
        let token = format!(
            "xoxb-{}-{}-{}",
            random_string(13, DIGITS),
            random_string(13, DIGITS),
            random_string(24, ALNUM)
        );
        let now = now_secs();
        let mut users = BTreeMap::new();
        users.insert(
            "USLACKBOT".to_owned(),
            User {
                name: "slackbot".into(),
                real_name: "slackbot".into(),
                email: None,
                deleted: false,
                is_bot: false,
                bot_id: None,
                updated: 0,
            },
        );
        users.insert(
            bot_user_id.clone(),
            User {
                name: BOT_USER_NAME.into(),
                real_name: "Attest".into(),
                email: None,
                deleted: false,
                is_bot: true,
                bot_id: Some(bot_id.clone()),
                updated: now,
            },
        );
        let inner = Arc::new(Inner {
            state: Mutex::new(SlackState {
                revoked: false,
                scopes: DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
                users,
                channels: BTreeMap::new(),
                rate_limits: HashMap::new(),
                enforce_tiers: false,
                windows: HashMap::new(),
                cursor_epoch: 0,
                requests: Vec::new(),
            }),
            token,
            team_id,
            bot_user_id,
            bot_id,
            salt: random_string(16, ALNUM),
            base: format!("http://{addr}"),
        });
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let handle = spawn(listener, app);
        SlackFake { inner, handle }
    }

    /// `http://127.0.0.1:PORT`; the methods are at `{url}/api/<method>`.
    pub fn url(&self) -> String {
        self.inner.base.clone()
    }

    /// `{url}/api`, the stand-in for `https://slack.com/api`.
    pub fn api_url(&self) -> String {
        format!("{}/api", self.inner.base)
    }

    /// The valid bot token (`xoxb-<digits>-<digits>-<alnum>`); any other token is `invalid_auth`.
    pub fn bot_token(&self) -> &str {
        &self.inner.token
    }

    /// The workspace id (`T...`) `auth.test` reports.
    pub fn team_id(&self) -> &str {
        &self.inner.team_id
    }

    /// The app's bot user id (`U...`): `auth.test`'s `user_id`, listed by `users.list`.
    pub fn bot_user_id(&self) -> &str {
        &self.inner.bot_user_id
    }

    /// The app's bot id (`B...`): `auth.test`'s `bot_id`.
    pub fn bot_id(&self) -> &str {
        &self.inner.bot_id
    }

    /// From now on every call with the bot token answers `token_revoked` (the app was removed).
    pub fn revoke_token(&self) {
        self.inner.lock().revoked = true;
    }

    /// Replaces the scopes the bot token holds (default [`DEFAULT_SCOPES`]).
    pub fn set_scopes(&self, scopes: &[&str]) {
        self.inner.lock().scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
    }

    /// Adds (or replaces) a person. `email: None` is a profile without an `email` field.
    pub fn add_user(&self, id: &str, name: &str, email: Option<&str>) {
        self.inner.lock().users.insert(
            id.to_owned(),
            User {
                name: name.to_owned(),
                real_name: name.to_owned(),
                email: email.map(str::to_owned),
                deleted: false,
                is_bot: false,
                bot_id: None,
                updated: now_secs(),
            },
        );
    }

    /// Adds (or replaces) a bot user: `is_bot: true`, no e-mail, `profile.bot_id` `B` + the id
    /// without its first letter.
    pub fn add_bot_user(&self, id: &str, name: &str) {
        let bot_id = format!("B{}", id.get(1..).unwrap_or(""));
        self.inner.lock().users.insert(
            id.to_owned(),
            User {
                name: name.to_owned(),
                real_name: name.to_owned(),
                email: None,
                deleted: false,
                is_bot: true,
                bot_id: Some(bot_id),
                updated: now_secs(),
            },
        );
    }

    /// Deactivates a user: still listed, with `deleted: true`. Panics on an unknown id.
    pub fn delete_user(&self, id: &str) {
        let mut st = self.inner.lock();
        let user = st
            .users
            .get_mut(id)
            .unwrap_or_else(|| panic!("unknown Slack user {id:?}"));
        user.deleted = true;
        user.updated = now_secs();
    }

    /// Adds a channel, or updates an existing one's name, membership and privacy (its messages are
    /// kept). `member`: the bot is in it. A private channel the bot is not in is invisible to it
    /// (absent from `conversations.list`, `channel_not_found` from `conversations.history`). An id
    /// starting with `G` is a private channel created before March 2021: `is_channel: false`,
    /// `is_group: true`.
    pub fn add_channel(&self, id: &str, name: &str, member: bool, private: bool) {
        let mut st = self.inner.lock();
        let ch = st.channels.entry(id.to_owned()).or_insert_with(|| Channel {
            name: String::new(),
            private,
            member,
            archived: false,
            created: now_secs(),
            messages: BTreeMap::new(),
            replies: BTreeMap::new(),
        });
        ch.name = name.to_owned();
        ch.member = member;
        ch.private = private;
    }

    /// Puts the bot in a channel or takes it out. Panics on an unknown channel.
    pub fn set_member(&self, channel: &str, member: bool) {
        self.with_channel(channel, |ch| ch.member = member);
    }

    /// Archives a channel (`is_archived: true`; left out by `exclude_archived=true`).
    pub fn archive_channel(&self, channel: &str) {
        self.with_channel(channel, |ch| ch.archived = true);
    }

    /// Posts a user message at `ts` (seconds since the epoch, kept to the microsecond) and returns
    /// its ts string (`"1700000000.000100"`). A ts is unique per channel: if `ts` is taken the
    /// message gets the next free microsecond, as Slack would give it. A message whose ts is after
    /// the current time is only returned when `latest` is given ("Default is the current time").
    /// Panics on an unknown channel.
    pub fn post(&self, channel: &str, user: &str, ts: f64, text: &str) -> String {
        self.insert(channel, micros(ts), Some(user), None, text)
    }

    /// Posts a `bot_message` (`subtype: "bot_message"`, `bot_id`, no `user`) at `ts`.
    pub fn post_bot(&self, channel: &str, bot_id: &str, ts: f64, text: &str) -> String {
        self.insert(channel, micros(ts), None, Some(bot_id), text)
    }

    /// Posts `n` user messages at `from_ts`, `from_ts + step_secs`, ..., authors taken from
    /// `users` in turn, texts `"message 0"`, `"message 1"`, ...; returns their ts strings in
    /// posting order. One lock for the lot: 100,000 messages take well under a second.
    pub fn post_many(
        &self,
        channel: &str,
        users: &[&str],
        from_ts: f64,
        step_secs: f64,
        n: usize,
    ) -> Vec<String> {
        assert!(!users.is_empty(), "post_many needs at least one user");
        let start = micros(from_ts);
        let step = (step_secs * 1e6).round() as i64;
        let mut st = self.inner.lock();
        let ch = st
            .channels
            .get_mut(channel)
            .unwrap_or_else(|| panic!("unknown Slack channel {channel:?}"));
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let ts = ch.free_ts(start + step * i as i64);
            ch.messages.insert(
                ts,
                Message {
                    user: Some(users[i % users.len()].to_owned()),
                    bot_id: None,
                    text: format!("message {i}"),
                    edited: None,
                    replies: Vec::new(),
                },
            );
            out.push(ts_string(ts));
        }
        out
    }

    /// Edits a message: new text and `edited: {"user": <author>, "ts": <edited_ts>}`. Panics on an
    /// unknown channel or message.
    pub fn edit(&self, channel: &str, ts: &str, text: &str, edited_ts: f64) {
        let key = parse_ts(ts).unwrap_or_else(|| panic!("bad ts {ts:?}"));
        self.with_channel(channel, |ch| {
            let m = ch
                .messages
                .get_mut(&key)
                .unwrap_or_else(|| panic!("no message {ts} in {channel}"));
            let editor = m
                .user
                .clone()
                .or_else(|| m.bot_id.clone())
                .unwrap_or_default();
            m.text = text.to_owned();
            m.edited = Some((editor, micros(edited_ts)));
        });
    }

    /// Replies in the thread of the message `thread_ts`; returns the reply's ts. The parent then
    /// carries `thread_ts`, `reply_count`, `reply_users_count`, `latest_reply` and `reply_users`;
    /// the reply itself is not returned by `conversations.history` ("returns only parent
    /// messages"). Panics on an unknown channel or parent.
    pub fn reply(&self, channel: &str, thread_ts: &str, user: &str, ts: f64, text: &str) -> String {
        let parent = parse_ts(thread_ts).unwrap_or_else(|| panic!("bad ts {thread_ts:?}"));
        self.with_channel(channel, |ch| {
            assert!(
                ch.messages.contains_key(&parent),
                "no message {thread_ts} in {channel}"
            );
            let key = ch.free_ts(micros(ts));
            ch.replies
                .insert(key, (parent, user.to_owned(), text.to_owned()));
            let m = ch.messages.get_mut(&parent).expect("parent checked above");
            m.replies.push((key, user.to_owned()));
            m.replies.sort_by_key(|(t, _)| *t);
            ts_string(key)
        })
    }

    /// Number of messages `conversations.history` could return for the channel (thread replies
    /// excluded). Panics on an unknown channel.
    pub fn message_count(&self, channel: &str) -> usize {
        self.with_channel(channel, |ch| ch.messages.len())
    }

    /// The next `n` authenticated calls of `method` (e.g. `"conversations.history"`) answer HTTP
    /// 429 with `Retry-After: <retry_after_secs>`; other methods are not affected.
    pub fn rate_limit_next(&self, method: &str, n: usize, retry_after_secs: u64) {
        let mut st = self.inner.lock();
        let queue = st.rate_limits.entry(method.to_owned()).or_default();
        queue.extend(std::iter::repeat_n(retry_after_secs, n));
    }

    /// Forgets every 429 queued with [`SlackFake::rate_limit_next`].
    pub fn clear_rate_limits(&self) {
        self.inner.lock().rate_limits.clear();
    }

    /// Enforces each method's tier over a sliding minute (Tier 2: 20, Tier 3: 50, `auth.test`:
    /// 300 calls); a call over it answers 429 with `Retry-After` the whole seconds until the
    /// oldest call in the window leaves it. Off by default.
    pub fn enforce_tier_limits(&self, on: bool) {
        let mut st = self.inner.lock();
        st.enforce_tiers = on;
        st.windows.clear();
    }

    /// Every cursor issued so far becomes `invalid_cursor` ("Cursors expire").
    pub fn expire_cursors(&self) {
        self.inner.lock().cursor_epoch += 1;
    }

    /// Every request so far, in arrival order (the path with its query string; `POST` bodies are
    /// not recorded).
    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.lock().requests.clone()
    }

    /// Number of requests to `/api/<method>`, whatever their outcome.
    pub fn calls(&self, method: &str) -> usize {
        let path = format!("/api/{method}");
        self.inner
            .lock()
            .requests
            .iter()
            .filter(|r| r.path.split('?').next() == Some(path.as_str()))
            .count()
    }

    fn with_channel<T>(&self, channel: &str, f: impl FnOnce(&mut Channel) -> T) -> T {
        let mut st = self.inner.lock();
        let ch = st
            .channels
            .get_mut(channel)
            .unwrap_or_else(|| panic!("unknown Slack channel {channel:?}"));
        f(ch)
    }

    fn insert(
        &self,
        channel: &str,
        ts: i64,
        user: Option<&str>,
        bot_id: Option<&str>,
        text: &str,
    ) -> String {
        self.with_channel(channel, |ch| {
            let ts = ch.free_ts(ts);
            ch.messages.insert(
                ts,
                Message {
                    user: user.map(str::to_owned),
                    bot_id: bot_id.map(str::to_owned),
                    text: text.to_owned(),
                    edited: None,
                    replies: Vec::new(),
                },
            );
            ts_string(ts)
        })
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Seconds since the epoch → microseconds (the six decimals of a ts).
fn micros(ts: f64) -> i64 {
    assert!(ts.is_finite() && ts >= 0.0, "bad Slack ts {ts}");
    (ts * 1e6).round() as i64
}

/// `1700000000000100` → `"1700000000.000100"`.
fn ts_string(micros: i64) -> String {
    format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

/// A ts argument (`"1700000000.000100"`, `"1700000000"`, `"0"`) → microseconds; digits beyond the
/// sixth decimal are dropped. `None` when it is not a non-negative decimal number.
fn parse_ts(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    let (int, frac) = raw.split_once('.').unwrap_or((raw, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut digits: String = frac.chars().take(6).collect();
    while digits.len() < 6 {
        digits.push('0');
    }
    let frac: i64 = digits.parse().ok()?;
    secs.checked_mul(1_000_000)?.checked_add(frac)
}

/// A boolean argument: `true` or `1` (any case) is true, anything else false.
fn flag(params: &[(String, String)], name: &str) -> bool {
    param(params, name).is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// A non-empty argument.
fn arg<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    param(params, name).filter(|v| !v.is_empty())
}

/// `limit`, magically adjusted: absent, non-numeric, zero or negative → `default`; above
/// [`MAX_LIMIT`] → [`MAX_LIMIT`].
fn limit_arg(params: &[(String, String)], default: usize) -> usize {
    match arg(params, "limit").and_then(|v| v.trim().parse::<i64>().ok()) {
        Some(n) if n >= 1 => (n as usize).min(MAX_LIMIT),
        _ => default,
    }
}

fn ok_false(error: &str) -> Value {
    json!({"ok": false, "error": error})
}

fn has_scope(st: &SlackState, scope: &str) -> bool {
    st.scopes.iter().any(|s| s == scope)
}

fn missing_scope(st: &SlackState, needed: &str) -> Value {
    json!({
        "ok": false,
        "error": "missing_scope",
        "needed": needed,
        "provided": st.scopes.join(","),
    })
}

/// Ties a cursor to the fake, the cursor epoch and the query (`parts`).
fn fingerprint(inner: &Inner, st: &SlackState, parts: &[&str]) -> String {
    let mut h = DefaultHasher::new();
    inner.salt.hash(&mut h);
    st.cursor_epoch.hash(&mut h);
    parts.hash(&mut h);
    format!("{:08x}", h.finish() as u32)
}

/// `base64("<kind>:<position>:<fingerprint>")`, as Slack's own cursors decode to
/// `next_ts:1512085861000543` or `user:U0G9WFXNZ`.
fn encode_cursor(kind: &str, position: &str, fp: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{kind}:{position}:{fp}"))
}

/// The position of a cursor of `kind` with fingerprint `fp`; `None` for anything else.
fn decode_cursor(raw: &str, kind: &str, fp: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw.as_bytes())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let rest = text.strip_prefix(kind)?.strip_prefix(':')?;
    let (position, got) = rest.rsplit_once(':')?;
    (got == fp && !position.is_empty()).then(|| position.to_owned())
}

/// The method's tier label and the calls per minute enforced for it.
fn tier(method: &str) -> (&'static str, usize) {
    match method {
        "conversations.history" => ("Tier 3", 50),
        "conversations.list" | "users.list" => ("Tier 2", 20),
        _ => ("special", 300),
    }
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

/// Arguments of the body and the `token` it carried (URL-encoded and multipart bodies only).
struct Body {
    params: Vec<(String, String)>,
    token: Option<String>,
}

async fn route(inner: &Inner, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let Some(name) = path.strip_prefix("/api/").map(str::to_owned) else {
        return json_response(404, &ok_false("unknown_method"), &[]);
    };
    if req.method() != Method::GET && req.method() != Method::POST {
        return json_response(405, &ok_false("method_not_allowed"), &[]);
    }
    let (parts, body) = req.into_parts();
    let is_post = parts.method == Method::POST;
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return json_response(200, &ok_false("request_timeout"), &[]);
    };
    let body = if is_post {
        match read_body(&parts.headers, &bytes) {
            Ok(b) => b,
            Err(code) => return json_response(200, &ok_false(code), &[]),
        }
    } else {
        Body {
            params: Vec::new(),
            token: None,
        }
    };
    // Body first so that its values win; a token in the query string is not a token.
    let mut params = body.params;
    params.extend(
        form_pairs(parts.uri.query().unwrap_or("").as_bytes())
            .into_iter()
            .filter(|(k, _)| k != "token"),
    );

    if !METHODS.contains(&name.as_str()) {
        return json_response(
            404,
            &json!({"ok": false, "error": "unknown_method", "req_method": name}),
            &[],
        );
    }

    let token = auth_token(&parts.headers, &["Bearer"]).or(body.token);
    let mut st = inner.lock();
    let auth_error = match token {
        None => Some("not_authed"),
        Some(t) if t != inner.token => Some("invalid_auth"),
        Some(_) if st.revoked => Some("token_revoked"),
        Some(_) => None,
    };
    if let Some(code) = auth_error {
        return json_response(200, &ok_false(code), &[]);
    }

    if let Some(secs) = rate_limited(&mut st, &name) {
        return json_response(
            429,
            &ok_false("ratelimited"),
            &[("Retry-After", secs.to_string())],
        );
    }

    let body = match name.as_str() {
        "auth.test" => auth_test(inner),
        "conversations.list" => conversations_list(inner, &st, &params),
        "conversations.history" => conversations_history(inner, &st, &params),
        "users.list" => users_list(inner, &st, &params),
        _ => unreachable!("checked against METHODS"),
    };
    json_response(200, &body, &[])
}

/// Queued 429s first, then (if enforced) the method's tier over a sliding minute.
fn rate_limited(st: &mut SlackState, method: &str) -> Option<u64> {
    if let Some(secs) = st.rate_limits.get_mut(method).and_then(|q| q.pop_front()) {
        return Some(secs);
    }
    if !st.enforce_tiers {
        return None;
    }
    let (_, per_minute) = tier(method);
    let window = st.windows.entry(method.to_owned()).or_default();
    let now = Instant::now();
    let minute = Duration::from_secs(60);
    while window
        .front()
        .is_some_and(|t| now.duration_since(*t) >= minute)
    {
        window.pop_front();
    }
    if window.len() >= per_minute {
        let oldest = *window.front().expect("window is full");
        let wait = minute.saturating_sub(now.duration_since(oldest));
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        return Some(secs.max(1));
    }
    window.push_back(now);
    None
}

/// The arguments of a `POST` body, by its `Content-Type`.
fn read_body(headers: &HeaderMap, bytes: &[u8]) -> Result<Body, &'static str> {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return if bytes.is_empty() {
            Ok(Body {
                params: Vec::new(),
                token: None,
            })
        } else {
            Err("missing_post_type")
        };
    };
    let mut pieces = ct.split(';');
    let mime = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
    let mut charset = None;
    let mut boundary = None;
    for p in pieces {
        if let Some((k, v)) = p.split_once('=') {
            let v = v.trim().trim_matches('"').to_owned();
            match k.trim().to_ascii_lowercase().as_str() {
                "charset" => charset = Some(v),
                "boundary" => boundary = Some(v),
                _ => {}
            }
        }
    }
    if let Some(cs) = charset {
        if !cs.eq_ignore_ascii_case("utf-8") && !cs.eq_ignore_ascii_case("iso-8859-1") {
            return Err("invalid_charset");
        }
    }
    let with_token = |mut params: Vec<(String, String)>| {
        let token = params
            .iter()
            .position(|(k, _)| k == "token")
            .map(|i| params.remove(i).1);
        params.retain(|(k, _)| k != "token");
        Body { params, token }
    };
    match mime.as_str() {
        "application/x-www-form-urlencoded" | "text/plain" => Ok(with_token(form_pairs(bytes))),
        "multipart/form-data" => {
            let boundary = boundary.ok_or("invalid_form_data")?;
            multipart_pairs(bytes, &boundary)
                .map(with_token)
                .ok_or("invalid_form_data")
        }
        "application/json" => {
            let value: Value = serde_json::from_slice(bytes).map_err(|_| "invalid_json")?;
            let Value::Object(map) = value else {
                return Err("json_not_object");
            };
            let params = map
                .into_iter()
                // "Providing an explicitly null value ... will result in whichever default
                // behavior is assigned to it"; a token here is not accepted.
                .filter(|(k, v)| !v.is_null() && k != "token")
                .map(|(k, v)| match v {
                    Value::String(s) => (k, s),
                    other => (k, other.to_string()),
                })
                .collect();
            Ok(Body {
                params,
                token: None,
            })
        }
        _ => Err("invalid_post_type"),
    }
}

/// Text fields of a `multipart/form-data` body.
fn multipart_pairs(body: &[u8], boundary: &str) -> Option<Vec<(String, String)>> {
    let text = std::str::from_utf8(body).ok()?;
    let delimiter = format!("--{boundary}");
    let mut out = Vec::new();
    let mut sections = text.split(delimiter.as_str());
    sections.next()?; // preamble
    for part in sections {
        if part.starts_with("--") {
            return Some(out);
        }
        let part = part.strip_prefix("\r\n").unwrap_or(part);
        let (head, value) = part.split_once("\r\n\r\n")?;
        let name = head.lines().find_map(|line| {
            let (field, rest) = line.split_once(':')?;
            if !field.trim().eq_ignore_ascii_case("content-disposition") {
                return None;
            }
            rest.split(';').find_map(|s| {
                s.trim()
                    .strip_prefix("name=")
                    .map(|n| n.trim_matches('"').to_owned())
            })
        })?;
        out.push((name, value.strip_suffix("\r\n").unwrap_or(value).to_owned()));
    }
    None
}

/// `auth.test` — "Checks authentication & identity"
/// (<https://docs.slack.dev/reference/methods/auth.test>). No scopes; special rate limits.
/// The bot-token form of the documented success response:
/// `{"ok", "url", "team", "user", "team_id", "user_id", "bot_id"}`.
fn auth_test(inner: &Inner) -> Value {
    json!({
        "ok": true,
        "url": format!("https://{TEAM_DOMAIN}.slack.com/"),
        "team": TEAM_NAME,
        "user": BOT_USER_NAME,
        "team_id": inner.team_id,
        "user_id": inner.bot_user_id,
        "bot_id": inner.bot_id,
    })
}

/// `conversations.list` — "Lists all channels in a Slack team"
/// (<https://docs.slack.dev/reference/methods/conversations.list>). Tier 2.
///
/// * `types`: comma-separated `public_channel`, `private_channel`, `mpim`, `im`; default
///   `public_channel`; another value → `invalid_types`. Scopes per type: `channels:read`,
///   `groups:read`, `mpim:read`, `im:read` (the fake has no DMs, so `mpim`/`im` add nothing).
/// * `exclude_archived` (default false), `limit` (default 100, "an integer under 1000": a value
///   that is not an integer → `invalid_limit`), `cursor`.
/// * "When paginating, any filters used in the request are applied *after* retrieving a virtual
///   page's `limit`": the fake cuts a virtual page of `limit` channels (all channels, by id) and
///   then drops those not matching `types`/`exclude_archived` or invisible to the bot (private and
///   not a member), so a page may hold fewer than `limit` channels, even none, with a non-empty
///   `next_cursor`.
/// * Channel objects as the documented example: `id`, `name`, `is_channel`, `is_group`, `is_im`,
///   `is_mpim`, `is_private`, `created`, `is_archived`, `is_general`, `unlinked`,
///   `name_normalized`, `is_shared`, `is_ext_shared`, `is_org_shared`, `pending_shared`,
///   `is_pending_ext_shared`, `is_member`, `updated`, `topic`, `purpose`, `previous_names`.
fn conversations_list(inner: &Inner, st: &SlackState, p: &[(String, String)]) -> Value {
    let types_raw = arg(p, "types").unwrap_or("public_channel");
    let mut types = Vec::new();
    for t in types_raw
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let scope = match t {
            "public_channel" => "channels:read",
            "private_channel" => "groups:read",
            "mpim" => "mpim:read",
            "im" => "im:read",
            _ => return ok_false("invalid_types"),
        };
        types.push((t, scope));
    }
    if types.is_empty() {
        return ok_false("invalid_types");
    }
    if let Some((_, scope)) = types.iter().find(|(_, s)| !has_scope(st, s)) {
        return missing_scope(st, scope);
    }
    let exclude_archived = flag(p, "exclude_archived");
    if let Some(raw) = arg(p, "limit") {
        if raw.trim().parse::<i64>().is_err() {
            return ok_false("invalid_limit");
        }
    }
    let limit = limit_arg(p, DEFAULT_LIMIT);
    let mut type_names: Vec<&str> = types.iter().map(|(t, _)| *t).collect();
    type_names.sort_unstable();
    type_names.dedup();
    let fp = fingerprint(
        inner,
        st,
        &[
            "conversations.list",
            &type_names.join(","),
            if exclude_archived { "1" } else { "0" },
        ],
    );
    let start = match arg(p, "cursor") {
        None => None,
        Some(raw) => match decode_cursor(raw, "team", &fp) {
            Some(id) => Some(id),
            None => return ok_false("invalid_cursor"),
        },
    };
    let mut iter = match &start {
        Some(id) => st.channels.range(id.clone()..),
        None => st.channels.range::<String, _>(..),
    };
    let page: Vec<(&String, &Channel)> = iter.by_ref().take(limit).collect();
    let next = iter.next().map(|(id, _)| encode_cursor("team", id, &fp));
    let want_public = type_names.contains(&"public_channel");
    let want_private = type_names.contains(&"private_channel");
    let channels: Vec<Value> = page
        .into_iter()
        .filter(|(_, c)| if c.private { want_private } else { want_public })
        .filter(|(_, c)| !(exclude_archived && c.archived))
        .filter(|(_, c)| !c.private || c.member)
        .map(|(id, c)| channel_json(id, c))
        .collect();
    json!({
        "ok": true,
        "channels": channels,
        "response_metadata": {"next_cursor": next.unwrap_or_default()},
    })
}

fn channel_json(id: &str, c: &Channel) -> Value {
    let legacy_group = c.private && id.starts_with('G');
    json!({
        "id": id,
        "name": c.name,
        "is_channel": !legacy_group,
        "is_group": legacy_group,
        "is_im": false,
        "is_mpim": false,
        "is_private": c.private,
        "created": c.created,
        "is_archived": c.archived,
        "is_general": false,
        "unlinked": 0,
        "name_normalized": c.name,
        "is_shared": false,
        "is_ext_shared": false,
        "is_org_shared": false,
        "pending_shared": [],
        "is_pending_ext_shared": false,
        "is_member": c.member,
        "updated": c.created * 1000,
        "topic": {"value": "", "creator": "", "last_set": 0},
        "purpose": {"value": "", "creator": "", "last_set": 0},
        "previous_names": [],
    })
}

/// `conversations.history` — "Fetches a conversation's history of messages and events"
/// (<https://docs.slack.dev/reference/methods/conversations.history>). Tier 3.
///
/// * `channel` (required): unknown, or private without the bot → `channel_not_found`; public
///   without the bot → `not_in_channel` ("Only user tokens can access public channels they are not
///   in"). Scope `channels:history` (public) or `groups:history` (private).
/// * `oldest` (default 0) and `latest` ("Default is the current time"): "If a message has the same
///   timestamp as `oldest` or `latest` it will not be included in the list ... You can, however,
///   have both timestamps be included in the time range by setting `inclusive` to `true`. The
///   `inclusive` parameter is ignored when `oldest` or `latest` is not specified." A value that is
///   not a decimal number → `invalid_ts_oldest` / `invalid_ts_latest`. A given `latest` is echoed
///   back (the documented "latest timestamp and inclusive" response).
/// * `limit` default 100, "Maximum of 999"; `cursor`. "The most recent messages in the time range
///   are returned first"; `has_more` says whether more messages remain in the range;
///   `response_metadata.next_cursor` is the next page's cursor, `""` when none. "`pin_count`": 0.
/// * Only parent and unthreaded messages ("`conversations.history` method returns only parent
///   messages"). Message fields: `type`, `user`, `text`, `ts`; `subtype: "bot_message"` and
///   `bot_id` (no `user`) for bot messages; `edited`; a thread parent adds `thread_ts`,
///   `reply_count`, `reply_users_count`, `latest_reply`, `reply_users`.
fn conversations_history(inner: &Inner, st: &SlackState, p: &[(String, String)]) -> Value {
    let channel_id = param(p, "channel").unwrap_or("");
    let Some(ch) = st.channels.get(channel_id) else {
        return ok_false("channel_not_found");
    };
    if ch.private && !ch.member {
        return ok_false("channel_not_found");
    }
    let needed = if ch.private {
        "groups:history"
    } else {
        "channels:history"
    };
    if !has_scope(st, needed) {
        return missing_scope(st, needed);
    }
    if !ch.member {
        return ok_false("not_in_channel");
    }
    let oldest_raw = arg(p, "oldest");
    let latest_raw = arg(p, "latest");
    let oldest = match oldest_raw.map(parse_ts) {
        Some(None) => return ok_false("invalid_ts_oldest"),
        Some(Some(t)) => Some(t),
        None => None,
    };
    let latest = match latest_raw.map(parse_ts) {
        Some(None) => return ok_false("invalid_ts_latest"),
        Some(Some(t)) => Some(t),
        None => None,
    };
    let inclusive = flag(p, "inclusive");
    let limit = limit_arg(p, DEFAULT_LIMIT);
    let fp = fingerprint(
        inner,
        st,
        &[
            "conversations.history",
            channel_id,
            oldest_raw.unwrap_or(""),
            latest_raw.unwrap_or(""),
            if inclusive { "1" } else { "0" },
        ],
    );
    let position = match arg(p, "cursor") {
        None => None,
        Some(raw) => match decode_cursor(raw, "next_ts", &fp).and_then(|s| s.parse::<i64>().ok()) {
            Some(pos) => Some(pos),
            None => return ok_false("invalid_cursor"),
        },
    };

    // `inclusive` only matters when a bound was given; the defaults are exclusive/irrelevant.
    let lower = match oldest {
        Some(o) if inclusive => Bound::Included(o),
        Some(o) => Bound::Excluded(o),
        None => Bound::Unbounded,
    };
    let mut upper = match latest {
        Some(l) if inclusive => Bound::Included(l),
        Some(l) => Bound::Excluded(l),
        None => Bound::Excluded(now_micros()),
    };
    if let Some(pos) = position {
        upper = match upper {
            Bound::Included(u) if u < pos => Bound::Included(u),
            Bound::Excluded(u) if u <= pos => Bound::Excluded(u),
            _ => Bound::Included(pos),
        };
    }

    let (messages, next) = if range_nonempty(lower, upper) {
        let mut iter = ch.messages.range((lower, upper)).rev();
        let page: Vec<Value> = iter
            .by_ref()
            .take(limit)
            .map(|(ts, m)| message_json(*ts, m))
            .collect();
        (page, iter.next().map(|(ts, _)| *ts))
    } else {
        (Vec::new(), None)
    };
    let mut body = json!({
        "ok": true,
        "messages": messages,
        "has_more": next.is_some(),
        "pin_count": 0,
        "response_metadata": {
            "next_cursor": next
                .map(|ts| encode_cursor("next_ts", &ts.to_string(), &fp))
                .unwrap_or_default(),
        },
    });
    if let Some(l) = latest_raw {
        body["latest"] = json!(l);
    }
    body
}

/// Whether `BTreeMap::range` accepts the bounds (it panics on start > end, or start == end with
/// both excluded); `false` only for ranges that are empty anyway.
fn range_nonempty(lower: Bound<i64>, upper: Bound<i64>) -> bool {
    match (lower, upper) {
        (Bound::Unbounded, _) | (_, Bound::Unbounded) => true,
        (Bound::Included(a), Bound::Included(b)) => a <= b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b) | Bound::Included(b)) => a < b,
    }
}

fn message_json(ts: i64, m: &Message) -> Value {
    let mut o = Map::new();
    o.insert("type".into(), json!("message"));
    if let Some(bot_id) = &m.bot_id {
        o.insert("subtype".into(), json!("bot_message"));
        o.insert("bot_id".into(), json!(bot_id));
    }
    if let Some(user) = &m.user {
        o.insert("user".into(), json!(user));
    }
    o.insert("text".into(), json!(m.text));
    o.insert("ts".into(), json!(ts_string(ts)));
    if let Some((user, at)) = &m.edited {
        o.insert("edited".into(), json!({"user": user, "ts": ts_string(*at)}));
    }
    if let Some((latest, _)) = m.replies.last() {
        let mut users: Vec<&str> = Vec::new();
        for (_, u) in &m.replies {
            if !users.contains(&u.as_str()) {
                users.push(u);
            }
        }
        o.insert("thread_ts".into(), json!(ts_string(ts)));
        o.insert("reply_count".into(), json!(m.replies.len()));
        o.insert("reply_users_count".into(), json!(users.len()));
        o.insert("latest_reply".into(), json!(ts_string(*latest)));
        o.insert("reply_users".into(), json!(users));
    }
    Value::Object(o)
}

/// `users.list` — "Lists all users in a Slack team"
/// (<https://docs.slack.dev/reference/methods/users.list>). Tier 2, scope `users:read`.
///
/// * "This includes both invited users and deleted/deactivated users" (`deleted: true`).
/// * `limit`: "Providing no `limit` value will result in Slack attempting to deliver you the
///   entire result set. If the collection is too large you may experience `limit_required`": no
///   (or zero) `limit` returns every user, or `limit_required` above 1,000 users. Otherwise pages
///   of at most 999, with `cursor`.
/// * "The `users:read.email` OAuth scope is now required to access the `email` field": without it
///   no profile has `email`. A user who never gave one has none either ("Data that has not been
///   supplied may not be present at all"); bots have `is_bot: true` and no e-mail.
/// * Member fields as the documented example: `id`, `team_id`, `name`, `deleted`, `color`,
///   `real_name`, `tz`, `tz_label`, `tz_offset`, `profile` (`real_name`, `display_name`,
///   `real_name_normalized`, `display_name_normalized`, `email`, `image_*`, `team`, and
///   `bot_id` for bots), `is_admin`, `is_owner`, `is_primary_owner`, `is_restricted`,
///   `is_ultra_restricted`, `is_bot`, `is_app_user`, `updated`; top-level `cache_ts`. Ordered by id
///   (the documentation promises "no particular order").
fn users_list(inner: &Inner, st: &SlackState, p: &[(String, String)]) -> Value {
    if !has_scope(st, "users:read") {
        return missing_scope(st, "users:read");
    }
    let with_email = has_scope(st, "users:read.email");
    let paged = arg(p, "limit")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .is_some_and(|n| n >= 1);
    let fp = fingerprint(inner, st, &["users.list"]);
    let start = match arg(p, "cursor") {
        None => None,
        Some(raw) => match decode_cursor(raw, "user", &fp) {
            Some(id) => Some(id),
            None => return ok_false("invalid_cursor"),
        },
    };
    let mut iter = match &start {
        Some(id) => st.users.range(id.clone()..),
        None => st.users.range::<String, _>(..),
    };
    let (page, next): (Vec<(&String, &User)>, Option<String>) = if paged {
        let page = iter.by_ref().take(limit_arg(p, DEFAULT_LIMIT)).collect();
        (
            page,
            iter.next().map(|(id, _)| encode_cursor("user", id, &fp)),
        )
    } else {
        let all: Vec<_> = iter.collect();
        if all.len() > UNPAGED_USERS_MAX {
            return ok_false("limit_required");
        }
        (all, None)
    };
    let members: Vec<Value> = page
        .into_iter()
        .map(|(id, u)| user_json(inner, id, u, with_email))
        .collect();
    json!({
        "ok": true,
        "members": members,
        "cache_ts": now_secs(),
        "response_metadata": {"next_cursor": next.unwrap_or_default()},
    })
}

fn user_json(inner: &Inner, id: &str, u: &User, with_email: bool) -> Value {
    let image = format!(
        "https://a.slack-edge.com/avatars/{}_48.png",
        id.to_ascii_lowercase()
    );
    let mut profile = json!({
        "real_name": u.real_name,
        "display_name": u.name,
        "real_name_normalized": u.real_name,
        "display_name_normalized": u.name,
        "avatar_hash": "g000000000000",
        "image_24": image,
        "image_32": image,
        "image_48": image,
        "image_72": image,
        "image_192": image,
        "image_512": image,
        "team": inner.team_id,
    });
    if let (true, Some(email)) = (with_email, &u.email) {
        profile["email"] = json!(email);
    }
    if let Some(bot_id) = &u.bot_id {
        profile["bot_id"] = json!(bot_id);
        profile["always_active"] = json!(true);
    }
    json!({
        "id": id,
        "team_id": inner.team_id,
        "name": u.name,
        "deleted": u.deleted,
        "color": "9f69e7",
        "real_name": u.real_name,
        "tz": "America/Los_Angeles",
        "tz_label": "Pacific Standard Time",
        "tz_offset": -28800,
        "profile": profile,
        "is_admin": false,
        "is_owner": false,
        "is_primary_owner": false,
        "is_restricted": false,
        "is_ultra_restricted": false,
        "is_bot": u.is_bot,
        "is_app_user": false,
        "updated": u.updated,
    })
}
