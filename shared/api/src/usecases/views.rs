//! What the API shows of assessments, controls and actions, computed from templates and
//! instance statuses. Archived assessments keep these views frozen in their snapshot.

use attest_domain::regulation::{article_matches, control_id_matches};
use std::collections::HashMap;

use attest_domain::action::{ActionStatus, InstanceRef};
use attest_domain::assessment::Assessment;
use attest_domain::ids::{ActionId, AssessmentId, GroupId, RegulationId};
use attest_domain::regulation::{ImprovementAction, Regulation};
use attest_domain::score::{self, Progress, Resolved, Score};
use attest_domain::vocab::*;
use attest_store::Versioned;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::catalog::Catalog;
use super::updates;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScoreView {
    pub achieved: u32,
    pub possible: u32,
    pub percent: f64,
}

impl From<Score> for ScoreView {
    fn from(s: Score) -> Self {
        Self {
            achieved: s.achieved,
            possible: s.possible,
            percent: s.percent(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressView {
    pub controls_total: u32,
    pub controls_assessed: u32,
}

impl From<Progress> for ProgressView {
    fn from(p: Progress) -> Self {
        Self {
            controls_total: p.controls_total,
            controls_assessed: p.controls_assessed,
        }
    }
}

/// An action instance as listed under a control or in `GET /actions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionSummary {
    /// The instance id used by `/actions/{id}`.
    pub id: String,
    pub action_id: ActionId,
    pub title: String,
    pub category: Category,
    pub action_type: ActionType,
    pub control_type: ControlType,
    pub enforcement: Enforcement,
    pub managed_by: ManagedBy,
    pub testing_type: TestingType,
    pub points: u32,
    pub owner: Option<String>,
    pub implementation_status: ImplementationStatus,
    pub implementation_date: Option<NaiveDate>,
    pub test_status: TestStatus,
    pub test_date: Option<NaiveDate>,
    pub score: ScoreView,
    pub version: u64,
    /// A newer library definition the tenant has not accepted (shown where the instance's
    /// assessments are known: `GET /actions`, `GET /actions/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_update: Option<updates::PendingUpdate>,
}

impl ActionSummary {
    pub fn new(
        def: &ImprovementAction,
        instance: &InstanceRef,
        status: &ActionStatus,
        version: u64,
    ) -> Self {
        Self {
            id: instance.api_id(),
            action_id: def.id.clone(),
            title: def.title.clone(),
            category: def.category,
            action_type: def.action_type,
            control_type: def.control_type,
            enforcement: def.enforcement,
            managed_by: def.managed_by,
            testing_type: status.testing_type,
            points: def.points(),
            owner: status.owner.clone(),
            implementation_status: status.implementation_status,
            implementation_date: status.implementation_date,
            test_status: status.test_status,
            test_date: status.test_date,
            score: score::action_score(def, status).into(),
            version,
            pending_update: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlView {
    pub id: String,
    pub title: String,
    pub description: String,
    pub family_id: String,
    pub family_title: String,
    pub score: ScoreView,
    pub actions: Vec<ActionSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssessmentView {
    pub id: AssessmentId,
    pub name: String,
    pub group_id: GroupId,
    pub group_name: String,
    pub regulation_id: RegulationId,
    pub regulation_name: String,
    pub services: Vec<String>,
    /// The connector instances chosen for its services; absent: every instance of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connectors: Option<Vec<String>>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub archived: bool,
    pub archived_at: Option<chrono::DateTime<chrono::Utc>>,
    pub score: ScoreView,
    pub progress: ProgressView,
    pub version: u64,
}

/// One resolved action of an assessment: template, instance and its current status.
pub struct Entry<'a> {
    pub def: &'a ImprovementAction,
    pub instance: InstanceRef,
    pub status: ActionStatus,
    pub version: u64,
}

/// The actions of a regulation as one group sees them.
pub struct ResolvedActions<'a> {
    pub entries: HashMap<ActionId, Entry<'a>>,
    /// The regulation as the group's instances map their actions into it, when an instance
    /// has not accepted a library update that changed its action's mapping.
    remapped: Option<Regulation>,
}

impl<'a> ResolvedActions<'a> {
    pub fn new(
        regulation: &Regulation,
        assessment: &Assessment,
        catalog: &'a Catalog,
        statuses: &HashMap<InstanceRef, Versioned<ActionStatus>>,
    ) -> Self {
        let instance_of = |def: &ImprovementAction| InstanceRef {
            action: def.id.clone(),
            scope: def.scope_in(&assessment.group_id),
        };
        let remapped = attest_library::builtin().regulation_as_accepted(regulation, |id| {
            let def = catalog.action(id)?;
            statuses
                .get(&instance_of(def))
                .map(|v| v.value.library_version)
        });
        let mut entries = HashMap::new();
        for id in remapped.as_ref().unwrap_or(regulation).action_ids() {
            let Some(def) = catalog.action(id) else {
                tracing::warn!(action = %id, regulation = %regulation.id, "control maps to an unknown action");
                continue;
            };
            if !def.applies_to(&assessment.services) {
                continue;
            }
            let instance = instance_of(def);
            let (status, version) = match statuses.get(&instance) {
                Some(v) => (v.value.clone(), v.version),
                None => (updates::initial_status(def), 0),
            };
            let def = updates::accepted(def, &status);
            entries.insert(
                id.clone(),
                Entry {
                    def,
                    instance,
                    status,
                    version,
                },
            );
        }
        Self { entries, remapped }
    }

    /// The regulation as the group sees it: `regulation` itself unless an instance keeps an
    /// earlier mapping of its action.
    pub fn regulation<'r>(&'r self, regulation: &'r Regulation) -> &'r Regulation {
        self.remapped.as_ref().unwrap_or(regulation)
    }

    pub fn as_scoring(&self) -> Resolved<'_> {
        self.entries
            .iter()
            .map(|(id, e)| (id, (e.def, &e.status)))
            .collect()
    }
}

pub fn controls_view(regulation: &Regulation, resolved: &ResolvedActions<'_>) -> Vec<ControlView> {
    let regulation = resolved.regulation(regulation);
    let scoring = resolved.as_scoring();
    let mut out = Vec::new();
    for family in &regulation.families {
        for control in &family.controls {
            let actions = control
                .actions
                .iter()
                .filter_map(|a| resolved.entries.get(a))
                .map(|e| ActionSummary::new(e.def, &e.instance, &e.status, e.version))
                .collect();
            out.push(ControlView {
                id: control.id.clone(),
                title: control.title.clone(),
                description: control.description.clone(),
                family_id: family.id.clone(),
                family_title: family.title.clone(),
                score: score::control_score(control, &scoring).into(),
                actions,
            });
        }
    }
    out
}

/// An assessment's view from its stored score (no instances read).
pub fn stored_view(
    a: &Versioned<Assessment>,
    group_name: &str,
    regulation_name: &str,
    r: &attest_store::scores::ScoreRecord,
) -> AssessmentView {
    let (controls_total, controls_assessed) = r.progress.unwrap_or((0, 0));
    AssessmentView {
        id: a.value.id.clone(),
        name: a.value.name.clone(),
        group_id: a.value.group_id.clone(),
        group_name: group_name.to_owned(),
        regulation_id: a.value.regulation_id.clone(),
        regulation_name: regulation_name.to_owned(),
        services: a.value.services.clone(),
        connectors: a.value.connectors.clone(),
        created_at: a.value.created_at,
        archived: a.value.is_archived(),
        archived_at: a.value.archived_at,
        score: ScoreView {
            achieved: r.achieved,
            possible: r.possible,
            percent: r.percent,
        },
        progress: ProgressView {
            controls_total,
            controls_assessed,
        },
        version: a.version,
    }
}

pub fn assessment_view(
    a: &Versioned<Assessment>,
    group_name: &str,
    regulation: &Regulation,
    resolved: &ResolvedActions<'_>,
) -> AssessmentView {
    let regulation = resolved.regulation(regulation);
    let scoring = resolved.as_scoring();
    AssessmentView {
        id: a.value.id.clone(),
        name: a.value.name.clone(),
        group_id: a.value.group_id.clone(),
        group_name: group_name.to_owned(),
        regulation_id: regulation.id.clone(),
        regulation_name: regulation.name.clone(),
        services: a.value.services.clone(),
        connectors: a.value.connectors.clone(),
        created_at: a.value.created_at,
        archived: a.value.is_archived(),
        archived_at: a.value.archived_at,
        score: score::assessment_score(regulation, &scoring).into(),
        progress: score::progress(regulation, &scoring).into(),
        version: a.version,
    }
}

/// `GET /assessments/{id}/controls` filters. Each list is OR; the lists combine with AND.
#[derive(Debug, Default, Clone)]
pub struct ControlFilter {
    pub article: Vec<String>,
    pub control: Vec<String>,
    pub owner: Vec<String>,
    pub implementation_status: Vec<ImplementationStatus>,
    pub test_status: Vec<TestStatus>,
}

impl ControlFilter {
    pub fn matches(&self, c: &ControlView) -> bool {
        let any = |list: &[String], v: &str| {
            list.is_empty() || list.iter().any(|x| x.eq_ignore_ascii_case(v))
        };
        let names = [c.id.as_str(), c.family_id.as_str()];
        (self.article.is_empty() || self.article.iter().any(|q| article_matches(q, &names)))
            && (self.control.is_empty()
                || self.control.iter().any(|q| control_id_matches(q, &c.id)))
            && (self.owner.is_empty()
                || c.actions
                    .iter()
                    .any(|a| a.owner.as_deref().is_some_and(|o| any(&self.owner, o))))
            && (self.implementation_status.is_empty()
                || c.actions.iter().any(|a| {
                    self.implementation_status
                        .contains(&a.implementation_status)
                }))
            && (self.test_status.is_empty()
                || c.actions
                    .iter()
                    .any(|a| self.test_status.contains(&a.test_status)))
    }
}

/// Views frozen into an archive's snapshot, and shown again from it.
mod frozen {
    use attest_domain::score::Score;
    use attest_domain::snapshot::{
        FrozenAction, FrozenAssessment, FrozenControl, FrozenProgress, FrozenScore,
    };

    use super::{ActionSummary, AssessmentView, ControlView, ProgressView, ScoreView};

    impl From<ScoreView> for FrozenScore {
        fn from(s: ScoreView) -> Self {
            FrozenScore {
                achieved: s.achieved,
                possible: s.possible,
            }
        }
    }

    impl From<FrozenScore> for ScoreView {
        fn from(s: FrozenScore) -> Self {
            Score::from(s).into()
        }
    }

    impl From<&AssessmentView> for FrozenAssessment {
        fn from(v: &AssessmentView) -> Self {
            FrozenAssessment {
                id: v.id.clone(),
                name: v.name.clone(),
                group_id: v.group_id.clone(),
                group_name: v.group_name.clone(),
                regulation_id: v.regulation_id.clone(),
                regulation_name: v.regulation_name.clone(),
                services: v.services.clone(),
                created_at: v.created_at,
                archived_at: v.archived_at,
                score: v.score.into(),
                progress: FrozenProgress {
                    controls_total: v.progress.controls_total,
                    controls_assessed: v.progress.controls_assessed,
                },
                version: v.version,
            }
        }
    }

    impl From<FrozenAssessment> for AssessmentView {
        fn from(f: FrozenAssessment) -> Self {
            AssessmentView {
                id: f.id,
                name: f.name,
                group_id: f.group_id,
                group_name: f.group_name,
                regulation_id: f.regulation_id,
                regulation_name: f.regulation_name,
                services: f.services,
                connectors: None,
                created_at: f.created_at,
                archived: true,
                archived_at: f.archived_at,
                score: f.score.into(),
                progress: ProgressView {
                    controls_total: f.progress.controls_total,
                    controls_assessed: f.progress.controls_assessed,
                },
                version: f.version,
            }
        }
    }

    impl From<&ActionSummary> for FrozenAction {
        fn from(a: &ActionSummary) -> Self {
            FrozenAction {
                id: a.id.clone(),
                action_id: a.action_id.clone(),
                title: a.title.clone(),
                category: a.category,
                action_type: a.action_type,
                control_type: a.control_type,
                enforcement: a.enforcement,
                managed_by: a.managed_by,
                testing_type: a.testing_type,
                points: a.points,
                owner: a.owner.clone(),
                implementation_status: a.implementation_status,
                implementation_date: a.implementation_date,
                test_status: a.test_status,
                test_date: a.test_date,
                score: a.score.into(),
                version: a.version,
            }
        }
    }

    impl From<FrozenAction> for ActionSummary {
        fn from(a: FrozenAction) -> Self {
            ActionSummary {
                id: a.id,
                action_id: a.action_id,
                title: a.title,
                category: a.category,
                action_type: a.action_type,
                control_type: a.control_type,
                enforcement: a.enforcement,
                managed_by: a.managed_by,
                testing_type: a.testing_type,
                points: a.points,
                owner: a.owner,
                implementation_status: a.implementation_status,
                implementation_date: a.implementation_date,
                test_status: a.test_status,
                test_date: a.test_date,
                score: a.score.into(),
                version: a.version,
                pending_update: None,
            }
        }
    }

    impl From<&ControlView> for FrozenControl {
        fn from(c: &ControlView) -> Self {
            FrozenControl {
                id: c.id.clone(),
                title: c.title.clone(),
                description: c.description.clone(),
                family_id: c.family_id.clone(),
                family_title: c.family_title.clone(),
                score: c.score.into(),
                actions: c.actions.iter().map(FrozenAction::from).collect(),
            }
        }
    }

    impl From<FrozenControl> for ControlView {
        fn from(c: FrozenControl) -> Self {
            ControlView {
                id: c.id,
                title: c.title,
                description: c.description,
                family_id: c.family_id,
                family_title: c.family_title,
                score: c.score.into(),
                actions: c.actions.into_iter().map(ActionSummary::from).collect(),
            }
        }
    }
}
