//! Imports HR files dropped in the stack's bucket (API.md "Data connectors", `hr_csv`): S3
//! sends ObjectCreated for `hr/{connector id}/{file}` keys, and each file is imported into its
//! connector exactly as an upload would be (`.csv` as text/csv, `.json` as application/json),
//! the run recorded in the connector's history. S3 may deliver an event twice; records are
//! stored once each (by a stable id), so a repeat imports nothing new.
//!
//! What cannot succeed on a retry (a key naming no connector, a file of another type, too
//! large or unreadable as a whole) is logged and skipped; storage and S3 failures fail the
//! invocation, so that Lambda retries it and then hands it to the dead-letter queue. The
//! file's content is never logged.

use attest_api::usecases::connectors::ConnectorUseError;
use attest_api::usecases::insider::{dropped, Uploaded, MAX_UPLOAD_BYTES};
use attest_api::AppState;
use aws_lambda_events::event::s3::{S3Event, S3EventRecord};
use lambda_runtime::{service_fn, LambdaEvent};

/// S3 event keys are URL-encoded, with `+` for spaces.
fn decode_key(raw: &str) -> String {
    form_urlencoded::parse(format!("k={raw}").as_bytes())
        .map(|(_, v)| v.into_owned())
        .next()
        .unwrap_or_default()
}

/// `(connector id, file name)` of a key `hr/{connector id}/{file}`.
fn parse_key(key: &str) -> Option<(&str, &str)> {
    let (id, file) = key.strip_prefix("hr/")?.split_once('/')?;
    let name = file.rsplit('/').next()?;
    (!id.is_empty() && !name.is_empty()).then_some((id, name))
}

/// The content type a file's extension says.
fn content_type(file: &str) -> Option<&'static str> {
    let (_, ext) = file.rsplit_once('.')?;
    match ext.to_ascii_lowercase().as_str() {
        "csv" => Some("text/csv"),
        "json" => Some("application/json"),
        _ => None,
    }
}

fn too_large(size: i64) -> bool {
    usize::try_from(size).map_or(true, |s| s > MAX_UPLOAD_BYTES)
}

/// Imports one record's file. `Ok(None)` when it is skipped (logged).
async fn import(
    state: &AppState,
    s3: &aws_sdk_s3::Client,
    record: &S3EventRecord,
) -> Result<Option<Uploaded>, attest_lambda::Error> {
    let Some(raw) = record.s3.object.key.as_deref() else {
        return Ok(None);
    };
    let key = decode_key(raw);
    let Some((connector, file)) = parse_key(&key) else {
        tracing::warn!(key = %key, "not an hr/{{connector id}}/{{file}} key; ignored");
        return Ok(None);
    };
    let Some(content_type) = content_type(file) else {
        tracing::warn!(key = %key, "neither .csv nor .json; ignored");
        return Ok(None);
    };
    if let Some(size) = record.s3.object.size.filter(|s| too_large(*s)) {
        tracing::warn!(key = %key, size, max = MAX_UPLOAD_BYTES, "file too large; ignored");
        return Ok(None);
    }
    let Some(bucket) = record.s3.bucket.name.as_deref() else {
        return Err(format!("{key}: the event names no bucket").into());
    };
    let object = match s3.get_object().bucket(bucket).key(&key).send().await {
        Ok(object) => object,
        Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
            tracing::warn!(key = %key, "the file is gone; ignored");
            return Ok(None);
        }
        Err(e) => {
            return Err(format!("{key}: {}", aws_sdk_s3::error::DisplayErrorContext(e)).into())
        }
    };
    // The object may have been replaced since the event: its own size counts too.
    if let Some(size) = object.content_length().filter(|s| too_large(*s)) {
        tracing::warn!(key = %key, size, max = MAX_UPLOAD_BYTES, "file too large; ignored");
        return Ok(None);
    }
    let bytes = object
        .body
        .collect()
        .await
        .map_err(|e| format!("{key}: reading the file: {e}"))?
        .into_bytes();
    if bytes.len() > MAX_UPLOAD_BYTES {
        tracing::warn!(key = %key, size = bytes.len(), max = MAX_UPLOAD_BYTES, "file too large; ignored");
        return Ok(None);
    }
    match dropped(state, connector, content_type, &bytes).await {
        Ok(Some(uploaded)) => {
            let run = &uploaded.run;
            tracing::info!(
                key = %key,
                connector = %run.connector_id,
                run = %run.id,
                outcome = ?run.outcome,
                fetched = run.items_fetched,
                imported = run.items_imported,
                duplicates = run.duplicates_skipped,
                unmapped = run.unmapped_users,
                bad_records = run.errors.iter().map(|e| u64::from(e.count)).sum::<u64>(),
                signals = uploaded.signals_recorded,
                "hr file imported"
            );
            Ok(Some(uploaded))
        }
        Ok(None) | Err(ConnectorUseError::NotFound(_)) => {
            tracing::warn!(key = %key, connector = %connector, "no such connector; ignored");
            Ok(None)
        }
        // Whole-file faults name the file's shape (size, encoding, header), not its rows.
        Err(e @ (ConnectorUseError::Invalid(_) | ConnectorUseError::UnsupportedType(_))) => {
            tracing::warn!(key = %key, connector = %connector, error = %e, "file not imported");
            Ok(None)
        }
        Err(e) => Err(format!("{key}: {e}").into()),
    }
}

