//! Alerts (API.md "Alerts"): alert policies, their evaluation on delivered events, and the
//! alerts they raise.
//!
//! Every tenant starts with two enabled policies (failed connector runs, score decreases),
//! made once, on the tenant's first read of its policies or first evaluation; a deleted
//! default does not come back. Policy changes write `AlertPolicyChanged`, alert changes
//! `AlertUpdated`, each in the transaction of its change.
//!
//! [`on_events`] evaluates the enabled policies on delivered events. A policy without
//! threshold raises one alert per matching event; one with a threshold raises an alert once
//! `count` matching events fall within `window_minutes` (by event time), and further matches
//! within the window from the alert's first event add to it. Evaluation is idempotent: an event
//! a tenant's evaluation handled is skipped (claimed under [`CONSUMER`]); an alert's id comes
//! from its raising event and policy, so the same event never raises twice; a threshold's count
//! keeps the ids it counted. Concurrent evaluations take turns through versioned writes of the
//! policy's count and the alert, and retry when they lose.

use std::collections::BTreeMap;

use attest_domain::alert::{
    is_valid_id, parse_assignee, Alert, AlertEvent, AlertFilters, AlertPolicy, AlertStatus,
    AlertWindow, Counted, OpenAlert, PolicyName, Severity, Threshold,
};
use attest_domain::event::{is_event_id, Event, EventType, Subject};
use attest_domain::identity::Identity;
use attest_domain::ids::{new_id, TenantId};
use attest_domain::{DomainError, FieldError};
use attest_store::alerts::{AlertPage, AlertWrite};
use attest_store::{StoreError, Versioned};
use serde::Deserialize;
use serde_json::{json, Value};

use super::events;
use crate::AppState;

/// What can go wrong with alerts and their policies.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("invalid {}: {}", .0.field, .0.message)]
    Invalid(FieldError),
    #[error(
        "If-Match names version {expected} but {what} is at version {current}; reload it and retry"
    )]
    Stale {
        what: String,
        expected: u64,
        current: u64,
    },
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AlertError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => AlertError::NotFound(what),
            StoreError::Conflict(m) => AlertError::Conflict(m),
            other => AlertError::Store(other),
        }
    }
}

impl From<DomainError> for AlertError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid(f) => AlertError::Invalid(f),
            DomainError::Conflict(m) => AlertError::Conflict(m),
        }
    }
}

fn invalid(field: &str, message: impl Into<String>) -> AlertError {
    AlertError::Invalid(FieldError::new(field, message))
}

/// The consumer name evaluation de-duplicates events under.
pub const CONSUMER: &str = "alerts";

/// How many times a change that lost a race is tried again.
const ATTEMPTS: u32 = 16;

/// A path id that cannot be an id names nothing: not found, like any unknown id.
fn path_id(what: &str, raw: &str) -> Result<String, AlertError> {
    if is_valid_id(raw) {
        Ok(raw.to_owned())
    } else {
        Err(AlertError::NotFound(format!("{what} {raw}")))
    }
}

/// Present-and-null becomes `Some(None)`; absent stays `None` (through `default`).
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

fn enabled_by_default() -> bool {
    true
}

/// `POST /alert-policies`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPolicy {
    pub name: PolicyName,
    pub event: AlertEvent,
    #[serde(default)]
    pub filters: Option<AlertFilters>,
    pub severity: Severity,
    #[serde(default)]
    pub threshold: Option<Threshold>,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

/// `PATCH /alert-policies/{id}`: the fields given replace the policy's (`filters` as a
/// whole); `threshold: null` removes the threshold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyPatch {
    pub name: Option<PolicyName>,
    pub event: Option<AlertEvent>,
    pub filters: Option<AlertFilters>,
    pub severity: Option<Severity>,
    #[serde(default, deserialize_with = "nullable")]
    pub threshold: Option<Option<Threshold>>,
    pub enabled: Option<bool>,
}

/// `PATCH /alerts/{id}`: `assignee: null` (or empty) clears it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertPatch {
    pub status: Option<AlertStatus>,
    #[serde(default, deserialize_with = "nullable")]
    pub assignee: Option<Option<String>>,
}

impl PolicyPatch {
    fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.event.is_none()
            && self.filters.is_none()
            && self.severity.is_none()
            && self.threshold.is_none()
            && self.enabled.is_none()
    }
}

