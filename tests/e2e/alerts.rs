//! Alerts end to end over HTTP against `attest serve`, on both stores: the default policies;
//! a `test_status_change` policy with a threshold of 3 in 60 minutes raises one alert on the
//! third test status change and counts the fourth into it; a score decrease raises a
//! `score_decrease` alert from the default policy; an alert is taken up (status, assignee,
//! If-Match); roles are enforced; and a restart keeps policies, alerts and the threshold's
//! open window. The server delivers events before it answers a change, so nothing polls.

mod common;

use common::{send, token, Backend, Server};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

struct Api {
    http: reqwest::Client,
    server: Server,
    admin: String,
    contributor: String,
    reader: String,
}

impl Api {
    async fn call(
        &self,
        who: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value, reqwest::header::HeaderMap) {
        let mut req = self
            .http
            .request(method, self.server.url(path))
            .bearer_auth(who);
        if let Some(b) = body {
            req = req.json(&b);
        }
        send(req).await
    }

    async fn ok(&self, path: &str) -> Value {
        let (s, b, _) = self.call(&self.reader, Method::GET, path, None).await;
        assert_eq!(s, StatusCode::OK, "GET {path}: {b}");
        b
    }

    async fn change(&self, method: Method, path: &str, body: Value) -> Value {
        let (s, b, _) = self
            .call(&self.admin, method.clone(), path, Some(body))
            .await;
        assert!(s.is_success(), "{method} {path}: {s} {b}");
        b
    }

    async fn alerts(&self, query: &str) -> Vec<Value> {
        self.ok(&format!("/alerts{query}")).await["items"]
            .as_array()
            .unwrap()
            .clone()
    }
}

