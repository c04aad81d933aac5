//! DynamoDB Local for the benches: the test kit's instance (started once) and its tables.

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};

/// A client of DynamoDB Local, and its endpoint (for reports).
pub async fn dynamodb_local() -> (aws_sdk_dynamodb::Client, String) {
    let local = tokio::task::spawn_blocking(attest_testkit::dynamodb_local)
        .await
        .expect("DynamoDB Local starts");
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&local.endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("bench", "bench", None, None, "bench"))
            .build(),
    );
    (client, local.endpoint.clone())
}

/// [`dynamodb_local`] with a new table `table` in it.
pub async fn dynamodb_local_table(table: &str) -> (aws_sdk_dynamodb::Client, String) {
    let (client, endpoint) = dynamodb_local().await;
    attest_store_dynamodb::schema::create_table(&client, table)
        .await
        .expect("the bench table is created");
    (client, endpoint)
}
