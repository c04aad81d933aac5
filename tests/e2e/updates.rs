//! Improvement-action updates, end to end over HTTP against `attest serve`, on both stores. A
//! tenant works on NIST 800-53 moderate in two groups with the shipped library; the server
//! then restarts with a second library version (a release file used only by the tests:
//! `session-lock` becomes mandatory, 9 -> 27 points; `infosec-policy` gets new guidance and
//! no longer maps to AC-1). Nothing moves until an administrator accepts: the pending updates
//! say what would change, accepting one moves the scores exactly as it said, a reader and a
//! contributor may not accept, the rest is accepted at once, and a restart keeps it all.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{send, token, Backend, Server};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn release_2() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/library/tests/data/release-2.json")
}

struct Api {
    http: reqwest::Client,
    server: Server,
    admin: String,
}

impl Api {
    async fn as_(
        &self,
        who: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, self.server.url(path))
            .bearer_auth(who);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let (s, b, _) = send(req).await;
        (s, b)
    }

    async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (s, b) = self.as_(&self.admin, method.clone(), path, body).await;
        assert!(s.is_success(), "{method} {path}: {s} {b}");
        b
    }

    async fn get(&self, path: &str) -> Value {
        self.ok(Method::GET, path, None).await
    }

    /// The NIST controls an action instance meets, as its page lists them.
    async fn related(&self, action: &str) -> Vec<String> {
        let related = self
            .get(&format!(
                "/actions/{action}/controls?regulation=nist-800-53-r5-moderate"
            ))
            .await;
        related["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["control_id"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The ids of a control's actions in an assessment.
    async fn control_actions(&self, assessment: &str, control: &str) -> Vec<String> {
        let controls = self
            .get(&format!(
                "/assessments/{assessment}/controls?control={control}"
            ))
            .await;
        let c = controls["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"].as_str().unwrap().eq_ignore_ascii_case(control))
            .unwrap_or_else(|| panic!("{control} in {controls}"));
        c["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn score(v: &Value) -> (i64, i64) {
    (
        v["achieved"].as_i64().unwrap(),
        v["possible"].as_i64().unwrap(),
    )
}

async fn updates(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let start = |first: bool, release: bool| {
        let env: Vec<(&str, String)> = if release {
            vec![("ATTEST_LIBRARY_RELEASE", release_2().display().to_string())]
        } else {
            Vec::new()
        };
        Server::start_env(&data, &backend, first, &env, None)
    };
    let mut api = Api {
        http: reqwest::Client::new(),
        server: start(true, false),
        admin: token(&data, "acme", "ada", &["administrator"]),
    };
    let reader = token(&data, "acme", "rob", &["reader"]);
    let contributor = token(&data, "acme", "cid", &["contributor"]);

    // Two NIST assessments in two groups; session-lock (technical, one instance for the
    // tenant) implemented and tested, Europe's infosec-policy given an owner, Asia's left
    // untouched.
    let mut ids = Vec::new();
    for group in ["Europe", "Asia"] {
        let a = api
            .ok(
                Method::POST,
                "/assessments",
                Some(json!({"regulation_id": "nist-800-53-r5-moderate", "group_name": group, "services": ["aws"]})),
            )
            .await;
        ids.push(a["id"].as_str().unwrap().to_owned());
    }
    let (eu, asia) = (ids[0].clone(), ids[1].clone());
    let eu_group = api.get(&format!("/assessments/{eu}")).await["group_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let policy_eu = format!("infosec-policy@{eu_group}");
    api.ok(
        Method::PATCH,
        "/actions/session-lock",
        Some(json!({"implementation_status": "implemented", "test_status": "passed"})),
    )
    .await;
    api.ok(
        Method::PATCH,
        &format!("/actions/{policy_eu}"),
        Some(json!({"owner": "olga"})),
    )
    .await;
    assert_eq!(api.get("/action-updates").await["items"], json!([]));
    let lock = api.get("/actions/session-lock").await;
    assert_eq!(lock["points"], 9);
    assert!(lock.get("pending_update").is_none(), "{lock}");
    let eu_before = score(&api.get(&format!("/assessments/{eu}")).await["score"]);
    let asia_before = score(&api.get(&format!("/assessments/{asia}")).await["score"]);
    let overall_before = score(&api.get("/score").await["overall"]);
    assert!(api.control_actions(&eu, "AC-1").await.contains(&policy_eu));

    // The second library version arrives: nothing moves by itself.
    drop(api.server);
    api.server = start(false, true);
    assert_eq!(
        score(&api.get(&format!("/assessments/{eu}")).await["score"]),
        eu_before
    );
    assert_eq!(score(&api.get("/score").await["overall"]), overall_before);
    let lock = api.get("/actions/session-lock").await;
    assert_eq!(
        lock["points"], 9,
        "the accepted definition until accepted: {lock}"
    );
    assert!(!lock["guidance"]
        .as_str()
        .unwrap()
        .contains("administrators included"));
    // Europe's policy keeps AC-1 (in the assessment and in its related controls); Asia's
    // untouched one follows the library.
    assert!(api.control_actions(&eu, "AC-1").await.contains(&policy_eu));
    assert!(api.related(&policy_eu).await.contains(&"AC-1".to_owned()));
    assert!(!api
        .control_actions(&asia, "AC-1")
        .await
        .iter()
        .any(|a| a.starts_with("infosec-policy")));

    // What is pending, and what accepting would do.
    let pending = api.get("/action-updates").await["items"].clone();
    let listed: Vec<&str> = pending
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), 2, "{pending}");
    assert!(listed.contains(&"session-lock") && listed.contains(&policy_eu.as_str()));
    let lock_update = pending
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "session-lock")
        .unwrap()["pending_update"]
        .clone();
    assert_eq!(
        (lock_update["from"].as_u64(), lock_update["to"].as_u64()),
        (Some(1), Some(2))
    );
    let fields: Vec<&str> = lock_update["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["guidance", "enforcement", "points"]);
    assert_eq!(
        lock_update["score_change"],
        json!({"achieved": 18, "possible": 18})
    );
    let affected = lock_update["assessments_affected"].as_array().unwrap();
    assert_eq!(affected.len(), 2);
    assert!(affected
        .iter()
        .all(|a| a["score_change"] == json!({"achieved": 18, "possible": 18})));
    assert_eq!(
        api.get("/actions/session-lock").await["pending_update"],
        lock_update
    );

    // Only administrators accept.
    for who in [&reader, &contributor] {
        let (s, b) = api
            .as_(
                who,
                Method::POST,
                "/actions/session-lock/accept-update",
                None,
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    }
    assert_eq!(api.get("/actions/session-lock").await["points"], 9);

    // Accepting moves each score exactly as the update said.
    let accepted = api
        .ok(Method::POST, "/actions/session-lock/accept-update", None)
        .await;
    assert_eq!(accepted["points"], 27);
    assert!(accepted.get("pending_update").is_none(), "{accepted}");
    assert!(accepted["guidance"]
        .as_str()
        .unwrap()
        .contains("administrators included"));
    let moved = |before: (i64, i64)| (before.0 + 18, before.1 + 18);
    assert_eq!(
        score(&api.get(&format!("/assessments/{eu}")).await["score"]),
        moved(eu_before)
    );
    assert_eq!(
        score(&api.get(&format!("/assessments/{asia}")).await["score"]),
        moved(asia_before)
    );
    assert_eq!(
        score(&api.get("/score").await["overall"]),
        moved(overall_before)
    );
    let history = api.get("/actions/session-lock/history").await;
    let entry = &history["items"][0];
    assert_eq!(
        (
            &entry["field"],
            &entry["old"],
            &entry["new"],
            &entry["source"]
        ),
        (
            &json!("library_version"),
            &json!(1),
            &json!(2),
            &json!("manual")
        ),
        "{history}"
    );
    let events = api.get("/events?type=ActionUpdateAccepted").await;
    let events = events["items"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["data"]["action"], "session-lock");
    let (s, b) = api
        .as_(
            &api.admin,
            Method::POST,
            "/actions/session-lock/accept-update",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "nothing left to accept: {b}");

    // The rest at once: Europe's policy leaves AC-1 like Asia's.
    let all = api
        .ok(Method::POST, "/action-updates/accept-all", None)
        .await;
    assert_eq!(all["accepted"], json!([policy_eu]));
    assert_eq!(all["failed"], json!([]));
    assert!(!api.control_actions(&eu, "AC-1").await.contains(&policy_eu));
    assert!(!api.related(&policy_eu).await.contains(&"AC-1".to_owned()));
    assert_eq!(api.get("/action-updates").await["items"], json!([]));

    // A restart keeps it.
    drop(api.server);
    api.server = start(false, true);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(api.get("/action-updates").await["items"], json!([]));
    assert_eq!(api.get("/actions/session-lock").await["points"], 27);
    assert_eq!(
        score(&api.get(&format!("/assessments/{eu}")).await["score"]),
        moved(eu_before)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_on_the_embedded_store() {
    updates(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_on_dynamodb_local() {
    let local = attest_testkit::dynamodb_local();
    updates(Backend::DynamoDb {
        endpoint: local.endpoint.clone(),
        table: attest_testkit::unique_name("updates"),
    })
    .await;
}
