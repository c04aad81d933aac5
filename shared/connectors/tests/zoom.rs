//! The `zoom` kind against the Zoom fake (tests/fakes).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use attest_connectors::zoom::{MEETING_SECURITY, SECURITY, SETTINGS};
use attest_connectors::{
    compliance_kind, ComplianceKind, Credentials, Endpoints, ErrorCategory, HttpClient, Readings,
    Risk, Verdict,
};
use attest_fakes::ZoomFake;
use serde_json::{json, Map};

fn kind() -> &'static dyn ComplianceKind {
    compliance_kind("zoom").unwrap()
}

fn client(fake: &ZoomFake) -> HttpClient {
    HttpClient::new(Endpoints::for_tests(&fake.api_url(), &fake.oauth_url()))
        .with_backoff(Duration::from_millis(10))
}

fn creds(fake: &ZoomFake) -> Credentials {
    Credentials(BTreeMap::from([
        ("account_id".to_owned(), fake.account_id().to_owned()),
        ("client_id".to_owned(), fake.client_id().to_owned()),
        ("client_secret".to_owned(), fake.client_secret().to_owned()),
    ]))
}

fn verdicts(readings: &Readings) -> BTreeMap<String, Verdict> {
    kind()
        .evaluate(&Map::new(), readings)
        .into_iter()
        .map(|r| (r.check_id, r.verdict))
        .collect()
}

const FAILED_LOW: Verdict = Verdict::Failed { risk: Risk::Low };
const FAILED_MEDIUM: Verdict = Verdict::Failed { risk: Risk::Medium };
const FAILED_HIGH: Verdict = Verdict::Failed { risk: Risk::High };

/// Polls until `cond` holds (at most 5 s).
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
    let fake = ZoomFake::start().await;
    let client = client(&fake);
    let detail = kind().validate(&client, &creds(&fake)).await.unwrap();
    assert_eq!(
        detail,
        format!("signed in to Zoom account {}", fake.account_id())
    );
    assert_eq!(fake.tokens_issued(), 1);

    let mut bad = creds(&fake);
    bad.0
        .insert("client_secret".into(), "wrong-secret-value".into());
    let e = kind().validate(&client, &bad).await.unwrap_err();
    assert_eq!(e.category, ErrorCategory::Auth);
    assert!(e.message.contains("invalid_client"), "{}", e.message);
    assert!(
        e.message.contains("client_id and client_secret"),
        "{}",
        e.message
    );
    assert!(!e.message.contains("wrong-secret-value"));

    let mut bad = creds(&fake);
    bad.0.insert("account_id".into(), "someone-else".into());
    let e = kind().validate(&client, &bad).await.unwrap_err();
    assert_eq!(e.category, ErrorCategory::Auth);
    assert!(e.message.contains("check account_id"), "{}", e.message);
    assert_eq!(fake.tokens_issued(), 1);
}

