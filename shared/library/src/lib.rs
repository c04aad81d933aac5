//! Attest's own template library — four regulations and the improvement actions that satisfy
//! them, written by us and shipped in `data/` — and the import of OSCAL catalogs.

pub mod assemble;
pub mod oscal;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use attest_domain::ids::{ActionId, RegulationId};
use attest_domain::regulation::{ImprovementAction, Regulation};
use serde::Deserialize;

use assemble::{assemble, ControlDraft, FamilyDraft};

/// Regulations and actions that every tenant has.
#[derive(Debug)]
pub struct Library {
    regulations: Vec<Regulation>,
    actions: BTreeMap<ActionId, ImprovementAction>,
}

impl Library {
    pub fn regulations(&self) -> &[Regulation] {
        &self.regulations
    }

    pub fn regulation(&self, id: &RegulationId) -> Option<&Regulation> {
        self.regulations.iter().find(|r| &r.id == id)
    }

    pub fn action(&self, id: &ActionId) -> Option<&ImprovementAction> {
        self.actions.get(id)
    }

    pub fn actions(&self) -> impl Iterator<Item = &ImprovementAction> {
        self.actions.values()
    }
}

const REGULATIONS: [&str; 4] = [
    include_str!("../data/nist-800-53-r5-moderate.json"),
    include_str!("../data/iso-27001-2022.json"),
    include_str!("../data/gdpr.json"),
    include_str!("../data/soc2-2017.json"),
];
/// The library's actions: the general ones, then those each compliance connector tests
/// (`service` set, `testing_type` automatic).
const ACTIONS: [(&str, &str); 3] = [
    ("actions.json", include_str!("../data/actions.json")),
    (
        "actions-zoom.json",
        include_str!("../data/actions-zoom.json"),
    ),
    (
        "actions-salesforce.json",
        include_str!("../data/actions-salesforce.json"),
    ),
];

#[derive(Deserialize)]
struct RegulationFile {
    id: RegulationId,
    name: String,
    source: String,
    families: Vec<FamilyFile>,
}

#[derive(Deserialize)]
struct FamilyFile {
    id: String,
    title: String,
    /// (control id, title)
    controls: Vec<(String, String)>,
}

#[derive(Deserialize)]
struct ActionFile {
    #[serde(flatten)]
    action: ImprovementAction,
    /// regulation id -> control ids the action satisfies
    controls: BTreeMap<RegulationId, Vec<String>>,
}

/// Builds the library from the shipped data, checking every mapping.
pub fn load() -> Result<Library, String> {
    let files: Vec<RegulationFile> = REGULATIONS
        .iter()
        .map(|text| serde_json::from_str(text).map_err(|e| format!("regulation file: {e}")))
        .collect::<Result<_, _>>()?;
    let mut action_files: Vec<ActionFile> = Vec::new();
    for (name, text) in ACTIONS {
        let more: Vec<ActionFile> =
            serde_json::from_str(text).map_err(|e| format!("{name}: {e}"))?;
        action_files.extend(more);
    }

    // regulation -> control -> actions mapped there
    let mut mapped: BTreeMap<&RegulationId, BTreeMap<&str, Vec<ActionId>>> = BTreeMap::new();
    let mut actions = BTreeMap::new();
    for file in &action_files {
        for (reg, controls) in &file.controls {
            let Some(reg_file) = files.iter().find(|f| &f.id == reg) else {
                return Err(format!(
                    "action {} maps to unknown regulation {reg}",
                    file.action.id
                ));
            };
            for control in controls {
                if !reg_file
                    .families
                    .iter()
                    .any(|f| f.controls.iter().any(|(id, _)| id == control))
                {
                    return Err(format!(
                        "action {} maps to unknown control {reg} {control}",
                        file.action.id
                    ));
                }
                mapped
                    .entry(reg)
                    .or_default()
                    .entry(control)
                    .or_default()
                    .push(file.action.id.clone());
            }
        }
        if actions
            .insert(file.action.id.clone(), file.action.clone())
            .is_some()
        {
            return Err(format!("action {} is defined twice", file.action.id));
        }
    }

    let mut regulations = Vec::new();
    for file in &files {
        let families = file
            .families
            .iter()
            .map(|f| FamilyDraft {
                id: f.id.clone(),
                title: f.title.clone(),
                controls: f
                    .controls
                    .iter()
                    .map(|(id, title)| ControlDraft {
                        id: id.clone(),
                        title: title.clone(),
                        description: String::new(),
                        actions: mapped
                            .get(&file.id)
                            .and_then(|m| m.get(id.as_str()))
                            .cloned()
                            .unwrap_or_default(),
                    })
                    .collect(),
            })
            .collect();
        let (regulation, generated) = assemble(
            file.id.clone(),
            file.name.clone(),
            file.source.clone(),
            families,
        )
        .map_err(|e| format!("regulation {}: {e}", file.id))?;
        for g in generated {
            actions.insert(g.id.clone(), g);
        }
        regulations.push(regulation);
    }
    Ok(Library {
        regulations,
        actions,
    })
}

