//! The push kinds `hr_csv` and `badge`: settings, uploads, bad rows and source ids.

use attest_connectors::{
    badge_source_id, hr_source_id, kinds, parse_badge_json, parse_hr_csv, parse_hr_settings,
    push_kind, Category,
};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

fn settings(v: Value) -> Map<String, Value> {
    parse_hr_settings(&serde_json::from_value(v).unwrap()).unwrap()
}

fn resignation() -> Map<String, Value> {
    settings(json!({
        "record_type": "resignation",
        "columns": {
            "email": "EmailAddress",
            "resignation_date": "ResignationDate",
            "last_working_date": "LastWorkingDate"
        }
    }))
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

const GOOD: &str = "\
EmailAddress,ResignationDate,LastWorkingDate
sarahjones@contoso.com,2019-04-23T15:18:02.4675041+05:30,2019-04-29T15:18:02.4675041+05:30
PilarP@Contoso.com,2019-04-24T09:15:49Z,
ann@contoso.com,2026-11-30,2026-12-31T17:00:00+01:00
";

#[test]
fn a_good_file_imports_every_row() {
    let parsed = parse_hr_csv(GOOD.as_bytes(), &resignation()).unwrap();
    assert!(parsed.bad.is_empty(), "{:?}", parsed.bad);
    assert_eq!(parsed.rows.len(), 3);

    let sarah = &parsed.rows[0];
    assert_eq!(sarah.line, 2);
    assert_eq!(sarah.email, "sarahjones@contoso.com");
    assert_eq!(sarah.record_type, "resignation");
    assert_eq!(sarah.at, t("2019-04-23T09:48:02.4675041Z"));
    assert_eq!(
        sarah.last_working_date,
        Some(t("2019-04-29T09:48:02.4675041Z"))
    );
    assert_eq!(
        sarah.fields["resignation_date"],
        "2019-04-23T15:18:02.4675041+05:30"
    );

    let pilar = &parsed.rows[1];
    assert_eq!(
        (pilar.line, pilar.email.as_str()),
        (3, "pilarp@contoso.com")
    );
    assert_eq!(pilar.last_working_date, None);
    assert!(!pilar.fields.contains_key("last_working_date"));
    assert_eq!(pilar.fields["email"], "PilarP@Contoso.com");

    // a plain date is midnight UTC; an offset is honoured
    let ann = &parsed.rows[2];
    assert_eq!(ann.at, t("2026-11-30T00:00:00Z"));
    assert_eq!(ann.last_working_date, Some(t("2026-12-31T16:00:00Z")));
}

#[test]
fn bad_rows_are_reported_by_line_and_good_rows_still_import() {
    let file = "\
EmailAddress,ResignationDate,LastWorkingDate,Notes
good1@contoso.com,2026-01-05,,\"a note
spanning
three lines\"
,2026-01-06,,missing e-mail
not-an-email,2026-01-07,,bad e-mail
nodate@contoso.com,,,no date
baddate@contoso.com,05/01/2026,,bad date
noffset@contoso.com,2026-01-08T09:00:00,,no offset
badlast@contoso.com,2026-01-08,someday,bad last working date
short@contoso.com,2026-01-09
long@contoso.com,2026-01-09,,x,extra
good2@contoso.com,2026-01-10T08:00:00Z,,\"quoted, with comma\"

,,,
good3@contoso.com,2026-01-11,,
";
    let parsed = parse_hr_csv(file.as_bytes(), &resignation()).unwrap();
    let good: Vec<(u64, &str)> = parsed
        .rows
        .iter()
        .map(|r| (r.line, r.email.as_str()))
        .collect();
    assert_eq!(
        good,
        [
            (2, "good1@contoso.com"),
            (13, "good2@contoso.com"),
            (16, "good3@contoso.com")
        ]
    );
    let bad: Vec<u64> = parsed.bad.iter().map(|b| b.line).collect();
    assert_eq!(bad, [5, 6, 7, 8, 9, 10, 11, 12], "{:?}", parsed.bad);
    let reason = |line: u64| {
        parsed
            .bad
            .iter()
            .find(|b| b.line == line)
            .unwrap()
            .reason
            .clone()
    };
    assert_eq!(reason(5), "has no e-mail address (EmailAddress)");
    assert_eq!(
        reason(6),
        "EmailAddress \"not-an-email\" is not an e-mail address"
    );
    assert_eq!(reason(7), "has no resignation date (ResignationDate)");
    assert!(reason(8).starts_with("ResignationDate \"05/01/2026\" is not a date"));
    assert!(reason(9).contains("no time zone offset"), "{}", reason(9));
    assert!(reason(10).starts_with("LastWorkingDate \"someday\""));
    assert_eq!(reason(11), "has 2 fields; the header has 4");
    assert_eq!(reason(12), "has 5 fields; the header has 4");
}

#[test]
fn a_missing_mapped_column_fails_the_whole_file() {
    let file = "Email,ResignationDate,LastWorkingDate\na@contoso.com,2026-01-05,\n";
    assert_eq!(
        parse_hr_csv(file.as_bytes(), &resignation()).unwrap_err(),
        "the header has no column EmailAddress (settings.columns.email)"
    );
    // an optional column, once mapped, must be there too
    let file = "EmailAddress,ResignationDate\na@contoso.com,2026-01-05\n";
    let err = parse_hr_csv(file.as_bytes(), &resignation()).unwrap_err();
    assert!(err.contains("settings.columns.last_working_date"), "{err}");
    let file = "EmailAddress,ResignationDate,LastWorkingDate,EmailAddress\n";
    assert!(parse_hr_csv(file.as_bytes(), &resignation())
        .unwrap_err()
        .contains("more than once"));
    assert!(parse_hr_csv(b"", &resignation())
        .unwrap_err()
        .contains("empty"));
    assert!(parse_hr_csv(b"EmailAddress,\xff\n", &resignation())
        .unwrap_err()
        .contains("not UTF-8"));
}

#[test]
fn a_bom_and_crlf_line_ends_are_read() {
    let mut file = b"\xEF\xBB\xBF".to_vec();
    file.extend_from_slice(
        b"EmailAddress,TerminationDate,LastWorkingDate,Notes\r\n\
          a@contoso.com,2026-02-01T10:00:00-05:00,2026-02-14,\"two\r\nlines\"\r\n\
          \r\n\
          \"b@contoso.com\",\"2026-02-02\",\"\",\r\n\
          c@contoso.com,never,,\r\n\
          d@contoso.com,2026-02-03,,",
    );
    let termination = settings(json!({
        "record_type": "termination",
        "columns": {
            "email": "EmailAddress",
            "termination_date": "TerminationDate",
            "last_working_date": "LastWorkingDate"
        }
    }));
    let parsed = parse_hr_csv(&file, &termination).unwrap();
    let rows: Vec<(u64, &str, DateTime<Utc>)> = parsed
        .rows
        .iter()
        .map(|r| (r.line, r.email.as_str(), r.at))
        .collect();
    assert_eq!(
        rows,
        [
            (2, "a@contoso.com", t("2026-02-01T15:00:00Z")),
            (5, "b@contoso.com", t("2026-02-02T00:00:00Z")),
            (7, "d@contoso.com", t("2026-02-03T00:00:00Z"))
        ]
    );
    assert_eq!(parsed.rows[0].record_type, "termination");
    assert_eq!(
        parsed.rows[0].last_working_date,
        Some(t("2026-02-14T00:00:00Z"))
    );
    assert_eq!(parsed.bad.len(), 1);
    assert_eq!(parsed.bad[0].line, 6);
    // old Mac line ends (bare CR) count as lines too
    let cr =
        b"EmailAddress,TerminationDate,LastWorkingDate\rx,2026-01-01,\ry@contoso.com,2026-01-01,\r";
    let parsed = parse_hr_csv(cr, &termination).unwrap();
    assert_eq!((parsed.bad[0].line, parsed.rows[0].line), (2, 3));
}

#[test]
fn other_record_types_keep_their_fields() {
    let levels = settings(json!({
        "record_type": "job_level_change",
        "columns": {
            "email": "EmailAddress", "effective_date": "EffectiveDate",
            "old_level": "OldLevel", "new_level": "NewLevel"
        }
    }));
    let file = "EmailAddress,EffectiveDate,OldLevel,NewLevel\n\
                sarahjones@contoso.com,2019-04-23T15:18:02.4675041+05:30,\"Level 61 – Sr. Manager\",\"Level 60- Manager\"\n";
    let parsed = parse_hr_csv(file.as_bytes(), &levels).unwrap();
    assert!(parsed.bad.is_empty(), "{:?}", parsed.bad);
    let row = &parsed.rows[0];
    assert_eq!(row.record_type, "job_level_change");
    assert_eq!(row.last_working_date, None);
    assert_eq!(row.fields["old_level"], "Level 61 – Sr. Manager");
    assert_eq!(row.fields["new_level"], "Level 60- Manager");

    let reviews = settings(json!({
        "record_type": "performance_review",
        "columns": {
            "email": "EmailAddress", "review_date": "EffectiveDate",
            "remarks": "Remarks", "rating": "Rating"
        }
    }));
    let file = "EmailAddress,EffectiveDate,Remarks,Rating\n\
                pilarp@contoso.com,2019-04-23,\"Met, mostly\",2\n";
    let parsed = parse_hr_csv(file.as_bytes(), &reviews).unwrap();
    assert_eq!(parsed.rows[0].fields["remarks"], "Met, mostly");
    assert_eq!(parsed.rows[0].fields["rating"], "2");
    assert_eq!(parsed.rows[0].at, t("2019-04-23T00:00:00Z"));
}

#[test]
fn hr_source_ids_are_stable_across_uploads() {
    let a = parse_hr_csv(GOOD.as_bytes(), &resignation()).unwrap();
    // the same rows, reordered, with the first one's dates written in UTC
    let again = "\
LastWorkingDate,EmailAddress,ResignationDate
2026-12-31T17:00:00+01:00,ann@contoso.com,2026-11-30
2019-04-29T09:48:02.4675041Z,SarahJones@contoso.com,2019-04-23T09:48:02.4675041Z
";
    let b = parse_hr_csv(again.as_bytes(), &resignation()).unwrap();
    assert_eq!(hr_source_id(&a.rows[2]), hr_source_id(&b.rows[0]));
    assert_eq!(hr_source_id(&a.rows[0]), hr_source_id(&b.rows[1]));
    let ids: std::collections::HashSet<String> = a.rows.iter().map(hr_source_id).collect();
    assert_eq!(ids.len(), 3);
    let a2 = parse_hr_csv(GOOD.as_bytes(), &resignation()).unwrap();
    let ids2: std::collections::HashSet<String> = a2.rows.iter().map(hr_source_id).collect();
    assert_eq!(ids, ids2);
}

const BADGE: &str = r#"[
  {"UserId": "12345", "AssetId": "Mid-Sec-7", "AssetName": "Main Building 1st floor Mid Section",
   "EventTime": "2026-04-29T15:18:02.4675041+05:30", "AccessStatus": "Failed"},
  {"UserId": "67890", "AssetId": "Mid-Sec-7", "AssetName": "Main Building 1st floor Mid Section",
   "EventTime": "2026-04-30T08:00:00Z", "AccessStatus": "Success"},
  {"UserId": "67890", "AssetId": "Lab-2", "AssetName": "Lab 2", "EventTime": "2026-05-01",
   "AccessStatus": "Success", "Extra": true}
]"#;

