//! A fake of a Salesforce org (My Domain host): the OAuth 2.0 client credentials token endpoint
//! and the Tooling API query resource over the Health Check objects.
//!
//! # Routes
//! * `POST /services/oauth2/token` — `token`
//! * `GET /services/data/` — `versions`
//! * `GET /services/data/vNN.N/tooling/query/?q=SOQL` (with or without the `/` before `?`) and
//!   `GET /services/data/vNN.N/tooling/query/{queryLocator}` — `query`, `query_more`
//!
//! Anything else under `/services/data/` answers 404 `[{"errorCode":"NOT_FOUND",...}]`.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{Arc, Mutex, MutexGuard},
    time::{SystemTime, UNIX_EPOCH},
};

use axum::{
    extract::{Request, State},
    http::Method,
    response::Response,
    Router,
};
use base64::Engine as _;
use serde_json::{json, Map, Value};
use tokio::task::JoinHandle;

use crate::common::{
    auth_token, basic_credentials, bind, form_pairs, has_bearer, json_response, param,
    random_string, spawn, Recorded, ALNUM,
};

/// Oldest and newest API versions the fake accepts. The Health Check objects exist from Tooling
/// API 37.0; 66.0 is the version of the newest release notes (Spring '26 preview).
const MIN_VERSION: u32 = 37;
const MAX_VERSION: u32 = 66;
/// Salesforce's default query batch size.
const DEFAULT_BATCH: usize = 2000;
const HEALTH_CHECK_ID: &str = "0OV000000000001AAA";

/// Documented fields of each object, in the order Salesforce describes them.
const HEALTH_CHECK_FIELDS: &[&str] = &["CustomBaselineId", "DurableId", "Score"];
const RISK_FIELDS: &[&str] = &[
    "DurableId",
    "OrgValue",
    "OrgValueRaw",
    "RiskType",
    "SecurityHealthCheckId",
    "Setting",
    "SettingGroup",
    "SettingRiskCategory",
    "StandardValue",
    "StandardValueRaw",
];

struct Cursor {
    version: String,
    entity: &'static str,
    records: Vec<Value>,
    batch: usize,
}

struct SfState {
    tokens: HashMap<String, bool>, // token -> expired
    tokens_issued: usize,
    score: u32,
    risks: Vec<Map<String, Value>>,
    page_size: usize,
    cursors: HashMap<String, Cursor>,
    denied: HashSet<String>,
    hidden: HashSet<String>,
    rate_limits: VecDeque<u64>,
    limit_exceeded: usize,
    faults: VecDeque<u16>,
    api_served: usize,
    requests: Vec<Recorded>,
}

struct Inner {
    state: Mutex<SfState>,
    client_id: String,
    client_secret: String,
    org_id: String,
    user_id: String,
    base: String,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, SfState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running fake of a Salesforce org. Dropping it stops the server.
pub struct SalesforceFake {
    inner: Arc<Inner>,
    handle: JoinHandle<()>,
}

impl Drop for SalesforceFake {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

impl SalesforceFake {
    /// Starts the fake on `127.0.0.1:0` with fresh credentials, score 72 and the default risks.
    pub async fn start() -> SalesforceFake {
        let (listener, addr) = bind().await;
        let org_id = format!("00D{}EAA", random_string(12, ALNUM));
        let inner = Arc::new(Inner {
            state: Mutex::new(SfState {
                tokens: HashMap::new(),
                tokens_issued: 0,
                score: 72,
                risks: default_risks(),
                page_size: DEFAULT_BATCH,
                cursors: HashMap::new(),
                denied: HashSet::new(),
                hidden: HashSet::new(),
                rate_limits: VecDeque::new(),
                limit_exceeded: 0,
                faults: VecDeque::new(),
                api_served: 0,
                requests: Vec::new(),
            }),
            client_id: format!(
                "3MVG9{}.{}",
                random_string(40, ALNUM),
                random_string(40, ALNUM)
            ),
            client_secret: random_string(64, b"0123456789ABCDEF"),
            org_id,
            user_id: format!("005{}AAI", random_string(12, ALNUM)),
            base: format!("http://{addr}"),
        });
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let handle = spawn(listener, app);
        SalesforceFake { inner, handle }
    }

    /// `http://127.0.0.1:PORT` — serves `/services/oauth2/token` and `/services/data/...`.
    pub fn instance_url(&self) -> String {
        self.inner.base.clone()
    }

    /// The valid consumer key.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The valid consumer secret.
    pub fn client_secret(&self) -> &str {
        &self.inner.client_secret
    }

    /// Every token issued so far is invalid: API calls with them get 401
    /// `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`.
    pub fn expire_tokens(&self) {
        for expired in self.inner.lock().tokens.values_mut() {
            *expired = true;
        }
    }

    /// Number of access tokens issued.
    pub fn tokens_issued(&self) -> usize {
        self.inner.lock().tokens_issued
    }

    /// The Health Check score (returned as the string the docs type `Score` as).
    pub fn set_score(&self, score: u32) {
        self.inner.lock().score = score;
    }

