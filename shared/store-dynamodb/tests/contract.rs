//! The backend contract suite against DynamoDB Local (AWS's own emulator), started by the
//! test set-up on a free loopback port. Each test gets its own table.

use std::sync::Arc;

use attest_store::Backend;
use attest_store_dynamodb::{schema, DynamoDbBackend};
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};

fn client() -> aws_sdk_dynamodb::Client {
    let local = attest_testkit::dynamodb_local();
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(&local.endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

async fn fresh() -> Arc<dyn Backend> {
    let client = client();
    let table = attest_testkit::unique_name("attest");
    schema::create_table(&client, &table).await.unwrap();
    Arc::new(DynamoDbBackend::new(client, table))
}

attest_store::backend_contract_tests!(fresh);

#[tokio::test]
async fn a_missing_table_is_reported_not_hidden() {
    let backend = DynamoDbBackend::new(client(), "no-such-table");
    let err = backend
        .get(&attest_store::Key::new("p", "s"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, attest_store::BackendError::Unavailable(ref m) if m.contains("ResourceNotFound")),
        "{err}"
    );
}
