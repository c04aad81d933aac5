//! The exact strings of API.md's vocabulary as enums. Parsing a bad value gives an error that
//! names the field and lists what is allowed.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::DomainError;

macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident, $field:literal { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in API.md's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The field name used in errors.
            pub const FIELD: &'static str = $field;

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the exact API string; the error names the field and the allowed values.
            pub fn parse(value: &str) -> Result<Self, DomainError> {
                match value {
                    $($text => Ok($name::$variant),)+
                    other => Err(DomainError::invalid(
                        $field,
                        format!(
                            "unknown value {other:?}; expected one of: {}",
                            [$($text),+].join(", ")
                        ),
                    )),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

vocabulary!(
    /// How far an improvement action is implemented.
    ImplementationStatus, "implementation_status" {
        NotImplemented => "not_implemented",
        Implemented => "implemented",
        AlternativeImplementation => "alternative_implementation",
        Planned => "planned",
        OutOfScope => "out_of_scope",
    }
);

vocabulary!(
    /// The result of testing an improvement action.
    TestStatus, "test_status" {
        None => "none",
        NotAssessed => "not_assessed",
        Passed => "passed",
        FailedLowRisk => "failed_low_risk",
        FailedMediumRisk => "failed_medium_risk",
        FailedHighRisk => "failed_high_risk",
        OutOfScope => "out_of_scope",
        ToBeDetermined => "to_be_determined",
        CouldNotBeDetermined => "could_not_be_determined",
        PartiallyTested => "partially_tested",
        InProgress => "in_progress",
        ToBeDetected => "to_be_detected",
        CouldNotBeDetected => "could_not_be_detected",
    }
);

vocabulary!(
    /// Technical actions are per tenant; documentation and operational ones per group.
    ActionType, "action_type" {
        Technical => "technical",
        Documentation => "documentation",
        Operational => "operational",
    }
);

vocabulary!(
    ControlType, "control_type" {
        Preventive => "preventive",
        Detective => "detective",
        Corrective => "corrective",
    }
);

vocabulary!(
    Enforcement, "enforcement" {
        Mandatory => "mandatory",
        Discretionary => "discretionary",
    }
);

vocabulary!(
    TestingType, "testing_type" {
        Manual => "manual",
        Automatic => "automatic",
    }
);

vocabulary!(
    ManagedBy, "managed_by" {
        Customer => "customer",
        Provider => "provider",
    }
);

vocabulary!(
    Category, "category" {
        ControlAccess => "control_access",
        DiscoverAndRespond => "discover_and_respond",
        GovernInformation => "govern_information",
        InfrastructureCloud => "infrastructure_cloud",
        ManageCompliance => "manage_compliance",
        ManageDevices => "manage_devices",
        ManageInternalRisks => "manage_internal_risks",
        PrivacyManagement => "privacy_management",
        ProtectAgainstThreats => "protect_against_threats",
        ProtectInformation => "protect_information",
    }
);

impl ImplementationStatus {
    /// `implemented` or `alternative_implementation`: the statuses under which an action can
    /// be tested and carry an implementation date.
    pub fn is_implemented(self) -> bool {
        matches!(self, Self::Implemented | Self::AlternativeImplementation)
    }
}

impl TestStatus {
    /// `passed` or one of the `failed_*` results: a verdict that needs an implemented action.
    pub fn is_verdict(self) -> bool {
        matches!(
            self,
            Self::Passed | Self::FailedLowRisk | Self::FailedMediumRisk | Self::FailedHighRisk
        )
    }

    /// A standing test result (a verdict, or out of scope): the evidence behind it cannot be
    /// deleted.
    pub fn locks_evidence(self) -> bool {
        self.is_verdict() || self == Self::OutOfScope
    }

    /// Whether an assessor (or a connector) has looked at the action.
    pub fn is_assessed(self) -> bool {
        !matches!(self, Self::None | Self::NotAssessed)
    }
}

impl ActionType {
    pub fn is_technical(self) -> bool {
        self == Self::Technical
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips_through_its_string_and_json() {
        for s in TestStatus::ALL {
            assert_eq!(TestStatus::parse(s.as_str()).unwrap(), *s);
            let json = serde_json::to_string(s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<TestStatus>(&json).unwrap(), *s);
        }
        assert_eq!(TestStatus::ALL.len(), 13);
        assert_eq!(ImplementationStatus::ALL.len(), 5);
        assert_eq!(Category::ALL.len(), 10);
    }

    #[test]
    fn unknown_value_names_the_field_and_the_choices() {
        let err = ImplementationStatus::parse("done").unwrap_err().to_string();
        assert!(err.contains("implementation_status"), "{err}");
        assert!(err.contains("\"done\""), "{err}");
        assert!(err.contains("alternative_implementation"), "{err}");
        assert!("Passed".parse::<TestStatus>().is_err(), "strings are exact");
    }

    #[test]
    fn verdicts_and_implemented_statuses() {
        assert!(TestStatus::FailedMediumRisk.is_verdict());
        assert!(!TestStatus::OutOfScope.is_verdict());
        assert!(ImplementationStatus::AlternativeImplementation.is_implemented());
        assert!(!ImplementationStatus::Planned.is_implemented());
    }
}
