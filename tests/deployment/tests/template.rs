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
