// Who is signed in. The bearer token lives in sessionStorage (this tab only, gone when it
// closes); signing out forgets it. Locally the token arrives in the address's fragment
// (`/#token=...`, printed by `attest serve` and `attest token --link`); in AWS it comes from
// Cognito's hosted UI through the authorization code flow with PKCE (S256).

const TOKEN = "attest.token";
const PKCE = "attest.pkce";

export function token() {
  const t = sessionStorage.getItem(TOKEN);
  if (t && isExpired(claimsOf(t))) {
    sessionStorage.removeItem(TOKEN);
    return null;
  }
  return t;
}

export function forget() {
  sessionStorage.removeItem(TOKEN);
}

function isExpired(claims) {
  return !claims || (typeof claims.exp === "number" && claims.exp * 1000 <= Date.now());
}

function base64url(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(n) {
  return base64url(crypto.getRandomValues(new Uint8Array(n)));
}

// The token's claims, for display only (the API verifies the token on every call).
function claimsOf(t) {
  try {
    const part = t.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = decodeURIComponent(
      Array.from(atob(part), (c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0")).join(""),
    );
    return JSON.parse(json);
  } catch {
    return null;
  }
}

// The signed-in user as the token describes them: id, tenant, name and roles.
export function user() {
  const t = token();
  const c = t && claimsOf(t);
  if (!c) return null;
  const roles = Array.isArray(c.roles) ? c.roles : Array.isArray(c["cognito:groups"]) ? c["cognito:groups"] : [];
  return {
    id: c.sub,
    tenant: c.tenant || c["custom:tenant"] || "",
    name: c.name || c.email || c.sub,
    email: c.email || null,
    roles,
  };
}

// `#token=...` from the address: kept, and removed from the address bar and history.
// "taken", "expired" (or not a token), or null when the address holds none.
// A sign-in link (#token=...) is taken only where links are how people sign in (`local`):
// elsewhere a link could sign a victim in as its maker, so it is dropped unused.
export function takeTokenFromFragment(signIn) {
  const m = /^#token=([A-Za-z0-9._-]+)/.exec(location.hash);
  if (!m) return null;
  history.replaceState(null, "", location.pathname + "#/");
  if (signIn !== "local") return "refused";
  if (isExpired(claimsOf(m[1]))) return "expired";
  sessionStorage.setItem(TOKEN, m[1]);
  return "taken";
}

export function accept(t) {
  if (isExpired(claimsOf(t))) return false;
  sessionStorage.setItem(TOKEN, t);
  return true;
}

function redirectUri(cognito) {
  return cognito.redirect_uri || location.origin + "/";
}

// Cognito: off to the hosted UI with a fresh verifier and state.
export async function startCognito(cognito) {
  const verifier = randomString(48);
  const state = randomString(24);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  sessionStorage.setItem(PKCE, JSON.stringify({ verifier, state }));
  const q = new URLSearchParams({
    response_type: "code",
    client_id: cognito.client_id,
    redirect_uri: redirectUri(cognito),
    scope: "openid email profile",
    state,
    code_challenge: base64url(new Uint8Array(digest)),
    code_challenge_method: "S256",
  });
  location.assign(`https://${cognito.domain}/oauth2/authorize?${q}`);
}

// Cognito sent the browser back with `?code=&state=` (or `?error=`): the code is exchanged
// for tokens at the token endpoint and the query removed from the address. Returns an error
// message, or null.
export async function finishCognito(cognito) {
  const q = new URLSearchParams(location.search);
  if (!q.has("code") && !q.has("error")) return null;
  history.replaceState(null, "", location.pathname + "#/");
  const saved = JSON.parse(sessionStorage.getItem(PKCE) || "null");
  sessionStorage.removeItem(PKCE);
  if (q.has("error")) return q.get("error_description") || q.get("error");
  if (!saved || saved.state !== q.get("state")) {
    return "The sign-in answer does not match the sign-in this tab started. Sign in again.";
  }
  let tokens;
  try {
    const res = await fetch(`https://${cognito.domain}/oauth2/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: cognito.client_id,
        code: q.get("code"),
        redirect_uri: redirectUri(cognito),
        code_verifier: saved.verifier,
      }),
    });
    if (!res.ok) return `Cognito refused the sign-in (${res.status}). Sign in again.`;
    tokens = await res.json();
  } catch {
    return "Cognito could not be reached to finish the sign-in. Sign in again.";
  }
  // The ID token carries the tenant (custom:tenant) and groups; the API's authorizer takes it.
  if (!tokens.id_token || !accept(tokens.id_token)) return "Cognito sent no usable token.";
  return null;
}

// Forgets the token; with Cognito also ends the hosted UI's session.
export function signOut(config) {
  forget();
  if (config.sign_in === "cognito") {
    const c = config.cognito;
    const q = new URLSearchParams({ client_id: c.client_id, logout_uri: redirectUri(c) });
    location.assign(`https://${c.domain}/logout?${q}`);
    return true;
  }
  return false;
}

// What each role may do (API.md's permission table), to offer only what the user may do. The
// API decides: this only hides what it would refuse.
const GRANTS = {
  reader: ["read"],
  contributor: ["read", "edit_data"],
  assessor: ["read", "edit_data", "edit_tests"],
  administrator: ["read", "edit_data", "edit_tests", "manage_assessments"],
  global_admin: ["read", "edit_data", "edit_tests", "manage_assessments", "manage_users", "manage_connectors"],
  connector_admin: ["read", "manage_connectors"],
};

let roles = new Set();

// The token's roles plus those assigned in the app (GET /users), as the API counts them.
export function setRoles(list) {
  roles = new Set(list);
}

export function can(permission) {
  for (const r of roles) if ((GRANTS[r] || []).includes(permission)) return true;
  return false;
}
