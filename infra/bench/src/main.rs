//! `cargo run --release -p attest-bench -- (--catalog PATH | --synthetic N) [--families F]
//! [--map-as REGULATION] [--iterations N]`
//!
//! Starts the local server in-process over the embedded store, imports an OSCAL catalog — a
//! file (e.g. NIST's SP 800-53 rev5 moderate baseline, 287 controls, which NIST publishes at
//! <https://github.com/usnistgov/oscal-content>) or a synthetic one of N controls in F
//! families that the bench writes itself — creates an assessment of it, then measures over
//! loopback HTTP:
//! - `GET /assessments/{id}/controls` (the whole listing), and
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
use clap::Parser;
use serde_json::{json, Value};

/// The built-in regulation NIST's SP 800-53 catalogs are mapped onto.
const NIST_MODERATE: &str = "nist-800-53-r5-moderate";

#[derive(Parser)]
#[command(
    name = "attest-bench",
    about = "Latency of the controls listing and an action PATCH over loopback HTTP, with storage call counts",
    group = clap::ArgGroup::new("input").required(true).args(["catalog", "synthetic"])
)]
struct Args {
    /// An OSCAL catalog (JSON) to import, e.g. NIST's
    /// NIST_SP-800-53_rev5_MODERATE-baseline-resolved-profile_catalog-min.json.
    #[arg(long, value_name = "PATH")]
    catalog: Option<PathBuf>,
    /// Import a synthetic OSCAL catalog of this many controls instead (written by the bench).
    #[arg(long, value_name = "CONTROLS")]
    synthetic: Option<usize>,
    /// How many families the synthetic catalog's controls are spread over.
    #[arg(long, default_value_t = 20, requires = "synthetic")]
    families: usize,
    /// Map the catalog's controls onto this built-in regulation's actions (default: NIST's
    /// moderate baseline for --catalog; none for --synthetic, whose controls then get one
    /// generated action each).
    #[arg(long, value_name = "REGULATION")]
    map_as: Option<String>,
    /// Timed requests of each kind (after 50 warm-up requests).
    #[arg(long, default_value_t = 1000)]
    iterations: usize,
}

/// A synthetic OSCAL 1.1 catalog: `controls` controls in `families` groups, every third one
/// an enhancement nested in the control before it, each with a parameter and a three-item
/// statement of about NIST's length.
fn synthetic_catalog(controls: usize, families: usize) -> Value {
    let families = families.clamp(1, controls.max(1));
    let mut groups = Vec::with_capacity(families);
    for f in 0..families {
        // Spread the controls evenly: the first `controls % families` families get one more.
        let count = controls / families + usize::from(f < controls % families);
        let family = format!("sf{:02}", f + 1);
        let mut list: Vec<Value> = Vec::new();
        let mut base = 0;
        let mut enhancement = 0;
        for i in 0..count {
            if i % 3 == 2 && !list.is_empty() {
                enhancement += 1;
                let id = format!("{family}-{base}.{enhancement}");
                let label = format!("{}-{base}({enhancement})", family.to_uppercase());
                let parent = list.last_mut().unwrap();
                parent["controls"]
                    .as_array_mut()
                    .unwrap()
                    .push(synthetic_control(&id, &label));
            } else {
                base += 1;
                enhancement = 0;
                let id = format!("{family}-{base}");
                let label = format!("{}-{base}", family.to_uppercase());
                list.push(synthetic_control(&id, &label));
            }
        }
        groups.push(json!({
            "id": family,
            "class": "family",
            "title": format!("Synthetic family {}", f + 1),
            "props": [{"name": "label", "value": family.to_uppercase()}],
            "controls": list,
        }));
    }
    json!({"catalog": {
        "uuid": "00000000-0000-4000-8000-000000000001",
        "metadata": {
            "title": format!("Synthetic catalog ({controls} controls)"),
            "last-modified": "2026-01-01T00:00:00Z",
            "version": "1",
            "oscal-version": "1.1.2",
        },
        "groups": groups,
    }})
}

