// Improvement actions: the tenant's action instances with the API's filters, bulk
// assignment, export and import (Excel), and the pending updates to review and accept.

import { get, post, api, query, download, enc } from "./api.js";
import { can } from "./auth.js";
import { h, field, select, modal, notice, pageHead, badge, empty, table, showProblem, replace, append, link } from "./ui.js";
import { label, tone, IMPLEMENTATION, TEST, CATEGORY } from "./labels.js";
import * as updates from "./updates.js";

export const name = () => "actions";

const FILTERS = ["assessment", "group", "regulation", "category", "owner", "implementation_status", "test_status"];
const MAX_ASSIGN = 49;
const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

export async function render(_params, q) {
  const filters = Object.fromEntries(FILTERS.map((f) => [f, q.get(f) || ""]));
  const [page, assessments, groups, regulations, pending] = await Promise.all([
    get(`/actions${query({ ...filters, limit: 100 })}`),
    get("/assessments?limit=200"),
    get("/groups"),
    get("/regulations"),
    get("/action-updates"),
  ]);
  const slot = h("div", { class: "slot" });
  if (outcome) replace(slot, outcome);
  outcome = null;
  const selected = new Set();
  const assignBtn = h("button", { type: "button", disabled: true, onclick: () => assign(selected, slot) }, "Assign to user");
  const onSelect = () => {
    assignBtn.disabled = selected.size === 0 || selected.size > MAX_ASSIGN;
    assignBtn.textContent = selected.size ? `Assign ${selected.size} to user` : "Assign to user";
  };
  const tools = [
    can("edit_data") ? assignBtn : null,
    h("button", { type: "button", onclick: () => exportActions(filters, slot) }, "Export actions"),
    can("edit_data") ? importButton(slot) : null,
  ].filter(Boolean);
  const groupName = new Map(groups.items.map((g) => [g.id, g.name]));
  const regName = new Map(regulations.items.map((r) => [r.id, r.name]));
  const groupOf = new Map(assessments.items.map((a) => [a.id, a.group_name]));
  const names = { regulation: (r) => regName.get(r) || r, group: (a) => groupOf.get(a) };
  const draw = (a) => row(a, groupName, selected, onSelect);
  const list = actionTable(page.items, draw);
  const more = page.next_cursor ? moreButton(filters, page.next_cursor, list, draw) : null;
  return [
    pageHead("Improvement actions", "Every action your organisation manages, shared by the assessments that use it.", ...tools),
    slot,
    pending.items.length ? pendingSection(pending.items, q.get("pending") === "1", groupName, names) : null,
    filterForm(filters, assessments.items, groups.items, regulations.items),
    h("p", { class: "sub", id: "actions-count" }, `${page.items.length}${page.next_cursor ? "+" : ""} actions`),
    list,
    more,
  ];
}

function filterForm(filters, assessments, groups, regulations) {
  const fields = [
    field("Assessment", select("assessment", assessments.map((a) => [a.id, a.name]), filters.assessment, "Any")),
    field("Group", select("group", groups.map((g) => [g.id, g.name]), filters.group, "Any")),
    field("Regulation", select("regulation", regulations.map((r) => [r.id, r.name]), filters.regulation, "Any")),
    field("Category", select("category", CATEGORY, filters.category, "Any")),
    field("Assigned to", h("input", { name: "owner", value: filters.owner })),
    field("Implementation status", select("implementation_status", IMPLEMENTATION, filters.implementation_status, "Any")),
    field("Test status", select("test_status", TEST, filters.test_status, "Any")),
  ];
  const form = h("form", {
    class: "filters card", role: "search", "aria-label": "Filter actions",
    onsubmit: (e) => {
      e.preventDefault();
      const qs = new URLSearchParams(FILTERS.map((f) => [f, form.elements[f].value.trim()]).filter(([, v]) => v)).toString();
      location.hash = `#/actions${qs ? `?${qs}` : ""}`;
    },
  },
  h("div", { class: "filter-fields" }, fields.map((f) => f.el)),
  h("div", { class: "buttons" }, h("button", { type: "submit", class: "primary" }, "Apply filters"),
    FILTERS.some((f) => filters[f]) ? h("a", { href: "#/actions", class: "button" }, "Clear filters") : null));
  return form;
}

