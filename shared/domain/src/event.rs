//! API.md "Domain events": the envelope every committed change produces, written in the same
//! transaction as the change and delivered at least once. Consumers de-duplicate on `id`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::TenantId;
use crate::DomainError;

/// What happened. The JSON and EventBridge `detail-type` are the variant's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventType {
    ActionUpdated,
    ActionsAssigned,
    EvidenceAdded,
    EvidenceVerified,
    EvidenceRejected,
    EvidenceRemoved,
    AssessmentCreated,
    AssessmentArchived,
    AssessmentDeleted,
    GroupCreated,
    GroupRenamed,
    /// A group's shared actions were copied from another group (`copy_from`), after the group
    /// was created: its assessments' scores may change.
    GroupCopied,
    RegulationImported,
    ScoreChanged,
    /// A connector was activated, changed (name, credentials, settings, state) or deleted.
    ConnectorChanged,
    ConnectorRunFinished,
    ConnectorRunFailed,
    SignalRecorded,
    AlertRaised,
    AlertUpdated,
    AlertPolicyChanged,
    ActionUpdateAccepted,
    UserRolesChanged,
    /// The daily schedule's tick: one score history point per scope per day (not stored in
    /// a tenant's events).
    DailyScoreTick,
}

impl EventType {
    pub const ALL: [EventType; 24] = [
        EventType::ActionUpdated,
        EventType::ActionsAssigned,
        EventType::EvidenceAdded,
        EventType::EvidenceVerified,
        EventType::EvidenceRejected,
        EventType::EvidenceRemoved,
        EventType::AssessmentCreated,
        EventType::AssessmentArchived,
        EventType::AssessmentDeleted,
        EventType::GroupCreated,
        EventType::GroupRenamed,
        EventType::GroupCopied,
        EventType::RegulationImported,
        EventType::ScoreChanged,
        EventType::ConnectorChanged,
        EventType::ConnectorRunFinished,
        EventType::ConnectorRunFailed,
        EventType::SignalRecorded,
        EventType::AlertRaised,
        EventType::AlertUpdated,
        EventType::AlertPolicyChanged,
        EventType::ActionUpdateAccepted,
        EventType::UserRolesChanged,
        EventType::DailyScoreTick,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ActionUpdated => "ActionUpdated",
            EventType::ActionsAssigned => "ActionsAssigned",
            EventType::EvidenceAdded => "EvidenceAdded",
            EventType::EvidenceVerified => "EvidenceVerified",
            EventType::EvidenceRejected => "EvidenceRejected",
            EventType::EvidenceRemoved => "EvidenceRemoved",
            EventType::AssessmentCreated => "AssessmentCreated",
            EventType::AssessmentArchived => "AssessmentArchived",
            EventType::AssessmentDeleted => "AssessmentDeleted",
            EventType::GroupCreated => "GroupCreated",
            EventType::GroupRenamed => "GroupRenamed",
            EventType::GroupCopied => "GroupCopied",
            EventType::RegulationImported => "RegulationImported",
            EventType::ScoreChanged => "ScoreChanged",
            EventType::ConnectorChanged => "ConnectorChanged",
            EventType::ConnectorRunFinished => "ConnectorRunFinished",
            EventType::ConnectorRunFailed => "ConnectorRunFailed",
            EventType::SignalRecorded => "SignalRecorded",
            EventType::AlertRaised => "AlertRaised",
            EventType::AlertUpdated => "AlertUpdated",
            EventType::AlertPolicyChanged => "AlertPolicyChanged",
            EventType::ActionUpdateAccepted => "ActionUpdateAccepted",
            EventType::UserRolesChanged => "UserRolesChanged",
            EventType::DailyScoreTick => "DailyScoreTick",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == value)
            .ok_or_else(|| {
                DomainError::invalid(
                    field,
                    format!("unknown event type {value:?}; expected one of the types in the API"),
                )
            })
    }

    /// Whether an event of this type can change a stored score (the score-recompute rule).
    pub fn can_change_score(self) -> bool {
        matches!(
            self,
            EventType::ActionUpdated
                | EventType::AssessmentCreated
                | EventType::AssessmentArchived
                | EventType::AssessmentDeleted
                | EventType::GroupCreated
                | EventType::GroupCopied
                | EventType::ActionUpdateAccepted
                | EventType::ConnectorRunFinished
                | EventType::DailyScoreTick
        )
    }
}

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    pub kind: String,
    pub id: String,
}

impl Subject {
    pub fn new(kind: &str, id: impl Into<String>) -> Self {
        Self {
            kind: kind.to_owned(),
            id: id.into(),
        }
    }
}

/// The envelope: `{id, tenant, type, at, actor, subject: {kind, id}, data}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    pub tenant: TenantId,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub at: DateTime<Utc>,
    /// The user who made the change; `None` for the service's own work.
    pub actor: Option<String>,
    pub subject: Subject,
    pub data: serde_json::Value,
}

impl Event {
    /// A new event with a fresh, time-ordered id (UUID v7: ids sort by time).
    pub fn new(
        tenant: &TenantId,
        kind: EventType,
        at: DateTime<Utc>,
        actor: Option<&str>,
        subject: Subject,
        data: serde_json::Value,
    ) -> Self {
        Self {
            id: new_event_id(),
            tenant: tenant.clone(),
            kind,
            at,
            actor: actor.map(str::to_owned),
            subject,
            data,
        }
    }

    /// The assessments the event names in `data.assessments` (and an assessment subject).
    pub fn assessments(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .data
            .get("assessments")
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if self.subject.kind == "assessment" && !out.contains(&self.subject.id) {
            out.push(self.subject.id.clone());
        }
        out
    }
}

/// A fresh event id: a UUID v7 in its hyphenated form (lexical order = time order).
pub fn new_event_id() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
}

/// Whether `value` looks like an event id (for cursors and de-duplication keys).
pub fn is_event_id(value: &str) -> bool {
    value.len() == 36 && uuid::Uuid::parse_str(value).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_json_and_time_ordered_ids() {
        let t = TenantId::parse("acme").unwrap();
        let e = Event::new(
            &t,
            EventType::ActionUpdated,
            Utc::now(),
            Some("alice"),
            Subject::new("action", "x"),
            serde_json::json!({"assessments": ["a1"]}),
        );
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], "ActionUpdated");
        assert_eq!(v["subject"]["kind"], "action");
        assert_eq!(v["tenant"], "acme");
        assert_eq!(serde_json::from_value::<Event>(v).unwrap(), e);
        let ids: Vec<String> = (0..200).map(|_| new_event_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted, "ids made later sort later");
        assert!(is_event_id(&ids[0]));
        assert!(!is_event_id("x"));
        assert_eq!(e.assessments(), vec!["a1".to_owned()]);
        for t in EventType::ALL {
            assert_eq!(EventType::parse("type", t.as_str()).unwrap(), t);
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        assert!(EventType::parse("type", "Nope").is_err());
    }
}
