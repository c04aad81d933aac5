//! OSCAL 1.0/1.1 catalogs (and resolved profile catalogs) as Attest regulations.
//!
//! Groups become families (nested groups are flattened, their titles joined); controls and
//! their enhancements become controls; withdrawn ones are left out; the `label` prop is the
//! display ID; the statement's prose is kept with parameters rendered readably.

use std::collections::HashMap;

use attest_domain::ids::RegulationId;
use attest_domain::regulation::{ImprovementAction, Regulation};
use serde::Deserialize;

use crate::assemble::{assemble, ControlDraft, FamilyDraft};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OscalError {
    /// `field` is where in the document (`body` for the document itself).
    #[error("not an OSCAL catalog: {reason}")]
    NotACatalog { field: String, reason: String },
    #[error("unsupported OSCAL version {0}; 1.0.x and 1.1.x are supported")]
    Version(String),
    #[error("the catalog has no controls")]
    Empty,
    /// An id that cannot be stored: the regulation's (`field` "id") or a control's ("catalog").
    #[error("invalid {}: {}", .0.field, .0.message)]
    Invalid(attest_domain::FieldError),
}

impl OscalError {
    /// Where in the request the problem is.
    pub fn field(&self) -> String {
        match self {
            OscalError::NotACatalog { field, .. } => field.clone(),
            OscalError::Version(_) => "catalog.metadata.oscal-version".into(),
            OscalError::Empty => "catalog".into(),
            OscalError::Invalid(f) => f.field.clone(),
        }
    }
}

#[derive(Deserialize)]
struct Document {
    catalog: Catalog,
}

#[derive(Deserialize)]
struct Catalog {
    metadata: Metadata,
    #[serde(default)]
    groups: Vec<Group>,
    #[serde(default)]
    controls: Vec<Control>,
}

#[derive(Deserialize)]
struct Metadata {
    title: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(rename = "oscal-version")]
    oscal_version: String,
}

#[derive(Deserialize)]
struct Group {
    #[serde(default)]
    id: Option<String>,
    title: String,
    #[serde(default)]
    props: Vec<Prop>,
    #[serde(default)]
    groups: Vec<Group>,
    #[serde(default)]
    controls: Vec<Control>,
}

#[derive(Deserialize)]
struct Control {
    id: String,
    title: String,
    #[serde(default)]
    params: Vec<Param>,
    #[serde(default)]
    props: Vec<Prop>,
    #[serde(default)]
    parts: Vec<Part>,
    #[serde(default)]
    controls: Vec<Control>,
}

#[derive(Deserialize)]
struct Param {
    id: String,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    values: Vec<String>,
    #[serde(default)]
    select: Option<Select>,
}

#[derive(Deserialize)]
struct Select {
    #[serde(rename = "how-many", default)]
    how_many: Option<String>,
    #[serde(default)]
    choice: Vec<String>,
}

#[derive(Deserialize)]
struct Prop {
    name: String,
    value: String,
    #[serde(default)]
    class: Option<String>,
}

#[derive(Deserialize)]
struct Part {
    name: String,
    #[serde(default)]
    prose: Option<String>,
    #[serde(default)]
    props: Vec<Prop>,
    #[serde(default)]
    parts: Vec<Part>,
}

/// The regulation an import produced, with the actions generated for its unmapped controls.
pub struct Imported {
    pub regulation: Regulation,
    pub generated: Vec<ImprovementAction>,
    pub catalog_title: String,
}

fn label(props: &[Prop]) -> Option<&str> {
    let labels: Vec<&Prop> = props.iter().filter(|p| p.name == "label").collect();
    labels
        .iter()
        .find(|p| p.class.is_none())
        .or(labels.first())
        .map(|p| p.value.as_str())
}

fn withdrawn(props: &[Prop]) -> bool {
    props
        .iter()
        .any(|p| p.name == "status" && p.value == "withdrawn")
}

/// Normalised control id for matching: `AC-2(1)`, `ac-2.1` and `AC-02(01)` all give `ac-2.1`.
pub fn match_key(id: &str) -> String {
    let lowered = id
        .trim()
        .to_ascii_lowercase()
        .replace('(', ".")
        .replace([')', ' '], "");
    // Drop zero padding of numbers: ac-02.01 -> ac-2.1.
    let mut out = String::new();
    let mut chars = lowered.chars().peekable();
    let mut at_number_start = true;
    while let Some(c) = chars.next() {
        if c == '0' && at_number_start && chars.peek().is_some_and(|n| n.is_ascii_digit()) {
            continue;
        }
        at_number_start = !c.is_ascii_digit();
        out.push(c);
    }
    out
}

struct Renderer<'a> {
    params: HashMap<&'a str, &'a Param>,
}

