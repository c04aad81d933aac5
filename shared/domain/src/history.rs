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
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Manual => f.write_str("manual"),
            Source::Connector(id) => write!(f, "connector:{id}"),
            Source::Import => f.write_str("import"),
        }
    }
}

impl Source {
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        match value {
            "manual" => Ok(Source::Manual),
            "import" => Ok(Source::Import),
            other => match other.strip_prefix("connector:") {
                Some(id) if !id.is_empty() => Ok(Source::Connector(id.to_owned())),
                _ => Err(DomainError::invalid(
                    "source",
                    format!("unknown source {other:?}; expected manual, import or connector:<id>"),
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
    /// The user id of who made the change (or the connector's id).
    pub by: String,
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
}
