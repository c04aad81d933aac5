//! The Salesforce fake as a plain HTTP client sees it.

use std::collections::HashSet;

use attest_fakes::SalesforceFake;
use serde_json::{json, Value};

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

async fn token_request(sf: &SalesforceFake, body: String) -> (u16, Value) {
    let resp = client()
        .post(format!("{}/services/oauth2/token", sf.instance_url()))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

async fn token(sf: &SalesforceFake) -> String {
    let (status, body) = token_request(
        sf,
        form(&[
            ("grant_type", "client_credentials"),
            ("client_id", sf.client_id()),
            ("client_secret", sf.client_secret()),
        ]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// `…/tooling/query/?q=` the way an HTTP client encodes it (`+` for spaces).
fn query_url(sf: &SalesforceFake, version: &str, soql: &str) -> String {
    format!(
        "{}/services/data/{version}/tooling/query/?{}",
        sf.instance_url(),
        form(&[("q", soql)])
    )
}

async fn get(url: &str, token: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    let resp = client().get(url).bearer_auth(token).send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn token_flow_good_and_bad() {
    let sf = SalesforceFake::start().await;
    let (status, body) = token_request(
        &sf,
        form(&[
            ("grant_type", "client_credentials"),
            ("client_id", sf.client_id()),
            ("client_secret", sf.client_secret()),
        ]),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["instance_url"], sf.instance_url());
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["access_token"].as_str().unwrap().contains('!'));
    assert!(body["issued_at"].as_str().unwrap().parse::<u64>().is_ok());
    assert!(body["id"].as_str().unwrap().contains("/id/00D"));
    assert!(body["signature"].is_string());
    assert!(body.get("expires_in").is_none());

    let bad_secret = form(&[
        ("grant_type", "client_credentials"),
        ("client_id", sf.client_id()),
        ("client_secret", "nope"),
    ]);
    assert_eq!(
        token_request(&sf, bad_secret).await,
        (
            400,
            json!({"error": "invalid_client", "error_description": "invalid client credentials"})
        )
    );
    let bad_id = form(&[
        ("grant_type", "client_credentials"),
        ("client_id", "nope"),
        ("client_secret", sf.client_secret()),
    ]);
    assert_eq!(
        token_request(&sf, bad_id).await,
        (
            400,
            json!({"error": "invalid_client_id", "error_description": "client identifier invalid"})
        )
    );
    let password = form(&[
        ("grant_type", "password"),
        ("client_id", sf.client_id()),
        ("client_secret", sf.client_secret()),
    ]);
    assert_eq!(
        token_request(&sf, password).await,
        (
            400,
            json!({"error": "unsupported_grant_type", "error_description": "grant type not supported"})
        )
    );
    assert_eq!(sf.tokens_issued(), 1);
}

#[tokio::test]
async fn score_query_and_knob() {
    let sf = SalesforceFake::start().await;
    let t = token(&sf).await;
    let soql = "SELECT Score, DurableId FROM SecurityHealthCheck";
    let (status, headers, body) = get(&query_url(&sf, "v60.0", soql), &t).await;
    assert_eq!(status, 200);
    assert!(headers["sforce-limit-info"]
        .to_str()
        .unwrap()
        .starts_with("api-usage="));
    assert_eq!(body["size"], 1);
    assert_eq!(body["totalSize"], 1);
    assert_eq!(body["done"], true);
    assert_eq!(body["queryLocator"], Value::Null);
    assert_eq!(body["entityTypeName"], "SecurityHealthCheck");
    let rec = &body["records"][0];
    assert_eq!(rec["Score"], "72", "Score is typed string in the docs");
    assert_eq!(rec["attributes"]["type"], "SecurityHealthCheck");
    assert!(
        rec.get("CustomBaselineId").is_none(),
        "only selected fields"
    );

    sf.set_score(91);
    // Without the slash before `?`, lower-case keywords.
    let url = format!(
        "{}/services/data/v62.0/tooling/query?{}",
        sf.instance_url(),
        form(&[("q", "select score from securityhealthcheck")])
    );
    let (status, _, body) = get(&url, &t).await;
    assert_eq!(status, 200);
    assert_eq!(body["records"][0]["Score"], "91");
}

#[tokio::test]
async fn risks_where_and_set_risk() {
    let sf = SalesforceFake::start().await;
    let t = token(&sf).await;
    let risks = sf.risks();
    let all = risks.as_array().unwrap();
    assert!(all.len() >= 15);
    let id = all[0]["DurableId"].as_str().unwrap().to_owned();

    sf.set_risk(&id, "HIGH_RISK", "6 characters");
    let soql = format!(
        "SELECT DurableId, Setting, SettingGroup, RiskType, OrgValue, OrgValueRaw, StandardValue FROM SecurityHealthCheckRisks WHERE DurableId = '{id}'"
    );
    let (status, _, body) = get(&query_url(&sf, "v59.0", &soql), &t).await;
    assert_eq!(status, 200);
    assert_eq!(body["totalSize"], 1);
    let rec = &body["records"][0];
    assert_eq!(rec["DurableId"], id.as_str());
    assert_eq!(rec["RiskType"], "HIGH_RISK");
    assert_eq!(rec["OrgValue"], "6 characters");
    assert_eq!(rec["OrgValueRaw"], "6");
    assert_eq!(rec["attributes"]["type"], "SecurityHealthCheckRisks");

    let soql = "SELECT DurableId FROM SecurityHealthCheckRisks WHERE RiskType IN ('HIGH_RISK', 'MEDIUM_RISK')";
    let (_, _, body) = get(&query_url(&sf, "v59.0", soql), &t).await;
    let expected = sf
        .risks()
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["RiskType"] != "MEETS_STANDARD")
        .count();
    assert_eq!(body["totalSize"], expected);
}

#[tokio::test]
async fn query_errors() {
    let sf = SalesforceFake::start().await;
    let t = token(&sf).await;
    let (status, _, body) = get(&query_url(&sf, "v60.0", "SELECT Id FROM Account"), &t).await;
    assert_eq!(status, 400);
    assert_eq!(body[0]["errorCode"], "INVALID_TYPE");
    assert!(body[0]["message"]
        .as_str()
        .unwrap()
        .contains("sObject type 'Account' is not supported"));

    let (status, _, body) = get(
        &query_url(&sf, "v60.0", "SELECT Score, Grade FROM SecurityHealthCheck"),
        &t,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body[0]["errorCode"], "INVALID_FIELD");
    assert!(body[0]["message"]
        .as_str()
        .unwrap()
        .contains("No such column 'Grade' on entity 'SecurityHealthCheck'"));

    let (status, _, body) = get(
        &query_url(&sf, "v60.0", "SELEKT Score FROM SecurityHealthCheck"),
        &t,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body[0]["errorCode"], "MALFORMED_QUERY");

    let (status, _, body) = get(
        &query_url(&sf, "v99.0", "SELECT Score FROM SecurityHealthCheck"),
        &t,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!([{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}])
    );
    let (status, _, body) = get(
        &format!("{}/services/data/v60.0/sobjects/Account", sf.instance_url()),
        &t,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body[0]["errorCode"], "NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_with_next_records_url() {
    let sf = SalesforceFake::start().await;
    let t = token(&sf).await;
    sf.set_page_size(3);
    let total = sf.risks().as_array().unwrap().len();
    let soql = "SELECT DurableId, RiskType FROM SecurityHealthCheckRisks";
    let (status, _, mut page) = get(&query_url(&sf, "v61.0", soql), &t).await;
    assert_eq!(status, 200);
    let mut ids = Vec::new();
    let mut last_next = None;
    loop {
        assert_eq!(page["totalSize"], total);
        let records = page["records"].as_array().unwrap();
        assert!(records.len() <= 3);
        ids.extend(
            records
                .iter()
                .map(|r| r["DurableId"].as_str().unwrap().to_owned()),
        );
        if page["done"] == true {
            assert_eq!(page["queryLocator"], Value::Null);
            assert!(page.get("nextRecordsUrl").is_none());
            break;
        }
        let next = page["nextRecordsUrl"].as_str().unwrap().to_owned();
        assert!(
            next.starts_with("/services/data/v61.0/tooling/query/01g"),
            "{next}"
        );
        assert!(next.ends_with(page["queryLocator"].as_str().unwrap()));
        let (status, _, p) = get(&format!("{}{next}", sf.instance_url()), &t).await;
        assert_eq!(status, 200);
        page = p;
        last_next = Some(next);
    }
    assert_eq!(ids.len(), total);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), total);

    // The cursor is used up; unknown locators are invalid too.
    let (status, _, body) = get(&format!("{}{}", sf.instance_url(), last_next.unwrap()), &t).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!([{"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}])
    );
    let (status, _, body) = get(
        &format!(
            "{}/services/data/v61.0/tooling/query/01gXXXXXXXXXXXXXXX-3",
            sf.instance_url()
        ),
        &t,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body[0]["errorCode"], "INVALID_QUERY_LOCATOR");
}

#[tokio::test]
async fn expired_and_missing_sessions() {
    let sf = SalesforceFake::start().await;
    let t = token(&sf).await;
    let url = query_url(&sf, "v60.0", "SELECT Score FROM SecurityHealthCheck");
    assert_eq!(get(&url, &t).await.0, 200);
    sf.expire_tokens();
    let (status, _, body) = get(&url, &t).await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
    );
    let resp = client().get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let fresh = token(&sf).await;
    assert_eq!(get(&url, &fresh).await.0, 200);
}

#[tokio::test]
async fn limits_and_faults() {
    let sf = SalesforceFake::start().await;
    let t = token(&sf).await;
    let url = query_url(&sf, "v60.0", "SELECT Score FROM SecurityHealthCheck");

    sf.rate_limit_next(1, 30);
    let (status, headers, _) = get(&url, &t).await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "30");

    sf.request_limit_exceeded_next(1);
    let (status, _, body) = get(&url, &t).await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        json!([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
    );

    sf.fail_next(2, 500);
    assert_eq!(get(&url, &t).await.0, 500);
    assert_eq!(get(&url, &t).await.0, 500);
    assert_eq!(get(&url, &t).await.0, 200);
    // Token requests are not affected by the API knobs.
    sf.fail_next(1, 503);
    token(&sf).await;
    assert_eq!(get(&url, &t).await.0, 503);
}

#[tokio::test]
async fn deny_and_hide_object() {
    let sf = SalesforceFake::start().await;
    let t = token(&sf).await;
    sf.deny_object("SecurityHealthCheckRisks");
    let (status, _, body) = get(
        &query_url(
            &sf,
            "v60.0",
            "SELECT DurableId FROM SecurityHealthCheckRisks",
        ),
        &t,
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(body[0]["errorCode"], "INSUFFICIENT_ACCESS");
    assert_eq!(
        get(
            &query_url(&sf, "v60.0", "SELECT Score FROM SecurityHealthCheck"),
            &t
        )
        .await
        .0,
        200
    );

    sf.hide_object("SecurityHealthCheck");
    let (status, _, body) = get(
        &query_url(&sf, "v60.0", "SELECT Score FROM SecurityHealthCheck"),
        &t,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body[0]["errorCode"], "INVALID_TYPE");
}

#[tokio::test]
async fn requests_are_recorded() {
    let sf = SalesforceFake::start().await;
    let t = token(&sf).await;
    get(
        &query_url(&sf, "v60.0", "SELECT Score FROM SecurityHealthCheck"),
        &t,
    )
    .await;
    client()
        .get(format!(
            "{}/services/data/v60.0/tooling/query/?q=x",
            sf.instance_url()
        ))
        .send()
        .await
        .unwrap();
    let reqs = sf.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(
        (
            reqs[0].method.as_str(),
            reqs[0].path.as_str(),
            reqs[0].status,
            reqs[0].bearer
        ),
        ("POST", "/services/oauth2/token", 200, false)
    );
    assert!(reqs[1]
        .path
        .starts_with("/services/data/v60.0/tooling/query/?q=SELECT+Score+FROM"));
    assert_eq!((reqs[1].status, reqs[1].bearer), (200, true));
    assert_eq!((reqs[2].status, reqs[2].bearer), (401, false));
    assert_eq!(sf.api_requests(), 2);
}