#[test]
fn badge_events_import() {
    let (good, bad) = parse_badge_json(BADGE.as_bytes()).unwrap();
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(good.len(), 3);
    assert_eq!(good[0].index, 0);
    assert_eq!(good[0].user_id, "12345");
    assert_eq!(good[0].asset_id, "Mid-Sec-7");
    assert_eq!(good[0].asset_name, "Main Building 1st floor Mid Section");
    assert_eq!(good[0].at, t("2026-04-29T09:48:02.4675041Z"));
    assert_eq!(good[0].status, "Failed");
    assert_eq!(good[2].at, t("2026-05-01T00:00:00Z"));

    let (again, _) = parse_badge_json(BADGE.as_bytes()).unwrap();
    for (a, b) in good.iter().zip(&again) {
        assert_eq!(badge_source_id(a), badge_source_id(b));
    }
    assert_ne!(badge_source_id(&good[0]), badge_source_id(&good[1]));
    // the same instant written with another offset is the same event
    let utc = BADGE.replace(
        "2026-04-29T15:18:02.4675041+05:30",
        "2026-04-29T09:48:02.4675041Z",
    );
    let (utc, _) = parse_badge_json(utc.as_bytes()).unwrap();
    assert_eq!(badge_source_id(&good[0]), badge_source_id(&utc[0]));
}