function actionTable(items, draw) {
  const cols = [
    can("edit_data") ? { label: h("span", { class: "sr-only" }, "Select") } : null,
    "Improvement action", "Shared by", "Type", "Category", "Points", "Assigned to", "Implementation", "Test", "Testing",
  ].filter(Boolean);
  if (!items.length) return empty("No actions match these filters.");
  return table("Improvement actions", cols, items.map(draw), "actions-table");
}

// Technical actions are shared by the whole tenant; the others by a group (their id is
// `<action>@<group id>`).
function row(a, groupName, selected, onSelect) {
  const editable = can("edit_data");
  const group = a.id.includes("@") ? groupName.get(a.id.split("@").pop()) || "A group" : "Whole tenant";
  const box = editable
    ? h("input", { type: "checkbox", "aria-label": `Select ${a.title}`, onchange: (e) => { e.target.checked ? selected.add(a.id) : selected.delete(a.id); onSelect(); } })
    : null;
  return h("tr", { "data-action": a.id },
    editable ? h("td", {}, box) : null,
    h("td", {}, h("a", { href: `#/actions/${enc(a.id)}` }, a.title), a.pending_update ? [" ", badge("Pending update", "warn")] : null),
    h("td", {}, group),
    h("td", {}, label(a.action_type)),
    h("td", {}, label(a.category)),
    h("td", { class: "num" }, String(a.points)),
    h("td", { class: "owner" }, a.owner || "Unassigned"),
    h("td", {}, badge(label(a.implementation_status), tone(a.implementation_status))),
    h("td", {}, badge(label(a.test_status), tone(a.test_status))),
    h("td", {}, label(a.testing_type)));
}

function moreButton(filters, cursor, list, draw) {
  const btn = h("button", {
    type: "button",
    onclick: async () => {
      btn.disabled = true;
      const page = await get(`/actions${query({ ...filters, limit: 100, cursor })}`);
      append(list.querySelector("tbody"), page.items.map(draw));
      if (page.next_cursor) {
        cursor = page.next_cursor;
        btn.disabled = false;
      } else btn.remove();
    },
  }, "Load more actions");
  return btn;
}

async function assign(selected, slot) {
  const owner = field("Assign to", h("input", { name: "owner", type: "text", placeholder: "name@example.com", autocomplete: "email" }),
    "Leave empty to unassign.");
  await modal(`Assign ${selected.size} improvement action${selected.size === 1 ? "" : "s"}`, [owner.el],
    [{ label: "Cancel" }, { label: "Assign", value: "assign", cls: "primary" }],
    async () => {
      const who = owner.control.value.trim();
      await post("/actions/assign", { action_ids: [...selected], owner: who || null });
      notice(`${selected.size} action${selected.size === 1 ? "" : "s"} assigned to ${who || "nobody"}.`);
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    });
  showProblem(slot, null);
}

async function exportActions(filters, slot) {
  try {
    const file = await download(`/actions/export.xlsx${query(filters)}`, "improvement-actions.xlsx");
    notice(`Downloaded ${file.name}.`);
  } catch (err) {
    showProblem(slot, err);
  }
}

