//! `GET /assessments/{id}/report.xlsx`: a "Summary" sheet (the assessment, its score and
//! progress, when the report was made) and a "Controls" sheet, one row per control and action
//! with its status, dates, notes and evidence. Live assessments show their current state, or
//! with `as_of` the state then: the score from the score history (as `GET /assessments/{id}`
//! gives it), each action's status its current one with the changes recorded since undone.
//! Archived assessments show their snapshot (which keeps no notes).

use std::collections::{BTreeMap, HashMap};

use attest_domain::action::InstanceRef;
use attest_domain::evidence::{Evidence, EvidenceStatus};
use attest_domain::history::HistoryEntry;
use attest_domain::ids::TenantId;
use attest_domain::vocab::{ImplementationStatus, TestStatus, TestingType};
use chrono::{DateTime, NaiveDate, Utc};
use serde::de::DeserializeOwned;

use super::sheet::{self, Cell, Column, Formats};
use super::{ReportError, Workbook};
use crate::usecases::assessments;
use crate::usecases::views::{ActionSummary, AssessmentView, ControlFilter, ControlView};
use crate::AppState;

/// What the report shows of an action instance's status: the fields people work on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worked {
    pub owner: Option<String>,
    pub implementation_status: ImplementationStatus,
    pub implementation_date: Option<NaiveDate>,
    pub implementation_notes: String,
    pub test_status: TestStatus,
    pub test_date: Option<NaiveDate>,
    pub test_notes: String,
    pub testing_type: TestingType,
}

impl Worked {
    fn from_summary(a: &ActionSummary) -> Self {
        Self {
            owner: a.owner.clone(),
            implementation_status: a.implementation_status,
            implementation_date: a.implementation_date,
            implementation_notes: String::new(),
            test_status: a.test_status,
            test_date: a.test_date,
            test_notes: String::new(),
            testing_type: a.testing_type,
        }
    }
}

fn old_value<T: DeserializeOwned>(entry: &HistoryEntry) -> Result<T, String> {
    serde_json::from_value(entry.old.clone()).map_err(|e| {
        format!(
            "history entry of {} at {} has an old value {} that does not read: {e}",
            entry.field, entry.at, entry.old
        )
    })
}

/// The status an instance had at `as_of`: `current`, with every change recorded after
/// `as_of` undone, newest first (each field goes back to the value its oldest change after
/// `as_of` started from). Entries of other fields (evidence) change nothing here; an entry
/// whose old value does not read is an error.
pub fn status_as_of(
    current: &Worked,
    history: &[HistoryEntry],
    as_of: DateTime<Utc>,
) -> Result<Worked, String> {
    let mut later: Vec<&HistoryEntry> = history.iter().filter(|h| h.at > as_of).collect();
    later.sort_by_key(|h| std::cmp::Reverse(h.at));
    let mut s = current.clone();
    for entry in later {
        match entry.field.as_str() {
            "owner" => s.owner = old_value(entry)?,
            "implementation_status" => s.implementation_status = old_value(entry)?,
            "implementation_date" => s.implementation_date = old_value(entry)?,
            "implementation_notes" => s.implementation_notes = old_value(entry)?,
            "test_status" => s.test_status = old_value(entry)?,
            "test_date" => s.test_date = old_value(entry)?,
            "test_notes" => s.test_notes = old_value(entry)?,
            "testing_type" => s.testing_type = old_value(entry)?,
            _ => {}
        }
    }
    Ok(s)
}

/// How many histories are read at once.
const PARALLEL_READS: usize = 16;

/// The history entries of each instance recorded after `after`, by instance id.
async fn histories_since(
    state: &AppState,
    tenant: &TenantId,
    ids: &[String],
    after: DateTime<Utc>,
) -> Result<HashMap<String, Vec<HistoryEntry>>, ReportError> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(PARALLEL_READS) {
        let mut reads = tokio::task::JoinSet::new();
        for id in chunk {
            let instance = InstanceRef::parse(id)
                .ok_or_else(|| ReportError::Broken(format!("bad instance id {id}")))?;
            let (store, tenant, id) = (state.store.clone(), tenant.clone(), id.clone());
            reads.spawn(async move {
                let entries = store.list_history_since(&tenant, &instance, after).await;
                (id, entries)
            });
        }
        while let Some(done) = reads.join_next().await {
            let (id, entries) = done.map_err(|e| ReportError::Broken(e.to_string()))?;
            out.insert(id, entries?);
        }
    }
    Ok(out)
}

