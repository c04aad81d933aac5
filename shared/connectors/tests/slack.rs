//! The `slack` data kind against the Slack fake (tests/fakes).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use attest_connectors::{
    data_kind, Credentials, DataKind, Endpoints, ErrorCategory, HttpClient, VecSink, Window,
};
use attest_fakes::SlackFake;
use chrono::{DateTime, Utc};

fn kind() -> &'static dyn DataKind {
    data_kind("slack").unwrap()
}

fn client(fake: &SlackFake) -> HttpClient {
    HttpClient::new(
        Endpoints::for_tests("http://127.0.0.1:1/v2", "http://127.0.0.1:1")
            .with_slack(&format!("{}/api", fake.url())),
    )
    .with_backoff(Duration::from_millis(10))
}

fn creds(token: &str) -> Credentials {
    Credentials(BTreeMap::from([("bot_token".to_owned(), token.to_owned())]))
}

fn at(secs: f64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros((secs * 1e6).round() as i64).unwrap()
}

/// A day ago, on a whole second.
fn base() -> f64 {
    (Utc::now().timestamp() - 86_400) as f64
}

/// History calls for `channel`.
fn history_calls(fake: &SlackFake, channel: &str) -> usize {
    fake.requests()
        .iter()
        .filter(|r| {
            r.path.starts_with("/api/conversations.history?")
                && r.path.contains(&format!("channel={channel}&"))
        })
        .count()
}

#[tokio::test]
async fn every_message_of_the_window_arrives_once_in_pages_with_its_authors_email() {
    let fake = SlackFake::start().await;
    fake.add_user("U0ANN", "ann", Some("Ann@Example.COM"));
    fake.add_user("U0BOB", "bob", None);
    fake.add_user("U0CAROL", "carol", Some("carol@example.com"));
    fake.delete_user("U0CAROL");
    fake.add_bot_user("U0DEPLOY", "deploybot");
    // enough people for users.list to page (limit 200)
    for i in 0..450 {
        fake.add_user(
            &format!("U1{i:05}"),
            &format!("filler{i}"),
            Some(&format!("filler{i}@example.com")),
        );
    }
    fake.add_channel("C0GENERAL", "general", true, false);
    fake.add_channel("C0SECRET", "secret", true, true);
    fake.add_channel("C0RANDOM", "random", false, false);
    // private channels the bot is not in: invisible, and they leave conversations.list pages
    // empty (filters apply after the page is cut)
    for i in 0..450 {
        fake.add_channel(&format!("C1{i:05}"), &format!("hidden-{i}"), false, true);
    }
    fake.add_channel("C9LAST", "last", true, false);

    let t0 = base();
    let window = Window::new(at(t0), at(t0 + 700.0));
    let mut expected: HashMap<String, (Option<&str>, Option<&str>)> = HashMap::new();
    let authors = ["U0ANN", "U0BOB", "U0CAROL"];
    let emails = [Some("ann@example.com"), None, None];
    for (i, ts) in fake
        .post_many("C0GENERAL", &authors, t0, 1.0, 598)
        .into_iter()
        .enumerate()
    {
        expected.insert(
            format!("C0GENERAL:{ts}"),
            (Some(authors[i % 3]), emails[i % 3]),
        );
    }
    for ts in fake.post_many("C0SECRET", &["U0ANN"], t0 + 0.5, 1.5, 400) {
        expected.insert(
            format!("C0SECRET:{ts}"),
            (Some("U0ANN"), Some("ann@example.com")),
        );
    }
    let ts = fake.post_bot("C0GENERAL", "B0DEPLOY", t0 + 650.25, "deployed v1.2");
    expected.insert(format!("C0GENERAL:{ts}"), (Some("B0DEPLOY"), None));
    let ts = fake.post("C9LAST", "U0ANN", t0 + 699.999_999, "last one in");
    expected.insert(
        format!("C9LAST:{ts}"),
        (Some("U0ANN"), Some("ann@example.com")),
    );
    assert_eq!(expected.len(), 1000);
    // outside the window: before it, at its (exclusive) end, after it; in the public channel the
    // bot is not in
    fake.post("C0GENERAL", "U0ANN", t0 - 0.000_001, "too early");
    fake.post("C0GENERAL", "U0ANN", t0 + 700.0, "at the end");
    fake.post("C0SECRET", "U0ANN", t0 + 5_000.0, "too late");
    fake.post("C0RANDOM", "U0ANN", t0 + 10.0, "not for the bot");

    let mut sink = VecSink::default();
    let report = kind()
        .fetch(&client(&fake), &creds(fake.bot_token()), &window, &mut sink)
        .await
        .unwrap();

    assert_eq!(report.fetched, 1000);
    assert_eq!(sink.records.len(), 1000);
    let ids: HashSet<&str> = sink.records.iter().map(|r| r.source_id.as_str()).collect();
    assert_eq!(ids.len(), 1000, "a message arrived twice");
    for r in &sink.records {
        let Some((user, email)) = expected.get(&r.source_id) else {
            panic!("unexpected record {} {:?}", r.source_id, r.text);
        };
        assert_eq!(r.external_user.as_deref(), *user, "{}", r.source_id);
        assert_eq!(r.email.as_deref(), *email, "{}", r.source_id);
        assert_eq!(r.kind, "message");
        assert!(window.contains(r.at), "{} at {}", r.source_id, r.at);
        let (channel, ts) = r.source_id.split_once(':').unwrap();
        assert_eq!(r.data["channel"], channel);
        assert_eq!(r.data["ts"], ts);
        assert!(!r.data.to_string().contains(fake.bot_token()));
    }
    let bot = sink
        .records
        .iter()
        .find(|r| r.text == "deployed v1.2")
        .unwrap();
    assert_eq!(bot.data["subtype"], "bot_message");
    assert_eq!(bot.container.as_deref(), Some("#general"));
    let secret = sink
        .records
        .iter()
        .find(|r| r.source_id.starts_with("C0SECRET:"))
        .unwrap();
    assert_eq!(secret.container.as_deref(), Some("#secret"));
    assert_eq!(secret.data["private"], true);

    // the channel the bot is not in: an error of that channel, not read at all
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert_eq!(report.errors[0].category, ErrorCategory::Permission);
    assert!(
        report.errors[0].message.contains("#random (C0RANDOM)"),
        "{}",
        report.errors[0].message
    );
    assert_eq!(history_calls(&fake, "C0RANDOM"), 0);

    // page by page: 598+1 → 3 pages, 400 → 2 pages, 1 → 1 page; none larger than the limit
    assert!(sink.pages >= 6, "{} pages", sink.pages);
    assert!(sink.largest_page <= 200, "{}", sink.largest_page);
    assert!(fake.calls("users.list") >= 3);
    assert!(fake.calls("conversations.list") >= 3);
    assert_eq!(report.stats.retries, 0);
    assert_eq!(report.stats.requests as usize, fake.requests().len());
    // the token travels in the header only
    assert!(fake.requests().iter().all(|r| r.bearer));
    assert!(fake
        .requests()
        .iter()
        .all(|r| !r.path.contains(fake.bot_token())));
}