fn policy_event(
    state: &AppState,
    caller: &Identity,
    id: &str,
    change: &str,
    old: Option<&AlertPolicy>,
    new: Option<&AlertPolicy>,
) -> Event {
    events::by(
        state,
        caller,
        EventType::AlertPolicyChanged,
        Subject::new("alert_policy", id),
        json!({"id": id, "change": change, "old": old, "new": new}),
    )
}

/// `GET /alert-policies`: the tenant's policies, oldest first.
pub async fn list_policies(
    state: &AppState,
    tenant: &TenantId,
) -> Result<Vec<Versioned<AlertPolicy>>, AlertError> {
    Ok(state.store.list_alert_policies(tenant, state.now()).await?)
}

/// `GET /alert-policies/{id}`.
pub async fn show_policy(
    state: &AppState,
    tenant: &TenantId,
    id: &str,
) -> Result<Versioned<AlertPolicy>, AlertError> {
    let id = path_id("alert policy", id)?;
    Ok(state
        .store
        .get_alert_policy(tenant, &id, state.now())
        .await?)
}

/// `POST /alert-policies`.
pub async fn create_policy(
    state: &AppState,
    caller: &Identity,
    body: NewPolicy,
) -> Result<Versioned<AlertPolicy>, AlertError> {
    let now = state.now();
    let policy = AlertPolicy {
        id: new_id(),
        name: body.name,
        event: body.event,
        filters: body.filters.unwrap_or_default(),
        severity: body.severity,
        threshold: body.threshold,
        enabled: body.enabled,
        created_at: now,
        updated_at: now,
    };
    let event = policy_event(state, caller, &policy.id, "created", None, Some(&policy));
    let created = state
        .store
        .create_alert_policy(&caller.tenant, &policy, &[event])
        .await?;
    tracing::info!(tenant = %caller.tenant, policy = %policy.id, "alert policy created");
    Ok(created)
}

fn patched(current: &AlertPolicy, patch: &PolicyPatch) -> AlertPolicy {
    let mut next = current.clone();
    if let Some(name) = &patch.name {
        next.name = name.clone();
    }
    if let Some(event) = patch.event {
        next.event = event;
    }
    if let Some(filters) = &patch.filters {
        next.filters = filters.clone();
    }
    if let Some(severity) = patch.severity {
        next.severity = severity;
    }
    if let Some(threshold) = patch.threshold {
        next.threshold = threshold;
    }
    if let Some(enabled) = patch.enabled {
        next.enabled = enabled;
    }
    next
}

fn stale(what: String, expected: u64, current: u64) -> AlertError {
    AlertError::Stale {
        what,
        expected,
        current,
    }
}

