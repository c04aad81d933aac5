// The API's vocabulary (API.md, "Vocabulary") in words, and dates for people.

export const IMPLEMENTATION = [
  ["not_implemented", "Not implemented"],
  ["implemented", "Implemented"],
  ["alternative_implementation", "Alternative implementation"],
  ["planned", "Planned"],
  ["out_of_scope", "Out of scope"],
];

export const TEST = [
  ["none", "None"],
  ["not_assessed", "Not assessed"],
  ["passed", "Passed"],
  ["failed_low_risk", "Failed low risk"],
  ["failed_medium_risk", "Failed medium risk"],
  ["failed_high_risk", "Failed high risk"],
  ["out_of_scope", "Out of scope"],
  ["to_be_determined", "To be determined"],
  ["could_not_be_determined", "Could not be determined"],
  ["partially_tested", "Partially tested"],
  ["in_progress", "In progress"],
  ["to_be_detected", "To be detected"],
  ["could_not_be_detected", "Could not be detected"],
];

export const CATEGORY = [
  ["control_access", "Control access"],
  ["discover_and_respond", "Discover and respond"],
  ["govern_information", "Govern information"],
  ["infrastructure_cloud", "Infrastructure cloud"],
  ["manage_compliance", "Manage compliance"],
  ["manage_devices", "Manage devices"],
  ["manage_internal_risks", "Manage internal risks"],
  ["privacy_management", "Privacy management"],
  ["protect_against_threats", "Protect against threats"],
  ["protect_information", "Protect information"],
];

export const ROLES = [
  ["reader", "Reader"],
  ["contributor", "Contributor"],
  ["assessor", "Assessor"],
  ["administrator", "Administrator"],
  ["global_admin", "Global administrator"],
  ["connector_admin", "Connector administrator"],
];

export const ALERT_STATUS = [
  ["active", "Active"],
  ["investigating", "Investigating"],
  ["resolved", "Resolved"],
  ["dismissed", "Dismissed"],
];

export const SEVERITY = [
  ["high", "High"],
  ["medium", "Medium"],
  ["low", "Low"],
];

export const ALERT_EVENTS = [
  ["score_change", "Score change"],
  ["score_decrease", "Score decrease"],
  ["assignment_change", "Assignment change"],
  ["implementation_status_change", "Implementation status change"],
  ["test_status_change", "Test status change"],
  ["evidence_change", "Evidence change"],
  ["connector_run_failed", "Connector run failed"],
  ["departing_user_activity", "Departing user activity"],
];

const ALL = new Map([...IMPLEMENTATION, ...TEST, ...CATEGORY, ...ROLES, ...ALERT_STATUS, ...SEVERITY, ...ALERT_EVENTS,
  ["technical", "Technical"], ["documentation", "Documentation"], ["operational", "Operational"],
  ["preventive", "Preventive"], ["detective", "Detective"], ["corrective", "Corrective"],
  ["mandatory", "Mandatory"], ["discretionary", "Discretionary"],
  ["manual", "Manual"], ["automatic", "Automatic"], ["customer", "Customer"], ["provider", "Provider"],
  ["succeeded", "Succeeded"], ["partially_succeeded", "Partially succeeded"], ["failed", "Failed"],
  ["paused", "Paused"], ["error", "Error"], ["schedule", "Schedule"],
  ["compliance", "Compliance"], ["communication", "Communication"], ["hr", "HR"], ["physical", "Physical"],
  ["pending", "Pending"], ["verified", "Verified"], ["rejected", "Rejected"], ["document", "Document"], ["link", "Link"],
]);

// `implemented` -> "Implemented"; unknown values as they are, underscores spaced.
export function label(value) {
  if (value === null || value === undefined || value === "") return "—";
  return ALL.get(value) || String(value).replace(/_/g, " ");
}

// A CSS class for a status's tone (good, bad, warn, neutral).
export function tone(value) {
  if (["passed", "implemented", "alternative_implementation", "succeeded", "active", "verified", "resolved"].includes(value)) return "good";
  if (/^failed|high|rejected|error|could_not/.test(value)) return "bad";
  if (["planned", "in_progress", "partially_tested", "partially_succeeded", "medium", "investigating", "pending", "paused", "to_be_detected"].includes(value)) return "warn";
  return "";
}

const thisYear = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" });
const otherYear = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

// A moment, the year left out when it is this year's.
export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (isNaN(d)) return iso;
  return (d.getFullYear() === new Date().getFullYear() ? thisYear : otherYear).format(d);
}

// An alert's title with the assessments it names by id named by their names.
export function titled(title, assessments) {
  let out = title;
  for (const a of assessments) out = out.split(a.id).join(`“${a.name}”`);
  return out;
}

export function day(iso) {
  if (!iso) return "—";
  const d = new Date(iso.length === 10 ? `${iso}T00:00:00` : iso);
  return isNaN(d) ? iso : dateOnly.format(d);
}

// "3 hours ago", "in 2 days".
export function ago(iso) {
  if (!iso) return "—";
  const s = (new Date(iso) - Date.now()) / 1000;
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  for (const [unit, secs] of [["day", 86400], ["hour", 3600], ["minute", 60]]) {
    if (Math.abs(s) >= secs) return rtf.format(Math.round(s / secs), unit);
  }
  return rtf.format(Math.round(s), "second");
}

export function bytes(n) {
  if (n === null || n === undefined) return "—";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

// A history value (any JSON) in words.
export function value(v) {
  if (v === null || v === undefined || v === "") return "—";
  if (typeof v === "string") return ALL.get(v) || v;
  if (typeof v === "object" && v.name) return `${v.name}${v.status ? ` (${label(v.status).toLowerCase()})` : ""}`;
  return JSON.stringify(v);
}
