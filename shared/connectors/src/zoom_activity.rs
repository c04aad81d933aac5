//! The `zoom_activity` kind: sign-in and sign-out activity of a Zoom account's users, read with
//! the same Server-to-Server OAuth app credentials as the `zoom` kind ([`crate::zoom`]).
//!
//! Documentation:
//! - "Server-to-Server OAuth" (Zoom Developer docs),
//!   <https://developers.zoom.us/docs/internal-apps/s2s-oauth/>: the token flow of
//!   [`crate::zoom`] (`POST /oauth/token?grant_type=account_credentials&account_id=..`, HTTP
//!   Basic `client_id:client_secret`).
//! - "Get sign In / sign out activity report" (Zoom Meeting API, Reports),
//!   <https://developers.zoom.us/docs/api/accounts/#tag/reports/GET/report/activities>:
//!   `GET /v2/report/activities?from=yyyy-mm-dd&to=yyyy-mm-dd&page_size=..&next_page_token=..`;
//!   scope `report:read:admin`; `page_size` at most 300; "the API only provides one month
//!   worth of data in one request", so a longer window is read in ranges of
//!   [`RANGE_DAYS`] days; `next_page_token` is empty on the last page and expires after 15
//!   minutes; entries `{email, time, type ("Sign in" / "Sign out"), ip_address, client_type,
//!   version}`, newest first.
//! - "Error codes", <https://developers.zoom.us/docs/api/errors/>: 401 code 124 is an invalid
//!   (or expired) access token; 4700/4711 and code 200 (HTTP 400) are missing permissions.
//!
//! Dates are UTC days: a range covers whole days and entries outside the run's window are
//! dropped. Zoom gives an entry no id, so its source id is a hash of (e-mail, time, type, IP
//! address) ([`source_id`]).

use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use reqwest::Url;
use serde_json::{json, Value};

use crate::data::{
    deliver, kind_info, stable_hash, DataKind, FetchReport, RawRecord, RecordSink, Window,
};
use crate::http::HttpClient;
use crate::model::{ConnectorError, Credentials, ErrorCategory, FieldSpec, KindInfo};
use crate::session::Session;
use crate::zoom::{truncate, ZoomAuth};

/// The documented request, for messages.
pub const ACTIVITIES: &str = "GET /v2/report/activities";
/// The largest `page_size` Zoom accepts.
pub const PAGE_SIZE: u32 = 300;
/// Days per request (both ends included): at most a month, whatever the month.
pub const RANGE_DAYS: i64 = 28;

const SCOPE_HINT: &str = "the Server-to-Server OAuth app needs the scope report:read:admin";

pub struct ZoomActivity {
    info: KindInfo,
}

pub(crate) static ZOOM_ACTIVITY: LazyLock<ZoomActivity> = LazyLock::new(|| ZoomActivity {
    info: kind_info(
        "zoom_activity",
        "Zoom sign-in activity",
        "zoom",
        vec![
            FieldSpec {
                name: "account_id",
                secret: false,
                required: true,
                description: "Account ID of the Server-to-Server OAuth app (App Marketplace > \
                              Manage > your app > App Credentials)",
            },
            FieldSpec {
                name: "client_id",
                secret: false,
                required: true,
                description: "Client ID of the Server-to-Server OAuth app",
            },
            FieldSpec {
                name: "client_secret",
                secret: true,
                required: true,
                description: "Client secret of the Server-to-Server OAuth app; the app needs \
                              the scope report:read:admin",
            },
        ],
    ),
});

/// The source id of an activity entry: [`stable_hash`] of the lower-cased e-mail, the time
/// (RFC 3339, seconds, `Z`), the type as Zoom gives it and the IP address.
pub fn source_id(email: &str, at: DateTime<Utc>, kind: &str, ip: &str) -> String {
    stable_hash(&[
        &email.trim().to_lowercase(),
        &at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        kind.trim(),
        ip.trim(),
    ])
}

fn session<'a>(
    client: &'a HttpClient,
    creds: &Credentials,
) -> Result<Session<'a, ZoomAuth>, ConnectorError> {
    Ok(Session::new(
        client,
        ZoomAuth::new(client, creds, SCOPE_HINT)?,
    ))
}

