// Alerts (investigate, resolve, dismiss, assign) and the policies that raise them.

import { get, post, patch, del, query, enc } from "./api.js";
import { can } from "./auth.js";
import { h, field, select, modal, confirm, notice, pageHead, section, badge, empty, table, showProblem, append } from "./ui.js";
import { label, tone, when, titled, ALERT_STATUS, SEVERITY, ALERT_EVENTS } from "./labels.js";

export const name = () => "alerts";

const refresh = () => window.dispatchEvent(new HashChangeEvent("hashchange"));

export async function render(_params, q) {
  const filters = { status: q.get("status") || "", severity: q.get("severity") || "" };
  const [alerts, policies, assessments] = await Promise.all([
    get(`/alerts${query({ ...filters, limit: 50 })}`),
    get("/alert-policies"),
    get("/assessments?include_archived=true&limit=200"),
  ]);
  const slot = h("div", { class: "slot" });
  const named = (t) => titled(t, assessments.items);
  const rows = alerts.items.map((a) => alertRow(a, slot, named));
  const list = rows.length ? table("Alerts, newest first", ["Severity", "Alert", "Status", "Events", "First", "Last", "Assigned to", ""], rows, "alerts-table") : empty("No alerts match.");
  const more = alerts.next ? moreButton(filters, alerts.next, list, slot, named) : null;
  return [
    pageHead("Alerts", "What the alert policies raised. Each tenant starts with two: a failed connector run and a score decrease."),
    slot,
    filterForm(filters),
    list,
    more,
    section("Alert policies", policyTable(policies.items, slot), can("manage_assessments") ? h("button", { type: "button", class: "primary", onclick: newPolicy }, "New policy") : null),
  ];
}

function filterForm(filters) {
  const status = field("Status", select("status", ALERT_STATUS, filters.status, "Any"));
  const severity = field("Severity", select("severity", SEVERITY, filters.severity, "Any"));
  const form = h("form", {
    class: "filters card", role: "search", "aria-label": "Filter alerts",
    onsubmit: (e) => {
      e.preventDefault();
      const qs = new URLSearchParams([["status", status.control.value], ["severity", severity.control.value]].filter(([, v]) => v)).toString();
      location.hash = `#/alerts${qs ? `?${qs}` : ""}`;
    },
  }, h("div", { class: "filter-fields" }, status.el, severity.el), h("div", { class: "buttons" }, h("button", { type: "submit", class: "primary" }, "Apply filters")));
  return form;
}

function alertRow(a, slot, named) {
  const edit = can("edit_data");
  const open = a.status === "active" || a.status === "investigating";
  return h("tr", { "data-alert": a.id },
    h("td", {}, badge(label(a.severity), tone(a.severity))),
    h("td", { class: "alert-title" }, named(a.title)),
    h("td", {}, badge(label(a.status), tone(a.status))),
    h("td", { class: "num" }, String(a.count)),
    h("td", {}, when(a.first_at)),
    h("td", {}, when(a.last_at)),
    h("td", {}, a.assignee || "—"),
    h("td", {}, edit ? h("div", { class: "row-tools" },
      open ? h("button", { type: "button", onclick: () => change(a, { status: "resolved" }, slot) }, "Resolve") : null,
      h("button", { type: "button", onclick: () => editAlert(a, named(a.title)) }, "Edit")) : null));
}

function moreButton(filters, after, list, slot, named) {
  const btn = h("button", {
    type: "button",
    onclick: async () => {
      const page = await get(`/alerts${query({ ...filters, limit: 50, after })}`);
      append(list.querySelector("tbody"), page.items.map((a) => alertRow(a, slot, named)));
      if (page.next) after = page.next;
      else btn.remove();
    },
  }, "Load more alerts");
  return btn;
}

async function change(a, body, slot) {
  try {
    await patch(`/alerts/${enc(a.id)}`, body, a.version);
    notice(`Alert ${body.status ? label(body.status).toLowerCase() : "updated"}.`);
    refresh();
  } catch (err) {
    showProblem(slot, err);
  }
}

async function editAlert(a, title) {
  const status = field("Status", select("status", ALERT_STATUS, a.status));
  const assignee = field("Assigned to", h("input", { name: "assignee", value: a.assignee || "", maxlength: 256 }), "Leave empty to unassign.");
  await modal(title, [status.el, assignee.el], [{ label: "Cancel" }, { label: "Save", value: "save", cls: "primary" }], async () => {
    await patch(`/alerts/${enc(a.id)}`, { status: status.control.value, assignee: assignee.control.value.trim() || null }, a.version);
    notice("Alert saved.");
    refresh();
  });
}

function policyTable(items, slot) {
  if (!items.length) return empty("No alert policies.");
  const manage = can("manage_assessments");
  return table("Alert policies", ["Policy", "Watches", "Severity", "Threshold", "Enabled", manage ? "" : null].filter((c) => c !== null),
    items.map((p) => [
      p.name, label(p.event), badge(label(p.severity), tone(p.severity)),
      p.threshold ? `${p.threshold.count} within ${p.threshold.window_minutes} min` : "Every event",
      p.enabled ? "Yes" : "No",
      manage ? h("div", { class: "row-tools" },
        h("button", { type: "button", onclick: () => togglePolicy(p, slot) }, p.enabled ? "Disable" : "Enable"),
        h("button", { type: "button", class: "danger", onclick: () => deletePolicy(p, slot) }, "Delete")) : null,
    ].filter((c) => c !== null)));
}

async function togglePolicy(p, slot) {
  try {
    await patch(`/alert-policies/${enc(p.id)}`, { enabled: !p.enabled }, p.version);
    refresh();
  } catch (err) {
    showProblem(slot, err);
  }
}

async function deletePolicy(p, slot) {
  if (!(await confirm("Delete policy", `Delete ${p.name}? The alerts it raised stay.`, "Delete"))) return;
  try {
    await del(`/alert-policies/${enc(p.id)}`, p.version);
    refresh();
  } catch (err) {
    showProblem(slot, err);
  }
}

async function newPolicy() {
  const nameF = field("Name", h("input", { name: "name", required: true, maxlength: 200 }));
  const event = field("Watches", select("event", ALERT_EVENTS, "test_status_change"));
  const severity = field("Severity", select("severity", SEVERITY, "medium"));
  const count = field("Events (optional)", h("input", { type: "number", name: "count", min: 1, max: 1000 }), "Raise once this many match within the window; empty: every matching event.");
  const windowF = field("Window in minutes", h("input", { type: "number", name: "window", min: 1, max: 43200, value: "60" }));
  await modal("New alert policy", [nameF.el, event.el, severity.el, count.el, windowF.el], [{ label: "Cancel" }, { label: "Create policy", value: "create", cls: "primary" }], async () => {
    const body = { name: nameF.control.value.trim(), event: event.control.value, severity: severity.control.value };
    if (count.control.value) body.threshold = { count: Number(count.control.value), window_minutes: Number(windowF.control.value) };
    await post("/alert-policies", body);
    notice("Policy created.");
    refresh();
  });
}
