// Connectors: the kinds to activate, the status table of activated ones (state, last
// import, items imported, errors), one connector's runs and checks, and the activation
// wizard (name, credentials, validate, finish).

import { get, post, put, del, api, enc } from "./api.js";
import { can } from "./auth.js";
import { h, field, confirm, notice, pageHead, section, badge, empty, table, showProblem, replace, append, link } from "./ui.js";
import { label, tone, when, ago } from "./labels.js";

export function name(path) {
  if (path.startsWith("/connectors/activate/")) return "connector-wizard";
  return path === "/connectors" ? "connectors" : "connector";
}

export function render(params, q, path) {
  if (path === "/connectors") return list();
  if (path.startsWith("/connectors/activate/")) return wizard(params[0]);
  return detail(params[0]);
}

// Kinds whose runs read a service (uploads feed the others).
const runnable = (kind) => kind.category === "compliance" || kind.category === "communication";
const refresh = () => window.dispatchEvent(new HashChangeEvent("hashchange"));

async function list() {
  const [kinds, connectors] = await Promise.all([get("/connector-kinds"), get("/connectors")]);
  const statuses = await Promise.all(connectors.items.map((c) => get(`/connectors/${enc(c.id)}/status`).catch(() => null)));
  const kindName = new Map(kinds.items.map((k) => [k.kind, k.name]));
  const rows = connectors.items.map((c, i) => statusRow(c, statuses[i], kindName));
  return [
    pageHead("Connectors", "Link outside services: compliance connectors test improvement actions every 24 hours; data connectors import records."),
    section("My activated connectors",
      rows.length
        ? table("Activated connectors and their status", ["Connector", "Kind", "State", "Last import", "Items imported", "Errors", "Next run"], rows, "status-table")
        : empty("No connector is activated yet.")),
    section("Available connectors", h("div", { class: "tiles kinds" }, kinds.items.map(kindCard))),
  ];
}

function statusRow(c, s, kindName) {
  const run = s && s.last_run;
  const errors = s ? [String(s.errors_last_run), s.error ? h("span", { class: "sub block" }, `${label(s.error.category)}: ${s.error.message}`) : null] : "—";
  return h("tr", { "data-connector": c.id },
    h("th", { scope: "row" }, h("a", { href: `#/connectors/${enc(c.id)}` }, c.name)),
    h("td", {}, kindName.get(c.kind) || c.kind),
    h("td", {}, s ? badge(label(s.state), tone(s.state)) : badge(label(c.state))),
    h("td", {}, run ? [ago(run.finished_at || run.started_at), " ", badge(label(run.outcome), tone(run.outcome))] : "Never"),
    h("td", { class: "num" }, s ? s.items_imported_total.toLocaleString("en-US") : "—"),
    h("td", {}, errors),
    h("td", {}, s && s.next_run_at ? when(s.next_run_at) : "—"));
}

function kindCard(k) {
  return h("article", { class: "card tile", "data-kind": k.kind },
    h("h3", {}, k.name),
    h("p", { class: "sub" }, `${label(k.category)} · service ${k.service}`),
    h("p", {}, k.checks.length ? `${k.checks.length} checks test improvement actions.` : runnable(k) ? "Imports records every 24 hours." : "Records are uploaded to it."),
    can("manage_connectors") ? h("a", { class: "button primary", href: `#/connectors/activate/${enc(k.kind)}`, "aria-label": `Activate ${k.name}` }, "Activate") : null);
}

// --- One connector ---

