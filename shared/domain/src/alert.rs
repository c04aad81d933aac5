//! API.md "Alerts": alert policies, the events they watch and the alerts they raise.
//!
//! Pure: which events a policy matches (its event kind and filters), how a threshold counts
//! matching events within its window, and how alerts are titled. Storage and delivery live
//! elsewhere.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::event::{Event, EventType};
use crate::ids::{ActionId, AssessmentId, RegulationId, UserId};
use crate::DomainError;

/// What a policy watches (API.md's `event` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertEvent {
    ScoreChange,
    ScoreDecrease,
    AssignmentChange,
    ImplementationStatusChange,
    TestStatusChange,
    EvidenceChange,
    ConnectorRunFailed,
    DepartingUserActivity,
}

impl AlertEvent {
    pub const ALL: &'static [AlertEvent] = &[
        AlertEvent::ScoreChange,
        AlertEvent::ScoreDecrease,
        AlertEvent::AssignmentChange,
        AlertEvent::ImplementationStatusChange,
        AlertEvent::TestStatusChange,
        AlertEvent::EvidenceChange,
        AlertEvent::ConnectorRunFailed,
        AlertEvent::DepartingUserActivity,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertEvent::ScoreChange => "score_change",
            AlertEvent::ScoreDecrease => "score_decrease",
            AlertEvent::AssignmentChange => "assignment_change",
            AlertEvent::ImplementationStatusChange => "implementation_status_change",
            AlertEvent::TestStatusChange => "test_status_change",
            AlertEvent::EvidenceChange => "evidence_change",
            AlertEvent::ConnectorRunFailed => "connector_run_failed",
            AlertEvent::DepartingUserActivity => "departing_user_activity",
        }
    }

    /// What one matching event is called, in the singular and the plural (threshold titles).
    fn noun(self) -> (&'static str, &'static str) {
        match self {
            AlertEvent::ScoreChange => ("score change", "score changes"),
            AlertEvent::ScoreDecrease => ("score decrease", "score decreases"),
            AlertEvent::AssignmentChange => ("assignment change", "assignment changes"),
            AlertEvent::ImplementationStatusChange => (
                "implementation status change",
                "implementation status changes",
            ),
            AlertEvent::TestStatusChange => ("test status change", "test status changes"),
            AlertEvent::EvidenceChange => ("evidence change", "evidence changes"),
            AlertEvent::ConnectorRunFailed => ("failed connector run", "failed connector runs"),
            AlertEvent::DepartingUserActivity => {
                ("departing user activity", "departing user activities")
            }
        }
    }

    /// Whether an event of this kind could match some policy (a cheap first filter).
    pub fn may_match(kind: EventType) -> bool {
        matches!(
            kind,
            EventType::ScoreChanged
                | EventType::ActionUpdated
                | EventType::ActionsAssigned
                | EventType::EvidenceAdded
                | EventType::EvidenceVerified
                | EventType::EvidenceRejected
                | EventType::EvidenceRemoved
                | EventType::ConnectorRunFailed
                | EventType::SignalRecorded
        )
    }

    /// Whether `event` is one of the events this kind watches (filters aside).
    pub fn matches(self, event: &Event) -> bool {
        let data = &event.data;
        match self {
            AlertEvent::ScoreChange => event.kind == EventType::ScoreChanged,
            AlertEvent::ScoreDecrease => {
                event.kind == EventType::ScoreChanged
                    && matches!(
                        (data["old"]["percent"].as_f64(), data["new"]["percent"].as_f64()),
                        (Some(old), Some(new)) if new < old
                    )
            }
            AlertEvent::AssignmentChange => {
                event.kind == EventType::ActionsAssigned
                    || (event.kind == EventType::ActionUpdated && change(data, "owner").is_some())
            }
            AlertEvent::ImplementationStatusChange => {
                event.kind == EventType::ActionUpdated
                    && change(data, "implementation_status").is_some()
            }
            AlertEvent::TestStatusChange => {
                event.kind == EventType::ActionUpdated && change(data, "test_status").is_some()
            }
            AlertEvent::EvidenceChange => matches!(
                event.kind,
                EventType::EvidenceAdded
                    | EventType::EvidenceVerified
                    | EventType::EvidenceRejected
                    | EventType::EvidenceRemoved
            ),
            AlertEvent::ConnectorRunFailed => event.kind == EventType::ConnectorRunFailed,
            AlertEvent::DepartingUserActivity => {
                event.kind == EventType::SignalRecorded
                    && data["signal"].as_str() == Some("departing_user_activity")
            }
        }
    }
}

