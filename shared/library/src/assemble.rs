//! Building a regulation from families of controls: a control that no action satisfies gets
//! one generated documentation action, so that every control can be assessed.

use std::collections::HashSet;

use attest_domain::ids::{ActionId, RegulationId};
use attest_domain::regulation::{Control, Family, ImprovementAction, Regulation};
use attest_domain::vocab::{
    ActionType, Category, ControlType, Enforcement, ManagedBy, TestingType,
};

pub struct FamilyDraft {
    pub id: String,
    pub title: String,
    pub controls: Vec<ControlDraft>,
}

pub struct ControlDraft {
    pub id: String,
    pub title: String,
    pub description: String,
    pub actions: Vec<ActionId>,
}

/// `AC-2(1)` -> `ac-2-1`: lower case letters and digits, other runs become one `-`.
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

/// The customer-managed documentation action generated for a control nobody maps.
pub fn generated_action(id: ActionId, control_id: &str, control_title: &str) -> ImprovementAction {
    ImprovementAction {
        id,
        title: format!("Meet {control_id}: {control_title}"),
        guidance: format!(
            "Document how your organisation meets {control_id} ({control_title}): the policy or procedure that applies, who owns it, and the evidence that shows it works."
        ),
        category: Category::ManageCompliance,
        action_type: ActionType::Documentation,
        control_type: ControlType::Preventive,
        enforcement: Enforcement::Discretionary,
        testing_type: TestingType::Manual,
        managed_by: ManagedBy::Customer,
    }
}

/// Assembles the regulation and returns the actions generated for unmapped controls. Their
/// ids are `{regulation}.{control slug}`, made unique within the regulation.
pub fn assemble(
    id: RegulationId,
    name: String,
    source: String,
    families: Vec<FamilyDraft>,
) -> (Regulation, Vec<ImprovementAction>) {
    let mut generated = Vec::new();
    let mut used = HashSet::new();
    let families = families
        .into_iter()
        .map(|f| Family {
            id: f.id,
            title: f.title,
            controls: f
                .controls
                .into_iter()
                .map(|c| {
                    let mut actions = c.actions;
                    if actions.is_empty() {
                        let base = format!("{id}.{}", slug(&c.id));
                        let mut candidate = base.clone();
                        let mut n = 1;
                        while !used.insert(candidate.clone()) {
                            n += 1;
                            candidate = format!("{base}-{n}");
                        }
                        let action_id = ActionId::parse(candidate).expect("slugs are valid ids");
                        generated.push(generated_action(action_id.clone(), &c.id, &c.title));
                        actions.push(action_id);
                    }
                    Control {
                        id: c.id,
                        title: c.title,
                        description: c.description,
                        actions,
                    }
                })
                .collect(),
        })
        .collect();
    (
        Regulation {
            id,
            name,
            source,
            families,
        },
        generated,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slug("AC-2(1)"), "ac-2-1");
        assert_eq!(slug("Art. 5"), "art-5");
        assert_eq!(slug("A.5.1"), "a-5-1");
    }

    #[test]
    fn unmapped_controls_get_one_generated_action_each() {
        let mapped = ActionId::parse("mfa").unwrap();
        let (reg, generated) = assemble(
            RegulationId::parse("r").unwrap(),
            "R".into(),
            String::new(),
            vec![FamilyDraft {
                id: "F".into(),
                title: "F".into(),
                controls: vec![
                    ControlDraft {
                        id: "1.a".into(),
                        title: "A".into(),
                        description: String::new(),
                        actions: vec![mapped.clone()],
                    },
                    ControlDraft {
                        id: "1 a".into(),
                        title: "B".into(),
                        description: String::new(),
                        actions: vec![],
                    },
                    ControlDraft {
                        id: "1-a".into(),
                        title: "C".into(),
                        description: String::new(),
                        actions: vec![],
                    },
                ],
            }],
        );
        assert_eq!(generated.len(), 2);
        let ids: Vec<_> = reg.controls().map(|c| c.actions[0].to_string()).collect();
        assert_eq!(ids, ["mfa", "r.1-a", "r.1-a-2"]);
        assert_eq!(generated[0].action_type, ActionType::Documentation);
        assert_eq!(generated[0].enforcement, Enforcement::Discretionary);
        assert_eq!(generated[0].points(), 9);
    }
}
