//! Action instances: the status of an improvement action where it is worked on (once per
//! tenant, or once per assessment group), and the rules every change must keep.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::history::{HistoryEntry, Source};
use crate::identity::Permission;
use crate::ids::GroupId;
use crate::regulation::ImprovementAction;
use crate::vocab::{ImplementationStatus, TestStatus, TestingType};
use crate::DomainError;

pub const MAX_NOTES_CHARS: usize = 10_000;
pub const MAX_OWNER_CHARS: usize = 256;

/// Where an action instance lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "scope", content = "group_id", rename_all = "snake_case")]
pub enum InstanceScope {
    /// One instance for the whole tenant (technical and provider-managed actions).
    Tenant,
    /// One instance per assessment group (documentation and operational actions).
    Group(GroupId),
}

/// One action instance: an action of the library where it is worked on. Its API id is the
/// action id, followed by `@{group}` for group-scoped instances.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceRef {
    pub action: crate::ids::ActionId,
    pub scope: InstanceScope,
}

impl InstanceRef {
    pub fn api_id(&self) -> String {
        match &self.scope {
            InstanceScope::Tenant => self.action.to_string(),
            InstanceScope::Group(g) => format!("{}@{g}", self.action),
        }
    }

    /// Parses an API id; `None` when it cannot name an instance.
    pub fn parse(id: &str) -> Option<Self> {
        let (action, scope) = match id.split_once('@') {
            Some((a, g)) => (a, InstanceScope::Group(GroupId::parse(g).ok()?)),
            None => (id, InstanceScope::Tenant),
        };
        Some(Self {
            action: crate::ids::ActionId::parse(action).ok()?,
            scope,
        })
    }
}

/// The template library's first version: the one every instance stored before the library
/// was versioned was worked on against.
pub const FIRST_LIBRARY_VERSION: u32 = 1;

fn first_library_version() -> u32 {
    FIRST_LIBRARY_VERSION
}

/// The editable state of an action instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionStatus {
    pub owner: Option<String>,
    pub implementation_status: ImplementationStatus,
    pub implementation_date: Option<NaiveDate>,
    pub implementation_notes: String,
    pub test_status: TestStatus,
    pub test_date: Option<NaiveDate>,
    pub test_notes: String,
    pub testing_type: TestingType,
    /// The library version whose definition of the action the tenant accepted (guidance,
    /// points, mapping, testing type); changed only by accepting an update.
    #[serde(default = "first_library_version")]
    pub library_version: u32,
}

impl ActionStatus {
    /// The state of an action nobody has worked on yet, at the library's current version.
    pub fn initial(action: &ImprovementAction, library_version: u32) -> Self {
        let mut s = Self::blank(action.testing_type, library_version);
        if action.testing_type == TestingType::Automatic {
            // Tested by connectors: nothing detected until the first run.
            s.test_status = TestStatus::ToBeDetected;
        }
        s
    }

    /// An untouched status with the given testing type.
    pub fn blank(testing_type: TestingType, library_version: u32) -> Self {
        Self {
            owner: None,
            implementation_status: ImplementationStatus::NotImplemented,
            implementation_date: None,
            implementation_notes: String::new(),
            test_status: TestStatus::None,
            test_date: None,
            test_notes: String::new(),
            testing_type,
            library_version,
        }
    }
}

/// A change request. `None` leaves a field alone; for nullable fields `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionPatch {
    #[serde(default, deserialize_with = "nullable")]
    pub owner: Option<Option<String>>,
    pub implementation_status: Option<ImplementationStatus>,
    #[serde(default, deserialize_with = "nullable")]
    pub implementation_date: Option<Option<NaiveDate>>,
    pub implementation_notes: Option<String>,
    pub test_status: Option<TestStatus>,
    #[serde(default, deserialize_with = "nullable")]
    pub test_date: Option<Option<NaiveDate>>,
    pub test_notes: Option<String>,
    pub testing_type: Option<TestingType>,
}

/// Present-and-null becomes `Some(None)`; absent stays `None` (through `default`).
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