async function detail(id) {
  const path = `/connectors/${enc(id)}`;
  const [c, s, history, kinds] = await Promise.all([get(path), get(`${path}/status`), get(`${path}/history?limit=25`), get("/connector-kinds")]);
  const kind = kinds.items.find((k) => k.kind === c.kind) || { checks: [], category: "" };
  const slot = h("div", { class: "slot" });
  const manage = can("manage_connectors");
  const tools = manage
    ? [
      runnable(kind) ? h("button", { type: "button", class: "primary", onclick: () => runNow(c, slot) }, "Run now") : null,
      h("button", { type: "button", onclick: () => validate(c, slot) }, "Validate connection"),
      h("button", { type: "button", onclick: () => setState(c, c.state === "active" ? "paused" : "active", slot) }, c.state === "active" ? "Pause" : "Resume"),
      h("button", { type: "button", class: "danger", onclick: () => remove(c, slot) }, "Delete"),
    ]
    : [];
  const run = s.last_run;
  const item = (k, v) => h("div", {}, h("dt", {}, k), h("dd", {}, v));
  return [
    pageHead(c.name, `${kind.name || c.kind} · activated ${when(c.created_at)} by ${c.created_by}`, ...tools),
    slot,
    h("dl", { class: "infobar card", id: "connector-status" },
      item("State", badge(label(s.state), tone(s.state))),
      item("Last import", run ? `${when(run.finished_at || run.started_at)} (${label(run.outcome)})` : "Never"),
      item("Last success", when(s.last_success_at)),
      item("Items imported", s.items_imported_total.toLocaleString("en-US")),
      item("Errors in the last run", String(s.errors_last_run)),
      item("Next run", when(s.next_run_at)),
      item("Credentials", Object.keys(c.credentials).length ? Object.keys(c.credentials).map((k) => `${k}: set`).join(", ") : "None")),
    s.error ? h("p", { class: "problem", role: "alert" }, `${label(s.error.category)}: ${s.error.message}`) : null,
    manage && !runnable(kind) ? uploadForm(c, kind) : null,
    section("Run history", runTable(history.items)),
    kind.checks.length ? section("Checks", checkTable(kind.checks)) : null,
  ];
}

function runTable(runs) {
  if (!runs.length) return empty("No runs yet.");
  return table("Runs, newest first", ["Started", "Finished", "Trigger", "Outcome", "Fetched", "Imported", "Duplicates skipped", "Checks passed / failed / undetected", "Errors"],
    runs.map((r) => [when(r.started_at), when(r.finished_at), label(r.trigger), badge(label(r.outcome), tone(r.outcome)),
      String(r.items_fetched), String(r.items_imported), String(r.duplicates_skipped),
      r.checks ? `${r.checks.passed} / ${r.checks.failed} / ${r.checks.undetected}` : "—",
      r.errors.length ? h("ul", { class: "plain" }, r.errors.map((e) => h("li", {}, `${label(e.category)} (${e.count}): ${e.message}`))) : "None"]), "runs");
}

function checkTable(checks) {
  return table("What each check reads", ["Check", "Improvement action", "Reads", "Passes when"],
    checks.map((c) => [
      [h("strong", {}, c.title), h("span", { class: "sub block" }, c.explain)],
      h("a", { href: `#/actions/${enc(c.action_id)}` }, c.action_id),
      [h("code", {}, c.source.request), h("span", { class: "sub block" }, c.source.pointer)],
      h("code", {}, JSON.stringify(c.expected)),
    ]));
}

async function runNow(c, slot) {
  try {
    await post(`/connectors/${enc(c.id)}/run`);
    notice(`${c.name}: run queued.`);
    setTimeout(refresh, 1500);
  } catch (err) {
    showProblem(slot, err);
  }
}

async function validate(c, slot) {
  try {
    const v = await post(`/connectors/${enc(c.id)}/validate`);
    replace(slot, h("p", { class: v.ok ? "notice" : "problem", role: "status" }, v.ok ? `Validation succeeded. ${v.detail || ""}` : `Validation failed: ${v.detail}`));
  } catch (err) {
    showProblem(slot, err);
  }
}

async function setState(c, state, slot) {
  try {
    await put(`/connectors/${enc(c.id)}`, { state }, c.version);
    notice(`${c.name} ${state === "paused" ? "paused" : "resumed"}.`);
    refresh();
  } catch (err) {
    showProblem(slot, err);
  }
}

