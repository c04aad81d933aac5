//! Regulation templates: the built-in library and the tenant's own (a custom regulation sent
//! as JSON, or an OSCAL catalog imported, optionally mapped onto a built-in regulation).

use std::collections::HashSet;

use attest_domain::event::{EventType, Subject};
use attest_domain::identity::Identity;
use attest_domain::ids::{new_id, ActionId, RegulationId, TenantId};
use attest_domain::regulation::{ImprovementAction, Regulation};
use attest_domain::vocab::{
    ActionType, Category, ControlType, Enforcement, ManagedBy, TestingType,
};
use attest_domain::{DomainError, FieldError};
use attest_library::assemble::{assemble, ControlDraft, FamilyDraft};
use attest_library::oscal;
use attest_store::StoreError;
use serde::{Deserialize, Serialize};

use super::catalog::Catalog;
use crate::AppState;

/// Most controls one regulation may have.
pub const MAX_CONTROLS: usize = 5_000;

/// Why a regulation could not be shown, created or imported.
#[derive(Debug, thiserror::Error)]
pub enum RegulationError {
    /// A field of the request is not acceptable.
    #[error("invalid {}: {}", .0.field, .0.message)]
    Invalid(FieldError),
    /// The id is taken (built-in, or one of the tenant's).
    #[error("{0}")]
    Conflict(String),
    #[error("{0} not found")]
    NotFound(String),
    /// More controls than [`MAX_CONTROLS`].
    #[error("{0}")]
    TooLarge(String),
    #[error(transparent)]
    Store(StoreError),
}

impl RegulationError {
    fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(FieldError::new(field, message))
    }
}

impl From<DomainError> for RegulationError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid(f) => Self::Invalid(f),
            DomainError::Conflict(m) => Self::Conflict(m),
        }
    }
}

impl From<StoreError> for RegulationError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Self::NotFound(what),
            StoreError::Conflict(m) => Self::Conflict(m),
            other => Self::Store(other),
        }
    }
}

/// A regulation as listed.
#[derive(Debug, Clone, Serialize)]
pub struct RegulationSummary {
    pub id: RegulationId,
    pub name: String,
    pub source: String,
    pub built_in: bool,
    pub family_count: usize,
    pub control_count: usize,
    /// The services whose connectors test some of its actions (an assessment that covers one
    /// of them gets those actions, tested automatically).
    pub supported_services: Vec<String>,
}