/// `PATCH /alert-policies/{id}`. With `expected` (If-Match) a stale version changes
/// nothing; without it the change is applied on the current version. A change of what the
/// policy counts (event, filters, threshold, enabled) starts its threshold count anew.
pub async fn update_policy(
    state: &AppState,
    caller: &Identity,
    id: &str,
    patch: PolicyPatch,
    expected: Option<u64>,
) -> Result<Versioned<AlertPolicy>, AlertError> {
    let id = path_id("alert policy", id)?;
    if patch.is_empty() {
        return Err(invalid("body", "give at least one field to change"));
    }
    let store = &state.store;
    for attempt in 0..ATTEMPTS {
        let current = store
            .get_alert_policy(&caller.tenant, &id, state.now())
            .await?;
        if let Some(e) = expected.filter(|e| *e != current.version) {
            return Err(stale(format!("alert policy {id}"), e, current.version));
        }
        let mut next = patched(&current.value, &patch);
        if next == current.value {
            return Ok(current);
        }
        next.updated_at = state.now();
        let event = policy_event(
            state,
            caller,
            &id,
            "updated",
            Some(&current.value),
            Some(&next),
        );
        let reset = current.value.counts_differently(&next);
        match store
            .update_alert_policy(&caller.tenant, &current, &next, reset, &[event])
            .await
        {
            Ok(updated) => return Ok(updated),
            Err(StoreError::StaleVersion { .. }) => {
                if let Some(e) = expected {
                    let now = store
                        .get_alert_policy(&caller.tenant, &id, state.now())
                        .await?;
                    return Err(stale(format!("alert policy {id}"), e, now.version));
                }
                attest_store::pause_before_retry(attempt).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(AlertError::Conflict(format!(
        "alert policy {id} kept changing; try again"
    )))
}

/// `DELETE /alert-policies/{id}` (If-Match honoured). The alerts it raised stay.
pub async fn delete_policy(
    state: &AppState,
    caller: &Identity,
    id: &str,
    expected: Option<u64>,
) -> Result<(), AlertError> {
    let id = path_id("alert policy", id)?;
    let store = &state.store;
    for attempt in 0..ATTEMPTS {
        let current = store
            .get_alert_policy(&caller.tenant, &id, state.now())
            .await?;
        if let Some(e) = expected.filter(|e| *e != current.version) {
            return Err(stale(format!("alert policy {id}"), e, current.version));
        }
        let event = policy_event(state, caller, &id, "deleted", Some(&current.value), None);
        match store
            .delete_alert_policy(&caller.tenant, &current, &[event])
            .await
        {
            Ok(()) => return Ok(()),
            Err(StoreError::StaleVersion { .. }) => {
                if let Some(e) = expected {
                    let now = store
                        .get_alert_policy(&caller.tenant, &id, state.now())
                        .await?;
                    return Err(stale(format!("alert policy {id}"), e, now.version));
                }
                attest_store::pause_before_retry(attempt).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(AlertError::Conflict(format!(
        "alert policy {id} kept changing; try again"
    )))
}

/// Most alerts one page returns.
pub const MAX_LIMIT: usize = 200;

/// `GET /alerts` filters, as the query gives them.
#[derive(Debug, Default, Clone, Copy)]
pub struct AlertQuery<'a> {
    pub status: Option<&'a str>,
    pub severity: Option<&'a str>,
    pub policy: Option<&'a str>,
    /// An alert id: the page after it.
    pub after: Option<&'a str>,
    pub limit: usize,
}

impl AlertQuery<'_> {
    /// The status and severity asked for, every parameter checked: an unknown value is
    /// invalid, naming the parameter.
    fn checked(&self) -> Result<(Option<AlertStatus>, Option<Severity>), AlertError> {
        let status = self
            .status
            .map(|s| AlertStatus::parse("status", s))
            .transpose()?;
        let severity = self
            .severity
            .map(|s| Severity::parse("severity", s))
            .transpose()?;
        if let Some(p) = self.policy.filter(|p| !is_valid_id(p)) {
            return Err(invalid("policy", format!("{p:?} is not a policy id")));
        }
        if let Some(a) = self.after.filter(|a| !is_valid_id(a)) {
            return Err(invalid("after", format!("{a:?} is not an alert id")));
        }
        if !(1..=MAX_LIMIT).contains(&self.limit) {
            return Err(invalid("limit", format!("give 1 to {MAX_LIMIT}")));
        }
        Ok((status, severity))
    }
}

/// `GET /alerts`: newest first; unknown filter values are invalid, naming the parameter.
pub async fn list_alerts(
    state: &AppState,
    tenant: &TenantId,
    q: AlertQuery<'_>,
) -> Result<AlertPage, AlertError> {
    let (status, severity) = q.checked()?;
    let keep = |a: &Alert| {
        status.is_none_or(|s| a.status == s)
            && severity.is_none_or(|s| a.severity == s)
            && q.policy.is_none_or(|p| a.policy_id == p)
    };
    Ok(state
        .store
        .list_alerts(tenant, q.after, &keep, q.limit)
        .await?)
}

/// `GET /alerts/{id}`.
pub async fn show_alert(
    state: &AppState,
    tenant: &TenantId,
    id: &str,
) -> Result<Versioned<Alert>, AlertError> {
    let id = path_id("alert", id)?;
    Ok(state.store.get_alert(tenant, &id).await?)
}

/// `AlertRaised` / `AlertUpdated`: the alert, and for an update the fields that changed.
fn alert_event(
    tenant: &TenantId,
    kind: EventType,
    at: chrono::DateTime<chrono::Utc>,
    actor: Option<&str>,
    alert: &Alert,
    changes: Vec<Value>,
) -> Event {
    let mut data = serde_json::to_value(alert).expect("alerts serialize");
    if kind == EventType::AlertUpdated {
        data["changes"] = changes.into();
    }
    Event::new(
        tenant,
        kind,
        at,
        actor,
        Subject::new("alert", &alert.id),
        data,
    )
}

fn changed(field: &str, old: impl serde::Serialize, new: impl serde::Serialize) -> Value {
    json!({"field": field, "old": old, "new": new})
}

/// `PATCH /alerts/{id}`: status and assignee (If-Match honoured).
pub async fn update_alert(
    state: &AppState,
    caller: &Identity,
    id: &str,
    patch: AlertPatch,
    expected: Option<u64>,
) -> Result<Versioned<Alert>, AlertError> {
    let id = path_id("alert", id)?;
    if patch.status.is_none() && patch.assignee.is_none() {
        return Err(invalid("body", "give status, assignee or both"));
    }
    let assignee = match &patch.assignee {
        Some(a) => Some(parse_assignee(a.as_deref())?),
        None => None,
    };
    let store = &state.store;
    for attempt in 0..ATTEMPTS {
        let current = store.get_alert(&caller.tenant, &id).await?;
        if let Some(e) = expected.filter(|e| *e != current.version) {
            return Err(stale(format!("alert {id}"), e, current.version));
        }
        let mut next = current.value.clone();
        let mut changes = Vec::new();
        if let Some(s) = patch.status.filter(|s| *s != next.status) {
            changes.push(changed("status", next.status, s));
            next.status = s;
        }
        if let Some(a) = assignee.clone().filter(|a| *a != next.assignee) {
            changes.push(changed("assignee", &next.assignee, &a));
            next.assignee = a;
        }
        if changes.is_empty() {
            return Ok(current);
        }
        let at = state.now();
        let actor = Some(caller.user.as_str());
        let event = alert_event(
            &caller.tenant,
            EventType::AlertUpdated,
            at,
            actor,
            &next,
            changes,
        );
        let write = AlertWrite {
            alert: &next,
            version: current.version,
            window: None,
            events: &[event],
        };
        match store.write_alert(&caller.tenant, write).await {
            Ok(updated) => return Ok(updated),
            Err(StoreError::StaleVersion { .. }) => {
                if let Some(e) = expected {
                    let now = store.get_alert(&caller.tenant, &id).await?;
                    return Err(stale(format!("alert {id}"), e, now.version));
                }
                attest_store::pause_before_retry(attempt).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(AlertError::Conflict(format!(
        "alert {id} kept changing; try again"
    )))
}

/// Evaluates the tenants' enabled policies on delivered events, oldest first; returns the
/// alerts raised or added to. Events evaluated before (a repeated delivery) are skipped; each
/// is marked evaluated once its policies are.
pub async fn on_events(state: &AppState, events: &[Event]) -> Result<Vec<Alert>, AlertError> {
    let mut by_tenant: BTreeMap<&TenantId, Vec<&Event>> = BTreeMap::new();
    for event in events {
        if !AlertEvent::may_match(event.kind) {
            continue;
        }
        if !is_event_id(&event.id) {
            tracing::warn!(event = %event.id, "an event whose id is not an event id; not evaluated");
            continue;
        }
        by_tenant.entry(&event.tenant).or_default().push(event);
    }
    let mut out = Vec::new();
    for (tenant, mut list) in by_tenant {
        list.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        list.dedup_by(|a, b| a.id == b.id);
        let mut policies: Option<Vec<AlertPolicy>> = None;
        for event in list {
            if state.store.event_handled(tenant, CONSUMER, event).await? {
                continue;
            }
            if policies.is_none() {
                let all = state.store.list_alert_policies(tenant, state.now()).await?;
                policies = Some(
                    all.into_iter()
                        .map(|p| p.value)
                        .filter(|p| p.enabled)
                        .collect(),
                );
            }
            for policy in policies.iter().flatten().filter(|p| p.matches(event)) {
                if let Some(alert) = evaluate(state, tenant, policy, event).await? {
                    out.push(alert);
                }
            }
            state.store.claim_event(tenant, CONSUMER, event).await?;
        }
    }
    Ok(out)
}

/// One matching event under one policy: the alert raised or added to, if any.
async fn evaluate(
    state: &AppState,
    tenant: &TenantId,
    policy: &AlertPolicy,
    event: &Event,
) -> Result<Option<Alert>, AlertError> {
    for attempt in 0..ATTEMPTS {
        let outcome = match &policy.threshold {
            None => raise(state, tenant, policy, event, None).await,
            Some(t) => count(state, tenant, policy, t, event).await,
        };
        match outcome {
            Err(StoreError::StaleVersion { .. }) => {
                attest_store::pause_before_retry(attempt).await;
            }
            other => return Ok(other?),
        }
    }
    Err(AlertError::Conflict(format!(
        "alert policy {} kept changing while it was evaluated",
        policy.id
    )))
}

/// Raises an alert of `policy` over `counted` (the one event without a threshold), with the
/// policy's count when it has a threshold. `None` if the event raised it before.
async fn raise(
    state: &AppState,
    tenant: &TenantId,
    policy: &AlertPolicy,
    event: &Event,
    window: Option<(Vec<Counted>, AlertWindow, u64)>,
) -> Result<Option<Alert>, StoreError> {
    let single = [Counted {
        event: event.id.clone(),
        at: event.at,
    }];
    let counted = window
        .as_ref()
        .map_or(&single[..], |(c, _, _)| c.as_slice());
    let alert = Alert::raise(policy, counted, event);
    let window = window.map(|(_, mut w, version)| {
        w.open = Some(OpenAlert {
            alert: alert.id.clone(),
            first_at: alert.first_at,
        });
        (w, version)
    });
    let raised = alert_event(
        tenant,
        EventType::AlertRaised,
        state.now(),
        None,
        &alert,
        vec![],
    );
    let write = AlertWrite {
        alert: &alert,
        version: 0,
        window: window.as_ref().map(|(w, v)| (policy.id.as_str(), w, *v)),
        events: std::slice::from_ref(&raised),
    };
    match state.store.write_alert(tenant, write).await {
        Ok(stored) => {
            tracing::info!(tenant = %tenant, alert = %alert.id, policy = %policy.id, "alert raised");
            Ok(Some(stored.value))
        }
        Err(StoreError::StaleVersion { expected, current }) => {
            match state.store.get_alert(tenant, &alert.id).await {
                // Raised before: a repeated delivery.
                Ok(_) => Ok(None),
                Err(StoreError::NotFound(_)) => Err(StoreError::StaleVersion { expected, current }),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

/// Counts a matching event under a threshold policy: adds it to the alert whose window is
/// open, or counts it, raising an alert once `count` events fall within the window.
async fn count(
    state: &AppState,
    tenant: &TenantId,
    policy: &AlertPolicy,
    threshold: &Threshold,
    event: &Event,
) -> Result<Option<Alert>, StoreError> {
    let store = &state.store;
    let (mut window, version) = store
        .get_alert_window(tenant, &policy.id)
        .await?
        .map(|w| (w.value, w.version))
        .unwrap_or_default();
    if let Some(open) = window
        .open
        .clone()
        .filter(|o| threshold.covers(o.first_at, event.at))
    {
        match store.get_alert(tenant, &open.alert).await {
            Ok(current) if !current.value.status.is_closed() => {
                if current.value.events.contains(&event.id) {
                    return Ok(None);
                }
                let mut next = current.value.clone();
                next.add(policy, event);
                let change = changed("count", current.value.count, next.count);
                let updated = alert_event(
                    tenant,
                    EventType::AlertUpdated,
                    state.now(),
                    None,
                    &next,
                    vec![change],
                );
                let write = AlertWrite {
                    alert: &next,
                    version: current.version,
                    window: Some((&policy.id, &window, version)),
                    events: std::slice::from_ref(&updated),
                };
                return store
                    .write_alert(tenant, write)
                    .await
                    .map(|a| Some(a.value));
            }
            // Resolved or dismissed (or gone): the count starts anew.
            Ok(_) | Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    if window.is_pending(&event.id) {
        return Ok(None);
    }
    match window.count(threshold, &event.id, event.at) {
        None => {
            store
                .put_alert_window(tenant, &policy.id, &window, version)
                .await?;
            Ok(None)
        }
        Some(counted) => {
            raise(
                state,
                tenant,
                policy,
                event,
                Some((counted, window, version)),
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use attest_domain::alert::{DEFAULT_CONNECTOR_POLICY, DEFAULT_SCORE_POLICY};
    use attest_domain::identity::Role;
    use chrono::{DateTime, Duration, Utc};

    use super::*;
    use crate::usecases::testkit::ports;

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + Duration::minutes(minute)
    }

    fn test_change(tenant: &TenantId, minute: i64, action: &str, actor: &str) -> Event {
        Event::new(
            tenant,
            EventType::ActionUpdated,
            at(minute),
            Some(actor),
            Subject::new("action", action),
            json!({"action": action, "changes": [{"field": "test_status", "old": "none", "new": "passed"}],
                   "assessments": ["a1"], "regulations": ["gdpr"], "source": "manual"}),
        )
    }

    fn score_change(tenant: &TenantId, old: Option<f64>, new: f64) -> Event {
        Event::new(
            tenant,
            EventType::ScoreChanged,
            at(0),
            None,
            Subject::new("assessment", "a1"),
            json!({"scope": "a1", "old": old.map(|p| json!({"percent": p})), "new": {"percent": new},
                   "assessments": ["a1"], "regulations": ["gdpr"]}),
        )
    }

    fn body(v: Value) -> NewPolicy {
        serde_json::from_value(v).unwrap()
    }

    async fn alerts(state: &AppState, tenant: &TenantId) -> Vec<Alert> {
        let q = AlertQuery {
            limit: 200,
            ..Default::default()
        };
        list_alerts(state, tenant, q)
            .await
            .unwrap()
            .alerts
            .into_iter()
            .map(|a| a.value)
            .collect()
    }

    #[tokio::test]
    async fn defaults_are_there_once_and_stay_deleted() {
        let (state, caller, _dir) = ports();
        let listed = list_policies(&state, &caller.tenant).await.unwrap();
        let ids: Vec<&str> = listed.iter().map(|p| p.value.id.as_str()).collect();
        assert_eq!(ids.len(), 2);
        assert!(ids.contains(&DEFAULT_CONNECTOR_POLICY) && ids.contains(&DEFAULT_SCORE_POLICY));
        assert!(listed.iter().all(|p| p.value.enabled && p.version == 1));
        delete_policy(&state, &caller, DEFAULT_SCORE_POLICY, Some(1))
            .await
            .unwrap();
        let listed = list_policies(&state, &caller.tenant).await.unwrap();
        assert_eq!(listed.len(), 1, "a deleted default does not come back");
        assert!(matches!(
            show_policy(&state, &caller.tenant, DEFAULT_SCORE_POLICY).await,
            Err(AlertError::NotFound(_))
        ));
        // Evaluation finds the same policies (and makes none again).
        on_events(&state, &[score_change(&caller.tenant, Some(60.0), 50.0)])
            .await
            .unwrap();
        assert!(alerts(&state, &caller.tenant).await.is_empty());
        // Another tenant's first evaluation makes its defaults.
        let other = TenantId::parse("other").unwrap();
        let raised = on_events(&state, &[score_change(&other, Some(60.0), 50.0)])
            .await
            .unwrap();
        assert_eq!(raised.len(), 1);
        assert_eq!(raised[0].policy_id, DEFAULT_SCORE_POLICY);
        assert_eq!(raised[0].title, "Score decreased: assessment a1 60% → 50%");
        assert_eq!(raised[0].severity, Severity::Medium);
        // Each tenant sees its own.
        assert!(alerts(&state, &caller.tenant).await.is_empty());
        assert_eq!(alerts(&state, &other).await, raised);
    }

    #[tokio::test]
    async fn matching_events_raise_one_alert_each_and_duplicates_change_nothing() {
        let (state, caller, _dir) = ports();
        let t = &caller.tenant;
        let policy = create_policy(
            &state,
            &caller,
            body(
                json!({"name": "Tests", "event": "test_status_change", "severity": "high",
                        "filters": {"regulation": "gdpr", "actor": "alice"}}),
            ),
        )
        .await
        .unwrap();
        let e1 = test_change(t, 0, "mfa", "alice");
        let by_bob = test_change(t, 1, "mfa", "bob");
        let increase = score_change(t, Some(40.0), 50.0);
        let raised = on_events(&state, &[e1.clone(), by_bob, increase])
            .await
            .unwrap();
        assert_eq!(raised.len(), 1, "{raised:?}");
        let alert = &raised[0];
        assert_eq!(alert.policy_id, policy.value.id);
        assert_eq!(
            (alert.count, alert.events.clone()),
            (1, vec![e1.id.clone()])
        );
        assert_eq!(alert.status, AlertStatus::Active);
        assert_eq!(alert.title, "Test status of action mfa: none → passed");
        // The same event delivered again, alone or in a batch: nothing new.
        assert!(on_events(&state, &[e1.clone(), e1.clone()])
            .await
            .unwrap()
            .is_empty());
        assert_eq!(alerts(&state, t).await.len(), 1);
        // Its AlertRaised event landed with it.
        let log = state.store.list_events(t, None, None, 100).await.unwrap();
        let raised_events: Vec<&Event> = log
            .events
            .iter()
            .filter(|e| e.kind == EventType::AlertRaised)
            .collect();
        assert_eq!(raised_events.len(), 1);
        assert_eq!(raised_events[0].data["id"], alert.id.as_str());
        assert_eq!(raised_events[0].data["events"], json!([e1.id]));
        assert!(log
            .events
            .iter()
            .any(|e| e.kind == EventType::AlertPolicyChanged && e.data["change"] == "created"));
        // A claim lost by a crash: the alert's id still keeps the event from raising twice.
        let e2 = test_change(t, 5, "mfa", "alice");
        assert_eq!(
            on_events(&state, std::slice::from_ref(&e2))
                .await
                .unwrap()
                .len(),
            1
        );
        let key = attest_store::keys::event_seen(t, CONSUMER, &e2.id);
        state
            .store
            .backend()
            .write(vec![attest_store::WriteOp::Delete {
                key,
                condition: attest_store::Condition::Always,
            }])
            .await
            .unwrap();
        assert!(on_events(&state, &[e2]).await.unwrap().is_empty());
        assert_eq!(alerts(&state, t).await.len(), 2);
    }

    #[tokio::test]
    async fn a_threshold_raises_one_alert_adds_within_its_window_and_starts_anew_after() {
        let (state, caller, _dir) = ports();
        let t = &caller.tenant;
        create_policy(
            &state,
            &caller,
            body(
                json!({"name": "Many tests", "event": "test_status_change", "severity": "low",
                        "threshold": {"count": 3, "window_minutes": 60}}),
            ),
        )
        .await
        .unwrap();
        let e: Vec<Event> = [0, 10, 20, 50, 65, 200]
            .iter()
            .enumerate()
            .map(|(i, m)| test_change(t, *m, &format!("a{i}"), "alice"))
            .collect();
        assert!(on_events(&state, &e[..2]).await.unwrap().is_empty());
        let raised = on_events(&state, &e[2..3]).await.unwrap();
        assert_eq!(raised.len(), 1);
        assert_eq!(raised[0].count, 3);
        assert_eq!(raised[0].title, "3 test status changes within 60 minutes");
        assert_eq!(raised[0].first_at, at(0));
        // The fourth, and a duplicate of it: count 4.
        let added = on_events(&state, &[e[3].clone(), e[3].clone()])
            .await
            .unwrap();
        assert_eq!(added.len(), 1);
        assert_eq!(added[0].id, raised[0].id);
        assert_eq!(added[0].count, 4);
        assert_eq!(added[0].last_at, at(50));
        assert_eq!(added[0].title, "4 test status changes within 60 minutes");
        // Past the window from the alert's first event: a new count starts.
        assert!(on_events(&state, &e[4..]).await.unwrap().is_empty());
        let all = alerts(&state, t).await;
        assert_eq!(all.len(), 1);
        assert_eq!(
            all[0].events,
            e[..4].iter().map(|x| x.id.clone()).collect::<Vec<_>>()
        );
        // Two more within 60 minutes of the one at 200: a second alert, listed first.
        let more = [
            test_change(t, 210, "b1", "alice"),
            test_change(t, 220, "b2", "bob"),
        ];
        let second = on_events(&state, &more).await.unwrap();
        assert_eq!(second.len(), 1);
        assert_eq!((second[0].count, second[0].first_at), (3, at(200)));
        let all = alerts(&state, t).await;
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].id, second[0].id, "newest first");
        // A dismissed alert takes no more: the next match counts anew.
        update_alert(
            &state,
            &caller,
            &second[0].id,
            AlertPatch {
                status: Some(AlertStatus::Dismissed),
                assignee: None,
            },
            None,
        )
        .await
        .unwrap();
        assert!(on_events(&state, &[test_change(t, 230, "b3", "bob")])
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            show_alert(&state, t, &second[0].id)
                .await
                .unwrap()
                .value
                .count,
            3
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_evaluations_count_every_event_once() {
        let (state, caller, _dir) = ports();
        let t = &caller.tenant;
        create_policy(
            &state,
            &caller,
            body(
                json!({"name": "Burst", "event": "test_status_change", "severity": "low",
                        "threshold": {"count": 2, "window_minutes": 600}}),
            ),
        )
        .await
        .unwrap();
        let events: Vec<Event> = (0..8)
            .map(|i| test_change(t, i, &format!("a{i}"), "alice"))
            .collect();
        let mut tasks = tokio::task::JoinSet::new();
        for e in events.iter().chain(events.iter()).cloned() {
            let state = state.clone();
            tasks.spawn(async move { on_events(&state, &[e]).await.unwrap() });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap();
        }
        let all = alerts(&state, t).await;
        assert_eq!(all.len(), 1, "{all:?}");
        assert_eq!(all[0].count, 8);
        let mut ids = all[0].events.clone();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 8);
    }

    #[tokio::test]
    async fn disabled_policies_raise_nothing_and_changes_are_versioned() {
        let (state, caller, _dir) = ports();
        let t = &caller.tenant;
        let p = create_policy(
            &state,
            &caller,
            body(json!({"name": "Owners", "event": "assignment_change", "severity": "low", "enabled": false})),
        )
        .await
        .unwrap();
        let assigned = Event::new(
            t,
            EventType::ActionsAssigned,
            at(0),
            Some("alice"),
            Subject::new("actions", "x,y"),
            json!({"actions": ["x", "y"], "owner": "bo"}),
        );
        assert!(on_events(&state, &[assigned]).await.unwrap().is_empty());
        let patch = |v: Value| -> PolicyPatch { serde_json::from_value(v).unwrap() };
        let enabled = update_policy(
            &state,
            &caller,
            &p.value.id,
            patch(json!({"enabled": true})),
            Some(1),
        )
        .await
        .unwrap();
        assert_eq!(enabled.version, 2);
        assert!(matches!(
            update_policy(
                &state,
                &caller,
                &p.value.id,
                patch(json!({"name": "x"})),
                Some(1)
            )
            .await,
            Err(AlertError::Stale { current: 2, .. })
        ));
        // Nothing to change: no new version.
        let same = update_policy(
            &state,
            &caller,
            &p.value.id,
            patch(json!({"enabled": true})),
            None,
        )
        .await
        .unwrap();
        assert_eq!(same.version, 2);
        let again = Event::new(
            t,
            EventType::ActionsAssigned,
            at(1),
            Some("alice"),
            Subject::new("actions", "x"),
            json!({"actions": ["x"], "owner": null}),
        );
        let raised = on_events(&state, &[again]).await.unwrap();
        assert_eq!(raised.len(), 1);
        assert_eq!(raised[0].title, "1 action unassigned");
        // Alert changes: versioned, recorded, and their values checked.
        let id = raised[0].id.clone();
        let mut reader = caller.clone();
        reader.roles = [Role::Contributor].into();
        let patch = AlertPatch {
            status: Some(AlertStatus::Investigating),
            assignee: Some(Some(" cara ".into())),
        };
        let updated = update_alert(&state, &reader, &id, patch, Some(1))
            .await
            .unwrap();
        assert_eq!(updated.version, 2);
        assert_eq!(updated.value.assignee.as_deref(), Some("cara"));
        let stale = update_alert(
            &state,
            &reader,
            &id,
            AlertPatch {
                status: Some(AlertStatus::Resolved),
                assignee: None,
            },
            Some(1),
        )
        .await;
        assert!(matches!(stale, Err(AlertError::Stale { current: 2, .. })));
        let long = AlertPatch {
            status: None,
            assignee: Some(Some("x".repeat(300))),
        };
        assert!(matches!(
            update_alert(&state, &reader, &id, long, None).await,
            Err(AlertError::Invalid(f)) if f.field == "assignee"
        ));
        let log = state
            .store
            .list_events(t, None, Some(EventType::AlertUpdated), 10)
            .await
            .unwrap();
        assert_eq!(log.events.len(), 1);
        assert_eq!(log.events[0].actor.as_deref(), Some("alice"));
        assert_eq!(log.events[0].data["changes"][0]["field"], "status");
        assert_eq!(log.events[0].data["changes"][1]["new"], "cara");
    }

    #[tokio::test]
    async fn bad_filters_and_ids_are_refused_by_name() {
        let (state, caller, _dir) = ports();
        let t = &caller.tenant;
        for (q, field) in [
            (
                AlertQuery {
                    status: Some("open"),
                    limit: 10,
                    ..Default::default()
                },
                "status",
            ),
            (
                AlertQuery {
                    severity: Some("urgent"),
                    limit: 10,
                    ..Default::default()
                },
                "severity",
            ),
            (
                AlertQuery {
                    policy: Some("a/b"),
                    limit: 10,
                    ..Default::default()
                },
                "policy",
            ),
            (
                AlertQuery {
                    after: Some("a b"),
                    limit: 10,
                    ..Default::default()
                },
                "after",
            ),
            (
                AlertQuery {
                    limit: 0,
                    ..Default::default()
                },
                "limit",
            ),
        ] {
            match list_alerts(&state, t, q).await {
                Err(AlertError::Invalid(f)) => assert_eq!(f.field, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        assert!(matches!(
            show_alert(&state, t, "nope").await,
            Err(AlertError::NotFound(_))
        ));
        assert!(matches!(
            show_alert(&state, t, "a#b").await,
            Err(AlertError::NotFound(_))
        ));
        assert!(matches!(
            show_policy(&state, t, "#defaults").await,
            Err(AlertError::NotFound(_))
        ));
    }
}
