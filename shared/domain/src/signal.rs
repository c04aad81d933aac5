//! Insider-risk signals (API.md "Data connectors"): what HR records and badge or sign-in
//! events say about a person, and who is leaving.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// The HR record types that become signals (a connector's `record_type`).
pub const HR_KINDS: [&str; 5] = [
    "resignation",
    "termination",
    "job_level_change",
    "performance_review",
    "improvement_plan",
];

/// Activity of a departing person after their last working date.
pub const DEPARTING_ACTIVITY: &str = "departing_user_activity";

/// How far ahead a last working date makes a person "departing".
pub const DEPARTING_DAYS: i64 = 90;

/// One signal about one person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// Stable: the record it comes from (a record imported twice gives the same signal).
    pub id: String,
    pub person: String,
    /// An HR record type, `badge_access`, or `departing_user_activity`.
    pub kind: String,
    pub at: DateTime<Utc>,
    pub connector_id: String,
    #[serde(default)]
    pub details: serde_json::Value,
}

/// A person with a resignation or termination on record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Departing {
    pub person: String,
    /// `resignation` or `termination`.
    pub kind: String,
    pub last_working_date: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub connector_id: String,
}

impl Departing {
    /// Listed as departing: the last working date is past or within [`DEPARTING_DAYS`].
    pub fn is_listed(&self, now: DateTime<Utc>) -> bool {
        self.last_working_date <= now + TimeDelta::days(DEPARTING_DAYS)
    }

    /// Whether activity at `at` comes after the person's last working date (the whole day
    /// of a plain date counts as working).
    pub fn is_after_leaving(&self, at: DateTime<Utc>) -> bool {
        at > self.last_working_date + TimeDelta::days(1)
    }
}

/// Whether an HR record of this type means the person is leaving.
pub fn is_departure(kind: &str) -> bool {
    matches!(kind, "resignation" | "termination")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn departing_people_and_activity_after_leaving() {
        let d = Departing {
            person: "dana@example.com".into(),
            kind: "resignation".into(),
            last_working_date: at("2026-12-31T00:00:00Z"),
            recorded_at: at("2026-11-01T00:00:00Z"),
            connector_id: "hr".into(),
        };
        assert!(d.is_listed(at("2026-11-27T00:00:00Z")));
        assert!(
            !d.is_listed(at("2026-09-01T00:00:00Z")),
            "more than 90 days ahead"
        );
        assert!(d.is_listed(at("2027-06-01T00:00:00Z")), "past");
        assert!(
            !d.is_after_leaving(at("2026-12-31T18:00:00Z")),
            "the last day counts"
        );
        assert!(d.is_after_leaving(at("2027-01-01T00:00:01Z")));
        assert!(is_departure("termination") && !is_departure("performance_review"));
    }
}
