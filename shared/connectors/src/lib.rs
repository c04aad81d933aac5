//! Connector kinds: how Attest links an outside service.
//!
//! A compliance kind reads a service's configuration and tests improvement actions through
//! declared [`Check`]s: each names the documented request it reads, an RFC 6901 JSON pointer
//! into that request's response and the value it expects, so a user can see why an action
//! passed or failed. Kinds: `zoom` ([`zoom`]) and `salesforce` ([`salesforce`]).
//!
//! A data kind ([`DataKind`], [`data`]) imports records (messages, sign-in activity) into a
//! [`RecordSink`]. Kinds: `slack` ([`slack`]) and `zoom_activity` ([`zoom_activity`]).
//!
//! A push kind receives uploads rather than fetching: `hr_csv` ([`hr`], HR records as CSV)
//! and `badge` ([`badge`], physical access events as JSON). Pure parsing, no requests.
//!
//! Every request goes through [`HttpClient`], which enforces the URL rules, timeouts,
//! retries and rate limits ([`http`]). No AWS types here.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::{Map, Value};

pub mod badge;
pub mod data;
pub mod evaluate;
pub mod hr;
pub mod http;
pub mod model;
pub mod salesforce;
pub mod session;
pub mod slack;
pub mod zoom;
pub mod zoom_activity;

pub use badge::{
    badge_info, badge_source_id, parse_badge_json, parse_badge_settings, BadEntry, BadgeEvent,
};
pub use data::{
    parse_data_settings, DataKind, DataSettings, FetchReport, RawRecord, RecordSink, VecSink,
    Window,
};
pub use evaluate::{evaluate, evaluate_with};
pub use hr::{hr_info, hr_source_id, parse_hr_csv, parse_hr_settings, BadRow, HrParse, HrRow};
pub use http::{Endpoints, HttpClient};
pub use model::{
    Category, Check, CheckResult, ConnectorError, Credentials, ErrorCategory, Expected, FieldSpec,
    KindInfo, Readings, Risk, RunStats, Source, Verdict,
};

/// A compliance connector kind.
#[async_trait]
pub trait ComplianceKind: Send + Sync {
    fn info(&self) -> &KindInfo;

    /// Checks the credentials against the service: a token request and one cheap read.
    /// `Ok` names the account, e.g. "signed in to Zoom account abc". `Err` category `auth`
    /// for bad credentials (the message names the field that is probably wrong when the
    /// service says so, or `instance_url` when it breaks the host rule, before any
    /// request), `permission` when the app may not read the settings, `source_unavailable`
    /// when the service cannot be reached.
    async fn validate(
        &self,
        client: &HttpClient,
        creds: &Credentials,
    ) -> Result<String, ConnectorError>;

    /// Reads every document the checks need. `Err` only when nothing can be read (the token
    /// cannot be had, or every request failed); a request that fails alone is an `Err`
    /// inside [`Readings::documents`].
    async fn read(
        &self,
        client: &HttpClient,
        creds: &Credentials,
    ) -> Result<Readings, ConnectorError>;

    /// The checks with a connector's settings (default: those of [`KindInfo::checks`]).
    fn checks(&self, settings: &Map<String, Value>) -> Vec<Check> {
        let _ = settings;
        self.info().checks.clone()
    }

    /// A connector's settings from a request body: each field known and valid. `Err`:
    /// (field, message) pairs. Default: no field is known.
    fn parse_settings(
        &self,
        body: &Map<String, Value>,
    ) -> Result<Map<String, Value>, Vec<(String, String)>> {
        let errors: Vec<(String, String)> = body
            .keys()
            .map(|k| (k.clone(), "unknown field".to_owned()))
            .collect();
        if errors.is_empty() {
            Ok(Map::new())
        } else {
            Err(errors)
        }
    }

    /// The results of this run's checks with the connector's settings (default:
    /// [`evaluate`] of [`ComplianceKind::checks`]).
    fn evaluate(&self, settings: &Map<String, Value>, readings: &Readings) -> Vec<CheckResult> {
        evaluate(&self.checks(settings), readings)
    }
}

