//! Regulation templates: the built-in library and the tenant's own (custom JSON, OSCAL import).

use std::collections::HashSet;

use attest_domain::identity::Permission;
use attest_domain::ids::{new_id, ActionId, RegulationId};
use attest_domain::regulation::Regulation;
use attest_domain::vocab::{
    ActionType, Category, ControlType, Enforcement, ManagedBy, TestingType,
};
use attest_library::assemble::{assemble, ControlDraft, FamilyDraft};
use attest_library::oscal;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::body::{bounded, parse_json, JsonBody, DEFAULT_BODY_LIMIT};
use crate::claims::Caller;
use crate::query::QueryParams;
use crate::usecases::catalog::Catalog;
use crate::{ApiError, AppState, BASE_PATH};

/// OSCAL catalogs are large (NIST's moderate baseline is 1.8 MB); Lambda takes 6 MB.
pub const OSCAL_BODY_LIMIT: usize = 6 * 1024 * 1024;
pub const MAX_CONTROLS: usize = 5_000;
/// Query parameters of `POST /regulations/import/oscal`.
pub const IMPORT_QUERY: &[&str] = &["map_as", "name", "id"];

pub fn router(state: AppState) -> Router {
    let uploads = Router::new()
        .route(&format!("{BASE_PATH}/regulations"), get(list).post(create))
        .route(
            &format!("{BASE_PATH}/regulations/import/oscal"),
            post(import_oscal),
        )
        .with_state(state.clone());
    let reads = Router::new()
        .route(&format!("{BASE_PATH}/regulations/{{id}}"), get(show))
        .with_state(state);
    bounded(uploads, OSCAL_BODY_LIMIT).merge(bounded(reads, DEFAULT_BODY_LIMIT))
}

#[derive(Serialize)]
struct RegulationSummary {
    id: RegulationId,
    name: String,
    source: String,
    built_in: bool,
    family_count: usize,
    control_count: usize,
}

fn summary(r: &Regulation, built_in: bool) -> RegulationSummary {
    RegulationSummary {
        id: r.id.clone(),
        name: r.name.clone(),
        source: r.source.clone(),
        built_in,
        family_count: r.families.len(),
        control_count: r.controls().count(),
    }
}

