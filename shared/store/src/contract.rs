//! The contract every backend passes: the same cases run against the embedded store and
//! against DynamoDB Local. Use [`backend_contract_tests!`](crate::backend_contract_tests) with
//! an async factory that returns a fresh, empty backend.

use std::sync::Arc;

use attest_domain::event::{Event, EventType, Subject};
use attest_domain::group::{AssessmentGroup, GroupName};
use attest_domain::ids::{GroupId, TenantId};
use serde_json::json;

use crate::backend::*;
use crate::{Store, StoreError};

fn item(pk: &str, sk: &str, version: u64, body: serde_json::Value) -> Item {
    Item {
        key: Key::new(pk, sk),
        version,
        body,
    }
}

fn put(item: Item, condition: Condition) -> WriteOp {
    WriteOp::Put { item, condition }
}

pub async fn put_then_get_returns_the_item(b: Arc<dyn Backend>) {
    let it = item(
        "p",
        "a",
        1,
        json!({"name": "Ä ✓", "n": 3, "list": [1, null, true]}),
    );
    b.write(vec![put(it.clone(), Condition::NotExists)])
        .await
        .unwrap();
    assert_eq!(b.get(&Key::new("p", "a")).await.unwrap(), Some(it));
    assert_eq!(b.get(&Key::new("p", "b")).await.unwrap(), None);
    assert_eq!(b.get(&Key::new("q", "a")).await.unwrap(), None);
}

pub async fn conditional_writes_refuse_and_keep_what_is_stored(b: Arc<dyn Backend>) {
    let first = item("p", "a", 1, json!({"v": "first"}));
    b.write(vec![put(first.clone(), Condition::NotExists)])
        .await
        .unwrap();
    let err = b
        .write(vec![put(
            item("p", "a", 1, json!({"v": "second"})),
            Condition::NotExists,
        )])
        .await
        .unwrap_err();
    assert_eq!(err, BackendError::ConditionFailed { index: 0 });
    assert_eq!(b.get(&first.key).await.unwrap(), Some(first.clone()));

    // Versioned update: the right version wins once, a stale one is refused.
    let second = item("p", "a", 2, json!({"v": "second"}));
    b.write(vec![put(second.clone(), Condition::Version(1))])
        .await
        .unwrap();
    let stale = b
        .write(vec![put(
            item("p", "a", 2, json!({"v": "lost"})),
            Condition::Version(1),
        )])
        .await
        .unwrap_err();
    assert_eq!(stale, BackendError::ConditionFailed { index: 0 });
    assert_eq!(b.get(&first.key).await.unwrap(), Some(second));

    // Version conditions on a missing item fail; Exists guards deletes.
    let missing = b
        .write(vec![put(
            item("p", "zz", 2, json!({})),
            Condition::Version(1),
        )])
        .await
        .unwrap_err();
    assert_eq!(missing, BackendError::ConditionFailed { index: 0 });
    assert_eq!(b.get(&Key::new("p", "zz")).await.unwrap(), None);
    let del = b
        .write(vec![WriteOp::Delete {
            key: Key::new("p", "zz"),
            condition: Condition::Exists,
        }])
        .await
        .unwrap_err();
    assert_eq!(del, BackendError::ConditionFailed { index: 0 });
    b.write(vec![WriteOp::Delete {
        key: first.key.clone(),
        condition: Condition::Version(2),
    }])
    .await
    .unwrap();
    assert_eq!(b.get(&first.key).await.unwrap(), None);
}

pub async fn a_failed_transaction_writes_nothing(b: Arc<dyn Backend>) {
    let existing = item("p", "b", 1, json!({"keep": true}));
    let doomed = item("p", "d", 1, json!({"gone": true}));
    b.write(vec![
        put(existing.clone(), Condition::NotExists),
        put(doomed.clone(), Condition::NotExists),
    ])
    .await
    .unwrap();
    let err = b
        .write(vec![
            put(
                item("p", "a", 1, json!({"new": true})),
                Condition::NotExists,
            ),
            WriteOp::Delete {
                key: doomed.key.clone(),
                condition: Condition::Always,
            },
            put(
                item("p", "b", 1, json!({"overwritten": true})),
                Condition::NotExists,
            ),
        ])
        .await
        .unwrap_err();
    assert_eq!(err, BackendError::ConditionFailed { index: 2 });
    assert_eq!(
        b.get(&Key::new("p", "a")).await.unwrap(),
        None,
        "first put rolled back"
    );
    assert_eq!(
        b.get(&doomed.key).await.unwrap(),
        Some(doomed.clone()),
        "delete rolled back"
    );
    assert_eq!(b.get(&existing.key).await.unwrap(), Some(existing.clone()));

    // A check that fails cancels the writes beside it.
    let err = b
        .write(vec![
            put(item("p", "c", 1, json!({})), Condition::NotExists),
            WriteOp::Check {
                key: existing.key.clone(),
                condition: Condition::Version(7),
            },
        ])
        .await
        .unwrap_err();
    assert_eq!(err, BackendError::ConditionFailed { index: 1 });
    assert_eq!(b.get(&Key::new("p", "c")).await.unwrap(), None);

    // More than 100 operations or a key twice: refused whole.
    let many: Vec<_> = (0..101)
        .map(|i| {
            put(
                item("p", &format!("m{i:03}"), 1, json!({})),
                Condition::Always,
            )
        })
        .collect();
    assert!(matches!(
        b.write(many).await,
        Err(BackendError::InvalidWrite(_))
    ));
    assert_eq!(b.get(&Key::new("p", "m000")).await.unwrap(), None);
    let twice = vec![
        put(item("p", "t", 1, json!({})), Condition::Always),
        put(item("p", "t", 1, json!({})), Condition::Always),
    ];
    assert!(matches!(
        b.write(twice).await,
        Err(BackendError::InvalidWrite(_))
    ));

    // And 100 operations succeed together.
    let hundred: Vec<_> = (0..100)
        .map(|i| {
            put(
                item("p", &format!("m{i:03}"), 1, json!({})),
                Condition::NotExists,
            )
        })
        .collect();
    b.write(hundred).await.unwrap();
    assert!(b.get(&Key::new("p", "m099")).await.unwrap().is_some());
}

