//! What every Attest Lambda function does before its routes run: JSON logs, AWS clients built
//! once at init (no network calls), and the caller's identity taken from the claims that API
//! Gateway's JWT authorizer verified.

use std::collections::HashMap;
use std::sync::Arc;

use attest_api::claims::identity_from_claims;
use attest_api::AppState;
use attest_store::Store;
use attest_store_dynamodb::DynamoDbBackend;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use lambda_http::request::RequestContext;

pub use lambda_http::Error;

/// The JWT authorizer's claims, when API Gateway sent any.
fn authorizer_claims(req: &Request) -> Option<&HashMap<String, String>> {
    match req.extensions().get::<RequestContext>()? {
        RequestContext::ApiGatewayV2(ctx) => Some(&ctx.authorizer.as_ref()?.jwt.as_ref()?.claims),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// Puts the caller into the request, from claims API Gateway already verified.
pub async fn identity_from_authorizer(mut req: Request, next: Next) -> Response {
    if let Some(claims) = authorizer_claims(&req) {
        let claims = claims
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        match identity_from_claims(&claims) {
            Ok(identity) => req.extensions_mut().insert(identity).map(drop),
            Err(e) => req.extensions_mut().insert(e).map(drop),
        };
    }
    next.run(req).await
}

/// Routes wrapped as a Lambda function sees them.
pub fn with_authorizer_identity(routes: Router) -> Router {
    routes.layer(middleware::from_fn(identity_from_authorizer))
}

fn init_tracing() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .without_time()
        .with_target(false)
        .init();
}

/// Runs routes that need no storage (health).
pub async fn run(routes: Router) -> Result<(), Error> {
    init_tracing();
    lambda_http::run(with_authorizer_identity(routes)).await
}

/// Runs routes over the DynamoDB table named by `TABLE_NAME`.
pub async fn run_with_store(routes: impl FnOnce(AppState) -> Router) -> Result<(), Error> {
    init_tracing();
    let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME is not set")?;
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let backend = DynamoDbBackend::new(aws_sdk_dynamodb::Client::new(&config), table);
    let state = AppState::new(Store::new(Arc::new(backend)));
    lambda_http::run(with_authorizer_identity(routes(state))).await
}
