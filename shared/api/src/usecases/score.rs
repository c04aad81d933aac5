//! The tenant's overall compliance score over its live assessments, and its split by category.

use attest_domain::ids::TenantId;
use attest_domain::vocab::Category;
use attest_store::StoreError;
use serde::Serialize;

use super::views::ScoreView;
use super::workspace::Workspace;
use crate::AppState;

/// Why the score could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryScore {
    pub category: Category,
    pub score: ScoreView,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TenantScoreView {
    pub overall: ScoreView,
    pub by_category: Vec<CategoryScore>,
    /// How many live assessments were counted.
    pub assessments: usize,
}

/// `GET /score`: every action instance the live assessments use counts once.
pub async fn tenant_score(
    state: &AppState,
    tenant: &TenantId,
) -> Result<TenantScoreView, ScoreError> {
    let ws = Workspace::load(&state.store, tenant).await?;
    let score = ws.tenant_score();
    Ok(TenantScoreView {
        overall: score.overall().into(),
        by_category: score
            .by_category()
            .iter()
            .map(|(c, s)| CategoryScore {
                category: *c,
                score: (*s).into(),
            })
            .collect(),
        assessments: ws.live().count(),
    })
}

#[cfg(test)]
mod tests {
    use attest_domain::action::{ActionPatch, InstanceScope};
    use attest_domain::assessment::Assessment;
    use attest_domain::group::{AssessmentGroup, GroupName};
    use attest_domain::ids::{AssessmentId, GroupId, RegulationId};
    use attest_domain::vocab::{ImplementationStatus, TestStatus, TestingType};
    use attest_store::groups::NewGroup;
    use attest_store::usage::Usage;

    use super::*;
    use crate::usecases::testkit::ports;
    use crate::usecases::{actions, regulations};

    #[tokio::test]
    async fn an_empty_tenant_scores_nothing() {
        let (state, caller, _dir) = ports();
        let score = tenant_score(&state, &caller.tenant).await.unwrap();
        assert_eq!((score.overall.achieved, score.overall.possible), (0, 0));
        assert!(score.by_category.is_empty());
        assert_eq!(score.assessments, 0);
    }

    #[tokio::test]
    async fn an_implemented_and_passed_action_earns_its_points() {
        let (state, caller, _dir) = ports();
        // One control, so one generated, customer-managed documentation action.
        let regulation = regulations::create(
            &state,
            &caller,
            serde_json::from_value(serde_json::json!({
                "id": "one", "name": "One",
                "families": [{"id": "F", "title": "F", "controls": [{"id": "C-1", "title": "Only"}]}],
            }))
            .unwrap(),
        )
        .await
        .unwrap();
        let action = &regulation.families[0].controls[0].actions[0];
        let group = AssessmentGroup {
            id: GroupId::parse("g1").unwrap(),
            name: GroupName::parse("Europe").unwrap(),
            created_at: state.now(),
            created_by: "alice".into(),
        };
        let assessment = Assessment {
            id: AssessmentId::parse("a1").unwrap(),
            name: "One".into(),
            group_id: group.id.clone(),
            regulation_id: RegulationId::parse("one").unwrap(),
            services: vec!["aws".into()],
            created_at: state.now(),
            archived_at: None,
        };
        let usage = Usage {
            action_id: action.id.clone(),
            scope: InstanceScope::Group(group.id.clone()),
            assessment_id: assessment.id.clone(),
            assessment_name: assessment.name.clone(),
            regulation_id: assessment.regulation_id.clone(),
            group_id: group.id.clone(),
        };
        let new_group = NewGroup {
            group: &group,
            copy_from: None,
        };
        state
            .store
            .create_assessment(&caller.tenant, &assessment, Some(new_group), &[usage], &[])
            .await
            .unwrap();

        let before = tenant_score(&state, &caller.tenant).await.unwrap();
        assert_eq!(before.assessments, 1);
        assert_eq!(
            (before.overall.achieved, before.overall.possible),
            (0, action.points)
        );
        assert!(action.points > 0);

        let patch = ActionPatch {
            implementation_status: Some(ImplementationStatus::Implemented),
            test_status: Some(TestStatus::Passed),
            testing_type: Some(TestingType::Manual),
            ..Default::default()
        };
        let instance = format!("{}@g1", action.id);
        actions::update(&state, &caller, &instance, &patch, None)
            .await
            .unwrap();

        let after = tenant_score(&state, &caller.tenant).await.unwrap();
        assert_eq!(
            (after.overall.achieved, after.overall.possible),
            (action.points, action.points)
        );
        assert_eq!(after.overall.percent, 100.0);
        assert_eq!(
            after.by_category,
            vec![CategoryScore {
                category: action.category,
                score: after.overall,
            }]
        );
    }
}
