//! The `salesforce` kind: a Salesforce org's Health Check, read with the OAuth 2.0 client
//! credentials flow.
//!
//! Documentation:
//! - "OAuth 2.0 Client Credentials Flow for Server-to-Server Integration" (Salesforce Help),
//!   <https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_client_credentials_flow.htm>:
//!   `POST https://{My Domain}/services/oauth2/token` with the form `grant_type=
//!   client_credentials&client_id=..&client_secret=..`; the answer is `{access_token,
//!   signature, scope, instance_url, id, token_type, issued_at}`. API calls go to the
//!   returned `instance_url` (checked against the Salesforce host rule like the credential).
//!   Errors are `{"error": .., "error_description": ..}` (`invalid_client_id`,
//!   `invalid_client`, `invalid_grant` "no client credentials user enabled", ...).
//! - "SecurityHealthCheck" (Tooling API),
//!   <https://developer.salesforce.com/docs/atlas.en-us.api_tooling.meta/api_tooling/tooling_api_objects_securityhealthcheck.htm>:
//!   fields `CustomBaselineId`, `DurableId`, `Score` (a string, 0 to 100); needs "View
//!   Setup and Configuration".
//! - "SecurityHealthCheckRisks" (Tooling API),
//!   <https://developer.salesforce.com/docs/atlas.en-us.api_tooling.meta/api_tooling/tooling_api_objects_securityhealthcheckrisks.htm>:
//!   fields `DurableId`, `OrgValue`, `RiskType` (`HIGH_RISK`, `MEDIUM_RISK`,
//!   `MEETS_STANDARD`), `Setting`, `SettingGroup`, `StandardValue`, ...
//! - "Query" (REST API Developer Guide),
//!   <https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_query.htm>:
//!   `GET /services/data/vXX.X/tooling/query/?q=SOQL`; a page with `done: false` names the
//!   next in `nextRecordsUrl`.
//! - "Status Codes and Error Responses" (REST API Developer Guide),
//!   <https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm>:
//!   bodies `[{"message": .., "errorCode": ..}]`; 401 `INVALID_SESSION_ID` (expired or
//!   invalid session), 403 `REQUEST_LIMIT_EXCEEDED` (the org's API limit), 403 other
//!   codes (no permission).
//! - The Health Check setting identifiers are those of the Salesforce Baseline Standard
//!   ("Custom Baseline File Requirements", Salesforce Help,
//!   <https://help.salesforce.com/s/articleView?id=xcloud.security_custom_baseline_file_requirements.htm>),
//!   e.g. `PasswordPolicies.minPasswordLength`, which `SecurityHealthCheckRisks` returns as
//!   `DurableId`.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use async_trait::async_trait;
use reqwest::Url;
use serde_json::{json, Map, Value};

use crate::http::{HttpClient, HttpRequest, HttpResponse};
use crate::model::{
    Category, Check, CheckResult, ConnectorError, Credentials, Expected, FieldSpec, KindInfo,
    Readings, Risk, RunStats, Source,
};
use crate::session::{AccessToken, Rejection, Session, TokenSource};
use crate::zoom::truncate;
use crate::ComplianceKind;

/// The Tooling API version used (Winter '25; the objects exist since 37.0).
pub const API_VERSION: &str = "v62.0";
/// The Health Check score query.
pub const SCORE_SOQL: &str = "SELECT Score, CustomBaselineId, DurableId FROM SecurityHealthCheck";
/// The Health Check settings query.
pub const RISKS_SOQL: &str =
    "SELECT DurableId, SettingGroup, Setting, RiskType, OrgValue, StandardValue FROM SecurityHealthCheckRisks";
/// The score request (its document: the query response with every page's records merged).
pub const SCORE: &str = "GET /services/data/v62.0/tooling/query/?q=SELECT Score, CustomBaselineId, DurableId FROM SecurityHealthCheck";
/// The settings request. Its document is an object keyed by each record's `DurableId` (an
/// array index would not be stable), e.g. `{"PasswordPolicies.minPasswordLength":
/// {"RiskType": "MEETS_STANDARD", "OrgValue": "8", ...}}`.
pub const RISKS: &str = "GET /services/data/v62.0/tooling/query/?q=SELECT DurableId, SettingGroup, Setting, RiskType, OrgValue, StandardValue FROM SecurityHealthCheckRisks";
/// Pages of one query at most (a safety stop).
pub const MAX_PAGES: u32 = 1000;
/// `min_score` when the settings do not say.
pub const DEFAULT_MIN_SCORE: f64 = 80.0;

