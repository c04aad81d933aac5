//! Connectors (API.md "Connectors", "Compliance connectors"): activation with credentials
//! checked against the service first, edits, pause and resume, deletion, validation, runs on
//! demand and on the 24-hour schedule, and how a run's check results become the test status
//! of the improvement actions the connector's kind tests.
//!
//! Credentials go to the secret store only: the connector item keeps the names of the fields
//! that are set, responses say `"set"`, events and logs never carry them.
//!
//! A run ([`execute`]) holds the connector's lease (one run per connector at a time), reads the
//! service, evaluates the kind's checks, stores the verdicts, and re-derives the status of each
//! tested action from the verdicts of every instance the live assessments chose (passed only
//! when all pass). Each changed action is a history entry with source `connector:<id>` and an
//! `ActionUpdated` event; the run's record lands with `ConnectorRunFinished` or
//! `ConnectorRunFailed`.

use std::collections::{BTreeMap, BTreeSet};

use attest_connectors::{
    CheckResult, ComplianceKind, ConnectorError, Credentials, DataKind, KindInfo, RawRecord,
    RecordSink,
};
use attest_domain::action::{apply_patch, ActionPatch, InstanceRef, InstanceScope};
use attest_domain::connector::{
    combine, combined_notes, normalize_name, Connector, ConnectorState, ConnectorStats,
    ErrorCategory, InstanceVerdict, Outcome, Risk, RunRecord, Trigger, Verdict, Window,
};
use attest_domain::event::{Event, EventType, Subject};
use attest_domain::history::Source;
use attest_domain::identity::Identity;
use attest_domain::ids::{new_id, ActionId, TenantId};
use attest_domain::imported::{map_person, ImportedRecord};
use attest_domain::vocab::{ImplementationStatus, TestStatus};
use attest_domain::FieldError;
use attest_secrets::{Secret, SecretError, SecretRef};
use attest_store::instances::InstanceUpdate;
use attest_store::{StoreError, Versioned};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::events;
use crate::state::{ConnectorPorts, RunRequest};
use crate::AppState;

/// How long a run's lease lasts unless renewed: a run renews it every third of this while it
/// works, so a run that died (a crash, a killed process) is taken over this long after.
/// `ATTEST_RUN_LEASE_SECS` changes it (at least 5 s).
pub const LEASE_SECS: i64 = 120;

fn lease_duration() -> TimeDelta {
    let secs = std::env::var("ATTEST_RUN_LEASE_SECS")
        .ok()
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(LEASE_SECS)
        .max(5);
    TimeDelta::seconds(secs)
}
/// Most runs one history page lists.
pub const MAX_HISTORY: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum ConnectorUseError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("invalid {}", .0.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error("If-Match names version {expected} but connector {id} is at version {current}; reload it and retry")]
    Stale {
        id: String,
        expected: u64,
        current: u64,
    },
    #[error("{0}")]
    Conflict(String),
    /// An upload of a content type the connector does not take.
    #[error("{0}")]
    UnsupportedType(String),
    /// A port this deployment does not have, or the secret store failing.
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ConnectorUseError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ConnectorUseError::NotFound(what),
            StoreError::Conflict(m) => ConnectorUseError::Conflict(m),
            other => ConnectorUseError::Store(other),
        }
    }
}

fn invalid(field: &str, message: impl Into<String>) -> ConnectorUseError {
    ConnectorUseError::Invalid(vec![FieldError::new(field, message)])
}

fn ports(state: &AppState) -> Result<&ConnectorPorts, ConnectorUseError> {
    state.connectors.as_ref().ok_or_else(|| {
        ConnectorUseError::Unavailable("connectors are not configured in this deployment".into())
    })
}

fn secret_error(e: SecretError) -> ConnectorUseError {
    ConnectorUseError::Unavailable(format!("the secret store failed: {e}"))
}

/// A kind of either family.
#[derive(Clone, Copy)]
enum Kind {
    /// Tests improvement actions.
    Compliance(&'static dyn ComplianceKind),
    /// Imports records.
    Data(&'static dyn DataKind),
    /// Takes records pushed to it (`hr_csv`, `badge`).
    Push(&'static KindInfo),
}

impl Kind {
    fn info(&self) -> &'static KindInfo {
        match self {
            Kind::Compliance(k) => k.info(),
            Kind::Data(k) => k.info(),
            Kind::Push(info) => info,
        }
    }

    fn parse_settings(
        &self,
        body: &Map<String, Value>,
    ) -> Result<Map<String, Value>, Vec<(String, String)>> {
        match self {
            Kind::Compliance(k) => k.parse_settings(body),
            Kind::Data(k) => k.parse_settings(body),
            Kind::Push(info) if info.kind == "hr_csv" => {
                attest_connectors::hr::parse_hr_settings(body)
            }
            Kind::Push(_) => attest_connectors::badge::parse_badge_settings(body),
        }
    }

    async fn validate(
        &self,
        http: &attest_connectors::HttpClient,
        creds: &Credentials,
    ) -> Result<String, ConnectorError> {
        match self {
            Kind::Compliance(k) => k.validate(http, creds).await,
            Kind::Data(k) => k.validate(http, creds).await,
            Kind::Push(_) => Ok("nothing to check: records are uploaded to this connector".into()),
        }
    }
}

fn any_kind(name: &str) -> Result<Kind, ConnectorUseError> {
    if let Some(k) = attest_connectors::compliance_kind(name) {
        return Ok(Kind::Compliance(k));
    }
    if let Some(k) = attest_connectors::data_kind(name) {
        return Ok(Kind::Data(k));
    }
    if let Some(info) = attest_connectors::push_kind(name) {
        return Ok(Kind::Push(info));
    }
    Err(unknown_kind(name))
}

fn unknown_kind(name: &str) -> ConnectorUseError {
    let known: Vec<&str> = attest_connectors::kinds().iter().map(|k| k.kind).collect();
    invalid(
        "kind",
        format!(
            "unknown connector kind {name:?}; one of {}",
            known.join(", ")
        ),
    )
}

/// `GET /connector-kinds`.
pub fn kinds() -> Vec<&'static KindInfo> {
    attest_connectors::kinds()
}

/// A connector as the API shows it: credentials only as `{"<field>": "set"}`.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectorView {
    pub id: String,
    pub kind: String,
    pub service: String,
    pub name: String,
    pub state: ConnectorState,
    pub settings: Map<String, Value>,
    pub credentials: BTreeMap<String, &'static str>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
}

