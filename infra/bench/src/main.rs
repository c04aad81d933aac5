//! `cargo run --release -p attest-bench [-- ITERATIONS]`
//!
//! Starts the local server in-process over the embedded store, imports NIST's moderate
//! baseline (287 controls, from `../shared/data/oscal/`), creates an assessment of it, then
//! measures over loopback HTTP:
//! - `GET /assessments/{id}/controls` (the whole ~300-control listing), and
//! - `PATCH /actions/{id}` (an owner change: instance + history written in one transaction),
//!
//! printing p50/p99/max and how many storage calls each request makes. The storage calls are
//! the backend primitives, which map one to one onto DynamoDB calls (GetItem, Query page,
//! PutItem/DeleteItem for a single write, TransactWriteItems for several).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use attest_store::{Backend, BackendError, Item, Key, Page, Query, Store, WriteOp};
use attest_store_embedded::EmbeddedBackend;
use serde_json::{json, Value};

/// Counts the primitive calls that reach the backend.
struct Counting {
    inner: EmbeddedBackend,
    gets: AtomicUsize,
    queries: AtomicUsize,
    writes: AtomicUsize,
    transactions: AtomicUsize,
}

impl Counting {
    fn reset(&self) {
        for c in [&self.gets, &self.queries, &self.writes, &self.transactions] {
            c.store(0, Ordering::SeqCst);
        }
    }

    fn report(&self) -> String {
        let (g, q, w, t) = (
            self.gets.load(Ordering::SeqCst),
            self.queries.load(Ordering::SeqCst),
            self.writes.load(Ordering::SeqCst),
            self.transactions.load(Ordering::SeqCst),
        );
        format!("{} calls: {g} GetItem, {q} Query page(s), {w} single-item write(s), {t} TransactWriteItems", g + q + w + t)
    }
}

#[async_trait]
impl Backend for Counting {
    async fn get(&self, key: &Key) -> Result<Option<Item>, BackendError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(key).await
    }
    async fn query(&self, query: &Query) -> Result<Page, BackendError> {
        self.queries.fetch_add(1, Ordering::SeqCst);
        self.inner.query(query).await
    }
    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), BackendError> {
        let single = matches!(
            ops.as_slice(),
            [WriteOp::Put { .. } | WriteOp::Delete { .. }]
        );
        if single {
            &self.writes
        } else {
            &self.transactions
        }
        .fetch_add(1, Ordering::SeqCst);
        self.inner.write(ops).await
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name}: n={} p50={:.2} ms p99={:.2} ms max={:.2} ms",
        samples.len(),
        ms(percentile(&samples, 0.50)),
        ms(percentile(&samples, 0.99)),
        ms(*samples.last().unwrap())
    );
}

#[tokio::main]
async fn main() {
    let iterations: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let catalog = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/oscal/NIST_SP-800-53_rev5_MODERATE-baseline-resolved-profile_catalog-min.json");
    let catalog = std::fs::read(&catalog).unwrap_or_else(|e| panic!("{}: {e}", catalog.display()));

    let dir = tempfile::tempdir().unwrap();
    let counting = Arc::new(Counting {
        inner: EmbeddedBackend::open(&dir.path().join("bench.redb")).unwrap(),
        gets: AtomicUsize::new(0),
        queries: AtomicUsize::new(0),
        writes: AtomicUsize::new(0),
        transactions: AtomicUsize::new(0),
    });
    let secret = b"bench-secret".to_vec();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}/api/compliance");
    let app = attest::server::app(
        Store::new(counting.clone()),
        secret.clone(),
        dir.path().join("blobs"),
        &format!("http://{addr}"),
        1 << 20,
    );
    tokio::spawn(async move { axum_serve(listener, app).await });

    let token = attest::token::mint(
        &secret,
        &attest::token::TokenRequest {
            tenant: "bench",
            user: "bench",
            roles: &[attest_domain::identity::Role::Administrator],
            name: None,
            email: None,
            ttl: chrono_hours(2),
        },
    )
    .unwrap();
    let http = reqwest::Client::new();
    let call = |req: reqwest::RequestBuilder| {
        let token = token.clone();
        async move {
            let res = req.bearer_auth(token).send().await.unwrap();
            let status = res.status();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            assert!(status.is_success(), "{status}: {body}");
            body
        }
    };

    let imported = call(
        http.post(format!(
            "{base}/regulations/import/oscal?map_as=nist-800-53-r5-moderate"
        ))
        .header("content-type", "application/json")
        .body(catalog),
    )
    .await;
    let regulation = imported["id"].as_str().unwrap().to_owned();
    let assessment = call(http.post(format!("{base}/assessments")).json(&json!({
        "regulation_id": regulation, "group_name": "Bench", "services": ["aws"]
    })))
    .await;
    let id = assessment["id"].as_str().unwrap().to_owned();
    let controls_url = format!("{base}/assessments/{id}/controls");
    let first = call(http.get(&controls_url)).await;
    let controls = first["items"].as_array().unwrap().len();
    let action_url = format!("{base}/actions/identity-lifecycle");
    // Some worked-on actions, so the listing reads stored instances too.
    for a in [
        "mfa-admins",
        "logging",
        "backups",
        "patching",
        "least-privilege",
    ] {
        call(
            http.patch(format!("{base}/actions/{a}")).json(
                &json!({"owner": "owner@bench.test", "implementation_status": "implemented"}),
            ),
        )
        .await;
    }

    for _ in 0..50 {
        call(http.get(&controls_url)).await;
    }
    let mut list = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let t = Instant::now();
        call(http.get(&controls_url)).await;
        list.push(t.elapsed());
    }
    let mut patch = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let t = Instant::now();
        call(
            http.patch(&action_url)
                .json(&json!({"owner": format!("owner-{}@bench.test", i % 7)})),
        )
        .await;
        patch.push(t.elapsed());
    }

    println!(
        "attest-bench: embedded store, {controls} controls, {iterations} iterations, loopback HTTP"
    );
    summary("GET /assessments/{id}/controls", list);
    summary("PATCH /actions/{id}", patch);
    counting.reset();
    call(http.get(&controls_url)).await;
    println!(
        "GET /assessments/{{id}}/controls storage: {}",
        counting.report()
    );
    counting.reset();
    call(
        http.patch(&action_url)
            .json(&json!({"owner": "someone-else@bench.test"})),
    )
    .await;
    println!("PATCH /actions/{{id}} storage: {}", counting.report());
}

async fn axum_serve(listener: tokio::net::TcpListener, app: attest::server::Router) {
    attest::server::serve(listener, app).await.unwrap();
}

fn chrono_hours(h: i64) -> attest::token::Duration {
    attest::token::Duration::hours(h)
}