pub struct Salesforce {
    info: KindInfo,
}

pub(crate) static SALESFORCE: LazyLock<Salesforce> = LazyLock::new(|| Salesforce { info: info() });

fn info() -> KindInfo {
    KindInfo {
        kind: "salesforce",
        name: "Salesforce",
        category: Category::Compliance,
        service: "salesforce",
        credential_fields: vec![
            FieldSpec {
                name: "instance_url",
                secret: false,
                required: true,
                description: "Your org's My Domain URL, e.g. https://yourcompany.my.salesforce.com",
            },
            FieldSpec {
                name: "client_id",
                secret: false,
                required: true,
                description: "Consumer key of the external client app (or connected app) with \
                              the Client Credentials Flow enabled",
            },
            FieldSpec {
                name: "client_secret",
                secret: true,
                required: true,
                description: "Consumer secret of that app; its Run As user needs the \
                              permission View Setup and Configuration",
            },
        ],
        settings_fields: vec![FieldSpec {
            name: "min_score",
            secret: false,
            required: false,
            description: "Lowest Health Check score (0 to 100) that passes; default 80",
        }],
        checks: checks_for(DEFAULT_MIN_SCORE),
    }
}

fn risk_check(
    id: &str,
    title: &str,
    action_id: &str,
    durable_id: &str,
    expected: Expected,
    severity: Risk,
    explain: &str,
) -> Check {
    Check {
        id: id.into(),
        title: title.into(),
        action_id: action_id.into(),
        source: Source {
            request: RISKS.into(),
            pointer: format!("/{durable_id}/RiskType"),
        },
        expected,
        explain: format!(
            "{explain} Read from the RiskType of the SecurityHealthCheckRisks record whose \
             DurableId is {durable_id} (the query's records are presented as an object keyed \
             by DurableId); a failure takes its risk from that RiskType."
        ),
        severity,
    }
}

fn meets_standard() -> Expected {
    Expected::Equals(json!("MEETS_STANDARD"))
}

