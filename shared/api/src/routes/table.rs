//! Every route, the Lambda function that serves it, and what it needs. template.yaml, the
//! OpenAPI document and the tests all check against this table.

use attest_domain::identity::Permission;
use axum::Router;

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
}

use Permission::*;

macro_rules! route {
    ($m:literal, $p:literal, $f:literal, $s:literal, $perm:expr, $q:expr, $b:expr, $ok:expr) => {
        RouteSpec {
            method: $m,
            path: $p,
            function: $f,
            summary: $s,
            permission: $perm,
            query: $q,
            body: $b,
            ok: $ok,
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
        (200, Some("Health"))
    ),
    route!(
        "GET",
        "/api/compliance/openapi.json",
        "api-health",
        "This API as OpenAPI 3",
        None,
        &[],
        None,
        (200, None)
    ),
    route!(
        "GET",
        "/api/compliance/regulations",
        "api-regulations",
        "Built-in and tenant regulation templates",
        Some(Read),
        &[],
        None,
        (200, Some("RegulationList"))
    ),
    route!(
        "POST",
        "/api/compliance/regulations",
        "api-regulations",
        "Create a custom regulation template",
        Some(ManageAssessments),
        &[],
        Some("NewRegulation"),
        (201, Some("RegulationDetail"))
    ),
    route!(
        "POST",
        "/api/compliance/regulations/import/oscal",
        "api-regulations",
        "Import an OSCAL catalog or resolved profile catalog",
        Some(ManageAssessments),
        super::regulations::IMPORT_QUERY,
        Some("OscalCatalog"),
        (201, Some("RegulationDetail"))
    ),
    route!(
        "GET",
        "/api/compliance/regulations/{id}",
        "api-regulations",
        "A regulation with its families, controls and actions",
        Some(Read),
        &[],
        None,
        (200, Some("RegulationDetail"))
    ),
    route!(
        "GET",
        "/api/compliance/groups",
        "api-assessments",
        "Assessment groups",
        Some(Read),
        &[],
        None,
        (200, Some("GroupList"))
    ),
    route!(
        "POST",
        "/api/compliance/groups",
        "api-assessments",
        "Create a group, optionally copying another group's shared actions",
        Some(ManageAssessments),
        &[],
        Some("NewGroup"),
        (201, Some("Group"))
    ),
    route!(
        "GET",
        "/api/compliance/groups/{id}",
        "api-assessments",
        "One group",
        Some(Read),
        &[],
        None,
        (200, Some("Group"))
    ),
    route!(
        "PATCH",
        "/api/compliance/groups/{id}",
        "api-assessments",
        "Rename a group (If-Match)",
        Some(EditData),
        &[],
        Some("RenameGroup"),
        (200, Some("Group"))
    ),
    route!(
        "GET",
        "/api/compliance/assessments",
        "api-assessments",
        "Assessments with score and progress",
        Some(Read),
        super::assessments::LIST_QUERY,
        None,
        (200, Some("AssessmentList"))
    ),
    route!(
        "POST",
        "/api/compliance/assessments",
        "api-assessments",
        "Create an assessment in an existing or a new group",
        Some(ManageAssessments),
        &[],
        Some("NewAssessment"),
        (201, Some("Assessment"))
    ),
    route!(
        "GET",
        "/api/compliance/assessments/{id}",
        "api-assessments",
        "One assessment",
        Some(Read),
        &[],
        None,
        (200, Some("Assessment"))
    ),
    route!(
        "DELETE",
        "/api/compliance/assessments/{id}",
        "api-assessments",
        "Delete an assessment",
        Some(ManageAssessments),
        &[],
        None,
        (204, None)
    ),
    route!(
        "GET",
        "/api/compliance/assessments/{id}/controls",
        "api-assessments",
        "Controls with their actions and scores",
        Some(Read),
        super::assessments::CONTROLS_QUERY,
        None,
        (200, Some("ControlList"))
    ),
    route!(
        "POST",
        "/api/compliance/assessments/{id}/archive",
        "api-assessments",
        "Archive (irreversible): freeze a snapshot",
        Some(ManageAssessments),
        &[],
        None,
        (200, Some("Assessment"))
    ),
    route!(
        "GET",
        "/api/compliance/actions",
        "api-actions",
        "The tenant's action instances",
        Some(Read),
        super::actions::LIST_QUERY,
        None,
        (200, Some("ActionPage"))
    ),
    route!(
        "POST",
        "/api/compliance/actions/assign",
        "api-actions",
        "Assign an owner to several actions at once",
        Some(EditData),
        &[],
        Some("Assign"),
        (200, Some("ActionItems"))
    ),
    route!(
        "GET",
        "/api/compliance/actions/{id}",
        "api-actions",
        "One action instance",
        Some(Read),
        &[],
        None,
        (200, Some("ActionDetail"))
    ),
    route!(
        "PATCH",
        "/api/compliance/actions/{id}",
        "api-actions",
        "Change owner, statuses, dates, notes (If-Match)",
        Some(EditData),
        &[],
        Some("ActionPatch"),
        (200, Some("ActionDetail"))
    ),
    route!(
        "GET",
        "/api/compliance/actions/{id}/history",
        "api-actions",
        "Change history, newest first",
        Some(Read),
        super::actions::HISTORY_QUERY,
        None,
        (200, Some("HistoryList"))
    ),
    route!(
        "GET",
        "/api/compliance/actions/{id}/controls",
        "api-actions",
        "Related controls across regulations",
        Some(Read),
        super::actions::RELATED_QUERY,
        None,
        (200, Some("RelatedControls"))
    ),
    route!(
        "GET",
        "/api/compliance/assessments/{id}/evidence",
        "api-assessments",
        "Evidence of the assessment's actions (frozen for archived ones)",
        Some(Read),
        &[],
        None,
        (200, Some("AssessmentEvidence"))
    ),
    route!(
        "POST",
        "/api/compliance/actions/{id}/evidence",
        "api-evidence",
        "Add a file (returns an upload URL) or a link",
        Some(EditData),
        &[],
        Some("NewEvidence"),
        (201, Some("EvidenceAdded"))
    ),
    route!(
        "GET",
        "/api/compliance/actions/{id}/evidence",
        "api-evidence",
        "An action's evidence",
        Some(Read),
        &[],
        None,
        (200, Some("EvidenceList"))
    ),
    route!(
        "GET",
        "/api/compliance/evidence/{id}/download",
        "api-evidence",
        "A short-lived download URL (303 to it)",
        Some(Read),
        &[],
        None,
        (303, Some("Download"))
    ),
    route!(
        "DELETE",
        "/api/compliance/evidence/{id}",
        "api-evidence",
        "Delete evidence (409 while a test result stands)",
        Some(EditData),
        &[],
        None,
        (204, None)
    ),
    route!(
        "GET",
        "/api/compliance/score",
        "api-score",
        "Overall compliance score and by category",
        Some(Read),
        &[],
        None,
        (200, Some("TenantScore"))
    ),
    route!(
        "GET",
        "/api/compliance/users",
        "api-users",
        "Users and their app-assigned roles",
        Some(Read),
        &[],
        None,
        (200, Some("UserList"))
    ),
    route!(
        "PUT",
        "/api/compliance/users/{id}/roles",
        "api-users",
        "Assign roles (If-Match)",
        Some(ManageUsers),
        &[],
        Some("SetRoles"),
        (200, Some("User"))
    ),
];

/// The router a function serves; `None` for an unknown function.
pub fn function_router(function: &str, state: AppState) -> Option<Router> {
    use super::*;
    Some(match function {
        "api-health" => health::router(),
        "api-regulations" => regulations::router(state),
        "api-assessments" => groups::router(state.clone()).merge(assessments::router(state)),
        "api-actions" => actions::router(state),
        "api-score" => score::router(state),
        "api-users" => users::router(state),
        "api-evidence" => evidence::router(state),
        _ => return None,
    })
}
