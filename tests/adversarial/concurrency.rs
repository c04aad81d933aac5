//! Concurrent writers: changes without If-Match all apply (none lost, every one in history),
//! one If-Match lets exactly one writer through, overlapping bulk assignments all apply, and
//! racing creates of one id or name keep exactly one winner, entirely.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::support::{report, Api, Env, Reply, Req, Tenant};

const TENANT: &str = "tenant-alpha";

async fn setup() -> (Env, Tenant) {
    let env = Env::start();
    let t = Tenant::build(&env, TENANT, "alpha", true).await;
    (env, t)
}

async fn get(api: &Api, token: &str, path: &str) -> Reply {
    api.expect(Req::new("GET", path).bearer(token), 200).await
}

/// The action's history entries of `field`, oldest first.
async fn history(t: &Tenant, action: &str, field: &str) -> Vec<Value> {
    let all = get(
        &t.api,
        &t.root,
        &format!("/actions/{action}/history?limit=1000"),
    )
    .await;
    let mut items: Vec<Value> = all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["field"] == field)
        .cloned()
        .collect();
    items.reverse();
    items
}

/// Every entry starts from where the one before it ended: no change was based on a value
/// another writer had already replaced.
fn chain_faults(action: &str, field: &str, entries: &[Value]) -> Vec<String> {
    entries
        .windows(2)
        .filter(|w| w[1]["old"] != w[0]["new"])
        .map(|w| {
            format!(
                "{action} {field} history is not a chain: {} -> {} then {} -> {} (a lost update)",
                w[0]["old"], w[0]["new"], w[1]["old"], w[1]["new"]
            )
        })
        .collect()
}