impl From<Versioned<Connector>> for ConnectorView {
    fn from(c: Versioned<Connector>) -> Self {
        let v = c.value;
        Self {
            credentials: v
                .credential_fields
                .iter()
                .map(|f| (f.clone(), "set"))
                .collect(),
            id: v.id,
            kind: v.kind,
            service: v.service,
            name: v.name,
            state: v.state,
            settings: v.settings,
            created_at: v.created_at,
            created_by: v.created_by,
            updated_at: v.updated_at,
            version: c.version,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewConnector {
    pub kind: String,
    pub name: String,
    pub credentials: Map<String, Value>,
    #[serde(default)]
    pub settings: Map<String, Value>,
}

/// `PUT /connectors/{id}`: the fields given replace the stored ones; credential fields given
/// replace those fields only.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorChange {
    pub name: Option<String>,
    pub credentials: Option<Map<String, Value>>,
    pub settings: Option<Map<String, Value>>,
    pub state: Option<ConnectorState>,
}

fn secret_ref(tenant: &TenantId, id: &str) -> SecretRef {
    SecretRef {
        tenant: tenant.to_string(),
        connector: id.to_owned(),
    }
}

fn parse_credentials(
    info: &KindInfo,
    body: &Map<String, Value>,
) -> Result<Credentials, ConnectorUseError> {
    attest_connectors::parse_credentials(info, body).map_err(|errors| {
        ConnectorUseError::Invalid(
            errors
                .into_iter()
                .map(|(f, m)| FieldError::new(format!("credentials.{f}"), m))
                .collect(),
        )
    })
}

/// Settings a kind accepts: its declared fields, each valid; returned as the kind keeps them.
fn check_settings(
    kind: Kind,
    settings: &Map<String, Value>,
) -> Result<Map<String, Value>, ConnectorUseError> {
    kind.parse_settings(settings).map_err(|errors| {
        ConnectorUseError::Invalid(
            errors
                .into_iter()
                .map(|(f, m)| FieldError::new(format!("settings.{f}"), m))
                .collect(),
        )
    })
}

/// Checks credentials against the service; a refusal is 422 naming what failed.
async fn validate_against_service(
    ports: &ConnectorPorts,
    kind: Kind,
    creds: &Credentials,
) -> Result<String, ConnectorUseError> {
    kind.validate(&ports.http, creds).await.map_err(|e| {
        invalid(
            "credentials",
            format!("{} refused them: {}", kind.info().name, e),
        )
    })
}

fn changed_event(state: &AppState, caller: &Identity, c: &Connector, change: &str) -> Event {
    events::by(
        state,
        caller,
        EventType::ConnectorChanged,
        Subject::new("connector", c.id.as_str()),
        json!({
            "change": change,
            "kind": c.kind,
            "name": c.name,
            "state": c.state,
            "credential_fields": c.credential_fields,
        }),
    )
}

/// `POST /connectors`: the credentials are checked against the service before anything is
/// stored; then the secret, then the connector (the secret goes again if that fails).
pub async fn create(
    state: &AppState,
    caller: &Identity,
    body: NewConnector,
) -> Result<Versioned<Connector>, ConnectorUseError> {
    let ports = ports(state)?;
    let kind = any_kind(&body.kind)?;
    let info = kind.info();
    let (name, unique) = normalize_name(&body.name).map_err(field_error)?;
    let settings = check_settings(kind, &body.settings)?;
    let creds = parse_credentials(info, &body.credentials)?;
    let tenant = &caller.tenant;
    if state
        .store
        .list_connectors(tenant)
        .await?
        .iter()
        .any(|c| c.value.name.to_lowercase() == unique)
    {
        return Err(ConnectorUseError::Conflict(format!(
            "a connector named {name:?} exists already; names are unique per organisation"
        )));
    }
    validate_against_service(ports, kind, &creds).await?;
    let now = state.now();
    let connector = Connector {
        id: new_id(),
        kind: info.kind.to_owned(),
        service: info.service.to_owned(),
        name,
        state: ConnectorState::Active,
        settings,
        credential_fields: creds.0.keys().cloned().collect(),
        created_at: now,
        created_by: caller.user.to_string(),
        updated_at: now,
    };
    let at = secret_ref(tenant, &connector.id);
    ports
        .secrets
        .put(&at, &Secret::new(creds.0))
        .await
        .map_err(secret_error)?;
    let event = changed_event(state, caller, &connector, "created");
    match state
        .store
        .create_connector(tenant, &connector, &unique, &[event])
        .await
    {
        Ok(created) => {
            tracing::info!(tenant = %tenant, connector = %connector.id, kind = %connector.kind, "connector activated");
            Ok(created)
        }
        Err(e) => {
            if let Err(gone) = ports.secrets.delete(&at).await {
                tracing::warn!(connector = %connector.id, error = %gone, "secret of a connector not stored is left behind");
            }
            Err(e.into())
        }
    }
}

fn field_error(e: attest_domain::DomainError) -> ConnectorUseError {
    match e {
        attest_domain::DomainError::Invalid(f) => ConnectorUseError::Invalid(vec![f]),
        attest_domain::DomainError::Conflict(m) => ConnectorUseError::Conflict(m),
    }
}

pub async fn list(
    state: &AppState,
    tenant: &TenantId,
) -> Result<Vec<Versioned<Connector>>, ConnectorUseError> {
    Ok(state.store.list_connectors(tenant).await?)
}

pub async fn show(
    state: &AppState,
    tenant: &TenantId,
    id: &str,
) -> Result<Versioned<Connector>, ConnectorUseError> {
    Ok(state.store.get_connector(tenant, id).await?)
}

fn check_version(
    current: &Versioned<Connector>,
    expected: Option<u64>,
) -> Result<(), ConnectorUseError> {
    match expected {
        Some(v) if v != current.version => Err(ConnectorUseError::Stale {
            id: current.value.id.clone(),
            expected: v,
            current: current.version,
        }),
        _ => Ok(()),
    }
}

/// How often a change without If-Match is applied again on the current version after losing
/// a race, before it is a conflict.
const ATTEMPTS: u32 = 16;

fn stale(id: &str, e: StoreError) -> ConnectorUseError {
    match e {
        StoreError::StaleVersion { expected, current } => ConnectorUseError::Stale {
            id: id.to_owned(),
            expected,
            current,
        },
        other => other.into(),
    }
}

fn kept_changing(id: &str) -> ConnectorUseError {
    ConnectorUseError::Conflict(format!(
        "connector {id} kept changing while this change was applied; try again"
    ))
}

/// `PUT /connectors/{id}`. New credentials are merged into the stored ones and checked
/// against the service before anything changes. With If-Match a stale version is 412;
/// without, the change is applied on the current version, re-read after a lost race.
pub async fn update(
    state: &AppState,
    caller: &Identity,
    id: &str,
    change: ConnectorChange,
    expected: Option<u64>,
) -> Result<Versioned<Connector>, ConnectorUseError> {
    let ports = ports(state)?;
    let tenant = &caller.tenant;
    let mut current = state.store.get_connector(tenant, id).await?;
    check_version(&current, expected)?;
    let kind = any_kind(&current.value.kind)?;
    let name = match &change.name {
        Some(name) => Some(normalize_name(name).map_err(field_error)?),
        None => None,
    };
    let settings = match &change.settings {
        Some(settings) => Some(check_settings(kind, settings)?),
        None => None,
    };
    // New credentials: merged into the stored ones, checked against the service, stored.
    let mut credential_fields = None;
    if let Some(given) = &change.credentials {
        if given.is_empty() {
            return Err(invalid("credentials", "name at least one credential field"));
        }
        let at = secret_ref(tenant, id);
        let stored = ports.secrets.get(&at).await.map_err(secret_error)?;
        let mut merged: Map<String, Value> = stored
            .fields()
            .filter_map(|f| stored.get(f).map(|v| (f.to_owned(), Value::from(v))))
            .collect();
        for (k, v) in given {
            merged.insert(k.clone(), v.clone());
        }
        let creds = parse_credentials(kind.info(), &merged)?;
        validate_against_service(ports, kind, &creds).await?;
        credential_fields = Some(creds.0.keys().cloned().collect::<Vec<_>>());
        ports
            .secrets
            .put(&at, &Secret::new(creds.0))
            .await
            .map_err(secret_error)?;
    }
    for attempt in 0..ATTEMPTS {
        let mut next = current.value.clone();
        let old_unique = current.value.name.to_lowercase();
        let mut names = None;
        if let Some((name, unique)) = &name {
            if *unique != old_unique {
                names = Some(unique.clone());
            }
            next.name = name.clone();
        }
        if let Some(settings) = &settings {
            next.settings = settings.clone();
        }
        if let Some(s) = change.state {
            next.state = s;
        }
        if let Some(fields) = &credential_fields {
            next.credential_fields = fields.clone();
        }
        next.updated_at = state.now();
        let event = changed_event(state, caller, &next, "updated");
        match state
            .store
            .update_connector(
                tenant,
                &current,
                &next,
                names.as_deref().map(|n| (old_unique.as_str(), n)),
                &[event],
            )
            .await
        {
            Ok(stored) => return Ok(stored),
            Err(StoreError::StaleVersion { .. }) if expected.is_none() => {
                attest_store::pause_before_retry(attempt).await;
                current = state.store.get_connector(tenant, id).await?;
            }
            Err(e) => return Err(stale(id, e)),
        }
    }
    Err(kept_changing(id))
}

/// `DELETE /connectors/{id}`: the connector, its secret, and its verdicts; the actions it
/// tested are derived again from the instances that remain. Without If-Match a concurrent
/// change is re-read; a concurrent delete leaves this one not found.
pub async fn delete(
    state: &AppState,
    caller: &Identity,
    id: &str,
    expected: Option<u64>,
) -> Result<(), ConnectorUseError> {
    let ports = ports(state)?;
    let tenant = &caller.tenant;
    let mut current = state.store.get_connector(tenant, id).await?;
    check_version(&current, expected)?;
    let mut deleted = false;
    for attempt in 0..ATTEMPTS {
        let event = changed_event(state, caller, &current.value, "deleted");
        match state
            .store
            .delete_connector(
                tenant,
                &current,
                &current.value.name.to_lowercase(),
                &[event],
            )
            .await
        {
            Ok(()) => {
                deleted = true;
                break;
            }
            Err(StoreError::StaleVersion { .. }) if expected.is_none() => {
                attest_store::pause_before_retry(attempt).await;
                current = state.store.get_connector(tenant, id).await?;
            }
            Err(e) => return Err(stale(id, e)),
        }
    }
    if !deleted {
        return Err(kept_changing(id));
    }
    ports
        .secrets
        .delete(&secret_ref(tenant, id))
        .await
        .map_err(secret_error)?;
    match any_kind(&current.value.kind) {
        Ok(Kind::Compliance(kind)) => refresh_actions(state, tenant, kind, &current.value).await?,
        Ok(Kind::Data(_) | Kind::Push(_)) if !holds(&current.value) => {
            // Its records follow the retention rule: without a hold, they go with it.
            // Every record (a date past any record's; keys hold four-digit years).
            let end_of_time: DateTime<Utc> = "9999-12-31T23:59:59Z".parse().expect("a date");
            delete_records_before(state, tenant, id, end_of_time).await?;
        }
        _ => {}
    }
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct Validation {
    pub ok: bool,
    pub detail: String,
}

/// `POST /connectors/{id}/validate`: the stored credentials against the service.
pub async fn validate(
    state: &AppState,
    tenant: &TenantId,
    id: &str,
) -> Result<Validation, ConnectorUseError> {
    let ports = ports(state)?;
    let c = state.store.get_connector(tenant, id).await?;
    let kind = any_kind(&c.value.kind)?;
    let creds = credentials(ports, tenant, id).await?;
    Ok(match kind.validate(&ports.http, &creds).await {
        Ok(detail) => Validation { ok: true, detail },
        Err(e) => Validation {
            ok: false,
            detail: format!("{:?}: {e}", e.category).to_lowercase(),
        },
    })
}

async fn credentials(
    ports: &ConnectorPorts,
    tenant: &TenantId,
    id: &str,
) -> Result<Credentials, ConnectorUseError> {
    let secret = ports
        .secrets
        .get(&secret_ref(tenant, id))
        .await
        .map_err(secret_error)?;
    Ok(Credentials(
        secret
            .fields()
            .filter_map(|f| secret.get(f).map(|v| (f.to_owned(), v.to_owned())))
            .collect(),
    ))
}

/// A fresh run id: time-ordered, so a descending query lists the newest first.
fn new_run_id() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
}

/// `POST /connectors/{id}/run`: queues a run; 202 with its id.
pub async fn run_now(
    state: &AppState,
    tenant: &TenantId,
    id: &str,
) -> Result<String, ConnectorUseError> {
    let ports = ports(state)?;
    let c = state.store.get_connector(tenant, id).await?;
    if attest_connectors::push_kind(&c.value.kind).is_some() {
        return Err(ConnectorUseError::Conflict(format!(
            "a {} connector reads nothing: upload its records to /connectors/{id}/upload",
            c.value.kind
        )));
    }
    let request = RunRequest {
        tenant: tenant.to_string(),
        connector_id: c.value.id,
        run_id: new_run_id(),
        trigger: Trigger::Manual,
    };
    ports
        .queue
        .enqueue(std::slice::from_ref(&request))
        .await
        .map_err(ConnectorUseError::Unavailable)?;
    Ok(request.run_id)
}

/// The 24-hour schedule: one run request per active connector of the stack. Returns how many
/// were queued.
pub async fn schedule_all(state: &AppState) -> Result<usize, ConnectorUseError> {
    schedule_all_every(state, TimeDelta::hours(SCHEDULE_EVERY_HOURS)).await
}

/// Notes that a schedule of period `every` starts now (`attest serve`): its first run is one
/// period later.
pub async fn schedule_started(state: &AppState, every: TimeDelta) -> Result<(), ConnectorUseError> {
    let now = state.now();
    Ok(state.store.put_schedule_mark(now, now + every).await?)
}

/// One run request per active connector of the stack, for a schedule of period `every`.
pub async fn schedule_all_every(
    state: &AppState,
    every: TimeDelta,
) -> Result<usize, ConnectorUseError> {
    let ports = ports(state)?;
    let requests: Vec<RunRequest> = state
        .store
        .indexed_connectors()
        .await?
        .into_iter()
        .filter(|c| c.state == ConnectorState::Active)
        .map(|c| RunRequest {
            tenant: c.tenant.to_string(),
            connector_id: c.id,
            run_id: new_run_id(),
            trigger: Trigger::Schedule,
        })
        .collect();
    for chunk in requests.chunks(10) {
        ports
            .queue
            .enqueue(chunk)
            .await
            .map_err(ConnectorUseError::Unavailable)?;
    }
    let now = state.now();
    state.store.put_schedule_mark(now, now + every).await?;
    Ok(requests.len())
}

#[derive(Debug, Serialize)]
pub struct LastRun {
    pub id: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub outcome: Option<Outcome>,
}

#[derive(Debug, Serialize)]
pub struct RunErrorView {
    pub category: ErrorCategory,
    pub message: String,
}

#[derive(Debug, Serialize)]
pub struct StatusView {
    pub state: &'static str,
    pub last_run: Option<LastRun>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub items_imported_total: u64,
    pub errors_last_run: u32,
    pub error: Option<RunErrorView>,
    pub next_run_at: Option<DateTime<Utc>>,
}

/// How often the schedule runs every active connector.
pub const SCHEDULE_EVERY_HOURS: i64 = 24;

/// `GET /connectors/{id}/status`.
pub async fn status(
    state: &AppState,
    tenant: &TenantId,
    id: &str,
) -> Result<StatusView, ConnectorUseError> {
    let c = state.store.get_connector(tenant, id).await?;
    let (stats, mark) = tokio::try_join!(
        state.store.connector_stats(tenant, id),
        state.store.schedule_mark(),
    )?;
    let failed = stats
        .last_run
        .as_ref()
        .is_some_and(|r| r.outcome == Some(Outcome::Failed));
    let state_name = match c.value.state {
        ConnectorState::Paused => "paused",
        ConnectorState::Active if failed => "error",
        ConnectorState::Active => "active",
    };
    // Only while a schedule runs (none before the stack's first fan-out, nor in `attest
    // serve --import-every off`).
    let next_run_at = mark.filter(|_| c.value.state == ConnectorState::Active);
    let errors_last_run = stats
        .last_run
        .as_ref()
        .map(|r| r.errors.iter().map(|e| e.count).sum())
        .unwrap_or(0);
    let error = stats
        .last_run
        .as_ref()
        .filter(|r| r.outcome != Some(Outcome::Succeeded))
        .and_then(|r| r.errors.first())
        .map(|e| RunErrorView {
            category: e.category,
            message: e.message.clone(),
        });
    Ok(StatusView {
        state: state_name,
        last_run: stats.last_run.as_ref().map(|r| LastRun {
            id: r.id.clone(),
            started_at: r.started_at,
            finished_at: r.finished_at,
            outcome: r.outcome,
        }),
        last_success_at: stats.last_success_at,
        items_imported_total: stats.items_imported_total,
        errors_last_run,
        error,
        next_run_at,
    })
}

/// `GET /connectors/{id}/history`.
pub async fn history(
    state: &AppState,
    tenant: &TenantId,
    id: &str,
    limit: usize,
    cursor: Option<String>,
) -> Result<attest_store::connectors::RunPage, ConnectorUseError> {
    state.store.get_connector(tenant, id).await?;
    if let Some(c) = &cursor {
        if uuid::Uuid::parse_str(c).is_err() {
            return Err(invalid("cursor", "not a cursor this route gave"));
        }
    }
    Ok(state.store.list_runs(tenant, id, limit, cursor).await?)
}

/// What one instance found, as stored between runs (`CONNRES`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredResults {
    pub at: DateTime<Utc>,
    pub connector_name: String,
    /// Verdict per action id.
    pub actions: BTreeMap<String, InstanceVerdict>,
    pub checks: Vec<CheckResult>,
}

fn risk(r: attest_connectors::Risk) -> Risk {
    match r {
        attest_connectors::Risk::Low => Risk::Low,
        attest_connectors::Risk::Medium => Risk::Medium,
        attest_connectors::Risk::High => Risk::High,
    }
}

fn category(c: attest_connectors::ErrorCategory) -> ErrorCategory {
    use attest_connectors::ErrorCategory as C;
    match c {
        C::Auth => ErrorCategory::Auth,
        C::Permission => ErrorCategory::Permission,
        C::RateLimit => ErrorCategory::RateLimit,
        C::SourceUnavailable => ErrorCategory::SourceUnavailable,
        C::BadRecord => ErrorCategory::BadRecord,
    }
}

/// One instance's verdict per action from its checks: failed (worst risk) when one failed,
/// undetected when one could not be read, else passed.
fn verdicts(
    c: &Connector,
    at: DateTime<Utc>,
    checks: &[CheckResult],
) -> BTreeMap<String, InstanceVerdict> {
    let mut by_action: BTreeMap<&str, Vec<&CheckResult>> = BTreeMap::new();
    for r in checks {
        by_action.entry(r.action_id.as_str()).or_default().push(r);
    }
    by_action
        .into_iter()
        .map(|(action, results)| {
            let worst = results
                .iter()
                .filter_map(|r| match r.verdict {
                    attest_connectors::Verdict::Failed { risk: x } => Some(risk(x)),
                    _ => None,
                })
                .max();
            let verdict = match worst {
                Some(r) => Verdict::Failed { risk: r },
                None if results
                    .iter()
                    .any(|r| r.verdict == attest_connectors::Verdict::Undetected) =>
                {
                    Verdict::Undetected
                }
                None => Verdict::Passed,
            };
            let note = results
                .iter()
                .map(|r| {
                    format!(
                        "{} — {} ({} {})",
                        r.check_id, r.detail, r.request, r.pointer
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            (
                action.to_owned(),
                InstanceVerdict {
                    connector_id: c.id.clone(),
                    connector_name: c.name.clone(),
                    verdict,
                    note,
                    at,
                },
            )
        })
        .collect()
}

/// Verdicts of a run that could read nothing: every check of the kind undetected, saying why.
fn failed_checks(
    kind: &dyn ComplianceKind,
    settings: &Map<String, Value>,
    e: &ConnectorError,
) -> Vec<CheckResult> {
    kind.checks(settings)
        .iter()
        .map(|c| CheckResult {
            check_id: c.id.clone(),
            action_id: c.action_id.clone(),
            verdict: attest_connectors::Verdict::Undetected,
            value: None,
            request: c.source.request.clone(),
            pointer: c.source.pointer.clone(),
            detail: format!("could not read: the run failed ({e})"),
        })
        .collect()
}

/// What [`execute`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Executed {
    Ran(Outcome),
    /// Another run holds the lease.
    Busy,
    /// The connector is gone.
    Gone,
}

/// Runs one connector (the `connector-run` function and `attest serve`'s worker).
pub async fn execute(
    state: &AppState,
    request: &RunRequest,
) -> Result<Executed, ConnectorUseError> {
    let ports = ports(state)?;
    let tenant = TenantId::parse(request.tenant.as_str())
        .map_err(|_| invalid("tenant", "not a tenant id"))?;
    let c = match state
        .store
        .get_connector(&tenant, &request.connector_id)
        .await
    {
        Ok(c) => c.value,
        Err(StoreError::NotFound(_)) => return Ok(Executed::Gone),
        Err(e) => return Err(e.into()),
    };
    let kind = any_kind(&c.kind)?;
    let started = state.now();
    let lease = lease_duration();
    let until = started + lease;
    if !state
        .store
        .acquire_run_lease(&tenant, &c.id, &request.run_id, started, until)
        .await?
    {
        tracing::info!(tenant = %tenant, connector = %c.id, "a run of this connector is under way; this one is skipped");
        return Ok(Executed::Busy);
    }
    let work = async {
        match kind {
            Kind::Compliance(kind) => {
                run_with_lease(state, ports, &tenant, &c, kind, request, started).await
            }
            Kind::Data(kind) => run_import(state, ports, &tenant, &c, kind, request, started).await,
            Kind::Push(_) => {
                // Nothing to read: the daily run applies retention only.
                retain(state, &tenant, &c, started).await?;
                Ok(Outcome::Succeeded)
            }
        }
    };
    // The lease is renewed while the run works.
    let heartbeat = async {
        let every = (lease / 3)
            .to_std()
            .unwrap_or(std::time::Duration::from_secs(10));
        loop {
            tokio::time::sleep(every).await;
            let until = state.now() + lease;
            match state
                .store
                .renew_run_lease(&tenant, &c.id, &request.run_id, until)
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(connector = %c.id, run = %request.run_id, "the run's lease was lost; another run may start")
                }
                Err(e) => {
                    tracing::warn!(connector = %c.id, error = %e, "the run's lease was not renewed")
                }
            }
        }
    };
    let result = tokio::select! {
        r = work => r,
        _ = heartbeat => unreachable!("the heartbeat never ends"),
    };
    if let Err(e) = state
        .store
        .release_run_lease(&tenant, &c.id, &request.run_id)
        .await
    {
        tracing::warn!(connector = %c.id, error = %e, "lease not released; it expires on its own");
    }
    result.map(Executed::Ran)
}

async fn run_with_lease(
    state: &AppState,
    ports: &ConnectorPorts,
    tenant: &TenantId,
    c: &Connector,
    kind: &'static dyn ComplianceKind,
    request: &RunRequest,
    started: DateTime<Utc>,
) -> Result<Outcome, ConnectorUseError> {
    let previous = state.store.connector_stats(tenant, &c.id).await?;
    let from = previous.last_run.as_ref().map_or(started, |r| r.started_at);
    let mut run = RunRecord::new(
        request.run_id.clone(),
        &c.id,
        request.trigger,
        started,
        Window { from, to: started },
    );
    let read = match credentials(ports, tenant, &c.id).await {
        Ok(creds) => kind.read(&ports.http, &creds).await,
        Err(e) => Err(ConnectorError {
            category: attest_connectors::ErrorCategory::Auth,
            message: format!("credentials could not be read: {e}"),
        }),
    };
    let (checks, read_anything) = match &read {
        Ok(readings) => {
            for (request, doc) in &readings.documents {
                match doc {
                    Ok(_) => run.items_fetched += 1,
                    Err(e) => run.add_error(category(e.category), format!("{request}: {e}")),
                }
            }
            (kind.evaluate(&c.settings, readings), run.items_fetched > 0)
        }
        Err(e) => {
            run.add_error(category(e.category), e.message.clone());
            (failed_checks(kind, &c.settings, e), false)
        }
    };
    for r in &checks {
        match r.verdict {
            attest_connectors::Verdict::Passed => run.checks.passed += 1,
            attest_connectors::Verdict::Failed { .. } => run.checks.failed += 1,
            attest_connectors::Verdict::Undetected => run.checks.undetected += 1,
        }
    }
    run.items_imported = if read_anything {
        checks.len() as u64
    } else {
        0
    };
    let finished = state.now();
    run.finish(finished, read_anything);
    let outcome = run.outcome.unwrap_or(Outcome::Failed);
    let results = StoredResults {
        at: started,
        connector_name: c.name.clone(),
        actions: verdicts(c, started, &checks),
        checks,
    };
    // The verdicts, then the actions derived from them, then the run's record: once a run is
    // in the history, the statuses it set are in place.
    state
        .store
        .put_connector_results(
            tenant,
            &c.id,
            &serde_json::to_value(&results).expect("results serialize"),
        )
        .await?;
    refresh_actions(state, tenant, kind, c).await?;
    record_finished(state, tenant, c, &run, &previous, None).await?;
    tracing::info!(tenant = %tenant, connector = %c.id, run = %run.id, outcome = ?outcome, passed = run.checks.passed, failed = run.checks.failed, undetected = run.checks.undetected, "connector run finished");
    Ok(outcome)
}

/// Records a finished run: the connector's stats after it (from `previous`), its record, and
/// `ConnectorRunFailed` when it failed, else `ConnectorRunFinished`, in one transaction.
pub(crate) async fn record_finished(
    state: &AppState,
    tenant: &TenantId,
    c: &Connector,
    run: &RunRecord,
    previous: &ConnectorStats,
    actor: Option<&str>,
) -> Result<(), ConnectorUseError> {
    let finished = run.finished_at.unwrap_or_else(|| state.now());
    let failed = run.outcome == Some(Outcome::Failed);
    let stats = ConnectorStats {
        last_run: Some(run.clone()),
        last_success_at: if failed {
            previous.last_success_at
        } else {
            Some(finished)
        },
        items_imported_total: previous.items_imported_total + run.items_imported,
    };
    let event = Event::new(
        tenant,
        if failed {
            EventType::ConnectorRunFailed
        } else {
            EventType::ConnectorRunFinished
        },
        finished,
        actor,
        Subject::new("connector", c.id.as_str()),
        json!({"connector": {"id": c.id, "name": c.name, "kind": c.kind}, "run": run}),
    );
    Ok(state
        .store
        .record_run(tenant, run, &stats, &[event])
        .await?)
}

/// How far a window reaches back before the previous one's end: sources deliver late.
pub const OVERLAP_MINUTES: i64 = 10;

fn setting_u64(c: &Connector, name: &str, default: u64) -> u64 {
    c.settings
        .get(name)
        .and_then(Value::as_u64)
        .unwrap_or(default)
}

/// Whether the connector's settings hold its records (no retention deletes).
fn holds(c: &Connector) -> bool {
    c.settings.get("hold").and_then(Value::as_bool) == Some(true)
}

/// Where a data connector's pages go: each record mapped to a person and stored once.
struct StoreSink<'a> {
    state: &'a AppState,
    tenant: &'a TenantId,
    connector: &'a Connector,
    imported: u64,
    duplicates: u64,
    unmapped: u64,
}

