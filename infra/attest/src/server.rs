//! `attest serve`: the API routers over the embedded store, with local token verification,
//! one log line per request, and time limits on reading requests.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use attest_api::bus::LocalBus;
use attest_api::state::ConnectorPorts;
use attest_api::{ApiError, AppState};
use attest_store::Store;
use attest_store_embedded::EmbeddedBackend;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
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
        let outcome = value
            .to_str()
            .map_err(|_| {
                ApiError::Unauthorized("use the Authorization: Bearer <token> scheme".into())
            })
            .and_then(crate::token::bearer)
            .and_then(|token| crate::token::verify(&secret, token));
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
/// [`serve`] adds the request log and the body time limit. Events committed but not delivered
/// by an earlier run (a crash) are delivered before it returns.
pub async fn app(
    store: Store,
    secret: Vec<u8>,
    blobs_dir: PathBuf,
    base_url: &str,
    max_evidence_bytes: u64,
    connectors: LocalConnectors,
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
    let (queue, runs) = attest_api::runner::local_queue();
    let secrets = match attest_secrets::LocalSecrets::open(&connectors.secrets_dir) {
        Ok(s) => Arc::new(s),
        Err(e) => panic!(
            "the connector secret store in {} cannot be opened: {e}",
            connectors.secrets_dir.display()
        ),
    };
    let ports = ConnectorPorts {
        secrets,
        queue,
        http: Arc::new(attest_connectors::HttpClient::new(
            attest_connectors::Endpoints::from_env(),
        )),
    };
    let state = AppState::new(store)
        .with_evidence(evidence)
        .with_connectors(ports);
    let bus = LocalBus::new(state.clone());
    bus.drain().await;
    tokio::spawn(background(state.clone(), bus.clone()));
    tokio::spawn(attest_api::runner::worker(state.clone(), bus.clone(), runs));
    if let Some(every) = connectors.import_every {
        tokio::spawn(attest_api::runner::schedule(state.clone(), every));
    }
    // Inside authentication: a request refused for its token triggers no delivery.
    attest_api::router(state)
        .merge(blob_routes)
        .layer(middleware::from_fn_with_state(bus, deliver_events))
        .layer(middleware::from_fn_with_state(
            Arc::new(secret),
            authenticate,
        ))
}

/// Where `attest serve` keeps connector credentials (sealed, with a key beside them) and how
/// often it runs every active connector (`None`: only on demand).
pub struct LocalConnectors {
    pub secrets_dir: PathBuf,
    pub import_every: Option<Duration>,
}

/// After a request that may have changed something, the events it committed are delivered
/// (scores recomputed, alerts raised) before the response goes out, so that what the client
/// reads next reflects its change.
async fn deliver_events(State(bus): State<Arc<LocalBus>>, req: Request, next: Next) -> Response {
    let reads = matches!(
        *req.method(),
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    );
    let response = next.run(req).await;
    if !reads {
        bus.drain().await;
    }
    response
}

/// How often the outbox is drained besides after each change (events committed by a
/// process that died before delivering them, deliveries that failed).
const DRAIN_EVERY: Duration = Duration::from_secs(5);
/// How often the daily score points are looked at (each is taken once a day).
const DAILY_EVERY: Duration = Duration::from_secs(3600);

/// Periodically: drains the outbox; at start-up and hourly: takes the day's score points.
async fn background(state: AppState, bus: Arc<LocalBus>) {
    let mut drain = tokio::time::interval(DRAIN_EVERY);
    drain.tick().await; // the first tick is now: app() has just drained
    let mut daily = tokio::time::interval(DAILY_EVERY);
    loop {
        tokio::select! {
            _ = drain.tick() => {
                bus.drain().await;
            }
            _ = daily.tick() => {
                bus.drain().await;
                match attest_api::usecases::score::daily(&state).await {
                    Ok(n) => tracing::info!(points = n, "daily score points taken"),
                    Err(e) => tracing::warn!(error = %e, "daily score points: next hour retries"),
                }
            }
        }
    }
}

/// A key for signing blob URLs, derived from the token secret so that neither signs the other.
fn blob_secret(token_secret: &[u8]) -> Vec<u8> {
    let mut key = b"attest-blob-urls:".to_vec();
    key.extend_from_slice(token_secret);
    key
}

/// How long `attest serve` waits for a client to send a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// From the moment the server starts reading a request (a new connection, or the end of
    /// the previous response on a kept-alive one) until the whole request head (request line
    /// and headers) has arrived. When it runs out the connection is closed.
    pub header: Duration,
    /// From the moment the request head has arrived until the whole body has arrived. When it
    /// runs out the request is answered 408 (problem+json) and the connection is closed.
    pub body: Duration,
}

impl Timeouts {
    pub const DEFAULT_HEADER_SECS: u64 = 10;
    pub const DEFAULT_BODY_SECS: u64 = 60;
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            header: Duration::from_secs(Self::DEFAULT_HEADER_SECS),
            body: Duration::from_secs(Self::DEFAULT_BODY_SECS),
        }
    }
}

/// [`serve_with`] the default [`Timeouts`].
pub async fn serve(listener: tokio::net::TcpListener, app: Router) -> std::io::Result<()> {
    serve_with(listener, app, Timeouts::default()).await
}

/// Serves HTTP/1.1 until Ctrl-C or SIGTERM, then lets requests in progress finish.
///
/// Connections are served by hyper directly rather than `axum::serve`, which sets no timer and
/// so never times out a client that stops sending: with [`Timeouts::header`] a connection that
/// does not finish its request head in time is closed, and with [`Timeouts::body`] a request
/// whose body does not finish arriving in time is answered 408 and its connection closed.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    app: Router,
    timeouts: Timeouts,
) -> std::io::Result<()> {
    serve_until(listener, app, timeouts, shutdown()).await
}

