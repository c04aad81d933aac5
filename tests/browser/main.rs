//! The web app in a real browser: headless Chromium driven through chromedriver over
//! `attest serve`. Signing in with the link the server prints (the token leaves the address
//! bar), the dashboard's numbers against the API's, the NIST SP 800-53 moderate assessment
//! (287 controls, its time to show measured) and its filters, an action's status changed (a
//! change the rules refuse explained beside the field, a stale version explained), evidence
//! uploaded straight to its upload URL and downloaded, a Zoom connector activated against the
//! Zoom fake, an alert resolved, a reader offered no edit control, and pending
//! improvement-action updates reviewed and accepted (the actions exported to Excel on the way).
//! Every page is kept as a screenshot in `target/screenshots/`; with
//! `ATTEST_UPDATE_SCREENSHOTS=1` the dashboard's is also written to
//! `docs/screenshots/dashboard.png` (the README's).
//!
//! The tests fail, never skip, without Chromium and chromedriver
//! (`infra/install-test-tools.sh` installs them).

mod driver;
mod server;
mod tenant;

use std::time::{Duration, Instant};

use driver::{screenshot_dir, Browser};
use reqwest::Method;
use serde_json::{json, Value};
use server::Server;
use tenant::urlencode;

/// One browser at a time: the machine's cores go to the browser and the server under test.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A percent as the app shows it (at most two decimals, no trailing zeros).
fn pct(v: &Value) -> String {
    let s = format!("{:.2}", v.as_f64().unwrap());
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}%")
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A score's points as the app shows them.
fn points(score: &Value) -> String {
    format!(
        "{} / {} points",
        thousands(score["achieved"].as_u64().unwrap()),
        thousands(score["possible"].as_u64().unwrap())
    )
}

fn a_name(list: &Value, id: &str) -> String {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id)
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .unwrap()
}

fn ids(list: &Value, key: &str) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c[key].as_str().unwrap().to_owned())
        .collect()
}

/// Alert titles as the app shows them: the assessments they name by id, by name.
fn named(titles: Vec<String>, assessments: &Value) -> Vec<String> {
    titles
        .into_iter()
        .map(|mut t| {
            for a in assessments["items"].as_array().unwrap() {
                let name = format!("“{}”", a["name"].as_str().unwrap());
                t = t.replace(a["id"].as_str().unwrap(), &name);
            }
            t
        })
        .collect()
}

async fn shown_controls(b: &Browser) -> Vec<String> {
    serde_json::from_value(
        b.js("return [...document.querySelectorAll('tbody[data-control]')].map(t => t.dataset.control)")
            .await,
    )
    .unwrap()
}

async fn no_csp_violations(b: &Browser) {
    assert_eq!(b.csp_violations().await, json!([]), "CSP violations");
}

