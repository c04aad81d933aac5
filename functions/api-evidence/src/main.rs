//! Lambda function api-evidence: the routes `attest_api::routes::table::ROUTES` assigns to it,
//! over the table and the evidence bucket.

#[tokio::main]
async fn main() -> Result<(), attest_lambda::Error> {
    attest_lambda::run_with_evidence(|state| {
        attest_api::routes::table::function_router("api-evidence", state)
            .expect("api-evidence is in the route table")
    })
    .await
}