impl fmt::Display for AlertEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub const ALL: &'static [Severity] = &[Severity::Low, Severity::Medium, Severity::High];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<Self, DomainError> {
        parse_vocab(field, value, Self::ALL, Self::as_str)
    }
}

/// Where an alert stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    Active,
    Investigating,
    Resolved,
    Dismissed,
}

impl AlertStatus {
    pub const ALL: &'static [AlertStatus] = &[
        AlertStatus::Active,
        AlertStatus::Investigating,
        AlertStatus::Resolved,
        AlertStatus::Dismissed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Active => "active",
            AlertStatus::Investigating => "investigating",
            AlertStatus::Resolved => "resolved",
            AlertStatus::Dismissed => "dismissed",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<Self, DomainError> {
        parse_vocab(field, value, Self::ALL, Self::as_str)
    }

    /// Resolved and dismissed alerts are closed: further matches start a new count.
    pub fn is_closed(self) -> bool {
        matches!(self, AlertStatus::Resolved | AlertStatus::Dismissed)
    }
}

fn parse_vocab<T: Copy>(
    field: &str,
    value: &str,
    all: &[T],
    as_str: fn(T) -> &'static str,
) -> Result<T, DomainError> {
    all.iter()
        .copied()
        .find(|v| as_str(*v) == value)
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|v| as_str(*v)).collect();
            DomainError::invalid(
                field,
                format!(
                    "unknown value {value:?}; expected one of: {}",
                    names.join(", ")
                ),
            )
        })
}

const MAX_ID_LEN: usize = 128;

/// Whether `value` can be an alert or policy id (the characters ids hold, at most 128).
pub fn is_valid_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_ID_LEN
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@' | ':' | '+'))
}

pub const MAX_POLICY_NAME_CHARS: usize = 200;

/// A policy name: trimmed, 1 to 200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct PolicyName(String);

impl PolicyName {
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err(DomainError::invalid("name", "must not be empty"));
        }
        if trimmed.chars().count() > MAX_POLICY_NAME_CHARS {
            return Err(DomainError::invalid(
                "name",
                format!("must be at most {MAX_POLICY_NAME_CHARS} characters"),
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(DomainError::invalid(
                "name",
                "must not contain control characters",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for PolicyName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PolicyName::parse(&s).map_err(|e| serde::de::Error::custom(e.message()))
    }
}

pub const MAX_ASSIGNEE_CHARS: usize = 256;

/// An alert's assignee as given: trimmed; empty clears it. At most 256 characters.
pub fn parse_assignee(value: Option<&str>) -> Result<Option<String>, DomainError> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.chars().count() > MAX_ASSIGNEE_CHARS {
        return Err(DomainError::invalid(
            "assignee",
            format!("must be at most {MAX_ASSIGNEE_CHARS} characters"),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            "assignee",
            "must not contain control characters",
        ));
    }
    Ok(Some(v.to_owned()))
}

/// Which events of the watched kind count: every filter given must match. (No field has a
/// serde default, so that only a JSON object is taken for filters, never a list.)
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertFilters {
    /// In the event's `data.assessments` (or the event is about that assessment).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assessment: Option<AssessmentId>,
    /// In the event's `data.regulations`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regulation: Option<RegulationId>,
    /// The event's `data.action`, one of its `data.actions`, or the action it is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<ActionId>,
    /// The user who made the change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<UserId>,
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

impl AlertFilters {
    pub fn matches(&self, event: &Event) -> bool {
        let data = &event.data;
        self.assessment
            .as_ref()
            .is_none_or(|a| event.assessments().iter().any(|x| x == a.as_str()))
            && self
                .regulation
                .as_ref()
                .is_none_or(|r| strings(&data["regulations"]).contains(&r.as_str()))
            && self.action.as_ref().is_none_or(|a| {
                let a = a.as_str();
                data["action"].as_str() == Some(a)
                    || strings(&data["actions"]).contains(&a)
                    || (event.subject.kind == "action" && event.subject.id == a)
            })
            && self
                .actor
                .as_ref()
                .is_none_or(|u| event.actor.as_deref() == Some(u.as_str()))
    }
}

pub const MAX_THRESHOLD_COUNT: u32 = 1000;
/// 30 days.
pub const MAX_WINDOW_MINUTES: u32 = 43_200;

fn in_range<'de, D: Deserializer<'de>>(d: D, max: u32) -> Result<u32, D::Error> {
    let n = u32::deserialize(d)?;
    if !(1..=max).contains(&n) {
        return Err(serde::de::Error::custom(format!(
            "must be from 1 to {max} (got {n})"
        )));
    }
    Ok(n)
}

fn count<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    in_range(d, MAX_THRESHOLD_COUNT)
}

fn window_minutes<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    in_range(d, MAX_WINDOW_MINUTES)
}

/// Raise an alert once `count` matching events fall within `window_minutes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    #[serde(deserialize_with = "count")]
    pub count: u32,
    #[serde(deserialize_with = "window_minutes")]
    pub window_minutes: u32,
}

