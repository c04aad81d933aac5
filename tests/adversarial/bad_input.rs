//! Bad input, field by field: every body field of every route (from the OpenAPI document the
//! server publishes, which is generated from the route table) gets wrongly typed, unknown and
//! overlong values; ids, names and lists get pushed past their limits. The answer is always a
//! 4xx problem+json naming the field at fault (never a 5xx, never a dropped connection), and a
//! refused request leaves nothing behind.

use std::collections::BTreeMap;

use attest_api::routes::table::{RouteSpec, ROUTES};
use serde_json::{json, Value};

use crate::support::{
    kind, oscal_catalog, report, snapshot_diff, workbook, Env, Reply, Req, Tenant, XLSX,
};

const TENANT: &str = "tenant-alpha";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    /// A value of the wrong JSON type (or an unknown value) for a plain field.
    Type,
    /// A non-string value where a vocabulary (enum) string belongs.
    Vocabulary,
    /// A very long string.
    Overlong,
}

#[derive(Clone, Debug)]
enum Seg {
    Key(String),
    Index(usize),
}

/// The field path as errors name it: `families[0].controls[0].id`.
fn field_name(segs: &[Seg]) -> String {
    let mut s = String::new();
    for seg in segs {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// `body` with `value` put at `segs`.
fn put(body: &Value, segs: &[Seg], value: Value) -> Value {
    let mut out = body.clone();
    let mut at = &mut out;
    for (i, seg) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        match seg {
            Seg::Key(k) => {
                let obj = at.as_object_mut().expect("an object on the way");
                if last {
                    obj.insert(k.clone(), value);
                    return out;
                }
                at = obj.get_mut(k).expect("the base body has the parent");
            }
            Seg::Index(n) => {
                let arr = at.as_array_mut().expect("an array on the way");
                if last {
                    arr[*n] = value;
                    return out;
                }
                at = &mut arr[*n];
            }
        }
    }
    value
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => &doc["components"]["schemas"][r.rsplit('/').next().unwrap()],
        None => schema,
    }
}

/// One bad body.
#[derive(Clone, Debug)]
struct Mutation {
    class: Class,
    field: String,
    what: String,
    body: Value,
    /// The schema's `maxLength` where a string is too long for it.
    over_max: bool,
}

fn long(n: usize) -> String {
    "abcdefghij".repeat(n / 10 + 1)[..n].to_owned()
}

/// The bad values of the field at `segs` (schema `schema`, value `current` in `base`), and of
/// everything inside it.
fn walk(
    doc: &Value,
    schema: &Value,
    current: Option<&Value>,
    segs: Vec<Seg>,
    base: &Value,
    out: &mut Vec<Mutation>,
) {
    let s = resolve(doc, schema);
    let vocab = s.get("enum").is_some() || s.get("const").is_some();
    let types: Vec<&str> = match &s["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ if vocab => vec!["string"],
        _ if s.get("properties").is_some() => vec!["object"],
        _ => vec![],
    };
    // The body as a whole is named `body`.
    let field = if segs.is_empty() {
        "body".to_owned()
    } else {
        field_name(&segs)
    };
    let mut add = |class: Class, what: &str, value: Value, over_max: bool| {
        out.push(Mutation {
            class,
            field: field.clone(),
            what: what.to_owned(),
            body: put(base, &segs, value),
            over_max,
        })
    };
    let not = |t: &str| !types.contains(&t);
    if vocab {
        for (what, v) in [
            ("1", json!(1)),
            ("true", json!(true)),
            ("[]", json!([])),
            ("{}", json!({})),
        ] {
            add(Class::Vocabulary, what, v, false);
        }
        add(
            Class::Type,
            "an unknown value",
            json!("no-such-value"),
            false,
        );
        return;
    }
    if types.is_empty() {
        // A field the schema leaves open (the OSCAL document): it is an object.
        for (what, v) in [
            ("1", json!(1)),
            ("\"text\"", json!("text")),
            ("[]", json!([])),
            ("true", json!(true)),
        ] {
            add(Class::Type, what, v, false);
        }
        return;
    }
    let wrong: Vec<(&str, Value)> = vec![
        ("1", json!(1)),
        ("1.5", json!(1.5)),
        ("true", json!(true)),
        ("\"text\"", json!("text")),
        ("[]", json!([])),
        ("{}", json!({})),
    ];
    for (what, v) in wrong {
        let fits = match &v {
            Value::Number(n) if n.is_i64() => !not("integer") || !not("number"),
            Value::Number(_) => !not("number"),
            Value::Bool(_) => !not("boolean"),
            Value::String(_) => !not("string"),
            Value::Array(_) => !not("array"),
            Value::Object(_) => !not("object"),
            Value::Null => true,
        };
        if !fits {
            add(Class::Type, what, v, false);
        }
    }
    if types.contains(&"integer") {
        add(Class::Type, "-1", json!(-1), false);
    }
    if types.contains(&"string") {
        if s["format"] == "date" {
            add(
                Class::Type,
                "a date in another format",
                json!("31/12/2024"),
                false,
            );
            add(
                Class::Type,
                "an impossible date",
                json!("2024-02-30"),
                false,
            );
        } else {
            let max = s["maxLength"].as_u64();
            for n in [300usize, 100_000] {
                add(
                    Class::Overlong,
                    &format!("{n} characters"),
                    json!(long(n)),
                    max.is_some_and(|m| n as u64 > m),
                );
            }
        }
    }
    if types.contains(&"array") {
        if let Some(first) = current.and_then(|c| c.as_array()).and_then(|a| a.first()) {
            let mut inner = segs.clone();
            inner.push(Seg::Index(0));
            walk(doc, &s["items"], Some(first), inner, base, out);
        }
    }
    if types.contains(&"object") {
        if let Some(props) = s["properties"].as_object() {
            for (k, ps) in props {
                let mut inner = segs.clone();
                inner.push(Seg::Key(k.clone()));
                walk(doc, ps, current.and_then(|c| c.get(k)), inner, base, out);
            }
        }
        // Members the schema leaves open but types all alike (a connector's `credentials` and
        // `settings`): those the valid body holds.
        if s["additionalProperties"].is_object() {
            let described = |k: &str| s["properties"].get(k).is_some();
            for k in current
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|m| m.keys())
                .filter(|k| !described(k))
            {
                let mut inner = segs.clone();
                inner.push(Seg::Key(k.clone()));
                walk(
                    doc,
                    &s["additionalProperties"],
                    current.and_then(|c| c.get(k)),
                    inner,
                    base,
                    out,
                );
            }
        }
        // Required members the schema does not describe (the OSCAL `catalog`).
        for r in s["required"].as_array().into_iter().flatten() {
            let k = r.as_str().unwrap();
            if s["properties"].get(k).is_none() {
                let mut inner = segs.clone();
                inner.push(Seg::Key(k.to_owned()));
                walk(
                    doc,
                    &json!({}),
                    current.and_then(|c| c.get(k)),
                    inner,
                    base,
                    out,
                );
            }
        }
    }
}