async function remove(c, slot) {
  if (!(await confirm("Delete connector", `Delete ${c.name} and its stored credentials? Imported records follow its retention setting.`, "Delete"))) return;
  try {
    await del(`/connectors/${enc(c.id)}`);
    notice(`${c.name} deleted.`);
    location.hash = "#/connectors";
  } catch (err) {
    showProblem(slot, err);
  }
}

// HR records (CSV) and badge events (JSON) are pushed to their connector.
function uploadForm(c, kind) {
  const type = kind.kind === "badge" ? "application/json" : "text/csv";
  const file = field(kind.kind === "badge" ? "Badge events (JSON)" : "HR records (CSV)", h("input", { type: "file", accept: kind.kind === "badge" ? ".json,application/json" : ".csv,text/csv", required: true }));
  const slot = h("div", { class: "slot" });
  const form = h("form", {
    class: "card inline-form",
    onsubmit: async (e) => {
      e.preventDefault();
      try {
        const out = await api(`/connectors/${enc(c.id)}/upload`, { method: "POST", body: file.control.files[0], headers: { "Content-Type": type } });
        const errs = out.run.errors;
        replace(slot, h("p", { class: "notice", role: "status" }, `${out.run.items_imported} records imported, ${out.signals_recorded} signals recorded.`,
          errs.length ? h("ul", {}, errs.map((x) => h("li", {}, x.message))) : null));
      } catch (err) {
        showProblem(slot, err);
      }
    },
  }, h("h2", {}, "Upload records"), file.el, h("button", { type: "submit", class: "primary" }, "Upload"), slot);
  return form;
}

// --- Activation wizard: name, credentials, validate, review and finish ---

const STEPS = ["Connector name", "Credentials", "Validate", "Review and finish"];

