// Building blocks: elements from data (text is always text, never markup), form fields with
// labels and error slots, problem boxes, dialogs, notices, tables, meters.

let uid = 0;
const nextId = (prefix = "f") => `${prefix}${++uid}`;

// h("a", {href: "#/", class: "x", onclick: f}, "text", child, [more]) — children first, then
// attributes and properties (so a select's value finds its options).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  append(el, children);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "value") setValue(el, v);
    else if (typeof v === "boolean" && k in el) el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  return el;
}

// A value that a form's reset returns to: the default of inputs and text areas, the option
// marked selected in a select.
function setValue(el, v) {
  if (el.tagName === "SELECT") {
    for (const o of el.options) if (o.value === String(v)) o.setAttribute("selected", "");
    el.value = v;
  } else if (el.tagName === "TEXTAREA") el.defaultValue = v;
  else el.setAttribute("value", v);
}

// Appends nodes, text, and (nested) arrays of them; null, undefined and false are skipped.
export function append(el, ...children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, ...c);
    else el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

const SVG = "http://www.w3.org/2000/svg";
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  append(el, children);
  return el;
}

// A labelled control with an error slot: { el, control, error(message) }.
export function field(label, control, hint) {
  const id = control.id || (control.id = nextId());
  const err = h("p", { class: "field-error", id: `${id}-error`, hidden: true });
  const hintEl = hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null;
  control.setAttribute("aria-describedby", [hintEl && hintEl.id, err.id].filter(Boolean).join(" "));
  const el = h("div", { class: "field" }, h("label", { for: id }, label), control, hintEl, err);
  return {
    el,
    control,
    error(message) {
      err.hidden = !message;
      err.textContent = message || "";
      if (message) control.setAttribute("aria-invalid", "true");
      else control.removeAttribute("aria-invalid");
    },
  };
}

// <select> of [value, label] pairs; `any` adds a first empty choice with that label.
export function select(name, options, value, any) {
  const opts = options.map(([v, l]) => h("option", { value: v }, l));
  if (any !== undefined) opts.unshift(h("option", { value: "" }, any));
  return h("select", { name, value: value ?? "" }, opts);
}

export function button(label, onclick, cls = "") {
  return h("button", { type: "button", class: cls, onclick }, label);
}

export function link(href, ...text) {
  return h("a", { href }, ...text);
}

// The problem the API answered, as an alert: title, detail and per-field messages.
export function problem(err) {
  const errors = (err.errors || []).map((e) => h("li", {}, h("code", {}, e.field), ": ", e.message));
  return h(
    "div",
    { class: "problem", role: "alert" },
    h("strong", {}, err.status ? `${err.title} (${err.status})` : err.title || "Error"),
    err.detail ? h("p", {}, err.detail) : null,
    errors.length ? h("ul", {}, errors) : null,
  );
}

// Shows `err` in a slot element (empty: clears it).
export function showProblem(slot, err) {
  replace(slot, err ? problem(err) : null);
  if (err) slot.scrollIntoView({ block: "nearest" });
}

// A short message in the status region, read out by screen readers.
let noticeTimer;
export function notice(message) {
  const el = document.getElementById("status");
  el.textContent = message;
  el.classList.add("shown");
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => el.classList.remove("shown"), 4000);
}

// A modal dialog: `body` (nodes), `actions` [{label, cls, value}]; resolves with the chosen
// value (the cancel button and Esc give null). `onSubmit(value)` may return false (or throw)
// to keep it open, e.g. after showing a refusal inside it.
export function modal(title, body, actions, onSubmit) {
  return new Promise((resolve) => {
    const id = nextId("dlg");
    const form = h("form", { method: "dialog" });
    const slot = h("div", { class: "slot" });
    const dlg = h(
      "dialog",
      { "aria-labelledby": id, class: "modal" },
      h("h2", { id }, title),
      form,
    );
    append(form, body, slot, h("div", { class: "buttons" },
      actions.map((a) => h("button", { value: a.value ?? "", class: a.cls || "", type: a.value ? "submit" : "button", onclick: a.value ? null : () => dlg.close("") }, a.label))));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const value = e.submitter ? e.submitter.value : "";
      if (onSubmit) {
        try {
          if ((await onSubmit(value, slot)) === false) return;
        } catch (err) {
          showProblem(slot, err);
          return;
        }
      }
      dlg.close(value);
    });
    dlg.addEventListener("close", () => {
      dlg.remove();
      resolve(dlg.returnValue || null);
    });
    document.body.append(dlg);
    dlg.showModal();
  });
}

export async function confirm(title, text, label, cls = "danger") {
  const r = await modal(title, [h("p", {}, text)], [{ label: "Cancel" }, { label, value: "yes", cls }]);
  return r === "yes";
}

// A table: columns [{label, cls}], rows of cells (nodes or text); `caption` names it.
export function table(caption, columns, rows, cls = "") {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: cls },
      h("caption", { class: caption.visible ? "" : "sr-only" }, caption.text || caption),
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.cls || "" }, c.label ?? c)))),
      h("tbody", {}, rows.map((r) => (r instanceof Node ? r : h("tr", {}, r.map((cell) => h("td", {}, cell)))))),
    ),
  );
}

export function empty(text) {
  return h("p", { class: "empty" }, text);
}

export function badge(text, kind = "") {
  return h("span", { class: `badge ${kind}` }, text);
}

// A score as a meter (0-100) with its numbers beside it.
export function scoreMeter(score, label) {
  return h(
    "div",
    { class: "score-line" },
    h("meter", { min: 0, max: 100, low: 40, high: 75, optimum: 100, value: score.percent, "aria-label": label }),
    h("span", { class: "num" }, `${pct(score.percent)}`),
  );
}

export function pct(p) {
  return `${Number(p).toLocaleString("en-US", { maximumFractionDigits: 2 })}%`;
}

export function points(score) {
  return `${score.achieved.toLocaleString("en-US")} / ${score.possible.toLocaleString("en-US")} points`;
}

export function progress(p) {
  return h(
    "div",
    { class: "progress-line" },
    h("progress", { max: Math.max(p.controls_total, 1), value: p.controls_assessed, "aria-label": "Controls assessed" }),
    h("span", {}, `${p.controls_assessed} of ${p.controls_total} controls assessed`),
  );
}

// Page heading (focusable, so navigation can move focus to it) and its toolbar.
export function pageHead(title, sub, ...tools) {
  return h(
    "div",
    { class: "page-head" },
    h("div", {}, h("h1", { tabindex: "-1" }, title), sub ? h("p", { class: "sub" }, sub) : null),
    tools.length ? h("div", { class: "tools" }, tools) : null,
  );
}

export function section(title, ...children) {
  const id = nextId("s");
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), children);
}
