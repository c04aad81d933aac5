//! Every route, the Lambda function that serves it, and what it needs. template.yaml, the
//! OpenAPI document and the tests all check against this table.

use std::collections::BTreeMap;

use attest_domain::identity::Permission;
use axum::routing::MethodRouter;
use axum::Router;

use crate::body::DEFAULT_BODY_LIMIT;

use crate::AppState;

pub struct RouteSpec {
    pub method: &'static str,
    pub path: &'static str,
    pub function: &'static str,
    pub summary: &'static str,
    /// `None`: public.
    pub permission: Option<Permission>,
    /// Query parameters the route accepts.
    pub query: &'static [&'static str],
    /// The request body's schema in `components/schemas`, if any.
    pub body: Option<&'static str>,
    /// The success status and the response schema.
    pub ok: (u16, Option<&'static str>),
    /// The handler, for this method.
    pub handler: fn() -> MethodRouter<AppState>,
    /// The largest request body the route reads.
    pub body_limit: usize,
}

use Permission::*;

macro_rules! route {
    ($m:literal, $p:literal, $f:literal, $s:literal, $perm:expr, $q:expr, $b:expr, $ok:expr, $h:expr, $limit:expr) => {
        RouteSpec {
            method: $m,
            path: $p,
            function: $f,
            summary: $s,
            permission: $perm,
            query: $q,
            body: $b,
            ok: $ok,
            handler: $h,
            body_limit: $limit,
        }
    };
}

