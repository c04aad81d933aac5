//! The role matrix: for every route of the table and every role, a user holding only that
//! role gets 403 exactly when API.md's matrix says the role lacks the route's permission, and
//! otherwise the route's success (never 401 or 403).

use std::sync::Arc;

use attest_api::routes::table::{RouteSpec, ROUTES};
use attest_domain::identity::{Permission, Role};
use serde_json::json;

use crate::support::{join_all, kind, path_with, report, snapshot_diff, Env, Req, Tenant, ROLES};

/// Routes whose success needs a state the suite's tenants do not have (a library update
/// pending needs a second library version): for them an allowed role's 409 counts as allowed.
const NEEDS_STATE: &[&str] = &["/api/compliance/actions/{id}/accept-update"];

const TENANT: &str = "tenant-alpha";

const PERMISSIONS: [Permission; 6] = [
    Permission::Read,
    Permission::EditData,
    Permission::EditTests,
    Permission::ManageAssessments,
    Permission::ManageUsers,
    Permission::ManageConnectors,
];

/// API.md's table, written out here rather than taken from the code under test.
fn api_md(role: &str, permission: Permission) -> bool {
    use Permission::*;
    let row: &[Permission] = match role {
        "reader" => &[Read],
        "contributor" => &[Read, EditData],
        "assessor" => &[Read, EditData, EditTests],
        "administrator" => &[Read, EditData, EditTests, ManageAssessments],
        "global_admin" => &[
            Read,
            EditData,
            EditTests,
            ManageAssessments,
            ManageUsers,
            ManageConnectors,
        ],
        "connector_admin" => &[Read, ManageConnectors],
        other => panic!("API.md has no role {other}"),
    };
    row.contains(&permission)
}

fn user(role: &str) -> String {
    format!("alpha-only-{role}")
}