/// The URL of one page.
fn page_url(
    client: &HttpClient,
    from: NaiveDate,
    to: NaiveDate,
    page_size: u32,
    token: &str,
) -> Result<Url, ConnectorError> {
    let endpoints = client.endpoints();
    let mut url = endpoints.check_url(&format!("{}/report/activities", endpoints.zoom_api()))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("from", &from.format("%Y-%m-%d").to_string())
            .append_pair("to", &to.format("%Y-%m-%d").to_string())
            .append_pair("page_size", &page_size.to_string());
        if !token.is_empty() {
            q.append_pair("next_page_token", token);
        }
    }
    Ok(url)
}

/// The UTC date ranges (both ends included, at most [`RANGE_DAYS`] days each) covering the
/// window, oldest first; none for an empty window.
pub fn date_ranges(window: &Window) -> Vec<(NaiveDate, NaiveDate)> {
    if window.to <= window.from {
        return vec![];
    }
    let first = window.from.date_naive();
    let last = (window.to - chrono::Duration::nanoseconds(1)).date_naive();
    let mut out = Vec::new();
    let mut start = first;
    while start <= last {
        let end = (start + chrono::Duration::days(RANGE_DAYS - 1)).min(last);
        out.push((start, end));
        start = end + chrono::Duration::days(1);
    }
    out
}

/// An activity entry as a record: `Ok(None)` outside the window; `Err` when it cannot be
/// read.
fn record(entry: &Value, window: &Window) -> Result<Option<RawRecord>, &'static str> {
    let text = |name: &str| entry.get(name).and_then(Value::as_str).map(str::trim);
    let time = text("time").ok_or("no time")?;
    let at = DateTime::parse_from_rfc3339(time)
        .map_err(|_| "a time that is not RFC 3339")?
        .with_timezone(&Utc);
    if !window.contains(at) {
        return Ok(None);
    }
    let raw_type = text("type").ok_or("no type")?;
    let kind = match raw_type
        .to_ascii_lowercase()
        .replace([' ', '_', '-'], "")
        .as_str()
    {
        "signin" => "sign_in",
        "signout" => "sign_out",
        _ => return Err("a type other than Sign in / Sign out"),
    };
    let email = text("email")
        .filter(|e| !e.is_empty())
        .map(str::to_lowercase);
    let ip = text("ip_address").unwrap_or("");
    let mut data = json!({"type": raw_type, "time": time});
    for field in ["ip_address", "client_type", "version"] {
        if let Some(v) = entry.get(field).filter(|v| !v.is_null()) {
            data[field] = v.clone();
        }
    }
    Ok(Some(RawRecord {
        source_id: source_id(email.as_deref().unwrap_or(""), at, raw_type, ip),
        kind: kind.to_owned(),
        at,
        external_user: email.clone(),
        email,
        container: None,
        text: format!(
            "{}{}",
            if kind == "sign_in" {
                "Signed in to Zoom"
            } else {
                "Signed out of Zoom"
            },
            entry
                .get("client_type")
                .and_then(Value::as_str)
                .filter(|c| !c.is_empty())
                .map(|c| format!(" ({})", truncate(c, 50)))
                .unwrap_or_default()
        ),
        data,
    }))
}

#[async_trait]
impl DataKind for ZoomActivity {
    fn info(&self) -> &KindInfo {
        &self.info
    }

    /// A token, then today's first activity page.
    async fn validate(
        &self,
        client: &HttpClient,
        creds: &Credentials,
    ) -> Result<String, ConnectorError> {
        let mut session = session(client, creds)?;
        let account = session.token().await?.account.clone().unwrap_or_default();
        let today = Utc::now().date_naive();
        let url = page_url(client, today, today, 1, "")?;
        session.get_json(&url, ACTIVITIES).await?;
        Ok(format!("signed in to Zoom account {account}"))
    }

