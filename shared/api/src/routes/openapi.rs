//! `GET /openapi.json`: the OpenAPI 3 document, generated from the route table
//! ([`super::table::ROUTES`]) and the schemas below, so it cannot drift from what is served.

use serde_json::{json, Map, Value};

use super::table::ROUTES;

fn str_enum(values: &[&str]) -> Value {
    json!({"type": "string", "enum": values})
}

fn vocab<T: Copy>(all: &[T], as_str: fn(T) -> &'static str) -> Value {
    str_enum(&all.iter().map(|v| as_str(*v)).collect::<Vec<_>>())
}

fn schemas() -> Value {
    use attest_domain::identity::Role;
    use attest_domain::vocab::*;
    let r = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    let list = |item: &str| json!({"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": r(item)}}});
    let date = json!({"type": ["string", "null"], "format": "date"});
    json!({
        "Problem": {"type": "object", "required": ["type", "title", "status", "detail"], "properties": {
            "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"},
            "errors": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}},
            "rejected": {"type": "array", "description": "an import's rejected rows (422, all or nothing: none was applied)", "items": r("RejectedRow")}}},
        "Workbook": {"type": "string", "contentMediaType": crate::body::XLSX, "description": "an Excel workbook (.xlsx), sent as it is"},
        "RejectedRow": {"type": "object", "required": ["row", "status", "reason"], "properties": {
            "row": {"type": "integer", "description": "as the spreadsheet shows it: the header is row 1"},
            "id": {"type": ["string", "null"]}, "status": {"type": "integer", "description": "what PATCH would have answered: 403, 404, 409, 412 or 422"},
            "reason": {"type": "string"}}},
        "ImportResult": {"type": "object", "required": ["applied", "skipped", "rejected"], "properties": {
            "applied": {"type": "integer"}, "skipped": {"type": "integer", "description": "rows that change nothing"},
            "rejected": {"type": "array", "items": r("RejectedRow")}}},
        "Health": {"type": "object", "properties": {"status": {"type": "string"}, "version": {"type": "string"}}},
        "Score": {"type": "object", "required": ["achieved", "possible", "percent"], "properties": {
            "achieved": {"type": "integer"}, "possible": {"type": "integer"}, "percent": {"type": "number"}}},
        "Progress": {"type": "object", "properties": {"controls_total": {"type": "integer"}, "controls_assessed": {"type": "integer"}}},
        "ImplementationStatus": vocab(ImplementationStatus::ALL, ImplementationStatus::as_str),
        "TestStatus": vocab(TestStatus::ALL, TestStatus::as_str),
        "ActionType": vocab(ActionType::ALL, ActionType::as_str),
        "ControlType": vocab(ControlType::ALL, ControlType::as_str),
        "Enforcement": vocab(Enforcement::ALL, Enforcement::as_str),
        "TestingType": vocab(TestingType::ALL, TestingType::as_str),
        "ManagedBy": vocab(ManagedBy::ALL, ManagedBy::as_str),
        "Category": vocab(Category::ALL, Category::as_str),
        "Role": vocab(Role::ALL, Role::as_str),
        "RegulationSummary": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "source": {"type": "string"},
            "built_in": {"type": "boolean"}, "family_count": {"type": "integer"}, "control_count": {"type": "integer"},
            "supported_services": {"type": "array", "items": {"type": "string"}}}},
        "RegulationList": list("RegulationSummary"),
        "RegulationDetail": {"allOf": [r("RegulationSummary"), {"type": "object", "properties": {"families": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "string"}, "title": {"type": "string"}, "controls": {"type": "array", "items": {"type": "object", "properties": {
                "id": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"},
                "actions": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}, "title": {"type": "string"},
                    "action_type": r("ActionType"), "category": r("Category"), "control_type": r("ControlType"), "enforcement": r("Enforcement"),
                    "testing_type": r("TestingType"), "managed_by": r("ManagedBy"), "points": {"type": "integer"}}}}}}}}}}}}]},
        "NewRegulation": {"type": "object", "required": ["name", "families"], "additionalProperties": false, "properties": {
            "id": id_schema(), "name": {"type": "string", "pattern": "\\S"}, "source": {"type": "string"},
            "families": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["id", "title", "controls"], "properties": {
                "id": {"type": "string"}, "title": {"type": "string"}, "controls": {"type": "array", "items": {"type": "object", "required": ["id", "title"], "properties": {
                    "id": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"},
                    "actions": {"type": "array", "items": {"type": "string"}, "description": "ids of existing improvement actions; none: one is generated"}}}}}}}}},
        "OscalCatalog": {"type": "object", "required": ["catalog"], "description": "An OSCAL 1.0/1.1 catalog (JSON), at most 6 MB"},
        "Group": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "version": {"type": "integer"},
            "created_at": {"type": "string", "format": "date-time"}, "created_by": {"type": "string"}}},
        "GroupList": list("Group"),
        "NewGroup": {"type": "object", "required": ["name"], "additionalProperties": false, "properties": {"name": {"type": "string", "maxLength": 100}, "copy_from": {"type": "string"}}},
        "RenameGroup": {"type": "object", "required": ["name"], "additionalProperties": false, "properties": {"name": {"type": "string", "maxLength": 100}}},
        "Assessment": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "group_id": {"type": "string"}, "group_name": {"type": "string"},
            "regulation_id": {"type": "string"}, "regulation_name": {"type": "string"}, "services": {"type": "array", "items": {"type": "string"}},
            "created_at": {"type": "string", "format": "date-time"}, "archived": {"type": "boolean"}, "archived_at": {"type": ["string", "null"], "format": "date-time"},
            "score": r("Score"), "progress": r("Progress"), "version": {"type": "integer"}}},
        "AssessmentList": {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": r("Assessment")}, "next_cursor": {"type": ["string", "null"]}}},
        "NewAssessment": {"type": "object", "required": ["regulation_id", "services"], "additionalProperties": false, "properties": {
            "regulation_id": {"type": "string"}, "group_id": {"type": "string"}, "group_name": {"type": "string"}, "copy_from": {"type": "string"},
            "services": {"type": "array", "items": {"type": "string", "pattern": "\\S"}, "minItems": 1}, "name": {"type": "string"},
            "connectors": {"type": "array", "items": {"type": "string"}, "minItems": 1, "description": "connector instances for its services; default: every instance of them"}}},
        "ActionSummary": {"type": "object", "properties": {"id": {"type": "string"}, "action_id": {"type": "string"}, "title": {"type": "string"},
            "category": r("Category"), "action_type": r("ActionType"), "control_type": r("ControlType"), "enforcement": r("Enforcement"),
            "managed_by": r("ManagedBy"), "testing_type": r("TestingType"), "points": {"type": "integer"}, "owner": {"type": ["string", "null"]},
            "implementation_status": r("ImplementationStatus"), "implementation_date": date, "test_status": r("TestStatus"), "test_date": date,
            "score": r("Score"), "version": {"type": "integer"}, "pending_update": r("PendingUpdate")}},
        "ScoreDelta": {"type": "object", "required": ["achieved", "possible"], "properties": {"achieved": {"type": "integer"}, "possible": {"type": "integer"}}},
        "PendingUpdate": {"type": "object", "description": "a newer library definition of the action, not accepted yet",
            "required": ["from", "to", "changes", "assessments_affected", "score_change"], "properties": {
            "from": {"type": "integer"}, "to": {"type": "integer"},
            "changes": {"type": "array", "items": {"type": "object", "required": ["field", "old", "new"], "properties": {
                "field": {"type": "string", "enum": ["title", "guidance", "category", "control_type", "enforcement", "points", "testing_type", "controls"]},
                "old": {}, "new": {}}}},
            "assessments_affected": {"type": "array", "items": {"type": "object", "properties": {
                "assessment_id": {"type": "string"}, "name": {"type": "string"}, "regulation_id": {"type": "string"}, "score_change": r("ScoreDelta")}}},
            "score_change": r("ScoreDelta")}},
        "ActionUpdates": list("PendingItem"),
        "PendingItem": {"type": "object", "required": ["id", "action_id", "title", "version", "pending_update"], "properties": {
            "id": {"type": "string"}, "action_id": {"type": "string"}, "title": {"type": "string"}, "group_id": {"type": ["string", "null"]},
            "version": {"type": "integer"}, "pending_update": r("PendingUpdate")}},
        "AcceptedAll": {"type": "object", "required": ["accepted", "failed"], "properties": {
            "accepted": {"type": "array", "items": {"type": "string"}},
            "failed": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}, "reason": {"type": "string"}}}}}},
        "OscalAssessmentResults": {"type": "object", "required": ["assessment-results"], "description": "an OSCAL 1.1 assessment-results document (NIST's JSON model)",
            "properties": {"assessment-results": {"type": "object"}}},
        "ActionDetail": {"allOf": [r("ActionSummary"), {"type": "object", "properties": {"guidance": {"type": "string"}, "implementation_notes": {"type": "string"},
            "test_notes": {"type": "string"}, "group_id": {"type": ["string", "null"]},
            "assessments": {"type": "array", "items": {"type": "object", "properties": {"assessment_id": {"type": "string"}, "name": {"type": "string"}, "regulation_id": {"type": "string"}}}}}}]},
        "ActionPage": {"type": "object", "properties": {"items": {"type": "array", "items": r("ActionSummary")}, "next_cursor": {"type": ["string", "null"]}}},
        "ActionItems": list("ActionSummary"),
        "ActionPatch": {"type": "object", "additionalProperties": false, "minProperties": 1, "properties": {
            "owner": {"type": ["string", "null"]}, "implementation_status": r("ImplementationStatus"), "implementation_date": date,
            "implementation_notes": {"type": "string"}, "test_status": r("TestStatus"), "test_date": date, "test_notes": {"type": "string"}, "testing_type": r("TestingType")}},
        "Assign": {"type": "object", "required": ["action_ids"], "additionalProperties": false, "properties": {
            "action_ids": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 50}, "owner": {"type": ["string", "null"]}}},
        "Control": {"type": "object", "properties": {"id": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"},
            "family_id": {"type": "string"}, "family_title": {"type": "string"}, "score": r("Score"), "actions": {"type": "array", "items": r("ActionSummary")}}},
        "ControlList": {"type": "object", "properties": {"assessment_id": {"type": "string"}, "archived": {"type": "boolean"}, "score": r("Score"),
            "progress": r("Progress"), "items": {"type": "array", "items": r("Control")}}},
        "HistoryEntry": {"type": "object", "properties": {"at": {"type": "string", "format": "date-time"}, "by": {"type": ["string", "null"], "description": "the user; null for the service's own checks"}, "field": {"type": "string"},
            "old": {}, "new": {}, "source": {"type": "string", "description": "manual, import, system (the service's own checks) or connector:<id>"}}},
        "HistoryList": list("HistoryEntry"),
        "RelatedControls": {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object", "properties": {
            "regulation_id": {"type": "string"}, "regulation_name": {"type": "string"}, "family_id": {"type": "string"}, "family_title": {"type": "string"},
            "control_id": {"type": "string"}, "title": {"type": "string"}}}}}},
        "ScorePoint": {"type": "object", "properties": {"at": {"type": "string", "format": "date-time"},
            "achieved": {"type": "integer"}, "possible": {"type": "integer"}, "percent": {"type": "number"}}},
        "ScoreHistory": {"type": "object", "properties": {"scope": {"type": "string"}, "items": {"type": "array", "items": r("ScorePoint")}}},
        "Event": {"type": "object", "required": ["id", "tenant", "type", "at", "subject", "data"], "properties": {
            "id": {"type": "string"}, "tenant": {"type": "string"},
            "type": {"type": "string", "enum": attest_domain::event::EventType::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>()},
            "at": {"type": "string", "format": "date-time"}, "actor": {"type": ["string", "null"]},
            "subject": {"type": "object", "properties": {"kind": {"type": "string"}, "id": {"type": "string"}}},
            "data": {"type": "object"}}},
        "EventList": {"type": "object", "properties": {"items": {"type": "array", "items": r("Event")}, "next": {"type": ["string", "null"]}}},
        "TenantScore": {"type": "object", "properties": {"overall": r("Score"), "assessments": {"type": "integer"},
            "computed_at": {"type": ["string", "null"], "format": "date-time"},
            "by_category": {"type": "array", "items": {"type": "object", "properties": {"category": r("Category"), "score": r("Score")}}}}},
        "User": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": ["string", "null"]}, "email": {"type": ["string", "null"]},
            "roles": {"type": "array", "items": r("Role")}, "first_seen": {"type": "string", "format": "date-time"}, "version": {"type": "integer"}}},
        "UserList": list("User"),
        "Evidence": {"type": "object", "properties": {"id": {"type": "string"}, "action": {"type": "string"}, "kind": str_enum(&["document", "link"]),
            "name": {"type": "string"}, "url": {"type": ["string", "null"]}, "content_type": {"type": ["string", "null"]},
            "declared_size": {"type": ["integer", "null"]}, "size": {"type": ["integer", "null"]}, "sha256": {"type": ["string", "null"]},
            "detected_type": {"type": ["string", "null"]}, "status": str_enum(&["pending", "verified", "rejected"]), "reason": {"type": ["string", "null"]},
            "created_by": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"}, "checked_at": {"type": ["string", "null"], "format": "date-time"}}},
        "EvidenceList": list("Evidence"),
        "NewEvidence": {"oneOf": [
            {"type": "object", "required": ["kind", "file_name", "content_type", "size"], "properties": {"kind": {"const": "document"},
                "file_name": {"type": "string", "minLength": 1, "maxLength": 255, "description": "the original file name, 1 to 255 characters (after trimming), without / or \\; kept for the download's Content-Disposition, never used to name what is stored"},
                "content_type": {"type": "string"}, "size": {"type": "integer", "minimum": 1}}},
            {"type": "object", "required": ["kind", "name", "url"], "properties": {"kind": {"const": "link"}, "name": {"type": "string"}, "url": {"type": "string", "format": "uri"}}}]},
        "EvidenceAdded": {"type": "object", "properties": {"evidence_id": {"type": "string"},
            "upload_url": {"type": "string", "description": "PUT the file here, once, with every header of upload_headers; a second PUT is refused (409 locally, 412 from S3)"},
            "upload_headers": {"type": "object", "additionalProperties": {"type": "string"},
                "description": "headers the PUT to upload_url must carry exactly as given (they are signed): content-type always; on AWS also if-none-match: * (the URL creates the file once) and content-length (the declared size; a browser sets it itself)"},
            "expires_at": {"type": "string", "format": "date-time"}, "evidence": r("Evidence")}},
        "Download": {"type": "object", "properties": {"url": {"type": "string"}, "expires_at": {"type": "string", "format": "date-time"}, "file_name": {"type": "string"}}},
        "AssessmentEvidence": {"type": "object", "properties": {"assessment_id": {"type": "string"}, "archived": {"type": "boolean"},
            "items": {"type": "object", "additionalProperties": {"type": "array", "items": r("Evidence")}}}},
        "SetRoles": {"type": "object", "required": ["roles"], "additionalProperties": false, "properties": {"roles": {"type": "array", "items": r("Role")}}}
    })
}