pub const ROUTES: &[RouteSpec] = &[
    route!(
        "GET",
        "/api/compliance/health",
        "api-health",
        "Liveness",
        None,
        &[],
        None,
        (200, Some("Health")),
        || axum::routing::get(super::health::health),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/openapi.json",
        "api-health",
        "This API as OpenAPI 3",
        None,
        &[],
        None,
        (200, None),
        || axum::routing::get(super::health::openapi),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/regulations",
        "api-regulations",
        "Built-in and tenant regulation templates",
        Some(Read),
        &[],
        None,
        (200, Some("RegulationList")),
        || axum::routing::get(super::regulations::list),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "POST",
        "/api/compliance/regulations",
        "api-regulations",
        "Create a custom regulation template",
        Some(ManageAssessments),
        &[],
        Some("NewRegulation"),
        (201, Some("RegulationDetail")),
        || axum::routing::post(super::regulations::create),
        super::regulations::OSCAL_BODY_LIMIT
    ),
    route!(
        "POST",
        "/api/compliance/regulations/import/oscal",
        "api-regulations",
        "Import an OSCAL catalog or resolved profile catalog",
        Some(ManageAssessments),
        super::regulations::IMPORT_QUERY,
        Some("OscalCatalog"),
        (201, Some("RegulationDetail")),
        || axum::routing::post(super::regulations::import_oscal),
        super::regulations::OSCAL_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/regulations/{id}",
        "api-regulations",
        "A regulation with its families, controls and actions",
        Some(Read),
        &[],
        None,
        (200, Some("RegulationDetail")),
        || axum::routing::get(super::regulations::show),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/groups",
        "api-assessments",
        "Assessment groups",
        Some(Read),
        &[],
        None,
        (200, Some("GroupList")),
        || axum::routing::get(super::groups::list),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "POST",
        "/api/compliance/groups",
        "api-assessments",
        "Create a group, optionally copying another group's shared actions",
        Some(ManageAssessments),
        &[],
        Some("NewGroup"),
        (201, Some("Group")),
        || axum::routing::post(super::groups::create),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/groups/{id}",
        "api-assessments",
        "One group",
        Some(Read),
        &[],
        None,
        (200, Some("Group")),
        || axum::routing::get(super::groups::show),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "PATCH",
        "/api/compliance/groups/{id}",
        "api-assessments",
        "Rename a group (If-Match)",
        Some(EditData),
        &[],
        Some("RenameGroup"),
        (200, Some("Group")),
        || axum::routing::patch(super::groups::rename),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/assessments",
        "api-assessments",
        "Assessments with score and progress",
        Some(Read),
        super::assessments::LIST_QUERY,
        None,
        (200, Some("AssessmentList")),
        || axum::routing::get(super::assessments::list),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "POST",
        "/api/compliance/assessments",
        "api-assessments",
        "Create an assessment in an existing or a new group",
        Some(ManageAssessments),
        &[],
        Some("NewAssessment"),
        (201, Some("Assessment")),
        || axum::routing::post(super::assessments::create),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/assessments/{id}",
        "api-assessments",
        "One assessment (as_of: its score at that instant)",
        Some(Read),
        super::assessments::SHOW_QUERY,
        None,
        (200, Some("Assessment")),
        || axum::routing::get(super::assessments::show),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "DELETE",
        "/api/compliance/assessments/{id}",
        "api-assessments",
        "Delete an assessment",
        Some(ManageAssessments),
        &[],
        None,
        (204, None),
        || axum::routing::delete(super::assessments::remove),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/assessments/{id}/controls",
        "api-assessments",
        "Controls with their actions and scores",
        Some(Read),
        super::assessments::CONTROLS_QUERY,
        None,
        (200, Some("ControlList")),
        || axum::routing::get(super::assessments::controls),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "POST",
        "/api/compliance/assessments/{id}/archive",
        "api-assessments",
        "Archive (irreversible): freeze a snapshot",
        Some(ManageAssessments),
        &[],
        None,
        (200, Some("Assessment")),
        || axum::routing::post(super::assessments::archive),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/actions",
        "api-actions",
        "The tenant's action instances",
        Some(Read),
        super::actions::LIST_QUERY,
        None,
        (200, Some("ActionPage")),
        || axum::routing::get(super::actions::list),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "POST",
        "/api/compliance/actions/assign",
        "api-actions",
        "Assign an owner to several actions at once",
        Some(EditData),
        &[],
        Some("Assign"),
        (200, Some("ActionItems")),
        || axum::routing::post(super::actions::assign),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/actions/export.xlsx",
        "api-actions",
        "The action instances GET /actions lists, as a workbook for a bulk update",
        Some(Read),
        super::reports::EXPORT_QUERY,
        None,
        (200, Some("Workbook")),
        || axum::routing::get(super::reports::export_actions),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "POST",
        "/api/compliance/actions/import.xlsx",
        "api-actions",
        "Bulk update: apply an exported workbook's changed rows as PATCH would (all or nothing unless partial)",
        Some(EditData),
        super::reports::IMPORT_QUERY,
        Some("Workbook"),
        (200, Some("ImportResult")),
        || axum::routing::post(super::reports::import_actions),
        super::reports::IMPORT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/actions/{id}",
        "api-actions",
        "One action instance",
        Some(Read),
        &[],
        None,
        (200, Some("ActionDetail")),
        || axum::routing::get(super::actions::show),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "PATCH",
        "/api/compliance/actions/{id}",
        "api-actions",
        "Change owner, statuses, dates, notes (If-Match)",
        Some(EditData),
        &[],
        Some("ActionPatch"),
        (200, Some("ActionDetail")),
        || axum::routing::patch(super::actions::update),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/actions/{id}/history",
        "api-actions",
        "Change history, newest first",
        Some(Read),
        super::actions::HISTORY_QUERY,
        None,
        (200, Some("HistoryList")),
        || axum::routing::get(super::actions::history),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/actions/{id}/history/export.xlsx",
        "api-actions",
        "Change history as a workbook, newest first",
        Some(Read),
        &[],
        None,
        (200, Some("Workbook")),
        || axum::routing::get(super::reports::history_export),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/actions/{id}/controls",
        "api-actions",
        "Related controls across regulations",
        Some(Read),
        super::actions::RELATED_QUERY,
        None,
        (200, Some("RelatedControls")),
        || axum::routing::get(super::actions::related_controls),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/assessments/{id}/evidence",
        "api-assessments",
        "Evidence of the assessment's actions (frozen for archived ones)",
        Some(Read),
        &[],
        None,
        (200, Some("AssessmentEvidence")),
        || axum::routing::get(super::assessments::evidence),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/assessments/{id}/oscal/assessment-results",
        "api-assessments",
        "The assessment as an OSCAL 1.1 assessment-results document (one finding per control)",
        Some(Read),
        &[],
        None,
        (200, Some("OscalAssessmentResults")),
        || axum::routing::get(super::reports::oscal_results),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/action-updates",
        "api-actions",
        "Action instances with a newer library definition not accepted yet",
        Some(Read),
        &[],
        None,
        (200, Some("ActionUpdates")),
        || axum::routing::get(super::updates::list),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "POST",
        "/api/compliance/action-updates/accept-all",
        "api-actions",
        "Accept every pending action update",
        Some(ManageAssessments),
        &[],
        None,
        (200, Some("AcceptedAll")),
        || axum::routing::post(super::updates::accept_all),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "POST",
        "/api/compliance/actions/{id}/accept-update",
        "api-actions",
        "Accept the action's pending update (If-Match)",
        Some(ManageAssessments),
        &[],
        None,
        (200, Some("ActionDetail")),
        || axum::routing::post(super::updates::accept),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/assessments/{id}/report.xlsx",
        "api-assessments",
        "The assessment as an Excel workbook: summary, controls x actions (as_of: as it stood then)",
        Some(Read),
        super::reports::REPORT_QUERY,
        None,
        (200, Some("Workbook")),
        || axum::routing::get(super::reports::assessment_report),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "POST",
        "/api/compliance/actions/{id}/evidence",
        "api-evidence",
        "Add a file (returns an upload URL) or a link",
        Some(EditData),
        &[],
        Some("NewEvidence"),
        (201, Some("EvidenceAdded")),
        || axum::routing::post(super::evidence::add),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/actions/{id}/evidence",
        "api-evidence",
        "An action's evidence",
        Some(Read),
        &[],
        None,
        (200, Some("EvidenceList")),
        || axum::routing::get(super::evidence::list),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/evidence/{id}/download",
        "api-evidence",
        "A short-lived download URL (303 to it)",
        Some(Read),
        &[],
        None,
        (303, Some("Download")),
        || axum::routing::get(super::evidence::download),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "DELETE",
        "/api/compliance/evidence/{id}",
        "api-evidence",
        "Delete evidence (409 while a test result stands)",
        Some(EditData),
        &[],
        None,
        (204, None),
        || axum::routing::delete(super::evidence::remove),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/score",
        "api-score",
        "Overall compliance score and by category (as_of: at that instant)",
        Some(Read),
        super::score::SCORE_QUERY,
        None,
        (200, Some("TenantScore")),
        || axum::routing::get(super::score::score),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/score/history",
        "api-score",
        "The tenant's score history, oldest first",
        Some(Read),
        super::score::HISTORY_QUERY,
        None,
        (200, Some("ScoreHistory")),
        || axum::routing::get(super::score::history),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/assessments/{id}/score/history",
        "api-score",
        "An assessment's score history, oldest first",
        Some(Read),
        super::score::HISTORY_QUERY,
        None,
        (200, Some("ScoreHistory")),
        || axum::routing::get(super::score::assessment_history),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/events",
        "api-score",
        "The tenant's domain events, oldest first",
        Some(Read),
        super::events::LIST_QUERY,
        None,
        (200, Some("EventList")),
        || axum::routing::get(super::events::list),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/alert-policies",
        "api-alerts",
        "Alert policies (the tenant's two defaults included until deleted)",
        Some(Read),
        &[],
        None,
        (200, Some("AlertPolicyList")),
        || axum::routing::get(super::alerts::list_policies),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "POST",
        "/api/compliance/alert-policies",
        "api-alerts",
        "Create an alert policy",
        Some(ManageAssessments),
        &[],
        Some("NewAlertPolicy"),
        (201, Some("AlertPolicy")),
        || axum::routing::post(super::alerts::create_policy),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/alert-policies/{id}",
        "api-alerts",
        "One alert policy",
        Some(Read),
        &[],
        None,
        (200, Some("AlertPolicy")),
        || axum::routing::get(super::alerts::show_policy),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "PATCH",
        "/api/compliance/alert-policies/{id}",
        "api-alerts",
        "Change an alert policy (If-Match)",
        Some(ManageAssessments),
        &[],
        Some("AlertPolicyPatch"),
        (200, Some("AlertPolicy")),
        || axum::routing::patch(super::alerts::update_policy),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "DELETE",
        "/api/compliance/alert-policies/{id}",
        "api-alerts",
        "Delete an alert policy (its alerts stay)",
        Some(ManageAssessments),
        &[],
        None,
        (204, None),
        || axum::routing::delete(super::alerts::delete_policy),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/alerts",
        "api-alerts",
        "Alerts, newest first",
        Some(Read),
        super::alerts::LIST_QUERY,
        None,
        (200, Some("AlertList")),
        || axum::routing::get(super::alerts::list_alerts),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/alerts/{id}",
        "api-alerts",
        "One alert",
        Some(Read),
        &[],
        None,
        (200, Some("Alert")),
        || axum::routing::get(super::alerts::show_alert),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "PATCH",
        "/api/compliance/alerts/{id}",
        "api-alerts",
        "Change an alert's status or assignee (If-Match)",
        Some(EditData),
        &[],
        Some("AlertPatch"),
        (200, Some("Alert")),
        || axum::routing::patch(super::alerts::update_alert),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/users",
        "api-users",
        "Users and their app-assigned roles",
        Some(Read),
        &[],
        None,
        (200, Some("UserList")),
        || axum::routing::get(super::users::list),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "PUT",
        "/api/compliance/users/{id}/roles",
        "api-users",
        "Assign roles (If-Match)",
        Some(ManageUsers),
        &[],
        Some("SetRoles"),
        (200, Some("User")),
        || axum::routing::put(super::users::set_roles),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/connector-kinds",
        "api-connectors",
        "Connector kinds: credential fields, settings and checks",
        Some(Read),
        &[],
        None,
        (200, Some("ConnectorKindList")),
        || axum::routing::get(super::connectors::kinds),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/connectors",
        "api-connectors",
        "The tenant's connectors (credentials shown as \"set\")",
        Some(Read),
        &[],
        None,
        (200, Some("ConnectorList")),
        || axum::routing::get(super::connectors::list),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "POST",
        "/api/compliance/connectors",
        "api-connectors",
        "Activate a connector (credentials validated against the service first)",
        Some(ManageConnectors),
        &[],
        Some("NewConnector"),
        (201, Some("Connector")),
        || axum::routing::post(super::connectors::create),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/connectors/{id}",
        "api-connectors",
        "One connector",
        Some(Read),
        &[],
        None,
        (200, Some("Connector")),
        || axum::routing::get(super::connectors::show),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "PUT",
        "/api/compliance/connectors/{id}",
        "api-connectors",
        "Change a connector's name, credentials, settings or state (If-Match)",
        Some(ManageConnectors),
        &[],
        Some("ConnectorChange"),
        (200, Some("Connector")),
        || axum::routing::put(super::connectors::update),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "DELETE",
        "/api/compliance/connectors/{id}",
        "api-connectors",
        "Delete a connector and its credentials",
        Some(ManageConnectors),
        &[],
        None,
        (204, None),
        || axum::routing::delete(super::connectors::delete),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/connectors/{id}/status",
        "api-connectors",
        "A connector's state, last run, items imported and errors",
        Some(Read),
        &[],
        None,
        (200, Some("ConnectorStatus")),
        || axum::routing::get(super::connectors::status),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/connectors/{id}/history",
        "api-connectors",
        "A connector's runs, newest first",
        Some(Read),
        super::connectors::HISTORY_QUERY,
        None,
        (200, Some("ConnectorRunList")),
        || axum::routing::get(super::connectors::history),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/connectors/{id}/items",
        "api-connectors",
        "A data connector's imported records: by person and time, with text search",
        Some(Read),
        super::connectors::ITEMS_QUERY,
        None,
        (200, Some("ImportedItemPage")),
        || axum::routing::get(super::connectors::items),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "POST",
        "/api/compliance/connectors/{id}/upload",
        "api-connectors",
        "Upload HR records (text/csv) or badge events (application/json) to their connector",
        Some(ManageConnectors),
        &[],
        None,
        (200, Some("Uploaded")),
        || axum::routing::post(super::connectors::upload),
        crate::usecases::insider::MAX_UPLOAD_BYTES
    ),
    route!(
        "GET",
        "/api/compliance/people/{id}/signals",
        "api-connectors",
        "A person's insider-risk signals (the id is their e-mail), newest first",
        Some(Read),
        &[],
        None,
        (200, Some("SignalList")),
        || axum::routing::get(super::connectors::person_signals),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "GET",
        "/api/compliance/insider-risk/departing",
        "api-connectors",
        "People leaving (last working date within 90 days or past), with their signals",
        Some(Read),
        &[],
        None,
        (200, Some("DepartingList")),
        || axum::routing::get(super::connectors::departing),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "POST",
        "/api/compliance/connectors/{id}/validate",
        "api-connectors",
        "Check the stored credentials against the service",
        Some(ManageConnectors),
        &[],
        None,
        (200, Some("ConnectorValidation")),
        || axum::routing::post(super::connectors::validate),
        DEFAULT_BODY_LIMIT
    ),
    route!(
        "POST",
        "/api/compliance/connectors/{id}/run",
        "api-connectors",
        "Run a connector now (202 with the run id)",
        Some(ManageConnectors),
        &[],
        None,
        (202, Some("ConnectorRunQueued")),
        || axum::routing::post(super::connectors::run),
        DEFAULT_BODY_LIMIT
    ),
];

