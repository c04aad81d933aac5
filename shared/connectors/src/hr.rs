//! The `hr_csv` kind: HR records (resignations, terminations, job level changes, performance
//! reviews, improvement plans) pushed as CSV, in the style of Microsoft Purview's HR
//! connector files (`EmailAddress,ResignationDate,LastWorkingDate`, ...).
//!
//! Pure parsing: no request, no storage. A connector's settings name the record type and map
//! the columns ([`parse_hr_settings`]); [`parse_hr_csv`] reads an upload into good rows and
//! bad rows (with their line numbers and the reason), and [`hr_source_id`] names a row so a
//! re-upload imports nothing twice.

use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::{Map, Value};

use crate::data::{parse_data_settings, settings_fields, stable_hash};
use crate::model::{Category, FieldSpec, KindInfo};

/// The largest upload accepted (10 MB).
pub const MAX_HR_UPLOAD: usize = 10 * 1024 * 1024;

/// One record type: its name, the column key of its main date, and its optional keys
/// (those ending in `_date` are dates).
struct RecordType {
    name: &'static str,
    main_date: &'static str,
    optional: &'static [&'static str],
}

const RECORD_TYPES: &[RecordType] = &[
    RecordType {
        name: "resignation",
        main_date: "resignation_date",
        optional: &["last_working_date"],
    },
    RecordType {
        name: "termination",
        main_date: "termination_date",
        optional: &["last_working_date"],
    },
    RecordType {
        name: "job_level_change",
        main_date: "effective_date",
        optional: &["old_level", "new_level"],
    },
    RecordType {
        name: "performance_review",
        main_date: "review_date",
        optional: &["remarks", "rating"],
    },
    RecordType {
        name: "improvement_plan",
        main_date: "start_date",
        optional: &["end_date", "remarks", "rating"],
    },
];

fn record_type(name: &str) -> Option<&'static RecordType> {
    RECORD_TYPES.iter().find(|t| t.name == name)
}

/// The longest column name accepted in `columns`.
const MAX_COLUMN_NAME: usize = 256;

/// One good row of an upload.
#[derive(Debug, Clone, PartialEq)]
pub struct HrRow {
    /// The line the row starts on (the header is line 1).
    pub line: u64,
    /// Trimmed and lower-cased.
    pub email: String,
    pub record_type: String,
    /// The row's main date (resignation, termination, effective, review or start date).
    pub at: DateTime<Utc>,
    /// Resignations and terminations: the last working date, when given.
    pub last_working_date: Option<DateTime<Utc>>,
    /// The mapped fields as read (trimmed), by settings key (`email`, `resignation_date`,
    /// ...); optional fields left empty are absent.
    pub fields: Map<String, Value>,
}

/// A row that was not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    /// The line the row starts on (the header is line 1).
    pub line: u64,
    pub reason: String,
}

/// What an upload held.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HrParse {
    pub rows: Vec<HrRow>,
    pub bad: Vec<BadRow>,
}

/// The `hr_csv` kind's description: category `hr`, service `hr`, no credentials.
pub fn hr_info() -> &'static KindInfo {
    static INFO: LazyLock<KindInfo> = LazyLock::new(|| {
        let mut settings_fields_ = vec![
            FieldSpec {
                name: "record_type",
                secret: false,
                required: true,
                description: "The records the uploads hold: resignation, termination, \
                              job_level_change, performance_review or improvement_plan",
            },
            FieldSpec {
                name: "columns",
                secret: false,
                required: true,
                description: "Object naming the CSV column of each field, e.g. {\"email\": \
                              \"EmailAddress\", \"resignation_date\": \"ResignationDate\"}; \
                              email and the record type's date (resignation_date, \
                              termination_date, effective_date, review_date or start_date) \
                              are required",
            },
        ];
        settings_fields_.extend(
            settings_fields()
                .into_iter()
                .filter(|f| matches!(f.name, "retention_days" | "hold")),
        );
        KindInfo {
            kind: "hr_csv",
            name: "HR records (CSV upload)",
            category: Category::Hr,
            service: "hr",
            credential_fields: vec![],
            settings_fields: settings_fields_,
            checks: vec![],
        }
    });
    &INFO
}

