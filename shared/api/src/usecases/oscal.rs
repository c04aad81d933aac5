//! An assessment as an OSCAL 1.1.2 assessment-results document (NIST's model, in JSON).
//!
//! The document is built from what the API already shows: the assessment's view and its
//! controls (live, or frozen in the snapshot of an archived one) and the evidence of its
//! actions (frozen for archives too), through the assessment use cases. A live assessment's
//! test and implementation notes, which the views leave out, come from one read of its
//! group's instances; an archive froze none, so its observations have none.
//!
//! What goes where:
//! - `import-ap`: Attest keeps no separate OSCAL assessment plan; `href` points at a
//!   back-matter resource (`#uuid`) that describes the assessment (regulation, group,
//!   services) and links to its API route.
//! - One `result`: `start` is when the assessment was created, `end` when it was archived
//!   (absent while live); `reviewed-controls` names every control of the regulation.
//! - `observations`: one per action instance with a test result (a verdict, out of scope,
//!   partially tested, could not be determined or detected) or with evidence that counts (links,
//!   and files whose check passed; pending and rejected files are left out). `methods` is
//!   `TEST` for technical or automatically tested actions and `EXAMINE` otherwise;
//!   `collected` is the test date (midnight UTC), else the newest evidence's time, else the
//!   time of the document. Links are `relevant-evidence` with their URL; files with the API's
//!   download route, `/api/compliance/evidence/{id}/download`, and a back-matter resource
//!   carrying their media type and SHA-256.
//! - `findings`: exactly one per control, its `target` the control (`objective-id`). A control
//!   is **satisfied** when it has at least one action in scope and every action in scope is
//!   provider-managed, or implemented (or implemented by an alternative) with a passed test.
//!   An action is out of scope when its implementation or test status is `out_of_scope` (as
//!   in scoring). A control with no action in scope is not satisfied: nothing shows it is
//!   met. `target.props` carry the control's score and, per action (`group`ed), its instance
//!   id, implementation status and test status, in Attest's vocabulary and namespace
//!   ([`ATTEST_NS`]); `related-observations` are the observations of its actions.
//!
//! Control ids become OSCAL tokens ([`control_token`]): lower case, `(x)` and `.` become
//! `.`, other runs of characters that are not ASCII letters or digits become `-`, zero
//! padding of numbers goes, and an id that does not start with a letter gets a leading `_`.
//! NIST's `AC-2(1)` is `ac-2.1` (its OSCAL catalog's id), ISO's `A.5.1` is `a.5.1`, GDPR's
//! `Art. 5` is `art.5`, `Article 5(1)(a)` is `article-5.1.a`. Two controls of a regulation
//! that would share a token get `_2`, `_3`, ... in catalog order; the original id is kept in
//! the finding's `control-label` prop.
//!
//! UUIDs are version-4-form RFC 4122 UUIDs whose bits come from a SHA-256 of the assessment
//! id and the subject (a control, an action instance, a piece of evidence), so the same
//! subject keeps its UUID across documents, as OSCAL asks. The document's own UUID and
//! `metadata.version` come from a digest of its content (without the time it was made at):
//! they change when the content does.
//! `last-modified` is the time of the document (an archive's: when it was archived, so an
//! archive's document is the same every time).

use std::collections::{BTreeMap, HashMap, HashSet};

use attest_domain::evidence::{Evidence, EvidenceItem, EvidenceKind, EvidenceStatus};
use attest_domain::identity::Identity;
use attest_domain::vocab::{ActionType, ImplementationStatus, ManagedBy, TestStatus, TestingType};
use attest_store::StoreError;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::assessments::{self, AssessmentError, EvidenceById};
use super::views::{ActionSummary, AssessmentView, ControlFilter, ControlView, ScoreView};
use crate::AppState;

/// The OSCAL version the documents conform to.
pub const OSCAL_VERSION: &str = "1.1.2";

/// The namespace of Attest's own props.
pub const ATTEST_NS: &str = "https://attest.dev/ns/oscal";

/// What can go wrong producing an OSCAL document.
#[derive(Debug, thiserror::Error)]
pub enum OscalError {
    /// No such assessment in the caller's tenant (or an id that cannot name one).
    #[error("{0} not found")]
    NotFound(String),
    /// Stored data that does not hold together (an unreadable snapshot, a missing
    /// regulation), or a document that could not be serialised.
    #[error("{0}")]
    Broken(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<AssessmentError> for OscalError {
    fn from(e: AssessmentError) -> Self {
        match e {
            AssessmentError::NotFound(what) => OscalError::NotFound(what),
            AssessmentError::Store(s) => OscalError::Store(s),
            AssessmentError::Broken(m) | AssessmentError::Conflict(m) => OscalError::Broken(m),
            AssessmentError::Invalid(f) => {
                OscalError::Broken(format!("invalid {}: {}", f.field, f.message))
            }
        }
    }
}

impl From<StoreError> for OscalError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => OscalError::NotFound(what),
            other => OscalError::Store(other),
        }
    }
}

/// `GET /assessments/{id}/oscal/assessment-results`: the assessment (live, or as archived) as
/// an OSCAL assessment-results document, `{"assessment-results": {...}}`. Any role may read
/// it (the route declares the Read permission); the caller's tenant scopes every read.
pub async fn assessment_results(
    state: &AppState,
    caller: &Identity,
    id: &str,
) -> Result<serde_json::Value, OscalError> {
    let tenant = &caller.tenant;
    let all = ControlFilter::default();
    let ((view, controls), (_, _, evidence)) = tokio::try_join!(
        assessments::controls(state, tenant, id, &all),
        assessments::evidence(state, tenant, id),
    )?;
    let (notes, as_of) = if view.archived {
        (
            HashMap::new(),
            view.archived_at.unwrap_or_else(|| state.now()),
        )
    } else {
        let statuses = state
            .store
            .list_instances_for_group(tenant, &view.group_id)
            .await?;
        let notes = statuses
            .into_iter()
            .map(|(instance, s)| {
                let notes = Notes {
                    version: s.version,
                    implementation: s.value.implementation_notes,
                    test: s.value.test_notes,
                };
                (instance.api_id(), notes)
            })
            .collect();
        (notes, state.now())
    };
    let document = build(&view, &controls, &evidence, &notes, as_of);
    serde_json::to_value(&document)
        .map_err(|e| OscalError::Broken(format!("OSCAL document of assessment {id}: {e}")))
}

