//! `attest serve` and `attest token` as a user runs them: the real binary, over HTTP.

mod common;

use std::process::Command;

use common::{send, token, Server, BIN};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn serve_groups_roles_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let http = reqwest::Client::new();
    let server = Server::start(&data);
    assert!(
        server
            .data_line
            .contains(data.canonicalize().unwrap().to_str().unwrap()),
        "{}",
        server.data_line
    );

    let (status, body, _) = send(http.get(server.url("/health"))).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );

    let (status, _, headers) = send(http.get(server.url("/groups"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["www-authenticate"], "Bearer");

    let admin = token(&data, "acme", "alice", &["administrator"]);
    let reader = token(&data, "acme", "rob", &["reader"]);
    let contributor = token(&data, "acme", "cara", &["contributor"]);
    let other = token(&data, "globex", "gus", &["global_admin"]);

    let (status, body, _) = send(http.get(server.url("/groups")).bearer_auth(&reader)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["items"], json!([]));

    let (status, created, headers) = send(
        http.post(server.url("/groups"))
            .bearer_auth(&admin)
            .json(&json!({"name": "Europe"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(headers["etag"], "\"1\"");
    assert_eq!(created["name"], "Europe");
    assert_eq!(created["created_by"], "alice");
    let id = created["id"].as_str().unwrap().to_owned();

    let (status, body, _) = send(
        http.post(server.url("/groups"))
            .bearer_auth(&admin)
            .json(&json!({"name": "  europe "})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("already exists"));

    let (status, _, _) = send(
        http.post(server.url("/groups"))
            .bearer_auth(&reader)
            .json(&json!({"name": "Asia"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = send(
        http.post(server.url("/groups"))
            .bearer_auth(&contributor)
            .json(&json!({"name": "Asia"})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "creating groups is an administrator's job"
    );

    // Rename: contributors may; readers may not; a stale If-Match changes nothing.
    let group_url = server.url(&format!("/groups/{id}"));
    let (status, _, _) = send(
        http.patch(&group_url)
            .bearer_auth(&reader)
            .json(&json!({"name": "EMEA"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, renamed, headers) = send(
        http.patch(&group_url)
            .bearer_auth(&contributor)
            .header("if-match", "\"1\"")
            .json(&json!({"name": "EMEA"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(
        (renamed["name"].as_str(), renamed["version"].as_u64()),
        (Some("EMEA"), Some(2))
    );
    assert_eq!(headers["etag"], "\"2\"");
    let (status, body, _) = send(
        http.patch(&group_url)
            .bearer_auth(&admin)
            .header("if-match", "\"1\"")
            .json(&json!({"name": "Asia"})),
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    let (_, current, _) = send(http.get(&group_url).bearer_auth(&reader)).await;
    assert_eq!(current["name"], "EMEA");
    // The old name is free again.
    let (status, _, _) = send(
        http.post(server.url("/groups"))
            .bearer_auth(&admin)
            .json(&json!({"name": "Europe"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    // Another tenant sees nothing of acme's and cannot touch it.
    let (_, body, _) = send(http.get(server.url("/groups")).bearer_auth(&other)).await;
    assert_eq!(body["items"], json!([]));
    let (status, _, _) = send(http.get(&group_url).bearer_auth(&other)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = send(
        http.patch(&group_url)
            .bearer_auth(&other)
            .json(&json!({"name": "Mine"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Data survives a restart.
    drop(server);
    let server = Server::start(&data);
    let (status, body, _) = send(http.get(server.url("/groups")).bearer_auth(&reader)).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["EMEA", "Europe"]);
    // And tokens minted before the restart still work (the secret lives in the data dir).
    let (status, _, _) = send(
        http.get(server.url(&format!("/groups/{id}")))
            .bearer_auth(&admin),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn bad_input_gets_a_problem_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // A fresh connection per request: the server closes one whose body it refused unread.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let server = Server::start(&data);
    let admin = token(&data, "acme", "alice", &["administrator"]);
    let groups = server.url("/groups");
    let post = |body: &'static str| {
        http.post(&groups)
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body(body)
    };

    let (status, body, _) = send(post(r#"{"name": "A""#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body, _) = send(post(r#"{"name": 42}"#)).await;
    assert_eq!(
        (status, body["errors"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("name"))
    );
    let (status, body, _) = send(post(r#"{}"#)).await;
    assert_eq!(
        (status, body["errors"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("name"))
    );
    let (status, body, _) = send(post(r#"{"name": "   "}"#)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("name"), "{body}");
    let (status, body, _) = send(post(r#"{"name": "A", "colour": "red"}"#)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body, _) = send(post(r#"{"name": "A", "copy_from": "nope"}"#)).await;
    assert_eq!(
        (status, body["errors"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("copy_from"))
    );
    let (status, _, _) = send(
        http.post(&groups)
            .bearer_auth(&admin)
            .header("content-type", "text/plain")
            .body("name=A"),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = format!(r#"{{"name": "{}"}}"#, "x".repeat(2 * 1024 * 1024));
    let (status, _, _) = send(
        http.post(&groups)
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body(huge),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, body, _) = send(
        http.patch(server.url("/groups/whatever"))
            .bearer_auth(&admin)
            .header("if-match", "yesterday")
            .json(&json!({"name": "B"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Tokens: signed with another secret, or not a bearer token at all.
    let foreign = token(
        &dir.path().join("elsewhere"),
        "acme",
        "alice",
        &["administrator"],
    );
    let (status, _, _) = send(http.get(&groups).bearer_auth(foreign)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = send(http.get(&groups).header("authorization", "Basic YTpi")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Nothing above was stored.
    let (_, body, _) = send(http.get(&groups).bearer_auth(&admin)).await;
    assert_eq!(body["items"], json!([]));
}

#[test]
fn token_refuses_unknown_roles_and_bad_tenants() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["--tenant", "acme", "--user", "a", "--role", "superuser"],
        vec!["--tenant", "ac#me", "--user", "a", "--role", "reader"],
        vec!["--tenant", "acme", "--user", "a"],
    ] {
        let out = Command::new(BIN)
            .arg("token")
            .args(&args)
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        assert!(out.stdout.is_empty(), "nothing on stdout for {args:?}");
        assert!(!out.stderr.is_empty());
    }
}
