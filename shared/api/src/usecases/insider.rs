//! Pushed records and insider-risk signals (API.md "Data connectors"): HR CSV files and badge
//! events uploaded to their connector, HR records turned into signals per person, the people
//! leaving, and activity after a person's last working date recorded as a
//! `departing_user_activity` signal (with its `SignalRecorded` event, which alert policies
//! match).

use attest_connectors::{badge, hr};
use attest_domain::connector::{Connector, ErrorCategory, RunRecord, Trigger, Window};
use attest_domain::event::{Event, EventType, Subject};
use attest_domain::identity::Identity;
use attest_domain::ids::TenantId;
use attest_domain::imported::{map_person, ImportedRecord};
use attest_domain::signal::{is_departure, Departing, Signal, DEPARTING_ACTIVITY};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use super::connectors::ConnectorUseError;
use crate::AppState;

/// Largest upload.
pub const MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;
/// Most bad rows a run record lists one by one (the rest are counted).
const MAX_LISTED: usize = 100;

fn invalid(field: &str, message: impl Into<String>) -> ConnectorUseError {
    ConnectorUseError::Invalid(vec![attest_domain::FieldError::new(field, message)])
}

fn signal_event(tenant: &TenantId, s: &Signal, now: DateTime<Utc>) -> Event {
    Event::new(
        tenant,
        EventType::SignalRecorded,
        now,
        None,
        Subject::new("person", s.person.as_str()),
        json!({"signal": s.kind, "person": s.person, "at": s.at, "connector": s.connector_id, "id": s.id}),
    )
}

/// Stores signals (new ones with their events).
async fn record_signals(
    state: &AppState,
    tenant: &TenantId,
    signals: &[Signal],
) -> Result<usize, ConnectorUseError> {
    let now = state.now();
    let events: Vec<Event> = signals
        .iter()
        .map(|s| signal_event(tenant, s, now))
        .collect();
    Ok(state.store.put_signals(tenant, signals, &events).await?)
}

/// The `departing_user_activity` signals of these records: activity of a person after the last
/// working date on record (badge events, sign-ins). Reads the departure of each person once.
pub async fn departing_activity(
    state: &AppState,
    tenant: &TenantId,
    records: &[ImportedRecord],
) -> Result<usize, ConnectorUseError> {
    let mut people: Vec<&str> = records.iter().filter_map(|r| r.person.as_deref()).collect();
    people.sort();
    people.dedup();
    let mut signals = Vec::new();
    for person in people {
        let Some(d) = state.store.departing(tenant, person).await? else {
            continue;
        };
        for r in records
            .iter()
            .filter(|r| r.person.as_deref() == Some(person) && d.is_after_leaving(r.at))
        {
            signals.push(Signal {
                id: format!("{}-{}", DEPARTING_ACTIVITY, r.source_id),
                person: person.to_owned(),
                kind: DEPARTING_ACTIVITY.into(),
                at: r.at,
                connector_id: r.connector_id.clone(),
                details: json!({
                    "record": r.kind,
                    "container": r.container,
                    "text": r.text,
                    "last_working_date": d.last_working_date,
                }),
            });
        }
    }
    record_signals(state, tenant, &signals).await
}

/// What an upload did: its run record.
#[derive(Debug, Serialize)]
pub struct Uploaded {
    pub run: RunRecord,
    pub signals_recorded: usize,
}

/// `POST /connectors/{id}/upload`: an HR CSV file or badge events, parsed, stored once each
/// (by a stable id), bad rows reported with their line (index) and reason, good ones kept;
/// HR rows become signals (and departures), badge events after a last working date
/// `departing_user_activity` signals. Recorded as a run.
pub async fn upload(
    state: &AppState,
    caller: &Identity,
    id: &str,
    content_type: &str,
    bytes: &[u8],
) -> Result<Uploaded, ConnectorUseError> {
    import(
        state,
        &caller.tenant,
        Some(caller.user.as_str()),
        id,
        content_type,
        bytes,
    )
    .await
}

