//! The `salesforce` kind against the Salesforce fake (tests/fakes).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use attest_connectors::salesforce::{RISKS, SCORE};
use attest_connectors::{
    compliance_kind, ComplianceKind, Credentials, Endpoints, ErrorCategory, HttpClient, Readings,
    Risk, Verdict,
};
use attest_fakes::SalesforceFake;
use serde_json::{json, Map, Value};

fn kind() -> &'static dyn ComplianceKind {
    compliance_kind("salesforce").unwrap()
}

fn client() -> HttpClient {
    // the Zoom endpoints are not used by this kind
    HttpClient::new(Endpoints::for_tests(
        "http://127.0.0.1:9/v2",
        "http://127.0.0.1:9",
    ))
    .with_backoff(Duration::from_millis(10))
}

fn creds(fake: &SalesforceFake) -> Credentials {
    Credentials(BTreeMap::from([
        ("instance_url".to_owned(), fake.instance_url()),
        ("client_id".to_owned(), fake.client_id().to_owned()),
        ("client_secret".to_owned(), fake.client_secret().to_owned()),
    ]))
}

fn verdicts(settings: &Map<String, Value>, readings: &Readings) -> BTreeMap<String, Verdict> {
    kind()
        .evaluate(settings, readings)
        .into_iter()
        .map(|r| (r.check_id, r.verdict))
        .collect()
}

const FAILED_MEDIUM: Verdict = Verdict::Failed { risk: Risk::Medium };
const FAILED_HIGH: Verdict = Verdict::Failed { risk: Risk::High };
const FAILED_LOW: Verdict = Verdict::Failed { risk: Risk::Low };

