//! Scores: the tenant's overall compliance score and its split by category, each
//! assessment's score, their history, and their recomputation (API.md "Score recomputation
//! and history").
//!
//! Scores are recomputed from current state when an event that can change one arrives
//! ([`on_event`]), never by adding deltas, so duplicated and reordered deliveries leave the
//! same result; they are stored, and reads ([`tenant_score`], the assessment views) read what
//! is stored. A stored score that changes appends a history point and a `ScoreChanged` event
//! in the same transaction. [`daily`] appends one point per scope per day.

use attest_domain::event::{Event, EventType, Subject};
use attest_domain::ids::{AssessmentId, TenantId};
use attest_domain::score::{Score, SCORED_FIELDS};
use attest_domain::vocab::Category;
use attest_store::scores::{CategoryPoints, ScoreRecord, ScoreScope};
use attest_store::StoreError;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::assessments::{self, AssessmentError};
use super::views::ScoreView;
use super::workspace::Workspace;
use crate::AppState;

/// Why a score could not be read or recomputed.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error(transparent)]
    Assessment(#[from] AssessmentError),
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
    /// When this score was computed (for `as_of`: the point's time).
    pub computed_at: Option<DateTime<Utc>>,
}

/// A point of a score's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PointView {
    pub at: DateTime<Utc>,
    pub achieved: u32,
    pub possible: u32,
    pub percent: f64,
}

impl From<&ScoreRecord> for PointView {
    fn from(r: &ScoreRecord) -> Self {
        Self {
            at: r.at,
            achieved: r.achieved,
            possible: r.possible,
            percent: r.percent,
        }
    }
}

impl From<&ScoreRecord> for TenantScoreView {
    fn from(r: &ScoreRecord) -> Self {
        Self {
            overall: ScoreView {
                achieved: r.achieved,
                possible: r.possible,
                percent: r.percent,
            },
            by_category: r
                .by_category
                .iter()
                .map(|c| CategoryScore {
                    category: c.category,
                    score: Score {
                        achieved: c.achieved,
                        possible: c.possible,
                    }
                    .into(),
                })
                .collect(),
            assessments: r.assessments.unwrap_or(0),
            computed_at: Some(r.at),
        }
    }
}

/// A record of `score` computed at `at`.
pub fn record(score: Score, at: DateTime<Utc>) -> ScoreRecord {
    ScoreRecord {
        at,
        achieved: score.achieved,
        possible: score.possible,
        percent: score.percent(),
        progress: None,
        by_category: Vec::new(),
        assessments: None,
    }
}

/// The tenant's score from its whole data: every instance the live assessments use, once.
async fn compute_tenant(state: &AppState, tenant: &TenantId) -> Result<ScoreRecord, ScoreError> {
    let ws = Workspace::load(&state.store, tenant).await?;
    let score = ws.tenant_score();
    Ok(ScoreRecord {
        by_category: score
            .by_category()
            .iter()
            .map(|(c, s)| CategoryPoints {
                category: *c,
                achieved: s.achieved,
                possible: s.possible,
            })
            .collect(),
        assessments: Some(ws.live().count()),
        ..record(score.overall(), state.now())
    })
}

/// `GET /score` (`as_of`: the last point at or before it). Reads the stored score; a tenant
/// never recomputed yet (nothing stored) is computed on the spot.
pub async fn tenant_score(
    state: &AppState,
    tenant: &TenantId,
    as_of: Option<DateTime<Utc>>,
) -> Result<TenantScoreView, ScoreError> {
    if let Some(at) = as_of {
        return match state
            .store
            .score_as_of(tenant, &ScoreScope::Tenant, at)
            .await?
        {
            Some(point) => Ok((&point).into()),
            None => Err(ScoreError::NotFound(format!("a score at {at}"))),
        };
    }
    match state.store.get_score(tenant, &ScoreScope::Tenant).await? {
        Some(stored) => Ok((&stored.value).into()),
        None => Ok((&compute_tenant(state, tenant).await?).into()),
    }
}

/// The default span of a history read.
pub const DEFAULT_HISTORY_DAYS: i64 = 90;

