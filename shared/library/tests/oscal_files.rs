//! OSCAL import of NIST's own published catalogs, from `../shared/data/oscal/` beside the
//! repository (real inputs written by others).

use std::path::PathBuf;

use attest_domain::ids::RegulationId;
use attest_library::{builtin, oscal};

fn data(name: &str) -> Option<serde_json::Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/oscal")
        .join(name);
    if !path.exists() {
        eprintln!(
            "skipping: {} is absent (the shared data folder is not beside the repository)",
            path.display()
        );
        return None;
    }
    Some(serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap())
}

fn id(s: &str) -> RegulationId {
    RegulationId::parse(s).unwrap()
}

#[test]
fn moderate_baseline_mapped_as_the_built_in_nist_regulation() {
    let Some(doc) = data("NIST_SP-800-53_rev5_MODERATE-baseline-resolved-profile_catalog-min.json")
    else {
        return;
    };
    let nist = builtin()
        .regulation(&id("nist-800-53-r5-moderate"))
        .unwrap();
    let imported = oscal::import(&doc, id("nist-moderate"), None, Some(nist)).unwrap();
    let reg = &imported.regulation;
    // 287 controls and enhancements in 18 families, counted from the file: none withdrawn.
    assert_eq!(reg.families.len(), 18);
    assert_eq!(reg.controls().count(), 287);
    assert_eq!(reg.families[0].id, "AC");
    assert_eq!(reg.families[0].title, "Access Control");
    // Every control matches a built-in one, so none needed a generated action.
    assert!(
        imported.generated.is_empty(),
        "{} generated",
        imported.generated.len()
    );
    let ac21 = reg.control("AC-2(1)").unwrap();
    assert_eq!(ac21.actions, nist.control("AC-2(1)").unwrap().actions);
    let ac2 = reg.control("AC-2").unwrap();
    assert!(
        ac2.description
            .starts_with("a. Define and document the types of accounts allowed"),
        "{}",
        ac2.description
    );
    assert!(
        ac2.description.contains("[Assignment: "),
        "{}",
        ac2.description
    );
    assert!(!ac2.description.contains("{{"), "{}", ac2.description);
}

#[test]
fn low_and_privacy_baselines_without_mapping_get_one_action_per_control() {
    let Some(low) = data("NIST_SP-800-53_rev5_LOW-baseline-resolved-profile_catalog-min.json")
    else {
        return;
    };
    let imported = oscal::import(&low, id("nist-low"), Some("NIST low".into()), None).unwrap();
    assert_eq!(imported.regulation.controls().count(), 149);
    assert_eq!(imported.generated.len(), 149);
    assert_eq!(imported.regulation.name, "NIST low");

    let privacy =
        data("NIST_SP-800-53_rev5_PRIVACY-baseline-resolved-profile_catalog-min.json").unwrap();
    let imported = oscal::import(&privacy, id("nist-privacy"), None, None).unwrap();
    assert_eq!(imported.regulation.families.len(), 16);
    assert_eq!(imported.regulation.controls().count(), 102);
}

#[test]
fn the_small_example_catalog_with_nested_groups() {
    let Some(doc) = data("basic-catalog-min.json") else {
        return;
    };
    let imported = oscal::import(&doc, id("basic"), None, None).unwrap();
    let reg = &imported.regulation;
    assert_eq!(reg.controls().count(), 4);
    assert!(
        reg.families.iter().all(|f| f.title.contains(" / ")),
        "nested group titles are joined"
    );
    let first = reg.controls().next().unwrap();
    assert_eq!(first.id, "1.1.1");
    assert!(first.description.contains("[Selection (one or more): initiating a device lock after [Assignment: a duration] of inactivity"), "{}", first.description);
    assert!(oscal::import(
        &data("ifa_assessment-results-example-min.json").unwrap(),
        id("x"),
        None,
        None
    )
    .is_err());
}