impl Renderer<'_> {
    fn param(&self, id: &str, depth: usize) -> String {
        let Some(p) = self.params.get(id) else {
            return format!("[Assignment: {id}]");
        };
        if !p.values.is_empty() {
            return p.values.join(", ");
        }
        if let Some(select) = &p.select {
            let how = match select.how_many.as_deref() {
                Some("one-or-more") => "Selection (one or more)",
                _ => "Selection",
            };
            let choices: Vec<String> = select
                .choice
                .iter()
                .map(|c| self.prose(c, depth + 1))
                .collect();
            return format!("[{how}: {}]", choices.join("; "));
        }
        format!("[Assignment: {}]", p.label.as_deref().unwrap_or(id))
    }

    /// Replaces `{{ insert: param, id }}` with the parameter, rendered.
    fn prose(&self, text: &str, depth: usize) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let Some(len) = rest[start..].find("}}") else {
                out.push_str(&rest[start..]);
                return out;
            };
            let inner = rest[start + 2..start + len].trim();
            let rendered = match inner
                .strip_prefix("insert:")
                .map(|s| s.split(',').map(str::trim).collect::<Vec<_>>())
            {
                Some(parts) if parts.len() == 2 && parts[0] == "param" && depth < 4 => {
                    self.param(parts[1], depth)
                }
                _ => rest[start..start + len + 2].to_owned(),
            };
            out.push_str(&rendered);
            rest = &rest[start + len + 2..];
        }
        out.push_str(rest);
        out
    }

    fn part(&self, part: &Part, indent: usize, out: &mut Vec<String>) {
        let mut line = String::new();
        if let Some(l) = label(&part.props) {
            line.push_str(l);
            line.push(' ');
        }
        if let Some(p) = &part.prose {
            line.push_str(self.prose(p, 0).trim());
        }
        let child_indent = if line.trim().is_empty() {
            indent
        } else {
            out.push(format!("{}{}", "  ".repeat(indent), line.trim()));
            indent + 1
        };
        for sub in &part.parts {
            self.part(sub, child_indent, out);
        }
    }
}

fn statement(control: &Control) -> String {
    let renderer = Renderer {
        params: control.params.iter().map(|p| (p.id.as_str(), p)).collect(),
    };
    let mut lines = Vec::new();
    for part in control.parts.iter().filter(|p| p.name == "statement") {
        renderer.part(part, 0, &mut lines);
    }
    lines.join("\n")
}

fn collect_controls(
    controls: &[Control],
    out: &mut Vec<ControlDraft>,
    map: &dyn Fn(&Control, &str) -> Vec<attest_domain::ids::ActionId>,
) {
    for c in controls {
        if !withdrawn(&c.props) {
            let display = label(&c.props)
                .map(str::to_owned)
                .unwrap_or_else(|| c.id.to_uppercase());
            out.push(ControlDraft {
                actions: map(c, &display),
                id: display,
                title: c.title.clone(),
                description: statement(c),
            });
        }
        collect_controls(&c.controls, out, map);
    }
}

fn collect_groups(
    groups: &[Group],
    parent: Option<&str>,
    out: &mut Vec<FamilyDraft>,
    map: &dyn Fn(&Control, &str) -> Vec<attest_domain::ids::ActionId>,
) {
    for g in groups {
        let title = match parent {
            Some(p) => format!("{p} / {}", g.title),
            None => g.title.clone(),
        };
        let mut controls = Vec::new();
        collect_controls(&g.controls, &mut controls, map);
        if !controls.is_empty() {
            let id = label(&g.props)
                .map(str::to_owned)
                .or_else(|| g.id.clone().map(|i| i.to_uppercase()))
                .unwrap_or_else(|| title.clone());
            out.push(FamilyDraft {
                id,
                title: title.clone(),
                controls,
            });
        }
        collect_groups(&g.groups, Some(&title), out, map);
    }
}

