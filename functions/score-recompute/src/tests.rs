//! Real changes made through the use cases on an embedded store; copies of that store then
//! receive the same events in different orders and numbers, as EventBridge may deliver them.

use std::collections::BTreeSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use attest_api::state::{Clock, FixedClock};
use attest_api::usecases::assessments::{self, CreateAssessment};
use attest_api::usecases::score::TenantScoreView;
use attest_api::usecases::{actions, regulations};
use attest_domain::action::ActionPatch;
use attest_domain::group::GroupName;
use attest_domain::identity::{Identity, Role};
use attest_domain::ids::{AssessmentId, GroupId, RegulationId, TenantId, UserId};
use attest_domain::vocab::{ImplementationStatus, TestStatus, TestingType};
use attest_store::scores::{ScoreRecord, ScoreScope};
use attest_store::Store;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::*;

/// A clock the test moves.
struct TestClock(Mutex<DateTime<Utc>>);

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

fn administrator() -> Identity {
    Identity {
        tenant: TenantId::parse("acme").unwrap(),
        user: UserId::parse("alice").unwrap(),
        name: None,
        email: None,
        roles: BTreeSet::from([Role::Administrator]),
    }
}

fn open(path: &Path, clock: Arc<dyn Clock>) -> AppState {
    let backend = attest_store_embedded::EmbeddedBackend::open(path).unwrap();
    AppState::new(Store::new(Arc::new(backend))).with_clock(clock)
}

/// A tenant's data after real changes, kept in a file that each test run copies.
struct World {
    dir: tempfile::TempDir,
    tenant: TenantId,
    /// The tenant's events, oldest first.
    events: Vec<Event>,
    /// Every score scope: the tenant and each assessment.
    scopes: Vec<ScoreScope>,
}

/// A regulation of three controls; assessments of it in two new groups and a third in the
/// first group, archived; actions worked in both groups. Nothing recomputed yet.
async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let caller = administrator();
    let state = open(
        &dir.path().join("base.redb"),
        Arc::new(attest_api::state::SystemClock),
    );
    let regulation = regulations::create(
        &state,
        &caller,
        serde_json::from_value(json!({
            "id": "three", "name": "Three",
            "families": [{"id": "F", "title": "F", "controls": [
                {"id": "C-1", "title": "One"}, {"id": "C-2", "title": "Two"},
                {"id": "C-3", "title": "Three"}]}],
        }))
        .unwrap(),
    )
    .await
    .unwrap();
    let create =
        |group_id: Option<GroupId>, group_name: Option<&str>, service: &str| CreateAssessment {
            regulation_id: RegulationId::parse("three").unwrap(),
            group_id,
            group_name: group_name.map(|n| GroupName::parse(n).unwrap()),
            copy_from: None,
            services: vec![service.into()],
            connectors: None,
            name: None,
        };
    let europe = assessments::create(&state, &caller, create(None, Some("Europe"), "aws"))
        .await
        .unwrap();
    let asia = assessments::create(&state, &caller, create(None, Some("Asia"), "aws"))
        .await
        .unwrap();
    let archived = assessments::create(
        &state,
        &caller,
        create(Some(europe.group_id.clone()), None, "azure"),
    )
    .await
    .unwrap();
    let action = |control: usize, group: &GroupId| {
        format!(
            "{}@{group}",
            regulation.families[0].controls[control].actions[0].id
        )
    };
    let passed = ActionPatch {
        implementation_status: Some(ImplementationStatus::Implemented),
        test_status: Some(TestStatus::Passed),
        testing_type: Some(TestingType::Manual),
        ..Default::default()
    };
    let implemented = ActionPatch {
        implementation_status: Some(ImplementationStatus::Implemented),
        ..Default::default()
    };
    for (control, group, patch) in [
        (0, &europe.group_id, &passed),
        (1, &asia.group_id, &implemented),
        (2, &europe.group_id, &passed),
    ] {
        actions::update(&state, &caller, &action(control, group), patch, None)
            .await
            .unwrap();
    }
    assessments::archive(&state, &caller, archived.id.as_str())
        .await
        .unwrap();
    // A change after the archive: the archived assessment keeps its score.
    actions::update(&state, &caller, &action(1, &europe.group_id), &passed, None)
        .await
        .unwrap();

    let events = state
        .store
        .list_events(&caller.tenant, None, None, 500)
        .await
        .unwrap()
        .events;
    let mut scopes = vec![ScoreScope::Tenant];
    for a in [&europe, &asia, &archived] {
        scopes.push(ScoreScope::Assessment(
            AssessmentId::parse(a.id.as_str()).unwrap(),
        ));
    }
    World {
        dir,
        tenant: caller.tenant,
        events,
        scopes,
    }
}

