//! Scores over time, end to end over HTTP against `attest serve`, on both stores: a sequence
//! of changes, each followed by what `GET /score` and `GET /assessments/{id}` say; the history
//! holds exactly those scores, `as_of` between two changes gives the earlier one and 404
//! before the first data; the events of every change are in `GET /events`; and a restart
//! keeps events, history and stored scores (adding only the day's points).

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{send, token, Backend, Server};
use reqwest::StatusCode;
use serde_json::{json, Value};

struct Api {
    http: reqwest::Client,
    server: Server,
    admin: String,
    reader: String,
}

impl Api {
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let (s, b, _) = send(
            self.http
                .get(self.server.url(path))
                .bearer_auth(&self.reader),
        )
        .await;
        (s, b)
    }

    async fn ok(&self, path: &str) -> Value {
        let (s, b) = self.get(path).await;
        assert_eq!(s, StatusCode::OK, "GET {path}: {b}");
        b
    }

    async fn write(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let (s, b, _) = send(
            self.http
                .request(method.clone(), self.server.url(path))
                .bearer_auth(&self.admin)
                .json(&body),
        )
        .await;
        assert!(s.is_success(), "{method} {path}: {s} {b}");
        b
    }
}

fn at(v: &Value) -> String {
    v.as_str().unwrap().to_owned()
}

fn encoded(t: DateTime<Utc>) -> String {
    form_urlencoded::byte_serialize(t.to_rfc3339().as_bytes()).collect()
}

/// `{achieved, possible, percent}` of a score view.
fn points(score: &Value) -> Value {
    json!({
        "achieved": score["achieved"],
        "possible": score["possible"],
        "percent": score["percent"],
    })
}

/// A history point without its time.
fn points_of(history: &Value) -> Vec<Value> {
    history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(points)
        .collect()
}

async fn pause() {
    tokio::time::sleep(Duration::from_millis(20)).await;
}

