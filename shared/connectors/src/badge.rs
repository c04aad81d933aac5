//! The `badge` kind: physical access events pushed as JSON, in the style of Microsoft
//! Purview's physical badging connector: an array of
//! `{UserId, AssetId, AssetName, EventTime, AccessStatus}`.
//!
//! Pure parsing: no request, no storage. Mapping `UserId` to a person goes through the
//! connector's `user_map`, as for the other data kinds.

use std::sync::LazyLock;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use crate::data::{parse_data_settings, settings_fields, stable_hash};
use crate::hr::parse_time;
use crate::model::{Category, KindInfo};

/// The longest `UserId`, `AssetId` or `AccessStatus` accepted.
const MAX_ID: usize = 256;
/// The longest `AssetName` accepted.
const MAX_NAME: usize = 1024;

/// One good event of an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadgeEvent {
    /// Its place in the uploaded array (0-based).
    pub index: usize,
    pub user_id: String,
    pub asset_id: String,
    pub asset_name: String,
    pub at: DateTime<Utc>,
    /// `AccessStatus` as given, e.g. `Success` or `Failed`.
    pub status: String,
}

/// An entry that was not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadEntry {
    /// Its place in the uploaded array (0-based).
    pub index: usize,
    pub reason: String,
}

/// The `badge` kind's description: category `physical`, service `badge`, no credentials.
pub fn badge_info() -> &'static KindInfo {
    static INFO: LazyLock<KindInfo> = LazyLock::new(|| KindInfo {
        kind: "badge",
        name: "Physical badge access (JSON upload)",
        category: Category::Physical,
        service: "badge",
        credential_fields: vec![],
        settings_fields: settings_fields()
            .into_iter()
            .filter(|f| f.name != "backfill_days")
            .collect(),
        checks: vec![],
    });
    &INFO
}

/// A `badge` connector's settings from a request body: `user_map`, `retention_days` and
/// `hold` as [`parse_data_settings`] reads them; `backfill_days` does not apply (events are
/// pushed, nothing is fetched). `Err`: (field, message) pairs.
pub fn parse_badge_settings(
    body: &Map<String, Value>,
) -> Result<Map<String, Value>, Vec<(String, String)>> {
    let mut errors = Vec::new();
    let mut rest = body.clone();
    if let Some(v) = rest.remove("backfill_days") {
        if !v.is_null() {
            errors.push((
                "backfill_days".to_owned(),
                "does not apply to badge connectors (events are uploaded)".to_owned(),
            ));
        }
    }
    let parsed = parse_data_settings(&rest);
    match parsed {
        Ok(out) if errors.is_empty() => Ok(out),
        Ok(_) => Err(errors),
        Err(more) => {
            errors.extend(more);
            Err(errors)
        }
    }
}

/// Reads an upload: a JSON array of events. Good events and bad entries (not an object, a
/// field missing or not a string, a bad `EventTime`) come back with their index. `Err` when
/// the body is not a JSON array.
pub fn parse_badge_json(bytes: &[u8]) -> Result<(Vec<BadgeEvent>, Vec<BadEntry>), String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("the body is not JSON: {e}"))?;
    let Value::Array(entries) = value else {
        return Err("the body must be a JSON array of badge events".to_owned());
    };
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        match event(index, entry) {
            Ok(e) => good.push(e),
            Err(reason) => bad.push(BadEntry { index, reason }),
        }
    }
    Ok((good, bad))
}

fn event(index: usize, entry: &Value) -> Result<BadgeEvent, String> {
    let Value::Object(map) = entry else {
        return Err("is not an object".to_owned());
    };
    // ids may come as numbers from badge systems; they are names, kept as their text
    let text = |name: &str, max: usize| -> Result<String, String> {
        let s = match map.get(name) {
            None | Some(Value::Null) => return Err(format!("has no {name}")),
            Some(Value::String(s)) => s.trim().to_owned(),
            Some(Value::Number(n)) if name != "AssetName" && name != "EventTime" => n.to_string(),
            Some(_) => return Err(format!("{name} must be a string")),
        };
        if s.is_empty() {
            return Err(format!("has no {name}"));
        }
        if s.len() > max || s.chars().any(char::is_control) {
            return Err(format!(
                "{name} must be at most {max} characters, without control characters"
            ));
        }
        Ok(s)
    };
    let user_id = text("UserId", MAX_ID)?;
    let asset_id = text("AssetId", MAX_ID)?;
    let asset_name = text("AssetName", MAX_NAME)?;
    let time = text("EventTime", MAX_ID)?;
    let at = parse_time(&time).map_err(|why| format!("EventTime {time:?} {why}"))?;
    let status = text("AccessStatus", MAX_ID)?;
    Ok(BadgeEvent {
        index,
        user_id,
        asset_id,
        asset_name,
        at,
        status,
    })
}

/// An event's stable source id: [`stable_hash`] of `UserId`, `AssetId`, `EventTime` (RFC
/// 3339 UTC) and `AccessStatus`. The same event uploaded again gets the same id, whatever its
/// place in the array or the offset its time was written with.
pub fn badge_source_id(e: &BadgeEvent) -> String {
    let at = e.at.to_rfc3339_opts(SecondsFormat::AutoSi, true);
    stable_hash(&["badge", &e.user_id, &e.asset_id, &at, &e.status])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn settings_refuse_backfill() {
        let ok = parse_badge_settings(&body(json!({
            "user_map": {"B-1001": "Ann@Example.com"}, "retention_days": 90, "hold": true
        })))
        .unwrap();
        assert_eq!(ok["user_map"]["B-1001"], "ann@example.com");
        assert_eq!(parse_badge_settings(&Map::new()).unwrap(), Map::new());
        assert!(parse_badge_settings(&body(json!({"backfill_days": null}))).is_ok());

        let errors =
            parse_badge_settings(&body(json!({"backfill_days": 7, "hold": 1}))).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["backfill_days", "hold"]);
    }

    #[test]
    fn info_has_no_credentials() {
        let info = badge_info();
        assert_eq!((info.kind, info.service), ("badge", "badge"));
        assert_eq!(info.category, Category::Physical);
        assert!(info.credential_fields.is_empty());
        let names: Vec<&str> = info.settings_fields.iter().map(|f| f.name).collect();
        assert_eq!(names, ["retention_days", "hold", "user_map"]);
    }

    #[test]
    fn numeric_ids_are_kept_as_text() {
        let (good, bad) = parse_badge_json(
            br#"[{"UserId": 1001, "AssetId": 7, "AssetName": "Door", "EventTime": "2026-01-05", "AccessStatus": "Success"}]"#,
        )
        .unwrap();
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(
            (good[0].user_id.as_str(), good[0].asset_id.as_str()),
            ("1001", "7")
        );
    }
}
