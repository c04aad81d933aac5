//! Change history: who changed which field of an action, when, from what to what, and how.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

use crate::DomainError;

/// Where a change came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    /// A person, through the API.
    Manual,
    /// A connector instance's automatic test.
    Connector(String),
    /// A template import or group copy.
    Import,
    /// The service's own checks (an uploaded evidence file verified or rejected): no user.
    System,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Manual => f.write_str("manual"),
            Source::Connector(id) => write!(f, "connector:{id}"),
            Source::Import => f.write_str("import"),
            Source::System => f.write_str("system"),
        }
    }
}

impl Source {
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        match value {
            "manual" => Ok(Source::Manual),
            "import" => Ok(Source::Import),
            "system" => Ok(Source::System),
            other => match other.strip_prefix("connector:") {
                Some(id) if !id.is_empty() => Ok(Source::Connector(id.to_owned())),
                _ => Err(DomainError::invalid(
                    "source",
                    format!("unknown source {other:?}; expected manual, import, system or connector:<id>"),
                )),
            },
        }
    }
}

impl Serialize for Source {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Source {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Source::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// One recorded change of one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub at: chrono::DateTime<chrono::Utc>,
    /// The user id of who made the change (or the connector's id); `None` (null) for the
    /// service's own changes ([`Source::System`]).
    pub by: Option<String>,
    pub field: String,
    pub old: serde_json::Value,
    pub new: serde_json::Value,
    pub source: Source,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_use_api_strings() {
        for (s, text) in [
            (Source::Manual, "manual"),
            (Source::Import, "import"),
            (Source::System, "system"),
            (Source::Connector("zoom-1".into()), "connector:zoom-1"),
        ] {
            assert_eq!(serde_json::to_value(&s).unwrap(), text);
            assert_eq!(Source::parse(text).unwrap(), s);
        }
        assert!(Source::parse("connector:").is_err());
        assert!(Source::parse("robot")
            .unwrap_err()
            .to_string()
            .contains("source"));
    }

    #[test]
    fn entries_without_a_user_say_null_and_stored_entries_still_decode() {
        let at: chrono::DateTime<chrono::Utc> = "2025-03-01T10:00:00Z".parse().unwrap();
        let system = HistoryEntry {
            at,
            by: None,
            field: "evidence".into(),
            old: serde_json::Value::Null,
            new: serde_json::json!({"status": "verified"}),
            source: Source::System,
        };
        let json = serde_json::to_value(&system).unwrap();
        assert_eq!(json["by"], serde_json::Value::Null);
        assert_eq!(json["source"], "system");
        assert_eq!(
            serde_json::from_value::<HistoryEntry>(json).unwrap(),
            system
        );
        // As the code before `Source::System` stored them: `by` a plain string.
        let stored = r#"{"at":"2025-03-01T10:00:00Z","by":"cara","field":"owner","old":null,"new":"cara@acme.test","source":"manual"}"#;
        let old: HistoryEntry = serde_json::from_str(stored).unwrap();
        assert_eq!(old.by.as_deref(), Some("cara"));
        assert_eq!(old.source, Source::Manual);
        assert_eq!(
            serde_json::to_string(&old).unwrap(),
            stored,
            "re-encoded exactly"
        );
    }
}
