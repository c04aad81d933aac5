//! Work in progress.

#[tokio::main]
async fn main() -> Result<(), attest_lambda::Error> {
    let _config = attest_lambda::init().await;
    Err("not built yet".into())
}