async fn alerts_story(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let api = Api {
        http: reqwest::Client::new(),
        server: Server::start_with(&data, &backend, true),
        admin: token(&data, "acme", "ada", &["administrator"]),
        contributor: token(&data, "acme", "cy", &["contributor"]),
        reader: token(&data, "acme", "rob", &["reader"]),
    };

    // Every tenant starts with two enabled policies.
    let defaults = api.ok("/alert-policies").await;
    let kinds: Vec<(&str, &str, bool)> = defaults["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["event"].as_str().unwrap(),
                p["severity"].as_str().unwrap(),
                p["enabled"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("connector_run_failed", "high", true),
            ("score_decrease", "medium", true)
        ]
    );
    assert!(defaults["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["threshold"].is_null()));

    // A regulation of four controls (four generated documentation actions), assessed.
    let controls: Vec<Value> = (1..=4)
        .map(|i| json!({"id": format!("P-{i}"), "title": format!("Policy {i}")}))
        .collect();
    api.change(
        Method::POST,
        "/regulations",
        json!({"id": "policies", "name": "Policies", "families": [{"id": "P", "title": "Policies", "controls": controls}]}),
    )
    .await;
    let assessment = api
        .change(
            Method::POST,
            "/assessments",
            json!({"regulation_id": "policies", "group_name": "Europe", "services": ["aws"]}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let actions: Vec<String> = api.ok(&format!("/assessments/{assessment}/controls")).await
        ["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["actions"][0]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions.len(), 4);

    // Managing policies is for administrators; bad values are 422 naming the field.
    let policy = json!({"name": "Test churn", "event": "test_status_change", "severity": "high",
                        "threshold": {"count": 3, "window_minutes": 60}});
    for who in [&api.reader, &api.contributor] {
        let (s, _, _) = api
            .call(who, Method::POST, "/alert-policies", Some(policy.clone()))
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
    let (s, problem, _) = api
        .call(
            &api.admin,
            Method::POST,
            "/alert-policies",
            Some(
                json!({"name": "x", "event": "test_status_change", "severity": "high",
                        "threshold": {"count": 3, "window_minutes": 0}}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "threshold.window_minutes");
    let (s, created, headers) = api
        .call(&api.admin, Method::POST, "/alert-policies", Some(policy))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    assert_eq!(headers["etag"], "\"1\"");
    let churn = created["id"].as_str().unwrap().to_owned();
    let by_churn = format!("?policy={churn}");

    // Three test status changes raise one alert; the fourth adds to it.
    let passed = json!({"implementation_status": "implemented", "test_status": "passed", "testing_type": "manual"});
    for action in &actions[..2] {
        api.change(Method::PATCH, &format!("/actions/{action}"), passed.clone())
            .await;
    }
    assert!(api.alerts(&by_churn).await.is_empty());
    api.change(
        Method::PATCH,
        &format!("/actions/{}", actions[2]),
        passed.clone(),
    )
    .await;
    let raised = api.alerts(&by_churn).await;
    assert_eq!(raised.len(), 1, "{raised:?}");
    let alert = &raised[0];
    assert_eq!(alert["count"], 3);
    assert_eq!(alert["status"], "active");
    assert_eq!(alert["severity"], "high");
    assert_eq!(alert["title"], "3 test status changes within 60 minutes");
    assert_eq!(alert["events"].as_array().unwrap().len(), 3);
    let alert_id = alert["id"].as_str().unwrap().to_owned();
    api.change(
        Method::PATCH,
        &format!("/actions/{}", actions[3]),
        passed.clone(),
    )
    .await;
    let counted = api.alerts(&by_churn).await;
    assert_eq!(counted.len(), 1);
    assert_eq!(
        (counted[0]["id"].as_str(), counted[0]["count"].as_u64()),
        (Some(alert_id.as_str()), Some(4))
    );
    // Scores only rose so far: no score alert.
    assert!(api
        .alerts("?policy=default-score-decrease")
        .await
        .is_empty());

    // A failed test lowers the score: the default policy raises an alert for the tenant's
    // score and one for the assessment's (and the threshold alert counts the change too).
    api.change(
        Method::PATCH,
        &format!("/actions/{}", actions[0]),
        json!({"test_status": "failed_high_risk"}),
    )
    .await;
    let decreases = api.alerts("?policy=default-score-decrease").await;
    let titles: Vec<&str> = decreases
        .iter()
        .map(|a| a["title"].as_str().unwrap())
        .collect();
    assert_eq!(decreases.len(), 2, "{titles:?}");
    assert!(
        titles.contains(&"Score decreased: overall score 100% → 75%"),
        "{titles:?}"
    );
    assert!(
        titles.contains(&format!("Score decreased: assessment {assessment} 100% → 75%").as_str()),
        "{titles:?}"
    );
    assert!(decreases
        .iter()
        .all(|a| a["severity"] == "medium" && a["count"] == 1));
    assert_eq!(api.alerts(&by_churn).await[0]["count"], 5);
    let all = api.alerts("").await;
    assert_eq!(all.len(), 3);
    assert_eq!(api.alerts("?severity=medium").await.len(), 2);
    assert_eq!(api.alerts("?status=active").await.len(), 3);
    let (s, problem, _) = api
        .call(&api.reader, Method::GET, "/alerts?status=open", None)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "status");

    // Taking an alert up: contributors may, readers may not; If-Match is honoured.
    let path = format!("/alerts/{alert_id}");
    let (s, shown, headers) = api.call(&api.reader, Method::GET, &path, None).await;
    assert_eq!(s, StatusCode::OK);
    let etag = headers["etag"].to_str().unwrap().to_owned();
    assert_eq!(etag, format!("\"{}\"", shown["version"]));
    let take_up = json!({"status": "investigating", "assignee": "cy@acme.test"});
    let (s, _, _) = api
        .call(&api.reader, Method::PATCH, &path, Some(take_up.clone()))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, updated, _) = api
        .call(
            &api.contributor,
            Method::PATCH,
            &path,
            Some(take_up.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{updated}");
    assert_eq!(updated["status"], "investigating");
    assert_eq!(updated["assignee"], "cy@acme.test");
    let stale = api
        .http
        .patch(api.server.url(&path))
        .bearer_auth(&api.contributor)
        .header("if-match", &etag)
        .json(&json!({"status": "resolved"}));
    assert_eq!(send(stale).await.0, StatusCode::PRECONDITION_FAILED);
    assert_eq!(api.ok(&path).await["status"], "investigating");

    // Every raise and change is an event.
    let raised_events = api.ok("/events?type=AlertRaised").await;
    assert_eq!(raised_events["items"].as_array().unwrap().len(), 3);
    let updates = api.ok("/events?type=AlertUpdated").await;
    let fields: Vec<&str> = updates["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["data"]["changes"].as_array().unwrap())
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["count", "count", "status", "assignee"]);
    let policy_events = api.ok("/events?type=AlertPolicyChanged").await;
    assert_eq!(policy_events["items"][0]["data"]["change"], "created");
    assert_eq!(policy_events["items"][0]["actor"], "ada");

    // A restart keeps policies, alerts and the threshold's open window.
    let policies_before = api.ok("/alert-policies").await;
    let alerts_before = api.ok("/alerts").await;
    let Api {
        http,
        server,
        admin,
        contributor,
        reader,
    } = api;
    drop(server);
    let api = Api {
        http,
        server: Server::start_with(&data, &backend, false),
        admin,
        contributor,
        reader,
    };
    assert_eq!(api.ok("/alert-policies").await, policies_before);
    assert_eq!(api.ok("/alerts").await, alerts_before);
    api.change(
        Method::PATCH,
        &format!("/actions/{}", actions[1]),
        json!({"test_status": "in_progress"}),
    )
    .await;
    let after = api.alerts(&by_churn).await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0]["count"], 6);
    assert_eq!(after[0]["status"], "investigating");
    // That change lowered the score again: two more score alerts.
    assert_eq!(api.alerts("?policy=default-score-decrease").await.len(), 4);

    // Deleting a policy keeps its alerts; a deleted default stays deleted.
    let (s, _, _) = api
        .call(
            &api.admin,
            Method::DELETE,
            "/alert-policies/default-score-decrease",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let left = api.ok("/alert-policies").await;
    assert_eq!(left["items"].as_array().unwrap().len(), 2);
    assert_eq!(api.alerts("?policy=default-score-decrease").await.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_on_the_embedded_store() {
    alerts_story(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_on_dynamodb_local() {
    let local = attest_testkit::dynamodb_local();
    alerts_story(Backend::DynamoDb {
        endpoint: local.endpoint.clone(),
        table: attest_testkit::unique_name("alerts"),
    })
    .await;
}
