//! API.md "Scoring": points earned by actions, per control, per assessment and per tenant.

use serde::{Serialize, Serializer};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::{Add, AddAssign};

use crate::action::{ActionStatus, InstanceScope};
use crate::ids::ActionId;
use crate::regulation::{Control, ImprovementAction, Regulation};
use crate::vocab::{Category, ImplementationStatus, ManagedBy, TestStatus};

/// The fields of an action's status that its score and its controls' progress depend on: a
/// change of other fields (owner, dates, notes, testing type) moves no score.
pub const SCORED_FIELDS: [&str; 2] = ["implementation_status", "test_status"];

/// Achieved out of possible points.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Score {
    pub achieved: u32,
    pub possible: u32,
}

impl Score {
    /// Percentage with two decimals; 0 when nothing is possible.
    pub fn percent(&self) -> f64 {
        if self.possible == 0 {
            return 0.0;
        }
        (f64::from(self.achieved) * 10_000.0 / f64::from(self.possible)).round() / 100.0
    }
}

impl Add for Score {
    type Output = Score;
    fn add(self, o: Score) -> Score {
        Score {
            achieved: self.achieved + o.achieved,
            possible: self.possible + o.possible,
        }
    }
}

impl AddAssign for Score {
    fn add_assign(&mut self, o: Score) {
        *self = *self + o;
    }
}

impl std::iter::Sum for Score {
    fn sum<I: Iterator<Item = Score>>(iter: I) -> Score {
        iter.fold(Score::default(), Add::add)
    }
}

impl Serialize for Score {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Score", 3)?;
        st.serialize_field("achieved", &self.achieved)?;
        st.serialize_field("possible", &self.possible)?;
        st.serialize_field("percent", &self.percent())?;
        st.end()
    }
}

/// What one action contributes, given its instance's status.
pub fn action_score(action: &ImprovementAction, status: &ActionStatus) -> Score {
    let out_of_scope = status.implementation_status == ImplementationStatus::OutOfScope
        || status.test_status == TestStatus::OutOfScope;
    if out_of_scope {
        return Score::default();
    }
    let points = action.points();
    let earned = action.managed_by == ManagedBy::Provider
        || (status.implementation_status.is_implemented()
            && status.test_status == TestStatus::Passed);
    Score {
        achieved: if earned { points } else { 0 },
        possible: points,
    }
}

/// The actions of one assessment resolved to their templates and the statuses of the
/// instances the assessment's group sees.
pub type Resolved<'a> = HashMap<&'a ActionId, (&'a ImprovementAction, &'a ActionStatus)>;

/// Control score: the points of its actions. Actions missing from `resolved` count nothing.
pub fn control_score(control: &Control, resolved: &Resolved<'_>) -> Score {
    let mut seen = HashSet::new();
    control
        .actions
        .iter()
        .filter(|a| seen.insert(*a))
        .filter_map(|a| resolved.get(a))
        .map(|(action, status)| action_score(action, status))
        .sum()
}

/// Assessment score: over the distinct actions its controls reference, each counted once.
pub fn assessment_score(regulation: &Regulation, resolved: &Resolved<'_>) -> Score {
    regulation
        .action_ids()
        .into_iter()
        .filter_map(|a| resolved.get(a))
        .map(|(action, status)| action_score(action, status))
        .sum()
}

/// Progress: how many controls have every in-scope action assessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub controls_total: u32,
    pub controls_assessed: u32,
}

pub fn progress(regulation: &Regulation, resolved: &Resolved<'_>) -> Progress {
    let mut p = Progress {
        controls_total: 0,
        controls_assessed: 0,
    };
    for control in regulation.controls() {
        p.controls_total += 1;
        let assessed = !control.actions.is_empty()
            && control.actions.iter().all(|a| {
                resolved.get(a).is_some_and(|(action, s)| {
                    action.managed_by == ManagedBy::Provider || s.test_status.is_assessed()
                })
            });
        if assessed {
            p.controls_assessed += 1;
        }
    }
    p
}