#[async_trait::async_trait]
impl RecordSink for StoreSink<'_> {
    async fn put(&mut self, records: Vec<RawRecord>) -> Result<(), String> {
        let user_map = self
            .connector
            .settings
            .get("user_map")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let records: Vec<ImportedRecord> = records
            .into_iter()
            .map(|r| {
                let person = map_person(r.email.as_deref(), r.external_user.as_deref(), &user_map);
                ImportedRecord {
                    connector_id: self.connector.id.clone(),
                    source_id: r.source_id,
                    kind: r.kind,
                    at: r.at,
                    person,
                    external_user: r.external_user,
                    container: r.container,
                    text: r.text,
                    data: r.data,
                }
            })
            .collect();
        let written = self
            .state
            .store
            .put_records(self.tenant, &records)
            .await
            .map_err(|e| format!("the records could not be stored: {e}"))?;
        // Unmapped records are counted once, when first stored.
        self.unmapped += written.unmapped;
        let activity: Vec<ImportedRecord> = records
            .into_iter()
            .filter(|r| r.kind == "sign_in" || r.kind == "sign_out")
            .collect();
        if !activity.is_empty() {
            super::insider::departing_activity(self.state, self.tenant, &activity)
                .await
                .map_err(|e| format!("departing activity not recorded: {e}"))?;
        }
        self.imported += written.imported;
        self.duplicates += written.duplicates;
        Ok(())
    }
}

