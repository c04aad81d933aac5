// Departing employees: people with a resignation or termination whose last working date is
// within 90 days or past, with their insider-risk signals (HR records, badge and sign-in
// activity after leaving).

import { get } from "./api.js";
import { h, pageHead, empty, table, badge } from "./ui.js";
import { label, day, when } from "./labels.js";

export const name = () => "departing";

export async function render() {
  const departing = await get("/insider-risk/departing");
  const rows = departing.items.map((p) => {
    const after = p.signals.filter((s) => s.kind === "departing_user_activity").length;
    return [
      h("strong", {}, p.person),
      day(p.last_working_date),
      label(p.kind),
      after ? badge(`${after} after leaving`, "bad") : "None",
      p.signals.length
        ? h("details", {}, h("summary", {}, `${p.signals.length} signal${p.signals.length === 1 ? "" : "s"}`),
          h("ul", { class: "plain" }, p.signals.map((s) => h("li", {}, `${when(s.at)} · ${label(s.kind)}`, detailsOf(s)))))
        : "None",
    ];
  });
  return [
    pageHead("Departing employees", "From HR records uploaded to an HR connector; badge and sign-in events after the last working date are flagged."),
    rows.length ? table("Departing employees", ["Person", "Last working date", "Record", "Activity after leaving", "Signals"], rows, "departing") : empty("Nobody is leaving: no resignation or termination with a last working date within 90 days."),
  ];
}

function detailsOf(s) {
  const d = s.details || {};
  const parts = ["asset_name", "channel", "activity", "access_status"].filter((k) => d[k]).map((k) => `${label(k)}: ${d[k]}`);
  return parts.length ? h("span", { class: "sub" }, ` (${parts.join(", ")})`) : null;
}
