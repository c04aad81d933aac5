//! What an archived assessment froze, as it is stored: its own versioned format, apart from
//! the API's views, so that the API can change without rewriting old archives.
//!
//! Format 1 reads the snapshots written before it had a number (they held the API's views of
//! the time, whose field names it keeps): a missing `format` is 0 and reads the same way.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::evidence::Evidence;
use crate::ids::{ActionId, AssessmentId, GroupId, RegulationId};
use crate::score::{Progress, Score};
use crate::vocab::{
    ActionType, Category, ControlType, Enforcement, ImplementationStatus, ManagedBy, TestStatus,
    TestingType,
};

/// The format this code writes.
pub const SNAPSHOT_FORMAT: u32 = 1;

/// Points, frozen (the percentage is derived when shown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrozenScore {
    pub achieved: u32,
    pub possible: u32,
}

impl From<Score> for FrozenScore {
    fn from(s: Score) -> Self {
        Self {
            achieved: s.achieved,
            possible: s.possible,
        }
    }
}

impl From<FrozenScore> for Score {
    fn from(s: FrozenScore) -> Self {
        Score {
            achieved: s.achieved,
            possible: s.possible,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrozenProgress {
    pub controls_total: u32,
    pub controls_assessed: u32,
}

impl From<Progress> for FrozenProgress {
    fn from(p: Progress) -> Self {
        Self {
            controls_total: p.controls_total,
            controls_assessed: p.controls_assessed,
        }
    }
}

impl From<FrozenProgress> for Progress {
    fn from(p: FrozenProgress) -> Self {
        Progress {
            controls_total: p.controls_total,
            controls_assessed: p.controls_assessed,
        }
    }
}

/// The assessment as it was archived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrozenAssessment {
    pub id: AssessmentId,
    pub name: String,
    pub group_id: GroupId,
    pub group_name: String,
    pub regulation_id: RegulationId,
    pub regulation_name: String,
    pub services: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub archived_at: Option<DateTime<Utc>>,
    pub score: FrozenScore,
    pub progress: FrozenProgress,
    /// The assessment's version once archived.
    pub version: u64,
}

/// One action instance under a control, as it was archived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrozenAction {
    /// The instance's API id.
    pub id: String,
    pub action_id: ActionId,
    pub title: String,
    pub category: Category,
    pub action_type: ActionType,
    pub control_type: ControlType,
    pub enforcement: Enforcement,
    pub managed_by: ManagedBy,
    pub testing_type: TestingType,
    pub points: u32,
    pub owner: Option<String>,
    pub implementation_status: ImplementationStatus,
    pub implementation_date: Option<NaiveDate>,
    pub test_status: TestStatus,
    pub test_date: Option<NaiveDate>,
    pub score: FrozenScore,
    pub version: u64,
}

/// One control, with its actions, as it was archived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrozenControl {
    pub id: String,
    pub title: String,
    pub description: String,
    pub family_id: String,
    pub family_title: String,
    pub score: FrozenScore,
    pub actions: Vec<FrozenAction>,
}

/// An archived assessment's frozen record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// [`SNAPSHOT_FORMAT`] when written by this code; 0 for the first archives.
    #[serde(default)]
    pub format: u32,
    pub assessment: FrozenAssessment,
    pub controls: Vec<FrozenControl>,
    /// Evidence of each action instance, by instance id.
    #[serde(default)]
    pub evidence: BTreeMap<String, Vec<Evidence>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A snapshot as the first archives stored it: the API's views of the time.
    const FIRST_FORMAT: &str = r#"{
        "assessment": {"id": "a1", "name": "ISO", "group_id": "g1", "group_name": "Europe",
            "regulation_id": "iso-27001-2022", "regulation_name": "ISO/IEC 27001:2022 Annex A",
            "services": ["aws"], "created_at": "2026-11-20T10:00:00Z", "archived": true,
            "archived_at": "2026-11-21T10:00:00Z", "score": {"achieved": 27, "possible": 54, "percent": 50.0},
            "progress": {"controls_total": 93, "controls_assessed": 1}, "version": 2},
        "controls": [{"id": "A.8.5", "title": "Secure authentication", "description": "",
            "family_id": "A.8", "family_title": "Technological controls",
            "score": {"achieved": 27, "possible": 27, "percent": 100.0},
            "actions": [{"id": "mfa-admins", "action_id": "mfa-admins", "title": "MFA for admins",
                "category": "control_access", "action_type": "technical", "control_type": "preventive",
                "enforcement": "mandatory", "managed_by": "customer", "testing_type": "manual",
                "points": 27, "owner": "cara", "implementation_status": "implemented",
                "implementation_date": null, "test_status": "passed", "test_date": "2026-11-20",
                "score": {"achieved": 27, "possible": 27, "percent": 100.0}, "version": 2}]}],
        "evidence": {}
    }"#;

    #[test]
    fn the_first_archives_still_read() {
        let s: Snapshot = serde_json::from_str(FIRST_FORMAT).unwrap();
        assert_eq!(s.format, 0);
        assert_eq!(s.assessment.score.achieved, 27);
        assert_eq!(s.controls[0].actions[0].owner.as_deref(), Some("cara"));
        assert_eq!(s.controls[0].actions[0].test_status, TestStatus::Passed);
        // Written again, it carries its format and reads back the same.
        let again = Snapshot {
            format: SNAPSHOT_FORMAT,
            ..s.clone()
        };
        let text = serde_json::to_string(&again).unwrap();
        assert!(text.contains("\"format\":1"));
        assert_eq!(serde_json::from_str::<Snapshot>(&text).unwrap(), again);
    }
}
