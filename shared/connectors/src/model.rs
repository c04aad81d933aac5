//! What a connector kind declares (its fields and checks), what one run read, and the
//! errors a run meets.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The kind of service a connector links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Compliance,
    Communication,
    Hr,
    Physical,
}

/// One field a kind asks for, in its credentials or its settings.
#[derive(Debug, Clone, Serialize)]
pub struct FieldSpec {
    pub name: &'static str,
    /// Never shown again once stored (and never logged).
    pub secret: bool,
    pub required: bool,
    pub description: &'static str,
}

/// Where a check reads its value: the documented request and an RFC 6901 JSON pointer into
/// that request's (merged) response document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Source {
    /// Method and path (with query) as the service documents it, e.g.
    /// `GET /v2/accounts/me/settings?option=security`. Also the key of the document in
    /// [`Readings::documents`].
    pub request: String,
    pub pointer: String,
}

/// The value a check expects. Serialized untagged: `{"min": 9}`, `{"max": 90}`,
/// `{"one_of": [..]}` or the bare expected value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Expected {
    /// A number (or a numeric string) at least this.
    Min { min: f64 },
    /// A number (or a numeric string) at most this.
    Max { max: f64 },
    /// Any of these values.
    OneOf { one_of: Vec<serde_json::Value> },
    /// Exactly this value (numbers compare by value: 8 equals 8.0).
    Equals(serde_json::Value),
}

impl Expected {
    /// Whether `value` meets the expectation; `None` when it cannot be compared (a
    /// non-numeric value against a bound).
    pub fn matches(&self, value: &serde_json::Value) -> Option<bool> {
        match self {
            Expected::Min { min } => as_number(value).map(|v| v >= *min),
            Expected::Max { max } => as_number(value).map(|v| v <= *max),
            Expected::OneOf { one_of } => Some(one_of.iter().any(|e| same_value(e, value))),
            Expected::Equals(e) => Some(same_value(e, value)),
        }
    }
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Min { min } => write!(f, "at least {}", number_text(*min)),
            Expected::Max { max } => write!(f, "at most {}", number_text(*max)),
            Expected::OneOf { one_of } => {
                f.write_str("one of ")?;
                for (i, v) in one_of.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                Ok(())
            }
            Expected::Equals(v) => write!(f, "{v}"),
        }
    }
}

/// A JSON number, or a string holding one (Salesforce reports some numbers as strings).
fn as_number(value: &serde_json::Value) -> Option<f64> {
    match value {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok().filter(|v| v.is_finite()),
        _ => None,
    }
}

fn same_value(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a, b) {
        (serde_json::Value::Number(x), serde_json::Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn number_text(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// How bad a failed check is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    Low,
    Medium,
    High,
}

/// One declared check: which improvement action it tests, where it reads, what it expects.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub id: String,
    pub title: String,
    pub action_id: String,
    pub source: Source,
    pub expected: Expected,
    /// Why the check matters and where its value comes from (for the user).
    pub explain: String,
    /// The risk of a failure (unless the kind reads the risk from the data).
    pub severity: Risk,
}

/// A kind's description, for `GET /connector-kinds`.
#[derive(Debug, Clone, Serialize)]
pub struct KindInfo {
    pub kind: &'static str,
    pub name: &'static str,
    pub category: Category,
    /// The service assessments name (`zoom`, `salesforce`).
    pub service: &'static str,
    pub credential_fields: Vec<FieldSpec>,
    pub settings_fields: Vec<FieldSpec>,
    /// The checks with the default settings.
    pub checks: Vec<Check>,
}

/// Credentials handed to a kind: field -> value. `Debug` shows the field names only.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Credentials(pub BTreeMap<String, String>);

impl Credentials {
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    /// A field the kind needs; its absence is an `Auth` error naming it.
    pub fn require(&self, field: &str) -> Result<&str, ConnectorError> {
        match self.get(field) {
            Some(v) if !v.trim().is_empty() => Ok(v),
            _ => Err(ConnectorError::new(
                ErrorCategory::Auth,
                format!("{field}: missing from the stored credentials"),
            )),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for k in self.0.keys() {
            m.entry(k, &"<redacted>");
        }
        m.finish()
    }
}

/// API.md's error categories of a run.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCategory {
    Auth,
    Permission,
    RateLimit,
    SourceUnavailable,
    BadRecord,
}

/// An error a connector met. `message` says what a user needs (the status, the service's
/// error code and message, which field is probably wrong); it never holds a credential, a
/// token or an `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConnectorError {
    pub category: ErrorCategory,
    pub message: String,
}

impl ConnectorError {
    pub fn new(category: ErrorCategory, message: impl Into<String>) -> Self {
        Self {
            category,
            message: message.into(),
        }
    }

    pub fn auth(message: impl Into<String>) -> Self {
        Self::new(ErrorCategory::Auth, message)
    }

    pub fn permission(message: impl Into<String>) -> Self {
        Self::new(ErrorCategory::Permission, message)
    }

    pub fn rate_limit(message: impl Into<String>) -> Self {
        Self::new(ErrorCategory::RateLimit, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCategory::SourceUnavailable, message)
    }

    pub fn bad_record(message: impl Into<String>) -> Self {
        Self::new(ErrorCategory::BadRecord, message)
    }
}

/// What one run read: per documented request ([`Source::request`]), its JSON document
/// (merged, for paged reads) or the error that request met.
#[derive(Debug, Clone, Default)]
pub struct Readings {
    pub documents: BTreeMap<String, Result<serde_json::Value, ConnectorError>>,
    pub stats: RunStats,
}

/// Counters of one run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunStats {
    /// API requests sent (every attempt, retries included; token requests excluded).
    pub requests: u32,
    /// Token requests sent (every attempt).
    pub token_requests: u32,
    /// Requests sent again after a 429, a 5xx or a network error.
    pub retries: u32,
    /// Successful response pages read into documents.
    pub pages: u32,
}

/// The outcome of one check.
#[derive(Clone, Serialize, Deserialize, PartialEq, Debug)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    Passed,
    Failed {
        risk: Risk,
    },
    /// The value could not be read (the request failed, or nothing is at the pointer).
    Undetected,
}

/// One check's result in one run.
#[derive(Clone, Serialize, Deserialize, Debug, PartialEq)]
pub struct CheckResult {
    pub check_id: String,
    pub action_id: String,
    pub verdict: Verdict,
    /// The value read, when one was.
    pub value: Option<serde_json::Value>,
    pub request: String,
    pub pointer: String,
    /// E.g. `read false at /meeting_security/waiting_room; expected true` or
    /// `could not read: permission denied (403 ...)`.
    pub detail: String,
}
