//! Checks evidence files as they arrive: S3 sends ObjectCreated for `evidence/...` keys, and
//! each file is verified (size, type by magic bytes, SHA-256) or rejected and removed. S3 may
//! deliver an event twice; the check is idempotent. Upload URLs create an object once
//! (`If-None-Match: *`), so a verified file is never replaced; an object that arrives again
//! at a rejected file's key is removed again.

use attest_api::usecases::evidence::check_upload;
use attest_blobs::{parse_evidence_key, BlobStore};
use attest_domain::evidence::Evidence;
use attest_domain::ids::TenantId;
use attest_store::Store;
use aws_lambda_events::event::s3::S3Event;
use lambda_runtime::{service_fn, LambdaEvent};

/// S3 event keys are URL-encoded, with `+` for spaces.
fn decode_key(raw: &str) -> String {
    form_urlencoded::parse(format!("k={raw}").as_bytes())
        .map(|(_, v)| v.into_owned())
        .next()
        .unwrap_or_default()
}

/// Checks every evidence object the event names. An error fails the invocation, so that
/// Lambda retries it; records already checked are left as they are.
async fn handle(
    store: &Store,
    blobs: &dyn BlobStore,
    event: S3Event,
) -> Result<Vec<Evidence>, attest_lambda::Error> {
    let mut checked = Vec::new();
    for record in event.records {
        let Some(raw) = record.s3.object.key.as_deref() else {
            continue;
        };
        let key = decode_key(raw);
        let Some((tenant, id)) = parse_evidence_key(&key) else {
            tracing::warn!(key = %key, "not an evidence key; ignored");
            continue;
        };
        let tenant = TenantId::parse(tenant).map_err(|e| format!("{key}: {e}"))?;
        let evidence = check_upload(store, blobs, &tenant, id)
            .await
            .map_err(|e| format!("{key}: {e}"))?;
        tracing::info!(tenant = %tenant, evidence = %evidence.id, status = ?evidence.status, "evidence checked");
        checked.push(evidence);
    }
    Ok(checked)
}

