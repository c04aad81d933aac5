//! Lambda function api-health: `GET /health` and the OpenAPI document (the routes
//! `attest_api::routes::table::ROUTES` assigns to it; no storage call is made).

#[tokio::main]
async fn main() -> Result<(), attest_lambda::Error> {
    attest_lambda::run_with_store(|state| {
        attest_api::routes::table::function_router("api-health", state)
            .expect("api-health is in the route table")
    })
    .await
}