impl Threshold {
    pub fn window(&self) -> Duration {
        Duration::minutes(i64::from(self.window_minutes))
    }

    /// Whether an event at `at` falls within the window of an alert first seen at `first_at`.
    pub fn covers(&self, first_at: DateTime<Utc>, at: DateTime<Utc>) -> bool {
        at < first_at + self.window() && at > first_at - self.window()
    }
}

/// A policy: which events to watch, and how they raise alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertPolicy {
    pub id: String,
    pub name: PolicyName,
    pub event: AlertEvent,
    #[serde(default)]
    pub filters: AlertFilters,
    pub severity: Severity,
    pub threshold: Option<Threshold>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl AlertPolicy {
    /// Whether the policy watches `event`: enabled, of its kind, and every filter matching.
    pub fn matches(&self, event: &Event) -> bool {
        self.enabled && self.event.matches(event) && self.filters.matches(event)
    }

    /// Whether a change from `self` to `next` changes what is counted (the count starts anew).
    pub fn counts_differently(&self, next: &AlertPolicy) -> bool {
        (self.event, &self.filters, self.threshold, self.enabled)
            != (next.event, &next.filters, next.threshold, next.enabled)
    }

    /// The title of an alert of this policy over `count` events, `first` being the only one
    /// when the policy has no threshold.
    pub fn title(&self, first: &Event, count: u32) -> String {
        let text = match self.threshold {
            None => describe(self.event, first),
            Some(t) => {
                let (one, many) = self.event.noun();
                let noun = if count == 1 { one } else { many };
                format!("{count} {noun} within {} minutes", t.window_minutes)
            }
        };
        clip(text, MAX_TITLE_CHARS)
    }
}

/// The ids of the policies every tenant starts with.
pub const DEFAULT_CONNECTOR_POLICY: &str = "default-connector-run-failed";
pub const DEFAULT_SCORE_POLICY: &str = "default-score-decrease";

/// The two enabled policies every tenant starts with: failed connector runs (high) and score
/// decreases (medium), without threshold.
pub fn default_policies(at: DateTime<Utc>) -> Vec<AlertPolicy> {
    let policy = |id: &str, name: &str, event, severity| AlertPolicy {
        id: id.to_owned(),
        name: PolicyName::parse(name).expect("default names are valid"),
        event,
        filters: AlertFilters::default(),
        severity,
        threshold: None,
        enabled: true,
        created_at: at,
        updated_at: at,
    };
    vec![
        policy(
            DEFAULT_CONNECTOR_POLICY,
            "Connector run failed",
            AlertEvent::ConnectorRunFailed,
            Severity::High,
        ),
        policy(
            DEFAULT_SCORE_POLICY,
            "Score decreased",
            AlertEvent::ScoreDecrease,
            Severity::Medium,
        ),
    ]
}

