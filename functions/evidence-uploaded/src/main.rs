//! Checks evidence files as they arrive: S3 sends ObjectCreated for `evidence/...` keys, and
//! each file is verified (size, type by magic bytes, SHA-256) or rejected and removed. S3 may
//! deliver an event twice; the check is idempotent.

use attest_api::usecases::evidence::check_upload;
use attest_blobs::parse_evidence_key;
use attest_domain::ids::TenantId;
use aws_lambda_events::event::s3::S3Event;
use lambda_runtime::{service_fn, LambdaEvent};

/// S3 event keys are URL-encoded, with `+` for spaces.
fn decode_key(raw: &str) -> String {
    form_urlencoded::parse(format!("k={raw}").as_bytes())
        .map(|(_, v)| v.into_owned())
        .next()
        .unwrap_or_default()
}

#[tokio::main]
async fn main() -> Result<(), attest_lambda::Error> {
    let config = attest_lambda::init().await;
    let store = attest_lambda::store(&config)?;
    let evidence = attest_lambda::evidence(&config)?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<S3Event>| {
        let (store, blobs) = (store.clone(), evidence.blobs.clone());
        async move {
            for record in event.payload.records {
                let Some(raw) = record.s3.object.key.as_deref() else { continue };
                let key = decode_key(raw);
                let Some((tenant, id)) = parse_evidence_key(&key) else {
                    tracing::warn!(key = %key, "not an evidence key; ignored");
                    continue;
                };
                let tenant = TenantId::parse(tenant).map_err(|e| format!("{key}: {e}"))?;
                // An error fails the invocation, so that Lambda retries it.
                let checked = check_upload(&store, &*blobs, &tenant, id).await.map_err(|e| format!("{key}: {e}"))?;
                tracing::info!(tenant = %tenant, evidence = %checked.id, status = ?checked.status, "evidence checked");
            }
            Ok::<(), attest_lambda::Error>(())
        }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

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
