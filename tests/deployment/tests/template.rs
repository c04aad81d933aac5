//! template.yaml is what gets deployed: it must lint clean, declare the table the code uses,
//! and route every API path it declares to a function whose binary exists and serves it.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use attest_store_dynamodb::schema;
use serde_yaml::Value;
use tower::ServiceExt;

fn root() -> PathBuf {
    attest_testkit::repo_root()
}

fn template() -> Value {
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

fn resources() -> serde_yaml::Mapping {
    template()["Resources"].as_mapping().unwrap().clone()
}

fn of_type(kind: &str) -> Vec<(String, Value)> {
    resources()
        .into_iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(kind))
        .map(|(k, r)| (k.as_str().unwrap().to_owned(), r))
        .collect()
}

/// A linter from the test tools' venv (or PATH).
fn tool(name: &str) -> Command {
    let venv = root().join(".tools/venv/bin").join(name);
    let mut cmd = Command::new(if venv.exists() {
        venv
    } else {
        PathBuf::from(name)
    });
    cmd.current_dir(root()).env("SAM_CLI_TELEMETRY", "0");
    cmd
}

fn run_ok(mut cmd: Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("{what} could not run ({e}); run infra/install-test-tools.sh (the README's test command does)")
    });
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn cfn_lint_passes() {
    let mut cmd = tool("cfn-lint");
    cmd.arg("template.yaml");
    run_ok(cmd, "cfn-lint template.yaml");
}

#[test]
fn sam_validate_lint_passes() {
    let mut cmd = tool("sam");
    cmd.args([
        "validate",
        "--lint",
        "--region",
        "us-east-1",
        "--template-file",
        "template.yaml",
    ]);
    run_ok(cmd, "sam validate --lint");
}

#[test]
fn the_table_matches_the_schema_the_code_uses() {
    let tables = of_type("AWS::DynamoDB::Table");
    assert_eq!(tables.len(), 1, "one table");
    let props = &tables[0].1["Properties"];
    let keys: Vec<(String, String)> = props["KeySchema"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["AttributeName"].as_str().unwrap().into(),
                k["KeyType"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = schema::KEY_SCHEMA
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(keys, expected);
    let mut attrs: Vec<(String, String)> = props["AttributeDefinitions"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["AttributeName"].as_str().unwrap().into(),
                k["AttributeType"].as_str().unwrap().into(),
            )
        })
        .collect();
    attrs.sort();
    let mut expected: Vec<(String, String)> = schema::ATTRIBUTE_DEFINITIONS
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    expected.sort();
    assert_eq!(attrs, expected);
    assert_eq!(props["BillingMode"].as_str(), Some(schema::BILLING_MODE));
    assert_eq!(
        props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        Value::Bool(true)
    );
    assert_eq!(props["SSESpecification"]["SSEEnabled"], Value::Bool(true));
}

struct Route {
    function: String,
    method: String,
    path: String,
    public: bool,
}

fn routes() -> Vec<Route> {
    let mut out = Vec::new();
    for (name, f) in of_type("AWS::Serverless::Function") {
        let Some(events) = f["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for (_, e) in events {
            if e["Type"].as_str() != Some("HttpApi") {
                continue;
            }
            let p = &e["Properties"];
            out.push(Route {
                function: name.clone(),
                method: p["Method"].as_str().unwrap().to_owned(),
                path: p["Path"].as_str().unwrap().to_owned(),
                public: p["Auth"]["Authorizer"].as_str() == Some("NONE"),
            });
        }
    }
    out
}

#[test]
fn every_function_builds_an_existing_arm64_binary() {
    let t = template();
    assert_eq!(
        t["Globals"]["Function"]["Runtime"].as_str(),
        Some("provided.al2023")
    );
    assert_eq!(
        t["Globals"]["Function"]["Architectures"][0].as_str(),
        Some("arm64")
    );
    let functions = of_type("AWS::Serverless::Function");
    assert!(!functions.is_empty());
    for (name, f) in functions {
        assert_eq!(
            f["Metadata"]["BuildMethod"].as_str(),
            Some("rust-cargolambda"),
            "{name}"
        );
        let binary = f["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
        let manifest = root().join("functions").join(binary).join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest)
            .unwrap_or_else(|_| panic!("{name}: no {}", manifest.display()));
        assert!(
            text.contains(&format!("name = \"{binary}\"")),
            "{name}: {binary} is not a bin of {}",
            manifest.display()
        );
    }
}

#[test]
fn the_template_routes_exactly_the_route_table() {
    let mut declared: Vec<(String, String, String, bool)> = routes()
        .into_iter()
        .map(|r| {
            let function = of_type("AWS::Serverless::Function")
                .into_iter()
                .find(|(name, _)| name == &r.function)
                .map(|(_, f)| {
                    f["Metadata"]["BuildProperties"]["Binary"]
                        .as_str()
                        .unwrap()
                        .to_owned()
                })
                .unwrap();
            (r.method, r.path, function, r.public)
        })
        .collect();
    let mut table: Vec<(String, String, String, bool)> = attest_api::routes::table::ROUTES
        .iter()
        .map(|r| {
            (
                r.method.to_owned(),
                r.path.to_owned(),
                r.function.to_owned(),
                r.permission.is_none(),
            )
        })
        .collect();
    // The web app's routes (the `web` function), all public: not API routes.
    table.extend(
        attest_web::ROUTES
            .iter()
            .map(|(method, path)| (method.to_string(), path.to_string(), "web".to_owned(), true)),
    );
    declared.sort();
    table.sort();
    assert_eq!(declared, table);
}

#[tokio::test]
async fn every_function_serves_its_routes_and_only_public_ones_skip_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let backend =
        attest_store_embedded::EmbeddedBackend::open(&dir.path().join("db.redb")).unwrap();
    let state = attest_api::AppState::new(attest_store::Store::new(Arc::new(backend)));
    for r in attest_api::routes::table::ROUTES {
        let app = attest_api::routes::table::function_router(r.function, state.clone()).unwrap();
        let req = axum::http::Request::builder()
            .method(r.method)
            .uri(r.path.replace("{id}", "some-id"))
            .header("content-type", "application/json")
            .body(axum::body::Body::from("{}"))
            .unwrap();
        let status = app.oneshot(req).await.unwrap().status().as_u16();
        // Without a caller a served route answers 200 (public) or 401; an unserved one 404/405.
        let expected = if r.permission.is_none() { 200 } else { 401 };
        assert_eq!(
            status, expected,
            "{} {} on {} answered {status}",
            r.method, r.path, r.function
        );
    }
}

