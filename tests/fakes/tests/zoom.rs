//! The Zoom fake as a plain HTTP client sees it.

use attest_fakes::ZoomFake;
use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

fn token_url(z: &ZoomFake, grant: &str, account: &str) -> String {
    format!(
        "{}/oauth/token?grant_type={grant}&account_id={account}",
        z.oauth_url()
    )
}

async fn token(z: &ZoomFake) -> String {
    let resp = client()
        .post(token_url(z, "account_credentials", z.account_id()))
        .basic_auth(z.client_id(), Some(z.client_secret()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn get(url: &str, token: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    let resp = client().get(url).bearer_auth(token).send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

#[tokio::test]
async fn token_flow_with_good_credentials() {
    let z = ZoomFake::start().await;
    // Query-string form, as the Server-to-Server OAuth page shows it.
    let resp = client()
        .post(token_url(&z, "account_credentials", z.account_id()))
        .basic_auth(z.client_id(), Some(z.client_secret()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 3600);
    assert!(body["access_token"].as_str().unwrap().len() > 20);
    assert!(body["scope"].is_string());
    assert!(body.get("refresh_token").is_none());

    // Form-body form.
    let resp = client()
        .post(format!("{}/oauth/token", z.oauth_url()))
        .basic_auth(z.client_id(), Some(z.client_secret()))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=account_credentials&account_id={}",
            z.account_id()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(z.tokens_issued(), 2);
    assert_eq!(z.api_requests(), 0);
}

#[tokio::test]
async fn token_flow_with_bad_credentials() {
    let z = ZoomFake::start().await;
    let cases = [
        (
            z.client_id().to_owned(),
            "wrong".to_owned(),
            z.account_id().to_owned(),
            "account_credentials",
            "invalid_client",
        ),
        (
            "wrong".to_owned(),
            z.client_secret().to_owned(),
            z.account_id().to_owned(),
            "account_credentials",
            "invalid_client",
        ),
        (
            z.client_id().to_owned(),
            z.client_secret().to_owned(),
            "wrong".to_owned(),
            "account_credentials",
            "invalid_request",
        ),
        (
            z.client_id().to_owned(),
            z.client_secret().to_owned(),
            z.account_id().to_owned(),
            "client_credentials",
            "unsupported_grant_type",
        ),
    ];
    for (id, secret, account, grant, error) in cases {
        let resp = client()
            .post(token_url(&z, grant, &account))
            .basic_auth(id, Some(secret))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{error}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], error);
        assert!(body["reason"].is_string());
    }
    // No Basic credentials at all.
    let resp = client()
        .post(token_url(&z, "account_credentials", z.account_id()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({"reason": "Client ID or client secret is missing.", "error": "invalid_request"})
    );
    assert_eq!(z.tokens_issued(), 0);
}

#[tokio::test]
async fn default_settings_document() {
    let z = ZoomFake::start().await;
    let t = token(&z).await;
    let (status, headers, body) = get(&format!("{}/accounts/me/settings", z.api_url()), &t).await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-ratelimit-category"], "Medium");
    for group in [
        "schedule_meeting",
        "in_meeting",
        "email_notification",
        "recording",
        "telephony",
        "feature",
        "integration",
    ] {
        assert!(body[group].is_object(), "{group} missing");
    }
    assert!(body.get("meeting_security").is_none());
    assert!(body.get("meeting_authentication").is_none());
    assert_eq!(
        body["schedule_meeting"]["require_password_for_scheduling_new_meetings"],
        true
    );
    assert_eq!(
        body["schedule_meeting"]["require_password_for_pmi_meetings"],
        "jbh_only"
    );
    assert_eq!(body["in_meeting"]["waiting_room"], false);
    assert_eq!(body["in_meeting"]["e2e_encryption"], true);
    assert_eq!(body["recording"]["auto_delete_cmr"], false);

    // The account id works like `me`; another id does not exist.
    let (status, _, same) = get(
        &format!("{}/accounts/{}/settings", z.api_url(), z.account_id()),
        &t,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(same, body);
    let (status, _, err) = get(
        &format!("{}/accounts/someoneelse/settings", z.api_url()),
        &t,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(err["code"], 2001);
}

#[tokio::test]
async fn option_documents_and_knobs() {
    let z = ZoomFake::start().await;
    let t = token(&z).await;
    let url = |opt: &str| format!("{}/accounts/me/settings?option={opt}", z.api_url());

    let (_, _, sec) = get(&url("security"), &t).await;
    assert_eq!(
        sec["security"]["password_requirement"]["minimum_password_length"],
        0
    );
    assert_eq!(sec["security"]["sign_in_with_two_factor_auth"], "none");
    let (_, _, ms) = get(&url("meeting_security"), &t).await;
    assert_eq!(ms["meeting_security"]["waiting_room"], false);
    assert_eq!(
        ms["meeting_security"]["encryption_type"],
        "enhanced_encryption"
    );
    let (_, _, ma) = get(&url("meeting_authentication"), &t).await;
    assert_eq!(ma["meeting_authentication"], false);
    assert!(ma["authentication_options"].is_array());
    let (_, _, ra) = get(&url("recording_authentication"), &t).await;
    assert_eq!(ra["recording_authentication"], true);
    let (status, _, err) = get(&url("bogus"), &t).await;
    assert_eq!(status, 400);
    assert_eq!(err["code"], 300);

    z.set("/in_meeting/waiting_room", json!(true));
    z.set(
        "/security/password_requirement/minimum_password_length",
        json!(9),
    );
    z.set(
        "/meeting_authentication/meeting_authentication",
        json!(true),
    );
    z.remove("/recording/auto_delete_cmr_days");
    let (_, _, doc) = get(&format!("{}/accounts/me/settings", z.api_url()), &t).await;
    assert_eq!(doc["in_meeting"]["waiting_room"], true);
    assert!(doc["recording"].get("auto_delete_cmr_days").is_none());
    let (_, _, sec) = get(&url("security"), &t).await;
    assert_eq!(
        sec["security"]["password_requirement"]["minimum_password_length"],
        9
    );
    let (_, _, ma) = get(&url("meeting_authentication"), &t).await;
    assert_eq!(ma["meeting_authentication"], true);
    assert_eq!(z.get("/in_meeting/waiting_room"), Some(json!(true)));

    // custom_query_fields keeps only the named fields.
    let (_, _, few) = get(
        &format!(
            "{}/accounts/me/settings?custom_query_fields=waiting_room,host_video",
            z.api_url()
        ),
        &t,
    )
    .await;
    assert_eq!(
        few,
        json!({"in_meeting": {"waiting_room": true}, "schedule_meeting": {"host_video": false}})
    );
}

#[tokio::test]
async fn deny_option_answers_no_permission_for_that_group_only() {
    let z = ZoomFake::start().await;
    let t = token(&z).await;
    z.deny_option("security");
    let base = format!("{}/accounts/me/settings", z.api_url());
    let (status, _, err) = get(&format!("{base}?option=security"), &t).await;
    assert_eq!(status, 400);
    assert_eq!(err, json!({"code": 200, "message": "No permission."}));
    assert_eq!(get(&base, &t).await.0, 200);
    assert_eq!(
        get(&format!("{base}?option=meeting_security"), &t).await.0,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_expiry_and_invalid_tokens() {
    let z = ZoomFake::start().await;
    let url = format!("{}/accounts/me/settings", z.api_url());
    let t = token(&z).await;
    assert_eq!(get(&url, &t).await.0, 200);

    z.expire_tokens();
    let (status, _, body) = get(&url, &t).await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"code": 124, "message": "Access token is expired."})
    );

    let (status, _, body) = get(&url, "not-a-token").await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"code": 124, "message": "Invalid access token."})
    );
    let resp = client().get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 401);

    // A new token works; a short TTL runs out by the clock.
    let fresh = token(&z).await;
    assert_eq!(get(&url, &fresh).await.0, 200);
    z.set_token_ttl(1);
    let resp = client()
        .post(token_url(&z, "account_credentials", z.account_id()))
        .basic_auth(z.client_id(), Some(z.client_secret()))
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["expires_in"], 1);
    let short = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(get(&url, &short).await.0, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, _, body) = get(&url, &short).await;
    assert_eq!(status, 401);
    assert_eq!(body["message"], "Access token is expired.");
    assert_eq!(z.tokens_issued(), 3);
}

