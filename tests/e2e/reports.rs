//! Reports and interchange end to end over HTTP against `attest serve`, on both stores: each
//! workbook opened as a user's spreadsheet program would (calamine) and its cells compared
//! with what the JSON API answers — the report with `GET /assessments/{id}` and its controls
//! and evidence (now, `as_of`, and archived), the export with `GET /actions`, the history
//! export with `GET /actions/{id}/history` — and a bulk update round trip: the export edited
//! and imported with one bad row, all or nothing (nothing changes) and partial (the good rows
//! apply, recorded as imported), and a reader refused.

mod common;

use std::collections::HashMap;
use std::io::Cursor;
use std::time::Duration;

use calamine::{Data, Reader, Xlsx};
use chrono::{DateTime, Datelike, Utc};
use common::{send, token, Backend, Server};
use reqwest::StatusCode;
use serde_json::{json, Value};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

struct Api {
    http: reqwest::Client,
    server: Server,
    admin: String,
    reader: String,
}

impl Api {
    async fn json(&self, path: &str) -> Value {
        let (s, b, _) = send(
            self.http
                .get(self.server.url(path))
                .bearer_auth(&self.reader),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "GET {path}: {b}");
        b
    }

    async fn status(&self, path: &str) -> StatusCode {
        send(
            self.http
                .get(self.server.url(path))
                .bearer_auth(&self.reader),
        )
        .await
        .0
    }

    async fn write(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let (s, b, _) = send(
            self.http
                .request(method.clone(), self.server.url(path))
                .bearer_auth(&self.admin)
                .json(&body),
        )
        .await;
        assert!(s.is_success(), "{method} {path}: {s} {b}");
        b
    }

    async fn patch(&self, id: &str, body: Value) -> Value {
        self.write(reqwest::Method::PATCH, &format!("/actions/{id}"), body)
            .await
    }

    /// A workbook answer: 200, the xlsx type, an attachment with a safe .xlsx name.
    async fn workbook(&self, path: &str) -> Vec<u8> {
        let res = self
            .http
            .get(self.server.url(path))
            .bearer_auth(&self.reader)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.unwrap().to_vec();
        assert_eq!(
            status,
            StatusCode::OK,
            "GET {path}: {}",
            String::from_utf8_lossy(&bytes)
        );
        assert_eq!(headers["content-type"], XLSX);
        let disposition = headers["content-disposition"].to_str().unwrap();
        let name = disposition
            .strip_prefix("attachment; filename=\"")
            .and_then(|n| n.strip_suffix(".xlsx\""))
            .unwrap_or_else(|| panic!("{disposition}"));
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            "{disposition}"
        );
        bytes
    }

    async fn import(&self, bytes: Vec<u8>, query: &str, token: &str) -> (StatusCode, Value) {
        let (s, b, _) = send(
            self.http
                .post(self.server.url(&format!("/actions/import.xlsx{query}")))
                .bearer_auth(token)
                .header("content-type", XLSX)
                .body(bytes),
        )
        .await;
        (s, b)
    }
}

/// Every cell of a sheet, by row and column.
fn cells(bytes: &[u8], sheet: &str) -> Vec<Vec<Data>> {
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).unwrap();
    let range = book.worksheet_range(sheet).unwrap();
    let (rows, cols) = range.end().map_or((0, 0), |(r, c)| (r + 1, c + 1));
    (0..rows)
        .map(|r| {
            (0..cols)
                .map(|c| range.get_value((r, c)).cloned().unwrap_or(Data::Empty))
                .collect()
        })
        .collect()
}

/// A cell as the JSON API would give the value: text, a number, a date (`YYYY-MM-DD`) or
/// null for an empty cell.
fn value(d: &Data) -> Value {
    match d {
        Data::Empty => Value::Null,
        Data::String(s) if s.is_empty() => Value::Null,
        Data::String(s) => json!(s),
        Data::Float(f) => json!(f),
        Data::Int(i) => json!(i),
        Data::DateTime(t) => {
            let t = t.as_datetime().unwrap();
            if t.time() == chrono::NaiveTime::MIN {
                json!(t.date().to_string())
            } else {
                json!(t.and_utc().to_rfc3339())
            }
        }
        other => panic!("unexpected cell {other:?}"),
    }
}

