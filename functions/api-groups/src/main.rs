//! Assessment groups: `GET/POST /api/compliance/groups`, `GET/PATCH /api/compliance/groups/{id}`.

#[tokio::main]
async fn main() -> Result<(), attest_lambda::Error> {
    attest_lambda::run_with_store(attest_api::routes::groups::router).await
}
