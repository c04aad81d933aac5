// One improvement action: guidance, related controls, status edits (the API's rules
// followed, its refusals shown beside the fields, If-Match on every change), evidence
// (uploaded straight to the presigned URL with progress, downloaded, deleted), history, and
// its pending update (what changes, the assessments affected; administrators accept it).

import { get, patch, post, del, download, upload, enc } from "./api.js";
import { can } from "./auth.js";
import { h, field, select, confirm, notice, pageHead, section, badge, empty, table, showProblem, replace, append, link } from "./ui.js";
import { label, tone, when, day, bytes, value, IMPLEMENTATION, TEST } from "./labels.js";
import * as updates from "./updates.js";

export const name = () => "action";

const DONE = ["implemented", "alternative_implementation"];
const VERDICT = /^(passed|failed_)/;
const LOCKS_EVIDENCE = /^(passed|failed_|out_of_scope$)/;

export async function render([id]) {
  const path = `/actions/${enc(id)}`;
  const [a, related, history] = await Promise.all([get(path), get(`${path}/controls`), get(`${path}/history?limit=200`)]);
  // Assessments of several groups (a technical action's) often share a name: their groups tell them apart.
  const spread = a.pending_update && a.pending_update.assessments_affected.length > 1;
  const assessments = spread ? (await get("/assessments?limit=200")).items : [];
  const evidence = h("div", { id: "evidence" });
  loadEvidence(a, evidence);
  const slot = h("div", { class: "slot" });
  return [
    pageHead(a.title, `${label(a.category)} · ${label(a.action_type)} action · ${a.action_id}`,
      h("button", { type: "button", onclick: () => exportHistory(a, slot) }, "Export testing history")),
    slot,
    a.pending_update ? pendingUpdate(a, related.items, assessments) : null,
    infoBar(a),
    h("div", { class: "grid two" },
      section("Status", can("edit_data") || can("edit_tests") ? statusForm(a) : statusView(a)),
      section("How to implement", h("p", { class: "guidance" }, a.guidance || "No guidance."))),
    section("Evidence", evidence),
    section("Related controls", relatedTable(related.items)),
    section("History", historyTable(history.items)),
  ];
}

function infoBar(a) {
  const item = (k, v) => h("div", {}, h("dt", {}, k), h("dd", {}, v));
  return h("dl", { class: "infobar card" },
    item("Points", `${a.score.achieved} / ${a.points}`),
    item("Control type", `${label(a.control_type)}, ${label(a.enforcement)}`),
    item("Testing type", label(a.testing_type)),
    item("Managed by", label(a.managed_by)),
    item("Assessments", a.assessments.length ? a.assessments.map((x, i) => [i ? ", " : "", link(`#/assessments/${enc(x.assessment_id)}`, x.name)]) : "None"),
  );
}

function statusView(a) {
  const item = (k, v) => h("div", {}, h("dt", {}, k), h("dd", {}, v));
  return h("dl", { class: "props", id: "status-view" },
    item("Assigned to", a.owner || "Unassigned"),
    item("Implementation status", badge(label(a.implementation_status), tone(a.implementation_status))),
    item("Implementation date", day(a.implementation_date)),
    item("Implementation notes", a.implementation_notes || "—"),
    item("Test status", badge(label(a.test_status), tone(a.test_status))),
    item("Test date", day(a.test_date)),
    item("Test notes", a.test_notes || "—"));
}

// The editable fields, each offered only to roles that may change it; the rules decide
// what is enabled (an implementation date and a pass or fail need an implementation).
function statusForm(a) {
  const data = can("edit_data");
  const tests = can("edit_tests");
  const automatic = a.testing_type === "automatic";
  const f = {
    owner: field("Assigned to", h("input", { name: "owner", value: a.owner || "", disabled: !data, autocomplete: "email" })),
    implementation_status: field("Implementation status", select("implementation_status", IMPLEMENTATION, a.implementation_status)),
    implementation_date: field("Implementation date", h("input", { type: "date", name: "implementation_date", value: a.implementation_date || "" }),
      "Only with Implemented or Alternative implementation."),
    implementation_notes: field("Implementation notes", h("textarea", { name: "implementation_notes", rows: 3, value: a.implementation_notes || "" })),
    testing_type: field("Testing type", select("testing_type", [["manual", "Manual"], ["automatic", "Automatic"]], a.testing_type)),
    test_status: field("Test status", select("test_status", TEST, a.test_status),
      automatic ? "Set by connectors: switch the testing type to manual to edit it." : "Passed and failed need Implemented or Alternative implementation."),
    test_date: field("Test date", h("input", { type: "date", name: "test_date", value: a.test_date || "" })),
    test_notes: field("Test notes", h("textarea", { name: "test_notes", rows: 3, value: a.test_notes || "" })),
  };
  for (const k of ["owner", "implementation_status", "implementation_date", "implementation_notes"]) f[k].control.disabled = !data;
  for (const k of ["testing_type", "test_status", "test_date", "test_notes"]) f[k].control.disabled = !tests;
  const slot = h("div", { class: "slot", id: "status-problem" });
  const rules = () => {
    const done = DONE.includes(f.implementation_status.control.value);
    if (data) f.implementation_date.control.disabled = !done;
    if (!tests) return;
    const auto = f.testing_type.control.value === "automatic";
    f.test_status.control.disabled = auto;
    f.test_notes.control.disabled = auto;
    for (const o of f.test_status.control.options) o.disabled = VERDICT.test(o.value) && !done && o.value !== a.test_status;
  };
  f.implementation_status.control.addEventListener("change", rules);
  f.testing_type.control.addEventListener("change", rules);
  rules();
  const form = h("form", { class: "status-form", id: "status-form", onsubmit: (e) => { e.preventDefault(); save(a, f, slot, form); } },
    h("fieldset", {}, h("legend", {}, "Implementation"), f.owner.el, f.implementation_status.el, f.implementation_date.el, f.implementation_notes.el),
    h("fieldset", {}, h("legend", {}, "Test and verification"), f.testing_type.el, f.test_status.el, f.test_date.el, f.test_notes.el),
    slot,
    h("div", { class: "buttons" }, h("button", { type: "submit", class: "primary" }, "Save"),
      h("button", { type: "reset", onclick: () => setTimeout(() => { rules(); showProblem(slot, null); }) }, "Discard changes")));
  return form;
}

