//! The core workflow end to end, over HTTP against `attest serve`, as a compliance team lives
//! it: import NIST's moderate baseline, two groups, two regulations sharing actions in one
//! group, the role matrix, concurrency, the 409 rules, tenant isolation, archiving, history,
//! scores — and all of it unchanged after a restart. The same story runs on the embedded
//! store and on DynamoDB Local.

mod common;

use std::path::Path;

use common::{send, shared_data, token, Backend, Server};
use reqwest::StatusCode;
use serde_json::{json, Value};

const NIST: &str = "nist-800-53-r5-moderate";
const ISO: &str = "iso-27001-2022";
const GDPR: &str = "gdpr";

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
    async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        let (s, b, _) = send(self.http.get(self.url(path)).bearer_auth(token)).await;
        (s, b)
    }
    async fn post(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        let (s, b, _) = send(
            self.http
                .post(self.url(path))
                .bearer_auth(token)
                .json(&body),
        )
        .await;
        (s, b)
    }
    async fn patch(
        &self,
        token: &str,
        path: &str,
        if_match: Option<u64>,
        body: Value,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .patch(self.url(path))
            .bearer_auth(token)
            .json(&body);
        if let Some(v) = if_match {
            req = req.header("if-match", format!("\"{v}\""));
        }
        let (s, b, _) = send(req).await;
        (s, b)
    }
    async fn ok(&self, token: &str, path: &str) -> Value {
        let (s, b) = self.get(token, path).await;
        assert_eq!(s, StatusCode::OK, "GET {path}: {b}");
        b
    }
    async fn score(&self, token: &str, assessment: &str) -> u64 {
        self.ok(token, &format!("/assessments/{assessment}")).await["score"]["achieved"]
            .as_u64()
            .unwrap()
    }
}

struct Tokens {
    admin: String,
    assessor: String,
    contributor: String,
    reader: String,
    global: String,
    connector: String,
    other: String,
}

fn tokens(dir: &Path) -> Tokens {
    Tokens {
        admin: token(dir, "acme", "ada", &["administrator"]),
        assessor: token(dir, "acme", "sam", &["assessor"]),
        contributor: token(dir, "acme", "cara", &["contributor"]),
        reader: token(dir, "acme", "rob", &["reader"]),
        global: token(dir, "acme", "gina", &["global_admin"]),
        connector: token(dir, "acme", "connie", &["connector_admin"]),
        other: token(dir, "globex", "gus", &["global_admin"]),
    }
}

/// Everything a restart must keep: assessments with scores, and the overall score.
async fn state_of(api: &Api, t: &Tokens) -> (Value, Value) {
    let list = api
        .ok(&t.reader, "/assessments?include_archived=true")
        .await;
    let score = api.ok(&t.reader, "/score").await;
    (list, score)
}

