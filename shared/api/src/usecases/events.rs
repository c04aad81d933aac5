//! The events use cases write with their changes (API.md "Domain events"), built in one place
//! so that every change describes itself the same way, and `GET /events`.

use attest_domain::event::{is_event_id, Event, EventType, Subject};
use attest_domain::identity::Identity;
use attest_domain::ids::TenantId;
use attest_store::events::EventPage;
use attest_store::instances::InstanceUpdate;
use attest_store::usage::Usage;
use attest_store::StoreError;
use serde_json::{json, Value};

use crate::AppState;

/// An event of a change a user made.
pub fn by(
    state: &AppState,
    caller: &Identity,
    kind: EventType,
    subject: Subject,
    data: Value,
) -> Event {
    Event::new(
        &caller.tenant,
        kind,
        state.now(),
        Some(caller.user.as_str()),
        subject,
        data,
    )
}

/// An event of the service's own work (no user).
pub fn system(
    state: &AppState,
    tenant: &TenantId,
    kind: EventType,
    subject: Subject,
    data: Value,
) -> Event {
    Event::new(tenant, kind, state.now(), None, subject, data)
}

fn distinct(values: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = values.collect();
    out.sort();
    out.dedup();
    out
}

/// What an instance's change affects: its assessments and their regulations.
pub fn affected(usages: &[Usage]) -> Value {
    json!({
        "assessments": distinct(usages.iter().map(|u| u.assessment_id.to_string())),
        "regulations": distinct(usages.iter().map(|u| u.regulation_id.to_string())),
    })
}

/// `ActionUpdated`: the changed fields with old and new values, and the assessments affected.
pub fn action_updated(
    tenant: &TenantId,
    actor: Option<&str>,
    at: chrono::DateTime<chrono::Utc>,
    update: &InstanceUpdate,
    usages: &[Usage],
) -> Event {
    let mut data = affected(usages);
    data["action"] = update.instance.api_id().into();
    data["changes"] = update
        .history
        .iter()
        .map(|h| json!({"field": h.field, "old": h.old, "new": h.new}))
        .collect();
    data["source"] = update
        .history
        .first()
        .map(|h| h.source.to_string())
        .unwrap_or_else(|| "manual".into())
        .into();
    Event::new(
        tenant,
        EventType::ActionUpdated,
        at,
        actor,
        Subject::new("action", update.instance.api_id()),
        data,
    )
}

#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Most events one page returns.
pub const MAX_LIMIT: usize = 500;

/// `GET /events`: the tenant's events after `after`, oldest first.
pub async fn list(
    state: &AppState,
    caller: &Identity,
    after: Option<&str>,
    kind: Option<&str>,
    limit: Option<usize>,
) -> Result<EventPage, EventsError> {
    let invalid = |field: &str, message: String| EventsError::Invalid {
        field: field.to_owned(),
        message,
    };
    if let Some(a) = after.filter(|a| !is_event_id(a)) {
        return Err(invalid("after", format!("{a:?} is not an event id")));
    }
    let kind = kind
        .map(|k| EventType::parse("type", k))
        .transpose()
        .map_err(|e| invalid("type", e.to_string()))?;
    let limit = limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(invalid("limit", format!("give 1 to {MAX_LIMIT}")));
    }
    Ok(state
        .store
        .list_events(&caller.tenant, after, kind, limit)
        .await?)
}
