//! What the workbooks have in common: tables with a bold, frozen, filtered header and
//! readable widths, cells of their proper Excel types (dates as dates), and the bounded
//! reading of a workbook someone uploaded.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use calamine::{Data, Reader, Xlsx};
use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use rust_xlsxwriter::{Color, DataValidation, ExcelDateTime, Format, Worksheet, XlsxError};

use super::ReportError;

/// Excel's longest text in one cell; longer text is cut, with an ellipsis.
pub const MAX_CELL_CHARS: usize = 32_767;

/// One column of a table: its header and its width (in characters).
pub struct Column {
    pub name: &'static str,
    pub width: f64,
    /// An editable column of an exported table (its header is shaded apart).
    pub editable: bool,
}

impl Column {
    pub const fn new(name: &'static str, width: f64) -> Self {
        Self {
            name,
            width,
            editable: false,
        }
    }

    pub const fn editable(name: &'static str, width: f64) -> Self {
        Self {
            name,
            width,
            editable: true,
        }
    }
}

/// One cell's value.
pub enum Cell {
    Text(String),
    Number(f64),
    Date(Option<NaiveDate>),
    Time(DateTime<Utc>),
    Blank,
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Self {
        Cell::Text(s.into())
    }

    pub fn optional(s: Option<&str>) -> Self {
        s.map_or(Cell::Blank, Cell::text)
    }
}

/// The formats a table uses, made once per workbook.
pub struct Formats {
    header: Format,
    editable_header: Format,
    date: Format,
    time: Format,
    label: Format,
}

impl Formats {
    pub fn new() -> Self {
        let header = Format::new()
            .set_bold()
            .set_background_color(Color::RGB(0xD9D9D9));
        Self {
            editable_header: header.clone().set_background_color(Color::RGB(0xE2EFDA)),
            header,
            date: Format::new().set_num_format("yyyy-mm-dd"),
            time: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
            label: Format::new().set_bold(),
        }
    }
}

impl Default for Formats {
    fn default() -> Self {
        Self::new()
    }
}

/// Text as one cell holds it: at most [`MAX_CELL_CHARS`] characters.
fn clip(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().count() <= MAX_CELL_CHARS {
        return s.into();
    }
    let mut out: String = s.chars().take(MAX_CELL_CHARS - 1).collect();
    out.push('…');
    out.into()
}

pub fn excel_date(d: NaiveDate) -> Result<ExcelDateTime, XlsxError> {
    ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)
}

/// An instant as Excel holds it: a date and time without zone (the workbook says UTC), to the
/// millisecond.
pub fn excel_time(t: DateTime<Utc>) -> Result<ExcelDateTime, XlsxError> {
    excel_date(t.date_naive())?.and_hms_milli(
        t.hour() as u16,
        t.minute() as u8,
        t.second() as u8,
        (t.nanosecond() / 1_000_000).min(999) as u16,
    )
}

/// Writes one cell.
pub fn write(
    ws: &mut Worksheet,
    formats: &Formats,
    row: u32,
    col: u16,
    cell: &Cell,
) -> Result<(), XlsxError> {
    match cell {
        Cell::Text(s) if s.is_empty() => {}
        Cell::Text(s) => {
            ws.write_string(row, col, clip(s))?;
        }
        Cell::Number(n) => {
            ws.write_number(row, col, *n)?;
        }
        // A date a spreadsheet cannot hold (stored before dates were checked) stays readable.
        Cell::Date(Some(d)) if !attest_domain::action::DATE_YEARS.contains(&d.year()) => {
            ws.write_string(row, col, d.to_string())?;
        }
        Cell::Date(Some(d)) => {
            ws.write_datetime_with_format(row, col, excel_date(*d)?, &formats.date)?;
        }
        Cell::Time(t) => {
            ws.write_datetime_with_format(row, col, excel_time(*t)?, &formats.time)?;
        }
        Cell::Date(None) | Cell::Blank => {}
    }
    Ok(())
}

/// A table from row 0: the header (bold; editable columns shaded apart), the rows, the
/// header frozen and filtered, each column its width. Returns the number of rows written
/// below the header.
pub fn table(
    ws: &mut Worksheet,
    formats: &Formats,
    columns: &[Column],
    rows: impl IntoIterator<Item = Vec<Cell>>,
) -> Result<u32, XlsxError> {
    for (c, column) in columns.iter().enumerate() {
        let format = if column.editable {
            &formats.editable_header
        } else {
            &formats.header
        };
        ws.write_string_with_format(0, c as u16, column.name, format)?;
        ws.set_column_width(c as u16, column.width)?;
    }
    let mut written = 0u32;
    for cells in rows {
        written += 1;
        for (c, cell) in cells.iter().enumerate() {
            write(ws, formats, written, c as u16, cell)?;
        }
    }
    ws.set_freeze_panes(1, 0)?;
    ws.autofilter(0, 0, written, columns.len().saturating_sub(1) as u16)?;
    Ok(written)
}

