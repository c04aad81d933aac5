//! The Slack fake as a plain HTTP client sees it.

use std::collections::HashSet;
use std::time::Instant;

use attest_fakes::SlackFake;
use serde_json::Value;

const T0: f64 = 1_700_000_000.0;

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

fn encode(params: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        s.append_pair(k, v);
    }
    s.finish()
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

/// `GET /api/<method>?<params>` with the token (if any) as a bearer token.
async fn get(s: &SlackFake, method: &str, token: Option<&str>, params: &[(&str, &str)]) -> Answer {
    let mut url = format!("{}/api/{method}", s.url());
    if !params.is_empty() {
        url = format!("{url}?{}", encode(params));
    }
    let mut req = client().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

/// `POST /api/<method>` with a URL-encoded body and the token as a bearer token.
async fn post(s: &SlackFake, method: &str, params: &[(&str, &str)]) -> Answer {
    let resp = client()
        .post(format!("{}/api/{method}", s.url()))
        .bearer_auth(s.bot_token())
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(encode(params))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

async fn call(s: &SlackFake, method: &str, params: &[(&str, &str)]) -> Value {
    let a = get(s, method, Some(s.bot_token()), params).await;
    assert_eq!(a.status, 200, "{method} {params:?}: {}", a.body);
    a.body
}

fn next_cursor(body: &Value) -> String {
    body["response_metadata"]["next_cursor"]
        .as_str()
        .expect("response_metadata.next_cursor is a string")
        .to_owned()
}

fn ids(items: &Value) -> Vec<String> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

fn tss(body: &Value) -> Vec<String> {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["ts"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn auth_test_good_bad_and_revoked() {
    let s = SlackFake::start().await;
    assert!(s.bot_token().starts_with("xoxb-"));

    let a = get(&s, "auth.test", Some(s.bot_token()), &[]).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["ok"], true);
    assert_eq!(a.body["team_id"], s.team_id());
    assert_eq!(a.body["user_id"], s.bot_user_id());
    assert_eq!(a.body["bot_id"], s.bot_id());
    assert!(a.body["url"].as_str().unwrap().starts_with("https://"));
    assert!(a.body["team"].is_string() && a.body["user"].is_string());

    // The token as a POST parameter is accepted too.
    let resp = client()
        .post(format!("{}/api/auth.test", s.url()))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(encode(&[("token", s.bot_token())]))
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["ok"], true);

    // Errors are HTTP 200 with ok:false.
    let a = get(&s, "auth.test", None, &[]).await;
    assert_eq!((a.status, a.body["ok"].clone()), (200, Value::Bool(false)));
    assert_eq!(a.body["error"], "not_authed");
    let a = get(&s, "auth.test", Some("xoxb-1-2-nope"), &[]).await;
    assert_eq!(
        (a.status, a.body["error"].clone()),
        (200, "invalid_auth".into())
    );
    // "Tokens cannot be sent as a query parameter."
    let a = get(&s, "auth.test", None, &[("token", s.bot_token())]).await;
    assert_eq!(a.body["error"], "not_authed");

    s.revoke_token();
    let a = get(&s, "auth.test", Some(s.bot_token()), &[]).await;
    assert_eq!(
        (a.status, a.body["error"].clone()),
        (200, "token_revoked".into())
    );
    let a = get(&s, "users.list", Some(s.bot_token()), &[]).await;
    assert_eq!(a.body["error"], "token_revoked");

    assert_eq!(s.calls("auth.test"), 6);
    let reqs = s.requests();
    assert_eq!(reqs.len(), 7);
    assert!(reqs[0].bearer && reqs[0].path == "/api/auth.test");
    assert!(!reqs[2].bearer);
}

#[tokio::test]
async fn conversations_list_pages_with_limit_2() {
    let s = SlackFake::start().await;
    s.add_channel("C01", "general", true, false);
    s.add_channel("C02", "random", false, false);
    s.add_channel("C03", "secret", true, true);
    s.add_channel("C04", "hidden", false, true); // private, bot not in it: invisible
    s.add_channel("C05", "old", true, false);
    s.archive_channel("C05");
    s.add_channel("G06", "legacy-private", true, true);

    // Default types: public channels only.
    let body = call(&s, "conversations.list", &[]).await;
    assert_eq!(ids(&body["channels"]), ["C01", "C02", "C05"]);
    assert_eq!(next_cursor(&body), "");

    let types = "public_channel,private_channel";
    let mut seen = Vec::new();
    let mut page_sizes = Vec::new();
    let mut cursor = String::new();
    loop {
        let mut params = vec![("types", types), ("limit", "2")];
        if !cursor.is_empty() {
            params.push(("cursor", cursor.as_str()));
        }
        let body = call(&s, "conversations.list", &params).await;
        assert_eq!(body["ok"], true);
        let page = ids(&body["channels"]);
        page_sizes.push(page.len());
        seen.extend(page);
        cursor = next_cursor(&body);
        if cursor.is_empty() {
            break;
        }
    }
    assert_eq!(seen, ["C01", "C02", "C03", "C05", "G06"]);
    // Filters apply after each virtual page of 2: the page holding the invisible C04 is short.
    assert_eq!(page_sizes, [2, 1, 2]);

    let body = call(
        &s,
        "conversations.list",
        &[("types", types), ("limit", "100")],
    )
    .await;
    let by_id = |id: &str| {
        body["channels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()
            .clone()
    };
    let general = by_id("C01");
    assert_eq!(general["name"], "general");
    assert_eq!(general["is_channel"], true);
    assert_eq!(general["is_private"], false);
    assert_eq!(general["is_member"], true);
    assert_eq!(general["is_archived"], false);
    assert!(general["created"].as_i64().unwrap() > 1_600_000_000);
    assert_eq!(by_id("C02")["is_member"], false);
    assert_eq!(by_id("C03")["is_private"], true);
    assert_eq!(by_id("C05")["is_archived"], true);
    let legacy = by_id("G06");
    assert_eq!(
        (legacy["is_channel"].clone(), legacy["is_group"].clone()),
        (false.into(), true.into())
    );

    let body = call(
        &s,
        "conversations.list",
        &[("types", types), ("exclude_archived", "true")],
    )
    .await;
    assert_eq!(ids(&body["channels"]), ["C01", "C02", "C03", "G06"]);

    let body = call(&s, "conversations.list", &[("types", "channels")]).await;
    assert_eq!(body["error"], "invalid_types");
    let body = call(&s, "conversations.list", &[("limit", "lots")]).await;
    assert_eq!(body["error"], "invalid_limit");

    // A cursor belongs to its query.
    let first = call(
        &s,
        "conversations.list",
        &[("types", types), ("limit", "2")],
    )
    .await;
    let c = next_cursor(&first);
    let other = call(&s, "conversations.list", &[("limit", "2"), ("cursor", &c)]).await;
    assert_eq!(other["error"], "invalid_cursor");
}

#[tokio::test]
async fn history_is_newest_first_and_pages_to_the_end() {
    let s = SlackFake::start().await;
    s.add_channel("C1", "general", true, false);
    let posted = s.post_many("C1", &["U1", "U2"], T0, 1.0, 25);
    assert_eq!(posted[0], "1700000000.000000");
    assert_eq!(posted[24], "1700000024.000000");

    let mut all = Vec::new();
    let mut has_more = Vec::new();
    let mut cursor = String::new();
    loop {
        let mut params = vec![("channel", "C1"), ("limit", "10")];
        if !cursor.is_empty() {
            params.push(("cursor", cursor.as_str()));
        }
        // Alternate GET and POST: both carry arguments.
        let body = if all.len() % 20 == 0 {
            call(&s, "conversations.history", &params).await
        } else {
            post(&s, "conversations.history", &params).await.body
        };
        assert_eq!(body["ok"], true, "{body}");
        assert_eq!(body["pin_count"], 0);
        all.extend(tss(&body));
        has_more.push(body["has_more"].as_bool().unwrap());
        cursor = next_cursor(&body);
        if !body["has_more"].as_bool().unwrap() {
            assert_eq!(cursor, "", "empty next_cursor on the last page");
            break;
        }
        assert!(!cursor.is_empty());
    }
    assert_eq!(has_more, [true, true, false]);
    let mut expected = posted.clone();
    expected.reverse();
    assert_eq!(all, expected, "newest first, every message once");

    let body = call(
        &s,
        "conversations.history",
        &[("channel", "C1"), ("limit", "1")],
    )
    .await;
    let m = &body["messages"][0];
    assert_eq!(m["type"], "message");
    assert_eq!(m["user"], "U1");
    assert_eq!(m["text"], "message 24");
    assert_eq!(m["ts"], "1700000024.000000");

    // Default limit is 100, and a limit above 999 is brought down to it.
    s.post_many("C1", &["U3"], T0 + 100.0, 0.001, 1200);
    let body = call(&s, "conversations.history", &[("channel", "C1")]).await;
    assert_eq!(body["messages"].as_array().unwrap().len(), 100);
    let body = call(
        &s,
        "conversations.history",
        &[("channel", "C1"), ("limit", "5000")],
    )
    .await;
    assert_eq!(body["messages"].as_array().unwrap().len(), 999);
    assert_eq!(body["has_more"], true);
}

#[tokio::test]
async fn history_oldest_latest_and_inclusive_bounds() {
    let s = SlackFake::start().await;
    s.add_channel("C1", "general", true, false);
    let ts = s.post_many("C1", &["U1"], T0, 10.0, 5); // T0, T0+10, ..., T0+40
    let (a, b) = (ts[1].as_str(), ts[3].as_str());

    let body = call(
        &s,
        "conversations.history",
        &[("channel", "C1"), ("oldest", a), ("latest", b)],
    )
    .await;
    assert_eq!(tss(&body), [ts[2].as_str()], "bounds are exclusive");
    assert_eq!(body["latest"], b, "a given latest is echoed");

    let body = call(
        &s,
        "conversations.history",
        &[
            ("channel", "C1"),
            ("oldest", a),
            ("latest", b),
            ("inclusive", "true"),
        ],
    )
    .await;
    assert_eq!(tss(&body), [b, ts[2].as_str(), a]);

    let body = call(
        &s,
        "conversations.history",
        &[("channel", "C1"), ("oldest", a)],
    )
    .await;
    assert_eq!(tss(&body), [ts[4].as_str(), ts[3].as_str(), ts[2].as_str()]);
    let body = call(
        &s,
        "conversations.history",
        &[("channel", "C1"), ("latest", "1700000010")],
    )
    .await;
    assert_eq!(tss(&body), [ts[0].as_str()]);

    // "Retrieving a single message": latest = its ts, inclusive, limit 1.
    let body = call(
        &s,
        "conversations.history",
        &[
            ("channel", "C1"),
            ("latest", b),
            ("inclusive", "1"),
            ("limit", "1"),
        ],
    )
    .await;
    assert_eq!(tss(&body), [b]);
    assert_eq!(body["has_more"], true);

    // Bounds combine with cursors.
    let first = call(
        &s,
        "conversations.history",
        &[
            ("channel", "C1"),
            ("oldest", "0"),
            ("latest", b),
            ("inclusive", "true"),
            ("limit", "2"),
        ],
    )
    .await;
    assert_eq!(tss(&first), [b, ts[2].as_str()]);
    let c = next_cursor(&first);
    let second = call(
        &s,
        "conversations.history",
        &[
            ("channel", "C1"),
            ("oldest", "0"),
            ("latest", b),
            ("inclusive", "true"),
            ("limit", "2"),
            ("cursor", &c),
        ],
    )
    .await;
    assert_eq!(tss(&second), [a, ts[0].as_str()]);
    assert_eq!(
        (second["has_more"].clone(), next_cursor(&second)),
        (false.into(), String::new())
    );
    // ... and only with the query they came from.
    let other = call(
        &s,
        "conversations.history",
        &[("channel", "C1"), ("limit", "2"), ("cursor", &c)],
    )
    .await;
    assert_eq!(other["error"], "invalid_cursor");

    let body = call(
        &s,
        "conversations.history",
        &[("channel", "C1"), ("oldest", "yesterday")],
    )
    .await;
    assert_eq!(body["error"], "invalid_ts_oldest");
    let body = call(
        &s,
        "conversations.history",
        &[("channel", "C1"), ("latest", "-5")],
    )
    .await;
    assert_eq!(body["error"], "invalid_ts_latest");
    let body = call(
        &s,
        "conversations.history",
        &[("channel", "C1"), ("cursor", "bm9wZQ==")],
    )
    .await;
    assert_eq!(body["error"], "invalid_cursor");

    // Cursors expire.
    s.expire_cursors();
    let body = call(
        &s,
        "conversations.history",
        &[
            ("channel", "C1"),
            ("oldest", "0"),
            ("latest", b),
            ("inclusive", "true"),
            ("limit", "2"),
            ("cursor", &c),
        ],
    )
    .await;
    assert_eq!(body["error"], "invalid_cursor");
}

#[tokio::test]
async fn history_needs_the_bot_in_the_channel() {
    let s = SlackFake::start().await;
    s.add_channel("C1", "public-out", false, false);
    s.add_channel("C2", "private-out", false, true);
    s.add_channel("C3", "private-in", true, true);
    s.post("C1", "U1", T0, "hello");
    s.post("C3", "U1", T0, "psst");

    let body = call(&s, "conversations.history", &[("channel", "C1")]).await;
    assert_eq!(
        (body["ok"].clone(), body["error"].clone()),
        (false.into(), "not_in_channel".into())
    );
    let body = call(&s, "conversations.history", &[("channel", "C2")]).await;
    assert_eq!(body["error"], "channel_not_found");
    let body = call(&s, "conversations.history", &[("channel", "C404")]).await;
    assert_eq!(body["error"], "channel_not_found");
    let body = call(&s, "conversations.history", &[("channel", "C3")]).await;
    assert_eq!(tss(&body), ["1700000000.000000"]);

    s.set_member("C1", true);
    let body = call(&s, "conversations.history", &[("channel", "C1")]).await;
    assert_eq!(body["messages"][0]["text"], "hello");
}

#[tokio::test]
async fn history_message_shapes() {
    let s = SlackFake::start().await;
    s.add_channel("C1", "general", true, false);
    let first = s.post("C1", "U1", T0 + 0.0001, "parent");
    assert_eq!(first, "1700000000.000100");
    let dup = s.post("C1", "U2", T0 + 0.0001, "same instant");
    assert_eq!(dup, "1700000000.000101", "a ts is unique per channel");
    let bot = s.post_bot("C1", "B42", T0 + 5.0, "deploy done");
    s.edit("C1", &dup, "same instant (edited)", T0 + 60.0);
    s.reply("C1", &first, "U2", T0 + 10.0, "a reply");
    s.reply("C1", &first, "U3", T0 + 11.0, "another");
    s.reply("C1", &first, "U2", T0 + 12.0, "a third");
    assert_eq!(s.message_count("C1"), 3);

    let body = call(&s, "conversations.history", &[("channel", "C1")]).await;
    let msgs = body["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 3, "thread replies are not in the history");

    let b = &msgs[0];
    assert_eq!(b["ts"], bot);
    assert_eq!(b["subtype"], "bot_message");
    assert_eq!(b["bot_id"], "B42");
    assert!(b.get("user").is_none());

    let e = &msgs[1];
    assert_eq!(e["text"], "same instant (edited)");
    assert_eq!(e["edited"]["user"], "U2");
    assert_eq!(e["edited"]["ts"], "1700000060.000000");
    assert!(e.get("thread_ts").is_none());

    let p = &msgs[2];
    assert_eq!(p["thread_ts"], first);
    assert_eq!(p["reply_count"], 3);
    assert_eq!(p["reply_users_count"], 2);
    assert_eq!(p["latest_reply"], "1700000012.000000");
    assert_eq!(p["reply_users"], serde_json::json!(["U2", "U3"]));
    assert!(p.get("subtype").is_none() && p.get("edited").is_none());
}

#[tokio::test]
async fn users_list_pages_and_shows_deleted_bots_and_missing_emails() {
    let s = SlackFake::start().await;
    s.add_user("U01", "alice", Some("alice@example.com"));
    s.add_user("U02", "bob", None);
    s.add_user("U03", "carol", Some("carol@example.com"));
    s.delete_user("U03");
    s.add_bot_user("U04", "deploybot");

    let mut members = Vec::new();
    let mut pages = 0;
    let mut cursor = String::new();
    loop {
        let mut params = vec![("limit", "2")];
        if !cursor.is_empty() {
            params.push(("cursor", cursor.as_str()));
        }
        let body = call(&s, "users.list", &params).await;
        assert_eq!(body["ok"], true);
        assert!(body["cache_ts"].is_i64());
        let page = body["members"].as_array().unwrap().clone();
        assert!(page.len() <= 2);
        members.extend(page);
        pages += 1;
        cursor = next_cursor(&body);
        if cursor.is_empty() {
            break;
        }
    }
    // The four added, plus Slackbot and the app's own bot user, as a real workspace lists them.
    assert_eq!(members.len(), 6);
    assert_eq!(pages, 3);
    let unique: HashSet<_> = members.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(unique.len(), 6);
    let find = |id: &str| members.iter().find(|m| m["id"] == id).unwrap().clone();

    let alice = find("U01");
    assert_eq!(alice["name"], "alice");
    assert_eq!(alice["deleted"], false);
    assert_eq!(alice["is_bot"], false);
    assert_eq!(alice["profile"]["email"], "alice@example.com");
    assert_eq!(alice["team_id"], s.team_id());
    assert!(alice["real_name"].is_string());

    assert!(
        find("U02")["profile"].get("email").is_none(),
        "no email field at all"
    );
    let carol = find("U03");
    assert_eq!(carol["deleted"], true);
    let bot = find("U04");
    assert_eq!(bot["is_bot"], true);
    assert!(bot["profile"].get("email").is_none());
    let slackbot = find("USLACKBOT");
    assert_eq!(
        slackbot["is_bot"], false,
        "Slackbot is not flagged as a bot"
    );
    assert_eq!(find(s.bot_user_id())["is_bot"], true);

    // No limit: the whole set at once.
    let body = call(&s, "users.list", &[]).await;
    assert_eq!(body["members"].as_array().unwrap().len(), 6);
    assert_eq!(next_cursor(&body), "");

    let body = call(&s, "users.list", &[("cursor", "dXNlcjpVMDYxTkZUVDI=")]).await;
    assert_eq!(body["error"], "invalid_cursor");

    // Without users:read.email nobody has an email.
    s.set_scopes(&["users:read"]);
    let body = call(&s, "users.list", &[]).await;
    assert!(body["members"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["profile"].get("email").is_none()));
}

#[tokio::test]
async fn rate_limit_holds_one_method_and_not_the_others() {
    let s = SlackFake::start().await;
    s.add_channel("C1", "general", true, false);
    s.post("C1", "U1", T0, "hi");
    s.rate_limit_next("conversations.history", 2, 30);

    for _ in 0..2 {
        let a = get(
            &s,
            "conversations.history",
            Some(s.bot_token()),
            &[("channel", "C1")],
        )
        .await;
        assert_eq!(a.status, 429);
        assert_eq!(a.headers["retry-after"], "30");
        assert_eq!(a.body["ok"], false);
        assert_eq!(a.body["error"], "ratelimited");
        // Another method is not held up.
        let b = get(&s, "users.list", Some(s.bot_token()), &[("limit", "10")]).await;
        assert_eq!((b.status, b.body["ok"].clone()), (200, true.into()));
    }
    let a = get(
        &s,
        "conversations.history",
        Some(s.bot_token()),
        &[("channel", "C1")],
    )
    .await;
    assert_eq!((a.status, a.body["ok"].clone()), (200, true.into()));
    assert_eq!(s.calls("conversations.history"), 3);
    assert_eq!(s.calls("users.list"), 2);
    let statuses: Vec<u16> = s.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 200, 429, 200, 200]);
}

#[tokio::test]
async fn tier_limits_when_enforced() {
    let s = SlackFake::start().await;
    s.enforce_tier_limits(true);
    for i in 0..20 {
        let a = get(&s, "conversations.list", Some(s.bot_token()), &[]).await;
        assert_eq!(a.status, 200, "call {i} of a Tier 2 method");
    }
    let a = get(&s, "conversations.list", Some(s.bot_token()), &[]).await;
    assert_eq!(a.status, 429);
    let wait: u64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    let b = get(&s, "users.list", Some(s.bot_token()), &[]).await;
    assert_eq!(b.status, 200, "users.list has its own budget");
}

#[tokio::test]
async fn missing_scope_names_needed_and_provided() {
    let s = SlackFake::start().await;
    s.add_channel("C1", "general", true, false);
    s.set_scopes(&["channels:read", "users:read"]);

    let body = call(&s, "conversations.history", &[("channel", "C1")]).await;
    assert_eq!(body["ok"], false);
    assert_eq!(body["error"], "missing_scope");
    assert_eq!(body["needed"], "channels:history");
    assert_eq!(body["provided"], "channels:read,users:read");

    let body = call(
        &s,
        "conversations.list",
        &[("types", "public_channel,private_channel")],
    )
    .await;
    assert_eq!(
        (body["error"].clone(), body["needed"].clone()),
        ("missing_scope".into(), "groups:read".into())
    );
    let body = call(&s, "conversations.list", &[]).await;
    assert_eq!(body["ok"], true);
    let body = call(&s, "auth.test", &[]).await;
    assert_eq!(body["ok"], true, "auth.test needs no scope");
}

#[tokio::test]
async fn request_forms_and_unknown_methods() {
    let s = SlackFake::start().await;
    s.add_channel("C1", "general", true, false);
    s.post("C1", "U1", T0, "hi");

    // JSON body with the token in the header.
    let resp = client()
        .post(format!("{}/api/conversations.history", s.url()))
        .bearer_auth(s.bot_token())
        .json(&serde_json::json!({"channel": "C1", "limit": 5}))
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["messages"][0]["text"], "hi");

    let resp = client()
        .post(format!("{}/api/auth.test", s.url()))
        .bearer_auth(s.bot_token())
        .body("channel=C1")
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "missing_post_type");

    let resp = client()
        .post(format!("{}/api/auth.test", s.url()))
        .bearer_auth(s.bot_token())
        .header("Content-Type", "application/json")
        .body("[1]")
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "json_not_object");

    let a = get(&s, "chat.postMessage", Some(s.bot_token()), &[]).await;
    assert_eq!(a.status, 404);
    assert_eq!(
        (a.body["error"].clone(), a.body["req_method"].clone()),
        ("unknown_method".into(), "chat.postMessage".into())
    );
}

