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

/// The library's first version: what every tenant's data before versioning was made against.
pub const FIRST_VERSION: u32 = attest_domain::action::FIRST_LIBRARY_VERSION;

/// The environment variable naming one more release file, layered on the shipped library: to
/// try a release before it ships (the tests use one). Unset in production.
pub const RELEASE_ENV: &str = "ATTEST_LIBRARY_RELEASE";

/// Regulation id -> the ids of the controls an action satisfies there.
pub type Mapping = BTreeMap<RegulationId, Vec<String>>;

/// One version of an action's definition.
#[derive(Debug, Clone)]
pub struct Definition {
    /// The library version that introduced it.
    pub version: u32,
    pub action: ImprovementAction,
    pub controls: Mapping,
}

/// One field an update changes, old and new as the API shows them.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Change {
    pub field: &'static str,
    pub old: serde_json::Value,
    pub new: serde_json::Value,
}

/// What accepting the current definition of an action changes for an instance that accepted
/// an earlier version.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub from: u32,
    pub to: u32,
    pub changes: Vec<Change>,
}

/// Regulations and actions that every tenant has, at the library's version, with the earlier
/// definitions of the actions a release changed (tenants keep those until they accept).
#[derive(Debug)]
pub struct Library {
    version: u32,
    regulations: Vec<Regulation>,
    actions: BTreeMap<ActionId, ImprovementAction>,
    /// The current mapping of every written (not generated) action.
    mappings: BTreeMap<ActionId, Mapping>,
    /// Actions a release changed: their earlier definitions, oldest first, and the version
    /// their current one came with.
    earlier: BTreeMap<ActionId, (Vec<Definition>, u32)>,
}

impl Library {
    /// The library's version: the last release applied.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The actions some release changed (the only ones that can have a pending update).
    pub fn changed_actions(&self) -> impl Iterator<Item = &ActionId> {
        self.earlier.keys()
    }

    /// The version the action's current definition came with.
    pub fn since(&self, id: &ActionId) -> u32 {
        self.earlier
            .get(id)
            .map_or(FIRST_VERSION, |(_, since)| *since)
    }

    /// The action's definition as of library version `version` (the oldest one for a version
    /// before it existed), with its mapping; `None` for an action the library lacks.
    pub fn definition_at(
        &self,
        id: &ActionId,
        version: u32,
    ) -> Option<(&ImprovementAction, Option<&Mapping>)> {
        let current = self.actions.get(id)?;
        match self.earlier.get(id) {
            Some((defs, since)) if version < *since => {
                let d = defs
                    .iter()
                    .rev()
                    .find(|d| d.version <= version)
                    .unwrap_or(&defs[0]);
                Some((&d.action, Some(&d.controls)))
            }
            _ => Some((current, self.mappings.get(id))),
        }
    }

    /// The action as an instance that accepted library version `version` sees it.
    pub fn action_at(&self, id: &ActionId, version: u32) -> Option<&ImprovementAction> {
        self.definition_at(id, version).map(|(a, _)| a)
    }

    /// What accepting the action's current definition changes for an instance at `from`;
    /// `None` when nothing does.
    pub fn update(&self, id: &ActionId, from: u32) -> Option<Update> {
        let since = self.since(id);
        if from >= since {
            return None;
        }
        let (old, old_map) = self.definition_at(id, from)?;
        let (new, new_map) = self.definition_at(id, since)?;
        let changes = changes(old, old_map, new, new_map);
        (!changes.is_empty()).then_some(Update {
            from,
            to: since,
            changes,
        })
    }

    /// `regulation` as instances at their accepted versions map their actions into it, when
    /// that differs from the current mapping: `accepted` gives the version an action's
    /// instance in the assessment accepted (`None`: it follows the library).
    pub fn regulation_as_accepted(
        &self,
        regulation: &Regulation,
        accepted: impl Fn(&ActionId) -> Option<u32>,
    ) -> Option<Regulation> {
        let mut remapped: Vec<(&ActionId, Vec<&String>)> = Vec::new();
        for id in self.earlier.keys() {
            let Some(v) = accepted(id) else { continue };
            let (Some((_, Some(old))), Some(new)) =
                (self.definition_at(id, v), self.mappings.get(id))
            else {
                continue;
            };
            let (old, new) = (old.get(&regulation.id), new.get(&regulation.id));
            if old != new {
                remapped.push((id, old.map(|c| c.iter().collect()).unwrap_or_default()));
            }
        }
        if remapped.is_empty() {
            return None;
        }
        let mut out = regulation.clone();
        for control in out.families.iter_mut().flat_map(|f| f.controls.iter_mut()) {
            for (id, old) in &remapped {
                let wanted = old.iter().any(|c| **c == control.id);
                let present = control.actions.contains(id);
                if wanted && !present {
                    control.actions.push((*id).clone());
                } else if !wanted && present {
                    control.actions.retain(|a| a != *id);
                }
            }
        }
        Some(out)
    }

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

/// A release: the new definitions of the actions it changes, in full.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReleaseFile {
    version: u32,
    /// What the release is about, for the people who read the file.
    #[serde(default)]
    #[allow(dead_code)]
    notes: String,
    actions: Vec<ActionFile>,
}

