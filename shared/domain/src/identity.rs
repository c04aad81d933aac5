//! Who is calling: tenant, user, roles, and API.md's permission matrix.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

use crate::ids::{TenantId, UserId};
use crate::DomainError;

/// A role a user may hold. A user may hold several; their permissions add up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Reader,
    Contributor,
    Assessor,
    Administrator,
    GlobalAdmin,
    ConnectorAdmin,
}

/// What a route needs the caller to be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Read the tenant's data.
    Read,
    /// Owner, implementation status/date/notes, evidence, group rename.
    EditData,
    /// Test status, test date, test notes.
    EditTests,
    /// Create, archive, delete assessments; import templates.
    ManageAssessments,
    /// Assign users' roles.
    ManageUsers,
    /// Create and run connectors.
    ManageConnectors,
}

impl Role {
    pub const ALL: &'static [Role] = &[
        Role::Reader,
        Role::Contributor,
        Role::Assessor,
        Role::Administrator,
        Role::GlobalAdmin,
        Role::ConnectorAdmin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Contributor => "contributor",
            Role::Assessor => "assessor",
            Role::Administrator => "administrator",
            Role::GlobalAdmin => "global_admin",
            Role::ConnectorAdmin => "connector_admin",
        }
    }

    pub fn parse(value: &str) -> Result<Self, DomainError> {
        Role::ALL
            .iter()
            .copied()
            .find(|r| r.as_str() == value)
            .ok_or_else(|| {
                let all: Vec<_> = Role::ALL.iter().map(|r| r.as_str()).collect();
                DomainError::invalid(
                    "role",
                    format!(
                        "unknown role {value:?}; expected one of: {}",
                        all.join(", ")
                    ),
                )
            })
    }

    /// API.md's permission matrix, one row per role.
    pub fn grants(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Reader => matches!(permission, Read),
            Role::Contributor => matches!(permission, Read | EditData),
            Role::Assessor => matches!(permission, Read | EditData | EditTests),
            Role::Administrator => {
                matches!(permission, Read | EditData | EditTests | ManageAssessments)
            }
            Role::GlobalAdmin => true,
            Role::ConnectorAdmin => matches!(permission, Read | ManageConnectors),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub tenant: TenantId,
    pub user: UserId,
    pub name: Option<String>,
    pub email: Option<String>,
    pub roles: BTreeSet<Role>,
}

impl Identity {
    pub fn can(&self, permission: Permission) -> bool {
        self.roles.iter().any(|r| r.grants(permission))
    }

    /// Adds roles assigned in the app to those the token carries.
    pub fn with_roles(mut self, extra: impl IntoIterator<Item = Role>) -> Self {
        self.roles.extend(extra);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Permission::*;

    fn matrix_row(role: Role) -> Vec<Permission> {
        [
            Read,
            EditData,
            EditTests,
            ManageAssessments,
            ManageUsers,
            ManageConnectors,
        ]
        .into_iter()
        .filter(|p| role.grants(*p))
        .collect()
    }

    #[test]
    fn permission_matrix_matches_api_md() {
        assert_eq!(matrix_row(Role::Reader), vec![Read]);
        assert_eq!(matrix_row(Role::Contributor), vec![Read, EditData]);
        assert_eq!(matrix_row(Role::Assessor), vec![Read, EditData, EditTests]);
        assert_eq!(
            matrix_row(Role::Administrator),
            vec![Read, EditData, EditTests, ManageAssessments]
        );
        assert_eq!(
            matrix_row(Role::GlobalAdmin),
            vec![
                Read,
                EditData,
                EditTests,
                ManageAssessments,
                ManageUsers,
                ManageConnectors
            ]
        );
        assert_eq!(
            matrix_row(Role::ConnectorAdmin),
            vec![Read, ManageConnectors]
        );
    }

    #[test]
    fn roles_add_up() {
        let id = Identity {
            tenant: TenantId::parse("acme").unwrap(),
            user: UserId::parse("alice").unwrap(),
            name: None,
            email: None,
            roles: [Role::Reader].into(),
        };
        assert!(!id.can(ManageConnectors));
        let id = id.with_roles([Role::ConnectorAdmin]);
        assert!(id.can(ManageConnectors));
        assert!(!id.can(EditData));
    }

    #[test]
    fn role_strings_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()).unwrap(), *r);
            assert_eq!(serde_json::to_string(r).unwrap(), format!("\"{r}\""));
        }
        assert!(Role::parse("admin")
            .unwrap_err()
            .to_string()
            .contains("role"));
    }
}