/// An instance's notes, at the version they were read.
struct Notes {
    version: u64,
    implementation: String,
    test: String,
}

/// The OSCAL token for a control id (see the module's documentation).
pub fn control_token(id: &str) -> String {
    let mut out = String::with_capacity(id.len() + 1);
    // The separator seen since the last letter or digit: `.` wins over `-`.
    let mut separator: Option<char> = None;
    // Whether the digits being read so far are all zeros at the start of a number.
    let mut number_start = true;
    let mut chars = id.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_alphanumeric() {
            if let Some(s) = separator.take() {
                if !out.is_empty() {
                    out.push(s);
                }
                number_start = true;
            }
            let padding =
                c == '0' && number_start && chars.peek().is_some_and(char::is_ascii_digit);
            if padding {
                continue;
            }
            number_start = !c.is_ascii_digit();
            out.push(c.to_ascii_lowercase());
        } else {
            let s = if matches!(c, '.' | '(' | ')') {
                '.'
            } else {
                '-'
            };
            separator = match separator {
                Some('.') => Some('.'),
                _ => Some(s),
            };
        }
    }
    if !out.starts_with(|c: char| c.is_ascii_alphabetic()) {
        out.insert(0, '_');
    }
    out
}

/// The tokens of a regulation's controls, in order, each one distinct: a repeat gets `_2`,
/// `_3`, ... (underscores appear nowhere else but at the start).
fn control_tokens<'a>(ids: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let ids: Vec<&str> = ids.into_iter().collect();
    let mut taken: HashSet<String> = HashSet::with_capacity(ids.len());
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let base = control_token(id);
        let mut token = base.clone();
        let mut n = 1;
        while taken.contains(&token) {
            n += 1;
            token = format!("{base}_{n}");
        }
        taken.insert(token.clone());
        out.push(token);
    }
    out
}

/// A version-4-form UUID whose bits are the start of SHA-256 over the parts.
fn derived_uuid(parts: &[&str]) -> Uuid {
    let mut h = Sha256::new();
    h.update(b"attest/oscal/1");
    for p in parts {
        h.update([0u8]);
        h.update(p.as_bytes());
    }
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// The API route a file is downloaded from.
fn download_href(evidence_id: &str) -> String {
    format!("{}/evidence/{evidence_id}/download", crate::BASE_PATH)
}

fn out_of_scope(a: &ActionSummary) -> bool {
    a.implementation_status == ImplementationStatus::OutOfScope
        || a.test_status == TestStatus::OutOfScope
}

fn action_satisfied(a: &ActionSummary) -> bool {
    a.managed_by == ManagedBy::Provider
        || (a.implementation_status.is_implemented() && a.test_status == TestStatus::Passed)
}

/// A result of testing (rather than none yet, or one on its way).
fn has_test_result(s: TestStatus) -> bool {
    s.is_verdict()
        || matches!(
            s,
            TestStatus::OutOfScope
                | TestStatus::PartiallyTested
                | TestStatus::CouldNotBeDetermined
                | TestStatus::CouldNotBeDetected
        )
}

fn kind(e: &Evidence) -> &'static str {
    match e.kind() {
        EvidenceKind::Document => "document",
        EvidenceKind::Link => "link",
    }
}

/// Evidence that counts: links, and files whose check passed.
fn counts(e: &Evidence) -> bool {
    e.status() == EvidenceStatus::Verified
}

// The document, as NIST's model names its parts. Empty lists are left out: OSCAL's JSON
// allows no empty arrays.