/// Each instance's status as the report shows it: the controls' (live or frozen), with the
/// notes of the live instances, taken back to `as_of` when given.
async fn statuses(
    state: &AppState,
    tenant: &TenantId,
    current: &AssessmentView,
    controls: &[ControlView],
    as_of: Option<DateTime<Utc>>,
) -> Result<HashMap<String, Worked>, ReportError> {
    let mut worked: HashMap<String, Worked> = controls
        .iter()
        .flat_map(|c| &c.actions)
        .map(|a| (a.id.clone(), Worked::from_summary(a)))
        .collect();
    if !current.archived {
        let stored = state
            .store
            .list_instances_for_group(tenant, &current.group_id)
            .await?;
        for (instance, status) in stored {
            if let Some(w) = worked.get_mut(&instance.api_id()) {
                w.implementation_notes = status.value.implementation_notes;
                w.test_notes = status.value.test_notes;
            }
        }
    }
    // An archive froze its state when archived: only what changed between `as_of` and then
    // is undone.
    let Some(at) = as_of.filter(|at| current.archived_at.is_none_or(|frozen| *at < frozen)) else {
        return Ok(worked);
    };
    let mut ids: Vec<String> = worked.keys().cloned().collect();
    ids.sort();
    for (id, mut entries) in histories_since(state, tenant, &ids, at).await? {
        if let Some(frozen) = current.archived_at {
            entries.retain(|e| e.at <= frozen);
        }
        if let Some(w) = worked.get_mut(&id) {
            *w = status_as_of(w, &entries, at).map_err(ReportError::Broken)?;
            if current.archived {
                // Archives keep no notes: none is shown, not even an older one.
                w.implementation_notes.clear();
                w.test_notes.clear();
            }
        }
    }
    Ok(worked)
}

