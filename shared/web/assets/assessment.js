// An assessment: summary, score and progress, the API's control filters (article, control,
// owner, statuses), controls grouped by family with their improvement actions; export,
// archive and delete for those allowed.

import { get, post, del, query, download, enc } from "./api.js";
import { can } from "./auth.js";
import { h, field, select, confirm, notice, pageHead, section, scoreMeter, progress, pct, points, badge, empty, showProblem } from "./ui.js";
import { label, tone, day, when, IMPLEMENTATION, TEST } from "./labels.js";

export const name = () => "assessment";

const FILTERS = ["article", "control", "owner", "implementation_status", "test_status"];
// Text filters take several values separated by commas (the API ORs them).
const many = (v) => (v || "").split(",").map((s) => s.trim()).filter(Boolean);

export async function render([id], q) {
  const filters = {
    article: many(q.get("article")),
    control: many(q.get("control")),
    owner: many(q.get("owner")),
    implementation_status: q.get("implementation_status") || "",
    test_status: q.get("test_status") || "",
  };
  const [a, controls] = await Promise.all([get(`/assessments/${enc(id)}`), get(`/assessments/${enc(id)}/controls${query(filters)}`)]);
  const filtered = FILTERS.some((f) => q.get(f));
  const slot = h("div", { class: "slot" });
  const form = filterForm(a, q, filtered);
  suggestControls(a.regulation_id, form);
  return [
    pageHead(a.name, `${a.group_name} · ${a.regulation_name}`, ...tools(a, slot)),
    slot,
    a.archived ? h("p", { class: "notice" }, `Archived ${when(a.archived_at)}: a frozen snapshot, read only.`) : null,
    h("div", { class: "grid summary" },
      section("Assessment score", h("p", { class: "big", id: "assessment-score" }, pct(a.score.percent)), scoreMeter(a.score, "Assessment score"), h("p", { class: "sub" }, points(a.score))),
      section("Progress", progress(a.progress)),
      section("In scope", h("p", {}, `Services: ${a.services.join(", ")}`), h("p", { class: "sub" }, `Created ${day(a.created_at)}`))),
    form,
    families(controls.items, filtered, a.progress.controls_total),
  ];
}

function tools(a, slot) {
  const out = [h("button", { type: "button", onclick: () => exportReport(a, slot) }, "Export to Excel")];
  if (can("manage_assessments") && !a.archived) {
    out.push(h("button", { type: "button", onclick: () => archive(a, slot) }, "Archive"));
    out.push(h("button", { type: "button", class: "danger", onclick: () => remove(a, slot) }, "Delete"));
  }
  return out;
}

async function exportReport(a, slot) {
  try {
    showProblem(slot, null);
    const file = await download(`/assessments/${enc(a.id)}/report.xlsx`, `${a.name}.xlsx`);
    notice(`Downloaded ${file.name}.`);
  } catch (err) {
    showProblem(slot, err);
  }
}

async function archive(a, slot) {
  const ok = await confirm("Archive assessment",
    `Archiving ${a.name} freezes its controls, actions, statuses, scores and evidence links. It cannot be undone. Export it first if you need a report with its evidence links.`,
    "Archive");
  if (!ok) return;
  try {
    await post(`/assessments/${enc(a.id)}/archive`);
    notice("Assessment archived.");
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  } catch (err) {
    showProblem(slot, err);
  }
}

async function remove(a, slot) {
  if (!(await confirm("Delete assessment", `Delete ${a.name}? Its group and the shared actions stay.`, "Delete"))) return;
  try {
    await del(`/assessments/${enc(a.id)}`);
    notice("Assessment deleted.");
    location.hash = "#/";
  } catch (err) {
    showProblem(slot, err);
  }
}