/// `GET /score/history` (no assessment) and `GET /assessments/{id}/score/history`: points
/// from `from` (default: 90 days before `to`) to `to` (default: now), oldest first.
pub async fn history(
    state: &AppState,
    tenant: &TenantId,
    assessment: Option<&str>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Vec<PointView>, ScoreError> {
    let to = to.unwrap_or_else(|| state.now());
    let from = from.unwrap_or(to - chrono::Duration::days(DEFAULT_HISTORY_DAYS));
    if from > to {
        return Err(ScoreError::Invalid {
            field: "from".into(),
            message: format!("{from} is after to ({to})"),
        });
    }
    let scope = match assessment {
        None => ScoreScope::Tenant,
        Some(id) => {
            let a = state
                .store
                .get_assessment(tenant, &assessments::parse_id(id)?)
                .await?;
            ScoreScope::Assessment(a.value.id)
        }
    };
    Ok(state
        .store
        .score_history(tenant, &scope, from, to)
        .await?
        .iter()
        .map(PointView::from)
        .collect())
}

/// The consumer name score recomputation de-duplicates under.
pub const CONSUMER: &str = "score-recompute";

/// How many times a recomputation that lost a race to another is tried again.
const ATTEMPTS: u32 = 16;

/// Handles delivered events: recomputes the scopes they can change (their assessments and
/// their tenants) from current state, each scope once however many events name it, and
/// stores what changed. Events handled before are skipped (handling them again would give the
/// same result anyway); each is marked handled once its scopes are stored. Returns the scopes
/// whose score changed.
pub async fn on_events(
    state: &AppState,
    events: &[Event],
) -> Result<Vec<(TenantId, ScoreScope)>, ScoreError> {
    let mut scopes: Vec<(TenantId, ScoreScope)> = Vec::new();
    let mut handled = Vec::new();
    for event in events {
        if event.kind == EventType::DailyScoreTick {
            daily(state).await?;
            continue;
        }
        if !event.kind.can_change_score()
            || !moves_a_score(event)
            || state
                .store
                .event_handled(&event.tenant, CONSUMER, event)
                .await?
        {
            continue;
        }
        for id in event.assessments() {
            if let Ok(id) = AssessmentId::parse(id) {
                scopes.push((event.tenant.clone(), ScoreScope::Assessment(id)));
            }
        }
        scopes.push((event.tenant.clone(), ScoreScope::Tenant));
        handled.push(event);
    }
    // Assessments before their tenant, each once.
    scopes.sort_by(|a, b| {
        (&a.0, a.1 == ScoreScope::Tenant, &a.1).cmp(&(&b.0, b.1 == ScoreScope::Tenant, &b.1))
    });
    scopes.dedup();
    let mut changed = Vec::new();
    for (tenant, scope) in scopes {
        if recompute(state, &tenant, &scope).await? {
            changed.push((tenant, scope));
        }
    }
    for event in handled {
        state
            .store
            .claim_event(&event.tenant, CONSUMER, event)
            .await?;
    }
    Ok(changed)
}

/// Whether an event of a type that can change a score does: an `ActionUpdated` that changes
/// none of [`SCORED_FIELDS`] (an owner, a date, notes) does not.
fn moves_a_score(event: &Event) -> bool {
    if event.kind != EventType::ActionUpdated {
        return true;
    }
    match event.data.get("changes").and_then(|c| c.as_array()) {
        Some(changes) => changes.iter().any(|c| {
            c.get("field")
                .and_then(|f| f.as_str())
                .is_some_and(|f| SCORED_FIELDS.contains(&f))
        }),
        None => true,
    }
}

/// A scope's score from current state; `None` when the assessment no longer exists.
async fn compute(
    state: &AppState,
    tenant: &TenantId,
    scope: &ScoreScope,
) -> Result<Option<(ScoreRecord, Option<String>)>, ScoreError> {
    match scope {
        ScoreScope::Tenant => Ok(Some((compute_tenant(state, tenant).await?, None))),
        ScoreScope::Assessment(id) => match assessments::current_score(state, tenant, id).await {
            Ok((view, regulation)) => Ok(Some((view, Some(regulation)))),
            Err(AssessmentError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        },
    }
}

/// Recomputes one scope and stores it if it changed; true when its score changed (a history
/// point and a `ScoreChanged` event were written).
pub async fn recompute(
    state: &AppState,
    tenant: &TenantId,
    scope: &ScoreScope,
) -> Result<bool, ScoreError> {
    for attempt in 0..ATTEMPTS {
        let stored = state.store.get_score(tenant, scope).await?;
        let Some((computed, regulation)) = compute(state, tenant, scope).await? else {
            return Ok(false);
        };
        let old = stored.as_ref().map(|s| &s.value);
        if old.is_some_and(|o| o.same_view(&computed)) {
            return Ok(false);
        }
        let point = old.is_none_or(|o| !o.same_points(&computed));
        let events = if point {
            vec![changed_event(tenant, scope, old, &computed, regulation)]
        } else {
            Vec::new()
        };
        let version = stored.as_ref().map_or(0, |s| s.version);
        match state
            .store
            .put_score(tenant, scope, version, &computed, point, &events)
            .await
        {
            Ok(()) => return Ok(point),
            Err(StoreError::StaleVersion { .. }) => {
                attest_store::pause_before_retry(attempt).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ScoreError::Store(StoreError::Conflict(format!(
        "the {} score kept changing while it was recomputed",
        scope.key()
    ))))
}

fn points(r: &ScoreRecord) -> serde_json::Value {
    serde_json::to_value(PointView::from(r)).expect("points serialize")
}

/// `ScoreChanged`: the scope (`tenant` or the assessment id), old and new score.
fn changed_event(
    tenant: &TenantId,
    scope: &ScoreScope,
    old: Option<&ScoreRecord>,
    new: &ScoreRecord,
    regulation: Option<String>,
) -> Event {
    let (subject, scope_name, assessments) = match scope {
        ScoreScope::Tenant => (
            Subject::new("tenant", tenant.as_str()),
            "tenant".to_owned(),
            vec![],
        ),
        ScoreScope::Assessment(id) => (
            Subject::new("assessment", id.as_str()),
            id.to_string(),
            vec![id.to_string()],
        ),
    };
    Event::new(
        tenant,
        EventType::ScoreChanged,
        new.at,
        None,
        subject,
        serde_json::json!({
            "scope": scope_name,
            "old": old.map(points),
            "new": points(new),
            "assessments": assessments,
            "regulations": regulation.into_iter().collect::<Vec<_>>(),
        }),
    )
}

/// The daily run: for every tenant with stored scores, each scope (the tenant and its live
/// assessments; an archive's score no longer moves) without its point of the day is brought
/// up to date and gets its point of the day, once. Returns how many
/// points were appended.
pub async fn daily(state: &AppState) -> Result<usize, ScoreError> {
    let day = state.now().date_naive();
    let mut appended = 0;
    for tenant in state.store.scored_tenants().await? {
        let mut scopes = vec![ScoreScope::Tenant];
        scopes.extend(
            state
                .store
                .list_assessments(&tenant)
                .await?
                .into_iter()
                .filter(|a| !a.value.is_archived())
                .map(|a| ScoreScope::Assessment(a.value.id)),
        );
        for scope in scopes {
            if state.store.has_daily_point(&tenant, &scope, day).await? {
                continue;
            }
            recompute(state, &tenant, &scope).await?;
            let Some(stored) = state.store.get_score(&tenant, &scope).await? else {
                continue;
            };
            let point = ScoreRecord {
                at: state.now(),
                ..stored.value
            };
            if state
                .store
                .daily_point(&tenant, &scope, &point, day)
                .await?
            {
                appended += 1;
            }
        }
    }
    Ok(appended)
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
        let score = tenant_score(&state, &caller.tenant, None).await.unwrap();
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
            connectors: None,
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

        let before = tenant_score(&state, &caller.tenant, None).await.unwrap();
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

        let after = tenant_score(&state, &caller.tenant, None).await.unwrap();
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

    /// Recomputation from events: reversed or repeated delivery leaves the same stored scores,
    /// equal to a fresh computation; a repeat adds no point; points and as_of follow changes.
    #[tokio::test]
    async fn recomputation_is_order_independent_and_keeps_history() {
        let (state, caller, _dir) = ports();
        let a = crate::usecases::testkit::assess(&state, &caller, "soc2-2017", "Europe").await;
        let controls = crate::usecases::assessments::controls(
            &state,
            &caller.tenant,
            a.id.as_str(),
            &Default::default(),
        )
        .await
        .unwrap()
        .1;
        let ids: Vec<String> = controls
            .iter()
            .flat_map(|c| c.actions.iter().map(|x| x.id.clone()))
            .take(3)
            .collect();
        let passed = ActionPatch {
            implementation_status: Some(ImplementationStatus::Implemented),
            test_status: Some(TestStatus::Passed),
            testing_type: Some(TestingType::Manual),
            ..Default::default()
        };
        let mut marks = Vec::new();
        for id in &ids {
            actions::update(&state, &caller, id, &passed, None)
                .await
                .unwrap();
            marks.push(state.now());
        }
        let events = state
            .store
            .list_events(&caller.tenant, None, None, 500)
            .await
            .unwrap()
            .events;
        assert!(events.len() >= 5, "{events:?}");
        let assessment = ScoreScope::Assessment(a.id.clone());
        let stored = |scope: ScoreScope| {
            let state = state.clone();
            let tenant = caller.tenant.clone();
            async move {
                let r = state
                    .store
                    .get_score(&tenant, &scope)
                    .await
                    .unwrap()
                    .unwrap();
                (r.value.achieved, r.value.possible)
            }
        };

        // Reversed: the first event handled already sees the final state.
        let mut reversed = events.clone();
        reversed.reverse();
        let changed = on_events(&state, &reversed).await.unwrap();
        assert_eq!(changed.len(), 2, "tenant and assessment: {changed:?}");
        let fresh = compute_tenant(&state, &caller.tenant).await.unwrap();
        assert_eq!(
            stored(ScoreScope::Tenant).await,
            (fresh.achieved, fresh.possible)
        );
        assert!(fresh.achieved > 0);
        let (live, _) = crate::usecases::assessments::current_score(&state, &caller.tenant, &a.id)
            .await
            .unwrap();
        assert_eq!(
            stored(assessment.clone()).await,
            (live.achieved, live.possible)
        );
        let points = |scope: ScoreScope| {
            let state = state.clone();
            let tenant = caller.tenant.clone();
            async move {
                state
                    .store
                    .score_history(
                        &tenant,
                        &scope,
                        Utc::now() - chrono::Duration::days(1),
                        Utc::now(),
                    )
                    .await
                    .unwrap()
                    .len()
            }
        };
        assert_eq!(points(ScoreScope::Tenant).await, 1);

        // Repeated and shuffled: nothing changes, no point is added.
        let mut twice: Vec<Event> = events.iter().chain(events.iter()).cloned().collect();
        twice.rotate_left(3);
        assert!(on_events(&state, &twice).await.unwrap().is_empty());
        assert_eq!(points(ScoreScope::Tenant).await, 1);
        assert_eq!(points(assessment.clone()).await, 1);

        // A change handled in order adds a point; as_of before it gives the earlier score.
        let before = state.now();
        let failed = ActionPatch {
            test_status: Some(TestStatus::FailedHighRisk),
            ..Default::default()
        };
        actions::update(&state, &caller, &ids[0], &failed, None)
            .await
            .unwrap();
        let newest = state
            .store
            .list_events(&caller.tenant, None, Some(EventType::ActionUpdated), 500)
            .await
            .unwrap()
            .events;
        let changed = on_events(&state, &newest[newest.len() - 1..])
            .await
            .unwrap();
        assert_eq!(changed.len(), 2);
        assert_eq!(points(ScoreScope::Tenant).await, 2);
        let then = tenant_score(&state, &caller.tenant, Some(before))
            .await
            .unwrap();
        assert_eq!(then.overall.achieved, fresh.achieved);
        let now = tenant_score(&state, &caller.tenant, None).await.unwrap();
        assert!(now.overall.achieved < fresh.achieved);
        let none = tenant_score(
            &state,
            &caller.tenant,
            Some(marks[0] - chrono::Duration::days(1)),
        )
        .await;
        assert!(matches!(none, Err(ScoreError::NotFound(_))));
        // The ScoreChanged events carry old and new.
        let changes = state
            .store
            .list_events(&caller.tenant, None, Some(EventType::ScoreChanged), 500)
            .await
            .unwrap()
            .events;
        let last = changes
            .iter()
            .rev()
            .find(|e| e.data["scope"] == "tenant")
            .unwrap();
        assert_eq!(last.data["old"]["achieved"], fresh.achieved);
        assert_eq!(last.data["new"]["achieved"], now.overall.achieved);

        // The daily run: one point per scope, once a day.
        assert_eq!(daily(&state).await.unwrap(), 2);
        assert_eq!(daily(&state).await.unwrap(), 0);
        assert_eq!(points(ScoreScope::Tenant).await, 3);
    }

    /// A copy into a new group ends with a GroupCopied event naming the group's assessments,
    /// which recomputes them (in AWS the assessment's own event may be handled before the copy
    /// is complete).
    #[tokio::test]
    async fn a_finished_copy_recomputes_the_groups_assessments() {
        let (state, caller, _dir) = ports();
        let europe = crate::usecases::testkit::assess(&state, &caller, "soc2-2017", "Europe").await;
        let body = crate::usecases::assessments::CreateAssessment {
            connectors: None,
            regulation_id: europe.regulation_id.clone(),
            group_id: None,
            group_name: Some(GroupName::parse("Asia").unwrap()),
            copy_from: Some(europe.group_id.clone()),
            services: vec!["aws".into()],
            name: None,
        };
        let asia = crate::usecases::assessments::create(&state, &caller, body)
            .await
            .unwrap();
        let copied = state
            .store
            .list_events(&caller.tenant, None, Some(EventType::GroupCopied), 10)
            .await
            .unwrap()
            .events;
        assert_eq!(copied.len(), 1);
        assert_eq!(copied[0].subject.id, asia.group_id.as_str());
        assert_eq!(copied[0].assessments(), vec![asia.id.to_string()]);
        assert!(EventType::GroupCopied.can_change_score());
        let changed = on_events(&state, &copied).await.unwrap();
        assert!(changed.contains(&(
            caller.tenant.clone(),
            ScoreScope::Assessment(asia.id.clone())
        )));
    }

    /// A change of an owner, a date or notes moves no score: its event recomputes nothing.
    #[tokio::test]
    async fn changes_that_move_no_score_recompute_nothing() {
        let (state, caller, _dir) = ports();
        crate::usecases::testkit::assess(&state, &caller, "soc2-2017", "Europe").await;
        let all = state
            .store
            .list_events(&caller.tenant, None, None, 100)
            .await
            .unwrap()
            .events;
        on_events(&state, &all).await.unwrap();
        let patch = ActionPatch {
            owner: Some(Some("dana".into())),
            ..Default::default()
        };
        actions::update(&state, &caller, "mfa-admins", &patch, None)
            .await
            .unwrap();
        let owner_change = state
            .store
            .list_events(&caller.tenant, None, Some(EventType::ActionUpdated), 10)
            .await
            .unwrap()
            .events;
        assert_eq!(owner_change.len(), 1);
        assert!(!moves_a_score(&owner_change[0]));
        assert!(on_events(&state, &owner_change).await.unwrap().is_empty());
        assert!(!state
            .store
            .event_handled(&caller.tenant, CONSUMER, &owner_change[0])
            .await
            .unwrap());
    }

    /// Recomputation itself is idempotent, not only de-duplicated: with the de-duplication
    /// marks gone, delivering every event again (oldest last) changes no score and adds no
    /// point; an old event delivered after later changes leaves the current score.
    #[tokio::test]
    async fn redelivery_without_de_duplication_changes_nothing() {
        let (state, caller, _dir) = ports();
        let a = crate::usecases::testkit::assess(&state, &caller, "soc2-2017", "Europe").await;
        let passed = ActionPatch {
            implementation_status: Some(ImplementationStatus::Implemented),
            test_status: Some(TestStatus::Passed),
            testing_type: Some(TestingType::Manual),
            ..Default::default()
        };
        actions::update(&state, &caller, "mfa-admins", &passed, None)
            .await
            .unwrap();
        let first = state
            .store
            .list_events(&caller.tenant, None, None, 500)
            .await
            .unwrap()
            .events;
        on_events(&state, &first).await.unwrap();
        // A later change, delivered; then the first events again, after it.
        let failed = ActionPatch {
            test_status: Some(TestStatus::FailedLowRisk),
            ..Default::default()
        };
        actions::update(&state, &caller, "mfa-admins", &failed, None)
            .await
            .unwrap();
        let all = state
            .store
            .list_events(&caller.tenant, None, None, 500)
            .await
            .unwrap()
            .events;
        on_events(&state, &all).await.unwrap();
        let settled = state
            .store
            .get_score(&caller.tenant, &ScoreScope::Tenant)
            .await
            .unwrap()
            .unwrap()
            .value;
        let marks: Vec<attest_store::WriteOp> = state
            .store
            .backend()
            .query(&attest_store::Query::prefix("T#acme#SEEN", ""))
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|i| attest_store::WriteOp::Delete {
                key: i.key,
                condition: attest_store::Condition::Always,
            })
            .collect();
        assert!(!marks.is_empty());
        state.store.backend().write(marks).await.unwrap();
        let mut again = first.clone();
        again.reverse();
        assert!(on_events(&state, &again).await.unwrap().is_empty());
        let after = state
            .store
            .get_score(&caller.tenant, &ScoreScope::Tenant)
            .await
            .unwrap()
            .unwrap()
            .value;
        assert!(after.same_view(&settled));
        let fresh = compute_tenant(&state, &caller.tenant).await.unwrap();
        assert!(after.same_points(&fresh));
        let points = state
            .store
            .score_history(
                &caller.tenant,
                &ScoreScope::Assessment(a.id.clone()),
                Utc::now() - chrono::Duration::days(1),
                Utc::now(),
            )
            .await
            .unwrap();
        // The first delivery saw the passed action, the second the failed one; none since.
        assert_eq!(points.len(), 2, "{points:?}");
    }
}