/// How many event ids an alert keeps (its `count` goes on counting).
pub const MAX_ALERT_EVENTS: usize = 1000;
pub const MAX_TITLE_CHARS: usize = 300;

/// An alert a policy raised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: String,
    pub policy_id: String,
    /// The policy's event kind.
    pub event: AlertEvent,
    pub severity: Severity,
    pub status: AlertStatus,
    pub title: String,
    /// How many matching events the alert covers.
    pub count: u32,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    /// The ids of the matching events (the first [`MAX_ALERT_EVENTS`]).
    pub events: Vec<String>,
    pub assignee: Option<String>,
}

/// The id of the alert `event` raises under `policy`: the event's time-ordered id first, so
/// that alert ids sort by when they were raised, and the same event never raises twice.
pub fn alert_id(event_id: &str, policy_id: &str) -> String {
    format!("{}-{policy_id}", event_id.replace('-', ""))
}

impl Alert {
    /// A new, active alert of `policy` over `events` (at least one), titled after `last`.
    pub fn raise(policy: &AlertPolicy, events: &[Counted], last: &Event) -> Alert {
        let first_at = events.iter().map(|c| c.at).min().unwrap_or(last.at);
        let last_at = events.iter().map(|c| c.at).max().unwrap_or(last.at);
        let count = events.len().max(1) as u32;
        Alert {
            id: alert_id(&last.id, &policy.id),
            policy_id: policy.id.clone(),
            event: policy.event,
            severity: policy.severity,
            status: AlertStatus::Active,
            title: policy.title(last, count),
            count,
            first_at,
            last_at,
            events: events
                .iter()
                .map(|c| c.event.clone())
                .take(MAX_ALERT_EVENTS)
                .collect(),
            assignee: None,
        }
    }

    /// Adds one more matching event.
    pub fn add(&mut self, policy: &AlertPolicy, event: &Event) {
        self.count += 1;
        self.first_at = self.first_at.min(event.at);
        self.last_at = self.last_at.max(event.at);
        if self.events.len() < MAX_ALERT_EVENTS {
            self.events.push(event.id.clone());
        }
        self.title = policy.title(event, self.count);
    }
}

/// A matching event a threshold counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counted {
    pub event: String,
    pub at: DateTime<Utc>,
}

/// The alert raised in a threshold's current window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenAlert {
    pub alert: String,
    pub first_at: DateTime<Utc>,
}

/// How late (in hours) an event may arrive and still be counted with earlier ones.
const LATE_HOURS: i64 = 24;
/// Most events a threshold's count keeps.
const MAX_PENDING: usize = 1_000;

/// A threshold policy's count: matching events not part of an alert yet, and the alert whose
/// window is open.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertWindow {
    #[serde(default)]
    pub pending: Vec<Counted>,
    #[serde(default)]
    pub open: Option<OpenAlert>,
}

impl AlertWindow {
    pub fn is_pending(&self, event_id: &str) -> bool {
        self.pending.iter().any(|c| c.event == event_id)
    }

    /// Counts a matching event that no open alert takes: the events an alert must now be
    /// raised with when `count` of them fall within the window (they leave the count, and the
    /// window opens when the alert is stored), else `None`.
    pub fn count(
        &mut self,
        threshold: &Threshold,
        event_id: &str,
        at: DateTime<Utc>,
    ) -> Option<Vec<Counted>> {
        self.open = None;
        if !self.is_pending(event_id) {
            self.pending.push(Counted {
                event: event_id.to_owned(),
                at,
            });
        }
        let newest = self.pending.iter().map(|c| c.at).max()?;
        // Events may arrive late and out of order: an event is kept while one arriving a day
        // late could still fall within its window.
        let keep_after = newest - threshold.window() - Duration::hours(LATE_HOURS);
        self.pending.retain(|c| c.at > keep_after);
        self.pending
            .sort_by(|a, b| (a.at, &a.event).cmp(&(b.at, &b.event)));
        if self.pending.len() > MAX_PENDING {
            let extra = self.pending.len() - MAX_PENDING;
            self.pending.drain(..extra);
        }
        // The earliest run of `count` events that falls within the window raises the alert.
        let need = (threshold.count as usize).max(1);
        let run = (0..self.pending.len().saturating_sub(need - 1))
            .find(|&i| self.pending[i + need - 1].at - self.pending[i].at < threshold.window())?;
        Some(self.pending.drain(run..run + need).collect())
    }
}