fn record(line: &str) {
    println!("{line}");
    let path = screenshot_dir().join("timings.txt");
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    text.push_str(line);
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn sign_in_the_dashboard_the_assessment_and_every_page() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::start(&[]);
    let tenant = tenant::sample(&server).await;
    let b = Browser::start().await;

    // Signing in with the link `attest serve` printed: the token is kept, and gone from the
    // address bar.
    b.goto(&server.admin_link).await;
    b.page("dashboard").await;
    let href = b.js("return location.href").await;
    assert_eq!(href, json!(format!("{}/#/", server.base)));
    assert_eq!(
        b.js("return sessionStorage.getItem('attest.token')").await,
        json!(server.admin)
    );

    // The dashboard's numbers are the API's.
    let score = server.get("/score").await;
    assert_eq!(
        b.text("#overall-score").await,
        pct(&score["overall"]["percent"])
    );
    assert_eq!(b.text("#overall-points").await, points(&score["overall"]));
    for c in score["by_category"].as_array().unwrap() {
        let css = format!("li[data-category='{}']", c["category"].as_str().unwrap());
        assert_eq!(
            b.text(&format!("{css} .cat-points")).await,
            points(&c["score"])
        );
        assert_eq!(
            b.text(&format!("{css} .num")).await,
            pct(&c["score"]["percent"])
        );
    }
    let assessments = server.get("/assessments?limit=200").await;
    assert_eq!(assessments["items"].as_array().unwrap().len(), 4);
    for a in assessments["items"].as_array().unwrap() {
        let tile = format!("article[data-assessment='{}']", a["id"].as_str().unwrap());
        assert_eq!(
            b.text(&format!("{tile} .big-ish")).await,
            pct(&a["score"]["percent"])
        );
        assert_eq!(
            b.text(&format!("{tile} .progress-line span")).await,
            format!(
                "{} of {} controls assessed",
                a["progress"]["controls_assessed"], a["progress"]["controls_total"]
            )
        );
    }
    let alerts = server.get("/alerts?status=active&limit=5").await;
    let titles = b.texts("#active-alerts a").await;
    assert!(
        !titles.is_empty(),
        "the seeded score decrease raised an alert"
    );
    assert_eq!(titles, named(ids(&alerts, "title"), &assessments));
    assert_eq!(b.count("svg.chart").await, 1, "the score history is drawn");
    b.check_accessible("dashboard").await;
    let shot = b.shot("dashboard").await;
    if std::env::var("ATTEST_UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        let docs = attest_testkit::repo_root().join("docs/screenshots");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::copy(&shot, docs.join("dashboard.png")).unwrap();
    }

    // The NIST SP 800-53 moderate assessment, from its tile: 287 controls in 18 families.
    b.mark().await;
    b.click(&format!("article[data-assessment='{}'] h3 a", tenant.nist))
        .await;
    b.redrawn("assessment").await;
    // Navigation moves the focus to the new page's heading (for screen readers).
    assert_eq!(
        b.js("return document.activeElement.tagName + ' ' + document.activeElement.textContent")
            .await,
        json!(format!("H1 {}", a_name(&assessments, &tenant.nist)))
    );
    let in_app = b
        .js("const m = performance.getEntriesByName('attest:assessment', 'measure'); return m[m.length - 1].duration")
        .await;
    assert_eq!(
        b.text("#controls-count").await,
        "287 controls in 18 families"
    );
    assert_eq!(b.count("tbody[data-control]").await, 287);
    let a = server.get(&format!("/assessments/{}", tenant.nist)).await;
    assert_eq!(
        b.text("#assessment-score").await,
        pct(&a["score"]["percent"])
    );
    b.shot("assessment").await;
    // Exported as a workbook (fetched with the token, saved under the server's file name).
    b.press(".page-head", "Export to Excel").await;
    let report = std::fs::read(b.downloaded(".xlsx").await).unwrap();
    assert!(report.starts_with(b"PK"), "an xlsx file is a zip");
    // Opened afresh (the address typed in; assets cached): from navigation to the page shown.
    let mut loads = Vec::new();
    for _ in 0..3 {
        b.goto("about:blank").await;
        b.goto(&format!("{}/#/assessments/{}", server.base, tenant.nist))
            .await;
        b.page("assessment").await;
        let shown = b
            .js("return performance.getEntriesByName('attest:shown')[0].startTime")
            .await;
        loads.push(shown.as_f64().unwrap());
    }
    record(&format!(
        "NIST SP 800-53 moderate assessment page (287 controls): {:.0} ms from a click on its tile; \
         {:.0} / {:.0} / {:.0} ms from navigation start when opened afresh",
        in_app.as_f64().unwrap(),
        loads[0],
        loads[1],
        loads[2]
    ));

    // Filters: the control search (with enhancements, never AC-20; submitted from the
    // keyboard), then a status.
    b.fill("input[name=control]", "AC-2").await;
    b.mark().await;
    b.enter("input[name=control]").await;
    b.redrawn("assessment").await;
    b.check_accessible("assessment").await;
    let api = server
        .get(&format!(
            "/assessments/{}/controls?control=AC-2",
            tenant.nist
        ))
        .await;
    let shown = shown_controls(&b).await;
    assert_eq!(shown, ids(&api, "id"));
    assert!(shown.contains(&"AC-2(1)".to_owned()) && !shown.contains(&"AC-20".to_owned()));
    assert_eq!(
        b.text("#controls-count").await,
        format!("{} of 287 controls match", shown.len())
    );
    b.fill("input[name=control]", "").await;
    b.choose("select[name=test_status]", "passed").await;
    b.mark().await;
    b.press("form.filters", "Apply filters").await;
    b.redrawn("assessment").await;
    let api = server
        .get(&format!(
            "/assessments/{}/controls?test_status=passed",
            tenant.nist
        ))
        .await;
    assert!(!ids(&api, "id").is_empty());
    assert_eq!(shown_controls(&b).await, ids(&api, "id"));
    b.shot("assessment-filtered").await;
    // Article search on ISO 27001.
    b.open(
        &format!("#/assessments/{}?article=A.8", tenant.iso),
        "assessment",
    )
    .await;
    let api = server
        .get(&format!("/assessments/{}/controls?article=A.8", tenant.iso))
        .await;
    assert_eq!(shown_controls(&b).await, ids(&api, "id"));

    // Every other page, kept as a screenshot.
    for (hash, page) in [
        ("#/actions", "actions"),
        ("#/groups", "groups"),
        ("#/connectors", "connectors"),
        ("#/alerts", "alerts"),
        ("#/departing", "departing"),
        ("#/users", "users"),
    ] {
        b.open(hash, page).await;
        b.check_accessible(page).await;
        b.shot(page).await;
        if page == "departing" {
            assert_eq!(b.count("table.departing tbody tr").await, 2);
        }
    }
    b.open(&format!("#/actions?group={}", tenant.emea), "actions")
        .await;
    let api = server
        .get(&format!("/actions?group={}&limit=100", tenant.emea))
        .await;
    assert_eq!(
        b.count("tr[data-action]").await,
        api["items"].as_array().unwrap().len()
    );

    // A group renamed to another's name (any case): the API's refusal shows in the dialog.
    b.open("#/groups", "groups").await;
    let soc2 = b
        .js("return [...document.querySelectorAll('tr[data-group]')].find(r => r.textContent.includes('SOC 2 audit 2026')).dataset.group")
        .await;
    b.press(
        &format!("tr[data-group='{}']", soc2.as_str().unwrap()),
        "Rename",
    )
    .await;
    b.fill("dialog input[name=name]", "emea").await;
    b.press("dialog", "Rename").await;
    let refused = b.text("dialog .problem").await;
    assert!(refused.contains("Conflict (409)"), "{refused}");
    b.shot("group-rename-refused").await;
    b.press("dialog", "Cancel").await;

    // An administrator adds an assessment in a new group; the app opens it.
    b.open("#/", "dashboard").await;
    b.press(".page-head", "Add assessment").await;
    b.choose("dialog select[name=regulation_id]", "gdpr").await;
    b.fill("dialog input[name=services]", "salesforce").await;
    b.choose("dialog select[name=group]", "").await;
    b.fill("dialog input[name=group_name]", "Privacy 2027")
        .await;
    b.mark().await;
    b.press("dialog", "Create assessment").await;
    b.redrawn("assessment").await;
    let created = server.get("/assessments?limit=200").await;
    let new = created["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["group_name"] == "Privacy 2027")
        .expect("the new assessment");
    assert_eq!(
        (&new["regulation_id"], &new["services"]),
        (&json!("gdpr"), &json!(["salesforce"]))
    );
    assert_eq!(b.text("main h1").await, new["name"].as_str().unwrap());
    no_csp_violations(&b).await;

    // Signing out forgets the token.
    b.mark().await;
    b.press("#who", "Sign out").await;
    b.redrawn("signin").await;
    assert_eq!(
        b.js("return sessionStorage.getItem('attest.token')").await,
        Value::Null
    );
    b.open("#/actions", "signin").await;
    b.shot("signin").await;
    b.close().await;
}

#[tokio::test]
async fn an_action_status_changed_and_refused_and_its_evidence_uploaded_and_downloaded() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::start(&[]);
    server
        .post(
            "/assessments",
            json!({"regulation_id": "iso-27001-2022", "group_name": "EMEA", "services": ["aws"]}),
        )
        .await;
    let b = Browser::start().await;
    b.goto(&server.link("sam", &["assessor"])).await;
    b.page("dashboard").await;
    b.open("#/actions/mfa-admins", "action").await;
    b.check_accessible("action").await;

    // Evidence: a file straight to its upload URL, checked, downloaded; another deleted.
    let files = tempfile::tempdir().unwrap();
    let pdf = b"%PDF-1.4\n% Key rotation record, 2026-11-24\n%%EOF\n".to_vec();
    let keys = files.path().join("keys.pdf");
    std::fs::write(&keys, &pdf).unwrap();
    let old = files.path().join("old-policy.pdf");
    std::fs::write(&old, b"%PDF-1.4\n% superseded\n%%EOF\n").unwrap();
    for file in [&keys, &old] {
        b.attach("#upload-form input[type=file]", file).await;
        b.press("#upload-form", "Upload").await;
        let name = file.file_name().unwrap().to_str().unwrap();
        b.until(
            &format!(
                "[...document.querySelectorAll('.evidence-table tbody tr')].some(r => r.textContent.includes({}) && r.textContent.includes('Verified'))",
                json!(name)
            ),
            &format!("{name} verified"),
        )
        .await;
    }
    let evidence = server.get("/actions/mfa-admins/evidence").await;
    assert_eq!(evidence["items"].as_array().unwrap().len(), 2);
    assert!(evidence["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["status"] == "verified" && e["created_by"] == "sam"));
    b.js("[...document.querySelectorAll('.evidence-table tbody tr')].find(r => r.textContent.includes('keys.pdf')).querySelector('button').setAttribute('data-target', '1')")
        .await;
    b.click("[data-target='1']").await;
    let downloaded = b.downloaded("keys.pdf").await;
    assert_eq!(
        std::fs::read(&downloaded).unwrap(),
        pdf,
        "the same file came back"
    );
    b.js("[...document.querySelectorAll('.evidence-table tbody tr')].find(r => r.textContent.includes('old-policy.pdf')).querySelector('button.danger').setAttribute('data-target', '2')")
        .await;
    b.click("[data-target='2']").await;
    b.press("dialog", "Delete").await;
    b.until(
        "!document.querySelector('.evidence-table').textContent.includes('old-policy.pdf')",
        "the deleted evidence gone",
    )
    .await;
    assert_eq!(
        server.get("/actions/mfa-admins/evidence").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Status edits, each with the version shown (If-Match).
    b.fill("#status-form input[name=owner]", "cara@acme.test")
        .await;
    b.choose(
        "#status-form select[name=implementation_status]",
        "implemented",
    )
    .await;
    b.set_date("#status-form input[name=implementation_date]", "2026-11-20")
        .await;
    b.mark().await;
    b.press("#status-form", "Save").await;
    b.redrawn("action").await;
    let a = server.get("/actions/mfa-admins").await;
    assert_eq!(
        (
            &a["owner"],
            &a["implementation_status"],
            &a["implementation_date"]
        ),
        (
            &json!("cara@acme.test"),
            &json!("implemented"),
            &json!("2026-11-20")
        )
    );
    b.choose("#status-form select[name=test_status]", "passed")
        .await;
    b.set_date("#status-form input[name=test_date]", "2026-11-24")
        .await;
    b.mark().await;
    b.press("#status-form", "Save").await;
    b.redrawn("action").await;
    assert_eq!(
        server.get("/actions/mfa-admins").await["test_status"],
        "passed"
    );
    // While a test result stands, evidence cannot be deleted: the button says so.
    assert_eq!(
        b.js("return document.querySelector('.evidence-table button.danger').disabled")
            .await,
        json!(true)
    );

    // A change the rules refuse: no implementation under a passed test. The API's reason
    // shows beside the field and nothing changes.
    let version = server.get("/actions/mfa-admins").await["version"].clone();
    b.choose("#status-form select[name=implementation_status]", "planned")
        .await;
    b.press("#status-form", "Save").await;
    let problem = b.text("#status-problem .problem").await;
    assert!(problem.contains("Conflict (409)"), "{problem}");
    assert!(
        problem.contains("test_status passed needs implementation_status implemented or alternative_implementation"),
        "{problem}"
    );
    let beside = b
        .text("#status-form select[name=implementation_status] ~ .field-error")
        .await;
    assert!(beside.contains("test_status passed needs"), "{beside}");
    let a = server.get("/actions/mfa-admins").await;
    assert_eq!(
        (&a["implementation_status"], &a["version"]),
        (&json!("implemented"), &version)
    );
    b.shot("action-refused").await;

    // Someone else changes the action meanwhile: the stale change is refused (412) and the
    // page offers to reload.
    server
        .patch("/actions/mfa-admins", json!({"owner": "dev@acme.test"}))
        .await;
    b.press("#status-form", "Discard changes").await;
    b.fill("#status-form input[name=owner]", "ines@acme.test")
        .await;
    b.press("#status-form", "Save").await;
    let problem = b.text("#status-problem .problem").await;
    assert!(problem.contains("Precondition Failed (412)"), "{problem}");
    assert_eq!(
        server.get("/actions/mfa-admins").await["owner"],
        "dev@acme.test"
    );
    b.mark().await;
    b.press("#status-problem", "Reload the action").await;
    b.redrawn("action").await;
    assert_eq!(
        b.js("return document.querySelector('#status-form input[name=owner]').value")
            .await,
        json!("dev@acme.test")
    );
    let history = b.count("table.history tbody tr").await;
    assert!(history >= 6, "{history} history rows");
    b.shot("action").await;

    // Bulk assignment from the improvement actions page.
    b.open("#/actions?category=control_access", "actions").await;
    let picked: Vec<String> = serde_json::from_value(
        b.js("const rows = [...document.querySelectorAll('tr[data-action]')].slice(0, 2); rows.forEach(r => r.querySelector('input[type=checkbox]').click()); return rows.map(r => r.dataset.action)")
            .await,
    )
    .unwrap();
    assert_eq!(picked.len(), 2);
    b.press(".page-head", "Assign 2 to user").await;
    b.fill("dialog input[name=owner]", "ines@acme.test").await;
    b.mark().await;
    b.press("dialog", "Assign").await;
    b.redrawn("actions").await;
    for id in &picked {
        let a = server.get(&format!("/actions/{}", urlencode(id))).await;
        assert_eq!(a["owner"], "ines@acme.test", "{id}");
    }
    no_csp_violations(&b).await;
    b.close().await;
}

#[tokio::test]
async fn a_zoom_connector_activated_through_the_wizard() {
    let _one = ONE_AT_A_TIME.lock().await;
    let zoom = attest_fakes::ZoomFake::start().await;
    let server = Server::start(&[
        ("ATTEST_ENDPOINT_ZOOM_API", zoom.api_url()),
        ("ATTEST_ENDPOINT_ZOOM_OAUTH", zoom.oauth_url()),
        ("ATTEST_ALLOW_LOOPBACK_CONNECTORS", "1".to_owned()),
    ]);
    let b = Browser::start().await;
    b.goto(&server.link("cora", &["connector_admin"])).await;
    b.page("dashboard").await;
    b.open("#/connectors", "connectors").await;
    b.mark().await;
    b.click("article[data-kind='zoom'] a.button").await;
    b.redrawn("connector-wizard").await;

    // Name, credentials (wrong first: the service refuses them and nothing is kept), validate,
    // review and finish.
    b.check_accessible("connector wizard").await;
    b.fill("input[name=name]", "Zoom Prod").await;
    b.press(".wizard-body", "Next").await;
    b.fill("input[name='cred:account_id']", zoom.account_id())
        .await;
    b.fill("input[name='cred:client_id']", zoom.client_id())
        .await;
    b.fill("input[name='cred:client_secret']", "not-the-secret")
        .await;
    b.press(".wizard-body", "Next").await;
    b.press(".wizard-body", "Validate connection").await;
    let refused = b.text(".wizard-body .problem").await;
    assert!(refused.contains("(422)"), "{refused}");
    assert!(server.get("/connectors").await["items"]
        .as_array()
        .unwrap()
        .is_empty());
    b.shot("connector-wizard-refused").await;
    b.press(".wizard-body", "Back").await;
    b.fill("input[name='cred:client_secret']", zoom.client_secret())
        .await;
    b.press(".wizard-body", "Next").await;
    b.press(".wizard-body", "Validate connection").await;
    assert!(b
        .text("#validation-ok")
        .await
        .contains("Validation succeeded"));
    b.shot("connector-wizard").await;
    b.mark().await;
    b.press(".wizard-body", "Finish").await;
    b.redrawn("connector").await;
    let connector = &server.get("/connectors").await["items"][0];
    assert_eq!(connector["name"], "Zoom Prod");
    let id = connector["id"].as_str().unwrap().to_owned();

    // The first run, in the run history and the status table.
    let started = Instant::now();
    loop {
        b.mark().await;
        b.open(
            &format!("#/connectors/{id}?t={}", started.elapsed().as_millis()),
            "connector",
        )
        .await;
        if b.count("table.runs tbody tr").await > 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the first run never finished"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    b.shot("connector").await;
    let status = server.get(&format!("/connectors/{id}/status")).await;
    b.open("#/connectors", "connectors").await;
    let row = b.texts(&format!("tr[data-connector='{id}'] td")).await;
    assert_eq!(row[0], "Zoom");
    assert_eq!(row[1], "Active");
    assert!(row[2].ends_with("Succeeded"), "{row:?}");
    assert_eq!(row[3], status["items_imported_total"].to_string());
    assert_eq!(row[4], "0");
    b.shot("connectors-activated").await;
    no_csp_violations(&b).await;
    b.close().await;
}

#[tokio::test]
async fn an_alert_resolved() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::start(&[]);
    server
        .post(
            "/assessments",
            json!({"regulation_id": "iso-27001-2022", "group_name": "EMEA", "services": ["aws"]}),
        )
        .await;
    server
        .patch(
            "/actions/mfa-admins",
            json!({"implementation_status": "implemented", "test_status": "passed"}),
        )
        .await;
    server
        .patch(
            "/actions/mfa-admins",
            json!({"test_status": "failed_low_risk"}),
        )
        .await;
    // The tenant's score and the assessment's both decreased: two alerts.
    let active = server.get("/alerts?status=active").await;
    let alert = active["items"][0].clone();
    assert!(alert["title"]
        .as_str()
        .unwrap()
        .starts_with("Score decreased"));
    let b = Browser::start().await;
    b.goto(&server.link("carl", &["contributor"])).await;
    b.page("dashboard").await;
    let assessments = server.get("/assessments").await;
    assert_eq!(
        b.texts("#active-alerts a").await,
        named(ids(&active, "title"), &assessments)
    );
    b.open("#/alerts?status=active", "alerts").await;
    let row = format!("tr[data-alert='{}']", alert["id"].as_str().unwrap());
    b.mark().await;
    b.press(&row, "Resolve").await;
    b.redrawn("alerts").await;
    let resolved = server
        .get(&format!("/alerts/{}", alert["id"].as_str().unwrap()))
        .await;
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(b.count(&row).await, 0, "the active list no longer holds it");
    b.open("#/alerts", "alerts").await;
    assert!(b.text(&row).await.contains("Resolved"));
    b.shot("alerts-resolved").await;
    no_csp_violations(&b).await;
    b.close().await;
}

#[tokio::test]
async fn a_reader_is_offered_no_edit_control() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::start(&[]);
    let tenant = tenant::sample(&server).await;
    let a = server
        .call(
            &server.admin,
            Method::POST,
            "/actions/mfa-admins/evidence",
            Some(
                json!({"kind": "link", "name": "MFA runbook", "url": "https://wiki.acme.test/mfa"}),
            ),
        )
        .await;
    assert_eq!(a["evidence"]["status"], "verified");
    let b = Browser::start().await;
    b.goto(&server.link("rob", &["reader"])).await;
    b.page("dashboard").await;
    let nav = b.texts("#nav a").await;
    assert!(!nav.contains(&"Users and roles".to_owned()), "{nav:?}");
    const EDITS: &[&str] = &[
        "Add assessment",
        "Archive",
        "Delete",
        "Assign to user",
        "Import actions",
        "Save",
        "Discard changes",
        "Upload",
        "Add link",
        "Rename",
        "New group",
        "Resolve",
        "Edit",
        "New policy",
        "Disable",
        "Enable",
        "Run now",
        "Pause",
        "Validate connection",
        "Accept update",
        "Accept all updates",
        "Save roles",
    ];
    for (hash, page) in [
        (String::new(), "dashboard"),
        (format!("#/assessments/{}", tenant.nist), "assessment"),
        ("#/actions".to_owned(), "actions"),
        ("#/actions/mfa-admins".to_owned(), "action"),
        ("#/groups".to_owned(), "groups"),
        ("#/connectors".to_owned(), "connectors"),
        ("#/alerts".to_owned(), "alerts"),
        ("#/departing".to_owned(), "departing"),
    ] {
        if !hash.is_empty() {
            b.open(&hash, page).await;
        }
        b.check_accessible(page).await;
        let offered = b.texts("main button, main a.button").await;
        for label in &offered {
            assert!(
                !EDITS.iter().any(|e| label.starts_with(e)),
                "a reader is offered {label:?} on {hash}"
            );
        }
        let editors = "table input[type=checkbox], main input[type=file], main textarea, \
                       #status-form, #upload-form, fieldset.roles";
        assert_eq!(b.count(editors).await, 0, "{hash}");
        assert_eq!(
            b.count("main a.button[href^='#/connectors/activate']")
                .await,
            0
        );
        if page == "action" {
            assert_eq!(b.text("#status-view dd").await, "Unassigned");
            assert!(b.text(".evidence-table").await.contains("MFA runbook"));
            b.shot("reader-action").await;
        }
    }
    b.open("#/users", "notfound").await;
    assert_eq!(b.text("main h1").await, "Not available");
    no_csp_violations(&b).await;
    b.close().await;
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// How an update moves a score, as the app shows it: `+18 / +18 points`.
fn score_change(d: &Value) -> String {
    let signed = |v: &Value| {
        let n = v.as_i64().unwrap();
        if n > 0 {
            format!("+{n}")
        } else {
            n.to_string()
        }
    };
    format!(
        "{} / {} points",
        signed(&d["achieved"]),
        signed(&d["possible"])
    )
}

/// The labels of the Accept buttons the page offers.
async fn accepts_offered(b: &Browser) -> Vec<String> {
    b.texts("main button, main a.button, dialog button")
        .await
        .into_iter()
        .filter(|l| l.starts_with("Accept"))
        .collect()
}

/// Improvement-action updates, as tests/e2e/updates.rs sets them up: the tenant works on NIST
/// SP 800-53 moderate in two groups under the shipped library (session-lock, a technical
/// action, implemented and tested; each group's infosec-policy given an owner), then the server
/// restarts with a second library version (`shared/library/tests/data/release-2.json`): the
/// instances stored before it have a pending update. A reader and an assessor see them and are
/// offered no Accept; an administrator goes from the dashboard's tile to the actions page,
/// exports the actions to Excel, accepts session-lock's update (9 -> 27 points) there and the
/// overall score moves as the update said, accepts one group's policy on its action page, and
/// the last with Accept all.
#[tokio::test]
async fn pending_updates_reviewed_and_accepted_and_the_actions_exported() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut server = Server::start(&[]);
    let mut policies = Vec::new();
    for group in ["Europe", "Asia"] {
        let a = server
            .post(
                "/assessments",
                json!({"regulation_id": "nist-800-53-r5-moderate", "group_name": group, "services": ["aws"]}),
            )
            .await;
        policies.push(format!(
            "infosec-policy@{}",
            a["group_id"].as_str().unwrap()
        ));
    }
    server
        .patch(
            "/actions/session-lock",
            json!({"implementation_status": "implemented", "test_status": "passed"}),
        )
        .await;
    for p in &policies {
        server
            .patch(
                &format!("/actions/{}", urlencode(p)),
                json!({"owner": "olga@acme.test"}),
            )
            .await;
    }
    assert_eq!(server.get("/action-updates").await["items"], json!([]));
    let release = attest_testkit::repo_root().join("shared/library/tests/data/release-2.json");
    server.restart(&[("ATTEST_LIBRARY_RELEASE", release.display().to_string())]);

    // What the API says is pending: session-lock's points go 9 -> 27.
    let pending = server.get("/action-updates").await["items"].clone();
    let pending = pending.as_array().unwrap();
    assert_eq!(pending.len(), 3, "{pending:?}");
    let lock =
        pending.iter().find(|p| p["id"] == "session-lock").unwrap()["pending_update"].clone();
    let points_change = lock["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == "points")
        .unwrap()
        .clone();
    assert_eq!(
        (&points_change["old"], &points_change["new"]),
        (&json!(9), &json!(27))
    );
    let overall_before = server.get("/score").await["overall"].clone();

    // A reader and an assessor see the updates; neither is offered Accept.
    let b = Browser::start().await;
    for (user, role) in [("rob", "reader"), ("sam", "assessor")] {
        if role != "reader" {
            b.mark().await;
        }
        b.goto(&server.link(user, &[role])).await;
        b.redrawn("dashboard").await;
        assert_eq!(b.text("#pending-updates").await, pending.len().to_string());
        b.open("#/actions", "actions").await;
        assert_eq!(b.count("article[data-update]").await, pending.len());
        assert_eq!(accepts_offered(&b).await, Vec::<String>::new(), "{role}");
        b.open("#/actions/session-lock", "action").await;
        assert!(b
            .text("#pending-update li[data-field='points']")
            .await
            .contains("9 → 27"));
        assert_eq!(accepts_offered(&b).await, Vec::<String>::new(), "{role}");
        if role == "reader" {
            b.shot("reader-pending-update").await;
        }
    }

    // An administrator: the dashboard's tile counts them and leads to the actions page.
    b.mark().await;
    b.goto(&server.link("ada", &["administrator"])).await;
    b.redrawn("dashboard").await;
    assert_eq!(b.text("#pending-updates").await, pending.len().to_string());
    b.shot("dashboard-pending-updates").await;
    b.mark().await;
    b.click("a[href='#/actions?pending=1']").await;
    b.redrawn("actions").await;
    b.check_accessible("actions").await;
    assert_eq!(b.count("article[data-update]").await, pending.len());
    let card = "article[data-update='session-lock']";
    assert_eq!(
        b.text(&format!("{card} li[data-field='points']")).await,
        "Points: 9 → 27"
    );
    assert_eq!(
        b.text(&format!("{card} .score-change")).await,
        score_change(&lock["score_change"])
    );
    let regulations = server.get("/regulations").await;
    let affected = lock["assessments_affected"].as_array().unwrap();
    assert_eq!(affected.len(), 2);
    assert_eq!(b.count(&format!("{card} table.affected tbody tr")).await, 2);
    for x in affected {
        let id = x["assessment_id"].as_str().unwrap();
        let group = server.get(&format!("/assessments/{id}")).await["group_name"].clone();
        let row = format!(
            "{card} tr[data-assessment='{}'] td",
            x["assessment_id"].as_str().unwrap()
        );
        assert_eq!(
            b.texts(&row).await,
            [
                x["name"].as_str().unwrap().to_owned(),
                group.as_str().unwrap().to_owned(),
                a_name(&regulations, x["regulation_id"].as_str().unwrap()),
                score_change(&x["score_change"]),
            ]
        );
    }
    b.shot("actions-pending-updates").await;

    // The actions exported to Excel: the answer the app saved has the workbook's type, and
    // session-lock keeps its accepted 9 points until the update is accepted.
    b.js("window.attestTypes = []; const f = window.fetch; \
          window.fetch = async (...args) => { const r = await f(...args); \
          window.attestTypes.push([String(args[0]), r.headers.get('content-type')]); return r; };")
        .await;
    b.press(".page-head", "Export actions").await;
    let file = b.downloaded(".xlsx").await;
    assert_eq!(
        b.js("return window.attestTypes.filter(t => t[0].includes('/actions/export.xlsx')).map(t => t[1])")
            .await,
        json!([XLSX])
    );
    let bytes = std::fs::read(&file).unwrap();
    assert!(bytes.starts_with(b"PK"), "an xlsx file is a zip");
    {
        use calamine::{Data, Reader, Xlsx};
        let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
        let sheet = book.worksheet_range("Actions").unwrap();
        let mut rows = sheet.rows();
        let header: Vec<String> = rows.next().unwrap().iter().map(|c| c.to_string()).collect();
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        let (id, points) = (col("id"), col("points"));
        let rows: Vec<&[Data]> = rows.collect();
        let mut listed = 0;
        let mut cursor = String::new();
        loop {
            let page = server.get(&format!("/actions?limit=200{cursor}")).await;
            listed += page["items"].as_array().unwrap().len();
            match page["next_cursor"].as_str() {
                Some(c) => cursor = format!("&cursor={}", urlencode(c)),
                None => break,
            }
        }
        assert_eq!(rows.len(), listed, "one row per action instance");
        let lock_row = rows
            .iter()
            .find(|r| matches!(&r[id], Data::String(s) if s == "session-lock"))
            .unwrap();
        assert_eq!(lock_row[points].to_string(), "9");
    }

    // Accepted on the actions page: the update is gone, the action has its new points, and
    // the dashboard's overall score is the API's, moved as the update said.
    b.mark().await;
    b.press(card, "Accept update").await;
    b.redrawn("actions").await;
    assert_eq!(b.count(card).await, 0);
    assert_eq!(b.count("article[data-update]").await, pending.len() - 1);
    let accepted = server.get("/actions/session-lock").await;
    assert_eq!(accepted["points"], 27);
    assert!(accepted.get("pending_update").is_none(), "{accepted}");
    let score = server.get("/score").await;
    let moved =
        |k: &str| overall_before[k].as_i64().unwrap() + lock["score_change"][k].as_i64().unwrap();
    assert_eq!(
        (
            score["overall"]["achieved"].as_i64().unwrap(),
            score["overall"]["possible"].as_i64().unwrap()
        ),
        (moved("achieved"), moved("possible"))
    );
    b.open("#/", "dashboard").await;
    assert_eq!(b.text("#overall-points").await, points(&score["overall"]));
    assert_eq!(
        b.text("#overall-score").await,
        pct(&score["overall"]["percent"])
    );
    assert_eq!(
        b.text("#pending-updates").await,
        (pending.len() - 1).to_string()
    );
    b.shot("dashboard-update-accepted").await;

    // One group's policy on its action page: its mapping change, accepted there.
    b.open(&format!("#/actions/{}", urlencode(&policies[0])), "action")
        .await;
    b.check_accessible("action").await;
    let controls = b.text("#pending-update li[data-field='controls']").await;
    assert!(controls.contains("no longer AC-1"), "{controls}");
    b.shot("action-pending-update").await;
    b.mark().await;
    b.press("#pending-update", "Accept update").await;
    b.redrawn("action").await;
    assert_eq!(b.count("#pending-update").await, 0);
    let policy = server
        .get(&format!("/actions/{}", urlencode(&policies[0])))
        .await;
    assert!(policy.get("pending_update").is_none(), "{policy}");

    // The last with Accept all, confirmed in a dialog.
    b.open("#/actions", "actions").await;
    b.press("#pending-updates", "Accept all updates (1)").await;
    b.shot("actions-accept-all").await;
    b.mark().await;
    b.press("dialog", "Accept all updates").await;
    b.redrawn("actions").await;
    assert_eq!(b.text("#accept-all-outcome").await, "1 update accepted.");
    assert_eq!(b.count("#pending-updates").await, 0);
    assert_eq!(server.get("/action-updates").await["items"], json!([]));
    b.shot("actions-updates-accepted").await;
    b.open("#/", "dashboard").await;
    assert_eq!(b.text("#pending-updates").await, "0");
    no_csp_violations(&b).await;
    b.close().await;
}

/// Cognito's hosted UI cannot run here, so the app is served with a Cognito configuration whose
/// domain does not resolve: signing in leaves for its authorization endpoint with a PKCE
/// challenge (S256 of the verifier the tab keeps) and a state; an answer with another state is
/// refused, and one with the right state goes on to the token endpoint.
#[tokio::test]
async fn cognito_sign_in_sends_a_pkce_challenge_and_checks_the_state() {
    use base64::Engine;
    use sha2::Digest;

    let _one = ONE_AT_A_TIME.lock().await;
    let domain = "attest-test.auth.invalid";
    let config = attest_web::Config {
        sign_in: attest_web::SignIn::Cognito(attest_web::Cognito {
            domain: domain.into(),
            client_id: "webclient1".into(),
            redirect_uri: None,
        }),
        evidence_origins: Vec::new(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = attest_web::router(config);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let b = Browser::start().await;

    let leave = |b: &Browser| {
        let b = b.client.clone();
        async move {
            let started = Instant::now();
            loop {
                let url = b.current_url().await.unwrap();
                if url.host_str() == Some(domain) {
                    return url;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(20),
                    "never left for {domain}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    // A sign-in link is not taken where people sign in through Cognito: someone else's token
    // in a link would sign the victim in as its maker.
    let foreign = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5IiwidGVuYW50IjoiZXZpbCIsImV4cCI6NDEwMjQ0NDgwMH0.c2ln";
    b.goto(&format!("{base}/#token={foreign}")).await;
    b.page("signin").await;
    assert!(
        b.text(".signin .notice")
            .await
            .contains("only on a local server"),
        "{}",
        b.text(".signin").await
    );
    assert_eq!(
        b.js("return sessionStorage.getItem('attest.token')").await,
        Value::Null
    );
    assert_eq!(b.js("return location.hash").await, json!("#/"));
    b.goto(&format!("{base}/")).await;
    b.page("signin").await;
    b.shot("signin-cognito").await;
    b.press(".signin", "Sign in").await;
    let url = leave(&b).await;
    assert_eq!(url.path(), "/oauth2/authorize");
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "webclient1");
    assert_eq!(q["redirect_uri"], format!("{base}/"));
    assert_eq!(q["scope"], "openid email profile");
    assert_eq!(q["code_challenge_method"], "S256");

    // Back in the app's tab: the verifier it kept is the challenge's, and the state is the one sent.
    b.goto(&format!("{base}/")).await;
    b.page("signin").await;
    let kept: Value = serde_json::from_str(
        b.js("return sessionStorage.getItem('attest.pkce')")
            .await
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let verifier = kept["verifier"].as_str().unwrap();
    assert!(verifier.len() >= 43, "a verifier of 43 to 128 characters");
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    assert_eq!(q["code_challenge"], challenge);
    assert_eq!(q["state"], kept["state"].as_str().unwrap());

    // An answer with another state is refused, and the code leaves the address bar.
    b.goto(&format!("{base}/?code=stolen&state=forged")).await;
    b.page("signin").await;
    assert!(b.text(".signin .notice").await.contains("does not match"));
    assert_eq!(b.js("return location.search").await, json!(""));
    assert_eq!(
        b.js("return sessionStorage.getItem('attest.pkce')").await,
        Value::Null
    );

    // The right state goes on to exchange the code (here the token endpoint cannot be reached).
    b.press(".signin", "Sign in").await;
    let url = leave(&b).await;
    let state: String = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    b.goto(&format!("{base}/?code=abc&state={state}")).await;
    b.page("signin").await;
    assert!(b
        .text(".signin .notice")
        .await
        .contains("Cognito could not be reached"));
    assert_eq!(b.js("return location.search").await, json!(""));
    no_csp_violations(&b).await;
    b.close().await;
}