    /// Sets `RiskType` and `OrgValue` (and a derived `OrgValueRaw`: the leading number of
    /// `org_value` if any, else `org_value`) of the risk with that `DurableId`. Panics on an unknown
    /// id. The documented `RiskType` values are `HIGH_RISK`, `MEDIUM_RISK`, `MEETS_STANDARD`;
    /// `LOW_RISK` and `INFORMATIONAL` (documented for `SettingRiskCategory`) are accepted too.
    pub fn set_risk(&self, durable_id: &str, risk_type: &str, org_value: &str) {
        const KNOWN: &[&str] = &[
            "HIGH_RISK",
            "MEDIUM_RISK",
            "LOW_RISK",
            "MEETS_STANDARD",
            "INFORMATIONAL",
        ];
        assert!(KNOWN.contains(&risk_type), "unknown RiskType {risk_type:?}");
        let mut st = self.inner.lock();
        let risk = st
            .risks
            .iter_mut()
            .find(|r| r.get("DurableId").and_then(Value::as_str) == Some(durable_id))
            .unwrap_or_else(|| panic!("no SecurityHealthCheckRisks record {durable_id:?}"));
        let raw: String = org_value
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        let raw = if raw.is_empty() {
            org_value.to_owned()
        } else {
            raw
        };
        risk.insert("RiskType".into(), json!(risk_type));
        risk.insert("OrgValue".into(), json!(org_value));
        risk.insert("OrgValueRaw".into(), json!(raw));
    }

    /// The current `SecurityHealthCheckRisks` records (all documented fields, no `attributes`).
    pub fn risks(&self) -> Value {
        Value::Array(
            self.inner
                .lock()
                .risks
                .iter()
                .cloned()
                .map(Value::Object)
                .collect(),
        )
    }

    /// Records per query batch (default 2000, Salesforce's default batch size).
    pub fn set_page_size(&self, n: usize) {
        assert!(n > 0, "page size must be positive");
        self.inner.lock().page_size = n;
    }

    /// Queries of `object` answer 403 `[{"errorCode":"INSUFFICIENT_ACCESS", ...}]` (the user lacks
    /// "View Setup and Configuration", which the object's documentation requires).
    pub fn deny_object(&self, object: &str) {
        self.inner.lock().denied.insert(object.to_ascii_lowercase());
    }

    /// Queries of `object` answer as if the entity were not visible to the user at all:
    /// 400 `INVALID_TYPE` "sObject type '...' is not supported." (how Salesforce answers for setup
    /// entities the user cannot see).
    pub fn hide_object(&self, object: &str) {
        self.inner.lock().hidden.insert(object.to_ascii_lowercase());
    }

    /// The next `n` authenticated API requests answer 429 with `Retry-After: <retry_after_secs>`.
    pub fn rate_limit_next(&self, n: usize, retry_after_secs: u64) {
        let mut st = self.inner.lock();
        for _ in 0..n {
            st.rate_limits.push_back(retry_after_secs);
        }
    }