/// An action's evidence in one cell: each item on a line, its name, and for a link its URL;
/// a file that is not verified says so.
fn evidence_text(items: &[Evidence]) -> String {
    items
        .iter()
        .map(|e| match (e.url(), e.status()) {
            (Some(url), _) => format!("{} <{url}>", e.name),
            (None, EvidenceStatus::Verified) => e.name.clone(),
            (None, status) => format!("{} ({})", e.name, status.as_str()),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

const CONTROL_COLUMNS: [Column; 15] = [
    Column::new("Family id", 10.0),
    Column::new("Family", 28.0),
    Column::new("Control", 12.0),
    Column::new("Control title", 40.0),
    Column::new("Action id", 28.0),
    Column::new("Action", 40.0),
    Column::new("Points", 8.0),
    Column::new("Owner", 24.0),
    Column::new("Implementation status", 22.0),
    Column::new("Implementation date", 14.0),
    Column::new("Test status", 22.0),
    Column::new("Test date", 12.0),
    Column::new("Implementation notes", 40.0),
    Column::new("Test notes", 40.0),
    Column::new("Evidence", 50.0),
];

fn control_rows<'a>(
    controls: &'a [ControlView],
    worked: &'a HashMap<String, Worked>,
    evidence: &'a BTreeMap<String, Vec<Evidence>>,
) -> impl Iterator<Item = Vec<Cell>> + 'a {
    controls.iter().flat_map(move |c| {
        let control = [
            Cell::text(&c.family_id),
            Cell::text(&c.family_title),
            Cell::text(&c.id),
            Cell::text(&c.title),
        ];
        let mut rows: Vec<Vec<Cell>> = c
            .actions
            .iter()
            .map(|a| {
                let w = &worked[&a.id];
                let mut row: Vec<Cell> = control.iter().map(copy).collect();
                row.extend([
                    Cell::text(&a.id),
                    Cell::text(&a.title),
                    Cell::Number(a.points.into()),
                    Cell::optional(w.owner.as_deref()),
                    Cell::text(w.implementation_status.as_str()),
                    Cell::Date(w.implementation_date),
                    Cell::text(w.test_status.as_str()),
                    Cell::Date(w.test_date),
                    Cell::text(&w.implementation_notes),
                    Cell::text(&w.test_notes),
                    Cell::text(evidence_text(
                        evidence.get(&a.id).map(Vec::as_slice).unwrap_or(&[]),
                    )),
                ]);
                row
            })
            .collect();
        // A control none of whose actions applies to the assessment's services still shows.
        if rows.is_empty() {
            rows.push(control.into_iter().collect());
        }
        rows
    })
}

fn copy(cell: &Cell) -> Cell {
    match cell {
        Cell::Text(s) => Cell::Text(s.clone()),
        Cell::Number(n) => Cell::Number(*n),
        Cell::Date(d) => Cell::Date(*d),
        Cell::Time(t) => Cell::Time(*t),
        Cell::Blank => Cell::Blank,
    }
}

fn summary(
    view: &AssessmentView,
    generated: DateTime<Utc>,
    as_of: Option<DateTime<Utc>>,
) -> Vec<(&'static str, Cell)> {
    let mut items = vec![
        ("Assessment", Cell::text(&view.name)),
        ("Assessment id", Cell::text(view.id.as_str())),
        ("Regulation", Cell::text(&view.regulation_name)),
        ("Regulation id", Cell::text(view.regulation_id.as_str())),
        ("Group", Cell::text(&view.group_name)),
        ("Services", Cell::text(view.services.join(", "))),
        ("Score achieved", Cell::Number(view.score.achieved.into())),
        ("Score possible", Cell::Number(view.score.possible.into())),
        ("Score percent", Cell::Number(view.score.percent)),
        (
            "Controls assessed",
            Cell::Number(view.progress.controls_assessed.into()),
        ),
        (
            "Controls total",
            Cell::Number(view.progress.controls_total.into()),
        ),
        ("Generated at (UTC)", Cell::Time(generated)),
    ];
    if let Some(at) = as_of {
        items.push(("As of (UTC)", Cell::Time(at)));
    }
    items.push((
        "Archived",
        Cell::text(if view.archived { "yes" } else { "no" }),
    ));
    if let Some(at) = view.archived_at {
        items.push(("Archived at (UTC)", Cell::Time(at)));
        items.push((
            "Notes",
            Cell::text("an archive keeps no implementation or test notes"),
        ));
    }
    items
}

/// `GET /assessments/{id}/report.xlsx`: the assessment now, or as of `as_of` (404 before its
/// first score, as `GET /assessments/{id}?as_of=` says); an archive as it froze.
pub async fn assessment_report(
    state: &AppState,
    tenant: &TenantId,
    id: &str,
    as_of: Option<DateTime<Utc>>,
) -> Result<Workbook, ReportError> {
    let (current, controls) =
        assessments::controls(state, tenant, id, &ControlFilter::default()).await?;
    let view = match as_of {
        Some(at) => assessments::show(state, tenant, id, Some(at)).await?,
        None => current.clone(),
    };
    let (_, _, mut evidence) = assessments::evidence(state, tenant, id).await?;
    if let Some(at) = as_of {
        for items in evidence.values_mut() {
            items.retain(|e| e.created_at <= at);
        }
    }
    let worked = statuses(state, tenant, &current, &controls, as_of).await?;
    let generated = state.now();

    let formats = Formats::new();
    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet();
    ws.set_name("Summary")?;
    sheet::pairs(ws, &formats, &summary(&view, generated, as_of))?;
    let ws = book.add_worksheet();
    ws.set_name("Controls")?;
    sheet::table(
        ws,
        &formats,
        &CONTROL_COLUMNS,
        control_rows(&controls, &worked, &evidence),
    )?;
    let day = as_of.unwrap_or(generated).format("%Y-%m-%d");
    Ok(Workbook {
        file_name: super::safe_file_name(&format!("report-{}-{day}", view.name)),
        bytes: book.save_to_buffer()?,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use attest_domain::action::ActionPatch;
    use attest_domain::history::Source;
    use attest_domain::ids::EvidenceId;
    use calamine::Data;
    use chrono::TimeDelta;
    use serde_json::json;

    use super::super::testing::{cells, date, text, Moving};
    use super::*;
    use crate::bus::LocalBus;
    use crate::usecases::actions;
    use crate::usecases::testkit::{assess, ports};

    fn entry(
        at: &str,
        field: &str,
        old: serde_json::Value,
        new: serde_json::Value,
    ) -> HistoryEntry {
        HistoryEntry {
            at: at.parse().unwrap(),
            by: Some("alice".into()),
            field: field.into(),
            old,
            new,
            source: Source::Manual,
        }
    }

    fn worked() -> Worked {
        Worked {
            owner: Some("dan".into()),
            implementation_status: ImplementationStatus::Implemented,
            implementation_date: NaiveDate::from_ymd_opt(2026, 3, 2),
            implementation_notes: "second".into(),
            test_status: TestStatus::Passed,
            test_date: None,
            test_notes: String::new(),
            testing_type: TestingType::Manual,
        }
    }

    #[test]
    fn a_past_status_undoes_the_changes_recorded_after_it() {
        let now = worked();
        // Newest first, as the store lists them; one change of two fields, and evidence.
        let history = vec![
            entry(
                "2026-03-03T00:00:00Z",
                "test_status",
                json!("none"),
                json!("passed"),
            ),
            entry(
                "2026-03-03T00:00:00Z",
                "evidence",
                json!(null),
                json!({"name": "x"}),
            ),
            entry("2026-03-02T00:00:00Z", "owner", json!("cara"), json!("dan")),
            entry(
                "2026-03-02T00:00:00Z",
                "implementation_date",
                json!(null),
                json!("2026-03-02"),
            ),
            entry(
                "2026-03-02T00:00:00Z",
                "implementation_notes",
                json!("first"),
                json!("second"),
            ),
            entry("2026-03-01T00:00:00Z", "owner", json!(null), json!("cara")),
            entry(
                "2026-03-01T00:00:00Z",
                "implementation_status",
                json!("not_implemented"),
                json!("implemented"),
            ),
        ];
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            status_as_of(&now, &history, at("2026-03-04T00:00:00Z")).unwrap(),
            now
        );
        let before_test = status_as_of(&now, &history, at("2026-03-02T12:00:00Z")).unwrap();
        assert_eq!(
            before_test,
            Worked {
                test_status: TestStatus::None,
                ..now.clone()
            }
        );
        // An entry exactly at as_of had happened by then.
        assert_eq!(
            status_as_of(&now, &history, at("2026-03-02T00:00:00Z")).unwrap(),
            before_test
        );
        let first = status_as_of(&now, &history, at("2026-03-01T12:00:00Z")).unwrap();
        assert_eq!(first.owner.as_deref(), Some("cara"));
        assert_eq!(first.implementation_date, None);
        assert_eq!(first.implementation_notes, "first");
        assert_eq!(
            first.implementation_status,
            ImplementationStatus::Implemented
        );
        let untouched = status_as_of(&now, &history, at("2026-02-01T00:00:00Z")).unwrap();
        assert_eq!(untouched.owner, None);
        assert_eq!(
            untouched.implementation_status,
            ImplementationStatus::NotImplemented
        );
        // The order the entries come in does not matter.
        let mut shuffled = history.clone();
        shuffled.reverse();
        assert_eq!(
            status_as_of(&now, &shuffled, at("2026-02-01T00:00:00Z")).unwrap(),
            untouched
        );
        // An old value that is not one of the field's is an error, not a guess.
        let bad = vec![entry(
            "2026-03-05T00:00:00Z",
            "test_status",
            json!("great"),
            json!("passed"),
        )];
        let err = status_as_of(&now, &bad, at("2026-03-04T00:00:00Z")).unwrap_err();
        assert!(err.contains("test_status"), "{err}");
    }

    fn patch(v: serde_json::Value) -> ActionPatch {
        serde_json::from_value(v).unwrap()
    }

    async fn link(
        state: &AppState,
        caller: &attest_domain::identity::Identity,
        action: &str,
        name: &str,
    ) {
        let e = Evidence::link(
            EvidenceId::generate(),
            InstanceRef::parse(action).unwrap(),
            name,
            "https://intranet.example/keys",
            &caller.user,
            state.now(),
        );
        state
            .store
            .add_evidence(&caller.tenant, &e, &[], &[])
            .await
            .unwrap();
    }

    /// Summary values by label.
    fn summary_of(bytes: &[u8]) -> HashMap<String, Data> {
        cells(bytes, "Summary")
            .into_iter()
            .map(|r| (text(&r[0]), r[1].clone()))
            .collect()
    }

    /// The Controls sheet's rows of one action, as text by header.
    fn rows_of(bytes: &[u8], action: &str) -> Vec<HashMap<String, Data>> {
        let sheet = cells(bytes, "Controls");
        let header: Vec<String> = sheet[0].iter().map(text).collect();
        sheet[1..]
            .iter()
            .filter(|r| r[4] == Data::String(action.into()))
            .map(|r| header.iter().cloned().zip(r.iter().cloned()).collect())
            .collect()
    }

    #[tokio::test]
    async fn the_report_shows_the_assessment_now_and_as_it_stood_then() {
        let (state, caller, _dir) = ports();
        let t0: DateTime<Utc> = "2026-03-01T10:00:00Z".parse().unwrap();
        let clock = Arc::new(Moving(Mutex::new(t0)));
        let state = state.with_clock(clock.clone());
        let bus = LocalBus::new(state.clone());
        let iso = assess(&state, &caller, "iso-27001-2022", "Europe").await;
        bus.drain().await;
        clock.advance(TimeDelta::hours(1));
        let first = json!({"owner": "cara", "implementation_status": "implemented", "implementation_notes": "first"});
        actions::update(&state, &caller, "mfa-admins", &patch(first), None)
            .await
            .unwrap();
        bus.drain().await;
        let t1 = state.now();
        clock.advance(TimeDelta::hours(1));
        let second = json!({"owner": "dan", "test_status": "passed", "test_date": "2026-03-01", "implementation_notes": "second"});
        actions::update(&state, &caller, "mfa-admins", &patch(second), None)
            .await
            .unwrap();
        link(&state, &caller, "mfa-admins", "Key rotation").await;
        bus.drain().await;

        let now = assessment_report(&state, &caller.tenant, iso.id.as_str(), None)
            .await
            .unwrap();
        assert!(
            now.file_name.starts_with("report-") && now.file_name.ends_with(".xlsx"),
            "{}",
            now.file_name
        );
        let view = assessments::show(&state, &caller.tenant, iso.id.as_str(), None)
            .await
            .unwrap();
        let summary = summary_of(&now.bytes);
        assert_eq!(text(&summary["Assessment"]), view.name);
        assert_eq!(text(&summary["Regulation"]), view.regulation_name);
        assert_eq!(text(&summary["Group"]), "Europe");
        assert_eq!(text(&summary["Services"]), "aws");
        assert_eq!(
            summary["Score achieved"],
            Data::Float(view.score.achieved.into())
        );
        assert_eq!(
            summary["Score possible"],
            Data::Float(view.score.possible.into())
        );
        assert_eq!(summary["Score percent"], Data::Float(view.score.percent));
        assert_eq!(
            summary["Controls assessed"],
            Data::Float(view.progress.controls_assessed.into())
        );
        assert_eq!(text(&summary["Archived"]), "no");
        assert!(!summary.contains_key("As of (UTC)"));
        let (_, controls) = assessments::controls(
            &state,
            &caller.tenant,
            iso.id.as_str(),
            &ControlFilter::default(),
        )
        .await
        .unwrap();
        let expected_rows: usize = controls.iter().map(|c| c.actions.len().max(1)).sum();
        assert_eq!(cells(&now.bytes, "Controls").len(), expected_rows + 1);
        let mfa = rows_of(&now.bytes, "mfa-admins");
        assert!(!mfa.is_empty());
        for row in &mfa {
            assert_eq!(text(&row["Owner"]), "dan");
            assert_eq!(text(&row["Implementation status"]), "implemented");
            assert_eq!(text(&row["Test status"]), "passed");
            assert_eq!(date(&row["Test date"]), NaiveDate::from_ymd_opt(2026, 3, 1));
            assert_eq!(text(&row["Implementation notes"]), "second");
            assert_eq!(
                text(&row["Evidence"]),
                "Key rotation <https://intranet.example/keys>"
            );
        }

        let then = assessment_report(
            &state,
            &caller.tenant,
            iso.id.as_str(),
            Some(t1 + TimeDelta::minutes(30)),
        )
        .await
        .unwrap();
        let past = assessments::show(
            &state,
            &caller.tenant,
            iso.id.as_str(),
            Some(t1 + TimeDelta::minutes(30)),
        )
        .await
        .unwrap();
        assert_ne!(
            past.score, view.score,
            "the test result earned points since"
        );
        let summary = summary_of(&then.bytes);
        assert_eq!(
            summary["Score achieved"],
            Data::Float(past.score.achieved.into())
        );
        assert!(summary.contains_key("As of (UTC)"));
        for row in rows_of(&then.bytes, "mfa-admins") {
            assert_eq!(text(&row["Owner"]), "cara");
            assert_eq!(text(&row["Implementation status"]), "implemented");
            assert_eq!(text(&row["Test status"]), "none");
            assert_eq!(date(&row["Test date"]), None);
            assert_eq!(text(&row["Implementation notes"]), "first");
            assert_eq!(text(&row["Evidence"]), "", "added later");
        }
        // Before the assessment had a score: not found, as GET /assessments/{id}?as_of= says.
        let before = assessment_report(
            &state,
            &caller.tenant,
            iso.id.as_str(),
            Some(t0 - TimeDelta::hours(1)),
        )
        .await;
        assert!(
            matches!(before, Err(ReportError::NotFound(_))),
            "{before:?}"
        );
        let other = assessment_report(&state, &caller.tenant, "no-such", None).await;
        assert!(matches!(other, Err(ReportError::NotFound(_))));
    }

    #[tokio::test]
    async fn an_archive_reports_its_snapshot() {
        let (state, caller, _dir) = ports();
        let iso = assess(&state, &caller, "iso-27001-2022", "Europe").await;
        let change = json!({"owner": "cara", "implementation_status": "implemented", "implementation_notes": "kept out"});
        actions::update(&state, &caller, "mfa-admins", &patch(change), None)
            .await
            .unwrap();
        link(&state, &caller, "mfa-admins", "Key rotation").await;
        assessments::archive(&state, &caller, iso.id.as_str())
            .await
            .unwrap();
        let report = assessment_report(&state, &caller.tenant, iso.id.as_str(), None)
            .await
            .unwrap();
        let (view, controls) = assessments::controls(
            &state,
            &caller.tenant,
            iso.id.as_str(),
            &ControlFilter::default(),
        )
        .await
        .unwrap();
        assert!(view.archived);
        let summary = summary_of(&report.bytes);
        assert_eq!(text(&summary["Archived"]), "yes");
        assert!(summary.contains_key("Archived at (UTC)"));
        assert_eq!(
            summary["Score achieved"],
            Data::Float(view.score.achieved.into())
        );
        // Every frozen action, in order, as the snapshot holds it; no notes.
        let sheet = cells(&report.bytes, "Controls");
        let frozen: Vec<(String, String, String, String)> = controls
            .iter()
            .flat_map(|c| {
                c.actions.iter().map(move |a| {
                    (
                        c.id.clone(),
                        a.id.clone(),
                        a.owner.clone().unwrap_or_default(),
                        a.implementation_status.as_str().to_owned(),
                    )
                })
            })
            .collect();
        let shown: Vec<(String, String, String, String)> = sheet[1..]
            .iter()
            .filter(|r| r[4] != Data::Empty)
            .map(|r| (text(&r[2]), text(&r[4]), text(&r[7]), text(&r[8])))
            .collect();
        assert_eq!(shown, frozen);
        for row in rows_of(&report.bytes, "mfa-admins") {
            assert_eq!(text(&row["Owner"]), "cara");
            assert_eq!(text(&row["Implementation notes"]), "");
            assert_eq!(
                text(&row["Evidence"]),
                "Key rotation <https://intranet.example/keys>"
            );
        }
    }
}
