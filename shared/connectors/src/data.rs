//! Data connector kinds: they import records (messages, sign-in activity) rather than test
//! improvement actions.
//!
//! A run reads the records of a [`Window`] and hands them to a [`RecordSink`] page by page,
//! as they arrive, so memory stays bounded whatever the window holds. Every record carries a
//! stable [`RawRecord::source_id`]: importing the same window twice yields the same ids, so
//! the store can de-duplicate. Mapping records to people (by e-mail, or the connector's
//! `user_map`) and retention are the caller's business; a kind only reports what the source
//! says.
//!
//! Kinds: `slack` ([`crate::slack`]) and `zoom_activity` ([`crate::zoom_activity`]).

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::http::HttpClient;
use crate::model::{Category, ConnectorError, Credentials, FieldSpec, KindInfo, RunStats};

/// The time range a run imports: `from` inclusive, `to` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Window {
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        Self { from, to }
    }

    /// Whether `at` lies in `[from, to)`.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && at < self.to
    }
}

/// One imported record, as the source gave it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RawRecord {
    /// Stable across runs: Slack `{channel id}:{ts}`; Zoom activity a hash of (email, time,
    /// type, ip address).
    pub source_id: String,
    /// `message`, `sign_in` or `sign_out`.
    pub kind: String,
    pub at: DateTime<Utc>,
    /// The source's id of the person (Slack user id, or bot id for a bot's message).
    pub external_user: Option<String>,
    /// The e-mail address the source gives, lower-cased.
    pub email: Option<String>,
    /// Where the record belongs, e.g. `#general`.
    pub container: Option<String>,
    pub text: String,
    /// The useful source fields (never a token).
    pub data: Value,
}

/// Where a run puts its records.
#[async_trait]
pub trait RecordSink: Send {
    /// Stores one page of records; called as pages arrive so memory stays bounded. An `Err`
    /// stops the run (what cannot be stored should not be read).
    async fn put(&mut self, records: Vec<RawRecord>) -> Result<(), String>;
}

/// A sink that keeps everything in memory (tests, small imports); `pages` counts the calls.
#[derive(Debug, Default, Clone)]
pub struct VecSink {
    pub records: Vec<RawRecord>,
    pub pages: usize,
    /// The largest page received.
    pub largest_page: usize,
}

#[async_trait]
impl RecordSink for VecSink {
    async fn put(&mut self, records: Vec<RawRecord>) -> Result<(), String> {
        self.pages += 1;
        self.largest_page = self.largest_page.max(records.len());
        self.records.extend(records);
        Ok(())
    }
}

/// What one fetch did.
#[derive(Default, Debug, Clone, Serialize)]
pub struct FetchReport {
    pub stats: RunStats,
    /// Records handed to the sink.
    pub fetched: u64,
    /// Problems of one channel or one page; the run went on without them. Serialized as
    /// `[{category, message}]`.
    #[serde(serialize_with = "errors_json")]
    pub errors: Vec<ConnectorError>,
}

fn errors_json<S: serde::Serializer>(
    errors: &[ConnectorError],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = serializer.serialize_seq(Some(errors.len()))?;
    for e in errors {
        seq.serialize_element(&serde_json::json!({
            "category": e.category,
            "message": e.message,
        }))?;
    }
    seq.end()
}

/// A data connector kind.
#[async_trait]
pub trait DataKind: Send + Sync {
    /// Category `communication`; service `slack` / `zoom`.
    fn info(&self) -> &KindInfo;

    /// A connector's settings from a request body (see [`parse_data_settings`]). `Err`:
    /// (field, message) pairs.
    fn parse_settings(
        &self,
        body: &Map<String, Value>,
    ) -> Result<Map<String, Value>, Vec<(String, String)>> {
        parse_data_settings(body)
    }

    /// Checks the credentials against the service with one cheap request. `Ok` names the
    /// account; `Err` category `auth` for bad credentials, `permission` for missing scopes,
    /// `source_unavailable` when the service cannot be reached.
    async fn validate(
        &self,
        client: &HttpClient,
        creds: &Credentials,
    ) -> Result<String, ConnectorError>;

    /// Reads the window's records into `sink`, page by page. `Err` only when nothing can be
    /// read (bad credentials, the listing every read depends on failed) or the sink failed;
    /// per-channel / per-page errors go in the report.
    async fn fetch(
        &self,
        client: &HttpClient,
        creds: &Credentials,
        window: &Window,
        sink: &mut dyn RecordSink,
    ) -> Result<FetchReport, ConnectorError>;
}

/// Default of `backfill_days`.
pub const DEFAULT_BACKFILL_DAYS: u32 = 7;
/// Default of `retention_days`.
pub const DEFAULT_RETENTION_DAYS: u32 = 365;
const BACKFILL_RANGE: (u64, u64) = (1, 365);
const RETENTION_RANGE: (u64, u64) = (1, 3650);
/// The most entries a `user_map` may have.
pub const MAX_USER_MAP: usize = 10_000;

