//! The kinds' checks and the improvement actions shipped for them in shared/library/data
//! agree: every check names a shipped action of its service, every shipped action is tested
//! by a check and maps to real controls of at least two built-in regulations.

use std::collections::{BTreeMap, BTreeSet};

use attest_connectors::kinds;
use serde_json::Value;

const ACTIONS: [(&str, &str); 2] = [
    ("zoom", include_str!("../../library/data/actions-zoom.json")),
    (
        "salesforce",
        include_str!("../../library/data/actions-salesforce.json"),
    ),
];
const REGULATIONS: [&str; 4] = [
    include_str!("../../library/data/nist-800-53-r5-moderate.json"),
    include_str!("../../library/data/iso-27001-2022.json"),
    include_str!("../../library/data/soc2-2017.json"),
    include_str!("../../library/data/gdpr.json"),
];
const GENERAL: &str = include_str!("../../library/data/actions.json");
/// shared/domain/src/vocab.rs `Category`.
const CATEGORIES: [&str; 10] = [
    "control_access",
    "discover_and_respond",
    "govern_information",
    "infrastructure_cloud",
    "manage_compliance",
    "manage_devices",
    "manage_internal_risks",
    "privacy_management",
    "protect_against_threats",
    "protect_information",
];

fn controls() -> BTreeMap<String, BTreeSet<String>> {
    REGULATIONS
        .iter()
        .map(|text| {
            let reg: Value = serde_json::from_str(text).unwrap();
            let ids = reg["families"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|f| f["controls"].as_array().unwrap())
                .map(|c| c[0].as_str().unwrap().to_owned())
                .collect();
            (reg["id"].as_str().unwrap().to_owned(), ids)
        })
        .collect()
}

#[test]
fn checks_and_shipped_actions_agree() {
    let controls = controls();
    let general: Vec<Value> = serde_json::from_str(GENERAL).unwrap();
    let general: BTreeSet<&str> = general.iter().map(|a| a["id"].as_str().unwrap()).collect();
    for (service, text) in ACTIONS {
        let info = kinds().into_iter().find(|k| k.service == service).unwrap();
        let actions: Vec<Value> = serde_json::from_str(text).unwrap();
        let mut ids = BTreeSet::new();
        for a in &actions {
            let id = a["id"].as_str().unwrap();
            assert!(ids.insert(id), "{id} twice");
            assert!(!general.contains(id), "{id} also in actions.json");
            assert!(id.starts_with(&format!("{service}-")), "{id}");
            assert_eq!(a["service"], service, "{id}");
            assert_eq!(a["action_type"], "technical", "{id}");
            assert_eq!(a["testing_type"], "automatic", "{id}");
            assert_eq!(a["managed_by"], "customer", "{id}");
            assert!(
                CATEGORIES.contains(&a["category"].as_str().unwrap()),
                "{id}"
            );
            assert!(
                ["preventive", "detective", "corrective"]
                    .contains(&a["control_type"].as_str().unwrap()),
                "{id}"
            );
            assert!(
                ["mandatory", "discretionary"].contains(&a["enforcement"].as_str().unwrap()),
                "{id}"
            );
            assert!(!a["title"].as_str().unwrap().is_empty());
            assert!(a["guidance"].as_str().unwrap().len() > 40, "{id}");
            let mapped = a["controls"].as_object().unwrap();
            assert!(mapped.len() >= 2, "{id} maps to fewer than 2 regulations");
            for (reg, list) in mapped {
                let known = controls.get(reg).unwrap_or_else(|| panic!("{id}: {reg}"));
                for c in list.as_array().unwrap() {
                    assert!(known.contains(c.as_str().unwrap()), "{id}: {reg} {c}");
                }
            }
            assert!(
                info.checks.iter().any(|c| c.action_id == id),
                "{id} is tested by no check"
            );
        }
        for check in &info.checks {
            assert!(
                ids.contains(check.action_id.as_str()),
                "{} names {}, not shipped",
                check.id,
                check.action_id
            );
        }
    }
}
