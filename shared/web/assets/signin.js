// The sign-in page: Cognito's hosted UI in AWS; a sign-in link (or a pasted token) locally.

import { accept, startCognito } from "./auth.js";
import { h, field } from "./ui.js";

export function signInPage(config, message, onSignedIn) {
  const note = message ? h("p", { class: "notice", role: "status" }, message) : null;
  if (config.sign_in === "cognito") {
    return h(
      "div",
      { class: "signin card" },
      h("h1", { tabindex: "-1" }, "Sign in to Attest"),
      note,
      h("p", {}, "You sign in with your organisation's Attest account."),
      h("button", { type: "button", class: "primary", onclick: () => startCognito(config.cognito) }, "Sign in"),
    );
  }
  const input = h("input", { type: "password", name: "token", autocomplete: "off", spellcheck: "false", required: true });
  const f = field("Bearer token", input, "A token from attest token on the server's machine.");
  const form = h(
    "form",
    {
      onsubmit: (e) => {
        e.preventDefault();
        if (accept(input.value.trim())) onSignedIn();
        else f.error("This is not a token, or it has expired.");
      },
    },
    f.el,
    h("button", { type: "submit", class: "primary" }, "Sign in"),
  );
  return h(
    "div",
    { class: "signin card" },
    h("h1", { tabindex: "-1" }, "Sign in to Attest"),
    note,
    h("p", {}, "Open the sign-in link that ", h("code", {}, "attest serve"), " prints when it starts (",
      h("code", {}, "http://127.0.0.1:8080/#token=…"), "), or make one for any user on the server's machine:"),
    h("pre", {}, "attest token --tenant acme --user rob --role reader --link"),
    h("p", {}, "Or paste a token:"),
    form,
  );
}