#[tokio::test]
async fn a_hundred_thousand_messages_fill_and_page_quickly() {
    let s = SlackFake::start().await;
    s.add_channel("C1", "busy", true, false);
    let started = Instant::now();
    let posted = s.post_many("C1", &["U1", "U2", "U3"], T0, 0.5, 100_000);
    let fill = started.elapsed();
    assert_eq!(posted.len(), 100_000);
    assert_eq!(s.message_count("C1"), 100_000);

    let started = Instant::now();
    let mut count = 0;
    let mut pages = 0;
    let mut last: Option<String> = None;
    let mut cursor = String::new();
    loop {
        let mut params = vec![("channel", "C1"), ("limit", "999")];
        if !cursor.is_empty() {
            params.push(("cursor", cursor.as_str()));
        }
        let body = post(&s, "conversations.history", &params).await.body;
        let page = tss(&body);
        if let (Some(prev), Some(first)) = (&last, page.first()) {
            assert!(first < prev, "pages continue newest first");
        }
        last = page.last().cloned();
        count += page.len();
        pages += 1;
        cursor = next_cursor(&body);
        if cursor.is_empty() {
            assert_eq!(body["has_more"], false);
            break;
        }
    }
    assert_eq!(count, 100_000);
    assert_eq!(pages, 101);
    assert_eq!(last.as_deref(), Some(posted[0].as_str()));
    let paging = started.elapsed();
    eprintln!("fill {fill:?}, paging {paging:?}");
    assert!(fill.as_secs() < 5, "fill took {fill:?}");
    assert!(paging.as_secs() < 60, "paging took {paging:?}");
}