fn number(v: &Value) -> Value {
    json!(v.as_f64().unwrap())
}

/// A sheet's rows as maps from its header's names.
fn table(bytes: &[u8], sheet: &str) -> Vec<HashMap<String, Value>> {
    let rows = cells(bytes, sheet);
    let header: Vec<String> = rows[0]
        .iter()
        .map(|h| value(h).as_str().unwrap().to_owned())
        .collect();
    rows[1..]
        .iter()
        .map(|r| header.iter().cloned().zip(r.iter().map(value)).collect())
        .collect()
}

/// Writes rows of cells back as a workbook (what saving an edited export does).
fn rewrite(rows: &[Vec<Data>]) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet();
    ws.set_name("Actions").unwrap();
    let day = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (r, c) = (r as u32, c as u16);
            match cell {
                Data::String(s) => {
                    ws.write_string(r, c, s).unwrap();
                }
                Data::Float(f) => {
                    ws.write_number(r, c, *f).unwrap();
                }
                Data::DateTime(t) => {
                    let d = t.as_datetime().unwrap().date();
                    let d = rust_xlsxwriter::ExcelDateTime::from_ymd(
                        d.year() as u16,
                        d.month() as u8,
                        d.day() as u8,
                    )
                    .unwrap();
                    ws.write_datetime_with_format(r, c, d, &day).unwrap();
                }
                Data::Empty => {}
                other => panic!("unexpected cell {other:?}"),
            }
        }
    }
    book.save_to_buffer().unwrap()
}

fn encoded(t: DateTime<Utc>) -> String {
    form_urlencoded::byte_serialize(t.to_rfc3339().as_bytes()).collect()
}

/// Every item of `GET /actions` with this query, page after page.
async fn all_actions(api: &Api, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/actions?{query}&limit=200&cursor={c}"),
            None => format!("/actions?{query}&limit=200"),
        };
        let page = api.json(&path).await;
        out.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