#[derive(Serialize)]
struct Document {
    #[serde(rename = "assessment-results")]
    assessment_results: AssessmentResults,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct AssessmentResults {
    uuid: Uuid,
    metadata: Metadata,
    import_ap: ImportAp,
    results: Vec<ResultSet>,
    back_matter: BackMatter,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Metadata {
    title: String,
    last_modified: String,
    version: String,
    oscal_version: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    props: Vec<Prop>,
}

#[derive(Serialize)]
struct ImportAp {
    href: String,
    remarks: String,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct ResultSet {
    uuid: Uuid,
    title: String,
    description: String,
    start: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    end: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    props: Vec<Prop>,
    reviewed_controls: ReviewedControls,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    observations: Vec<Observation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    findings: Vec<Finding>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct ReviewedControls {
    description: String,
    control_selections: Vec<ControlSelection>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct ControlSelection {
    include_controls: Vec<SelectControl>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct SelectControl {
    control_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Observation {
    uuid: Uuid,
    title: String,
    description: String,
    props: Vec<Prop>,
    methods: Vec<&'static str>,
    types: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    relevant_evidence: Vec<RelevantEvidence>,
    collected: String,
}

#[derive(Serialize)]
struct RelevantEvidence {
    href: String,
    description: String,
    props: Vec<Prop>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    links: Vec<Link>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Finding {
    uuid: Uuid,
    title: String,
    description: String,
    target: Target,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_observations: Vec<RelatedObservation>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Target {
    #[serde(rename = "type")]
    kind: &'static str,
    target_id: String,
    title: String,
    props: Vec<Prop>,
    status: ObjectiveStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    implementation_status: Option<State>,
}

#[derive(Serialize)]
struct ObjectiveStatus {
    state: &'static str,
    reason: &'static str,
    remarks: String,
}

#[derive(Serialize)]
struct State {
    state: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct RelatedObservation {
    observation_uuid: Uuid,
}

#[derive(Serialize)]
struct BackMatter {
    resources: Vec<Resource>,
}

#[derive(Serialize)]
struct Resource {
    uuid: Uuid,
    title: String,
    description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    props: Vec<Prop>,
    rlinks: Vec<Rlink>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Rlink {
    href: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hashes: Vec<Hash>,
}

#[derive(Serialize)]
struct Hash {
    algorithm: &'static str,
    value: String,
}

#[derive(Serialize)]
struct Link {
    href: String,
    rel: &'static str,
    text: String,
}

#[derive(Serialize)]
struct Prop {
    name: &'static str,
    ns: &'static str,
    value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<String>,
}

/// An Attest prop; `value` is made one trimmed line (OSCAL's prop values are).
fn prop(name: &'static str, value: impl ToString) -> Prop {
    let value = value.to_string();
    let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
    Prop {
        name,
        ns: ATTEST_NS,
        value: if value.is_empty() { "-".into() } else { value },
        group: None,
    }
}

fn grouped(mut p: Prop, group: &str) -> Prop {
    p.group = Some(group.to_owned());
    p
}

fn score_props(score: &ScoreView) -> [Prop; 3] {
    [
        prop("score-achieved", score.achieved),
        prop("score-possible", score.possible),
        prop("score-percent", score.percent),
    ]
}

fn date_or_none(d: Option<NaiveDate>) -> String {
    d.map(|d| format!(" on {d}")).unwrap_or_default()
}

/// The document for an assessment's view, controls and evidence, `as_of` a time.
fn build(
    view: &AssessmentView,
    controls: &[ControlView],
    evidence: &EvidenceById,
    notes: &HashMap<String, Notes>,
    as_of: DateTime<Utc>,
) -> Document {
    let aid = view.id.as_str();
    let (result, back_matter) = content(view, controls, evidence, notes, as_of);
    // The document's identity follows its content, not the time it was made at (which its
    // descriptions quote): the digest is of the same content made at a fixed time, so the
    // same state gives the same uuid and version.
    let fixed = content(view, controls, evidence, notes, DateTime::UNIX_EPOCH);
    let digest = hex::encode(Sha256::digest(
        serde_json::to_vec(&fixed).unwrap_or_default(),
    ));
    Document {
        assessment_results: AssessmentResults {
            uuid: derived_uuid(&[aid, "document", &digest]),
            metadata: Metadata {
                title: format!("Assessment results: {}", view.name),
                last_modified: timestamp(as_of),
                version: digest[..16].to_owned(),
                oscal_version: OSCAL_VERSION,
                props: vec![prop("assessment-id", aid)],
            },
            import_ap: ImportAp {
                href: format!("#{}", derived_uuid(&[aid, "plan"])),
                remarks: "Attest keeps no separate OSCAL assessment plan; the back-matter \
                          resource this points to describes the assessment."
                    .into(),
            },
            results: vec![result],
            back_matter,
        },
    }
}

/// The result and back matter of the document, `as_of` a time.
fn content(
    view: &AssessmentView,
    controls: &[ControlView],
    evidence: &EvidenceById,
    notes: &HashMap<String, Notes>,
    as_of: DateTime<Utc>,
) -> (ResultSet, BackMatter) {
    let aid = view.id.as_str();
    let mut resources = Vec::new();

    // The assessment, described in place of an OSCAL assessment plan.
    let plan_uuid = derived_uuid(&[aid, "plan"]);
    resources.push(Resource {
        uuid: plan_uuid,
        title: format!("Assessment plan: {}", view.name),
        description: format!(
            "Attest assessment {} of {} ({}) for the services {} in the group {}, created {}. \
             Attest keeps no separate OSCAL assessment plan: every control of the regulation \
             is assessed through the improvement actions mapped to it.",
            view.name,
            view.regulation_name,
            view.regulation_id,
            view.services.join(", "),
            view.group_name,
            timestamp(view.created_at),
        ),
        props: vec![
            prop("assessment-id", aid),
            prop("regulation-id", &view.regulation_id),
            prop("group-id", &view.group_id),
        ],
        rlinks: vec![Rlink {
            href: format!("{}/assessments/{aid}", crate::BASE_PATH),
            media_type: Some("application/json".into()),
            hashes: Vec::new(),
        }],
    });

    // Observations: one per action instance with a test result or evidence that counts.
    let mut observed: BTreeMap<&str, Uuid> = BTreeMap::new();
    let mut observations = Vec::new();
    for action in controls.iter().flat_map(|c| c.actions.iter()) {
        if observed.contains_key(action.id.as_str()) {
            continue;
        }
        let items: Vec<&Evidence> = evidence
            .get(&action.id)
            .into_iter()
            .flatten()
            .filter(|e| counts(e))
            .collect();
        if !has_test_result(action.test_status) && items.is_empty() {
            continue;
        }
        let uuid = derived_uuid(&[aid, "observation", &action.id]);
        observed.insert(&action.id, uuid);
        let note = notes
            .get(&action.id)
            .filter(|n| n.version == action.version);
        observations.push(observation(
            aid,
            uuid,
            action,
            &items,
            note,
            as_of,
            &mut resources,
        ));
    }

    // Findings: one per control.
    let tokens = control_tokens(controls.iter().map(|c| c.id.as_str()));
    let findings: Vec<Finding> = controls
        .iter()
        .zip(&tokens)
        .map(|(c, token)| finding(aid, c, token, &observed))
        .collect();

    let regulation = format!("{} ({})", view.regulation_name, view.regulation_id);
    let mut result_props = vec![
        prop("assessment-id", aid),
        prop("regulation-id", &view.regulation_id),
        prop("group-id", &view.group_id),
        prop("group-name", &view.group_name),
    ];
    result_props.extend(view.services.iter().map(|s| prop("service", s)));
    result_props.push(prop("archived", view.archived));
    result_props.extend(score_props(&view.score));
    result_props.push(prop("controls-total", view.progress.controls_total));
    result_props.push(prop("controls-assessed", view.progress.controls_assessed));
    let state = if view.archived {
        format!("as archived {}", timestamp(as_of))
    } else {
        format!("as of {}", timestamp(as_of))
    };
    let result = ResultSet {
        uuid: derived_uuid(&[aid, "result"]),
        title: format!("Attest assessment: {}", view.name),
        description: format!(
            "The state of the Attest assessment {} of {regulation} for the services {} in the \
             group {}, {state}: {} of {} points ({}%), {} of {} controls assessed.",
            view.name,
            view.services.join(", "),
            view.group_name,
            view.score.achieved,
            view.score.possible,
            view.score.percent,
            view.progress.controls_assessed,
            view.progress.controls_total,
        ),
        start: timestamp(view.created_at),
        end: view.archived_at.map(timestamp),
        props: result_props,
        reviewed_controls: ReviewedControls {
            description: format!(
                "Every control of {regulation}. Control ids are OSCAL tokens made from \
                 Attest's: lower case, parentheses and dots as dots, other separators as \
                 hyphens (AC-2(1) is ac-2.1); each finding keeps the original id."
            ),
            control_selections: vec![ControlSelection {
                include_controls: tokens
                    .iter()
                    .map(|t| SelectControl {
                        control_id: t.clone(),
                    })
                    .collect(),
            }],
        },
        observations,
        findings,
    };

    (result, BackMatter { resources })
}

/// An action instance's observation; its files go to the back matter.
fn observation(
    aid: &str,
    uuid: Uuid,
    a: &ActionSummary,
    items: &[&Evidence],
    notes: Option<&Notes>,
    as_of: DateTime<Utc>,
    resources: &mut Vec<Resource>,
) -> Observation {
    let mut description = format!(
        "Action {} ({}): a {} action with {} testing, managed by the {}.\n\n\
         - Implementation: {}{}\n- Test: {}{}",
        a.title,
        a.id,
        a.action_type,
        a.testing_type,
        a.managed_by,
        a.implementation_status,
        date_or_none(a.implementation_date),
        a.test_status,
        date_or_none(a.test_date),
    );
    if let Some(n) = notes {
        for (label, text) in [
            ("Implementation notes", &n.implementation),
            ("Test notes", &n.test),
        ] {
            if !text.trim().is_empty() {
                description.push_str(&format!("\n\n{label}: {}", text.trim()));
            }
        }
    }
    let mut props = vec![
        prop("action-id", &a.id),
        prop("implementation-status", a.implementation_status),
        prop("test-status", a.test_status),
        prop("testing-type", a.testing_type),
        prop("managed-by", a.managed_by),
    ];
    if let Some(d) = a.implementation_date {
        props.push(prop("implementation-date", d));
    }
    if let Some(d) = a.test_date {
        props.push(prop("test-date", d));
    }
    if let Some(o) = &a.owner {
        props.push(prop("owner", o));
    }
    props.extend(score_props(&a.score));
    let tested = a.action_type == ActionType::Technical || a.testing_type == TestingType::Automatic;
    let method = if tested && has_test_result(a.test_status) {
        "TEST"
    } else {
        "EXAMINE"
    };
    let relevant_evidence = items
        .iter()
        .map(|e| relevant_evidence(aid, e, resources))
        .collect();
    let collected = a
        .test_date
        .map(midnight)
        .or_else(|| items.iter().map(|e| e.created_at).max())
        .unwrap_or(as_of);
    Observation {
        uuid,
        title: format!("{} ({})", a.title, a.id),
        description,
        props,
        methods: vec![method],
        types: vec!["control-objective"],
        relevant_evidence,
        collected: timestamp(collected),
    }
}

fn relevant_evidence(aid: &str, e: &Evidence, resources: &mut Vec<Resource>) -> RelevantEvidence {
    let added = format!("added by {} on {}", e.created_by, timestamp(e.created_at));
    let mut props = vec![prop("evidence-id", &e.id), prop("kind", kind(e))];
    match &e.item {
        EvidenceItem::Link { url, .. } => RelevantEvidence {
            href: url.clone(),
            description: format!("Link {}, {added}.", e.name),
            props,
            links: Vec::new(),
        },
        EvidenceItem::Document(d) => {
            let uuid = derived_uuid(&[aid, "evidence", e.id.as_str()]);
            let href = download_href(e.id.as_str());
            let media_type = d
                .detected_type
                .clone()
                .unwrap_or_else(|| d.content_type.clone());
            resources.push(Resource {
                uuid,
                title: e.name.clone(),
                description: format!("File {} of action {}, {added}.", e.name, e.action.api_id()),
                props: vec![prop("evidence-id", &e.id)],
                rlinks: vec![Rlink {
                    href: href.clone(),
                    media_type: Some(media_type.clone()),
                    hashes: d
                        .sha256
                        .iter()
                        .map(|h| Hash {
                            algorithm: "SHA-256",
                            value: h.clone(),
                        })
                        .collect(),
                }],
            });
            if let Some(size) = d.size {
                props.push(prop("size", size));
            }
            RelevantEvidence {
                href,
                description: format!("File {} ({media_type}), {added}.", e.name),
                props,
                links: vec![Link {
                    href: format!("#{uuid}"),
                    rel: "reference",
                    text: e.name.clone(),
                }],
            }
        }
    }
}

/// A control's finding: satisfied or not, why, and the observations of its actions.
fn finding(aid: &str, c: &ControlView, token: &str, observed: &BTreeMap<&str, Uuid>) -> Finding {
    let mut seen = HashSet::new();
    let actions: Vec<&ActionSummary> = c
        .actions
        .iter()
        .filter(|a| seen.insert(a.id.as_str()))
        .collect();
    let in_scope: Vec<&ActionSummary> = actions
        .iter()
        .copied()
        .filter(|a| !out_of_scope(a))
        .collect();
    let open: Vec<&str> = in_scope
        .iter()
        .filter(|a| !action_satisfied(a))
        .map(|a| a.id.as_str())
        .collect();
    let satisfied = !in_scope.is_empty() && open.is_empty();
    let why = if satisfied {
        format!(
            "Satisfied: each of its {} actions in scope is managed by the provider, or \
             implemented with a passed test.",
            in_scope.len()
        )
    } else if in_scope.is_empty() {
        if actions.is_empty() {
            "Not satisfied: no action applies to the assessed services, so nothing shows \
             that the control is met."
                .to_owned()
        } else {
            "Not satisfied: every action of the control is out of scope, so nothing shows \
             that the control is met."
                .to_owned()
        }
    } else {
        format!(
            "Not satisfied: {} of its {} actions in scope are not yet implemented with a \
             passed test: {}.",
            open.len(),
            in_scope.len(),
            open.join(", ")
        )
    };
    let mut props = vec![prop("control-label", &c.id), prop("family", &c.family_id)];
    props.extend(score_props(&c.score));
    let groups = control_tokens(actions.iter().map(|a| a.id.as_str()));
    for (a, group) in actions.iter().zip(&groups) {
        props.push(grouped(prop("action-id", &a.id), group));
        props.push(grouped(
            prop("implementation-status", a.implementation_status),
            group,
        ));
        props.push(grouped(prop("test-status", a.test_status), group));
    }
    let description = if c.description.trim().is_empty() {
        format!("{} {}", c.id, c.title)
    } else {
        c.description.clone()
    };
    Finding {
        uuid: derived_uuid(&[aid, "finding", token]),
        title: format!("{} {}", c.id, c.title),
        description: format!("{description}\n\n{why}"),
        target: Target {
            kind: "objective-id",
            target_id: token.to_owned(),
            title: format!("{} {}", c.id, c.title),
            props,
            status: ObjectiveStatus {
                state: if satisfied {
                    "satisfied"
                } else {
                    "not-satisfied"
                },
                reason: if satisfied { "pass" } else { "fail" },
                remarks: why,
            },
            implementation_status: implementation_state(&actions, &in_scope)
                .map(|state| State { state }),
        },
        related_observations: actions
            .iter()
            .filter_map(|a| observed.get(a.id.as_str()))
            .map(|u| RelatedObservation {
                observation_uuid: *u,
            })
            .collect(),
    }
}

/// OSCAL's implementation state of a control from its actions: provider-managed ones count as
/// implemented; none when nothing is implemented or planned.
fn implementation_state(
    actions: &[&ActionSummary],
    in_scope: &[&ActionSummary],
) -> Option<&'static str> {
    if in_scope.is_empty() {
        return (!actions.is_empty()).then_some("not-applicable");
    }
    let done = |a: &&ActionSummary| {
        a.managed_by == ManagedBy::Provider || a.implementation_status.is_implemented()
    };
    if in_scope.iter().all(done) {
        let alternative = in_scope
            .iter()
            .any(|a| a.implementation_status == ImplementationStatus::AlternativeImplementation);
        Some(if alternative {
            "alternative"
        } else {
            "implemented"
        })
    } else if in_scope.iter().any(done) {
        Some("partial")
    } else if in_scope
        .iter()
        .any(|a| a.implementation_status == ImplementationStatus::Planned)
    {
        Some("planned")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use attest_domain::action::{ActionPatch, InstanceRef};
    use attest_domain::ids::{EvidenceId, TenantId};
    use serde_json::Value;

    use super::*;
    use crate::usecases::actions;
    use crate::usecases::testkit::{assess, ports};

    pub(super) const NIST: &str = "nist-800-53-r5-moderate";

    pub(super) fn result(doc: &Value) -> &Value {
        &doc["assessment-results"]["results"][0]
    }

    pub(super) fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
        v[key].as_array().map(Vec::as_slice).unwrap_or_default()
    }

    pub(super) fn finding<'a>(doc: &'a Value, target: &str) -> &'a Value {
        list(result(doc), "findings")
            .iter()
            .find(|f| f["target"]["target-id"] == target)
            .unwrap_or_else(|| panic!("no finding for {target}"))
    }

    fn observation<'a>(doc: &'a Value, uuid: &Value) -> &'a Value {
        list(result(doc), "observations")
            .iter()
            .find(|o| &o["uuid"] == uuid)
            .unwrap_or_else(|| panic!("no observation {uuid}"))
    }

    fn verdict(f: &Value) -> &str {
        f["target"]["status"]["state"].as_str().unwrap()
    }

    /// The value of the finding's (or observation's) Attest prop `name` in `group`.
    fn prop_of<'a>(props: &'a Value, name: &str, group: Option<&str>) -> Option<&'a str> {
        props.as_array()?.iter().find_map(|p| {
            (p["name"] == name && p["ns"] == ATTEST_NS && p["group"].as_str() == group)
                .then(|| p["value"].as_str().unwrap())
        })
    }

    /// Every `uuid` and `observation-uuid` in the document.
    fn uuids(v: &Value, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    if k == "uuid" || k.ends_with("-uuid") {
                        out.push((k.clone(), v.as_str().unwrap_or_default().to_owned()));
                    }
                    uuids(v, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|i| uuids(i, out)),
            _ => {}
        }
    }

    /// OSCAL's token: a letter or `_`, then letters, digits, `_`, `-` and `.` (ASCII here).
    pub(super) fn is_token(s: &str) -> bool {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    }

    /// What OSCAL's JSON schema asks beyond trestle's models: no empty array, object or
    /// string, and every date-time with its time zone.
    fn check_json(path: &str, v: &Value) {
        match v {
            Value::Object(m) => {
                assert!(!m.is_empty(), "{path} is empty");
                for (k, v) in m {
                    if matches!(k.as_str(), "last-modified" | "start" | "end" | "collected") {
                        let t = v.as_str().unwrap_or_default();
                        assert!(DateTime::parse_from_rfc3339(t).is_ok(), "{path}.{k}: {t}");
                    }
                    check_json(&format!("{path}.{k}"), v);
                }
            }
            Value::Array(items) => {
                assert!(!items.is_empty(), "{path} is empty");
                for (i, v) in items.iter().enumerate() {
                    check_json(&format!("{path}[{i}]"), v);
                }
            }
            Value::String(s) => assert!(!s.trim().is_empty(), "{path} is empty"),
            _ => {}
        }
    }

    fn check_shape(doc: &Value, controls: usize) {
        check_json("", doc);
        let ar = &doc["assessment-results"];
        assert_eq!(ar["metadata"]["oscal-version"], "1.1.2");
        let import = ar["import-ap"]["href"].as_str().unwrap();
        let plan = import.strip_prefix('#').unwrap();
        assert!(list(&ar["back-matter"], "resources")
            .iter()
            .any(|r| r["uuid"] == plan));
        // Exactly one finding per control, each naming a reviewed control.
        let selected: Vec<&str> = list(&result(doc)["reviewed-controls"], "control-selections")
            .iter()
            .flat_map(|s| list(s, "include-controls"))
            .map(|c| c["control-id"].as_str().unwrap())
            .collect();
        let targets: Vec<&str> = list(result(doc), "findings")
            .iter()
            .map(|f| f["target"]["target-id"].as_str().unwrap())
            .collect();
        assert_eq!(targets.len(), controls);
        assert_eq!(targets, selected);
        assert_eq!(targets.iter().collect::<HashSet<_>>().len(), controls);
        assert!(targets.iter().all(|t| is_token(t)), "{targets:?}");
        // Every UUID is RFC 4122 (version 4 form, as OSCAL's pattern wants) and distinct;
        // every reference points at an observation of the document.
        let mut all = Vec::new();
        uuids(doc, &mut all);
        let mut own = HashSet::new();
        for (key, u) in &all {
            let parsed = Uuid::parse_str(u).unwrap_or_else(|_| panic!("{key} {u}"));
            assert_eq!(parsed.get_version_num(), 4, "{u}");
            assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122, "{u}");
            assert_eq!(parsed.hyphenated().to_string(), *u);
            if key == "uuid" {
                assert!(own.insert(u.clone()), "{u} twice");
            }
        }
        for (key, u) in &all {
            if key == "observation-uuid" {
                observation(doc, &Value::String(u.clone()));
            }
        }
    }

    pub(super) fn passed(notes: &str) -> ActionPatch {
        let day = NaiveDate::from_ymd_opt(2025, 3, 14).unwrap();
        ActionPatch {
            testing_type: Some(TestingType::Manual),
            implementation_status: Some(ImplementationStatus::Implemented),
            implementation_date: Some(Some(day)),
            implementation_notes: Some("rolled out to every account".into()),
            test_status: Some(TestStatus::Passed),
            test_date: Some(Some(day)),
            test_notes: Some(notes.into()),
            ..Default::default()
        }
    }

    /// The first control with customer-managed actions only, and those actions.
    pub(super) async fn customer_control(
        state: &AppState,
        caller: &Identity,
        id: &str,
    ) -> (String, Vec<String>) {
        let (_, controls) =
            assessments::controls(state, &caller.tenant, id, &ControlFilter::default())
                .await
                .unwrap();
        let c = controls
            .iter()
            .find(|c| {
                !c.actions.is_empty()
                    && c.actions
                        .iter()
                        .all(|a| a.managed_by == ManagedBy::Customer)
            })
            .unwrap();
        (
            c.id.clone(),
            c.actions.iter().map(|a| a.id.clone()).collect(),
        )
    }

    pub(super) async fn link(state: &AppState, caller: &Identity, instance: &str, url: &str) {
        let e = Evidence::link(
            EvidenceId::generate(),
            InstanceRef::parse(instance).unwrap(),
            "Runbook",
            url,
            &caller.user,
            state.now(),
        );
        state
            .store
            .add_evidence(&caller.tenant, &e, &[], &[])
            .await
            .unwrap();
    }

    /// A PDF whose check passed.
    pub(super) async fn pdf(state: &AppState, caller: &Identity, instance: &str) -> Evidence {
        let head = b"%PDF-1.7\n% a test file\n";
        let pending = Evidence::pending_document(
            EvidenceId::generate(),
            InstanceRef::parse(instance).unwrap(),
            "policy.pdf",
            "application/pdf",
            head.len() as u64,
            &caller.user,
            state.now(),
        );
        let hash = hex::encode(Sha256::digest(head));
        let checked = pending
            .checked(head.len() as u64, &hash, head, state.now())
            .unwrap();
        assert_eq!(checked.status(), EvidenceStatus::Verified);
        state
            .store
            .add_evidence(&caller.tenant, &checked, &[], &[])
            .await
            .unwrap();
        checked
    }

    #[test]
    fn control_ids_become_oscal_tokens() {
        for (id, token) in [
            ("AC-2", "ac-2"),
            ("AC-2(1)", "ac-2.1"),
            ("SI-4(10)", "si-4.10"),
            ("AC-02(01)", "ac-2.1"),
            ("A.5.1", "a.5.1"),
            ("A.10", "a.10"),
            ("CC1.1", "cc1.1"),
            ("Art. 5", "art.5"),
            ("Article 5(1)(a)", "article-5.1.a"),
            ("Article (5)(1)(a)", "article.5.1.a"),
            ("§ 164.308(a)(1)", "_164.308.a.1"),
            ("5.1", "_5.1"),
            ("0", "_0"),
            ("x_y z", "x-y-z"),
            ("Größe 1", "gr-e-1"),
            ("((", "_"),
        ] {
            assert_eq!(control_token(id), token, "{id}");
            assert!(is_token(token), "{token}");
        }
        assert_eq!(
            control_tokens(["AC-2(1)", "ac-2.1", "AC-2 (1)", "AC-3"]),
            ["ac-2.1", "ac-2.1_2", "ac-2.1_3", "ac-3"]
        );
    }

    #[test]
    fn derived_uuids_are_stable_and_rfc_4122() {
        let a = derived_uuid(&["a1", "finding", "ac-2"]);
        assert_eq!(a, derived_uuid(&["a1", "finding", "ac-2"]));
        assert_ne!(a, derived_uuid(&["a1", "finding", "ac-3"]));
        assert_ne!(a, derived_uuid(&["a1", "findingac-2"]));
        assert_eq!(a.get_version_num(), 4);
        assert_eq!(a.get_variant(), uuid::Variant::RFC4122);
    }

    #[tokio::test]
    async fn a_nist_moderate_assessment_has_one_finding_per_control() {
        let (state, caller, _dir) = ports();
        let nist = assess(&state, &caller, NIST, "Federal").await;
        let doc = assessment_results(&state, &caller, nist.id.as_str())
            .await
            .unwrap();
        check_shape(&doc, 287);
        assert_eq!(nist.progress.controls_total, 287);
        let f = finding(&doc, "ac-2.1");
        assert_eq!(
            prop_of(&f["target"]["props"], "control-label", None),
            Some("AC-2(1)")
        );
        assert_eq!(f["target"]["type"], "objective-id");
        // Nothing tested yet: no customer control is satisfied, and no observation exists.
        let (control, _) = customer_control(&state, &caller, nist.id.as_str()).await;
        assert_eq!(state_of(&doc, &control), "not-satisfied");
        assert!(list(result(&doc), "observations").is_empty());
        // The same state gives the same document, but for its time.
        let again = assessment_results(&state, &caller, nist.id.as_str())
            .await
            .unwrap();
        assert_eq!(
            again["assessment-results"]["uuid"],
            doc["assessment-results"]["uuid"]
        );
        assert_eq!(result(&again), result(&doc));
    }

    fn state_of<'a>(doc: &'a Value, control: &str) -> &'a str {
        verdict(finding(doc, &control_token(control)))
    }