impl World {
    /// A copy of the world's store, at `clock`'s time.
    fn copy(&self, name: &str, clock: Arc<dyn Clock>) -> AppState {
        let path: PathBuf = self.dir.path().join(format!("{name}.redb"));
        std::fs::copy(self.dir.path().join("base.redb"), &path).unwrap();
        open(&path, clock)
    }

    /// Each scope's stored score.
    async fn scores(&self, state: &AppState) -> Vec<ScoreRecord> {
        let mut out = Vec::new();
        for scope in &self.scopes {
            let stored = state.store.get_score(&self.tenant, scope).await.unwrap();
            out.push(stored.expect("a stored score").value);
        }
        out
    }

    /// How many history points each scope has.
    async fn points(&self, state: &AppState) -> Vec<usize> {
        let (from, to) = (
            Utc::now() - Duration::days(30),
            Utc::now() + Duration::days(30),
        );
        let mut out = Vec::new();
        for scope in &self.scopes {
            let history = state
                .store
                .score_history(&self.tenant, scope, from, to)
                .await
                .unwrap();
            out.push(history.len());
        }
        out
    }

    /// Hands each event to the function as EventBridge delivers it; how many scopes changed.
    async fn deliver(&self, state: &AppState, events: &[&Event]) -> usize {
        let mut changed = 0;
        for event in events {
            match handle(state, delivery(event)).await.unwrap() {
                Outcome::Recomputed { changed: n } => changed += n,
                other => panic!("{other:?}"),
            }
        }
        changed
    }
}

/// An event on the bus, as the rule hands it to the function.
fn delivery(event: &Event) -> Value {
    json!({
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": event.kind.as_str(),
        "source": "attest",
        "account": "123456789012",
        "time": event.at,
        "region": "us-east-1",
        "resources": [],
        "detail": event,
    })
}

/// The schedule's input (template.yaml).
fn tick() -> Value {
    json!({"source": "attest.scheduler", "detail-type": "DailyScoreTick", "detail": {}})
}

/// `items` in an order that depends only on them (a shuffle without randomness).
fn shuffled(items: Vec<(usize, &Event)>) -> Vec<&Event> {
    let mut keyed: Vec<(u64, &Event)> = items
        .into_iter()
        .map(|(copy, e)| {
            let mut h = DefaultHasher::new();
            (copy, &e.id).hash(&mut h);
            (h.finish(), e)
        })
        .collect();
    keyed.sort_by_key(|(k, _)| *k);
    keyed.into_iter().map(|(_, e)| e).collect()
}

