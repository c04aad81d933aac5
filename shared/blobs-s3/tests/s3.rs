//! The S3 adapter against an S3-compatible server started by the test set-up (s3s-fs, which
//! verifies signatures and expiry): presigned PUT with a plain HTTP client, the verification
//! path, presigned GET returning identical bytes, and refused tampered or expired URLs.

use std::sync::Arc;
use std::time::Duration;

use attest_api::state::{Clock, SystemClock};
use attest_api::usecases::evidence::{check_upload, object_key, EvidenceError};
use attest_blobs::{evidence_key, BlobError, BlobStore, PresignedPut};
use attest_blobs_s3::S3Blobs;
use attest_domain::action::InstanceRef;
use attest_domain::evidence::{Evidence, EvidenceStatus};
use attest_domain::ids::{EvidenceId, TenantId, UserId};
use attest_store::Store;

use sha2::{Digest, Sha256};

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";
const PNG_HEAD: &[u8] = &[
    0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0, 0,
    1, 0, 0, 0, 1, 8, 6, 0, 0, 0,
];

async fn blobs() -> (S3Blobs, aws_sdk_s3::Client) {
    let client = attest_testkit::s3_server().client();
    let bucket = attest_testkit::unique_name("evidence").replace('_', "-");
    client.create_bucket().bucket(&bucket).send().await.unwrap();
    (S3Blobs::new(client.clone(), bucket), client)
}

/// A PUT to an upload URL with the headers it was signed with, as a client sends it.
fn put(http: &reqwest::Client, upload: &PresignedPut, bytes: &[u8]) -> reqwest::RequestBuilder {
    upload
        .headers
        .iter()
        .fold(http.put(&upload.url), |r, (k, v)| r.header(k, v))
        .body(bytes.to_vec())
}

fn evidence(id: &str, name: &str, content_type: &str, size: usize) -> Evidence {
    Evidence::pending_document(
        EvidenceId::parse(id).unwrap(),
        InstanceRef::parse("encryption-at-rest").unwrap(),
        name,
        content_type,
        size as u64,
        &UserId::parse("cara").unwrap(),
        chrono::Utc::now(),
    )
}

/// The check of what arrived, as `evidence-uploaded` runs it.
async fn check(
    store: &Store,
    blobs: &dyn BlobStore,
    tenant: &TenantId,
    id: &str,
) -> Result<Evidence, EvidenceError> {
    let clock: &dyn Clock = &SystemClock;
    check_upload(store, blobs, clock, tenant, &EvidenceId::parse(id).unwrap()).await
}

#[tokio::test]
async fn presigned_put_inspect_and_get_return_identical_bytes() {
    let (blobs, _) = blobs().await;
    let http = reqwest::Client::new();
    let key = evidence_key("acme", "e1");
    let upload = blobs
        .presign_put(
            &key,
            "application/pdf",
            PDF.len() as u64,
            Duration::from_secs(600),
        )
        .await
        .unwrap();
    assert!(upload.url.contains("X-Amz-Expires=600"), "{}", upload.url);
    let header = |name: &str| {
        upload
            .headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("content-type"), Some("application/pdf"));
    assert_eq!(header("if-none-match"), Some("*"), "{:?}", upload.headers);
    let status = put(&http, &upload, PDF).send().await.unwrap().status();
    assert!(status.is_success(), "{status}");

    let inspected = blobs.inspect(&key, 4).await.unwrap().unwrap();
    assert_eq!(inspected.size, PDF.len() as u64);
    assert_eq!(inspected.head, b"%PDF");
    assert_eq!(inspected.sha256, hex::encode(Sha256::digest(PDF)));

    let get = blobs
        .presign_get(&key, "Key policy.pdf", Duration::from_secs(60))
        .await
        .unwrap();
    let res = http.get(&get).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename=\"Key policy.pdf\""));
    assert_eq!(res.bytes().await.unwrap().as_ref(), PDF);

    // The longest file name (255 characters, 2 bytes each in UTF-8) travels in the URL only.
    let long = format!("{}.pdf", "é".repeat(251));
    let get = blobs
        .presign_get(&key, &long, Duration::from_secs(60))
        .await
        .unwrap();
    let res = http.get(&get).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .ends_with(&format!("filename*=UTF-8''{}.pdf", "%C3%A9".repeat(251))));
    assert_eq!(res.bytes().await.unwrap().as_ref(), PDF);

    blobs.delete(&key).await.unwrap();
    assert_eq!(blobs.inspect(&key, 4).await.unwrap(), None);
    blobs.delete(&key).await.unwrap();
}

