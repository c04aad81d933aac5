//! Identifiers. Every identifier that ends up in a storage key is validated here, so that no
//! caller-supplied value can contain the key separator or reach another tenant's items.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

use crate::DomainError;

const MAX_ID_LEN: usize = 128;

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@' | ':' | '+')
}

fn check_id(field: &str, value: &str) -> Result<(), DomainError> {
    if value.is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    if value.len() > MAX_ID_LEN {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {MAX_ID_LEN} characters"),
        ));
    }
    if let Some(bad) = value.chars().find(|c| !is_id_char(*c)) {
        return Err(DomainError::invalid(
            field,
            format!("contains {bad:?}; allowed are letters, digits and - _ . @ : +"),
        ));
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Parses a caller-supplied identifier.
            pub fn parse(value: impl Into<String>) -> Result<Self, DomainError> {
                let value = value.into();
                check_id($field, &value)?;
                Ok(Self(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(s).map_err(|e| serde::de::Error::custom(e.message()))
            }
        }
    };
}

id_type!(
    /// An organisation. Every stored item is keyed by it.
    TenantId,
    "tenant"
);
id_type!(
    /// A user (the token's `sub`).
    UserId,
    "user"
);
id_type!(
    /// An assessment group.
    GroupId,
    "group_id"
);
id_type!(
    /// An assessment.
    AssessmentId,
    "assessment_id"
);
id_type!(
    /// A regulation template.
    RegulationId,
    "regulation_id"
);
id_type!(
    /// An improvement action of a template library.
    ActionId,
    "action_id"
);
id_type!(
    /// A piece of evidence. Evidence ids reach storage keys and object keys only as this type.
    EvidenceId,
    "evidence_id"
);

impl EvidenceId {
    /// A fresh random id for new evidence.
    pub fn generate() -> Self {
        Self(new_id())
    }
}

/// A fresh random identifier for a new resource.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_reject_key_separators_and_empties() {
        assert!(TenantId::parse("acme-corp_1").is_ok());
        let err = TenantId::parse("acme#GROUP").unwrap_err();
        assert!(err.to_string().contains("tenant"), "{err}");
        assert!(err.to_string().contains("'#'"), "{err}");
        assert!(GroupId::parse("").is_err());
        assert!(GroupId::parse("a".repeat(129)).is_err());
        assert!(UserId::parse("alice@example.com").is_ok());
        assert!(EvidenceId::parse("0f8e3a1c9b2d4e5f").is_ok());
        for bad in ["", "a/b", "../x", "e#1", "e 1"] {
            let err = EvidenceId::parse(bad).unwrap_err();
            assert!(err.to_string().contains("evidence_id"), "{bad}: {err}");
        }
    }

    #[test]
    fn ids_validate_when_deserialized() {
        let err = serde_json::from_str::<TenantId>("\"a/b\"").unwrap_err();
        // The field is named by whoever parses the document; the message says what is wrong.
        assert!(err.to_string().contains("contains '/'"), "{err}");
    }

    #[test]
    fn new_ids_are_distinct_and_valid() {
        let a = new_id();
        assert_ne!(a, new_id());
        assert!(GroupId::parse(a).is_ok());
        let e = EvidenceId::generate();
        assert_ne!(e, EvidenceId::generate());
        assert_eq!(EvidenceId::parse(e.as_str()).unwrap(), e);
    }
}