/// The schemas of alerts and alert policies.
fn alert_schemas() -> Map<String, Value> {
    use attest_domain::alert::*;
    let r = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    let time = json!({"type": "string", "format": "date-time"});
    let filter =
        json!({"type": "string", "pattern": "^[A-Za-z0-9._@:+-]{1,128}$", "maxLength": 128});
    let threshold = json!({"type": ["object", "null"], "required": ["count", "window_minutes"], "additionalProperties": false,
        "description": "raise once count matching events fall within window_minutes; null: every matching event raises an alert",
        "properties": {"count": {"type": "integer", "minimum": 1, "maximum": MAX_THRESHOLD_COUNT},
            "window_minutes": {"type": "integer", "minimum": 1, "maximum": MAX_WINDOW_MINUTES}}});
    let fields = json!({"name": {"type": "string", "minLength": 1, "maxLength": MAX_POLICY_NAME_CHARS}, "event": r("AlertEvent"),
        "filters": r("AlertFilters"), "severity": r("Severity"), "threshold": threshold, "enabled": {"type": "boolean"}});
    let mut policy = fields.clone();
    for (k, v) in [
        ("id", json!({"type": "string"})),
        ("version", json!({"type": "integer"})),
        ("created_at", time.clone()),
        ("updated_at", time.clone()),
    ] {
        policy[k] = v;
    }
    let out = json!({
        "AlertEvent": vocab(AlertEvent::ALL, AlertEvent::as_str),
        "Severity": vocab(Severity::ALL, Severity::as_str),
        "AlertStatus": vocab(AlertStatus::ALL, AlertStatus::as_str),
        "AlertFilters": {"type": "object", "additionalProperties": false, "description": "every filter given must match",
            "properties": {"assessment": filter, "regulation": filter, "action": filter, "actor": filter}},
        "AlertPolicy": {"type": "object", "properties": policy},
        "AlertPolicyList": {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": r("AlertPolicy")}}},
        "NewAlertPolicy": {"type": "object", "required": ["name", "event", "severity"], "additionalProperties": false, "properties": fields},
        "AlertPolicyPatch": {"type": "object", "minProperties": 1, "additionalProperties": false, "properties": fields},
        "Alert": {"type": "object", "properties": {"id": {"type": "string"}, "policy_id": {"type": "string"}, "event": r("AlertEvent"),
            "severity": r("Severity"), "status": r("AlertStatus"), "title": {"type": "string"}, "count": {"type": "integer"},
            "first_at": time, "last_at": time, "events": {"type": "array", "items": {"type": "string"}},
            "assignee": {"type": ["string", "null"]}, "version": {"type": "integer"}}},
        "AlertList": {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": r("Alert")}, "next": {"type": ["string", "null"]}}},
        "AlertPatch": {"type": "object", "minProperties": 1, "additionalProperties": false, "properties": {
            "status": r("AlertStatus"), "assignee": {"type": ["string", "null"], "maxLength": MAX_ASSIGNEE_CHARS}}},
    });
    match out {
        Value::Object(m) => m,
        _ => unreachable!("an object"),
    }
}

fn connector_schemas() -> Map<String, Value> {
    let r = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    let time = json!({"type": "string", "format": "date-time"});
    let maybe_time = json!({"type": ["string", "null"], "format": "date-time"});
    let state = str_enum(&["active", "paused"]);
    let outcome = str_enum(&["succeeded", "partially_succeeded", "failed"]);
    let category = str_enum(&[
        "auth",
        "permission",
        "rate_limit",
        "source_unavailable",
        "bad_record",
    ]);
    let kinds: Vec<&str> = attest_connectors::kinds().iter().map(|k| k.kind).collect();
    let settings = json!({"type": "object", "description": "the kind's settings_fields (GET /connector-kinds); data kinds take backfill_days, retention_days, hold and user_map {external id: e-mail}"});
    let credentials = json!({"type": "object", "description": "the kind's credential_fields (GET /connector-kinds); stored in the secret store, never returned",
        "additionalProperties": {"type": "string", "minLength": 1}});
    let field = json!({"type": "object", "properties": {"name": {"type": "string"}, "secret": {"type": "boolean"}, "required": {"type": "boolean"}, "description": {"type": "string"}}});
    let out = json!({
        "ConnectorKind": {"type": "object", "properties": {"kind": {"type": "string"}, "name": {"type": "string"},
            "category": str_enum(&["compliance", "communication", "hr", "physical"]), "service": {"type": "string"},
            "credential_fields": {"type": "array", "items": field}, "settings_fields": {"type": "array", "items": field},
            "checks": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}, "title": {"type": "string"},
                "action_id": {"type": "string"}, "source": {"type": "object", "properties": {"request": {"type": "string"}, "pointer": {"type": "string"}}},
                "expected": {"description": "a value, or {min}, {max}, {one_of}"}, "explain": {"type": "string"},
                "severity": str_enum(&["low", "medium", "high"])}}}}},
        "ConnectorKindList": {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": r("ConnectorKind")}}},
        "Connector": {"type": "object", "properties": {"id": {"type": "string"}, "kind": {"type": "string"}, "service": {"type": "string"},
            "name": {"type": "string"}, "state": state, "settings": {"type": "object"},
            "credentials": {"type": "object", "additionalProperties": {"const": "set"}},
            "created_at": time, "created_by": {"type": "string"}, "updated_at": time, "version": {"type": "integer"}}},
        "ConnectorList": {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": r("Connector")}}},
        "NewConnector": {"type": "object", "required": ["kind", "name", "credentials"], "additionalProperties": false, "properties": {
            "kind": str_enum(&kinds), "name": {"type": "string", "minLength": 1, "maxLength": attest_domain::connector::MAX_NAME_CHARS},
            "credentials": credentials, "settings": settings}},
        "ConnectorChange": {"type": "object", "additionalProperties": false, "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": attest_domain::connector::MAX_NAME_CHARS},
            "credentials": credentials, "settings": settings, "state": state}},
        "ConnectorStatus": {"type": "object", "properties": {"state": str_enum(&["active", "paused", "error"]),
            "last_run": {"type": ["object", "null"], "properties": {"id": {"type": "string"}, "started_at": time, "finished_at": maybe_time, "outcome": outcome}},
            "last_success_at": maybe_time, "items_imported_total": {"type": "integer"}, "errors_last_run": {"type": "integer"},
            "error": {"type": ["object", "null"], "properties": {"category": category, "message": {"type": "string"}}}, "next_run_at": maybe_time}},
        "ConnectorRun": {"type": "object", "properties": {"id": {"type": "string"}, "connector_id": {"type": "string"},
            "trigger": str_enum(&["schedule", "manual"]), "started_at": time, "finished_at": maybe_time, "outcome": outcome,
            "window": {"type": "object", "properties": {"from": time, "to": time}},
            "items_fetched": {"type": "integer"}, "items_imported": {"type": "integer"}, "duplicates_skipped": {"type": "integer"}, "unmapped_users": {"type": "integer"},
            "checks": {"type": "object", "properties": {"passed": {"type": "integer"}, "failed": {"type": "integer"}, "undetected": {"type": "integer"}}},
            "errors": {"type": "array", "items": {"type": "object", "properties": {"category": category, "message": {"type": "string"}, "count": {"type": "integer"}}}}}},
        "ConnectorRunList": {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": r("ConnectorRun")}, "next_cursor": {"type": ["string", "null"]}}},
        "ImportedItem": {"type": "object", "properties": {"connector_id": {"type": "string"}, "source_id": {"type": "string"},
            "kind": {"type": "string"}, "at": time, "person": {"type": ["string", "null"]}, "external_user": {"type": ["string", "null"]},
            "container": {"type": ["string", "null"]}, "text": {"type": "string"}, "data": {"type": "object"}}},
        "ImportedItemPage": {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": r("ImportedItem")}, "next_cursor": {"type": ["string", "null"]}}},
        "Uploaded": {"type": "object", "properties": {"run": r("ConnectorRun"), "signals_recorded": {"type": "integer"}}},
        "Signal": {"type": "object", "properties": {"id": {"type": "string"}, "person": {"type": "string"}, "kind": {"type": "string"},
            "at": time, "connector_id": {"type": "string"}, "details": {"type": "object"}}},
        "SignalList": {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": r("Signal")}}},
        "DepartingList": {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": {"type": "object", "properties": {
            "person": {"type": "string"}, "kind": {"type": "string"}, "last_working_date": time, "recorded_at": time, "connector_id": {"type": "string"},
            "signals": {"type": "array", "items": r("Signal")}}}}}},
        "ConnectorValidation": {"type": "object", "properties": {"ok": {"type": "boolean"}, "detail": {"type": "string"}}},
        "ConnectorRunQueued": {"type": "object", "properties": {"run_id": {"type": "string"}, "status": {"const": "queued"}}},
    });
    match out {
        Value::Object(m) => m,
        _ => unreachable!("an object"),
    }
}