/// A file dropped in the stack's bucket under `hr/{connector id}/` (the `hr-dropped`
/// function): the connector found by its id alone (the scheduler's index), then imported as an
/// upload by nobody in particular. `Ok(None)` when no connector has that id.
pub async fn dropped(
    state: &AppState,
    connector_id: &str,
    content_type: &str,
    bytes: &[u8],
) -> Result<Option<Uploaded>, ConnectorUseError> {
    let Some(ix) = state
        .store
        .indexed_connectors()
        .await?
        .into_iter()
        .find(|c| c.id == connector_id)
    else {
        return Ok(None);
    };
    import(state, &ix.tenant, None, connector_id, content_type, bytes)
        .await
        .map(Some)
}

async fn import(
    state: &AppState,
    tenant: &TenantId,
    actor: Option<&str>,
    id: &str,
    content_type: &str,
    bytes: &[u8],
) -> Result<Uploaded, ConnectorUseError> {
    let c = state.store.get_connector(tenant, id).await?.value;
    let wanted = match c.kind.as_str() {
        "hr_csv" => "text/csv",
        "badge" => "application/json",
        kind => {
            return Err(ConnectorUseError::Conflict(format!(
            "a {kind} connector reads its service; only hr_csv and badge connectors take uploads"
        )))
        }
    };
    if content_type != wanted {
        return Err(ConnectorUseError::UnsupportedType(format!(
            "a {} connector takes {wanted}, not {content_type:?}",
            c.kind
        )));
    }
    let started = state.now();
    let mut run = RunRecord::new(
        uuid::Uuid::now_v7().hyphenated().to_string(),
        &c.id,
        Trigger::Manual,
        started,
        Window {
            from: started,
            to: started,
        },
    );
    let (records, signals) = if c.kind == "hr_csv" {
        hr_records(&c, bytes, &mut run)?
    } else {
        badge_records(&c, bytes, &mut run)?
    };
    if let (Some(first), Some(last)) = (
        records.iter().map(|r| r.at).min(),
        records.iter().map(|r| r.at).max(),
    ) {
        run.window = Window {
            from: first,
            to: last,
        };
    }
    let written = state.store.put_records(tenant, &records).await?;
    run.items_imported = written.imported;
    run.duplicates_skipped = written.duplicates;
    run.unmapped_users = written.unmapped;
    for d in signals.iter().filter_map(|(_, d)| d.as_ref()) {
        state.store.put_departing(tenant, d).await?;
    }
    let hr_signals: Vec<Signal> = signals.into_iter().map(|(s, _)| s).collect();
    let mut recorded = record_signals(state, tenant, &hr_signals).await?;
    recorded += departing_activity(state, tenant, &records).await?;
    let finished = state.now();
    run.finish(finished, !records.is_empty() || run.errors.is_empty());
    let previous = state.store.connector_stats(tenant, &c.id).await?;
    super::connectors::record_finished(state, tenant, &c, &run, &previous, actor).await?;
    Ok(Uploaded {
        run,
        signals_recorded: recorded,
    })
}

type Parsed = (Vec<ImportedRecord>, Vec<(Signal, Option<Departing>)>);

fn list_bad(run: &mut RunRecord, bad: impl Iterator<Item = String>) {
    for (i, message) in bad.enumerate() {
        if i < MAX_LISTED {
            run.add_error(ErrorCategory::BadRecord, message);
        } else {
            run.add_error(ErrorCategory::BadRecord, "more bad rows (not listed)");
        }
    }
}