fn synthetic_control(id: &str, label: &str) -> Value {
    let param = format!("{id}_prm_1");
    let item = |letter: &str, text: &str| {
        json!({"id": format!("{id}_smt.{letter}"), "name": "item",
               "props": [{"name": "label", "value": format!("{letter}.")}], "prose": text})
    };
    json!({
        "id": id,
        "class": "synthetic",
        "title": format!("Synthetic control {label}"),
        "params": [{"id": param, "label": "how often this is reviewed"}],
        "props": [{"name": "label", "value": label}],
        "parts": [
            {"id": format!("{id}_smt"), "name": "statement", "parts": [
                item("a", "Write down who is responsible for this control, what it covers and which systems and records it applies to, and keep that description current;"),
                item("b", &format!("Review how the control works {{{{ insert: param, {param} }}}} and after every significant change to the systems it covers;")),
                item("c", "Record each review, its findings and the corrections made, and keep those records for at least three years."),
            ]},
            {"id": format!("{id}_gdn"), "name": "guidance",
             "prose": "Synthetic guidance text of a typical length, which the import leaves out of the control's description."},
        ],
        "controls": [],
    })
}

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
    let args = Args::parse();
    let iterations = args.iterations.max(1);
    let (catalog, map_as) = match (&args.catalog, args.synthetic) {
        (Some(path), _) => {
            let bytes = std::fs::read(path).unwrap_or_else(|e| {
                eprintln!(
                    "attest-bench: cannot read {}: {e} (NIST publishes its catalogs at https://github.com/usnistgov/oscal-content; --synthetic N needs none)",
                    path.display()
                );
                std::process::exit(2)
            });
            (
                bytes,
                args.map_as.clone().or(Some(NIST_MODERATE.to_owned())),
            )
        }
        (None, Some(n)) => (
            serde_json::to_vec(&synthetic_catalog(n, args.families)).unwrap(),
            args.map_as.clone(),
        ),
        (None, None) => unreachable!("clap requires --catalog or --synthetic"),
    };

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

    let import_url = match &map_as {
        Some(m) => format!("{base}/regulations/import/oscal?map_as={m}"),
        None => format!("{base}/regulations/import/oscal"),
    };
    let catalog_bytes = catalog.len();
    let imported = call(
        http.post(import_url)
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
    // The actions worked on: those of NIST's moderate baseline the figures in
    // docs/benchmarks.md were measured with when the listing has them, else its first ones.
    let listed = customer_actions(&first);
    let patched = pick(&listed, &["identity-lifecycle"], 1)
        .pop()
        .expect("the listing has an action a customer can change");
    let action_url = format!("{base}/actions/{patched}");
    // Some worked-on actions, so the listing reads stored instances too.
    let worked = pick(
        &listed,
        &[
            "mfa-admins",
            "logging",
            "backups",
            "patching",
            "least-privilege",
        ],
        5,
    );
    for a in worked {
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
        "attest-bench: embedded store, {controls} controls ({} KB of OSCAL, mapped as {}), {iterations} iterations, loopback HTTP",
        catalog_bytes / 1024,
        map_as.as_deref().unwrap_or("nothing")
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

/// The listing's action instances a customer may change (provider-managed ones are 409), in
/// order, each once.
fn customer_actions(listing: &Value) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for control in listing["items"].as_array().into_iter().flatten() {
        for a in control["actions"].as_array().into_iter().flatten() {
            let id = a["id"].as_str().unwrap_or_default();
            if a["managed_by"] == "customer" && !id.is_empty() && !ids.iter().any(|i| i == id) {
                ids.push(id.to_owned());
            }
        }
    }
    ids
}

/// Up to `n` of `listed`: the `preferred` ones it has, then its first others.
fn pick(listed: &[String], preferred: &[&str], n: usize) -> Vec<String> {
    let mut out: Vec<String> = preferred
        .iter()
        .filter(|p| listed.iter().any(|l| l == *p))
        .map(|p| (*p).to_owned())
        .collect();
    for l in listed {
        if out.len() >= n {
            break;
        }
        if !out.contains(l) {
            out.push(l.clone());
        }
    }
    out.truncate(n);
    out
}

async fn axum_serve(listener: tokio::net::TcpListener, app: attest::server::Router) {
    attest::server::serve(listener, app).await.unwrap();
}

fn chrono_hours(h: i64) -> attest::token::Duration {
    attest::token::Duration::hours(h)
}
