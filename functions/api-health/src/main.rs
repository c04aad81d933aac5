//! Lambda function api-health: `GET /health` and the OpenAPI document.

#[tokio::main]
async fn main() -> Result<(), attest_lambda::Error> {
    attest_lambda::run(attest_api::routes::health::router()).await
}