/// The releases shipped after the first version, in order (none yet).
const RELEASES: [(&str, &str); 0] = [];

/// Builds the library from the shipped data, checking every mapping.
pub fn load() -> Result<Library, String> {
    load_with(&[])
}

/// Builds the library from the shipped data and releases, then `extra` releases
/// (`(name, JSON)`), checking every mapping of every version.
pub fn load_with(extra: &[(String, String)]) -> Result<Library, String> {
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
    let releases = RELEASES
        .iter()
        .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
        .chain(extra.iter().cloned());
    let mut version = FIRST_VERSION;
    let mut earlier: BTreeMap<ActionId, (Vec<Definition>, u32)> = BTreeMap::new();
    for (name, text) in releases {
        let release: ReleaseFile =
            serde_json::from_str(&text).map_err(|e| format!("{name}: {e}"))?;
        if release.version <= version {
            return Err(format!(
                "{name}: version {} does not follow version {version}",
                release.version
            ));
        }
        version = release.version;
        for new in release.actions {
            let Some(slot) = action_files
                .iter_mut()
                .find(|f| f.action.id == new.action.id)
            else {
                return Err(format!(
                    "{name}: action {} is not in the library",
                    new.action.id
                ));
            };
            let (old, a) = (&slot.action, &new.action);
            if old.action_type != a.action_type
                || old.managed_by != a.managed_by
                || old.service != a.service
            {
                return Err(format!(
                    "{name}: action {} changes its type, manager or service, which decide where its instances live: give it a new id instead",
                    a.id
                ));
            }
            if !slot.controls.keys().eq(new.controls.keys()) {
                return Err(format!(
                    "{name}: action {} joins or leaves a regulation; a release moves an action only between the controls of the regulations it maps into (assessments under way index their actions by regulation)",
                    a.id
                ));
            }
            let replaced = std::mem::replace(slot, new);
            let entry = earlier
                .entry(replaced.action.id.clone())
                .or_insert_with(|| (Vec::new(), FIRST_VERSION));
            let introduced = entry.1;
            entry.0.push(Definition {
                version: introduced,
                action: replaced.action,
                controls: replaced.controls,
            });
            entry.1 = version;
        }
    }
    for (id, (defs, _)) in &earlier {
        for d in defs {
            check_mapping(&files, id, &d.controls)?;
        }
    }

    // regulation -> control -> actions mapped there
    let mut mapped: BTreeMap<&RegulationId, BTreeMap<&str, Vec<ActionId>>> = BTreeMap::new();
    let mut actions = BTreeMap::new();
    for file in &action_files {
        check_mapping(&files, &file.action.id, &file.controls)?;
        for (reg, controls) in &file.controls {
            for control in controls {
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
    let mappings = action_files
        .iter()
        .map(|f| (f.action.id.clone(), f.controls.clone()))
        .collect();
    Ok(Library {
        version,
        regulations,
        actions,
        mappings,
        earlier,
    })
}

/// Every regulation and control an action maps to exists.
fn check_mapping(
    files: &[RegulationFile],
    action: &ActionId,
    mapping: &Mapping,
) -> Result<(), String> {
    for (reg, controls) in mapping {
        let Some(reg_file) = files.iter().find(|f| &f.id == reg) else {
            return Err(format!("action {action} maps to unknown regulation {reg}"));
        };
        for control in controls {
            if !reg_file
                .families
                .iter()
                .any(|f| f.controls.iter().any(|(id, _)| id == control))
            {
                return Err(format!(
                    "action {action} maps to unknown control {reg} {control}"
                ));
            }
        }
    }
    Ok(())
}

/// The fields an update shows: what a user reviews before accepting it.
fn changes(
    old: &ImprovementAction,
    old_map: Option<&Mapping>,
    new: &ImprovementAction,
    new_map: Option<&Mapping>,
) -> Vec<Change> {
    use serde_json::json;
    let mut out = Vec::new();
    let mut field = |field: &'static str, o: serde_json::Value, n: serde_json::Value| {
        if o != n {
            out.push(Change {
                field,
                old: o,
                new: n,
            });
        }
    };
    field("title", json!(old.title), json!(new.title));
    field("guidance", json!(old.guidance), json!(new.guidance));
    field("category", json!(old.category), json!(new.category));
    field(
        "control_type",
        json!(old.control_type),
        json!(new.control_type),
    );
    field(
        "enforcement",
        json!(old.enforcement),
        json!(new.enforcement),
    );
    field("points", json!(old.points()), json!(new.points()));
    field(
        "testing_type",
        json!(old.testing_type),
        json!(new.testing_type),
    );
    field("controls", json!(old_map), json!(new_map));
    out
}

static LIBRARY: OnceLock<Library> = OnceLock::new();

/// The shipped data and releases, and the release file [`RELEASE_ENV`] names, if any.
fn configured() -> Result<Library, String> {
    let extra = match std::env::var_os(RELEASE_ENV) {
        Some(path) => {
            let shown = std::path::Path::new(&path).display().to_string();
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("{RELEASE_ENV}={shown}: {e}"))?;
            vec![(shown, text)]
        }
        None => Vec::new(),
    };
    load_with(&extra).map_err(|e| format!("the template library: {e}"))
}

/// Loads the built-in library now, so that a process told to use a release that does not fit
/// refuses to start instead of failing its first request.
pub fn init() -> Result<&'static Library, String> {
    if let Some(lib) = LIBRARY.get() {
        return Ok(lib);
    }
    let lib = configured()?;
    Ok(LIBRARY.get_or_init(|| lib))
}