impl ActionPatch {
    /// The permissions the caller needs for this patch (API.md's matrix).
    pub fn required_permissions(&self) -> Vec<Permission> {
        let mut out = Vec::new();
        if self.owner.is_some()
            || self.implementation_status.is_some()
            || self.implementation_date.is_some()
            || self.implementation_notes.is_some()
        {
            out.push(Permission::EditData);
        }
        if self.test_status.is_some()
            || self.test_date.is_some()
            || self.test_notes.is_some()
            || self.testing_type.is_some()
        {
            out.push(Permission::EditTests);
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// One field's change, before it is stamped into a history entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    pub field: &'static str,
    pub old: serde_json::Value,
    pub new: serde_json::Value,
}

impl FieldChange {
    /// The change as made by `by` (a user or a connector).
    pub fn into_entry(
        self,
        at: chrono::DateTime<chrono::Utc>,
        by: &str,
        source: Source,
    ) -> HistoryEntry {
        HistoryEntry {
            at,
            by: Some(by.to_owned()),
            field: self.field.to_owned(),
            old: self.old,
            new: self.new,
            source,
        }
    }
}

fn check_len(field: &str, value: &str, max: usize) -> Result<(), DomainError> {
    if value.chars().count() > max {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(())
}

/// The years a status date may fall in: a two-digit year typed as `0026` is a mistake, and
/// spreadsheets (the Excel exports) hold dates from 1900 to 9999 only.
pub const DATE_YEARS: std::ops::RangeInclusive<i32> = 1900..=9999;

fn check_date(field: &str, date: Option<NaiveDate>) -> Result<(), DomainError> {
    use chrono::Datelike;
    match date {
        Some(d) if !DATE_YEARS.contains(&d.year()) => Err(DomainError::invalid(
            field,
            format!(
                "{d} is not a date from {} to {}",
                DATE_YEARS.start(),
                DATE_YEARS.end()
            ),
        )),
        _ => Ok(()),
    }
}

/// Provider-managed actions earn their points by default; nobody changes them here.
pub fn ensure_editable(action: &ImprovementAction) -> Result<(), DomainError> {
    if action.managed_by == crate::vocab::ManagedBy::Provider {
        return Err(DomainError::conflict(format!(
            "action {} is managed by the cloud provider: it earns its points by default and cannot be changed here",
            action.id
        )));
    }
    Ok(())
}

/// Applies `patch` to `current` under API.md's rules and returns the new state with the list
/// of fields that changed. `source` says who drives the change: only connectors may set the
/// test result of an automatically tested action.
pub fn apply_patch(
    current: &ActionStatus,
    patch: &ActionPatch,
    source: &Source,
) -> Result<(ActionStatus, Vec<FieldChange>), DomainError> {
    if let Some(Some(owner)) = &patch.owner {
        check_len("owner", owner, MAX_OWNER_CHARS)?;
    }
    for (field, value) in [
        ("implementation_notes", &patch.implementation_notes),
        ("test_notes", &patch.test_notes),
    ] {
        if let Some(v) = value {
            check_len(field, v, MAX_NOTES_CHARS)?;
        }
    }

    let mut next = current.clone();
    if let Some(t) = patch.testing_type {
        next.testing_type = t;
    }
    let touches_test_result = patch.test_status.is_some() || patch.test_notes.is_some();
    if touches_test_result
        && next.testing_type == TestingType::Automatic
        && !matches!(source, Source::Connector(_))
    {
        return Err(DomainError::conflict(
            "this action is tested automatically: its test_status and test_notes are set by its connector; switch testing_type to manual first",
        ));
    }
    if let Some(owner) = &patch.owner {
        next.owner = owner
            .as_ref()
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty());
    }
    if let Some(s) = patch.implementation_status {
        next.implementation_status = s;
    }
    if let Some(d) = patch.implementation_date {
        check_date("implementation_date", d)?;
        next.implementation_date = d;
    }
    if let Some(n) = &patch.implementation_notes {
        next.implementation_notes = n.clone();
    }
    if let Some(s) = patch.test_status {
        next.test_status = s;
    }
    if let Some(d) = patch.test_date {
        check_date("test_date", d)?;
        next.test_date = d;
    }
    if let Some(n) = &patch.test_notes {
        next.test_notes = n.clone();
    }

    if next.test_status.is_verdict() && !next.implementation_status.is_implemented() {
        return Err(DomainError::conflict(format!(
            "test_status {} needs implementation_status implemented or alternative_implementation, but it would be {}",
            next.test_status, next.implementation_status
        )));
    }
    if next.implementation_date.is_some() && !next.implementation_status.is_implemented() {
        return Err(DomainError::conflict(format!(
            "implementation_date can only be set while implementation_status is implemented or alternative_implementation, but it would be {}; clear implementation_date in the same request",
            next.implementation_status
        )));
    }

    let changes = diff(current, &next);
    Ok((next, changes))
}

/// The fields that differ between two states, in a fixed order.
pub fn diff(old: &ActionStatus, new: &ActionStatus) -> Vec<FieldChange> {
    let (old, new) = (
        serde_json::to_value(old).expect("status serializes"),
        serde_json::to_value(new).expect("status serializes"),
    );
    const FIELDS: [&str; 8] = [
        "owner",
        "implementation_status",
        "implementation_date",
        "implementation_notes",
        "test_status",
        "test_date",
        "test_notes",
        "testing_type",
    ];
    FIELDS
        .into_iter()
        .filter(|f| old[f] != new[f])
        .map(|f| FieldChange {
            field: f,
            old: old[f].clone(),
            new: new[f].clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ActionId;
    use crate::vocab::*;

    fn status(testing: TestingType) -> ActionStatus {
        ActionStatus::initial(
            &ImprovementAction {
                id: ActionId::parse("a").unwrap(),
                title: "a".into(),
                guidance: String::new(),
                category: Category::ProtectInformation,
                action_type: ActionType::Technical,
                control_type: ControlType::Preventive,
                enforcement: Enforcement::Mandatory,
                testing_type: testing,
                managed_by: ManagedBy::Customer,
                service: None,
            },
            FIRST_LIBRARY_VERSION,
        )
    }

    fn patch(json: &str) -> ActionPatch {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn provider_actions_are_not_edited() {
        let mut action = ImprovementAction {
            id: ActionId::parse("dc").unwrap(),
            title: "dc".into(),
            guidance: String::new(),
            category: Category::InfrastructureCloud,
            action_type: ActionType::Operational,
            control_type: ControlType::Preventive,
            enforcement: Enforcement::Mandatory,
            testing_type: TestingType::Manual,
            managed_by: ManagedBy::Provider,
            service: None,
        };
        assert!(matches!(
            ensure_editable(&action),
            Err(DomainError::Conflict(_))
        ));
        action.managed_by = ManagedBy::Customer;
        assert!(ensure_editable(&action).is_ok());
    }

    #[test]
    fn instance_ids_round_trip() {
        let t = InstanceRef::parse("mfa-admins").unwrap();
        assert_eq!(t.scope, InstanceScope::Tenant);
        let g = InstanceRef::parse("policy@g1").unwrap();
        assert_eq!(g.scope, InstanceScope::Group(GroupId::parse("g1").unwrap()));
        assert_eq!(g.api_id(), "policy@g1");
        assert!(InstanceRef::parse("a@b#c").is_none());
        assert!(InstanceRef::parse("").is_none());
    }

    #[test]
    fn verdict_needs_implementation() {
        let s = status(TestingType::Manual);
        let err =
            apply_patch(&s, &patch(r#"{"test_status":"passed"}"#), &Source::Manual).unwrap_err();
        assert!(matches!(err, DomainError::Conflict(_)), "{err}");
        let err = apply_patch(
            &s,
            &patch(r#"{"test_status":"failed_high_risk"}"#),
            &Source::Manual,
        )
        .unwrap_err();
        assert!(matches!(err, DomainError::Conflict(_)));
        // Non-verdict statuses are fine without implementation.
        assert!(apply_patch(
            &s,
            &patch(r#"{"test_status":"in_progress"}"#),
            &Source::Manual
        )
        .is_ok());
        // Both in one request is fine.
        let (next, changes) = apply_patch(
            &s,
            &patch(
                r#"{"implementation_status":"alternative_implementation","test_status":"passed"}"#,
            ),
            &Source::Manual,
        )
        .unwrap();
        assert_eq!(next.test_status, TestStatus::Passed);
        assert_eq!(
            changes.iter().map(|c| c.field).collect::<Vec<_>>(),
            vec!["implementation_status", "test_status"]
        );
    }

    #[test]
    fn implementation_cannot_drop_under_a_verdict() {
        let s = status(TestingType::Manual);
        let (s, _) = apply_patch(
            &s,
            &patch(r#"{"implementation_status":"implemented","test_status":"passed"}"#),
            &Source::Manual,
        )
        .unwrap();
        let err = apply_patch(
            &s,
            &patch(r#"{"implementation_status":"planned"}"#),
            &Source::Manual,
        )
        .unwrap_err();
        assert!(err.to_string().contains("planned"), "{err}");
    }

    #[test]
    fn implementation_date_only_when_implemented() {
        let s = status(TestingType::Manual);
        let err = apply_patch(
            &s,
            &patch(r#"{"implementation_date":"2026-01-31"}"#),
            &Source::Manual,
        )
        .unwrap_err();
        assert!(err.to_string().contains("implementation_date"));
        let (s, _) = apply_patch(
            &s,
            &patch(r#"{"implementation_status":"implemented","implementation_date":"2026-01-31"}"#),
            &Source::Manual,
        )
        .unwrap();
        assert_eq!(s.implementation_date, NaiveDate::from_ymd_opt(2026, 1, 31));
        // Leaving implemented needs the date cleared in the same request.
        assert!(apply_patch(
            &s,
            &patch(r#"{"implementation_status":"planned"}"#),
            &Source::Manual
        )
        .is_err());
        let (s, changes) = apply_patch(
            &s,
            &patch(r#"{"implementation_status":"planned","implementation_date":null}"#),
            &Source::Manual,
        )
        .unwrap();
        assert_eq!(s.implementation_date, None);
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[1].old, serde_json::json!("2026-01-31"));
        assert_eq!(changes[1].new, serde_json::Value::Null);
    }

    #[test]
    fn automatic_actions_are_tested_by_connectors_only() {
        let s = status(TestingType::Automatic);
        let (s, _) = apply_patch(
            &s,
            &patch(r#"{"implementation_status":"implemented"}"#),
            &Source::Manual,
        )
        .unwrap();
        for p in [
            r#"{"test_status":"passed"}"#,
            r#"{"test_notes":"looked fine"}"#,
        ] {
            let err = apply_patch(&s, &patch(p), &Source::Manual).unwrap_err();
            assert!(err.to_string().contains("testing_type"), "{err}");
        }
        assert!(apply_patch(
            &s,
            &patch(r#"{"test_status":"passed"}"#),
            &Source::Connector("zoom".into())
        )
        .is_ok());
        // Switching to manual in the same request unlocks the manual edit.
        let (next, changes) = apply_patch(
            &s,
            &patch(r#"{"testing_type":"manual","test_status":"passed"}"#),
            &Source::Manual,
        )
        .unwrap();
        assert_eq!(next.test_status, TestStatus::Passed);
        assert_eq!(
            changes.iter().map(|c| c.field).collect::<Vec<_>>(),
            vec!["test_status", "testing_type"]
        );
    }

    #[test]
    fn owner_is_trimmed_cleared_and_bounded() {
        let s = status(TestingType::Manual);
        let (s, c) = apply_patch(
            &s,
            &patch(r#"{"owner":"  bob@acme.test "}"#),
            &Source::Manual,
        )
        .unwrap();
        assert_eq!(s.owner.as_deref(), Some("bob@acme.test"));
        assert_eq!(c[0].old, serde_json::Value::Null);
        let (s, _) = apply_patch(&s, &patch(r#"{"owner":null}"#), &Source::Manual).unwrap();
        assert_eq!(s.owner, None);
        let long = format!(r#"{{"owner":"{}"}}"#, "x".repeat(300));
        assert!(apply_patch(&s, &patch(&long), &Source::Manual)
            .unwrap_err()
            .to_string()
            .contains("owner"));
    }

    #[test]
    fn unchanged_values_record_nothing() {
        let s = status(TestingType::Manual);
        let (_, changes) = apply_patch(
            &s,
            &patch(r#"{"implementation_status":"not_implemented"}"#),
            &Source::Manual,
        )
        .unwrap();
        assert!(changes.is_empty());
    }

    #[test]
    fn patches_name_the_permissions_they_need() {
        assert_eq!(
            patch(r#"{"owner":"a"}"#).required_permissions(),
            vec![Permission::EditData]
        );
        assert_eq!(
            patch(r#"{"test_date":null}"#).required_permissions(),
            vec![Permission::EditTests]
        );
        assert!(patch("{}").is_empty());
        let err = serde_json::from_str::<ActionPatch>(r#"{"test_status":"good"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown variant"), "{err}");
        assert!(serde_json::from_str::<ActionPatch>(r#"{"colour":"red"}"#).is_err());
    }

    #[test]
    fn dates_outside_the_years_a_spreadsheet_holds_are_refused() {
        let done = apply_patch(
            &status(TestingType::Manual),
            &patch(
                r#"{"implementation_status": "implemented", "implementation_date": "0026-01-15"}"#,
            ),
            &Source::Manual,
        );
        let Err(DomainError::Invalid(f)) = done else {
            panic!("{done:?}");
        };
        assert_eq!(f.field, "implementation_date");
        assert!(f.message.contains("1900"), "{}", f.message);
        let later = apply_patch(
            &status(TestingType::Manual),
            &patch(
                r#"{"implementation_status": "implemented", "implementation_date": "2026-01-15"}"#,
            ),
            &Source::Manual,
        );
        assert!(later.is_ok());
        let Err(DomainError::Invalid(f)) = apply_patch(
            &status(TestingType::Manual),
            &patch(r#"{"test_date": "1899-12-31"}"#),
            &Source::Manual,
        ) else {
            panic!("1899 accepted");
        };
        assert_eq!(f.field, "test_date");
    }
}
