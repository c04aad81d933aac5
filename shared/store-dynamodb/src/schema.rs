//! The DynamoDB table: one table, keyed by `pk` and `sk`, defined here once. `template.yaml`
//! declares the same table (a test compares the two) and the tests create it from here.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    StreamSpecification, StreamViewType,
};
use aws_sdk_dynamodb::Client;

pub const PARTITION_KEY: &str = "pk";
pub const SORT_KEY: &str = "sk";
pub const VERSION: &str = "ver";
pub const BODY: &str = "body";
/// The time-to-live attribute (seconds since the epoch): DynamoDB deletes expired items.
pub const TTL: &str = "ttl";

/// (attribute, key type) of the primary key, in order.
pub const KEY_SCHEMA: [(&str, &str); 2] = [(PARTITION_KEY, "HASH"), (SORT_KEY, "RANGE")];
/// (attribute, scalar type) of every key attribute.
pub const ATTRIBUTE_DEFINITIONS: [(&str, &str); 2] = [(PARTITION_KEY, "S"), (SORT_KEY, "S")];
pub const BILLING_MODE: &str = "PAY_PER_REQUEST";
/// The table's stream carries new images: `events-publish` reads the outbox from it.
pub const STREAM_VIEW: &str = "NEW_IMAGE";

/// Creates the table (for tests and local runs against DynamoDB Local).
pub async fn create_table(client: &Client, table: &str) -> Result<(), String> {
    let mut req = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::from(BILLING_MODE))
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(STREAM_VIEW))
                .build()
                .map_err(|e| e.to_string())?,
        );
    for (name, key_type) in KEY_SCHEMA {
        req = req.key_schema(
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(KeyType::from(key_type))
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    for (name, ty) in ATTRIBUTE_DEFINITIONS {
        req = req.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::from(ty))
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    req.send()
        .await
        .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string())?;
    Ok(())
}