    #[tokio::test]
    async fn statuses_notes_and_evidence_show_after_an_update() {
        let (state, caller, _dir) = ports();
        let nist = assess(&state, &caller, NIST, "Federal").await;
        let id = nist.id.as_str();
        let before = assessment_results(&state, &caller, id).await.unwrap();
        let (control, actions_of) = customer_control(&state, &caller, id).await;
        let first = actions_of[0].clone();
        // All but the first pass: still not satisfied, and the first is named.
        for a in &actions_of[1..] {
            actions::update(&state, &caller, a, &passed("checked"), None)
                .await
                .unwrap();
        }
        if actions_of.len() > 1 {
            let doc = assessment_results(&state, &caller, id).await.unwrap();
            let f = finding(&doc, &control_token(&control));
            assert_eq!(verdict(f), "not-satisfied");
            assert!(f["target"]["status"]["remarks"]
                .as_str()
                .unwrap()
                .contains(&first));
        }
        actions::update(&state, &caller, &first, &passed("sampled 5 accounts"), None)
            .await
            .unwrap();
        link(&state, &caller, &first, "https://intranet.example/runbook").await;
        let file = pdf(&state, &caller, &first).await;
        let after = assessment_results(&state, &caller, id).await.unwrap();
        check_shape(&after, 287);
        assert_eq!(state_of(&before, &control), "not-satisfied");
        let f = finding(&after, &control_token(&control));
        assert_eq!(verdict(f), "satisfied");
        assert_eq!(f["target"]["status"]["reason"], "pass");
        assert_eq!(f["target"]["implementation-status"]["state"], "implemented");
        let props = &f["target"]["props"];
        let group = control_token(&first);
        assert_eq!(
            prop_of(props, "action-id", Some(&group)),
            Some(first.as_str())
        );
        assert_eq!(
            prop_of(props, "implementation-status", Some(&group)),
            Some("implemented")
        );
        assert_eq!(prop_of(props, "test-status", Some(&group)), Some("passed"));
        let achieved = prop_of(props, "score-achieved", None).unwrap();
        assert_eq!(prop_of(props, "score-possible", None), Some(achieved));
        assert_eq!(prop_of(props, "score-percent", None), Some("100"));
        // Each action of the control has its observation.
        let related = list(f, "related-observations");
        assert_eq!(related.len(), actions_of.len());
        let o = list(result(&after), "observations")
            .iter()
            .find(|o| prop_of(&o["props"], "action-id", None) == Some(first.as_str()))
            .unwrap();
        assert!(related.iter().any(|r| r["observation-uuid"] == o["uuid"]));
        assert_eq!(o["collected"], "2025-03-14T00:00:00Z");
        assert_eq!(prop_of(&o["props"], "test-status", None), Some("passed"));
        let method = o["methods"][0].as_str().unwrap();
        assert!(method == "TEST" || method == "EXAMINE");
        let text = o["description"].as_str().unwrap();
        assert!(text.contains("Test: passed on 2025-03-14"), "{text}");
        assert!(text.contains("Test notes: sampled 5 accounts"), "{text}");
        assert!(text.contains("rolled out to every account"), "{text}");
        // Its evidence: the link's URL, the file's download route and back-matter resource.
        let hrefs: Vec<&str> = list(o, "relevant-evidence")
            .iter()
            .map(|e| e["href"].as_str().unwrap())
            .collect();
        let download = format!("/api/compliance/evidence/{}/download", file.id);
        assert_eq!(hrefs.len(), 2);
        assert!(hrefs.contains(&"https://intranet.example/runbook"));
        assert!(hrefs.contains(&download.as_str()));
        let resource = list(&after["assessment-results"]["back-matter"], "resources")
            .iter()
            .find(|r| r["rlinks"][0]["href"] == download.as_str())
            .unwrap();
        assert_eq!(resource["rlinks"][0]["media-type"], "application/pdf");
        assert_eq!(resource["rlinks"][0]["hashes"][0]["algorithm"], "SHA-256");
        let reference = list(o, "relevant-evidence")
            .iter()
            .find(|e| e["href"] == download.as_str())
            .unwrap();
        assert_eq!(
            reference["links"][0]["href"],
            format!("#{}", resource["uuid"].as_str().unwrap())
        );
        // A new state, a new document identity; the subjects keep theirs.
        assert_ne!(
            after["assessment-results"]["uuid"],
            before["assessment-results"]["uuid"]
        );
        assert_eq!(
            f["uuid"],
            finding(&before, &control_token(&control))["uuid"]
        );
    }