#[tokio::test]
async fn a_full_read_gives_the_verdicts_the_settings_dictate() {
    let fake = ZoomFake::start().await;
    let readings = kind().read(&client(&fake), &creds(&fake)).await.unwrap();
    assert_eq!(readings.documents.len(), 5);
    assert!(readings.documents.values().all(Result::is_ok));
    assert_eq!(readings.stats.token_requests, 1);
    assert_eq!(readings.stats.requests, 5);
    assert_eq!(readings.stats.pages, 5);
    assert_eq!(readings.stats.retries, 0);
    assert_eq!(fake.tokens_issued(), 1);
    assert_eq!(fake.api_requests(), 5);

    let v = verdicts(&readings);
    let expected = BTreeMap::from([
        ("zoom-waiting-room", FAILED_MEDIUM),
        ("zoom-passcode-new-meetings", Verdict::Passed),
        ("zoom-passcode-instant-meetings", Verdict::Passed),
        ("zoom-passcode-pmi", FAILED_MEDIUM),
        ("zoom-authenticated-join", FAILED_MEDIUM),
        ("zoom-e2ee-meetings", FAILED_LOW),
        ("zoom-third-party-encryption", Verdict::Passed),
        ("zoom-recording-authentication", Verdict::Passed),
        ("zoom-shared-recording-passcode", Verdict::Passed),
        ("zoom-recording-auto-delete", FAILED_LOW),
        ("zoom-recording-retention-days", Verdict::Passed),
        ("zoom-two-factor-sign-in", FAILED_HIGH),
        ("zoom-password-min-length", FAILED_MEDIUM),
        ("zoom-screen-sharing-host-only", FAILED_LOW),
    ]);
    let got: BTreeMap<&str, Verdict> = v.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    assert_eq!(got, expected);

    let results = kind().evaluate(&Map::new(), &readings);
    let pmi = results
        .iter()
        .find(|r| r.check_id == "zoom-passcode-pmi")
        .unwrap();
    assert_eq!(pmi.value, Some(json!("jbh_only")));
    assert_eq!(pmi.request, SETTINGS);
    assert_eq!(
        pmi.detail,
        "read \"jbh_only\" at /schedule_meeting/require_password_for_pmi_meetings; expected \"all\""
    );
}

#[tokio::test]
async fn verdicts_follow_flipped_settings() {
    let fake = ZoomFake::start().await;
    let client = client(&fake);
    fake.set("/meeting_security/waiting_room", json!(true));
    fake.set("/security/sign_in_with_two_factor_auth", json!("all"));
    fake.set(
        "/security/password_requirement/minimum_password_length",
        json!(12),
    );
    fake.set(
        "/meeting_authentication/meeting_authentication",
        json!(true),
    );
    fake.set(
        "/recording/required_password_for_shared_cloud_recordings",
        json!(false),
    );
    fake.set("/recording/auto_delete_cmr_days", json!(120));
    fake.set("/in_meeting/e2e_encryption", json!(false));
    let v = verdicts(&kind().read(&client, &creds(&fake)).await.unwrap());
    assert_eq!(v["zoom-waiting-room"], Verdict::Passed);
    assert_eq!(v["zoom-two-factor-sign-in"], Verdict::Passed);
    assert_eq!(v["zoom-password-min-length"], Verdict::Passed);
    assert_eq!(v["zoom-authenticated-join"], Verdict::Passed);
    assert_eq!(
        v["zoom-shared-recording-passcode"],
        Verdict::Failed { risk: Risk::Medium }
    );
    assert_eq!(v["zoom-recording-retention-days"], FAILED_LOW);
    assert_eq!(v["zoom-third-party-encryption"], FAILED_MEDIUM);

    fake.remove("/meeting_security/waiting_room");
    let v = verdicts(&kind().read(&client, &creds(&fake)).await.unwrap());
    assert_eq!(v["zoom-waiting-room"], Verdict::Undetected);
}

#[tokio::test]
async fn a_token_expiring_mid_run_is_fetched_once_again() {
    let fake = ZoomFake::start().await;
    let client = client(&fake);
    let creds = creds(&fake);
    // the first settings request is rate limited for 1 s; the token expires meanwhile, so the
    // retry meets 401 code 124
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
        .filter(|r| r.path.starts_with("/v2/"))
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses[..3], [429, 401, 200]);
}

#[tokio::test]
async fn a_429_waits_for_its_retry_after() {
    let fake = ZoomFake::start().await;
    fake.rate_limit_next(1, 1);
    let start = Instant::now();
    let readings = kind().read(&client(&fake), &creds(&fake)).await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert!(readings.documents.values().all(Result::is_ok));
    assert_eq!(readings.stats.retries, 1);
    assert_eq!(readings.stats.requests, 6);
}