/// A data connector's run: the window from the watermark (less the overlap) or, the first
/// time, `backfill_days` back; records stored once each by source id; the watermark moved to
/// the window's end only when every page of it was committed.
async fn run_import(
    state: &AppState,
    ports: &ConnectorPorts,
    tenant: &TenantId,
    c: &Connector,
    kind: &'static dyn DataKind,
    request: &RunRequest,
    started: DateTime<Utc>,
) -> Result<Outcome, ConnectorUseError> {
    let previous = state.store.connector_stats(tenant, &c.id).await?;
    let from = match state.store.import_watermark(tenant, &c.id).await? {
        Some(mark) => mark - TimeDelta::minutes(OVERLAP_MINUTES),
        None => {
            let days = setting_u64(
                c,
                "backfill_days",
                attest_connectors::data::DEFAULT_BACKFILL_DAYS.into(),
            );
            started - TimeDelta::days(days as i64)
        }
    };
    let window = attest_connectors::Window::new(from, started);
    let mut run = RunRecord::new(
        request.run_id.clone(),
        &c.id,
        request.trigger,
        started,
        Window {
            from: window.from,
            to: window.to,
        },
    );
    let mut sink = StoreSink {
        state,
        tenant,
        connector: c,
        imported: 0,
        duplicates: 0,
        unmapped: 0,
    };
    let fetched = match credentials(ports, tenant, &c.id).await {
        Ok(creds) => kind.fetch(&ports.http, &creds, &window, &mut sink).await,
        Err(e) => Err(ConnectorError {
            category: attest_connectors::ErrorCategory::Auth,
            message: format!("credentials could not be read: {e}"),
        }),
    };
    run.items_imported = sink.imported;
    run.duplicates_skipped = sink.duplicates;
    run.unmapped_users = sink.unmapped;
    let complete = match &fetched {
        Ok(report) => {
            run.items_fetched = report.fetched;
            for e in &report.errors {
                run.add_error(category(e.category), e.message.clone());
            }
            // A channel the bot may not read is reported on every run and must not hold the
            // others back; anything that may pass (rate limits, outages) keeps the watermark
            // where it was, so the next window reads it again.
            report
                .errors
                .iter()
                .all(|e| e.category == attest_connectors::ErrorCategory::Permission)
        }
        Err(e) => {
            run.items_fetched = sink.imported + sink.duplicates;
            run.add_error(category(e.category), e.message.clone());
            false
        }
    };
    if complete {
        state
            .store
            .advance_watermark(tenant, &c.id, window.to)
            .await?;
    }
    retain(state, tenant, c, started).await?;
    let finished = state.now();
    run.finish(finished, fetched.is_ok());
    let outcome = run.outcome.unwrap_or(Outcome::Failed);
    record_finished(state, tenant, c, &run, &previous, None).await?;
    tracing::info!(tenant = %tenant, connector = %c.id, run = %run.id, outcome = ?outcome, imported = run.items_imported, duplicates = run.duplicates_skipped, "connector run finished");
    Ok(outcome)
}