async fn story(backend: Backend) {
    let Some(moderate) =
        shared_data("NIST_SP-800-53_rev5_MODERATE-baseline-resolved-profile_catalog-min.json")
    else {
        return; // Not run, and said so (under CI=true, failed instead).
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start_with(&data, &backend, true);
    let api = Api {
        http: reqwest::Client::new(),
        base: server.base.clone(),
    };
    let t = tokens(&data);

    // --- Import NIST's moderate baseline as the built-in NIST regulation's controls.
    let catalog = std::fs::read(&moderate).unwrap();
    let (status, _, _) = send(
        api.http
            .post(api.url("/regulations/import/oscal?map_as=nist-800-53-r5-moderate&name=NIST%20moderate%20(OSCAL)"))
            .bearer_auth(&t.contributor)
            .header("content-type", "application/json")
            .body(catalog.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only administrators import");
    let (status, imported, _) = send(
        api.http
            .post(api.url("/regulations/import/oscal?map_as=nist-800-53-r5-moderate&name=NIST%20moderate%20(OSCAL)"))
            .bearer_auth(&t.admin)
            .header("content-type", "application/json")
            .body(catalog),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{imported}");
    assert_eq!(imported["control_count"], 287);
    assert_eq!(imported["families"].as_array().unwrap().len(), 18);
    let nist_oscal = imported["id"].as_str().unwrap().to_owned();
    let ac2 = &imported["families"][0]["controls"][1];
    assert_eq!(ac2["id"], "AC-2");
    assert!(
        ac2["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == "identity-lifecycle"),
        "{ac2}"
    );
    let regs = api.ok(&t.reader, "/regulations").await;
    let ids: Vec<&str> = regs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&NIST) && ids.contains(&ISO) && ids.contains(&nist_oscal.as_str()),
        "{ids:?}"
    );

    // --- Two groups. Europe: the imported NIST catalog and ISO 27001 for AWS. Americas: GDPR.
    let (status, nist_a) = api
        .post(
            &t.admin,
            "/assessments",
            json!({"regulation_id": nist_oscal, "group_name": "Europe", "services": ["AWS"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{nist_a}");
    let europe = nist_a["group_id"].as_str().unwrap().to_owned();
    let nist_a = nist_a["id"].as_str().unwrap().to_owned();
    let (status, iso_a) = api
        .post(
            &t.admin,
            "/assessments",
            json!({"regulation_id": ISO, "group_id": europe, "services": ["aws"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{iso_a}");
    let iso_a = iso_a["id"].as_str().unwrap().to_owned();
    let (status, gdpr_a) = api
        .post(
            &t.admin,
            "/assessments",
            json!({"regulation_id": GDPR, "group_name": "Americas", "services": ["aws"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{gdpr_a}");
    let americas = gdpr_a["group_id"].as_str().unwrap().to_owned();
    let gdpr_a = gdpr_a["id"].as_str().unwrap().to_owned();

    // 409 rules for groups and assessments.
    let (status, _) = api
        .post(&t.admin, "/groups", json!({"name": "europe"}))
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "group names are unique without regard to case"
    );
    let (status, body) = api
        .post(
            &t.admin,
            "/assessments",
            json!({"regulation_id": ISO, "group_id": europe, "services": ["AWS"]}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "one assessment per (regulation, service) in a group: {body}"
    );
    let (status, _) = api
        .post(
            &t.admin,
            "/assessments",
            json!({"regulation_id": ISO, "group_name": "AMERICAS", "services": ["gcp"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // The controls listing, with filters.
    let controls = api
        .ok(&t.reader, &format!("/assessments/{nist_a}/controls"))
        .await;
    assert_eq!(controls["items"].as_array().unwrap().len(), 287);
    assert_eq!(controls["progress"]["controls_total"], 287);
    let some = api
        .ok(
            &t.reader,
            &format!("/assessments/{nist_a}/controls?control=AC-2&control=ia-2(1)"),
        )
        .await;
    let ids: Vec<&str> = some["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    // `control=` finds the control and what continues it after a non-alphanumeric
    // character (AC-2's enhancements), never AC-20.
    assert_eq!(ids.first(), Some(&"AC-2"));
    assert_eq!(ids.last(), Some(&"IA-2(1)"));
    assert!(ids.len() > 3, "{ids:?}");
    assert!(
        ids[..ids.len() - 1]
            .iter()
            .all(|i| *i == "AC-2" || i.starts_with("AC-2(")),
        "{ids:?}"
    );
    let family = api
        .ok(
            &t.reader,
            &format!("/assessments/{nist_a}/controls?article=AT"),
        )
        .await;
    assert_eq!(
        family["items"].as_array().unwrap().len(),
        6,
        "AT has six controls in the moderate baseline"
    );
    let (status, body) = api
        .get(
            &t.reader,
            &format!("/assessments/{nist_a}/controls?test_status=great"),
        )
        .await;
    assert_eq!(
        (status, body["errors"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("test_status"))
    );

    // --- One technical action serves every regulation: update it once, every assessment moves.
    let before = (
        api.score(&t.reader, &nist_a).await,
        api.score(&t.reader, &iso_a).await,
        api.score(&t.reader, &gdpr_a).await,
    );
    let mfa = api.ok(&t.reader, "/actions/mfa-admins").await;
    assert_eq!(mfa["version"], 0);
    assert_eq!(mfa["points"], 27);
    assert_eq!(mfa["assessments"].as_array().unwrap().len(), 3);
    let (status, _) = api
        .patch(
            &t.reader,
            "/actions/mfa-admins",
            None,
            json!({"owner": "rob"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "readers read");
    let (status, _) = api
        .patch(
            &t.connector,
            "/actions/mfa-admins",
            None,
            json!({"owner": "rob"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "connector admins manage connectors only"
    );
    let (status, _) = api
        .patch(
            &t.contributor,
            "/actions/mfa-admins",
            None,
            json!({"test_status": "in_progress"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "contributors cannot set test results"
    );
    let (status, body) = api
        .patch(
            &t.assessor,
            "/actions/mfa-admins",
            Some(0),
            json!({"test_status": "passed"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "passed needs an implemented action: {body}"
    );
    let (status, body) = api
        .patch(&t.contributor, "/actions/mfa-admins", Some(0), json!({"owner": "cara@acme.test", "implementation_status": "implemented", "implementation_date": "2026-11-01", "implementation_notes": "FIDO2 keys for all admins"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"], 1);
    let (status, _) = api
        .patch(
            &t.assessor,
            "/actions/mfa-admins",
            Some(0),
            json!({"test_status": "passed"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::PRECONDITION_FAILED,
        "a stale If-Match changes nothing"
    );
    assert_eq!(
        api.ok(&t.reader, "/actions/mfa-admins").await["test_status"],
        "none"
    );
    let (status, body) = api
        .patch(
            &t.assessor,
            "/actions/mfa-admins",
            Some(1),
            json!({"test_status": "passed", "test_date": "2026-11-20"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let after = (
        api.score(&t.reader, &nist_a).await,
        api.score(&t.reader, &iso_a).await,
        api.score(&t.reader, &gdpr_a).await,
    );
    assert_eq!(
        after,
        (before.0 + 27, before.1 + 27, before.2 + 27),
        "one technical action moved all three assessments"
    );

    // A documentation action is shared within its group only.
    let policy_eu = format!("infosec-policy@{europe}");
    let (status, body) = api
        .patch(
            &t.admin,
            &format!("/actions/{policy_eu}"),
            None,
            json!({"implementation_status": "implemented", "test_status": "passed"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let after_doc = (
        api.score(&t.reader, &nist_a).await,
        api.score(&t.reader, &iso_a).await,
        api.score(&t.reader, &gdpr_a).await,
    );
    assert_eq!(
        after_doc,
        (after.0 + 27, after.1 + 27, after.2),
        "the Europe group's assessments moved, Americas did not"
    );
    let americas_policy = api
        .ok(&t.reader, &format!("/actions/infosec-policy@{americas}"))
        .await;
    assert_eq!(americas_policy["implementation_status"], "not_implemented");
    let (status, _) = api
        .get(&t.reader, &format!("/actions/mfa-admins@{europe}"))
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "technical actions have no per-group instance"
    );

    // Overall score: the technical action counts once, the policy once for Europe.
    let score = api.ok(&t.reader, "/score").await;
    assert_eq!(score["assessments"], 3);
    assert!(score["by_category"]
        .as_array()
        .unwrap()
        .iter()
        .any(
            |c| c["category"] == "control_access" && c["score"]["achieved"].as_u64().unwrap() >= 27
        ));

    // Provider-managed actions are the provider's: they earn by default and do not change here.
    let (status, body) = api
        .patch(
            &t.admin,
            "/actions/dc-perimeter",
            None,
            json!({"owner": "ada"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        api.ok(&t.reader, "/actions/dc-perimeter").await["score"]["achieved"],
        27
    );

    // Automatic testing: connectors own the result until switched back to manual.
    let (status, _) = api
        .patch(
            &t.assessor,
            "/actions/patching",
            None,
            json!({"testing_type": "automatic"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = api
        .patch(
            &t.assessor,
            "/actions/patching",
            None,
            json!({"test_notes": "looked at it"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Bulk assign, then the filters of GET /actions.
    let (status, body) = api
        .post(
            &t.contributor,
            "/actions/assign",
            json!({"action_ids": ["patching", "backups", policy_eu], "owner": "olga@acme.test"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["items"].as_array().unwrap().len(), 3);
    let (status, body) = api
        .post(
            &t.contributor,
            "/actions/assign",
            json!({"action_ids": ["patching", "no-such-action"], "owner": "x"}),
        )
        .await;
    assert_eq!(
        (status, body["errors"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("action_ids[1]"))
    );
    assert_eq!(
        api.ok(&t.reader, "/actions/patching").await["owner"],
        "olga@acme.test",
        "the refused bulk request changed nothing"
    );
    let owned = api.ok(&t.reader, "/actions?owner=olga@acme.test").await;
    let ids: Vec<&str> = owned["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    let passed = api
        .ok(
            &t.reader,
            "/actions?test_status=passed&implementation_status=implemented",
        )
        .await;
    assert_eq!(passed["items"].as_array().unwrap().len(), 2);
    let page1 = api
        .ok(&t.reader, &format!("/actions?group={europe}&limit=25"))
        .await;
    let cursor = page1["next_cursor"].as_str().unwrap();
    let page2 = api
        .ok(
            &t.reader,
            &format!("/actions?group={europe}&limit=25&cursor={cursor}"),
        )
        .await;
    assert_ne!(page1["items"][0]["id"], page2["items"][0]["id"]);

    // History, newest first, with who, field, old, new and source.
    let history = api.ok(&t.reader, "/actions/mfa-admins/history").await;
    let entries = history["items"].as_array().unwrap();
    assert_eq!(entries[0]["field"], "test_status");
    assert_eq!(
        (entries[0]["old"].as_str(), entries[0]["new"].as_str()),
        (Some("none"), Some("passed"))
    );
    assert_eq!(entries[0]["by"], "sam");
    assert_eq!(entries[0]["source"], "manual");
    assert!(entries
        .iter()
        .any(|e| e["field"] == "owner" && e["new"] == "cara@acme.test" && e["by"] == "cara"));
    assert_eq!(entries.len(), 6);

    // Related controls across regulations.
    let related = api.ok(&t.reader, "/actions/mfa-admins/controls").await;
    let regs: std::collections::BTreeSet<&str> = related["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["regulation_id"].as_str().unwrap())
        .collect();
    assert!(
        regs.contains(NIST)
            && regs.contains(ISO)
            && regs.contains(GDPR)
            && regs.contains(nist_oscal.as_str()),
        "{regs:?}"
    );

    // Users: roles assigned in the app add to the token's.
    let (status, _, _) = send(
        api.http
            .put(api.url("/users/rob/roles"))
            .bearer_auth(&t.admin)
            .json(&json!({"roles": ["assessor"]})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "only global admins manage roles"
    );
    let (status, body, _) = send(
        api.http
            .put(api.url("/users/rob/roles"))
            .bearer_auth(&t.global)
            .json(&json!({"roles": ["contributor"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = api
        .patch(
            &t.reader,
            "/actions/backups",
            None,
            json!({"implementation_notes": "daily snapshots"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "rob is now also a contributor: {}",
        api.ok(&t.reader, "/users").await
    );
    let users = api.ok(&t.reader, "/users").await;
    assert!(users["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["id"] == "rob" && u["roles"] == json!(["contributor"])));

    // --- Archive the ISO assessment: it freezes while the live NIST assessment moves on.
    let (status, _) = api
        .post(
            &t.assessor,
            &format!("/assessments/{iso_a}/archive"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let frozen_score = api.score(&t.reader, &iso_a).await;
    let (status, archived) = api
        .post(
            &t.admin,
            &format!("/assessments/{iso_a}/archive"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{archived}");
    assert_eq!(archived["archived"], true);
    let (status, _) = api
        .post(
            &t.admin,
            &format!("/assessments/{iso_a}/archive"),
            json!({}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "archiving is irreversible and once only"
    );
    let nist_before = api.score(&t.reader, &nist_a).await;
    let (status, body) = api
        .patch(
            &t.admin,
            "/actions/encryption-at-rest",
            None,
            json!({"implementation_status": "implemented", "test_status": "passed"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        api.score(&t.reader, &iso_a).await,
        frozen_score,
        "the archive stays frozen"
    );
    assert_eq!(
        api.score(&t.reader, &nist_a).await,
        nist_before + 27,
        "the live assessment moves"
    );
    let frozen = api
        .ok(
            &t.reader,
            &format!("/assessments/{iso_a}/controls?control=A.8.24"),
        )
        .await;
    assert_eq!(frozen["archived"], true);
    assert_eq!(
        frozen["items"][0]["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == "encryption-at-rest")
            .unwrap()["test_status"],
        "none"
    );
    let live_list = api.ok(&t.reader, "/assessments").await;
    assert_eq!(
        live_list["items"].as_array().unwrap().len(),
        2,
        "archived ones are left out by default"
    );
    let all_list = api
        .ok(&t.reader, "/assessments?include_archived=true")
        .await;
    assert_eq!(all_list["items"].as_array().unwrap().len(), 3);
    // The pair is free again in the group once archived.
    let (status, iso_again) = api
        .post(
            &t.admin,
            "/assessments",
            json!({"regulation_id": ISO, "group_id": europe, "services": ["aws"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{iso_again}");
    let iso_again = iso_again["id"].as_str().unwrap().to_owned();
    let (status, _, _) = send(
        api.http
            .delete(api.url(&format!("/assessments/{iso_again}")))
            .bearer_auth(&t.contributor),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = send(
        api.http
            .delete(api.url(&format!("/assessments/{iso_again}")))
            .bearer_auth(&t.admin),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api
        .get(&t.reader, &format!("/assessments/{iso_again}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // --- Another tenant sees none of it.
    for path in [
        format!("/assessments/{nist_a}"),
        format!("/assessments/{nist_a}/controls"),
        format!("/groups/{europe}"),
        "/actions/mfa-admins".to_owned(),
        "/actions/mfa-admins/history".to_owned(),
        "/actions/mfa-admins/controls".to_owned(),
        format!("/actions/{policy_eu}"),
        format!("/regulations/{nist_oscal}"),
    ] {
        let (status, _) = api.get(&t.other, &path).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "GET {path} from another tenant"
        );
    }
    let (status, _) = api
        .patch(
            &t.other,
            "/actions/mfa-admins",
            None,
            json!({"owner": "gus"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api
        .post(
            &t.other,
            &format!("/assessments/{nist_a}/archive"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = send(
        api.http
            .delete(api.url(&format!("/assessments/{nist_a}")))
            .bearer_auth(&t.other),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(api.ok(&t.other, "/assessments").await["items"], json!([]));
    assert_eq!(api.ok(&t.other, "/score").await["overall"]["possible"], 0);

    // --- A copy of Europe into a new group starts from its shared actions and their links.
    let (status, body) = api
        .post(
            &t.contributor,
            &format!("/actions/{policy_eu}/evidence"),
            json!({"kind": "link", "name": "Policy", "url": "https://intranet.acme.test/policy"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, copied) = api
        .post(&t.admin, "/assessments", json!({"regulation_id": GDPR, "group_name": "Europe 2027", "copy_from": europe, "services": ["aws"]}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{copied}");
    let new_group = copied["group_id"].as_str().unwrap();
    let copy = api
        .ok(&t.reader, &format!("/actions/infosec-policy@{new_group}"))
        .await;
    assert_eq!(
        (
            copy["implementation_status"].as_str(),
            copy["owner"].as_str()
        ),
        (Some("implemented"), Some("olga@acme.test"))
    );
    let copy_history = api
        .ok(
            &t.reader,
            &format!("/actions/infosec-policy@{new_group}/history"),
        )
        .await;
    assert!(copy_history["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["source"] == "import"));
    let links = api
        .ok(
            &t.reader,
            &format!("/actions/infosec-policy@{new_group}/evidence"),
        )
        .await;
    assert_eq!(
        links["items"][0]["url"], "https://intranet.acme.test/policy",
        "{links}"
    );

    // --- Restart: the same data and scores.
    let before_restart = state_of(&api, &t).await;
    drop(server);
    let server = Server::start_with(&data, &backend, false);
    let api = Api {
        http: reqwest::Client::new(),
        base: server.base.clone(),
    };
    assert_eq!(state_of(&api, &t).await, before_restart);
    assert_eq!(
        api.ok(&t.reader, "/actions/mfa-admins").await["test_status"],
        "passed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn story_on_the_embedded_store() {
    story(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn story_on_dynamodb_local() {
    let local = attest_testkit::dynamodb_local();
    story(Backend::DynamoDb {
        endpoint: local.endpoint.clone(),
        table: attest_testkit::unique_name("story"),
    })
    .await;
}