// Sends the fields that changed, based on the version shown (If-Match).
async function save(a, f, slot, form) {
  const changes = {};
  for (const [k, fl] of Object.entries(f)) {
    const c = fl.control;
    if (c.disabled) continue;
    const now = c.value.trim();
    const was = a[k] ?? "";
    if (now !== was) changes[k] = now === "" && ["owner", "implementation_date", "test_date"].includes(k) ? null : now;
    fl.error(null);
  }
  if (!Object.keys(changes).length) return showProblem(slot, { title: "Nothing to save", detail: "No field was changed." });
  const btn = form.querySelector("button[type=submit]");
  btn.disabled = true;
  try {
    await patch(`/actions/${enc(a.id)}`, changes, a.version);
    notice("Saved.");
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  } catch (err) {
    btn.disabled = false;
    explain(err, f, changes, slot);
  }
}

// A refusal beside the fields it concerns: the API's per-field errors, else the changed
// fields its detail names; the whole problem (and, when stale, a way to reload) below them.
function explain(err, f, changes, slot) {
  showProblem(slot, err);
  const named = err.errors.length ? err.errors : Object.keys(changes).filter((k) => err.detail.includes(k)).map((k) => ({ field: k, message: err.detail }));
  for (const e of named) if (f[e.field]) f[e.field].error(e.message);
  if (err.status === 412) {
    append(slot.firstChild, h("p", {}, "Someone changed this action after you opened it. ",
      h("button", { type: "button", onclick: () => window.dispatchEvent(new HashChangeEvent("hashchange")) }, "Reload the action")));
  }
}

// The newer definition waiting for review: until accepted the action keeps the one shown.
// (A release never moves an action into or out of a regulation: its related controls name
// every regulation a mapping change concerns.)
function pendingUpdate(a, related, assessments) {
  const d = a.pending_update;
  const regName = new Map(related.map((c) => [c.regulation_id, c.regulation_name]));
  const groupOf = new Map(assessments.map((x) => [x.id, x.group_name]));
  const names = { regulation: (r) => regName.get(r) || r, group: assessments.length ? (x) => groupOf.get(x) : null };
  const slot = h("div", { class: "slot" });
  const accept = async (e) => {
    e.target.disabled = true;
    try {
      await updates.accept(a.id, a.version);
      notice("Update accepted.");
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    } catch (err) {
      e.target.disabled = false;
      showProblem(slot, err);
    }
  };
  return h("section", { class: "card update", id: "pending-update", "aria-labelledby": "pending-update-title" },
    h("h2", { id: "pending-update-title" }, badge("Pending update", "warn"), ` Version ${d.to} of this action`),
    h("p", {}, "The action library has a newer definition of this action. Until it is accepted, this page and the scores use the current one."),
    updates.details(d, names),
    slot,
    updates.mayAccept()
      ? h("div", { class: "buttons" }, h("button", { type: "button", class: "primary", onclick: accept }, "Accept update"),
        h("span", { class: "sub" }, a.action_type === "technical" || a.managed_by === "provider" ? "Applies tenant-wide." : "Applies to this group's assessments."))
      : h("p", { class: "sub" }, "An administrator can accept it."));
}

async function exportHistory(a, slot) {
  try {
    await download(`/actions/${enc(a.id)}/history/export.xlsx`, `${a.action_id}-history.xlsx`);
  } catch (err) {
    showProblem(slot, err);
  }
}

function relatedTable(items) {
  if (!items.length) return empty("No related controls.");
  return table("Related controls", ["Regulation", "Family", "Control"],
    items.map((c) => [c.regulation_name, c.family_title, [h("span", { class: "control-id" }, c.control_id), " ", c.title]]));
}

