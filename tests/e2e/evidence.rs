//! Evidence end to end over `attest serve`: real files uploaded through signed URLs, checked
//! on arrival, downloaded byte for byte, with the deletion and permission rules.

mod common;

use base64::Engine;
use common::{send, token, Backend, IntoParts, Server};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// A real one-page PDF.
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>\nendobj\nxref\n0 4\n0000000000 65535 f \n0000000009 00000 n \n0000000058 00000 n \n0000000115 00000 n \ntrailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n186\n%%EOF\n";

/// A real 1x1 PNG.
fn png() -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=")
        .unwrap()
}

fn sha256(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

struct Ctx {
    http: reqwest::Client,
    base: String,
}

impl Ctx {
    async fn declare(&self, token: &str, action: &str, body: Value) -> (StatusCode, Value) {
        let (s, b, _) = send(
            self.http
                .post(format!("{}/actions/{action}/evidence", self.base))
                .bearer_auth(token)
                .json(&body),
        )
        .await;
        (s, b)
    }

    async fn upload(&self, url: &str, content_type: &str, bytes: Vec<u8>) -> StatusCode {
        self.http
            .put(url)
            .header("content-type", content_type)
            .body(bytes)
            .send()
            .await
            .unwrap()
            .status()
    }

    /// Uploads to a declaration's URL with the headers it lists (its content type, at least).
    async fn upload_declared(&self, declared: &Value, bytes: Vec<u8>) -> (StatusCode, String) {
        let mut req = self
            .http
            .put(declared["upload_url"].as_str().unwrap())
            .body(bytes);
        match declared["upload_headers"].as_object() {
            Some(headers) => {
                for (k, v) in headers {
                    req = req.header(k, v.as_str().unwrap());
                }
            }
            None => {
                req = req.header(
                    "content-type",
                    declared["evidence"]["content_type"].as_str().unwrap(),
                )
            }
        }
        let res = req.send().await.unwrap();
        (res.status(), res.text().await.unwrap())
    }

    /// The bytes the download route serves.
    async fn download(&self, token: &str, id: &str) -> (StatusCode, Vec<u8>, String) {
        let (s, dl, _) = send(
            self.http
                .get(format!("{}/evidence/{id}/download", self.base))
                .bearer_auth(token),
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER, "{dl}");
        let res = self
            .http
            .get(dl["url"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        let status = res.status();
        let disposition = res
            .headers()
            .get("content-disposition")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, res.bytes().await.unwrap().to_vec(), disposition)
    }

    async fn evidence(&self, token: &str, action: &str) -> Vec<Value> {
        let (s, b, _) = send(
            self.http
                .get(format!("{}/actions/{action}/evidence", self.base))
                .bearer_auth(token),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        b["items"].as_array().unwrap().clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_checked_on_arrival_and_come_back_identical() {
    evidence_story(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_on_dynamodb_local() {
    let local = attest_testkit::dynamodb_local();
    evidence_story(Backend::DynamoDb {
        endpoint: local.endpoint.clone(),
        table: attest_testkit::unique_name("evidence"),
    })
    .await;
}

async fn evidence_story(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start_with(&data, &backend, true);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let c = Ctx {
        http: http.clone(),
        base: server.base.clone(),
    };
    let admin = token(&data, "acme", "ada", &["administrator"]);
    let contributor = token(&data, "acme", "cara", &["contributor"]);
    let reader = token(&data, "acme", "rob", &["reader"]);
    let other = token(&data, "globex", "gus", &["global_admin"]);

    let (s, a) = send(
        http.post(server.url("/assessments"))
            .bearer_auth(&admin)
            .json(&json!({"regulation_id": "gdpr", "group_name": "EU", "services": ["aws"]})),
    )
    .await
    .into_parts();
    assert_eq!(s, StatusCode::CREATED, "{a}");
    let (s, iso) = send(http.post(server.url("/assessments")).bearer_auth(&admin).json(&json!({"regulation_id": "iso-27001-2022", "group_name": "Global", "services": ["aws"]}))).await.into_parts();
    assert_eq!(s, StatusCode::CREATED, "{iso}");
    let action = "encryption-at-rest";

    // A real PDF: declared, uploaded with the signed URL, verified.
    let (s, pdf) = c.declare(&contributor, action, json!({"kind": "document", "file_name": "Key policy.pdf", "content_type": "application/pdf", "size": PDF.len()})).await;
    assert_eq!(s, StatusCode::CREATED, "{pdf}");
    assert_eq!(pdf["evidence"]["status"], "pending");
    let expires: chrono::DateTime<chrono::Utc> =
        pdf["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(
        expires <= chrono::Utc::now() + chrono::Duration::minutes(15),
        "upload URLs live 15 minutes at most"
    );
    let upload_url = pdf["upload_url"].as_str().unwrap().to_owned();
    assert_eq!(
        c.upload(&upload_url, "image/png", PDF.to_vec()).await,
        StatusCode::FORBIDDEN,
        "the URL binds the content type"
    );
    assert_eq!(
        c.upload(
            &upload_url.replace("sig=", "sig=00"),
            "application/pdf",
            PDF.to_vec()
        )
        .await,
        StatusCode::FORBIDDEN,
        "tampered"
    );
    assert_eq!(
        c.upload(
            &upload_url.replace("size=", "size=9"),
            "application/pdf",
            PDF.to_vec()
        )
        .await,
        StatusCode::FORBIDDEN,
        "tampered"
    );
    assert_eq!(
        c.upload(&upload_url, "application/pdf", PDF.to_vec()).await,
        StatusCode::OK
    );
    let items = c.evidence(&reader, action).await;
    let pdf_id = pdf["evidence_id"].as_str().unwrap();
    let got = items.iter().find(|e| e["id"] == pdf_id).unwrap();
    assert_eq!(got["status"], "verified", "{got}");
    assert_eq!(got["size"], PDF.len());
    assert_eq!(got["sha256"], sha256(PDF));
    assert_eq!(got["detected_type"], "application/pdf");
    assert_eq!(got["created_by"], "cara");

    // A real PNG as .png is verified; the same PNG renamed .pdf is rejected with a reason.
    let (_, ok_png) = c.declare(&contributor, action, json!({"kind": "document", "file_name": "console.png", "content_type": "image/png", "size": png().len()})).await;
    assert_eq!(
        c.upload(ok_png["upload_url"].as_str().unwrap(), "image/png", png())
            .await,
        StatusCode::OK
    );
    let (_, fake) = c.declare(&contributor, action, json!({"kind": "document", "file_name": "audit.pdf", "content_type": "application/pdf", "size": png().len()})).await;
    assert_eq!(
        c.upload(
            fake["upload_url"].as_str().unwrap(),
            "application/pdf",
            png()
        )
        .await,
        StatusCode::OK
    );
    let items = c.evidence(&reader, action).await;
    let status = |id: &Value| items.iter().find(|e| &e["id"] == id).unwrap().clone();
    assert_eq!(status(&ok_png["evidence_id"])["status"], "verified");
    let rejected = status(&fake["evidence_id"]);
    assert_eq!(rejected["status"], "rejected");
    assert!(
        rejected["reason"].as_str().unwrap().contains("image/png"),
        "{rejected}"
    );
    let (s, _, _) = send(
        http.get(server.url(&format!(
            "/evidence/{}/download",
            fake["evidence_id"].as_str().unwrap()
        )))
        .bearer_auth(&reader),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "a rejected file is not served");

    // Refused declarations.
    let (s, _) = c.declare(&contributor, action, json!({"kind": "document", "file_name": "setup.exe", "content_type": "application/octet-stream", "size": 10})).await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (s, _) = c.declare(&contributor, action, json!({"kind": "document", "file_name": "big.zip", "content_type": "application/zip", "size": 200u64 * 1024 * 1024})).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    let (s, b) = c
        .declare(
            &contributor,
            action,
            json!({"kind": "link", "name": "x", "url": "javascript:alert(1)"}),
        )
        .await;
    assert_eq!(
        (s, b["errors"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("url"))
    );
    let (s, b) = c
        .declare(&contributor, action, json!({"kind": "photo"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, _) = c
        .declare(
            &reader,
            action,
            json!({"kind": "link", "name": "KMS", "url": "https://console.aws.amazon.com/kms"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "readers cannot add evidence");
    let (s, link) = c
        .declare(
            &contributor,
            action,
            json!({"kind": "link", "name": "KMS", "url": "https://console.aws.amazon.com/kms"}),
        )
        .await;
    assert_eq!(
        (s, link["evidence"]["status"].as_str()),
        (StatusCode::CREATED, Some("verified"))
    );
    // Files and links come back as one flat object, `null` where a field does not apply.
    let fields = [
        "id",
        "action",
        "kind",
        "name",
        "url",
        "content_type",
        "declared_size",
        "size",
        "sha256",
        "detected_type",
        "status",
        "reason",
        "created_by",
        "created_at",
        "checked_at",
        "archived_in",
    ];
    let items = c.evidence(&reader, action).await;
    let listed = |id: &Value| items.iter().find(|e| &e["id"] == id).unwrap().clone();
    for e in [listed(&link["evidence_id"]), listed(&pdf["evidence_id"])] {
        let mut keys: Vec<&str> = e.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        let mut want = fields.to_vec();
        keys.sort();
        want.sort();
        assert_eq!(keys, want, "{e}");
    }
    let l = listed(&link["evidence_id"]);
    assert_eq!(l, link["evidence"]);
    assert_eq!(
        (
            l["kind"].as_str(),
            l["url"].as_str(),
            l["content_type"].is_null()
        ),
        (
            Some("link"),
            Some("https://console.aws.amazon.com/kms"),
            true
        )
    );
    assert_eq!(l["checked_at"], l["created_at"]);
    let p = listed(&pdf["evidence_id"]);
    assert_eq!(
        (
            p["kind"].as_str(),
            p["url"].is_null(),
            p["declared_size"].as_u64()
        ),
        (Some("document"), true, Some(PDF.len() as u64))
    );
    assert_eq!(
        (p["reason"].is_null(), p["archived_in"].clone()),
        (true, json!([]))
    );

    // Download: a short-lived URL, the original name, identical bytes.
    let (s, dl, headers) = send(
        http.get(server.url(&format!("/evidence/{pdf_id}/download")))
            .bearer_auth(&reader),
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{dl}");
    let location = headers["location"].to_str().unwrap().to_owned();
    assert_eq!(location, dl["url"].as_str().unwrap());
    let res = http.get(&location).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename=\"Key policy.pdf\""));
    assert_eq!(res.bytes().await.unwrap().as_ref(), PDF);
    let res = http
        .get(location.replace("sig=", "sig=ab"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "a tampered download URL is refused"
    );

    // Another tenant: nothing.
    let (s, _, _) = send(
        http.get(server.url(&format!("/evidence/{pdf_id}/download")))
            .bearer_auth(&other),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = send(
        http.get(server.url(&format!("/actions/{action}/evidence")))
            .bearer_auth(&other),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = send(
        http.delete(server.url(&format!("/evidence/{pdf_id}")))
            .bearer_auth(&other),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // No deletion while a test result stands.
    let (s, b, _) = send(
        http.patch(server.url(&format!("/actions/{action}")))
            .bearer_auth(&admin)
            .json(&json!({"implementation_status": "implemented", "test_status": "passed"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b, _) = send(
        http.delete(server.url(&format!(
            "/evidence/{}",
            ok_png["evidence_id"].as_str().unwrap()
        )))
        .bearer_auth(&contributor),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    let (s, _, _) = send(
        http.patch(server.url(&format!("/actions/{action}")))
            .bearer_auth(&admin)
            .json(&json!({"test_status": "in_progress"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, _) = send(
        http.delete(server.url(&format!(
            "/evidence/{}",
            ok_png["evidence_id"].as_str().unwrap()
        )))
        .bearer_auth(&reader),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = send(
        http.delete(server.url(&format!(
            "/evidence/{}",
            ok_png["evidence_id"].as_str().unwrap()
        )))
        .bearer_auth(&contributor),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(c.evidence(&reader, action).await.len(), 3);

    // Every add, check and delete is in the action's history.
    let (_, history, _) = send(
        http.get(server.url(&format!("/actions/{action}/history")))
            .bearer_auth(&reader),
    )
    .await;
    let evidence_entries: Vec<&Value> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["field"] == "evidence")
        .collect();
    assert_eq!(
        evidence_entries.len(),
        4 + 3 + 1,
        "4 adds, 3 checks, 1 delete"
    );
    // The checks are the service's own: source system, no user; the rest is cara's.
    let (checks, by_cara): (Vec<&Value>, Vec<&Value>) = evidence_entries
        .iter()
        .partition(|e| e["source"] == "system");
    assert_eq!(checks.len(), 3, "{history}");
    assert!(checks.iter().all(|e| e["by"].is_null()), "{history}");
    assert!(
        by_cara
            .iter()
            .all(|e| e["by"] == "cara" && e["source"] == "manual"),
        "{history}"
    );

    // Archiving keeps the evidence and its download, even once removed from the live action.
    let gdpr_id = a["id"].as_str().unwrap();
    let (s, _, _) = send(
        http.post(server.url(&format!("/assessments/{gdpr_id}/archive")))
            .bearer_auth(&admin)
            .json(&json!({})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, b, _) = send(
        http.delete(server.url(&format!("/evidence/{pdf_id}")))
            .bearer_auth(&contributor),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    let (_, frozen, _) = send(
        http.get(server.url(&format!("/assessments/{gdpr_id}/evidence")))
            .bearer_auth(&reader),
    )
    .await;
    assert!(
        frozen["items"][action]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == pdf_id),
        "{frozen}"
    );
    let (s, dl, _) = send(
        http.get(server.url(&format!("/evidence/{pdf_id}/download")))
            .bearer_auth(&reader),
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{dl}");
    assert_eq!(
        http.get(dl["url"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .as_ref(),
        PDF
    );
    let _ = iso;
}

/// A server with one assessment, a contributor and a reader.
async fn started() -> (tempfile::TempDir, Server, Ctx, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start_with(&data, &Backend::Embedded, true);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let admin = token(&data, "acme", "ada", &["administrator"]);
    let contributor = token(&data, "acme", "cara", &["contributor"]);
    let reader = token(&data, "acme", "rob", &["reader"]);
    let (s, a) = send(
        http.post(server.url("/assessments"))
            .bearer_auth(&admin)
            .json(&json!({"regulation_id": "gdpr", "group_name": "EU", "services": ["aws"]})),
    )
    .await
    .into_parts();
    assert_eq!(s, StatusCode::CREATED, "{a}");
    let c = Ctx {
        http,
        base: server.base.clone(),
    };
    (dir, server, c, contributor, reader)
}

/// A second PUT to the same upload URL, within its lifetime, cannot replace a verified file
/// with other bytes of the same size and type: it is refused, and download serves the bytes
/// whose SHA-256 the record holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_url_works_once() {
    let (_dir, _server, c, contributor, reader) = started().await;
    let action = "encryption-at-rest";
    let (s, pdf) = c.declare(&contributor, action, json!({"kind": "document", "file_name": "Key policy.pdf", "content_type": "application/pdf", "size": PDF.len()})).await;
    assert_eq!(s, StatusCode::CREATED, "{pdf}");
    assert_eq!(
        pdf["upload_headers"],
        json!({"content-type": "application/pdf"}),
        "the headers to send with the upload URL"
    );
    let id = pdf["evidence_id"].as_str().unwrap();
    assert_eq!(
        c.upload_declared(&pdf, PDF.to_vec()).await.0,
        StatusCode::OK
    );
    let items = c.evidence(&reader, action).await;
    let got = items.iter().find(|e| e["id"] == id).unwrap();
    assert_eq!(
        (got["status"].as_str(), got["sha256"].as_str()),
        (Some("verified"), Some(sha256(PDF).as_str()))
    );

    let mut forged = PDF.to_vec();
    forged[20] = b'X';
    assert_eq!(forged.len(), PDF.len());
    let (s, body) = c.upload_declared(&pdf, forged).await;
    assert_eq!(
        s,
        StatusCode::CONFLICT,
        "a replayed upload is refused: {body}"
    );
    assert!(body.contains("already"), "{body}");

    let items = c.evidence(&reader, action).await;
    let got = items.iter().find(|e| e["id"] == id).unwrap();
    assert_eq!(got["sha256"], sha256(PDF), "{got}");
    let (s, served, _) = c.download(&reader, id).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        sha256(&served),
        sha256(PDF),
        "download serves the verified bytes"
    );

    // A rejected file's URL does not take a second try either.
    let (_, fake) = c.declare(&contributor, action, json!({"kind": "document", "file_name": "audit.pdf", "content_type": "application/pdf", "size": png().len()})).await;
    assert_eq!(c.upload_declared(&fake, png()).await.0, StatusCode::OK);
    let mut padded = PDF.to_vec();
    padded.resize(png().len(), b'\n');
    let (s, body) = c.upload_declared(&fake, padded).await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    let items = c.evidence(&reader, action).await;
    let got = items
        .iter()
        .find(|e| e["id"] == fake["evidence_id"])
        .unwrap();
    assert_eq!(got["status"], "rejected", "{got}");
}

/// File names are at most 255 characters, checked at declaration; a name at the limit (in
/// ASCII or not) uploads, verifies and downloads under its own name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_names_up_to_the_limit_work_and_longer_ones_are_refused() {
    let (_dir, _server, c, contributor, reader) = started().await;
    let action = "encryption-at-rest";
    for name in [
        format!("{}.pdf", "a".repeat(251)),
        format!("{}.pdf", "r".repeat(250)),
        format!("{}.pdf", "é".repeat(251)),
    ] {
        assert!(name.chars().count() <= 255);
        let (s, pdf) = c.declare(&contributor, action, json!({"kind": "document", "file_name": name, "content_type": "application/pdf", "size": PDF.len()})).await;
        assert_eq!(s, StatusCode::CREATED, "{pdf}");
        let (s, body) = c.upload_declared(&pdf, PDF.to_vec()).await;
        assert_eq!(
            s,
            StatusCode::OK,
            "{} characters: {body}",
            name.chars().count()
        );
        let id = pdf["evidence_id"].as_str().unwrap();
        let items = c.evidence(&reader, action).await;
        let got = items.iter().find(|e| e["id"] == id).unwrap();
        assert_eq!(got["status"], "verified", "{got}");
        assert_eq!(got["name"], name.as_str());
        let (s, served, disposition) = c.download(&reader, id).await;
        assert_eq!((s, served.as_slice()), (StatusCode::OK, PDF));
        assert!(disposition.starts_with("attachment;"), "{disposition}");
    }
    for name in [
        format!("{}.pdf", "a".repeat(252)),
        format!("{}.pdf", "é".repeat(252)),
    ] {
        let (s, b) = c.declare(&contributor, action, json!({"kind": "document", "file_name": name, "content_type": "application/pdf", "size": PDF.len()})).await;
        assert_eq!(
            (s, b["errors"][0]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("file_name")),
            "{b}"
        );
    }
}
