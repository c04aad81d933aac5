//! Workbooks through API Gateway: an HTTP API event carries a binary body base64-encoded
//! (`isBase64Encoded`), and a binary answer must go back the same way. The import of a
//! workbook sent so applies its row, and the export answers the workbook's bytes as binary
//! (which lambda_http base64-encodes for API Gateway), not as text that would corrupt them.

use std::sync::Arc;

use attest_api::AppState;
use attest_store::Store;
use attest_store_embedded::EmbeddedBackend;
use base64::Engine;
use serde_json::{json, Value};
use tower::ServiceExt;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// An HTTP API (v2) event of an administrator of acme.
fn event(
    method: &str,
    path: &str,
    content_type: &str,
    body: Option<Vec<u8>>,
) -> lambda_http::Request {
    let (body, encoded) = match body {
        Some(bytes) => (
            Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
            true,
        ),
        None => (Value::Null, false),
    };
    let event = json!({
        "version": "2.0",
        "routeKey": format!("{method} {path}"),
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "id.execute-api.us-east-1.amazonaws.com", "content-type": content_type},
        "requestContext": {
            "accountId": "123456789012", "apiId": "api-id",
            "domainName": "id.execute-api.us-east-1.amazonaws.com", "domainPrefix": "id",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "192.0.2.1", "userAgent": "curl/8.0"},
            "requestId": "id", "routeKey": format!("{method} {path}"), "stage": "$default",
            "time": "24/Nov/2026:10:00:00 +0000", "timeEpoch": 1795000000000u64,
            "authorizer": {"jwt": {"claims": {
                "sub": "7c1f0e2a-admin", "custom:tenant": "acme",
                "cognito:groups": "[administrator]", "token_use": "id"}, "scopes": null}}
        },
        "isBase64Encoded": encoded,
        "body": body,
    });
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

/// The answer as API Gateway would get it from lambda_http: its status, content type and body.
async fn answer(app: &axum::Router, req: lambda_http::Request) -> (u16, String, lambda_http::Body) {
    let response = app.clone().oneshot(req).await.unwrap();
    let response = lambda_http::IntoResponse::into_response(response).await;
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (
        response.status().as_u16(),
        content_type,
        response.into_body(),
    )
}

fn json_of(body: &lambda_http::Body) -> Value {
    serde_json::from_slice(body.as_ref()).unwrap()
}

#[tokio::test]
async fn a_workbook_goes_through_api_gateway_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let backend = EmbeddedBackend::open(&dir.path().join("db.redb")).unwrap();
    let state = AppState::new(Store::new(Arc::new(backend)));
    let assessments = attest_lambda::with_authorizer_identity(
        attest_api::routes::table::function_router("api-assessments", state.clone()).unwrap(),
    );
    let actions = attest_lambda::with_authorizer_identity(
        attest_api::routes::table::function_router("api-actions", state).unwrap(),
    );
    let body = json!({"regulation_id": "gdpr", "group_name": "Europe", "services": ["aws"]});
    let (status, _, created) = answer(
        &assessments,
        event(
            "POST",
            "/api/compliance/assessments",
            "application/json",
            Some(body.to_string().into_bytes()),
        ),
    )
    .await;
    assert_eq!(status, 201, "{:?}", json_of(&created));

    // The export: binary, the workbook's own bytes.
    let (status, content_type, body) = answer(
        &actions,
        event("GET", "/api/compliance/actions/export.xlsx", "", None),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(content_type, XLSX);
    let lambda_http::Body::Binary(bytes) = body else {
        panic!("the workbook would go back as text: {body:?}");
    };
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let sheet = calamine::Reader::worksheet_range(&mut book, "Actions").unwrap();
    let header: Vec<String> = sheet
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(header[0], "id");
    let rows = sheet.rows().count() - 1;
    assert!(rows > 10, "{rows} action rows");

    // The import, base64-encoded by API Gateway: its one row applied.
    let id = sheet.rows().nth(1).unwrap()[0].to_string();
    let mut out = rust_xlsxwriter::Workbook::new();
    let ws = out.add_worksheet();
    ws.write(0, 0, "id").unwrap();
    ws.write(0, 1, "owner").unwrap();
    ws.write(1, 0, id.as_str()).unwrap();
    ws.write(1, 1, "dora@acme.test").unwrap();
    let upload = out.save_to_buffer().unwrap();
    let (status, _, body) = answer(
        &actions,
        event(
            "POST",
            "/api/compliance/actions/import.xlsx",
            XLSX,
            Some(upload),
        ),
    )
    .await;
    let result = json_of(&body);
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["applied"], 1, "{result}");
    let (status, _, body) = answer(
        &actions,
        event("GET", &format!("/api/compliance/actions/{id}"), "", None),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(json_of(&body)["owner"], "dora@acme.test");
}
