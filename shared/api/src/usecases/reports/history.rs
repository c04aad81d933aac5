//! `GET /actions/{id}/history/export.xlsx`: one action instance's history as a sheet, newest
//! first, as `GET /actions/{id}/history` lists it.

use attest_domain::ids::TenantId;
use serde_json::Value;

use super::sheet::{self, Cell, Column, Formats};
use super::{ReportError, Workbook};
use crate::usecases::actions;
use crate::AppState;

/// Most entries an export holds: the newest ones.
pub const MAX_HISTORY_ROWS: usize = 10_000;

const COLUMNS: [Column; 6] = [
    Column::new("when (UTC)", 20.0),
    Column::new("who", 24.0),
    Column::new("field", 22.0),
    Column::new("old", 40.0),
    Column::new("new", 40.0),
    Column::new("source", 18.0),
];

/// A recorded value as a cell shows it: text as it is, nothing for null, anything else
/// (evidence records, numbers) as compact JSON.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The history of one action instance (404 as `GET /actions/{id}/history`), newest first: the
/// newest [`MAX_HISTORY_ROWS`] entries, with a last row saying so when there are more.
pub async fn history_export(
    state: &AppState,
    tenant: &TenantId,
    id: &str,
) -> Result<Workbook, ReportError> {
    let mut entries = actions::history(&state.store, tenant, id, MAX_HISTORY_ROWS + 1).await?;
    let more = entries.len() > MAX_HISTORY_ROWS;
    entries.truncate(MAX_HISTORY_ROWS);
    let formats = Formats::new();
    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet();
    ws.set_name("History")?;
    let rows = entries.iter().map(|h| {
        vec![
            Cell::Time(h.at),
            Cell::optional(h.by.as_deref()),
            Cell::text(&h.field),
            Cell::text(value_text(&h.old)),
            Cell::text(value_text(&h.new)),
            Cell::text(h.source.to_string()),
        ]
    });
    let written = sheet::table(ws, &formats, &COLUMNS, rows)?;
    if more {
        ws.write_string(
            written + 2,
            0,
            format!("Older entries are not shown: an export holds the newest {MAX_HISTORY_ROWS}."),
        )?;
    }
    Ok(Workbook {
        file_name: super::safe_file_name(&format!("history-{id}")),
        bytes: book.save_to_buffer()?,
    })
}

#[cfg(test)]
mod tests {
    use attest_domain::action::ActionPatch;
    use calamine::Data;
    use serde_json::json;

    use super::super::testing::{cells, text};
    use super::*;
    use crate::usecases::testkit::{assess, ports};

    #[tokio::test]
    async fn the_history_export_lists_every_entry_newest_first() {
        let (state, caller, _dir) = ports();
        assess(&state, &caller, "iso-27001-2022", "Europe").await;
        for change in [
            json!({"owner": "cara"}),
            json!({"implementation_status": "implemented", "implementation_date": "2026-01-31"}),
            json!({"owner": null, "test_status": "passed"}),
        ] {
            let patch: ActionPatch = serde_json::from_value(change).unwrap();
            actions::update(&state, &caller, "mfa-admins", &patch, None)
                .await
                .unwrap();
        }
        let export = history_export(&state, &caller.tenant, "mfa-admins")
            .await
            .unwrap();
        assert_eq!(export.file_name, "history-mfa-admins.xlsx");
        let rows = cells(&export.bytes, "History");
        let header: Vec<String> = rows[0].iter().map(text).collect();
        assert_eq!(
            header,
            ["when (UTC)", "who", "field", "old", "new", "source"]
        );
        let listed = actions::history(&state.store, &caller.tenant, "mfa-admins", 100)
            .await
            .unwrap();
        assert_eq!(rows.len() - 1, listed.len());
        assert_eq!(listed.len(), 5);
        for (row, entry) in rows[1..].iter().zip(&listed) {
            let Data::DateTime(when) = &row[0] else {
                panic!("not a date and time: {:?}", row[0])
            };
            let when = when.as_datetime().unwrap().and_utc();
            assert!(
                (when - entry.at).num_milliseconds().abs() <= 1,
                "{when} {}",
                entry.at
            );
            assert_eq!(text(&row[1]), entry.by.clone().unwrap_or_default());
            assert_eq!(text(&row[2]), entry.field);
            assert_eq!(text(&row[3]), value_text(&entry.old));
            assert_eq!(text(&row[4]), value_text(&entry.new));
            assert_eq!(text(&row[5]), "manual");
        }
        assert_eq!(text(&rows[1][2]), "owner");
        assert_eq!(text(&rows[1][3]), "cara");
        assert_eq!(text(&rows[1][4]), "");
        assert!(matches!(
            history_export(&state, &caller.tenant, "no-such-action").await,
            Err(ReportError::NotFound(_))
        ));
    }
}