fn clip(mut text: String, max: usize) -> String {
    if let Some((i, _)) = text.char_indices().nth(max) {
        text.truncate(i);
    }
    text
}

/// A JSON value as a title shows it.
fn shown(v: &Value) -> String {
    match v {
        Value::Null => "none".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An ActionUpdated event's change of `field`: `(old, new)`.
fn change<'a>(data: &'a Value, field: &str) -> Option<(&'a Value, &'a Value)> {
    data["changes"]
        .as_array()?
        .iter()
        .find(|c| c["field"].as_str() == Some(field))
        .map(|c| (&c["old"], &c["new"]))
}

fn percent(v: &Value) -> Option<String> {
    v["percent"].as_f64().map(|p| format!("{p}%"))
}

/// A one-event title.
fn describe(kind: AlertEvent, e: &Event) -> String {
    let data = &e.data;
    let action = || {
        data["action"]
            .as_str()
            .unwrap_or(e.subject.id.as_str())
            .to_owned()
    };
    let field_change = |label: &str, field: &str| match change(data, field) {
        Some((old, new)) => format!(
            "{label} of action {}: {} → {}",
            action(),
            shown(old),
            shown(new)
        ),
        None => format!("{label} of action {} changed", action()),
    };
    match kind {
        AlertEvent::ScoreChange | AlertEvent::ScoreDecrease => {
            let scope = match data["scope"].as_str() {
                Some("tenant") | None => "overall score".to_owned(),
                Some(id) => format!("assessment {id}"),
            };
            let new = percent(&data["new"]).unwrap_or_else(|| "?".into());
            match percent(&data["old"]) {
                None => format!("Score set: {scope} {new}"),
                Some(old) => {
                    let (o, n) = (
                        data["old"]["percent"].as_f64(),
                        data["new"]["percent"].as_f64(),
                    );
                    let verb = match (o, n) {
                        (Some(o), Some(n)) if n < o => "decreased",
                        (Some(o), Some(n)) if n > o => "increased",
                        _ => "changed",
                    };
                    format!("Score {verb}: {scope} {old} → {new}")
                }
            }
        }
        AlertEvent::AssignmentChange if e.kind == EventType::ActionsAssigned => {
            let n = strings(&data["actions"]).len();
            let actions = if n == 1 { "action" } else { "actions" };
            match data["owner"].as_str() {
                Some(owner) => format!("{n} {actions} assigned to {owner}"),
                None => format!("{n} {actions} unassigned"),
            }
        }
        AlertEvent::AssignmentChange => field_change("Owner", "owner"),
        AlertEvent::ImplementationStatusChange => {
            field_change("Implementation status", "implementation_status")
        }
        AlertEvent::TestStatusChange => field_change("Test status", "test_status"),
        AlertEvent::EvidenceChange => {
            let what = match e.kind {
                EventType::EvidenceAdded => "Evidence added to",
                EventType::EvidenceVerified => "Evidence verified for",
                EventType::EvidenceRejected => "Evidence rejected for",
                _ => "Evidence removed from",
            };
            format!(
                "{what} action {}: {}",
                action(),
                data["name"].as_str().unwrap_or(e.subject.id.as_str())
            )
        }
        AlertEvent::ConnectorRunFailed => format!(
            "Connector run failed: {}",
            data["connector"].as_str().unwrap_or(e.subject.id.as_str())
        ),
        AlertEvent::DepartingUserActivity => format!(
            "Departing user activity: {}",
            data["user"]
                .as_str()
                .or(e.actor.as_deref())
                .unwrap_or(e.subject.id.as_str())
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Subject;
    use crate::ids::TenantId;
    use serde_json::json;

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + Duration::minutes(minute)
    }

    fn event(kind: EventType, actor: Option<&str>, subject: Subject, data: Value) -> Event {
        Event::new(
            &TenantId::parse("acme").unwrap(),
            kind,
            at(0),
            actor,
            subject,
            data,
        )
    }

    fn updated(field: &str, old: &str, new: &str) -> Event {
        event(
            EventType::ActionUpdated,
            Some("alice"),
            Subject::new("action", "mfa-admins"),
            json!({"action": "mfa-admins", "changes": [{"field": field, "old": old, "new": new}],
                   "assessments": ["a1"], "regulations": ["iso-27001-2022"], "source": "manual"}),
        )
    }

    fn score(scope: &str, old: Option<f64>, new: f64) -> Event {
        event(
            EventType::ScoreChanged,
            None,
            Subject::new("assessment", scope),
            json!({"scope": scope, "old": old.map(|p| json!({"percent": p})), "new": {"percent": new},
                   "assessments": [scope], "regulations": []}),
        )
    }

    fn policy(event: AlertEvent, threshold: Option<Threshold>) -> AlertPolicy {
        AlertPolicy {
            id: "p1".into(),
            name: PolicyName::parse("P").unwrap(),
            event,
            filters: AlertFilters::default(),
            severity: Severity::Low,
            threshold,
            enabled: true,
            created_at: at(0),
            updated_at: at(0),
        }
    }

    #[test]
    fn events_map_to_the_kinds_they_raise() {
        use AlertEvent::*;
        let test = updated("test_status", "none", "passed");
        assert!(TestStatusChange.matches(&test));
        assert!(!ImplementationStatusChange.matches(&test));
        assert!(!AssignmentChange.matches(&test));
        assert!(AssignmentChange.matches(&updated("owner", "a", "b")));
        assert!(ImplementationStatusChange.matches(&updated(
            "implementation_status",
            "planned",
            "implemented"
        )));
        let assigned = event(
            EventType::ActionsAssigned,
            Some("alice"),
            Subject::new("actions", "x,y"),
            json!({"actions": ["x", "y"], "owner": "bo"}),
        );
        assert!(AssignmentChange.matches(&assigned));
        assert!(ScoreChange.matches(&score("a1", None, 50.0)));
        assert!(
            !ScoreDecrease.matches(&score("a1", None, 50.0)),
            "a first score"
        );
        assert!(!ScoreDecrease.matches(&score("a1", Some(40.0), 50.0)));
        assert!(ScoreDecrease.matches(&score("a1", Some(62.5), 50.0)));
        for kind in [
            EventType::EvidenceAdded,
            EventType::EvidenceVerified,
            EventType::EvidenceRejected,
            EventType::EvidenceRemoved,
        ] {
            let e = event(kind, None, Subject::new("evidence", "e1"), json!({}));
            assert!(EvidenceChange.matches(&e));
            assert!(AlertEvent::may_match(kind));
        }
        let failed = event(
            EventType::ConnectorRunFailed,
            None,
            Subject::new("connector", "c1"),
            json!({}),
        );
        assert!(ConnectorRunFailed.matches(&failed));
        let signal = |s: &str| {
            event(
                EventType::SignalRecorded,
                None,
                Subject::new("user", "u1"),
                json!({"signal": s}),
            )
        };
        assert!(DepartingUserActivity.matches(&signal("departing_user_activity")));
        assert!(!DepartingUserActivity.matches(&signal("other")));
        assert!(!AlertEvent::may_match(EventType::AlertRaised));
        for e in AlertEvent::ALL {
            let json = serde_json::to_value(e).unwrap();
            assert_eq!(json, e.as_str());
        }
    }

    #[test]
    fn every_given_filter_must_match() {
        let e = updated("test_status", "none", "passed");
        let mut f = AlertFilters::default();
        assert!(f.matches(&e));
        f.assessment = Some(AssessmentId::parse("a1").unwrap());
        f.regulation = Some(RegulationId::parse("iso-27001-2022").unwrap());
        f.action = Some(ActionId::parse("mfa-admins").unwrap());
        f.actor = Some(UserId::parse("alice").unwrap());
        assert!(f.matches(&e));
        for broken in [
            AlertFilters {
                assessment: Some(AssessmentId::parse("a2").unwrap()),
                ..f.clone()
            },
            AlertFilters {
                regulation: Some(RegulationId::parse("gdpr").unwrap()),
                ..f.clone()
            },
            AlertFilters {
                action: Some(ActionId::parse("other").unwrap()),
                ..f.clone()
            },
            AlertFilters {
                actor: Some(UserId::parse("bob").unwrap()),
                ..f.clone()
            },
        ] {
            assert!(!broken.matches(&e), "{broken:?}");
        }
        // An assessment's score event names it as its subject.
        let only = AlertFilters {
            assessment: Some(AssessmentId::parse("a9").unwrap()),
            ..Default::default()
        };
        assert!(only.matches(&score("a9", Some(1.0), 0.0)));
        // Actions named in a bulk assignment.
        let assigned = event(
            EventType::ActionsAssigned,
            Some("alice"),
            Subject::new("actions", "x,y"),
            json!({"actions": ["x", "y"], "owner": "bo"}),
        );
        let by_action = AlertFilters {
            action: Some(ActionId::parse("y").unwrap()),
            ..Default::default()
        };
        assert!(by_action.matches(&assigned));
        let mut disabled = policy(AlertEvent::AssignmentChange, None);
        assert!(disabled.matches(&assigned));
        disabled.enabled = false;
        assert!(!disabled.matches(&assigned));
    }

    #[test]
    fn bodies_are_validated_field_by_field() {
        let t: Threshold =
            serde_json::from_value(json!({"count": 3, "window_minutes": 60})).unwrap();
        assert_eq!(t.window(), Duration::minutes(60));
        for bad in [
            json!({"count": 0, "window_minutes": 60}),
            json!({"count": 1001, "window_minutes": 60}),
            json!({"count": 3, "window_minutes": 43_201}),
            json!({"count": 3, "window_minutes": 60, "extra": 1}),
            json!({"count": -1, "window_minutes": 60}),
        ] {
            assert!(
                serde_json::from_value::<Threshold>(bad.clone()).is_err(),
                "{bad}"
            );
        }
        assert!(PolicyName::parse(&"x".repeat(200)).is_ok());
        assert!(PolicyName::parse(&"x".repeat(201)).is_err());
        assert!(PolicyName::parse("  ").is_err());
        assert!(serde_json::from_value::<AlertFilters>(json!({"assessment": "a#b"})).is_err());
        assert!(serde_json::from_value::<AlertFilters>(json!({"unknown": "x"})).is_err());
        assert!(serde_json::from_value::<AlertFilters>(json!([])).is_err());
        assert_eq!(
            serde_json::from_value::<AlertFilters>(json!({"actor": null})).unwrap(),
            AlertFilters::default()
        );
        assert!(serde_json::from_value::<Threshold>(json!([])).is_err());
        assert_eq!(parse_assignee(Some("  ")).unwrap(), None);
        assert_eq!(parse_assignee(Some(" bo ")).unwrap().as_deref(), Some("bo"));
        assert!(parse_assignee(Some(&"x".repeat(257))).is_err());
        assert_eq!(Severity::parse("severity", "high").unwrap(), Severity::High);
        let err = AlertStatus::parse("status", "open")
            .unwrap_err()
            .to_string();
        assert!(err.contains("status"), "{err}");
        assert!(is_valid_id("0190-default-score-decrease"));
        assert!(!is_valid_id("a/b") && !is_valid_id("") && !is_valid_id(&"a".repeat(129)));
    }

    #[test]
    fn a_threshold_raises_once_count_events_fall_within_its_window() {
        let t = Threshold {
            count: 3,
            window_minutes: 60,
        };
        let mut w = AlertWindow::default();
        assert_eq!(w.count(&t, "e1", at(0)), None);
        // e1 and e3 are more than the window apart: no three within it yet.
        assert_eq!(w.count(&t, "e2", at(30)), None);
        assert_eq!(w.count(&t, "e3", at(61)), None);
        assert_eq!(w.pending.len(), 3);
        // Counting one event twice changes nothing.
        assert_eq!(w.count(&t, "e3", at(61)), None);
        let raised = w.count(&t, "e4", at(70)).unwrap();
        let ids: Vec<&str> = raised.iter().map(|c| c.event.as_str()).collect();
        assert_eq!(ids, ["e2", "e3", "e4"]);
        // e1 stays counted, for an event that arrives late beside it.
        let left: Vec<&str> = w.pending.iter().map(|c| c.event.as_str()).collect();
        assert_eq!(left, ["e1"]);
        assert!(t.covers(at(30), at(89)));
        assert!(!t.covers(at(30), at(90)));
    }

    /// EventBridge delivers in no set order: a late event still completes an earlier run.
    #[test]
    fn a_late_event_counts_with_the_earlier_ones_it_falls_beside() {
        let t = Threshold {
            count: 2,
            window_minutes: 60,
        };
        let mut w = AlertWindow::default();
        assert_eq!(w.count(&t, "ten", at(0)), None);
        assert_eq!(w.count(&t, "noon", at(120)), None);
        let raised = w.count(&t, "half-past-ten", at(30)).unwrap();
        let ids: Vec<&str> = raised.iter().map(|c| c.event.as_str()).collect();
        assert_eq!(ids, ["ten", "half-past-ten"]);
        let left: Vec<&str> = w.pending.iter().map(|c| c.event.as_str()).collect();
        assert_eq!(left, ["noon"]);
        // Events more than a day older than the newest are no longer kept.
        assert_eq!(w.count(&t, "next-week", at(7 * 24 * 60)), None);
        let left: Vec<&str> = w.pending.iter().map(|c| c.event.as_str()).collect();
        assert_eq!(left, ["next-week"]);
    }

    #[test]
    fn titles_say_what_happened() {
        let p = policy(AlertEvent::ScoreDecrease, None);
        assert_eq!(
            p.title(&score("x1", Some(62.5), 50.0), 1),
            "Score decreased: assessment x1 62.5% → 50%"
        );
        let p = policy(AlertEvent::TestStatusChange, None);
        assert_eq!(
            p.title(&updated("test_status", "none", "passed"), 1),
            "Test status of action mfa-admins: none → passed"
        );
        let p = policy(
            AlertEvent::TestStatusChange,
            Some(Threshold {
                count: 3,
                window_minutes: 60,
            }),
        );
        let e = updated("test_status", "none", "passed");
        assert_eq!(p.title(&e, 3), "3 test status changes within 60 minutes");
        let mut alert = Alert::raise(
            &p,
            &[Counted {
                event: e.id.clone(),
                at: e.at,
            }],
            &e,
        );
        assert_eq!(alert.id, alert_id(&e.id, "p1"));
        assert!(is_valid_id(&alert.id));
        let later = updated("test_status", "passed", "failed_low_risk");
        alert.add(&p, &later);
        assert_eq!((alert.count, alert.events.len()), (2, 2));
        assert_eq!(alert.title, "2 test status changes within 60 minutes");
    }

    #[test]
    fn every_tenant_starts_with_two_enabled_policies() {
        let d = default_policies(at(0));
        let kinds: Vec<(AlertEvent, Severity, bool)> =
            d.iter().map(|p| (p.event, p.severity, p.enabled)).collect();
        assert_eq!(
            kinds,
            [
                (AlertEvent::ConnectorRunFailed, Severity::High, true),
                (AlertEvent::ScoreDecrease, Severity::Medium, true)
            ]
        );
        assert!(d
            .iter()
            .all(|p| p.threshold.is_none() && is_valid_id(&p.id)));
    }
}
