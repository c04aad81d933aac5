//! Connector instances (one account of one outside service), their runs, and how the checks
//! of several instances combine into one action's test status (API.md "Connectors").

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::vocab::TestStatus;
use crate::DomainError;

/// Longest connector name.
pub const MAX_NAME_CHARS: usize = 120;

/// Whether scheduled runs happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorState {
    Active,
    Paused,
}

/// One activated connector. Its credentials live in the secret store, never here: only the
/// names of the fields that are set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connector {
    pub id: String,
    pub kind: String,
    /// The service its kind connects (`zoom`, `salesforce`): what assessments name.
    pub service: String,
    pub name: String,
    pub state: ConnectorState,
    #[serde(default)]
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// The credential fields stored in the secret store.
    pub credential_fields: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
}

/// A connector name, trimmed and bounded; compared case-insensitively for uniqueness.
pub fn normalize_name(name: &str) -> Result<(String, String), DomainError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(DomainError::invalid("name", "must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(DomainError::invalid(
            "name",
            format!("must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            "name",
            "must not contain control characters",
        ));
    }
    Ok((name.to_owned(), name.to_lowercase()))
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Schedule,
    Manual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    PartiallySucceeded,
    Failed,
}

/// API.md's error categories of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCategory {
    Auth,
    Permission,
    RateLimit,
    SourceUnavailable,
    BadRecord,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunError {
    pub category: ErrorCategory,
    pub message: String,
    pub count: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckCounts {
    pub passed: u32,
    pub failed: u32,
    pub undetected: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// One run of a connector, as `GET /connectors/{id}/history` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: String,
    pub connector_id: String,
    pub trigger: Trigger,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub outcome: Option<Outcome>,
    pub window: Window,
    pub items_fetched: u64,
    pub items_imported: u64,
    pub duplicates_skipped: u64,
    pub unmapped_users: u64,
    pub checks: CheckCounts,
    pub errors: Vec<RunError>,
}

impl RunRecord {
    /// A run just started, over `window`, with nothing counted yet.
    pub fn new(
        id: String,
        connector_id: &str,
        trigger: Trigger,
        started_at: DateTime<Utc>,
        window: Window,
    ) -> Self {
        Self {
            id,
            connector_id: connector_id.to_owned(),
            trigger,
            started_at,
            finished_at: None,
            outcome: None,
            window,
            items_fetched: 0,
            items_imported: 0,
            duplicates_skipped: 0,
            unmapped_users: 0,
            checks: CheckCounts::default(),
            errors: Vec::new(),
        }
    }

    /// Adds one error, counted with the others of its category and message.
    pub fn add_error(&mut self, category: ErrorCategory, message: impl Into<String>) {
        let message = message.into();
        match self
            .errors
            .iter_mut()
            .find(|e| e.category == category && e.message == message)
        {
            Some(e) => e.count += 1,
            None => self.errors.push(RunError {
                category,
                message,
                count: 1,
            }),
        }
    }

    /// The outcome once the run has done what it could: failed when nothing was read,
    /// partially when some of it met errors.
    pub fn finish(&mut self, at: DateTime<Utc>, read_anything: bool) {
        self.finished_at = Some(at);
        self.outcome = Some(if !read_anything {
            Outcome::Failed
        } else if self.errors.is_empty() {
            Outcome::Succeeded
        } else {
            Outcome::PartiallySucceeded
        });
    }
}

/// What `GET /connectors/{id}/status` derives from, kept beside the connector.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorStats {
    pub last_run: Option<RunRecord>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub items_imported_total: u64,
}

/// The risk of a failed check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    Low,
    Medium,
    High,
}

/// One instance's verdict on one action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    Passed,
    Failed { risk: Risk },
    Undetected,
}

/// What one connector instance found for one action: its verdict and the note explaining it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceVerdict {
    pub connector_id: String,
    pub connector_name: String,
    pub verdict: Verdict,
    pub note: String,
    pub at: DateTime<Utc>,
}