/// [`serve_with`], until `stop` completes instead of a signal.
pub async fn serve_until(
    mut listener: tokio::net::TcpListener,
    app: Router,
    timeouts: Timeouts,
    stop: impl Future<Output = ()>,
) -> std::io::Result<()> {
    use axum::serve::Listener;
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    let app = app
        .layer(middleware::from_fn_with_state(
            timeouts.body,
            limit_body_time,
        ))
        .layer(middleware::from_fn(log_request));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(timeouts.header);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        // Accept errors (too many open files, say) are retried after a pause by axum's
        // listener, so the loop never spins.
        let (stream, _) = tokio::select! {
            accepted = Listener::accept(&mut listener) => accepted,
            () = &mut stop => break,
        };
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("connection closed: {e}");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Bounds the time the request body takes to arrive (see [`Timeouts::body`]).
async fn limit_body_time(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    if req.body().is_end_stream() {
        return next.run(req).await;
    }
    let expired = Arc::new(AtomicBool::new(false));
    let req = req.map(|body| {
        Body::new(DeadlineBody {
            inner: body,
            deadline: Box::pin(tokio::time::sleep(limit)),
            expired: expired.clone(),
        })
    });
    let response = next.run(req).await;
    if !expired.load(Ordering::Acquire) {
        return response;
    }
    // Whatever the route made of the failed read, the answer is that the body was too slow.
    request_timeout(limit)
}

/// A request body that fails once its deadline passes while it is still arriving.
struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<tokio::time::Sleep>>,
    expired: Arc<AtomicBool>,
}

#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
struct BodyTimedOut;

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        // What has arrived is taken even if the deadline has passed meanwhile.
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            self.expired.store(true, Ordering::Release);
            return Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// 408 as problem+json, closing the connection: the rest of the body is never read.
fn request_timeout(limit: Duration) -> Response {
    let status = StatusCode::REQUEST_TIMEOUT;
    let problem = serde_json::json!({
        "type": "https://attest.dev/problems/request-timeout",
        "title": status.canonical_reason(),
        "status": status.as_u16(),
        "detail": format!(
            "the request body did not arrive within {:.1} s; the connection is closed",
            limit.as_secs_f64()
        ),
    });
    let mut response = (status, problem.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(attest_api::problem::PROBLEM_JSON),
    );
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::{self, TokenRequest};
    use attest_domain::identity::Role;
    use serde_json::{json, Value};

    const SECRET: &[u8] = b"server-test-secret";

    /// A server on a free port over a fresh embedded store; its base URL.
    async fn start(dir: &std::path::Path) -> String {
        let data = DataDir::open(dir).unwrap();
        let store = embedded_store(&data).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = app(
            store,
            SECRET.to_vec(),
            dir.join("blobs"),
            &base,
            1 << 20,
            LocalConnectors {
                secrets_dir: dir.to_path_buf(),
                import_every: None,
            },
        )
        .await;
        tokio::spawn(serve_until(
            listener,
            app,
            Timeouts::default(),
            std::future::pending(),
        ));
        base
    }

    fn reader_token() -> String {
        token::mint(
            SECRET,
            &TokenRequest {
                tenant: "acme",
                user: "rob",
                roles: &[Role::Reader],
                name: None,
                email: None,
                ttl: chrono::Duration::hours(1),
            },
        )
        .unwrap()
    }

    /// Status and body of GET /regulations (needs the read permission) with `authorization`.
    async fn regulations(base: &str, authorization: &str) -> (u16, Value) {
        let res = reqwest::Client::new()
            .get(format!("{base}/api/compliance/regulations"))
            .header("authorization", authorization)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let content_type = res
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = res.json().await.unwrap_or(Value::Null);
        if status != 200 {
            assert_eq!(content_type.as_deref(), Some("application/problem+json"));
        }
        (status, body)
    }

    #[tokio::test]
    async fn the_bearer_scheme_is_accepted_in_any_case() {
        let dir = tempfile::tempdir().unwrap();
        let base = start(dir.path()).await;
        let token = reader_token();
        for scheme in ["Bearer", "bearer", "BEARER", "bEARER"] {
            let (status, body) = regulations(&base, &format!("{scheme} {token}")).await;
            assert_eq!(status, 200, "{scheme}: {body}");
        }
    }

    #[tokio::test]
    async fn other_schemes_missing_tokens_and_extra_parts_are_401() {
        let dir = tempfile::tempdir().unwrap();
        let base = start(dir.path()).await;
        let token = reader_token();
        for value in [
            "Basic dXNlcjpwYXNz".to_owned(),
            format!("Basic {token}"),
            "Bearer".to_owned(),
            format!("Bearer {token} extra"),
            format!("Bearer {token} {token}"),
            token.clone(),
            format!("Token {token}"),
        ] {
            let (status, body) = regulations(&base, &value).await;
            assert_eq!(status, 401, "{value}: {body}");
            assert_eq!(body["status"], 401);
            assert!(
                body["detail"].as_str().unwrap().contains("Bearer <token>"),
                "{value}: {body}"
            );
        }
    }

    #[tokio::test]
    async fn a_token_not_valid_yet_is_401_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let base = start(dir.path()).await;
        let now = chrono::Utc::now().timestamp();
        let claims = json!({
            "sub": "rob", "tenant": "acme", "roles": ["reader"],
            "iss": token::ISSUER, "aud": token::AUDIENCE,
            "iat": now, "nbf": now + 3600, "exp": now + 7200,
        });
        let early = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        let (status, body) = regulations(&base, &format!("Bearer {early}")).await;
        assert_eq!(status, 401, "{body}");
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains("not valid yet"), "{detail}");
        assert!(detail.contains("nbf"), "{detail}");
    }
}
