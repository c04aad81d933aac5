//! Records that data connectors import (messages, sign-ins, HR rows, badge events), mapped to
//! the organisation's people (API.md "Data connectors").

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One imported record. `source_id` is the source's own id: the same record imported twice
/// (an overlapping window, a re-run) has the same id, and is stored once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportedRecord {
    pub connector_id: String,
    pub source_id: String,
    /// `message`, `sign_in`, `sign_out`, `hr`, `badge`.
    pub kind: String,
    pub at: DateTime<Utc>,
    /// The person it maps to (an e-mail, lower case); `None`: unmapped, kept and counted.
    pub person: Option<String>,
    /// The source's id of the user (a Slack user id, a badge holder id).
    pub external_user: Option<String>,
    /// Where it happened: a channel, a door.
    pub container: Option<String>,
    pub text: String,
    #[serde(default)]
    pub data: serde_json::Value,
}

/// The person a record maps to: the connector's `user_map` entry for its external id first,
/// then the e-mail the source gave; lower case. `None` when neither names anyone.
pub fn map_person(
    email: Option<&str>,
    external_user: Option<&str>,
    user_map: &serde_json::Map<String, serde_json::Value>,
) -> Option<String> {
    let mapped = external_user
        .and_then(|u| user_map.get(u))
        .and_then(|v| v.as_str());
    mapped
        .or(email)
        .map(|e| e.trim().to_lowercase())
        .filter(|e| e.contains('@'))
}

/// Whether `text` contains `query`, ignoring case (the items route's `q`).
pub fn text_matches(text: &str, query: &str) -> bool {
    let q = query.trim().to_lowercase();
    q.is_empty() || text.to_lowercase().contains(&q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_are_mapped_by_user_map_then_email_without_case() {
        let map = serde_json::json!({"U1": "Dana@Example.com"});
        let map = map.as_object().unwrap();
        assert_eq!(
            map_person(Some("other@example.com"), Some("U1"), map).as_deref(),
            Some("dana@example.com")
        );
        assert_eq!(
            map_person(Some(" Eve@Example.COM "), Some("U2"), map).as_deref(),
            Some("eve@example.com")
        );
        assert_eq!(map_person(None, Some("U2"), map), None);
        assert_eq!(map_person(Some("not an address"), None, map), None);
    }

    #[test]
    fn text_search_ignores_case() {
        assert!(text_matches("Quarterly PLANS attached", "plans"));
        assert!(!text_matches("hello", "bye"));
        assert!(text_matches("anything", " "));
    }
}