// A setting typed as text: numbers, true/false and JSON objects are sent as such.
function settingValue(text) {
  if (/^(-?\d+(\.\d+)?|true|false|\{[\s\S]*\}|\[[\s\S]*\])$/.test(text)) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

async function wizard(kindId) {
  const kinds = await get("/connector-kinds");
  const kind = kinds.items.find((k) => k.kind === kindId);
  if (!kind) return [h("h1", { tabindex: "-1" }, "Unknown connector"), h("p", {}, link("#/connectors", "Back to connectors"))];
  const state = { step: 0, connector: null };
  const steps = h("ol", { class: "steps" });
  const body = h("div", { class: "wizard-body" });
  const nameF = field("Name", h("input", { name: "name", required: true, maxlength: 120, placeholder: `${kind.name} Prod` }),
    "A unique name that says which account this is, e.g. Prod or Test. One connector per account of the service.");
  const creds = kind.credential_fields.map((f) => field(f.name, h("input", { name: `cred:${f.name}`, type: f.secret ? "password" : "text", required: f.required, autocomplete: "off", spellcheck: "false" }), f.description));
  const settings = kind.settings_fields.map((f) => field(`${f.name}${f.required ? "" : " (optional)"}`, h("input", { name: `set:${f.name}`, required: f.required, spellcheck: "false" }), f.description));
  const slot = h("div", { class: "slot" });

  const request = () => ({
    kind: kind.kind,
    name: nameF.control.value.trim(),
    credentials: Object.fromEntries(kind.credential_fields.map((f, i) => [f.name, creds[i].control.value.trim()]).filter(([, v]) => v)),
    settings: Object.fromEntries(kind.settings_fields.map((f, i) => [f.name, settings[i].control.value.trim()]).filter(([, v]) => v).map(([k, v]) => [k, settingValue(v)])),
  });

  const go = (n) => {
    state.step = n;
    draw();
  };
  const nav = (...buttons) => h("div", { class: "buttons" }, buttons);
  const back = (n) => h("button", { type: "button", onclick: () => go(n) }, "Back");
  const cancel = h("button", { type: "button", class: "quiet", onclick: () => leave() }, "Cancel");
  const form = (content, onNext, nextLabel = "Next") =>
    h("form", { onsubmit: (e) => { e.preventDefault(); onNext(); } }, content, slot, nav(state.step > 0 && !state.connector ? back(state.step - 1) : null, h("button", { type: "submit", class: "primary" }, nextLabel), cancel));

  async function leave() {
    if (state.connector && (await confirm("Cancel activation", `${state.connector.name} was created when its credentials were validated. Delete it?`, "Delete it"))) {
      await del(`/connectors/${enc(state.connector.id)}`).catch(() => {});
    }
    location.hash = "#/connectors";
  }

  async function validateAndCreate(btn) {
    btn.disabled = true;
    replace(slot, h("p", { class: "sub", role: "status" }, "Validating the connection with the service…"));
    try {
      state.connector = await post("/connectors", request());
      go(3);
    } catch (err) {
      btn.disabled = false;
      showProblem(slot, err);
      if (err.status === 409) append(slot, h("p", {}, h("button", { type: "button", onclick: () => go(0) }, "Choose another name")));
    }
  }

  async function finish(run) {
    if (run) {
      try {
        await post(`/connectors/${enc(state.connector.id)}/run`);
      } catch (err) {
        return showProblem(slot, err);
      }
    }
    notice(`${state.connector.name} is active.`);
    location.hash = `#/connectors/${enc(state.connector.id)}`;
  }

  function draw() {
    replace(steps, STEPS.map((s, i) => h("li", { "aria-current": i === state.step ? "step" : null, class: i < state.step ? "done" : "" }, s)));
    showProblem(slot, null);
    let content;
    if (state.step === 0) {
      content = form([h("h2", {}, STEPS[0]), nameF.el], () => go(1));
    } else if (state.step === 1) {
      content = form([h("h2", {}, STEPS[1]),
        creds.length ? h("fieldset", {}, h("legend", {}, `${kind.name} credentials`), creds.map((f) => f.el)) : h("p", {}, "This connector needs no credentials."),
        settings.length ? h("fieldset", {}, h("legend", {}, "Settings"), settings.map((f) => f.el)) : null], () => go(2));
    } else if (state.step === 2) {
      const btn = h("button", { type: "button", class: "primary", onclick: () => validateAndCreate(btn) }, "Validate connection");
      content = h("div", {}, h("h2", {}, STEPS[2]),
        h("p", {}, `Attest signs in to ${kind.service} with these credentials and reads what its checks need. The connector is created only if the service accepts them; nothing is kept otherwise.`),
        slot, nav(back(1), btn, cancel));
    } else {
      const c = state.connector;
      const runBox = h("input", { type: "checkbox", id: "run-first", checked: runnable(kind) });
      const item = (k, v) => h("div", {}, h("dt", {}, k), h("dd", {}, v));
      content = form([h("h2", {}, STEPS[3]),
        h("p", { class: "notice", role: "status", id: "validation-ok" }, "Validation succeeded: the service accepted the credentials."),
        h("dl", { class: "props" }, item("Name", c.name), item("Kind", kind.name), item("Service", c.service),
          item("Credentials", Object.keys(c.credentials).map((k) => `${k}: set`).join(", ") || "None"),
          item("Settings", Object.keys(c.settings || {}).length ? JSON.stringify(c.settings) : "Defaults"),
          item("Checks", kind.checks.length ? `${kind.checks.length} checks test improvement actions every 24 hours` : "None")),
        runnable(kind) ? h("label", { class: "inline" }, runBox, " Run the first import now") : null], () => finish(runBox.checked), "Finish");
    }
    replace(body, content);
    const first = body.querySelector("input, button.primary");
    if (first) first.focus();
  }
  draw();
  return [pageHead(`Activate ${kind.name}`, `${label(kind.category)} connector · service ${kind.service}`), h("nav", { "aria-label": "Steps" }, steps), h("div", { class: "card" }, body)];
}
