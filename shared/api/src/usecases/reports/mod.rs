//! Reports and interchange as Excel workbooks (API.md "Reports and interchange"): an
//! assessment's report (now, as of a past instant, or an archive's snapshot), the action
//! instances exported for a bulk update and imported back under `PATCH`'s rules, and one
//! action's history.
//!
//! Workbooks are written with `rust_xlsxwriter` and read with `calamine`; [`sheet`] holds what
//! the four have in common (tables with a frozen, filtered header, date cells, the bounded
//! reading of an uploaded workbook).

pub mod assessment;
pub mod exchange;
pub mod history;
pub mod sheet;

use attest_domain::FieldError;
use attest_store::StoreError;

use super::actions::ActionError;
use super::assessments::AssessmentError;

pub use assessment::{assessment_report, status_as_of, Worked};
pub use exchange::{
    export_actions, import_actions, ImportMode, ImportOutcome, Refusal, RejectedRow,
    EDITABLE_COLUMNS, MAX_EXPORT_ROWS, MAX_IMPORT_ROWS,
};
pub use history::{history_export, MAX_HISTORY_ROWS};

/// A workbook to send: its bytes and the file name to offer.
#[derive(Debug, Clone)]
pub struct Workbook {
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// What can go wrong with reports and imports.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{0} not found")]
    NotFound(String),
    /// A bad parameter or column, named.
    #[error("invalid {}: {}", .0.field, .0.message)]
    Invalid(FieldError),
    /// A request the rules refuse as a whole (too many rows, say), with why.
    #[error("{0}")]
    Unprocessable(String),
    /// The body is not a workbook at all.
    #[error("{0}")]
    Unreadable(String),
    /// The workbook unpacks to more than an import reads.
    #[error("{0}")]
    TooLarge(String),
    /// All or nothing: rows were rejected, so none was applied.
    #[error("{}", .0.refusal())]
    Rejected(ImportOutcome),
    /// A rule of the current state, or a change that raced the import's writes.
    #[error("{0}")]
    Conflict(String),
    /// Stored data that does not hold together, or a workbook that could not be written.
    #[error("{0}")]
    Broken(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ReportError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ReportError::NotFound(what),
            other => ReportError::Store(other),
        }
    }
}

impl From<AssessmentError> for ReportError {
    fn from(e: AssessmentError) -> Self {
        match e {
            AssessmentError::NotFound(what) => ReportError::NotFound(what),
            AssessmentError::Invalid(f) => ReportError::Invalid(f),
            AssessmentError::Conflict(m) => ReportError::Conflict(m),
            AssessmentError::Broken(m) => ReportError::Broken(m),
            AssessmentError::Store(s) => ReportError::Store(s),
        }
    }
}

impl From<ActionError> for ReportError {
    fn from(e: ActionError) -> Self {
        match e {
            e @ ActionError::NotFound(_) => ReportError::NotFound(format!("action {}", e.id())),
            ActionError::Invalid(f) => ReportError::Invalid(f),
            e @ (ActionError::Forbidden(_) | ActionError::Stale { .. }) => {
                ReportError::Conflict(e.to_string())
            }
            ActionError::Conflict(m) => ReportError::Conflict(m),
            ActionError::Store(s) => ReportError::Store(s),
        }
    }
}

impl From<rust_xlsxwriter::XlsxError> for ReportError {
    fn from(e: rust_xlsxwriter::XlsxError) -> Self {
        ReportError::Broken(format!("the workbook could not be written: {e}"))
    }
}

/// A file name that is safe in `Content-Disposition` and on every file system: letters,
/// digits, `-`, `_` and `.` (anything else becomes `-`), at most 100 characters before the
/// `.xlsx` it ends with.
pub fn safe_file_name(stem: &str) -> String {
    let mut out = String::with_capacity(stem.len() + 5);
    for c in stem.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '_' | '.') {
            c
        } else {
            '-'
        };
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(c);
        if out.len() >= 100 {
            break;
        }
    }
    let stem = out.trim_matches(|c| c == '-' || c == '.');
    format!("{}.xlsx", if stem.is_empty() { "export" } else { stem })
}

/// What the reports' tests share: reading a workbook back, a clock that moves.
#[cfg(test)]
pub(crate) mod testing {
    use std::io::Cursor;
    use std::sync::Mutex;

    use calamine::{Data, Reader, Xlsx};
    use chrono::{DateTime, Utc};

    /// Every cell of a sheet, by row and column from 0 (`Data::Empty` where nothing is).
    pub fn cells(bytes: &[u8], sheet: &str) -> Vec<Vec<Data>> {
        let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).unwrap();
        let range = book.worksheet_range(sheet).unwrap();
        let (rows, cols) = range.end().map_or((0, 0), |(r, c)| (r + 1, c + 1));
        (0..rows)
            .map(|r| {
                (0..cols)
                    .map(|c| range.get_value((r, c)).cloned().unwrap_or(Data::Empty))
                    .collect()
            })
            .collect()
    }

    /// A cell as text (empty for an empty cell; panics on anything else).
    pub fn text(d: &Data) -> String {
        match d {
            Data::Empty => String::new(),
            Data::String(s) => s.clone(),
            other => panic!("not text: {other:?}"),
        }
    }

    /// A date cell's date (`None` for an empty cell).
    pub fn date(d: &Data) -> Option<chrono::NaiveDate> {
        match d {
            Data::Empty => None,
            Data::DateTime(t) => Some(t.as_datetime().unwrap().date()),
            other => panic!("not a date: {other:?}"),
        }
    }

    /// A clock the test moves.
    pub struct Moving(pub Mutex<DateTime<Utc>>);

    impl Moving {
        pub fn advance(&self, by: chrono::TimeDelta) {
            *self.0.lock().unwrap() += by;
        }
    }

    impl crate::state::Clock for Moving {
        fn now(&self) -> DateTime<Utc> {
            *self.0.lock().unwrap()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe() {
        assert_eq!(
            safe_file_name("report-aws - ISO/IEC 27001:2022 \"Annex A\"-2026-11-27"),
            "report-aws-ISO-IEC-27001-2022-Annex-A-2026-11-27.xlsx"
        );
        assert_eq!(safe_file_name("../..\\x"), "x.xlsx");
        assert_eq!(safe_file_name("ümlaut—名前"), "mlaut.xlsx");
        assert_eq!(safe_file_name("名前"), "export.xlsx");
        assert_eq!(safe_file_name(""), "export.xlsx");
        assert_eq!(
            safe_file_name("history-policy@g1"),
            "history-policy-g1.xlsx"
        );
        let long = safe_file_name(&"a".repeat(500));
        assert_eq!(long.len(), 100 + ".xlsx".len());
    }
}