    /// The next `n` authenticated API requests answer the documented 403
    /// `[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`.
    pub fn request_limit_exceeded_next(&self, n: usize) {
        self.inner.lock().limit_exceeded += n;
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

    /// Number of requests to `/services/data/...` (whatever their outcome).
    pub fn api_requests(&self) -> usize {
        self.inner
            .lock()
            .requests
            .iter()
            .filter(|r| r.path.starts_with("/services/data"))
            .count()
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

async fn route(inner: &Inner, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    match path.as_str() {
        "/services/oauth2/token" => token(inner, req).await,
        "/services/data" | "/services/data/" => versions(),
        p if p.starts_with("/services/data/") => api(inner, req),
        _ => not_found(),
    }
}

/// A Salesforce REST error: a JSON array of `{message, errorCode}`.
fn sf_error(status: u16, code: &str, message: &str) -> Response {
    json_response(
        status,
        &json!([{"message": message, "errorCode": code}]),
        &[],
    )
}

fn not_found() -> Response {
    sf_error(404, "NOT_FOUND", "The requested resource does not exist")
}

fn oauth_error(error: &str, description: &str) -> Response {
    json_response(
        400,
        &json!({"error": error, "error_description": description}),
        &[(
            "Cache-Control",
            "no-cache,must-revalidate,max-age=0,no-store,private".to_owned(),
        )],
    )
}

/// `POST /services/oauth2/token` — "OAuth 2.0 Client Credentials Flow for Server-to-Server
/// Integration" (<https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_client_credentials_flow.htm>).
///
/// Form body `grant_type=client_credentials&client_id=..&client_secret=..` (parameters in the
/// query string and the client credentials in an HTTP Basic header are accepted too). Success:
/// `{"access_token": "00D...!AQ...", "signature", "scope", "instance_url", "id", "token_type":
/// "Bearer", "issued_at"}` — no `expires_in` and no refresh token (the session lasts the org's
/// session timeout). Errors ("OAuth 2.0 Token Endpoint errors"): any grant type other than
/// `client_credentials`, or none → 400 `{"error":"unsupported_grant_type","error_description":
/// "grant type not supported"}`; unknown client id → 400 `{"error":"invalid_client_id",
/// "error_description":"client identifier invalid"}`; wrong secret → 400 `{"error":
/// "invalid_client","error_description":"invalid client credentials"}`.
async fn token(inner: &Inner, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if parts.method != Method::POST {
        return sf_error(
            405,
            "METHOD_NOT_ALLOWED",
            &format!(
                "HTTP Method '{}' not allowed. Allowed are POST",
                parts.method
            ),
        );
    }
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let mut params = form_pairs(parts.uri.query().unwrap_or("").as_bytes());
    params.extend(form_pairs(&bytes));
    if param(&params, "grant_type") != Some("client_credentials") {
        return oauth_error("unsupported_grant_type", "grant type not supported");
    }
    let (id, secret) = match (param(&params, "client_id"), param(&params, "client_secret")) {
        (Some(id), secret) => (id.to_owned(), secret.unwrap_or("").to_owned()),
        (None, _) => basic_credentials(&parts.headers).unwrap_or_default(),
    };
    if id != inner.client_id {
        return oauth_error("invalid_client_id", "client identifier invalid");
    }
    if secret != inner.client_secret {
        return oauth_error("invalid_client", "invalid client credentials");
    }
    let access_token = format!(
        "{}!AQ{}",
        &inner.org_id[..15],
        random_string(
            96,
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._"
        )
    );
    let issued_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
        .to_string();
    let signature =
        base64::engine::general_purpose::STANDARD.encode(uuid::Uuid::new_v4().as_bytes().repeat(2));
    let mut st = inner.lock();
    st.tokens.insert(access_token.clone(), false);
    st.tokens_issued += 1;
    json_response(
        200,
        &json!({
            "access_token": access_token,
            "signature": signature,
            "scope": "api",
            "instance_url": inner.base,
            "id": format!("{}/id/{}/{}", inner.base, inner.org_id, inner.user_id),
            "token_type": "Bearer",
            "issued_at": issued_at,
        }),
        &[(
            "Cache-Control",
            "no-cache,must-revalidate,max-age=0,no-store,private".to_owned(),
        )],
    )
}

/// `GET /services/data/` — "Versions" resource of the REST API (no authentication needed): the
/// list of available versions, oldest first (the fake lists the newest few it accepts).
fn versions() -> Response {
    let labels = [
        (62, "Winter '25"),
        (63, "Spring '25"),
        (64, "Summer '25"),
        (65, "Winter '26"),
        (66, "Spring '26"),
    ];
    let list: Vec<Value> = labels
        .iter()
        .map(|(v, label)| {
            json!({"label": label, "url": format!("/services/data/v{v}.0"), "version": format!("{v}.0")})
        })
        .collect();
    json_response(200, &Value::Array(list), &[])
}

/// Every `/services/data/...` request: faults, then authentication, then limits, then routing.
///
/// "Status Codes and Error Responses" (REST API Developer Guide,
/// <https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm>):
/// errors are a JSON array `[{"message", "errorCode"}]`; 401 "The session ID or OAuth token used
/// has expired or is invalid" → `[{"message":"Session expired or invalid","errorCode":
/// "INVALID_SESSION_ID"}]` (also for a missing `Authorization` header; `Bearer` and `OAuth`
/// schemes are accepted); 403 with `REQUEST_LIMIT_EXCEEDED` when the org's API request limit is
/// exceeded; 404 `NOT_FOUND` for an unknown resource or API version. Successful responses carry
/// `Sforce-Limit-Info: api-usage=N/15000`.
fn api(inner: &Inner, req: Request) -> Response {
    let mut st = inner.lock();
    if let Some(status) = st.faults.pop_front() {
        let code = if status == 503 {
            "SERVER_UNAVAILABLE"
        } else {
            "UNKNOWN_EXCEPTION"
        };
        return sf_error(
            status,
            code,
            "An unexpected error occurred. Please include this ErrorId if you contact support: 1848221474-60813 (-1201334612)",
        );
    }
    let valid = auth_token(req.headers(), &["Bearer", "OAuth"])
        .and_then(|t| st.tokens.get(&t).copied())
        .is_some_and(|expired| !expired);
    if !valid {
        let mut resp = sf_error(401, "INVALID_SESSION_ID", "Session expired or invalid");
        resp.headers_mut().insert(
            "WWW-Authenticate",
            axum::http::HeaderValue::from_static("Token"),
        );
        return resp;
    }
    if st.limit_exceeded > 0 {
        st.limit_exceeded -= 1;
        return sf_error(
            403,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        );
    }
    if let Some(secs) = st.rate_limits.pop_front() {
        return json_response(
            429,
            &json!([{"message": format!("Too many requests. Retry after {secs} seconds."), "errorCode": "REQUEST_LIMIT_EXCEEDED"}]),
            &[("Retry-After", secs.to_string())],
        );
    }
    st.api_served += 1;
    let usage = st.api_served;

    let path = req.uri().path()["/services/data/".len()..].to_owned();
    let segs: Vec<&str> = path.split('/').collect();
    let version = match segs.first().and_then(|v| parse_version(v)) {
        Some(v) => v,
        None => return not_found(),
    };
    let resp = match &segs[1..] {
        ["tooling", "query"] | ["tooling", "query", ""] => {
            if req.method() != Method::GET {
                return method_not_allowed(req.method());
            }
            let params = form_pairs(req.uri().query().unwrap_or("").as_bytes());
            query(&mut st, &version, param(&params, "q"))
        }
        ["tooling", "query", locator] if !locator.is_empty() => {
            if req.method() != Method::GET {
                return method_not_allowed(req.method());
            }
            query_more(&mut st, locator)
        }
        _ => return not_found(),
    };
    let mut resp = resp;
    if let Ok(v) = axum::http::HeaderValue::from_str(&format!("api-usage={usage}/15000")) {
        resp.headers_mut().insert("Sforce-Limit-Info", v);
    }
    resp
}

fn method_not_allowed(method: &Method) -> Response {
    sf_error(
        405,
        "METHOD_NOT_ALLOWED",
        &format!("HTTP Method '{method}' not allowed. Allowed are GET,HEAD"),
    )
}

/// `v59.0` → `"v59.0"` when within the accepted range.
fn parse_version(seg: &str) -> Option<String> {
    let digits = seg.strip_prefix('v')?.strip_suffix(".0")?;
    let n: u32 = digits.parse().ok()?;
    (MIN_VERSION..=MAX_VERSION)
        .contains(&n)
        .then(|| seg.to_owned())
}

/// `GET /services/data/vNN.N/tooling/query/?q=SOQL` — Tooling API "Query" resource
/// (<https://developer.salesforce.com/docs/atlas.en-us.api_tooling.meta/api_tooling/intro_rest_resources.htm>)
/// over `SecurityHealthCheck` (<https://developer.salesforce.com/docs/atlas.en-us.api_tooling.meta/api_tooling/tooling_api_objects_securityhealthcheck.htm>:
/// `CustomBaselineId`, `DurableId`, `Score` — all typed **string**, `Score` "can range from 0 to
/// 100") and `SecurityHealthCheckRisks`
/// (<https://developer.salesforce.com/docs/atlas.en-us.api_tooling.meta/api_tooling/tooling_api_objects_securityhealthcheckrisks.htm>:
/// `DurableId`, `OrgValue`, `OrgValueRaw`, `RiskType` ∈ {HIGH_RISK, MEDIUM_RISK, MEETS_STANDARD},
/// `SecurityHealthCheckId`, `Setting`, `SettingGroup`, `SettingRiskCategory` ∈ {HIGH_RISK,
/// MEDIUM_RISK, LOW_RISK, INFORMATIONAL}, `StandardValue`, `StandardValueRaw`).
///
/// Response: `{"size", "totalSize", "done", "queryLocator", "entityTypeName", "nextRecordsUrl"?,
/// "records": [{"attributes": {"type", "url"}, <selected fields>}]}`; `size` is the total like
/// `totalSize` (the SOAP `QueryResult.size`); when more records remain, `done` is false,
/// `queryLocator` is `01g...-N` and `nextRecordsUrl` is `/services/data/vNN.N/tooling/query/01g...-N`.
///
/// SOQL understood: `SELECT f1, f2 FROM Object [WHERE f = 'v' [AND f2 IN ('a','b') ...]]
/// [ORDER BY f [ASC|DESC]] [LIMIT n]`; keywords, object and field names case-insensitive; string
/// comparison case-insensitive as in SOQL. Errors: unknown object → 400 `INVALID_TYPE`, unknown
/// field → 400 `INVALID_FIELD`, anything else not understood → 400 `MALFORMED_QUERY`; messages
/// in Salesforce's `\n<query>\n<caret>\nERROR at Row:1:Column:N\n<text>` form. Denied object
/// ([`SalesforceFake::deny_object`]) → 403 `INSUFFICIENT_ACCESS` (403: "The request has been
/// refused. Verify that the logged-in user has appropriate permissions.").
fn query(st: &mut SfState, version: &str, q: Option<&str>) -> Response {
    let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) else {
        return sf_error(400, "MALFORMED_QUERY", "A query string has to be specified");
    };
    let parsed = match parse_soql(q) {
        Ok(p) => p,
        Err(e) => return *e,
    };
    let Some(entity) = canonical_entity(&parsed.object.0) else {
        return soql_error(
            q,
            parsed.object.1,
            "INVALID_TYPE",
            &format!(
                "sObject type '{}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.",
                parsed.object.0
            ),
        );
    };
    let key = entity.to_ascii_lowercase();
    if st.hidden.contains(&key) {
        return soql_error(
            q,
            parsed.object.1,
            "INVALID_TYPE",
            &format!(
                "sObject type '{}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.",
                parsed.object.0
            ),
        );
    }
    let fields: &[&str] = if entity == "SecurityHealthCheck" {
        HEALTH_CHECK_FIELDS
    } else {
        RISK_FIELDS
    };
    let resolve = |name: &str| {
        fields
            .iter()
            .find(|f| f.eq_ignore_ascii_case(name))
            .copied()
    };
    let no_column = |name: &str, col: usize| {
        soql_error(
            q,
            col,
            "INVALID_FIELD",
            &format!(
                "No such column '{name}' on entity '{entity}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names."
            ),
        )
    };
    let mut selected = Vec::new();
    for (name, col) in &parsed.fields {
        match resolve(name) {
            Some(f) => selected.push(f),
            None => return no_column(name, *col),
        }
    }
    let mut conditions = Vec::new();
    for cond in &parsed.conditions {
        match resolve(&cond.field.0) {
            Some(f) => conditions.push((f, &cond.values, cond.negated)),
            None => return no_column(&cond.field.0, cond.field.1),
        }
    }
    let order = match &parsed.order {
        Some(((name, col), desc)) => match resolve(name) {
            Some(f) => Some((f, *desc)),
            None => return no_column(name, *col),
        },
        None => None,
    };
    if st.denied.contains(&key) {
        return sf_error(
            403,
            "INSUFFICIENT_ACCESS",
            "Insufficient Privileges: You do not have the level of access necessary to perform the operation you requested. Please contact the owner of the record or your administrator if access is necessary.",
        );
    }

    let mut rows: Vec<Map<String, Value>> = if entity == "SecurityHealthCheck" {
        let mut m = Map::new();
        m.insert("CustomBaselineId".into(), Value::Null);
        m.insert("DurableId".into(), json!(HEALTH_CHECK_ID));
        m.insert("Score".into(), json!(st.score.to_string()));
        vec![m]
    } else {
        st.risks.clone()
    };
    rows.retain(|row| {
        conditions.iter().all(|(field, values, negated)| {
            let actual = row.get(*field).unwrap_or(&Value::Null);
            let hit = values.iter().any(|v| soql_eq(actual, v));
            hit != *negated
        })
    });
    if let Some((field, desc)) = order {
        rows.sort_by(|a, b| {
            let ka = a
                .get(field)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_lowercase();
            let kb = b
                .get(field)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_lowercase();
            if desc {
                kb.cmp(&ka)
            } else {
                ka.cmp(&kb)
            }
        });
    }
    if let Some(limit) = parsed.limit {
        rows.truncate(limit);
    }
    let records: Vec<Value> = rows
        .iter()
        .map(|row| {
            let id = row.get("DurableId").and_then(Value::as_str).unwrap_or("");
            let mut rec = Map::new();
            rec.insert(
                "attributes".into(),
                json!({
                    "type": entity,
                    "url": format!("/services/data/{version}/tooling/sobjects/{entity}/{id}"),
                }),
            );
            for f in &selected {
                rec.insert((*f).to_owned(), row.get(*f).cloned().unwrap_or(Value::Null));
            }
            Value::Object(rec)
        })
        .collect();
    let batch = st.page_size;
    let cursor = Cursor {
        version: version.to_owned(),
        entity,
        records,
        batch,
    };
    serve_batch(st, None, cursor, 0)
}

/// `GET /services/data/vNN.N/tooling/query/{queryLocator}` — the next batch at a query's
/// `nextRecordsUrl` ("Execute a SOQL query ... If the initial query returns only part of the
/// results, the end of the response contains nextRecordsUrl"). A locator that is unknown, whose
/// results were already read to the end, or whose offset is out of range → 400
/// `[{"message":"invalid query locator","errorCode":"INVALID_QUERY_LOCATOR"}]`.
fn query_more(st: &mut SfState, locator: &str) -> Response {
    let invalid = || sf_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator");
    let Some((id, offset)) = locator.rsplit_once('-') else {
        return invalid();
    };
    let Ok(offset) = offset.parse::<usize>() else {
        return invalid();
    };
    let Some(cursor) = st.cursors.remove(id) else {
        return invalid();
    };
    if offset == 0 || offset >= cursor.records.len() {
        st.cursors.insert(id.to_owned(), cursor);
        return invalid();
    }
    serve_batch(st, Some(id.to_owned()), cursor, offset)
}

fn serve_batch(st: &mut SfState, id: Option<String>, cursor: Cursor, offset: usize) -> Response {
    let total = cursor.records.len();
    let end = (offset + cursor.batch).min(total);
    let page: Vec<Value> = cursor.records[offset..end].to_vec();
    let done = end >= total;
    let mut body = json!({
        "size": total,
        "totalSize": total,
        "done": done,
        "queryLocator": Value::Null,
        "entityTypeName": cursor.entity,
        "records": page,
    });
    if !done {
        let id = id.unwrap_or_else(|| format!("01g{}", random_string(15, ALNUM)));
        let locator = format!("{id}-{end}");
        body["queryLocator"] = json!(locator);
        body["nextRecordsUrl"] = json!(format!(
            "/services/data/{}/tooling/query/{locator}",
            cursor.version
        ));
        st.cursors.insert(id, cursor);
    }
    json_response(200, &body, &[])
}

fn canonical_entity(name: &str) -> Option<&'static str> {
    ["SecurityHealthCheck", "SecurityHealthCheckRisks"]
        .into_iter()
        .find(|e| e.eq_ignore_ascii_case(name))
}

fn soql_eq(actual: &Value, literal: &Literal) -> bool {
    match (actual, literal) {
        (Value::Null, Literal::Null) => true,
        (Value::Null, _) | (_, Literal::Null) => false,
        (Value::String(a), Literal::Text(b)) => a.eq_ignore_ascii_case(b),
        (Value::String(a), Literal::Other(b)) => a.eq_ignore_ascii_case(b),
        (other, Literal::Text(b) | Literal::Other(b)) => other.to_string().as_str() == b.as_str(),
    }
}

fn soql_error(q: &str, col: usize, code: &str, text: &str) -> Response {
    let line = q.replace(['\n', '\r'], " ");
    let caret = format!("{}^", " ".repeat(col.saturating_sub(1)));
    sf_error(
        400,
        code,
        &format!("\n{line}\n{caret}\nERROR at Row:1:Column:{col}\n{text}"),
    )
}

// ---------------------------------------------------------------------------------------------
// A very small SOQL reader.

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Text(String),
    Comma,
    LParen,
    RParen,
    Op(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Text(String),
    Other(String),
    Null,
}

struct Condition {
    field: (String, usize),
    values: Vec<Literal>,
    negated: bool,
}

struct Soql {
    fields: Vec<(String, usize)>,
    object: (String, usize),
    conditions: Vec<Condition>,
    order: Option<((String, usize), bool)>,
    limit: Option<usize>,
}

/// A parse failure: the 400 response, boxed to keep `Result`s small.
type Fail = Box<Response>;

fn malformed(q: &str, col: usize, found: &str) -> Fail {
    Box::new(soql_error(
        q,
        col,
        "MALFORMED_QUERY",
        &format!("unexpected token: '{found}'"),
    ))
}

fn tokenize(q: &str) -> Result<Vec<(Tok, usize)>, Fail> {
    let chars: Vec<char> = q.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c == ',' {
            out.push((Tok::Comma, col));
            i += 1;
        } else if c == '(' {
            out.push((Tok::LParen, col));
            i += 1;
        } else if c == ')' {
            out.push((Tok::RParen, col));
            i += 1;
        } else if c == '\'' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(malformed(q, col, "'")),
                    Some('\\') => {
                        if let Some(n) = chars.get(i + 1) {
                            s.push(match n {
                                'n' => '\n',
                                't' => '\t',
                                other => *other,
                            });
                        }
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(ch) => {
                        s.push(*ch);
                        i += 1;
                    }
                }
            }
            out.push((Tok::Text(s), col));
        } else if "=!<>".contains(c) {
            let mut op = c.to_string();
            if let Some(n) = chars.get(i + 1) {
                if (c == '!' || c == '<' || c == '>') && (*n == '=' || (c == '<' && *n == '>')) {
                    op.push(*n);
                }
            }
            i += op.chars().count();
            out.push((Tok::Op(op), col));
        } else if c.is_alphanumeric() || c == '_' || c == '.' || c == '-' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || "_.-:".contains(chars[i])) {
                i += 1;
            }
            out.push((Tok::Word(chars[start..i].iter().collect()), col));
        } else {
            return Err(malformed(q, col, &c.to_string()));
        }
    }
    Ok(out)
}