/// The Salesforce checks, the score check expecting at least `min_score`.
pub fn checks_for(min_score: f64) -> Vec<Check> {
    vec![
        Check {
            id: "salesforce-health-check-score".into(),
            title: "Health Check score is at least the required minimum".into(),
            action_id: "salesforce-health-check".into(),
            source: Source {
                request: SCORE.into(),
                pointer: "/records/0/Score".into(),
            },
            expected: Expected::Min { min: min_score },
            explain: "The org's Health Check score (0 to 100) against its baseline, from the \
                      Score of the single SecurityHealthCheck record; the minimum is the \
                      connector's min_score setting (default 80)."
                .into(),
            severity: Risk::Medium,
        },
        risk_check(
            "salesforce-min-password-length",
            "Minimum password length meets the baseline",
            "salesforce-password-policy",
            "PasswordPolicies.minPasswordLength",
            meets_standard(),
            Risk::Medium,
            "Password Policies: minimum password length (baseline: 8 or more).",
        ),
        risk_check(
            "salesforce-password-complexity",
            "Password complexity meets the baseline",
            "salesforce-password-policy",
            "PasswordPolicies.complexity",
            meets_standard(),
            Risk::Medium,
            "Password Policies: password complexity requirement (baseline: letters and \
             numbers or stronger).",
        ),
        risk_check(
            "salesforce-password-expiration",
            "Password expiration meets the baseline",
            "salesforce-password-policy",
            "PasswordPolicies.expiration",
            meets_standard(),
            Risk::Medium,
            "Password Policies: user passwords expire in (baseline: 90 days or less).",
        ),
        risk_check(
            "salesforce-password-history",
            "Password history meets the baseline",
            "salesforce-password-policy",
            "PasswordPolicies.history",
            meets_standard(),
            Risk::Medium,
            "Password Policies: passwords remembered (baseline: 3 or more).",
        ),
        risk_check(
            "salesforce-max-login-attempts",
            "Maximum invalid login attempts meets the baseline",
            "salesforce-login-lockout",
            "PasswordPolicies.maxLoginAttempts",
            meets_standard(),
            Risk::High,
            "Password Policies: maximum invalid login attempts before lockout (baseline: 3).",
        ),
        risk_check(
            "salesforce-lockout-interval",
            "Lockout effective period meets the baseline",
            "salesforce-login-lockout",
            "PasswordPolicies.lockoutInterval",
            meets_standard(),
            Risk::Low,
            "Password Policies: lockout effective period (baseline: 30 minutes or more).",
        ),
        risk_check(
            "salesforce-session-timeout",
            "Session timeout meets the baseline",
            "salesforce-session-security",
            "SessionSettings.timeout",
            meets_standard(),
            Risk::Low,
            "Session Settings: timeout value (baseline: 2 hours or less).",
        ),
        risk_check(
            "salesforce-lock-sessions-to-domain",
            "Sessions are locked to the domain where they started",
            "salesforce-session-security",
            "SessionSettings.lockSessionsToDomain",
            meets_standard(),
            Risk::High,
            "Session Settings: lock sessions to the domain in which they were first used.",
        ),
        risk_check(
            "salesforce-require-httponly",
            "Session cookies are HttpOnly",
            "salesforce-session-security",
            "SessionSettings.requireHttpOnly",
            meets_standard(),
            Risk::High,
            "Session Settings: require HttpOnly attribute.",
        ),
        risk_check(
            "salesforce-enforce-login-ip",
            "Login IP ranges are enforced on every request",
            "salesforce-login-ip-restrictions",
            "SessionSettings.enforceLoginIp",
            meets_standard(),
            Risk::Medium,
            "Session Settings: enforce login IP ranges on every request.",
        ),
        risk_check(
            "salesforce-lock-sessions-to-ip",
            "Sessions are locked to the IP address where they started",
            "salesforce-login-ip-restrictions",
            "SessionSettings.lockSessionsToIp",
            Expected::OneOf {
                one_of: vec![json!("MEETS_STANDARD"), json!("INFORMATIONAL")],
            },
            Risk::Low,
            "Session Settings: lock sessions to the IP address from which they originated \
             (informational in the Salesforce Baseline Standard, so INFORMATIONAL passes).",
        ),
        risk_check(
            "salesforce-mfa",
            "Multi-factor authentication is required",
            "salesforce-mfa",
            "Identity.mfaEnabled",
            meets_standard(),
            Risk::High,
            "Identity: multi-factor authentication for user interface logins.",
        ),
        risk_check(
            "salesforce-sms-identity-verification",
            "SMS identity confirmation is enabled",
            "salesforce-mfa",
            "SessionSettings.enableSmsIdentity",
            meets_standard(),
            Risk::Medium,
            "Session Settings: enable SMS-based identity confirmation for logins from \
             unrecognised browsers.",
        ),
    ]
}