/// The built-in library, loaded once.
pub fn builtin() -> &'static Library {
    static LIBRARY: OnceLock<Library> = OnceLock::new();
    LIBRARY
        .get_or_init(|| load().expect("the shipped library is consistent (checked by its tests)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use attest_domain::vocab::{ActionType, ManagedBy};
    use std::collections::HashSet;

    #[test]
    fn the_library_loads_and_every_mapping_resolves() {
        let lib = load().unwrap();
        let ids: Vec<&str> = lib.regulations().iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "nist-800-53-r5-moderate",
                "iso-27001-2022",
                "gdpr",
                "soc2-2017"
            ]
        );
        let count = |id: &str| {
            lib.regulation(&RegulationId::parse(id).unwrap())
                .unwrap()
                .controls()
                .count()
        };
        assert_eq!(count("nist-800-53-r5-moderate"), 287);
        assert_eq!(count("iso-27001-2022"), 93);
        assert_eq!(count("soc2-2017"), 33);
        assert!(count("gdpr") >= 35);
        for reg in lib.regulations() {
            for control in reg.controls() {
                assert!(
                    !control.actions.is_empty(),
                    "{} {} has no action",
                    reg.id,
                    control.id
                );
                for a in &control.actions {
                    assert!(lib.action(a).is_some(), "{} {} -> {a}", reg.id, control.id);
                }
            }
        }
    }

    #[test]
    fn actions_are_many_shared_across_regulations_and_some_provider_managed() {
        let lib = builtin();
        let written: Vec<_> = lib
            .actions()
            .filter(|a| !a.id.as_str().contains('.'))
            .collect();
        assert!(written.len() >= 80, "{} actions", written.len());
        let shared = written
            .iter()
            .filter(|a| {
                lib.regulations()
                    .iter()
                    .filter(|r| r.controls().any(|c| c.actions.contains(&a.id)))
                    .count()
                    >= 2
            })
            .count();
        assert!(
            shared >= 60,
            "only {shared} actions serve two or more regulations"
        );
        assert!(written.iter().any(|a| a.managed_by == ManagedBy::Provider));
        let types: HashSet<ActionType> = written.iter().map(|a| a.action_type).collect();
        assert_eq!(types.len(), 3);
        assert!(written
            .iter()
            .all(|a| !a.guidance.is_empty() && !a.title.is_empty()));
    }

    #[test]
    fn mfa_satisfies_controls_in_every_regulation() {
        let lib = builtin();
        let mfa = ActionId::parse("mfa-admins").unwrap();
        let regs: Vec<&str> = lib
            .regulations()
            .iter()
            .filter(|r| r.controls().any(|c| c.actions.contains(&mfa)))
            .map(|r| r.id.as_str())
            .collect();
        assert_eq!(
            regs,
            [
                "nist-800-53-r5-moderate",
                "iso-27001-2022",
                "gdpr",
                "soc2-2017"
            ]
        );
        let ia21 = lib
            .regulation(&RegulationId::parse("nist-800-53-r5-moderate").unwrap())
            .unwrap()
            .control("ia-2(1)")
            .unwrap();
        assert_eq!(
            ia21.title,
            "Multi-factor Authentication to Privileged Accounts"
        );
    }
}
