//! Building a regulation from families of controls: a control that no action satisfies gets
//! one generated documentation action, so that every control can be assessed.

use std::collections::HashSet;

use attest_domain::ids::{ActionId, RegulationId};
use attest_domain::regulation::{Control, Family, ImprovementAction, Regulation};
use attest_domain::vocab::{
    ActionType, Category, ControlType, Enforcement, ManagedBy, TestingType,
};
use attest_domain::DomainError;

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
        service: None,
    }
}

/// Longest id of a tenant's own regulation. Generated action ids start with it, and every id
/// must fit the 128 characters of an identifier.
pub const MAX_REGULATION_ID_LEN: usize = 64;
/// Longest family or control id (they are shown, matched and exported, not used as keys).
pub const MAX_CONTROL_ID_LEN: usize = 100;
/// How much of a control's slug a generated action id keeps: `{regulation}.{slug}-{n}` stays
/// within 64 + 1 + 48 + 7 characters, whatever the caller sent.
const MAX_SLUG_LEN: usize = 48;

/// Checks the id of a regulation the tenant creates or imports; `field` names where it came from.
pub fn check_regulation_id(field: &str, id: &RegulationId) -> Result<(), DomainError> {
    if id.as_str().len() > MAX_REGULATION_ID_LEN {
        return Err(DomainError::invalid(
            field,
            format!(
                "must be at most {MAX_REGULATION_ID_LEN} characters (generated action ids start with it)"
            ),
        ));
    }
    Ok(())
}

/// Checks one family's or control's id; `field` is its path in the caller's document.
pub fn check_control_id(field: &str, id: &str) -> Result<(), DomainError> {
    if id.trim().is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    if id.chars().count() > MAX_CONTROL_ID_LEN {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {MAX_CONTROL_ID_LEN} characters"),
        ));
    }
    Ok(())
}

/// The id of the action generated for a control: `{regulation}.{control slug}`, the slug cut
/// to a bounded length, with `-{n}` added until it is unused within the regulation.
fn generated_id(
    regulation: &RegulationId,
    control_id: &str,
    used: &mut HashSet<String>,
) -> Result<ActionId, DomainError> {
    let mut s = slug(control_id);
    s.truncate(MAX_SLUG_LEN);
    let s = s.trim_end_matches('-');
    let base = if s.is_empty() {
        format!("{regulation}.control")
    } else {
        format!("{regulation}.{s}")
    };
    let mut candidate = base.clone();
    let mut n = 1;
    while !used.insert(candidate.clone()) {
        n += 1;
        candidate = format!("{base}-{n}");
    }
    ActionId::parse(candidate)
}

/// Assembles the regulation and returns the actions generated for unmapped controls. Their
/// ids are `{regulation}.{control slug}`, made unique within the regulation. Ids that are
/// too long are refused naming the family or control (`families[i].controls[j].id`).
pub fn assemble(
    id: RegulationId,
    name: String,
    source: String,
    families: Vec<FamilyDraft>,
) -> Result<(Regulation, Vec<ImprovementAction>), DomainError> {
    check_regulation_id("id", &id)?;
    let mut generated = Vec::new();
    let mut used = HashSet::new();
    let mut out = Vec::with_capacity(families.len());
    for (fi, f) in families.into_iter().enumerate() {
        check_control_id(&format!("families[{fi}].id"), &f.id)?;
        let mut controls = Vec::with_capacity(f.controls.len());
        for (ci, c) in f.controls.into_iter().enumerate() {
            check_control_id(&format!("families[{fi}].controls[{ci}].id"), &c.id)?;
            let mut actions = c.actions;
            if actions.is_empty() {
                let action_id = generated_id(&id, &c.id, &mut used)?;
                generated.push(generated_action(action_id.clone(), &c.id, &c.title));
                actions.push(action_id);
            }
            controls.push(Control {
                id: c.id,
                title: c.title,
                description: c.description,
                actions,
            });
        }
        out.push(Family {
            id: f.id,
            title: f.title,
            controls,
        });
    }
    Ok((
        Regulation {
            id,
            name,
            source,
            families: out,
        },
        generated,
    ))
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
        )
        .unwrap();
        assert_eq!(generated.len(), 2);
        let ids: Vec<_> = reg.controls().map(|c| c.actions[0].to_string()).collect();
        assert_eq!(ids, ["mfa", "r.1-a", "r.1-a-2"]);
        assert_eq!(generated[0].action_type, ActionType::Documentation);
        assert_eq!(generated[0].enforcement, Enforcement::Discretionary);
        assert_eq!(generated[0].points(), 9);
    }

    fn one_control(
        reg: &str,
        control: &str,
    ) -> Result<(Regulation, Vec<ImprovementAction>), DomainError> {
        assemble(
            RegulationId::parse(reg).unwrap(),
            "R".into(),
            String::new(),
            vec![FamilyDraft {
                id: "F".into(),
                title: "F".into(),
                controls: vec![ControlDraft {
                    id: control.into(),
                    title: "T".into(),
                    description: String::new(),
                    actions: vec![],
                }],
            }],
        )
    }

    #[test]
    fn long_ids_are_refused_naming_the_field_never_a_panic() {
        // A 128-character regulation id is a valid id, but its generated actions would not be.
        let err = one_control(&"r".repeat(128), "1").unwrap_err();
        assert!(
            matches!(&err, DomainError::Invalid(f) if f.field == "id"),
            "{err:?}"
        );
        let err = one_control("r", &"c".repeat(300)).unwrap_err();
        assert!(
            matches!(&err, DomainError::Invalid(f) if f.field == "families[0].controls[0].id"),
            "{err:?}"
        );
    }

    #[test]
    fn generated_ids_stay_valid_at_the_limits() {
        let reg = "r".repeat(MAX_REGULATION_ID_LEN);
        let control = "C".repeat(MAX_CONTROL_ID_LEN);
        let (_, generated) = one_control(&reg, &control).unwrap();
        assert!(generated[0].id.as_str().len() <= 128);
        // Slugs cut to the same prefix still get distinct ids.
        let (_, generated) = assemble(
            RegulationId::parse(reg).unwrap(),
            "R".into(),
            String::new(),
            vec![FamilyDraft {
                id: "F".into(),
                title: "F".into(),
                controls: (0..3)
                    .map(|i| ControlDraft {
                        id: format!("{}{i}", "x".repeat(90)),
                        title: "T".into(),
                        description: String::new(),
                        actions: vec![],
                    })
                    .collect(),
            }],
        )
        .unwrap();
        let ids: HashSet<_> = generated.iter().map(|a| a.id.clone()).collect();
        assert_eq!(ids.len(), 3);
        // A control id of punctuation alone still gets an id.
        assert_eq!(
            one_control("r", "()").unwrap().1[0].id.as_str(),
            "r.control"
        );
    }
}
