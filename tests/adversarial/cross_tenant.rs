//! Tenant isolation: another tenant's administrators, holding every id of tenant A, get 404 on
//! every route that takes an id (never an answer that shows the resource exists), see none of
//! A's items in any list, cannot reach A's resources through ids in bodies or filters, and
//! leave A's data exactly as it was.

use attest_api::routes::table::{RouteSpec, ROUTES};
use attest_domain::identity::Role;
use serde_json::json;

use crate::support::{kind, path_with, report, snapshot_diff, Env, Reply, Req, Tenant};

const A: &str = "tenant-alpha";
const B: &str = "tenant-bravo";

async fn two_tenants(env: &Env) -> (Tenant, Tenant) {
    let a = Tenant::build(env, A, "alpha", true).await;
    // B assesses only its own regulation: library actions keep their ids in every tenant, so
    // a B that used them would rightly see its own instances under A's technical action ids.
    let b = Tenant::build(env, B, "bravo", false).await;
    (a, b)
}

fn b_callers(env: &Env, b: &Tenant) -> Vec<(&'static str, String)> {
    vec![
        (
            "administrator",
            env.token(B, "bravo-admin", &["administrator"]),
        ),
        ("global_admin", b.root.clone()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_ids_are_not_found_on_every_route() {
    let env = Env::start();
    let (a, b) = two_tenants(&env).await;
    let before = a.snapshot().await;
    let mut probes: Vec<(&str, &RouteSpec, Req, Req)> = Vec::new();
    for route in ROUTES {
        let Some(k) = kind(route) else { continue };
        for id in &a.ids[k] {
            for (role, token) in b_callers(&env, &b) {
                let body = route.body.map(|s| b.body(s, "probe"));
                let req = Req::new(route.method, path_with(route, id))
                    .bearer(&token)
                    .body(body.clone());
                // The same request for an id that exists nowhere (a new one each time, as
                // PUT creates what it names): A's id must not answer differently.
                let never = format!("zz-never-existed-{}", probes.len());
                let unknown = Req::new(route.method, path_with(route, &never))
                    .bearer(&token)
                    .body(body);
                probes.push((role, route, req, unknown));
            }
        }
    }
    let replies = a
        .api
        .send_all(probes.iter().map(|p| p.2.clone()).collect(), 16)
        .await;
    let unknown = a
        .api
        .send_all(probes.iter().map(|p| p.3.clone()).collect(), 16)
        .await;
    let mut faults = Vec::new();
    let mut upserts = Vec::new();
    for ((role, route, req, _), (reply, unknown)) in
        probes.iter().zip(replies.into_iter().zip(unknown))
    {
        let who = format!("B {role}");
        let reply: Reply = match reply {
            Ok(r) => r,
            Err(e) => {
                faults.push(format!("[{who}] {e}"));
                continue;
            }
        };
        if let Some(f) = reply.problem_fault() {
            faults.push(format!("[{who}] {}: {f}", req.line()));
        }
        let leaks = a.leaks(&reply.text, req);
        if !leaks.is_empty() {
            faults.push(format!(
                "[{who}] {}: the answer shows A's {leaks:?}: {}",
                req.line(),
                reply.brief()
            ));
        }
        let unknown_status = unknown.as_ref().map(|u| u.status).unwrap_or(0);
        if reply.status != unknown_status {
            faults.push(format!(
                "[{who}] {}: {} but {unknown_status} for an id that exists nowhere",
                req.line(),
                reply.brief()
            ));
            continue;
        }
        // A role without the route's permission is refused whatever the id.
        let lacks = route
            .permission
            .is_some_and(|p| !Role::parse(role).unwrap().grants(p));
        if lacks && reply.status == 403 {
            continue;
        }
        // PUT creates what it names (roles for a user not seen yet), for A's ids as for any.
        if req.method == "PUT" && (200..300).contains(&reply.status) {
            upserts.push(req.line());
            continue;
        }
        if reply.status != 404 {
            faults.push(format!(
                "[{who}] {}: {} (want 404)",
                req.line(),
                reply.brief()
            ));
        }
    }
    faults.extend(
        snapshot_diff(&before, &a.snapshot().await)
            .into_iter()
            .map(|d| format!("B changed A's data: {d}")),
    );
    assert!(probes.len() >= 50, "{} probes", probes.len());
    if !upserts.is_empty() {
        eprintln!(
            "note: these PUTs create a record in B under the id given, as they do for any new id: {upserts:?}"
        );
    }
    report("B using A's ids", &faults);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_show_nothing_of_another_tenant() {
    let env = Env::start();
    let (a, b) = two_tenants(&env).await;
    let filter_value = |param: &str| -> Option<String> {
        match param {
            "assessment" => Some(a.id("assessments")),
            "group" => Some(a.id("groups")),
            "regulation" => Some(a.custom_reg.clone()),
            "owner" => Some("alpha-secret-owner".into()),
            _ => None,
        }
    };
    let mut probes = Vec::new();
    for route in ROUTES
        .iter()
        .filter(|r| r.method == "GET" && r.permission.is_some() && kind(r).is_none())
    {
        let mut paths = vec![route.path.to_owned()];
        for q in route.query {
            if let Some(v) = filter_value(q) {
                paths.push(format!("{}?{q}={v}", route.path));
            }
        }
        for path in paths {
            for (role, token) in b_callers(&env, &b) {
                probes.push((role, Req::new("GET", path.clone()).bearer(&token)));
            }
        }
    }
    let replies = a
        .api
        .send_all(probes.iter().map(|(_, r)| r.clone()).collect(), 16)
        .await;
    let mut faults = Vec::new();
    for ((role, req), reply) in probes.iter().zip(replies) {
        match reply {
            Err(e) => faults.push(e),
            Ok(r) if r.status != 200 => {
                faults.push(format!("[B {role}] {}: {}", req.line(), r.brief()))
            }
            Ok(r) => {
                let leaks = a.leaks(&r.text, req);
                if !leaks.is_empty() {
                    faults.push(format!("[B {role}] {}: shows A's {leaks:?}", req.line()));
                }
            }
        }
    }
    // Not vacuous: each tenant finds its own items in the lists where A's would show.
    for path in [
        "/groups",
        "/assessments",
        "/actions",
        // A workbook, searched by what its cells show.
        "/actions/export.xlsx",
        "/regulations",
        "/users",
        "/connectors",
    ] {
        for (t, other) in [(&a, &b), (&b, &a)] {
            let req = Req::new("GET", path).bearer(&t.root);
            let r = a.api.expect(req.clone(), 200).await;
            if t.leaks(&r.text, &req).is_empty() {
                faults.push(format!(
                    "{} does not see its own items in GET {path}",
                    t.tenant
                ));
            }
            let leaks = other.leaks(&r.text, &req);
            if !leaks.is_empty() {
                faults.push(format!(
                    "{} sees {}'s {leaks:?} in GET {path}",
                    t.tenant, other.tenant
                ));
            }
        }
    }
    report("lists across tenants", &faults);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_ids_in_bodies_are_unknown_and_its_names_are_free() {
    let env = Env::start();
    let (a, b) = two_tenants(&env).await;
    let before = a.snapshot().await;
    let token = b.root.clone();
    let never = "zz-never-existed";
    let post =
        |path: &str, body: serde_json::Value| Req::new("POST", path).bearer(&token).json(body);
    let mut n = 0;
    let mut fresh = || {
        n += 1;
        format!("bravo probe group {n}")
    };

    // (what, request with A's id, the same request with an id that exists nowhere)
    let mut pairs = Vec::new();
    for action in &a.ids["actions"] {
        pairs.push((
            "assign A's action",
            post(
                "/actions/assign",
                json!({"action_ids": [action], "owner": "bravo"}),
            ),
            post(
                "/actions/assign",
                json!({"action_ids": [never], "owner": "bravo"}),
            ),
        ));
    }
    pairs.push((
        "assess A's regulation",
        post(
            "/assessments",
            json!({"regulation_id": a.custom_reg, "group_name": fresh(), "services": ["aws"]}),
        ),
        post(
            "/assessments",
            json!({"regulation_id": never, "group_name": fresh(), "services": ["aws"]}),
        ),
    ));
    for group in &a.ids["groups"] {
        pairs.push((
            "assess into A's group",
            post(
                "/assessments",
                json!({"regulation_id": b.custom_reg, "group_id": group, "services": ["aws"]}),
            ),
            post(
                "/assessments",
                json!({"regulation_id": b.custom_reg, "group_id": never, "services": ["aws"]}),
            ),
        ));
        pairs.push((
            "new assessment group copying A's group",
            post("/assessments", json!({"regulation_id": b.custom_reg, "group_name": fresh(), "copy_from": group, "services": ["aws"]})),
            post("/assessments", json!({"regulation_id": b.custom_reg, "group_name": fresh(), "copy_from": never, "services": ["aws"]})),
        ));
        pairs.push((
            "new group copying A's group",
            post("/groups", json!({"name": fresh(), "copy_from": group})),
            post("/groups", json!({"name": fresh(), "copy_from": never})),
        ));
    }
    // A bulk import naming A's action: the row is as unknown as one naming nothing.
    let import = |id: &str| {
        Req::new("POST", "/actions/import.xlsx")
            .bearer(&token)
            .header("Content-Type", crate::support::XLSX)
            .raw(crate::support::workbook(&[
                vec!["id".into(), "owner".into()],
                vec![id.to_owned(), "bravo".into()],
            ]))
    };
    for action in &a.ids["actions"] {
        pairs.push(("import a row of A's action", import(action), import(never)));
    }
    let generated = a.ids["actions"][2].split('@').next().unwrap().to_owned();
    let reg_with = |action: &str| json!({"name": "bravo probe", "families": [{"id": "F", "title": "F", "controls": [{"id": "C", "title": "C", "actions": [action]}]}]});
    pairs.push((
        "map a control to A's generated action",
        post("/regulations", reg_with(&generated)),
        post("/regulations", reg_with(never)),
    ));
    pairs.push((
        "import mapped as A's regulation",
        post(
            &format!("/regulations/import/oscal?map_as={}", a.custom_reg),
            crate::support::oscal_catalog("bravo probe"),
        ),
        post(
            &format!("/regulations/import/oscal?map_as={never}"),
            crate::support::oscal_catalog("bravo probe"),
        ),
    ));

    // Connector instances an assessment chooses: A's are as unknown to B as ids that exist
    // nowhere, alone or beside one of B's own.
    let b_connector = b.id("connectors");
    for connector in &a.ids["connectors"] {
        let assess = |ids: Vec<&str>, group: String| {
            post(
                "/assessments",
                json!({"regulation_id": b.custom_reg, "group_name": group, "services": ["zoom"], "connectors": ids}),
            )
        };
        pairs.push((
            "assess with A's connector",
            assess(vec![connector.as_str()], fresh()),
            assess(vec![never], fresh()),
        ));
        pairs.push((
            "assess with B's connector and A's",
            assess(vec![b_connector.as_str(), connector.as_str()], fresh()),
            assess(vec![b_connector.as_str(), never], fresh()),
        ));
    }

    let mut faults = Vec::new();
    for (what, theirs, unknown) in &pairs {
        let (r, u) = (a.api.send(theirs).await, a.api.send(unknown).await);
        let (r, u) = match (r, u) {
            (Ok(r), Ok(u)) => (r, u),
            (r, u) => {
                faults.push(format!("{what}: {:?} / {:?}", r.err(), u.err()));
                continue;
            }
        };
        let rows = |x: &Reply| x.body["rejected"][0]["status"].clone();
        if r.status != u.status
            || r.fields() != u.fields()
            || rows(&r) != rows(&u)
            || !(400..500).contains(&r.status)
        {
            faults.push(format!(
                "{what}: {} with A's id but {} with an unknown one",
                r.brief(),
                u.brief()
            ));
        }
        if let Some(f) = r.problem_fault() {
            faults.push(format!("{what}: {f}"));
        }
        let leaks = a.leaks(&r.text, theirs);
        if !leaks.is_empty() {
            faults.push(format!("{what}: shows A's {leaks:?}"));
        }
    }

    // Ids and names the client chooses live in the tenant's own namespace: taking A's must
    // neither fail (409 would say A has them) nor touch A's.
    let group_name = |id: &str| {
        before
            .get(&format!("{}/groups/{id}", crate::support::BASE))
            .and_then(|(_, g)| g["name"].as_str().map(str::to_owned))
            .expect("A's group")
    };
    let a_group = group_name(&a.ids["groups"][0]);
    let a_group2 = group_name(&a.ids["groups"][1]);
    let oscal_id = a.ids["regulations"][1].clone();
    let a_connector = before
        .get(&format!(
            "{}/connectors/{}",
            crate::support::BASE,
            a.id("connectors")
        ))
        .and_then(|(_, c)| c["name"].as_str().map(str::to_owned))
        .expect("A's connector");
    let free = vec![
        post(
            "/regulations",
            json!({"id": a.custom_reg, "name": "bravo's own", "families": [{"id": "F", "title": "F", "controls": [{"id": "C", "title": "C"}]}]}),
        ),
        post(
            &format!("/regulations/import/oscal?id={oscal_id}"),
            crate::support::oscal_catalog("bravo's own catalog"),
        ),
        post("/groups", json!({"name": a_group})),
        post(
            "/assessments",
            json!({"regulation_id": b.custom_reg, "group_name": a_group2.to_uppercase(), "services": ["aws"]}),
        ),
        post(
            "/connectors",
            json!({"kind": "zoom", "name": a_connector, "credentials": crate::support::zoom().credentials()}),
        ),
        // Not vacuous: B's own connector is one B's assessments may choose.
        post(
            "/assessments",
            json!({"regulation_id": b.custom_reg, "group_name": "bravo own connector", "services": ["zoom"], "connectors": [b_connector]}),
        ),
    ];
    for req in &free {
        match a.api.send(req).await {
            Ok(r) if r.status == 201 => {}
            Ok(r) => faults.push(format!(
                "{} taking A's id or name: {}",
                req.line(),
                r.brief()
            )),
            Err(e) => faults.push(e),
        }
    }
    let mine = a
        .api
        .send(&Req::new("GET", format!("/regulations/{}", a.custom_reg)).bearer(&token))
        .await
        .unwrap();
    if mine.body["name"] != "bravo's own" {
        faults.push(format!(
            "B reads its regulation {} as {}",
            a.custom_reg,
            mine.brief()
        ));
    }
    faults.extend(
        snapshot_diff(&before, &a.snapshot().await)
            .into_iter()
            .map(|d| format!("B changed A's data: {d}")),
    );
    report("A's ids in B's bodies", &faults);
}
