//! `docs/api.md` is the HTTP contract users read; `shared/api/src/routes/table.rs` is what is
//! served (the functions, `template.yaml` and the OpenAPI document are built from it). They
//! must agree: every served route is listed in the document, and every route the document
//! lists outside its "(planned, not served yet)" sections is served.
//!
//! A route in the document is a code span `` `METHOD /path` `` (several methods may be joined
//! with `|`), with the path relative to `/api/compliance` (the prefix may be written too) and
//! an optional query string. A heading containing "planned, not served yet" marks its section
//! and every section under it as planned.

use std::collections::BTreeSet;

use attest_api::routes::table::ROUTES;

const PREFIX: &str = "/api/compliance";
const PLANNED: &str = "planned, not served yet";
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// A route as `METHOD /path`, path relative to the API prefix, parameters written `{}`.
fn normalize(method: &str, path: &str) -> String {
    let path = path.split('?').next().unwrap_or_default();
    let path = path.strip_prefix(PREFIX).unwrap_or(path);
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    let out = if out.len() > 1 {
        out.trim_end_matches('/').to_owned()
    } else {
        out
    };
    format!("{method} {out}")
}

/// The routes a code span names (none if it is not a route).
fn routes_in_span(span: &str) -> Vec<String> {
    let Some((methods, path)) = span.trim().split_once(' ') else {
        return Vec::new();
    };
    // The query may hold anything (`?after={event id}`); the path no spaces.
    let path = path.trim().split('?').next().unwrap_or_default();
    if !path.starts_with('/') || path.contains(' ') {
        return Vec::new();
    }
    let methods: Vec<&str> = methods.split('|').collect();
    if !methods.iter().all(|m| METHODS.contains(m)) {
        return Vec::new();
    }
    methods.iter().map(|m| normalize(m, path)).collect()
}

/// Routes the document lists as served and as planned, with the line each is first seen on.
#[derive(Default)]
struct Listed {
    served: Vec<(String, usize)>,
    planned: Vec<(String, usize)>,
}

fn parse(doc: &str) -> Listed {
    let mut listed = Listed::default();
    // Open headings: (level, planned).
    let mut headings: Vec<(usize, bool)> = Vec::new();
    let mut in_fence = false;
    for (n, line) in doc.lines().enumerate() {
        let line_no = n + 1;
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        let level = line.chars().take_while(|c| *c == '#').count();
        if level > 0 && line[level..].starts_with(' ') {
            headings.retain(|(l, _)| *l < level);
            let planned = line.contains(PLANNED) || headings.iter().any(|(_, p)| *p);
            headings.push((level, planned));
            continue;
        }
        let planned = headings.last().is_some_and(|(_, p)| *p);
        // Code spans: the text between pairs of backticks.
        for (i, span) in line.split('`').enumerate() {
            if i % 2 == 1 {
                for route in routes_in_span(span) {
                    let list = if planned {
                        &mut listed.planned
                    } else {
                        &mut listed.served
                    };
                    list.push((route, line_no));
                }
            }
        }
    }
    listed
}

fn doc() -> String {
    let path = attest_testkit::repo_root().join("docs/api.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn table() -> BTreeSet<String> {
    ROUTES.iter().map(|r| normalize(r.method, r.path)).collect()
}

#[test]
fn every_served_route_is_in_the_document() {
    let listed = parse(&doc());
    let served: BTreeSet<&str> = listed.served.iter().map(|(r, _)| r.as_str()).collect();
    let missing: Vec<String> = table()
        .into_iter()
        .filter(|r| !served.contains(r.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "routes served (shared/api/src/routes/table.rs) but not listed in docs/api.md outside \
         its planned sections: {missing:?}"
    );
}

#[test]
fn every_route_the_document_lists_as_served_is_served() {
    let listed = parse(&doc());
    let table = table();
    let unserved: Vec<String> = listed
        .served
        .iter()
        .filter(|(r, _)| !table.contains(r))
        .map(|(r, line)| format!("{r} (docs/api.md line {line})"))
        .collect();
    assert!(
        unserved.is_empty(),
        "docs/api.md lists routes as served that shared/api/src/routes/table.rs does not \
         serve (mark their section \"({PLANNED})\" or serve them): {unserved:?}"
    );
}

#[test]
fn parsing_finds_at_least_every_route_of_the_table_in_the_document() {
    // Guards the parser against finding nothing (the planned sections' parsing is guarded by
    // the synthetic document below).
    let listed = parse(&doc());
    assert!(listed.served.len() >= table().len(), "{:?}", listed.served);
}

#[test]
fn the_parser_reads_spans_headings_and_fences() {
    let doc = "\
# API
`GET /a/{id}`, `POST /api/compliance/b?x={a b}&y=` and `PATCH`/`PUT`, `GET|DELETE /c/{name}/`
## Later (planned, not served yet)
`GET /d`
### Under it
`GET /e`
```sh
# not a heading
```
## Now
`GET /f` and `the /g` and `GET / h`
";
    let listed = parse(doc);
    let served: Vec<&str> = listed.served.iter().map(|(r, _)| r.as_str()).collect();
    let planned: Vec<&str> = listed.planned.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(
        served,
        [
            "GET /a/{}",
            "POST /b",
            "GET /c/{}",
            "DELETE /c/{}",
            "GET /f"
        ]
    );
    assert_eq!(planned, ["GET /d", "GET /e"]);
}
