//! The `zoom` kind: a Zoom account's settings, read with a Server-to-Server OAuth app.
//!
//! Documentation:
//! - "Server-to-Server OAuth" (Zoom Developer docs),
//!   <https://developers.zoom.us/docs/internal-apps/s2s-oauth/>: `POST
//!   https://zoom.us/oauth/token?grant_type=account_credentials&account_id={account_id}`
//!   with HTTP Basic `client_id:client_secret`; the answer is
//!   `{access_token, token_type, expires_in (3600), scope}`; no refresh token.
//! - "Get account settings" (Zoom Meeting API, Accounts),
//!   <https://developers.zoom.us/docs/api/accounts/#tag/accounts/GET/accounts/{accountId}/settings>:
//!   `GET /v2/accounts/me/settings`, and with `?option=meeting_authentication`,
//!   `recording_authentication`, `security` or `meeting_security` for those groups; scope
//!   `account:read:admin` (granular: `account:read:settings:admin`).
//! - "Error codes" (Zoom API), <https://developers.zoom.us/docs/api/errors/>: error bodies
//!   `{"code": .., "message": ..}`; 401 code 124 "Invalid access token" (also given for an
//!   expired one); 4700/4711 a token without the needed scopes; code 200 (with HTTP 400)
//!   "No permission" / "Only available for paid accounts" (the documented error of Get
//!   account settings).
//! - "Rate limits" (Zoom API), <https://developers.zoom.us/docs/api/rate-limits/>: HTTP 429
//!   with `Retry-After`: seconds for a per-second limit, the next UTC midnight as a timestamp
//!   for an exhausted daily limit (then the run gives up: see [`crate::http`]).
//! - CIS Zoom Benchmark v1.0.0 (Center for Internet Security; items as published in
//!   Tenable's "CIS Zoom L1/L2 v1.0.0" audits,
//!   <https://www.tenable.com/audits/CIS_Zoom_Level_1_v1.0.0>), the source of the checks.

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Url;
use serde_json::{json, Value};

use crate::http::{HttpClient, HttpRequest, HttpResponse};
use crate::model::{
    Category, Check, ConnectorError, Credentials, Expected, FieldSpec, KindInfo, Readings, Risk,
    RunStats, Source,
};
use crate::session::{AccessToken, Rejection, Session, TokenSource};
use crate::ComplianceKind;

/// `GET /v2/accounts/me/settings`: schedule_meeting, in_meeting, recording, security, ...
pub const SETTINGS: &str = "GET /v2/accounts/me/settings";
/// `?option=meeting_security`: `{"meeting_security": {waiting_room, meeting_password,
/// pmi_password, encryption_type, end_to_end_encrypted_meetings, ...}}`.
pub const MEETING_SECURITY: &str = "GET /v2/accounts/me/settings?option=meeting_security";
/// `?option=meeting_authentication`: `{"meeting_authentication": bool,
/// "authentication_options": [..]}`.
pub const MEETING_AUTHENTICATION: &str =
    "GET /v2/accounts/me/settings?option=meeting_authentication";
/// `?option=recording_authentication`: `{"recording_authentication": bool,
/// "authentication_options": [..]}`.
pub const RECORDING_AUTHENTICATION: &str =
    "GET /v2/accounts/me/settings?option=recording_authentication";
/// `?option=security`: `{"security": {password_requirement, sign_in_with_two_factor_auth,
/// ...}}`.
pub const SECURITY: &str = "GET /v2/accounts/me/settings?option=security";

/// Every request a run makes, in order, with its URL path and query (after the API base).
pub const REQUESTS: [(&str, &str); 5] = [
    (SETTINGS, "/accounts/me/settings"),
    (
        MEETING_SECURITY,
        "/accounts/me/settings?option=meeting_security",
    ),
    (
        MEETING_AUTHENTICATION,
        "/accounts/me/settings?option=meeting_authentication",
    ),
    (
        RECORDING_AUTHENTICATION,
        "/accounts/me/settings?option=recording_authentication",
    ),
    (SECURITY, "/accounts/me/settings?option=security"),
];

/// The settings-permission hint added to permission errors.
const SCOPE_HINT: &str = "the Server-to-Server OAuth app needs the scope account:read:admin \
                          (granular: account:read:settings:admin)";

pub struct Zoom {
    info: KindInfo,
}

pub(crate) static ZOOM: LazyLock<Zoom> = LazyLock::new(|| Zoom { info: info() });