fn hr_records(
    c: &Connector,
    bytes: &[u8],
    run: &mut RunRecord,
) -> Result<Parsed, ConnectorUseError> {
    let parsed = hr::parse_hr_csv(bytes, &c.settings).map_err(|e| invalid("body", e))?;
    run.items_fetched = (parsed.rows.len() + parsed.bad.len()) as u64;
    list_bad(
        run,
        parsed
            .bad
            .iter()
            .map(|b| format!("line {}: {}", b.line, b.reason)),
    );
    let mut records = Vec::with_capacity(parsed.rows.len());
    let mut signals = Vec::with_capacity(parsed.rows.len());
    for row in &parsed.rows {
        let source_id = hr::hr_source_id(row);
        let data = json!({"line": row.line, "fields": row.fields, "last_working_date": row.last_working_date});
        records.push(ImportedRecord {
            connector_id: c.id.clone(),
            source_id: source_id.clone(),
            kind: "hr".into(),
            at: row.at,
            person: Some(row.email.clone()),
            external_user: None,
            container: Some(row.record_type.clone()),
            text: format!("{} of {}", row.record_type, row.email),
            data: data.clone(),
        });
        let departing = match (is_departure(&row.record_type), row.last_working_date) {
            (true, Some(last)) => Some(Departing {
                person: row.email.clone(),
                kind: row.record_type.clone(),
                last_working_date: last,
                recorded_at: row.at,
                connector_id: c.id.clone(),
            }),
            _ => None,
        };
        signals.push((
            Signal {
                id: source_id,
                person: row.email.clone(),
                kind: row.record_type.clone(),
                at: row.at,
                connector_id: c.id.clone(),
                details: data,
            },
            departing,
        ));
    }
    Ok((records, signals))
}

fn badge_records(
    c: &Connector,
    bytes: &[u8],
    run: &mut RunRecord,
) -> Result<Parsed, ConnectorUseError> {
    let (events, bad) = badge::parse_badge_json(bytes).map_err(|e| invalid("body", e))?;
    run.items_fetched = (events.len() + bad.len()) as u64;
    list_bad(
        run,
        bad.iter()
            .map(|b| format!("entry {}: {}", b.index, b.reason)),
    );
    let user_map = c
        .settings
        .get("user_map")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let records = events
        .iter()
        .map(|e| ImportedRecord {
            connector_id: c.id.clone(),
            source_id: badge::badge_source_id(e),
            kind: "badge".into(),
            at: e.at,
            person: map_person(None, Some(&e.user_id), &user_map),
            external_user: Some(e.user_id.clone()),
            container: Some(e.asset_name.clone()),
            text: format!("{} at {} ({})", e.status, e.asset_name, e.asset_id),
            data: json!({"asset_id": e.asset_id, "asset_name": e.asset_name, "status": e.status}),
        })
        .collect();
    Ok((records, Vec::new()))
}

/// `GET /people/{email}/signals`: a person's signals, newest first.
pub async fn person_signals(
    state: &AppState,
    tenant: &TenantId,
    email: &str,
) -> Result<Vec<Signal>, ConnectorUseError> {
    let person = email.trim().to_lowercase();
    if !person.contains('@') || person.chars().count() > 320 {
        // An id that cannot be one names nobody, like every other route's.
        return Err(ConnectorUseError::NotFound(format!("signals of {email}")));
    }
    let signals = state.store.person_signals(tenant, &person, 500).await?;
    if signals.is_empty() {
        // Nobody of that address has signals here (never say whether one has elsewhere).
        return Err(ConnectorUseError::NotFound(format!("signals of {person}")));
    }
    Ok(signals)
}

#[derive(Debug, Serialize)]
pub struct DepartingView {
    #[serde(flatten)]
    pub departing: Departing,
    pub signals: Vec<Signal>,
}

/// `GET /insider-risk/departing`: people with a resignation or termination whose last working
/// date is within 90 days or past, with their signals (the newest 50).
pub async fn departing(
    state: &AppState,
    tenant: &TenantId,
) -> Result<Vec<DepartingView>, ConnectorUseError> {
    let now = state.now();
    let mut out = Vec::new();
    for d in state.store.list_departing(tenant).await? {
        if !d.is_listed(now) {
            continue;
        }
        let signals = state.store.person_signals(tenant, &d.person, 50).await?;
        out.push(DepartingView {
            departing: d,
            signals,
        });
    }
    out.sort_by(|a, b| {
        a.departing
            .last_working_date
            .cmp(&b.departing.last_working_date)
    });
    Ok(out)
}
