//! Bulk update through a workbook: `GET /actions/export.xlsx` writes the action instances that
//! `GET /actions`'s filters match (its use case, every page), one row each; `POST
//! /actions/import.xlsx` takes such a workbook back and applies each row that changes
//! something as `PATCH /actions/{id}` would (its checks: permissions, provider-managed
//! actions, the status rules; the row's `version` as If-Match), recorded with source `import`.
//!
//! Every row is checked before anything is written. All or nothing by default: one rejected
//! row and none is applied. The rows are then written as `PATCH` writes them (the instance,
//! its history entries and an `ActionUpdated` event), as many rows to a transaction as one
//! holds; a row that another change overtook between the check and the write is checked and
//! written again alone.

use std::collections::{BTreeSet, HashMap};

use attest_domain::action::{ActionPatch, ActionStatus};
use attest_domain::event::Event;
use attest_domain::history::Source;
use attest_domain::identity::{Identity, Permission};
use attest_domain::ids::TenantId;
use attest_domain::vocab::{ImplementationStatus, TestStatus, TestingType};
use attest_domain::FieldError;
use attest_store::backend::MAX_TRANSACTION_OPS;
use attest_store::instances::InstanceUpdate;
use calamine::Data;
use chrono::{DateTime, Utc};

use super::sheet::{self, Cell, Column, Formats, SheetRow};
use super::{ReportError, Workbook};
use crate::usecases::actions::{self, ActionError, ActionFilter, InstanceContext};
use crate::usecases::events;
use crate::AppState;

/// Most rows an export holds: a filter matching more is refused (narrow it).
pub const MAX_EXPORT_ROWS: usize = 10_000;
/// Most rows an import reads below its header.
pub const MAX_IMPORT_ROWS: usize = 10_000;
/// The sheet an export writes and an import reads (else the workbook's first).
pub const SHEET: &str = "Actions";
/// The columns an import applies: `PATCH /actions/{id}`'s fields, named as it names them.
pub const EDITABLE_COLUMNS: [&str; 8] = [
    "owner",
    "implementation_status",
    "implementation_date",
    "implementation_notes",
    "test_status",
    "test_date",
    "test_notes",
    "testing_type",
];

/// The export's columns: the instance and its version, what describes it (read only), then
/// the editable ones.
const EXPORT_COLUMNS: [Column; 17] = [
    Column::new("id", 30.0),
    Column::new("version", 9.0),
    Column::new("title", 44.0),
    Column::new("category", 22.0),
    Column::new("action_type", 14.0),
    Column::new("points", 8.0),
    Column::new("managed_by", 12.0),
    Column::new("assessments", 32.0),
    Column::new("regulations", 26.0),
    Column::editable("owner", 24.0),
    Column::editable("implementation_status", 24.0),
    Column::editable("implementation_date", 21.0),
    Column::editable("implementation_notes", 40.0),
    Column::editable("test_status", 24.0),
    Column::editable("test_date", 12.0),
    Column::editable("test_notes", 40.0),
    Column::editable("testing_type", 13.0),
];

/// Instances one listing call returns at most.
const PAGE: usize = 1000;

fn distinct(values: impl Iterator<Item = String>) -> String {
    values
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
        .join("; ")
}

fn export_row(ctx: &InstanceContext) -> Vec<Cell> {
    let s = &ctx.status;
    vec![
        Cell::text(ctx.instance.api_id()),
        Cell::Number(ctx.version as f64),
        Cell::text(&ctx.def.title),
        Cell::text(ctx.def.category.as_str()),
        Cell::text(ctx.def.action_type.as_str()),
        Cell::Number(ctx.def.points().into()),
        Cell::text(ctx.def.managed_by.as_str()),
        Cell::text(distinct(
            ctx.usages.iter().map(|u| u.assessment_name.clone()),
        )),
        Cell::text(distinct(
            ctx.usages.iter().map(|u| u.regulation_id.to_string()),
        )),
        Cell::optional(s.owner.as_deref()),
        Cell::text(s.implementation_status.as_str()),
        Cell::Date(s.implementation_date),
        Cell::text(&s.implementation_notes),
        Cell::text(s.test_status.as_str()),
        Cell::Date(s.test_date),
        Cell::text(&s.test_notes),
        Cell::text(s.testing_type.as_str()),
    ]
}

fn names<T: Copy>(all: &[T], as_str: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|v| as_str(*v)).collect()
}

/// `GET /actions/export.xlsx`: every instance `GET /actions` lists with these filters, in its
/// order; more than [`MAX_EXPORT_ROWS`] is refused.
pub async fn export_actions(
    state: &AppState,
    tenant: &TenantId,
    filter: &ActionFilter,
) -> Result<Workbook, ReportError> {
    export_at_most(state, tenant, filter, MAX_EXPORT_ROWS).await
}

async fn export_at_most(
    state: &AppState,
    tenant: &TenantId,
    filter: &ActionFilter,
    cap: usize,
) -> Result<Workbook, ReportError> {
    let mut items: Vec<InstanceContext> = Vec::new();
    let mut after = None;
    loop {
        let want = (cap + 1 - items.len()).min(PAGE);
        let page = actions::list(&state.store, tenant, filter, after, want).await?;
        items.extend(page.items);
        if items.len() > cap {
            return Err(ReportError::Unprocessable(format!(
                "these filters match more than {cap} actions, the most one export holds: narrow them (assessment, group, regulation, owner, category, implementation_status, test_status) and export in parts"
            )));
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let formats = Formats::new();
    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet();
    ws.set_name(SHEET)?;
    let rows = sheet::table(ws, &formats, &EXPORT_COLUMNS, items.iter().map(export_row))?;
    let column = |name: &str| {
        EXPORT_COLUMNS
            .iter()
            .position(|c| c.name == name)
            .unwrap_or(0) as u16
    };
    sheet::choices(
        ws,
        column("implementation_status"),
        rows,
        &names(ImplementationStatus::ALL, ImplementationStatus::as_str),
    )?;
    sheet::choices(
        ws,
        column("test_status"),
        rows,
        &names(TestStatus::ALL, TestStatus::as_str),
    )?;
    sheet::choices(
        ws,
        column("testing_type"),
        rows,
        &names(TestingType::ALL, TestingType::as_str),
    )?;
    Ok(Workbook {
        file_name: super::safe_file_name(&format!("actions-{}", state.now().format("%Y-%m-%d"))),
        bytes: book.save_to_buffer()?,
    })
}

/// All or nothing (the default), or the good rows of a workbook with bad ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    AllOrNothing,
    Partial,
}

/// Why a row was rejected, as `PATCH` would have answered it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No such action instance (in this tenant, used by a live assessment).
    NotFound,
    /// The caller's roles do not allow a change the row makes.
    Forbidden,
    /// A rule of the action's state (provider-managed, automatic tests, a verdict without
    /// implementation, ...).
    Conflict,
    /// The row's version is not the instance's any more.
    Stale,
    /// A cell that is not a value the field takes.
    Invalid,
}