/// Retention, with each run (the schedule runs every connector daily): records older than
/// `retention_days` go unless the settings hold them.
async fn retain(
    state: &AppState,
    tenant: &TenantId,
    c: &Connector,
    now: DateTime<Utc>,
) -> Result<(), ConnectorUseError> {
    if holds(c) {
        return Ok(());
    }
    let days = setting_u64(
        c,
        "retention_days",
        attest_connectors::data::DEFAULT_RETENTION_DAYS.into(),
    );
    let gone =
        delete_records_before(state, tenant, &c.id, now - TimeDelta::days(days as i64)).await?;
    if gone > 0 {
        tracing::info!(tenant = %tenant, connector = %c.id, records = gone, "records past retention deleted");
    }
    Ok(())
}

/// Deletes a connector's records older than `before`, a batch at a time.
async fn delete_records_before(
    state: &AppState,
    tenant: &TenantId,
    connector: &str,
    before: DateTime<Utc>,
) -> Result<u64, ConnectorUseError> {
    const BATCH: usize = 500;
    let mut total = 0;
    loop {
        let n = state
            .store
            .delete_records_before(tenant, connector, before, BATCH)
            .await?;
        total += n as u64;
        if n < BATCH {
            return Ok(total);
        }
    }
}

/// `GET /connectors/{id}/items` filters.
#[derive(Debug, Default)]
pub struct ItemQuery {
    pub person: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub q: Option<String>,
    pub cursor: Option<String>,
    pub limit: usize,
}

/// A page of imported records and where the next starts.
#[derive(Debug, Serialize)]
pub struct ItemPage {
    pub items: Vec<ImportedRecord>,
    pub next_cursor: Option<String>,
}