/// Imports every file the event names. An error fails the invocation, so that Lambda retries
/// it; files imported already import nothing new on the retry.
async fn handle(
    state: &AppState,
    s3: &aws_sdk_s3::Client,
    event: S3Event,
) -> Result<Vec<Uploaded>, attest_lambda::Error> {
    let mut imported = Vec::new();
    for record in &event.records {
        imported.extend(import(state, s3, record).await?);
    }
    Ok(imported)
}

#[tokio::main]
async fn main() -> Result<(), attest_lambda::Error> {
    let config = attest_lambda::init().await;
    let state = AppState::new(attest_lambda::store(&config)?);
    let s3 = aws_sdk_s3::Client::new(&config);
    lambda_runtime::run(service_fn(|event: LambdaEvent<S3Event>| {
        let (state, s3) = (state.clone(), s3.clone());
        async move { handle(&state, &s3, event.payload).await.map(drop) }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::collections::BTreeSet;
    use std::sync::Arc;

    use attest_api::state::{ConnectorPorts, RunQueue, RunRequest};
    use attest_api::usecases::connectors::{self, NewConnector};
    use attest_connectors::{Endpoints, HttpClient};
    use attest_domain::connector::ErrorCategory;
    use attest_domain::identity::{Identity, Role};
    use attest_domain::ids::{TenantId, UserId};
    use attest_store::Store;
    use attest_store_dynamodb::DynamoDbBackend;
    use serde_json::json;

    struct NoQueue;

    #[async_trait::async_trait]
    impl RunQueue for NoQueue {
        async fn enqueue(&self, _: &[RunRequest]) -> Result<(), String> {
            Err("no runs are queued in these tests".into())
        }
    }

    struct Fixture {
        state: AppState,
        store: Store,
        s3: aws_sdk_s3::Client,
        bucket: String,
        tenant: TenantId,
    }

    async fn fixture() -> Fixture {
        let local = attest_testkit::dynamodb_local();
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::Config::builder()
                .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
                .endpoint_url(&local.endpoint)
                .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
                .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                    "test", "test", None, None, "tests",
                ))
                .build(),
        );
        let table = attest_testkit::unique_name("attest-hr");
        attest_store_dynamodb::schema::create_table(&dynamodb, &table)
            .await
            .unwrap();
        let store = Store::new(Arc::new(DynamoDbBackend::new(dynamodb, &table)));
        let s3 = attest_testkit::s3_server().client();
        let bucket = attest_testkit::unique_name("attest-bucket");
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
        let state = AppState::new(store.clone()).with_connectors(ConnectorPorts {
            secrets: Arc::new(attest_secrets::MemorySecrets::new()),
            queue: Arc::new(NoQueue),
            http: Arc::new(HttpClient::new(Endpoints::for_tests(
                "http://127.0.0.1:1",
                "http://127.0.0.1:1",
            ))),
        });
        Fixture {
            state,
            store,
            s3,
            bucket,
            tenant: TenantId::parse("acme").unwrap(),
        }
    }

    impl Fixture {
        /// An hr_csv connector of resignations, created as a connector admin would.
        async fn hr_connector(&self) -> String {
            let caller = Identity {
                tenant: self.tenant.clone(),
                user: UserId::parse("carol").unwrap(),
                name: None,
                email: None,
                roles: BTreeSet::from([Role::ConnectorAdmin]),
            };
            let body: NewConnector = serde_json::from_value(json!({
                "kind": "hr_csv",
                "name": "HR resignations",
                "credentials": {},
                "settings": {
                    "record_type": "resignation",
                    "columns": {
                        "email": "EmailAddress",
                        "resignation_date": "ResignationDate",
                        "last_working_date": "LastWorkingDate",
                    },
                },
            }))
            .unwrap();
            connectors::create(&self.state, &caller, body)
                .await
                .unwrap()
                .value
                .id
        }

        async fn put(&self, key: &str, bytes: &[u8]) -> i64 {
            self.s3
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .body(bytes.to_vec().into())
                .send()
                .await
                .unwrap();
            bytes.len() as i64
        }

        /// The event S3 sends for an object created at `key` (encoded as S3 does).
        fn event_for(&self, key: &str, size: i64) -> S3Event {
            let mut event: S3Event =
                serde_json::from_str(include_str!("../events/object-created.json")).unwrap();
            let record = &mut event.records[0];
            record.s3.bucket.name = Some(self.bucket.clone());
            record.s3.object.key = Some(key.replace(' ', "+"));
            record.s3.object.size = Some(size);
            event
        }

        async fn handle(&self, event: S3Event) -> Result<Vec<Uploaded>, attest_lambda::Error> {
            handle(&self.state, &self.s3, event).await
        }
    }

    const CSV: &str = "EmailAddress,ResignationDate,LastWorkingDate\n\
        ann@example.com,2026-11-02,2026-11-30\n\
        not-an-address,2026-11-03,2026-11-30\n\
        bob@example.com,2026-11-05,2026-12-15\n";

    #[tokio::test]
    async fn a_dropped_file_is_imported_into_its_connector_once() {
        let f = fixture().await;
        let id = f.hr_connector().await;
        let key = format!("hr/{id}/2026-11.csv");
        let size = f.put(&key, CSV.as_bytes()).await;

        let first = f.handle(f.event_for(&key, size)).await.unwrap();
        assert_eq!(first.len(), 1);
        let runs = f.store.list_runs(&f.tenant, &id, 10, None).await.unwrap();
        assert_eq!(runs.runs.len(), 1);
        let run = &runs.runs[0];
        assert_eq!((run.items_fetched, run.items_imported), (3, 2));
        assert_eq!(run.errors.len(), 1, "{:?}", run.errors);
        assert_eq!(run.errors[0].category, ErrorCategory::BadRecord);
        assert!(
            run.errors[0].message.starts_with("line 3:"),
            "{:?}",
            run.errors
        );

        // Delivered again: nothing new.
        let again = f.handle(f.event_for(&key, size)).await.unwrap();
        assert_eq!(again[0].run.items_imported, 0);
        assert_eq!(again[0].run.duplicates_skipped, 2);
        let runs = f.store.list_runs(&f.tenant, &id, 10, None).await.unwrap();
        assert_eq!(runs.runs.len(), 2);
        assert_eq!(runs.runs.iter().map(|r| r.items_imported).sum::<u64>(), 2);
    }

    #[tokio::test]
    async fn files_that_cannot_be_imported_are_skipped_without_a_retry() {
        let f = fixture().await;
        let id = f.hr_connector().await;

        // No connector has that id.
        let unknown = "hr/no-such-connector/2026-11.csv";
        let size = f.put(unknown, CSV.as_bytes()).await;
        assert!(f
            .handle(f.event_for(unknown, size))
            .await
            .unwrap()
            .is_empty());

        // JSON for an hr_csv connector; another extension; a file unreadable as a whole.
        let json_key = format!("hr/{id}/badge.json");
        let size = f.put(&json_key, b"[]").await;
        assert!(f
            .handle(f.event_for(&json_key, size))
            .await
            .unwrap()
            .is_empty());
        let txt = format!("hr/{id}/notes.txt");
        let size = f.put(&txt, CSV.as_bytes()).await;
        assert!(f.handle(f.event_for(&txt, size)).await.unwrap().is_empty());
        let bad = format!("hr/{id}/bad file.csv");
        let size = f.put(&bad, b"Name,Team\nAnn,Sales\n").await;
        assert!(f.handle(f.event_for(&bad, size)).await.unwrap().is_empty());

        // Over 10 MB by the event's size: not even read (there is no object to read).
        let big = format!("hr/{id}/big.csv");
        let event = f.event_for(&big, MAX_UPLOAD_BYTES as i64 + 1);
        assert!(f.handle(event).await.unwrap().is_empty());

        let runs = f.store.list_runs(&f.tenant, &id, 10, None).await.unwrap();
        assert!(runs.runs.is_empty(), "{:?}", runs.runs);
    }

    #[tokio::test]
    async fn s3_failures_fail_the_invocation() {
        let f = fixture().await;
        let id = f.hr_connector().await;
        let key = format!("hr/{id}/2026-11.csv");
        let size = f.put(&key, CSV.as_bytes()).await;
        // S3 refuses the read (the function's role may not read it, say).
        use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
        let refused = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .endpoint_url(&attest_testkit::s3_server().endpoint)
                .region(Region::new("us-east-1"))
                .force_path_style(true)
                .credentials_provider(Credentials::new("nobody", "wrong", None, None, "tests"))
                .build(),
        );
        let err = handle(&f.state, &refused, f.event_for(&key, size))
            .await
            .unwrap_err();
        assert!(err.to_string().contains(&key), "{err}");
        let runs = f.store.list_runs(&f.tenant, &id, 10, None).await.unwrap();
        assert!(runs.runs.is_empty());
    }

    #[test]
    fn keys_and_types() {
        assert_eq!(
            parse_key(&decode_key("hr/c1/2026+11%281%29.csv")),
            Some(("c1", "2026 11(1).csv"))
        );
        assert_eq!(parse_key("hr/c1/2026/11.CSV"), Some(("c1", "11.CSV")));
        for bad in [
            "hr/c1",
            "hr//x.csv",
            "hr/c1/",
            "evidence/c1/x.csv",
            "hr/c1/x/",
        ] {
            assert_eq!(parse_key(bad), None, "{bad}");
        }
        assert_eq!(content_type("11.CSV"), Some("text/csv"));
        assert_eq!(content_type("a.json"), Some("application/json"));
        assert_eq!(content_type("a.xlsx"), None);
        assert_eq!(content_type("csv"), None);
    }
}
