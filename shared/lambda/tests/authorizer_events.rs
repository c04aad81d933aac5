//! API Gateway HTTP API events (the samples kept beside each function, also usable with
//! `cargo lambda invoke --data-file`) go through the same routers the functions run, with the
//! caller taken from the JWT authorizer's claims.

use std::sync::Arc;

use attest_api::AppState;
use attest_store::Store;
use attest_store_embedded::EmbeddedBackend;
use http_body_util::BodyExt;
use tower::ServiceExt;

fn event(path: &str) -> lambda_http::Request {
    let text =
        std::fs::read_to_string(format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    lambda_http::request::from_str(&text).unwrap()
}

async fn call(app: &axum::Router, req: lambda_http::Request) -> (u16, serde_json::Value) {
    let response = app.clone().oneshot(req).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn group_events_carry_the_caller_from_the_authorizer() {
    let dir = tempfile::tempdir().unwrap();
    let backend = EmbeddedBackend::open(&dir.path().join("db.redb")).unwrap();
    let state = AppState::new(Store::new(Arc::new(backend)));
    let app = attest_lambda::with_authorizer_identity(
        attest_api::routes::table::function_router("api-assessments", state).unwrap(),
    );

    let (status, body) = call(
        &app,
        event("functions/api-assessments/events/create-group.json"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["created_by"], "7c1f0e2a-admin");

    let (status, body) = call(
        &app,
        event("functions/api-assessments/events/create-group-as-reader.json"),
    )
    .await;
    assert_eq!(status, 403, "{body}");

    let (status, body) = call(
        &app,
        event("functions/api-assessments/events/list-groups.json"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["items"][0]["name"], "Europe");

    let (status, body) = call(
        &app,
        event("functions/api-assessments/events/list-groups-other-tenant.json"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["items"],
        serde_json::json!([]),
        "another tenant sees nothing"
    );

    let (status, body) = call(
        &app,
        event("functions/api-assessments/events/list-groups-no-authorizer.json"),
    )
    .await;
    assert_eq!(status, 401, "{body}");
}

#[tokio::test]
async fn health_needs_no_caller() {
    let dir = tempfile::tempdir().unwrap();
    let backend = EmbeddedBackend::open(&dir.path().join("db.redb")).unwrap();
    let state = AppState::new(Store::new(Arc::new(backend)));
    let app = attest_lambda::with_authorizer_identity(
        attest_api::routes::table::function_router("api-health", state).unwrap(),
    );
    let (status, body) = call(&app, event("functions/api-health/events/health.json")).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
}