/// The report's Summary and Controls compared with the JSON API's view of the assessment, its
/// controls and evidence (`as_of` applied to the score only: the statuses are checked apart).
async fn check_report(api: &Api, id: &str, bytes: &[u8], view: &Value, notes: bool) {
    let summary: HashMap<String, Value> = cells(bytes, "Summary")
        .iter()
        .map(|r| (value(&r[0]).as_str().unwrap().to_owned(), value(&r[1])))
        .collect();
    assert_eq!(summary["Assessment"], view["name"]);
    assert_eq!(summary["Assessment id"], view["id"]);
    assert_eq!(summary["Regulation"], view["regulation_name"]);
    assert_eq!(summary["Regulation id"], view["regulation_id"]);
    assert_eq!(summary["Group"], view["group_name"]);
    let services: Vec<&str> = view["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(summary["Services"], json!(services.join(", ")));
    assert_eq!(
        summary["Score achieved"],
        number(&view["score"]["achieved"])
    );
    assert_eq!(
        summary["Score possible"],
        number(&view["score"]["possible"])
    );
    assert_eq!(summary["Score percent"], number(&view["score"]["percent"]));
    assert_eq!(
        summary["Controls assessed"],
        number(&view["progress"]["controls_assessed"])
    );
    assert_eq!(
        summary["Controls total"],
        number(&view["progress"]["controls_total"])
    );
    let archived = view["archived"].as_bool().unwrap();
    assert_eq!(
        summary["Archived"],
        json!(if archived { "yes" } else { "no" })
    );

    let controls = api.json(&format!("/assessments/{id}/controls")).await;
    let evidence = api.json(&format!("/assessments/{id}/evidence")).await;
    let rows = table(bytes, "Controls");
    let mut expected = Vec::new();
    for c in controls["items"].as_array().unwrap() {
        for a in c["actions"].as_array().unwrap() {
            expected.push((c, Some(a)));
        }
        if c["actions"].as_array().unwrap().is_empty() {
            expected.push((c, None));
        }
    }
    assert_eq!(rows.len(), expected.len(), "a row per control and action");
    for (row, (c, a)) in rows.iter().zip(expected) {
        assert_eq!(row["Family id"], c["family_id"]);
        assert_eq!(row["Family"], c["family_title"]);
        assert_eq!(row["Control"], c["id"]);
        assert_eq!(row["Control title"], c["title"]);
        let Some(a) = a else { continue };
        assert_eq!(row["Action id"], a["id"]);
        assert_eq!(row["Action"], a["title"]);
        assert_eq!(row["Points"], number(&a["points"]));
        assert_eq!(row["Owner"], a["owner"], "{}", a["id"]);
        assert_eq!(row["Implementation status"], a["implementation_status"]);
        assert_eq!(row["Implementation date"], a["implementation_date"]);
        assert_eq!(row["Test status"], a["test_status"]);
        assert_eq!(row["Test date"], a["test_date"]);
        let items = evidence["items"][a["id"].as_str().unwrap()]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let lines: Vec<String> = items
            .iter()
            .map(|e| match e["url"].as_str() {
                Some(url) => format!("{} <{url}>", e["name"].as_str().unwrap()),
                None => e["name"].as_str().unwrap().to_owned(),
            })
            .collect();
        let shown = row["Evidence"].as_str().unwrap_or("");
        assert_eq!(shown, lines.join("\n"), "{}", a["id"]);
        if !notes {
            assert_eq!(row["Implementation notes"], Value::Null);
            assert_eq!(row["Test notes"], Value::Null);
        }
    }
}

async fn pause() {
    tokio::time::sleep(Duration::from_millis(20)).await;
}

async fn reports_end_to_end(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = matches!(backend, Backend::DynamoDb { .. });
    let server = Server::start_with(&data, &backend, first);
    let api = Api {
        http: reqwest::Client::new(),
        admin: token(&data, "acme", "alice", &["administrator"]),
        reader: token(&data, "acme", "rob", &["reader"]),
        server,
    };
    let started = Utc::now();
    let iso = api
        .write(
            reqwest::Method::POST,
            "/assessments",
            json!({"regulation_id": "iso-27001-2022", "group_name": "Europe", "services": ["aws"]}),
        )
        .await;
    let iso_id = iso["id"].as_str().unwrap().to_owned();
    api.write(
        reqwest::Method::POST,
        "/assessments",
        json!({"regulation_id": "iso-27001-2022", "group_name": "Asia", "services": ["aws"]}),
    )
    .await;
    pause().await;
    api.patch(
        "mfa-admins",
        json!({"owner": "cara@acme.test", "implementation_status": "implemented",
        "implementation_date": "2026-01-31", "implementation_notes": "MFA on every admin account"}),
    )
    .await;
    pause().await;
    let t1 = Utc::now();
    pause().await;
    api.patch("mfa-admins", json!({"test_status": "passed", "test_date": "2026-02-02", "test_notes": "checked the IdP"}))
        .await;
    api.write(
        reqwest::Method::POST,
        "/actions/mfa-admins/evidence",
        json!({"kind": "link", "name": "IdP policy", "url": "https://idp.acme.test/policy"}),
    )
    .await;

    // The report now: as GET /assessments/{id}, its controls and evidence say; notes too.
    let report = api
        .workbook(&format!("/assessments/{iso_id}/report.xlsx"))
        .await;
    let view = api.json(&format!("/assessments/{iso_id}")).await;
    check_report(&api, &iso_id, &report, &view, true).await;
    let detail = api.json("/actions/mfa-admins").await;
    let mfa: Vec<_> = table(&report, "Controls")
        .into_iter()
        .filter(|r| r["Action id"] == "mfa-admins")
        .collect();
    assert!(!mfa.is_empty());
    for row in &mfa {
        assert_eq!(row["Implementation notes"], detail["implementation_notes"]);
        assert_eq!(row["Test notes"], detail["test_notes"]);
        assert_eq!(
            row["Evidence"],
            json!("IdP policy <https://idp.acme.test/policy>")
        );
    }

    // As of between the two changes: the score GET /assessments/{id}?as_of= gives, the first
    // change's status, no evidence yet; before the assessment, 404; a bad as_of, 422.
    let report = api
        .workbook(&format!(
            "/assessments/{iso_id}/report.xlsx?as_of={}",
            encoded(t1)
        ))
        .await;
    let then = api
        .json(&format!("/assessments/{iso_id}?as_of={}", encoded(t1)))
        .await;
    assert_ne!(
        then["score"], view["score"],
        "the test result earned points since"
    );
    let summary: HashMap<String, Value> = cells(&report, "Summary")
        .iter()
        .map(|r| (value(&r[0]).as_str().unwrap().to_owned(), value(&r[1])))
        .collect();
    assert_eq!(
        summary["Score achieved"],
        number(&then["score"]["achieved"])
    );
    assert_eq!(summary["Score percent"], number(&then["score"]["percent"]));
    for row in table(&report, "Controls")
        .into_iter()
        .filter(|r| r["Action id"] == "mfa-admins")
    {
        assert_eq!(row["Owner"], json!("cara@acme.test"));
        assert_eq!(row["Implementation status"], json!("implemented"));
        assert_eq!(row["Implementation date"], json!("2026-01-31"));
        assert_eq!(row["Test status"], json!("none"));
        assert_eq!(row["Test date"], Value::Null);
        assert_eq!(row["Test notes"], Value::Null);
        assert_eq!(row["Evidence"], Value::Null);
    }
    let before = (started - chrono::TimeDelta::days(1)).format("%Y-%m-%d");
    assert_eq!(
        api.status(&format!("/assessments/{iso_id}/report.xlsx?as_of={before}"))
            .await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.status(&format!(
            "/assessments/{iso_id}/report.xlsx?as_of=yesterday"
        ))
        .await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        api.status("/assessments/no-such/report.xlsx").await,
        StatusCode::NOT_FOUND
    );

    // The export: what GET /actions lists with the same filter, cell for cell.
    let query = format!("assessment={iso_id}");
    let export = api.workbook(&format!("/actions/export.xlsx?{query}")).await;
    let listed = all_actions(&api, &query).await;
    let rows = table(&export, "Actions");
    assert_eq!(rows.len(), listed.len());
    for (row, a) in rows.iter().zip(&listed) {
        assert_eq!(row["id"], a["id"]);
        assert_eq!(row["version"], number(&a["version"]));
        assert_eq!(row["title"], a["title"]);
        assert_eq!(row["points"], number(&a["points"]));
        for f in [
            "category",
            "action_type",
            "managed_by",
            "owner",
            "implementation_status",
            "implementation_date",
            "test_status",
            "test_date",
            "testing_type",
        ] {
            assert_eq!(row[f], a[f], "{f} of {}", a["id"]);
        }
    }

    // A bulk update: mfa-admins to a new owner, a group action implemented with notes, and a
    // third action passed though not implemented (409 by the rules).
    let mut sheet = cells(&export, "Actions");
    let col = |name: &str| {
        sheet[0]
            .iter()
            .position(|h| value(h) == json!(name))
            .unwrap()
    };
    let (c_id, c_owner, c_impl, c_notes, c_test) = (
        col("id"),
        col("owner"),
        col("implementation_status"),
        col("implementation_notes"),
        col("test_status"),
    );
    let editable = |r: &Vec<Data>| {
        value(&r[col("managed_by")]) == json!("customer")
            && value(&r[col("testing_type")]) == json!("manual")
    };
    let row_of = |sheet: &Vec<Vec<Data>>, id: &str| {
        sheet
            .iter()
            .position(|r| value(&r[c_id]) == json!(id))
            .unwrap()
    };
    let group = sheet[1..]
        .iter()
        .find(|r| editable(r) && value(&r[c_id]).as_str().unwrap().contains('@'))
        .map(|r| value(&r[c_id]))
        .unwrap();
    let group = group.as_str().unwrap().to_owned();
    let bad = sheet[1..]
        .iter()
        .find(|r| {
            editable(r)
                && value(&r[c_impl]) == json!("not_implemented")
                && !value(&r[c_id]).as_str().unwrap().contains('@')
                && value(&r[c_id]) != json!("mfa-admins")
        })
        .map(|r| value(&r[c_id]).as_str().unwrap().to_owned())
        .unwrap();
    let m = row_of(&sheet, "mfa-admins");
    sheet[m][c_owner] = Data::String("dana@acme.test".into());
    let g = row_of(&sheet, &group);
    sheet[g][c_impl] = Data::String("implemented".into());
    sheet[g][c_notes] = Data::String("policy approved".into());
    let b = row_of(&sheet, &bad);
    sheet[b][c_test] = Data::String("passed".into());
    let edited = rewrite(&sheet);
    let watched = [&"mfa-admins".to_owned(), &group, &bad];
    let mut before = Vec::new();
    for id in watched {
        before.push((
            api.json(&format!("/actions/{id}")).await,
            api.json(&format!("/actions/{id}/history")).await,
        ));
    }

    // A reader may not import at all.
    let (s, body) = api.import(edited.clone(), "", &api.reader).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    // All or nothing: 422 naming the bad row (as the spreadsheet numbers it), nothing applied.
    let (s, body) = api.import(edited.clone(), "", &api.admin).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["rejected"],
        json!([{"row": b + 1, "id": bad, "status": 409, "reason": body["rejected"][0]["reason"]}])
    );
    assert!(
        body["rejected"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("implementation_status"),
        "{body}"
    );
    for (id, was) in watched.iter().zip(&before) {
        let now = (
            api.json(&format!("/actions/{id}")).await,
            api.json(&format!("/actions/{id}/history")).await,
        );
        assert_eq!(&now, was, "{id} changed though the import was refused");
    }
    // Partial: the good rows apply, recorded as imported; the bad one is listed.
    let (s, body) = api
        .import(edited.clone(), "?partial=true", &api.admin)
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["applied"], 2, "{body}");
    assert_eq!(body["skipped"], json!(listed.len() - 3));
    assert_eq!(body["rejected"][0]["row"], json!(b + 1));
    assert_eq!(body["rejected"][0]["status"], 409);
    let now = api.json("/actions/mfa-admins").await;
    assert_eq!(now["owner"], "dana@acme.test");
    let history = api.json("/actions/mfa-admins/history").await;
    assert_eq!(history["items"][0]["field"], "owner");
    assert_eq!(history["items"][0]["new"], "dana@acme.test");
    assert_eq!(history["items"][0]["source"], "import");
    assert_eq!(history["items"][0]["by"], "alice");
    let g_now = api.json(&format!("/actions/{group}")).await;
    assert_eq!(g_now["implementation_status"], "implemented");
    assert_eq!(g_now["implementation_notes"], "policy approved");
    assert_eq!(api.json(&format!("/actions/{bad}")).await, before[2].0);
    let events = api.json("/events?type=ActionUpdated&limit=500").await;
    let imported: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["data"]["source"] == "import")
        .map(|e| e["data"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(imported.len(), 2, "{imported:?}");
    assert!(imported.contains(&"mfa-admins") && imported.contains(&group.as_str()));
    // The same workbook again changes nothing: what it says is what is there now.
    let (s, body) = api.import(edited, "?partial=true", &api.admin).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        (body["applied"].clone(), body["skipped"].clone()),
        (json!(0), json!(listed.len() - 1))
    );
    // A change to a row that changed since the export: its version is stale (412).
    sheet[m][c_owner] = Data::String("erin@acme.test".into());
    let (s, body) = api
        .import(rewrite(&sheet), "?partial=true", &api.admin)
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["applied"], 0);
    let stale: Vec<&Value> = body["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == 412)
        .collect();
    assert_eq!(stale.len(), 1, "{body}");
    assert_eq!(stale[0]["row"], json!(m + 1));
    assert_eq!(
        stale[0]["reason"],
        "changed since the export: version 2, now 3; export again"
    );
    assert_eq!(
        api.json("/actions/mfa-admins").await["owner"],
        "dana@acme.test"
    );

    // The history export: what GET /actions/{id}/history lists, newest first.
    let export = api
        .workbook("/actions/mfa-admins/history/export.xlsx")
        .await;
    let history = api.json("/actions/mfa-admins/history?limit=1000").await;
    let rows = table(&export, "History");
    let entries = history["items"].as_array().unwrap();
    assert_eq!(rows.len(), entries.len());
    assert!(entries.len() >= 8, "{history}");
    for (row, e) in rows.iter().zip(entries) {
        let when: DateTime<Utc> = row["when (UTC)"].as_str().unwrap().parse().unwrap();
        let at: DateTime<Utc> = e["at"].as_str().unwrap().parse().unwrap();
        assert!((when - at).num_milliseconds().abs() <= 1, "{when} {at}");
        assert_eq!(row["who"], e["by"]);
        assert_eq!(row["field"], e["field"]);
        let shown = |v: &Value| match v {
            Value::Null => Value::Null,
            Value::String(s) if s.is_empty() => Value::Null,
            Value::String(_) => v.clone(),
            other => json!(other.to_string()),
        };
        assert_eq!(row["old"], shown(&e["old"]), "{e}");
        assert_eq!(row["new"], shown(&e["new"]), "{e}");
        assert_eq!(row["source"], e["source"]);
    }

    // OSCAL: one finding per control of the assessment, the tested action's control
    // satisfied as GET /assessments/{id}/controls says, and NIST's models accept it.
    check_oscal(&api, &iso_id).await;

    // Archived: the report is the snapshot, as GET /assessments/{id} and its controls and
    // evidence show it, without notes.
    api.write(
        reqwest::Method::POST,
        &format!("/assessments/{iso_id}/archive"),
        json!({}),
    )
    .await;
    let report = api
        .workbook(&format!("/assessments/{iso_id}/report.xlsx"))
        .await;
    let view = api.json(&format!("/assessments/{iso_id}")).await;
    assert_eq!(view["archived"], true);
    check_report(&api, &iso_id, &report, &view, false).await;
}

