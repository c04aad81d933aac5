//! The Slack data connector end to end over HTTP against `attest serve`, on both stores, with
//! the test kit's Slack fake on loopback: activation (a bad token 422), a first run importing
//! the backfill window's thousands of messages exactly once (people mapped by e-mail and by
//! `user_map`, unmapped ones kept and counted, a channel the bot is not in reported without
//! holding the others back), a second run after new and late messages adding exactly those
//! (its window overlapping the first), the items listing paged in time order with person and
//! text filters, tenant isolation and roles.

mod common;

use std::time::{Duration, Instant};

use attest_fakes::SlackFake;
use chrono::Utc;
use common::{send, token, Backend, Server};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

struct Api {
    http: reqwest::Client,
    server: Server,
}

impl Api {
    async fn call(
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

    async fn expect(
        &self,
        who: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
        status: StatusCode,
    ) -> Value {
        let (s, b) = self.call(who, method.clone(), path, body).await;
        assert_eq!(s, status, "{method} {path}: {b}");
        b
    }

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
                .expect(
                    who,
                    Method::GET,
                    &format!("/connectors/{connector}/history?limit=5"),
                    None,
                    StatusCode::OK,
                )
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
                started.elapsed() < Duration::from_secs(300),
                "run {run_id} never recorded"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every item of the listing, following its cursor.
    async fn all_items(&self, who: &str, connector: &str, query: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/connectors/{connector}/items?limit=200{query}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={}", urlencode(c)));
            }
            let page = self
                .expect(who, Method::GET, &path, None, StatusCode::OK)
                .await;
            out.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return out,
            }
        }
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn slack_story(backend: Backend) {
    let slack = SlackFake::start().await;
    slack.add_user("U1", "dana", Some("Dana@Example.com"));
    slack.add_user("U2", "erin", None); // no e-mail: unmapped
    slack.add_user("U3", "carol", None); // no e-mail, but the user_map names her
    slack.add_user("U4", "gone", Some("gone@example.com"));
    slack.delete_user("U4");
    slack.add_bot_user("B1", "deploybot");
    slack.add_channel("C1", "general", true, false);
    slack.add_channel("C2", "random", true, false);
    slack.add_channel("C3", "secret-plans", false, false); // the bot is not in it

    // 3,000 messages over the last three days (the backfill is 7), 1,500 a channel; a few
    // older than the backfill window, and the channel the bot cannot read.
    let now = Utc::now().timestamp() as f64;
    let start = now - 3.0 * 86_400.0;
    let step = 3.0 * 86_400.0 / 1_500.0;
    slack.post_many("C1", &["U1", "U2", "U3"], start, step, 1_500);
    slack.post_many("C2", &["U1", "U4"], start + 1.0, step, 1_500);
    slack.post("C1", "U1", now - 10.0 * 86_400.0, "too old to import");
    slack.post("C3", "U1", now - 3_600.0, "secret needle");
    slack.post("C1", "U1", now - 7_200.0, "the NEEDLE in general");

    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("ATTEST_ENDPOINT_SLACK", slack.api_url()),
        ("ATTEST_ALLOW_LOOPBACK_CONNECTORS", "1".to_owned()),
        ("ATTEST_IMPORT_EVERY", "off".to_owned()),
    ];
    let server = Server::start_env(dir.path(), &backend, true, &env, None);
    let admin = token(dir.path(), "acme", "carla", &["connector_admin"]);
    let reader = token(dir.path(), "acme", "rob", &["reader"]);
    let api = Api {
        http: reqwest::Client::new(),
        server,
    };

    let kinds = api
        .expect(
            &reader,
            Method::GET,
            "/connector-kinds",
            None,
            StatusCode::OK,
        )
        .await;
    assert!(kinds["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["kind"] == "slack" && k["category"] == "communication"));
    api.expect(&admin, Method::POST, "/connectors", Some(json!({"kind": "slack", "name": "Slack", "credentials": {"bot_token": "xoxb-1-2-nope"}})), StatusCode::UNPROCESSABLE_ENTITY).await;
    api.expect(&admin, Method::POST, "/connectors", Some(json!({"kind": "slack", "name": "Slack", "credentials": {"bot_token": slack.bot_token()}, "settings": {"backfill_days": 0}})), StatusCode::UNPROCESSABLE_ENTITY).await;
    let c = api
        .expect(
            &admin,
            Method::POST,
            "/connectors",
            Some(json!({"kind": "slack", "name": "Slack", "credentials": {"bot_token": slack.bot_token()},
                "settings": {"backfill_days": 7, "user_map": {"U3": "carol@example.com"}}})),
            StatusCode::CREATED,
        )
        .await;
    let id = c["id"].as_str().unwrap().to_owned();
    assert_eq!(c["credentials"], json!({"bot_token": "set"}));

    // The first run: the backfill window, each message once.
    let first = api.run(&admin, &id).await;
    assert_eq!(
        first["outcome"], "partially_succeeded",
        "the channel the bot is not in: {first}"
    );
    assert!(
        first["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["category"] == "permission"
                && e["message"].as_str().unwrap().contains("secret-plans")),
        "{first}"
    );
    assert_eq!(first["items_imported"], 3_001, "{first}");
    assert_eq!(first["duplicates_skipped"], 0);
    // U2 (no e-mail) wrote a third of #general, the deleted U4 half of #random.
    assert_eq!(first["unmapped_users"], 1_250, "{first}");
    let items = api
        .all_items(&reader, &id, "&from=2000-01-01T00:00:00Z")
        .await;
    assert_eq!(items.len(), 3_001);
    assert!(
        items
            .windows(2)
            .all(|w| w[0]["at"].as_str() <= w[1]["at"].as_str()),
        "time order"
    );
    let ids: std::collections::BTreeSet<&str> = items
        .iter()
        .map(|i| i["source_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3_001, "no duplicates");
    assert!(!items
        .iter()
        .any(|i| i["text"] == "too old to import" || i["text"] == "secret needle"));
    let carol = items.iter().find(|i| i["external_user"] == "U3").unwrap();
    assert_eq!(carol["person"], "carol@example.com", "mapped by user_map");

    // A second run: new messages, and a late one stamped inside the overlap, arrive; nothing
    // imported before comes again.
    let now2 = Utc::now().timestamp() as f64;
    slack.post("C2", "U1", now2 - 120.0, "late arrival");
    slack.post_many("C1", &["U1"], now2 - 60.0, 0.01, 40);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let second = api.run(&admin, &id).await;
    assert_eq!(second["items_imported"], 41, "{second}");
    assert!(
        second["window"]["from"].as_str() < first["window"]["to"].as_str(),
        "windows overlap: {first} {second}"
    );
    let again = api
        .all_items(&reader, &id, "&from=2000-01-01T00:00:00Z")
        .await;
    assert_eq!(again.len(), 3_001 + 41);

    // Filters: a person's records, and a text search in the window.
    let dana = api
        .all_items(
            &reader,
            &id,
            "&from=2000-01-01T00:00:00Z&person=DANA%40example.com",
        )
        .await;
    assert!(!dana.is_empty() && dana.iter().all(|i| i["person"] == "dana@example.com"));
    let needles = api
        .all_items(&reader, &id, "&from=2000-01-01T00:00:00Z&q=needle")
        .await;
    assert_eq!(needles.len(), 1, "{needles:?}");
    assert_eq!(needles[0]["text"], "the NEEDLE in general");
    let status = api
        .expect(
            &reader,
            Method::GET,
            &format!("/connectors/{id}/status"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(status["items_imported_total"], 3_001 + 41);

    // Roles and tenants.
    api.expect(
        &reader,
        Method::POST,
        &format!("/connectors/{id}/run"),
        None,
        StatusCode::FORBIDDEN,
    )
    .await;
    let other = token(dir.path(), "globex", "gus", &["global_admin"]);
    api.expect(
        &other,
        Method::GET,
        &format!("/connectors/{id}/items"),
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    api.expect(
        &reader,
        Method::GET,
        &format!("/connectors/{id}/items?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z"),
        None,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_on_the_embedded_store() {
    slack_story(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_on_dynamodb_local() {
    let ddb = attest_testkit::dynamodb_local();
    slack_story(Backend::DynamoDb {
        endpoint: ddb.endpoint.clone(),
        table: attest_testkit::unique_name("slack"),
    })
    .await;
}

/// A run killed mid-way (SIGKILL of the server while it waits on a rate limit, pages already
/// committed), the server restarted, the connector run again: every message stored exactly
/// once, none missing.
/// `total` messages: enough pages that the run is caught between two of them (DynamoDB Local
/// writes a page in ~150 ms, the embedded store in ~10 ms).
async fn crash_story(backend: Backend, total: usize) {
    let slack = SlackFake::start().await;
    slack.add_user("U1", "dana", Some("dana@example.com"));
    slack.add_channel("C1", "general", true, false);
    let now = Utc::now().timestamp() as f64;
    slack.post_many(
        "C1",
        &["U1"],
        now - 2.0 * 86_400.0,
        86_400.0 / 20_000.0,
        total,
    );
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("ATTEST_ENDPOINT_SLACK", slack.api_url()),
        ("ATTEST_ALLOW_LOOPBACK_CONNECTORS", "1".to_owned()),
        ("ATTEST_IMPORT_EVERY", "off".to_owned()),
        ("ATTEST_RUN_LEASE_SECS", "5".to_owned()),
    ];
    let server = Server::start_env(dir.path(), &backend, true, &env, None);
    let admin = token(dir.path(), "acme", "carla", &["connector_admin"]);
    let api = Api {
        http: reqwest::Client::new(),
        server,
    };
    let c = api
        .expect(&admin, Method::POST, "/connectors", Some(json!({"kind": "slack", "name": "Slack", "credentials": {"bot_token": slack.bot_token()}})), StatusCode::CREATED)
        .await;
    let id = c["id"].as_str().unwrap().to_owned();
    api.expect(
        &admin,
        Method::POST,
        &format!("/connectors/{id}/run"),
        None,
        StatusCode::ACCEPTED,
    )
    .await;
    // Once pages are committed, hold the run on a rate limit and kill the server.
    let started = Instant::now();
    loop {
        let page = api
            .expect(
                &admin,
                Method::GET,
                &format!("/connectors/{id}/items?limit=1&from=2000-01-01T00:00:00Z"),
                None,
                StatusCode::OK,
            )
            .await;
        if !page["items"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no page committed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    slack.rate_limit_next("conversations.history", 3, 30);
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(api); // SIGKILL

    let server = Server::start_env(dir.path(), &backend, false, &env, None);
    let api = Api {
        http: reqwest::Client::new(),
        server,
    };
    let before = api
        .all_items(&admin, &id, "&from=2000-01-01T00:00:00Z")
        .await
        .len();
    assert!(
        before > 0 && before < total,
        "killed mid-run: {before} of {total} stored"
    );
    let history = api
        .expect(
            &admin,
            Method::GET,
            &format!("/connectors/{id}/history"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        history["items"],
        json!([]),
        "the killed run recorded nothing"
    );
    slack.clear_rate_limits();
    tokio::time::sleep(Duration::from_secs(6)).await; // the dead run's lease expires
    let run = api.run(&admin, &id).await;
    assert_eq!(run["outcome"], "succeeded", "{run}");
    assert_eq!(run["items_imported"], (total - before) as u64, "{run}");
    assert_eq!(run["duplicates_skipped"], before as u64, "{run}");
    let items = api
        .all_items(&admin, &id, "&from=2000-01-01T00:00:00Z")
        .await;
    assert_eq!(items.len(), total, "no gaps");
    let ids: std::collections::BTreeSet<&str> = items
        .iter()
        .map(|i| i["source_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), total, "no duplicates");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_run_then_a_new_one_store_each_message_once_on_the_embedded_store() {
    crash_story(Backend::Embedded, 20_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_run_then_a_new_one_store_each_message_once_on_dynamodb_local() {
    let ddb = attest_testkit::dynamodb_local();
    crash_story(
        Backend::DynamoDb {
            endpoint: ddb.endpoint.clone(),
            table: attest_testkit::unique_name("slackcrash"),
        },
        5_000,
    )
    .await;
}

/// HR records and badge events pushed to their connectors: bad rows reported by line, good
/// ones kept, a re-upload storing nothing twice, signals per person, the people leaving, and a
/// badge event after a last working date raising a `departing_user_activity` signal and alert.
async fn insider_story(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let env = [("ATTEST_IMPORT_EVERY", "off".to_owned())];
    let server = Server::start_env(dir.path(), &backend, true, &env, None);
    let admin = token(dir.path(), "acme", "carla", &["connector_admin"]);
    let officer = token(dir.path(), "acme", "alice", &["administrator"]);
    let reader = token(dir.path(), "acme", "rob", &["reader"]);
    let api = Api {
        http: reqwest::Client::new(),
        server,
    };
    let columns = json!({"email": "EmailAddress", "resignation_date": "ResignationDate", "last_working_date": "LastWorkingDate"});
    let refused = api
        .expect(&admin, Method::POST, "/connectors", Some(json!({"kind": "hr_csv", "name": "HR", "credentials": {}, "settings": {"columns": columns}})), StatusCode::UNPROCESSABLE_ENTITY)
        .await;
    assert!(
        refused["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == "settings.record_type"),
        "{refused}"
    );
    let hr = api
        .expect(&admin, Method::POST, "/connectors", Some(json!({"kind": "hr_csv", "name": "HR", "credentials": {}, "settings": {"record_type": "resignation", "columns": columns}})), StatusCode::CREATED)
        .await;
    let hr_id = hr["id"].as_str().unwrap().to_owned();

    let today = Utc::now().date_naive();
    let left = today - chrono::Days::new(20);
    let later = today + chrono::Days::new(200);
    let csv = format!(
        "EmailAddress,ResignationDate,LastWorkingDate\r\n\
         Dana@Example.com,{},{left}\r\n\
         not-an-address,2026-10-01,2026-11-01\r\n\
         erin@example.com,someday,2026-12-01\r\n\
         frank@example.com,{}T09:00:00+01:00,{later}\r\n",
        left - chrono::Days::new(30),
        today - chrono::Days::new(1),
    );
    let upload = |who: &str, id: &str, content_type: &str, body: String| {
        api.http
            .post(api.server.url(&format!("/connectors/{id}/upload")))
            .bearer_auth(who.to_owned())
            .header("Content-Type", content_type.to_owned())
            .body(body)
    };
    let (s, b, _) = send(upload(&admin, &hr_id, "text/csv", csv.clone())).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["run"]["items_imported"], 2, "{b}");
    let errors: Vec<&str> = b["run"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(
        errors.iter().any(|m| m.starts_with("line 3:"))
            && errors.iter().any(|m| m.starts_with("line 4:")),
        "{errors:?}"
    );
    assert_eq!(errors.len(), 2, "{errors:?}");
    let (s, again, _) = send(upload(&admin, &hr_id, "text/csv", csv.clone())).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again["run"]["items_imported"], 0, "{again}");
    assert_eq!(again["run"]["duplicates_skipped"], 2, "{again}");
    assert_eq!(
        send(upload(&reader, &hr_id, "text/csv", csv.clone()))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(upload(&admin, &hr_id, "text/plain", csv)).await.0,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );

    let dana = api
        .expect(
            &reader,
            Method::GET,
            "/people/dana@example.com/signals",
            None,
            StatusCode::OK,
        )
        .await;
    let kinds: Vec<&str> = dana["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["resignation"], "{dana}");
    let departing = api
        .expect(
            &reader,
            Method::GET,
            "/insider-risk/departing",
            None,
            StatusCode::OK,
        )
        .await;
    let people: Vec<&str> = departing["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["person"].as_str().unwrap())
        .collect();
    assert_eq!(
        people,
        ["dana@example.com"],
        "frank leaves in 200 days: {departing}"
    );

    // A policy on departing users' activity; a badge event of Dana's after her last day.
    api.expect(&officer, Method::POST, "/alert-policies", Some(json!({"name": "Leavers in the building", "event": "departing_user_activity", "severity": "high"})), StatusCode::CREATED).await;
    let doors = api
        .expect(&admin, Method::POST, "/connectors", Some(json!({"kind": "badge", "name": "Doors", "credentials": {}, "settings": {"user_map": {"E100": "dana@example.com"}}})), StatusCode::CREATED)
        .await;
    let doors_id = doors["id"].as_str().unwrap().to_owned();
    let at = (Utc::now() - chrono::TimeDelta::hours(1)).to_rfc3339();
    let events = json!([
        {"UserId": "E100", "AssetId": "D1", "AssetName": "Server room", "EventTime": at, "AccessStatus": "Success"},
        {"UserId": "E200", "AssetId": "D1", "AssetName": "Server room", "EventTime": "yesterday", "AccessStatus": "Success"},
    ]);
    let (s, b, _) = send(upload(
        &admin,
        &doors_id,
        "application/json",
        events.to_string(),
    ))
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["run"]["items_imported"], 1, "{b}");
    assert!(
        b["run"]["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("entry 1:"),
        "{b}"
    );
    assert_eq!(b["signals_recorded"], 1, "{b}");
    let dana = api
        .expect(
            &reader,
            Method::GET,
            "/people/dana@example.com/signals",
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        dana["items"][0]["kind"], "departing_user_activity",
        "{dana}"
    );
    let started = Instant::now();
    loop {
        let alerts = api
            .expect(&reader, Method::GET, "/alerts", None, StatusCode::OK)
            .await;
        if alerts["items"].as_array().unwrap().iter().any(|a| {
            a["severity"] == "high"
                && a["title"]
                    .as_str()
                    .unwrap_or("")
                    .to_lowercase()
                    .contains("depart")
        }) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no alert: {alerts}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let items = api
        .all_items(&reader, &doors_id, "&from=2000-01-01T00:00:00Z")
        .await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["person"], "dana@example.com");
    api.expect(
        &admin,
        Method::POST,
        &format!("/connectors/{doors_id}/run"),
        None,
        StatusCode::CONFLICT,
    )
    .await;
    let other = token(dir.path(), "globex", "gus", &["global_admin"]);
    // Another organisation knows nobody of that address.
    api.expect(
        &other,
        Method::GET,
        "/people/dana@example.com/signals",
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hr_and_badge_uploads_on_the_embedded_store() {
    insider_story(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hr_and_badge_uploads_on_dynamodb_local() {
    let ddb = attest_testkit::dynamodb_local();
    insider_story(Backend::DynamoDb {
        endpoint: ddb.endpoint.clone(),
        table: attest_testkit::unique_name("insider"),
    })
    .await;
}