#[tokio::main]
async fn main() -> Result<(), attest_lambda::Error> {
    let config = attest_lambda::init().await;
    let store = attest_lambda::store(&config)?;
    let blobs = attest_lambda::evidence(&config)?.blobs;
    lambda_runtime::run(service_fn(|event: LambdaEvent<S3Event>| {
        let (store, blobs) = (store.clone(), blobs.clone());
        async move { handle(&store, &*blobs, event.payload).await.map(drop) }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    use attest_blobs::PresignedPut;
    use attest_domain::evidence::EvidenceStatus;
    use std::sync::Arc;
    use std::time::Duration;

    struct Fixture {
        store: Store,
        blobs: attest_blobs_s3::S3Blobs,
        tenant: TenantId,
        http: reqwest::Client,
        _dir: tempfile::TempDir,
    }

    async fn fixture() -> Fixture {
        let client = attest_testkit::s3_server().client();
        let bucket = attest_testkit::unique_name("uploads");
        client.create_bucket().bucket(&bucket).send().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        Fixture {
            store: Store::new(Arc::new(
                attest_store_embedded::EmbeddedBackend::open(&dir.path().join("db")).unwrap(),
            )),
            blobs: attest_blobs_s3::S3Blobs::new(client, &bucket),
            tenant: TenantId::parse("acme").unwrap(),
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    impl Fixture {
        /// Declares a PDF of `size` bytes; its object key and upload URL.
        async fn declare(&self, id: &str, size: usize) -> (String, PresignedPut) {
            let evidence = Evidence::pending_document(
                id.into(),
                "encryption-at-rest".into(),
                "Key policy.pdf",
                "application/pdf",
                size as u64,
                "cara",
                chrono::Utc::now(),
            );
            self.store
                .add_evidence(&self.tenant, &evidence, &[])
                .await
                .unwrap();
            let key = attest_api::usecases::evidence::object_key(&self.tenant, &evidence);
            let upload = self
                .blobs
                .presign_put(
                    &key,
                    "application/pdf",
                    size as u64,
                    Duration::from_secs(60),
                )
                .await
                .unwrap();
            (key, upload)
        }

        /// A PUT to the upload URL, with the headers it was signed with.
        async fn put(&self, upload: &PresignedPut, bytes: &[u8]) -> reqwest::StatusCode {
            upload
                .headers
                .iter()
                .fold(self.http.put(&upload.url), |r, (k, v)| r.header(k, v))
                .body(bytes.to_vec())
                .send()
                .await
                .unwrap()
                .status()
        }
    }

    fn event_for(key: &str) -> S3Event {
        let mut event: S3Event =
            serde_json::from_str(include_str!("../events/object-created.json")).unwrap();
        event.records[0].s3.object.key = Some(key.replace(' ', "+"));
        event
    }

    /// S3 (s3s-fs) delivers an ObjectCreated event for an uploaded file, twice.
    #[tokio::test]
    async fn an_upload_event_verifies_the_file_once() {
        let f = fixture().await;
        let pdf = b"%PDF-1.7\n%%EOF\n".to_vec();
        let (key, upload) = f
            .declare("0f8e3a1c9b2d4e5f8a7b6c5d4e3f2a1b", pdf.len())
            .await;
        assert!(f.put(&upload, &pdf).await.is_success());

        let event = event_for(&key);
        let first = handle(&f.store, &f.blobs, event.clone()).await.unwrap();
        assert_eq!(first[0].status, EvidenceStatus::Verified);
        let second = handle(&f.store, &f.blobs, event).await.unwrap();
        assert_eq!(second, first, "a repeated event changes nothing");
        let mut other: S3Event =
            serde_json::from_str(include_str!("../events/object-created.json")).unwrap();
        other.records[0].s3.object.key = Some("uploads/not-evidence.txt".into());
        assert!(handle(&f.store, &f.blobs, other).await.unwrap().is_empty());
    }

    /// The upload URL, replayed within its lifetime with other bytes of the same size and
    /// type: S3 refuses it, and the verified file is the one stored.
    #[tokio::test]
    async fn a_replayed_upload_cannot_replace_a_verified_file() {
        let f = fixture().await;
        let pdf = b"%PDF-1.7\n%%EOF\n".to_vec();
        let (key, upload) = f.declare("replayed", pdf.len()).await;
        assert!(f.put(&upload, &pdf).await.is_success());
        let verified = handle(&f.store, &f.blobs, event_for(&key)).await.unwrap();
        assert_eq!(verified[0].status, EvidenceStatus::Verified);

        let forged = b"%PDF-1.7\n%%EOX\n".to_vec();
        assert_eq!(forged.len(), pdf.len());
        assert_eq!(
            f.put(&upload, &forged).await,
            reqwest::StatusCode::PRECONDITION_FAILED
        );
        let again = handle(&f.store, &f.blobs, event_for(&key)).await.unwrap();
        assert_eq!(again, verified);
        let stored = f.blobs.inspect(&key, 0).await.unwrap().unwrap();
        assert_eq!(Some(stored.sha256), verified[0].sha256);
    }

    /// A rejected file is removed; if its URL is used again (S3 creates where the current
    /// version is a delete marker), what arrives is removed again and the record stands.
    #[tokio::test]
    async fn what_arrives_again_at_a_rejected_key_is_removed() {
        let f = fixture().await;
        let text = b"not a pdf at all".to_vec();
        let (key, upload) = f.declare("rejected", text.len()).await;
        assert!(f.put(&upload, &text).await.is_success());
        let rejected = handle(&f.store, &f.blobs, event_for(&key)).await.unwrap();
        assert_eq!(rejected[0].status, EvidenceStatus::Rejected);
        assert_eq!(f.blobs.inspect(&key, 0).await.unwrap(), None);

        assert!(f.put(&upload, &text).await.is_success());
        let again = handle(&f.store, &f.blobs, event_for(&key)).await.unwrap();
        assert_eq!(again, rejected);
        assert_eq!(f.blobs.inspect(&key, 0).await.unwrap(), None);
    }

    #[test]
    fn event_keys_are_decoded() {
        assert_eq!(
            decode_key("evidence/acme/e1+x%281%29"),
            "evidence/acme/e1 x(1)"
        );
        let event: S3Event =
            serde_json::from_str(include_str!("../events/object-created.json")).unwrap();
        let key = decode_key(event.records[0].s3.object.key.as_deref().unwrap());
        assert_eq!(
            parse_evidence_key(&key),
            Some(("acme", "0f8e3a1c9b2d4e5f8a7b6c5d4e3f2a1b"))
        );
    }
}