    #[tokio::test]
    async fn an_archived_assessment_shows_its_snapshot() {
        let (state, caller, _dir) = ports();
        let nist = assess(&state, &caller, NIST, "Federal").await;
        let id = nist.id.as_str();
        // A technical action: one instance for the whole tenant, so a later assessment
        // changes it.
        let (_, controls) =
            assessments::controls(&state, &caller.tenant, id, &ControlFilter::default())
                .await
                .unwrap();
        let technical = controls
            .iter()
            .flat_map(|c| c.actions.iter())
            .find(|a| a.action_type == ActionType::Technical && a.managed_by == ManagedBy::Customer)
            .unwrap()
            .id
            .clone();
        let archived = assessments::archive(&state, &caller, id).await.unwrap();
        let frozen = assessment_results(&state, &caller, id).await.unwrap();
        check_shape(&frozen, 287);
        let at = timestamp(archived.archived_at.unwrap());
        assert_eq!(
            frozen["assessment-results"]["metadata"]["last-modified"],
            at.as_str()
        );
        assert_eq!(result(&frozen)["end"], at.as_str());
        assert_eq!(
            prop_of(&result(&frozen)["props"], "archived", None),
            Some("true")
        );
        // A later assessment passes the shared action; the archive's document stays as it was.
        let later = assess(&state, &caller, NIST, "Later").await;
        actions::update(
            &state,
            &caller,
            &technical,
            &passed("after the archive"),
            None,
        )
        .await
        .unwrap();
        let again = assessment_results(&state, &caller, id).await.unwrap();
        assert_eq!(again, frozen);
        let live = assessment_results(&state, &caller, later.id.as_str())
            .await
            .unwrap();
        let shows = |doc: &Value| {
            list(result(doc), "findings").iter().any(|f| {
                let props = &f["target"]["props"];
                let group = control_token(&technical);
                prop_of(props, "test-status", Some(&group)) == Some("passed")
            })
        };
        assert!(shows(&live));
        assert!(!shows(&again));
    }

