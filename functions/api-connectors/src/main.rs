//! Lambda function api-connectors: the routes `attest_api::routes::table::ROUTES` assigns to it
//! (connector kinds and connectors), over the table, Secrets Manager for the credentials and
//! the SQS run queue for `POST /connectors/{id}/run`.

#[tokio::main]
async fn main() -> Result<(), attest_lambda::Error> {
    attest_lambda::run_with_connectors(|state| {
        attest_api::routes::table::function_router("api-connectors", state)
            .expect("api-connectors is in the route table")
    })
    .await
}