/// The test status of an action tested by several instances: passed only when every one
/// passed; otherwise the worst failure; `could_not_be_detected` when one could not read and
/// none failed; `to_be_detected` before any instance ran.
pub fn combine(verdicts: &[InstanceVerdict]) -> TestStatus {
    if verdicts.is_empty() {
        return TestStatus::ToBeDetected;
    }
    let worst = verdicts
        .iter()
        .filter_map(|v| match v.verdict {
            Verdict::Failed { risk } => Some(risk),
            _ => None,
        })
        .max();
    match worst {
        Some(Risk::High) => TestStatus::FailedHighRisk,
        Some(Risk::Medium) => TestStatus::FailedMediumRisk,
        Some(Risk::Low) => TestStatus::FailedLowRisk,
        None if verdicts.iter().any(|v| v.verdict == Verdict::Undetected) => {
            TestStatus::CouldNotBeDetected
        }
        None => TestStatus::Passed,
    }
}

/// The test notes of a combined status: one line per instance, in the order given.
pub fn combined_notes(verdicts: &[InstanceVerdict]) -> String {
    verdicts
        .iter()
        .map(|v| {
            format!(
                "{} ({}), {}: {}",
                v.connector_name,
                v.connector_id,
                v.at.format("%Y-%m-%dT%H:%M:%SZ"),
                v.note
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(id: &str, verdict: Verdict) -> InstanceVerdict {
        InstanceVerdict {
            connector_id: id.into(),
            connector_name: format!("{id} name"),
            verdict,
            note: "read true".into(),
            at: DateTime::parse_from_rfc3339("2026-11-27T04:00:00Z")
                .unwrap()
                .into(),
        }
    }

    #[test]
    fn several_instances_pass_only_together() {
        assert_eq!(combine(&[]), TestStatus::ToBeDetected);
        assert_eq!(combine(&[v("a", Verdict::Passed)]), TestStatus::Passed);
        assert_eq!(
            combine(&[v("a", Verdict::Passed), v("b", Verdict::Undetected)]),
            TestStatus::CouldNotBeDetected
        );
        assert_eq!(
            combine(&[
                v("a", Verdict::Failed { risk: Risk::Low }),
                v("b", Verdict::Undetected),
                v("c", Verdict::Failed { risk: Risk::Medium }),
                v("d", Verdict::Passed),
            ]),
            TestStatus::FailedMediumRisk
        );
        let notes = combined_notes(&[v("a", Verdict::Passed), v("b", Verdict::Passed)]);
        assert_eq!(
            notes,
            "a name (a), 2026-11-27T04:00:00Z: read true\nb name (b), 2026-11-27T04:00:00Z: read true"
        );
    }

    #[test]
    fn runs_count_errors_and_finish() {
        let t: DateTime<Utc> = Utc::now();
        let mut r = RunRecord {
            id: "r".into(),
            connector_id: "c".into(),
            trigger: Trigger::Manual,
            started_at: t,
            finished_at: None,
            outcome: None,
            window: Window { from: t, to: t },
            items_fetched: 0,
            items_imported: 0,
            duplicates_skipped: 0,
            unmapped_users: 0,
            checks: CheckCounts::default(),
            errors: vec![],
        };
        r.finish(t, true);
        assert_eq!(r.outcome, Some(Outcome::Succeeded));
        r.add_error(ErrorCategory::Permission, "403 on security");
        r.add_error(ErrorCategory::Permission, "403 on security");
        assert_eq!(r.errors[0].count, 2);
        r.finish(t, true);
        assert_eq!(r.outcome, Some(Outcome::PartiallySucceeded));
        r.finish(t, false);
        assert_eq!(r.outcome, Some(Outcome::Failed));
    }

    #[test]
    fn names() {
        assert_eq!(
            normalize_name("  Zoom Prod ").unwrap(),
            ("Zoom Prod".into(), "zoom prod".into())
        );
        assert!(normalize_name(" ").is_err());
        assert!(normalize_name(&"x".repeat(121)).is_err());
        assert!(normalize_name("a\nb").is_err());
    }
}