fn problem(description: &str) -> Value {
    json!({"description": description, "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}})
}

/// An identifier as the API accepts it.
fn id_schema() -> Value {
    json!({"type": "string", "pattern": "^[A-Za-z0-9._@:+-]{1,128}$"})
}

/// A query parameter's schema: repeatable filters are arrays (OR within one).
fn query_schema(name: &str) -> Value {
    let r = |s: &str| json!({"$ref": format!("#/components/schemas/{s}")});
    let many = |item: Value| json!({"type": "array", "items": item});
    match name {
        "include_archived" | "partial" => json!({"type": "boolean"}),
        "limit" => json!({"type": "integer", "minimum": 1, "maximum": 200}),
        "implementation_status" => many(r("ImplementationStatus")),
        "test_status" => many(r("TestStatus")),
        "category" => many(r("Category")),
        "assessment" | "group" | "regulation" => many(id_schema()),
        "article" | "control" | "owner" => many(json!({"type": "string", "minLength": 1})),
        "map_as" => str_enum(
            &attest_library::builtin()
                .regulations()
                .iter()
                .map(|r| r.id.as_str())
                .collect::<Vec<_>>(),
        ),
        "id" | "policy" => id_schema(),
        "status" => r("AlertStatus"),
        "severity" => r("Severity"),
        "after" => {
            json!({"type": "string", "description": "next of the previous page, as returned"})
        }
        "cursor" => {
            json!({"type": "string", "description": "next_cursor of the previous page, as returned"})
        }
        _ => json!({"type": "string", "minLength": 1}),
    }
}

/// The media type a schema of the table is sent as.
fn media_type(schema: &str) -> &'static str {
    match schema {
        "Workbook" => crate::body::XLSX,
        _ => "application/json",
    }
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let mut parameters = Vec::new();
        if route.path.contains("{id}") {
            parameters.push(
                json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string", "minLength": 1}}),
            );
        }
        for q in route.query {
            parameters.push(json!({"name": q, "in": "query", "required": false, "schema": query_schema(q), "explode": true}));
        }
        if matches!(route.method, "PATCH" | "PUT") {
            parameters.push(json!({"name": "If-Match", "in": "header", "required": false, "schema": {"type": "string", "pattern": "^(\\*|(W/)?\"[0-9]+\")$"}, "description": "the ETag (version) the change is based on"}));
        }
        let (status, schema) = route.ok;
        let ok = match schema {
            Some(s) => {
                json!({"description": "success", "content": {media_type(s): {"schema": {"$ref": format!("#/components/schemas/{s}")}}}})
            }
            None if status == 204 => json!({"description": "done"}),
            None => json!({"description": "success", "content": {"application/json": {}}}),
        };
        let mut responses = Map::new();
        responses.insert(status.to_string(), ok);
        if route.permission.is_some() {
            responses.insert("401".into(), problem("no or invalid bearer token"));
            responses.insert(
                "403".into(),
                problem("the caller's roles do not allow this"),
            );
        }
        if route.path.contains("{id}") {
            responses.insert(
                "404".into(),
                problem("no such resource in the caller's tenant"),
            );
        }
        if !route.query.is_empty() || route.body.is_some() {
            responses.insert("400".into(), problem("malformed request"));
            responses.insert(
                "422".into(),
                problem("a value is invalid; errors name the field"),
            );
        }
        if route.body.is_some() {
            responses.insert("413".into(), problem("body too large"));
            responses.insert(
                "415".into(),
                problem(match route.body.map(media_type) {
                    Some("application/json") => "body is not JSON",
                    _ => "body is not an .xlsx workbook",
                }),
            );
        }
        if route.method != "GET" && route.permission.is_some() {
            responses.insert("409".into(), problem("conflicts with the current state"));
        }
        if matches!(route.method, "PATCH" | "PUT") {
            responses.insert("412".into(), problem("If-Match is stale"));
        }
        let mut op = json!({
            "summary": route.summary,
            "operationId": format!("{}_{}", route.method.to_lowercase(), route.path.trim_start_matches("/api/compliance/").replace(['/', '.'], "_").replace(['{', '}'], "")),
            "tags": [route.function],
            "parameters": parameters,
            "responses": responses,
        });
        match route.permission {
            None => op["security"] = json!([]),
            Some(p) => op["x-attest-permission"] = serde_json::to_value(p).unwrap_or(Value::Null),
        }
        if let Some(body) = route.body {
            op["requestBody"] = json!({"required": true, "content": {media_type(body): {"schema": {"$ref": format!("#/components/schemas/{body}")}}}});
        }
        let entry = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| json!({}));
        entry[route.method.to_lowercase()] = op;
    }
    let mut all_schemas = schemas();
    if let Some(m) = all_schemas.as_object_mut() {
        m.extend(alert_schemas());
        m.extend(connector_schemas());
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Attest compliance API", "version": env!("CARGO_PKG_VERSION"),
            "description": "Regulations, assessments, improvement actions and the risk-weighted compliance score."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": all_schemas,
        }
    })
}