#[tokio::test]
async fn tampered_expired_or_retyped_urls_are_refused() {
    let (blobs, _) = blobs().await;
    let http = reqwest::Client::new();
    let key = evidence_key("acme", "e2");
    let upload = blobs
        .presign_put(
            &key,
            "application/pdf",
            PDF.len() as u64,
            Duration::from_secs(600),
        )
        .await
        .unwrap();
    let url = upload.url.clone();
    let tampered = url.replace("X-Amz-Signature=", "X-Amz-Signature=00");
    let res = http
        .put(&tampered)
        .header("content-type", "application/pdf")
        .body(PDF.to_vec())
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "tampered: {}", res.status());
    let res = http
        .put(&url)
        .header("content-type", "image/png")
        .header("if-none-match", "*")
        .body(PDF.to_vec())
        .send()
        .await
        .unwrap();
    assert!(
        res.status().is_client_error(),
        "another content type: {}",
        res.status()
    );
    let res = http
        .put(&url)
        .header("content-type", "application/pdf")
        .body(PDF.to_vec())
        .send()
        .await
        .unwrap();
    assert!(
        res.status().is_client_error(),
        "without If-None-Match (a signed header): {}",
        res.status()
    );
    let other_key = PresignedPut {
        url: url.replace("/e2?", "/e3?"),
        ..upload.clone()
    };
    assert_ne!(other_key.url, url);
    let res = put(&http, &other_key, PDF).send().await.unwrap();
    assert!(
        res.status().is_client_error(),
        "another key: {}",
        res.status()
    );
    assert_eq!(
        blobs.inspect(&key, 4).await.unwrap(),
        None,
        "nothing was stored"
    );

    let short = blobs
        .presign_put(
            &key,
            "application/pdf",
            PDF.len() as u64,
            Duration::from_secs(1),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let res = put(&http, &short, PDF).send().await.unwrap();
    assert!(res.status().is_client_error(), "expired: {}", res.status());
    assert_eq!(blobs.inspect(&key, 4).await.unwrap(), None);
}

#[tokio::test]
async fn the_verification_path_verifies_or_rejects_and_removes() {
    let (blobs, _) = blobs().await;
    let blobs: Arc<dyn BlobStore> = Arc::new(blobs);
    let dir = tempfile::tempdir().unwrap();
    let store = attest_store::Store::new(Arc::new(
        attest_store_embedded::EmbeddedBackend::open(&dir.path().join("db")).unwrap(),
    ));
    let tenant = TenantId::parse("acme").unwrap();
    let http = reqwest::Client::new();

    let good = evidence("good", "policy.pdf", "application/pdf", PDF.len());
    let fake = evidence("fake", "shot.pdf", "application/pdf", PNG_HEAD.len());
    for (e, bytes) in [(&good, PDF), (&fake, PNG_HEAD)] {
        store.add_evidence(&tenant, e, &[], &[]).await.unwrap();
        let key = object_key(&tenant, &e.id);
        let upload = blobs
            .presign_put(
                &key,
                "application/pdf",
                bytes.len() as u64,
                Duration::from_secs(60),
            )
            .await
            .unwrap();
        assert!(put(&http, &upload, bytes)
            .send()
            .await
            .unwrap()
            .status()
            .is_success());
    }
    let checked = check(&store, &*blobs, &tenant, "good").await.unwrap();
    assert_eq!(checked.status(), EvidenceStatus::Verified);
    assert_eq!(
        checked.document().unwrap().sha256.as_deref(),
        Some(hex::encode(Sha256::digest(PDF)).as_str())
    );
    // Delivered twice: nothing changes.
    let again = check(&store, &*blobs, &tenant, "good").await.unwrap();
    assert_eq!(again, checked);

    let rejected = check(&store, &*blobs, &tenant, "fake").await.unwrap();
    assert_eq!(rejected.status(), EvidenceStatus::Rejected);
    let reason = rejected.document().unwrap().reason.as_deref().unwrap();
    assert!(reason.contains("image/png"), "{reason}");
    let key = object_key(&tenant, &fake.id);
    assert_eq!(
        blobs.inspect(&key, 4).await.unwrap(),
        None,
        "a rejected file is removed"
    );
}

