//! Evidence: declaring files (with an upload URL) and links, listing an action's evidence,
//! download URLs, deletion under the test-status rule, and checking what arrived. The same
//! check runs in the `evidence-uploaded` function (on S3's ObjectCreated event) and in the
//! local server (after its own upload endpoint stored a file).

use std::collections::BTreeMap;
use std::time::Duration;

use attest_blobs::{BlobError, BlobStore};
use attest_domain::action::InstanceRef;
use attest_domain::event::{Event, EventType, Subject};
use attest_domain::evidence::{
    check_declaration, check_link, DeclarationError, Evidence, EvidenceItem, EvidenceKind,
    EvidenceStatus, SNIFF_BYTES,
};
use attest_domain::history::{HistoryEntry, Source};
use attest_domain::identity::Identity;
use attest_domain::ids::{EvidenceId, TenantId, UserId};
use attest_domain::{DomainError, FieldError};
use attest_store::{Store, StoreError, Versioned};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::actions::{find_instance, ActionError};
use crate::state::{Clock, EvidenceConfig};
use crate::AppState;

/// Upload URLs live 15 minutes, download URLs 5.
pub const UPLOAD_URL_LIFETIME: Duration = Duration::from_secs(15 * 60);
pub const DOWNLOAD_URL_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// What can go wrong with evidence.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// No live assessment uses the action (or the id cannot name one).
    #[error("action {0} not found")]
    ActionNotFound(String),
    #[error("evidence {0} not found")]
    NotFound(String),
    #[error("invalid {}: {}", .0.field, .0.message)]
    Invalid(FieldError),
    /// A file type that is not accepted, or a content type that does not match it.
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    TooLarge(String),
    /// A rule of the current state: a link has no file, a file not verified is not served,
    /// nothing is deleted while a test result stands, an upload URL works once.
    #[error("{0}")]
    Conflict(String),
    /// The function serving the route has no evidence storage (a deployment error).
    #[error("evidence storage is not configured for this function")]
    NotConfigured,
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for EvidenceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => EvidenceError::Conflict(m),
            other => EvidenceError::Store(other),
        }
    }
}

impl From<DomainError> for EvidenceError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid(f) => EvidenceError::Invalid(f),
            DomainError::Conflict(m) => EvidenceError::Conflict(m),
        }
    }
}

impl From<DeclarationError> for EvidenceError {
    fn from(e: DeclarationError) -> Self {
        match e {
            DeclarationError::Unsupported(m) => EvidenceError::Unsupported(m),
            DeclarationError::TooLarge(m) => EvidenceError::TooLarge(m),
            DeclarationError::Invalid(d) => d.into(),
        }
    }
}

impl From<ActionError> for EvidenceError {
    fn from(e: ActionError) -> Self {
        match e {
            ActionError::NotFound(id) => EvidenceError::ActionNotFound(id),
            ActionError::Invalid(f) => EvidenceError::Invalid(f),
            ActionError::Store(s) => EvidenceError::Store(s),
            other => EvidenceError::Conflict(other.to_string()),
        }
    }
}

fn config(state: &AppState) -> Result<&EvidenceConfig, EvidenceError> {
    state.evidence.as_ref().ok_or(EvidenceError::NotConfigured)
}

/// A path id that is not a valid id cannot name stored evidence: not found.
fn parse_id(raw: &str) -> Result<EvidenceId, EvidenceError> {
    EvidenceId::parse(raw).map_err(|_| EvidenceError::NotFound(raw.to_owned()))
}

async fn get(
    store: &Store,
    tenant: &TenantId,
    id: &EvidenceId,
) -> Result<Versioned<Evidence>, EvidenceError> {
    match store.get_evidence(tenant, id).await {
        Err(StoreError::NotFound(_)) => Err(EvidenceError::NotFound(id.to_string())),
        other => Ok(other?),
    }
}

