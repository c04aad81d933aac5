//! Evidence: declaring files and links, and checking what arrived. The same check runs in the
//! `evidence-uploaded` function (on S3's ObjectCreated event) and in the local server (after
//! its own upload endpoint stored a file).

use attest_blobs::BlobStore;
use attest_domain::evidence::{
    file_type_of, verify_content, Evidence, EvidenceStatus, SNIFF_BYTES,
};
use attest_domain::history::{HistoryEntry, Source};
use attest_domain::ids::TenantId;
use attest_store::{Store, StoreError};
use serde_json::json;

use crate::ApiError;

/// The object key of a stored evidence file: by tenant and evidence id only (the file name
/// stays in the record).
pub fn object_key(tenant: &TenantId, e: &Evidence) -> String {
    attest_blobs::evidence_key(tenant.as_str(), &e.id)
}

/// A history entry about a piece of evidence.
pub fn history_entry(
    by: &str,
    source: Source,
    old: serde_json::Value,
    new: serde_json::Value,
) -> HistoryEntry {
    HistoryEntry {
        at: chrono::Utc::now(),
        by: by.to_owned(),
        field: "evidence".into(),
        old,
        new,
        source,
    }
}

pub fn summary(e: &Evidence) -> serde_json::Value {
    json!({"id": e.id, "name": e.name, "kind": e.kind, "status": e.status})
}

/// Checks an uploaded file once: verified, or rejected with a reason (and its object
/// removed). Idempotent: a record already checked is returned as it is, so a repeated event
/// changes nothing. A verified object cannot be replaced (upload URLs create an object once);
/// a rejected one's key may be written again (S3 accepts a create after the delete), and what
/// arrives there is removed again.
pub async fn check_upload(
    store: &Store,
    blobs: &dyn BlobStore,
    tenant: &TenantId,
    evidence_id: &str,
) -> Result<Evidence, ApiError> {
    let current = store.get_evidence(tenant, evidence_id).await?;
    let key = object_key(tenant, &current.value);
    match current.value.status {
        EvidenceStatus::Pending => {}
        EvidenceStatus::Verified => return Ok(current.value),
        EvidenceStatus::Rejected => {
            blobs
                .delete(&key)
                .await
                .map_err(|e| ApiError::Unavailable(e.to_string()))?;
            return Ok(current.value);
        }
    }
    let Some(inspected) = blobs
        .inspect(&key, SNIFF_BYTES)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?
    else {
        return Ok(current.value);
    };
    let mut next = current.value.clone();
    next.size = Some(inspected.size);
    next.sha256 = Some(inspected.sha256.clone());
    next.checked_at = Some(chrono::Utc::now());
    let verdict = match file_type_of(&next.name) {
        Some(t) => verify_content(
            t,
            next.declared_size.unwrap_or(0),
            inspected.size,
            &inspected.head,
        ),
        None => Err("the file's type is not accepted".to_owned()),
    };
    match verdict {
        Ok(v) => {
            next.status = EvidenceStatus::Verified;
            next.detected_type = Some(v.detected_type);
        }
        Err(reason) => {
            next.status = EvidenceStatus::Rejected;
            next.reason = Some(reason);
        }
    }
    let entry = history_entry(
        &next.created_by,
        Source::Manual,
        summary(&current.value),
        summary(&next),
    );
    match store
        .update_evidence(tenant, &current, &next, &[entry])
        .await
    {
        Ok(_) => {}
        // Checked concurrently (S3 delivered the event twice): the other check's result stands.
        Err(StoreError::StaleVersion { .. }) => {
            return Ok(store.get_evidence(tenant, evidence_id).await?.value)
        }
        Err(e) => return Err(e.into()),
    }
    if next.status == EvidenceStatus::Rejected {
        blobs
            .delete(&key)
            .await
            .map_err(|e| ApiError::Unavailable(e.to_string()))?;
        tracing::info!(tenant = %tenant, evidence = %next.id, reason = next.reason.as_deref().unwrap_or(""), "evidence rejected");
    } else {
        tracing::info!(tenant = %tenant, evidence = %next.id, "evidence verified");
    }
    Ok(next)
}