/// Replaying an upload URL after the file was verified must not change what is served.
#[tokio::test]
async fn an_upload_url_works_once() {
    let (blobs, _) = blobs().await;
    let blobs: Arc<dyn BlobStore> = Arc::new(blobs);
    let dir = tempfile::tempdir().unwrap();
    let store = attest_store::Store::new(Arc::new(
        attest_store_embedded::EmbeddedBackend::open(&dir.path().join("db")).unwrap(),
    ));
    let tenant = TenantId::parse("acme").unwrap();
    let http = reqwest::Client::new();
    let e = evidence("replayed", "policy.pdf", "application/pdf", PDF.len());
    store.add_evidence(&tenant, &e, &[], &[]).await.unwrap();
    let key = object_key(&tenant, &e.id);
    let upload = blobs
        .presign_put(
            &key,
            "application/pdf",
            PDF.len() as u64,
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert!(put(&http, &upload, PDF)
        .send()
        .await
        .unwrap()
        .status()
        .is_success());
    let checked = check(&store, &*blobs, &tenant, "replayed").await.unwrap();
    assert_eq!(checked.status(), EvidenceStatus::Verified);

    // Other bytes of the same size and type, to the same URL.
    let mut other = PDF.to_vec();
    other[10] = b'X';
    let res = put(&http, &upload, &other).send().await.unwrap();
    assert_eq!(
        res.status(),
        reqwest::StatusCode::PRECONDITION_FAILED,
        "a second upload is refused"
    );
    // Without the conditional header, the signature does not match.
    let res = http
        .put(&upload.url)
        .header("content-type", "application/pdf")
        .body(other)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    // A repeated or late event for the key changes nothing.
    let again = check(&store, &*blobs, &tenant, "replayed").await.unwrap();
    assert_eq!(again, checked);
    let served = http
        .get(
            blobs
                .presign_get(&key, "policy.pdf", Duration::from_secs(60))
                .await
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        Some(hex::encode(Sha256::digest(&served))),
        checked.document().unwrap().sha256,
        "the bytes served are the bytes verified"
    );
}

/// A key no S3 bucket should hold is refused before S3 is asked: a bad request, not an
/// outage.
#[tokio::test]
async fn malformed_keys_are_invalid_not_unavailable() {
    let (blobs, _) = blobs().await;
    let long = format!("evidence/acme/{}", "e".repeat(1100));
    for key in [
        "",
        "evidence/../x",
        "evidence/a b",
        "evidence//x",
        long.as_str(),
    ] {
        let second = Duration::from_secs(1);
        let invalid = |r: Result<(), BlobError>| matches!(r, Err(BlobError::Invalid(_)));
        assert!(
            invalid(
                blobs
                    .presign_put(key, "application/pdf", 1, second)
                    .await
                    .map(drop)
            ),
            "{key}"
        );
        assert!(
            invalid(blobs.presign_get(key, "a.pdf", second).await.map(drop)),
            "{key}"
        );
        assert!(invalid(blobs.inspect(key, 4).await.map(drop)), "{key}");
        assert!(invalid(blobs.delete(key).await), "{key}");
    }
    let huge = blobs
        .presign_put(
            "evidence/acme/e9",
            "application/pdf",
            u64::MAX,
            Duration::from_secs(1),
        )
        .await;
    assert!(matches!(huge, Err(BlobError::Invalid(_))), "{huge:?}");
}
