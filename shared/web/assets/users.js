// Users and roles (global administrators): the roles assigned in the app, which add to those
// the sign-in token carries. A user is listed once they have changed something.

import { get, put, enc } from "./api.js";
import { h, notice, pageHead, empty, table, showProblem } from "./ui.js";
import { when, ROLES } from "./labels.js";

export const name = () => "users";

export async function render() {
  const users = await get("/users");
  const slot = h("div", { class: "slot" });
  const rows = users.items.map((u) => row(u, slot));
  return [
    pageHead("Users and roles", "Roles given here add to the roles of a user's sign-in. Users appear once they have changed something."),
    slot,
    rows.length ? table("Users and their roles", ["User", "First seen", "Roles", ""], rows, "users") : empty("No users recorded yet."),
  ];
}

function row(u, slot) {
  const boxes = ROLES.map(([r, l]) => h("label", { class: "inline" }, h("input", { type: "checkbox", name: r, checked: u.roles.includes(r) }), ` ${l}`));
  const fieldset = h("fieldset", { class: "roles" }, h("legend", { class: "sr-only" }, `Roles of ${u.name || u.id}`), boxes);
  const save = async () => {
    const roles = ROLES.map(([r]) => r).filter((r) => fieldset.querySelector(`input[name="${r}"]`).checked);
    try {
      await put(`/users/${enc(u.id)}/roles`, { roles }, u.version);
      notice(`Roles of ${u.name || u.id} saved.`);
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    } catch (err) {
      showProblem(slot, err);
    }
  };
  return h("tr", { "data-user": u.id },
    h("th", { scope: "row" }, u.name || u.id, u.email ? h("span", { class: "sub block" }, u.email) : null,
      u.name && u.name !== u.id ? h("span", { class: "sub block" }, u.id) : null),
    h("td", {}, when(u.first_seen)),
    h("td", {}, fieldset),
    h("td", {}, h("button", { type: "button", onclick: save }, "Save roles")));
}