#[tokio::test]
async fn rate_limits_and_faults() {
    let z = ZoomFake::start().await;
    let t = token(&z).await;
    let url = format!("{}/accounts/me/settings", z.api_url());

    z.rate_limit_next(2, 7);
    for _ in 0..2 {
        let (status, headers, body) = get(&url, &t).await;
        assert_eq!(status, 429);
        assert_eq!(headers["retry-after"], "7");
        assert_eq!(headers["x-ratelimit-type"], "QPS");
        assert_eq!(headers["x-ratelimit-category"], "Medium");
        assert_eq!(headers["x-ratelimit-remaining"], "0");
        assert_eq!(body["code"], 429);
        // Token requests are not rate limited.
        token(&z).await;
    }
    assert_eq!(get(&url, &t).await.0, 200);

    z.rate_limit_daily_next(1);
    let (status, headers, _) = get(&url, &t).await;
    assert_eq!(status, 429);
    assert_eq!(headers["x-ratelimit-type"], "Daily-limit");
    let retry_after = headers["retry-after"].to_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(retry_after).is_ok(),
        "{retry_after}"
    );

    z.fail_next(1, 503);
    assert_eq!(get(&url, &t).await.0, 503);
    assert_eq!(get(&url, &t).await.0, 200);
}

#[tokio::test]
async fn activities_page_to_the_end() {
    let z = ZoomFake::start().await;
    let t = token(&z).await;
    for day in 1..=7u32 {
        let kind = if day % 2 == 0 { "Sign out" } else { "Sign in" };
        z.add_activity(
            &format!("user{day}@example.com"),
            Utc.with_ymd_and_hms(2024, 5, day, 9, 30, 0).unwrap(),
            kind,
        );
    }
    // Outside the range.
    z.add_activity(
        "late@example.com",
        Utc.with_ymd_and_hms(2024, 5, 20, 9, 0, 0).unwrap(),
        "Sign in",
    );

    let first = format!(
        "{}/report/activities?from=2024-05-01&to=2024-05-10&page_size=3",
        z.api_url()
    );
    let (status, headers, mut page) = get(&first, &t).await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-ratelimit-category"], "Heavy");
    assert_eq!(page["from"], "2024-05-01");
    assert_eq!(page["to"], "2024-05-10");
    let mut emails = Vec::new();
    let mut pages = 0;
    loop {
        pages += 1;
        assert_eq!(page["page_size"], 3);
        for log in page["activity_logs"].as_array().unwrap() {
            emails.push(log["email"].as_str().unwrap().to_owned());
            assert!(log["time"].as_str().unwrap().ends_with('Z'));
            assert!(["Sign in", "Sign out"].contains(&log["type"].as_str().unwrap()));
        }
        let next = page["next_page_token"].as_str().unwrap().to_owned();
        if next.is_empty() {
            break;
        }
        let url = format!(
            "{}/report/activities?page_size=3&next_page_token={next}",
            z.api_url()
        );
        let (status, _, p) = get(&url, &t).await;
        assert_eq!(status, 200);
        page = p;
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (1..=7)
        .rev()
        .map(|d| format!("user{d}@example.com"))
        .collect();
    assert_eq!(emails, expected, "newest first, filtered by date");

    // Bad token, capped page size, range over a month.
    let (status, _, err) = get(
        &format!("{}/report/activities?next_page_token=nope", z.api_url()),
        &t,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        err,
        json!({"code": 300, "message": "The next page token is invalid or expired."})
    );
    let (_, _, big) = get(
        &format!(
            "{}/report/activities?from=2024-05-01&to=2024-05-31&page_size=1000",
            z.api_url()
        ),
        &t,
    )
    .await;
    assert_eq!(big["page_size"], 300);
    assert_eq!(big["activity_logs"].as_array().unwrap().len(), 8);
    assert_eq!(big["next_page_token"], "");
    let (status, _, err) = get(
        &format!(
            "{}/report/activities?from=2024-01-01&to=2024-05-31",
            z.api_url()
        ),
        &t,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(err["code"], 300);
}

#[tokio::test]
async fn requests_are_recorded() {
    let z = ZoomFake::start().await;
    let t = token(&z).await;
    let url = format!("{}/accounts/me/settings?option=security", z.api_url());
    get(&url, &t).await;
    client().get(&url).send().await.unwrap();
    let reqs = z.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[0].method, "POST");
    assert!(reqs[0]
        .path
        .starts_with("/oauth/token?grant_type=account_credentials"));
    assert!(!reqs[0].bearer);
    assert_eq!(reqs[1].path, "/v2/accounts/me/settings?option=security");
    assert_eq!((reqs[1].status, reqs[1].bearer), (200, true));
    assert_eq!((reqs[2].status, reqs[2].bearer), (401, false));
    assert_eq!(z.api_requests(), 2);
}