fn is_kw(tok: Option<&(Tok, usize)>, kw: &str) -> bool {
    matches!(tok, Some((Tok::Word(w), _)) if w.eq_ignore_ascii_case(kw))
}

fn tok_text(tok: &Tok) -> String {
    match tok {
        Tok::Word(w) => w.clone(),
        Tok::Text(t) => format!("'{t}'"),
        Tok::Comma => ",".into(),
        Tok::LParen => "(".into(),
        Tok::RParen => ")".into(),
        Tok::Op(o) => o.clone(),
    }
}

fn parse_soql(q: &str) -> Result<Soql, Fail> {
    let toks = tokenize(q)?;
    let mut i = 0;
    let end_col = q.chars().count() + 1;
    let unexpected = |i: usize| -> Fail {
        match toks.get(i) {
            Some((t, col)) => malformed(q, *col, &tok_text(t)),
            None => malformed(q, end_col, "<EOF>"),
        }
    };
    if !is_kw(toks.get(i), "SELECT") {
        return Err(unexpected(i));
    }
    i += 1;
    let mut fields = Vec::new();
    loop {
        match toks.get(i) {
            Some((Tok::Word(w), col)) if !w.eq_ignore_ascii_case("FROM") => {
                if matches!(toks.get(i + 1), Some((Tok::LParen, _))) {
                    // Aggregate functions and the like are not supported by the fake.
                    return Err(unexpected(i + 1));
                }
                fields.push((w.clone(), *col));
                i += 1;
            }
            _ => return Err(unexpected(i)),
        }
        match toks.get(i) {
            Some((Tok::Comma, _)) => i += 1,
            _ if is_kw(toks.get(i), "FROM") => break,
            _ => return Err(unexpected(i)),
        }
    }
    i += 1; // FROM
    let object = match toks.get(i) {
        Some((Tok::Word(w), col)) => (w.clone(), *col),
        _ => return Err(unexpected(i)),
    };
    i += 1;
    let mut conditions = Vec::new();
    if is_kw(toks.get(i), "WHERE") {
        i += 1;
        loop {
            let field = match toks.get(i) {
                Some((Tok::Word(w), col)) => (w.clone(), *col),
                _ => return Err(unexpected(i)),
            };
            i += 1;
            let literal = |t: Option<&(Tok, usize)>| -> Option<Literal> {
                match t {
                    Some((Tok::Text(s), _)) => Some(Literal::Text(s.clone())),
                    Some((Tok::Word(w), _)) if w.eq_ignore_ascii_case("null") => {
                        Some(Literal::Null)
                    }
                    Some((Tok::Word(w), _)) => Some(Literal::Other(w.clone())),
                    _ => None,
                }
            };
            let (values, negated) = match toks.get(i) {
                Some((Tok::Op(op), _)) if op == "=" || op == "!=" || op == "<>" => {
                    let v = literal(toks.get(i + 1)).ok_or_else(|| unexpected(i + 1))?;
                    i += 2;
                    (vec![v], op != "=")
                }
                _ if is_kw(toks.get(i), "IN") || is_kw(toks.get(i), "NOT") => {
                    let negated = is_kw(toks.get(i), "NOT");
                    if negated {
                        i += 1;
                        if !is_kw(toks.get(i), "IN") {
                            return Err(unexpected(i));
                        }
                    }
                    i += 1;
                    if !matches!(toks.get(i), Some((Tok::LParen, _))) {
                        return Err(unexpected(i));
                    }
                    i += 1;
                    let mut values = Vec::new();
                    loop {
                        values.push(literal(toks.get(i)).ok_or_else(|| unexpected(i))?);
                        i += 1;
                        match toks.get(i) {
                            Some((Tok::Comma, _)) => i += 1,
                            Some((Tok::RParen, _)) => {
                                i += 1;
                                break;
                            }
                            _ => return Err(unexpected(i)),
                        }
                    }
                    (values, negated)
                }
                _ => return Err(unexpected(i)),
            };
            conditions.push(Condition {
                field,
                values,
                negated,
            });
            if is_kw(toks.get(i), "AND") {
                i += 1;
                continue;
            }
            break;
        }
    }
    let mut order = None;
    if is_kw(toks.get(i), "ORDER") {
        i += 1;
        if !is_kw(toks.get(i), "BY") {
            return Err(unexpected(i));
        }
        i += 1;
        let field = match toks.get(i) {
            Some((Tok::Word(w), col)) => (w.clone(), *col),
            _ => return Err(unexpected(i)),
        };
        i += 1;
        let mut desc = false;
        if is_kw(toks.get(i), "ASC") {
            i += 1;
        } else if is_kw(toks.get(i), "DESC") {
            desc = true;
            i += 1;
        }
        order = Some((field, desc));
    }
    let mut limit = None;
    if is_kw(toks.get(i), "LIMIT") {
        i += 1;
        match toks.get(i) {
            Some((Tok::Word(w), _)) if w.parse::<usize>().is_ok() => {
                limit = w.parse().ok();
                i += 1;
            }
            _ => return Err(unexpected(i)),
        }
    }
    if i != toks.len() {
        return Err(unexpected(i));
    }
    Ok(Soql {
        fields,
        object,
        conditions,
        order,
        limit,
    })
}

