//! `attest serve`: the API routers over the embedded store, with local token verification and
//! one log line per request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use attest_api::{ApiError, AppState};
use attest_store::Store;
use attest_store_embedded::EmbeddedBackend;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::Response;
pub use axum::Router;

use std::path::PathBuf;

use attest_api::state::EvidenceConfig;
use attest_blobs::local::LocalBlobs;

use crate::data_dir::DataDir;

/// Puts the verified caller (or why the token was refused) into the request.
async fn authenticate(
    State(secret): State<Arc<Vec<u8>>>,
    mut req: Request,
    next: Next,
) -> Response {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let outcome = match value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")) {
            Some(token) => crate::token::verify(&secret, token.trim()),
            None => Err(ApiError::Unauthorized(
                "use the Authorization: Bearer <token> scheme".into(),
            )),
        };
        match outcome {
            Ok(identity) => {
                req.extensions_mut().insert(identity);
            }
            Err(e) => {
                req.extensions_mut().insert(e);
            }
        }
    }
    next.run(req).await
}

/// One line per request: method, path, status, milliseconds. No bodies, no tokens.
async fn log_request(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let response = next.run(req).await;
    tracing::info!(
        "{method} {path} {} {:.1}ms",
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    response
}

/// The embedded store in a data directory.
pub fn embedded_store(data: &DataDir) -> Result<Store, String> {
    let backend = EmbeddedBackend::open(&data.database()).map_err(|e| {
        format!(
            "cannot open the database {}: {e}",
            data.database().display()
        )
    })?;
    Ok(Store::new(Arc::new(backend)))
}

/// A DynamoDB table, configured the usual AWS way (region, credentials and
/// `AWS_ENDPOINT_URL_DYNAMODB` from the environment); created first if asked.
pub async fn dynamodb_store(table: &str, create: bool) -> Result<Store, String> {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    if create {
        attest_store_dynamodb::schema::create_table(&client, table).await?;
    }
    Ok(Store::new(Arc::new(
        attest_store_dynamodb::DynamoDbBackend::new(client, table),
    )))
}

/// The whole local application: the API routers over `store`, with local tokens, and
/// evidence files under `blobs_dir` served at `base_url` (where the server listens).
pub fn app(
    store: Store,
    secret: Vec<u8>,
    blobs_dir: PathBuf,
    base_url: &str,
    max_evidence_bytes: u64,
) -> Router {
    let blobs = Arc::new(LocalBlobs::new(blobs_dir, blob_secret(&secret), base_url));
    let evidence = EvidenceConfig {
        blobs: blobs.clone(),
        max_bytes: max_evidence_bytes,
    };
    let blob_routes = crate::blobs::router(
        crate::blobs::BlobState {
            blobs,
            store: store.clone(),
        },
        max_evidence_bytes,
    );
    attest_api::router(AppState::new(store).with_evidence(evidence))
        .merge(blob_routes)
        .layer(middleware::from_fn_with_state(
            Arc::new(secret),
            authenticate,
        ))
        .layer(middleware::from_fn(log_request))
}

/// A key for signing blob URLs, derived from the token secret so that neither signs the other.
fn blob_secret(token_secret: &[u8]) -> Vec<u8> {
    let mut key = b"attest-blob-urls:".to_vec();
    key.extend_from_slice(token_secret);
    key
}

/// Serves until Ctrl-C or SIGTERM.
pub async fn serve(listener: tokio::net::TcpListener, app: Router) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
}

pub fn bind_addr(host: &str, port: u16) -> Result<SocketAddr, String> {
    format!("{host}:{port}").parse().map_err(|_| {
        format!("cannot listen on {host}:{port}: give an IP address such as 127.0.0.1")
    })
}