/// The built-in library, loaded once (see [`init`]).
///
/// # Panics
/// When the release file [`RELEASE_ENV`] names cannot be read or does not fit the library and
/// [`init`] was not called first: a process must not serve with another library than the one
/// it was told to use.
pub fn builtin() -> &'static Library {
    LIBRARY.get_or_init(|| configured().unwrap_or_else(|e| panic!("{e}")))
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

    fn release_2() -> Library {
        let text = include_str!("../tests/data/release-2.json");
        load_with(&[("release-2.json".into(), text.into())]).unwrap()
    }

    #[test]
    fn the_shipped_library_is_its_first_version_with_nothing_pending() {
        let lib = builtin();
        assert_eq!(lib.version(), FIRST_VERSION);
        assert_eq!(lib.changed_actions().count(), 0);
        let mfa = ActionId::parse("mfa-admins").unwrap();
        assert_eq!(lib.update(&mfa, FIRST_VERSION), None);
    }

    #[test]
    fn a_release_keeps_earlier_definitions_and_says_what_changed() {
        let lib = release_2();
        assert_eq!(lib.version(), 2);
        let lock = ActionId::parse("session-lock").unwrap();
        assert_eq!(lib.since(&lock), 2);
        assert_eq!(lib.action_at(&lock, 1).unwrap().points(), 9);
        assert_eq!(lib.action_at(&lock, 2).unwrap().points(), 27);
        assert_eq!(lib.action(&lock).unwrap().points(), 27);
        let update = lib.update(&lock, 1).unwrap();
        assert_eq!((update.from, update.to), (1, 2));
        let fields: Vec<&str> = update.changes.iter().map(|c| c.field).collect();
        assert_eq!(fields, ["guidance", "enforcement", "points"]);
        let points = &update.changes[2];
        assert_eq!(
            (points.old.as_u64(), points.new.as_u64()),
            (Some(9), Some(27))
        );
        assert_eq!(lib.update(&lock, 2), None, "accepted already");
        let untouched = ActionId::parse("mfa-admins").unwrap();
        assert_eq!(lib.update(&untouched, 1), None);
    }

    #[test]
    fn a_regulation_keeps_the_mapping_an_instance_accepted() {
        let lib = release_2();
        let nist = lib
            .regulation(&RegulationId::parse("nist-800-53-r5-moderate").unwrap())
            .unwrap();
        let policy = ActionId::parse("infosec-policy").unwrap();
        assert!(!nist.control("AC-1").unwrap().actions.contains(&policy));
        let update = lib.update(&policy, 1).unwrap();
        assert_eq!(
            update.changes.iter().map(|c| c.field).collect::<Vec<_>>(),
            ["guidance", "controls"]
        );
        // An instance still at version 1 sees AC-1 as before; one at 2, or following the
        // library, needs no copy.
        let old = lib
            .regulation_as_accepted(nist, |a| (a == &policy).then_some(1))
            .unwrap();
        assert!(old.control("AC-1").unwrap().actions.contains(&policy));
        assert_eq!(
            old.controls()
                .filter(|c| c.actions.contains(&policy))
                .count(),
            nist.controls()
                .filter(|c| c.actions.contains(&policy))
                .count()
                + 1
        );
        assert!(lib
            .regulation_as_accepted(nist, |a| (a == &policy).then_some(2))
            .is_none());
        assert!(lib.regulation_as_accepted(nist, |_| None).is_none());
    }

    #[test]
    fn a_release_that_moves_an_action_or_goes_back_is_refused() {
        let text = include_str!("../tests/data/release-2.json");
        let moved = text.replacen("\"technical\"", "\"documentation\"", 1);
        let err = load_with(&[("moved.json".into(), moved)]).unwrap_err();
        assert!(err.contains("changes its type"), "{err}");
        let back = text.replacen("\"version\": 2", "\"version\": 1", 1);
        let err = load_with(&[("back.json".into(), back)]).unwrap_err();
        assert!(err.contains("does not follow"), "{err}");
        let joins = text.replacen("\"soc2-2017\"", "\"gdpr\"", 1);
        let err = load_with(&[("joins.json".into(), joins)]).unwrap_err();
        assert!(err.contains("joins or leaves"), "{err}");
        let unknown = text.replacen("\"AC-11\"", "\"AC-99\"", 1);
        let err = load_with(&[("unknown.json".into(), unknown)]).unwrap_err();
        assert!(err.contains("unknown control"), "{err}");
    }
}