fn summary(r: &Regulation, built_in: bool) -> RegulationSummary {
    let library = attest_library::builtin();
    let mut services: Vec<String> = r
        .action_ids()
        .into_iter()
        .filter_map(|a| library.action(a).and_then(|a| a.service.clone()))
        .collect();
    services.sort();
    services.dedup();
    RegulationSummary {
        id: r.id.clone(),
        name: r.name.clone(),
        source: r.source.clone(),
        built_in,
        family_count: r.families.len(),
        control_count: r.controls().count(),
        supported_services: services,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RegulationList {
    pub items: Vec<RegulationSummary>,
}

/// An action as a regulation's control names it.
#[derive(Debug, Clone, Serialize)]
pub struct ActionRef {
    pub id: ActionId,
    pub title: String,
    pub action_type: ActionType,
    pub category: Category,
    pub control_type: ControlType,
    pub enforcement: Enforcement,
    pub testing_type: TestingType,
    pub managed_by: ManagedBy,
    /// The service whose connector tests it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub points: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct ControlDetail {
    pub id: String,
    pub title: String,
    pub description: String,
    pub actions: Vec<ActionRef>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FamilyDetail {
    pub id: String,
    pub title: String,
    pub controls: Vec<ControlDetail>,
}

/// A regulation with its families, controls and the actions that meet them.
#[derive(Debug, Clone, Serialize)]
pub struct RegulationDetail {
    #[serde(flatten)]
    pub summary: RegulationSummary,
    pub families: Vec<FamilyDetail>,
}

fn action_ref(a: &ImprovementAction) -> ActionRef {
    ActionRef {
        id: a.id.clone(),
        title: a.title.clone(),
        action_type: a.action_type,
        category: a.category,
        control_type: a.control_type,
        enforcement: a.enforcement,
        testing_type: a.testing_type,
        managed_by: a.managed_by,
        service: a.service.clone(),
        points: a.points(),
    }
}

fn detail(catalog: &Catalog, r: &Regulation) -> RegulationDetail {
    RegulationDetail {
        summary: summary(r, catalog.is_builtin(&r.id)),
        families: r
            .families
            .iter()
            .map(|f| FamilyDetail {
                id: f.id.clone(),
                title: f.title.clone(),
                controls: f
                    .controls
                    .iter()
                    .map(|c| ControlDetail {
                        id: c.id.clone(),
                        title: c.title.clone(),
                        description: c.description.clone(),
                        actions: c
                            .actions
                            .iter()
                            .filter_map(|a| catalog.action(a))
                            .map(action_ref)
                            .collect(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// `GET /regulations`: the built-in regulations, then the tenant's own (headers only).
pub async fn list(state: &AppState, tenant: &TenantId) -> Result<RegulationList, RegulationError> {
    let mut items: Vec<RegulationSummary> = attest_library::builtin()
        .regulations()
        .iter()
        .map(|r| summary(r, true))
        .collect();
    for h in state.store.list_regulation_headers(tenant).await? {
        items.push(RegulationSummary {
            id: h.id,
            name: h.name,
            source: h.source,
            built_in: false,
            family_count: h.families,
            control_count: h.controls,
            supported_services: Vec::new(),
        });
    }
    Ok(RegulationList { items })
}

/// `GET /regulations/{id}`: one regulation in full. An id that cannot be one is not found.
pub async fn show(
    state: &AppState,
    tenant: &TenantId,
    id: &str,
) -> Result<RegulationDetail, RegulationError> {
    let not_found = || RegulationError::NotFound(format!("regulation {id}"));
    let id = RegulationId::parse(id).map_err(|_| not_found())?;
    let catalog = Catalog::load_for(&state.store, tenant, [&id]).await?;
    let r = catalog.regulation(&id).ok_or_else(not_found)?;
    Ok(detail(&catalog, r))
}

/// A new regulation id: the caller's, checked, or a generated one.
fn new_regulation_id(
    given: Option<RegulationId>,
    prefix: &str,
) -> Result<RegulationId, RegulationError> {
    match given {
        Some(id) if attest_library::builtin().regulation(&id).is_some() => Err(
            RegulationError::Conflict(format!("{id} is a built-in regulation; choose another id")),
        ),
        Some(id) => Ok(id),
        None => Ok(RegulationId::parse(format!("{prefix}-{}", &new_id()[..12]))
            .expect("generated ids are valid")),
    }
}

fn check_size(count: usize) -> Result<(), RegulationError> {
    if count > MAX_CONTROLS {
        return Err(RegulationError::TooLarge(format!(
            "{count} controls; at most {MAX_CONTROLS}"
        )));
    }
    Ok(())
}

/// A control of a custom regulation, as the caller sends it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewControl {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Built-in actions, or actions the tenant's other regulations generated. A control
    /// without any gets a generated documentation action.
    #[serde(default)]
    pub actions: Vec<ActionId>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewFamily {
    pub id: String,
    pub title: String,
    pub controls: Vec<NewControl>,
}

/// The body of `POST /regulations`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRegulation {
    pub id: Option<RegulationId>,
    pub name: String,
    #[serde(default)]
    pub source: String,
    pub families: Vec<NewFamily>,
}

/// Checks the families of a custom regulation; `missing` are the referenced action ids that
/// name no action. Returns how many controls there are.
fn check_families(families: &[NewFamily], missing: &[ActionId]) -> Result<usize, RegulationError> {
    let mut ids = HashSet::new();
    let mut count = 0;
    for (fi, f) in families.iter().enumerate() {
        if f.id.trim().is_empty() || f.title.trim().is_empty() {
            return Err(RegulationError::invalid(
                format!("families[{fi}]"),
                "id and title must not be empty",
            ));
        }
        for (ci, c) in f.controls.iter().enumerate() {
            let field = format!("families[{fi}].controls[{ci}]");
            if c.id.trim().is_empty() || c.title.trim().is_empty() {
                return Err(RegulationError::invalid(
                    field,
                    "id and title must not be empty",
                ));
            }
            if !ids.insert(c.id.to_lowercase()) {
                return Err(RegulationError::invalid(
                    format!("{field}.id"),
                    format!("control {} appears twice", c.id),
                ));
            }
            if let Some(a) = c.actions.iter().find(|a| missing.contains(a)) {
                return Err(RegulationError::invalid(
                    format!("{field}.actions"),
                    format!("no improvement action {a}"),
                ));
            }
            count += 1;
        }
    }
    if count == 0 {
        return Err(RegulationError::invalid(
            "families",
            "a regulation needs at least one control",
        ));
    }
    Ok(count)
}

fn drafts(families: Vec<NewFamily>) -> Vec<FamilyDraft> {
    families
        .into_iter()
        .map(|f| FamilyDraft {
            id: f.id,
            title: f.title,
            controls: f
                .controls
                .into_iter()
                .map(|c| ControlDraft {
                    id: c.id,
                    title: c.title,
                    description: c.description,
                    actions: c.actions,
                })
                .collect(),
        })
        .collect()
}

/// `POST /regulations`: stores a custom regulation; controls without actions get generated
/// ones. The view returned is built from what was written, not read back.
pub async fn create(
    state: &AppState,
    caller: &Identity,
    body: NewRegulation,
) -> Result<RegulationDetail, RegulationError> {
    let tenant = &caller.tenant;
    if body.name.trim().is_empty() {
        return Err(RegulationError::invalid("name", "must not be empty"));
    }
    let referenced = body
        .families
        .iter()
        .flat_map(|f| f.controls.iter())
        .flat_map(|c| c.actions.iter());
    let (known, missing) = Catalog::actions_named(&state.store, tenant, referenced).await?;
    let count = check_families(&body.families, &missing)?;
    check_size(count)?;
    let id = new_regulation_id(body.id, "custom")?;
    let (regulation, generated) = assemble(
        id,
        body.name.trim().to_owned(),
        body.source,
        drafts(body.families),
    )?;
    store(state, caller, known, regulation, generated).await
}

/// Writes the regulation and returns its view, built from what was written.
async fn store(
    state: &AppState,
    caller: &Identity,
    known: Catalog,
    regulation: Regulation,
    generated: Vec<ImprovementAction>,
) -> Result<RegulationDetail, RegulationError> {
    state
        .store
        .put_regulation(
            &caller.tenant,
            &regulation,
            &generated,
            caller.user.as_str(),
            &[super::events::by(
                state,
                caller,
                EventType::RegulationImported,
                Subject::new("regulation", regulation.id.as_str()),
                serde_json::json!({
                    "name": regulation.name,
                    "regulations": [regulation.id],
                    "controls": regulation.controls().count(),
                    "generated_actions": generated.len(),
                }),
            )],
        )
        .await?;
    let id = regulation.id.clone();
    let catalog = known.with_own(regulation, generated);
    let r = catalog
        .regulation(&id)
        .expect("the catalog holds the regulation just added");
    Ok(detail(&catalog, r))
}

/// How to import an OSCAL catalog (`map_as`, `id` and `name` of the query string), checked.
#[derive(Debug, Clone, Default)]
pub struct OscalImport {
    /// The built-in regulation whose actions controls with matching ids get.
    pub map_as: Option<&'static Regulation>,
    pub id: Option<RegulationId>,
    /// The regulation's name; the catalog's title without one.
    pub name: Option<String>,
}

impl OscalImport {
    /// Checks the options as given: `map_as` must name a built-in regulation and `id` must be
    /// a valid id (each a 422 naming it); a blank `name` is no name.
    pub fn new(
        map_as: Option<String>,
        id: Option<String>,
        name: Option<String>,
    ) -> Result<Self, RegulationError> {
        let map_as = match map_as {
            None => None,
            Some(m) => Some(
                RegulationId::parse(&m)
                    .ok()
                    .and_then(|id| attest_library::builtin().regulation(&id))
                    .ok_or_else(|| {
                        RegulationError::invalid(
                            "map_as",
                            format!("{m:?} is not a built-in regulation"),
                        )
                    })?,
            ),
        };
        let id = id
            .map(|i| {
                RegulationId::parse(i).map_err(|e| RegulationError::invalid("id", e.to_string()))
            })
            .transpose()?;
        let name = name.filter(|n| !n.trim().is_empty());
        Ok(Self { map_as, id, name })
    }
}

/// `POST /regulations/import/oscal`: stores an OSCAL catalog as a regulation. Controls that
/// match one of `map_as`'s get its actions; the others get generated ones. The view returned
/// is built from what was written, not read back.
pub async fn import_oscal(
    state: &AppState,
    caller: &Identity,
    options: OscalImport,
    document: &serde_json::Value,
) -> Result<RegulationDetail, RegulationError> {
    let id = new_regulation_id(options.id, "oscal")?;
    let imported =
        oscal::import(document, id, options.name, options.map_as).map_err(|e| match e {
            oscal::OscalError::Invalid(f) => RegulationError::Invalid(f),
            other => RegulationError::Invalid(FieldError::new(other.field(), other.to_string())),
        })?;
    let count = imported.regulation.controls().count();
    check_size(count)?;
    let (regulation, generated) = (imported.regulation, imported.generated);
    let (reg_id, generated_count) = (regulation.id.clone(), generated.len());
    // `map_as` is built in, so every action the catalog references is built in or generated.
    let view = store(
        state,
        caller,
        Catalog::builtin_only(),
        regulation,
        generated,
    )
    .await?;
    tracing::info!(tenant = %caller.tenant, regulation = %reg_id, controls = count, generated = generated_count, "OSCAL catalog imported");
    Ok(view)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::usecases::testkit::ports;

    fn body(value: serde_json::Value) -> NewRegulation {
        serde_json::from_value(value).unwrap()
    }

    fn one_control(id: Option<&str>, actions: serde_json::Value) -> NewRegulation {
        let mut v = json!({
            "name": " Acme rules ",
            "source": "internal",
            "families": [{"id": "F", "title": "Family", "controls": [
                {"id": "C-1", "title": "First", "description": "Do it", "actions": actions},
            ]}],
        });
        if let Some(id) = id {
            v["id"] = json!(id);
        }
        body(v)
    }

    fn field(err: &RegulationError) -> &str {
        match err {
            RegulationError::Invalid(f) => &f.field,
            other => panic!("not Invalid: {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_custom_regulation_round_trips() {
        let (state, caller, _dir) = ports();
        let created = create(
            &state,
            &caller,
            body(json!({
                "id": "acme-rules",
                "name": " Acme rules ",
                "source": "internal",
                "families": [
                    {"id": "F", "title": "Family", "controls": [
                        {"id": "C-1", "title": "First", "description": "Do it", "actions": ["mfa-admins"]},
                        {"id": "C-2", "title": "Second"},
                    ]},
                    {"id": "G", "title": "Other", "controls": [{"id": "C-3", "title": "Third"}]},
                ],
            })),
        )
        .await
        .unwrap();
        assert_eq!(created.summary.id.as_str(), "acme-rules");
        assert_eq!(created.summary.name, "Acme rules");
        assert!(!created.summary.built_in);
        assert_eq!(
            (created.summary.family_count, created.summary.control_count),
            (2, 3)
        );
        let c1 = &created.families[0].controls[0];
        assert_eq!(c1.actions.len(), 1);
        assert_eq!(c1.actions[0].id.as_str(), "mfa-admins");
        let c2 = &created.families[0].controls[1];
        assert_eq!(c2.actions.len(), 1, "a generated action");
        assert!(c2.actions[0].id.as_str().starts_with("acme-rules."));
        assert_eq!(c2.actions[0].managed_by, ManagedBy::Customer);

        let shown = show(&state, &caller.tenant, "acme-rules").await.unwrap();
        assert_eq!(
            serde_json::to_value(&shown).unwrap(),
            serde_json::to_value(&created).unwrap(),
            "what was returned is what is stored"
        );
        let listed = list(&state, &caller.tenant).await.unwrap();
        let own: Vec<_> = listed.items.iter().filter(|r| !r.built_in).collect();
        assert_eq!(own.len(), 1);
        assert_eq!(own[0].id.as_str(), "acme-rules");
        assert_eq!((own[0].family_count, own[0].control_count), (2, 3));
        assert!(listed.items.len() > own.len(), "the built-in ones first");

        // Another regulation may reference the actions this one generated.
        let generated = c2.actions[0].id.as_str();
        let second = create(&state, &caller, one_control(None, json!([generated])))
            .await
            .unwrap();
        assert!(second.summary.id.as_str().starts_with("custom-"));
        assert_eq!(
            second.families[0].controls[0].actions[0].title, c2.actions[0].title,
            "a referenced generated action is shown in full"
        );
    }

    #[tokio::test]
    async fn show_refuses_what_is_not_there() {
        let (state, caller, _dir) = ports();
        for id in ["no-such", "Not An Id!"] {
            let err = show(&state, &caller.tenant, id).await.unwrap_err();
            assert!(
                matches!(&err, RegulationError::NotFound(m) if m == &format!("regulation {id}")),
                "{err:?}"
            );
        }
        let builtin = show(&state, &caller.tenant, "iso-27001-2022")
            .await
            .unwrap();
        assert!(builtin.summary.built_in);
    }

    #[tokio::test]
    async fn bad_custom_regulations_are_refused_naming_the_field() {
        let (state, caller, _dir) = ports();
        let err = create(&state, &caller, one_control(None, json!(["nope"])))
            .await
            .unwrap_err();
        assert_eq!(field(&err), "families[0].controls[0].actions");

        let long = "r".repeat(128);
        let err = create(&state, &caller, one_control(Some(&long), json!([])))
            .await
            .unwrap_err();
        assert_eq!(field(&err), "id");

        let err = create(&state, &caller, body(json!({"name": "R", "families": []})))
            .await
            .unwrap_err();
        assert_eq!(field(&err), "families");

        let mut blank = one_control(None, json!([]));
        blank.name = "  ".into();
        let err = create(&state, &caller, blank).await.unwrap_err();
        assert_eq!(field(&err), "name");

        let err = create(
            &state,
            &caller,
            body(
                json!({"name": "R", "families": [{"id": "F", "title": "F", "controls": [
                    {"id": "a", "title": "t"}, {"id": "A", "title": "t"},
                ]}]}),
            ),
        )
        .await
        .unwrap_err();
        assert_eq!(field(&err), "families[0].controls[1].id");

        let listed = list(&state, &caller.tenant).await.unwrap();
        assert!(listed.items.iter().all(|r| r.built_in), "nothing stored");
    }

    #[tokio::test]
    async fn taken_ids_are_conflicts() {
        let (state, caller, _dir) = ports();
        let err = create(&state, &caller, one_control(Some("gdpr"), json!([])))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, RegulationError::Conflict(m) if m.contains("built-in")),
            "{err:?}"
        );
        create(&state, &caller, one_control(Some("mine"), json!([])))
            .await
            .unwrap();
        let err = create(&state, &caller, one_control(Some("mine"), json!([])))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, RegulationError::Conflict(m) if m.contains("already exists")),
            "{err:?}"
        );
    }

    #[test]
    fn too_many_controls_is_too_large() {
        assert!(check_size(MAX_CONTROLS).is_ok());
        assert!(matches!(
            check_size(MAX_CONTROLS + 1),
            Err(RegulationError::TooLarge(m)) if m == "5001 controls; at most 5000"
        ));
    }

    /// A three-control OSCAL 1.1 catalog: two NIST controls (one written with zero padding)
    /// and one of its own.
    fn tiny_catalog() -> serde_json::Value {
        json!({"catalog": {
            "uuid": "9c5d8a3e-1111-4222-8333-944455556666",
            "metadata": {"title": "Tiny", "version": "1.0", "oscal-version": "1.1.2"},
            "groups": [{"id": "ac", "class": "family", "title": "Access Control", "controls": [
                {"id": "ac-2", "class": "SP800-53", "title": "Account Management",
                 "props": [{"name": "label", "value": "AC-02", "class": "zero-padded"}, {"name": "label", "value": "AC-2"}],
                 "parts": [{"id": "ac-2_smt", "name": "statement", "prose": "Manage accounts."}]},
                {"id": "ac-3", "class": "SP800-53", "title": "Access Enforcement"},
            ]}, {"id": "zz", "title": "Ours", "controls": [
                {"id": "zz-1", "title": "Our own control"},
            ]}],
        }})
    }

    #[tokio::test]
    async fn an_oscal_catalog_imports_mapped_onto_a_built_in_regulation() {
        let (state, caller, _dir) = ports();
        let nist = "nist-800-53-r5-moderate";
        let options = OscalImport::new(
            Some(nist.into()),
            Some("tiny".into()),
            Some("Tiny (OSCAL)".into()),
        )
        .unwrap();
        let imported = import_oscal(&state, &caller, options, &tiny_catalog())
            .await
            .unwrap();
        assert_eq!(imported.summary.id.as_str(), "tiny");
        assert_eq!(imported.summary.name, "Tiny (OSCAL)");
        assert_eq!(
            imported.summary.source,
            "OSCAL catalog \"Tiny\" version 1.0 (OSCAL 1.1.2)"
        );
        assert_eq!(
            (
                imported.summary.family_count,
                imported.summary.control_count
            ),
            (2, 3)
        );
        let builtin = attest_library::builtin()
            .regulation(&RegulationId::parse(nist).unwrap())
            .unwrap();
        let controls: Vec<&ControlDetail> = imported
            .families
            .iter()
            .flat_map(|f| f.controls.iter())
            .collect();
        assert_eq!(
            controls.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["AC-2", "AC-3", "ZZ-1"]
        );
        for c in &controls[..2] {
            let expected: Vec<&ActionId> = builtin
                .controls()
                .find(|b| b.id == c.id)
                .map(|b| b.actions.iter().collect())
                .unwrap();
            assert!(!expected.is_empty());
            let got: Vec<&ActionId> = c.actions.iter().map(|a| &a.id).collect();
            assert_eq!(
                got, expected,
                "{} takes the built-in control's actions",
                c.id
            );
        }
        assert_eq!(controls[0].description, "Manage accounts.");
        assert_eq!(controls[2].actions.len(), 1);
        assert_eq!(controls[2].actions[0].id.as_str(), "tiny.zz-1");

        let shown = show(&state, &caller.tenant, "tiny").await.unwrap();
        assert_eq!(
            serde_json::to_value(&shown).unwrap(),
            serde_json::to_value(&imported).unwrap()
        );

        // Without a name the catalog's title is used, and without an id one is generated.
        let options = OscalImport::new(None, None, Some(" ".into())).unwrap();
        let second = import_oscal(&state, &caller, options, &tiny_catalog())
            .await
            .unwrap();
        assert!(second.summary.id.as_str().starts_with("oscal-"));
        assert_eq!(second.summary.name, "Tiny");
        assert!(second
            .families
            .iter()
            .flat_map(|f| f.controls.iter())
            .all(|c| c.actions.len() == 1 && c.actions[0].id.as_str().starts_with("oscal-")));
    }

    #[tokio::test]
    async fn oscal_imports_refuse_bad_options_and_documents() {
        let (state, caller, _dir) = ports();
        let err = OscalImport::new(Some("sox".into()), None, None).unwrap_err();
        assert_eq!(field(&err), "map_as");
        let err = OscalImport::new(None, Some("Not An Id!".into()), None).unwrap_err();
        assert_eq!(field(&err), "id");

        let options = OscalImport::new(None, Some("iso-27001-2022".into()), None).unwrap();
        let err = import_oscal(&state, &caller, options, &tiny_catalog())
            .await
            .unwrap_err();
        assert!(matches!(err, RegulationError::Conflict(_)), "{err:?}");

        let err = import_oscal(
            &state,
            &caller,
            OscalImport::default(),
            &json!({"profile": {}}),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&err, RegulationError::Invalid(f) if f.field == "catalog" && f.message.contains("catalog")),
            "{err:?}"
        );

        let options = OscalImport::new(None, Some("r".repeat(100)), None).unwrap();
        let err = import_oscal(&state, &caller, options, &tiny_catalog())
            .await
            .unwrap_err();
        assert_eq!(field(&err), "id");

        let options = OscalImport::new(None, Some("twice".into()), None).unwrap();
        import_oscal(&state, &caller, options.clone(), &tiny_catalog())
            .await
            .unwrap();
        let err = import_oscal(&state, &caller, options, &tiny_catalog())
            .await
            .unwrap_err();
        assert!(matches!(err, RegulationError::Conflict(_)), "{err:?}");
    }
}
