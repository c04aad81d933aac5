//! Regulation templates: families of controls, each control mapped to improvement actions of
//! the action library. One action may satisfy controls of several regulations.

use serde::{Deserialize, Serialize};

use crate::action::InstanceScope;
use crate::ids::{ActionId, GroupId, RegulationId};
use crate::vocab::{ActionType, Category, ControlType, Enforcement, ManagedBy, TestingType};

/// An improvement action of the library: what to do, and how much it weighs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImprovementAction {
    pub id: ActionId,
    pub title: String,
    pub guidance: String,
    pub category: Category,
    pub action_type: ActionType,
    pub control_type: ControlType,
    pub enforcement: Enforcement,
    pub testing_type: TestingType,
    pub managed_by: ManagedBy,
    /// The outside service whose connector tests this action (`zoom`, `salesforce`): such an
    /// action belongs to an assessment only when the assessment covers that service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

/// API.md "Scoring": points by control type and enforcement.
pub fn points(control_type: ControlType, enforcement: Enforcement) -> u32 {
    use ControlType::*;
    use Enforcement::*;
    match (control_type, enforcement) {
        (Preventive, Mandatory) => 27,
        (Preventive, Discretionary) => 9,
        (Detective, Mandatory) | (Corrective, Mandatory) => 3,
        (Detective, Discretionary) | (Corrective, Discretionary) => 1,
    }
}

impl ImprovementAction {
    pub fn points(&self) -> u32 {
        points(self.control_type, self.enforcement)
    }

    /// Whether the action belongs to an assessment of `services`: a service's own action only
    /// when the assessment covers that service; every other action always.
    pub fn applies_to(&self, services: &[String]) -> bool {
        self.service
            .as_ref()
            .is_none_or(|s| services.iter().any(|x| x == s))
    }

    /// Where this action's instance lives when the action is used by an assessment in `group`:
    /// Whether the action has one instance for the whole tenant (see [`Self::scope_in`]).
    pub fn tenant_wide(&self) -> bool {
        self.action_type.is_technical() || self.managed_by == ManagedBy::Provider
    }