async fn scores_over_time(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let api = Api {
        http: reqwest::Client::new(),
        server: Server::start_with(&data, &backend, true),
        admin: token(&data, "acme", "ada", &["administrator"]),
        reader: token(&data, "acme", "rob", &["reader"]),
    };

    // Nothing yet: no score at any instant, an empty history.
    let before_anything = Utc::now();
    let (status, _) = api
        .get(&format!("/score?as_of={}", encoded(before_anything)))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(api.ok("/score/history").await["items"], json!([]));
    pause().await;

    // A regulation of three controls (three generated documentation actions) and its
    // assessment in a new group.
    api.write(
        reqwest::Method::POST,
        "/regulations",
        json!({"id": "policies", "name": "Policies", "families": [{"id": "P", "title": "Policies",
            "controls": [{"id": "P-1", "title": "Access policy"}, {"id": "P-2", "title": "Backup policy"},
                         {"id": "P-3", "title": "Incident policy"}]}]}),
    )
    .await;
    let created = api
        .write(
            reqwest::Method::POST,
            "/assessments",
            json!({"regulation_id": "policies", "group_name": "Europe", "services": ["aws"]}),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let controls = api.ok(&format!("/assessments/{id}/controls")).await;
    let actions: Vec<String> = controls["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["actions"][0]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions.len(), 3);

    // Each step: a change, then what the API says the scores are.
    let mut tenant_said = Vec::new();
    let mut assessment_said = Vec::new();
    let mut record = async |api: &Api| {
        let tenant = api.ok("/score").await;
        let assessment = api.ok(&format!("/assessments/{id}")).await;
        tenant_said.push(points(&tenant["overall"]));
        assessment_said.push(points(&assessment["score"]));
        (tenant, assessment)
    };
    let (first, _) = record(&api).await;
    assert_eq!(first["overall"]["achieved"], 0);
    assert!(first["overall"]["possible"].as_u64().unwrap() > 0);
    let passed = json!({"implementation_status": "implemented", "test_status": "passed", "testing_type": "manual"});
    pause().await;
    api.write(
        reqwest::Method::PATCH,
        &format!("/actions/{}", actions[0]),
        passed.clone(),
    )
    .await;
    let (second, second_assessment) = record(&api).await;
    assert!(second["overall"]["achieved"].as_u64().unwrap() > 0);
    pause().await;
    let between = Utc::now();
    pause().await;
    api.write(
        reqwest::Method::PATCH,
        &format!("/actions/{}", actions[1]),
        passed.clone(),
    )
    .await;
    record(&api).await;
    pause().await;
    // A change that does not move the score adds no point.
    api.write(
        reqwest::Method::PATCH,
        &format!("/actions/{}", actions[2]),
        json!({"owner": "cara@example.com"}),
    )
    .await;
    pause().await;
    api.write(
        reqwest::Method::PATCH,
        &format!("/actions/{}", actions[0]),
        json!({"test_status": "failed_high_risk"}),
    )
    .await;
    let (last, _) = record(&api).await;
    let third = &tenant_said[2];
    assert!(
        last["overall"]["achieved"].as_u64() < third["achieved"].as_u64(),
        "a failed test lowers the score: {last} after {third}"
    );

    // The history holds exactly what GET said after each step, oldest first.
    let tenant_history = api.ok("/score/history").await;
    assert_eq!(tenant_history["scope"], "tenant");
    assert_eq!(points_of(&tenant_history), tenant_said);
    let assessment_history = api.ok(&format!("/assessments/{id}/score/history")).await;
    assert_eq!(points_of(&assessment_history), assessment_said);
    let times: Vec<String> = tenant_history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| at(&p["at"]))
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "oldest first");
    // from/to narrow it; a bad instant is 422 naming it.
    let narrowed = api
        .ok(&format!("/score/history?from={}", encoded(between)))
        .await;
    assert_eq!(points_of(&narrowed), tenant_said[2..]);
    let (status, problem) = api.get("/score/history?from=yesterday").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "from");
    let (status, _) = api.get("/assessments/nope/score/history").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // as_of between the first and the second change: the first change's scores.
    let then = api.ok(&format!("/score?as_of={}", encoded(between))).await;
    assert_eq!(points(&then["overall"]), points(&second["overall"]));
    assert_eq!(then["by_category"], second["by_category"]);
    let then = api
        .ok(&format!("/assessments/{id}?as_of={}", encoded(between)))
        .await;
    assert_eq!(points(&then["score"]), points(&second_assessment["score"]));
    assert_eq!(then["name"], second_assessment["name"]);
    for path in [
        format!("/score?as_of={}", encoded(before_anything)),
        format!("/assessments/{id}?as_of={}", encoded(before_anything)),
    ] {
        let (status, _) = api.get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    // A date is the end of that day (UTC): today's is the latest score; a day before any data
    // is 404; what is neither is 422 naming as_of.
    let today = Utc::now().date_naive();
    let now = api.ok(&format!("/score?as_of={today}")).await;
    assert_eq!(points(&now["overall"]), *tenant_said.last().unwrap());
    let now = api.ok(&format!("/assessments/{id}?as_of={today}")).await;
    assert_eq!(points(&now["score"]), *assessment_said.last().unwrap());
    let (status, _) = api.get("/score?as_of=2020-01-01").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, problem) = api.get(&format!("/assessments/{id}?as_of=last-week")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "as_of");
    // The list reads the same stored scores.
    let list = api.ok("/assessments").await;
    assert_eq!(
        points(&list["items"][0]["score"]),
        assessment_said.last().unwrap().clone()
    );

    // Every change has its event; every score change its ScoreChanged.
    let events = api.ok("/events?limit=500").await;
    let kinds: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    let count = |k: &str| kinds.iter().filter(|x| **x == k).count();
    assert_eq!(count("RegulationImported"), 1, "{kinds:?}");
    assert_eq!(count("GroupCreated"), 1);
    assert_eq!(count("AssessmentCreated"), 1);
    assert_eq!(count("ActionUpdated"), 4);
    assert_eq!(
        count("ScoreChanged"),
        tenant_said.len() + assessment_said.len()
    );
    let only = api.ok("/events?type=ActionUpdated").await;
    assert_eq!(only["items"].as_array().unwrap().len(), 4);
    let owner_change = &only["items"][2];
    assert_eq!(owner_change["actor"], "ada");
    assert_eq!(owner_change["data"]["changes"][0]["field"], "owner");
    assert_eq!(owner_change["data"]["assessments"], json!([id]));
    let first_id = at(&events["items"][0]["id"]);
    let rest = api.ok(&format!("/events?after={first_id}&limit=500")).await;
    assert_eq!(rest["items"].as_array().unwrap().len(), kinds.len() - 1);
    let (status, problem) = api.get("/events?type=Nope").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "type");

    // A restart keeps all of it; the day's points (one per scope) are all it adds.
    let score_before = api.ok("/score").await;
    let Api {
        http,
        server,
        admin,
        reader,
    } = api;
    drop(server);
    let api = Api {
        http,
        server: Server::start_with(&data, &backend, false),
        admin,
        reader,
    };
    assert_eq!(api.ok("/events?limit=500").await, events);
    assert_eq!(api.ok("/score").await["overall"], score_before["overall"]);
    let after = api.ok("/score/history").await;
    let mut expected = tenant_said.clone();
    expected.push(tenant_said.last().unwrap().clone());
    let mut got = points_of(&after);
    // The daily run starts with the server and may not have taken its point yet.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while got.len() < expected.len() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        got = points_of(&api.ok("/score/history").await);
    }
    assert_eq!(got, expected, "the day's point after the restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scores_over_time_on_the_embedded_store() {
    scores_over_time(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scores_over_time_on_dynamodb_local() {
    let local = attest_testkit::dynamodb_local();
    scores_over_time(Backend::DynamoDb {
        endpoint: local.endpoint.clone(),
        table: attest_testkit::unique_name("scores"),
    })
    .await;
}