/// An `hr_csv` connector's settings from a request body: `record_type` (required, one of
/// the five types), `columns` (required: object of settings key → non-empty column name,
/// with `email` and the type's main date, and no key the type does not know),
/// `retention_days` and `hold` as [`parse_data_settings`] reads them. `backfill_days` and
/// `user_map` do not apply (rows carry e-mail addresses; nothing is fetched). `Err`: (field,
/// message) pairs, `columns.<key>` for a bad entry.
pub fn parse_hr_settings(
    body: &Map<String, Value>,
) -> Result<Map<String, Value>, Vec<(String, String)>> {
    let mut errors = Vec::new();
    let mut out = Map::new();
    let mut rest = Map::new();

    let rtype = match body.get("record_type") {
        None | Some(Value::Null) => {
            errors.push(("record_type".to_owned(), "is required".to_owned()));
            None
        }
        Some(Value::String(s)) => match record_type(s.trim()) {
            Some(t) => {
                out.insert("record_type".to_owned(), Value::from(t.name));
                Some(t)
            }
            None => {
                errors.push(("record_type".to_owned(), record_type_message()));
                None
            }
        },
        Some(_) => {
            errors.push(("record_type".to_owned(), record_type_message()));
            None
        }
    };

    match body.get("columns") {
        None | Some(Value::Null) => errors.push(("columns".to_owned(), "is required".to_owned())),
        Some(Value::Object(map)) => {
            let before = errors.len();
            let mut clean = Map::new();
            for (key, column) in map {
                let field = format!("columns.{key}");
                if let Some(t) = rtype {
                    if key != "email" && key != t.main_date && !t.optional.contains(&key.as_str()) {
                        errors.push((
                            field,
                            format!("is not a column of {} records; known: {}", t.name, {
                                let mut known = vec!["email", t.main_date];
                                known.extend(t.optional);
                                known.join(", ")
                            }),
                        ));
                        continue;
                    }
                }
                match column.as_str().map(str::trim) {
                    Some(c)
                        if !c.is_empty()
                            && c.len() <= MAX_COLUMN_NAME
                            && !c.chars().any(char::is_control) =>
                    {
                        clean.insert(key.clone(), Value::from(c));
                    }
                    _ => errors.push((
                        field,
                        format!(
                            "must be a column name (a non-empty string of at most \
                             {MAX_COLUMN_NAME} characters)"
                        ),
                    )),
                }
            }
            if let Some(t) = rtype {
                for required in ["email", t.main_date] {
                    if !map.contains_key(required) {
                        errors.push((
                            format!("columns.{required}"),
                            format!("is required for {} records", t.name),
                        ));
                    }
                }
            }
            if errors.len() == before {
                out.insert("columns".to_owned(), Value::Object(clean));
            }
        }
        Some(_) => errors.push((
            "columns".to_owned(),
            "must be an object of field to CSV column name".to_owned(),
        )),
    }

    for (name, value) in body {
        match name.as_str() {
            "record_type" | "columns" => {}
            "backfill_days" | "user_map" if !value.is_null() => errors.push((
                name.clone(),
                "does not apply to hr_csv connectors (records are uploaded and carry \
                 e-mail addresses)"
                    .to_owned(),
            )),
            _ => {
                rest.insert(name.clone(), value.clone());
            }
        }
    }
    match parse_data_settings(&rest) {
        Ok(more) => out.extend(more.into_iter().filter(|(k, _)| k != "user_map")),
        Err(more) => errors.extend(more),
    }

    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn record_type_message() -> String {
    let names: Vec<&str> = RECORD_TYPES.iter().map(|t| t.name).collect();
    format!("must be one of {}", names.join(", "))
}

/// A mapped column: settings key and its index in the header.
struct Mapped {
    key: String,
    column: String,
    index: usize,
}

/// Reads an upload with the connector's settings (as [`parse_hr_settings`] returned them).
/// Good rows and bad rows (wrong number of fields, missing or bad e-mail, missing or bad
/// date) come back with the line each starts on; rows whose fields are all empty are
/// skipped. `Err` for a fault of the whole file: larger than [`MAX_HR_UPLOAD`], not UTF-8,
/// no header, a mapped column missing from the header (or there twice), or unusable
/// settings.
pub fn parse_hr_csv(bytes: &[u8], settings: &Map<String, Value>) -> Result<HrParse, String> {
    if bytes.len() > MAX_HR_UPLOAD {
        return Err(format!(
            "the file is larger than {} MB",
            MAX_HR_UPLOAD / (1024 * 1024)
        ));
    }
    let rtype = settings
        .get("record_type")
        .and_then(Value::as_str)
        .and_then(record_type)
        .ok_or("the connector's settings have no valid record_type")?;
    let columns = settings
        .get("columns")
        .and_then(Value::as_object)
        .ok_or("the connector's settings have no columns")?;
    for required in ["email", rtype.main_date] {
        if !columns.get(required).is_some_and(Value::is_string) {
            return Err(format!(
                "the connector's settings have no column for {required}"
            ));
        }
    }

    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err("the file is UTF-16 text; save it as UTF-8 CSV".to_owned());
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(format!(
            "the file is not UTF-8 text (a bad byte at offset {})",
            e.valid_up_to()
        ));
    }

    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut records = reader.records();

    let header = match records.next() {
        None => return Err("the file is empty (no header line)".to_owned()),
        Some(Err(e)) => return Err(format!("the header cannot be read: {e}")),
        Some(Ok(h)) => h,
    };
    let names: Vec<&str> = header.iter().map(str::trim).collect();
    let mut mapped = Vec::new();
    for (key, column) in columns {
        let Some(column) = column.as_str() else {
            return Err(format!(
                "the connector's settings have a bad column for {key}"
            ));
        };
        let find = |exact: bool| -> Vec<usize> {
            names
                .iter()
                .enumerate()
                .filter(|(_, n)| {
                    if exact {
                        **n == column
                    } else {
                        n.eq_ignore_ascii_case(column)
                    }
                })
                .map(|(i, _)| i)
                .collect()
        };
        // exact name first; a header that differs only in case is accepted when unambiguous
        let mut found = find(true);
        if found.is_empty() {
            found = find(false);
        }
        match found.as_slice() {
            [] => {
                return Err(format!(
                    "the header has no column {column} (settings.columns.{key})"
                ))
            }
            [index] => mapped.push(Mapped {
                key: key.clone(),
                column: column.to_owned(),
                index: *index,
            }),
            _ => {
                return Err(format!(
                    "the header has column {column} more than once (settings.columns.{key})"
                ))
            }
        }
    }

    let mut out = HrParse::default();
    let mut lines = Lines::new(bytes);
    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                match e.position() {
                    Some(p) => out.bad.push(BadRow {
                        line: lines.at(p.byte()),
                        reason: format!("cannot be read: {e}"),
                    }),
                    None => return Err(format!("the file cannot be read: {e}")),
                }
                continue;
            }
        };
        let line = record.position().map_or(0, |p| lines.at(p.byte()));
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if record.len() != header.len() {
            out.bad.push(BadRow {
                line,
                reason: format!(
                    "has {} fields; the header has {}",
                    record.len(),
                    header.len()
                ),
            });
            continue;
        }
        match row(rtype, &mapped, &record, line) {
            Ok(r) => out.rows.push(r),
            Err(reason) => out.bad.push(BadRow { line, reason }),
        }
    }
    Ok(out)
}