    #[tokio::test]
    async fn another_tenant_gets_not_found() {
        let (state, caller, _dir) = ports();
        let nist = assess(&state, &caller, NIST, "Federal").await;
        let other = Identity {
            tenant: TenantId::parse("globex").unwrap(),
            ..caller.clone()
        };
        assert!(matches!(
            assessment_results(&state, &other, nist.id.as_str()).await,
            Err(OscalError::NotFound(_))
        ));
        assert!(matches!(
            assessment_results(&state, &caller, "no such id!").await,
            Err(OscalError::NotFound(_))
        ));
        assert!(matches!(
            assessment_results(&state, &caller, "01ARZ3NDEKTSV4RRFFQ69G5FAV").await,
            Err(OscalError::NotFound(_))
        ));
    }
}

/// The document checked by NIST's OSCAL models through compliance-trestle
/// (`infra/install-test-tools.sh` installs it into `.tools/venv`).
#[cfg(test)]
mod trestle {
    use std::path::{Path, PathBuf};
    use std::process::{Command, Output};

    use serde_json::Value;

    use super::tests::{customer_control, link, passed, pdf, NIST};
    use super::*;
    use crate::usecases::actions;
    use crate::usecases::testkit::{assess, ports};

    /// trestle from `.tools/venv` (the pinned one), else from PATH; a test fails without it.
    fn trestle() -> PathBuf {
        attest_testkit::trestle()
    }