/// Every bad body of one route.
fn mutations(doc: &Value, t: &Tenant, route: &RouteSpec) -> Vec<Mutation> {
    let schema_name = route.body.unwrap();
    let schema = &doc["components"]["schemas"][schema_name];
    assert!(schema.is_object(), "OpenAPI has no schema {schema_name}");
    let mut out = Vec::new();
    let variants: Vec<&Value> = match schema["oneOf"].as_array() {
        Some(v) => v.iter().collect(),
        None => vec![schema],
    };
    for variant in variants {
        let base = match variant["properties"]["kind"]["const"].as_str() {
            Some("document") => {
                json!({"kind": "document", "file_name": "bad.txt", "content_type": "text/plain", "size": 5})
            }
            _ => t.body(schema_name, "bad"),
        };
        walk(doc, variant, Some(&base), Vec::new(), &base, &mut out);
    }
    out
}

/// Each route with a JSON body, aimed at a resource of its own where it changes one (the
/// workbook an import takes has tests of its own: `workbooks_that_are_not_imports_are_refused_by_name`).
async fn targets(t: &Tenant) -> Vec<(&'static RouteSpec, String)> {
    let mut out = Vec::new();
    for route in ROUTES
        .iter()
        .filter(|r| r.body.is_some_and(|b| b != "Workbook"))
    {
        let path = match t.target(route, "bad").await {
            Some(id) => crate::support::path_with(route, &id),
            None => route.path.to_owned(),
        };
        out.push((route, path));
    }
    out
}

/// Whether the answer names `field` (or, for a list or object, something inside it or the
/// list itself).
fn names(reply: &Reply, field: &str) -> bool {
    reply.fields().iter().any(|f| {
        f == field
            || f.strip_prefix(field)
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
            || field
                .strip_prefix(f.as_str())
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
    })
}

