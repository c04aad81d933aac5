// Attest in the browser: signs in, lays out the navigation and routes on the address's
// fragment (`#/assessments/{id}?control=AC-2`). Every page is drawn from the JSON API.

import { get, whenUnauthorized } from "./api.js";
import * as auth from "./auth.js";
import { h, replace, problem } from "./ui.js";
import { signInPage } from "./signin.js";
import * as dashboard from "./dashboard.js";
import * as assessment from "./assessment.js";
import * as actions from "./actions.js";
import * as action from "./action.js";
import * as groups from "./groups.js";
import * as connectors from "./connectors.js";
import * as alerts from "./alerts.js";
import * as people from "./people.js";
import * as users from "./users.js";

// CSP violations, if any ever happen, are counted here (the browser tests read it).
const violations = [];
document.addEventListener("securitypolicyviolation", (e) => violations.push(`${e.violatedDirective} ${e.blockedURI}`));
globalThis.attestDiagnostics = { violations };

// [pattern, page module, permission needed, nav label]
const ROUTES = [
  [/^\/?$/, dashboard, "read", "Dashboard"],
  [/^\/assessments\/([^/]+)$/, assessment, "read"],
  [/^\/actions$/, actions, "read", "Improvement actions"],
  [/^\/actions\/([^/]+)$/, action, "read"],
  [/^\/groups$/, groups, "read", "Groups"],
  [/^\/connectors$/, connectors, "read", "Connectors"],
  [/^\/connectors\/activate\/([^/]+)$/, connectors, "manage_connectors"],
  [/^\/connectors\/([^/]+)$/, connectors, "read"],
  [/^\/alerts$/, alerts, "read", "Alerts"],
  [/^\/departing$/, people, "read", "Departing employees"],
  [/^\/users$/, users, "manage_users", "Users and roles"],
];
const NAV_PATHS = { Dashboard: "/", "Improvement actions": "/actions", Groups: "/groups", Connectors: "/connectors", Alerts: "/alerts", "Departing employees": "/departing", "Users and roles": "/users" };

let config = { sign_in: "local" };
let current = 0;
let firstRender = true;

const main = () => document.getElementById("main");

function parseHash() {
  const raw = location.hash.replace(/^#/, "");
  const [path, q = ""] = raw.split("?");
  return { path: path || "/", query: new URLSearchParams(q) };
}

function drawNav() {
  const nav = document.getElementById("nav");
  const { path } = parseHash();
  const items = ROUTES.filter((r) => r[3] && auth.can(r[2])).map((r) => {
    const to = NAV_PATHS[r[3]];
    const here = to === "/" ? path === "/" || path.startsWith("/assessments/") : path === to || path.startsWith(`${to}/`);
    return h("li", {}, h("a", { href: `#${to}`, "aria-current": here ? "page" : null }, r[3]));
  });
  replace(nav, h("ul", {}, items));
  nav.hidden = false;
}

function drawWho() {
  const u = auth.user();
  const who = document.getElementById("who");
  if (!u) return replace(who);
  replace(
    who,
    h("span", { class: "who-name" }, u.name),
    h("span", { class: "who-tenant" }, `Tenant ${u.tenant}`),
    h("button", { type: "button", class: "quiet", onclick: signOut }, "Sign out"),
  );
}

function signOut() {
  if (!auth.signOut(config)) showSignIn("You are signed out.");
}

function showSignIn(message) {
  for (const d of document.querySelectorAll("dialog")) d.close();
  document.getElementById("nav").hidden = true;
  replace(document.getElementById("who"));
  const m = main();
  m.dataset.page = "signin";
  replace(m, signInPage(config, message, () => start()));
  m.setAttribute("aria-busy", "false");
}

// Draws the page the fragment names. A later navigation wins over a slower earlier one.
async function route() {
  if (!auth.token()) return showSignIn();
  const { path, query } = parseHash();
  const m = main();
  const found = ROUTES.map((r) => [r, r[0].exec(path)]).find(([, match]) => match);
  const mine = ++current;
  performance.mark("attest:route");
  m.setAttribute("aria-busy", "true");
  drawNav();
  let content;
  let page = "notfound";
  if (!found) {
    content = [h("h1", { tabindex: "-1" }, "Page not found"), h("p", {}, h("a", { href: "#/" }, "Go to the dashboard"))];
  } else if (!auth.can(found[0][2])) {
    content = [h("h1", { tabindex: "-1" }, "Not available"), h("p", {}, "Your role does not include this page.")];
  } else {
    const [[, module], match] = found;
    page = module.name(path);
    try {
      content = await module.render(match.slice(1).map(decodeURIComponent), query, path);
    } catch (err) {
      if (err instanceof URIError) Object.assign(err, { status: 404, title: "Not found", detail: "This address names nothing the app knows." });
      if (err.status === 401) return;
      content = [h("h1", { tabindex: "-1" }, err.status === 404 ? "Not found" : "Something went wrong"), problem(err)];
    }
  }
  if (mine !== current) return;
  m.dataset.page = page;
  replace(m, content);
  m.setAttribute("aria-busy", "false");
  performance.mark("attest:shown", { detail: page });
  performance.measure(`attest:${page}`, "attest:route", "attest:shown");
  if (!firstRender) {
    const heading = m.querySelector("h1");
    (heading || m).focus({ preventScroll: false });
  }
  firstRender = false;
}

async function loadRoles() {
  const u = auth.user();
  let list = u.roles;
  try {
    const all = await get("/users");
    const me = all.items.find((x) => x.id === u.id);
    if (me) list = [...list, ...me.roles];
  } catch {
    // Roles assigned in the app add to the token's; without the list the token's are shown.
  }
  auth.setRoles(list);
}

async function start() {
  if (!auth.token()) return showSignIn();
  drawWho();
  await loadRoles();
  await route();
}

const LINK_REFUSED = "Sign-in links work only on a local server: sign in here instead.";
const LINK_EXPIRED = "This sign-in link has expired or is not valid: make a new one with attest token --link.";

async function boot() {
  document.querySelector(".skip-link").addEventListener("click", (e) => {
    e.preventDefault();
    main().focus();
  });
  whenUnauthorized((detail) => showSignIn(`Your session has ended: ${detail || "sign in again"}.`));
  window.addEventListener("hashchange", () => {
    const link = auth.takeTokenFromFragment(config.sign_in);
    if (link === "taken") return start();
    if (link === "expired") return showSignIn(LINK_EXPIRED);
    if (link === "refused") return showSignIn(LINK_REFUSED);
    if (location.hash.startsWith("#/") || location.hash === "") route();
  });
  try {
    config = await (await fetch("/config.json")).json();
  } catch {
    // The shell without its config still signs in locally.
  }
  const link = auth.takeTokenFromFragment(config.sign_in);
  if (link === "expired") return showSignIn(LINK_EXPIRED);
  if (link === "refused") return showSignIn(LINK_REFUSED);
  if (config.sign_in === "cognito") {
    const failed = await auth.finishCognito(config.cognito);
    if (failed) return showSignIn(failed);
  }
  await start();
}

boot();