    /// Each date range's pages in turn, each page's entries of the window into the sink. A
    /// range whose page fails is reported and the next range read; an auth error, or a rate
    /// limit or unavailable Zoom outlasting the client's retries, ends the run (`Err` for
    /// auth, or when no page at all could be read).
    async fn fetch(
        &self,
        client: &HttpClient,
        creds: &Credentials,
        window: &Window,
        sink: &mut dyn RecordSink,
    ) -> Result<FetchReport, ConnectorError> {
        let mut session = session(client, creds)?;
        session.token().await?;
        let mut report = FetchReport::default();
        let mut read_any = false;
        'ranges: for (from, to) in date_ranges(window) {
            let mut token = String::new();
            loop {
                let page = match page_url(client, from, to, PAGE_SIZE, &token) {
                    Ok(url) => session.get_json(&url, ACTIVITIES).await,
                    Err(e) => Err(e),
                };
                let body = match page {
                    Ok(body) => body,
                    Err(e) if e.category == ErrorCategory::Auth => return Err(e),
                    Err(e) => {
                        let stop = matches!(
                            e.category,
                            ErrorCategory::RateLimit | ErrorCategory::SourceUnavailable
                        );
                        report.errors.push(ConnectorError::new(
                            e.category,
                            format!("activity of {from} to {to}: {}", e.message),
                        ));
                        if stop {
                            break 'ranges;
                        }
                        continue 'ranges;
                    }
                };
                read_any = true;
                let mut records = Vec::new();
                let mut unreadable: Option<(usize, &str)> = None;
                for entry in body
                    .get("activity_logs")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    match record(entry, window) {
                        Ok(Some(r)) => records.push(r),
                        Ok(None) => {}
                        Err(why) => {
                            let n = unreadable.map_or(0, |(n, _)| n);
                            unreadable = Some((n + 1, why));
                        }
                    }
                }
                if let Some((n, why)) = unreadable {
                    report.errors.push(ConnectorError::bad_record(format!(
                        "activity of {from} to {to}: {n} entr{} skipped (e.g. {why})",
                        if n == 1 { "y" } else { "ies" }
                    )));
                }
                deliver(sink, &mut report, records).await?;
                let next = body
                    .get("next_page_token")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if next.is_empty() {
                    break;
                }
                if next == token {
                    report.errors.push(ConnectorError::bad_record(format!(
                        "activity of {from} to {to}: Zoom gave the same next_page_token again; \
                         stopped paging"
                    )));
                    break;
                }
                token = next.to_owned();
            }
        }
        if !read_any {
            if let Some(first) = report.errors.first() {
                return Err(first.clone());
            }
        }
        report.stats = session.stats;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn windows_are_cut_into_ranges_zoom_accepts() {
        let w = Window::new(at("2024-01-31T10:00:00Z"), at("2024-01-31T12:00:00Z"));
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(date_ranges(&w), [(d("2024-01-31"), d("2024-01-31"))]);
        // a window ending at midnight does not ask for the next day
        let w = Window::new(at("2024-02-01T00:00:00Z"), at("2024-03-01T00:00:00Z"));
        assert_eq!(
            date_ranges(&w),
            [
                (d("2024-02-01"), d("2024-02-28")),
                (d("2024-02-29"), d("2024-02-29"))
            ]
        );
        let w = Window::new(at("2023-01-01T00:00:00Z"), at("2024-01-01T00:00:00Z"));
        let ranges = date_ranges(&w);
        assert_eq!(ranges.len(), 14);
        for pair in ranges.windows(2) {
            assert_eq!(pair[0].1 + chrono::Duration::days(1), pair[1].0);
        }
        for (from, to) in &ranges {
            assert!(*to <= from.checked_add_months(chrono::Months::new(1)).unwrap());
        }
        assert!(date_ranges(&Window::new(w.to, w.from)).is_empty());
    }

    #[test]
    fn entries_become_records_with_stable_ids() {
        let w = Window::new(at("2024-05-01T00:00:00Z"), at("2024-05-02T00:00:00Z"));
        let entry = json!({"email": "Ann@Example.com", "time": "2024-05-01T09:30:00Z",
            "type": "Sign in", "ip_address": "203.0.113.9", "client_type": "Browser",
            "version": "-"});
        let r = record(&entry, &w).unwrap().unwrap();
        assert_eq!(r.kind, "sign_in");
        assert_eq!(r.email.as_deref(), Some("ann@example.com"));
        assert_eq!(r.data["ip_address"], "203.0.113.9");
        assert_eq!(r.text, "Signed in to Zoom (Browser)");
        assert_eq!(
            r.source_id,
            source_id("ann@example.com", r.at, "Sign in", "203.0.113.9")
        );
        // fixed forever: stored records are de-duplicated on it
        assert_eq!(r.source_id, "47267fc6881f0d8a069742e8d1a303c9");
        let mut out = entry.clone();
        out["type"] = json!("Sign out");
        let r2 = record(&out, &w).unwrap().unwrap();
        assert_eq!(r2.kind, "sign_out");
        assert_ne!(r.source_id, r2.source_id);
        let mut late = entry.clone();
        late["time"] = json!("2024-05-02T00:00:00Z");
        assert_eq!(record(&late, &w).unwrap(), None);
        let mut odd = entry;
        odd["type"] = json!("Password changed");
        assert!(record(&odd, &w).is_err());
    }
}
