//! Lambda function api-alerts: the routes `attest_api::routes::table::ROUTES` assigns to it.

#[tokio::main]
async fn main() -> Result<(), attest_lambda::Error> {
    attest_lambda::run_with_store(|state| {
        attest_api::routes::table::function_router("api-alerts", state)
            .expect("api-alerts is in the route table")
    })
    .await
}