// ---------------------------------------------------------------------------------------------

/// The default Health Check findings: 25 settings across Password Policies, Session Settings,
/// Certificate and Key Management, Network Access and Login Access Policies, mixed risks.
/// `DurableId`s use the `<Group>.<setting>` identifiers of Health Check's custom baseline file
/// ("Custom Baseline File Requirements"), e.g. `PasswordPolicies.obscureSecretAnswer`.
fn default_risks() -> Vec<Map<String, Value>> {
    // (DurableId, Setting, SettingGroup, SettingRiskCategory, OrgValue, OrgValueRaw,
    //  StandardValue, StandardValueRaw, RiskType)
    let rows: &[[&str; 9]] = &[
        [
            "PasswordPolicies.minPasswordLength",
            "Minimum password length",
            "Password Policies",
            "HIGH_RISK",
            "8 characters",
            "8",
            "8 characters",
            "8",
            "MEETS_STANDARD",
        ],
        [
            "PasswordPolicies.expiration",
            "User passwords expire in",
            "Password Policies",
            "HIGH_RISK",
            "Never expires",
            "0",
            "90 days",
            "90",
            "HIGH_RISK",
        ],
        [
            "PasswordPolicies.history",
            "Enforce password history",
            "Password Policies",
            "HIGH_RISK",
            "3 passwords remembered",
            "3",
            "3 passwords remembered",
            "3",
            "MEETS_STANDARD",
        ],
        [
            "PasswordPolicies.complexity",
            "Password complexity requirement",
            "Password Policies",
            "HIGH_RISK",
            "Must include alpha and numeric characters",
            "AlphaNumeric",
            "Must include alpha and numeric characters",
            "AlphaNumeric",
            "MEETS_STANDARD",
        ],
        [
            "PasswordPolicies.maxLoginAttempts",
            "Maximum invalid login attempts",
            "Password Policies",
            "HIGH_RISK",
            "10",
            "10",
            "5",
            "5",
            "MEDIUM_RISK",
        ],
        [
            "PasswordPolicies.lockoutInterval",
            "Lockout effective period",
            "Password Policies",
            "MEDIUM_RISK",
            "15 minutes",
            "15",
            "15 minutes",
            "15",
            "MEETS_STANDARD",
        ],
        [
            "PasswordPolicies.obscureSecretAnswer",
            "Obscure secret answer for password resets",
            "Password Policies",
            "MEDIUM_RISK",
            "Disabled",
            "false",
            "Enabled",
            "true",
            "MEDIUM_RISK",
        ],
        [
            "PasswordPolicies.minOneDayPasswordLifetime",
            "Require a minimum 1 day password lifetime",
            "Password Policies",
            "MEDIUM_RISK",
            "Disabled",
            "false",
            "Enabled",
            "true",
            "MEDIUM_RISK",
        ],
        [
            "PasswordPolicies.questionRestriction",
            "Password question requirement",
            "Password Policies",
            "LOW_RISK",
            "Cannot contain password",
            "DoesNotContainPassword",
            "Cannot contain password",
            "DoesNotContainPassword",
            "MEETS_STANDARD",
        ],
        [
            "SessionSettings.timeout",
            "Timeout value",
            "Session Settings",
            "HIGH_RISK",
            "12 hours",
            "720",
            "2 hours",
            "120",
            "HIGH_RISK",
        ],
        [
            "SessionSettings.forceLogoutOnTimeout",
            "Force logout on session timeout",
            "Session Settings",
            "MEDIUM_RISK",
            "Disabled",
            "false",
            "Enabled",
            "true",
            "MEDIUM_RISK",
        ],
        [
            "SessionSettings.lockSessionsToIp",
            "Lock sessions to the IP address from which they originated",
            "Session Settings",
            "LOW_RISK",
            "Disabled",
            "false",
            "Enabled",
            "true",
            "MEDIUM_RISK",
        ],
        [
            "SessionSettings.clickjackSetup",
            "Enable clickjack protection for Setup pages",
            "Session Settings",
            "HIGH_RISK",
            "Enabled",
            "true",
            "Enabled",
            "true",
            "MEETS_STANDARD",
        ],
        [
            "SessionSettings.clickjackNonSetup",
            "Enable clickjack protection for non-Setup Salesforce pages",
            "Session Settings",
            "HIGH_RISK",
            "Enabled",
            "true",
            "Enabled",
            "true",
            "MEETS_STANDARD",
        ],
        [
            "SessionSettings.csrfGet",
            "Enable CSRF protection on GET requests on non-setup pages",
            "Session Settings",
            "HIGH_RISK",
            "Enabled",
            "true",
            "Enabled",
            "true",
            "MEETS_STANDARD",
        ],
        [
            "SessionSettings.requireHttpOnly",
            "Require HttpOnly attribute",
            "Session Settings",
            "MEDIUM_RISK",
            "Disabled",
            "false",
            "Enabled",
            "true",
            "MEDIUM_RISK",
        ],
        [
            "SessionSettings.forceRelogin",
            "Force relogin after Login-As-User",
            "Session Settings",
            "MEDIUM_RISK",
            "Enabled",
            "true",
            "Enabled",
            "true",
            "MEETS_STANDARD",
        ],
        [
            "SessionSettings.contentSniffingProtection",
            "Enable Content Sniffing protection",
            "Session Settings",
            "INFORMATIONAL",
            "Enabled",
            "true",
            "Enabled",
            "true",
            "MEETS_STANDARD",
        ],
        [
            "CertificateAndKeyManagement.expiredCert",
            "Expired certificates",
            "Certificate and Key Management",
            "HIGH_RISK",
            "1 expired certificate",
            "1",
            "No expired certificates",
            "0",
            "HIGH_RISK",
        ],
        [
            "NetworkSecurity.trustedIpRangesConfigured",
            "Trusted IP ranges",
            "Network Access",
            "HIGH_RISK",
            "0.0.0.0 to 255.255.255.255",
            "0.0.0.0-255.255.255.255",
            "No range that allows all IP addresses",
            "",
            "HIGH_RISK",
        ],
        [
            "Identity.mfaEnabled",
            "Multi-factor authentication for user interface logins",
            "Identity Verification",
            "HIGH_RISK",
            "Disabled",
            "false",
            "Enabled",
            "true",
            "HIGH_RISK",
        ],
        [
            "SessionSettings.lockSessionsToDomain",
            "Lock sessions to the domain in which they were first used",
            "Session Settings",
            "HIGH_RISK",
            "Enabled",
            "true",
            "Enabled",
            "true",
            "MEETS_STANDARD",
        ],
        [
            "SessionSettings.enforceLoginIp",
            "Enforce login IP ranges on every request",
            "Session Settings",
            "MEDIUM_RISK",
            "Disabled",
            "false",
            "Enabled",
            "true",
            "MEDIUM_RISK",
        ],
        [
            "SessionSettings.enableSmsIdentity",
            "Enable the SMS method of identity confirmation",
            "Session Settings",
            "MEDIUM_RISK",
            "Enabled",
            "true",
            "Enabled",
            "true",
            "MEETS_STANDARD",
        ],
        [
            "LoginAccessPolicies.adminLoginAsAnyUser",
            "Administrators can log in as any user",
            "Login Access Policies",
            "MEDIUM_RISK",
            "Enabled",
            "true",
            "Disabled",
            "false",
            "MEDIUM_RISK",
        ],
    ];
    rows.iter()
        .map(|r| {
            let mut m = Map::new();
            m.insert("DurableId".into(), json!(r[0]));
            m.insert("Setting".into(), json!(r[1]));
            m.insert("SettingGroup".into(), json!(r[2]));
            m.insert("SettingRiskCategory".into(), json!(r[3]));
            m.insert("OrgValue".into(), json!(r[4]));
            m.insert("OrgValueRaw".into(), json!(r[5]));
            m.insert("StandardValue".into(), json!(r[6]));
            m.insert("StandardValueRaw".into(), json!(r[7]));
            m.insert("RiskType".into(), json!(r[8]));
            m.insert("SecurityHealthCheckId".into(), json!(HEALTH_CHECK_ID));
            m
        })
        .collect()
}
