//! Crash safety of events and scores: `attest serve` is killed with SIGKILL while clients
//! change actions as fast as they can, and restarted, three times. Afterwards every
//! acknowledged change has exactly one event, every event belongs to a change that is in the
//! action's history (no phantom), and the stored scores equal the scores computed from the
//! data (the events left in the outbox by a kill were delivered after the restart).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{send, token, Backend, Server};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn get(http: &reqwest::Client, server: &Server, tok: &str, path: &str) -> Value {
    let (s, b, _) = send(http.get(server.url(path)).bearer_auth(tok)).await;
    assert_eq!(s, StatusCode::OK, "GET {path}: {b}");
    b
}

/// Every event of the tenant, oldest first.
async fn all_events(http: &reqwest::Client, server: &Server, tok: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut path = "/events?limit=500".to_owned();
    loop {
        let page = get(http, server, tok, &path).await;
        out.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(next) => path = format!("/events?limit=500&after={next}"),
            None => return out,
        }
    }
}

/// Sends PATCHes with unique owners until the server stops answering; returns the owners of
/// the acknowledged ones.
async fn writer(base: String, tok: String, action: String, first: usize) -> Vec<String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut acknowledged = Vec::new();
    for n in first.. {
        let owner = format!("w{n}");
        let body = if n % 2 == 0 {
            json!({"owner": owner, "implementation_status": "implemented", "test_status": "passed", "testing_type": "manual"})
        } else {
            json!({"owner": owner, "implementation_status": "planned", "test_status": "not_assessed", "testing_type": "manual"})
        };
        match http
            .patch(format!("{base}/actions/{action}"))
            .bearer_auth(&tok)
            .json(&body)
            .send()
            .await
        {
            Ok(r) if r.status() == StatusCode::OK => acknowledged.push(owner),
            Ok(r) => panic!("PATCH answered {}: {}", r.status(), r.text().await.unwrap()),
            Err(_) => return acknowledged,
        }
    }
    unreachable!()
}

async fn killed_between_commits(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let http = reqwest::Client::new();
    let mut server = Server::start_with(&data, &backend, true);
    let admin = token(&data, "acme", "ada", &["administrator"]);
    let post =
        |path: &str, body: Value| http.post(server.url(path)).bearer_auth(&admin).json(&body);
    let (s, b, _) = send(post(
        "/regulations",
        json!({"id": "ops", "name": "Operations", "families": [{"id": "O", "title": "Ops",
            "controls": [{"id": "O-1", "title": "One"}, {"id": "O-2", "title": "Two"}, {"id": "O-3", "title": "Three"}]}]}),
    ))
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, created, _) = send(post(
        "/assessments",
        json!({"regulation_id": "ops", "group_name": "Plant", "services": ["site"]}),
    ))
    .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let controls = get(
        &http,
        &server,
        &admin,
        &format!("/assessments/{id}/controls"),
    )
    .await;
    let actions: Vec<String> = controls["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["actions"][0]["id"].as_str().unwrap().to_owned())
        .collect();

    let mut acknowledged = Vec::<String>::new();
    for round in 0..3 {
        let writers: Vec<_> = (0..4)
            .map(|w| {
                tokio::spawn(writer(
                    server.base.clone(),
                    admin.clone(),
                    actions[w % actions.len()].clone(),
                    (round * 4 + w) * 1_000_000,
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(700 + 150 * round as u64)).await;
        drop(server); // SIGKILL, mid-request for some writers
        for w in writers {
            acknowledged.extend(w.await.unwrap());
        }
        server = Server::start_with(&data, &backend, false);
    }
    assert!(
        acknowledged.len() >= 12,
        "the writers got going: {}",
        acknowledged.len()
    );

    // Exactly one ActionUpdated per acknowledged change (each carries its unique owner).
    let events = all_events(&http, &server, &admin).await;
    let mut owners: BTreeMap<String, usize> = BTreeMap::new();
    for e in events.iter().filter(|e| e["type"] == "ActionUpdated") {
        for c in e["data"]["changes"].as_array().unwrap() {
            if c["field"] == "owner" {
                *owners
                    .entry(c["new"].as_str().unwrap().to_owned())
                    .or_default() += 1;
            }
        }
    }
    for owner in &acknowledged {
        assert_eq!(owners.get(owner), Some(&1), "acknowledged change {owner}");
    }
    assert!(owners.values().all(|n| *n == 1), "no change has two events");
    let ids: BTreeSet<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), events.len(), "event ids are unique");

    // No phantom: every event's change is in its action's history.
    let mut in_history = BTreeSet::new();
    for action in &actions {
        let history = get(
            &http,
            &server,
            &admin,
            &format!("/actions/{action}/history?limit=1000"),
        )
        .await;
        for h in history["items"].as_array().unwrap() {
            if h["field"] == "owner" {
                in_history.insert(h["new"].as_str().unwrap().to_owned());
            }
        }
    }
    let with_events: BTreeSet<String> = owners.keys().cloned().collect();
    assert_eq!(
        with_events, in_history,
        "changes and events match one to one"
    );

    // The scores are right: stored = computed from the data.
    let stored = get(&http, &server, &admin, &format!("/assessments/{id}")).await;
    let live = get(
        &http,
        &server,
        &admin,
        &format!("/assessments/{id}/controls"),
    )
    .await;
    assert_eq!(stored["score"], live["score"]);
    let tenant = get(&http, &server, &admin, "/score").await;
    assert_eq!(
        tenant["overall"], live["score"],
        "one assessment: the same actions"
    );
    // And the last ScoreChanged of each scope says what is stored.
    let last_change = events
        .iter()
        .rev()
        .find(|e| e["type"] == "ScoreChanged" && e["data"]["scope"] == "tenant")
        .unwrap();
    assert_eq!(
        last_change["data"]["new"]["achieved"],
        tenant["overall"]["achieved"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_between_commits_on_the_embedded_store() {
    killed_between_commits(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_between_commits_on_dynamodb_local() {
    let local = attest_testkit::dynamodb_local();
    killed_between_commits(Backend::DynamoDb {
        endpoint: local.endpoint.clone(),
        table: attest_testkit::unique_name("crash"),
    })
    .await;
}
