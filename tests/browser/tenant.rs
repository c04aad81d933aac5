//! A sample tenant that looks like a real one, made over the API: four assessments in three
//! groups (NIST SP 800-53 moderate, ISO 27001, GDPR, SOC 2), actions owned and worked (passed,
//! implemented, planned, one failed test that lowered the score and raised an alert), and an
//! HR connector whose records make two people departing.

use serde_json::{json, Value};

use crate::server::Server;

pub struct Tenant {
    pub nist: String,
    pub iso: String,
    pub emea: String,
}

const OWNERS: &[&str] = &["cara@acme.test", "dev@acme.test", "ines@acme.test"];

async fn assess(server: &Server, regulation: &str, group: Value) -> Value {
    let mut body = json!({"regulation_id": regulation, "services": ["aws"]});
    body.as_object_mut()
        .unwrap()
        .extend(group.as_object().unwrap().clone());
    server.post("/assessments", body).await
}

async fn actions(server: &Server, filter: &str) -> Vec<Value> {
    server.get(&format!("/actions?{filter}&limit=200")).await["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn work(server: &Server, id: &str, body: Value) {
    server
        .patch(&format!("/actions/{}", urlencode(id)), body)
        .await;
}

pub fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub async fn sample(server: &Server) -> Tenant {
    let nist = assess(
        server,
        "nist-800-53-r5-moderate",
        json!({"group_name": "Federal 2026"}),
    )
    .await;
    let iso = assess(server, "iso-27001-2022", json!({"group_name": "EMEA"})).await;
    let emea = iso["group_id"].as_str().unwrap().to_owned();
    assess(server, "gdpr", json!({"group_id": emea})).await;
    assess(
        server,
        "soc2-2017",
        json!({"group_name": "SOC 2 audit 2026"}),
    )
    .await;
    let nist_id = nist["id"].as_str().unwrap().to_owned();

    let technical: Vec<Value> = actions(server, &format!("assessment={nist_id}"))
        .await
        .into_iter()
        .filter(|a| a["action_type"] == "technical" && a["managed_by"] == "customer")
        .filter(|a| a["action_id"] != "mfa-admins")
        .collect();
    for (i, a) in technical.iter().take(16).enumerate() {
        let id = a["id"].as_str().unwrap();
        let owner = OWNERS[i % OWNERS.len()];
        let body = match i {
            0..=9 => json!({"owner": owner, "implementation_status": "implemented",
                "implementation_date": "2026-10-01", "test_status": "passed", "test_date": "2026-11-02"}),
            10..=12 => json!({"owner": owner, "implementation_status": "implemented",
                "implementation_date": "2026-11-10", "test_status": "in_progress"}),
            _ => json!({"owner": owner, "implementation_status": "planned"}),
        };
        work(server, id, body).await;
    }
    for (i, a) in actions(server, &format!("group={emea}"))
        .await
        .iter()
        .take(8)
        .enumerate()
    {
        let body = if i < 6 {
            json!({"owner": "ines@acme.test", "implementation_status": "implemented",
                "test_status": "passed", "test_date": "2026-11-15"})
        } else {
            json!({"owner": "ines@acme.test", "implementation_status": "alternative_implementation"})
        };
        work(server, a["id"].as_str().unwrap(), body).await;
    }
    // A test that failed: the score decreases and the default policy raises an alert.
    let failed = technical[0]["id"].as_str().unwrap();
    work(server, failed, json!({"test_status": "failed_medium_risk", "test_notes": "Two break-glass accounts lack MFA."})).await;

    let hr = server
        .post(
            "/connectors",
            json!({"kind": "hr_csv", "name": "Workday resignations", "credentials": {},
                "settings": {"record_type": "resignation", "columns": {"email": "EmailAddress",
                    "resignation_date": "ResignationDate", "last_working_date": "LastWorkingDate"}}}),
        )
        .await;
    let day = |days: i64| {
        (chrono::Utc::now() + chrono::Duration::days(days))
            .format("%Y-%m-%d")
            .to_string()
    };
    let csv = format!(
        "EmailAddress,ResignationDate,LastWorkingDate\n\
         dana@acme.test,{},{}\neli@acme.test,{},{}\n",
        day(-20),
        day(10),
        day(-30),
        day(-3)
    );
    server
        .upload(
            &format!("/connectors/{}/upload", hr["id"].as_str().unwrap()),
            "text/csv",
            csv,
        )
        .await;
    Tenant {
        nist: nist_id,
        iso: iso["id"].as_str().unwrap().to_owned(),
        emea,
    }
}