pub async fn concurrent_writers_lose_no_update(b: Arc<dyn Backend>) {
    let key = Key::new("p", "counter");
    b.write(vec![put(
        item("p", "counter", 1, json!({"n": 0})),
        Condition::NotExists,
    )])
    .await
    .unwrap();
    let writers = 8;
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let b = b.clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0;
            loop {
                let cur = b.get(&key).await.unwrap().unwrap();
                let n = cur.body["n"].as_u64().unwrap();
                let next = Item {
                    key: key.clone(),
                    version: cur.version + 1,
                    body: json!({"n": n + 1}),
                };
                match b
                    .write(vec![put(next, Condition::Version(cur.version))])
                    .await
                {
                    Ok(()) => return conflicts,
                    Err(BackendError::ConditionFailed { .. })
                    | Err(BackendError::TransactionConflict) => conflicts += 1,
                    Err(e) => panic!("{e}"),
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let last = b.get(&key).await.unwrap().unwrap();
    assert_eq!(last.body["n"], json!(writers));
    assert_eq!(last.version, 1 + writers);
}

pub async fn get_many_reads_in_order_past_one_batch(b: Arc<dyn Backend>) {
    let items: Vec<Item> = (0..150)
        .map(|i| Item {
            key: Key::new(format!("p{}", i % 3), format!("s{i:03}")),
            version: 1,
            body: json!({ "i": i }),
        })
        .collect();
    for chunk in items.chunks(MAX_TRANSACTION_OPS) {
        b.write(
            chunk
                .iter()
                .map(|item| WriteOp::Put {
                    item: item.clone(),
                    condition: Condition::Always,
                })
                .collect(),
        )
        .await
        .unwrap();
    }
    // Present and missing keys, out of order, one twice: 230 keys in all.
    let mut keys: Vec<Key> = items.iter().rev().map(|i| i.key.clone()).collect();
    keys.extend((0..79).map(|i| Key::new("p0", format!("missing{i}"))));
    keys.push(items[7].key.clone());
    let got = b.get_many(&keys).await.unwrap();
    assert_eq!(got.len(), keys.len());
    for (key, found) in keys.iter().zip(&got) {
        match found {
            Some(item) => assert_eq!(&item.key, key),
            None => assert!(key.sk.starts_with("missing"), "{key:?} not found"),
        }
    }
    assert_eq!(got[0].as_ref().unwrap().body, json!({"i": 149}));
    assert_eq!(got.last().unwrap().as_ref().unwrap().body, json!({"i": 7}));
    assert!(b.get_many(&[]).await.unwrap().is_empty());
}

pub async fn queries_select_by_prefix_in_order_and_page(b: Arc<dyn Backend>) {
    let mut ops = Vec::new();
    for sk in ["b#2", "a#1", "b#1", "b#3", "c#1", "b"] {
        ops.push(put(
            item("p", sk, 1, json!({"sk": sk})),
            Condition::NotExists,
        ));
    }
    ops.push(put(
        item("other", "b#9", 1, json!({})),
        Condition::NotExists,
    ));
    b.write(ops).await.unwrap();
    let sks = |page: &Page| {
        page.items
            .iter()
            .map(|i| i.key.sk.clone())
            .collect::<Vec<_>>()
    };

    let all = b.query(&Query::prefix("p", "b#")).await.unwrap();
    assert_eq!(sks(&all), ["b#1", "b#2", "b#3"]);
    assert_eq!(all.next, None);

    let everything = b.query(&Query::prefix("p", "")).await.unwrap();
    assert_eq!(sks(&everything), ["a#1", "b", "b#1", "b#2", "b#3", "c#1"]);

    let mut q = Query::prefix("p", "b#");
    q.limit = Some(2);
    let first = b.query(&q).await.unwrap();
    assert_eq!(sks(&first), ["b#1", "b#2"]);
    q.after = first.next.clone();
    assert!(q.after.is_some());
    let second = b.query(&q).await.unwrap();
    assert_eq!(sks(&second), ["b#3"]);

    let mut desc = Query::prefix("p", "b#");
    desc.descending = true;
    desc.limit = Some(2);
    let d1 = b.query(&desc).await.unwrap();
    assert_eq!(sks(&d1), ["b#3", "b#2"]);
    desc.after = d1.next;
    let d2 = b.query(&desc).await.unwrap();
    assert_eq!(sks(&d2), ["b#1"]);

    assert!(b
        .query(&Query::prefix("nobody", ""))
        .await
        .unwrap()
        .items
        .is_empty());
}

pub async fn queries_page_past_one_megabyte(b: Arc<dyn Backend>) {
    // 12 items of ~150 KB: about 1.8 MB in one partition, more than one 1 MB page.
    let blob = "x".repeat(150 * 1024);
    for chunk in (0..12).collect::<Vec<u32>>().chunks(4) {
        let ops = chunk
            .iter()
            .map(|i| {
                put(
                    item("big", &format!("i{i:02}"), 1, json!({"i": i, "blob": blob})),
                    Condition::NotExists,
                )
            })
            .collect();
        b.write(ops).await.unwrap();
    }
    let mut q = Query::prefix("big", "i");
    let mut pages = 0;
    let mut seen = Vec::new();
    loop {
        let page = b.query(&q).await.unwrap();
        pages += 1;
        let bytes: usize = page.items.iter().map(Item::size).sum();
        assert!(
            bytes <= MAX_PAGE_BYTES + 200 * 1024,
            "a page holds about 1 MB, got {bytes}"
        );
        seen.extend(page.items.iter().map(|i| i.body["i"].as_u64().unwrap()));
        match page.next {
            Some(n) => q.after = Some(n),
            None => break,
        }
        assert!(pages < 20, "pagination does not end");
    }
    assert!(pages >= 2, "expected more than one page, got {pages}");
    assert_eq!(seen, (0..12).collect::<Vec<u64>>());
}

fn group(name: &str) -> AssessmentGroup {
    AssessmentGroup {
        id: GroupId::parse(attest_domain::ids::new_id()).unwrap(),
        name: GroupName::parse(name).unwrap(),
        created_at: chrono::Utc::now(),
        created_by: "tester".into(),
    }
}

fn renamed_event(old: &AssessmentGroup, new: &AssessmentGroup) -> Event {
    Event::new(
        &TenantId::parse("acme").unwrap(),
        EventType::GroupRenamed,
        chrono::Utc::now(),
        Some("tester"),
        Subject::new("group", new.id.as_str()),
        json!({"old": old.name.as_str(), "new": new.name.as_str()}),
    )
}

fn event(tenant: &TenantId, kind: EventType, subject: &str) -> Event {
    Event::new(
        tenant,
        kind,
        chrono::Utc::now(),
        Some("tester"),
        Subject::new("group", subject),
        json!({}),
    )
}

/// Every change writes its events in its own transaction: a change that fails writes none, a
/// committed one has all of them in the tenant's log (oldest first, after a cursor, by type)
/// and in the outbox until they are delivered.
pub async fn events_land_with_their_change_and_only_with_it(b: Arc<dyn Backend>) {
    let store = Store::new(b);
    let acme = TenantId::parse("acme").unwrap();
    let other = TenantId::parse("other").unwrap();
    let europe = group("Europe");
    let created = event(&acme, EventType::GroupCreated, europe.id.as_str());
    store
        .create_group(
            &acme,
            crate::groups::NewGroup {
                group: &europe,
                copy_from: None,
            },
            std::slice::from_ref(&created),
        )
        .await
        .unwrap();
    // The same name again: refused, and its event is nowhere.
    let refused = event(&acme, EventType::GroupCreated, "refused");
    let err = store
        .create_group(
            &acme,
            crate::groups::NewGroup {
                group: &group("europe"),
                copy_from: None,
            },
            std::slice::from_ref(&refused),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    let renamed = store
        .rename_group(
            &acme,
            &europe.id,
            GroupName::parse("EMEA").unwrap(),
            None,
            &renamed_event,
        )
        .await
        .unwrap();
    assert_eq!(renamed.value.name.as_str(), "EMEA");
    let elsewhere = event(&other, EventType::GroupCreated, "x");
    store
        .record_events(std::slice::from_ref(&elsewhere))
        .await
        .unwrap();

    let log = store.list_events(&acme, None, None, 10).await.unwrap();
    let kinds: Vec<EventType> = log.events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventType::GroupCreated, EventType::GroupRenamed]);
    // Stored as described, with the id drawn when the change was sent.
    assert_eq!(
        Event {
            id: created.id.clone(),
            ..log.events[0].clone()
        },
        created
    );
    let created_id = log.events[0].id.clone();
    assert_eq!(log.events[1].data["old"], "Europe");
    assert!(log.events.iter().all(|e| e.subject != refused.subject));
    let after = store
        .list_events(&acme, Some(&created_id), None, 10)
        .await
        .unwrap();
    assert_eq!(after.events, log.events[1..]);
    let only = store
        .list_events(&acme, None, Some(EventType::GroupRenamed), 10)
        .await
        .unwrap();
    assert_eq!(only.events, log.events[1..]);
    let first = store.list_events(&acme, None, None, 1).await.unwrap();
    assert_eq!(first.next.as_deref(), Some(created_id.as_str()));

    let outbox = store.outbox(100).await.unwrap();
    let ids: Vec<&str> = outbox.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    for e in &log.events {
        assert!(ids.contains(&e.id.as_str()), "{} is in the outbox", e.id);
    }
    assert!(outbox.iter().any(|e| e.tenant == elsewhere.tenant));
    let delivered: Vec<String> = outbox.iter().map(|e| e.id.clone()).collect();
    store.remove_from_outbox(&delivered).await.unwrap();
    assert!(store.outbox(100).await.unwrap().is_empty());
    assert_eq!(
        store
            .list_events(&acme, None, None, 10)
            .await
            .unwrap()
            .events,
        log.events,
        "delivered events stay in the log"
    );
    // A consumer claims an event once.
    assert!(store.claim_event(&acme, "score", &created).await.unwrap());
    assert!(!store.claim_event(&acme, "score", &created).await.unwrap());
    assert!(store.claim_event(&acme, "alerts", &created).await.unwrap());
}

pub async fn group_names_are_unique_per_tenant_without_case(b: Arc<dyn Backend>) {
    let store = Store::new(b);
    let acme = TenantId::parse("acme").unwrap();
    let globex = TenantId::parse("globex").unwrap();
    let europe = store
        .create_group(
            &acme,
            crate::groups::NewGroup {
                group: &group("Europe"),
                copy_from: None,
            },
            &[],
        )
        .await
        .unwrap();
    assert_eq!(europe.version, 1);
    let dup = store
        .create_group(
            &acme,
            crate::groups::NewGroup {
                group: &group("EUROPE"),
                copy_from: None,
            },
            &[],
        )
        .await
        .unwrap_err();
    assert!(matches!(dup, StoreError::Conflict(_)), "{dup}");
    // Another tenant may use the name and sees none of acme's groups.
    store
        .create_group(
            &globex,
            crate::groups::NewGroup {
                group: &group("europe"),
                copy_from: None,
            },
            &[],
        )
        .await
        .unwrap();
    store
        .create_group(
            &acme,
            crate::groups::NewGroup {
                group: &group("americas"),
                copy_from: None,
            },
            &[],
        )
        .await
        .unwrap();
    let names = |gs: Vec<crate::Versioned<AssessmentGroup>>| {
        gs.into_iter()
            .map(|g| g.value.name.as_str().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(store.list_groups(&acme).await.unwrap()),
        ["americas", "Europe"]
    );
    assert_eq!(names(store.list_groups(&globex).await.unwrap()), ["europe"]);
    assert!(matches!(
        store.get_group(&globex, &europe.value.id).await,
        Err(StoreError::NotFound(_))
    ));

    // Renaming frees the old name and takes the new one; a taken name is refused.
    let id = europe.value.id.clone();
    let renamed = store
        .rename_group(
            &acme,
            &id,
            GroupName::parse("EMEA").unwrap(),
            Some(1),
            &renamed_event,
        )
        .await
        .unwrap();
    assert_eq!(renamed.version, 2);
    store
        .create_group(
            &acme,
            crate::groups::NewGroup {
                group: &group("europe"),
                copy_from: None,
            },
            &[],
        )
        .await
        .unwrap();
    let taken = store
        .rename_group(
            &acme,
            &id,
            GroupName::parse("Americas").unwrap(),
            None,
            &renamed_event,
        )
        .await
        .unwrap_err();
    assert!(matches!(taken, StoreError::Conflict(_)), "{taken}");
    assert_eq!(
        store.get_group(&acme, &id).await.unwrap(),
        renamed,
        "refused rename changed nothing"
    );
    // A case-only rename keeps its own lock.
    let emea = store
        .rename_group(
            &acme,
            &id,
            GroupName::parse("emea").unwrap(),
            None,
            &renamed_event,
        )
        .await
        .unwrap();
    assert_eq!(emea.value.name.as_str(), "emea");
    // A stale version changes nothing.
    let stale = store
        .rename_group(
            &acme,
            &id,
            GroupName::parse("Asia").unwrap(),
            Some(1),
            &renamed_event,
        )
        .await
        .unwrap_err();
    assert_eq!(
        stale,
        StoreError::StaleVersion {
            expected: 1,
            current: 3
        }
    );
    assert_eq!(
        store
            .get_group(&acme, &id)
            .await
            .unwrap()
            .value
            .name
            .as_str(),
        "emea"
    );
    store
        .create_group(
            &acme,
            crate::groups::NewGroup {
                group: &group("Asia"),
                copy_from: None,
            },
            &[],
        )
        .await
        .unwrap();
}

pub async fn instance_updates_are_versioned_with_their_history(b: Arc<dyn Backend>) {
    use crate::instances::InstanceUpdate;
    use attest_domain::action::{ActionStatus, InstanceRef, InstanceScope};
    use attest_domain::history::{HistoryEntry, Source};
    use attest_domain::ids::ActionId;
    use attest_domain::vocab::TestingType;
    let store = Store::new(b);
    let acme = TenantId::parse("acme").unwrap();
    let group = GroupId::parse("g1").unwrap();
    let inst = InstanceRef {
        action: ActionId::parse("policy").unwrap(),
        scope: InstanceScope::Group(group.clone()),
    };
    let tech = InstanceRef {
        action: ActionId::parse("mfa").unwrap(),
        scope: InstanceScope::Tenant,
    };
    let at = chrono::Utc::now();
    let entry = |field: &str, new: &str| HistoryEntry {
        at,
        by: Some("ada".into()),
        field: field.into(),
        old: serde_json::Value::Null,
        new: json!(new),
        source: Source::Manual,
    };
    let mut status = ActionStatus::blank(TestingType::Manual, 1);
    status.owner = Some("ada".into());
    let first = InstanceUpdate {
        instance: inst.clone(),
        expected_version: 0,
        status: status.clone(),
        history: vec![entry("owner", "ada")],
    };
    let other = InstanceUpdate {
        instance: tech.clone(),
        expected_version: 0,
        status: status.clone(),
        history: vec![],
    };
    assert_eq!(
        store
            .update_instances(&acme, &[first.clone(), other], &[])
            .await
            .unwrap(),
        vec![1, 1]
    );
    // The same change again is stale: the instance exists now.
    let err = store
        .update_instances(&acme, &[first], &[])
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::StaleVersion {
            expected: 0,
            current: 1
        }
    );
    status.owner = Some("bob".into());
    let at = chrono::Utc::now() + chrono::Duration::milliseconds(1);
    let entry = |field: &str, new: &str| HistoryEntry {
        at,
        by: Some("ada".into()),
        field: field.into(),
        old: serde_json::Value::Null,
        new: json!(new),
        source: Source::Manual,
    };
    let second = InstanceUpdate {
        instance: inst.clone(),
        expected_version: 1,
        status: status.clone(),
        history: vec![entry("owner", "bob"), entry("test_notes", "x")],
    };
    store.update_instances(&acme, &[second], &[]).await.unwrap();
    let got = store.get_instance(&acme, &inst).await.unwrap().unwrap();
    assert_eq!((got.version, got.value.owner.as_deref()), (2, Some("bob")));
    let history = store.list_history(&acme, &inst, 10).await.unwrap();
    let fields: Vec<&str> = history.iter().map(|h| h.field.as_str()).collect();
    assert_eq!(
        fields,
        ["owner", "test_notes", "owner"],
        "newest change first, its fields in order"
    );
    assert_eq!(store.list_history(&acme, &inst, 2).await.unwrap().len(), 2);
    // A third change at the very same instant as the second keeps both changes' entries.
    status.owner = Some("cy".into());
    let third = InstanceUpdate {
        instance: inst.clone(),
        expected_version: 2,
        status: status.clone(),
        history: vec![entry("owner", "cy"), entry("test_notes", "y")],
    };
    store.update_instances(&acme, &[third], &[]).await.unwrap();
    let history = store.list_history(&acme, &inst, 10).await.unwrap();
    assert_eq!(history.len(), 5, "{history:?}");
    let news: Vec<_> = history.iter().map(|h| h.new.clone()).collect();
    assert!(news.contains(&json!("bob")) && news.contains(&json!("cy")));
    // Since an instant: the entries after it only, newest first.
    let first_at = history[4].at;
    let since = store
        .list_history_since(&acme, &inst, first_at)
        .await
        .unwrap();
    assert_eq!(since, history[..4], "the later two changes");
    let all = store
        .list_history_since(&acme, &inst, first_at - chrono::Duration::milliseconds(1))
        .await
        .unwrap();
    assert_eq!(all, history);
    assert!(store
        .list_history_since(&acme, &inst, at)
        .await
        .unwrap()
        .is_empty());
    let seen = store.list_instances_for_group(&acme, &group).await.unwrap();
    assert_eq!(
        seen.len(),
        2,
        "the group sees its own and the tenant-wide instances"
    );
    assert!(store
        .list_instances_for_group(&acme, &GroupId::parse("g2").unwrap())
        .await
        .unwrap()
        .contains_key(&tech));
    assert!(store
        .list_instances(&TenantId::parse("globex").unwrap())
        .await
        .unwrap()
        .is_empty());
}

pub async fn assessments_keep_one_per_regulation_and_service_in_a_group(b: Arc<dyn Backend>) {
    use attest_domain::assessment::Assessment;
    use attest_domain::ids::{AssessmentId, RegulationId};
    let store = Store::new(b);
    let acme = TenantId::parse("acme").unwrap();
    let g = store
        .create_group(
            &acme,
            crate::groups::NewGroup {
                group: &group("Europe"),
                copy_from: None,
            },
            &[],
        )
        .await
        .unwrap()
        .value;
    let assessment = |id: &str, group: &GroupId, services: &[&str]| Assessment {
        id: AssessmentId::parse(id).unwrap(),
        name: id.into(),
        group_id: group.clone(),
        regulation_id: RegulationId::parse("gdpr").unwrap(),
        services: services.iter().map(|s| s.to_string()).collect(),
        created_at: chrono::Utc::now(),
        connectors: None,
        archived_at: None,
    };
    let a1 = store
        .create_assessment(
            &acme,
            &assessment("a1", &g.id, &["aws", "zoom"]),
            None,
            &[],
            &[],
        )
        .await
        .unwrap();
    let dup = store
        .create_assessment(
            &acme,
            &assessment("a2", &g.id, &["slack", "zoom"]),
            None,
            &[],
            &[],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(dup, StoreError::Conflict(ref m) if m.contains("zoom")),
        "{dup}"
    );
    assert!(matches!(
        store
            .get_assessment(&acme, &AssessmentId::parse("a2").unwrap())
            .await,
        Err(StoreError::NotFound(_))
    ));
    let missing = store
        .create_assessment(
            &acme,
            &assessment("a3", &GroupId::parse("nope").unwrap(), &["aws"]),
            None,
            &[],
            &[],
        )
        .await
        .unwrap_err();
    assert!(matches!(missing, StoreError::NotFound(_)));
    // A new group and its first assessment land together or not at all.
    let fresh = group("EUROPE");
    let taken = store
        .create_assessment(
            &acme,
            &assessment("a5", &fresh.id, &["aws"]),
            Some(crate::groups::NewGroup {
                group: &fresh,
                copy_from: None,
            }),
            &[],
            &[],
        )
        .await
        .unwrap_err();
    assert!(matches!(taken, StoreError::Conflict(_)), "{taken:?}");
    assert!(store.get_group(&acme, &fresh.id).await.is_err());
    assert!(store
        .get_assessment(&acme, &AssessmentId::parse("a5").unwrap())
        .await
        .is_err());
    let fresh = group("Fresh");
    let a5 = store
        .create_assessment(
            &acme,
            &assessment("a5", &fresh.id, &["aws"]),
            Some(crate::groups::NewGroup {
                group: &fresh,
                copy_from: None,
            }),
            &[],
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .get_group(&acme, &fresh.id)
            .await
            .unwrap()
            .value
            .name
            .as_str(),
        "Fresh"
    );
    store.delete_assessment(&acme, &a5, &[], &[]).await.unwrap();
    // Archiving freezes a snapshot larger than one item and frees the pairs.
    let snapshot = json!({"controls": "y".repeat(700 * 1024), "n": 1});
    let archived = store
        .archive_assessment(
            &acme,
            &a1,
            crate::assessments::Archive {
                at: chrono::Utc::now(),
                snapshot: &snapshot,
                usages: &[],
                evidence: &[],
                events: &[],
            },
        )
        .await
        .unwrap();
    assert!(archived.value.is_archived());
    assert_eq!(
        store.get_snapshot(&acme, &a1.value.id).await.unwrap(),
        snapshot
    );
    assert!(matches!(
        store
            .archive_assessment(
                &acme,
                &archived,
                crate::assessments::Archive {
                    at: chrono::Utc::now(),
                    snapshot: &snapshot,
                    usages: &[],
                    evidence: &[],
                    events: &[]
                }
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
    let a2 = store
        .create_assessment(&acme, &assessment("a2", &g.id, &["zoom"]), None, &[], &[])
        .await
        .unwrap();
    assert_eq!(store.list_assessments(&acme).await.unwrap().len(), 2);
    store
        .delete_assessment(&acme, &archived, &[], &[])
        .await
        .unwrap();
    store.delete_assessment(&acme, &a2, &[], &[]).await.unwrap();
    assert!(store.list_assessments(&acme).await.unwrap().is_empty());
    store
        .create_assessment(&acme, &assessment("a4", &g.id, &["zoom"]), None, &[], &[])
        .await
        .unwrap();
}

pub async fn regulations_larger_than_an_item_round_trip(b: Arc<dyn Backend>) {
    use attest_domain::ids::{ActionId, RegulationId};
    use attest_domain::regulation::{Control, Family, Regulation};
    let store = Store::new(b);
    let acme = TenantId::parse("acme").unwrap();
    let prose = "z".repeat(3000);
    let regulation = Regulation {
        id: RegulationId::parse("big").unwrap(),
        name: "Big".into(),
        source: "test".into(),
        families: (0..4)
            .map(|f| Family {
                id: format!("F{f}"),
                title: format!("Family {f}"),
                controls: (0..150)
                    .map(|c| Control {
                        id: format!("{f}.{c}"),
                        title: "t".into(),
                        description: prose.clone(),
                        actions: vec![ActionId::parse(format!("big.{f}-{c}")).unwrap()],
                    })
                    .collect(),
            })
            .collect(),
    };
    let generated: Vec<_> = regulation
        .controls()
        .map(|c| attest_library_like_action(c.actions[0].clone()))
        .collect();
    let header = store
        .put_regulation(&acme, &regulation, &generated, "ada", &[])
        .await
        .unwrap();
    assert!(header.parts >= 6, "{} parts for ~1.8 MB", header.parts);
    assert_eq!(
        store.get_regulation(&acme, &regulation.id).await.unwrap(),
        regulation
    );
    assert_eq!(store.list_action_defs(&acme).await.unwrap().len(), 600);
    assert!(matches!(
        store
            .put_regulation(&acme, &regulation, &[], "ada", &[])
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .get_regulation(&TenantId::parse("globex").unwrap(), &regulation.id)
            .await,
        Err(StoreError::NotFound(_))
    ));
}

fn small_regulation(
    id: &str,
    writer: usize,
) -> (
    attest_domain::regulation::Regulation,
    Vec<attest_domain::regulation::ImprovementAction>,
) {
    use attest_domain::ids::{ActionId, RegulationId};
    use attest_domain::regulation::{Control, Family, Regulation};
    let controls: Vec<Control> = (0..=writer % 4)
        .map(|c| Control {
            id: format!("w{writer}-{c}"),
            title: format!("Writer {writer} control {c}"),
            description: "x".repeat(250 * 1024 * (c % 2)),
            actions: vec![ActionId::parse(format!("{id}.w{writer}-{c}")).unwrap()],
        })
        .collect();
    let generated = controls
        .iter()
        .map(|c| attest_library_like_action(c.actions[0].clone()))
        .collect();
    let regulation = Regulation {
        id: RegulationId::parse(id).unwrap(),
        name: format!("Writer {writer}"),
        source: "test".into(),
        families: vec![Family {
            id: format!("F{writer}"),
            title: "F".into(),
            controls,
        }],
    };
    (regulation, generated)
}

/// The generated actions stored for regulation `id`.
async fn stored_generated(store: &Store, tenant: &TenantId, id: &str) -> Vec<String> {
    let mut ids: Vec<String> = store
        .list_action_defs(tenant)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id.to_string())
        .filter(|a| a.starts_with(&format!("{id}.")))
        .collect();
    ids.sort();
    ids
}

pub async fn concurrent_creates_of_one_regulation_store_only_the_winner(b: Arc<dyn Backend>) {
    let store = Store::new(b);
    let acme = TenantId::parse("acme").unwrap();
    for round in 0..5 {
        let id = format!("race-{round}");
        let writers: Vec<_> = (0..10)
            .map(|w| {
                let store = store.clone();
                let acme = acme.clone();
                let (regulation, generated) = small_regulation(&id, w);
                tokio::spawn(async move {
                    let r = store
                        .put_regulation(&acme, &regulation, &generated, "ada", &[])
                        .await;
                    (r, regulation, generated)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for w in writers {
            let (r, regulation, generated) = w.await.unwrap();
            match r {
                Ok(_) => winners.push((regulation, generated)),
                Err(StoreError::Conflict(_)) => {}
                Err(e) => panic!("round {round}: {e:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: exactly one writer wins");
        let (regulation, generated) = &winners[0];
        assert_eq!(
            &store.get_regulation(&acme, &regulation.id).await.unwrap(),
            regulation,
            "round {round}: the stored regulation is the winner's, whole"
        );
        let mut want: Vec<String> = generated.iter().map(|a| a.id.to_string()).collect();
        want.sort();
        assert_eq!(stored_generated(&store, &acme, &id).await, want);
    }
}

pub async fn a_dead_writers_claim_is_taken_over_and_its_leftovers_removed(b: Arc<dyn Backend>) {
    let store = Store::new(b);
    let acme = TenantId::parse("acme").unwrap();
    let (dead, dead_generated) = small_regulation("orphan", 3);
    // A writer claimed the id, wrote parts and actions, and died before the header.
    let stale = chrono::Utc::now() - crate::regulations::CLAIM_TTL - chrono::TimeDelta::minutes(1);
    let mut ops = vec![WriteOp::Put {
        item: Item {
            key: crate::keys::regulation_claim(&acme, &dead.id),
            version: 1,
            body: json!({"writer": "dead", "at": stale}),
        },
        condition: Condition::NotExists,
    }];
    for (i, a) in dead_generated.iter().enumerate() {
        ops.push(WriteOp::Put {
            item: crate::record::encode(crate::keys::action_def(&acme, &a.id), 1, a),
            condition: Condition::Always,
        });
        ops.push(WriteOp::Put {
            item: Item {
                key: Key::new(
                    crate::keys::regulation_parts(&acme, &dead.id),
                    format!("{i:04}"),
                ),
                version: 1,
                body: json!({"families": []}),
            },
            condition: Condition::Always,
        });
    }
    store.backend().write(ops).await.unwrap();
    assert!(store.get_regulation(&acme, &dead.id).await.is_err());
    let (fresh, generated) = small_regulation("orphan", 0);
    store
        .put_regulation(&acme, &fresh, &generated, "ada", &[])
        .await
        .unwrap();
    assert_eq!(store.get_regulation(&acme, &fresh.id).await.unwrap(), fresh);
    assert_eq!(
        stored_generated(&store, &acme, "orphan").await,
        vec!["orphan.w0-0".to_string()]
    );
    // A claim that is still fresh is respected: 409, nothing written.
    let (other, other_generated) = small_regulation("busy", 1);
    store
        .backend()
        .write(vec![WriteOp::Put {
            item: Item {
                key: crate::keys::regulation_claim(&acme, &other.id),
                version: 1,
                body: json!({"writer": "alive", "at": chrono::Utc::now()}),
            },
            condition: Condition::NotExists,
        }])
        .await
        .unwrap();
    assert!(matches!(
        store
            .put_regulation(&acme, &other, &other_generated, "ada", &[])
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(stored_generated(&store, &acme, "busy").await.is_empty());
}

fn attest_library_like_action(
    id: attest_domain::ids::ActionId,
) -> attest_domain::regulation::ImprovementAction {
    use attest_domain::vocab::*;
    attest_domain::regulation::ImprovementAction {
        title: format!("Meet {id}"),
        id,
        guidance: String::new(),
        category: Category::ManageCompliance,
        action_type: ActionType::Documentation,
        control_type: ControlType::Preventive,
        enforcement: Enforcement::Discretionary,
        testing_type: TestingType::Manual,
        managed_by: ManagedBy::Customer,
        service: None,
    }
}

pub async fn the_usage_index_follows_assessments(b: Arc<dyn Backend>) {
    use crate::usage::Usage;
    use attest_domain::action::{InstanceRef, InstanceScope};
    use attest_domain::assessment::Assessment;
    use attest_domain::ids::{ActionId, AssessmentId, RegulationId};
    let store = Store::new(b);
    let acme = TenantId::parse("acme").unwrap();
    let g = group("Europe");
    let assessment = |id: &str| Assessment {
        id: AssessmentId::parse(id).unwrap(),
        name: format!("Assessment {id}"),
        group_id: g.id.clone(),
        regulation_id: RegulationId::parse(format!("reg-{id}")).unwrap(),
        services: vec!["aws".into()],
        created_at: chrono::Utc::now(),
        connectors: None,
        archived_at: None,
    };
    // 150 instances: more than one transaction holds.
    let usages = |a: &Assessment| -> Vec<Usage> {
        (0..150)
            .map(|i| Usage {
                action_id: ActionId::parse(format!("act-{i:03}")).unwrap(),
                scope: if i % 2 == 0 {
                    InstanceScope::Tenant
                } else {
                    InstanceScope::Group(g.id.clone())
                },
                assessment_id: a.id.clone(),
                assessment_name: a.name.clone(),
                regulation_id: a.regulation_id.clone(),
                group_id: a.group_id.clone(),
            })
            .collect()
    };
    let (a1, a2) = (assessment("a1"), assessment("a2"));
    let v1 = store
        .create_assessment(
            &acme,
            &a1,
            Some(crate::groups::NewGroup {
                group: &g,
                copy_from: None,
            }),
            &usages(&a1),
            &[],
        )
        .await
        .unwrap();
    store
        .create_assessment(&acme, &a2, None, &usages(&a2), &[])
        .await
        .unwrap();
    let shared = InstanceRef {
        action: ActionId::parse("act-004").unwrap(),
        scope: InstanceScope::Tenant,
    };
    let used: Vec<_> = store
        .usages_of(&acme, &shared)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.assessment_id.to_string())
        .collect();
    assert_eq!(used, ["a1", "a2"]);
    // The partition lists the instances in use in order, a page of at most 70 per query.
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let (page, next) = store.usage_page(&acme, after, 70).await.unwrap();
        assert!(page.len() <= 70);
        all.extend(page);
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    // One item per instance in use, each with both assessments, in instance order.
    assert_eq!(all.len(), 150);
    assert!(all.iter().all(|uses| uses.len() == 2));
    assert!(all.windows(2).all(|w| {
        crate::keys::instance_sk(&w[0][0].instance())
            < crate::keys::instance_sk(&w[1][0].instance())
    }));
    assert!(store
        .pending_usage_marks(&acme, chrono::Utc::now())
        .await
        .unwrap()
        .is_empty());
    // Archiving one assessment removes its uses, and only its.
    store
        .archive_assessment(
            &acme,
            &v1,
            crate::assessments::Archive {
                at: chrono::Utc::now(),
                snapshot: &json!({}),
                usages: &usages(&a1),
                evidence: &[],
                events: &[],
            },
        )
        .await
        .unwrap();
    let used: Vec<_> = store
        .usages_of(&acme, &shared)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.assessment_id.to_string())
        .collect();
    assert_eq!(used, ["a2"]);
    // A second archive (or a delete) of a1 that loses to the first leaves its uses off.
    assert!(matches!(
        store
            .archive_assessment(
                &acme,
                &v1,
                crate::assessments::Archive {
                    at: chrono::Utc::now(),
                    snapshot: &json!({}),
                    usages: &usages(&a1),
                    evidence: &[],
                    events: &[]
                }
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.delete_assessment(&acme, &v1, &usages(&a1), &[]).await,
        Err(StoreError::Conflict(_))
    ));
    let used: Vec<_> = store
        .usages_of(&acme, &shared)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.assessment_id.to_string())
        .collect();
    assert_eq!(
        used,
        ["a2"],
        "a lost race must not put an archive back in use"
    );
    for mark in store
        .pending_usage_marks(&acme, chrono::Utc::now())
        .await
        .unwrap()
    {
        store
            .clear_usage_mark(&acme, &mark.assessment_id)
            .await
            .unwrap();
    }
    // A writer that dies after marking leaves a marker for the mender to find.
    let a2v = store.get_assessment(&acme, &a2.id).await.unwrap();
    store
        .mark_usages(
            &acme,
            &a2.id,
            chrono::Utc::now() - chrono::TimeDelta::minutes(5),
        )
        .await
        .unwrap();
    let marks = store
        .pending_usage_marks(&acme, chrono::Utc::now() - chrono::TimeDelta::minutes(1))
        .await
        .unwrap();
    assert_eq!(marks.len(), 1);
    assert_eq!(marks[0].assessment_id, a2.id);
    store
        .delete_assessment(&acme, &a2v, &usages(&a2), &[])
        .await
        .unwrap();
    assert!(store.usages_of(&acme, &shared).await.unwrap().is_empty());
    assert!(store
        .pending_usage_marks(&acme, chrono::Utc::now())
        .await
        .unwrap()
        .is_empty());
}

pub async fn alert_policies_and_alerts_are_versioned_with_their_events(b: Arc<dyn Backend>) {
    use crate::alerts::AlertWrite;
    use attest_domain::alert::{Alert, AlertWindow, Counted, DEFAULT_SCORE_POLICY};
    let store = Store::new(b);
    let acme = TenantId::parse("acme").unwrap();
    let now = chrono::Utc::now();
    // The defaults, made once however often (and however concurrently) they are asked for.
    let (a, b2) = tokio::join!(
        store.list_alert_policies(&acme, now),
        store.list_alert_policies(&acme, now)
    );
    assert_eq!(a.unwrap().len(), 2);
    assert_eq!(b2.unwrap().len(), 2);
    let score = store
        .get_alert_policy(&acme, DEFAULT_SCORE_POLICY, now)
        .await
        .unwrap();
    let changed = event(&acme, EventType::AlertPolicyChanged, DEFAULT_SCORE_POLICY);
    store
        .delete_alert_policy(&acme, &score, std::slice::from_ref(&changed))
        .await
        .unwrap();
    assert!(!store
        .ensure_default_alert_policies(&acme, now)
        .await
        .unwrap());
    assert_eq!(
        store.list_alert_policies(&acme, now).await.unwrap().len(),
        1
    );
    let err = store
        .delete_alert_policy(&acme, &score, &[])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::StaleVersion { .. }), "{err}");

    // An alert with its policy's count and its event, all or nothing.
    let mut policy = score.value.clone();
    policy.id = "p1".into();
    let raising = event(&acme, EventType::ScoreChanged, "tenant");
    let counted = [Counted {
        event: raising.id.clone(),
        at: raising.at,
    }];
    let alert = Alert::raise(&policy, &counted, &raising);
    let window = AlertWindow::default();
    let raised = event(&acme, EventType::AlertRaised, &alert.id);
    fn write<'a>(
        alert: &'a Alert,
        window: &'a AlertWindow,
        versions: (u64, u64),
        events: &'a [Event],
    ) -> AlertWrite<'a> {
        AlertWrite {
            alert,
            version: versions.0,
            window: Some(("p1", window, versions.1)),
            events,
        }
    }
    let first_write = write(&alert, &window, (0, 0), std::slice::from_ref(&raised));
    assert_eq!(
        store.write_alert(&acme, first_write).await.unwrap().version,
        1
    );
    // Raised again (a repeated delivery), or over a stale count: refused, nothing written.
    let again = [event(&acme, EventType::AlertRaised, "x")];
    for versions in [(0, 1), (1, 0), (1, 7)] {
        let err = store
            .write_alert(&acme, write(&alert, &window, versions, &again))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::StaleVersion { .. }), "{err}");
    }
    assert_eq!(store.get_alert(&acme, &alert.id).await.unwrap().version, 1);
    assert_eq!(
        store
            .get_alert_window(&acme, "p1")
            .await
            .unwrap()
            .unwrap()
            .version,
        1
    );
    let update = write(&alert, &window, (1, 1), &[]);
    assert_eq!(store.write_alert(&acme, update).await.unwrap().version, 2);
    let log = store.list_events(&acme, None, None, 10).await.unwrap();
    // Ids are drawn as each write is sent: compare what the events say.
    let said: Vec<(EventType, &Subject)> =
        log.events.iter().map(|e| (e.kind, &e.subject)).collect();
    assert_eq!(
        said,
        [
            (changed.kind, &changed.subject),
            (raised.kind, &raised.subject)
        ]
    );

    // Listed newest first, filtered, in pages; another tenant sees none.
    let later = event(&acme, EventType::ScoreChanged, "tenant");
    let second = Alert::raise(&policy, &counted, &later);
    store
        .write_alert(
            &acme,
            AlertWrite {
                alert: &second,
                version: 0,
                window: None,
                events: &[],
            },
        )
        .await
        .unwrap();
    let all = store.list_alerts(&acme, None, &|_| true, 10).await.unwrap();
    let listed: Vec<&str> = all.alerts.iter().map(|a| a.value.id.as_str()).collect();
    assert_eq!(listed, [second.id.as_str(), alert.id.as_str()]);
    let first = store.list_alerts(&acme, None, &|_| true, 1).await.unwrap();
    let rest = store
        .list_alerts(&acme, first.next.as_deref(), &|_| true, 1)
        .await
        .unwrap();
    assert_eq!(rest.alerts[0].value.id, alert.id);
    let none = store
        .list_alerts(&acme, None, &|a| a.id == "nothing", 10)
        .await
        .unwrap();
    assert!(none.alerts.is_empty());
    let other = TenantId::parse("other").unwrap();
    assert!(store
        .list_alerts(&other, None, &|_| true, 10)
        .await
        .unwrap()
        .alerts
        .is_empty());
    assert!(matches!(
        store.get_alert(&other, &alert.id).await,
        Err(StoreError::NotFound(_))
    ));
}

/// Generates one `#[tokio::test]` per contract case. `$factory` is an async fn returning a
/// fresh, empty `Arc<dyn Backend>`.
pub async fn connectors_keep_unique_names_one_lease_and_their_runs(b: Arc<dyn Backend>) {
    use attest_domain::connector::*;
    let store = Store::new(b);
    let t = TenantId::parse("acme").unwrap();
    let other = TenantId::parse("other").unwrap();
    let now = chrono::Utc::now();
    let connector = |id: &str, name: &str| Connector {
        id: id.into(),
        kind: "zoom".into(),
        service: "zoom".into(),
        name: name.into(),
        state: ConnectorState::Active,
        settings: Default::default(),
        credential_fields: vec!["account_id".into(), "client_secret".into()],
        created_at: now,
        created_by: "alice".into(),
        updated_at: now,
    };
    let event = |kind| {
        Event::new(
            &t,
            kind,
            now,
            Some("alice"),
            Subject::new("connector", "c1"),
            json!({}),
        )
    };
    let c1 = store
        .create_connector(
            &t,
            &connector("c1", "Zoom Prod"),
            "zoom prod",
            &[event(EventType::ConnectorChanged)],
        )
        .await
        .unwrap();
    // A second connector with the same name (any case) is refused and leaves nothing.
    let err = store
        .create_connector(&t, &connector("c2", "ZOOM prod"), "zoom prod", &[])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(matches!(
        store.get_connector(&t, "c2").await,
        Err(StoreError::NotFound(_))
    ));
    // Another tenant may use the name, and cannot see the first tenant's connector.
    store
        .create_connector(&other, &connector("c9", "Zoom Prod"), "zoom prod", &[])
        .await
        .unwrap();
    assert!(matches!(
        store.get_connector(&other, "c1").await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.list_connectors(&t).await.unwrap().len(), 1);
    assert_eq!(store.indexed_connectors().await.unwrap().len(), 2);

    // Rename over the version read moves the name lock; a stale version is refused.
    let mut renamed = c1.value.clone();
    renamed.name = "Zoom Test".into();
    renamed.state = ConnectorState::Paused;
    let c1b = store
        .update_connector(&t, &c1, &renamed, Some(("zoom prod", "zoom test")), &[])
        .await
        .unwrap();
    assert_eq!(c1b.version, 2);
    assert!(matches!(
        store.update_connector(&t, &c1, &renamed, None, &[]).await,
        Err(StoreError::StaleVersion { .. })
    ));
    // The old name is free again.
    store
        .create_connector(&t, &connector("c3", "zoom prod"), "zoom prod", &[])
        .await
        .unwrap();
    let index = store.indexed_connectors().await.unwrap();
    let paused = index.iter().find(|c| c.id == "c1").unwrap();
    assert_eq!(paused.state, ConnectorState::Paused);

    // One run at a time: a second lease is refused until the first expires or is released.
    let later = now + chrono::TimeDelta::minutes(15);
    assert!(store
        .acquire_run_lease(&t, "c1", "r1", now, later)
        .await
        .unwrap());
    assert!(!store
        .acquire_run_lease(&t, "c1", "r2", now, later)
        .await
        .unwrap());
    store.release_run_lease(&t, "c1", "r2").await.unwrap(); // not the holder: no effect
    assert!(!store
        .acquire_run_lease(&t, "c1", "r2", now, later)
        .await
        .unwrap());
    assert!(
        store
            .acquire_run_lease(
                &t,
                "c1",
                "r3",
                later + chrono::TimeDelta::seconds(1),
                later + chrono::TimeDelta::minutes(20)
            )
            .await
            .unwrap(),
        "an expired lease is taken over"
    );
    let much_later = later + chrono::TimeDelta::hours(1);
    assert!(store
        .renew_run_lease(&t, "c1", "r3", much_later)
        .await
        .unwrap());
    assert!(
        !store
            .renew_run_lease(&t, "c1", "r1", much_later)
            .await
            .unwrap(),
        "not the holder"
    );
    assert!(
        !store
            .acquire_run_lease(
                &t,
                "c1",
                "r5",
                later + chrono::TimeDelta::minutes(30),
                much_later
            )
            .await
            .unwrap(),
        "renewed: still held"
    );
    store.release_run_lease(&t, "c1", "r3").await.unwrap();
    assert!(store
        .acquire_run_lease(&t, "c1", "r4", now, later)
        .await
        .unwrap());

    // Runs are listed newest first, a page at a time; stats and results land with them.
    for i in 0..3u32 {
        let at = now + chrono::TimeDelta::seconds(i64::from(i));
        let run = RunRecord {
            id: format!("0190000{i}-0000-7000-8000-000000000000"),
            connector_id: "c1".into(),
            trigger: Trigger::Manual,
            started_at: at,
            finished_at: Some(at),
            outcome: Some(Outcome::Succeeded),
            window: Window { from: at, to: at },
            items_fetched: 3,
            items_imported: 8,
            duplicates_skipped: 0,
            unmapped_users: 0,
            checks: CheckCounts {
                passed: 5,
                failed: 2,
                undetected: 1,
            },
            errors: vec![],
        };
        let stats = ConnectorStats {
            last_run: Some(run.clone()),
            last_success_at: Some(at),
            items_imported_total: 8 * u64::from(i + 1),
        };
        store
            .put_connector_results(&t, "c1", &json!({"n": i}))
            .await
            .unwrap();
        store
            .record_run(&t, &run, &stats, &[event(EventType::ConnectorRunFinished)])
            .await
            .unwrap();
    }
    let first = store.list_runs(&t, "c1", 2, None).await.unwrap();
    assert_eq!(first.runs.len(), 2);
    assert!(first.runs[0].id > first.runs[1].id, "newest first");
    let rest = store
        .list_runs(&t, "c1", 2, first.next.clone())
        .await
        .unwrap();
    assert_eq!(rest.runs.len(), 1);
    assert_eq!(
        store
            .connector_stats(&t, "c1")
            .await
            .unwrap()
            .items_imported_total,
        24
    );
    assert_eq!(
        store.connector_results(&t, &["c1", "c3"]).await.unwrap(),
        vec![Some(json!({"n": 2})), None]
    );
    assert!(store
        .list_runs(&other, "c1", 10, None)
        .await
        .unwrap()
        .runs
        .is_empty());

    // Deleting takes the connector, its name, index entry, stats and results.
    let current = store.get_connector(&t, "c1").await.unwrap();
    store
        .delete_connector(&t, &current, "zoom test", &[])
        .await
        .unwrap();
    assert!(matches!(
        store.get_connector(&t, "c1").await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        store.connector_stats(&t, "c1").await.unwrap(),
        ConnectorStats::default()
    );
    assert_eq!(
        store.connector_results(&t, &["c1"]).await.unwrap(),
        vec![None]
    );
    assert!(!store
        .indexed_connectors()
        .await
        .unwrap()
        .iter()
        .any(|c| c.id == "c1"));
    store
        .create_connector(&t, &connector("c4", "Zoom Test"), "zoom test", &[])
        .await
        .unwrap();
    assert_eq!(store.schedule_mark().await.unwrap(), None);
    let next = now + chrono::TimeDelta::hours(24);
    store.put_schedule_mark(now, next).await.unwrap();
    assert_eq!(store.schedule_mark().await.unwrap(), Some(next));
    assert!(!store
        .indexed_connectors()
        .await
        .unwrap()
        .iter()
        .any(|c| c.id.starts_with('#')));
}

pub async fn imported_records_are_stored_once_and_read_by_connector_and_person(
    b: Arc<dyn Backend>,
) {
    use crate::imported::{RecordScope, Written};
    use attest_domain::imported::ImportedRecord;
    let store = Store::new(b);
    let t = TenantId::parse("acme").unwrap();
    let other = TenantId::parse("other").unwrap();
    let base: chrono::DateTime<chrono::Utc> = "2026-11-01T00:00:00Z".parse().unwrap();
    let record = |i: i64, person: Option<&str>| ImportedRecord {
        connector_id: "slack1".into(),
        source_id: format!("C1:{i}"),
        kind: "message".into(),
        at: base + chrono::TimeDelta::minutes(i),
        person: person.map(str::to_owned),
        external_user: Some("U1".into()),
        container: Some("#general".into()),
        text: format!("message {i}"),
        data: json!({}),
    };
    // 120 records, a third unmapped; the first batch again plus 10 new: only the new count.
    let first: Vec<ImportedRecord> = (0..120)
        .map(|i| record(i, (i % 3 != 0).then_some("dana@example.com")))
        .collect();
    assert_eq!(
        store.put_records(&t, &first).await.unwrap(),
        Written {
            imported: 120,
            duplicates: 0,
            unmapped: 40
        }
    );
    let mut again: Vec<ImportedRecord> = first[100..].to_vec();
    again.extend((120..130).map(|i| record(i, Some("dana@example.com"))));
    again.push(record(125, Some("dana@example.com"))); // twice in one call
    assert_eq!(
        store.put_records(&t, &again).await.unwrap(),
        Written {
            imported: 10,
            duplicates: 21,
            unmapped: 0
        }
    );

    // By connector, in time order, a page at a time, within the window.
    let scope = RecordScope::Connector("slack1".into());
    let (from, to) = (
        base + chrono::TimeDelta::minutes(10),
        base + chrono::TimeDelta::minutes(59),
    );
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_records(&t, &scope, from, to, after, 15)
            .await
            .unwrap();
        seen.extend(page.records.iter().map(|r| r.text.clone()));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let expected: Vec<String> = (10..60).map(|i| format!("message {i}")).collect();
    assert_eq!(seen, expected);
    // By person: only the mapped ones.
    let person = RecordScope::Person("dana@example.com".into());
    let page = store
        .list_records(
            &t,
            &person,
            base,
            base + chrono::TimeDelta::days(1),
            None,
            1000,
        )
        .await
        .unwrap();
    assert_eq!(page.records.len(), 80 + 10);
    assert!(page.records.windows(2).all(|w| w[0].at <= w[1].at));
    // Another tenant reads nothing.
    let none = store
        .list_records(
            &other,
            &scope,
            base,
            base + chrono::TimeDelta::days(1),
            None,
            1000,
        )
        .await
        .unwrap();
    assert!(none.records.is_empty());

    // Retention: records before a time go, with their person copies, a batch at a time.
    let cut = base + chrono::TimeDelta::minutes(50);
    assert_eq!(
        store
            .delete_records_before(&t, "slack1", cut, 30)
            .await
            .unwrap(),
        30
    );
    assert_eq!(
        store
            .delete_records_before(&t, "slack1", cut, 30)
            .await
            .unwrap(),
        20
    );
    assert_eq!(
        store
            .delete_records_before(&t, "slack1", cut, 30)
            .await
            .unwrap(),
        0
    );
    let left = store
        .list_records(
            &t,
            &scope,
            base,
            base + chrono::TimeDelta::days(1),
            None,
            1000,
        )
        .await
        .unwrap();
    assert_eq!(left.records.len(), 80);
    assert_eq!(left.records[0].text, "message 50");
    let person_left = store
        .list_records(
            &t,
            &person,
            base,
            base + chrono::TimeDelta::days(1),
            None,
            1000,
        )
        .await
        .unwrap();
    assert!(person_left.records.iter().all(|r| r.at >= cut));

    // The watermark moves only forward.
    assert_eq!(store.import_watermark(&t, "slack1").await.unwrap(), None);
    store.advance_watermark(&t, "slack1", to).await.unwrap();
    store.advance_watermark(&t, "slack1", from).await.unwrap();
    assert_eq!(
        store.import_watermark(&t, "slack1").await.unwrap(),
        Some(to)
    );
}

#[macro_export]
macro_rules! backend_contract_tests {
    ($factory:path) => {
        $crate::backend_contract_tests!(@cases $factory;
            put_then_get_returns_the_item,
            conditional_writes_refuse_and_keep_what_is_stored,
            a_failed_transaction_writes_nothing,
            concurrent_writers_lose_no_update,
            queries_select_by_prefix_in_order_and_page,
            get_many_reads_in_order_past_one_batch,
            queries_page_past_one_megabyte,
            group_names_are_unique_per_tenant_without_case,
            instance_updates_are_versioned_with_their_history,
            assessments_keep_one_per_regulation_and_service_in_a_group,
            regulations_larger_than_an_item_round_trip,
            concurrent_creates_of_one_regulation_store_only_the_winner,
            a_dead_writers_claim_is_taken_over_and_its_leftovers_removed,
            the_usage_index_follows_assessments,
            events_land_with_their_change_and_only_with_it,
            alert_policies_and_alerts_are_versioned_with_their_events,
            connectors_keep_unique_names_one_lease_and_their_runs,
            imported_records_are_stored_once_and_read_by_connector_and_person,
        );
    };
    (@cases $factory:path; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::contract::$case($factory().await).await;
            }
        )+
    };
}