fn statuses(replies: &[Result<Reply, String>]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in replies {
        let key = match r {
            Ok(r) => r.status.to_string(),
            Err(_) => "no answer".into(),
        };
        *out.entry(key).or_insert(0) += 1;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_patches_without_if_match_all_apply_and_all_reach_history() {
    let (_env, t) = setup().await;
    let action = t.action_for("no-if-match");
    let path = format!("/actions/{action}");
    let v0 = get(&t.api, &t.root, &path).await.body["version"]
        .as_u64()
        .unwrap();
    let bodies: Vec<Value> = (0..50)
        .map(|i| {
            if i % 2 == 0 {
                json!({"owner": format!("owner-{i}")})
            } else {
                json!({"implementation_notes": format!("notes-{i}")})
            }
        })
        .collect();
    let reqs: Vec<Req> = bodies
        .iter()
        .map(|b| {
            Req::new("PATCH", path.clone())
                .bearer(&t.root)
                .json(b.clone())
        })
        .collect();
    let replies = t.api.send_all(reqs, 50).await;
    let mut faults = Vec::new();
    let counts = statuses(&replies);
    if counts.get("200") != Some(&50) {
        let sample = replies.iter().find_map(|r| {
            r.as_ref()
                .ok()
                .filter(|r| r.status != 200)
                .map(Reply::brief)
        });
        faults.push(format!(
            "50 PATCHes without If-Match answered {counts:?} (want 50 x 200); e.g. {sample:?}"
        ));
    }
    let after = get(&t.api, &t.root, &path).await.body;
    let ok = counts.get("200").copied().unwrap_or(0) as u64;
    if after["version"].as_u64() != Some(v0 + ok) {
        faults.push(format!(
            "version went from {v0} to {} after {ok} successful changes",
            after["version"]
        ));
    }
    for (field, prefix, parity) in [("owner", "owner", 0), ("implementation_notes", "notes", 1)] {
        let entries = history(&t, &action, field).await;
        let recorded: BTreeSet<String> = entries
            .iter()
            .filter_map(|e| e["new"].as_str().map(str::to_owned))
            .collect();
        let succeeded: BTreeSet<String> = (0..50)
            .filter(|i| i % 2 == parity)
            .filter(|i| matches!(&replies[*i], Ok(r) if r.status == 200))
            .map(|i| format!("{prefix}-{i}"))
            .collect();
        let missing: Vec<_> = succeeded.difference(&recorded).collect();
        if !missing.is_empty() {
            faults.push(format!(
                "{field}: {} successful changes are not in history: {missing:?}",
                missing.len()
            ));
        }
        if entries.len() != succeeded.len() {
            faults.push(format!(
                "{field}: {} history entries for {} successful changes",
                entries.len(),
                succeeded.len()
            ));
        }
        faults.extend(chain_faults(&action, field, &entries));
        if let Some(last) = entries.last() {
            if after[field] != last["new"] {
                faults.push(format!(
                    "{field} is {} but the newest history entry says {}",
                    after[field], last["new"]
                ));
            }
        }
    }
    report("concurrent PATCH without If-Match", &faults);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_patches_with_one_if_match_let_exactly_one_through() {
    let (_env, t) = setup().await;
    let action = t.action_for("one-if-match");
    let path = format!("/actions/{action}");
    let mut faults = Vec::new();

    // Current version: exactly one writer wins.
    let current = get(&t.api, &t.root, &path).await;
    let etag = current.headers["etag"].to_str().unwrap().to_owned();
    let v = current.body["version"].as_u64().unwrap();
    let reqs: Vec<Req> = (0..50)
        .map(|i| {
            Req::new("PATCH", path.clone())
                .bearer(&t.root)
                .header("if-match", etag.clone())
                .json(json!({"owner": format!("racer-{i}")}))
        })
        .collect();
    let replies = t.api.send_all(reqs, 50).await;
    let counts = statuses(&replies);
    if counts.get("200") != Some(&1) || counts.get("412") != Some(&49) {
        faults.push(format!(
            "50 PATCHes with the current If-Match {etag} answered {counts:?} (want 1 x 200, 49 x 412)"
        ));
    }
    for r in replies.iter().flatten().filter(|r| r.status == 412) {
        faults.extend(r.problem_fault());
    }
    let winner = replies
        .iter()
        .position(|r| matches!(r, Ok(r) if r.status == 200))
        .map(|i| format!("racer-{i}"));
    let after = get(&t.api, &t.root, &path).await.body;
    if after["version"].as_u64() != Some(v + 1) {
        faults.push(format!("version {v} became {}", after["version"]));
    }
    if after["owner"].as_str().map(str::to_owned) != winner {
        faults.push(format!(
            "owner is {} but the winner was {winner:?}",
            after["owner"]
        ));
    }
    let entries = history(&t, &action, "owner").await;
    if entries.len() != 1 {
        faults.push(format!(
            "{} owner history entries for one change",
            entries.len()
        ));
    }

    // Stale from the start: nobody wins, nothing changes.
    let stale = format!("\"{v}\"");
    let reqs: Vec<Req> = (0..50)
        .map(|i| {
            Req::new("PATCH", path.clone())
                .bearer(&t.root)
                .header("if-match", stale.clone())
                .json(json!({"owner": format!("late-{i}")}))
        })
        .collect();
    let replies = t.api.send_all(reqs, 50).await;
    let counts = statuses(&replies);
    if counts.get("412") != Some(&50) {
        faults.push(format!(
            "50 PATCHes with the stale If-Match {stale} answered {counts:?} (want 50 x 412)"
        ));
    }
    let later = get(&t.api, &t.root, &path).await.body;
    if later != after {
        faults.push(format!(
            "stale writers changed the action: {after} -> {later}"
        ));
    }
    if history(&t, &action, "owner").await.len() != entries.len() {
        faults.push("stale writers added history".into());
    }
    report("concurrent PATCH with one If-Match", &faults);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_concurrent_assigns_all_apply() {
    let (_env, t) = setup().await;
    let actions: Vec<String> = (0..8)
        .map(|i| t.action_for(&format!("assign-{i}")))
        .collect();
    // 12 writers, each covering 4 of the 8 actions; every action is covered by 6 writers.
    let covers: Vec<Vec<usize>> = (0..12)
        .map(|j| (0..4).map(|m| (j + 2 * m) % 8).collect())
        .collect();
    let reqs: Vec<Req> = covers
        .iter()
        .enumerate()
        .map(|(j, cover)| {
            let ids: Vec<&String> = cover.iter().map(|i| &actions[*i]).collect();
            Req::new("POST", "/actions/assign")
                .bearer(&t.root)
                .json(json!({"action_ids": ids, "owner": format!("assignee-{j}")}))
        })
        .collect();
    let replies = t.api.send_all(reqs, 12).await;
    let mut faults = Vec::new();
    let counts = statuses(&replies);
    if counts.get("200") != Some(&12) {
        let sample = replies.iter().find_map(|r| {
            r.as_ref()
                .ok()
                .filter(|r| r.status != 200)
                .map(Reply::brief)
        });
        faults.push(format!(
            "12 overlapping assigns answered {counts:?} (want 12 x 200); e.g. {sample:?}"
        ));
    }
    for (i, action) in actions.iter().enumerate() {
        let expected: BTreeSet<String> = covers
            .iter()
            .enumerate()
            .filter(|(j, c)| c.contains(&i) && matches!(&replies[*j], Ok(r) if r.status == 200))
            .map(|(j, _)| format!("assignee-{j}"))
            .collect();
        let entries = history(&t, action, "owner").await;
        let recorded: BTreeSet<String> = entries
            .iter()
            .filter_map(|e| e["new"].as_str().map(str::to_owned))
            .collect();
        if recorded != expected || entries.len() != expected.len() {
            faults.push(format!(
                "{action}: history records owners {recorded:?} ({} entries) for successful assigns {expected:?}",
                entries.len()
            ));
        }
        faults.extend(chain_faults(action, "owner", &entries));
        let now = get(&t.api, &t.root, &format!("/actions/{action}"))
            .await
            .body;
        if let Some(last) = entries.last() {
            if now["owner"] != last["new"] {
                faults.push(format!(
                    "{action}: owner {} but history ends at {}",
                    now["owner"], last["new"]
                ));
            }
        }
    }
    report("overlapping concurrent assigns", &faults);
}

/// The families of a regulation as sent, in the detail's shape (ids, titles, descriptions).
fn shape(families: &Value) -> Value {
    Value::Array(
        families
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                json!({
                    "id": f["id"], "title": f["title"],
                    "controls": f["controls"].as_array().unwrap().iter().map(|c| json!({
                        "id": c["id"], "title": c["title"],
                        "description": c.get("description").cloned().unwrap_or(json!("")),
                    })).collect::<Vec<_>>()
                })
            })
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_of_one_regulation_id_keep_exactly_the_winner() {
    let (_env, t) = setup().await;
    let mut faults = Vec::new();
    for round in 0..4 {
        let id = format!("race-reg-{round}");
        let bodies: Vec<Value> = (0..20)
            .map(|w| {
                let families: Vec<Value> = (0..1 + w % 3)
                    .map(|f| {
                        json!({"id": format!("W{w}-F{f}"), "title": format!("writer {w} family {f}"),
                            "controls": (0..1 + (w + f) % 4).map(|c| json!({
                                "id": format!("W{w}-F{f}-C{c}"), "title": format!("writer {w} control {f}.{c}"),
                                "description": format!("written by {w}")
                            })).collect::<Vec<_>>()})
                    })
                    .collect();
                json!({"id": id, "name": format!("writer {w}"), "source": format!("writer {w}"), "families": families})
            })
            .collect();
        let reqs: Vec<Req> = bodies
            .iter()
            .map(|b| {
                Req::new("POST", "/regulations")
                    .bearer(&t.root)
                    .json(b.clone())
            })
            .collect();
        let replies = t.api.send_all(reqs, 20).await;
        let counts = statuses(&replies);
        if counts.get("201") != Some(&1) || counts.get("409") != Some(&19) {
            faults.push(format!(
                "round {round}: 20 creates of {id} answered {counts:?} (want 1 x 201, 19 x 409)"
            ));
        }
        for r in replies.iter().flatten().filter(|r| r.status == 409) {
            faults.extend(r.problem_fault());
        }
        let Some(w) = replies
            .iter()
            .position(|r| matches!(r, Ok(r) if r.status == 201))
        else {
            continue;
        };
        let stored = get(&t.api, &t.root, &format!("/regulations/{id}"))
            .await
            .body;
        let stored_shape = Value::Array(
            stored["families"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    json!({"id": f["id"], "title": f["title"],
                        "controls": f["controls"].as_array().unwrap().iter().map(|c| json!({
                            "id": c["id"], "title": c["title"], "description": c["description"]
                        })).collect::<Vec<_>>()})
                })
                .collect(),
        );
        let sent = shape(&bodies[w]["families"]);
        if stored_shape != sent {
            faults.push(format!(
                "round {round}: writer {w} won, but {id} holds {stored_shape} instead of {sent}"
            ));
        }
        if stored["name"] != bodies[w]["name"] || stored["source"] != bodies[w]["source"] {
            faults.push(format!(
                "round {round}: writer {w} won, but {id} is named {} from {}",
                stored["name"], stored["source"]
            ));
        }
        let total: usize = sent
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["controls"].as_array().unwrap().len())
            .sum();
        let counted = stored
            .get("control_count")
            .or(stored.get("controls").filter(|c| c.is_number()));
        if counted != Some(&json!(total)) {
            faults.push(format!(
                "round {round}: {id} counts {counted:?} controls, the winner sent {total}"
            ));
        }
        for f in stored["families"].as_array().unwrap() {
            for c in f["controls"].as_array().unwrap() {
                if c["actions"].as_array().is_none_or(|a| a.len() != 1) {
                    faults.push(format!(
                        "round {round}: control {} has actions {}",
                        c["id"], c["actions"]
                    ));
                }
            }
        }
        // An assessment of it covers the winner's controls, and only those.
        let a = t
            .api
            .send(&Req::new("POST", "/assessments").bearer(&t.root).json(json!({
                "regulation_id": id, "group_name": format!("race group {round}"), "services": ["aws"]
            })))
            .await
            .unwrap();
        if a.status != 201 || a.body["progress"]["controls_total"] != total {
            faults.push(format!(
                "round {round}: assessing {id}: {} (want 201 with {total} controls)",
                a.brief()
            ));
        }
        let listed = get(&t.api, &t.root, "/regulations").await.body;
        let n = listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["id"] == id.as_str())
            .count();
        if n != 1 {
            faults.push(format!("round {round}: {id} is listed {n} times"));
        }
    }
    report("concurrent creates of one regulation id", &faults);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_of_one_group_name_make_one_group() {
    let (_env, t) = setup().await;
    let mut faults = Vec::new();
    for round in 0..3 {
        let name = format!("Race Group {round}");
        let variants = [
            name.clone(),
            name.to_lowercase(),
            name.to_uppercase(),
            format!(" {name} "),
        ];
        let reqs: Vec<Req> = (0..20)
            .map(|i| {
                let body = if i % 2 == 0 {
                    json!({"name": variants[i % 4]})
                } else {
                    json!({"regulation_id": t.custom_reg, "group_name": variants[i % 4], "services": ["aws"]})
                };
                let path = if i % 2 == 0 { "/groups" } else { "/assessments" };
                Req::new("POST", path).bearer(&t.root).json(body)
            })
            .collect();
        let replies = t.api.send_all(reqs, 20).await;
        let counts = statuses(&replies);
        if counts.get("201") != Some(&1) || counts.get("409") != Some(&19) {
            faults.push(format!(
                "round {round}: 20 creates of group {name:?} answered {counts:?} (want 1 x 201, 19 x 409)"
            ));
        }
        let groups = get(&t.api, &t.root, "/groups").await.body;
        let same: Vec<&Value> = groups["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| g["name"].as_str().unwrap().trim().to_lowercase() == name.to_lowercase())
            .collect();
        if same.len() != 1 {
            faults.push(format!(
                "round {round}: {} groups named {name:?}",
                same.len()
            ));
        }
        let assessments = get(&t.api, &t.root, "/assessments").await.body;
        let in_group = assessments["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| same.iter().any(|g| g["id"] == a["group_id"]))
            .count();
        let assessment_won = replies
            .iter()
            .enumerate()
            .any(|(i, r)| i % 2 == 1 && matches!(r, Ok(r) if r.status == 201));
        if in_group != usize::from(assessment_won) {
            faults.push(format!(
                "round {round}: the group holds {in_group} assessments (an assessment create won: {assessment_won})"
            ));
        }
    }
    report("concurrent creates of one group name", &faults);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deletes_and_archives_of_one_assessment_have_one_winner() {
    let (_env, t) = setup().await;
    let mut faults = Vec::new();
    for (round, (method, suffix, ok, loser)) in [
        // A delete that lost the race finds nothing to delete (or is told to retry).
        ("DELETE", "", 204, &[404u16, 409][..]),
        ("POST", "/archive", 200, &[409u16][..]),
    ]
    .into_iter()
    .enumerate()
    {
        let id = t
            .api
            .expect(
                Req::new("POST", "/assessments").bearer(&t.root).json(json!({
                    "regulation_id": t.custom_reg, "group_name": format!("doomed {round}"), "services": ["aws"]
                })),
                201,
            )
            .await
            .body["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let reqs: Vec<Req> = (0..20)
            .map(|_| Req::new(method, format!("/assessments/{id}{suffix}")).bearer(&t.root))
            .collect();
        let replies = t.api.send_all(reqs, 20).await;
        let counts = statuses(&replies);
        let losers: usize = loser
            .iter()
            .map(|s| counts.get(&s.to_string()).copied().unwrap_or(0))
            .sum();
        if counts.get(&ok.to_string()) != Some(&1) || losers != 19 {
            faults.push(format!(
                "20 x {method} /assessments/{{id}}{suffix} answered {counts:?} (want 1 x {ok}, 19 x {loser:?})"
            ));
        }
    }
    report("concurrent deletes and archives", &faults);
}

/// The tenant's connectors whose name is `name` (names are unique without regard to case).
async fn connectors_named(t: &Tenant, name: &str) -> Vec<Value> {
    get(&t.api, &t.root, "/connectors").await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"].as_str().unwrap().to_lowercase() == name.to_lowercase())
        .cloned()
        .collect()
}

/// A new Zoom connector named `name`.
fn new_connector(t: &Tenant, name: &str) -> Req {
    Req::new("POST", "/connectors").bearer(&t.root).json(json!({
        "kind": "zoom", "name": name, "credentials": crate::support::zoom().credentials()
    }))
}

/// `n` fresh connectors of the tenant, by id.
async fn fresh_connectors(t: &Tenant, what: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let created = t
            .api
            .expect(new_connector(t, &format!("{what} {i}")), 201)
            .await;
        ids.push(created.body["id"].as_str().unwrap().to_owned());
    }
    ids
}

/// The first answer in `replies` whose status is not one of `fine`, for messages.
fn example(replies: &[Result<Reply, String>], fine: &[u16]) -> String {
    replies
        .iter()
        .flatten()
        .find(|r| !fine.contains(&r.status))
        .map(|r| r.brief())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_and_renames_to_one_connector_name_keep_one() {
    let (_env, t) = setup().await;
    let mut faults = Vec::new();

    // Racing creates of one name, in several spellings.
    let name = "Race Connector".to_owned();
    let variants = [
        name.clone(),
        name.to_lowercase(),
        name.to_uppercase(),
        format!(" {name} "),
    ];
    let replies = t
        .api
        .send_all(
            (0..12)
                .map(|i| new_connector(&t, &variants[i % 4]))
                .collect(),
            12,
        )
        .await;
    let counts = statuses(&replies);
    if counts.get("201") != Some(&1) || counts.get("409") != Some(&11) {
        faults.push(format!(
            "12 creates of connector {name:?} answered {counts:?} (want 1 x 201, 11 x 409), e.g. {}",
            example(&replies, &[201, 409])
        ));
    }
    let same = connectors_named(&t, &name).await;
    if same.len() != 1 {
        faults.push(format!("{} connectors named {name:?}", same.len()));
    }

    // Racing renames of different connectors to one new name.
    let ids = fresh_connectors(&t, "to rename", 6).await;
    let target = "Renamed In A Race";
    let replies = t
        .api
        .send_all(
            ids.iter()
                .enumerate()
                .map(|(i, id)| {
                    let name = if i % 2 == 0 {
                        target.to_owned()
                    } else {
                        target.to_lowercase()
                    };
                    Req::new("PUT", format!("/connectors/{id}"))
                        .bearer(&t.root)
                        .json(json!({ "name": name }))
                })
                .collect(),
            6,
        )
        .await;
    let counts = statuses(&replies);
    if counts.get("200") != Some(&1) || counts.get("409") != Some(&5) {
        faults.push(format!(
            "6 renames to {target:?} answered {counts:?} (want 1 x 200, 5 x 409), e.g. {}",
            example(&replies, &[200, 409])
        ));
    }
    let same = connectors_named(&t, target).await;
    if same.len() != 1 {
        faults.push(format!("{} connectors named {target:?}", same.len()));
    }
    // The losers kept their names.
    let listed = get(&t.api, &t.root, "/connectors").await.body;
    let kept = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"].as_str().unwrap().starts_with("to rename "))
        .count();
    if kept != 5 {
        faults.push(format!(
            "{kept} connectors kept their names (want 5): {listed}"
        ));
    }
    // The name the winner gave up is free again, the one it took is not.
    let winner = &same[0];
    let old_name = format!(
        "to rename {}",
        ids.iter()
            .position(|id| winner["id"] == id.as_str())
            .unwrap()
    );
    for (name, want) in [(old_name.as_str(), 201), (target, 409)] {
        match t.api.send(&new_connector(&t, name)).await {
            Ok(r) if r.status == want => {}
            other => faults.push(format!(
                "creating {name:?} after the race: {:?} (want {want})",
                other.map(|r| r.brief())
            )),
        }
    }
    report(
        "concurrent creates and renames of one connector name",
        &faults,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_connector_changes_with_one_if_match_let_exactly_one_through() {
    let (_env, t) = setup().await;
    let mut faults = Vec::new();
    let ids = fresh_connectors(&t, "if-match", 2).await;
    for (n, id) in ids.iter().enumerate() {
        let before = get(&t.api, &t.root, &format!("/connectors/{id}"))
            .await
            .body;
        let version = &before["version"];
        // A PUT round, then a DELETE round (PUT first: both under the version read now).
        let reqs: Vec<Req> = (0..10)
            .map(|i| {
                let req = if n == 0 {
                    Req::new("PUT", format!("/connectors/{id}"))
                        .json(json!({"name": format!("if-match writer {i}")}))
                } else {
                    Req::new("DELETE", format!("/connectors/{id}"))
                };
                req.bearer(&t.root)
                    .header("if-match", format!("\"{version}\""))
            })
            .collect();
        let method = reqs[0].method.clone();
        // A delete that lost may also find the connector gone already.
        let (ok, loser): (&str, &[&str]) = if n == 0 {
            ("200", &["412"])
        } else {
            ("204", &["412", "404"])
        };
        let replies = t.api.send_all(reqs, 10).await;
        let counts = statuses(&replies);
        let losers: usize = loser
            .iter()
            .map(|s| counts.get(*s).copied().unwrap_or(0))
            .sum();
        if counts.get(ok) != Some(&1) || losers != 9 {
            faults.push(format!(
                "10 x {method} /connectors/{{id}} under If-Match {version} answered {counts:?} (want 1 x {ok}, 9 x {loser:?}), e.g. {}",
                example(&replies, &[200, 204, 404, 412])
            ));
        }
    }
    report("connector changes under one If-Match", &faults);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_connector_changes_without_if_match_all_apply_and_deletes_have_one_winner() {
    let (_env, t) = setup().await;
    let mut faults = Vec::new();
    let ids = fresh_connectors(&t, "unconditional", 2).await;

    // Without If-Match, every change applies on the current version (API.md "Concurrency"):
    // none is refused because another landed first, and 412 is for a stale If-Match only.
    let id = &ids[0];
    let replies = t
        .api
        .send_all(
            (0..10)
                .map(|i| {
                    let body = if i % 2 == 0 {
                        json!({"name": format!("unconditional writer {i}")})
                    } else {
                        json!({"state": "paused"})
                    };
                    Req::new("PUT", format!("/connectors/{id}"))
                        .bearer(&t.root)
                        .json(body)
                })
                .collect(),
            10,
        )
        .await;
    let counts = statuses(&replies);
    if counts.get("200") != Some(&10) {
        faults.push(format!(
            "10 concurrent PUT /connectors/{{id}} without If-Match answered {counts:?} (want 10 x 200), e.g. {}",
            example(&replies, &[200])
        ));
    }
    let after = get(&t.api, &t.root, &format!("/connectors/{id}"))
        .await
        .body;
    let renamed = after["name"]
        .as_str()
        .unwrap()
        .starts_with("unconditional writer");
    if after["state"] != "paused" || !renamed {
        faults.push(format!(
            "after 10 unconditional PUTs (5 renames, 5 pauses) the connector is {after}"
        ));
    }

    // Racing deletes of one connector: one winner; the others find nothing to delete.
    let doomed = &ids[1];
    let replies = t
        .api
        .send_all(
            (0..10)
                .map(|_| Req::new("DELETE", format!("/connectors/{doomed}")).bearer(&t.root))
                .collect(),
            10,
        )
        .await;
    let counts = statuses(&replies);
    let losers = counts.get("404").copied().unwrap_or(0) + counts.get("409").copied().unwrap_or(0);
    if counts.get("204") != Some(&1) || losers != 9 {
        faults.push(format!(
            "10 concurrent DELETE /connectors/{{id}} without If-Match answered {counts:?} (want 1 x 204, 9 x 404 or 409), e.g. {}",
            example(&replies, &[204, 404, 409])
        ));
    }
    let gone = t
        .api
        .send(&Req::new("GET", format!("/connectors/{doomed}")).bearer(&t.root))
        .await
        .map(|r| r.status);
    if gone != Ok(404) {
        faults.push(format!("after the deletes, GET answers {gone:?}"));
    }
    report("connector changes without If-Match", &faults);
}
