//! Bad input on every route of the route table gets a 4xx problem+json that names the
//! problem — never a 5xx — and changes nothing.

mod common;

use attest_api::routes::table::ROUTES;
use common::{send, status_for_declared_body, status_for_declared_typed_body, token, Server};

use attest_api::body::XLSX;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_bad_input_with_a_named_problem() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data);
    // A fresh connection per request: the server closes one whose body it refused unread.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let boss = token(&data, "acme", "boss", &["global_admin"]);
    let mut checked = 0;
    for r in ROUTES {
        let url = server.url(&r.path.replace("/api/compliance", "").replace("{id}", "x1"));
        let method = reqwest::Method::from_bytes(r.method.as_bytes()).unwrap();
        let req = || http.request(method.clone(), &url).bearer_auth(&boss);
        if r.body == Some("Workbook") {
            // A workbook is the body itself: anything else is the wrong media type, and more
            // than the route's limit is refused from the declared length.
            for (ct, text) in [("application/json", "{,}"), ("text/plain", "hello")] {
                let (status, body, _) = send(req().header("content-type", ct).body(text)).await;
                assert_eq!(
                    status,
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "{} {} {ct}: {body}",
                    r.method,
                    r.path
                );
                assert!(body["detail"].as_str().unwrap().contains(".xlsx"), "{body}");
            }
            let status =
                status_for_declared_typed_body(&url, r.method, &boss, XLSX, r.body_limit + 1).await;
            assert_eq!(status, 413, "{} {} over its limit", r.method, r.path);
            checked += 1;
        } else if r.body.is_some() {
            let (status, body, _) =
                send(req().header("content-type", "application/json").body("{,}")).await;
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "{} {} malformed JSON: {body}",
                r.method,
                r.path
            );
            assert!(
                body["detail"].as_str().unwrap().contains("not valid JSON"),
                "{body}"
            );

            let (status, body, _) = send(
                req().json(&json!({"colour": ["red"], "name": 42, "roles": "x", "action_ids": 1})),
            )
            .await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{} {} wrong shape: {body}",
                r.method,
                r.path
            );
            assert!(!body["detail"].as_str().unwrap().is_empty());

            let (status, _, _) =
                send(req().header("content-type", "text/plain").body("hello")).await;
            assert_eq!(
                status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{} {} text/plain",
                r.method,
                r.path
            );

            let status = status_for_declared_body(&url, r.method, &boss, 7 * 1024 * 1024).await;
            assert_eq!(status, 413, "{} {} 7 MB body", r.method, r.path);
            checked += 1;
        }
        if !r.query.is_empty() {
            let mut bogus = http
                .request(method.clone(), format!("{url}?bogus=1"))
                .bearer_auth(&boss);
            if r.body == Some("Workbook") {
                bogus = bogus.header("content-type", XLSX);
            }
            let (status, body, _) = send(bogus).await;
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "{} {} unknown parameter: {body}",
                r.method,
                r.path
            );
            assert_eq!(body["errors"][0]["field"], "bogus");
        }
    }
    assert!(checked >= 8, "{checked} routes with bodies");

    // Unknown enum values, missing fields and wrong types name the field.
    let cases = [
        (
            "/assessments",
            json!({"regulation_id": "gdpr", "group_name": "G"}),
            "services",
        ),
        (
            "/assessments",
            json!({"regulation_id": "gdpr", "group_name": "G", "services": "aws"}),
            "services",
        ),
        (
            "/assessments",
            json!({"regulation_id": "no-such", "group_name": "G", "services": ["aws"]}),
            "regulation_id",
        ),
        (
            "/assessments",
            json!({"regulation_id": "gdpr", "services": ["aws"]}),
            "group_id",
        ),
        (
            "/assessments",
            json!({"regulation_id": "gdpr", "group_name": "G", "services": [" "]}),
            "services",
        ),
        ("/groups", json!({"name": ""}), "name"),
        (
            "/regulations",
            json!({"name": "R", "families": []}),
            "families",
        ),
        (
            "/regulations",
            json!({"name": "R", "families": [{"id": "F", "title": "F", "controls": [{"id": "1", "title": "t", "actions": ["nope"]}]}]}),
            "families[0].controls[0].actions",
        ),
    ];
    for (path, body, field) in cases {
        let (status, problem, _) =
            send(http.post(server.url(path)).bearer_auth(&boss).json(&body)).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path} {body}: {problem}"
        );
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    let (status, problem, _) = send(
        http.post(server.url("/regulations/import/oscal"))
            .bearer_auth(&boss)
            .json(&json!({"profile": {}})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        problem["detail"].as_str().unwrap().contains("catalog"),
        "{problem}"
    );
    let (status, problem, _) = send(
        http.post(server.url("/regulations/import/oscal?map_as=sox"))
            .bearer_auth(&boss)
            .json(&json!({})),
    )
    .await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("map_as"))
    );
    let (status, _, _) = send(http.get(server.url("/actions?limit=0")).bearer_auth(&boss)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _, _) = send(
        http.get(server.url("/actions?cursor=%%%"))
            .bearer_auth(&boss),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // None of it was stored.
    let (_, groups, _) = send(http.get(server.url("/groups")).bearer_auth(&boss)).await;
    assert_eq!(groups["items"], json!([]));
    let (_, regs, _) = send(http.get(server.url("/regulations")).bearer_auth(&boss)).await;
    assert_eq!(
        regs["items"].as_array().unwrap().len(),
        4,
        "only the built-in ones"
    );
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let (status, doc, _) = send(reqwest::Client::new().get(server.url("/openapi.json"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    for r in ROUTES {
        let op = &doc["paths"][r.path][r.method.to_lowercase()];
        assert!(op.is_object(), "{} {} missing", r.method, r.path);
        for code in ["200", "201", "204"]
            .iter()
            .filter(|c| op["responses"][**c].is_object())
        {
            let schema = &op["responses"][*code]["content"]["application/json"]["schema"]["$ref"];
            if let Some(name) = schema.as_str() {
                let name = name.rsplit('/').next().unwrap();
                assert!(
                    doc["components"]["schemas"][name].is_object(),
                    "{name} is not defined"
                );
            }
        }
        if let Some(body) = r.body {
            assert!(
                doc["components"]["schemas"][body].is_object(),
                "{body} is not defined"
            );
            assert!(op["responses"]["422"].is_object());
        }
        if r.permission.is_some() {
            assert!(op["responses"]["401"].is_object() && op["responses"]["403"].is_object());
        }
    }
    let paths = doc["paths"].as_object().unwrap();
    let ops: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(ops, ROUTES.len(), "no operation the table does not have");
    assert_eq!(
        doc["components"]["schemas"]["TestStatus"]["enum"]
            .as_array()
            .unwrap()
            .len(),
        13
    );
}
