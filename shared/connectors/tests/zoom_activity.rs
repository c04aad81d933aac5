//! The `zoom_activity` data kind against the Zoom fake (tests/fakes).

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use attest_connectors::{
    data_kind, Credentials, DataKind, Endpoints, ErrorCategory, HttpClient, VecSink, Window,
};
use attest_fakes::ZoomFake;
use chrono::{DateTime, TimeZone, Utc};

fn kind() -> &'static dyn DataKind {
    data_kind("zoom_activity").unwrap()
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

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, s).unwrap()
}

/// Activity queries sent (path and query).
fn activity_queries(fake: &ZoomFake) -> Vec<String> {
    fake.requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/v2/report/activities"))
        .map(|r| r.path)
        .collect()
}

#[tokio::test]
async fn pages_are_read_to_the_end_keeping_the_window_only() {
    let fake = ZoomFake::start().await;
    let from = utc(2024, 5, 1, 10, 0, 0);
    let to = utc(2024, 5, 3, 10, 0, 0);
    // 700 inside the window, one sign-in and one sign-out a minute apart per person
    for i in 0..350 {
        let t = from + chrono::Duration::minutes(i * 8);
        let email = format!("User{}@Example.com", i % 40);
        fake.add_activity(&email, t, "Sign in");
        fake.add_activity(&email, t + chrono::Duration::minutes(1), "Sign out");
    }
    // on the same days but outside the window, and on days outside it
    fake.add_activity(
        "early@example.com",
        from - chrono::Duration::seconds(1),
        "Sign in",
    );
    fake.add_activity("end@example.com", to, "Sign in");
    fake.add_activity("late@example.com", utc(2024, 5, 3, 23, 0, 0), "Sign out");
    fake.add_activity("before@example.com", utc(2024, 4, 30, 12, 0, 0), "Sign in");
    fake.add_activity("after@example.com", utc(2024, 5, 4, 0, 0, 0), "Sign in");

    let mut sink = VecSink::default();
    let report = kind()
        .fetch(
            &client(&fake),
            &creds(&fake),
            &Window::new(from, to),
            &mut sink,
        )
        .await
        .unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.fetched, 700);
    assert_eq!(sink.records.len(), 700);
    let ids: HashSet<&str> = sink.records.iter().map(|r| r.source_id.as_str()).collect();
    assert_eq!(ids.len(), 700);
    for r in &sink.records {
        assert!(r.at >= from && r.at < to, "{}", r.at);
        assert!(
            ["sign_in", "sign_out"].contains(&r.kind.as_str()),
            "{}",
            r.kind
        );
        let email = r.email.as_deref().unwrap();
        assert!(email.starts_with("user") && email.ends_with("@example.com"));
        assert!(r.data["ip_address"]
            .as_str()
            .unwrap()
            .starts_with("203.0.113."));
        assert_eq!(r.external_user, r.email);
    }
    assert_eq!(
        sink.records.iter().filter(|r| r.kind == "sign_in").count(),
        350
    );
    // 703 entries on those days, 300 a page: 3 pages, none larger than a page
    assert!(sink.pages >= 3, "{}", sink.pages);
    assert!(sink.largest_page <= 300);
    let queries = activity_queries(&fake);
    assert_eq!(queries.len(), 3, "{queries:?}");
    assert!(queries[0].contains("from=2024-05-01&to=2024-05-03&page_size=300"));
    assert!(queries[1].contains("next_page_token="));
    assert_eq!(report.stats.token_requests, 1);
    assert_eq!(report.stats.pages, 3);
}

#[tokio::test]
async fn source_ids_are_the_same_in_every_run() {
    let fake = ZoomFake::start().await;
    let from = utc(2024, 6, 10, 0, 0, 0);
    for i in 0..40 {
        fake.add_activity(
            "ann@example.com",
            from + chrono::Duration::hours(i),
            if i % 2 == 0 { "Sign in" } else { "Sign out" },
        );
    }
    let window = Window::new(from, from + chrono::Duration::days(2));
    let mut ids = Vec::new();
    for _ in 0..2 {
        let mut sink = VecSink::default();
        kind()
            .fetch(&client(&fake), &creds(&fake), &window, &mut sink)
            .await
            .unwrap();
        let mut run: Vec<String> = sink.records.into_iter().map(|r| r.source_id).collect();
        run.sort();
        ids.push(run);
    }
    assert_eq!(ids[0].len(), 40);
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[0].iter().collect::<HashSet<_>>().len(), 40);
}

#[tokio::test]
async fn a_long_backfill_is_read_a_month_at_a_time() {
    let fake = ZoomFake::start().await;
    let from = utc(2024, 1, 15, 0, 0, 0);
    let to = from + chrono::Duration::days(90);
    fake.add_activity("first@example.com", from, "Sign in");
    fake.add_activity(
        "middle@example.com",
        from + chrono::Duration::days(45),
        "Sign in",
    );
    fake.add_activity(
        "last@example.com",
        to - chrono::Duration::seconds(1),
        "Sign out",
    );
    let mut sink = VecSink::default();
    let report = kind()
        .fetch(
            &client(&fake),
            &creds(&fake),
            &Window::new(from, to),
            &mut sink,
        )
        .await
        .unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let mut emails: Vec<&str> = sink
        .records
        .iter()
        .map(|r| r.email.as_deref().unwrap())
        .collect();
    emails.sort_unstable();
    assert_eq!(
        emails,
        [
            "first@example.com",
            "last@example.com",
            "middle@example.com"
        ]
    );
    let queries = activity_queries(&fake);
    assert_eq!(queries.len(), 4, "{queries:?}");
    assert!(fake.requests().iter().all(|r| r.status == 200));
}

#[tokio::test]
async fn a_429_is_waited_for() {
    let fake = ZoomFake::start().await;
    let from = utc(2024, 5, 1, 0, 0, 0);
    fake.add_activity("ann@example.com", from, "Sign in");
    fake.rate_limit_next(1, 1);
    let start = Instant::now();
    let mut sink = VecSink::default();
    let report = kind()
        .fetch(
            &client(&fake),
            &creds(&fake),
            &Window::new(from, from + chrono::Duration::days(1)),
            &mut sink,
        )
        .await
        .unwrap();
    assert!(start.elapsed() >= Duration::from_secs(1));
    assert_eq!(report.fetched, 1);
    assert_eq!(report.stats.retries, 1);
}

#[tokio::test]
async fn bad_credentials_fail_validate_and_fetch_with_auth() {
    let fake = ZoomFake::start().await;
    let client = client(&fake);
    let detail = kind().validate(&client, &creds(&fake)).await.unwrap();
    assert_eq!(
        detail,
        format!("signed in to Zoom account {}", fake.account_id())
    );

    let mut bad = creds(&fake);
    bad.0
        .insert("client_secret".into(), "wrong-secret-value".into());
    let e = kind().validate(&client, &bad).await.unwrap_err();
    assert_eq!(e.category, ErrorCategory::Auth);
    assert!(
        e.message.contains("client_id and client_secret"),
        "{}",
        e.message
    );
    assert!(!e.message.contains("wrong-secret-value"));

    let mut sink = VecSink::default();
    let from = utc(2024, 5, 1, 0, 0, 0);
    let e = kind()
        .fetch(
            &client,
            &bad,
            &Window::new(from, from + chrono::Duration::days(1)),
            &mut sink,
        )
        .await
        .unwrap_err();
    assert_eq!(e.category, ErrorCategory::Auth);
    assert!(activity_queries(&fake).len() == 1, "only validate's page");
}