    /// The Python that runs trestle (from its script's `#!` line), to use its models.
    fn python(trestle: &Path) -> PathBuf {
        let script = std::fs::read_to_string(trestle).unwrap_or_default();
        script
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("#!"))
            .map(|l| PathBuf::from(l.trim()))
            .filter(|p| p.is_file())
            .unwrap_or_else(|| trestle.with_file_name("python3"))
    }

    fn run(cmd: &mut Command) -> Output {
        cmd.output()
            .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
    }

    fn text(o: &Output) -> String {
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    }

    /// A trestle workspace in a temporary folder.
    fn workspace(trestle: &Path) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let init = run(Command::new(trestle).arg("init").current_dir(dir.path()));
        assert!(init.status.success(), "trestle init: {}", text(&init));
        dir
    }

    /// Writes `doc` as the workspace's assessment results `name` and validates it.
    fn validate(trestle: &Path, ws: &Path, name: &str, doc: &Value) -> (bool, String, PathBuf) {
        let rel = PathBuf::from("assessment-results")
            .join(name)
            .join("assessment-results.json");
        let file = ws.join(&rel);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
        let out = run(Command::new(trestle)
            .args(["validate", "-f"])
            .arg(&rel)
            .current_dir(ws));
        (out.status.success(), text(&out), file)
    }

    /// Reads the file with trestle's models and checks one finding per control.
    const CHECK: &str = r#"