/// The tenant's overall score. Technical and provider actions count once per tenant;
/// documentation and operational ones once per group they appear in. Feed it every action of
/// every live assessment, with the scope of the instance it resolves to; repeats are ignored.
#[derive(Debug, Default)]
pub struct TenantScore {
    counted: HashSet<(ActionId, InstanceScope)>,
    overall: Score,
    by_category: BTreeMap<Category, Score>,
}

impl TenantScore {
    pub fn add(
        &mut self,
        scope: &InstanceScope,
        action: &ImprovementAction,
        status: &ActionStatus,
    ) {
        if !self.counted.insert((action.id.clone(), scope.clone())) {
            return;
        }
        let s = action_score(action, status);
        self.overall += s;
        *self.by_category.entry(action.category).or_default() += s;
    }

    pub fn overall(&self) -> Score {
        self.overall
    }

    pub fn by_category(&self) -> &BTreeMap<Category, Score> {
        &self.by_category
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{apply_patch, ActionPatch};
    use crate::history::Source;
    use crate::ids::{GroupId, RegulationId};
    use crate::regulation::Family;
    use crate::vocab::*;

    fn action(
        id: &str,
        t: ActionType,
        ct: ControlType,
        e: Enforcement,
        m: ManagedBy,
    ) -> ImprovementAction {
        ImprovementAction {
            id: ActionId::parse(id).unwrap(),
            title: id.into(),
            guidance: String::new(),
            category: if t.is_technical() {
                Category::ProtectInformation
            } else {
                Category::GovernInformation
            },
            action_type: t,
            control_type: ct,
            enforcement: e,
            testing_type: TestingType::Manual,
            managed_by: m,
            service: None,
        }
    }

    fn with(action: &ImprovementAction, json: &str) -> ActionStatus {
        let patch: ActionPatch = serde_json::from_str(json).unwrap();
        apply_patch(&ActionStatus::initial(action, 1), &patch, &Source::Manual)
            .unwrap()
            .0
    }

    const PASSED: &str = r#"{"implementation_status":"implemented","test_status":"passed"}"#;

    fn tech() -> ImprovementAction {
        action(
            "mfa",
            ActionType::Technical,
            ControlType::Preventive,
            Enforcement::Mandatory,
            ManagedBy::Customer,
        )
    }
    fn doc() -> ImprovementAction {
        action(
            "policy",
            ActionType::Documentation,
            ControlType::Preventive,
            Enforcement::Discretionary,
            ManagedBy::Customer,
        )
    }

    #[test]
    fn an_action_earns_only_when_implemented_and_passed() {
        let a = tech();
        assert_eq!(
            action_score(&a, &ActionStatus::initial(&a, 1)),
            Score {
                achieved: 0,
                possible: 27
            }
        );
        assert_eq!(
            action_score(&a, &with(&a, r#"{"implementation_status":"implemented"}"#)).achieved,
            0
        );
        assert_eq!(
            action_score(&a, &with(&a, PASSED)),
            Score {
                achieved: 27,
                possible: 27
            }
        );
        let alt = with(
            &a,
            r#"{"implementation_status":"alternative_implementation","test_status":"passed"}"#,
        );
        assert_eq!(action_score(&a, &alt).achieved, 27);
        let failed = with(
            &a,
            r#"{"implementation_status":"implemented","test_status":"failed_low_risk"}"#,
        );
        assert_eq!(
            action_score(&a, &failed),
            Score {
                achieved: 0,
                possible: 27
            }
        );
    }

    #[test]
    fn out_of_scope_either_way_removes_the_points() {
        let a = tech();
        assert_eq!(
            action_score(&a, &with(&a, r#"{"implementation_status":"out_of_scope"}"#)),
            Score::default()
        );
        assert_eq!(
            action_score(&a, &with(&a, r#"{"test_status":"out_of_scope"}"#)),
            Score::default()
        );
    }

    #[test]
    fn provider_managed_actions_earn_by_default() {
        let p = action(
            "enc",
            ActionType::Technical,
            ControlType::Detective,
            Enforcement::Mandatory,
            ManagedBy::Provider,
        );
        assert_eq!(
            action_score(&p, &ActionStatus::initial(&p, 1)),
            Score {
                achieved: 3,
                possible: 3
            }
        );
    }

    #[test]
    fn percent_is_rounded_and_zero_without_possible_points() {
        assert_eq!(
            Score {
                achieved: 1,
                possible: 3
            }
            .percent(),
            33.33
        );
        assert_eq!(Score::default().percent(), 0.0);
        let json = serde_json::to_value(Score {
            achieved: 27,
            possible: 36,
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"achieved": 27, "possible": 36, "percent": 75.0})
        );
    }

    fn regulation(controls: Vec<(&str, Vec<&ImprovementAction>)>) -> Regulation {
        Regulation {
            id: RegulationId::parse("r").unwrap(),
            name: "R".into(),
            source: String::new(),
            families: vec![Family {
                id: "f".into(),
                title: "F".into(),
                controls: controls
                    .into_iter()
                    .map(|(id, acts)| Control {
                        id: id.into(),
                        title: id.into(),
                        description: String::new(),
                        actions: acts.iter().map(|a| a.id.clone()).collect(),
                    })
                    .collect(),
            }],
        }
    }

    #[test]
    fn an_action_referenced_by_several_controls_counts_once_per_assessment() {
        let (t, d) = (tech(), doc());
        let reg = regulation(vec![("c1", vec![&t, &d]), ("c2", vec![&t]), ("c3", vec![])]);
        let (ts, ds) = (with(&t, PASSED), ActionStatus::initial(&d, 1));
        let resolved: Resolved = [(&t.id, (&t, &ts)), (&d.id, (&d, &ds))].into();
        let controls: Vec<_> = reg.controls().collect();
        assert_eq!(
            control_score(controls[0], &resolved),
            Score {
                achieved: 27,
                possible: 36
            }
        );
        assert_eq!(
            control_score(controls[1], &resolved),
            Score {
                achieved: 27,
                possible: 27
            }
        );
        assert_eq!(control_score(controls[2], &resolved), Score::default());
        assert_eq!(
            assessment_score(&reg, &resolved),
            Score {
                achieved: 27,
                possible: 36
            }
        );
        assert_eq!(
            progress(&reg, &resolved),
            Progress {
                controls_total: 3,
                controls_assessed: 1
            }
        );
    }

    #[test]
    fn tenant_score_counts_technical_once_and_documentation_per_group() {
        let (t, d) = (tech(), doc());
        let (g1, g2) = (GroupId::parse("g1").unwrap(), GroupId::parse("g2").unwrap());
        let passed_t = with(&t, PASSED);
        let passed_d = with(&d, PASSED);
        let fresh_d = ActionStatus::initial(&d, 1);
        let mut score = TenantScore::default();
        // Two assessments in g1 (two regulations sharing both actions), one in g2.
        for _ in 0..2 {
            score.add(&t.scope_in(&g1), &t, &passed_t);
            score.add(&d.scope_in(&g1), &d, &passed_d);
        }
        score.add(&t.scope_in(&g2), &t, &passed_t);
        score.add(&d.scope_in(&g2), &d, &fresh_d);
        // Technical: 27 once. Documentation: 9 in g1 (earned) + 9 in g2 (not earned).
        assert_eq!(
            score.overall(),
            Score {
                achieved: 36,
                possible: 45
            }
        );
        assert_eq!(
            score.by_category()[&Category::ProtectInformation],
            Score {
                achieved: 27,
                possible: 27
            }
        );
        assert_eq!(
            score.by_category()[&Category::GovernInformation],
            Score {
                achieved: 9,
                possible: 18
            }
        );
    }
}
