// The dashboard: overall score and by category, score history, assessment tiles, active
// alerts and pending updates. Administrators add assessments here.

import { get, post, query } from "./api.js";
import { can } from "./auth.js";
import { h, svg, field, select, modal, notice, pageHead, section, scoreMeter, progress, pct, points, badge, empty, link } from "./ui.js";
import { label, tone, when, day, titled, CATEGORY } from "./labels.js";

export const name = () => "dashboard";

export async function render(_params, q) {
  const archived = q.get("archived") === "1";
  const [score, history, assessments, alerts, updates] = await Promise.all([
    get("/score"),
    get("/score/history"),
    get(`/assessments${query({ include_archived: archived ? "true" : "", limit: 200 })}`),
    get("/alerts?status=active&limit=5"),
    get("/action-updates"),
  ]);
  const tools = can("manage_assessments") ? [h("button", { type: "button", class: "primary", onclick: addAssessment }, "Add assessment")] : [];
  return [
    pageHead("Compliance dashboard", score.computed_at ? `Score computed ${when(score.computed_at)}` : null, ...tools),
    h("div", { class: "grid dash" }, overall(score), byCategory(score), activeAlerts(alerts, assessments.items), pending(updates)),
    history.items.length > 1 ? section("Score history", chart(history.items)) : null,
    tiles(assessments.items, archived),
  ];
}

function overall(score) {
  return section(
    "Overall compliance score",
    h("p", { class: "big", id: "overall-score" }, pct(score.overall.percent)),
    scoreMeter(score.overall, "Overall compliance score"),
    h("p", { class: "sub", id: "overall-points" }, points(score.overall)),
    h("p", { class: "sub" }, `Over ${score.assessments} assessment${score.assessments === 1 ? "" : "s"}`),
  );
}

function byCategory(score) {
  const order = new Map(CATEGORY.map(([c], i) => [c, i]));
  const rows = [...score.by_category]
    .sort((a, b) => order.get(a.category) - order.get(b.category))
    .map((c) =>
      h("li", { "data-category": c.category },
        h("span", { class: "cat-name" }, label(c.category)),
        scoreMeter(c.score, `${label(c.category)} score`),
        h("span", { class: "sub cat-points" }, points(c.score))));
  return section("Score by category", rows.length ? h("ul", { class: "categories" }, rows) : empty("No actions yet."));
}

function activeAlerts(alerts, assessments) {
  const items = alerts.items.map((a) =>
    h("li", {}, badge(label(a.severity), tone(a.severity)), " ", h("a", { href: "#/alerts" }, titled(a.title, assessments)), h("span", { class: "sub" }, ` · ${when(a.last_at)}`)));
  return section(
    "Active alerts",
    items.length ? h("ul", { class: "plain", id: "active-alerts" }, items) : empty("No active alerts."),
    link("#/alerts", "All alerts"),
  );
}

// Improvement actions whose newer library version waits for an administrator's review.
function pending(updates) {
  const n = updates.items.length;
  return section(
    "Pending updates",
    h("p", { class: "big", id: "pending-updates" }, String(n)),
    h("p", { class: "sub" }, n === 1 ? "improvement action has an update to review" : "improvement actions have an update to review"),
    n ? link("#/actions?pending=1", "Review updates") : null,
  );
}

// A line of the tenant's score over time (percent), with its first and last values in words.
function chart(points) {
  const W = 640, H = 180, P = 28;
  const t0 = Date.parse(points[0].at), t1 = Date.parse(points[points.length - 1].at);
  const x = (t) => P + ((t - t0) / Math.max(t1 - t0, 1)) * (W - 2 * P);
  const y = (p) => H - P - (p / 100) * (H - 2 * P);
  const path = points.map((p, i) => `${i ? "L" : "M"}${x(Date.parse(p.at)).toFixed(1)},${y(p.percent).toFixed(1)}`).join(" ");
  const first = points[0], last = points[points.length - 1];
  // Days, or moments when the history spans less than two days.
  const at = t1 - t0 < 2 * 86400000 ? when : day;
  const desc = `From ${pct(first.percent)} on ${at(first.at)} to ${pct(last.percent)} on ${at(last.at)}, ${points.length} points`;
  const grid = [0, 50, 100].map((p) => [
    svg("line", { x1: P, x2: W - P, y1: y(p), y2: y(p), class: "grid-line" }),
    svg("text", { x: 2, y: y(p) + 4, class: "axis" }, `${p}%`),
  ]);
  return [
    svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": `Score history: ${desc}` },
      grid,
      svg("path", { d: path, class: "line" }),
      svg("text", { x: P, y: H - 6, class: "axis" }, at(first.at)),
      svg("text", { x: W - P, y: H - 6, class: "axis end" }, at(last.at))),
    h("p", { class: "sub" }, desc),
  ];
}

