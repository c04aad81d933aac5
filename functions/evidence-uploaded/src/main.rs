//! Checks evidence files as they arrive: S3 sends ObjectCreated for `evidence/...` keys, and
//! each file is verified (size, type by magic bytes, SHA-256) or rejected and removed. S3 may
//! deliver an event twice; the check is idempotent. Upload URLs create an object once
//! (`If-None-Match: *`), so a verified file is never replaced; an object that arrives again
//! at a rejected file's key is removed again, as is one that arrives for deleted evidence.

use attest_api::state::{Clock, SystemClock};
use attest_api::usecases::evidence::{check_upload, parse_object_key, EvidenceError};
use attest_blobs::BlobStore;
use attest_domain::evidence::Evidence;
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
/// Lambda retries it; records already checked are left as they are. Keys that are not
/// evidence keys, and objects of evidence deleted meanwhile (removed), need no retry.
async fn handle(
    store: &Store,
    blobs: &dyn BlobStore,
    clock: &dyn Clock,
    event: S3Event,
) -> Result<Vec<Evidence>, attest_lambda::Error> {
    let mut checked = Vec::new();
    for record in event.records {
        let Some(raw) = record.s3.object.key.as_deref() else {
            continue;
        };
        let key = decode_key(raw);
        let Some((tenant, id)) = parse_object_key(&key) else {
            tracing::warn!(key = %key, "not an evidence key; ignored");
            continue;
        };
        match check_upload(store, blobs, clock, &tenant, &id).await {
            Ok(evidence) => {
                tracing::info!(tenant = %tenant, evidence = %id, status = ?evidence.status(), "evidence checked");
                checked.push(evidence);
            }
            Err(EvidenceError::NotFound(_)) => {
                tracing::warn!(key = %key, "no such evidence; the object was removed");
            }
            Err(e) => return Err(format!("{key}: {e}").into()),
        }
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
        async move {
            handle(&store, &*blobs, &SystemClock, event.payload)
                .await
                .map(drop)
        }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    use attest_api::usecases::evidence::object_key;
    use attest_blobs::{parse_evidence_key, PresignedPut};
    use attest_domain::action::InstanceRef;
    use attest_domain::evidence::EvidenceStatus;
    use attest_domain::history::Source;
    use attest_domain::ids::{EvidenceId, TenantId, UserId};
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
                EvidenceId::parse(id).unwrap(),
                InstanceRef::parse("encryption-at-rest").unwrap(),
                "Key policy.pdf",
                "application/pdf",
                size as u64,
                &UserId::parse("cara").unwrap(),
                chrono::Utc::now(),
            );
            self.store
                .add_evidence(&self.tenant, &evidence, &[], &[])
                .await
                .unwrap();
            let key = object_key(&self.tenant, &evidence.id);
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

        /// Checks what the event names, as the function does.
        async fn handle(&self, event: S3Event) -> Result<Vec<Evidence>, attest_lambda::Error> {
            handle(&self.store, &self.blobs, &SystemClock, event).await
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
        let first = f.handle(event.clone()).await.unwrap();
        assert_eq!(first[0].status(), EvidenceStatus::Verified);
        // The check is the service's own: source system, no user.
        let history = f
            .store
            .list_history(&f.tenant, &first[0].action, 10)
            .await
            .unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(
            (history[0].by.as_deref(), &history[0].source),
            (None, &Source::System)
        );
        let second = f.handle(event).await.unwrap();
        assert_eq!(second, first, "a repeated event changes nothing");
        let mut other: S3Event =
            serde_json::from_str(include_str!("../events/object-created.json")).unwrap();
        other.records[0].s3.object.key = Some("uploads/not-evidence.txt".into());
        assert!(f.handle(other).await.unwrap().is_empty());
    }

    /// The upload URL, replayed within its lifetime with other bytes of the same size and
    /// type: S3 refuses it, and the verified file is the one stored.
    #[tokio::test]
    async fn a_replayed_upload_cannot_replace_a_verified_file() {
        let f = fixture().await;
        let pdf = b"%PDF-1.7\n%%EOF\n".to_vec();
        let (key, upload) = f.declare("replayed", pdf.len()).await;
        assert!(f.put(&upload, &pdf).await.is_success());
        let verified = f.handle(event_for(&key)).await.unwrap();
        assert_eq!(verified[0].status(), EvidenceStatus::Verified);

        let forged = b"%PDF-1.7\n%%EOX\n".to_vec();
        assert_eq!(forged.len(), pdf.len());
        assert_eq!(
            f.put(&upload, &forged).await,
            reqwest::StatusCode::PRECONDITION_FAILED
        );
        let again = f.handle(event_for(&key)).await.unwrap();
        assert_eq!(again, verified);
        let stored = f.blobs.inspect(&key, 0).await.unwrap().unwrap();
        assert_eq!(Some(stored.sha256), verified[0].document().unwrap().sha256);
    }

    /// A rejected file is removed; if its URL is used again (S3 creates where the current
    /// version is a delete marker), what arrives is removed again and the record stands.
    #[tokio::test]
    async fn what_arrives_again_at_a_rejected_key_is_removed() {
        let f = fixture().await;
        let text = b"not a pdf at all".to_vec();
        let (key, upload) = f.declare("rejected", text.len()).await;
        assert!(f.put(&upload, &text).await.is_success());
        let rejected = f.handle(event_for(&key)).await.unwrap();
        assert_eq!(rejected[0].status(), EvidenceStatus::Rejected);
        assert_eq!(f.blobs.inspect(&key, 0).await.unwrap(), None);

        assert!(f.put(&upload, &text).await.is_success());
        let again = f.handle(event_for(&key)).await.unwrap();
        assert_eq!(again, rejected);
        assert_eq!(f.blobs.inspect(&key, 0).await.unwrap(), None);
    }

    /// An object of evidence that no longer exists is removed, and the event needs no retry;
    /// a key made of what cannot be ids is ignored.
    #[tokio::test]
    async fn objects_without_evidence_are_removed_and_bad_keys_ignored() {
        let f = fixture().await;
        let pdf = b"%PDF-1.7\n%%EOF\n".to_vec();
        let (key, upload) = f.declare("deleted", pdf.len()).await;
        let current = f
            .store
            .get_evidence(&f.tenant, &EvidenceId::parse("deleted").unwrap())
            .await
            .unwrap();
        f.store
            .delete_evidence(&f.tenant, &current, &[], &[])
            .await
            .unwrap();
        assert!(f.put(&upload, &pdf).await.is_success());
        assert!(f.handle(event_for(&key)).await.unwrap().is_empty());
        assert_eq!(f.blobs.inspect(&key, 0).await.unwrap(), None);
        for bad in [
            "evidence/a%23b/e1",
            "evidence/acme/e%201",
            "evidence/acme/..",
        ] {
            let mut event = event_for("x");
            event.records[0].s3.object.key = Some(bad.into());
            assert!(f.handle(event).await.unwrap().is_empty(), "{bad}");
        }
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
