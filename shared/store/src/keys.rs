//! Item keys. Every partition key starts with the tenant, so that no key built here can reach
//! another tenant's items. Tenant ids are validated (`TenantId`) and cannot contain `#`.

use attest_domain::action::{InstanceRef, InstanceScope};
use attest_domain::ids::{
    ActionId, AssessmentId, EvidenceId, GroupId, RegulationId, TenantId, UserId,
};

use crate::backend::Key;

pub(crate) fn pk(tenant: &TenantId, kind: &str) -> String {
    format!("T#{tenant}#{kind}")
}

/// All groups of a tenant: one partition, sort key = group id.
pub fn groups(tenant: &TenantId) -> String {
    pk(tenant, "GROUP")
}

pub fn group(tenant: &TenantId, id: &GroupId) -> Key {
    Key::new(groups(tenant), id.as_str())
}

/// The lock item that makes a group name unique (case-insensitive) within a tenant.
pub fn group_name(tenant: &TenantId, unique_name: &str) -> Key {
    Key::new(pk(tenant, "GROUPNAME"), unique_name)
}

/// Groups whose shared actions are being copied from another group, sort key = the new group.
pub fn copy_marks(tenant: &TenantId) -> String {
    pk(tenant, "COPY")
}

pub fn copy_mark(tenant: &TenantId, to: &GroupId) -> Key {
    Key::new(copy_marks(tenant), to.as_str())
}

/// Tenant regulation headers (custom templates and imports).
pub fn regulations(tenant: &TenantId) -> String {
    pk(tenant, "REG")
}

pub fn regulation(tenant: &TenantId, id: &RegulationId) -> Key {
    Key::new(regulations(tenant), id.as_str())
}

/// The claim a writer holds while it stores a new regulation's parts (see `put_regulation`).
pub fn regulation_claim(tenant: &TenantId, id: &RegulationId) -> Key {
    Key::new(pk(tenant, "REGCLAIM"), id.as_str())
}

/// The parts a regulation's families are stored in, sort key = part number.
pub fn regulation_parts(tenant: &TenantId, id: &RegulationId) -> String {
    pk(tenant, &format!("REGPART#{id}"))
}

/// Which controls of the tenant's regulations an action meets (the reverse of a regulation's
/// control -> action map), sort key = `{action}#{regulation}#{n}`.
pub fn action_controls(tenant: &TenantId) -> String {
    pk(tenant, "ACTCTL")
}

pub fn action_controls_prefix(action: &ActionId) -> String {
    format!("{action}#")
}

/// Actions the tenant's templates generated (the library's own live in code).
pub fn action_defs(tenant: &TenantId) -> String {
    pk(tenant, "ACTDEF")
}

pub fn action_def(tenant: &TenantId, id: &ActionId) -> Key {
    Key::new(action_defs(tenant), id.as_str())
}

pub fn assessments(tenant: &TenantId) -> String {
    pk(tenant, "ASMT")
}

pub fn assessment(tenant: &TenantId, id: &AssessmentId) -> Key {
    Key::new(assessments(tenant), id.as_str())
}

/// The lock that keeps one assessment per (regulation, service) pair in a group.
pub fn pair_lock(
    tenant: &TenantId,
    group: &GroupId,
    regulation: &RegulationId,
    service: &str,
) -> Key {
    Key::new(
        pk(tenant, "PAIR"),
        format!("{group}#{regulation}#{service}"),
    )
}

/// The frozen snapshot of an archived assessment, in parts.
pub fn snapshot_parts(tenant: &TenantId, id: &AssessmentId) -> String {
    pk(tenant, &format!("SNAP#{id}"))
}

/// Action instances. Tenant-wide ones sort under `T#`, a group's under `G#{group}#`.
pub fn instances(tenant: &TenantId) -> String {
    pk(tenant, "INST")
}

pub fn instance_sk(instance: &InstanceRef) -> String {
    match &instance.scope {
        InstanceScope::Tenant => format!("T#{}", instance.action),
        InstanceScope::Group(g) => format!("G#{g}#{}", instance.action),
    }
}

pub fn instance(tenant: &TenantId, instance: &InstanceRef) -> Key {
    Key::new(instances(tenant), instance_sk(instance))
}

pub fn group_instances_prefix(group: &GroupId) -> String {
    format!("G#{group}#")
}

/// The instances in use, one item each with the live assessments that use it, sort key = the
/// instance's sort key.
pub fn usages(tenant: &TenantId) -> String {
    pk(tenant, "USE")
}

/// Markers of assessments whose usage items are being written or removed.
pub fn usage_marks(tenant: &TenantId) -> String {
    pk(tenant, "USEIDX")
}

pub fn usage_mark(tenant: &TenantId, assessment: &AssessmentId) -> Key {
    Key::new(usage_marks(tenant), assessment.as_str())
}

/// An instance's change history, sort key = time and sequence.
pub fn history(tenant: &TenantId, instance: &InstanceRef) -> String {
    pk(tenant, &format!("HIST#{}", instance_sk(instance)))
}

/// Evidence by id.
pub fn evidence(tenant: &TenantId, id: &EvidenceId) -> Key {
    Key::new(pk(tenant, "EVIDENCE"), id.as_str())
}

/// An action instance's evidence, sort key = evidence id.
pub fn evidence_of(tenant: &TenantId, instance: &InstanceRef) -> String {
    pk(tenant, &format!("EVID#{}", instance_sk(instance)))
}

/// The item of one piece of evidence in its action instance's list.
pub fn evidence_in(tenant: &TenantId, instance: &InstanceRef, id: &EvidenceId) -> Key {
    Key::new(evidence_of(tenant, instance), id.as_str())
}

/// The tenant's event log, sort key = event id (time-ordered).
pub fn events(tenant: &TenantId) -> String {
    pk(tenant, "EVENT")
}

pub fn event(tenant: &TenantId, id: &str) -> Key {
    Key::new(events(tenant), id)
}

/// Events a consumer has handled (de-duplication), sort key = `{consumer}#{event id}`.
pub fn event_seen(tenant: &TenantId, consumer: &str, id: &str) -> Key {
    Key::new(pk(tenant, "SEEN"), format!("{consumer}#{id}"))
}

/// Stored scores, sort key = the scope.
pub fn score(tenant: &TenantId, scope: &str) -> Key {
    Key::new(pk(tenant, "SCORE"), scope)
}

/// A scope's score history, sort key = time.
pub fn score_history(tenant: &TenantId, scope: &str) -> String {
    pk(tenant, &format!("SCOREHIST#{scope}"))
}

/// The days a scope's daily point was taken, sort key = the date.
pub fn score_days(tenant: &TenantId, scope: &str) -> String {
    pk(tenant, &format!("SCOREDAY#{scope}"))
}

pub fn users(tenant: &TenantId) -> String {
    pk(tenant, "USER")
}

pub fn user(tenant: &TenantId, id: &UserId) -> Key {
    Key::new(users(tenant), id.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_scoped_by_tenant() {
        let a = TenantId::parse("a").unwrap();
        let b = TenantId::parse("b").unwrap();
        let g = GroupId::parse("g1").unwrap();
        assert_eq!(group(&a, &g), Key::new("T#a#GROUP", "g1"));
        assert_ne!(group(&a, &g), group(&b, &g));
        assert_eq!(group_name(&a, "europe").pk, "T#a#GROUPNAME");
    }
}