fn info() -> KindInfo {
    KindInfo {
        kind: "zoom",
        name: "Zoom",
        category: Category::Compliance,
        service: "zoom",
        credential_fields: vec![
            FieldSpec {
                name: "account_id",
                secret: false,
                required: true,
                description: "Account ID of the Server-to-Server OAuth app (App Marketplace > \
                              Manage > your app > App Credentials)",
            },
            FieldSpec {
                name: "client_id",
                secret: false,
                required: true,
                description: "Client ID of the Server-to-Server OAuth app",
            },
            FieldSpec {
                name: "client_secret",
                secret: true,
                required: true,
                description: "Client secret of the Server-to-Server OAuth app; the app needs \
                              the scope account:read:admin (granular: \
                              account:read:settings:admin)",
            },
        ],
        settings_fields: vec![],
        checks: checks(),
    }
}

#[allow(clippy::too_many_arguments)]
fn check(
    id: &str,
    title: &str,
    action_id: &str,
    request: &str,
    pointer: &str,
    expected: Expected,
    severity: Risk,
    explain: &str,
) -> Check {
    Check {
        id: id.into(),
        title: title.into(),
        action_id: action_id.into(),
        source: Source {
            request: request.into(),
            pointer: pointer.into(),
        },
        expected,
        explain: explain.into(),
        severity,
    }
}

/// The Zoom checks. Fields are those of "Get account settings" (see the module docs); each
/// explanation names the CIS Zoom Benchmark item it follows.
pub fn checks() -> Vec<Check> {
    vec![
        check(
            "zoom-waiting-room",
            "Waiting room is on for meetings",
            "zoom-waiting-room",
            MEETING_SECURITY,
            "/meeting_security/waiting_room",
            Expected::Equals(json!(true)),
            Risk::Medium,
            "Participants wait until the host admits them (CIS Zoom 1.1.1.2). Read from \
             meeting_security.waiting_room of Get account settings with option \
             meeting_security.",
        ),
        check(
            "zoom-passcode-new-meetings",
            "Passcode required when scheduling new meetings",
            "zoom-meeting-passcodes",
            SETTINGS,
            "/schedule_meeting/require_password_for_scheduling_new_meetings",
            Expected::Equals(json!(true)),
            Risk::High,
            "A passcode is generated for every newly scheduled meeting (CIS Zoom 1.1.1.4). \
             Read from schedule_meeting.require_password_for_scheduling_new_meetings of Get \
             account settings.",
        ),
        check(
            "zoom-passcode-instant-meetings",
            "Passcode required for instant meetings",
            "zoom-meeting-passcodes",
            SETTINGS,
            "/schedule_meeting/require_password_for_instant_meetings",
            Expected::Equals(json!(true)),
            Risk::Medium,
            "A random passcode is generated when an instant meeting starts (CIS Zoom \
             1.1.1.6). Read from schedule_meeting.require_password_for_instant_meetings of \
             Get account settings.",
        ),
        check(
            "zoom-passcode-pmi",
            "Passcode required for all Personal Meeting ID meetings",
            "zoom-meeting-passcodes",
            SETTINGS,
            "/schedule_meeting/require_password_for_pmi_meetings",
            Expected::Equals(json!("all")),
            Risk::Medium,
            "Every meeting held with a Personal Meeting ID needs a passcode ('All meetings \
             using PMI', CIS Zoom 1.1.1.7). Read from \
             schedule_meeting.require_password_for_pmi_meetings (all, jbh_only or none) of \
             Get account settings.",
        ),
        check(
            "zoom-authenticated-join",
            "Only authenticated users can join meetings",
            "zoom-authenticated-meetings",
            MEETING_AUTHENTICATION,
            "/meeting_authentication",
            Expected::Equals(json!(true)),
            Risk::Medium,
            "Participants sign in before they join (CIS Zoom 1.1.1.9). Read from \
             meeting_authentication of Get account settings with option \
             meeting_authentication.",
        ),
        check(
            "zoom-e2ee-meetings",
            "End-to-end encrypted meetings are allowed",
            "zoom-meeting-encryption",
            MEETING_SECURITY,
            "/meeting_security/end_to_end_encrypted_meetings",
            Expected::Equals(json!(true)),
            Risk::Low,
            "Hosts can start meetings with end-to-end encryption, whose keys stay on the \
             participants' devices. Read from meeting_security.end_to_end_encrypted_meetings \
             of Get account settings with option meeting_security.",
        ),
        check(
            "zoom-third-party-encryption",
            "Encryption required for third-party endpoints (SIP/H.323)",
            "zoom-meeting-encryption",
            SETTINGS,
            "/in_meeting/e2e_encryption",
            Expected::Equals(json!(true)),
            Risk::Medium,
            "Room systems joining over SIP or H.323 must encrypt their traffic. Read from \
             in_meeting.e2e_encryption ('Require encryption for 3rd party endpoints') of Get \
             account settings.",
        ),
        check(
            "zoom-recording-authentication",
            "Only authenticated users can view cloud recordings",
            "zoom-recording-access",
            RECORDING_AUTHENTICATION,
            "/recording_authentication",
            Expected::Equals(json!(true)),
            Risk::High,
            "Viewers of shared cloud recordings must sign in. Read from \
             recording_authentication of Get account settings with option \
             recording_authentication.",
        ),
        check(
            "zoom-shared-recording-passcode",
            "Passcode required to access shared cloud recordings",
            "zoom-recording-access",
            SETTINGS,
            "/recording/required_password_for_shared_cloud_recordings",
            Expected::Equals(json!(true)),
            Risk::Medium,
            "Shared cloud recordings are passcode-protected (CIS Zoom 1.2.10). Read from \
             recording.required_password_for_shared_cloud_recordings of Get account \
             settings.",
        ),
        check(
            "zoom-recording-auto-delete",
            "Cloud recordings are deleted automatically",
            "zoom-recording-retention",
            SETTINGS,
            "/recording/auto_delete_cmr",
            Expected::Equals(json!(true)),
            Risk::Low,
            "Zoom deletes cloud recordings after a set number of days. Read from \
             recording.auto_delete_cmr of Get account settings.",
        ),
        check(
            "zoom-recording-retention-days",
            "Cloud recordings are kept at most 90 days",
            "zoom-recording-retention",
            SETTINGS,
            "/recording/auto_delete_cmr_days",
            Expected::Max { max: 90.0 },
            Risk::Low,
            "The number of days before automatic deletion (30, 60, 90 or 120). Read from \
             recording.auto_delete_cmr_days of Get account settings; it applies when \
             recording.auto_delete_cmr is true.",
        ),
        check(
            "zoom-two-factor-sign-in",
            "Two-factor authentication required for every user",
            "zoom-two-factor",
            SECURITY,
            "/security/sign_in_with_two_factor_auth",
            Expected::Equals(json!("all")),
            Risk::High,
            "Every user signs in with a second factor. Read from \
             security.sign_in_with_two_factor_auth (all, group, role or none) of Get account \
             settings with option security.",
        ),
        check(
            "zoom-password-min-length",
            "Sign-in passwords have at least 9 characters",
            "zoom-password-policy",
            SECURITY,
            "/security/password_requirement/minimum_password_length",
            Expected::Min { min: 9.0 },
            Risk::Medium,
            "The enhanced password requirement's minimum length (CIS Zoom 3.1.1.1.1: 9 or \
             more; 0 means the basic requirement of 8). Read from \
             security.password_requirement.minimum_password_length of Get account settings \
             with option security.",
        ),
        check(
            "zoom-screen-sharing-host-only",
            "Only hosts can share their screen",
            "zoom-screen-sharing",
            SETTINGS,
            "/in_meeting/who_can_share_screen",
            Expected::Equals(json!("host")),
            Risk::Low,
            "Participants cannot share content unless the host allows it. Read from \
             in_meeting.who_can_share_screen (host or all) of Get account settings.",
        ),
    ]
}