/// A row that was not applied, by its number as the spreadsheet shows it (the header is 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRow {
    pub row: u32,
    pub id: Option<String>,
    pub refusal: Refusal,
    pub reason: String,
}

/// What an import did: rows applied, rows that changed nothing, rows rejected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    pub applied: usize,
    pub skipped: usize,
    pub rejected: Vec<RejectedRow>,
}

impl ImportOutcome {
    /// What an all-or-nothing import refused says.
    pub fn refusal(&self) -> String {
        let first = self
            .rejected
            .first()
            .map(|r| format!(" (first: row {}, {})", r.row, r.reason))
            .unwrap_or_default();
        format!(
            "{} row(s) of the workbook were rejected{first}; nothing was applied: fix them, or import with ?partial=true to apply the other rows",
            self.rejected.len(),
        )
    }
}

/// Where the header put the columns the import reads.
struct Layout {
    id: u32,
    version: Option<u32>,
    editable: Vec<(&'static str, u32)>,
}

fn layout(header: &SheetRow) -> Result<Layout, ReportError> {
    let mut found: HashMap<&'static str, u32> = HashMap::new();
    for (col, value) in &header.cells {
        let name = sheet::as_text(value)
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let Some(known) = ["id", "version"]
            .into_iter()
            .chain(EDITABLE_COLUMNS)
            .find(|k| *k == name)
        else {
            continue; // read-only and unknown columns are not imported
        };
        if let Some(first) = found.insert(known, *col) {
            return Err(ReportError::Invalid(FieldError::new(
                known,
                format!(
                    "the header (row {}) names {known} in columns {} and {}: keep one",
                    header.number,
                    column_letters(first),
                    column_letters(*col)
                ),
            )));
        }
    }
    let id = *found.get("id").ok_or_else(|| {
        ReportError::Invalid(FieldError::new(
            "id",
            format!(
                "the header (row {}) has no id column: keep the exported header row, with id, version and the columns to change ({})",
                header.number,
                EDITABLE_COLUMNS.join(", ")
            ),
        ))
    })?;
    Ok(Layout {
        id,
        version: found.get("version").copied(),
        editable: EDITABLE_COLUMNS
            .iter()
            .filter_map(|name| found.get(name).map(|col| (*name, *col)))
            .collect(),
    })
}

/// A column's letters as Excel shows them (0 is A).
fn column_letters(col: u32) -> String {
    let mut n = col + 1;
    let mut out = Vec::new();
    while n > 0 {
        out.push(b'A' + ((n - 1) % 26) as u8);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// A row as read: the instance it names, the version it was exported at, and every editable
/// field its columns give (whether or not it changed).
#[derive(Clone)]
struct ParsedRow {
    number: u32,
    id: String,
    version: Option<u64>,
    fields: ActionPatch,
}

fn text_of(value: &Data) -> Result<String, String> {
    sheet::as_text(value).ok_or_else(|| match value {
        Data::Error(e) => format!("the cell holds the error {e}"),
        _ => "is a date; write text".to_owned(),
    })
}

fn vocabulary<T>(
    value: &Data,
    parse: fn(&str) -> Result<T, attest_domain::DomainError>,
    all: &[&str],
) -> Result<T, String> {
    let text = text_of(value)?;
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("is blank: give one of {}", all.join(", ")));
    }
    parse(text).map_err(|_| format!("{text:?} is not one of {}", all.join(", ")))
}

/// Reads one cell into the field of `fields` its column names. A blank cell clears the
/// nullable fields (owner, dates) and empties the notes; statuses must not be blank.
fn read_field(fields: &mut ActionPatch, name: &str, value: &Data) -> Result<(), String> {
    match name {
        "owner" => {
            let owner = text_of(value)?.trim().to_owned();
            fields.owner = Some(Some(owner).filter(|o| !o.is_empty()));
        }
        "implementation_status" => {
            fields.implementation_status = Some(vocabulary(
                value,
                ImplementationStatus::parse,
                &names(ImplementationStatus::ALL, ImplementationStatus::as_str),
            )?)
        }
        "implementation_date" => fields.implementation_date = Some(sheet::as_date(value)?),
        "implementation_notes" => fields.implementation_notes = Some(text_of(value)?),
        "test_status" => {
            fields.test_status = Some(vocabulary(
                value,
                TestStatus::parse,
                &names(TestStatus::ALL, TestStatus::as_str),
            )?)
        }
        "test_date" => fields.test_date = Some(sheet::as_date(value)?),
        "test_notes" => fields.test_notes = Some(text_of(value)?),
        "testing_type" => {
            fields.testing_type = Some(vocabulary(
                value,
                TestingType::parse,
                &names(TestingType::ALL, TestingType::as_str),
            )?)
        }
        _ => {}
    }
    Ok(())
}

fn parse_row(layout: &Layout, row: &SheetRow) -> Result<ParsedRow, RejectedRow> {
    let cell = |col: u32| row.cells.get(&col).unwrap_or(&Data::Empty);
    let id = sheet::as_text(cell(layout.id))
        .unwrap_or_default()
        .trim()
        .to_owned();
    let reject = |reason: String| RejectedRow {
        row: row.number,
        id: Some(id.clone()).filter(|i| !i.is_empty()),
        refusal: Refusal::Invalid,
        reason,
    };
    if id.is_empty() {
        return Err(reject("the row has no id".into()));
    }
    let mut problems = Vec::new();
    let version = match layout.version.map(cell) {
        None => None,
        Some(v) if sheet::is_empty(v) => None,
        Some(Data::Int(n)) if *n >= 0 => Some(*n as u64),
        Some(Data::Float(f)) if *f >= 0.0 && f.fract() == 0.0 && *f < 9e15 => Some(*f as u64),
        Some(Data::String(s)) if s.trim().parse::<u64>().is_ok() => s.trim().parse().ok(),
        Some(other) => {
            problems.push(format!(
                "version: {} is not a whole number",
                sheet::as_text(other).unwrap_or_else(|| "the cell".into())
            ));
            None
        }
    };
    let mut fields = ActionPatch::default();
    for (name, col) in &layout.editable {
        if let Err(why) = read_field(&mut fields, name, cell(*col)) {
            problems.push(format!("{name}: {why}"));
        }
    }
    if !problems.is_empty() {
        return Err(reject(problems.join("; ")));
    }
    Ok(ParsedRow {
        number: row.number,
        id,
        version,
        fields,
    })
}

/// The fields of `fields` whose value differs from the instance's current one.
#[allow(clippy::needless_update)] // stays right if ActionPatch gains fields
fn changes_only(fields: &ActionPatch, s: &ActionStatus) -> ActionPatch {
    ActionPatch {
        owner: fields.owner.clone().filter(|o| *o != s.owner),
        implementation_status: fields
            .implementation_status
            .filter(|v| *v != s.implementation_status),
        implementation_date: fields
            .implementation_date
            .filter(|v| *v != s.implementation_date),
        implementation_notes: fields
            .implementation_notes
            .clone()
            .filter(|v| *v != s.implementation_notes),
        test_status: fields.test_status.filter(|v| *v != s.test_status),
        test_date: fields.test_date.filter(|v| *v != s.test_date),
        test_notes: fields.test_notes.clone().filter(|v| *v != s.test_notes),
        testing_type: fields.testing_type.filter(|v| *v != s.testing_type),
        ..ActionPatch::default()
    }
}

/// A row ready to write: its change as `PATCH` prepares it (stamped `import`) and its event.
struct Ready {
    row: ParsedRow,
    update: InstanceUpdate,
    event: Event,
}

impl Ready {
    /// Operations and (roughly) bytes the row's write takes in a transaction.
    fn cost(&self) -> (usize, usize) {
        let bytes = serde_json::to_string(&self.update.status).map_or(0, |s| s.len())
            + self
                .update
                .history
                .iter()
                .map(|h| h.old.to_string().len() + h.new.to_string().len() + 200)
                .sum::<usize>()
            + 2 * (self.event.data.to_string().len() + 300);
        (self.update.ops() + 2, bytes)
    }
}

/// What checking a row against its instance gave.
enum Checked {
    Ready(Box<Ready>),
    Unchanged,
    Rejected(RejectedRow),
}

fn rejected(row: &ParsedRow, e: ActionError) -> Result<RejectedRow, ReportError> {
    let (refusal, reason) = match e {
        ActionError::NotFound(_) => (
            Refusal::NotFound,
            format!(
                "no action {} (among the actions of live assessments)",
                row.id
            ),
        ),
        ActionError::Invalid(f) => (Refusal::Invalid, format!("{}: {}", f.field, f.message)),
        ActionError::Forbidden(p) => (
            Refusal::Forbidden,
            format!(
                "your roles do not allow this change: it needs the {} permission",
                permission_name(p)
            ),
        ),
        ActionError::Conflict(m) => (Refusal::Conflict, m),
        ActionError::Stale {
            expected, current, ..
        } => (
            Refusal::Stale,
            format!("changed since the export: version {expected}, now {current}; export again"),
        ),
        ActionError::Store(s) => return Err(ReportError::Store(s)),
    };
    Ok(RejectedRow {
        row: row.number,
        id: Some(row.id.clone()),
        refusal,
        reason,
    })
}

/// Checks a row against its instance as `PATCH` would: nothing changed, or the update (its
/// history stamped `import`) and its event, or why not.
fn check(
    row: &ParsedRow,
    found: Result<InstanceContext, ActionError>,
    caller: &Identity,
    now: DateTime<Utc>,
) -> Result<Checked, ReportError> {
    let ctx = match found {
        Ok(ctx) => ctx,
        Err(e) => return Ok(Checked::Rejected(rejected(row, e)?)),
    };
    let patch = changes_only(&row.fields, &ctx.status);
    if patch.is_empty() {
        return Ok(Checked::Unchanged);
    }
    let update =
        match actions::prepare_update(&ctx, &patch, caller, row.version, now, Source::Import) {
            Ok(u) => u,
            Err(e) => return Ok(Checked::Rejected(rejected(row, e)?)),
        };
    let event = events::action_updated(
        &caller.tenant,
        Some(caller.user.as_str()),
        now,
        &update,
        &ctx.usages,
    );
    Ok(Checked::Ready(Box::new(Ready {
        row: row.clone(),
        update,
        event,
    })))
}

/// How many instances are looked up at once.
const PARALLEL_LOOKUPS: usize = 16;

/// Each row's instance, in the rows' order.
async fn find_all(
    state: &AppState,
    tenant: &TenantId,
    rows: &[ParsedRow],
) -> Result<Vec<Result<InstanceContext, ActionError>>, ReportError> {
    let mut out = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(PARALLEL_LOOKUPS) {
        let mut lookups = tokio::task::JoinSet::new();
        for (i, row) in chunk.iter().enumerate() {
            let (store, tenant, id) = (state.store.clone(), tenant.clone(), row.id.clone());
            lookups.spawn(async move { (i, actions::find_instance(&store, &tenant, &id).await) });
        }
        let mut found: Vec<Option<Result<InstanceContext, ActionError>>> =
            (0..chunk.len()).map(|_| None).collect();
        while let Some(done) = lookups.join_next().await {
            let (i, result) = done.map_err(|e| ReportError::Broken(e.to_string()))?;
            found[i] = Some(result);
        }
        out.extend(found.into_iter().flatten());
    }
    Ok(out)
}

/// Most bytes one transaction's rows take (DynamoDB takes 4 MB; far below it).
const MAX_TRANSACTION_BYTES: usize = 1024 * 1024;
/// How many times a row overtaken by another change is checked and written again.
const ATTEMPTS: u32 = 8;
/// How long an import may spend before it stops writing: well within the 30 s that API
/// Gateway and the function give a request, so that the caller gets an answer saying how far
/// it went rather than a timeout.
pub const IMPORT_BUDGET: std::time::Duration = std::time::Duration::from_secs(20);

/// Writes rows the way `PATCH` writes one (instance, history, event), several to a
/// transaction. Rows whose transaction lost a race are checked and written again one by one;
/// all or nothing, the first of them rejected then stops the import (409: what was written
/// stays, and the answer says how far it went).
async fn write(
    state: &AppState,
    caller: &Identity,
    ready: Vec<Ready>,
    mode: ImportMode,
    outcome: &mut ImportOutcome,
    deadline: std::time::Instant,
) -> Result<(), ReportError> {
    let mut batches: Vec<Vec<Ready>> = Vec::new();
    let mut batch: Vec<Ready> = Vec::new();
    let (mut ops, mut bytes) = (0, 0);
    for r in ready {
        let (o, b) = r.cost();
        if !batch.is_empty() && (ops + o > MAX_TRANSACTION_OPS || bytes + b > MAX_TRANSACTION_BYTES)
        {
            batches.push(std::mem::take(&mut batch));
            (ops, bytes) = (0, 0);
        }
        (ops, bytes) = (ops + o, bytes + b);
        batch.push(r);
    }
    if !batch.is_empty() {
        batches.push(batch);
    }
    let mut batches = batches.into_iter();
    while let Some(batch) = batches.next() {
        if std::time::Instant::now() >= deadline {
            return out_of_time(batch.into_iter().chain(batches.flatten()), mode, outcome);
        }
        let updates: Vec<InstanceUpdate> = batch.iter().map(|r| r.update.clone()).collect();
        let events: Vec<Event> = batch.iter().map(|r| r.event.clone()).collect();
        match state
            .store
            .update_instances(&caller.tenant, &updates, &events)
            .await
        {
            Ok(_) => outcome.applied += batch.len(),
            Err(e) if actions::lost_race(&e) => {
                for r in batch {
                    again(state, caller, &r.row, mode, outcome).await?;
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The import's time is up with `left` still to write: all or nothing, 409 saying how far it
/// went; partial, those rows listed as not applied. Importing the same workbook again applies
/// them (the rows written now change nothing).
fn out_of_time(
    left: impl Iterator<Item = Ready>,
    mode: ImportMode,
    outcome: &mut ImportOutcome,
) -> Result<(), ReportError> {
    let left: Vec<Ready> = left.collect();
    tracing::warn!(
        applied = outcome.applied,
        left = left.len(),
        "an import ran out of time"
    );
    let reason = format!(
        "not applied: the import stopped after {} s with {} rows applied; import the same workbook again to apply the rest",
        IMPORT_BUDGET.as_secs(),
        outcome.applied
    );
    if mode == ImportMode::AllOrNothing {
        return Err(ReportError::Conflict(format!(
            "this import took too long and stopped after {} s: {} rows were applied, {} were not (from row {}); import the same workbook again to apply the rest",
            IMPORT_BUDGET.as_secs(),
            outcome.applied,
            left.len(),
            left.first().map_or(0, |r| r.row.number)
        )));
    }
    outcome
        .rejected
        .extend(left.into_iter().map(|r| RejectedRow {
            row: r.row.number,
            id: Some(r.row.id.clone()),
            refusal: Refusal::Conflict,
            reason: reason.clone(),
        }));
    Ok(())
}

/// One row overtaken by another change: checked against the instance as it is now and
/// written alone (as `PATCH` does: with a version, a lost race is stale; without, it is tried
/// again on the new state).
async fn again(
    state: &AppState,
    caller: &Identity,
    row: &ParsedRow,
    mode: ImportMode,
    outcome: &mut ImportOutcome,
) -> Result<(), ReportError> {
    for attempt in 0..ATTEMPTS {
        let found = actions::find_instance(&state.store, &caller.tenant, &row.id).await;
        let r = match check(row, found, caller, state.now())? {
            Checked::Unchanged => {
                outcome.skipped += 1;
                return Ok(());
            }
            Checked::Rejected(r) => return refuse(r, mode, outcome),
            Checked::Ready(r) => r,
        };
        match state
            .store
            .update_instances(
                &caller.tenant,
                std::slice::from_ref(&r.update),
                std::slice::from_ref(&r.event),
            )
            .await
        {
            Ok(_) => {
                outcome.applied += 1;
                return Ok(());
            }
            Err(e) if actions::lost_race(&e) => attest_store::pause_before_retry(attempt).await,
            Err(e) => return Err(e.into()),
        }
    }
    refuse(
        RejectedRow {
            row: row.number,
            id: Some(row.id.clone()),
            refusal: Refusal::Conflict,
            reason: format!(
                "action {} kept changing while this import was written; try again",
                row.id
            ),
        },
        mode,
        outcome,
    )
}

/// A row rejected while the import was being written: listed (partial), or the end of the
/// import (all or nothing).
fn refuse(
    r: RejectedRow,
    mode: ImportMode,
    outcome: &mut ImportOutcome,
) -> Result<(), ReportError> {
    if mode == ImportMode::AllOrNothing {
        return Err(ReportError::Conflict(format!(
            "row {} (action {}) changed while this import was written: {}. The {} rows before it were applied; it and the rows after it were not: export again and import the rest",
            r.row,
            r.id.as_deref().unwrap_or(""),
            r.reason,
            outcome.applied
        )));
    }
    outcome.rejected.push(r);
    Ok(())
}

/// `POST /actions/import.xlsx`: applies the rows of an exported (and edited) workbook that
/// change something, under `PATCH`'s rules and the caller's permissions, with each row's
/// `version` as If-Match. All or nothing: any rejected row is a [`ReportError::Rejected`]
/// listing every one, and nothing is written; [`ImportMode::Partial`] writes the good rows
/// and lists the others.
pub async fn import_actions(
    state: &AppState,
    caller: &Identity,
    bytes: &[u8],
    mode: ImportMode,
) -> Result<ImportOutcome, ReportError> {
    import_within(state, caller, bytes, mode, IMPORT_BUDGET).await
}

/// [`import_actions`], writing only until `budget` has passed since it began.
async fn import_within(
    state: &AppState,
    caller: &Identity,
    bytes: &[u8],
    mode: ImportMode,
    budget: std::time::Duration,
) -> Result<ImportOutcome, ReportError> {
    let deadline = std::time::Instant::now() + budget;
    let rows = sheet::read_rows(bytes, SHEET, MAX_IMPORT_ROWS)?;
    let Some((header, rows)) = rows.split_first() else {
        return Err(ReportError::Invalid(FieldError::new(
            "id",
            "the workbook's sheet is empty: it needs the exported header row (id, version and the columns to change) and a row per action",
        )));
    };
    let layout = layout(header)?;
    let mut outcome = ImportOutcome::default();
    let mut parsed: Vec<ParsedRow> = Vec::with_capacity(rows.len());
    let mut seen: HashMap<String, u32> = HashMap::new();
    for row in rows {
        match parse_row(&layout, row) {
            Err(r) => outcome.rejected.push(r),
            Ok(p) => match seen.get(&p.id) {
                Some(first) => outcome.rejected.push(RejectedRow {
                    row: p.number,
                    id: Some(p.id.clone()),
                    refusal: Refusal::Invalid,
                    reason: format!(
                        "action {} is on row {first} too: give each action one row",
                        p.id
                    ),
                }),
                None => {
                    seen.insert(p.id.clone(), p.number);
                    parsed.push(p);
                }
            },
        }
    }
    let found = find_all(state, &caller.tenant, &parsed).await?;
    let now = state.now();
    let mut ready = Vec::new();
    for (row, found) in parsed.iter().zip(found) {
        match check(row, found, caller, now)? {
            Checked::Ready(r) => ready.push(*r),
            Checked::Unchanged => outcome.skipped += 1,
            Checked::Rejected(r) => outcome.rejected.push(r),
        }
    }
    outcome.rejected.sort_by_key(|r| r.row);
    if mode == ImportMode::AllOrNothing && !outcome.rejected.is_empty() {
        return Err(ReportError::Rejected(outcome));
    }
    write(state, caller, ready, mode, &mut outcome, deadline).await?;
    outcome.rejected.sort_by_key(|r| r.row);
    tracing::info!(tenant = %caller.tenant, applied = outcome.applied, skipped = outcome.skipped, rejected = outcome.rejected.len(), "actions imported");
    Ok(outcome)
}

/// What a permission is called in API.md, for messages.
fn permission_name(p: Permission) -> String {
    serde_json::to_value(p)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{p:?}"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use attest_domain::identity::Role;
    use attest_domain::ids::AssessmentId;
    use chrono::NaiveDate;
    use rust_xlsxwriter::Format;
    use serde_json::json;

    use super::super::sheet::excel_date;
    use super::super::testing::{cells, date, text};
    use super::*;
    use crate::usecases::testkit::{assess, ports};

    fn patch(v: serde_json::Value) -> ActionPatch {
        serde_json::from_value(v).unwrap()
    }

    fn only(assessment: &AssessmentId) -> ActionFilter {
        ActionFilter {
            assessments: vec![assessment.clone()],
            ..Default::default()
        }
    }

    /// Writes rows of cells as a workbook of one sheet named `Actions` (as someone who edited
    /// an export and saved it would).
    fn workbook(rows: &[Vec<Data>]) -> Vec<u8> {
        let mut book = rust_xlsxwriter::Workbook::new();
        let ws = book.add_worksheet();
        ws.set_name(SHEET).unwrap();
        let day = Format::new().set_num_format("yyyy-mm-dd");
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let (r, c) = (r as u32, c as u16);
                match cell {
                    Data::String(s) => {
                        ws.write_string(r, c, s).unwrap();
                    }
                    Data::Float(f) => {
                        ws.write_number(r, c, *f).unwrap();
                    }
                    Data::Int(i) => {
                        ws.write_number(r, c, *i as f64).unwrap();
                    }
                    Data::DateTime(d) => {
                        let d = d.as_datetime().unwrap().date();
                        ws.write_datetime_with_format(r, c, excel_date(d).unwrap(), &day)
                            .unwrap();
                    }
                    Data::Empty => {}
                    other => panic!("no such cell here: {other:?}"),
                }
            }
        }
        book.save_to_buffer().unwrap()
    }

    /// The export's rows, and a way to edit them by action id and column name.
    struct Sheet {
        rows: Vec<Vec<Data>>,
    }

    impl Sheet {
        fn of(bytes: &[u8]) -> Self {
            Self {
                rows: cells(bytes, SHEET),
            }
        }

        fn col(&self, name: &str) -> usize {
            self.rows[0].iter().position(|h| text(h) == name).unwrap()
        }

        /// The row number (as the spreadsheet shows it) of an action.
        fn number(&self, id: &str) -> u32 {
            self.rows.iter().position(|r| text(&r[0]) == id).unwrap() as u32 + 1
        }

        fn get(&self, id: &str, column: &str) -> &Data {
            let row = self.number(id) as usize - 1;
            &self.rows[row][self.col(column)]
        }

        fn set(&mut self, id: &str, column: &str, value: Data) {
            let (row, col) = (self.number(id) as usize - 1, self.col(column));
            self.rows[row][col] = value;
        }

        fn ids(&self) -> Vec<String> {
            self.rows[1..].iter().map(|r| text(&r[0])).collect()
        }

        /// The first action whose cells match.
        fn find(&self, pred: impl Fn(&Row) -> bool) -> String {
            self.rows[1..]
                .iter()
                .find(|r| {
                    pred(&Row {
                        sheet: self,
                        cells: r,
                    })
                })
                .map(|r| text(&r[0]))
                .expect("a matching action")
        }

        fn bytes(&self) -> Vec<u8> {
            workbook(&self.rows)
        }
    }

    /// One row of a [`Sheet`], its cells by column name.
    struct Row<'a> {
        sheet: &'a Sheet,
        cells: &'a [Data],
    }

    impl Row<'_> {
        fn c(&self, column: &str) -> String {
            text(&self.cells[self.sheet.col(column)])
        }
    }

    fn s(v: &str) -> Data {
        Data::String(v.into())
    }

    async fn listed(
        state: &AppState,
        tenant: &TenantId,
        filter: &ActionFilter,
    ) -> Vec<InstanceContext> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let page = actions::list(&state.store, tenant, filter, after, 200)
                .await
                .unwrap();
            out.extend(page.items);
            match page.next {
                Some(n) => after = Some(n),
                None => return out,
            }
        }
    }

