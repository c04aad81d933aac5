//! OSCAL import of real catalogs: NIST's own published ones, read from `../shared/data/oscal/`
//! beside the repository (real inputs written by others, not kept in the repository: see
//! `attest_testkit::shared_data` for what happens when they are absent), and the project's own
//! small sample catalog in `tests/data/oscal/`, which always runs.

use std::path::PathBuf;

use attest_domain::ids::RegulationId;
use attest_library::{builtin, oscal};

/// One of NIST's files, or `None` (the test did not run, and says so) when it is absent.
fn data(name: &str) -> Option<serde_json::Value> {
    let path = attest_testkit::shared_data(&format!("oscal/{name}"))?;
    Some(serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap())
}

/// The project's own sample catalog: six controls (and a withdrawn one) in four families,
/// two of them from nested groups, with parameters of each kind.
fn sample() -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/oscal/attest-sample-catalog.json");
    serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
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

    let Some(privacy) =
        data("NIST_SP-800-53_rev5_PRIVACY-baseline-resolved-profile_catalog-min.json")
    else {
        return;
    };
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
    let Some(results) = data("ifa_assessment-results-example-min.json") else {
        return;
    };
    assert!(oscal::import(&results, id("x"), None, None).is_err());
}

#[test]
fn our_sample_catalog_with_nested_groups_params_and_a_withdrawn_control() {
    let doc = sample();
    let imported = oscal::import(&doc, id("sample"), None, None).unwrap();
    let reg = &imported.regulation;
    assert_eq!(reg.name, "Attest sample catalog");
    assert_eq!(
        reg.families
            .iter()
            .map(|f| (f.id.as_str(), f.title.as_str()))
            .collect::<Vec<_>>(),
        [
            ("AC", "Access"),
            ("AU", "Operations / Logging"),
            ("CP", "Operations / Backups"),
            ("PEOPLE", "People"),
        ]
    );
    // The withdrawn AC-2(2) is left out; enhancements follow their control.
    assert_eq!(
        reg.controls().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["AC-2", "AC-2(1)", "AC-3", "AU-2", "CP-9", "PEOPLE-1"]
    );
    assert_eq!(imported.generated.len(), 6, "unmapped: one action each");
    let ac2 = reg.control("AC-2").unwrap();
    assert_eq!(ac2.title, "Accounts");
    assert_eq!(
        ac2.description,
        "a. Give every account a named owner;\n\
         b. Review the accounts [Assignment: how often accounts are reviewed] and close the ones nobody uses."
    );
    let cp9 = reg.control("CP-9").unwrap();
    assert!(
        cp9.description
            .contains("[Selection (one or more): every day; after every release]"),
        "{}",
        cp9.description
    );

    // Mapped as the built-in NIST regulation, the controls it has get its actions; the one it
    // does not have gets a generated action.
    let nist = builtin()
        .regulation(&id("nist-800-53-r5-moderate"))
        .unwrap();
    let mapped = oscal::import(&doc, id("sample-mapped"), None, Some(nist)).unwrap();
    for c in ["AC-2", "AC-2(1)", "AC-3", "AU-2", "CP-9"] {
        assert_eq!(
            mapped.regulation.control(c).unwrap().actions,
            nist.control(c).unwrap().actions,
            "{c}"
        );
    }
    assert_eq!(mapped.generated.len(), 1);
    assert_eq!(
        mapped.regulation.control("PEOPLE-1").unwrap().actions,
        [mapped.generated[0].id.clone()]
    );
}