/// The routes of one function (`Some(name)`) or of all of them (`None`, the local server),
/// each behind its body limit and its permission check; `None` for an unknown function.
pub fn router(state: AppState, function: Option<&str>) -> Option<Router> {
    let mut by_path: BTreeMap<&str, MethodRouter<AppState>> = BTreeMap::new();
    for spec in ROUTES
        .iter()
        .filter(|r| function.is_none_or(|f| r.function == f))
    {
        let method = (spec.handler)()
            .route_layer(axum::middleware::from_fn_with_state(
                (state.clone(), spec),
                crate::claims::authorize,
            ))
            .layer(axum::extract::DefaultBodyLimit::max(spec.body_limit))
            .layer(axum::middleware::from_fn_with_state(
                spec.body_limit,
                crate::body::refuse_declared_oversize,
            ));
        let merged = match by_path.remove(spec.path) {
            Some(existing) => existing.merge(method),
            None => method,
        };
        by_path.insert(spec.path, merged);
    }
    if by_path.is_empty() {
        return None;
    }
    let router = by_path
        .into_iter()
        .fold(Router::new(), |r, (path, method)| r.route(path, method));
    Some(router.with_state(state))
}

/// The router a function serves; `None` for an unknown function.
pub fn function_router(function: &str, state: AppState) -> Option<Router> {
    router(state, Some(function))
}