function filterForm(a, q, filtered) {
  const article = field("Article", h("input", { name: "article", value: q.get("article") || "", placeholder: "Article (5)" }), "Part of an article's name");
  const control = field("Control", h("input", { name: "control", value: q.get("control") || "", list: "control-ids", placeholder: "AC-2, IA-5" }), "Control ids, with their enhancements");
  const owner = field("Assigned user", h("input", { name: "owner", value: q.get("owner") || "" }));
  const impl = field("Implementation status", select("implementation_status", IMPLEMENTATION, q.get("implementation_status"), "Any"));
  const test = field("Test status", select("test_status", TEST, q.get("test_status"), "Any"));
  const form = h(
    "form",
    {
      class: "filters card",
      role: "search",
      "aria-label": "Filter controls",
      onsubmit: (e) => {
        e.preventDefault();
        const params = {};
        for (const f of FILTERS) params[f] = form.elements[f].value.trim();
        const qs = new URLSearchParams(Object.entries(params).filter(([, v]) => v)).toString();
        location.hash = `#/assessments/${enc(a.id)}${qs ? `?${qs}` : ""}`;
      },
    },
    h("div", { class: "filter-fields" }, article.el, control.el, owner.el, impl.el, test.el),
    h("div", { class: "buttons" },
      h("button", { type: "submit", class: "primary" }, "Apply filters"),
      filtered ? h("a", { href: `#/assessments/${enc(a.id)}`, class: "button" }, "Clear filters") : null),
    h("datalist", { id: "control-ids" }),
  );
  return form;
}

// Fills the control field's suggestions from the regulation, after the page is shown.
function suggestControls(regulationId, form) {
  get(`/regulations/${enc(regulationId)}`)
    .then((reg) => {
      const list = form.querySelector("datalist");
      for (const f of reg.families) for (const c of f.controls) list.append(h("option", { value: c.id }, c.title));
    })
    .catch(() => {});
}

// An action's test status counts as assessed unless none or not assessed (provider actions
// always do), as the API's progress counts it.
const assessed = (c) => c.actions.length > 0 && c.actions.every((x) => x.managed_by === "provider" || !["none", "not_assessed"].includes(x.test_status));

function families(controls, filtered, total) {
  if (!controls.length) return empty("No controls match these filters.");
  const byFamily = new Map();
  for (const c of controls) {
    if (!byFamily.has(c.family_id)) byFamily.set(c.family_id, { title: c.family_title, controls: [] });
    byFamily.get(c.family_id).controls.push(c);
  }
  const open = filtered || byFamily.size === 1;
  return h(
    "section",
    { class: "families", "aria-labelledby": "controls-h" },
    h("div", { class: "section-head" }, h("h2", { id: "controls-h" }, "Controls"),
      h("p", { class: "sub", id: "controls-count" }, filtered ? `${controls.length} of ${total} controls match` : `${controls.length} controls in ${byFamily.size} families`)),
    [...byFamily].map(([id, f]) => family(id, f, open)),
  );
}

function family(id, f, open) {
  const achieved = f.controls.reduce((n, c) => n + c.score.achieved, 0);
  const possible = f.controls.reduce((n, c) => n + c.score.possible, 0);
  const done = f.controls.filter(assessed).length;
  return h(
    "details",
    { class: "family card", open, "data-family": id },
    h("summary", {},
      h("span", { class: "fam-title" }, `${id} · ${f.title}`),
      h("span", { class: "sub" }, `${f.controls.length} controls · ${done} assessed · ${achieved} / ${possible} points`)),
    h("table", { class: "controls" },
      h("caption", { class: "sr-only" }, `${f.title} controls and their improvement actions`),
      h("thead", {}, h("tr", {}, ["Control", "Improvement action", "Assigned to", "Implementation", "Test", "Points"].map((c) => h("th", { scope: "col" }, c)))),
      f.controls.map(control)),
  );
}

function control(c) {
  const head = h("th", { scope: "rowgroup", rowspan: Math.max(c.actions.length, 1), class: "control-cell" },
    h("span", { class: "control-id" }, c.id), " ", h("span", {}, c.title),
    h("span", { class: "sub block" }, `${c.score.achieved} / ${c.score.possible} points`));
  if (!c.actions.length) return h("tbody", { "data-control": c.id }, h("tr", {}, head, h("td", { colspan: 5, class: "sub" }, "No improvement actions")));
  return h("tbody", { "data-control": c.id }, c.actions.map((x, i) =>
    h("tr", {},
      i === 0 ? head : null,
      h("td", {}, h("a", { href: `#/actions/${enc(x.id)}` }, x.title)),
      h("td", {}, x.owner || "Unassigned"),
      h("td", {}, badge(label(x.implementation_status), tone(x.implementation_status))),
      h("td", {}, badge(label(x.test_status), tone(x.test_status))),
      h("td", { class: "num" }, `${x.score.achieved} / ${x.points}`))));
}