#[test]
fn bad_badge_entries_are_reported_by_index() {
    let body = r#"[
      {"UserId": "1", "AssetId": "D1", "AssetName": "Door 1", "EventTime": "2026-01-01T00:00:00Z", "AccessStatus": "Success"},
      "not an object",
      {"AssetId": "D1", "AssetName": "Door 1", "EventTime": "2026-01-01T00:00:00Z", "AccessStatus": "Success"},
      {"UserId": "1", "AssetId": "D1", "AssetName": "Door 1", "EventTime": "01/01/2026", "AccessStatus": "Success"},
      {"UserId": "1", "AssetId": "D1", "AssetName": "Door 1", "EventTime": "2026-01-01T00:00:00", "AccessStatus": "Success"},
      {"UserId": "1", "AssetId": "D1", "AssetName": "Door 1", "EventTime": "2026-01-01T00:00:00Z"},
      {"UserId": "1", "AssetId": ["D1"], "AssetName": "Door 1", "EventTime": "2026-01-01T00:00:00Z", "AccessStatus": "Success"},
      {"UserId": " ", "AssetId": "D1", "AssetName": "Door 1", "EventTime": "2026-01-01T00:00:00Z", "AccessStatus": "Success"},
      {"UserId": "2", "AssetId": "D1", "AssetName": "Door 1", "EventTime": "2026-01-02T00:00:00Z", "AccessStatus": "Failed"}
    ]"#;
    let (good, bad) = parse_badge_json(body.as_bytes()).unwrap();
    let good: Vec<usize> = good.iter().map(|e| e.index).collect();
    assert_eq!(good, [0, 8]);
    let bad: Vec<(usize, &str)> = bad.iter().map(|b| (b.index, b.reason.as_str())).collect();
    assert_eq!(bad[0], (1, "is not an object"));
    assert_eq!(bad[1], (2, "has no UserId"));
    assert_eq!(bad[2].0, 3);
    assert!(bad[2]
        .1
        .starts_with("EventTime \"01/01/2026\" is not a date"));
    assert_eq!(bad[3].0, 4);
    assert!(bad[3].1.contains("no time zone offset"));
    assert_eq!(bad[4], (5, "has no AccessStatus"));
    assert_eq!(bad[5], (6, "AssetId must be a string"));
    assert_eq!(bad[6], (7, "has no UserId"));
    assert_eq!(bad.len(), 7);

    assert!(parse_badge_json(b"{\"UserId\": \"1\"}").is_err());
    assert!(parse_badge_json(b"not json").is_err());
    assert_eq!(parse_badge_json(b"\xEF\xBB\xBF[]").unwrap().0.len(), 0);
}

#[test]
fn push_kinds_are_listed_after_the_others() {
    let names: Vec<&str> = kinds().iter().map(|k| k.kind).collect();
    assert_eq!(&names[4..], ["hr_csv", "badge"]);
    let hr = push_kind("hr_csv").unwrap();
    assert_eq!(hr.category, Category::Hr);
    let badge = push_kind("badge").unwrap();
    assert_eq!(badge.category, Category::Physical);
    let json = serde_json::to_value(kinds()).unwrap();
    assert_eq!(json[4]["category"], "hr");
    assert_eq!(json[4]["credential_fields"], json!([]));
    assert_eq!(json[5]["category"], "physical");
    assert_eq!(json[5]["service"], "badge");
}