#[tokio::test]
async fn a_channel_slack_refuses_is_an_error_of_that_channel_only() {
    let fake = SlackFake::start().await;
    fake.add_user("U0ANN", "ann", Some("ann@example.com"));
    fake.add_channel("C0GENERAL", "general", true, false);
    fake.add_channel("C0SECRET", "secret", true, true);
    // private channels are listed (groups:read) but not readable (no groups:history)
    fake.set_scopes(&[
        "channels:read",
        "groups:read",
        "channels:history",
        "users:read",
        "users:read.email",
    ]);
    let t0 = base();
    fake.post_many("C0GENERAL", &["U0ANN"], t0, 1.0, 10);
    fake.post_many("C0SECRET", &["U0ANN"], t0, 1.0, 10);
    let mut sink = VecSink::default();
    let report = kind()
        .fetch(
            &client(&fake),
            &creds(fake.bot_token()),
            &Window::new(at(t0), at(t0 + 100.0)),
            &mut sink,
        )
        .await
        .unwrap();
    assert_eq!(report.fetched, 10);
    assert!(sink
        .records
        .iter()
        .all(|r| r.source_id.starts_with("C0GENERAL:")));
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    let e = &report.errors[0];
    assert_eq!(e.category, ErrorCategory::Permission);
    assert!(
        e.message.contains("#secret (C0SECRET)") && e.message.contains("groups:history"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn missing_list_scopes_leave_out_what_they_cover_and_say_so() {
    let fake = SlackFake::start().await;
    fake.add_user("U0ANN", "ann", Some("ann@example.com"));
    fake.add_channel("C0GENERAL", "general", true, false);
    fake.add_channel("C0SECRET", "secret", true, true);
    fake.set_scopes(&["channels:read", "channels:history"]);
    let t0 = base();
    fake.post_many("C0GENERAL", &["U0ANN"], t0, 1.0, 5);
    fake.post_many("C0SECRET", &["U0ANN"], t0, 1.0, 5);
    let mut sink = VecSink::default();
    let report = kind()
        .fetch(
            &client(&fake),
            &creds(fake.bot_token()),
            &Window::new(at(t0), at(t0 + 100.0)),
            &mut sink,
        )
        .await
        .unwrap();
    assert_eq!(report.fetched, 5);
    assert!(sink
        .records
        .iter()
        .all(|r| r.email.is_none() && r.external_user.as_deref() == Some("U0ANN")));
    let messages: Vec<&str> = report.errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(report.errors.len(), 2, "{messages:?}");
    assert!(report
        .errors
        .iter()
        .all(|e| e.category == ErrorCategory::Permission));
    assert!(
        messages[0].starts_with("private channels are not imported")
            && messages[0].contains("groups:read"),
        "{messages:?}"
    );
    assert!(
        messages[1].starts_with("e-mails of message authors are not known")
            && messages[1].contains("users:read"),
        "{messages:?}"
    );
}

#[tokio::test]
async fn rate_limits_are_waited_for() {
    let fake = SlackFake::start().await;
    fake.add_user("U0ANN", "ann", Some("ann@example.com"));
    fake.add_channel("C0GENERAL", "general", true, false);
    let t0 = base();
    fake.post_many("C0GENERAL", &["U0ANN"], t0, 1.0, 250);
    fake.rate_limit_next("conversations.history", 2, 1);
    fake.rate_limit_next("users.list", 1, 1);
    let start = Instant::now();
    let mut sink = VecSink::default();
    let report = kind()
        .fetch(
            &client(&fake),
            &creds(fake.bot_token()),
            &Window::new(at(t0), at(t0 + 1000.0)),
            &mut sink,
        )
        .await
        .unwrap();
    assert!(
        start.elapsed() >= Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.fetched, 250);
    assert_eq!(report.stats.retries, 3);
    let statuses: Vec<u16> = fake
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/api/conversations.history"))
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [429, 429, 200, 200]);
}

#[tokio::test]
async fn a_rate_limit_that_outlasts_the_retries_stops_the_run_and_names_what_is_left() {
    let fake = SlackFake::start().await;
    fake.add_user("U0ANN", "ann", Some("ann@example.com"));
    fake.add_channel("C0A", "alpha", true, false);
    fake.add_channel("C0B", "beta", true, false);
    let t0 = base();
    fake.post_many("C0A", &["U0ANN"], t0, 1.0, 3);
    fake.post_many("C0B", &["U0ANN"], t0, 1.0, 3);
    fake.rate_limit_next("conversations.history", 4, 0);
    let mut sink = VecSink::default();
    let report = kind()
        .fetch(
            &client(&fake),
            &creds(fake.bot_token()),
            &Window::new(at(t0), at(t0 + 100.0)),
            &mut sink,
        )
        .await
        .unwrap();
    assert_eq!(report.fetched, 0);
    assert_eq!(report.errors.len(), 2, "{:?}", report.errors);
    assert!(report
        .errors
        .iter()
        .all(|e| e.category == ErrorCategory::RateLimit));
    assert!(report.errors[0].message.starts_with("#alpha (C0A): "));
    assert!(
        report.errors[1].message.contains("#beta (C0B)"),
        "{}",
        report.errors[1].message
    );
    assert_eq!(history_calls(&fake, "C0B"), 0);
}

#[tokio::test]
async fn a_revoked_token_fails_the_run_with_auth() {
    let fake = SlackFake::start().await;
    fake.add_channel("C0GENERAL", "general", true, false);
    fake.revoke_token();
    let mut sink = VecSink::default();
    let e = kind()
        .fetch(
            &client(&fake),
            &creds(fake.bot_token()),
            &Window::new(at(base()), at(base() + 10.0)),
            &mut sink,
        )
        .await
        .unwrap_err();
    assert_eq!(e.category, ErrorCategory::Auth);
    assert!(e.message.contains("token_revoked"), "{}", e.message);
    assert!(!e.message.contains(fake.bot_token()));
    assert_eq!(sink.pages, 0);
    assert_eq!(fake.calls("conversations.history"), 0);
}

#[tokio::test]
async fn validate_names_the_workspace_or_the_problem() {
    let fake = SlackFake::start().await;
    let client = client(&fake);
    let detail = kind()
        .validate(&client, &creds(fake.bot_token()))
        .await
        .unwrap();
    assert_eq!(
        detail,
        format!(
            "signed in to Slack workspace Attest Test Workspace ({}) as attest",
            fake.team_id()
        )
    );
    assert_eq!(fake.calls("auth.test"), 1);

    let e = kind()
        .validate(&client, &creds("xoxb-1-2-not-the-token"))
        .await
        .unwrap_err();
    assert_eq!(e.category, ErrorCategory::Auth);
    assert!(
        e.message.contains("invalid_auth") && e.message.contains("check bot_token"),
        "{}",
        e.message
    );
    assert!(!e.message.contains("not-the-token"));

    // not a bot token: refused before any request
    let e = kind()
        .validate(&client, &creds("xoxp-a-user-token"))
        .await
        .unwrap_err();
    assert_eq!(e.category, ErrorCategory::Auth);
    assert!(e.message.starts_with("bot_token:"), "{}", e.message);
    assert_eq!(fake.calls("auth.test"), 2);

    fake.revoke_token();
    let e = kind()
        .validate(&client, &creds(fake.bot_token()))
        .await
        .unwrap_err();
    assert_eq!(e.category, ErrorCategory::Auth);
    assert!(e.message.contains("token_revoked"), "{}", e.message);
}

#[tokio::test]
async fn plain_http_is_refused_without_loopback_allowed() {
    let fake = SlackFake::start().await;
    let strict = HttpClient::new(
        Endpoints::new("https://api.zoom.us/v2", "https://zoom.us", false)
            .with_slack(&format!("{}/api", fake.url())),
    );
    let e = kind()
        .validate(&strict, &creds(fake.bot_token()))
        .await
        .unwrap_err();
    assert_eq!(e.category, ErrorCategory::SourceUnavailable);
    assert!(fake.requests().is_empty());
}