/// Imports a catalog. With `map_as`, controls whose id matches one of that regulation's get
/// its actions; every other control gets a generated documentation action.
pub fn import(
    json: &serde_json::Value,
    id: RegulationId,
    name: Option<String>,
    map_as: Option<&Regulation>,
) -> Result<Imported, OscalError> {
    let obj = json.as_object().ok_or_else(|| OscalError::NotACatalog {
        field: "body".into(),
        reason: "the document is not a JSON object".into(),
    })?;
    if !obj.contains_key("catalog") {
        let found: Vec<&str> = obj.keys().map(String::as_str).take(3).collect();
        return Err(OscalError::NotACatalog {
            field: "catalog".into(),
            reason: format!(
            "no top-level \"catalog\" (found: {}); profiles must be resolved into catalogs first",
            if found.is_empty() {
                "nothing".to_owned()
            } else {
                found.join(", ")
            }
            ),
        });
    }
    let doc: Document =
        serde_path_to_error::deserialize(json).map_err(|e| OscalError::NotACatalog {
            field: e.path().to_string(),
            reason: format!("at {}: {}", e.path(), e.inner()),
        })?;
    let version = doc.catalog.metadata.oscal_version.trim();
    if !(version.starts_with("1.0.")
        || version.starts_with("1.1.")
        || version == "1.0"
        || version == "1.1")
    {
        return Err(OscalError::Version(version.to_owned()));
    }
    let index: HashMap<String, Vec<attest_domain::ids::ActionId>> = map_as
        .map(|r| {
            r.controls()
                .map(|c| (match_key(&c.id), c.actions.clone()))
                .collect()
        })
        .unwrap_or_default();
    let map = |c: &Control, display: &str| -> Vec<attest_domain::ids::ActionId> {
        index
            .get(&match_key(&c.id))
            .or_else(|| index.get(&match_key(display)))
            .cloned()
            .unwrap_or_default()
    };
    let mut families = Vec::new();
    collect_groups(&doc.catalog.groups, None, &mut families, &map);
    let mut loose = Vec::new();
    collect_controls(&doc.catalog.controls, &mut loose, &map);
    if !loose.is_empty() {
        families.push(FamilyDraft {
            id: "CONTROLS".into(),
            title: "Controls".into(),
            controls: loose,
        });
    }
    if families.is_empty() {
        return Err(OscalError::Empty);
    }
    let meta = &doc.catalog.metadata;
    let source = format!(
        "OSCAL catalog \"{}\"{} (OSCAL {version})",
        meta.title,
        meta.version
            .as_deref()
            .map(|v| format!(" version {v}"))
            .unwrap_or_default()
    );
    let (regulation, generated) = assemble(
        id,
        name.unwrap_or_else(|| meta.title.clone()),
        source,
        families,
    )
    .map_err(|e| match e {
        attest_domain::DomainError::Invalid(f) if f.field == "id" => OscalError::Invalid(f),
        other => OscalError::Invalid(attest_domain::FieldError::new(
            "catalog",
            format!(
                "a group or control id is not acceptable: {}",
                other.message()
            ),
        )),
    })?;
    Ok(Imported {
        regulation,
        generated,
        catalog_title: meta.title.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reg_id() -> RegulationId {
        RegulationId::parse("imported").unwrap()
    }

    #[test]
    fn match_keys() {
        assert_eq!(match_key("AC-2(1)"), "ac-2.1");
        assert_eq!(match_key("ac-2.1"), "ac-2.1");
        assert_eq!(match_key("AC-02(01)"), "ac-2.1");
        assert_eq!(match_key("SC-10"), "sc-10");
        assert_eq!(match_key("A.5.10"), "a.5.10");
    }

    #[test]
    fn params_render_readably() {
        let doc = json!({"catalog": {"uuid": "x", "metadata": {"title": "T", "oscal-version": "1.1.2"},
        "groups": [{"id": "g", "title": "G", "controls": [{
            "id": "c-1", "title": "One",
            "params": [
                {"id": "p1", "label": "frequency"},
                {"id": "p2", "values": ["annually"]},
                {"id": "p3", "select": {"how-many": "one-or-more", "choice": ["a {{ insert: param, p2 }} review", "b"]}}
            ],
            "props": [{"name": "label", "value": "C-01", "class": "zero-padded"}, {"name": "label", "value": "C-1"}],
            "parts": [{"name": "statement", "prose": "Review {{ insert: param, p1 }}:", "parts": [
                {"name": "item", "props": [{"name": "label", "value": "a."}], "prose": "then {{ insert: param, p3 }}; {{ insert: param, missing }}"}
            ]}, {"name": "guidance", "prose": "not kept"}],
            "controls": [
                {"id": "c-1.1", "title": "Gone", "props": [{"name": "status", "value": "withdrawn"}]},
                {"id": "c-1.2", "title": "Kept"}
            ]
        }]}]}});
        let imported = import(&doc, reg_id(), None, None).unwrap();
        let controls: Vec<_> = imported.regulation.controls().collect();
        assert_eq!(
            controls.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["C-1", "C-1.2"]
        );
        assert_eq!(
            controls[0].description,
            "Review [Assignment: frequency]:\n  a. then [Selection (one or more): a annually review; b]; [Assignment: missing]"
        );
        assert_eq!(imported.generated.len(), 2);
        assert_eq!(imported.regulation.name, "T");
    }

    #[test]
    fn what_is_not_a_catalog_says_why() {
        for (doc, needle) in [
            (json!([1, 2]), "not a JSON object"),
            (json!({"profile": {}}), "catalog"),
            (
                json!({"catalog": {"metadata": {"title": "T"}}}),
                "oscal-version",
            ),
            (
                json!({"catalog": {"metadata": {"title": "T", "oscal-version": "1.1.2"}, "groups": [{"title": 5}]}}),
                "groups[0].title",
            ),
        ] {
            let err = import(&doc, reg_id(), None, None)
                .err()
                .unwrap()
                .to_string();
            assert!(err.contains(needle), "{err}");
        }
        let err = import(
            &json!({"catalog": {"metadata": {"title": "T", "oscal-version": "2.0.0"}}}),
            reg_id(),
            None,
            None,
        )
        .err()
        .unwrap();
        assert!(matches!(err, OscalError::Version(_)));
        let err = import(
            &json!({"catalog": {"metadata": {"title": "T", "oscal-version": "1.1.2"}}}),
            reg_id(),
            None,
            None,
        )
        .err()
        .unwrap();
        assert_eq!(err, OscalError::Empty);
    }
}