/// The assessment's OSCAL assessment results over HTTP, against its controls, validated by
/// compliance-trestle.
async fn check_oscal(api: &Api, id: &str) {
    let doc = api
        .json(&format!("/assessments/{id}/oscal/assessment-results"))
        .await;
    let controls = api.json(&format!("/assessments/{id}/controls")).await;
    let controls = controls["items"].as_array().unwrap();
    let result = &doc["assessment-results"]["results"][0];
    let findings = result["findings"].as_array().unwrap();
    assert_eq!(findings.len(), controls.len(), "one finding per control");
    for (finding, control) in findings.iter().zip(controls) {
        let label = finding["target"]["props"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "control-label")
            .unwrap_or_else(|| panic!("no control-label in {finding}"));
        assert_eq!(label["value"], control["id"]);
        let met = control["actions"].as_array().unwrap().iter().all(|a| {
            a["managed_by"] == "provider"
                || a["implementation_status"] == "out_of_scope"
                || a["test_status"] == "out_of_scope"
                || (matches!(
                    a["implementation_status"].as_str(),
                    Some("implemented" | "alternative_implementation")
                ) && a["test_status"] == "passed")
        }) && control["actions"].as_array().unwrap().iter().any(|a| {
            a["implementation_status"] != "out_of_scope" && a["test_status"] != "out_of_scope"
        });
        let state = &finding["target"]["status"]["state"];
        assert_eq!(
            state,
            if met { "satisfied" } else { "not-satisfied" },
            "{}: {control}",
            control["id"]
        );
    }
    assert!(
        findings
            .iter()
            .any(|f| f["target"]["status"]["state"] == "satisfied"),
        "the tested control is satisfied"
    );
    let ws = tempfile::tempdir().unwrap();
    let trestle = attest_testkit::trestle();
    let init = std::process::Command::new(&trestle)
        .arg("init")
        .current_dir(ws.path())
        .output()
        .unwrap();
    assert!(init.status.success(), "trestle init: {init:?}");
    let file = ws
        .path()
        .join("assessment-results/attest/assessment-results.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let out = std::process::Command::new(&trestle)
        .args([
            "validate",
            "-f",
            "assessment-results/attest/assessment-results.json",
        ])
        .current_dir(ws.path())
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.contains("VALID") && !said.contains("INVALID"),
        "trestle: {said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_and_bulk_update_on_the_embedded_store() {
    reports_end_to_end(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_and_bulk_update_on_dynamodb_local() {
    let local = attest_testkit::dynamodb_local();
    reports_end_to_end(Backend::DynamoDb {
        endpoint: local.endpoint.clone(),
        table: attest_testkit::unique_name("reports"),
    })
    .await;
}