#[tokio::test]
async fn any_order_and_any_duplicates_give_the_scores_of_a_fresh_computation() {
    let world = world().await;
    assert!(world.events.len() >= 10, "{} events", world.events.len());
    let at = Utc::now() + Duration::minutes(1);
    let clock = || -> Arc<dyn Clock> { Arc::new(FixedClock(at)) };

    let in_order: Vec<&Event> = world.events.iter().collect();
    let reversed: Vec<&Event> = world.events.iter().rev().collect();
    let twice = shuffled(world.events.iter().flat_map(|e| [(0, e), (1, e)]).collect());
    assert_ne!(twice[..world.events.len()], in_order[..], "shuffled");

    let mut runs = Vec::new();
    for (name, events) in [
        ("in-order", &in_order),
        ("reversed", &reversed),
        ("twice", &twice),
    ] {
        let state = world.copy(name, clock());
        let changed = world.deliver(&state, events).await;
        assert_eq!(
            changed,
            world.scopes.len(),
            "{name}: each scope changed once"
        );
        assert_eq!(
            world.points(&state).await,
            vec![1; world.scopes.len()],
            "{name}: one point per scope"
        );
        let scores = world.scores(&state).await;
        runs.push((name, state, scores));
    }
    let (_, first_state, expected) = &runs[0];
    for (name, _, scores) in &runs[1..] {
        assert_eq!(scores, expected, "{name} and in-order");
    }

    // What a fresh computation gives, on a copy where nothing was recomputed.
    let fresh = world.copy("fresh", clock());
    let tenant = score::tenant_score(&fresh, &world.tenant, None)
        .await
        .unwrap();
    assert_eq!(TenantScoreView::from(&expected[0]), tenant);
    assert!(tenant.overall.achieved > 0 && tenant.overall.achieved < tenant.overall.possible);
    for (scope, stored) in world.scopes.iter().zip(expected).skip(1) {
        let ScoreScope::Assessment(id) = scope else {
            unreachable!()
        };
        let (computed, _) = assessments::current_score(&fresh, &world.tenant, id)
            .await
            .unwrap();
        assert_eq!(&computed, stored, "{id}");
    }

    // Delivered again, an event changes nothing and adds no point.
    for event in &world.events {
        assert_eq!(world.deliver(first_state, &[event]).await, 0);
    }
    assert_eq!(world.points(first_state).await, vec![1; world.scopes.len()]);
    assert_eq!(&world.scores(first_state).await, expected);
}

#[tokio::test]
async fn the_daily_tick_adds_one_point_per_scope_once_a_day() {
    let world = world().await;
    let day = Utc::now() + Duration::minutes(1);
    let clock = Arc::new(TestClock(Mutex::new(day)));
    let state = world.copy("daily", clock.clone());
    let events: Vec<&Event> = world.events.iter().collect();
    world.deliver(&state, &events).await;
    let scopes = world.scopes.len();
    assert_eq!(world.points(&state).await, vec![1; scopes]);
    let scores = world.scores(&state).await;

    // The tenant and its live assessments get their point of the day; the archived
    // assessment (the last scope) keeps the score and history it was archived with.
    let live = scopes - 1;
    let after_ticks = |n: usize| {
        let mut points = vec![1 + n; live];
        points.push(1);
        points
    };
    let ticked = handle(&state, tick()).await.unwrap();
    assert_eq!(ticked, Outcome::Daily { points: live });
    assert_eq!(world.points(&state).await, after_ticks(1));

    // Again the same day (a retried or repeated tick): nothing more.
    *clock.0.lock().unwrap() = day + Duration::minutes(5);
    assert_eq!(
        handle(&state, tick()).await.unwrap(),
        Outcome::Daily { points: 0 }
    );
    assert_eq!(world.points(&state).await, after_ticks(1));

    // The next day: one more each.
    *clock.0.lock().unwrap() = day + Duration::days(1);
    assert_eq!(
        handle(&state, tick()).await.unwrap(),
        Outcome::Daily { points: live }
    );
    assert_eq!(world.points(&state).await, after_ticks(2));
    // Points do not change a score: the stored ones are as they were.
    let after = world.scores(&state).await;
    for (a, b) in after.iter().zip(&scores) {
        assert!(a.same_view(b), "{a:?} / {b:?}");
    }
}

#[tokio::test]
async fn events_that_cannot_change_a_score_and_bad_deliveries() {
    let world = world().await;
    let state = world.copy("other", Arc::new(FixedClock(Utc::now())));
    let imported = world
        .events
        .iter()
        .find(|e| e.kind == EventType::RegulationImported)
        .unwrap();
    assert_eq!(
        handle(&state, delivery(imported)).await.unwrap(),
        Outcome::Recomputed { changed: 0 }
    );
    assert!(state
        .store
        .get_score(&world.tenant, &ScoreScope::Tenant)
        .await
        .unwrap()
        .is_none());

    // Not an event envelope, or not an EventBridge event: the invocation fails (retried,
    // then the dead-letter queue).
    let mut broken = delivery(&world.events[0]);
    broken["detail"] = json!({"id": "x"});
    let err = handle(&state, broken).await.unwrap_err();
    assert!(err.to_string().contains("not an event envelope"), "{err}");
    assert!(handle(&state, json!({"detail": {}})).await.is_err());
}