/// The settings every data kind accepts.
pub(crate) fn settings_fields() -> Vec<FieldSpec> {
    vec![
        FieldSpec {
            name: "backfill_days",
            secret: false,
            required: false,
            description: "Days of history the first run imports (1 to 365, default 7)",
        },
        FieldSpec {
            name: "retention_days",
            secret: false,
            required: false,
            description: "Days imported records are kept (1 to 3650, default 365)",
        },
        FieldSpec {
            name: "hold",
            secret: false,
            required: false,
            description: "true to keep every imported record regardless of retention_days \
                          (a legal hold)",
        },
        FieldSpec {
            name: "user_map",
            secret: false,
            required: false,
            description: "Object mapping the source's user ids to e-mail addresses, for \
                          users whose e-mail the source does not give",
        },
    ]
}

/// A data kind's description.
pub(crate) fn kind_info(
    kind: &'static str,
    name: &'static str,
    service: &'static str,
    credential_fields: Vec<FieldSpec>,
) -> KindInfo {
    KindInfo {
        kind,
        name,
        category: Category::Communication,
        service,
        credential_fields,
        settings_fields: settings_fields(),
        checks: vec![],
    }
}

/// The settings of a data connector from a request body: `backfill_days` (integer 1..=365),
/// `retention_days` (integer 1..=3650), `hold` (boolean), `user_map` (object of non-empty
/// external id → e-mail address, at most [`MAX_USER_MAP`] entries; e-mails lower-cased).
/// Only the fields given are returned (defaults are applied by [`DataSettings::from_map`]);
/// `null` counts as absent. `Err`: (field, message) pairs, `user_map.<id>` for a bad entry.
pub fn parse_data_settings(
    body: &Map<String, Value>,
) -> Result<Map<String, Value>, Vec<(String, String)>> {
    let mut errors = Vec::new();
    let mut out = Map::new();
    let int_in = |name: &str, value: &Value, (lo, hi): (u64, u64), errors: &mut Vec<_>| match value
        .as_u64()
    {
        Some(n) if (lo..=hi).contains(&n) => Some(Value::from(n)),
        _ => {
            errors.push((
                name.to_owned(),
                format!("must be an integer from {lo} to {hi}"),
            ));
            None
        }
    };
    for (name, value) in body {
        if value.is_null() && is_setting(name) {
            continue;
        }
        match name.as_str() {
            "backfill_days" => {
                if let Some(v) = int_in(name, value, BACKFILL_RANGE, &mut errors) {
                    out.insert(name.clone(), v);
                }
            }
            "retention_days" => {
                if let Some(v) = int_in(name, value, RETENTION_RANGE, &mut errors) {
                    out.insert(name.clone(), v);
                }
            }
            "hold" => match value {
                Value::Bool(_) => {
                    out.insert(name.clone(), value.clone());
                }
                _ => errors.push((name.clone(), "must be true or false".to_owned())),
            },
            "user_map" => match value {
                Value::Object(map) if map.len() > MAX_USER_MAP => errors.push((
                    name.clone(),
                    format!("must have at most {MAX_USER_MAP} entries"),
                )),
                Value::Object(map) => {
                    let mut clean = Map::new();
                    let before = errors.len();
                    for (id, email) in map {
                        let field = format!("user_map.{id}");
                        if id.trim().is_empty() || id.len() > 256 {
                            errors.push((
                                "user_map".to_owned(),
                                "ids must be non-empty and at most 256 characters".to_owned(),
                            ));
                            continue;
                        }
                        match email.as_str() {
                            Some(e) if is_email(e.trim()) => {
                                clean.insert(id.clone(), Value::from(e.trim().to_lowercase()));
                            }
                            _ => errors.push((field, "must be an e-mail address".to_owned())),
                        }
                    }
                    if errors.len() == before {
                        out.insert(name.clone(), Value::Object(clean));
                    }
                }
                _ => errors.push((
                    name.clone(),
                    "must be an object of external user id to e-mail address".to_owned(),
                )),
            },
            _ => errors.push((name.clone(), "unknown field".to_owned())),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn is_setting(name: &str) -> bool {
    matches!(
        name,
        "backfill_days" | "retention_days" | "hold" | "user_map"
    )
}

/// A plausible e-mail address: one `@`, something on both sides, a dot in the domain, no
/// spaces or control characters, at most 254 characters.
fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    s.len() <= 254
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The settings of a data connector with their defaults, read from stored settings (as
/// [`parse_data_settings`] returned them; anything unreadable takes its default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSettings {
    pub backfill_days: u32,
    pub retention_days: u32,
    pub hold: bool,
    /// External user id → e-mail (lower-case).
    pub user_map: BTreeMap<String, String>,
}

impl Default for DataSettings {
    fn default() -> Self {
        Self {
            backfill_days: DEFAULT_BACKFILL_DAYS,
            retention_days: DEFAULT_RETENTION_DAYS,
            hold: false,
            user_map: BTreeMap::new(),
        }
    }
}

impl DataSettings {
    pub fn from_map(settings: &Map<String, Value>) -> Self {
        let int = |name: &str, (lo, hi): (u64, u64), default: u32| {
            settings
                .get(name)
                .and_then(Value::as_u64)
                .filter(|n| (lo..=hi).contains(n))
                .map_or(default, |n| n as u32)
        };
        Self {
            backfill_days: int("backfill_days", BACKFILL_RANGE, DEFAULT_BACKFILL_DAYS),
            retention_days: int("retention_days", RETENTION_RANGE, DEFAULT_RETENTION_DAYS),
            hold: settings
                .get("hold")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            user_map: settings
                .get("user_map")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_lowercase())))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// Hands `records` to `sink` (nothing when empty), counting them; a sink failure stops the
/// run.
pub(crate) async fn deliver(
    sink: &mut dyn RecordSink,
    report: &mut FetchReport,
    records: Vec<RawRecord>,
) -> Result<(), ConnectorError> {
    if records.is_empty() {
        return Ok(());
    }
    let n = records.len() as u64;
    sink.put(records).await.map_err(|e| {
        ConnectorError::unavailable(format!("could not store the imported records: {e}"))
    })?;
    report.fetched += n;
    Ok(())
}

/// A stable 128-bit FNV-1a hash of `parts` (each length-prefixed, so `("ab", "c")` and
/// `("a", "bc")` differ), as 32 hex digits. Stable across builds and platforms, unlike
/// `std`'s `DefaultHasher`; not meant to resist an adversary, only to name a record.
pub fn stable_hash(parts: &[&str]) -> String {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013b;
    let mut h = OFFSET;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u128::from(*b);
            h = h.wrapping_mul(PRIME);
        }
    };
    for part in parts {
        eat(&(part.len() as u64).to_be_bytes());
        eat(part.as_bytes());
    }
    format!("{h:032x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn settings_are_validated_naming_the_field() {
        let ok = parse_data_settings(&body(json!({
            "backfill_days": 30, "retention_days": 3650, "hold": true,
            "user_map": {"U123": "Ann@Example.com "}
        })))
        .unwrap();
        assert_eq!(ok["backfill_days"], 30);
        assert_eq!(ok["user_map"]["U123"], "ann@example.com");
        assert_eq!(parse_data_settings(&Map::new()).unwrap(), Map::new());
        assert_eq!(
            parse_data_settings(&body(json!({"hold": null}))).unwrap(),
            Map::new()
        );

        let errors = parse_data_settings(&body(json!({
            "backfill_days": 0, "retention_days": 3651, "hold": "yes",
            "user_map": {"U1": "not-an-email", "U2": "b@example.com"}, "extra": 1
        })))
        .unwrap_err();
        let mut fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "backfill_days",
                "extra",
                "hold",
                "retention_days",
                "user_map.U1"
            ]
        );
        let backfill = errors.iter().find(|(f, _)| f == "backfill_days").unwrap();
        assert!(backfill.1.contains("1 to 365"), "{errors:?}");
        for bad in [json!(1.5), json!(-1), json!("7"), json!(366)] {
            assert!(parse_data_settings(&body(json!({ "backfill_days": bad }))).is_err());
        }
        assert!(parse_data_settings(&body(json!({"user_map": ["a@b.c"]}))).is_err());
    }

    #[test]
    fn settings_have_defaults() {
        let d = DataSettings::from_map(&Map::new());
        assert_eq!(d, DataSettings::default());
        assert_eq!((d.backfill_days, d.retention_days, d.hold), (7, 365, false));
        let s = DataSettings::from_map(&body(json!({
            "backfill_days": 3, "hold": true, "user_map": {"U1": "A@B.C"}
        })));
        assert_eq!(s.backfill_days, 3);
        assert!(s.hold);
        assert_eq!(s.user_map["U1"], "a@b.c");
    }

    #[test]
    fn windows_are_half_open() {
        let from = DateTime::from_timestamp(1_000, 0).unwrap();
        let to = DateTime::from_timestamp(2_000, 0).unwrap();
        let w = Window::new(from, to);
        assert!(w.contains(from));
        assert!(!w.contains(to));
        assert!(!w.contains(DateTime::from_timestamp(999, 999_999_999).unwrap()));
    }

    #[test]
    fn stable_hash_is_stable_and_separates_parts() {
        // fixed forever: stored source ids depend on it
        assert_eq!(stable_hash(&[]), "6c62272e07bb014262b821756295c58d");
        assert_eq!(
            stable_hash(&["a", "b"]),
            "cdbd74ee3cae828699a92573e4d3684c" // FNV-1a 128 computed independently
        );
        assert_ne!(stable_hash(&["ab", "c"]), stable_hash(&["a", "bc"]));
        assert_eq!(stable_hash(&["x"]).len(), 32);
    }
}
