//! Alerts and their policies: `GET`/`POST /alert-policies`,
//! `GET`/`PATCH`/`DELETE /alert-policies/{id}`, `GET /alerts`, `GET`/`PATCH /alerts/{id}`.

use attest_domain::alert::{Alert, AlertPolicy};
use attest_store::Versioned;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde::Serialize;

use crate::body::JsonBody;
use crate::claims::Caller;
use crate::etag::{if_match, versioned_json};
use crate::query::QueryParams;
use crate::usecases::alerts::{
    self as usecase, AlertError, AlertPatch, AlertQuery, NewPolicy, PolicyPatch, MAX_LIMIT,
};
use crate::{ApiError, AppState, BASE_PATH};

impl From<AlertError> for ApiError {
    fn from(e: AlertError) -> Self {
        match e {
            AlertError::NotFound(what) => ApiError::NotFound(what),
            AlertError::Invalid(f) => ApiError::invalid(f.field, f.message),
            e @ AlertError::Stale { .. } => ApiError::PreconditionFailed(e.to_string()),
            AlertError::Conflict(m) => ApiError::Conflict(m),
            AlertError::Store(s) => s.into(),
        }
    }
}

pub const LIST_QUERY: &[&str] = &["status", "severity", "policy", "after", "limit"];

#[derive(Serialize)]
pub struct PolicyView {
    #[serde(flatten)]
    pub policy: AlertPolicy,
    pub version: u64,
}

impl From<Versioned<AlertPolicy>> for PolicyView {
    fn from(p: Versioned<AlertPolicy>) -> Self {
        Self {
            policy: p.value,
            version: p.version,
        }
    }
}

#[derive(Serialize)]
pub struct AlertView {
    #[serde(flatten)]
    pub alert: Alert,
    pub version: u64,
}

impl From<Versioned<Alert>> for AlertView {
    fn from(a: Versioned<Alert>) -> Self {
        Self {
            alert: a.value,
            version: a.version,
        }
    }
}

fn one_policy(status: StatusCode, policy: Versioned<AlertPolicy>) -> Response {
    let location = format!("{BASE_PATH}/alert-policies/{}", policy.value.id);
    let mut response = versioned_json(status, policy.version, PolicyView::from(policy));
    if status == StatusCode::CREATED {
        if let Ok(v) = location.parse() {
            response.headers_mut().insert(header::LOCATION, v);
        }
    }
    response
}

fn one_alert(alert: Versioned<Alert>) -> Response {
    versioned_json(StatusCode::OK, alert.version, AlertView::from(alert))
}

#[derive(Serialize)]
pub(crate) struct PolicyList {
    items: Vec<PolicyView>,
}