#[tokio::test]
async fn an_exhausted_daily_limit_gives_up_at_once() {
    let fake = ZoomFake::start().await;
    fake.rate_limit_daily_next(1);
    let start = Instant::now();
    let readings = kind().read(&client(&fake), &creds(&fake)).await.unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
    let e = readings.documents[SETTINGS].as_ref().unwrap_err();
    assert_eq!(e.category, ErrorCategory::RateLimit);
    assert!(readings.documents[SECURITY].is_ok());
}

#[tokio::test]
async fn server_errors_are_retried_then_reported_unavailable() {
    let fake = ZoomFake::start().await;
    let client = client(&fake);
    fake.fail_next(2, 503);
    let readings = kind().read(&client, &creds(&fake)).await.unwrap();
    assert!(readings.documents.values().all(Result::is_ok));
    assert_eq!(readings.stats.retries, 2);

    // every attempt of every request fails: the run fails
    fake.fail_next(100, 502);
    let e = kind().read(&client, &creds(&fake)).await.unwrap_err();
    assert_eq!(e.category, ErrorCategory::SourceUnavailable);
    assert!(e.message.contains("502"), "{}", e.message);
}

#[tokio::test]
async fn a_denied_settings_group_leaves_only_its_checks_undetected() {
    let fake = ZoomFake::start().await;
    fake.deny_option("security");
    let readings = kind().read(&client(&fake), &creds(&fake)).await.unwrap();
    let e = readings.documents[SECURITY].as_ref().unwrap_err();
    assert_eq!(e.category, ErrorCategory::Permission);
    assert!(e.message.contains("code 200"), "{}", e.message);
    assert!(readings.documents[MEETING_SECURITY].is_ok());
    let results = kind().evaluate(&Map::new(), &readings);
    for r in &results {
        if r.request == SECURITY {
            assert_eq!(r.verdict, Verdict::Undetected, "{}", r.check_id);
            assert!(
                r.detail.starts_with("could not read: permission denied"),
                "{}",
                r.detail
            );
        } else {
            assert_ne!(r.verdict, Verdict::Undetected, "{}", r.check_id);
        }
    }
}

#[tokio::test]
async fn loopback_endpoints_are_refused_unless_allowed() {
    let fake = ZoomFake::start().await;
    let client = HttpClient::new(Endpoints::new(&fake.api_url(), &fake.oauth_url(), false));
    let e = kind().read(&client, &creds(&fake)).await.unwrap_err();
    assert_eq!(e.category, ErrorCategory::SourceUnavailable);
    assert!(e.message.contains("loopback"), "{}", e.message);
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn a_token_rejected_again_after_a_refetch_is_an_auth_error() {
    let fake = ZoomFake::start().await;
    // tokens expire as soon as they are issued
    fake.set_token_ttl(0);
    let e = kind()
        .validate(&client(&fake), &creds(&fake))
        .await
        .unwrap_err();
    assert_eq!(e.category, ErrorCategory::Auth);
    assert!(e.message.contains("code 124"), "{}", e.message);
    assert!(
        e.message.contains("again with a newly issued access token"),
        "{}",
        e.message
    );
    let e = kind()
        .read(&client(&fake), &creds(&fake))
        .await
        .unwrap_err();
    assert_eq!(e.category, ErrorCategory::Auth);
}

#[tokio::test]
async fn no_error_or_document_carries_a_secret_or_token() {
    let fake = ZoomFake::start().await;
    fake.deny_option("meeting_security");
    fake.fail_next(100, 503);
    let mut bad = creds(&fake);
    bad.0
        .insert("client_secret".into(), "wrong-secret-value".into());
    let e = kind().read(&client(&fake), &bad).await.unwrap_err();
    assert!(!e.message.contains("wrong-secret-value"));
    let e = kind()
        .read(&client(&fake), &creds(&fake))
        .await
        .unwrap_err();
    assert!(!e.message.contains(fake.client_secret()));
    assert!(!e.message.contains("eyJ"), "{}", e.message);
    assert!(!format!("{:?}", creds(&fake)).contains(fake.client_secret()));
}