/// Most records one items request looks at, whatever its filters.
pub const MAX_ITEMS_SCANNED: usize = 2_000;
/// The window an items request reads when it names none: the last 30 days.
pub const DEFAULT_ITEMS_DAYS: i64 = 30;

/// `GET /connectors/{id}/items`: the connector's records in the window (`from`/`to`, by
/// default the last 30 days), oldest first, by person when asked (their timeline, this
/// connector's part of it), with `q` a case-insensitive text search. Reads at most 2,000
/// records a request; `next_cursor` goes on from there.
pub async fn items(
    state: &AppState,
    tenant: &TenantId,
    id: &str,
    query: ItemQuery,
) -> Result<ItemPage, ConnectorUseError> {
    for (field, value, most) in [
        ("person", &query.person, 320),
        ("q", &query.q, 500),
        ("cursor", &query.cursor, 200),
    ] {
        if value.as_ref().is_some_and(|v| v.chars().count() > most) {
            return Err(invalid(field, format!("must be at most {most} characters")));
        }
    }
    let c = state.store.get_connector(tenant, id).await?;
    if attest_connectors::compliance_kind(&c.value.kind).is_some() {
        // A compliance connector tests actions and imports no records.
        return Ok(ItemPage {
            items: Vec::new(),
            next_cursor: None,
        });
    }
    let to = query.to.unwrap_or_else(|| state.now());
    let from = query
        .from
        .unwrap_or(to - TimeDelta::days(DEFAULT_ITEMS_DAYS));
    if from > to {
        return Err(invalid("from", "must not be after to"));
    }
    let scope = match &query.person {
        Some(p) => attest_store::imported::RecordScope::Person(p.trim().to_lowercase()),
        None => attest_store::imported::RecordScope::Connector(id.to_owned()),
    };
    let mut items = Vec::new();
    let mut after = query.cursor;
    let mut scanned = 0;
    loop {
        let page = state
            .store
            .list_records(tenant, &scope, from, to, after.clone(), 200)
            .await?;
        scanned += page.records.len();
        for r in page.records {
            let mine = r.connector_id == id;
            let matches = query
                .q
                .as_deref()
                .is_none_or(|q| attest_domain::imported::text_matches(&r.text, q));
            if mine && matches && items.len() < query.limit {
                items.push(r);
            }
        }
        after = page.next;
        if after.is_none() || items.len() >= query.limit || scanned >= MAX_ITEMS_SCANNED {
            break;
        }
    }
    Ok(ItemPage {
        items,
        next_cursor: after,
    })
}

/// The connectors of `service` the live assessments chose (each assessment's `connectors`,
/// or all of the service's when it chose none), among `existing`.
fn chosen_instances(
    assessments: &[Versioned<attest_domain::assessment::Assessment>],
    service: &str,
    existing: &[Versioned<Connector>],
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for a in assessments.iter().map(|a| &a.value) {
        if a.is_archived() || !a.services.iter().any(|s| s == service) {
            continue;
        }
        for c in existing.iter().filter(|c| c.value.service == service) {
            let chosen = a
                .connectors
                .as_ref()
                .is_none_or(|ids| ids.contains(&c.value.id));
            if chosen {
                out.insert(c.value.id.clone());
            }
        }
    }
    out
}

/// After an assessment of `services` was created: the actions of connector services it covers
/// take the verdicts their instances already have (rather than waiting for the next run).
/// Best effort: a failure is logged, and the next run derives them anyway.
pub async fn assessment_created(state: &AppState, tenant: &TenantId, services: &[String]) {
    let covered: Vec<&'static dyn ComplianceKind> = attest_connectors::kinds()
        .into_iter()
        .filter(|info| services.iter().any(|s| s == info.service))
        .filter_map(|info| attest_connectors::compliance_kind(info.kind))
        .collect();
    if covered.is_empty() {
        return;
    }
    // The tenant's connectors, read once for every kind.
    let all = match state.store.list_connectors(tenant).await {
        Ok(all) => all,
        Err(e) => {
            tracing::warn!(tenant = %tenant, error = %e, "connector verdicts not applied to a new assessment");
            return;
        }
    };
    for kind in covered {
        let Some(c) = all.iter().find(|c| c.value.kind == kind.info().kind) else {
            continue;
        };
        if let Err(e) = refresh_actions(state, tenant, kind, &c.value).await {
            tracing::warn!(tenant = %tenant, kind = kind.info().kind, error = %e, "connector verdicts not applied to a new assessment");
        }
    }
}

/// Re-derives the test status of every action `kind` tests from the verdicts of the instances
/// the live assessments chose. `by` is the connector whose change led here (history source).
async fn refresh_actions(
    state: &AppState,
    tenant: &TenantId,
    kind: &dyn ComplianceKind,
    by: &Connector,
) -> Result<(), ConnectorUseError> {
    let info = kind.info();
    let (assessments, existing) = tokio::try_join!(
        state.store.list_assessments(tenant),
        state.store.list_connectors(tenant),
    )?;
    let chosen = chosen_instances(&assessments, info.service, &existing);
    let ids: Vec<&str> = chosen.iter().map(String::as_str).collect();
    let stored: Vec<StoredResults> = state
        .store
        .connector_results(tenant, &ids)
        .await?
        .into_iter()
        .flatten()
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect();
    let actions: BTreeSet<&str> = info.checks.iter().map(|c| c.action_id.as_str()).collect();
    for action in actions {
        let verdicts: Vec<InstanceVerdict> = stored
            .iter()
            .filter_map(|r| r.actions.get(action).cloned())
            .collect();
        apply_verdicts(state, tenant, action, &verdicts, by).await?;
    }
    Ok(())
}