/// The kind named `kind`.
pub fn compliance_kind(kind: &str) -> Option<&'static dyn ComplianceKind> {
    match kind {
        "zoom" => Some(&*zoom::ZOOM),
        "salesforce" => Some(&*salesforce::SALESFORCE),
        _ => None,
    }
}

/// The data kind named `kind`.
pub fn data_kind(kind: &str) -> Option<&'static dyn DataKind> {
    match kind {
        "slack" => Some(&*slack::SLACK),
        "zoom_activity" => Some(&*zoom_activity::ZOOM_ACTIVITY),
        _ => None,
    }
}

/// The push kind named `kind` (`hr_csv`, `badge`): uploads, no credentials.
pub fn push_kind(kind: &str) -> Option<&'static KindInfo> {
    match kind {
        "hr_csv" => Some(hr::hr_info()),
        "badge" => Some(badge::badge_info()),
        _ => None,
    }
}

/// Every kind's description, compliance kinds first, then data kinds, then push kinds, for
/// `GET /connector-kinds`.
pub fn kinds() -> Vec<&'static KindInfo> {
    vec![
        zoom::ZOOM.info(),
        salesforce::SALESFORCE.info(),
        slack::SLACK.info(),
        zoom_activity::ZOOM_ACTIVITY.info(),
        hr::hr_info(),
        badge::badge_info(),
    ]
}

/// Credentials from a request body: every required field present and a non-empty string,
/// optional ones strings when present, no unknown field. `Err`: (field, message) pairs
/// naming each problem, in field order.
pub fn parse_credentials(
    info: &KindInfo,
    body: &Map<String, Value>,
) -> Result<Credentials, Vec<(String, String)>> {
    let mut errors = Vec::new();
    let mut values = BTreeMap::new();
    for field in &info.credential_fields {
        match body.get(field.name) {
            None | Some(Value::Null) if field.required => {
                errors.push((field.name.to_owned(), "is required".to_owned()))
            }
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.trim().is_empty() => {
                if field.required {
                    errors.push((field.name.to_owned(), "must not be empty".to_owned()))
                }
            }
            Some(Value::String(s)) if s.len() > MAX_CREDENTIAL_LEN => errors.push((
                field.name.to_owned(),
                format!("must be at most {MAX_CREDENTIAL_LEN} characters"),
            )),
            Some(Value::String(s)) if s.chars().any(char::is_control) => errors.push((
                field.name.to_owned(),
                "must not contain control characters".to_owned(),
            )),
            Some(Value::String(s)) => {
                values.insert(field.name.to_owned(), s.clone());
            }
            Some(_) => errors.push((field.name.to_owned(), "must be a string".to_owned())),
        }
    }
    for key in body.keys() {
        if !info.credential_fields.iter().any(|f| f.name == key) {
            errors.push((key.clone(), "unknown field".to_owned()));
        }
    }
    if errors.is_empty() {
        Ok(Credentials(values))
    } else {
        Err(errors)
    }
}

/// The longest credential value accepted.
pub const MAX_CREDENTIAL_LEN: usize = 4096;