/// Sends every mutation of `class`; refused ones must be 422 naming the field. With
/// `must_refuse`, every one must be refused, and the tenant must be unchanged afterwards.
async fn run_class(class: Class) -> Vec<String> {
    let env = Env::start();
    let t = Tenant::build(&env, TENANT, "alpha", true).await;
    let doc = attest_api::routes::openapi::document();
    let targets = targets(&t).await;
    let mut cases = Vec::new();
    for (route, path) in &targets {
        for m in mutations(&doc, &t, route) {
            if m.class == class {
                cases.push((
                    route,
                    Req::new(route.method, path.clone())
                        .bearer(&t.root)
                        .json(m.body.clone()),
                    m,
                ));
            }
        }
    }
    assert!(!cases.is_empty());
    // The resources the bad requests aimed at, where a GET shows them.
    let watch: Vec<Req> = targets
        .iter()
        .filter(|(r, _)| {
            kind(r).is_some() && ROUTES.iter().any(|g| g.method == "GET" && g.path == r.path)
        })
        .map(|(_, p)| Req::new("GET", p.clone()).bearer(&t.root))
        .collect();
    let watched = |replies: Vec<Result<Reply, String>>| -> Vec<(u16, Value)> {
        replies
            .into_iter()
            .map(|r| r.map(|r| (r.status, r.body)).unwrap_or((0, Value::Null)))
            .collect()
    };
    let before = t.snapshot().await;
    let watched_before = watched(t.api.send_all(watch.clone(), 8).await);
    let replies = t
        .api
        .send_all(cases.iter().map(|(_, r, _)| r.clone()).collect(), 16)
        .await;
    let mut faults = Vec::new();
    for ((_, req, m), reply) in cases.iter().zip(replies) {
        let label = format!("{} {} = {}", req.line(), m.field, m.what);
        let reply = match reply {
            Ok(r) => r,
            Err(e) => {
                faults.push(format!("{label}: {e}"));
                continue;
            }
        };
        if reply.status >= 500 {
            faults.push(format!("{label}: {}", reply.brief()));
            continue;
        }
        if let Some(f) = reply.problem_fault() {
            faults.push(format!("{label}: {f}"));
        }
        let must_refuse = class != Class::Overlong || m.over_max;
        if (200..300).contains(&reply.status) {
            if must_refuse {
                faults.push(format!("{label}: accepted ({})", reply.brief()));
            }
            continue;
        }
        let want_422 = class != Class::Overlong || reply.status == 422;
        if want_422 && reply.status != 422 {
            faults.push(format!("{label}: {} (want 422)", reply.brief()));
        } else if reply.status == 422 && !names(&reply, &m.field) {
            faults.push(format!(
                "{label}: 422 names {:?}, not {:?}: {}",
                reply.fields(),
                m.field,
                reply.brief()
            ));
        }
    }
    if class != Class::Overlong {
        faults.extend(
            snapshot_diff(&before, &t.snapshot().await)
                .into_iter()
                .map(|d| format!("a refused request changed data: {d}")),
        );
        let watched_after = watched(t.api.send_all(watch.clone(), 8).await);
        for ((req, was), now) in watch.iter().zip(watched_before).zip(watched_after) {
            if was != now {
                faults.push(format!(
                    "a refused request changed {}: {} -> {}",
                    req.path, was.1, now.1
                ));
            }
        }
    }
    eprintln!("{class:?}: {} bad bodies sent", cases.len());
    faults
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrongly_typed_values_are_422_naming_the_field() {
    report("wrongly typed body fields", &run_class(Class::Type).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_string_vocabulary_values_are_422_naming_the_field() {
    report(
        "non-string vocabulary values",
        &run_class(Class::Vocabulary).await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlong_strings_in_bodies_are_never_a_server_error() {
    report("overlong body strings", &run_class(Class::Overlong).await);
}

/// Sends `req`; a refusal must be a 422 naming one of `fields`. Returns the reply when it was
/// accepted.
async fn accepted_or_named(
    t: &Tenant,
    label: &str,
    req: &Req,
    fields: &[&str],
    faults: &mut Vec<String>,
) -> Option<Reply> {
    match t.api.send(req).await {
        Err(e) => {
            faults.push(format!("{label}: {e}"));
            None
        }
        Ok(r) if r.status >= 500 => {
            faults.push(format!("{label}: {}", r.brief()));
            None
        }
        Ok(r) if (200..300).contains(&r.status) => Some(r),
        Ok(r) => {
            faults.extend(r.problem_fault().map(|f| format!("{label}: {f}")));
            if r.status != 422 || !fields.iter().any(|f| names(&r, f)) {
                faults.push(format!(
                    "{label}: {} (want 2xx, or 422 naming one of {fields:?})",
                    r.brief()
                ));
            }
            None
        }
    }
}

async fn count(t: &Tenant, path: &str) -> usize {
    t.api
        .expect(Req::new("GET", path).bearer(&t.root), 200)
        .await
        .body["items"]
        .as_array()
        .unwrap()
        .len()
}

async fn alive(t: &Tenant, faults: &mut Vec<String>) {
    if t.api
        .send(&Req::new("GET", "/health"))
        .await
        .map(|r| r.status)
        .ok()
        != Some(200)
    {
        faults.push("the server no longer answers /health".into());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_long_ids_never_crash_the_server() {
    let env = Env::start();
    let t = Tenant::build(&env, TENANT, "alpha", true).await;
    let mut faults = Vec::new();
    let reg = |id: &str, family: &str, control: &str| {
        json!({"id": id, "name": "long ids", "families": [{"id": family, "title": "F", "controls": [
            {"id": control, "title": "first"}, {"id": format!("{control}!"), "title": "same slug"}
        ]}]})
    };
    let id128 = format!("r{}", long(127));
    let id100 = format!("s{}", long(99));
    let cases: Vec<(&str, Req, Vec<&str>, Option<String>)> = vec![
        (
            "a 128-character regulation id (derived action ids are longer)",
            Req::new("POST", "/regulations").json(reg(&id128, "F", "C1")),
            vec![
                "id",
                "families[0].controls[0].id",
                "families[0].controls[1].id",
            ],
            Some(id128.clone()),
        ),
        (
            "a 100-character regulation id with a 40-character control id",
            Req::new("POST", "/regulations").json(reg(&id100, "F", &long(40))),
            vec![
                "id",
                "families[0].controls[0].id",
                "families[0].controls[1].id",
            ],
            Some(id100.clone()),
        ),
        (
            "a 300-character control id",
            Req::new("POST", "/regulations").json(reg("long-control-reg", "F", &long(300))),
            vec!["families[0].controls[0].id"],
            Some("long-control-reg".into()),
        ),
        (
            "a 300-character family id",
            Req::new("POST", "/regulations").json(reg("long-family-reg", &long(300), "C1")),
            vec!["families[0].id"],
            Some("long-family-reg".into()),
        ),
        (
            "OSCAL import with a 128-character ?id=",
            Req::new("POST", format!("/regulations/import/oscal?id={id128}"))
                .json(oscal_catalog("long id")),
            vec!["id"],
            Some(id128.clone()),
        ),
        (
            "OSCAL import with a 300-character control id",
            Req::new("POST", "/regulations/import/oscal?id=oscal-long-control").json({
                let mut c = oscal_catalog("long control");
                c["catalog"]["groups"][0]["controls"][0]["id"] = json!(long(300));
                c
            }),
            vec!["catalog"],
            Some("oscal-long-control".into()),
        ),
        (
            "OSCAL import with a 300-character group id",
            Req::new("POST", "/regulations/import/oscal?id=oscal-long-group").json({
                let mut c = oscal_catalog("long group");
                c["catalog"]["groups"][0]["id"] = json!(long(300));
                c
            }),
            vec!["catalog"],
            Some("oscal-long-group".into()),
        ),
        (
            "a 129-character regulation id",
            Req::new("POST", "/regulations").json(reg(&format!("q{}", long(128)), "F", "C1")),
            vec!["id"],
            None,
        ),
        (
            "OSCAL import with a 129-character ?id=",
            Req::new(
                "POST",
                format!("/regulations/import/oscal?id=q{}", long(128)),
            )
            .json(oscal_catalog("too long")),
            vec!["id"],
            None,
        ),
    ];
    for (n, (label, req, fields, id)) in cases.into_iter().enumerate() {
        let req = req.bearer(&t.root);
        let listed = count(&t, "/regulations").await;
        let created = accepted_or_named(&t, label, &req, &fields, &mut faults).await;
        alive(&t, &mut faults).await;
        let Some(id) = id else { continue };
        let shown = t
            .api
            .send(&Req::new("GET", format!("/regulations/{id}")).bearer(&t.root))
            .await
            .map(|r| r.status)
            .unwrap_or(0);
        match created {
            Some(_) => {
                // Accepted: it must be whole and usable.
                if shown != 200 {
                    faults.push(format!("{label}: created, then GET answers {shown}"));
                }
                let a = t
                    .api
                    .send(&Req::new("POST", "/assessments").bearer(&t.root).json(json!({
                        "regulation_id": id, "group_name": format!("long ids {n}"), "services": ["aws"]
                    })))
                    .await;
                match a {
                    Ok(a) if a.status == 201 => {
                        let controls = t
                            .api
                            .send(
                                &Req::new(
                                    "GET",
                                    format!(
                                        "/assessments/{}/controls",
                                        a.body["id"].as_str().unwrap()
                                    ),
                                )
                                .bearer(&t.root),
                            )
                            .await;
                        if !matches!(&controls, Ok(c) if c.status == 200) {
                            faults.push(format!(
                                "{label}: its assessment's controls: {:?}",
                                controls.map(|c| c.brief())
                            ));
                        }
                    }
                    other => faults.push(format!(
                        "{label}: created, but assessing it: {:?}",
                        other.map(|a| a.brief())
                    )),
                }
            }
            None => {
                if shown != 404 {
                    faults.push(format!(
                        "{label}: refused, yet GET /regulations/{{id}} answers {shown}"
                    ));
                }
                if count(&t, "/regulations").await != listed {
                    faults.push(format!("{label}: refused, yet the regulation list changed"));
                }
            }
        }
    }
    report("valid long ids", &faults);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_services_are_refused_and_leave_no_group() {
    let env = Env::start();
    let t = Tenant::build(&env, TENANT, "alpha", true).await;
    let mut faults = Vec::new();
    let empty_group = t
        .api
        .expect(
            Req::new("POST", "/groups")
                .bearer(&t.root)
                .json(json!({"name": "empty"})),
            201,
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let services = |n: usize| -> Vec<String> { (0..n).map(|i| format!("service-{i}")).collect() };
    let mut cases: Vec<(String, Value, usize)> = Vec::new();
    for n in [21, 50, 99, 100, 150, 1000] {
        cases.push((
            format!("{n} services in a new group"),
            json!({"regulation_id": t.custom_reg, "group_name": format!("many services {n}"), "services": services(n)}),
            n,
        ));
    }
    cases.push((
        "99 services in an existing group".into(),
        json!({"regulation_id": t.custom_reg, "group_id": empty_group, "services": services(99)}),
        99,
    ));
    for len in [65, 300, 10_000] {
        cases.push((
            format!("a {len}-character service name"),
            json!({"regulation_id": t.custom_reg, "group_name": format!("long service {len}"), "services": [long(len)]}),
            1,
        ));
    }
    for (label, body, n) in cases {
        let groups = count(&t, "/groups").await;
        let assessments = count(&t, "/assessments").await;
        let req = Req::new("POST", "/assessments")
            .bearer(&t.root)
            .json(body.clone());
        let created = accepted_or_named(&t, &label, &req, &["services"], &mut faults).await;
        alive(&t, &mut faults).await;
        match created {
            Some(a) => {
                if a.body["services"].as_array().map(Vec::len) != Some(n) {
                    faults.push(format!(
                        "{label}: created with services {}",
                        a.body["services"]
                    ));
                }
            }
            None => {
                if count(&t, "/groups").await != groups {
                    let left = t
                        .api
                        .expect(Req::new("GET", "/groups").bearer(&t.root), 200)
                        .await;
                    faults.push(format!(
                        "{label}: refused, yet a group was left behind: {}",
                        left.brief()
                    ));
                }
                if count(&t, "/assessments").await != assessments {
                    faults.push(format!(
                        "{label}: refused, yet an assessment was left behind"
                    ));
                }
            }
        }
    }
    report("too many services", &faults);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_evidence_names_are_accepted_whole_or_refused_by_name() {
    let env = Env::start();
    let t = Tenant::build(&env, TENANT, "alpha", true).await;
    let action = t.action_for("long-names");
    let path = format!("/actions/{action}/evidence");
    let mut faults = Vec::new();
    let content = b"evidence with a long name\n".to_vec();
    let names = [
        (
            "a 255-character file name",
            format!("{}.txt", long(251)),
            true,
        ),
        (
            "a 255-character file name of two-byte letters",
            format!("{}.txt", "é".repeat(251)),
            true,
        ),
        (
            "a 256-character file name",
            format!("{}.txt", long(252)),
            false,
        ),
        (
            "a 1000-character file name",
            format!("{}.txt", long(996)),
            false,
        ),
    ];
    for (label, name, valid) in names {
        let req = Req::new("POST", path.clone()).bearer(&t.root).json(json!({
            "kind": "document", "file_name": name, "content_type": "text/plain", "size": content.len()
        }));
        let Some(added) = accepted_or_named(&t, label, &req, &["file_name"], &mut faults).await
        else {
            continue;
        };
        if !valid {
            faults.push(format!("{label}: accepted ({})", added.brief()));
        }
        // Declared: the file must then arrive, check out and come back.
        let upload = t
            .api
            .http
            .put(added.body["upload_url"].as_str().unwrap())
            .header("content-type", "text/plain")
            .body(content.clone())
            .send()
            .await;
        match upload {
            Ok(u) if u.status().is_success() => {}
            Ok(u) => {
                let status = u.status();
                faults.push(format!(
                    "{label}: upload answered {status}: {}",
                    u.text().await.unwrap_or_default()
                ));
                continue;
            }
            Err(e) => {
                faults.push(format!("{label}: upload: no answer ({e})"));
                continue;
            }
        }
        let id = added.body["evidence_id"].as_str().unwrap();
        let listed = t
            .api
            .expect(Req::new("GET", path.clone()).bearer(&t.root), 200)
            .await;
        let item = listed.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .cloned();
        if item.as_ref().map(|e| &e["status"]) != Some(&json!("verified")) {
            faults.push(format!("{label}: after upload the evidence is {item:?}"));
        }
        let download = t
            .api
            .send(&Req::new("GET", format!("/evidence/{id}/download")).bearer(&t.root))
            .await;
        match download {
            Ok(d) if d.status == 303 => {
                let url = d.headers["location"].to_str().unwrap().to_owned();
                let got = t.api.http.get(&url).send().await;
                match got {
                    Ok(g) if g.status().is_success() => {
                        if g.bytes().await.map(|b| b.to_vec()).ok() != Some(content.clone()) {
                            faults.push(format!("{label}: downloaded bytes differ"));
                        }
                    }
                    other => faults.push(format!(
                        "{label}: fetching the download URL: {:?}",
                        other.map(|g| g.status())
                    )),
                }
            }
            other => faults.push(format!("{label}: download: {:?}", other.map(|d| d.brief()))),
        }
    }
    // Links: name and URL limits.
    for (label, body, field) in [
        (
            "a 256-character link name",
            json!({"kind": "link", "name": long(256), "url": "https://example.com/x"}),
            "name",
        ),
        (
            "a 3000-character link URL",
            json!({"kind": "link", "name": "long url", "url": format!("https://example.com/{}", long(3000))}),
            "url",
        ),
    ] {
        let req = Req::new("POST", path.clone()).bearer(&t.root).json(body);
        if let Some(r) = accepted_or_named(&t, label, &req, &[field], &mut faults).await {
            faults.push(format!("{label}: accepted ({})", r.brief()));
        }
    }
    alive(&t, &mut faults).await;
    report("long evidence names", &faults);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlong_path_ids_and_query_values_are_refused_cleanly() {
    let env = Env::start();
    let t = Tenant::build(&env, TENANT, "alpha", true).await;
    let before = t.snapshot().await;
    let mut cases: Vec<(Req, Vec<u16>)> = Vec::new();
    for route in ROUTES {
        if kind(route).is_some() {
            for n in [129, 300, 5000] {
                let body = route.body.map(|s| t.body(s, "long-path"));
                let req = Req::new(route.method, crate::support::path_with(route, &long(n)))
                    .bearer(&t.root)
                    .body(body);
                // PUT names the user to create: an invalid id there is invalid input.
                let want = if route.method == "PUT" {
                    vec![404, 422]
                } else {
                    vec![404]
                };
                cases.push((req, want));
            }
        }
        for q in route.query {
            let path = match kind(route) {
                Some(k) => crate::support::path_with(route, &t.id(k)),
                None => route.path.to_owned(),
            };
            let req = t
                .with_body(
                    Req::new(route.method, format!("{path}?{q}={}", long(5000))),
                    route,
                    "long-query",
                )
                .bearer(&t.root);
            // A value without a limit (a name) may be taken as it is.
            let want = vec![route.ok.0, 400, 422];
            cases.push((req, want));
        }
    }
    let mut faults = Vec::new();
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    // Overlong path ids first: they must change nothing.
    let (ids, queries): (Vec<_>, Vec<_>) =
        cases.into_iter().partition(|(r, _)| !r.path.contains('?'));
    let replies = t
        .api
        .send_all(ids.iter().map(|(r, _)| r.clone()).collect(), 16)
        .await;
    faults.extend(
        snapshot_diff(&before, &t.snapshot().await)
            .into_iter()
            .map(|d| format!("a refused request changed data: {d}")),
    );
    let replies2 = t
        .api
        .send_all(queries.iter().map(|(r, _)| r.clone()).collect(), 16)
        .await;
    for ((req, want), reply) in ids
        .iter()
        .chain(&queries)
        .zip(replies.into_iter().chain(replies2))
    {
        let line = if req.path.len() > 120 {
            format!("{} {}...", req.method, &req.path[..120])
        } else {
            req.line()
        };
        match reply {
            Err(e) => faults.push(e.chars().take(300).collect()),
            Ok(r) => {
                *by_status.entry(r.status).or_insert(0) += 1;
                if !want.contains(&r.status) {
                    faults.push(format!("{line}: {} (want one of {want:?})", r.brief()));
                }
                faults.extend(r.problem_fault().map(|f| format!("{line}: {f}")));
            }
        }
    }
    eprintln!("overlong ids and query values: {by_status:?}");
    report("overlong path ids and query values", &faults);
}

/// One connector request of [`connector_bodies_are_refused_by_name_and_leave_nothing`]: what
/// it is, the request, and the status and field it must get (the field: named by the 422).
struct ConnectorCase {
    label: String,
    req: Req,
    want: u16,
    field: Option<&'static str>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_bodies_are_refused_by_name_and_leave_nothing() {
    let env = Env::start();
    let t = Tenant::build(&env, TENANT, "alpha", true).await;
    let zoom = crate::support::zoom();
    let creds = zoom.credentials();
    let c1 = t.id("connectors");
    let c2 = t.ids["connectors"][1].clone();
    let get = |path: String| Req::new("GET", path).bearer(&t.root);
    let c1_name = t
        .api
        .expect(get(format!("/connectors/{c1}")), 200)
        .await
        .body["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let c2_before = t
        .api
        .expect(get(format!("/connectors/{c2}")), 200)
        .await
        .body;
    let listed_before = count(&t, "/connectors").await;

    let mut cases: Vec<ConnectorCase> = Vec::new();
    let mut n = 0;
    let mut new = |label: &str, change: &dyn Fn(&mut Value), want: u16, field| {
        n += 1;
        let mut body = json!({"kind": "zoom", "name": format!("refused connector {n}"), "credentials": creds.clone()});
        change(&mut body);
        cases.push(ConnectorCase {
            label: format!("POST /connectors with {label}"),
            req: Req::new("POST", "/connectors").bearer(&t.root).json(body),
            want,
            field,
        });
    };
    let set = |k: &'static str, v: Value| move |b: &mut Value| b[k] = v.clone();
    let without = |k: &'static str| move |b: &mut Value| drop(b.as_object_mut().unwrap().remove(k));
    new(
        "an unknown kind",
        &set("kind", json!("no-such-kind")),
        422,
        Some("kind"),
    );
    new("an empty kind", &set("kind", json!("")), 422, Some("kind"));
    new("no kind", &without("kind"), 422, Some("kind"));
    new("no name", &without("name"), 422, Some("name"));
    new("an empty name", &set("name", json!("")), 422, Some("name"));
    new(
        "a blank name",
        &set("name", json!("   ")),
        422,
        Some("name"),
    );
    new(
        "a 121-character name",
        &set("name", json!(long(121))),
        422,
        Some("name"),
    );
    new(
        "a 121-character name of two-byte letters",
        &set("name", json!("é".repeat(121))),
        422,
        Some("name"),
    );
    new(
        "a control character in the name",
        &set("name", json!("bell \u{7} connector")),
        422,
        Some("name"),
    );
    new(
        "no credentials",
        &without("credentials"),
        422,
        Some("credentials"),
    );
    new(
        "empty credentials",
        &set("credentials", json!({})),
        422,
        Some("credentials"),
    );
    let cred = |k: &'static str, v: Option<Value>| {
        move |b: &mut Value| match &v {
            Some(v) => b["credentials"][k] = v.clone(),
            None => drop(b["credentials"].as_object_mut().unwrap().remove(k)),
        }
    };
    new(
        "no client_secret",
        &cred("client_secret", None),
        422,
        Some("credentials.client_secret"),
    );
    new(
        "an empty client_secret",
        &cred("client_secret", Some(json!(""))),
        422,
        Some("credentials.client_secret"),
    );
    new(
        "a numeric account_id",
        &cred("account_id", Some(json!(42))),
        422,
        Some("credentials.account_id"),
    );
    new(
        "a 5000-character client_secret",
        &cred("client_secret", Some(json!(long(5000)))),
        422,
        Some("credentials.client_secret"),
    );
    new(
        "an unknown credential field",
        &cred("password", Some(json!("hunter2"))),
        422,
        Some("credentials.password"),
    );
    new(
        "a client_secret Zoom refuses",
        &cred("client_secret", Some(json!("not-the-secret"))),
        422,
        Some("credentials"),
    );
    new(
        "a setting Zoom does not have",
        &set("settings", json!({"min_score": 80})),
        422,
        Some("settings.min_score"),
    );
    new(
        "a setting that is a list",
        &set("settings", json!({"min_score": [80]})),
        422,
        Some("settings.min_score"),
    );
    new(
        "an unknown field",
        &set("owner", json!("x")),
        422,
        Some("owner"),
    );
    new(
        "the name of another connector, in other case",
        &set("name", json!(c1_name.to_uppercase())),
        409,
        None,
    );

    let put = |label: &str, body: Value, want: u16, field| ConnectorCase {
        label: format!("PUT /connectors/{{id}} with {label}"),
        req: Req::new("PUT", format!("/connectors/{c2}"))
            .bearer(&t.root)
            .json(body),
        want,
        field,
    };
    cases.extend([
        put(
            "empty credentials",
            json!({"credentials": {}}),
            422,
            Some("credentials"),
        ),
        put(
            "a client_secret Zoom refuses",
            json!({"credentials": {"client_secret": "not-the-secret"}}),
            422,
            Some("credentials"),
        ),
        put(
            "an unknown credential field",
            json!({"credentials": {"password": "hunter2"}}),
            422,
            Some("credentials.password"),
        ),
        put("an empty name", json!({"name": ""}), 422, Some("name")),
        put(
            "a 121-character name",
            json!({"name": long(121)}),
            422,
            Some("name"),
        ),
        put(
            "a setting Zoom does not have",
            json!({"settings": {"min_score": 80}}),
            422,
            Some("settings.min_score"),
        ),
        put(
            "the state error",
            json!({"state": "error"}),
            422,
            Some("state"),
        ),
        put(
            "an unknown kind",
            json!({"kind": "salesforce"}),
            422,
            Some("kind"),
        ),
        put(
            "the name of another connector, in other case",
            json!({"name": c1_name.to_uppercase()}),
            409,
            None,
        ),
        put(
            "a valid change under a stale If-Match",
            json!({"name": "stale rename", "state": "paused"}),
            412,
            None,
        ),
    ]);
    let last = cases.len() - 1;
    cases[last].req = cases[last].req.clone().header("if-match", "\"999\"");

    let mut faults = Vec::new();
    for case in &cases {
        let reply = match t.api.send(&case.req).await {
            Ok(r) => r,
            Err(e) => {
                faults.push(format!("{}: {e}", case.label));
                continue;
            }
        };
        faults.extend(
            reply
                .problem_fault()
                .map(|f| format!("{}: {f}", case.label)),
        );
        if reply.status != case.want {
            faults.push(format!(
                "{}: {} (want {})",
                case.label,
                reply.brief(),
                case.want
            ));
        } else if let Some(field) = case.field {
            if !names(&reply, field) {
                faults.push(format!(
                    "{}: 422 names {:?}, not {field:?}: {}",
                    case.label,
                    reply.fields(),
                    reply.brief()
                ));
            }
        }
    }
    alive(&t, &mut faults).await;
    if count(&t, "/connectors").await != listed_before {
        faults.push(format!(
            "refused creates left connectors behind: {}",
            t.api.expect(get("/connectors".into()), 200).await.brief()
        ));
    }
    let c2_after = t
        .api
        .expect(get(format!("/connectors/{c2}")), 200)
        .await
        .body;
    if c2_after != c2_before {
        faults.push(format!(
            "refused changes changed {c2}: {c2_before} -> {c2_after}"
        ));
    }
    // The credentials Zoom refused did not replace the stored ones.
    let validated = t
        .api
        .expect(
            Req::new("POST", format!("/connectors/{c2}/validate")).bearer(&t.root),
            200,
        )
        .await;
    if validated.body["ok"] != true {
        faults.push(format!(
            "after refused credential changes, {c2}'s credentials no longer validate: {}",
            validated.brief()
        ));
    }

    // At the limit: 120 characters, of one or two bytes each, are taken whole.
    for name in [long(120), "é".repeat(120)] {
        let label = format!(
            "POST /connectors with a {}-byte 120-character name",
            name.len()
        );
        let req = Req::new("POST", "/connectors")
            .bearer(&t.root)
            .json(json!({"kind": "zoom", "name": name, "credentials": creds}));
        match t.api.send(&req).await {
            Ok(r) if r.status == 201 && r.body["name"] == name.as_str() => {}
            Ok(r) => faults.push(format!(
                "{label}: {} (want 201 with the name whole)",
                r.brief()
            )),
            Err(e) => faults.push(format!("{label}: {e}")),
        }
    }
    report("connector bodies", &faults);
}

/// `POST /actions/import.xlsx` with bodies that are not the workbook it takes, or rows it
/// cannot apply: each refused with the status and words that say why, and nothing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workbooks_that_are_not_imports_are_refused_by_name() {
    let env = Env::start();
    let t = Tenant::build(&env, TENANT, "alpha", true).await;
    let mine = t.action_for("import");
    let strings = |rows: &[&[&str]]| -> Vec<Vec<String>> {
        rows.iter()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect()
    };
    let valid = workbook(&strings(&[&["id", "owner"], &[&mine, "someone new"]]));
    let import = |content_type: Option<&str>, body: Vec<u8>| {
        let req = Req::new("POST", "/actions/import.xlsx").bearer(&t.root);
        let req = match content_type {
            Some(ct) => req.header("Content-Type", ct),
            None => req,
        };
        req.raw(body)
    };
    let mut many: Vec<Vec<String>> = vec![vec!["id".into(), "owner".into()]];
    many.extend((0..10_001).map(|i| vec![mine.clone(), format!("owner {i}")]));
    let long_owner = "o".repeat(300);
    let long_notes = "n".repeat(10_001);
    // (label, request, status, words the detail or a rejected row must hold)
    let cases: Vec<(&str, Req, u16, &str)> = vec![
        (
            "a JSON body",
            import(Some("application/json"), br#"{"id": "x"}"#.to_vec()),
            415,
            "xlsx",
        ),
        (
            "CSV",
            import(Some("text/csv"), b"id,owner\nx,y\n".to_vec()),
            415,
            "xlsx",
        ),
        ("no content type", import(None, valid.clone()), 415, "xlsx"),
        (
            "text called a workbook",
            import(Some(XLSX), b"id,owner\nx,y\n".to_vec()),
            400,
            "not an .xlsx workbook",
        ),
        (
            "an empty body",
            import(Some(XLSX), Vec::new()),
            400,
            "not an .xlsx workbook",
        ),
        (
            "half a workbook",
            import(Some(XLSX), valid[..valid.len() / 2].to_vec()),
            400,
            "not an .xlsx workbook",
        ),
        (
            "no id column",
            import(Some(XLSX), workbook(&strings(&[&["owner"], &["x"]]))),
            422,
            "no id column",
        ),
        (
            "10,001 rows",
            import(Some(XLSX), workbook(&many)),
            422,
            "at most 10000",
        ),
        (
            "a status that is none",
            import(
                Some(XLSX),
                workbook(&strings(&[&["id", "test_status"], &[&mine, "great"]])),
            ),
            422,
            "\"great\" is not one of",
        ),
        (
            "an action that is nowhere",
            import(
                Some(XLSX),
                workbook(&strings(&[&["id", "owner"], &["zz-no-such-action", "x"]])),
            ),
            422,
            "no action zz-no-such-action",
        ),
        (
            "an owner over 256 characters",
            import(
                Some(XLSX),
                workbook(&strings(&[&["id", "owner"], &[&mine, &long_owner]])),
            ),
            422,
            "owner: must be at most 256",
        ),
        (
            "notes over 10,000 characters",
            import(
                Some(XLSX),
                workbook(&strings(&[
                    &["id", "implementation_notes"],
                    &[&mine, &long_notes],
                ])),
            ),
            422,
            "at most 10000",
        ),
        (
            "one good row and one bad",
            import(
                Some(XLSX),
                workbook(&strings(&[
                    &["id", "owner"],
                    &[&mine, "fine"],
                    &["zz-no-such-action", "x"],
                ])),
            ),
            422,
            "nothing was applied",
        ),
        (
            "partial=maybe",
            Req {
                path: "/actions/import.xlsx?partial=maybe".into(),
                ..import(Some(XLSX), valid.clone())
            },
            422,
            "partial",
        ),
    ];
    let before = t.snapshot().await;
    let mut faults = Vec::new();
    // Over 10 MiB: refused from the declared length, before the body is read (sending it all
    // would race the server closing the connection after its answer).
    let over = crate::common::status_for_declared_typed_body(
        &t.api.url("/actions/import.xlsx"),
        "POST",
        &t.root,
        XLSX,
        10 * 1024 * 1024 + 1,
    )
    .await;
    if over != 413 {
        faults.push(format!("over 10 MiB: {over} (want 413)"));
    }
    for (label, req, want, words) in cases {
        match t.api.send(&req).await {
            Err(e) => faults.push(format!("{label}: {e}")),
            Ok(r) => {
                faults.extend(r.problem_fault().map(|f| format!("{label}: {f}")));
                let reasons = r.body["rejected"].as_array().into_iter().flatten();
                let said = reasons.fold(
                    r.body["detail"].as_str().unwrap_or("").to_owned(),
                    |s, x| format!("{s} {}", x["reason"].as_str().unwrap_or("")),
                );
                if r.status != want || !said.contains(words) {
                    faults.push(format!(
                        "{label}: {} (want {want} saying {words:?})",
                        r.brief()
                    ));
                }
                if let Some(rows) = r.body["rejected"].as_array() {
                    let bad: Vec<&serde_json::Value> = rows
                        .iter()
                        .filter(|x| x["row"].as_u64().is_none() || x["status"].as_u64().is_none())
                        .collect();
                    if !bad.is_empty() {
                        faults.push(format!(
                            "{label}: rejected rows without a row number or status: {bad:?}"
                        ));
                    }
                }
            }
        }
    }
    faults.extend(
        snapshot_diff(&before, &t.snapshot().await)
            .into_iter()
            .map(|d| format!("a refused import changed data: {d}")),
    );
    alive(&t, &mut faults).await;
    // Not vacuous: the valid workbook imports.
    let r = t.api.expect(import(Some(XLSX), valid), 200).await;
    if r.body["applied"] != 1 {
        faults.push(format!("the valid workbook: {}", r.brief()));
    }
    report("bad import bodies", &faults);
}