function historyTable(items) {
  if (!items.length) return empty("No changes yet.");
  return table("Change history, newest first", ["When", "Who", "Field", "From", "To", "Source"],
    items.map((e) => [when(e.at), e.by || "Attest", label(e.field), value(e.old), value(e.new), e.source]), "history");
}

// --- Evidence ---

async function loadEvidence(a, el) {
  try {
    const list = await get(`/actions/${enc(a.id)}/evidence`);
    replace(el, evidenceTable(a, list.items, el), can("edit_data") ? addEvidence(a, el) : null);
    return list.items;
  } catch (err) {
    showProblem(el, err);
    return [];
  }
}

function evidenceTable(a, items, el) {
  if (!items.length) return empty("No evidence yet.");
  const locked = LOCKS_EVIDENCE.test(a.test_status);
  return table("Evidence", ["Name", "Kind", "Status", "Size", "Added", ""], items.map((e) => [
    e.kind === "link" && /^https?:\/\//i.test(e.url || "") ? h("a", { href: e.url, target: "_blank", rel: "noopener noreferrer" }, e.name) : e.name,
    label(e.kind),
    [badge(label(e.status), tone(e.status)), e.reason ? h("span", { class: "sub block" }, e.reason) : null],
    bytes(e.size ?? e.declared_size),
    `${when(e.created_at)} by ${e.created_by}`,
    h("div", { class: "row-tools" },
      e.kind === "document" && e.status === "verified" ? h("button", { type: "button", onclick: () => fetchFile(e, el) }, "Download") : null,
      can("edit_data") ? h("button", { type: "button", class: "danger", disabled: locked, title: locked ? "Evidence cannot be deleted while a test result stands" : null, onclick: () => removeEvidence(a, e, el) }, "Delete") : null),
  ]), "evidence-table");
}

async function fetchFile(e, el) {
  try {
    const file = await download(`/evidence/${enc(e.id)}/download`, e.name);
    notice(`Downloaded ${file.name}.`);
  } catch (err) {
    append(el, problemBox(err));
  }
}

const problemBox = (err) => {
  const slot = h("div", { class: "slot" });
  showProblem(slot, err);
  return slot;
};

async function removeEvidence(a, e, el) {
  if (!(await confirm("Delete evidence", `Delete ${e.name}?`, "Delete"))) return;
  try {
    await del(`/evidence/${enc(e.id)}`);
    notice(`${e.name} deleted.`);
    loadEvidence(a, el);
  } catch (err) {
    append(el, problemBox(err));
  }
}

function addEvidence(a, el) {
  const file = field("File", h("input", { type: "file", name: "file", required: true }),
    "Documents, spreadsheets, images, archives; checked on arrival (type, size, checksum).");
  const bar = h("progress", { max: 1, value: 0, hidden: true, "aria-label": "Upload progress" });
  const status = h("p", { class: "sub", "aria-live": "polite" });
  const slot = h("div", { class: "slot" });
  const docForm = h("form", {
    class: "inline-form", id: "upload-form",
    onsubmit: async (ev) => {
      ev.preventDefault();
      const f = file.control.files[0];
      if (!f) return;
      const btn = docForm.querySelector("button");
      btn.disabled = true;
      showProblem(slot, null);
      try {
        const declared = await post(`/actions/${enc(a.id)}/evidence`, { kind: "document", file_name: f.name, content_type: f.type || "application/octet-stream", size: f.size });
        bar.hidden = false;
        status.textContent = `Uploading ${f.name}…`;
        await upload(declared.upload_url, declared.upload_headers, f, (p) => { bar.value = p; });
        status.textContent = `${f.name} uploaded; checking it…`;
        await settle(a, el, declared.evidence_id);
        notice(`${f.name} uploaded.`);
      } catch (err) {
        btn.disabled = false;
        bar.hidden = true;
        status.textContent = "";
        showProblem(slot, err);
      }
    },
  }, file.el, h("button", { type: "submit", class: "primary" }, "Upload"), bar, status);
  const nameF = field("Link name", h("input", { name: "name", required: true }));
  const url = field("URL", h("input", { name: "url", type: "url", required: true, placeholder: "https://" }));
  const linkSlot = h("div", { class: "slot" });
  const linkForm = h("form", {
    class: "inline-form",
    onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        await post(`/actions/${enc(a.id)}/evidence`, { kind: "link", name: nameF.control.value.trim(), url: url.control.value.trim() });
        notice("Link added.");
        loadEvidence(a, el);
      } catch (err) {
        showProblem(linkSlot, err);
      }
    },
  }, nameF.el, url.el, h("button", { type: "submit" }, "Add link"), linkSlot);
  return h("div", { class: "add-evidence" },
    h("h3", {}, "Add a document"), docForm, slot,
    h("h3", {}, "Add a link"), linkForm);
}

// Waits (up to a minute) for an uploaded file to be checked, redrawing the list meanwhile.
async function settle(a, el, id) {
  for (let i = 0; i < 60; i++) {
    const items = await loadEvidence(a, el);
    const e = items.find((x) => x.id === id);
    if (!e || e.status !== "pending") return;
    await new Promise((r) => setTimeout(r, 1000));
  }
}