/// The object key of a stored evidence file: by tenant and evidence id only (the file name
/// stays in the record).
pub fn object_key(tenant: &TenantId, id: &EvidenceId) -> String {
    attest_blobs::evidence_key(tenant.as_str(), id.as_str())
}

/// Tenant and evidence id from an object key; `None` unless it is an evidence key made of
/// valid ids that blob stores accept (as every key [`object_key`] makes for stored evidence).
pub fn parse_object_key(key: &str) -> Option<(TenantId, EvidenceId)> {
    attest_blobs::check_key(key).ok()?;
    let (tenant, id) = attest_blobs::parse_evidence_key(key)?;
    Some((TenantId::parse(tenant).ok()?, EvidenceId::parse(id).ok()?))
}

/// A history entry about a piece of evidence; `by` is `None` for the service's own checks.
pub fn history_entry(
    by: Option<&UserId>,
    source: Source,
    at: DateTime<Utc>,
    old: serde_json::Value,
    new: serde_json::Value,
) -> HistoryEntry {
    HistoryEntry {
        at,
        by: by.map(UserId::to_string),
        field: "evidence".into(),
        old,
        new,
        source,
    }
}

/// What the history shows of a piece of evidence.
/// The event of evidence added, checked or removed: the record's summary and its action.
fn evidence_event(
    tenant: &TenantId,
    kind: EventType,
    e: &Evidence,
    usages: &[attest_store::usage::Usage],
    by: Option<&Identity>,
    at: DateTime<Utc>,
) -> Event {
    let mut data = super::events::affected(usages);
    for (k, v) in summary(e).as_object().into_iter().flatten() {
        data[k] = v.clone();
    }
    data["action"] = e.action.api_id().into();
    Event::new(
        tenant,
        kind,
        at,
        by.map(|c| c.user.as_str()),
        Subject::new("evidence", e.id.as_str()),
        data,
    )
}

pub fn summary(e: &Evidence) -> serde_json::Value {
    json!({"id": e.id, "name": e.name, "kind": e.kind(), "status": e.status()})
}

/// An action instance that a live assessment uses (one query of the usage index).
async fn live_instance(
    store: &Store,
    tenant: &TenantId,
    id: &str,
) -> Result<(InstanceRef, Vec<attest_store::usage::Usage>), EvidenceError> {
    let instance =
        InstanceRef::parse(id).ok_or_else(|| EvidenceError::ActionNotFound(id.to_owned()))?;
    let usages = store.usages_of(tenant, &instance).await?;
    if usages.is_empty() {
        return Err(EvidenceError::ActionNotFound(id.to_owned()));
    }
    Ok((instance, usages))
}

/// `POST /actions/{id}/evidence`: `{kind: "document", file_name, content_type, size}` or
/// `{kind: "link", name, url}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEvidence {
    pub kind: EvidenceKind,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub size: Option<u64>,
    pub name: Option<String>,
    pub url: Option<String>,
}

fn required<T>(value: Option<T>, field: &str, kind: &str) -> Result<T, EvidenceError> {
    value.ok_or_else(|| {
        EvidenceError::Invalid(FieldError::new(field, format!("a {kind} needs {field}")))
    })
}