/// Each role's user, having called once (so that recording them is not a change later).
async fn role_tokens(env: &Env, t: &Tenant) -> Vec<(&'static str, String)> {
    let tokens: Vec<(&'static str, String)> = ROLES
        .iter()
        .map(|r| (*r, env.token(TENANT, &user(r), &[r])))
        .collect();
    for (_, token) in &tokens {
        t.api
            .expect(Req::new("GET", "/regulations").bearer(token), 200)
            .await;
        // Users may be recorded on their first change rather than their first read: an
        // attempt that every role gets refused (403 or 422) and that creates nothing.
        let r = t
            .api
            .send(
                &Req::new("POST", "/groups")
                    .bearer(token)
                    .json(json!({"name": ""})),
            )
            .await
            .unwrap();
        assert!(matches!(r.status, 403 | 422), "{}", r.brief());
    }
    tokens
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_403_exactly_when_api_md_denies_the_permission() {
    let env = Env::start();
    let t = Arc::new(Tenant::build(&env, TENANT, "alpha", true).await);
    let mut faults = Vec::new();
    for role in ROLES {
        let parsed = Role::parse(role).expect("API.md's roles are the domain's");
        for p in PERMISSIONS {
            if parsed.grants(p) != api_md(role, p) {
                faults.push(format!(
                    "the domain's matrix says {role} {} {p:?}; API.md says otherwise",
                    if parsed.grants(p) { "has" } else { "lacks" }
                ));
            }
        }
    }
    let tokens = role_tokens(&env, &t).await;

    // Requests that must be refused target the shared resources, so that a refusal that
    // changed something shows in the snapshot.
    let mut denied: Vec<(&str, &RouteSpec, Req)> = Vec::new();
    let mut allowed: Vec<(&str, Vec<(&RouteSpec, Req)>)> = Vec::new();
    for (role, token) in &tokens {
        let mut mine = Vec::new();
        for route in ROUTES {
            let may = route.permission.is_none_or(|p| api_md(role, p));
            if may {
                mine.push((route, t.request(route, role).await.bearer(token)));
            } else {
                let path = match kind(route) {
                    Some(k) => path_with(route, &t.id(k)),
                    None => route.path.to_owned(),
                };
                let req = t
                    .with_body(Req::new(route.method, path), route, role)
                    .bearer(token);
                denied.push((role, route, req));
            }
        }
        allowed.push((role, mine));
    }

    let before = t.snapshot().await;
    let replies = t
        .api
        .send_all(denied.iter().map(|(_, _, r)| r.clone()).collect(), 16)
        .await;
    for ((role, route, req), reply) in denied.iter().zip(replies) {
        match reply {
            Err(e) => faults.push(format!("[{role}] {e}")),
            Ok(r) if r.status != 403 => faults.push(format!(
                "[{role}] {} needs {:?}: {} (want 403)",
                req.line(),
                route.permission.unwrap(),
                r.brief()
            )),
            Ok(r) => faults.extend(
                r.problem_fault()
                    .map(|f| format!("[{role}] {}: {f}", req.line())),
            ),
        }
    }
    faults.extend(
        snapshot_diff(&before, &t.snapshot().await)
            .into_iter()
            .map(|d| format!("a 403 changed data: {d}")),
    );

    // Which comes first, the permission or the body? Not a rule of API.md: noted, not failed.
    let shapeless: Vec<Req> = denied
        .iter()
        .filter(|(_, route, _)| route.body.is_some())
        .map(|(_, _, req)| req.clone().json(json!({"no_such_field": 1})))
        .collect();
    let mut body_first: Vec<String> = t
        .api
        .send_all(shapeless.clone(), 16)
        .await
        .into_iter()
        .zip(&shapeless)
        .filter_map(|(r, req)| {
            r.ok()
                .filter(|r| r.status != 403)
                .map(|r| format!("{} -> {}", req.line(), r.status))
        })
        .collect();
    body_first.sort();
    body_first.dedup();
    if !body_first.is_empty() {
        eprintln!(
            "note: a caller without the permission who sends a malformed body is told about the body, not the permission ({} routes), e.g. {:?}",
            body_first.len(),
            &body_first[..body_first.len().min(5)]
        );
    }

    // Allowed requests: each role in turn through the table, the roles at the same time, each
    // on resources of its own.
    let runs = join_all(
        allowed
            .into_iter()
            .map(|(role, reqs)| {
                let api = t.api.clone();
                async move {
                    let mut out = Vec::new();
                    for (route, req) in reqs {
                        let reply = api.send(&req).await;
                        out.push(match reply {
                            Err(e) => Some(format!("[{role}] {e}")),
                            Ok(r) if r.status == 401 || r.status == 403 => Some(format!(
                                "[{role}] {} is allowed by API.md ({:?}) but answered {}",
                                req.line(),
                                route.permission,
                                r.brief()
                            )),
                            // Nothing pending to accept here: the permission passed, the
                            // state said no.
                            Ok(r) if r.status == 409 && NEEDS_STATE.contains(&route.path) => None,
                            Ok(r) if r.status != route.ok.0 => Some(format!(
                                "[{role}] {}: {} (want {})",
                                req.line(),
                                r.brief(),
                                route.ok.0
                            )),
                            Ok(_) => None,
                        });
                    }
                    out
                }
            })
            .collect(),
    )
    .await;
    faults.extend(runs.into_iter().flatten().flatten());
    report("role matrix", &faults);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_fields_need_the_edit_tests_permission() {
    let env = Env::start();
    let t = Tenant::build(&env, TENANT, "alpha", true).await;
    let tokens = role_tokens(&env, &t).await;
    let mut faults = Vec::new();
    for (role, token) in &tokens {
        let action = t.action_for(&format!("tests-{role}"));
        let path = format!("/actions/{action}");
        let before = t
            .api
            .expect(Req::new("GET", path.clone()).bearer(&t.root), 200)
            .await
            .body;
        let may = api_md(role, Permission::EditTests);
        for body in [
            json!({"test_notes": format!("tested by {role}")}),
            json!({"test_date": "2024-05-01"}),
            json!({"testing_type": "manual", "test_status": "in_progress"}),
            // Mixed with data fields: all or nothing.
            json!({"owner": format!("{role} owner"), "test_notes": format!("{role} again")}),
        ] {
            let req = Req::new("PATCH", path.clone())
                .bearer(token)
                .json(body.clone());
            let want = if may { 200 } else { 403 };
            match t.api.send(&req).await {
                Err(e) => faults.push(format!("[{role}] {e}")),
                Ok(r) if r.status != want => faults.push(format!(
                    "[{role}] PATCH {path} {body}: {} (want {want})",
                    r.brief()
                )),
                Ok(_) => {}
            }
        }
        if !may {
            let after = t
                .api
                .expect(Req::new("GET", path.clone()).bearer(&t.root), 200)
                .await
                .body;
            if after != before {
                faults.push(format!(
                    "[{role}] refused test edits changed {path}: {after}"
                ));
            }
        }
    }
    report("test fields and EditTests", &faults);
}