/// `min_score` of the settings, or the default.
pub fn min_score(settings: &Map<String, Value>) -> f64 {
    settings
        .get("min_score")
        .and_then(|v| match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
        .filter(|v: &f64| (0.0..=100.0).contains(v))
        .unwrap_or(DEFAULT_MIN_SCORE)
}

/// The risk of a failed settings check: its RiskType.
fn risk_of(check: &Check, value: &Value) -> Option<Risk> {
    if !check.source.pointer.ends_with("/RiskType") {
        return None;
    }
    match value.as_str()? {
        "HIGH_RISK" => Some(Risk::High),
        "MEDIUM_RISK" => Some(Risk::Medium),
        "LOW_RISK" => Some(Risk::Low),
        _ => None,
    }
}

/// The Salesforce token endpoint and error format, for one set of credentials.
pub(crate) struct SalesforceAuth {
    instance: Url,
    client_id: String,
    client_secret: String,
}

impl SalesforceAuth {
    fn new(client: &HttpClient, creds: &Credentials) -> Result<Self, ConnectorError> {
        let instance = client
            .endpoints()
            .check_salesforce_instance(creds.require("instance_url")?)?;
        Ok(Self {
            instance,
            client_id: creds.require("client_id")?.trim().to_owned(),
            client_secret: creds.require("client_secret")?.to_owned(),
        })
    }
}

/// `[{"message": .., "errorCode": ..}]` (or an OAuth `{"error": ..}`) as (code, text).
fn salesforce_error(response: &HttpResponse) -> (String, String) {
    let body = response.json_or_null();
    let first = match &body {
        Value::Array(items) => items.first().cloned().unwrap_or(Value::Null),
        other => other.clone(),
    };
    let code = first
        .get("errorCode")
        .or_else(|| first.get("error"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let message = first
        .get("message")
        .or_else(|| first.get("error_description"))
        .and_then(Value::as_str)
        .map(|m| truncate(m, 200))
        .unwrap_or_default();
    let status = response.status.as_u16();
    let text = match (code.is_empty(), message.is_empty()) {
        (false, false) => format!("{status} {code}: {message}"),
        (false, true) => format!("{status} {code}"),
        (true, false) => format!("{status}: {message}"),
        (true, true) => format!("{status}"),
    };
    (code, text)
}

fn token_error(response: &HttpResponse) -> ConnectorError {
    let (code, said) = salesforce_error(response);
    if !response.status.is_client_error() {
        return ConnectorError::unavailable(format!("Salesforce's token endpoint answered {said}"));
    }
    let lower = said.to_lowercase();
    let hint = match code.as_str() {
        "invalid_client_id" => "check client_id (the consumer key)".to_owned(),
        "invalid_client" | "invalid_client_credentials" => {
            "check client_secret (the consumer secret) and client_id".to_owned()
        }
        "rate_limit_exceeded" => {
            return ConnectorError::rate_limit(format!(
                "Salesforce refused to issue more access tokens ({said})"
            ))
        }
        "invalid_grant" if lower.contains("client credentials user") => {
            "enable the Client Credentials Flow in the app and set its Run As user".to_owned()
        }
        "unsupported_grant_type" => "enable the Client Credentials Flow in the app".to_owned(),
        _ if lower.contains("not supported on this domain") => {
            "check instance_url: use the org's My Domain URL".to_owned()
        }
        "inactive_user" | "inactive_org" => "the Run As user or the org is inactive".to_owned(),
        _ => "check instance_url, client_id and client_secret".to_owned(),
    };
    ConnectorError::auth(format!(
        "Salesforce refused the credentials ({said}); {hint}"
    ))
}

/// Salesforce's API errors: 401 `INVALID_SESSION_ID` is a rejected token; 403
/// `REQUEST_LIMIT_EXCEEDED` the org's API limit; other 401s are authentication failures;
/// other 403s, and 400/404 for an object the user cannot see (`INVALID_TYPE`,
/// `INSUFFICIENT_ACCESS`, `NOT_FOUND`), are missing permissions.
fn classify(response: &HttpResponse, request: &str) -> Rejection {
    let (code, said) = salesforce_error(response);
    let status = response.status.as_u16();
    if status == 401 && (code == "INVALID_SESSION_ID" || code.is_empty()) {
        return Rejection::TokenRejected(format!("Salesforce rejected the access token ({said})"));
    }
    if code == "REQUEST_LIMIT_EXCEEDED" {
        return Rejection::Error(ConnectorError::rate_limit(format!(
            "the org's API request limit is exceeded ({said})"
        )));
    }
    if status == 401 {
        return Rejection::Error(ConnectorError::auth(format!(
            "Salesforce refused {request} ({said})"
        )));
    }
    if status == 403
        || matches!(
            code.as_str(),
            "INVALID_TYPE"
                | "INSUFFICIENT_ACCESS"
                | "INSUFFICIENT_ACCESS_OR_READONLY"
                | "API_DISABLED_FOR_ORG"
                | "API_CURRENTLY_DISABLED"
                | "FUNCTIONALITY_NOT_ENABLED"
        )
    {
        return Rejection::Error(ConnectorError::permission(format!(
            "permission denied for {request} ({said}); the app's Run As user needs API \
             Enabled and View Setup and Configuration"
        )));
    }
    Rejection::Error(ConnectorError::bad_record(format!(
        "Salesforce answered {request} with {said}"
    )))
}

#[async_trait]
impl TokenSource for SalesforceAuth {
    async fn fetch_token(
        &self,
        client: &HttpClient,
        stats: &mut RunStats,
    ) -> Result<AccessToken, ConnectorError> {
        let url = self
            .instance
            .join("/services/oauth2/token")
            .map_err(|_| ConnectorError::auth("instance_url: not a valid URL"))?;
        let request = HttpRequest::post(url)
            .form(vec![
                ("grant_type".into(), "client_credentials".into()),
                ("client_id".into(), self.client_id.clone()),
                ("client_secret".into(), self.client_secret.clone()),
            ])
            .token();
        let response = client.send(stats, &request).await?;
        if !response.status.is_success() {
            return Err(token_error(&response));
        }
        let body = response.json()?;
        let Some(value) = body.get("access_token").and_then(Value::as_str) else {
            return Err(ConnectorError::bad_record(
                "Salesforce's token response has no access_token",
            ));
        };
        let mut token = AccessToken::new(value.to_owned(), None);
        token.api_base = Some(match body.get("instance_url").and_then(Value::as_str) {
            Some(returned) => client
                .endpoints()
                .check_salesforce_instance(returned)
                .map_err(|e| {
                    ConnectorError::auth(format!(
                        "the token response names an API host that is refused: {}",
                        e.message.trim_start_matches("instance_url: ")
                    ))
                })?,
            None => self.instance.clone(),
        });
        // the identity URL: https://login.salesforce.com/id/{org id}/{user id}
        token.account = body
            .get("id")
            .and_then(Value::as_str)
            .and_then(|id| id.rsplit('/').nth(1))
            .filter(|org| !org.is_empty())
            .map(str::to_owned);
        Ok(token)
    }

    fn classify(&self, response: &HttpResponse, request: &str) -> Rejection {
        classify(response, request)
    }
}

/// Percent-encodes a query value (spaces as %20).
fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Every record of a Tooling API query, following `nextRecordsUrl` until `done`.
async fn query(
    session: &mut Session<'_, SalesforceAuth>,
    soql: &str,
    request: &str,
) -> Result<Vec<Value>, ConnectorError> {
    let base = session
        .token()
        .await?
        .api_base
        .clone()
        .unwrap_or_else(|| session.source.instance.clone());
    let first = format!(
        "/services/data/{API_VERSION}/tooling/query/?q={}",
        encode_query_value(soql)
    );
    let mut url = base
        .join(&first)
        .map_err(|e| ConnectorError::bad_record(format!("bad query URL: {e}")))?;
    let mut records = Vec::new();
    let mut pages = 0u32;
    loop {
        pages += 1;
        if pages > MAX_PAGES {
            return Err(ConnectorError::bad_record(format!(
                "{request}: more than {MAX_PAGES} pages; stopped"
            )));
        }
        let page = session.get_json(&url, request).await?;
        match page.get("records") {
            Some(Value::Array(items)) => records.extend(items.iter().cloned()),
            None | Some(Value::Null) => {}
            Some(_) => {
                return Err(ConnectorError::bad_record(format!(
                    "{request}: records is not an array"
                )))
            }
        }
        let done = page.get("done").and_then(Value::as_bool).unwrap_or(true);
        let next = page.get("nextRecordsUrl").and_then(Value::as_str);
        match (done, next) {
            (true, _) | (false, None) => break,
            (false, Some(next)) => {
                if !next.starts_with("/services/data/")
                    || next.contains("..")
                    || next.contains("//")
                {
                    return Err(ConnectorError::bad_record(format!(
                        "{request}: unexpected nextRecordsUrl"
                    )));
                }
                url = base.join(next).map_err(|_| {
                    ConnectorError::bad_record(format!("{request}: bad nextRecordsUrl"))
                })?;
            }
        }
    }
    Ok(records)
}

/// The risks query's records as an object keyed by `DurableId` (records without one are
/// left out).
pub fn risks_by_durable_id(records: Vec<Value>) -> Value {
    let mut by_id = Map::new();
    for record in records {
        if let Some(id) = record.get("DurableId").and_then(Value::as_str) {
            by_id.insert(id.to_owned(), record);
        }
    }
    Value::Object(by_id)
}

fn session<'a>(
    client: &'a HttpClient,
    creds: &Credentials,
) -> Result<Session<'a, SalesforceAuth>, ConnectorError> {
    Ok(Session::new(client, SalesforceAuth::new(client, creds)?))
}

#[async_trait]
impl ComplianceKind for Salesforce {
    fn info(&self) -> &KindInfo {
        &self.info
    }

    async fn validate(
        &self,
        client: &HttpClient,
        creds: &Credentials,
    ) -> Result<String, ConnectorError> {
        let mut session = session(client, creds)?;
        let token = session.token().await?;
        let org = token.account.clone();
        let host = token
            .api_base
            .as_ref()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        query(&mut session, SCORE_SOQL, SCORE).await?;
        Ok(match org {
            Some(org) => format!("signed in to Salesforce org {org} at {host}"),
            None => format!("signed in to Salesforce at {host}"),
        })
    }

    async fn read(
        &self,
        client: &HttpClient,
        creds: &Credentials,
    ) -> Result<Readings, ConnectorError> {
        let mut session = session(client, creds)?;
        session.token().await?;
        let mut documents = BTreeMap::new();
        let score = query(&mut session, SCORE_SOQL, SCORE)
            .await
            .map(|records| json!({"totalSize": records.len(), "done": true, "records": records}));
        documents.insert(SCORE.to_owned(), score);
        let risks = query(&mut session, RISKS_SOQL, RISKS)
            .await
            .map(risks_by_durable_id);
        documents.insert(RISKS.to_owned(), risks);
        crate::readings_or_error(documents, session.stats)
    }

    fn checks(&self, settings: &Map<String, Value>) -> Vec<Check> {
        checks_for(min_score(settings))
    }

    fn parse_settings(
        &self,
        body: &Map<String, Value>,
    ) -> Result<Map<String, Value>, Vec<(String, String)>> {
        let mut errors = Vec::new();
        let mut out = Map::new();
        for (name, value) in body {
            match name.as_str() {
                "min_score" => match value.as_f64() {
                    Some(v) if (0.0..=100.0).contains(&v) => {
                        out.insert(name.clone(), value.clone());
                    }
                    _ => errors.push((name.clone(), "must be a number from 0 to 100".to_owned())),
                },
                _ => errors.push((name.clone(), "unknown field".to_owned())),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    fn evaluate(&self, settings: &Map<String, Value>, readings: &Readings) -> Vec<CheckResult> {
        crate::evaluate_with(&self.checks(settings), readings, risk_of)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Verdict;
    use reqwest::header::HeaderMap;
    use reqwest::StatusCode;

    fn response(status: u16, body: Value) -> HttpResponse {
        HttpResponse {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: serde_json::to_vec(&body).unwrap(),
        }
    }

    fn readings(score: Value, risks: Value) -> Readings {
        let mut r = Readings::default();
        r.documents
            .insert(SCORE.into(), Ok(json!({"records": [{"Score": score}]})));
        r.documents.insert(RISKS.into(), Ok(risks));
        r
    }

    #[test]
    fn failed_settings_take_their_risk_from_the_risk_type() {
        let risks = risks_by_durable_id(vec![
            json!({"DurableId": "PasswordPolicies.minPasswordLength", "RiskType": "HIGH_RISK", "OrgValue": "5"}),
            json!({"DurableId": "PasswordPolicies.complexity", "RiskType": "MEDIUM_RISK"}),
            json!({"DurableId": "PasswordPolicies.expiration", "RiskType": "LOW_RISK"}),
            json!({"DurableId": "PasswordPolicies.history", "RiskType": "MEETS_STANDARD"}),
            json!({"DurableId": "SessionSettings.lockSessionsToIp", "RiskType": "INFORMATIONAL"}),
            json!({"DurableId": "Identity.mfaEnabled", "RiskType": "SOMETHING_NEW"}),
        ]);
        let results = SALESFORCE.evaluate(&Map::new(), &readings(json!("85"), risks));
        let by_id: BTreeMap<_, _> = results.iter().map(|r| (r.check_id.as_str(), r)).collect();
        assert_eq!(
            by_id["salesforce-health-check-score"].verdict,
            Verdict::Passed
        );
        assert_eq!(
            by_id["salesforce-min-password-length"].verdict,
            Verdict::Failed { risk: Risk::High }
        );
        assert_eq!(
            by_id["salesforce-password-complexity"].verdict,
            Verdict::Failed { risk: Risk::Medium }
        );
        assert_eq!(
            by_id["salesforce-password-expiration"].verdict,
            Verdict::Failed { risk: Risk::Low }
        );
        assert_eq!(
            by_id["salesforce-password-history"].verdict,
            Verdict::Passed
        );
        assert_eq!(
            by_id["salesforce-lock-sessions-to-ip"].verdict,
            Verdict::Passed
        );
        // an unknown RiskType fails with the check's severity
        assert_eq!(
            by_id["salesforce-mfa"].verdict,
            Verdict::Failed { risk: Risk::High }
        );
        // absent from the data
        assert_eq!(
            by_id["salesforce-session-timeout"].verdict,
            Verdict::Undetected
        );
        assert_eq!(
            by_id["salesforce-min-password-length"].detail,
            "read \"HIGH_RISK\" at /PasswordPolicies.minPasswordLength/RiskType; expected \"MEETS_STANDARD\""
        );
    }

    #[test]
    fn the_score_check_follows_min_score() {
        let r = readings(json!("79"), json!({}));
        let mut settings = Map::new();
        let score = |settings: &Map<String, Value>| {
            SALESFORCE
                .evaluate(settings, &r)
                .into_iter()
                .find(|c| c.check_id == "salesforce-health-check-score")
                .unwrap()
                .verdict
        };
        assert_eq!(score(&settings), Verdict::Failed { risk: Risk::Medium });
        settings.insert("min_score".into(), json!(75));
        assert_eq!(score(&settings), Verdict::Passed);
        assert_eq!(
            SALESFORCE.checks(&settings)[0].expected,
            Expected::Min { min: 75.0 }
        );
        assert_eq!(
            SALESFORCE.info().checks[0].expected,
            Expected::Min { min: 80.0 }
        );
    }

    #[test]
    fn settings_are_validated() {
        let ok: Map<String, Value> = serde_json::from_value(json!({"min_score": 90})).unwrap();
        assert_eq!(SALESFORCE.parse_settings(&ok).unwrap(), ok);
        let bad: Map<String, Value> =
            serde_json::from_value(json!({"min_score": 101, "colour": "red"})).unwrap();
        let errors = SALESFORCE.parse_settings(&bad).unwrap_err();
        assert_eq!(errors.len(), 2);
    }

    #[test]
    fn errors_are_classified() {
        assert!(matches!(
            classify(
                &response(
                    401,
                    json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
                ),
                RISKS
            ),
            Rejection::TokenRejected(_)
        ));
        let Rejection::Error(e) = classify(
            &response(
                403,
                json!([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]),
            ),
            RISKS,
        ) else {
            panic!()
        };
        assert_eq!(e.category, crate::ErrorCategory::RateLimit);
        let Rejection::Error(e) = classify(
            &response(
                400,
                json!([{"message": "sObject type 'SecurityHealthCheckRisks' is not supported.", "errorCode": "INVALID_TYPE"}]),
            ),
            RISKS,
        ) else {
            panic!()
        };
        assert_eq!(e.category, crate::ErrorCategory::Permission);
        assert!(e.message.contains("INVALID_TYPE"), "{}", e.message);
        let Rejection::Error(e) = classify(
            &response(
                403,
                json!([{"message": "no", "errorCode": "INSUFFICIENT_ACCESS"}]),
            ),
            RISKS,
        ) else {
            panic!()
        };
        assert_eq!(e.category, crate::ErrorCategory::Permission);
        let e = token_error(&response(
            400,
            json!({"error": "invalid_client", "error_description": "invalid client credentials"}),
        ));
        assert_eq!(e.category, crate::ErrorCategory::Auth);
        assert!(e.message.contains("client_secret"), "{}", e.message);
        let e = token_error(&response(
            400,
            json!({"error": "invalid_client_id", "error_description": "client identifier invalid"}),
        ));
        assert!(e.message.contains("check client_id"), "{}", e.message);
    }

    #[test]
    fn checks_are_well_formed() {
        let checks = checks_for(80.0);
        assert!(checks.len() >= 6);
        for c in &checks {
            assert!(c.action_id.starts_with("salesforce-"));
            assert!(c.source.request == SCORE || c.source.request == RISKS);
        }
        assert_eq!(
            SCORE,
            format!("GET /services/data/{API_VERSION}/tooling/query/?q={SCORE_SOQL}")
        );
        assert_eq!(
            RISKS,
            format!("GET /services/data/{API_VERSION}/tooling/query/?q={RISKS_SOQL}")
        );
        assert_eq!(
            encode_query_value("SELECT a, b FROM X"),
            "SELECT%20a%2C%20b%20FROM%20X"
        );
    }
}