pub(crate) async fn list_policies(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<PolicyList>, ApiError> {
    let policies = usecase::list_policies(&state, &caller.0.tenant).await?;
    Ok(Json(PolicyList {
        items: policies.into_iter().map(PolicyView::from).collect(),
    }))
}

pub(crate) async fn create_policy(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewPolicy>,
) -> Result<Response, ApiError> {
    let created = usecase::create_policy(&state, &caller.0, body).await?;
    Ok(one_policy(StatusCode::CREATED, created))
}

pub(crate) async fn show_policy(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let policy = usecase::show_policy(&state, &caller.0.tenant, &id).await?;
    Ok(one_policy(StatusCode::OK, policy))
}

pub(crate) async fn update_policy(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(patch): JsonBody<PolicyPatch>,
) -> Result<Response, ApiError> {
    let expected = if_match(&headers)?;
    let updated = usecase::update_policy(&state, &caller.0, &id, patch, expected).await?;
    Ok(one_policy(StatusCode::OK, updated))
}

pub(crate) async fn delete_policy(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let expected = if_match(&headers)?;
    usecase::delete_policy(&state, &caller.0, &id, expected).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
pub(crate) struct AlertList {
    items: Vec<AlertView>,
    /// Pass as `after` to read on; null at the end.
    next: Option<String>,
}

pub(crate) async fn list_alerts(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<AlertList>, ApiError> {
    let q = QueryParams::parse(raw.as_deref(), LIST_QUERY)?;
    let limit = q.limit(50, MAX_LIMIT)?;
    let (status, severity) = (q.one("status"), q.one("severity"));
    let (policy, after) = (q.one("policy"), q.one("after"));
    let query = AlertQuery {
        status: status.as_deref(),
        severity: severity.as_deref(),
        policy: policy.as_deref(),
        after: after.as_deref(),
        limit,
    };
    let page = usecase::list_alerts(&state, &caller.0.tenant, query).await?;
    Ok(Json(AlertList {
        items: page.alerts.into_iter().map(AlertView::from).collect(),
        next: page.next,
    }))
}

pub(crate) async fn show_alert(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(one_alert(
        usecase::show_alert(&state, &caller.0.tenant, &id).await?,
    ))
}

pub(crate) async fn update_alert(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(patch): JsonBody<AlertPatch>,
) -> Result<Response, ApiError> {
    let expected = if_match(&headers)?;
    let updated = usecase::update_alert(&state, &caller.0, &id, patch, expected).await?;
    Ok(one_alert(updated))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use attest_domain::event::{Event, EventType, Subject};
    use attest_domain::identity::{Identity, Role};
    use attest_domain::ids::{TenantId, UserId};
    use axum::body::Body;
    use http_body_util::BodyExt;
    use serde_json::{json, Value};
    use tower::ServiceExt;

    use crate::usecases::testkit::ports;

    fn who(tenant: &str, role: Role) -> Identity {
        Identity {
            tenant: TenantId::parse(tenant).unwrap(),
            user: UserId::parse(format!("{}-user", role.as_str())).unwrap(),
            name: None,
            email: None,
            roles: BTreeSet::from([role]),
        }
    }

    async fn call(
        app: &axum::Router,
        caller: &Identity,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = axum::http::Request::builder()
            .method(method)
            .uri(format!("/api/compliance{path}"));
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let mut req = req
            .body(Body::from(body.map(|b| b.to_string()).unwrap_or_default()))
            .unwrap();
        req.extensions_mut().insert(caller.clone());
        let res = app.clone().oneshot(req).await.unwrap();
        let status = res.status().as_u16();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    #[tokio::test]
    async fn readers_read_contributors_handle_alerts_administrators_manage_policies() {
        let (state, _, _dir) = ports();
        let app = crate::routes::table::router(state.clone(), Some("api-alerts")).unwrap();
        let reader = who("acme", Role::Reader);
        let contributor = who("acme", Role::Contributor);
        let admin = who("acme", Role::Administrator);
        let policy = json!({"name": "Tests", "event": "test_status_change", "severity": "high",
                            "threshold": {"count": 1, "window_minutes": 5}});

        let (s, listed) = call(&app, &reader, "GET", "/alert-policies", None).await;
        assert_eq!(s, 200);
        assert_eq!(listed["items"].as_array().unwrap().len(), 2, "{listed}");
        for caller in [&reader, &contributor] {
            let (s, _) = call(
                &app,
                caller,
                "POST",
                "/alert-policies",
                Some(policy.clone()),
            )
            .await;
            assert_eq!(s, 403);
            let path = "/alert-policies/default-score-decrease";
            let (s, _) = call(&app, caller, "PATCH", path, Some(json!({"enabled": false}))).await;
            assert_eq!(s, 403);
            assert_eq!(call(&app, caller, "DELETE", path, None).await.0, 403);
        }
        let (s, created) = call(&app, &admin, "POST", "/alert-policies", Some(policy)).await;
        assert_eq!(s, 201, "{created}");
        assert_eq!(
            (created["version"].clone(), created["enabled"].clone()),
            (json!(1), json!(true))
        );
        assert_eq!(created["filters"], json!({}));
        let id = created["id"].as_str().unwrap().to_owned();
        let (s, shown) = call(&app, &reader, "GET", &format!("/alert-policies/{id}"), None).await;
        assert_eq!((s, shown["threshold"]["count"].clone()), (200, json!(1)));
        let (s, patched) = call(
            &app,
            &admin,
            "PATCH",
            &format!("/alert-policies/{id}"),
            Some(json!({"threshold": null, "severity": "low"})),
        )
        .await;
        assert_eq!(s, 200, "{patched}");
        assert_eq!(
            (patched["threshold"].clone(), patched["version"].clone()),
            (Value::Null, json!(2))
        );

        // Bad values are 422 naming the field.
        for (body, field) in [
            (
                json!({"name": "", "event": "score_change", "severity": "low"}),
                "name",
            ),
            (
                json!({"name": "x", "event": "nope", "severity": "low"}),
                "event",
            ),
            (
                json!({"name": "x", "event": "score_change", "severity": "urgent"}),
                "severity",
            ),
            (
                json!({"name": "x", "event": "score_change", "severity": "low", "threshold": {"count": 0, "window_minutes": 5}}),
                "threshold.count",
            ),
            (
                json!({"name": "x", "event": "score_change", "severity": "low", "threshold": {"count": 1, "window_minutes": 43201}}),
                "threshold.window_minutes",
            ),
            (
                json!({"name": "x", "event": "score_change", "severity": "low", "filters": {"assessment": "a b"}}),
                "filters.assessment",
            ),
            (
                json!({"name": "x", "event": "score_change", "severity": "low", "colour": "red"}),
                "colour",
            ),
        ] {
            let (s, problem) =
                call(&app, &admin, "POST", "/alert-policies", Some(body.clone())).await;
            assert_eq!(s, 422, "{body}: {problem}");
            assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
        }
        let (s, problem) = call(&app, &reader, "GET", "/alerts?severity=urgent", None).await;
        assert_eq!(
            (s, problem["errors"][0]["field"].clone()),
            (422, json!("severity"))
        );

        // An alert, raised by an event; contributors handle it, readers may not.
        let event = Event::new(
            &admin.tenant,
            EventType::ActionUpdated,
            state.now(),
            Some("alice"),
            Subject::new("action", "mfa"),
            json!({"action": "mfa", "changes": [{"field": "test_status", "old": "none", "new": "passed"}]}),
        );
        crate::usecases::alerts::on_events(&state, &[event])
            .await
            .unwrap();
        let (s, alerts) = call(&app, &reader, "GET", "/alerts?status=active", None).await;
        assert_eq!(s, 200);
        let alert = alerts["items"][0].clone();
        assert_eq!(
            (alert["severity"].clone(), alert["count"].clone()),
            (json!("low"), json!(1))
        );
        let path = format!("/alerts/{}", alert["id"].as_str().unwrap());
        let change = json!({"status": "investigating", "assignee": "cara"});
        assert_eq!(
            call(&app, &reader, "PATCH", &path, Some(change.clone()))
                .await
                .0,
            403
        );
        let (s, updated) = call(&app, &contributor, "PATCH", &path, Some(change)).await;
        assert_eq!(s, 200, "{updated}");
        assert_eq!(
            (updated["status"].clone(), updated["version"].clone()),
            (json!("investigating"), json!(2))
        );
        let (s, shown) = call(&app, &reader, "GET", &path, None).await;
        assert_eq!((s, shown["assignee"].clone()), (200, json!("cara")));

        // Another tenant sees none of it.
        let stranger = who("globex", Role::GlobalAdmin);
        assert_eq!(call(&app, &stranger, "GET", &path, None).await.0, 404);
        assert_eq!(
            call(
                &app,
                &stranger,
                "GET",
                &format!("/alert-policies/{id}"),
                None
            )
            .await
            .0,
            404
        );
        let (_, theirs) = call(&app, &stranger, "GET", "/alerts", None).await;
        assert_eq!(theirs["items"], json!([]));
        assert_eq!(
            call(
                &app,
                &admin,
                "DELETE",
                &format!("/alert-policies/{id}"),
                None
            )
            .await
            .0,
            204
        );
        assert_eq!(
            call(&app, &admin, "GET", &format!("/alert-policies/{id}"), None)
                .await
                .0,
            404
        );
    }
}
