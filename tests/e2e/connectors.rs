//! Compliance connectors end to end over HTTP against `attest serve`, on both stores, with the
//! Zoom and Salesforce fakes of the test kit on loopback: activation (bad credentials 422 and
//! nothing stored; names unique), the kinds' checks, service actions only in assessments that
//! cover the service, chosen instances, runs on demand with their statuses, notes, history
//! (source `connector:<id>`), score and run records; a setting flipped and the next run
//! following it; an action tested by two instances passing only when both pass; a denied
//! settings group (`could_not_be_detected`, partially succeeded); a 429 with Retry-After and a
//! token expiring between runs; manual test edits refused; pause and resume; Salesforce's
//! risk types; a failing connector raising the default alert; delete; roles; and the secrets
//! absent from every response and from the server's debug log.

mod common;

use std::time::{Duration, Instant};

use attest_fakes::{SalesforceFake, ZoomFake};
use common::{send, token, Backend, Server};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

struct Api {
    http: reqwest::Client,
    server: Server,
    /// Every response body, to look for secrets in.
    seen: std::sync::Mutex<Vec<String>>,
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
        let (s, b, h) = send(req).await;
        self.seen.lock().unwrap().push(b.to_string());
        (s, b, h)
    }

    async fn get(&self, who: &str, path: &str) -> Value {
        let (s, b, _) = self.call(who, Method::GET, path, None).await;
        assert_eq!(s, StatusCode::OK, "GET {path}: {b}");
        b
    }

    async fn expect(
        &self,
        who: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
        status: StatusCode,
    ) -> Value {
        let (s, b, _) = self.call(who, method.clone(), path, body).await;
        assert_eq!(s, status, "{method} {path}: {b}");
        b
    }

    /// Runs a connector now and waits for its run record.
    async fn run(&self, who: &str, connector: &str) -> Value {
        let queued = self
            .expect(
                who,
                Method::POST,
                &format!("/connectors/{connector}/run"),
                None,
                StatusCode::ACCEPTED,
            )
            .await;
        let run_id = queued["run_id"].as_str().unwrap().to_owned();
        let started = Instant::now();
        loop {
            let h = self
                .get(who, &format!("/connectors/{connector}/history?limit=5"))
                .await;
            if let Some(run) = h["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["id"] == run_id.as_str())
            {
                return run.clone();
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "run {run_id} never recorded"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The instances of an assessment whose action a connector kind tests, by action id.
    async fn service_actions(&self, who: &str, assessment: &str, prefix: &str) -> Vec<Value> {
        let page = self
            .get(who, &format!("/actions?assessment={assessment}&limit=200"))
            .await;
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["action_id"].as_str().unwrap().starts_with(prefix))
            .cloned()
            .collect()
    }

    /// GETs `path` until `ok` holds (at most 30 s) and returns the last answer.
    async fn until(&self, who: &str, path: &str, ok: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let v = self.get(who, path).await;
            if ok(&v) || started.elapsed() > Duration::from_secs(30) {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn action(&self, who: &str, id: &str) -> Value {
        self.get(who, &format!("/actions/{id}")).await
    }
}

fn kind<'a>(kinds: &'a Value, name: &str) -> &'a Value {
    kinds["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == name)
        .unwrap_or_else(|| panic!("kind {name}"))
}

/// A Zoom check with a boolean expectation whose action no other check tests, read from a
/// settings document the fake's `set` addresses with the same pointer (the default one, or
/// an option wrapped in its group): (check, its action id, the expected value).
fn simple_zoom_check(zoom: &Value) -> (Value, String, bool) {
    let checks = zoom["checks"].as_array().unwrap();
    for c in checks {
        let request = c["source"]["request"].as_str().unwrap();
        let action = c["action_id"].as_str().unwrap();
        let alone = checks.iter().filter(|o| o["action_id"] == action).count() == 1;
        let same_pointer =
            !request.contains("option=") || request.ends_with("option=meeting_security");
        if alone && same_pointer && c["expected"].is_boolean() {
            return (
                c.clone(),
                action.to_owned(),
                c["expected"].as_bool().unwrap(),
            );
        }
    }
    panic!("no simple zoom check in {zoom}");
}

async fn connectors_story(backend: Backend) {
    let zoom = ZoomFake::start().await;
    let sf = SalesforceFake::start().await;
    sf.set_page_size(5);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let env = [
        ("ATTEST_ENDPOINT_ZOOM_API", zoom.api_url()),
        ("ATTEST_ENDPOINT_ZOOM_OAUTH", zoom.oauth_url()),
        ("ATTEST_ALLOW_LOOPBACK_CONNECTORS", "1".to_owned()),
        ("ATTEST_IMPORT_EVERY", "off".to_owned()),
    ];
    let server = Server::start_env(dir.path(), &backend, true, &env, Some(&log));
    let t = |user: &str, roles: &[&str]| token(dir.path(), "acme", user, roles);
    let (cadmin, gadmin, admin, assessor, reader) = (
        t("carla", &["connector_admin"]),
        t("gina", &["global_admin"]),
        t("alice", &["administrator"]),
        t("sam", &["assessor"]),
        t("rob", &["reader"]),
    );
    let api = Api {
        http: reqwest::Client::new(),
        server,
        seen: Default::default(),
    };

    // The kinds describe their fields and checks.
    let kinds = api.get(&reader, "/connector-kinds").await;
    let zoom_kind = kind(&kinds, "zoom").clone();
    let sf_kind = kind(&kinds, "salesforce").clone();
    assert!(
        zoom_kind["checks"].as_array().unwrap().len() >= 8,
        "{zoom_kind}"
    );
    assert!(
        sf_kind["checks"].as_array().unwrap().len() >= 6,
        "{sf_kind}"
    );
    for c in zoom_kind["checks"]
        .as_array()
        .unwrap()
        .iter()
        .chain(sf_kind["checks"].as_array().unwrap())
    {
        assert!(
            c["source"]["request"]
                .as_str()
                .unwrap()
                .starts_with("GET /"),
            "{c}"
        );
        assert!(
            c["source"]["pointer"].as_str().unwrap().starts_with('/'),
            "{c}"
        );
        assert!(
            c["action_id"].as_str().is_some() && !c["explain"].as_str().unwrap().is_empty(),
            "{c}"
        );
    }
    let secret_field = |k: &Value, f: &str| {
        k["credential_fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == f)
            .unwrap()["secret"]
            .clone()
    };
    assert_eq!(secret_field(&zoom_kind, "client_secret"), json!(true));

    let zoom_creds = json!({"account_id": zoom.account_id(), "client_id": zoom.client_id(), "client_secret": zoom.client_secret()});
    // Bad credentials: 422 naming the failure, nothing stored.
    let mut bad = zoom_creds.clone();
    bad["client_secret"] = json!("not-the-secret");
    let refused = api
        .expect(
            &cadmin,
            Method::POST,
            "/connectors",
            Some(json!({"kind": "zoom", "name": "Zoom Prod", "credentials": bad})),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    assert_eq!(refused["errors"][0]["field"], "credentials", "{refused}");
    let missing = api
        .expect(
            &cadmin,
            Method::POST,
            "/connectors",
            Some(json!({"kind": "zoom", "name": "Zoom Prod", "credentials": {"account_id": "x"}})),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    assert!(
        missing["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == "credentials.client_secret"),
        "{missing}"
    );
    api.expect(
        &cadmin,
        Method::POST,
        "/connectors",
        Some(json!({"kind": "teams", "name": "x", "credentials": {}})),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(api.get(&reader, "/connectors").await["items"], json!([]));
    // Roles: administrators manage assessments, not connectors; readers read.
    for who in [&admin, &assessor, &reader] {
        api.expect(
            who,
            Method::POST,
            "/connectors",
            Some(json!({"kind": "zoom", "name": "Zoom Prod", "credentials": zoom_creds})),
            StatusCode::FORBIDDEN,
        )
        .await;
    }

    // Activation.
    let zoom1 = api
        .expect(
            &cadmin,
            Method::POST,
            "/connectors",
            Some(json!({"kind": "zoom", "name": "Zoom Prod", "credentials": zoom_creds})),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(
        zoom1["credentials"],
        json!({"account_id": "set", "client_id": "set", "client_secret": "set"})
    );
    assert_eq!(zoom1["state"], "active");
    let zoom1_id = zoom1["id"].as_str().unwrap().to_owned();
    api.expect(
        &gadmin,
        Method::POST,
        "/connectors",
        Some(json!({"kind": "zoom", "name": "ZOOM PROD ", "credentials": zoom_creds})),
        StatusCode::CONFLICT,
    )
    .await;
    let zoom2 = api
        .expect(
            &gadmin,
            Method::POST,
            "/connectors",
            Some(json!({"kind": "zoom", "name": "Zoom Test", "credentials": zoom_creds})),
            StatusCode::CREATED,
        )
        .await;
    let zoom2_id = zoom2["id"].as_str().unwrap().to_owned();
    let sf_creds = json!({"instance_url": sf.instance_url(), "client_id": sf.client_id(), "client_secret": sf.client_secret()});
    let sfc = api
        .expect(
            &cadmin,
            Method::POST,
            "/connectors",
            Some(json!({"kind": "salesforce", "name": "Salesforce Prod", "credentials": sf_creds})),
            StatusCode::CREATED,
        )
        .await;
    let sf_id = sfc["id"].as_str().unwrap().to_owned();
    let st = api
        .get(&reader, &format!("/connectors/{zoom1_id}/status"))
        .await;
    assert_eq!(st["state"], "active");
    assert_eq!(st["last_run"], Value::Null);
    assert_eq!(
        st["next_run_at"],
        Value::Null,
        "no schedule runs (--import-every off): {st}"
    );
    let v = api
        .expect(
            &cadmin,
            Method::POST,
            &format!("/connectors/{zoom1_id}/validate"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(v["ok"], true, "{v}");

    // Regulations name the services their actions support.
    let regs = api.get(&reader, "/regulations").await;
    let nist = regs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "nist-800-53-r5-moderate")
        .unwrap();
    assert_eq!(
        nist["supported_services"],
        json!(["salesforce", "zoom"]),
        "{nist}"
    );

    // Assessments: one chooses Zoom Prod and Salesforce; another covers Zoom with every
    // instance; one for another service has no Zoom actions.
    api.expect(&admin, Method::POST, "/assessments", Some(json!({"regulation_id": "nist-800-53-r5-moderate", "group_name": "Wrong", "services": ["aws"], "connectors": [zoom1_id]})), StatusCode::UNPROCESSABLE_ENTITY).await;
    let a = api
        .expect(&admin, Method::POST, "/assessments", Some(json!({"regulation_id": "nist-800-53-r5-moderate", "group_name": "Cloud", "services": ["zoom", "salesforce"], "connectors": [zoom1_id, sf_id]})), StatusCode::CREATED)
        .await;
    let a_id = a["id"].as_str().unwrap().to_owned();
    assert_eq!(a["connectors"], json!([zoom1_id, sf_id]));
    let b = api
        .expect(&admin, Method::POST, "/assessments", Some(json!({"regulation_id": "iso-27001-2022", "group_name": "Meetings", "services": ["zoom"]})), StatusCode::CREATED)
        .await;
    let b_id = b["id"].as_str().unwrap().to_owned();
    let aws = api
        .expect(&admin, Method::POST, "/assessments", Some(json!({"regulation_id": "nist-800-53-r5-moderate", "group_name": "Servers", "services": ["aws"]})), StatusCode::CREATED)
        .await;
    assert!(api
        .service_actions(&reader, aws["id"].as_str().unwrap(), "zoom-")
        .await
        .is_empty());
    assert!(api
        .service_actions(&reader, aws["id"].as_str().unwrap(), "salesforce-")
        .await
        .is_empty());
    let before = api.service_actions(&reader, &a_id, "zoom-").await;
    assert!(!before.is_empty());
    for x in &before {
        assert_eq!(x["test_status"], "to_be_detected", "{x}");
        assert_eq!(x["testing_type"], "automatic", "{x}");
    }
    let score_before = api.get(&reader, "/score").await;

    // The first run: each check's action follows what the account says.
    let (check, wr_action, expected) = simple_zoom_check(&zoom_kind);
    let pointer = check["source"]["pointer"].as_str().unwrap().to_owned();
    zoom.set(&pointer, json!(expected));
    let run = api.run(&cadmin, &zoom1_id).await;
    assert_eq!(run["outcome"], "succeeded", "{run}");
    assert_eq!(run["trigger"], "manual");
    let checks = &run["checks"];
    let total = zoom_kind["checks"].as_array().unwrap().len() as u64;
    assert_eq!(
        checks["passed"].as_u64().unwrap()
            + checks["failed"].as_u64().unwrap()
            + checks["undetected"].as_u64().unwrap(),
        total,
        "{run}"
    );
    assert!(
        checks["passed"].as_u64().unwrap() >= 1 && checks["failed"].as_u64().unwrap() >= 1,
        "the default account passes some and fails some: {run}"
    );
    let wr = api.action(&reader, &wr_action).await;
    assert_eq!(wr["test_status"], "passed", "{wr}");
    assert_eq!(wr["implementation_status"], "implemented", "{wr}");
    let notes = wr["test_notes"].as_str().unwrap();
    assert!(
        notes.contains("Zoom Prod")
            && notes.contains(&pointer)
            && notes.contains(check["source"]["request"].as_str().unwrap()),
        "notes say what was read, where and by whom: {notes}"
    );
    let history = api
        .get(&reader, &format!("/actions/{wr_action}/history"))
        .await;
    let entry = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["field"] == "test_status")
        .unwrap();
    assert_eq!(entry["source"], format!("connector:{zoom1_id}"), "{entry}");
    assert_eq!(entry["new"], "passed");
    for x in api.service_actions(&reader, &a_id, "zoom-").await {
        let s = x["test_status"].as_str().unwrap();
        assert!(s == "passed" || s.starts_with("failed_"), "{x}");
    }
    // The run's events reach score recomputation right after the run (the server's bus).
    let score_after = api
        .until(&reader, "/score", |s| {
            s["overall"]["achieved"].as_f64() > score_before["overall"]["achieved"].as_f64()
        })
        .await;
    assert!(
        score_after["overall"]["achieved"].as_f64() > score_before["overall"]["achieved"].as_f64(),
        "{score_before} -> {score_after}"
    );
    let st = api
        .get(&reader, &format!("/connectors/{zoom1_id}/status"))
        .await;
    assert_eq!(st["last_run"]["outcome"], "succeeded");
    assert!(
        st["last_success_at"].is_string() && st["items_imported_total"].as_u64().unwrap() > 0,
        "{st}"
    );
    let events = api.get(&reader, "/events?type=ConnectorRunFinished").await;
    assert_eq!(events["items"].as_array().unwrap().len(), 1, "{events}");

    // A manual test edit of an automatic action is refused.
    api.expect(
        &assessor,
        Method::PATCH,
        &format!("/actions/{wr_action}"),
        Some(json!({"test_status": "failed_low_risk"})),
        StatusCode::CONFLICT,
    )
    .await;

    // The setting flipped: the other instance (assessment B uses every instance) reads it
    // failing, so the action fails although Zoom Prod passed; both passing again: passed.
    zoom.set(&pointer, json!(!expected));
    let run2 = api.run(&gadmin, &zoom2_id).await;
    assert_eq!(run2["outcome"], "succeeded", "{run2}");
    let wr = api.action(&reader, &wr_action).await;
    assert!(
        wr["test_status"].as_str().unwrap().starts_with("failed_"),
        "one instance failing fails it: {wr}"
    );
    assert!(
        wr["test_notes"].as_str().unwrap().contains("Zoom Test"),
        "{wr}"
    );
    zoom.set(&pointer, json!(expected));
    api.run(&gadmin, &zoom2_id).await;
    assert_eq!(
        api.action(&reader, &wr_action).await["test_status"],
        "passed"
    );
    assert!(api
        .service_actions(&reader, &b_id, "zoom-")
        .await
        .iter()
        .any(|x| x["action_id"] == wr_action.as_str()));

    // A token that expired since the last run, and a 429 with Retry-After: the run still
    // succeeds, a new token fetched once.
    zoom.expire_tokens();
    zoom.rate_limit_next(1, 1);
    let tokens = zoom.tokens_issued();
    let run3 = api.run(&cadmin, &zoom1_id).await;
    assert_eq!(run3["outcome"], "succeeded", "{run3}");
    assert!(zoom.tokens_issued() > tokens);
    assert!(zoom.requests().iter().any(|r| r.status == 429));

    // A settings group the app may not read: its checks could not be detected.
    let optioned = zoom_kind["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["source"]["request"].as_str().unwrap().contains("option="))
        .expect("a check reads a settings option")
        .clone();
    let request = optioned["source"]["request"].as_str().unwrap();
    let option = request
        .split("option=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    zoom.deny_option(&option);
    let run4 = api.run(&cadmin, &zoom1_id).await;
    assert_eq!(run4["outcome"], "partially_succeeded", "{run4}");
    assert!(
        run4["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["category"] == "permission"),
        "{run4}"
    );
    let denied = api
        .action(&reader, optioned["action_id"].as_str().unwrap())
        .await;
    assert_eq!(denied["test_status"], "could_not_be_detected", "{denied}");

    // Pause and resume, with If-Match.
    let current = api.get(&reader, &format!("/connectors/{zoom1_id}")).await;
    api.expect(
        &cadmin,
        Method::PUT,
        &format!("/connectors/{zoom1_id}"),
        Some(json!({"state": "paused"})),
        StatusCode::OK,
    )
    .await;
    let (s, _, _) = api
        .call(
            &cadmin,
            Method::PUT,
            &format!("/connectors/{zoom1_id}"),
            Some(json!({"state": "active"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let st = api
        .get(&reader, &format!("/connectors/{zoom1_id}/status"))
        .await;
    assert_eq!(st["state"], "active");
    let stale = api
        .http
        .put(api.server.url(&format!("/connectors/{zoom1_id}")))
        .bearer_auth(&cadmin)
        .header("If-Match", format!("\"{}\"", current["version"]))
        .json(&json!({"state": "paused"}));
    assert_eq!(send(stale).await.0, StatusCode::PRECONDITION_FAILED);
    api.expect(
        &cadmin,
        Method::PUT,
        &format!("/connectors/{zoom1_id}"),
        Some(json!({"state": "paused"})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        api.get(&reader, &format!("/connectors/{zoom1_id}/status"))
            .await["state"],
        "paused"
    );
    api.expect(
        &reader,
        Method::PUT,
        &format!("/connectors/{zoom1_id}"),
        Some(json!({"state": "active"})),
        StatusCode::FORBIDDEN,
    )
    .await;
    api.expect(
        &cadmin,
        Method::PUT,
        &format!("/connectors/{zoom1_id}"),
        Some(json!({"state": "active", "credentials": {"client_secret": "wrong"}})),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        api.get(&reader, &format!("/connectors/{zoom1_id}/status"))
            .await["state"],
        "paused",
        "a refused change changes nothing"
    );

    // Salesforce: Health Check read across pages, risks mapped to failure levels.
    let run5 = api.run(&cadmin, &sf_id).await;
    assert_eq!(run5["outcome"], "succeeded", "{run5}");
    let sf_actions = api.service_actions(&reader, &a_id, "salesforce-").await;
    assert!(!sf_actions.is_empty());
    let statuses: Vec<&str> = sf_actions
        .iter()
        .map(|x| x["test_status"].as_str().unwrap())
        .collect();
    assert!(
        statuses.contains(&"failed_high_risk"),
        "HIGH_RISK settings fail high: {statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == "passed" || s.starts_with("failed_")),
        "{statuses:?}"
    );
    assert!(
        sf.requests()
            .iter()
            .filter(|r| r.path.contains("/tooling/query/01g"))
            .count()
            >= 1,
        "paged with nextRecordsUrl"
    );

    // A failing connector: its run fails, it shows in error, and the default policy raises an
    // alert (a failing connector is a compliance gap).
    sf.fail_next(100, 503);
    let run6 = api.run(&cadmin, &sf_id).await;
    assert_eq!(run6["outcome"], "failed", "{run6}");
    assert_eq!(
        run6["errors"][0]["category"], "source_unavailable",
        "{run6}"
    );
    sf.fail_next(0, 503);
    let st = api
        .get(&reader, &format!("/connectors/{sf_id}/status"))
        .await;
    assert_eq!(st["state"], "error", "{st}");
    assert_eq!(st["error"]["category"], "source_unavailable", "{st}");
    let raised = |a: &Value| {
        a["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["policy_id"] == "default-connector-run-failed")
    };
    let alerts = api.until(&reader, "/alerts", raised).await;
    assert!(raised(&alerts), "{alerts}");

    // Delete: the connector goes; actions it alone tested go back to to_be_detected.
    api.expect(
        &assessor,
        Method::DELETE,
        &format!("/connectors/{sf_id}"),
        None,
        StatusCode::FORBIDDEN,
    )
    .await;
    api.expect(
        &cadmin,
        Method::DELETE,
        &format!("/connectors/{sf_id}"),
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    api.expect(
        &reader,
        Method::GET,
        &format!("/connectors/{sf_id}"),
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    for x in api.service_actions(&reader, &a_id, "salesforce-").await {
        assert_eq!(x["test_status"], "to_be_detected", "{x}");
    }
    // Another tenant sees none of it.
    let other = token(dir.path(), "globex", "gus", &["global_admin"]);
    api.expect(
        &other,
        Method::GET,
        &format!("/connectors/{zoom1_id}"),
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(api.get(&other, "/connectors").await["items"], json!([]));

    // The secrets appear in no response and in no line of the server's debug log.
    drop(api.server);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("connector run finished"),
        "the log has the runs"
    );
    let seen = api.seen.lock().unwrap().join("\n");
    for secret in [zoom.client_secret(), sf.client_secret()] {
        assert!(!seen.contains(secret), "a response carried a secret");
        assert!(!logged.contains(secret), "the server log carried a secret");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compliance_connectors_on_the_embedded_store() {
    connectors_story(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compliance_connectors_on_dynamodb_local() {
    let ddb = attest_testkit::dynamodb_local();
    connectors_story(Backend::DynamoDb {
        endpoint: ddb.endpoint.clone(),
        table: attest_testkit::unique_name("connectors"),
    })
    .await;
}