/// Sets one action's test status from its instances' verdicts, under the rules, with history
/// (source `connector:<id>`) and its event; re-read and retried after a lost race.
async fn apply_verdicts(
    state: &AppState,
    tenant: &TenantId,
    action: &str,
    verdicts: &[InstanceVerdict],
    by: &Connector,
) -> Result<(), ConnectorUseError> {
    let Ok(action_id) = ActionId::parse(action) else {
        return Ok(());
    };
    let instance = InstanceRef {
        action: action_id,
        scope: InstanceScope::Tenant,
    };
    let source = Source::Connector(by.id.clone());
    let actor = format!("connector:{}", by.id);
    for attempt in 0..16 {
        let ctx =
            match super::actions::find_instance(&state.store, tenant, &instance.api_id()).await {
                Ok(ctx) => ctx,
                // No live assessment uses it: nothing to show a status on.
                Err(super::actions::ActionError::NotFound(_)) => return Ok(()),
                Err(e) => return Err(ConnectorUseError::Unavailable(e.to_string())),
            };
        if ctx.status.testing_type != attest_domain::vocab::TestingType::Automatic {
            // Switched to manual testing: the connector leaves it alone.
            return Ok(());
        }
        let test_status = combine(verdicts);
        let mut patch = ActionPatch {
            test_status: Some(test_status),
            test_notes: Some(if verdicts.is_empty() {
                String::new()
            } else {
                combined_notes(verdicts)
            }),
            ..Default::default()
        };
        if test_status.is_verdict() && !ctx.status.implementation_status.is_implemented() {
            // The connector read the setting: it is in place, and the test says whether it
            // meets the benchmark.
            patch.implementation_status = Some(ImplementationStatus::Implemented);
        }
        if test_status.is_verdict() || test_status == TestStatus::CouldNotBeDetected {
            patch.test_date = Some(verdicts.iter().map(|v| v.at.date_naive()).max());
        }
        let now = state.now();
        let (status, changes) = apply_patch(&ctx.status, &patch, &source).map_err(field_error)?;
        if changes.is_empty() {
            return Ok(());
        }
        let update = InstanceUpdate {
            instance: ctx.instance.clone(),
            expected_version: ctx.version,
            status,
            history: changes
                .into_iter()
                .map(|c| c.into_entry(now, &actor, source.clone()))
                .collect(),
        };
        let event = events::action_updated(tenant, Some(&actor), now, &update, &ctx.usages);
        match state
            .store
            .update_instances(tenant, std::slice::from_ref(&update), &[event])
            .await
        {
            Ok(_) => return Ok(()),
            Err(StoreError::StaleVersion { .. }) => {
                attest_store::pause_before_retry(attempt).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ConnectorUseError::Conflict(format!(
        "action {action} kept changing while its connector's results were applied"
    )))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use attest_connectors::{Endpoints, HttpClient};
    use attest_domain::group::GroupName;
    use attest_domain::identity::Role;
    use attest_domain::ids::RegulationId;
    use attest_fakes::ZoomFake;
    use attest_secrets::MemorySecrets;

    use super::*;
    use crate::state::RunQueue;
    use crate::usecases::assessments::{self, CreateAssessment};
    use crate::usecases::testkit;

    #[derive(Default)]
    struct Queue(Mutex<Vec<RunRequest>>);

    #[async_trait::async_trait]
    impl RunQueue for Queue {
        async fn enqueue(&self, requests: &[RunRequest]) -> Result<(), String> {
            self.0.lock().unwrap().extend_from_slice(requests);
            Ok(())
        }
    }

    struct World {
        state: AppState,
        admin: Identity,
        secrets: Arc<MemorySecrets>,
        queue: Arc<Queue>,
        zoom: ZoomFake,
        _dir: tempfile::TempDir,
    }

    async fn world() -> World {
        world_on(None).await
    }

    /// Ports over the Zoom fake (and the Slack fake when given), a global admin.
    async fn world_on(slack: Option<&attest_fakes::SlackFake>) -> World {
        let (state, admin, dir) = testkit::ports();
        let zoom = ZoomFake::start().await;
        let secrets = Arc::new(MemorySecrets::new());
        let queue = Arc::new(Queue::default());
        let mut endpoints = Endpoints::for_tests(&zoom.api_url(), &zoom.oauth_url());
        if let Some(slack) = slack {
            endpoints = endpoints.with_slack(&slack.api_url());
        }
        let http = HttpClient::new(endpoints).with_backoff(Duration::from_millis(1));
        let state = state.with_connectors(ConnectorPorts {
            secrets: secrets.clone(),
            queue: queue.clone(),
            http: Arc::new(http),
        });
        let admin = Identity {
            roles: BTreeSet::from([Role::GlobalAdmin]),
            ..admin
        };
        World {
            state,
            admin,
            secrets,
            queue,
            zoom,
            _dir: dir,
        }
    }

    fn body(w: &World, name: &str, secret: &str) -> NewConnector {
        let creds = json!({"account_id": w.zoom.account_id(), "client_id": w.zoom.client_id(), "client_secret": secret});
        NewConnector {
            kind: "zoom".into(),
            name: name.into(),
            credentials: creds.as_object().unwrap().clone(),
            settings: Map::new(),
        }
    }

    async fn activate(w: &World, name: &str) -> Connector {
        create(&w.state, &w.admin, body(w, name, w.zoom.client_secret()))
            .await
            .unwrap()
            .value
    }

    async fn assess_zoom(w: &World, group: &str) {
        let body = CreateAssessment {
            regulation_id: RegulationId::parse("nist-800-53-r5-moderate").unwrap(),
            group_id: None,
            group_name: Some(GroupName::parse(group).unwrap()),
            copy_from: None,
            services: vec!["zoom".into()],
            connectors: None,
            name: None,
        };
        assessments::create(&w.state, &w.admin, body).await.unwrap();
    }

    fn request(w: &World, c: &Connector) -> RunRequest {
        RunRequest {
            tenant: w.admin.tenant.to_string(),
            connector_id: c.id.clone(),
            run_id: new_run_id(),
            trigger: Trigger::Manual,
        }
    }

    async fn instance(w: &World, action: &str) -> super::super::actions::InstanceContext {
        super::super::actions::find_instance(&w.state.store, &w.admin.tenant, action)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn activation_checks_the_credentials_first_and_keeps_them_only_in_the_secret_store() {
        let w = world().await;
        let err = create(&w.state, &w.admin, body(&w, "Zoom Prod", "wrong"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ConnectorUseError::Invalid(f) if f[0].field == "credentials"),
            "{err:?}"
        );
        assert!(w.secrets.is_empty(), "nothing stored");
        assert!(list(&w.state, &w.admin.tenant).await.unwrap().is_empty());

        let c = activate(&w, "Zoom Prod").await;
        assert_eq!(w.secrets.len(), 1);
        let stored = list(&w.state, &w.admin.tenant).await.unwrap();
        let as_stored = serde_json::to_string(&stored[0].value).unwrap();
        assert!(!as_stored.contains(w.zoom.client_secret()));
        let view = serde_json::to_value(ConnectorView::from(stored[0].clone())).unwrap();
        assert_eq!(view["credentials"]["client_secret"], "set");
        // The event says what changed, never the values.
        let events = w
            .state
            .store
            .list_events(&w.admin.tenant, None, Some(EventType::ConnectorChanged), 10)
            .await
            .unwrap();
        assert_eq!(events.events.len(), 1);
        assert!(!serde_json::to_string(&events.events[0])
            .unwrap()
            .contains(w.zoom.client_secret()));

        // A name in use, in any case, is a conflict before the service is asked.
        let tokens = w.zoom.tokens_issued();
        let err = create(
            &w.state,
            &w.admin,
            body(&w, "zoom PROD", w.zoom.client_secret()),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, ConnectorUseError::Conflict(_)), "{err:?}");
        assert_eq!(w.zoom.tokens_issued(), tokens);

        // Deleting takes the secret too.
        delete(&w.state, &w.admin, &c.id, None).await.unwrap();
        assert!(w.secrets.is_empty());
    }

    #[tokio::test]
    async fn a_run_tests_the_kinds_actions_and_records_itself() {
        let w = world().await;
        assess_zoom(&w, "Meetings").await;
        let before = instance(&w, "zoom-waiting-room").await;
        assert_eq!(before.status.test_status, TestStatus::ToBeDetected);
        let c = activate(&w, "Zoom Prod").await;
        // The fake's account has the waiting room off (a medium-risk check).
        let done = execute(&w.state, &request(&w, &c)).await.unwrap();
        assert_eq!(done, Executed::Ran(Outcome::Succeeded));
        let after = instance(&w, "zoom-waiting-room").await;
        assert_eq!(after.status.test_status, TestStatus::FailedMediumRisk);
        assert_eq!(
            after.status.implementation_status,
            ImplementationStatus::Implemented
        );
        assert!(after
            .status
            .test_notes
            .contains("/meeting_security/waiting_room"));
        let history = w
            .state
            .store
            .list_history(&w.admin.tenant, &after.instance, 10)
            .await
            .unwrap();
        assert!(history
            .iter()
            .all(|h| h.source == Source::Connector(c.id.clone())));
        let runs = w
            .state
            .store
            .list_runs(&w.admin.tenant, &c.id, 10, None)
            .await
            .unwrap();
        assert_eq!(runs.runs.len(), 1);
        let run = &runs.runs[0];
        assert_eq!(run.trigger, Trigger::Manual);
        assert!(run.checks.passed > 0 && run.checks.failed > 0);
        let finished = w
            .state
            .store
            .list_events(
                &w.admin.tenant,
                None,
                Some(EventType::ConnectorRunFinished),
                10,
            )
            .await
            .unwrap();
        assert_eq!(finished.events.len(), 1);

        // The setting turned on: the next run passes it.
        w.zoom.set("/meeting_security/waiting_room", json!(true));
        execute(&w.state, &request(&w, &c)).await.unwrap();
        assert_eq!(
            instance(&w, "zoom-waiting-room").await.status.test_status,
            TestStatus::Passed
        );

        // Switched to manual testing, the action is left alone.
        w.zoom.set("/meeting_security/waiting_room", json!(false));
        let manual = ActionPatch {
            testing_type: Some(attest_domain::vocab::TestingType::Manual),
            ..Default::default()
        };
        super::super::actions::update(&w.state, &w.admin, "zoom-waiting-room", &manual, None)
            .await
            .unwrap();
        execute(&w.state, &request(&w, &c)).await.unwrap();
        assert_eq!(
            instance(&w, "zoom-waiting-room").await.status.test_status,
            TestStatus::Passed
        );
    }

    #[tokio::test]
    async fn an_assessment_made_after_a_run_shows_its_verdicts() {
        let w = world().await;
        let c = activate(&w, "Zoom Prod").await;
        execute(&w.state, &request(&w, &c)).await.unwrap();
        assess_zoom(&w, "Meetings").await;
        let status = instance(&w, "zoom-two-factor").await.status;
        assert_eq!(status.test_status, TestStatus::FailedHighRisk);
        assert!(status.test_notes.contains("Zoom Prod"));
    }

    #[tokio::test]
    async fn a_failing_source_fails_the_run_and_its_checks_are_undetected() {
        let w = world().await;
        assess_zoom(&w, "Meetings").await;
        let c = activate(&w, "Zoom Prod").await;
        w.zoom.fail_next(1000, 503);
        let done = execute(&w.state, &request(&w, &c)).await.unwrap();
        assert_eq!(done, Executed::Ran(Outcome::Failed));
        assert_eq!(
            instance(&w, "zoom-two-factor").await.status.test_status,
            TestStatus::CouldNotBeDetected
        );
        let failed = w
            .state
            .store
            .list_events(
                &w.admin.tenant,
                None,
                Some(EventType::ConnectorRunFailed),
                10,
            )
            .await
            .unwrap();
        assert_eq!(failed.events.len(), 1);
        let st = status(&w.state, &w.admin.tenant, &c.id).await.unwrap();
        assert_eq!(st.state, "error");
        assert_eq!(
            st.error.map(|e| e.category),
            Some(ErrorCategory::SourceUnavailable)
        );
    }

    #[tokio::test]
    async fn one_run_per_connector_at_a_time() {
        let w = world().await;
        let c = activate(&w, "Zoom Prod").await;
        let now = w.state.now();
        assert!(w
            .state
            .store
            .acquire_run_lease(
                &w.admin.tenant,
                &c.id,
                "other",
                now,
                now + TimeDelta::minutes(5)
            )
            .await
            .unwrap());
        let requests = w.zoom.api_requests();
        assert_eq!(
            execute(&w.state, &request(&w, &c)).await.unwrap(),
            Executed::Busy
        );
        assert_eq!(w.zoom.api_requests(), requests, "the service was not read");
        let runs = w
            .state
            .store
            .list_runs(&w.admin.tenant, &c.id, 10, None)
            .await
            .unwrap();
        assert!(runs.runs.is_empty());
        // A connector deleted since its request was queued: nothing to do.
        delete(&w.state, &w.admin, &c.id, None).await.unwrap();
        assert_eq!(
            execute(&w.state, &request(&w, &c)).await.unwrap(),
            Executed::Gone
        );
    }

    #[tokio::test]
    async fn the_schedule_queues_each_active_connector_once() {
        let w = world().await;
        let prod = activate(&w, "Zoom Prod").await;
        let test = activate(&w, "Zoom Test").await;
        let paused = ConnectorChange {
            state: Some(ConnectorState::Paused),
            ..Default::default()
        };
        update(&w.state, &w.admin, &test.id, paused, None)
            .await
            .unwrap();
        let before = status(&w.state, &w.admin.tenant, &prod.id).await.unwrap();
        assert_eq!(before.next_run_at, None, "no schedule has run or started");
        assert_eq!(schedule_all(&w.state).await.unwrap(), 1);
        let queued = w.queue.0.lock().unwrap().clone();
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].connector_id, prod.id);
        assert_eq!(queued[0].trigger, Trigger::Schedule);
        let st = status(&w.state, &w.admin.tenant, &prod.id).await.unwrap();
        assert!(st.next_run_at.unwrap() > w.state.now() + TimeDelta::hours(23));
        assert_eq!(
            status(&w.state, &w.admin.tenant, &test.id)
                .await
                .unwrap()
                .next_run_at,
            None
        );
        // On demand, a paused connector runs too.
        run_now(&w.state, &w.admin.tenant, &test.id).await.unwrap();
        assert_eq!(w.queue.0.lock().unwrap()[1].trigger, Trigger::Manual);
    }

    async fn data_world() -> (World, attest_fakes::SlackFake) {
        let slack = attest_fakes::SlackFake::start().await;
        (world_on(Some(&slack)).await, slack)
    }

    async fn slack_connector(
        w: &World,
        slack: &attest_fakes::SlackFake,
        name: &str,
        settings: Value,
    ) -> Connector {
        let body = NewConnector {
            kind: "slack".into(),
            name: name.into(),
            credentials: json!({"bot_token": slack.bot_token()})
                .as_object()
                .unwrap()
                .clone(),
            settings: settings.as_object().unwrap().clone(),
        };
        create(&w.state, &w.admin, body).await.unwrap().value
    }

    async fn stored(w: &World, c: &Connector) -> usize {
        let scope = attest_store::imported::RecordScope::Connector(c.id.clone());
        let from = w.state.now() - TimeDelta::days(30);
        w.state
            .store
            .list_records(&w.admin.tenant, &scope, from, w.state.now(), None, 1000)
            .await
            .unwrap()
            .records
            .len()
    }

    #[tokio::test]
    async fn records_past_retention_go_with_each_run_unless_held() {
        let (w, slack) = data_world().await;
        slack.add_user("U1", "dana", Some("dana@example.com"));
        slack.add_channel("C1", "general", true, false);
        let now = Utc::now().timestamp() as f64;
        slack.post("C1", "U1", now - 3.0 * 86_400.0, "three days old");
        slack.post("C1", "U1", now - 3_600.0, "an hour old");
        let short = slack_connector(&w, &slack, "Short", json!({"retention_days": 1})).await;
        let held = slack_connector(
            &w,
            &slack,
            "Held",
            json!({"retention_days": 1, "hold": true}),
        )
        .await;
        for c in [&short, &held] {
            let done = execute(&w.state, &request(&w, c)).await.unwrap();
            assert_eq!(done, Executed::Ran(Outcome::Succeeded));
        }
        assert_eq!(stored(&w, &short).await, 1, "the old one went");
        assert_eq!(stored(&w, &held).await, 2, "a hold keeps everything");
        // Deleting a connector takes its records, unless held.
        delete(&w.state, &w.admin, &short.id, None).await.unwrap();
        delete(&w.state, &w.admin, &held.id, None).await.unwrap();
        assert_eq!(stored(&w, &short).await, 0);
        assert_eq!(stored(&w, &held).await, 2);
    }

    #[tokio::test]
    async fn a_sign_in_after_the_last_working_date_is_departing_activity() {
        let (w, _slack) = data_world().await;
        let now = w.state.now();
        w.state
            .store
            .put_departing(
                &w.admin.tenant,
                &attest_domain::signal::Departing {
                    person: "dana@example.com".into(),
                    kind: "resignation".into(),
                    last_working_date: now - TimeDelta::days(5),
                    recorded_at: now - TimeDelta::days(30),
                    connector_id: "hr".into(),
                },
            )
            .await
            .unwrap();
        w.zoom
            .add_activity("Dana@Example.com", now - TimeDelta::hours(2), "Sign in");
        w.zoom
            .add_activity("dana@example.com", now - TimeDelta::days(10), "Sign in");
        let body = NewConnector {
            kind: "zoom_activity".into(),
            name: "Zoom sign-ins".into(),
            credentials: json!({"account_id": w.zoom.account_id(), "client_id": w.zoom.client_id(), "client_secret": w.zoom.client_secret()})
                .as_object()
                .unwrap()
                .clone(),
            settings: json!({"backfill_days": 30}).as_object().unwrap().clone(),
        };
        let c = create(&w.state, &w.admin, body).await.unwrap().value;
        assert_eq!(
            execute(&w.state, &request(&w, &c)).await.unwrap(),
            Executed::Ran(Outcome::Succeeded)
        );
        let signals = w
            .state
            .store
            .person_signals(&w.admin.tenant, "dana@example.com", 10)
            .await
            .unwrap();
        assert_eq!(
            signals.len(),
            1,
            "only the sign-in after leaving: {signals:?}"
        );
        assert_eq!(signals[0].kind, "departing_user_activity");
        let events = w
            .state
            .store
            .list_events(&w.admin.tenant, None, Some(EventType::SignalRecorded), 10)
            .await
            .unwrap();
        assert_eq!(events.events.len(), 1);
        assert_eq!(events.events[0].data["signal"], "departing_user_activity");
    }
}