#[test]
fn the_evidence_bucket_is_private_encrypted_versioned_and_tls_only() {
    let buckets = of_type("AWS::S3::Bucket");
    assert_eq!(buckets.len(), 1);
    let (name, bucket) = &buckets[0];
    let p = &bucket["Properties"];
    let block = &p["PublicAccessBlockConfiguration"];
    for flag in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(block[flag], Value::Bool(true), "{flag}");
    }
    assert!(
        p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
            ["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
            .is_string()
    );
    assert_eq!(
        p["VersioningConfiguration"]["Status"].as_str(),
        Some("Enabled")
    );
    let rules = p["LifecycleConfiguration"]["Rules"].as_sequence().unwrap();
    assert!(
        rules
            .iter()
            .any(|r| r["AbortIncompleteMultipartUpload"].is_mapping()),
        "unfinished uploads are removed"
    );
    assert!(p["CorsConfiguration"]["CorsRules"][0]["AllowedMethods"]
        .as_sequence()
        .unwrap()
        .iter()
        .any(|m| m.as_str() == Some("PUT")));
    let policies = of_type("AWS::S3::BucketPolicy");
    let tls = &policies[0].1["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(tls["Effect"].as_str(), Some("Deny"));
    assert_eq!(
        tls["Condition"]["Bool"]["aws:SecureTransport"].as_str(),
        Some("false")
    );
    // ObjectCreated under evidence/ goes to evidence-uploaded.
    let uploaded = of_type("AWS::Serverless::Function")
        .into_iter()
        .find(|(_, f)| {
            f["Metadata"]["BuildProperties"]["Binary"].as_str() == Some("evidence-uploaded")
        })
        .unwrap();
    let event = &uploaded.1["Properties"]["Events"]["Uploaded"];
    assert_eq!(event["Type"].as_str(), Some("S3"));
    assert!(
        matches!(&event["Properties"]["Bucket"], Value::Tagged(t) if t.value.as_str() == Some(name.as_str()))
    );
    assert_eq!(
        event["Properties"]["Events"].as_str(),
        Some("s3:ObjectCreated:*")
    );
}

/// The DynamoDB actions a function's policies allow.
fn dynamodb_actions(function: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for policy in function["Properties"]["Policies"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        for statement in policy["Statement"].as_sequence().into_iter().flatten() {
            for action in statement["Action"].as_sequence().into_iter().flatten() {
                if let Some(a) = action.as_str().filter(|a| a.starts_with("dynamodb:")) {
                    out.push(a.to_owned());
                }
            }
        }
    }
    out
}

#[test]
fn functions_that_only_read_may_only_read_the_table() {
    use attest_api::routes::table::ROUTES;
    let writes = [
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
        "dynamodb:UpdateItem",
        "dynamodb:BatchWriteItem",
    ];
    let functions = of_type("AWS::Serverless::Function");
    let mut checked = 0;
    for (_, f) in &functions {
        let Some(binary) = f["Metadata"]["BuildProperties"]["Binary"].as_str() else {
            continue;
        };
        let served: Vec<_> = ROUTES.iter().filter(|r| r.function == binary).collect();
        if served.is_empty() {
            continue;
        }
        checked += 1;
        let actions = dynamodb_actions(f);
        let reads_only = served.iter().all(|r| r.method == "GET");
        let may_write = actions.iter().any(|a| writes.contains(&a.as_str()));
        assert_eq!(
            may_write,
            !reads_only,
            "{binary} serves {} route(s), {}; its table permissions are {actions:?}",
            served.len(),
            if reads_only {
                "all reads"
            } else {
                "some writes"
            }
        );
        // Reads by key in batches (templates, statuses) need BatchGetItem wherever the table is read.
        if !actions.is_empty() && binary != "api-users" {
            assert!(
                actions.iter().any(|a| a == "dynamodb:BatchGetItem"),
                "{binary} reads items by key in batches: {actions:?}"
            );
        }
    }
    assert!(checked >= 6, "checked {checked} functions");
}

// ---- Domain events, score recomputation and alerts. ----

/// `(function, argument)` of an intrinsic written as a short-form tag (`!GetAtt X.Arn`) or
/// in long form (`{"Fn::GetAtt": [X, Arn]}`, `{Ref: X}`); the argument of a list is joined
/// with dots.
fn intrinsic(v: &Value) -> Option<(String, String)> {
    match v {
        Value::Tagged(t) => {
            let name = t.tag.to_string().trim_start_matches('!').to_owned();
            let arg = match &t.value {
                Value::String(s) => s.clone(),
                Value::Sequence(parts) => parts
                    .iter()
                    .filter_map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join("."),
                _ => return None,
            };
            Some((name, arg))
        }
        Value::Mapping(m) if m.len() == 1 => {
            let (k, v) = m.iter().next().unwrap();
            let name = k.as_str()?.trim_start_matches("Fn::").to_owned();
            let arg = match v {
                Value::String(s) => s.clone(),
                Value::Sequence(parts) => parts
                    .iter()
                    .filter_map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join("."),
                _ => return None,
            };
            Some((name, arg))
        }
        _ => None,
    }
}

/// The resource a `!Ref X` names.
fn ref_to(v: &Value) -> Option<String> {
    intrinsic(v).filter(|(f, _)| f == "Ref").map(|(_, arg)| arg)
}

/// `(resource, attribute)` of a `!GetAtt X.Attr`.
fn get_att(v: &Value) -> Option<(String, String)> {
    let (_, arg) = intrinsic(v).filter(|(f, _)| f == "GetAtt")?;
    let (resource, attribute) = arg.split_once('.')?;
    Some((resource.to_owned(), attribute.to_owned()))
}

/// The strings of a value that is a string or a list of strings.
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn resource_type(name: &str) -> Option<String> {
    resources()
        .get(name)
        .and_then(|r| r["Type"].as_str().map(str::to_owned))
}

/// The function (logical id, resource) whose binary is `binary`.
fn function(binary: &str) -> (String, Value) {
    of_type("AWS::Serverless::Function")
        .into_iter()
        .find(|(_, f)| f["Metadata"]["BuildProperties"]["Binary"].as_str() == Some(binary))
        .unwrap_or_else(|| panic!("no function builds {binary}"))
}

/// The statements of a function's inline policies.
fn statements(function: &Value) -> Vec<Value> {
    function["Properties"]["Policies"]
        .as_sequence()
        .into_iter()
        .flatten()
        .flat_map(|p| p["Statement"].as_sequence().cloned().unwrap_or_default())
        .collect()
}

/// The event bus (there is one).
fn event_bus() -> String {
    let buses = of_type("AWS::Events::EventBus");
    assert_eq!(buses.len(), 1, "one event bus");
    buses[0].0.clone()
}

/// The function's events of a type, by name.
fn events_of(function: &Value, kind: &str) -> Vec<(String, Value)> {
    function["Properties"]["Events"]
        .as_mapping()
        .into_iter()
        .flatten()
        .filter(|(_, e)| e["Type"].as_str() == Some(kind))
        .map(|(k, e)| (k.as_str().unwrap().to_owned(), e.clone()))
        .collect()
}

/// A JSON string in the template, parsed (JSON is YAML).
fn json(v: &Value) -> Value {
    serde_yaml::from_str(v.as_str().expect("a JSON string")).unwrap()
}

const TABLE_WRITES: [&str; 7] = [
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
];

#[test]
fn the_table_streams_new_images_and_expires_items_by_ttl() {
    let tables = of_type("AWS::DynamoDB::Table");
    let props = &tables[0].1["Properties"];
    assert_eq!(
        props["StreamSpecification"]["StreamViewType"].as_str(),
        Some(schema::STREAM_VIEW)
    );
    assert_eq!(
        props["TimeToLiveSpecification"]["AttributeName"].as_str(),
        Some(schema::TTL)
    );
    assert_eq!(
        props["TimeToLiveSpecification"]["AttributeName"].as_str(),
        Some(attest_store::backend::TTL_FIELD)
    );
    assert_eq!(
        props["TimeToLiveSpecification"]["Enabled"],
        Value::Bool(true)
    );
}

#[test]
fn events_publish_reads_outbox_inserts_and_may_only_publish_and_delete_outbox_items() {
    use attest_store::events::{OUTBOX, UNDELIVERABLE};
    let (name, f) = function("events-publish");
    let (table, _) = &of_type("AWS::DynamoDB::Table")[0];
    let bus = event_bus();

    // Two triggers: the table's stream, new outbox items only, and the sweep's schedule.
    let all = f["Properties"]["Events"].as_mapping().unwrap();
    let streams = events_of(&f, "DynamoDB");
    let schedules = events_of(&f, "ScheduleV2");
    assert_eq!(
        (all.len(), streams.len(), schedules.len()),
        (2, 1, 1),
        "{name}: one stream source and one schedule"
    );
    let sweep = json(&schedules[0].1["Properties"]["Input"]);
    assert_eq!(sweep["detail-type"].as_str(), Some("OutboxSweep"));
    let p = &streams[0].1["Properties"];
    assert_eq!(
        get_att(&p["Stream"]),
        Some((table.clone(), "StreamArn".into()))
    );
    assert_eq!(p["StartingPosition"].as_str(), Some("TRIM_HORIZON"));
    assert!(
        strings(&p["FunctionResponseTypes"]).contains(&"ReportBatchItemFailures".to_owned()),
        "{name} reports the records it failed"
    );
    assert_eq!(p["BisectBatchOnFunctionError"], Value::Bool(true));
    assert!(
        p["MaximumRetryAttempts"].as_u64().is_some(),
        "bounded retries"
    );
    let filters = p["FilterCriteria"]["Filters"].as_sequence().unwrap();
    assert_eq!(filters.len(), 1, "one filter (filters are OR-ed)");
    let pattern = json(&filters[0]["Pattern"]);
    assert_eq!(strings(&pattern["eventName"]), vec!["INSERT".to_owned()]);
    let keys = pattern["dynamodb"]["Keys"].as_mapping().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(
        strings(&pattern["dynamodb"]["Keys"][schema::PARTITION_KEY]["S"]),
        vec![OUTBOX.to_owned()]
    );
    let on_failure = &p["DestinationConfig"]["OnFailure"];
    assert_eq!(on_failure["Type"].as_str(), Some("SQS"));
    let (queue, _) = get_att(&on_failure["Destination"]).expect("an on-failure destination");
    assert_eq!(resource_type(&queue).as_deref(), Some("AWS::SQS::Queue"));

    // It publishes to the bus it is told about, and to no other.
    assert_eq!(
        ref_to(&f["Properties"]["Environment"]["Variables"]["EVENT_BUS_NAME"]),
        Some(bus.clone())
    );
    let statements = statements(&f);
    let mut puts = 0;
    let mut deletes = 0;
    for s in &statements {
        assert_eq!(s["Effect"].as_str(), Some("Allow"), "{name}: {s:?}");
        let actions = strings(&s["Action"]);
        if actions.iter().any(|a| a.starts_with("events:")) {
            puts += 1;
            assert_eq!(actions, vec!["events:PutEvents".to_owned()], "{name}");
            assert_eq!(
                get_att(&s["Resource"]),
                Some((bus.clone(), "Arn".into())),
                "{name}"
            );
        }
        for a in actions.iter().filter(|a| a.starts_with("dynamodb:")) {
            assert!(!a.contains('*'), "{name}: {a}");
            let leading = &s["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"];
            if a == "dynamodb:DeleteItem" || a == "dynamodb:Query" {
                deletes += usize::from(a == "dynamodb:DeleteItem");
                // Only items in the outbox partition.
                assert_eq!(strings(leading), vec![OUTBOX.to_owned()], "{name}: {s:?}");
                assert_eq!(get_att(&s["Resource"]), Some((table.clone(), "Arn".into())));
            } else if a == "dynamodb:PutItem" {
                // Only into the partition of items set aside.
                assert_eq!(
                    strings(leading),
                    vec![UNDELIVERABLE.to_owned()],
                    "{name}: {s:?}"
                );
            } else {
                assert!(!TABLE_WRITES.contains(&a.as_str()), "{name} may not {a}");
            }
        }
    }
    assert_eq!((puts, deletes), (1, 1), "{name}: {statements:?}");
}

#[test]
fn score_recompute_hears_exactly_the_events_that_can_change_a_score_and_a_daily_tick() {
    use attest_domain::event::EventType;
    let (name, f) = function("score-recompute");
    let bus = event_bus();

    let rules = events_of(&f, "EventBridgeRule");
    assert_eq!(rules.len(), 1, "{name}: one rule");
    let p = &rules[0].1["Properties"];
    assert_eq!(ref_to(&p["EventBusName"]), Some(bus));
    assert_eq!(strings(&p["Pattern"]["source"]), vec!["attest".to_owned()]);
    let mut heard = strings(&p["Pattern"]["detail-type"]);
    heard.sort();
    let mut expected: Vec<String> = EventType::ALL
        .into_iter()
        .filter(|t| t.can_change_score() && *t != EventType::DailyScoreTick)
        .map(|t| t.as_str().to_owned())
        .collect();
    expected.sort();
    assert_eq!(heard, expected, "{name}'s rule");

    let schedules = events_of(&f, "ScheduleV2");
    assert_eq!(schedules.len(), 1, "{name}: one schedule");
    let s = &schedules[0].1["Properties"];
    let expression = s["ScheduleExpression"].as_str().unwrap();
    let fields: Vec<&str> = expression
        .strip_prefix("cron(")
        .and_then(|e| e.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{expression} is not a cron expression"))
        .split(' ')
        .collect();
    // minute hour * * ? *: once a day, at a fixed time.
    assert_eq!(fields.len(), 6, "{expression}");
    assert!(
        fields[0].parse::<u8>().is_ok() && fields[1].parse::<u8>().is_ok(),
        "{expression}"
    );
    assert_eq!(
        &fields[2..],
        ["*", "*", "?", "*"],
        "{expression} runs daily"
    );
    assert_eq!(s["ScheduleExpressionTimezone"].as_str(), Some("UTC"));
    let input = json(&s["Input"]);
    assert_eq!(
        input["detail-type"].as_str(),
        Some(EventType::DailyScoreTick.as_str())
    );
    assert_eq!(input["source"].as_str(), Some("attest.scheduler"));
    assert!(input["detail"].is_mapping());
}

/// Where a target's failures go: the queue a `DeadLetterConfig` or an on-failure destination
/// names.
fn dead_letter_queue(config: &Value, what: &str) -> String {
    let (queue, attribute) = get_att(&config["Arn"])
        .or_else(|| get_att(&config["Destination"]))
        .unwrap_or_else(|| panic!("{what} has no dead-letter queue: {config:?}"));
    assert_eq!(attribute, "Arn", "{what}");
    assert_eq!(
        resource_type(&queue).as_deref(),
        Some("AWS::SQS::Queue"),
        "{what}: {queue}"
    );
    queue
}

/// The queues a function reads: an event source mapping's or a SAM SQS event's queue.
fn work_queues() -> Vec<String> {
    let mut out: Vec<String> = of_type("AWS::Lambda::EventSourceMapping")
        .iter()
        .filter_map(|(_, m)| get_att(&m["Properties"]["EventSourceArn"]))
        .filter(|(source, _)| resource_type(source).as_deref() == Some("AWS::SQS::Queue"))
        .map(|(queue, _)| queue)
        .collect();
    for (_, f) in of_type("AWS::Serverless::Function") {
        for (_, e) in events_of(&f, "SQS") {
            out.extend(get_att(&e["Properties"]["Queue"]).map(|(queue, _)| queue));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Whether an alarm goes off, on the ops topic, as soon as `queue` holds a visible message.
fn alarmed(queue: &str) -> bool {
    of_type("AWS::CloudWatch::Alarm").iter().any(|(_, a)| {
        let a = &a["Properties"];
        a["Namespace"].as_str() == Some("AWS/SQS")
            && a["MetricName"].as_str() == Some("ApproximateNumberOfMessagesVisible")
            && a["Dimensions"].as_sequence().is_some_and(|d| {
                d.len() == 1
                    && d[0]["Name"].as_str() == Some("QueueName")
                    && get_att(&d[0]["Value"]) == Some((queue.to_owned(), "QueueName".into()))
            })
            && a["Threshold"].as_f64() == Some(0.0)
            && a["ComparisonOperator"].as_str() == Some("GreaterThanThreshold")
            && a["AlarmActions"]
                .as_sequence()
                .is_some_and(|t| t.iter().any(|t| ref_to(t).as_deref() == Some("OpsTopic")))
    })
}

#[test]
fn every_asynchronous_target_has_a_dead_letter_queue_and_every_queue_an_alarm() {
    // (what, queue, the EventBridge rule that sends to it, if any)
    let mut targets: Vec<(String, String, Option<String>)> = Vec::new();
    // Functions an EventBridge Scheduler schedule of its own invokes (asynchronously).
    let scheduled: Vec<String> = of_type("AWS::Scheduler::Schedule")
        .iter()
        .filter_map(|(_, s)| get_att(&s["Properties"]["Target"]["Arn"]))
        .map(|(target, _)| target)
        .collect();
    for (name, f) in of_type("AWS::Serverless::Function") {
        let mut invoked_asynchronously = scheduled.contains(&name);
        for (event, e) in f["Properties"]["Events"].as_mapping().into_iter().flatten() {
            let event = event.as_str().unwrap();
            let p = &e["Properties"];
            let what = format!("{name}.{event}");
            match e["Type"].as_str().unwrap() {
                kind @ ("EventBridgeRule" | "CloudWatchEvent" | "Schedule" | "ScheduleV2") => {
                    invoked_asynchronously = true;
                    let queue = dead_letter_queue(&p["DeadLetterConfig"], &what);
                    assert!(p["RetryPolicy"].is_mapping(), "{what}: a retry policy");
                    // SAM names the rule it makes `{function}{event}`; a schedule's role gets
                    // the queue permission from SAM instead.
                    let rule = (kind != "ScheduleV2").then(|| format!("{name}{event}"));
                    targets.push((what, queue, rule));
                }
                // S3 and SNS invoke a function asynchronously.
                "S3" | "SNS" => invoked_asynchronously = true,
                "DynamoDB" | "Kinesis" => {
                    let on_failure = &p["DestinationConfig"]["OnFailure"];
                    let queue = dead_letter_queue(on_failure, &what);
                    targets.push((what, queue, None));
                }
                _ => {}
            }
        }
        // Failures inside a function invoked asynchronously (by a rule, a schedule or S3) end
        // up in a queue too.
        if invoked_asynchronously {
            let what = format!("{name}.EventInvokeConfig");
            let on_failure =
                &f["Properties"]["EventInvokeConfig"]["DestinationConfig"]["OnFailure"];
            assert_eq!(on_failure["Type"].as_str(), Some("SQS"), "{what}");
            let queue = dead_letter_queue(on_failure, &what);
            targets.push((what, queue, None));
        }
    }
    for (name, rule) in of_type("AWS::Events::Rule") {
        for target in rule["Properties"]["Targets"].as_sequence().unwrap() {
            let what = format!("{name} -> {:?}", target["Id"]);
            let queue = dead_letter_queue(&target["DeadLetterConfig"], &what);
            assert!(target["RetryPolicy"].is_mapping(), "{what}: a retry policy");
            targets.push((what, queue, Some(name.clone())));
        }
    }
    for (name, schedule) in of_type("AWS::Scheduler::Schedule") {
        let queue = dead_letter_queue(&schedule["Properties"]["Target"]["DeadLetterConfig"], &name);
        assert!(
            schedule["Properties"]["Target"]["RetryPolicy"].is_mapping(),
            "{name}: a retry policy"
        );
        targets.push((name, queue, None));
    }
    // Work queues (a function's event source) hand what keeps failing to their redrive
    // policy's dead-letter queue.
    let work = work_queues();
    for queue in &work {
        let redrive = &resources()[queue.as_str()]["Properties"]["RedrivePolicy"];
        let what = format!("{queue}.RedrivePolicy");
        let dlq = get_att(&redrive["deadLetterTargetArn"])
            .filter(|(_, attribute)| attribute == "Arn")
            .map(|(q, _)| q)
            .unwrap_or_else(|| panic!("{what}: no dead-letter queue: {redrive:?}"));
        assert_eq!(
            resource_type(&dlq).as_deref(),
            Some("AWS::SQS::Queue"),
            "{what}"
        );
        assert!(!work.contains(&dlq), "{what}: {dlq} is a work queue");
        let receives = redrive["maxReceiveCount"]
            .as_u64()
            .expect("maxReceiveCount");
        assert!((1..=10).contains(&receives), "{what}: {receives} receives");
        targets.push((what, dlq, None));
    }
    assert!(targets.len() >= 10, "{targets:?}");

    // EventBridge may send to a rule's queue only on behalf of that rule.
    let policies = of_type("AWS::SQS::QueuePolicy");
    for (what, queue, rule) in &targets {
        let Some(rule) = rule else { continue };
        let allowed = policies.iter().any(|(_, p)| {
            let p = &p["Properties"];
            p["Queues"]
                .as_sequence()
                .unwrap()
                .iter()
                .any(|q| ref_to(q).as_deref() == Some(queue.as_str()))
                && p["PolicyDocument"]["Statement"]
                    .as_sequence()
                    .unwrap()
                    .iter()
                    .any(|s| {
                        s["Effect"].as_str() == Some("Allow")
                            && strings(&s["Principal"]["Service"]) == ["events.amazonaws.com"]
                            && strings(&s["Action"]) == ["sqs:SendMessage"]
                            && get_att(&s["Condition"]["ArnEquals"]["aws:SourceArn"])
                                == Some((rule.clone(), "Arn".into()))
                    })
        });
        assert!(allowed, "{what}: no policy lets {rule} send to {queue}");
    }
    // Every statement of a queue policy is limited to one source.
    for (name, p) in &policies {
        for s in p["Properties"]["PolicyDocument"]["Statement"]
            .as_sequence()
            .unwrap()
        {
            assert!(
                get_att(&s["Condition"]["ArnEquals"]["aws:SourceArn"]).is_some(),
                "{name}: {s:?}"
            );
        }
    }

    // Every queue but the work queues is a dead-letter queue: encrypted, kept 14 days, and
    // alarmed. Work queues are encrypted.
    let alarms = of_type("AWS::CloudWatch::Alarm");
    let queues = of_type("AWS::SQS::Queue");
    assert!(!queues.is_empty());
    for (queue, q) in &queues {
        if work.contains(queue) {
            assert_eq!(
                q["Properties"]["SqsManagedSseEnabled"],
                Value::Bool(true),
                "{queue}"
            );
            continue;
        }
        assert!(
            targets.iter().any(|(_, used, _)| used == queue),
            "{queue} is no target's dead-letter queue"
        );
        let p = &q["Properties"];
        assert_eq!(p["SqsManagedSseEnabled"], Value::Bool(true), "{queue}");
        assert_eq!(
            p["MessageRetentionPeriod"].as_u64(),
            Some(14 * 24 * 3600),
            "{queue}"
        );
        let alarmed = alarms.iter().any(|(_, a)| {
            let a = &a["Properties"];
            a["Namespace"].as_str() == Some("AWS/SQS")
                && a["MetricName"].as_str() == Some("ApproximateNumberOfMessagesVisible")
                && a["Dimensions"].as_sequence().is_some_and(|d| {
                    d.len() == 1
                        && d[0]["Name"].as_str() == Some("QueueName")
                        && get_att(&d[0]["Value"]) == Some((queue.clone(), "QueueName".into()))
                })
                && a["Statistic"].as_str() == Some("Maximum")
                && a["Period"].as_u64() == Some(300)
                && a["EvaluationPeriods"].as_u64() == Some(1)
                && a["Threshold"].as_f64() == Some(0.0)
                && a["ComparisonOperator"].as_str() == Some("GreaterThanThreshold")
                && a["TreatMissingData"].as_str() == Some("notBreaching")
        });
        assert!(alarmed, "{queue} has no alarm on a visible message");
    }
}

#[test]
fn raised_alerts_reach_the_alerts_topic_and_only_their_rule_may_publish_to_it() {
    let bus = event_bus();
    let rules: Vec<(String, Value)> = of_type("AWS::Events::Rule")
        .into_iter()
        .filter(|(_, r)| {
            strings(&r["Properties"]["EventPattern"]["detail-type"]) == ["AlertRaised"]
        })
        .collect();
    assert_eq!(rules.len(), 1, "one AlertRaised rule");
    let (rule, r) = &rules[0];
    let p = &r["Properties"];
    assert_eq!(ref_to(&p["EventBusName"]), Some(bus));
    assert_eq!(
        strings(&p["EventPattern"]["source"]),
        vec!["attest".to_owned()]
    );
    let targets = p["Targets"].as_sequence().unwrap();
    assert_eq!(targets.len(), 1);
    let topic = ref_to(&targets[0]["Arn"]).expect("the target is a topic of the stack");
    assert_eq!(resource_type(&topic).as_deref(), Some("AWS::SNS::Topic"));
    assert!(
        !resources()[topic.as_str()]["Properties"]["KmsMasterKeyId"].is_null(),
        "{topic} is encrypted"
    );

    let policies: Vec<(String, Value)> = of_type("AWS::SNS::TopicPolicy")
        .into_iter()
        .filter(|(_, p)| {
            p["Properties"]["Topics"]
                .as_sequence()
                .unwrap()
                .iter()
                .any(|t| ref_to(t).as_deref() == Some(topic.as_str()))
        })
        .collect();
    assert_eq!(policies.len(), 1, "one policy on {topic}");
    let statements = policies[0].1["Properties"]["PolicyDocument"]["Statement"]
        .as_sequence()
        .unwrap();
    assert_eq!(statements.len(), 1, "{statements:?}");
    let s = &statements[0];
    assert_eq!(s["Effect"].as_str(), Some("Allow"));
    assert_eq!(
        strings(&s["Principal"]["Service"]),
        ["events.amazonaws.com"]
    );
    assert_eq!(strings(&s["Action"]), ["sns:Publish"]);
    assert_eq!(ref_to(&s["Resource"]), Some(topic.clone()));
    assert_eq!(
        get_att(&s["Condition"]["ArnEquals"]["aws:SourceArn"]),
        Some((rule.clone(), "Arn".into()))
    );

    // The outputs name the bus and the topic.
    let outputs = template()["Outputs"].clone();
    let outputs = outputs.as_mapping().unwrap();
    for wanted in [event_bus(), topic] {
        assert!(
            outputs
                .values()
                .any(|o| ref_to(&o["Value"]).as_deref() == Some(wanted.as_str())),
            "no output gives {wanted}"
        );
    }
}

// ---- Connectors: the API, the 24-hour schedule, the run queue and its worker. ----

/// Where connector credentials live: the secrets under the prefix the functions are given,
/// one per stack (two stacks in one account never read each other's credentials).
const SECRET_PREFIX: &str = "attest/${AWS::StackName}/";
const SECRETS_ARN: &str = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:attest/${AWS::StackName}/*";

/// The run queue: the SQS queue connector-run reads.
fn run_queue() -> String {
    let (name, _) = function("connector-run");
    let mappings: Vec<(String, Value)> = of_type("AWS::Lambda::EventSourceMapping")
        .into_iter()
        .filter(|(_, m)| ref_to(&m["Properties"]["FunctionName"]).as_deref() == Some(&name))
        .collect();
    assert_eq!(mappings.len(), 1, "{name}: one event source mapping");
    let (queue, attribute) = get_att(&mappings[0].1["Properties"]["EventSourceArn"]).unwrap();
    assert_eq!(attribute, "Arn");
    queue
}

/// An environment variable of a function (its own, else the globals').
fn env<'a>(function: &'a Value, globals: &'a Value, name: &str) -> &'a Value {
    let own = &function["Properties"]["Environment"]["Variables"][name];
    if own.is_null() {
        &globals["Function"]["Environment"]["Variables"][name]
    } else {
        own
    }
}

#[test]
fn the_connector_functions_exist_with_their_binaries() {
    for binary in ["api-connectors", "connector-import", "connector-run"] {
        let (name, f) = function(binary);
        assert_eq!(f["Properties"]["CodeUri"].as_str(), Some("."), "{name}");
        let manifest = root().join("functions").join(binary).join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).unwrap();
        assert!(text.contains(&format!("name = \"{binary}\"")), "{name}");
    }
    // api-connectors serves exactly its routes of the route table (the route test checks the
    // whole table), behind the JWT authorizer.
    let served: Vec<Route> = routes()
        .into_iter()
        .filter(|r| r.function == function("api-connectors").0)
        .collect();
    let expected = attest_api::routes::table::ROUTES
        .iter()
        .filter(|r| r.function == "api-connectors")
        .count();
    assert_eq!(served.len(), expected);
    assert!(expected >= 10);
    assert!(served.iter().all(|r| !r.public));
}

#[test]
fn the_import_schedule_invokes_connector_import_every_24_hours_with_a_dead_letter_queue() {
    let (import, _) = function("connector-import");
    let schedules: Vec<(String, Value)> = of_type("AWS::Scheduler::Schedule")
        .into_iter()
        .filter(|(_, s)| {
            get_att(&s["Properties"]["Target"]["Arn"]) == Some((import.clone(), "Arn".into()))
        })
        .collect();
    assert_eq!(schedules.len(), 1, "one schedule invokes {import}");
    let (name, s) = &schedules[0];
    let p = &s["Properties"];
    assert_eq!(p["ScheduleExpression"].as_str(), Some("rate(24 hours)"));
    assert_eq!(p["FlexibleTimeWindow"]["Mode"].as_str(), Some("OFF"));
    assert_ne!(p["State"].as_str(), Some("DISABLED"));
    let target = &p["Target"];
    let dlq = dead_letter_queue(&target["DeadLetterConfig"], name);
    assert!(alarmed(&dlq), "{dlq} has no alarm");
    assert!(target["RetryPolicy"]["MaximumRetryAttempts"]
        .as_u64()
        .is_some());
    let input = json(&target["Input"]);
    assert_eq!(input["source"].as_str(), Some("attest.scheduler"));

    // The schedule's role: assumed by EventBridge Scheduler; it may invoke connector-import
    // and send to the schedule's dead-letter queue, nothing else.
    let (role, attribute) = get_att(&target["RoleArn"]).expect("the schedule has a role");
    assert_eq!(attribute, "Arn");
    let role = &resources()[role.as_str()];
    assert_eq!(role["Type"].as_str(), Some("AWS::IAM::Role"));
    let trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        .as_sequence()
        .unwrap();
    assert_eq!(trust.len(), 1);
    assert_eq!(
        strings(&trust[0]["Principal"]["Service"]),
        ["scheduler.amazonaws.com"]
    );
    assert!(role["Properties"]["ManagedPolicyArns"].is_null());
    let mut allowed = Vec::new();
    for policy in role["Properties"]["Policies"].as_sequence().unwrap() {
        for st in policy["PolicyDocument"]["Statement"].as_sequence().unwrap() {
            assert_eq!(st["Effect"].as_str(), Some("Allow"));
            for action in strings(&st["Action"]) {
                allowed.push((action, get_att(&st["Resource"])));
            }
        }
    }
    allowed.sort();
    assert_eq!(
        allowed,
        [
            (
                "lambda:InvokeFunction".to_owned(),
                Some((import.clone(), "Arn".into()))
            ),
            (
                "sqs:SendMessage".to_owned(),
                Some((dlq.clone(), "Arn".into()))
            ),
        ]
    );
}

#[test]
fn connector_run_reads_the_run_queue_reporting_failed_messages_and_the_queue_redrives() {
    let (name, f) = function("connector-run");
    let queue = run_queue();
    assert!(work_queues().contains(&queue));
    let mapping = of_type("AWS::Lambda::EventSourceMapping")
        .into_iter()
        .find(|(_, m)| ref_to(&m["Properties"]["FunctionName"]).as_deref() == Some(&name))
        .unwrap()
        .1;
    let p = &mapping["Properties"];
    assert!(
        strings(&p["FunctionResponseTypes"]).contains(&"ReportBatchItemFailures".to_owned()),
        "{name} reports the messages that failed"
    );
    let batch = p["BatchSize"].as_u64().expect("a batch size");
    assert!((1..=10).contains(&batch), "{batch}");
    assert_ne!(p["Enabled"], Value::Bool(false));
    // No SAM SQS event: it would attach AWSLambdaSQSQueueExecutionRole (every queue).
    assert!(events_of(&f, "SQS").is_empty(), "{name}");

    // The queue: encrypted, retried 3 times then kept in an alarmed dead-letter queue, and
    // hidden while a run goes on (six times the function's time-out, as Lambda advises).
    let q = &resources()[queue.as_str()]["Properties"];
    assert_eq!(q["SqsManagedSseEnabled"], Value::Bool(true));
    let redrive = &q["RedrivePolicy"];
    assert_eq!(redrive["maxReceiveCount"].as_u64(), Some(3));
    let (dlq, _) = get_att(&redrive["deadLetterTargetArn"]).unwrap();
    assert_eq!(resource_type(&dlq).as_deref(), Some("AWS::SQS::Queue"));
    assert!(alarmed(&dlq), "{dlq} has no alarm");
    let timeout = f["Properties"]["Timeout"]
        .as_u64()
        .expect("connector-run's timeout");
    assert!(timeout >= 60, "{timeout}");
    let visibility = q["VisibilityTimeout"]
        .as_u64()
        .expect("a visibility timeout");
    assert!(
        visibility >= 6 * timeout,
        "visibility {visibility} s < 6 × {timeout} s"
    );
    // Longer than a run's lease (a run that died is taken over when its message returns).
    assert!(
        visibility as i64 > attest_api::usecases::connectors::LEASE_SECS,
        "{visibility}"
    );

    // It polls that queue only.
    let pollers: Vec<&Value> = f["Properties"]["Policies"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter(|p| !p["SQSPollerPolicy"].is_null())
        .collect();
    assert_eq!(pollers.len(), 1, "{name}: SQSPollerPolicy");
    assert_eq!(
        get_att(&pollers[0]["SQSPollerPolicy"]["QueueName"]),
        Some((queue.clone(), "QueueName".into()))
    );
}

#[test]
fn only_the_api_and_the_schedule_queue_runs_and_every_connector_function_knows_the_queue() {
    let queue = run_queue();
    let globals = template()["Globals"].clone();
    for binary in ["api-connectors", "connector-import", "connector-run"] {
        let (name, f) = function(binary);
        assert_eq!(
            ref_to(env(&f, &globals, "CONNECTOR_RUN_QUEUE_URL")),
            Some(queue.clone()),
            "{name}"
        );
        assert!(
            ref_to(env(&f, &globals, "TABLE_NAME")).is_some(),
            "{name}: TABLE_NAME"
        );
    }
    for (name, f) in of_type("AWS::Serverless::Function") {
        let binary = f["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap()
            .to_owned();
        for s in statements(&f) {
            let actions = strings(&s["Action"]);
            for a in actions.iter().filter(|a| a.starts_with("sqs:")) {
                assert_eq!(a, "sqs:SendMessage", "{name}: {a}");
                let (target, _) = get_att(&s["Resource"]).expect("a queue of the stack");
                if target == queue {
                    assert!(
                        binary == "api-connectors" || binary == "connector-import",
                        "{name} may not queue runs"
                    );
                }
            }
        }
    }
    for binary in ["api-connectors", "connector-import"] {
        let (name, f) = function(binary);
        assert!(
            statements(&f).iter().any(|s| {
                strings(&s["Action"]) == ["sqs:SendMessage"]
                    && get_att(&s["Resource"]) == Some((queue.clone(), "Arn".into()))
            }),
            "{name} queues runs"
        );
    }
}

#[test]
fn connector_import_may_only_read_and_mark_the_schedulers_index() {
    use attest_store::connectors::INDEX_PK;
    let (name, f) = function("connector-import");
    let (table, _) = &of_type("AWS::DynamoDB::Table")[0];
    let mut actions = Vec::new();
    for s in statements(&f) {
        for a in strings(&s["Action"])
            .into_iter()
            .filter(|a| a.starts_with("dynamodb:"))
        {
            assert_eq!(get_att(&s["Resource"]), Some((table.clone(), "Arn".into())));
            assert_eq!(
                strings(&s["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"]),
                vec![INDEX_PK.to_owned()],
                "{name}: {a} only in the index partition"
            );
            actions.push(a);
        }
        assert!(
            strings(&s["Action"])
                .iter()
                .all(|a| !a.starts_with("secretsmanager:")),
            "{name} never reads credentials"
        );
    }
    actions.sort();
    assert_eq!(actions, ["dynamodb:PutItem", "dynamodb:Query"], "{name}");
}

#[test]
fn connector_credentials_are_reachable_only_under_the_prefix_and_only_by_connector_functions() {
    let globals = template()["Globals"].clone();
    let mut granted: Vec<(String, Vec<String>)> = Vec::new();
    for (name, f) in of_type("AWS::Serverless::Function") {
        let binary = f["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut actions = Vec::new();
        for s in statements(&f) {
            let secrets: Vec<String> = strings(&s["Action"])
                .into_iter()
                .filter(|a| a.starts_with("secretsmanager:"))
                .collect();
            if secrets.is_empty() {
                continue;
            }
            assert_eq!(s["Effect"].as_str(), Some("Allow"), "{name}");
            assert!(
                secrets.iter().all(|a| !a.contains('*')),
                "{name}: {secrets:?}"
            );
            assert_eq!(
                intrinsic(&s["Resource"]),
                Some(("Sub".to_owned(), SECRETS_ARN.to_owned())),
                "{name}: secrets only under {SECRET_PREFIX}"
            );
            actions.extend(secrets);
        }
        if actions.is_empty() {
            continue;
        }
        // The functions are told the prefix the policy allows.
        assert_eq!(
            intrinsic(env(&f, &globals, "ATTEST_SECRET_PREFIX")),
            Some(("Sub".to_owned(), SECRET_PREFIX.to_owned())),
            "{name}"
        );
        actions.sort();
        granted.push((binary, actions));
    }
    granted.sort();
    let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        granted,
        [
            (
                "api-connectors".to_owned(),
                owned(&[
                    "secretsmanager:CreateSecret",
                    "secretsmanager:DeleteSecret",
                    "secretsmanager:GetSecretValue",
                    "secretsmanager:PutSecretValue",
                    "secretsmanager:RestoreSecret",
                ])
            ),
            (
                "connector-run".to_owned(),
                owned(&["secretsmanager:GetSecretValue"])
            ),
        ]
    );
}

#[test]
fn no_function_may_reach_loopback_addresses() {
    // Connector endpoints on loopback are for tests and `attest serve` only.
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    assert!(!text.contains("ATTEST_ALLOW_LOOPBACK_CONNECTORS"));
    assert!(
        !text.contains("ATTEST_ENDPOINT_"),
        "connectors reach the services' own endpoints"
    );
    let globals = template()["Globals"].clone();
    for (name, f) in of_type("AWS::Serverless::Function") {
        assert!(
            env(&f, &globals, "ATTEST_ALLOW_LOOPBACK_CONNECTORS").is_null(),
            "{name}"
        );
    }
}

#[test]
fn the_connector_queues_dead_letter_queues_are_alarmed() {
    let (_, run) = function("connector-run");
    let (_, import) = function("connector-import");
    let run_dlq = get_att(
        &resources()[run_queue().as_str()]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"],
    )
    .unwrap()
    .0;
    let import_dlq = dead_letter_queue(
        &import["Properties"]["EventInvokeConfig"]["DestinationConfig"]["OnFailure"],
        "connector-import",
    );
    for dlq in [run_dlq, import_dlq] {
        assert!(alarmed(&dlq), "{dlq}");
    }
    // connector-run is invoked by its event source, synchronously: no invoke config.
    assert!(run["Properties"]["EventInvokeConfig"].is_null());
}

#[test]
fn hr_dropped_imports_what_arrives_under_hr_and_may_only_read_it() {
    let (name, f) = function("hr-dropped");
    let manifest = root().join("functions/hr-dropped/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert!(text.contains("name = \"hr-dropped\""), "{name}");
    assert_eq!(f["Properties"]["CodeUri"].as_str(), Some("."), "{name}");
    let globals = template()["Globals"].clone();
    assert!(
        f["Properties"]["Environment"]["Variables"]["TABLE_NAME"].is_null()
            && ref_to(env(&f, &globals, "TABLE_NAME")).is_some(),
        "{name}: TABLE_NAME from the globals"
    );

    // Notified of objects created under hr/ in the stack's bucket, and of nothing else.
    let (bucket, _) = &of_type("AWS::S3::Bucket")[0];
    let events: Vec<(String, Value)> = f["Properties"]["Events"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, e)| (k.as_str().unwrap().to_owned(), e.clone()))
        .collect();
    assert_eq!(events.len(), 1, "{name}: {events:?}");
    let p = &events[0].1["Properties"];
    assert_eq!(events[0].1["Type"].as_str(), Some("S3"));
    assert_eq!(ref_to(&p["Bucket"]).as_deref(), Some(bucket.as_str()));
    assert_eq!(p["Events"].as_str(), Some("s3:ObjectCreated:*"));
    let rules = p["Filter"]["S3Key"]["Rules"].as_sequence().unwrap();
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(
        (rules[0]["Name"].as_str(), rules[0]["Value"].as_str()),
        (Some("prefix"), Some("hr/"))
    );
    // The other notifications of the bucket do not overlap it (S3 refuses overlaps).
    for (other, g) in of_type("AWS::Serverless::Function") {
        if other == name {
            continue;
        }
        for (_, e) in events_of(&g, "S3") {
            for r in e["Properties"]["Filter"]["S3Key"]["Rules"]
                .as_sequence()
                .into_iter()
                .flatten()
            {
                if r["Name"].as_str() == Some("prefix") {
                    let prefix = r["Value"].as_str().unwrap();
                    assert!(
                        !prefix.starts_with("hr/") && !"hr/".starts_with(prefix),
                        "{other}: {prefix}"
                    );
                }
            }
        }
    }

    // May read hr/* of the bucket and nothing else of it; the table as connector-run.
    let hr_objects = "arn:${AWS::Partition}:s3:::attest-evidence-${StackUuid}/hr/*";
    let mut s3 = Vec::new();
    for s in statements(&f) {
        let actions = strings(&s["Action"]);
        if actions.iter().any(|a| a.starts_with("s3:")) {
            assert_eq!(s["Effect"].as_str(), Some("Allow"));
            let Value::Tagged(sub) = &s["Resource"] else {
                panic!("{name}: {s:?}");
            };
            assert_eq!(sub.tag.to_string(), "!Sub");
            assert_eq!(sub.value[0].as_str(), Some(hr_objects), "{name}");
            s3.extend(actions);
        }
    }
    assert_eq!(s3, ["s3:GetObject"], "{name}");
    let mut table = dynamodb_actions(&f);
    let mut run = dynamodb_actions(&function("connector-run").1);
    table.sort();
    run.sort();
    assert_eq!(table, run, "{name}");

    // Failures after Lambda's retries land in a dead-letter queue that raises an alarm.
    let dlq = dead_letter_queue(
        &f["Properties"]["EventInvokeConfig"]["DestinationConfig"]["OnFailure"],
        &name,
    );
    assert!(alarmed(&dlq), "{dlq}");
    assert!(f["Properties"]["Timeout"].as_u64() >= Some(60), "{name}");
}