/// A dropdown of `values` on rows 1..=`rows` of column `col` (a typed value outside it is
/// refused by Excel; the import checks every value anyway).
pub fn choices(ws: &mut Worksheet, col: u16, rows: u32, values: &[&str]) -> Result<(), XlsxError> {
    if rows == 0 {
        return Ok(());
    }
    let validation = DataValidation::new().allow_list_strings(values)?;
    ws.add_data_validation(1, col, rows, col, &validation)?;
    Ok(())
}

/// A sheet of labels and values, one pair a row, labels in bold.
pub fn pairs(
    ws: &mut Worksheet,
    formats: &Formats,
    items: &[(&str, Cell)],
) -> Result<(), XlsxError> {
    ws.set_column_width(0, 22)?;
    ws.set_column_width(1, 60)?;
    for (r, (label, cell)) in items.iter().enumerate() {
        ws.write_string_with_format(r as u32, 0, *label, &formats.label)?;
        write(ws, formats, r as u32, 1, cell)?;
    }
    Ok(())
}

/// Most bytes an uploaded workbook may unpack to (every part of it together).
pub const MAX_UNPACKED_BYTES: u64 = 64 * 1024 * 1024;
/// Most shared strings an uploaded workbook may hold: calamine keeps them all in memory before
/// the first row is read, at some 30 bytes each even when empty; an import of 10,000 rows of a
/// few dozen text cells holds far fewer.
pub const MAX_SHARED_STRINGS: u64 = 500_000;
/// Most parts (files) an uploaded workbook may hold.
pub const MAX_PARTS: usize = 10_000;
/// Columns beyond this one are not read (they cannot be an import's columns).
pub const MAX_COLUMNS: u32 = 256;

/// One row of a sheet that holds something: its number as the spreadsheet shows it (the
/// first row is 1) and its non-empty cells by column (from 0).
#[derive(Debug, Clone, PartialEq)]
pub struct SheetRow {
    pub number: u32,
    pub cells: BTreeMap<u32, Data>,
}

fn unreadable(e: impl std::fmt::Display) -> ReportError {
    ReportError::Unreadable(format!(
        "the body is not an .xlsx workbook that can be read: {e}"
    ))
}

/// Unpacks every part of the workbook, counting, so that a file that would unpack to more
/// than `limit` bytes (a "zip bomb", or simply too much) is refused before anything reads it
/// whole. What the parts say about their sizes is not trusted.
fn check_unpacked_size(bytes: &[u8], limit: u64) -> Result<(), ReportError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(unreadable)?;
    if zip.len() > MAX_PARTS {
        return Err(ReportError::TooLarge(format!(
            "the workbook holds {} parts; at most {MAX_PARTS} are read",
            zip.len()
        )));
    }
    let mut left = limit;
    for i in 0..zip.len() {
        let part = zip.by_index(i).map_err(unreadable)?;
        let shared_strings = part.name().eq_ignore_ascii_case("xl/sharedStrings.xml");
        let mut counter = SharedStrings::default();
        let read = if shared_strings {
            std::io::copy(&mut part.take(left + 1), &mut counter)
        } else {
            std::io::copy(&mut part.take(left + 1), &mut std::io::sink())
        }
        .map_err(unreadable)?;
        if counter.count > MAX_SHARED_STRINGS {
            return Err(ReportError::TooLarge(format!(
                "the workbook holds more than {MAX_SHARED_STRINGS} shared strings; an import reads at most that"
            )));
        }
        if read > left {
            return Err(ReportError::TooLarge(format!(
                "the workbook unpacks to more than {} MiB; an import reads at most that",
                limit / (1024 * 1024)
            )));
        }
        left -= read;
    }
    Ok(())
}

/// Counts the `<si` elements (shared strings) of `xl/sharedStrings.xml` as it streams by.
#[derive(Default)]
struct SharedStrings {
    count: u64,
    /// The end of the previous chunk, for an element split between two.
    carry: Vec<u8>,
}

