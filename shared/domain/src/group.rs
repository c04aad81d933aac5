//! Assessment groups: a named set of assessments that share their non-technical actions.

use serde::{Deserialize, Serialize};

use crate::ids::GroupId;
use crate::DomainError;

pub const MAX_GROUP_NAME_CHARS: usize = 100;

/// A group name: trimmed, 1 to 100 characters, no control characters. Unique per tenant
/// without regard to case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct GroupName(String);

impl GroupName {
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err(DomainError::invalid("name", "must not be empty"));
        }
        if trimmed.chars().count() > MAX_GROUP_NAME_CHARS {
            return Err(DomainError::invalid(
                "name",
                format!("must be at most {MAX_GROUP_NAME_CHARS} characters"),
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

    /// The form under which uniqueness is checked: names equal without regard to case clash.
    pub fn unique_key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl<'de> Deserialize<'de> for GroupName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        GroupName::parse(&s).map_err(|e| serde::de::Error::custom(e.message()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssessmentGroup {
    pub id: GroupId,
    pub name: GroupName,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub created_by: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_compared_without_case() {
        let a = GroupName::parse("  Europe Operations ").unwrap();
        assert_eq!(a.as_str(), "Europe Operations");
        let b = GroupName::parse("EUROPE operations").unwrap();
        assert_eq!(a.unique_key(), b.unique_key());
        assert_eq!(GroupName::parse("Ärzte").unwrap().unique_key(), "ärzte");
    }

    #[test]
    fn bad_names_name_the_field() {
        for bad in ["", "   ", "a\u{7}b"] {
            let err = GroupName::parse(bad).unwrap_err().to_string();
            assert!(err.contains("name"), "{err}");
        }
        assert!(GroupName::parse(&"x".repeat(101)).is_err());
        assert!(GroupName::parse(&"x".repeat(100)).is_ok());
    }
}
