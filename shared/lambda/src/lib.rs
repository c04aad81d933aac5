//! What every Attest Lambda function does before its routes run: JSON logs, AWS clients built
//! once at init (no network calls), and the caller's identity taken from the claims that API
//! Gateway's JWT authorizer verified.

use std::collections::HashMap;
use std::sync::Arc;

use attest_api::claims::identity_from_claims;
use attest_api::state::EvidenceConfig;
use attest_api::AppState;
use attest_blobs_s3::S3Blobs;
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

pub fn init_tracing() {
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

/// The DynamoDB table named by `TABLE_NAME`.
pub fn store(config: &aws_config::SdkConfig) -> Result<Store, Error> {
    let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME is not set")?;
    Ok(Store::new(Arc::new(DynamoDbBackend::new(
        aws_sdk_dynamodb::Client::new(config),
        table,
    ))))
}

/// The evidence bucket named by `EVIDENCE_BUCKET`, files up to `MAX_EVIDENCE_MB` (100).
pub fn evidence(config: &aws_config::SdkConfig) -> Result<EvidenceConfig, Error> {
    let bucket = std::env::var("EVIDENCE_BUCKET").map_err(|_| "EVIDENCE_BUCKET is not set")?;
    let max_mb: u64 = match std::env::var("MAX_EVIDENCE_MB") {
        Ok(v) => v.parse().map_err(|_| "MAX_EVIDENCE_MB is not a number")?,
        Err(_) => 100,
    };
    let blobs = S3Blobs::new(aws_sdk_s3::Client::new(config), bucket);
    Ok(EvidenceConfig {
        blobs: Arc::new(blobs),
        max_bytes: max_mb * 1024 * 1024,
    })
}

/// Logging and the AWS configuration, once per cold start (no network calls).
pub async fn init() -> aws_config::SdkConfig {
    init_tracing();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}

/// What the connector functions need besides the table: the credentials in Secrets Manager
/// (secrets named under `ATTEST_SECRET_PREFIX`, default `attest/`), the run queue
/// `CONNECTOR_RUN_QUEUE_URL` names, and the client for outside services (its endpoints from
/// the environment; the template sets none, so the services' own). No network calls.
#[cfg(feature = "connectors")]
pub async fn connector_ports(
    config: &aws_config::SdkConfig,
) -> Result<attest_api::state::ConnectorPorts, Error> {
    let secrets = attest_secrets_aws::SecretsManagerStore::from_config(config);
    let queue = attest_queue_sqs::SqsRunQueue::from_env(config)?;
    let http = attest_connectors::HttpClient::new(attest_connectors::Endpoints::from_env());
    Ok(attest_api::state::ConnectorPorts {
        secrets: Arc::new(secrets),
        queue: Arc::new(queue),
        http: Arc::new(http),
    })
}

/// Runs routes over the table and the connector ports ([`connector_ports`]).
#[cfg(feature = "connectors")]
pub async fn run_with_connectors(routes: impl FnOnce(AppState) -> Router) -> Result<(), Error> {
    let config = init().await;
    let state = AppState::new(store(&config)?).with_connectors(connector_ports(&config).await?);
    lambda_http::run(with_authorizer_identity(routes(state))).await
}

/// Runs routes over the DynamoDB table named by `TABLE_NAME`.
pub async fn run_with_store(routes: impl FnOnce(AppState) -> Router) -> Result<(), Error> {
    let config = init().await;
    let state = AppState::new(store(&config)?);
    lambda_http::run(with_authorizer_identity(routes(state))).await
}

/// Runs routes over the table and the evidence bucket.
pub async fn run_with_evidence(routes: impl FnOnce(AppState) -> Router) -> Result<(), Error> {
    let config = init().await;
    let state = AppState::new(store(&config)?).with_evidence(evidence(&config)?);
    lambda_http::run(with_authorizer_identity(routes(state))).await
}
