//! Lambda function connector-run: see the library's documentation.

use attest_api::AppState;
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), attest_lambda::Error> {
    let config = attest_lambda::init().await;
    let state = AppState::new(attest_lambda::store(&config)?)
        .with_connectors(attest_lambda::connector_ports(&config).await?);
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let state = state.clone();
        async move {
            let deadline = attest_fn_connector_run::deadline_from_epoch_ms(event.context.deadline);
            Ok::<_, attest_lambda::Error>(
                attest_fn_connector_run::handle(&state, event.payload, deadline).await,
            )
        }
    }))
    .await
}