/// Where and how to upload a declared file, once, until `expires_at`.
#[derive(Debug, Clone)]
pub struct Upload {
    pub url: String,
    /// Headers the PUT to `url` must carry, exactly (they are signed).
    pub headers: BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

/// Declared evidence, and for a file where to upload it.
#[derive(Debug, Clone)]
pub struct Added {
    pub evidence: Evidence,
    pub upload: Option<Upload>,
}

/// `POST /actions/{id}/evidence`: a file (pending until what arrives is checked; its upload
/// URL comes back) or a link (counts at once).
pub async fn add(
    state: &AppState,
    caller: &Identity,
    action: &str,
    body: NewEvidence,
) -> Result<Added, EvidenceError> {
    let cfg = config(state)?;
    let tenant = &caller.tenant;
    let (instance, usages) = live_instance(&state.store, tenant, action).await?;
    let (id, now) = (EvidenceId::generate(), state.now());
    let (evidence, upload) = match body.kind {
        EvidenceKind::Document => {
            let file_name = required(body.file_name, "file_name", "document")?;
            let content_type = required(body.content_type, "content_type", "document")?;
            let size = required(body.size, "size", "document")?;
            check_declaration(&file_name, &content_type, size, cfg.max_bytes)?;
            let key = object_key(tenant, &id);
            let presigned = cfg
                .blobs
                .presign_put(&key, &content_type, size, UPLOAD_URL_LIFETIME)
                .await?;
            let upload = Upload {
                url: presigned.url,
                headers: presigned.headers.into_iter().collect(),
                expires_at: now + lifetime(UPLOAD_URL_LIFETIME),
            };
            let evidence = Evidence::pending_document(
                id,
                instance,
                &file_name,
                &content_type,
                size,
                &caller.user,
                now,
            );
            (evidence, Some(upload))
        }
        EvidenceKind::Link => {
            let name = required(body.name, "name", "link")?;
            let url = required(body.url, "url", "link")?;
            check_link(&name, &url)?;
            let evidence = Evidence::link(id, instance, &name, &url, &caller.user, now);
            (evidence, None)
        }
    };
    let entry = history_entry(
        Some(&caller.user),
        Source::Manual,
        now,
        serde_json::Value::Null,
        summary(&evidence),
    );
    state
        .store
        .add_evidence(
            tenant,
            &evidence,
            &[entry],
            &[evidence_event(
                tenant,
                EventType::EvidenceAdded,
                &evidence,
                &usages,
                Some(caller),
                now,
            )],
        )
        .await?;
    Ok(Added { evidence, upload })
}

fn lifetime(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).expect("URL lifetimes are minutes")
}

/// `GET /actions/{id}/evidence`: oldest first. One query of the action's evidence, beside
/// the usage-index query that tells a live action from an unknown one (404); nothing else
/// is read.
pub async fn list(
    store: &Store,
    tenant: &TenantId,
    action: &str,
) -> Result<Vec<Evidence>, EvidenceError> {
    let not_found = || EvidenceError::ActionNotFound(action.to_owned());
    let instance = InstanceRef::parse(action).ok_or_else(not_found)?;
    let (usages, items) = tokio::try_join!(
        store.usages_of(tenant, &instance),
        store.list_evidence(tenant, &instance),
    )?;
    if usages.is_empty() {
        return Err(not_found());
    }
    Ok(items)
}

/// Where to download a verified file, until `expires_at`.
#[derive(Debug, Clone)]
pub struct Download {
    pub url: String,
    pub expires_at: DateTime<Utc>,
    pub file_name: String,
}

/// `GET /evidence/{id}/download`: a short-lived URL of a verified file, under its name.
pub async fn download(
    state: &AppState,
    tenant: &TenantId,
    id: &str,
) -> Result<Download, EvidenceError> {
    let cfg = config(state)?;
    let e = get(&state.store, tenant, &parse_id(id)?).await?.value;
    match &e.item {
        EvidenceItem::Link { url, .. } => {
            return Err(EvidenceError::Conflict(format!(
                "evidence {id} is a link: {url}"
            )))
        }
        EvidenceItem::Document(d) if d.status != EvidenceStatus::Verified => {
            return Err(EvidenceError::Conflict(format!(
                "evidence {id} is {}, not verified; only verified files are downloaded",
                d.status.as_str()
            )))
        }
        EvidenceItem::Document(_) => {}
    }
    let url = cfg
        .blobs
        .presign_get(&object_key(tenant, &e.id), &e.name, DOWNLOAD_URL_LIFETIME)
        .await?;
    Ok(Download {
        url,
        expires_at: state.now() + lifetime(DOWNLOAD_URL_LIFETIME),
        file_name: e.name,
    })
}