import json, pathlib, sys
from trestle.oscal.assessment_results import AssessmentResults
ar = AssessmentResults.oscal_read(pathlib.Path(sys.argv[1]))
(result,) = ar.results
selected = [c.control_id for s in result.reviewed_controls.control_selections
            for c in (s.include_controls or [])]
targets = [f.target.target_id for f in result.findings]
observations = {o.uuid for o in (result.observations or [])}
related = [r.observation_uuid for f in result.findings for r in (f.related_observations or [])]
assert len(targets) == len(set(targets)) == int(sys.argv[2]), (len(targets), len(set(targets)))
assert targets == selected
assert all(r in observations for r in related)
states = [f.target.status.state.value for f in result.findings]
print(json.dumps({"findings": len(targets), "observations": len(observations),
                  "satisfied": states.count("satisfied")}))
"#;

    #[tokio::test]
    async fn trestle_validates_the_oscal_assessment_results() {
        let trestle = trestle();
        let (state, caller, _dir) = ports();
        let nist = assess(&state, &caller, NIST, "Federal").await;
        let id = nist.id.as_str();
        let (_, actions_of) = customer_control(&state, &caller, id).await;
        for a in &actions_of {
            actions::update(&state, &caller, a, &passed("sampled 5 accounts"), None)
                .await
                .unwrap();
        }
        link(
            &state,
            &caller,
            &actions_of[0],
            "https://intranet.example/runbook",
        )
        .await;
        pdf(&state, &caller, &actions_of[0]).await;
        let doc = assessment_results(&state, &caller, id).await.unwrap();
        let satisfied = list_findings(&doc)
            .filter(|f| f["target"]["status"]["state"] == "satisfied")
            .count();
        assert!(satisfied >= 1);

        let ws = workspace(&trestle);
        let (ok, out, file) = validate(&trestle, ws.path(), "attest", &doc);
        assert!(ok, "trestle rejected the document:\n{out}");
        assert!(out.contains("VALID"), "{out}");
        // Its links validator warns of `#uuid` references without back-matter resources and
        // of resources nothing references.
        assert!(!out.contains("WARNING"), "{out}");
        let check = run(Command::new(python(&trestle))
            .args(["-c", CHECK])
            .arg(&file)
            .arg("287"));
        assert!(check.status.success(), "{}", text(&check));
        let counts: Value = serde_json::from_slice(&check.stdout).unwrap();
        assert_eq!(counts["findings"], 287);
        assert_eq!(counts["satisfied"], satisfied);
        assert!(counts["observations"].as_u64().unwrap() >= actions_of.len() as u64);

        // Validation bites: a UUID that is not version 4 or 5, a control id that is not a
        // token, and a finding without its target are each rejected.
        let mut bad_uuid = doc.clone();
        bad_uuid["assessment-results"]["results"][0]["uuid"] =
            "0191f0a4-6c39-7d7e-9f43-5b1e3a2c9d10".into();
        let mut bad_token = doc.clone();
        bad_token["assessment-results"]["results"][0]["findings"][1]["target"]["target-id"] =
            "ac-2(1)".into();
        let mut no_target = doc.clone();
        no_target["assessment-results"]["results"][0]["findings"][0]
            .as_object_mut()
            .unwrap()
            .remove("target");
        for (name, broken, field) in [
            ("bad-uuid", bad_uuid, "results -> 0 -> uuid"),
            (
                "bad-token",
                bad_token,
                "findings -> 1 -> target -> target-id",
            ),
            ("no-target", no_target, "findings -> 0 -> target"),
        ] {
            let (ok, out, _) = validate(&trestle, ws.path(), name, &broken);
            assert!(!ok, "trestle accepted the {name} document:\n{out}");
            assert!(out.contains(field), "{name}: {out}");
        }
    }

    fn list_findings(doc: &Value) -> impl Iterator<Item = &Value> {
        doc["assessment-results"]["results"][0]["findings"]
            .as_array()
            .into_iter()
            .flatten()
    }
}
