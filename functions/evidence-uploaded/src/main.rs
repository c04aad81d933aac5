//! Checks evidence files as they arrive: S3 sends ObjectCreated for `evidence/...` keys, and
//! each file is verified (size, type by magic bytes, SHA-256) or rejected and removed. S3 may
//! deliver an event twice; the check is idempotent.

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

    use attest_domain::evidence::EvidenceStatus;
    use std::sync::Arc;
    use std::time::Duration;

    /// S3 (s3s-fs) delivers an ObjectCreated event for an uploaded file, twice.
    #[tokio::test]
    async fn an_upload_event_verifies_the_file_once() {
        let client = attest_testkit::s3_server().client();
        let bucket = attest_testkit::unique_name("uploads");
        client.create_bucket().bucket(&bucket).send().await.unwrap();
        let blobs = attest_blobs_s3::S3Blobs::new(client, &bucket);
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(Arc::new(
            attest_store_embedded::EmbeddedBackend::open(&dir.path().join("db")).unwrap(),
        ));
        let tenant = TenantId::parse("acme").unwrap();
        let pdf = b"%PDF-1.7\n%%EOF\n".to_vec();
        let evidence = Evidence::pending_document(
            "0f8e3a1c9b2d4e5f8a7b6c5d4e3f2a1b".into(),
            "encryption-at-rest".into(),
            "Key policy.pdf",
            "application/pdf",
            pdf.len() as u64,
            "cara",
            chrono::Utc::now(),
        );
        store.add_evidence(&tenant, &evidence, &[]).await.unwrap();
        let key = attest_api::usecases::evidence::object_key(&tenant, &evidence);
        let url = blobs
            .presign_put(
                &key,
                "application/pdf",
                pdf.len() as u64,
                Duration::from_secs(60),
            )
            .await
            .unwrap();
        assert!(reqwest::Client::new()
            .put(url)
            .header("content-type", "application/pdf")
            .body(pdf)
            .send()
            .await
            .unwrap()
            .status()
            .is_success());

        let mut event: S3Event =
            serde_json::from_str(include_str!("../events/object-created.json")).unwrap();
        event.records[0].s3.object.key = Some(key.replace(' ', "+"));
        let first = handle(&store, &blobs, event.clone()).await.unwrap();
        assert_eq!(first[0].status, EvidenceStatus::Verified);
        let second = handle(&store, &blobs, event).await.unwrap();
        assert_eq!(second, first, "a repeated event changes nothing");
        let mut other: S3Event =
            serde_json::from_str(include_str!("../events/object-created.json")).unwrap();
        other.records[0].s3.object.key = Some("uploads/not-evidence.txt".into());
        assert!(handle(&store, &blobs, other).await.unwrap().is_empty());
    }

    #[test]
    fn event_keys_are_decoded() {
        assert_eq!(
            decode_key("evidence/acme/e1/Key+policy%281%29.pdf"),
            "evidence/acme/e1/Key policy(1).pdf"
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