/// `DELETE /evidence/{id}`: refused while the action's test result stands. A file goes with
/// its record, unless an archived assessment links to it (then both stay for the archive).
pub async fn remove(state: &AppState, caller: &Identity, id: &str) -> Result<(), EvidenceError> {
    let cfg = config(state)?;
    let tenant = &caller.tenant;
    let current = get(&state.store, tenant, &parse_id(id)?).await?;
    let e = &current.value;
    let ctx = find_instance(&state.store, tenant, &e.action.api_id()).await?;
    if ctx.status.test_status.locks_evidence() {
        return Err(EvidenceError::Conflict(format!(
            "the action's test status is {}; evidence cannot be deleted while a test result stands",
            ctx.status.test_status
        )));
    }
    let entry = history_entry(
        Some(&caller.user),
        Source::Manual,
        state.now(),
        summary(e),
        serde_json::Value::Null,
    );
    state
        .store
        .delete_evidence(
            tenant,
            &current,
            &[entry],
            &[evidence_event(
                tenant,
                EventType::EvidenceRemoved,
                e,
                &ctx.usages,
                Some(caller),
                state.now(),
            )],
        )
        .await?;
    if e.kind() == EvidenceKind::Document && e.archived_in.is_empty() {
        cfg.blobs.delete(&object_key(tenant, &e.id)).await?;
    }
    Ok(())
}

/// Whether a file may still arrive for the evidence: only while it is pending (once
/// checked, a file is not uploaded again, and a deleted one's URL stores nothing).
pub async fn accept_upload(
    store: &Store,
    tenant: &TenantId,
    id: &EvidenceId,
) -> Result<(), EvidenceError> {
    match get(store, tenant, id).await?.value.status() {
        EvidenceStatus::Pending => Ok(()),
        status => Err(EvidenceError::Conflict(format!(
            "this upload URL was used already; declare the file again to upload another (evidence {id} is {})",
            status.as_str()
        ))),
    }
}

