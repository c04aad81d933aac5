//! Lambda function connector-import: see the library's documentation.

use attest_api::AppState;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), attest_lambda::Error> {
    let config = attest_lambda::init().await;
    let state = AppState::new(attest_lambda::store(&config)?)
        .with_connectors(attest_lambda::connector_ports(&config).await?);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let state = state.clone();
        async move { attest_fn_connector_import::handle(&state, &event.payload).await }
    }))
    .await
}