#[derive(Serialize)]
struct RegulationList {
    items: Vec<RegulationSummary>,
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<RegulationList>, ApiError> {
    caller.require(Permission::Read)?;
    let mut items: Vec<RegulationSummary> = attest_library::builtin()
        .regulations()
        .iter()
        .map(|r| summary(r, true))
        .collect();
    for h in state
        .store
        .list_regulation_headers(&caller.0.tenant)
        .await?
    {
        items.push(RegulationSummary {
            id: h.id,
            name: h.name,
            source: h.source,
            built_in: false,
            family_count: h.families,
            control_count: h.controls,
        });
    }
    Ok(Json(RegulationList { items }))
}

#[derive(Serialize)]
struct ActionRef {
    id: ActionId,
    title: String,
    action_type: ActionType,
    category: Category,
    control_type: ControlType,
    enforcement: Enforcement,
    testing_type: TestingType,
    managed_by: ManagedBy,
    points: u32,
}

#[derive(Serialize)]
struct ControlDetail {
    id: String,
    title: String,
    description: String,
    actions: Vec<ActionRef>,
}

#[derive(Serialize)]
struct FamilyDetail {
    id: String,
    title: String,
    controls: Vec<ControlDetail>,
}

#[derive(Serialize)]
struct RegulationDetail {
    #[serde(flatten)]
    summary: RegulationSummary,
    families: Vec<FamilyDetail>,
}

fn detail(catalog: &Catalog, r: &Regulation) -> RegulationDetail {
    RegulationDetail {
        summary: summary(r, catalog.is_builtin(&r.id)),
        families: r
            .families
            .iter()
            .map(|f| FamilyDetail {
                id: f.id.clone(),
                title: f.title.clone(),
                controls: f
                    .controls
                    .iter()
                    .map(|c| ControlDetail {
                        id: c.id.clone(),
                        title: c.title.clone(),
                        description: c.description.clone(),
                        actions: c
                            .actions
                            .iter()
                            .filter_map(|a| catalog.action(a))
                            .map(|a| ActionRef {
                                id: a.id.clone(),
                                title: a.title.clone(),
                                action_type: a.action_type,
                                category: a.category,
                                control_type: a.control_type,
                                enforcement: a.enforcement,
                                testing_type: a.testing_type,
                                managed_by: a.managed_by,
                                points: a.points(),
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RegulationDetail>, ApiError> {
    caller.require(Permission::Read)?;
    let id =
        RegulationId::parse(&id).map_err(|_| ApiError::NotFound(format!("regulation {id}")))?;
    let catalog = Catalog::load_for(&state.store, &caller.0.tenant, [&id]).await?;
    let r = catalog
        .regulation(&id)
        .ok_or_else(|| ApiError::NotFound(format!("regulation {id}")))?;
    Ok(Json(detail(&catalog, r)))
}

/// A new regulation id: the caller's, checked, or a generated one.
fn new_regulation_id(given: Option<RegulationId>, prefix: &str) -> Result<RegulationId, ApiError> {
    match given {
        Some(id) if attest_library::builtin().regulation(&id).is_some() => Err(ApiError::Conflict(
            format!("{id} is a built-in regulation; choose another id"),
        )),
        Some(id) => Ok(id),
        None => Ok(RegulationId::parse(format!("{prefix}-{}", &new_id()[..12]))
            .expect("generated ids are valid")),
    }
}

fn created(catalog: &Catalog, r: &Regulation) -> Response {
    let mut response = (StatusCode::CREATED, Json(detail(catalog, r))).into_response();
    if let Ok(v) = format!("{BASE_PATH}/regulations/{}", r.id).parse() {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewControl {
    id: String,
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    actions: Vec<ActionId>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewFamily {
    id: String,
    title: String,
    controls: Vec<NewControl>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRegulation {
    id: Option<RegulationId>,
    name: String,
    #[serde(default)]
    source: String,
    families: Vec<NewFamily>,
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewRegulation>,
) -> Result<Response, ApiError> {
    caller.require(Permission::ManageAssessments)?;
    let tenant = &caller.0.tenant;
    if body.name.trim().is_empty() {
        return Err(ApiError::invalid("name", "must not be empty"));
    }
    let referenced = body
        .families
        .iter()
        .flat_map(|f| f.controls.iter())
        .flat_map(|c| c.actions.iter());
    let (_, missing) = Catalog::actions_named(&state.store, tenant, referenced).await?;
    let mut ids = HashSet::new();
    let mut count = 0;
    for (fi, f) in body.families.iter().enumerate() {
        if f.id.trim().is_empty() || f.title.trim().is_empty() {
            return Err(ApiError::invalid(
                format!("families[{fi}]"),
                "id and title must not be empty",
            ));
        }
        for (ci, c) in f.controls.iter().enumerate() {
            let field = format!("families[{fi}].controls[{ci}]");
            if c.id.trim().is_empty() || c.title.trim().is_empty() {
                return Err(ApiError::invalid(field, "id and title must not be empty"));
            }
            if !ids.insert(c.id.to_lowercase()) {
                return Err(ApiError::invalid(
                    format!("{field}.id"),
                    format!("control {} appears twice", c.id),
                ));
            }
            if let Some(a) = c.actions.iter().find(|a| missing.contains(a)) {
                return Err(ApiError::invalid(
                    format!("{field}.actions"),
                    format!("no improvement action {a}"),
                ));
            }
            count += 1;
        }
    }
    if count == 0 {
        return Err(ApiError::invalid(
            "families",
            "a regulation needs at least one control",
        ));
    }
    if count > MAX_CONTROLS {
        return Err(ApiError::PayloadTooLarge(format!(
            "{count} controls; at most {MAX_CONTROLS}"
        )));
    }
    let id = new_regulation_id(body.id, "custom")?;
    let families = body
        .families
        .into_iter()
        .map(|f| FamilyDraft {
            id: f.id,
            title: f.title,
            controls: f
                .controls
                .into_iter()
                .map(|c| ControlDraft {
                    id: c.id,
                    title: c.title,
                    description: c.description,
                    actions: c.actions,
                })
                .collect(),
        })
        .collect();
    let (regulation, generated) = assemble(id, body.name.trim().to_owned(), body.source, families)?;
    state
        .store
        .put_regulation(tenant, &regulation, &generated, caller.0.user.as_str())
        .await?;
    let catalog = Catalog::load_for(&state.store, tenant, [&regulation.id]).await?;
    Ok(created(&catalog, &regulation))
}

async fn import_oscal(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(Permission::ManageAssessments)?;
    let tenant = &caller.0.tenant;
    let q = QueryParams::parse(raw.as_deref(), IMPORT_QUERY)?;
    let map_as = match q.one("map_as") {
        None => None,
        Some(m) => Some(
            RegulationId::parse(&m)
                .ok()
                .and_then(|id| attest_library::builtin().regulation(&id))
                .ok_or_else(|| {
                    ApiError::invalid("map_as", format!("{m:?} is not a built-in regulation"))
                })?,
        ),
    };
    let given_id = q
        .one("id")
        .map(|i| RegulationId::parse(i).map_err(|e| ApiError::invalid("id", e.to_string())))
        .transpose()?;
    let name = q.one("name").filter(|n| !n.trim().is_empty());
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/json") && !content_type.contains("+json") {
        return Err(ApiError::UnsupportedMediaType(format!(
            "send the OSCAL catalog as application/json (got {content_type:?})"
        )));
    }
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(format!(
                "the catalog is larger than {} MB",
                OSCAL_BODY_LIMIT / 1024 / 1024
            ))
        } else {
            ApiError::BadRequest {
                detail: format!("could not read the body: {rejection}"),
                errors: vec![],
            }
        }
    })?;
    let json: serde_json::Value = parse_json(&bytes)?;
    let id = new_regulation_id(given_id, "oscal")?;
    let imported = oscal::import(&json, id, name, map_as).map_err(|e| match e {
        oscal::OscalError::Invalid(f) => ApiError::from(attest_domain::DomainError::Invalid(f)),
        other => ApiError::Unprocessable {
            detail: other.to_string(),
            errors: vec![],
        },
    })?;
    let count = imported.regulation.controls().count();
    if count > MAX_CONTROLS {
        return Err(ApiError::PayloadTooLarge(format!(
            "{count} controls; at most {MAX_CONTROLS}"
        )));
    }
    state
        .store
        .put_regulation(
            tenant,
            &imported.regulation,
            &imported.generated,
            caller.0.user.as_str(),
        )
        .await?;
    tracing::info!(tenant = %tenant, regulation = %imported.regulation.id, controls = count, generated = imported.generated.len(), "OSCAL catalog imported");
    let catalog = Catalog::load_for(&state.store, tenant, [&imported.regulation.id]).await?;
    Ok(created(&catalog, &imported.regulation))
}