/// Checks an uploaded file once: verified, or rejected with a reason (and its object
/// removed); the history entry is the service's own (source `system`, no user). Idempotent:
/// a record already checked is returned as it is, so a repeated event changes nothing. A
/// verified object cannot be replaced (upload URLs create an object once); a rejected one's
/// key may be written again (S3 accepts a create after the delete), and what arrives there is
/// removed again, as is what arrives for evidence deleted meanwhile ([`EvidenceError::NotFound`]).
pub async fn check_upload(
    store: &Store,
    blobs: &dyn BlobStore,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &EvidenceId,
) -> Result<Evidence, EvidenceError> {
    let key = object_key(tenant, id);
    let current = match get(store, tenant, id).await {
        Err(EvidenceError::NotFound(id)) => {
            blobs.delete(&key).await?;
            return Err(EvidenceError::NotFound(id));
        }
        other => other?,
    };
    match current.value.status() {
        EvidenceStatus::Pending => {}
        EvidenceStatus::Verified => return Ok(current.value),
        EvidenceStatus::Rejected => {
            blobs.delete(&key).await?;
            return Ok(current.value);
        }
    }
    let Some(inspected) = blobs.inspect(&key, SNIFF_BYTES).await? else {
        return Ok(current.value);
    };
    let now = clock.now();
    let Some(next) = current
        .value
        .checked(inspected.size, &inspected.sha256, &inspected.head, now)
    else {
        return Ok(current.value);
    };
    let entry = history_entry(
        None,
        Source::System,
        now,
        summary(&current.value),
        summary(&next),
    );
    match store
        .update_evidence(
            tenant,
            &current,
            &next,
            &[entry],
            &[evidence_event(
                tenant,
                match next.status() {
                    EvidenceStatus::Rejected => EventType::EvidenceRejected,
                    _ => EventType::EvidenceVerified,
                },
                &next,
                &store.usages_of(tenant, &next.action).await?,
                None,
                now,
            )],
        )
        .await
    {
        Ok(_) => {}
        // Checked concurrently (S3 delivered the event twice): the other check's result stands.
        Err(StoreError::StaleVersion { .. }) => return Ok(get(store, tenant, id).await?.value),
        Err(e) => return Err(e.into()),
    }
    if next.status() == EvidenceStatus::Rejected {
        blobs.delete(&key).await?;
        let reason = next.document().and_then(|d| d.reason.as_deref());
        tracing::info!(tenant = %tenant, evidence = %id, reason, "evidence rejected");
    } else {
        tracing::info!(tenant = %tenant, evidence = %id, "evidence verified");
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use attest_blobs::local::LocalBlobs;
    use attest_domain::action::ActionPatch;
    use attest_domain::ids::AssessmentId;

    use super::*;
    use crate::usecases::testkit::{assess, ports, Recording};
    use crate::usecases::{actions, assessments};

    const PDF: &[u8] =
        b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";
    const PNG: &[u8] = &[
        0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R',
    ];
    const ACTION: &str = "encryption-at-rest";

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// A clock that starts at 10:00 and moves one second each time it is read.
    struct Ticking(Mutex<DateTime<Utc>>);

    impl Clock for Ticking {
        fn now(&self) -> DateTime<Utc> {
            let mut t = self.0.lock().unwrap();
            *t += chrono::Duration::seconds(1);
            *t
        }
    }

    struct World {
        state: AppState,
        caller: Identity,
        blobs: Arc<LocalBlobs>,
        gdpr: AssessmentId,
        _dirs: (tempfile::TempDir, tempfile::TempDir),
    }

    /// Ports over an embedded store and local blobs in temporary directories, with a clock
    /// that ticks, and a GDPR assessment (which uses `encryption-at-rest`).
    async fn world() -> World {
        let (state, caller, db) = ports();
        let files = tempfile::tempdir().unwrap();
        let blobs = Arc::new(LocalBlobs::new(
            files.path().to_owned(),
            b"secret".to_vec(),
            "http://127.0.0.1:1",
        ));
        let state = state
            .with_evidence(EvidenceConfig {
                blobs: blobs.clone(),
                max_bytes: 1000,
            })
            .with_clock(Arc::new(Ticking(Mutex::new(at("2025-03-01T10:00:00Z")))));
        let gdpr = assess(&state, &caller, "gdpr", "EU").await.id;
        World {
            state,
            caller,
            blobs,
            gdpr,
            _dirs: (db, files),
        }
    }

    fn document(file_name: &str, content_type: &str, size: usize) -> NewEvidence {
        NewEvidence {
            kind: EvidenceKind::Document,
            file_name: Some(file_name.into()),
            content_type: Some(content_type.into()),
            size: Some(size as u64),
            name: None,
            url: None,
        }
    }

    fn link(name: &str, url: &str) -> NewEvidence {
        NewEvidence {
            kind: EvidenceKind::Link,
            file_name: None,
            content_type: None,
            size: None,
            name: Some(name.into()),
            url: Some(url.into()),
        }
    }

    impl World {
        fn tenant(&self) -> &TenantId {
            &self.caller.tenant
        }

        /// Declares a file and stores `bytes` where its upload URL points.
        async fn uploaded(&self, file_name: &str, content_type: &str, bytes: &[u8]) -> Evidence {
            let added = add(
                &self.state,
                &self.caller,
                ACTION,
                document(file_name, content_type, bytes.len()),
            )
            .await
            .unwrap();
            let key = object_key(self.tenant(), &added.evidence.id);
            self.blobs.create(&key, bytes).await.unwrap();
            added.evidence
        }

        async fn check(&self, id: &EvidenceId) -> Result<Evidence, EvidenceError> {
            let clock = &*self.state.clock;
            check_upload(&self.state.store, &*self.blobs, clock, self.tenant(), id).await
        }

        async fn stored(&self, e: &Evidence) -> Option<Vec<u8>> {
            let key = object_key(self.tenant(), &e.id);
            self.blobs.read(&key).await.unwrap()
        }

        async fn history(&self) -> Vec<HistoryEntry> {
            actions::history(&self.state.store, self.tenant(), ACTION, 100)
                .await
                .unwrap()
        }

        async fn test_status(&self, status: &str) {
            let patch: ActionPatch = serde_json::from_value(
                json!({"implementation_status": "implemented", "test_status": status}),
            )
            .unwrap();
            actions::update(&self.state, &self.caller, ACTION, &patch, None)
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn a_file_is_declared_uploaded_verified_by_the_system_and_downloaded() {
        let w = world().await;
        let added = add(
            &w.state,
            &w.caller,
            ACTION,
            document("Key policy.pdf", "application/pdf", PDF.len()),
        )
        .await
        .unwrap();
        let e = &added.evidence;
        assert_eq!(e.status(), EvidenceStatus::Pending);
        let upload = added.upload.unwrap();
        assert_eq!(
            upload.expires_at,
            e.created_at + chrono::Duration::minutes(15)
        );
        assert_eq!(upload.headers["content-type"], "application/pdf");
        assert!(upload.url.contains(&object_key(w.tenant(), &e.id)));
        // Not verified yet: not served.
        assert!(matches!(
            download(&w.state, w.tenant(), e.id.as_str()).await,
            Err(EvidenceError::Conflict(_))
        ));

        w.blobs
            .create(&object_key(w.tenant(), &e.id), PDF)
            .await
            .unwrap();
        let checked = w.check(&e.id).await.unwrap();
        let d = checked.document().unwrap();
        assert_eq!(d.status, EvidenceStatus::Verified);
        assert_eq!(d.size, Some(PDF.len() as u64));
        assert!(d.checked_at.unwrap() > e.created_at);
        assert_eq!(d.detected_type.as_deref(), Some("application/pdf"));
        assert_eq!(w.check(&e.id).await.unwrap(), checked, "checked once");
        let listed = list(&w.state.store, w.tenant(), ACTION).await.unwrap();
        assert_eq!(listed, std::slice::from_ref(&checked));

        let history = w.history().await;
        let evidence: Vec<_> = history.iter().filter(|h| h.field == "evidence").collect();
        assert_eq!(evidence.len(), 2, "{history:?}");
        // Newest first: the check is the service's own, the declaration the user's.
        assert_eq!(
            (evidence[0].by.as_deref(), &evidence[0].source),
            (None, &Source::System)
        );
        assert_eq!(evidence[0].new["status"], "verified");
        assert_eq!(
            (evidence[1].by.as_deref(), &evidence[1].source),
            (Some("alice"), &Source::Manual)
        );

        let dl = download(&w.state, w.tenant(), e.id.as_str()).await.unwrap();
        assert_eq!(dl.file_name, "Key policy.pdf");
        let minutes = (dl.expires_at - d.checked_at.unwrap()).num_minutes();
        assert_eq!(minutes, 5, "{dl:?}");
        let (key, query) = dl.url.split_once('?').unwrap();
        let query: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let key = key.split_once("/blobs/").unwrap().1;
        assert_eq!(w.blobs.check_get(key, &query).unwrap(), "Key policy.pdf");
    }

    #[tokio::test]
    async fn what_fails_the_checks_is_rejected_and_removed() {
        let w = world().await;
        let fake = w.uploaded("audit.pdf", "application/pdf", PNG).await;
        let rejected = w.check(&fake.id).await.unwrap();
        assert_eq!(rejected.status(), EvidenceStatus::Rejected);
        let reason = rejected.document().unwrap().reason.clone().unwrap();
        assert!(reason.contains("image/png"), "{reason}");
        assert_eq!(w.stored(&fake).await, None, "the object is removed");
        // Arriving again at a rejected file's key: removed again, the record stands.
        w.blobs
            .create(&object_key(w.tenant(), &fake.id), PDF)
            .await
            .unwrap();
        assert_eq!(w.check(&fake.id).await.unwrap(), rejected);
        assert_eq!(w.stored(&fake).await, None);
        // Checked: no upload accepted any more.
        assert!(matches!(
            accept_upload(&w.state.store, w.tenant(), &fake.id).await,
            Err(EvidenceError::Conflict(m)) if m.contains("already")
        ));
        // A declared file that has not arrived stays pending.
        let pending = add(
            &w.state,
            &w.caller,
            ACTION,
            document("a.pdf", "application/pdf", 8),
        )
        .await
        .unwrap()
        .evidence;
        accept_upload(&w.state.store, w.tenant(), &pending.id)
            .await
            .unwrap();
        assert_eq!(w.check(&pending.id).await.unwrap(), pending);
        // What arrives for evidence that no longer exists is removed.
        let gone = EvidenceId::parse("gone").unwrap();
        let key = object_key(w.tenant(), &gone);
        w.blobs.create(&key, PDF).await.unwrap();
        assert!(matches!(
            w.check(&gone).await,
            Err(EvidenceError::NotFound(id)) if id == "gone"
        ));
        assert_eq!(w.blobs.read(&key).await.unwrap(), None);
    }

    #[tokio::test]
    async fn declarations_are_refused_with_a_reason() {
        let w = world().await;
        let refused = |r: Result<Added, EvidenceError>| r.err().unwrap();
        let (state, caller) = (&w.state, &w.caller);
        assert!(matches!(
            refused(
                add(
                    state,
                    caller,
                    ACTION,
                    document("setup.exe", "application/octet-stream", 10)
                )
                .await
            ),
            EvidenceError::Unsupported(_)
        ));
        assert!(matches!(
            refused(
                add(
                    state,
                    caller,
                    ACTION,
                    document("big.pdf", "application/pdf", 1001)
                )
                .await
            ),
            EvidenceError::TooLarge(_)
        ));
        let mut no_size = document("a.pdf", "application/pdf", 1);
        no_size.size = None;
        assert!(matches!(
            refused(add(state, caller, ACTION, no_size).await),
            EvidenceError::Invalid(f) if f.field == "size"
        ));
        assert!(matches!(
            refused(add(state, caller, ACTION, link("x", "javascript:alert(1)")).await),
            EvidenceError::Invalid(f) if f.field == "url"
        ));
        for unknown in ["no-such-action", "a#b", "infosec-policy"] {
            assert!(
                matches!(
                    refused(add(state, caller, unknown, link("x", "https://acme.test")).await),
                    EvidenceError::ActionNotFound(id) if id == unknown
                ),
                "{unknown}"
            );
            assert!(matches!(
                list(&state.store, &caller.tenant, unknown).await,
                Err(EvidenceError::ActionNotFound(_))
            ));
        }
        let unconfigured = AppState::new(state.store.clone());
        assert!(matches!(
            refused(
                add(
                    &unconfigured,
                    caller,
                    ACTION,
                    link("x", "https://acme.test")
                )
                .await
            ),
            EvidenceError::NotConfigured
        ));
        assert!(list(&state.store, &caller.tenant, ACTION)
            .await
            .unwrap()
            .is_empty());
    }

    #[tokio::test]
    async fn deletion_waits_for_the_test_result_and_spares_archives() {
        let w = world().await;
        let pdf = w.uploaded("policy.pdf", "application/pdf", PDF).await;
        w.check(&pdf.id).await.unwrap();
        let kms = add(
            &w.state,
            &w.caller,
            ACTION,
            link("KMS", "https://console.aws.amazon.com/kms"),
        )
        .await
        .unwrap()
        .evidence;
        assert_eq!(kms.status(), EvidenceStatus::Verified);
        assert!(matches!(
            download(&w.state, w.tenant(), kms.id.as_str()).await,
            Err(EvidenceError::Conflict(m)) if m.contains("is a link")
        ));
        for unknown in ["nope", "../x"] {
            assert!(matches!(
                remove(&w.state, &w.caller, unknown).await,
                Err(EvidenceError::NotFound(id)) if id == unknown
            ));
            assert!(matches!(
                download(&w.state, w.tenant(), unknown).await,
                Err(EvidenceError::NotFound(_))
            ));
        }

        w.test_status("passed").await;
        assert!(matches!(
            remove(&w.state, &w.caller, pdf.id.as_str()).await,
            Err(EvidenceError::Conflict(m)) if m.contains("test result")
        ));
        w.test_status("in_progress").await;
        remove(&w.state, &w.caller, kms.id.as_str()).await.unwrap();

        // Archived, then removed from the action: the record and its file stay.
        assessments::archive(&w.state, &w.caller, w.gdpr.as_str())
            .await
            .unwrap();
        // Still used by a live assessment, so deletion is possible.
        assess(&w.state, &w.caller, "iso-27001-2022", "Global").await;
        let archived = w
            .state
            .store
            .get_evidence(w.tenant(), &pdf.id)
            .await
            .unwrap();
        assert_eq!(archived.value.archived_in, std::slice::from_ref(&w.gdpr));
        remove(&w.state, &w.caller, pdf.id.as_str()).await.unwrap();
        assert!(list(&w.state.store, w.tenant(), ACTION)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(w.stored(&pdf).await.as_deref(), Some(PDF));
        assert!(download(&w.state, w.tenant(), pdf.id.as_str())
            .await
            .is_ok());

        // Not archived: the file goes with the record.
        let other = w.uploaded("other.pdf", "application/pdf", PDF).await;
        w.check(&other.id).await.unwrap();
        remove(&w.state, &w.caller, other.id.as_str())
            .await
            .unwrap();
        assert_eq!(w.stored(&other).await, None);
        assert!(matches!(
            w.state.store.get_evidence(w.tenant(), &other.id).await,
            Err(StoreError::NotFound(_))
        ));
        let deletes = w
            .history()
            .await
            .into_iter()
            .filter(|h| h.field == "evidence" && h.new.is_null())
            .count();
        assert_eq!(deletes, 3);
    }

    #[test]
    fn object_keys_name_tenant_and_evidence_only() {
        let tenant = TenantId::parse("acme").unwrap();
        let id = EvidenceId::parse("0f8e3a1c").unwrap();
        let key = object_key(&tenant, &id);
        assert_eq!(key, "evidence/acme/0f8e3a1c");
        assert_eq!(parse_object_key(&key), Some((tenant, id)));
        for bad in [
            "evidence/acme",
            "evidence/a#b/e1",
            "evidence/acme/e 1",
            "other/acme/e1",
        ] {
            assert_eq!(parse_object_key(bad), None, "{bad}");
        }
    }

    /// `GET /actions/{id}/evidence` reads one partition of evidence and the action's usage
    /// items: two queries, nothing tenant-wide, whatever else the tenant holds.
    #[tokio::test]
    async fn listing_reads_the_actions_evidence_and_nothing_else() {
        let (ported, caller, dir) = ports();
        drop(ported);
        let backend = Arc::new(Recording::open(&dir.path().join("r.redb")));
        let files = tempfile::tempdir().unwrap();
        let state = AppState::new(Store::new(backend.clone())).with_evidence(EvidenceConfig {
            blobs: Arc::new(LocalBlobs::new(
                files.path().to_owned(),
                b"s".to_vec(),
                "http://x",
            )),
            max_bytes: 1000,
        });
        assess(&state, &caller, "gdpr", "EU").await;
        assess(&state, &caller, "iso-27001-2022", "Global").await;
        for (action, n) in [(ACTION, 3), ("mfa-admins", 2)] {
            for i in 0..n {
                let body = link(&format!("l{i}"), "https://acme.test");
                add(&state, &caller, action, body).await.unwrap();
            }
        }
        backend.reads.lock().unwrap().clear();
        let items = list(&state.store, &caller.tenant, ACTION).await.unwrap();
        assert_eq!(items.len(), 3);
        let mut reads = backend.reads.lock().unwrap().clone();
        reads.sort();
        assert_eq!(
            reads,
            [
                format!("get T#acme#USE T#{ACTION}"),
                format!("query T#acme#EVID#T#{ACTION} ^"),
            ]
        );
    }
}
