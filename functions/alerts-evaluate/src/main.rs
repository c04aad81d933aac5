//! Evaluates alert policies on domain events (API.md "Alerts"). The stack's EventBridge rule
//! sends this function every event type a policy can watch (source `attest`, `detail-type` the
//! event's type, `detail` the envelope); each is evaluated by the same use case `attest serve`
//! runs on its in-process bus. Delivery is at least once: evaluation de-duplicates on the
//! event id, so a repeated event changes nothing. An error fails the invocation, so that
//! Lambda retries it (and then sends it to the dead-letter queue).

use attest_api::usecases::alerts::on_events;
use attest_api::AppState;
use attest_domain::alert::Alert;
use attest_domain::event::Event;
use lambda_runtime::{service_fn, LambdaEvent};
use serde::Deserialize;

/// What this function reads of an EventBridge event (the workspace builds `aws_lambda_events`
/// without its `eventbridge` feature).
#[derive(Deserialize)]
struct BridgeEvent {
    #[serde(rename = "detail-type", default)]
    detail_type: Option<String>,
    detail: serde_json::Value,
}

/// Evaluates the event an EventBridge invocation carries; the alerts raised or added to.
async fn handle(
    state: &AppState,
    payload: serde_json::Value,
) -> Result<Vec<Alert>, attest_lambda::Error> {
    let bridged: BridgeEvent = serde_json::from_value(payload)
        .map_err(|e| format!("not an EventBridge event with a detail: {e}"))?;
    let kind = bridged.detail_type.unwrap_or_default();
    let event: Event = serde_json::from_value(bridged.detail)
        .map_err(|e| format!("the detail of a {kind:?} event is not an Attest event: {e}"))?;
    let alerts = on_events(state, std::slice::from_ref(&event))
        .await
        .map_err(|e| format!("event {} of tenant {}: {e}", event.id, event.tenant))?;
    for alert in &alerts {
        tracing::info!(tenant = %event.tenant, event = %event.id, alert = %alert.id, count = alert.count, "alert raised or added to");
    }
    Ok(alerts)
}

#[tokio::main]
async fn main() -> Result<(), attest_lambda::Error> {
    let config = attest_lambda::init().await;
    let state = AppState::new(attest_lambda::store(&config)?);
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let state = state.clone();
        async move { handle(&state, event.payload).await.map(drop) }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use attest_domain::alert::DEFAULT_SCORE_POLICY;
    use attest_domain::event::{EventType, Subject};
    use attest_domain::ids::TenantId;
    use attest_store::Store;
    use serde_json::json;

    use super::*;

    /// What EventBridge hands the function for an event `events-publish` put on the bus.
    fn bridged(event: &Event) -> serde_json::Value {
        json!({
            "version": "0",
            "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "detail-type": event.kind.as_str(),
            "source": "attest",
            "account": "111122223333",
            "time": event.at.to_rfc3339(),
            "region": "eu-west-1",
            "resources": [],
            "detail": event,
        })
    }

    #[tokio::test]
    async fn a_score_decrease_from_eventbridge_raises_one_alert_once() {
        let dir = tempfile::tempdir().unwrap();
        let backend = attest_store_embedded::EmbeddedBackend::open(&dir.path().join("db")).unwrap();
        let state = AppState::new(Store::new(Arc::new(backend)));
        let tenant = TenantId::parse("acme").unwrap();
        let decrease = Event::new(
            &tenant,
            EventType::ScoreChanged,
            state.now(),
            None,
            Subject::new("tenant", "acme"),
            json!({"scope": "tenant", "old": {"percent": 62.5}, "new": {"percent": 50.0},
                   "assessments": [], "regulations": []}),
        );
        let raised = handle(&state, bridged(&decrease)).await.unwrap();
        assert_eq!(raised.len(), 1);
        assert_eq!(raised[0].policy_id, DEFAULT_SCORE_POLICY);
        assert_eq!(
            raised[0].title,
            "Score decreased: overall score 62.5% → 50%"
        );
        assert_eq!(raised[0].events, vec![decrease.id.clone()]);
        // EventBridge delivers at least once: the same event again changes nothing.
        assert!(handle(&state, bridged(&decrease)).await.unwrap().is_empty());
        let log = state
            .store
            .list_events(&tenant, None, Some(EventType::AlertRaised), 10)
            .await
            .unwrap();
        assert_eq!(log.events.len(), 1);
        assert_eq!(log.events[0].data["id"], raised[0].id.as_str());
        // An event no policy watches raises nothing; one that is not an event is an error
        // (retried, then kept in the dead-letter queue).
        let renamed = Event::new(
            &tenant,
            EventType::GroupRenamed,
            state.now(),
            Some("alice"),
            Subject::new("group", "g1"),
            json!({"old": "a", "new": "b"}),
        );
        assert!(handle(&state, bridged(&renamed)).await.unwrap().is_empty());
        let broken =
            json!({"detail-type": "ScoreChanged", "source": "attest", "detail": {"id": 1}});
        assert!(handle(&state, broken).await.is_err());
        assert!(handle(&state, json!({"source": "attest"})).await.is_err());
    }
}