    /// technical and provider-managed actions once per tenant, documentation and operational
    /// ones once per assessment group.
    pub fn scope_in(&self, group: &GroupId) -> InstanceScope {
        if self.tenant_wide() {
            InstanceScope::Tenant
        } else {
            InstanceScope::Group(group.clone())
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Control {
    /// The display ID, e.g. `AC-2(1)` or `A.5.1`.
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// The improvement actions that satisfy this control.
    pub actions: Vec<ActionId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Family {
    pub id: String,
    pub title: String,
    pub controls: Vec<Control>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Regulation {
    pub id: RegulationId,
    pub name: String,
    /// Where the template comes from (publication, file, author).
    #[serde(default)]
    pub source: String,
    pub families: Vec<Family>,
}

impl Regulation {
    pub fn controls(&self) -> impl Iterator<Item = &Control> {
        self.families.iter().flat_map(|f| f.controls.iter())
    }

    pub fn control(&self, id: &str) -> Option<&Control> {
        self.controls().find(|c| c.id.eq_ignore_ascii_case(id))
    }

    /// The distinct actions its controls reference, in first-seen order.
    pub fn action_ids(&self) -> Vec<&ActionId> {
        let mut seen = std::collections::HashSet::new();
        self.controls()
            .flat_map(|c| c.actions.iter())
            .filter(|a| seen.insert(*a))
            .collect()
    }
}

/// The `control=` filter: `query` matches the control id itself and every id that continues
/// it after a character that is not a letter or digit (`ac-2` finds `ac-2`, `ac-2(1)` and
/// `ac-2.3`, never `ac-20`). Case-insensitive.
pub fn control_id_matches(query: &str, id: &str) -> bool {
    let (q, id) = (query.trim().to_lowercase(), id.to_lowercase());
    if q.is_empty() {
        return false;
    }
    match id.strip_prefix(&q) {
        Some("") => true,
        Some(rest) => rest.chars().next().is_some_and(|c| !c.is_alphanumeric()),
        None => false,
    }
}

/// The `article=` filter: a case-insensitive substring of the article's name, where the name
/// is the control's id or its family's id (`Article (5)` finds `Article (5)(1)(a)`; `AT`
/// finds NIST's AT family).
pub fn article_matches(query: &str, names: &[&str]) -> bool {
    let q = query.trim().to_lowercase();
    !q.is_empty() && names.iter().any(|n| n.to_lowercase().contains(&q))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn action(
        id: &str,
        action_type: ActionType,
        managed_by: ManagedBy,
    ) -> ImprovementAction {
        ImprovementAction {
            id: ActionId::parse(id).unwrap(),
            title: id.into(),
            guidance: String::new(),
            category: Category::ControlAccess,
            action_type,
            control_type: ControlType::Preventive,
            enforcement: Enforcement::Mandatory,
            testing_type: TestingType::Manual,
            managed_by,
            service: None,
        }
    }

    #[test]
    fn service_actions_belong_to_assessments_of_their_service() {
        let general = action("mfa", ActionType::Technical, ManagedBy::Customer);
        let mut zoom = general.clone();
        zoom.service = Some("zoom".into());
        let covers = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(general.applies_to(&covers(&["aws"])));
        assert!(!zoom.applies_to(&covers(&["aws"])));
        assert!(zoom.applies_to(&covers(&["aws", "zoom"])));
    }

    #[test]
    fn points_follow_the_api_table() {
        use ControlType::*;
        use Enforcement::*;
        assert_eq!(points(Preventive, Mandatory), 27);
        assert_eq!(points(Preventive, Discretionary), 9);
        assert_eq!(points(Detective, Mandatory), 3);
        assert_eq!(points(Detective, Discretionary), 1);
        assert_eq!(points(Corrective, Mandatory), 3);
        assert_eq!(points(Corrective, Discretionary), 1);
    }

    #[test]
    fn instance_scope_by_action_type_and_manager() {
        let g = GroupId::parse("g1").unwrap();
        let tech = action("t", ActionType::Technical, ManagedBy::Customer);
        let doc = action("d", ActionType::Documentation, ManagedBy::Customer);
        let ops = action("o", ActionType::Operational, ManagedBy::Customer);
        let prov = action("p", ActionType::Documentation, ManagedBy::Provider);
        assert_eq!(tech.scope_in(&g), InstanceScope::Tenant);
        assert_eq!(prov.scope_in(&g), InstanceScope::Tenant);
        assert_eq!(doc.scope_in(&g), InstanceScope::Group(g.clone()));
        assert_eq!(ops.scope_in(&g), InstanceScope::Group(g));
    }

    #[test]
    fn distinct_actions_of_a_regulation() {
        let a = ActionId::parse("a").unwrap();
        let b = ActionId::parse("b").unwrap();
        let reg = Regulation {
            id: RegulationId::parse("r").unwrap(),
            name: "R".into(),
            source: String::new(),
            families: vec![Family {
                id: "f".into(),
                title: "F".into(),
                controls: vec![
                    Control {
                        id: "1".into(),
                        title: "one".into(),
                        description: String::new(),
                        actions: vec![a.clone(), b.clone()],
                    },
                    Control {
                        id: "2".into(),
                        title: "two".into(),
                        description: String::new(),
                        actions: vec![a.clone()],
                    },
                ],
            }],
        };
        assert_eq!(reg.action_ids(), vec![&a, &b]);
        assert_eq!(reg.controls().count(), 2);
    }

    #[test]
    fn control_filter_matches_the_id_and_what_continues_it() {
        for id in ["ac-2", "AC-2", "ac-2(1)", "ac-2.3", "ac-2 (4)"] {
            assert!(control_id_matches("ac-2", id), "{id}");
        }
        for id in ["ac-20", "ac-21(1)", "ac", "xac-2"] {
            assert!(!control_id_matches("ac-2", id), "{id}");
        }
        assert!(control_id_matches("7.3", "7.3.1"));
        assert!(!control_id_matches("7.3", "7.30"));
        assert!(!control_id_matches(" ", "7.3"));
    }

    #[test]
    fn article_filter_is_a_case_insensitive_substring() {
        assert!(article_matches("Article (5)", &["article (5)(1)(a)"]));
        assert!(article_matches("art. 3", &["x", "Art. 32 Security"]));
        assert!(!article_matches("Art. 6", &["Art. 5"]));
        assert!(!article_matches("", &["Art. 5"]));
    }
}