/// The Zoom token endpoint (Server-to-Server OAuth) and error format, for one set of
/// credentials; shared by every Zoom connector, each naming the scope its requests need.
pub(crate) struct ZoomAuth {
    account_id: String,
    client_id: String,
    client_secret: String,
    /// The OAuth base, e.g. `https://zoom.us`.
    oauth: String,
    /// What a permission error tells the user to grant.
    scope_hint: &'static str,
}

impl ZoomAuth {
    pub(crate) fn new(
        client: &HttpClient,
        creds: &Credentials,
        scope_hint: &'static str,
    ) -> Result<Self, ConnectorError> {
        Ok(Self {
            account_id: creds.require("account_id")?.trim().to_owned(),
            client_id: creds.require("client_id")?.trim().to_owned(),
            client_secret: creds.require("client_secret")?.to_owned(),
            oauth: client.endpoints().zoom_oauth().to_owned(),
            scope_hint,
        })
    }
}

/// `{"code": .., "message": ..}` of an error body, as text.
fn zoom_error(response: &HttpResponse) -> (Option<i64>, String) {
    let body = response.json_or_null();
    let code = body.get("code").and_then(Value::as_i64);
    let message = body
        .get("message")
        .and_then(Value::as_str)
        .map(|m| truncate(m, 200))
        .unwrap_or_default();
    let status = response.status.as_u16();
    let text = match (code, message.is_empty()) {
        (Some(c), false) => format!("{status}, code {c}: {message}"),
        (Some(c), true) => format!("{status}, code {c}"),
        (None, false) => format!("{status}: {message}"),
        (None, true) => format!("{status}"),
    };
    (code, text)
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

#[async_trait]
impl TokenSource for ZoomAuth {
    async fn fetch_token(
        &self,
        client: &HttpClient,
        stats: &mut RunStats,
    ) -> Result<AccessToken, ConnectorError> {
        let auth = self;
        let mut url = client
            .endpoints()
            .check_url(&format!("{}/oauth/token", auth.oauth))?;
        url.query_pairs_mut()
            .append_pair("grant_type", "account_credentials")
            .append_pair("account_id", &auth.account_id);
        let request = HttpRequest::post(url)
            .basic(&auth.client_id, &auth.client_secret)
            .token();
        let response = client.send(stats, &request).await?;
        if !response.status.is_success() {
            return Err(token_error(&response));
        }
        let body = response.json()?;
        let Some(token) = body.get("access_token").and_then(Value::as_str) else {
            return Err(ConnectorError::bad_record(
                "Zoom's token response has no access_token",
            ));
        };
        let expires_in = body
            .get("expires_in")
            .and_then(Value::as_u64)
            .map(Duration::from_secs);
        let mut token = AccessToken::new(token.to_owned(), expires_in);
        token.account = Some(auth.account_id.clone());
        Ok(token)
    }

    fn classify(&self, response: &HttpResponse, request: &str) -> Rejection {
        classify(response, request, self.scope_hint)
    }
}

/// A failed token request: `{"reason": .., "error": ..}` (e.g. `invalid_client`, "Invalid
/// client_id or client_secret").
fn token_error(response: &HttpResponse) -> ConnectorError {
    let status = response.status.as_u16();
    if status == 403 {
        // the app is deactivated or not allowed
        let body = response.json_or_null();
        let reason = body.get("reason").and_then(Value::as_str).unwrap_or("");
        return ConnectorError::auth(format!(
            "Zoom refused to issue an access token (403{}); check that the \
             Server-to-Server OAuth app is activated",
            if reason.is_empty() {
                String::new()
            } else {
                format!(": {}", truncate(reason, 200))
            }
        ));
    }
    let body = response.json_or_null();
    let error = body.get("error").and_then(Value::as_str).unwrap_or("");
    let reason = body
        .get("reason")
        .or_else(|| body.get("error_description"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let said = match (error.is_empty(), reason.is_empty()) {
        (false, false) => format!("{status}, {error}: {}", truncate(reason, 200)),
        (false, true) => format!("{status}, {error}"),
        (true, false) => format!("{status}: {}", truncate(reason, 200)),
        (true, true) => format!("{status}"),
    };
    let lower = format!("{error} {reason}").to_lowercase();
    let hint = if lower.contains("account") {
        "check account_id"
    } else if lower.contains("client") || error == "invalid_client" || status == 401 {
        "check client_id and client_secret"
    } else {
        "check account_id, client_id and client_secret"
    };
    if response.status.is_client_error() {
        ConnectorError::auth(format!("Zoom refused the credentials ({said}); {hint}"))
    } else {
        ConnectorError::unavailable(format!("Zoom's token endpoint answered {said}"))
    }
}

/// Zoom's API errors: 401 code 124 is a rejected token; code 200 ("No permission.", "Only
/// available for paid accounts", sent with HTTP 400), codes 4700/4711 (scopes) and HTTP 403
/// are missing permissions; other 401s are authentication failures.
fn classify(response: &HttpResponse, request: &str, scope_hint: &str) -> Rejection {
    let (code, said) = zoom_error(response);
    let status = response.status.as_u16();
    if status == 401 && code == Some(124) {
        return Rejection::TokenRejected(format!("Zoom rejected the access token ({said})"));
    }
    if matches!(code, Some(200) | Some(4700) | Some(4711)) || status == 403 {
        return Rejection::Error(ConnectorError::permission(format!(
            "permission denied for {request} ({said}); {scope_hint}"
        )));
    }
    if status == 401 {
        return Rejection::Error(ConnectorError::auth(format!(
            "Zoom refused the request {request} ({said})"
        )));
    }
    Rejection::Error(ConnectorError::bad_record(format!(
        "Zoom answered {request} with {said}"
    )))
}

fn api_url(client: &HttpClient, path_and_query: &str) -> Result<Url, ConnectorError> {
    client.endpoints().check_url(&format!(
        "{}{path_and_query}",
        client.endpoints().zoom_api()
    ))
}

fn session<'a>(
    client: &'a HttpClient,
    creds: &Credentials,
) -> Result<Session<'a, ZoomAuth>, ConnectorError> {
    Ok(Session::new(
        client,
        ZoomAuth::new(client, creds, SCOPE_HINT)?,
    ))
}

#[async_trait]
impl ComplianceKind for Zoom {
    fn info(&self) -> &KindInfo {
        &self.info
    }

    async fn validate(
        &self,
        client: &HttpClient,
        creds: &Credentials,
    ) -> Result<String, ConnectorError> {
        let mut session = session(client, creds)?;
        let account = session.token().await?.account.clone().unwrap_or_default();
        let url = api_url(
            client,
            "/accounts/me/settings?option=meeting_authentication",
        )?;
        session.get_json(&url, MEETING_AUTHENTICATION).await?;
        Ok(format!("signed in to Zoom account {account}"))
    }

    async fn read(
        &self,
        client: &HttpClient,
        creds: &Credentials,
    ) -> Result<Readings, ConnectorError> {
        let mut session = session(client, creds)?;
        session.token().await?;
        let mut documents = std::collections::BTreeMap::new();
        for (request, path) in REQUESTS {
            let document = match api_url(client, path) {
                Ok(url) => session.get_json(&url, request).await,
                Err(e) => Err(e),
            };
            documents.insert(request.to_owned(), document);
        }
        crate::readings_or_error(documents, session.stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;
    use reqwest::StatusCode;

    fn response(status: u16, body: Value) -> HttpResponse {
        HttpResponse {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: serde_json::to_vec(&body).unwrap(),
        }
    }

    #[test]
    fn checks_point_into_the_requests_a_run_makes() {
        let requests: Vec<&str> = REQUESTS.iter().map(|(r, _)| *r).collect();
        let checks = checks();
        assert!(checks.len() >= 8);
        let mut ids = std::collections::HashSet::new();
        for c in &checks {
            assert!(requests.contains(&c.source.request.as_str()), "{}", c.id);
            assert!(c.source.pointer.starts_with('/'), "{}", c.id);
            assert!(c.action_id.starts_with("zoom-"), "{}", c.id);
            assert!(ids.insert(c.id.clone()), "duplicate {}", c.id);
        }
    }

    #[test]
    fn expired_tokens_permissions_and_other_errors_are_told_apart() {
        let r = classify(
            &response(
                401,
                json!({"code": 124, "message": "Invalid access token."}),
            ),
            SETTINGS,
            SCOPE_HINT,
        );
        assert!(matches!(r, Rejection::TokenRejected(_)));
        let Rejection::Error(e) = classify(
            &response(
                400,
                json!({"code": 4711, "message": "Invalid access token, does not contain scopes:[account:read:admin]."}),
            ),
            SECURITY,
            SCOPE_HINT,
        ) else {
            panic!()
        };
        assert_eq!(e.category, crate::ErrorCategory::Permission);
        assert!(
            e.message.contains("4711") && e.message.contains("account:read:admin"),
            "{}",
            e.message
        );
        let Rejection::Error(e) = classify(
            &response(403, json!({"code": 300, "message": "No privilege."})),
            SECURITY,
            SCOPE_HINT,
        ) else {
            panic!()
        };
        assert_eq!(e.category, crate::ErrorCategory::Permission);
        let Rejection::Error(e) = classify(
            &response(400, json!({"code": 200, "message": "No permission."})),
            SECURITY,
            SCOPE_HINT,
        ) else {
            panic!()
        };
        assert_eq!(e.category, crate::ErrorCategory::Permission);
        assert!(
            e.message.contains("400, code 200: No permission."),
            "{}",
            e.message
        );
        let Rejection::Error(e) = classify(
            &response(404, json!({"code": 1001, "message": "User does not exist"})),
            SECURITY,
            SCOPE_HINT,
        ) else {
            panic!()
        };
        assert_eq!(e.category, crate::ErrorCategory::BadRecord);
    }

    #[test]
    fn token_errors_name_the_likely_field() {
        let e = token_error(&response(
            400,
            json!({"reason": "Invalid client_id or client_secret", "error": "invalid_client"}),
        ));
        assert_eq!(e.category, crate::ErrorCategory::Auth);
        assert!(
            e.message.contains("client_id and client_secret"),
            "{}",
            e.message
        );
        let e = token_error(&response(
            400,
            json!({"reason": "Invalid account_id", "error": "invalid_request"}),
        ));
        assert!(e.message.contains("check account_id"), "{}", e.message);
    }
}
