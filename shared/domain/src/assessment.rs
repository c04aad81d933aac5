//! Assessments: a regulation assessed for a set of services inside an assessment group.

use serde::{Deserialize, Serialize};

use crate::ids::{AssessmentId, GroupId, RegulationId};
use crate::DomainError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessment {
    pub id: AssessmentId,
    pub name: String,
    /// Never changes after creation.
    pub group_id: GroupId,
    pub regulation_id: RegulationId,
    pub services: Vec<String>,
    /// The connector instances chosen for its services; `None`: every instance of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connectors: Option<Vec<String>>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub archived_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Assessment {
    pub fn is_archived(&self) -> bool {
        self.archived_at.is_some()
    }

    /// Archived assessments are frozen: every change is a conflict.
    pub fn ensure_live(&self) -> Result<(), DomainError> {
        if self.is_archived() {
            return Err(DomainError::conflict(format!(
                "assessment {} is archived and cannot change",
                self.id
            )));
        }
        Ok(())
    }
}

/// Most services one assessment covers: each is a lock item written in the transaction that
/// creates the assessment (with its group), which holds at most 100 operations.
pub const MAX_SERVICES: usize = 20;
/// Longest service name (it is part of a lock item's key).
pub const MAX_SERVICE_LEN: usize = 64;

/// Services normalised for comparison: trimmed, lower case, sorted, without duplicates.
pub fn normalize_services(services: &[String]) -> Result<Vec<String>, DomainError> {
    if services.len() > MAX_SERVICES {
        return Err(DomainError::invalid(
            "services",
            format!(
                "{} services; an assessment covers at most {MAX_SERVICES}",
                services.len()
            ),
        ));
    }
    let mut out: Vec<String> = services.iter().map(|s| s.trim().to_lowercase()).collect();
    if out.iter().any(String::is_empty) {
        return Err(DomainError::invalid(
            "services",
            "a service name must not be empty",
        ));
    }
    if out.iter().any(|s| s.chars().count() > MAX_SERVICE_LEN) {
        return Err(DomainError::invalid(
            "services",
            format!("a service name must be at most {MAX_SERVICE_LEN} characters"),
        ));
    }
    out.sort();
    out.dedup();
    if out.is_empty() {
        return Err(DomainError::invalid(
            "services",
            "name at least one service",
        ));
    }
    Ok(out)
}

/// A group holds at most one assessment per (regulation, service) pair.
pub fn ensure_pair_free(
    in_group: &[Assessment],
    regulation: &RegulationId,
    services: &[String],
) -> Result<(), DomainError> {
    for existing in in_group.iter().filter(|a| &a.regulation_id == regulation) {
        if let Some(s) = existing.services.iter().find(|s| services.contains(s)) {
            return Err(DomainError::conflict(format!(
                "group already has assessment {} of regulation {regulation} for service {s}",
                existing.id
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assessment(id: &str, reg: &str, services: &[&str]) -> Assessment {
        Assessment {
            id: AssessmentId::parse(id).unwrap(),
            name: id.into(),
            group_id: GroupId::parse("g").unwrap(),
            regulation_id: RegulationId::parse(reg).unwrap(),
            services: services.iter().map(|s| s.to_string()).collect(),
            created_at: chrono::Utc::now(),
            connectors: None,
            archived_at: None,
        }
    }

    #[test]
    fn one_assessment_per_regulation_and_service_in_a_group() {
        let existing = vec![assessment("a1", "nist", &["aws", "zoom"])];
        let nist = RegulationId::parse("nist").unwrap();
        let iso = RegulationId::parse("iso").unwrap();
        assert!(ensure_pair_free(&existing, &nist, &["zoom".into()]).is_err());
        assert!(ensure_pair_free(&existing, &nist, &["slack".into()]).is_ok());
        assert!(ensure_pair_free(&existing, &iso, &["aws".into()]).is_ok());
    }

    #[test]
    fn services_are_normalised() {
        let s = normalize_services(&[" Zoom".into(), "aws".into(), "zoom".into()]).unwrap();
        assert_eq!(s, vec!["aws", "zoom"]);
        assert!(normalize_services(&[]).is_err());
        assert!(normalize_services(&["  ".into()]).is_err());
        let many: Vec<String> = (0..=MAX_SERVICES).map(|i| format!("s{i}")).collect();
        let err = normalize_services(&many).unwrap_err();
        assert!(matches!(&err, DomainError::Invalid(f) if f.field == "services"));
        assert_eq!(
            normalize_services(&many[..MAX_SERVICES]).unwrap().len(),
            MAX_SERVICES
        );
        assert!(normalize_services(&["x".repeat(MAX_SERVICE_LEN + 1)]).is_err());
    }

    #[test]
    fn archived_assessments_reject_changes() {
        let mut a = assessment("a1", "nist", &["aws"]);
        assert!(a.ensure_live().is_ok());
        a.archived_at = Some(chrono::Utc::now());
        assert!(matches!(a.ensure_live(), Err(DomainError::Conflict(_))));
    }
}