/// `Readings`, or the first error when every request failed.
pub(crate) fn readings_or_error(
    documents: BTreeMap<String, Result<Value, ConnectorError>>,
    stats: RunStats,
) -> Result<Readings, ConnectorError> {
    if !documents.is_empty() && documents.values().all(Result::is_err) {
        // the error of the request that came first in the run is not kept apart; any one
        // tells the user what happened, and auth/unavailable errors are the same for all
        let first = documents
            .into_values()
            .find_map(Result::err)
            .expect("all are errors");
        return Err(first);
    }
    Ok(Readings { documents, stats })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn kinds_are_listed_and_found() {
        let names: Vec<&str> = kinds().iter().map(|k| k.kind).collect();
        assert_eq!(
            names,
            [
                "zoom",
                "salesforce",
                "slack",
                "zoom_activity",
                "hr_csv",
                "badge"
            ]
        );
        assert_eq!(push_kind("hr_csv").unwrap().service, "hr");
        assert_eq!(push_kind("badge").unwrap().service, "badge");
        assert!(push_kind("slack").is_none());
        assert!(data_kind("hr_csv").is_none());
        assert_eq!(data_kind("slack").unwrap().info().service, "slack");
        assert_eq!(data_kind("zoom_activity").unwrap().info().service, "zoom");
        assert!(data_kind("zoom").is_none());
        assert!(compliance_kind("zoom_activity").is_none());
        assert_eq!(compliance_kind("zoom").unwrap().info().service, "zoom");
        assert_eq!(
            compliance_kind("salesforce").unwrap().info().service,
            "salesforce"
        );
        assert!(compliance_kind("slack").is_none());
        let json = serde_json::to_value(kinds()).unwrap();
        assert_eq!(json[0]["category"], "compliance");
        assert_eq!(json[0]["credential_fields"][2]["name"], "client_secret");
        assert_eq!(json[0]["credential_fields"][2]["secret"], true);
        assert_eq!(json[1]["settings_fields"][0]["name"], "min_score");
        assert_eq!(
            json[0]["checks"][0]["source"]["request"],
            zoom::MEETING_SECURITY
        );
        assert_eq!(json[1]["checks"][0]["expected"], json!({"min": 80.0}));
        assert_eq!(json[2]["category"], "communication");
        assert_eq!(json[2]["credential_fields"][0]["name"], "bot_token");
        assert_eq!(json[2]["credential_fields"][0]["secret"], true);
        assert_eq!(json[3]["settings_fields"][0]["name"], "backfill_days");
        assert_eq!(json[3]["checks"], json!([]));
    }

    #[test]
    fn credentials_parse_with_every_problem_named() {
        let zoom = compliance_kind("zoom").unwrap().info();
        let creds = parse_credentials(
            zoom,
            &body(json!({"account_id": "acc", "client_id": "cid", "client_secret": "s3cret"})),
        )
        .unwrap();
        assert_eq!(creds.get("client_secret"), Some("s3cret"));
        assert_eq!(creds.0.len(), 3);

        let errors = parse_credentials(
            zoom,
            &body(json!({"account_id": "", "client_id": 5, "extra": "x"})),
        )
        .unwrap_err();
        assert_eq!(
            errors,
            vec![
                ("account_id".to_owned(), "must not be empty".to_owned()),
                ("client_id".to_owned(), "must be a string".to_owned()),
                ("client_secret".to_owned(), "is required".to_owned()),
                ("extra".to_owned(), "unknown field".to_owned()),
            ]
        );
        let errors = parse_credentials(
            zoom,
            &body(json!({"account_id": "  ", "client_id": "a\nb", "client_secret": null})),
        )
        .unwrap_err();
        assert_eq!(errors.len(), 3);
    }

    #[test]
    fn credentials_debug_shows_no_value() {
        let creds = Credentials(BTreeMap::from([
            ("client_id".to_owned(), "visible-id".to_owned()),
            ("client_secret".to_owned(), "top-secret-value".to_owned()),
        ]));
        let shown = format!("{creds:?}");
        assert!(shown.contains("client_secret"), "{shown}");
        assert!(!shown.contains("top-secret-value"), "{shown}");
        assert!(!shown.contains("visible-id"), "{shown}");
    }

    #[test]
    fn default_settings_accept_nothing() {
        let zoom = compliance_kind("zoom").unwrap();
        assert_eq!(zoom.parse_settings(&Map::new()).unwrap(), Map::new());
        assert!(zoom.parse_settings(&body(json!({"x": 1}))).is_err());
    }

    #[test]
    fn a_run_with_every_request_failed_is_an_error() {
        let mut docs = BTreeMap::new();
        docs.insert("a".to_owned(), Err(ConnectorError::permission("no")));
        docs.insert("b".to_owned(), Err(ConnectorError::permission("no")));
        assert!(readings_or_error(docs.clone(), RunStats::default()).is_err());
        docs.insert("c".to_owned(), Ok(json!({})));
        let r = readings_or_error(docs, RunStats::default()).unwrap();
        assert_eq!(r.documents.len(), 3);
    }
}