// Bulk update: the exported workbook, edited, sent back; rows are applied with PATCH's rules.
function importButton(slot) {
  const input = h("input", { type: "file", accept: `.xlsx,${XLSX}`, class: "sr-only", id: "import-file", tabindex: "-1", "aria-label": "Workbook of improvement actions to import" });
  input.addEventListener("change", async () => {
    const file = input.files[0];
    input.value = "";
    if (!file) return;
    try {
      const out = await api("/actions/import.xlsx", { method: "POST", body: file, headers: { "Content-Type": XLSX } });
      replace(slot, importOutcome(out));
      notice(`Import: ${out.applied} applied, ${out.skipped} unchanged.`);
    } catch (err) {
      showProblem(slot, err);
      if (err.problem && Array.isArray(err.problem.rejected)) append(slot, rejectedRows(err.problem.rejected));
    }
  });
  return [input, h("button", { type: "button", onclick: () => input.click() }, "Import actions")];
}

function importOutcome(out) {
  return h("div", { class: "notice", role: "status" },
    h("p", {}, `Import: ${out.applied} rows applied, ${out.skipped} unchanged, ${out.rejected.length} rejected.`),
    out.rejected.length ? rejectedRows(out.rejected) : null);
}

const rejectedRows = (rows) => table("Rejected rows", ["Row", "Action", "Reason"], rows.map((r) => [String(r.row), r.id || "—", r.reason]));

// What the last accept-all did, shown once on the page drawn after it.
let outcome = null;

// Each pending update in full; administrators accept one, or all at once.
function pendingSection(items, open, groupName, names) {
  const admin = updates.mayAccept();
  const slot = h("div", { class: "slot" });
  const n = items.length;
  const one = (u) => {
    const mine = h("div", { class: "slot" });
    const where = u.group_id ? `Group ${groupName.get(u.group_id) || u.group_id}` : "Whole tenant";
    return h("article", { class: "update", "data-update": u.id },
      h("h3", {}, link(`#/actions/${enc(u.id)}`, u.title), " ", h("span", { class: "sub" }, `· ${where}`)),
      updates.details(u.pending_update, names),
      mine,
      admin ? h("button", { type: "button", class: "primary", onclick: (e) => acceptOne(u, mine, e.target) }, "Accept update") : null);
  };
  return h("details", { class: "card pending", open: open || n <= 3, id: "pending-updates" },
    h("summary", {}, h("h2", {}, `${n} pending update${n === 1 ? "" : "s"}`),
      h("span", { class: "sub" }, admin
        ? "A newer library version of these actions: review what changes, then accept. Technical actions update tenant-wide, the others group by group."
        : "A newer library version of these actions: an administrator reviews and accepts them.")),
    slot,
    admin ? h("div", { class: "buttons" }, h("button", { type: "button", onclick: () => acceptAll(n, slot) }, `Accept all updates (${n})`)) : null,
    items.map(one));
}

const redraw = () => window.dispatchEvent(new HashChangeEvent("hashchange"));

async function acceptOne(u, slot, btn) {
  btn.disabled = true;
  try {
    await updates.accept(u.id, u.version);
    notice(`Update accepted: ${u.title}.`);
    redraw();
  } catch (err) {
    btn.disabled = false;
    showProblem(slot, err);
  }
}

async function acceptAll(n, slot) {
  const ok = await modal("Accept all updates", [h("p", {}, n === 1 ? "1 improvement action will take its new library version" : `${n} improvement actions will take their new library version`,
    ", and the scores of the assessments affected will change as listed. Accepting cannot be undone.")],
    [{ label: "Cancel" }, { label: "Accept all updates", value: "yes", cls: "primary" }]);
  if (ok !== "yes") return;
  try {
    const out = await post("/action-updates/accept-all");
    const text = `${out.accepted.length} update${out.accepted.length === 1 ? "" : "s"} accepted${out.failed.length ? `, ${out.failed.length} not` : ""}.`;
    notice(text);
    outcome = h("div", { class: out.failed.length ? "problem" : "notice", role: "status", id: "accept-all-outcome" }, h("p", {}, text),
      out.failed.length ? table("Updates not accepted", ["Action", "Reason"], out.failed.map((f) => [f.id, f.reason])) : null);
    redraw();
  } catch (err) {
    showProblem(slot, err);
  }
}