/// Line numbers from the byte offsets the csv crate gives. Its own line count is off by one
/// after a CRLF line end (a record ends at the `\r`, and the `\n` is only counted once the
/// next record's position is taken), so lines are counted here: a line ends at `\n`, or at
/// a `\r` not followed by `\n`. Offsets only grow, so the file is scanned once.
struct Lines<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> Lines<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            offset: 0,
            line: 1,
        }
    }

    /// The line of the record whose position is `byte`: the line of the first byte at or
    /// after it that is not a line end (the csv crate skips blank lines).
    fn at(&mut self, byte: u64) -> u64 {
        let mut start = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        while start < self.bytes.len() && matches!(self.bytes[start], b'\r' | b'\n') {
            start += 1;
        }
        if start < self.offset {
            return self.line; // never expected: positions only grow
        }
        for i in self.offset..start {
            match self.bytes[i] {
                b'\n' => self.line += 1,
                b'\r' if self.bytes.get(i + 1) != Some(&b'\n') => self.line += 1,
                _ => {}
            }
        }
        self.offset = start;
        self.line
    }
}

fn row(
    rtype: &RecordType,
    mapped: &[Mapped],
    record: &csv::StringRecord,
    line: u64,
) -> Result<HrRow, String> {
    let mut fields = Map::new();
    let mut email = None;
    let mut at = None;
    let mut last_working_date = None;
    for m in mapped {
        let value = record.get(m.index).unwrap_or("").trim();
        let is_required = m.key == "email" || m.key == rtype.main_date;
        if value.is_empty() {
            if is_required {
                return Err(if m.key == "email" {
                    format!("has no e-mail address ({})", m.column)
                } else {
                    format!("has no {} ({})", m.key.replace('_', " "), m.column)
                });
            }
            continue;
        }
        if m.key == "email" {
            if !is_email(value) {
                return Err(format!("{} {value:?} is not an e-mail address", m.column));
            }
            email = Some(value.to_lowercase());
        } else if m.key.ends_with("_date") {
            let t = parse_time(value).map_err(|why| format!("{} {value:?} {why}", m.column))?;
            if m.key == rtype.main_date {
                at = Some(t);
            } else if m.key == "last_working_date" {
                last_working_date = Some(t);
            }
        }
        fields.insert(m.key.clone(), Value::from(value));
    }
    Ok(HrRow {
        line,
        email: email.ok_or("has no e-mail address")?,
        record_type: rtype.name.to_owned(),
        at: at.ok_or_else(|| format!("has no {}", rtype.main_date.replace('_', " ")))?,
        last_working_date,
        fields,
    })
}