    #[tokio::test]
    async fn the_export_lists_what_get_actions_lists_editable_columns_by_their_field_names() {
        let (state, caller, _dir) = ports();
        let iso = assess(&state, &caller, "iso-27001-2022", "Europe").await;
        assess(&state, &caller, "gdpr", "Americas").await;
        let change = json!({"owner": "cara", "implementation_status": "implemented",
            "implementation_date": "2026-01-31", "implementation_notes": "line one\nline two"});
        actions::update(&state, &caller, "mfa-admins", &patch(change), None)
            .await
            .unwrap();
        let filter = only(&iso.id);
        let export = export_actions(&state, &caller.tenant, &filter)
            .await
            .unwrap();
        assert!(
            export.file_name.starts_with("actions-"),
            "{}",
            export.file_name
        );
        let sheet = Sheet::of(&export.bytes);
        let header: Vec<String> = sheet.rows[0].iter().map(text).collect();
        assert_eq!(&header[..2], ["id", "version"]);
        assert_eq!(&header[header.len() - 8..], EDITABLE_COLUMNS);
        let want: Vec<String> = listed(&state, &caller.tenant, &filter)
            .await
            .iter()
            .map(|c| c.instance.api_id())
            .collect();
        assert!(want.len() > 50);
        assert_eq!(
            sheet.ids(),
            want,
            "every instance GET /actions lists, in its order"
        );
        assert_eq!(sheet.get("mfa-admins", "version"), &Data::Float(1.0));
        assert_eq!(text(sheet.get("mfa-admins", "owner")), "cara");
        assert_eq!(
            date(sheet.get("mfa-admins", "implementation_date")),
            NaiveDate::from_ymd_opt(2026, 1, 31)
        );
        assert_eq!(
            text(sheet.get("mfa-admins", "implementation_notes")),
            "line one\nline two"
        );
        assert_eq!(text(sheet.get("mfa-admins", "testing_type")), "manual");
        assert_eq!(sheet.get("mfa-admins", "points"), &Data::Float(27.0));
        assert!(text(sheet.get("mfa-admins", "regulations")).contains("iso-27001-2022"));
        // Exported unchanged, it changes nothing.
        let outcome = import_actions(&state, &caller, &export.bytes, ImportMode::AllOrNothing)
            .await
            .unwrap();
        assert_eq!(
            outcome,
            ImportOutcome {
                applied: 0,
                skipped: want.len(),
                rejected: vec![]
            }
        );
        // Too many for one export: refused, naming what to do.
        let err = export_at_most(&state, &caller.tenant, &filter, 5)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ReportError::Unprocessable(m) if m.contains("more than 5") && m.contains("narrow")),
            "{err}"
        );
    }

    /// A tenant with ISO assessed, `mfa-admins` implemented by cara, and its export edited:
    /// `mfa-admins` passed by eve, a group action planned with notes, and a third action
    /// passed though not implemented (the bad row).
    async fn edited() -> (
        AppState,
        attest_domain::identity::Identity,
        tempfile::TempDir,
        Sheet,
        [String; 3],
    ) {
        let (state, caller, dir) = ports();
        let iso = assess(&state, &caller, "iso-27001-2022", "Europe").await;
        let change = json!({"owner": "cara", "implementation_status": "implemented"});
        actions::update(&state, &caller, "mfa-admins", &patch(change), None)
            .await
            .unwrap();
        let export = export_actions(&state, &caller.tenant, &only(&iso.id))
            .await
            .unwrap();
        let mut sheet = Sheet::of(&export.bytes);
        let group = sheet.find(|r| {
            r.c("id").contains('@')
                && r.c("managed_by") == "customer"
                && r.c("testing_type") == "manual"
        });
        let bad = sheet.find(|r| {
            !r.c("id").contains('@')
                && r.c("id") != "mfa-admins"
                && r.c("managed_by") == "customer"
                && r.c("testing_type") == "manual"
                && r.c("implementation_status") == "not_implemented"
        });
        sheet.set("mfa-admins", "owner", s("  eve  "));
        sheet.set("mfa-admins", "test_status", s("passed"));
        sheet.set("mfa-admins", "test_date", s("2026-02-01"));
        sheet.set(&group, "implementation_status", s("planned"));
        sheet.set(&group, "implementation_notes", s("draft"));
        sheet.set(&bad, "test_status", s("passed"));
        (state, caller, dir, sheet, ["mfa-admins".into(), group, bad])
    }

    #[tokio::test]
    async fn all_or_nothing_a_rejected_row_stops_every_row() {
        let (state, caller, _dir, sheet, [mfa, group, bad]) = edited().await;
        let err = import_actions(&state, &caller, &sheet.bytes(), ImportMode::AllOrNothing)
            .await
            .unwrap_err();
        let ReportError::Rejected(outcome) = &err else {
            panic!("{err}")
        };
        assert_eq!(outcome.applied, 0);
        assert_eq!(outcome.rejected.len(), 1, "{outcome:?}");
        let r = &outcome.rejected[0];
        assert_eq!(
            (r.row, r.id.as_deref(), r.refusal),
            (sheet.number(&bad), Some(bad.as_str()), Refusal::Conflict)
        );
        assert!(r.reason.contains("implementation_status"), "{}", r.reason);
        assert!(err.to_string().contains("nothing was applied"), "{err}");
        for (id, version) in [(&mfa, 1), (&group, 0), (&bad, 0)] {
            let ctx = actions::find_instance(&state.store, &caller.tenant, id)
                .await
                .unwrap();
            assert_eq!(ctx.version, version, "{id} unchanged");
        }
        assert_eq!(
            actions::history(&state.store, &caller.tenant, &mfa, 10)
                .await
                .unwrap()
                .len(),
            2
        );
    }

    #[tokio::test]
    async fn an_import_out_of_time_says_how_far_it_went_and_the_same_workbook_finishes_it() {
        let (state, caller, _dir, sheet, [mfa, _group, bad]) = edited().await;
        let late = import_within(
            &state,
            &caller,
            &sheet.bytes(),
            ImportMode::Partial,
            std::time::Duration::ZERO,
        )
        .await
        .unwrap();
        assert_eq!(late.applied, 0);
        let not_applied: Vec<&RejectedRow> = late
            .rejected
            .iter()
            .filter(|r| r.reason.contains("import the same workbook again"))
            .collect();
        assert_eq!(not_applied.len(), 2, "{:?}", late.rejected);
        assert!(late.rejected.iter().any(|r| r.row == sheet.number(&bad)));
        let ctx = actions::find_instance(&state.store, &caller.tenant, &mfa)
            .await
            .unwrap();
        assert_eq!(ctx.version, 1, "nothing written");
        let err = import_within(
            &state,
            &caller,
            &sheet.bytes(),
            ImportMode::AllOrNothing,
            std::time::Duration::ZERO,
        )
        .await
        .unwrap_err();
        // All or nothing checks every row first: the bad one is the answer here.
        assert!(matches!(err, ReportError::Rejected(_)), "{err}");
        let done = import_actions(&state, &caller, &sheet.bytes(), ImportMode::Partial)
            .await
            .unwrap();
        assert_eq!(done.applied, 2);
    }

    #[tokio::test]
    async fn partial_applies_the_good_rows_recorded_as_imported() {
        let (state, caller, _dir, sheet, [mfa, group, bad]) = edited().await;
        let outcome = import_actions(&state, &caller, &sheet.bytes(), ImportMode::Partial)
            .await
            .unwrap();
        assert_eq!(outcome.applied, 2);
        assert_eq!(outcome.skipped, sheet.ids().len() - 3);
        assert_eq!(outcome.rejected.len(), 1);
        assert_eq!(outcome.rejected[0].row, sheet.number(&bad));
        let ctx = actions::find_instance(&state.store, &caller.tenant, &mfa)
            .await
            .unwrap();
        assert_eq!(ctx.version, 2);
        assert_eq!(
            ctx.status.owner.as_deref(),
            Some("eve"),
            "trimmed as PATCH trims it"
        );
        assert_eq!(ctx.status.test_status, TestStatus::Passed);
        assert_eq!(ctx.status.test_date, NaiveDate::from_ymd_opt(2026, 2, 1));
        let history = actions::history(&state.store, &caller.tenant, &mfa, 10)
            .await
            .unwrap();
        let fields: BTreeSet<&str> = history
            .iter()
            .filter(|h| h.source == Source::Import)
            .map(|h| h.field.as_str())
            .collect();
        assert_eq!(
            fields,
            BTreeSet::from(["owner", "test_status", "test_date"])
        );
        let ctx = actions::find_instance(&state.store, &caller.tenant, &group)
            .await
            .unwrap();
        assert_eq!(
            ctx.status.implementation_status,
            ImplementationStatus::Planned
        );
        assert_eq!(ctx.status.implementation_notes, "draft");
        assert_eq!(
            actions::find_instance(&state.store, &caller.tenant, &bad)
                .await
                .unwrap()
                .version,
            0
        );
        // Each applied row wrote its ActionUpdated event, as PATCH does, saying import.
        let events = state
            .store
            .list_events(
                &caller.tenant,
                None,
                Some(attest_domain::event::EventType::ActionUpdated),
                50,
            )
            .await
            .unwrap()
            .events;
        let imported: Vec<&str> = events
            .iter()
            .filter(|e| e.data["source"] == "import")
            .map(|e| e.data["action"].as_str().unwrap())
            .collect();
        assert_eq!(imported.len(), 2);
        assert!(imported.contains(&mfa.as_str()) && imported.contains(&group.as_str()));
        // The same workbook again: what was applied now changes nothing.
        let again = import_actions(&state, &caller, &sheet.bytes(), ImportMode::Partial)
            .await
            .unwrap();
        assert_eq!((again.applied, again.rejected.len()), (0, 1));
    }

    #[tokio::test]
    async fn rows_are_checked_as_patch_checks_them() {
        let (state, caller, _dir, mut sheet, [mfa, group, bad]) = edited().await;
        sheet.set(&bad, "test_status", s("none"));
        // Changed since the export: its version is stale.
        actions::update(
            &state,
            &caller,
            &mfa,
            &patch(json!({"implementation_notes": "meanwhile"})),
            None,
        )
        .await
        .unwrap();
        // A contributor may not change test fields.
        let contributor = attest_domain::identity::Identity {
            roles: BTreeSet::from([Role::Contributor]),
            ..caller.clone()
        };
        let outcome = import_actions(&state, &contributor, &sheet.bytes(), ImportMode::Partial)
            .await
            .unwrap();
        let by_id: HashMap<&str, &RejectedRow> = outcome
            .rejected
            .iter()
            .map(|r| (r.id.as_deref().unwrap(), r))
            .collect();
        assert_eq!(
            by_id[mfa.as_str()].refusal,
            Refusal::Forbidden,
            "{outcome:?}"
        );
        assert!(by_id[mfa.as_str()].reason.contains("edit_tests"));
        let stale = import_actions(&state, &caller, &sheet.bytes(), ImportMode::Partial)
            .await
            .unwrap();
        let r = stale
            .rejected
            .iter()
            .find(|r| r.id.as_deref() == Some(&mfa))
            .unwrap();
        assert_eq!(r.refusal, Refusal::Stale);
        assert_eq!(
            r.reason,
            "changed since the export: version 1, now 2; export again"
        );
        // The group action's row was fine both times; applied by the first import.
        assert_eq!(outcome.applied, 1);
        assert_eq!(
            actions::find_instance(&state.store, &caller.tenant, &group)
                .await
                .unwrap()
                .version,
            1
        );
        // Without a version, the row applies on the current one (as PATCH without If-Match).
        let version = sheet.col("version");
        let row = sheet.number(&mfa) as usize - 1;
        sheet.rows[row][version] = Data::Empty;
        let outcome = import_actions(&state, &caller, &sheet.bytes(), ImportMode::AllOrNothing)
            .await
            .unwrap();
        assert_eq!((outcome.applied, outcome.rejected.len()), (1, 0));
    }

    #[tokio::test]
    async fn provider_actions_are_skipped_unless_changed() {
        let (state, caller, _dir) = ports();
        let iso = assess(&state, &caller, "nist-800-53-r5-moderate", "Europe").await;
        let export = export_actions(&state, &caller.tenant, &only(&iso.id))
            .await
            .unwrap();
        let mut sheet = Sheet::of(&export.bytes);
        let provider = sheet.find(|r| r.c("managed_by") == "provider");
        let outcome = import_actions(&state, &caller, &sheet.bytes(), ImportMode::AllOrNothing)
            .await
            .unwrap();
        assert_eq!(outcome.skipped, sheet.ids().len());
        sheet.set(&provider, "owner", s("someone"));
        let err = import_actions(&state, &caller, &sheet.bytes(), ImportMode::AllOrNothing)
            .await
            .unwrap_err();
        let ReportError::Rejected(outcome) = err else {
            panic!()
        };
        assert_eq!(outcome.rejected[0].refusal, Refusal::Conflict);
        assert!(
            outcome.rejected[0]
                .reason
                .contains("managed by the cloud provider"),
            "{:?}",
            outcome.rejected
        );
    }

    #[tokio::test]
    async fn bad_workbooks_and_cells_are_named() {
        let (state, caller, _dir) = ports();
        assess(&state, &caller, "iso-27001-2022", "Europe").await;
        actions::update(
            &state,
            &caller,
            "mfa-admins",
            &patch(json!({"owner": "cara", "test_date": "2026-01-02"})),
            None,
        )
        .await
        .unwrap();
        let import = |rows: Vec<Vec<Data>>| {
            let (state, caller) = (state.clone(), caller.clone());
            async move { import_actions(&state, &caller, &workbook(&rows), ImportMode::Partial).await }
        };
        // No id column; an empty sheet; a column named twice.
        let err = import(vec![vec![s("owner")], vec![s("x")]])
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ReportError::Invalid(f) if f.field == "id" && f.message.contains("row 1")),
            "{err}"
        );
        let err = import(vec![]).await.unwrap_err();
        assert!(
            matches!(&err, ReportError::Invalid(f) if f.field == "id"),
            "{err}"
        );
        let err = import(vec![vec![s("id"), s("owner"), s("Owner")]])
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ReportError::Invalid(f) if f.field == "owner" && f.message.contains("B and C")),
            "{err}"
        );
        let err = import_actions(&state, &caller, b"id,owner\n", ImportMode::Partial)
            .await
            .unwrap_err();
        assert!(matches!(err, ReportError::Unreadable(_)));
        // Unknown columns are ignored; blank owner and date clear them; cells that are not
        // values of their field are named; an id twice is refused on its second row.
        let outcome = import(vec![
            vec![
                s("ID "),
                s("colour"),
                s("owner"),
                s("test_date"),
                s("test_status"),
            ],
            vec![
                s("mfa-admins"),
                s("red"),
                Data::Empty,
                Data::Empty,
                s("none"),
            ],
            vec![],
            vec![s("mfa-admins"), s("blue"), s("dan"), Data::Empty, s("none")],
            vec![
                s("asset-inventory"),
                Data::Empty,
                s("x"),
                s("31/01/2026"),
                s("great"),
            ],
            vec![
                s("no-such-action"),
                Data::Empty,
                s("x"),
                Data::Empty,
                s("none"),
            ],
            vec![Data::Empty, Data::Empty, s("nobody")],
        ])
        .await
        .unwrap();
        assert_eq!(outcome.applied, 1);
        let ctx = actions::find_instance(&state.store, &caller.tenant, "mfa-admins")
            .await
            .unwrap();
        assert_eq!((ctx.status.owner, ctx.status.test_date), (None, None));
        let rejected: Vec<(u32, Refusal)> = outcome
            .rejected
            .iter()
            .map(|r| (r.row, r.refusal))
            .collect();
        assert_eq!(
            rejected,
            [
                (4, Refusal::Invalid),
                (5, Refusal::Invalid),
                (6, Refusal::NotFound),
                (7, Refusal::Invalid)
            ],
            "{outcome:?}"
        );
        assert!(outcome.rejected[0].reason.contains("row 2 too"));
        let cells = &outcome.rejected[1].reason;
        assert!(
            cells.contains("test_date")
                && cells.contains("YYYY-MM-DD")
                && cells.contains("test_status")
                && cells.contains("\"great\""),
            "{cells}"
        );
        assert!(outcome.rejected[3].reason.contains("no id"));
        // A blank status is not a value: named too.
        let outcome = import(vec![
            vec![s("id"), s("implementation_status")],
            vec![s("mfa-admins"), s(" ")],
        ])
        .await
        .unwrap();
        assert!(
            outcome.rejected[0]
                .reason
                .contains("implementation_status: is blank"),
            "{outcome:?}"
        );
    }

    #[test]
    fn columns_are_lettered_as_excel_letters_them() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(701), "ZZ");
        assert_eq!(column_letters(702), "AAA");
        let editable: Vec<&str> = EXPORT_COLUMNS
            .iter()
            .filter(|c| c.editable)
            .map(|c| c.name)
            .collect();
        assert_eq!(editable, EDITABLE_COLUMNS);
    }
}
