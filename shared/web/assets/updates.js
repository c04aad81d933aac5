// Pending improvement-action updates (API.md, "Improvement-action updates"): what a newer
// library version of an action changes (each field old → new), the assessments it touches and
// how their scores move, and accepting it (administrators and global administrators only;
// If-Match the instance's version).

import { post, enc } from "./api.js";
import { can } from "./auth.js";
import { h, append, table, link } from "./ui.js";
import { value } from "./labels.js";

export const mayAccept = () => can("manage_assessments");

const FIELD = { title: "Title", guidance: "Guidance", category: "Category", control_type: "Control type", enforcement: "Enforcement", points: "Points", testing_type: "Testing type", controls: "Controls" };

const signed = (n) => (n > 0 ? `+${n}` : String(n));

// How achieved and possible points move: "+18 / +18 points".
export const scoreChange = (d) => `${signed(d.achieved)} / ${signed(d.possible)} points`;

const change = (field, old, now, cls) =>
  h("li", { "data-field": field, class: cls || null },
    h("span", { class: "what" }, FIELD[field] || field), ": ",
    h("span", { class: "old" }, old), " → ", h("span", { class: "new" }, now));

// A mapping change, one line per regulation whose controls differ: how many, and which leave
// or join.
function controls(old, now, regName) {
  const regs = [...new Set([...Object.keys(old || {}), ...Object.keys(now || {})])].sort();
  const n = (list) => `${list.length} control${list.length === 1 ? "" : "s"}`;
  return regs.map((r) => {
    const a = (old || {})[r] || [], b = (now || {})[r] || [];
    const gone = a.filter((c) => !b.includes(c)), added = b.filter((c) => !a.includes(c));
    if (!gone.length && !added.length) return null;
    return append(change("controls", n(a), n(b)), ` in ${regName(r)}`,
      gone.length ? `; no longer ${gone.join(", ")}` : null, added.length ? `; now also ${added.join(", ")}` : null);
  });
}

// The changes, old → new (long texts one under the other).
export function changes(list, regName = (r) => r) {
  return h("ul", { class: "changes" }, list.map((c) =>
    c.field === "controls" ? controls(c.old, c.new, regName) : change(c.field, value(c.old), value(c.new), typeof c.new === "string" && c.new.length > 60 ? "long" : "")));
}

// The assessments an update touches and how each one's score moves. `names` holds what the
// page knows: `regulation(id)`, and `group(assessment id)` (assessments of different groups
// often share a name).
export function affected(list, names = {}) {
  const reg = names.regulation || ((r) => r);
  const group = names.group;
  return table({ text: "Assessments affected", visible: true }, ["Assessment", group ? "Group" : null, "Regulation", "Score change"].filter(Boolean),
    list.map((x) => h("tr", { "data-assessment": x.assessment_id },
      h("td", {}, link(`#/assessments/${enc(x.assessment_id)}`, x.name)),
      group ? h("td", {}, group(x.assessment_id) || "—") : null,
      h("td", {}, reg(x.regulation_id)),
      h("td", { class: "num" }, scoreChange(x.score_change)))), "affected");
}

// One update in full: version, changes, assessments affected and the overall score change.
export function details(d, names = {}) {
  return [
    h("p", { class: "sub" }, `Library version ${d.from} → ${d.to}`),
    changes(d.changes, names.regulation),
    d.assessments_affected.length ? affected(d.assessments_affected, names) : h("p", { class: "sub" }, "No assessment uses it."),
    h("p", {}, "Overall score change: ", h("strong", { class: "score-change" }, scoreChange(d.score_change))),
  ];
}

export const accept = (id, version) => post(`/actions/${enc(id)}/accept-update`, undefined, { ifMatch: version });