async fn until(cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "condition not met in time"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn validate_accepts_good_credentials_and_names_the_field_of_bad_ones() {
    let fake = SalesforceFake::start().await;
    let detail = kind().validate(&client(), &creds(&fake)).await.unwrap();
    assert!(
        detail.starts_with("signed in to Salesforce org 00D"),
        "{detail}"
    );
    assert!(detail.ends_with("at 127.0.0.1"), "{detail}");

    let mut bad = creds(&fake);
    bad.0
        .insert("client_secret".into(), "wrong-secret-value".into());
    let e = kind().validate(&client(), &bad).await.unwrap_err();
    assert_eq!(e.category, ErrorCategory::Auth);
    assert!(e.message.contains("invalid_client"), "{}", e.message);
    assert!(e.message.contains("check client_secret"), "{}", e.message);
    assert!(!e.message.contains("wrong-secret-value"));

    let mut bad = creds(&fake);
    bad.0.insert("client_id".into(), "3MVG9nobody".into());
    let e = kind().validate(&client(), &bad).await.unwrap_err();
    assert_eq!(e.category, ErrorCategory::Auth);
    assert!(e.message.contains("check client_id"), "{}", e.message);
    assert_eq!(fake.tokens_issued(), 1);
}

#[tokio::test]
async fn a_bad_instance_url_is_refused_without_a_request() {
    let fake = SalesforceFake::start().await;
    for url in [
        "https://evil.example.com",
        "https://169.254.169.254",
        "http://acme.my.salesforce.com",
        "https://acme.my.salesforce.com.evil.example",
    ] {
        let mut c = creds(&fake);
        c.0.insert("instance_url".into(), url.into());
        let e = kind().validate(&client(), &c).await.unwrap_err();
        assert_eq!(e.category, ErrorCategory::Auth, "{url}");
        assert!(
            e.message.starts_with("instance_url: "),
            "{url}: {}",
            e.message
        );
        let e = kind().read(&client(), &c).await.unwrap_err();
        assert!(
            e.message.starts_with("instance_url: "),
            "{url}: {}",
            e.message
        );
    }
    // the fake's own (loopback) URL, with loopback not allowed
    let strict = HttpClient::new(Endpoints::new(
        Endpoints::DEFAULT_ZOOM_API,
        Endpoints::DEFAULT_ZOOM_OAUTH,
        false,
    ));
    let e = kind().validate(&strict, &creds(&fake)).await.unwrap_err();
    assert_eq!(e.category, ErrorCategory::Auth);
    assert!(e.message.starts_with("instance_url: "), "{}", e.message);
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn a_full_read_gives_the_verdicts_the_health_check_dictates() {
    let fake = SalesforceFake::start().await;
    let readings = kind().read(&client(), &creds(&fake)).await.unwrap();
    assert_eq!(readings.stats.token_requests, 1);
    assert_eq!(readings.stats.requests, 2);
    assert_eq!(readings.stats.pages, 2);
    let risks = readings.documents[RISKS].as_ref().unwrap();
    assert_eq!(
        risks["PasswordPolicies.expiration"]["RiskType"],
        json!("HIGH_RISK")
    );

    let v = verdicts(&Map::new(), &readings);
    let got: BTreeMap<&str, Verdict> = v.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let expected = BTreeMap::from([
        // score 72 < 80
        ("salesforce-health-check-score", FAILED_MEDIUM),
        ("salesforce-min-password-length", Verdict::Passed),
        ("salesforce-password-complexity", Verdict::Passed),
        // RiskType HIGH_RISK
        ("salesforce-password-expiration", FAILED_HIGH),
        // RiskType MEDIUM_RISK (the check's own severity is High)
        ("salesforce-max-login-attempts", FAILED_MEDIUM),
        ("salesforce-lockout-interval", Verdict::Passed),
        ("salesforce-require-httponly", FAILED_MEDIUM),
        ("salesforce-lock-sessions-to-ip", FAILED_MEDIUM),
        ("salesforce-password-history", Verdict::Passed),
        ("salesforce-session-timeout", FAILED_HIGH),
        ("salesforce-lock-sessions-to-domain", Verdict::Passed),
        ("salesforce-enforce-login-ip", FAILED_MEDIUM),
        ("salesforce-mfa", FAILED_HIGH),
        ("salesforce-sms-identity-verification", Verdict::Passed),
    ]);
    assert_eq!(got, expected);

    let results = kind().evaluate(&Map::new(), &readings);
    let score = &results[0];
    assert_eq!(score.request, SCORE);
    assert_eq!(score.value, Some(json!("72")));
    assert_eq!(
        score.detail,
        "read \"72\" at /records/0/Score; expected at least 80"
    );
}

#[tokio::test]
async fn verdicts_follow_the_data_and_the_min_score_setting() {
    let fake = SalesforceFake::start().await;
    fake.set_score(85);
    fake.set_risk("PasswordPolicies.expiration", "MEETS_STANDARD", "90 days");
    fake.set_risk(
        "PasswordPolicies.minPasswordLength",
        "LOW_RISK",
        "6 characters",
    );
    fake.set_risk(
        "SessionSettings.lockSessionsToIp",
        "INFORMATIONAL",
        "Disabled",
    );
    let readings = kind().read(&client(), &creds(&fake)).await.unwrap();
    let v = verdicts(&Map::new(), &readings);
    assert_eq!(v["salesforce-health-check-score"], Verdict::Passed);
    assert_eq!(v["salesforce-password-expiration"], Verdict::Passed);
    assert_eq!(v["salesforce-min-password-length"], FAILED_LOW);
    assert_eq!(v["salesforce-lock-sessions-to-ip"], Verdict::Passed);

    let settings: Map<String, Value> = serde_json::from_value(json!({"min_score": 90})).unwrap();
    let v = verdicts(&settings, &readings);
    assert_eq!(v["salesforce-health-check-score"], FAILED_MEDIUM);
}

#[tokio::test]
async fn paging_reads_every_risk() {
    let fake = SalesforceFake::start().await;
    fake.set_page_size(3);
    let readings = kind().read(&client(), &creds(&fake)).await.unwrap();
    let all = fake.risks();
    let all = all.as_array().unwrap();
    let risks = readings.documents[RISKS]
        .as_ref()
        .unwrap()
        .as_object()
        .unwrap();
    assert_eq!(risks.len(), all.len());
    for record in all {
        let id = record["DurableId"].as_str().unwrap();
        assert_eq!(risks[id]["RiskType"], record["RiskType"], "{id}");
    }
    let pages = all.len().div_ceil(3) as u32;
    assert_eq!(readings.stats.pages, 1 + pages);
    assert_eq!(fake.api_requests() as u32, 1 + pages);
}

#[tokio::test]
async fn a_token_expiring_mid_run_is_fetched_once_again() {
    let fake = SalesforceFake::start().await;
    let client = client();
    let creds = creds(&fake);
    fake.rate_limit_next(1, 1);
    let run = tokio::spawn(async move { kind().read(&client, &creds).await });
    until(|| fake.api_requests() >= 1).await;
    fake.expire_tokens();
    let readings = run.await.unwrap().unwrap();
    assert!(readings.documents.values().all(Result::is_ok));
    assert_eq!(fake.tokens_issued(), 2);
    assert_eq!(readings.stats.token_requests, 2);
    let statuses: Vec<u16> = fake
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/services/data/"))
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [429, 401, 200, 200]);
}

#[tokio::test]
async fn a_429_waits_for_its_retry_after() {
    let fake = SalesforceFake::start().await;
    fake.rate_limit_next(1, 1);
    let start = Instant::now();
    let readings = kind().read(&client(), &creds(&fake)).await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert!(readings.documents.values().all(Result::is_ok));
    assert_eq!(readings.stats.retries, 1);
}

#[tokio::test]
async fn server_errors_are_retried() {
    let fake = SalesforceFake::start().await;
    fake.fail_next(3, 503);
    let readings = kind().read(&client(), &creds(&fake)).await.unwrap();
    assert!(readings.documents.values().all(Result::is_ok));
    assert_eq!(readings.stats.retries, 3);

    fake.fail_next(100, 500);
    let e = kind().read(&client(), &creds(&fake)).await.unwrap_err();
    assert_eq!(e.category, ErrorCategory::SourceUnavailable);
}

#[tokio::test]
async fn the_api_request_limit_is_a_rate_limit_error() {
    let fake = SalesforceFake::start().await;
    fake.request_limit_exceeded_next(1);
    let readings = kind().read(&client(), &creds(&fake)).await.unwrap();
    let e = readings.documents[SCORE].as_ref().unwrap_err();
    assert_eq!(e.category, ErrorCategory::RateLimit);
    assert!(
        e.message.contains("REQUEST_LIMIT_EXCEEDED"),
        "{}",
        e.message
    );
    assert!(readings.documents[RISKS].is_ok());
}

#[tokio::test]
async fn a_denied_object_leaves_only_its_checks_undetected() {
    let fake = SalesforceFake::start().await;
    fake.deny_object("SecurityHealthCheckRisks");
    let readings = kind().read(&client(), &creds(&fake)).await.unwrap();
    let e = readings.documents[RISKS].as_ref().unwrap_err();
    assert_eq!(e.category, ErrorCategory::Permission);
    assert!(e.message.contains("INSUFFICIENT_ACCESS"), "{}", e.message);
    let results = kind().evaluate(&Map::new(), &readings);
    for r in &results {
        if r.request == RISKS {
            assert_eq!(r.verdict, Verdict::Undetected, "{}", r.check_id);
        } else {
            assert_eq!(r.verdict, FAILED_MEDIUM, "{}", r.check_id);
        }
    }

    // an object the user cannot see at all
    let fake = SalesforceFake::start().await;
    fake.hide_object("SecurityHealthCheck");
    let readings = kind().read(&client(), &creds(&fake)).await.unwrap();
    let e = readings.documents[SCORE].as_ref().unwrap_err();
    assert_eq!(e.category, ErrorCategory::Permission);
    assert!(e.message.contains("INVALID_TYPE"), "{}", e.message);
}
