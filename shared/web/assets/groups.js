// Assessment groups: the assessments each holds, renaming (If-Match) and new groups
// (optionally copying another group's shared actions).

import { get, post, patch, enc } from "./api.js";
import { can } from "./auth.js";
import { h, field, select, modal, notice, pageHead, empty, table, badge, pct } from "./ui.js";
import { day } from "./labels.js";

export const name = () => "groups";

export async function render() {
  const [groups, assessments] = await Promise.all([get("/groups"), get("/assessments?include_archived=true&limit=200")]);
  const tools = can("manage_assessments") ? [h("button", { type: "button", class: "primary", onclick: () => create(groups.items) }, "New group")] : [];
  const byGroup = new Map();
  for (const a of assessments.items) {
    if (!byGroup.has(a.group_id)) byGroup.set(a.group_id, []);
    byGroup.get(a.group_id).push(a);
  }
  const rows = groups.items.map((g) => {
    const list = byGroup.get(g.id) || [];
    return h("tr", { "data-group": g.id },
      h("th", { scope: "row" }, g.name),
      h("td", {}, list.length ? h("ul", { class: "plain" }, list.map((a) => h("li", {}, h("a", { href: `#/assessments/${enc(a.id)}` }, a.name), a.archived ? [" ", badge("Archived")] : ` · ${pct(a.score.percent)}`))) : "No assessments"),
      h("td", {}, `${day(g.created_at)} by ${g.created_by}`),
      h("td", {}, can("edit_data") ? h("button", { type: "button", onclick: () => rename(g) }, "Rename") : null));
  });
  return [
    pageHead("Groups", "Assessments in a group share their non-technical improvement actions: an update to one shows in all.", ...tools),
    groups.items.length ? table("Assessment groups", ["Group", "Assessments", "Created", ""], rows) : empty("No groups yet: adding an assessment makes one."),
  ];
}

async function rename(g) {
  const nameF = field("Name", h("input", { name: "name", value: g.name, required: true, maxlength: 100 }), "Unique in your organisation, whatever the case.");
  await modal(`Rename ${g.name}`, [nameF.el], [{ label: "Cancel" }, { label: "Rename", value: "save", cls: "primary" }], async () => {
    await patch(`/groups/${enc(g.id)}`, { name: nameF.control.value.trim() }, g.version);
    notice("Group renamed.");
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  });
}

async function create(groups) {
  const nameF = field("Name", h("input", { name: "name", required: true, maxlength: 100 }));
  const copy = field("Copy from", select("copy_from", groups.map((g) => [g.id, g.name]), "", "Nothing"),
    "Copies owners, statuses, dates, notes and evidence links of the shared actions.");
  await modal("New group", [nameF.el, copy.el], [{ label: "Cancel" }, { label: "Create group", value: "create", cls: "primary" }], async () => {
    const body = { name: nameF.control.value.trim() };
    if (copy.control.value) body.copy_from = copy.control.value;
    await post("/groups", body);
    notice("Group created.");
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  });
}