/// A time as uploads give it: RFC 3339 / ISO 8601 with an offset or `Z`
/// (`2026-11-30T17:00:00+01:00`, fractions allowed), or a plain date (`2026-11-30`, taken as
/// midnight UTC). `Err`: why not, to follow the value in a message.
pub(crate) fn parse_time(s: &str) -> Result<DateTime<Utc>, &'static str> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
    }
    // a time of day without an offset is ambiguous: say so rather than guess
    let naive = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ];
    if naive
        .iter()
        .any(|f| chrono::NaiveDateTime::parse_from_str(s, f).is_ok())
    {
        return Err("has no time zone offset (add Z or e.g. +01:00)");
    }
    Err("is not a date (ISO 8601 with an offset, e.g. 2026-11-30T17:00:00+01:00, or 2026-11-30)")
}

/// A plausible e-mail address: one `@`, something on both sides, a dot in the domain, no
/// spaces or control characters, at most 254 characters (as data settings check `user_map`).
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

/// A row's stable source id: [`stable_hash`] of the record type, the e-mail, the main date
/// and the last working date (RFC 3339 UTC; empty when absent). The same row uploaded again
/// gets the same id, whatever its line or the offset its dates were written with.
pub fn hr_source_id(row: &HrRow) -> String {
    let at = row.at.to_rfc3339_opts(SecondsFormat::AutoSi, true);
    let last = row
        .last_working_date
        .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        .unwrap_or_default();
    stable_hash(&["hr", &row.record_type, &row.email, &at, &last])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn times_parse_with_offsets_or_as_plain_dates() {
        let t = parse_time("2026-11-30T17:00:00+01:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-30T16:00:00+00:00");
        assert_eq!(
            parse_time("2026-11-30").unwrap().to_rfc3339(),
            "2026-11-30T00:00:00+00:00"
        );
        assert!(parse_time("2019-04-23T15:18:02.4675041+05:30").is_ok());
        assert!(parse_time("2026-11-30T17:00:00Z").is_ok());
        assert!(parse_time("2026-11-30T17:00:00")
            .unwrap_err()
            .contains("offset"));
        for bad in ["", "30/11/2026", "2026-02-30", "yesterday"] {
            assert!(parse_time(bad).unwrap_err().contains("not a date"), "{bad}");
        }
    }

    #[test]
    fn settings_name_each_problem() {
        let ok = parse_hr_settings(&body(json!({
            "record_type": "resignation",
            "columns": {"email": "EmailAddress", "resignation_date": " ResignationDate "},
            "retention_days": 30, "hold": false
        })))
        .unwrap();
        assert_eq!(ok["columns"]["resignation_date"], "ResignationDate");
        assert_eq!(ok["retention_days"], 30);

        let errors = parse_hr_settings(&body(json!({
            "record_type": "job_level_change",
            "columns": {"email": "", "review_date": "X", "old_level": 5},
            "backfill_days": 3, "user_map": {}, "retention_days": 0, "extra": true
        })))
        .unwrap_err();
        let mut fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "backfill_days",
                "columns.effective_date",
                "columns.email",
                "columns.old_level",
                "columns.review_date",
                "extra",
                "retention_days",
                "user_map"
            ],
            "{errors:?}"
        );

        let errors = parse_hr_settings(&Map::new()).unwrap_err();
        assert_eq!(errors.len(), 2);
        let errors = parse_hr_settings(&body(json!({"record_type": "promotion", "columns": []})))
            .unwrap_err();
        assert!(errors[0].1.contains("improvement_plan"), "{errors:?}");
        assert_eq!(errors[1].0, "columns");
    }

    #[test]
    fn info_has_no_credentials() {
        let info = hr_info();
        assert_eq!((info.kind, info.service), ("hr_csv", "hr"));
        assert_eq!(info.category, Category::Hr);
        assert!(info.credential_fields.is_empty());
        let names: Vec<&str> = info.settings_fields.iter().map(|f| f.name).collect();
        assert_eq!(names, ["record_type", "columns", "retention_days", "hold"]);
    }
}
