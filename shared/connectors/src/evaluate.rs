//! Checks against what a run read: pure functions, no I/O.

use serde_json::Value;

use crate::model::{Check, CheckResult, Readings, Risk, Verdict};

/// The results of `checks` against `readings`, in the checks' order.
///
/// A check is `Undetected` when its request was not read or failed, when nothing (or
/// `null`) is at its pointer, or when the value cannot be compared (a non-numeric value
/// against a bound). A failed check carries its `severity` as risk.
pub fn evaluate(checks: &[Check], readings: &Readings) -> Vec<CheckResult> {
    evaluate_with(checks, readings, |_, _| None)
}

/// [`evaluate`], with the risk of a failure taken from the data where `risk_of` gives one
/// (it is called with the check and the value read); otherwise the check's severity.
pub fn evaluate_with(
    checks: &[Check],
    readings: &Readings,
    risk_of: impl Fn(&Check, &Value) -> Option<Risk>,
) -> Vec<CheckResult> {
    checks
        .iter()
        .map(|check| evaluate_one(check, readings, &risk_of))
        .collect()
}

fn evaluate_one(
    check: &Check,
    readings: &Readings,
    risk_of: &impl Fn(&Check, &Value) -> Option<Risk>,
) -> CheckResult {
    let request = &check.source.request;
    let pointer = &check.source.pointer;
    let result = |verdict: Verdict, value: Option<Value>, detail: String| CheckResult {
        check_id: check.id.clone(),
        action_id: check.action_id.clone(),
        verdict,
        value,
        request: request.clone(),
        pointer: pointer.clone(),
        detail,
    };
    let document = match readings.documents.get(request) {
        None => {
            return result(
                Verdict::Undetected,
                None,
                format!("could not read: {request} was not read in this run"),
            )
        }
        Some(Err(e)) => {
            return result(
                Verdict::Undetected,
                None,
                format!("could not read: {}", e.message),
            )
        }
        Some(Ok(document)) => document,
    };
    let expected = &check.expected;
    let value = match document.pointer(pointer) {
        None | Some(Value::Null) => {
            return result(
                Verdict::Undetected,
                None,
                format!("nothing at {pointer}; expected {expected}"),
            )
        }
        Some(v) => v,
    };
    let detail = format!("read {value} at {pointer}; expected {expected}");
    match expected.matches(value) {
        Some(true) => result(Verdict::Passed, Some(value.clone()), detail),
        Some(false) => {
            let risk = risk_of(check, value).unwrap_or(check.severity);
            result(Verdict::Failed { risk }, Some(value.clone()), detail)
        }
        None => result(
            Verdict::Undetected,
            Some(value.clone()),
            format!("read {value} at {pointer}, not a number; expected {expected}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ConnectorError, Expected, Source};
    use serde_json::json;

    const REQ: &str = "GET /v2/accounts/me/settings";

    fn check(pointer: &str, expected: Expected) -> Check {
        Check {
            id: "c".into(),
            title: "t".into(),
            action_id: "a".into(),
            source: Source {
                request: REQ.into(),
                pointer: pointer.into(),
            },
            expected,
            explain: "e".into(),
            severity: Risk::Medium,
        }
    }

    fn readings(doc: Value) -> Readings {
        let mut r = Readings::default();
        r.documents.insert(REQ.into(), Ok(doc));
        r
    }

    fn verdict(c: Check, doc: Value) -> CheckResult {
        evaluate(&[c], &readings(doc)).remove(0)
    }

    #[test]
    fn equals_passes_and_fails_with_the_checks_severity() {
        let doc = json!({"in_meeting": {"waiting_room": false}, "n": 8});
        let r = verdict(
            check("/in_meeting/waiting_room", Expected::Equals(json!(true))),
            doc.clone(),
        );
        assert_eq!(r.verdict, Verdict::Failed { risk: Risk::Medium });
        assert_eq!(r.value, Some(json!(false)));
        assert_eq!(
            r.detail,
            "read false at /in_meeting/waiting_room; expected true"
        );
        assert_eq!(r.request, REQ);
        let r = verdict(
            check("/in_meeting/waiting_room", Expected::Equals(json!(false))),
            doc.clone(),
        );
        assert_eq!(r.verdict, Verdict::Passed);
        // numbers compare by value
        let r = verdict(check("/n", Expected::Equals(json!(8.0))), doc);
        assert_eq!(r.verdict, Verdict::Passed);
    }

    #[test]
    fn min_and_max_compare_numbers_and_numeric_strings() {
        let doc = json!({"len": 9, "score": "79", "days": 120, "word": "abc"});
        assert_eq!(
            verdict(check("/len", Expected::Min { min: 9.0 }), doc.clone()).verdict,
            Verdict::Passed
        );
        assert_eq!(
            verdict(check("/len", Expected::Min { min: 10.0 }), doc.clone()).verdict,
            Verdict::Failed { risk: Risk::Medium }
        );
        let r = verdict(check("/score", Expected::Min { min: 80.0 }), doc.clone());
        assert_eq!(r.verdict, Verdict::Failed { risk: Risk::Medium });
        assert_eq!(r.detail, "read \"79\" at /score; expected at least 80");
        assert_eq!(
            verdict(check("/days", Expected::Max { max: 120.0 }), doc.clone()).verdict,
            Verdict::Passed
        );
        let r = verdict(check("/days", Expected::Max { max: 90.0 }), doc.clone());
        assert_eq!(r.verdict, Verdict::Failed { risk: Risk::Medium });
        assert_eq!(r.detail, "read 120 at /days; expected at most 90");
        let r = verdict(check("/word", Expected::Max { max: 90.0 }), doc);
        assert_eq!(r.verdict, Verdict::Undetected);
        assert_eq!(r.value, Some(json!("abc")));
    }

    #[test]
    fn one_of_accepts_any_listed_value() {
        let doc = json!({"pmi": "all", "other": "none"});
        let e = Expected::OneOf {
            one_of: vec![json!("all"), json!("jbh_only")],
        };
        assert_eq!(
            verdict(check("/pmi", e.clone()), doc.clone()).verdict,
            Verdict::Passed
        );
        let r = verdict(check("/other", e), doc);
        assert_eq!(r.verdict, Verdict::Failed { risk: Risk::Medium });
        assert_eq!(
            r.detail,
            "read \"none\" at /other; expected one of \"all\", \"jbh_only\""
        );
    }

    #[test]
    fn a_missing_or_null_pointer_is_undetected() {
        let doc = json!({"a": {"b": null}});
        let r = verdict(check("/a/c", Expected::Equals(json!(true))), doc.clone());
        assert_eq!(r.verdict, Verdict::Undetected);
        assert_eq!(r.value, None);
        assert_eq!(r.detail, "nothing at /a/c; expected true");
        assert_eq!(
            verdict(check("/a/b", Expected::Equals(json!(true))), doc).verdict,
            Verdict::Undetected
        );
    }

    #[test]
    fn a_failed_or_missing_request_is_undetected_with_its_error() {
        let mut r = Readings::default();
        r.documents.insert(
            REQ.into(),
            Err(ConnectorError::permission(
                "permission denied (403, code 4711: no scope)",
            )),
        );
        let res = evaluate(&[check("/x", Expected::Equals(json!(true)))], &r).remove(0);
        assert_eq!(res.verdict, Verdict::Undetected);
        assert_eq!(
            res.detail,
            "could not read: permission denied (403, code 4711: no scope)"
        );
        let res = evaluate(
            &[check("/x", Expected::Equals(json!(true)))],
            &Readings::default(),
        )
        .remove(0);
        assert_eq!(res.verdict, Verdict::Undetected);
    }

    #[test]
    fn evaluate_with_takes_the_risk_from_the_data() {
        let doc = json!({"k": {"RiskType": "HIGH_RISK"}, "m": {"RiskType": "MEETS_STANDARD"}});
        let checks = [
            check("/k/RiskType", Expected::Equals(json!("MEETS_STANDARD"))),
            check("/m/RiskType", Expected::Equals(json!("MEETS_STANDARD"))),
        ];
        let res = evaluate_with(&checks, &readings(doc), |_, v| {
            (v == "HIGH_RISK").then_some(Risk::High)
        });
        assert_eq!(res[0].verdict, Verdict::Failed { risk: Risk::High });
        assert_eq!(res[1].verdict, Verdict::Passed);
    }

    #[test]
    fn verdicts_serialize_with_a_tag() {
        assert_eq!(
            serde_json::to_value(Verdict::Failed { risk: Risk::High }).unwrap(),
            json!({"verdict": "failed", "risk": "high"})
        );
        assert_eq!(
            serde_json::to_value(Verdict::Passed).unwrap(),
            json!({"verdict": "passed"})
        );
        assert_eq!(
            serde_json::to_value(Expected::Min { min: 9.0 }).unwrap(),
            json!({"min": 9.0})
        );
        assert_eq!(
            serde_json::to_value(Expected::Equals(json!(true))).unwrap(),
            json!(true)
        );
        assert_eq!(
            serde_json::to_value(Expected::OneOf {
                one_of: vec![json!("a")]
            })
            .unwrap(),
            json!({"one_of": ["a"]})
        );
    }
}