impl std::io::Write for SharedStrings {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut window = std::mem::take(&mut self.carry);
        let skip = window.len();
        window.extend_from_slice(buf);
        self.count += window
            .windows(4)
            .enumerate()
            .filter(|(i, w)| {
                i + 4 > skip
                    && w[..3] == *b"<si"
                    && matches!(w[3], b'>' | b'/' | b' ' | b'\t' | b'\r' | b'\n')
            })
            .count() as u64;
        self.carry = window[window.len().saturating_sub(3)..].to_vec();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The rows of one sheet of an uploaded workbook that hold something: the sheet named
/// `prefer` if there is one, else the first. Reading stops (422) past `max_rows` rows after
/// the first (the header); columns past [`MAX_COLUMNS`] are not read.
pub fn read_rows(
    bytes: &[u8],
    prefer: &str,
    max_rows: usize,
) -> Result<Vec<SheetRow>, ReportError> {
    check_unpacked_size(bytes, MAX_UNPACKED_BYTES)?;
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(unreadable)?;
    let names = book.sheet_names();
    let name = names
        .iter()
        .find(|n| n.as_str() == prefer)
        .or_else(|| names.first())
        .cloned()
        .ok_or_else(|| unreadable("it has no sheet"))?;
    let mut reader = book.worksheet_cells_reader(&name).map_err(unreadable)?;
    let mut rows: Vec<SheetRow> = Vec::new();
    while let Some(cell) = reader.next_cell().map_err(unreadable)? {
        let (row, col) = cell.get_position();
        let value: Data = cell.get_value().clone().into();
        if col >= MAX_COLUMNS || is_empty(&value) {
            continue;
        }
        let number = row + 1;
        if rows.last().is_none_or(|r| r.number != number) {
            if rows.len() > max_rows {
                return Err(ReportError::Unprocessable(format!(
                    "sheet {name:?} has more than {max_rows} rows below its header; import at most {max_rows} at a time"
                )));
            }
            rows.push(SheetRow {
                number,
                cells: BTreeMap::new(),
            });
        }
        if let Some(last) = rows.last_mut() {
            last.cells.insert(col, value);
        }
    }
    Ok(rows)
}

/// Whether a cell holds nothing (blank text counts as nothing).
pub fn is_empty(value: &Data) -> bool {
    match value {
        Data::Empty => true,
        Data::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// A cell as text: text as it is, numbers as written (whole numbers without a decimal
/// point), booleans as `true`/`false`; `None` for dates and errors.
pub fn as_text(value: &Data) -> Option<String> {
    match value {
        Data::String(s) => Some(s.clone()),
        Data::Int(i) => Some(i.to_string()),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Some(format!("{}", *f as i64)),
        Data::Float(f) => Some(f.to_string()),
        Data::Bool(b) => Some(b.to_string()),
        Data::Empty => Some(String::new()),
        _ => None,
    }
}

/// A cell as a date: a date cell, or text `YYYY-MM-DD` (a date and time in ISO form is
/// taken at its date). `Ok(None)` for an empty cell.
pub fn as_date(value: &Data) -> Result<Option<NaiveDate>, String> {
    let from_text = |s: &str| -> Result<NaiveDate, String> {
        let s = s.trim();
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .or_else(|_| {
                chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").map(|t| t.date())
            })
            .or_else(|_| DateTime::parse_from_rfc3339(s).map(|t| t.date_naive()))
            .map_err(|_| format!("{s:?} is not a date: write YYYY-MM-DD or use a date cell"))
    };
    match value {
        _ if is_empty(value) => Ok(None),
        Data::DateTime(d) => d
            .as_datetime()
            .map(|t| Some(t.date()))
            .ok_or_else(|| format!("{} is not a date Excel can show", d.as_f64())),
        Data::DateTimeIso(s) | Data::String(s) => from_text(s).map(Some),
        Data::Error(e) => Err(format!("the cell holds the error {e}")),
        other => Err(format!(
            "{} is not a date: write YYYY-MM-DD or use a date cell",
            as_text(other).unwrap_or_default()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book(write_rows: impl FnOnce(&mut Worksheet)) -> Vec<u8> {
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        write_rows(ws);
        wb.save_to_buffer().unwrap()
    }

    #[test]
    fn rows_are_numbered_as_the_spreadsheet_shows_them_and_blank_ones_left_out() {
        let bytes = book(|ws| {
            ws.write_string(0, 0, "id").unwrap();
            ws.write_string(0, 1, "owner").unwrap();
            ws.write_string(1, 0, "a").unwrap();
            ws.write_string(2, 1, "   ").unwrap();
            ws.write_string(4, 0, "b").unwrap();
            ws.write_number(4, 1, 42.0).unwrap();
            ws.write_string(4, 400, "far right").unwrap();
        });
        let rows = read_rows(&bytes, "Actions", 10).unwrap();
        let numbers: Vec<u32> = rows.iter().map(|r| r.number).collect();
        assert_eq!(numbers, [1, 2, 5]);
        assert_eq!(as_text(&rows[2].cells[&1]).as_deref(), Some("42"));
        assert_eq!(rows[2].cells.len(), 2, "column 401 is not read");
        let err = read_rows(&bytes, "Actions", 1).unwrap_err();
        assert!(matches!(err, ReportError::Unprocessable(_)), "{err}");
    }

    #[test]
    fn what_is_not_a_workbook_is_unreadable() {
        for body in [&b""[..], b"id,owner\na,b\n", b"PK\x03\x04 not really a zip"] {
            let err = read_rows(body, "Actions", 10).unwrap_err();
            assert!(matches!(err, ReportError::Unreadable(_)), "{err}");
            assert!(err.to_string().contains("not an .xlsx workbook"), "{err}");
        }
        // A zip that is not a workbook.
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file("hello.txt", zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut zip, b"hello").unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        assert!(matches!(
            read_rows(&bytes, "Actions", 10),
            Err(ReportError::Unreadable(_))
        ));
    }

    #[test]
    fn a_workbook_that_unpacks_to_too_much_is_refused_before_it_is_read() {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        zip.start_file("xl/sharedStrings.xml", options).unwrap();
        std::io::Write::write_all(&mut zip, &vec![b'a'; 3 * 1024 * 1024]).unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        assert!(bytes.len() < 64 * 1024, "{} bytes", bytes.len());
        let err = check_unpacked_size(&bytes, 2 * 1024 * 1024).unwrap_err();
        assert!(matches!(err, ReportError::TooLarge(_)), "{err}");
        assert!(err.to_string().contains("2 MiB"), "{err}");
        assert!(check_unpacked_size(&bytes, 4 * 1024 * 1024).is_ok());
    }

    #[test]
    fn a_small_workbook_of_too_many_shared_strings_is_refused_before_it_is_read() {
        let strings = |n: u64, element: &str| {
            let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            zip.start_file("xl/sharedStrings.xml", options).unwrap();
            let body = element.repeat(n as usize);
            std::io::Write::write_all(&mut zip, body.as_bytes()).unwrap();
            zip.finish().unwrap().into_inner()
        };
        let bomb = strings(MAX_SHARED_STRINGS + 1, "<si/>");
        assert!(bomb.len() < 64 * 1024, "{} bytes", bomb.len());
        let err = check_unpacked_size(&bomb, MAX_UNPACKED_BYTES).unwrap_err();
        assert!(matches!(err, ReportError::TooLarge(_)), "{err}");
        assert!(err.to_string().contains("shared strings"), "{err}");
        let other = strings(MAX_SHARED_STRINGS + 1, "<si>\n<t>a</t></si>");
        assert!(check_unpacked_size(&other, MAX_UNPACKED_BYTES).is_err());
        assert!(check_unpacked_size(
            &strings(MAX_SHARED_STRINGS, "<si><t>a</t></si>"),
            MAX_UNPACKED_BYTES
        )
        .is_ok());
        // A real workbook's strings are counted, not refused.
        let bytes = book(|ws| {
            for r in 0..100 {
                ws.write_string(r, 0, format!("row {r}")).unwrap();
            }
        });
        assert_eq!(read_rows(&bytes, "Sheet1", 1000).unwrap().len(), 100);
    }

    #[test]
    fn dates_are_date_cells_or_iso_text() {
        let d = NaiveDate::from_ymd_opt(2026, 1, 31).unwrap();
        let bytes = book(|ws| {
            let f = Format::new().set_num_format("yyyy-mm-dd");
            ws.write_datetime_with_format(0, 0, excel_date(d).unwrap(), &f)
                .unwrap();
            ws.write_string(0, 1, "2026-01-31").unwrap();
            ws.write_string(0, 2, "2026-01-31T10:00:00Z").unwrap();
            ws.write_string(0, 3, "31/01/2026").unwrap();
            ws.write_number(0, 4, 46053.0).unwrap();
        });
        let row = &read_rows(&bytes, "x", 10).unwrap()[0];
        for c in 0..3 {
            assert_eq!(as_date(&row.cells[&c]), Ok(Some(d)), "column {c}");
        }
        assert!(as_date(&row.cells[&3]).unwrap_err().contains("YYYY-MM-DD"));
        assert!(as_date(&row.cells[&4]).unwrap_err().contains("46053"));
        assert_eq!(as_date(&Data::Empty), Ok(None));
    }

    #[test]
    fn long_text_is_cut_to_what_a_cell_holds() {
        let long = "x".repeat(MAX_CELL_CHARS + 10);
        let bytes = book(|ws| {
            write(ws, &Formats::new(), 0, 0, &Cell::text(long.clone())).unwrap();
        });
        let row = &read_rows(&bytes, "x", 10).unwrap()[0];
        let text = as_text(&row.cells[&0]).unwrap();
        assert_eq!(text.chars().count(), MAX_CELL_CHARS);
        assert!(text.ends_with('…'));
    }
}