// Tiles by group, then by name.
const byGroup = (a, b) => a.group_name.localeCompare(b.group_name) || a.name.localeCompare(b.name);

function tiles(all, archived) {
  const items = [...all].sort(byGroup);
  const live = items.filter((a) => !a.archived);
  const gone = items.filter((a) => a.archived);
  const toggle = h("label", { class: "inline" },
    h("input", { type: "checkbox", checked: archived, onchange: (e) => (location.hash = e.target.checked ? "#/?archived=1" : "#/") }),
    " Show archived");
  return [
    h("div", { class: "section-head" }, h("h2", {}, "Assessments"), toggle),
    live.length ? h("div", { class: "tiles", id: "assessment-tiles" }, live.map(tile)) : empty("No assessments yet."),
    archived ? [h("h2", {}, "Archived assessments"), gone.length ? h("div", { class: "tiles" }, gone.map(tile)) : empty("No archived assessments.")] : null,
  ];
}

function tile(a) {
  return h(
    "article",
    { class: "tile card", "data-assessment": a.id },
    h("p", { class: "sub" }, a.group_name),
    h("h3", {}, h("a", { href: `#/assessments/${encodeURIComponent(a.id)}` }, a.name)),
    h("p", { class: "sub" }, a.regulation_name),
    h("div", { class: "tile-score" }, h("span", { class: "big-ish" }, pct(a.score.percent)), h("span", { class: "sub" }, points(a.score))),
    scoreMeter(a.score, `${a.name} score`),
    progress(a.progress),
    h("p", { class: "sub" }, `Services: ${a.services.join(", ")} · created ${day(a.created_at)}`, a.archived ? [" · ", badge("Archived")] : null),
  );
}

async function addAssessment() {
  const [regs, groups, connectors] = await Promise.all([get("/regulations"), get("/groups"), get("/connectors")]);
  const reg = field("Regulation", select("regulation_id", regs.items.map((r) => [r.id, `${r.name} (${r.control_count} controls)`])));
  const services = field("Services", h("input", { name: "services", required: true, placeholder: "aws, zoom" }),
    "The services in scope, separated by commas. Connectors test the actions of zoom and salesforce.");
  const group = field("Group", select("group", [...groups.items.map((g) => [g.id, g.name]), ["", "A new group…"]], groups.items[0]?.id || ""));
  const groupName = field("New group's name", h("input", { name: "group_name", maxlength: 100 }));
  const copyFrom = field("Copy from group", select("copy_from", groups.items.map((g) => [g.id, g.name]), "", "Nothing"),
    "Copies owners, statuses, dates, notes and evidence links of shared actions.");
  const nameF = field("Name (optional)", h("input", { name: "name", placeholder: "service - regulation" }));
  const compliance = connectors.items.filter((c) => c.service === "zoom" || c.service === "salesforce");
  const instances = compliance.length
    ? h("fieldset", {}, h("legend", {}, "Service instances"),
      compliance.map((c) => h("label", { class: "inline" }, h("input", { type: "checkbox", name: `connector:${c.id}`, checked: true }), ` ${c.name} (${c.service})`)))
    : null;
  const syncGroup = () => {
    const isNew = group.control.value === "";
    groupName.el.hidden = copyFrom.el.hidden = !isNew;
    groupName.control.required = isNew;
  };
  group.control.addEventListener("change", syncGroup);
  syncGroup();
  const created = await modal("Add assessment", [reg.el, services.el, group.el, groupName.el, copyFrom.el, nameF.el, instances], [
    { label: "Cancel" },
    { label: "Create assessment", value: "create", cls: "primary" },
  ], async (_v) => {
    const svc = services.control.value.split(",").map((s) => s.trim()).filter(Boolean);
    const body = { regulation_id: reg.control.value, services: svc };
    if (group.control.value) body.group_id = group.control.value;
    else {
      body.group_name = groupName.control.value.trim();
      if (copyFrom.control.value) body.copy_from = copyFrom.control.value;
    }
    if (nameF.control.value.trim()) body.name = nameF.control.value.trim();
    const chosen = compliance.filter((c) => svc.includes(c.service));
    const checked = chosen.filter((c) => instances.querySelector(`[name="${CSS.escape(`connector:${c.id}`)}"]`).checked);
    if (checked.length && checked.length < chosen.length) body.connectors = checked.map((c) => c.id);
    const a = await post("/assessments", body);
    notice(`Assessment ${a.name} created.`);
    location.hash = `#/assessments/${encodeURIComponent(a.id)}`;
  });
  return created;
}
