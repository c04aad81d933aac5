//! `cargo run --release -p attest-bench -- [--store embedded|dynamodb] [--catalog PATH |
//! --synthetic N] [--iterations N] ...`
//!
//! Starts the local server (`attest serve`'s application: the API routers, local token
//! verification) in-process over the chosen store — the embedded redb store in a temporary
//! directory, or DynamoDB Local started from `.tools/` the way the tests start it — and drives
//! it over loopback HTTP with a keep-alive client, in three tenants of the same store:
//!
//! - (a) one assessment (NIST SP 800-53 rev5 moderate, built in);
//! - (b) twenty assessments: the four built-in regulations in each of five groups;
//! - (c) the twenty of (b) plus an imported OSCAL catalog (a synthetic one of `--synthetic N`
//!   controls, 1,200 by default, or `--catalog PATH`) assessed once in a sixth group.
//!
//! In every tenant each action instance the built-in assessments use is changed once
//! (`PATCH` of its owner), so that its instance is stored; the catalog's are not.
//!
//! Then it times, in each tenant, on the NIST assessment of the first group and the
//! tenant-wide action `mfa-admins` (which every built-in assessment uses): `GET /actions`
//! (the first page, and the page where the tenant-wide instances start), `GET /actions/{id}`,
//! `PATCH /actions/{id}`, `GET /assessments/{id}/controls`; and, with fewer iterations,
//! `GET /assessments` and `GET /score` (which read the whole tenant by design) and in (c) the
//! catalog's page of `GET /actions`, the listing filtered to the catalog's assessment, and that
//! assessment's controls. For every timed request
//! it counts the storage calls (the backend primitives, which map one to one onto DynamoDB
//! calls) and the items they read and wrote, and on DynamoDB the capacity units DynamoDB
//! reports for them (`ReturnConsumedCapacity=TOTAL`, through the backend's meter).

mod local;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use attest_store::backend::MAX_BATCH_GET;
use attest_store::events::OUTBOX;
use attest_store::{Backend, BackendError, Item, Key, Page, Query, Store, WriteOp};
use attest_store_dynamodb::{CapacityMeter, Consumed, DynamoDbBackend};
use attest_store_embedded::EmbeddedBackend;
use base64::Engine;
use clap::Parser;
use serde_json::{json, Value};

/// The built-in regulations, in the order each group gets them; the first is the one measured.
const BUILT_IN: [&str; 4] = [
    "nist-800-53-r5-moderate",
    "iso-27001-2022",
    "gdpr",
    "soc2-2017",
];
/// Groups of tenants (b) and (c).
const GROUPS: usize = 5;
/// The action measured: technical, so one instance for the tenant, and used by every
/// built-in regulation, so by every built-in assessment.
const MEASURED_ACTION: &str = "mfa-admins";
/// The imported catalog's regulation id.
const CATALOG_ID: &str = "bench-catalog";
/// Groups of tenant (d20), each assessing the custom regulations.
const CUSTOM_GROUPS: usize = 5;
/// Custom regulations of tenant (d20).
const CUSTOM_REGULATIONS: usize = 4;

#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
enum StoreKind {
    /// The embedded redb store of `attest serve`, in a temporary directory.
    Embedded,
    /// DynamoDB Local (AWS's emulator from `.tools/`, or ATTEST_DYNAMODB_LOCAL_DIR), with the
    /// capacity meter on.
    Dynamodb,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, clap::ValueEnum)]
enum TenantKind {
    /// One assessment.
    A,
    /// Four built-in regulations in each of five groups, every action changed once.
    B,
    /// (b) plus an imported catalog, assessed once.
    C,
    /// One assessment of a custom regulation of `--custom-controls` controls (300), each
    /// control with its own generated action; every instance changed once.
    D1,
    /// Twenty assessments of about 300 controls and 1,500 actions: four custom regulations of
    /// `--custom-controls` controls (the first generates one action per control, the other
    /// three map their controls onto those actions) in each of five groups; every instance
    /// changed once.
    D20,
}

impl TenantKind {
    const ALL: [TenantKind; 5] = [
        TenantKind::A,
        TenantKind::B,
        TenantKind::C,
        TenantKind::D1,
        TenantKind::D20,
    ];

    fn label(self) -> &'static str {
        match self {
            TenantKind::A => "(a)",
            TenantKind::B => "(b)",
            TenantKind::C => "(c)",
            TenantKind::D1 => "(d1)",
            TenantKind::D20 => "(d20)",
        }
    }

    fn custom(self) -> bool {
        matches!(self, TenantKind::D1 | TenantKind::D20)
    }
}

#[derive(Parser)]
#[command(
    name = "attest-bench",
    about = "Latency, storage calls and DynamoDB capacity of the hot API requests in three tenants of growing size"
)]
struct Args {
    /// The store under the server.
    #[arg(long, value_enum, default_value = "embedded")]
    store: StoreKind,
    /// An OSCAL catalog (JSON) to import in tenant (c), e.g. NIST's
    /// NIST_SP-800-53_rev5_MODERATE-baseline-resolved-profile_catalog-min.json, instead of a
    /// synthetic one.
    #[arg(long, value_name = "PATH")]
    catalog: Option<PathBuf>,
    /// Controls of the synthetic OSCAL catalog tenant (c) imports (written by the bench).
    #[arg(
        long,
        value_name = "CONTROLS",
        default_value_t = 1200,
        conflicts_with = "catalog"
    )]
    synthetic: usize,
    /// How many families the synthetic catalog's controls are spread over.
    #[arg(long, default_value_t = 20)]
    families: usize,
    /// Map the catalog's controls onto this built-in regulation's actions (default: NIST's
    /// moderate baseline for --catalog; none for a synthetic one, whose controls then get one
    /// generated action each).
    #[arg(long, value_name = "REGULATION")]
    map_as: Option<String>,
    /// Timed requests of each of the four measured kinds, per tenant.
    #[arg(long, default_value_t = 1000)]
    iterations: usize,
    /// Timed requests of the slower kinds: the `PATCH`es that recompute scores before the
    /// answer, their delivery measured apart, and, in (c), those of the catalog's actions and
    /// controls.
    #[arg(long, default_value_t = 100)]
    whole_iterations: usize,
    /// Controls of each custom regulation of tenants (d1) and (d20).
    #[arg(long, default_value_t = 300)]
    custom_controls: usize,
    /// Untimed requests of each kind before the timed ones.
    #[arg(long, default_value_t = 50)]
    warmup: usize,
    /// The tenants to build and measure.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "a,b,c,d1,d20"
    )]
    tenants: Vec<TenantKind>,
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

/// The storage calls one request made, as the DynamoDB calls they are: a `get` is a GetItem,
/// a `get_many` one BatchGetItem per 100 distinct keys, a query page a Query, a write of one
/// Put or Delete a PutItem/DeleteItem, any other write a TransactWriteItems.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Calls {
    get_item: u32,
    batch_get_item: u32,
    query: u32,
    single_write: u32,
    transact_write: u32,
    /// Items the reads returned.
    items_read: u32,
    /// Items the writes put, deleted or checked.
    items_written: u32,
}

impl Calls {
    fn total(&self) -> u32 {
        self.get_item + self.batch_get_item + self.query + self.single_write + self.transact_write
    }
}

/// Counts the primitive calls that reach the backend, and (while `logging`) describes each.
///
/// Two things keep the counts to the request measured: the calls of the server's background
/// task (`attest serve` drains the outbox every 5 s and takes the daily score points hourly)
/// pass through uncounted, and that task finds the outbox empty, so every event is delivered by
/// the drain of the request that wrote it (as `attest serve` does before answering) or by the
/// bench; and while `hide_outbox` is set the request's own drain finds it empty too, so that the
/// bench can time and count the delivery of its events apart from the request.
struct Counting {
    inner: Arc<dyn Backend>,
    calls: Mutex<Calls>,
    /// Time spent in the backend's calls (summed: concurrent calls overlap).
    busy: Mutex<Duration>,
    logging: AtomicBool,
    log: Mutex<Vec<String>>,
    /// While set, the outbox reads as empty: the server's drain after a request delivers
    /// nothing, and the bench delivers the request's events itself.
    hide_outbox: AtomicBool,
    /// While set, every task that calls is taken for the server's background task.
    watch_background: AtomicBool,
    /// The server's background task: its calls are not counted, and its outbox is empty.
    background: Mutex<HashSet<tokio::task::Id>>,
}

impl Counting {
    fn new(inner: Arc<dyn Backend>) -> Self {
        Self {
            inner,
            calls: Mutex::new(Calls::default()),
            busy: Mutex::new(Duration::ZERO),
            logging: AtomicBool::new(false),
            log: Mutex::new(Vec::new()),
            hide_outbox: AtomicBool::new(false),
            watch_background: AtomicBool::new(false),
            background: Mutex::new(HashSet::new()),
        }
    }

    /// Whether the call comes from the server's background task (the bench's own calls, made
    /// outside any task, never do).
    fn called_by_background(&self) -> bool {
        let Some(id) = tokio::task::try_id() else {
            return false;
        };
        let mut background = self.background.lock().unwrap();
        if self.watch_background.load(Ordering::SeqCst) {
            background.insert(id);
            return true;
        }
        background.contains(&id)
    }

    /// The calls since the last take, and zero again.
    fn take(&self) -> Calls {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }

    /// The time spent in storage calls since the last take, and zero again.
    fn take_busy(&self) -> Duration {
        std::mem::take(&mut *self.busy.lock().unwrap())
    }

    fn add(&self, started: Instant, f: impl FnOnce(&mut Calls)) {
        *self.busy.lock().unwrap() += started.elapsed();
        f(&mut self.calls.lock().unwrap());
    }

    fn note(&self, line: impl FnOnce() -> String) {
        if self.logging.load(Ordering::SeqCst) {
            self.log.lock().unwrap().push(line());
        }
    }

    /// Logs the calls of what runs until [`Counting::stop_log`].
    fn start_log(&self) {
        self.log.lock().unwrap().clear();
        self.logging.store(true, Ordering::SeqCst);
    }

    fn stop_log(&self) -> Vec<String> {
        self.logging.store(false, Ordering::SeqCst);
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

/// The item kind of a partition key: `T#{tenant}#{KIND}[#...]` -> `KIND`.
fn kind(pk: &str) -> &str {
    pk.split('#').nth(2).unwrap_or(pk)
}

/// Ids (32 hex digits) shortened to `{id}`, for readable logs.
fn shorten(text: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_hexdigit() {
            run.push(c);
            continue;
        }
        if run.len() == 32 {
            out.push_str("{id}");
        } else {
            out.push_str(&run);
        }
        run.clear();
        out.push(c);
    }
    out.pop();
    out
}

fn describe_op(op: &WriteOp) -> String {
    let verb = match op {
        WriteOp::Put { .. } => "Put",
        WriteOp::Delete { .. } => "Delete",
        WriteOp::Check { .. } => "ConditionCheck",
    };
    format!("{verb} {}", kind(&op.key().pk))
}

#[async_trait]
impl Backend for Counting {
    async fn get(&self, key: &Key) -> Result<Option<Item>, BackendError> {
        if self.called_by_background() {
            return self.inner.get(key).await;
        }
        let t = Instant::now();
        let found = self.inner.get(key).await?;
        let n = u32::from(found.is_some());
        self.add(t, |c| {
            c.get_item += 1;
            c.items_read += n;
        });
        self.note(|| format!("GetItem {}", kind(&key.pk)));
        Ok(found)
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, BackendError> {
        if self.called_by_background() {
            return self.inner.get_many(keys).await;
        }
        let t = Instant::now();
        let found = self.inner.get_many(keys).await?;
        let distinct: BTreeSet<&Key> = keys.iter().collect();
        let batches = distinct.len().div_ceil(MAX_BATCH_GET) as u32;
        let n = found.iter().flatten().count() as u32;
        self.add(t, |c| {
            c.batch_get_item += batches;
            c.items_read += n;
        });
        self.note(|| {
            let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
            for k in &distinct {
                *kinds.entry(kind(&k.pk)).or_default() += 1;
            }
            let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
            format!(
                "BatchGetItem x{batches} ({} keys, {n} found)",
                kinds.join(" + ")
            )
        });
        Ok(found)
    }

    async fn query(&self, query: &Query) -> Result<Page, BackendError> {
        let background = self.called_by_background();
        if query.pk == OUTBOX && (background || self.hide_outbox.load(Ordering::SeqCst)) {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        }
        if background {
            return self.inner.query(query).await;
        }
        let t = Instant::now();
        let page = self.inner.query(query).await?;
        let n = page.items.len() as u32;
        self.add(t, |c| {
            c.query += 1;
            c.items_read += n;
        });
        self.note(|| {
            let prefix = if query.sk_prefix.is_empty() {
                String::new()
            } else {
                format!(" sk^={}", shorten(&query.sk_prefix))
            };
            let limit = query
                .limit
                .map(|l| format!(" limit {l}"))
                .unwrap_or_default();
            format!("Query {}{prefix}{limit} ({n} items)", kind(&query.pk))
        });
        Ok(page)
    }

    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), BackendError> {
        if self.called_by_background() {
            return self.inner.write(ops).await;
        }
        let single = matches!(
            ops.as_slice(),
            [WriteOp::Put { .. } | WriteOp::Delete { .. }]
        );
        let n = ops.len() as u32;
        let line = self.logging.load(Ordering::SeqCst).then(|| {
            let described: Vec<String> = ops.iter().map(describe_op).collect();
            if single {
                format!(
                    "{}Item {}",
                    described[0].split(' ').next().unwrap_or(""),
                    kind(&ops[0].key().pk)
                )
            } else {
                format!("TransactWriteItems [{}]", described.join(", "))
            }
        });
        let t = Instant::now();
        let result = self.inner.write(ops).await;
        self.add(t, |c| {
            if single {
                c.single_write += 1;
            } else {
                c.transact_write += 1;
            }
            c.items_written += n;
        });
        if let Some(line) = line {
            self.note(|| line);
        }
        result
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A request to time: method, path under the API's base, JSON body.
struct Req {
    method: reqwest::Method,
    path: String,
    body: Option<Value>,
}

impl Req {
    fn get(path: impl Into<String>) -> Self {
        Req {
            method: reqwest::Method::GET,
            path: path.into(),
            body: None,
        }
    }

    fn patch(path: impl Into<String>, body: Value) -> Self {
        Req {
            method: reqwest::Method::PATCH,
            path: path.into(),
            body: Some(body),
        }
    }
}

/// The server, the client, and the counters under the store.
struct Bench {
    http: reqwest::Client,
    base: String,
    secret: Vec<u8>,
    counting: Arc<Counting>,
    meter: Option<Arc<CapacityMeter>>,
    backend: Arc<dyn Backend>,
    /// The application's state over a second counting wrapper of the same store, for the
    /// score recomputation the bench runs itself (`score::on_events`, as the server's drain
    /// and the `score-recompute` function call it).
    direct: Arc<Counting>,
    direct_state: attest_api::AppState,
    /// The same over the store itself (uncounted): the bench's own bookkeeping.
    raw_state: attest_api::AppState,
}

/// One tenant, as its administrator sees it.
struct Tenant {
    kind: TenantKind,
    id: String,
    token: String,
}

/// What one request kind measured in one tenant.
struct Measured {
    tenant: TenantKind,
    name: String,
    samples: Vec<Duration>,
    /// Per timed request: the time spent in storage calls.
    storage: Vec<Duration>,
    /// Per timed request.
    calls: Vec<Calls>,
    /// Per timed request (DynamoDB only).
    consumed: Vec<Consumed>,
    /// The calls of one more request, described.
    log: Vec<String>,
}

impl Bench {
    async fn send(&self, tenant: &Tenant, req: &Req) -> Value {
        let mut builder = self
            .http
            .request(req.method.clone(), format!("{}{}", self.base, req.path))
            .bearer_auth(&tenant.token);
        if let Some(body) = &req.body {
            builder = builder.json(body);
        }
        let res = builder.send().await.unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert!(
            status.is_success(),
            "{} {}: {status}: {body}",
            req.method,
            req.path
        );
        body
    }

    async fn post_bytes(&self, tenant: &Tenant, path: &str, bytes: Vec<u8>) -> Value {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&tenant.token)
            .header("content-type", "application/json")
            .body(bytes)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "POST {path}: {status}: {body}");
        body
    }

    fn tenant(&self, kind: TenantKind) -> Tenant {
        let id = format!("bench-{}", format!("{kind:?}").to_lowercase());
        let token = attest::token::mint(
            &self.secret,
            &attest::token::TokenRequest {
                tenant: &id,
                user: "bench",
                roles: &[attest_domain::identity::Role::Administrator],
                name: None,
                email: None,
                ttl: attest::token::Duration::hours(24),
            },
        )
        .unwrap();
        Tenant { kind, id, token }
    }

    /// Times `iterations` requests (after `warmup`), counting each one's storage calls.
    async fn measure(
        &self,
        tenant: &Tenant,
        name: &str,
        warmup: usize,
        iterations: usize,
        make: impl Fn(usize) -> Req,
    ) -> Measured {
        for i in 0..warmup {
            self.send(tenant, &make(i)).await;
        }
        let mut samples = Vec::with_capacity(iterations);
        let mut calls = Vec::with_capacity(iterations);
        let mut storage = Vec::with_capacity(iterations);
        let mut consumed = Vec::new();
        for i in 0..iterations {
            let req = make(warmup + i);
            self.counting.take();
            self.counting.take_busy();
            if let Some(m) = &self.meter {
                m.take();
            }
            let t = Instant::now();
            self.send(tenant, &req).await;
            samples.push(t.elapsed());
            calls.push(self.counting.take());
            storage.push(self.counting.take_busy());
            if let Some(m) = &self.meter {
                consumed.push(m.take());
            }
        }
        self.counting.start_log();
        self.send(tenant, &make(warmup + iterations)).await;
        let log = self.counting.stop_log();
        let m = Measured {
            tenant: tenant.kind,
            name: name.to_owned(),
            samples,
            storage,
            calls,
            consumed,
            log,
        };
        eprintln!(
            "  {} {name}: p50 {:.3} ms, {} calls",
            tenant.kind.label(),
            m.p(0.5),
            m.calls_text()
        );
        m
    }

    /// Times `iterations` `PATCH`es (after `warmup`) with the server's drain held (the outbox
    /// hidden from it), then the score recomputation of the event each one wrote, run by the
    /// bench through the second counting wrapper: `score::on_events` on its `ActionUpdated`,
    /// what the server's drain (`bus::deliver`) and the `score-recompute` function do with
    /// it. Returns the request's own measurement and the recomputation's. After each, the
    /// outbox is drained uncounted by a bus of the bench (alerts evaluated, the `ScoreChanged`
    /// events the recomputation wrote delivered; the `ActionUpdated` is skipped by score
    /// recomputation there, handled already).
    async fn measure_split(
        &self,
        tenant: &Tenant,
        name: &str,
        warmup: usize,
        iterations: usize,
        make: impl Fn(usize) -> Req,
    ) -> (Measured, Measured) {
        let bus = attest_api::bus::LocalBus::new(self.raw_state.clone());
        self.counting.hide_outbox.store(true, Ordering::SeqCst);
        let mut own = Measured::new(tenant.kind, &format!("{name}, delivery held"));
        let mut delivery = Measured::new(
            tenant.kind,
            "recompute: score::on_events(the PATCH's ActionUpdated)",
        );
        for i in 0..warmup + iterations + 1 {
            let timed = i >= warmup && i < warmup + iterations;
            let logged = i == warmup + iterations;
            let req = make(i);
            self.counting.take();
            self.counting.take_busy();
            if let Some(m) = &self.meter {
                m.take();
            }
            if logged {
                self.counting.start_log();
            }
            let t = Instant::now();
            self.send(tenant, &req).await;
            let elapsed = t.elapsed();
            if logged {
                own.log = self.counting.stop_log();
            }
            let calls = self.counting.take();
            let busy = self.counting.take_busy();
            let consumed = self.meter.as_ref().map(|m| m.take());
            if timed {
                own.samples.push(elapsed);
                own.calls.push(calls);
                own.storage.push(busy);
                own.consumed.extend(consumed);
            }
            // The events the request wrote, read uncounted.
            let events = self.raw_state.store.outbox(100).await.unwrap();
            assert!(
                events.len() == 1 && events[0].tenant.as_str() == tenant.id,
                "one event per PATCH, of this tenant: {:?}",
                events.iter().map(|e| e.kind).collect::<Vec<_>>()
            );
            self.direct.take();
            self.direct.take_busy();
            if let Some(m) = &self.meter {
                m.take();
            }
            if logged {
                self.direct.start_log();
            }
            let t = Instant::now();
            attest_api::usecases::score::on_events(&self.direct_state, &events)
                .await
                .unwrap();
            let elapsed = t.elapsed();
            if logged {
                delivery.log = self.direct.stop_log();
            }
            let calls = self.direct.take();
            let busy = self.direct.take_busy();
            let consumed = self.meter.as_ref().map(|m| m.take());
            if timed {
                delivery.samples.push(elapsed);
                delivery.calls.push(calls);
                delivery.storage.push(busy);
                delivery.consumed.extend(consumed);
            }
            bus.drain().await;
        }
        self.counting.hide_outbox.store(false, Ordering::SeqCst);
        for m in [&own, &delivery] {
            eprintln!(
                "  {} {}: p50 {:.3} ms, {} calls",
                tenant.kind.label(),
                m.name,
                m.p(0.5),
                m.calls_text()
            );
        }
        (own, delivery)
    }

    /// Tenants (d1) and (d20): custom regulations of `controls` controls, in 10 families. The
    /// first (`bench-r1`) gives each control its own generated action (customer-managed
    /// documentation actions, one instance per group); in (d20) three more (`bench-r2..4`)
    /// map control `i` onto the first's action `i`, as frameworks that overlap share actions.
    /// (d1): one group assessing `bench-r1`; (d20): five groups assessing all four. Returns
    /// the measured assessment (the first group's `bench-r1`) and the regulations created.
    async fn build_custom(&self, tenant: &Tenant, controls: usize) -> (String, usize) {
        let families = 10.min(controls.max(1));
        let layout = |regulation: usize, actions: &[String]| -> Value {
            let mut list = Vec::new();
            let mut n = 0;
            for f in 0..families {
                let count = controls / families + usize::from(f < controls % families);
                let mut cs = Vec::new();
                for c in 0..count {
                    let mut control = json!({
                        "id": format!("R{regulation}-F{:02}-{:02}", f + 1, c + 1),
                        "title": format!("Bench control {} of family {} of regulation {regulation}", c + 1, f + 1),
                        "description": "Keep a written, current description of who does this, for which systems, and how it is reviewed; record each review and its findings.",
                    });
                    if let Some(a) = actions.get(n) {
                        control["actions"] = json!([a]);
                    }
                    cs.push(control);
                    n += 1;
                }
                list.push(json!({
                    "id": format!("F{:02}", f + 1),
                    "title": format!("Family {}", f + 1),
                    "controls": cs,
                }));
            }
            json!({
                "id": format!("bench-r{regulation}"),
                "name": format!("Bench regulation {regulation}"),
                "families": list,
            })
        };
        let post = |body: Value| Req {
            method: reqwest::Method::POST,
            path: "/regulations".into(),
            body: Some(body),
        };
        let first = self.send(tenant, &post(layout(1, &[]))).await;
        let generated: Vec<String> = first["families"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|f| f["controls"].as_array().unwrap().iter())
            .map(|c| c["actions"][0]["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(generated.len(), controls);
        let (groups, regulations) = if tenant.kind == TenantKind::D20 {
            (CUSTOM_GROUPS, CUSTOM_REGULATIONS)
        } else {
            (1, 1)
        };
        for r in 2..=regulations {
            self.send(tenant, &post(layout(r, &generated))).await;
        }
        let mut measured = String::new();
        for g in 1..=groups {
            let mut group_id = String::new();
            for r in 1..=regulations {
                let name = format!("Group {g}");
                let target = if r == 1 {
                    Err(name.as_str())
                } else {
                    Ok(group_id.as_str())
                };
                let (id, group) = self.assess(tenant, &format!("bench-r{r}"), target).await;
                if g == 1 && r == 1 {
                    measured = id;
                }
                group_id = group;
            }
        }
        (measured, regulations)
    }

    /// Every instance id the tenant's live assessments use, with who manages it.
    async fn all_actions(&self, tenant: &Tenant) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/actions?limit=200&cursor={c}"),
                None => "/actions?limit=200".to_owned(),
            };
            let page = self.send(tenant, &Req::get(path)).await;
            for a in page["items"].as_array().into_iter().flatten() {
                out.push((
                    a["id"].as_str().unwrap_or_default().to_owned(),
                    a["managed_by"].as_str().unwrap_or_default().to_owned(),
                ));
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return out,
            }
        }
    }

    /// Creates an assessment of `regulation` in a new group (`group_name`) or an existing one.
    async fn assess(
        &self,
        tenant: &Tenant,
        regulation: &str,
        group: Result<&str, &str>,
    ) -> (String, String) {
        let mut body = json!({"regulation_id": regulation, "services": ["aws"]});
        match group {
            Ok(id) => body["group_id"] = json!(id),
            Err(name) => body["group_name"] = json!(name),
        }
        let created = self
            .send(
                tenant,
                &Req {
                    method: reqwest::Method::POST,
                    path: "/assessments".into(),
                    body: Some(body),
                },
            )
            .await;
        (
            created["id"].as_str().unwrap().to_owned(),
            created["group_id"].as_str().unwrap().to_owned(),
        )
    }

    /// Items of one partition of the tenant (counted outside any measurement).
    async fn count_items(&self, tenant: &Tenant, kind: &str) -> usize {
        let mut query = Query::prefix(format!("T#{}#{kind}", tenant.id), "");
        let mut n = 0;
        loop {
            let page = self.backend.query(&query).await.unwrap();
            n += page.items.len();
            match page.next {
                Some(next) => query.after = Some(next),
                None => return n,
            }
        }
    }
}

impl Measured {
    fn new(tenant: TenantKind, name: &str) -> Self {
        Measured {
            tenant,
            name: name.to_owned(),
            samples: Vec::new(),
            storage: Vec::new(),
            calls: Vec::new(),
            consumed: Vec::new(),
            log: Vec::new(),
        }
    }

    fn p(&self, p: f64) -> f64 {
        let mut s = self.samples.clone();
        s.sort();
        ms(percentile(&s, p))
    }

    /// The median time a request spent in storage calls.
    fn storage_p50(&self) -> f64 {
        let mut s = self.storage.clone();
        s.sort();
        ms(percentile(&s, 0.5))
    }

    fn max(&self) -> f64 {
        ms(self.samples.iter().copied().max().unwrap_or_default())
    }

    /// The calls of every timed request, and how many requests made each.
    fn distinct_calls(&self) -> BTreeMap<Calls, usize> {
        let mut out = BTreeMap::new();
        for c in &self.calls {
            *out.entry(c.clone()).or_default() += 1;
        }
        out
    }

    /// The most common calls (every timed request's, when they all agree).
    fn typical(&self) -> Calls {
        self.distinct_calls()
            .into_iter()
            .max_by_key(|(_, n)| *n)
            .map(|(c, _)| c)
            .unwrap_or_default()
    }

    fn calls_text(&self) -> String {
        let d = self.distinct_calls();
        if d.len() == 1 {
            self.typical().total().to_string()
        } else {
            let totals: BTreeSet<u32> = d.keys().map(Calls::total).collect();
            let list: Vec<String> = totals.iter().map(u32::to_string).collect();
            format!("{} (varies: {})", self.typical().total(), list.join("/"))
        }
    }

    fn mean(&self, f: impl Fn(&Consumed) -> f64) -> Option<f64> {
        (!self.consumed.is_empty())
            .then(|| self.consumed.iter().map(f).sum::<f64>() / self.consumed.len() as f64)
    }

    /// Calls by DynamoDB operation as the meter saw them (every timed request's, when they
    /// all agree).
    fn dynamodb_calls(&self) -> Option<String> {
        if self.consumed.is_empty() {
            return None;
        }
        let set: BTreeSet<String> = self
            .consumed
            .iter()
            .map(|c| {
                c.calls
                    .iter()
                    .map(|(op, n)| format!("{n} {op}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .collect();
        Some(set.into_iter().collect::<Vec<_>>().join(" | "))
    }
}

async fn serve(listener: tokio::net::TcpListener, app: attest::server::Router) {
    attest::server::serve(listener, app).await.unwrap();
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let iterations = args.iterations.max(1);
    let whole = args.whole_iterations.max(1);
    let (catalog, map_as, catalog_name) = match &args.catalog {
        Some(path) => {
            let bytes = std::fs::read(path).unwrap_or_else(|e| {
                eprintln!(
                    "attest-bench: cannot read {}: {e} (NIST publishes its catalogs at https://github.com/usnistgov/oscal-content; the default synthetic catalog needs none)",
                    path.display()
                );
                std::process::exit(2)
            });
            (
                bytes,
                args.map_as
                    .clone()
                    .or(Some("nist-800-53-r5-moderate".to_owned())),
                path.file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            )
        }
        None => (
            serde_json::to_vec(&synthetic_catalog(args.synthetic, args.families)).unwrap(),
            args.map_as.clone(),
            format!(
                "synthetic, {} controls in {} families",
                args.synthetic, args.families
            ),
        ),
    };

    let dir = tempfile::tempdir().unwrap();
    let (inner, meter, store_text): (Arc<dyn Backend>, Option<Arc<CapacityMeter>>, String) =
        match args.store {
            StoreKind::Embedded => {
                let path = dir.path().join("bench.redb");
                let text = format!("embedded redb store ({})", path.display());
                (Arc::new(EmbeddedBackend::open(&path).unwrap()), None, text)
            }
            StoreKind::Dynamodb => {
                let table = "attest-bench";
                let (client, endpoint) = local::dynamodb_local_table(table).await;
                let meter = Arc::new(CapacityMeter::new());
                let text = format!("DynamoDB Local at {} (in memory)", endpoint);
                (
                    Arc::new(DynamoDbBackend::new(client, table).with_meter(meter.clone())),
                    Some(meter),
                    text,
                )
            }
        };
    let counting = Arc::new(Counting::new(inner.clone()));
    let secret = b"bench-secret".to_vec();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // The server's background task starts with a drain and the day's score points: whatever
    // task calls the store before any request is sent is that one.
    counting.watch_background.store(true, Ordering::SeqCst);
    let app = attest::server::app(
        Store::new(counting.clone()),
        secret.clone(),
        dir.path().join("blobs"),
        &format!("http://{addr}"),
        1 << 20,
        attest::server::LocalConnectors {
            secrets_dir: dir.path().to_path_buf(),
            import_every: None,
        },
    )
    .await;
    let waited = Instant::now();
    while counting.background.lock().unwrap().is_empty() && waited.elapsed().as_secs() < 10 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Let its start-up work finish before any request.
    tokio::time::sleep(Duration::from_millis(200)).await;
    counting.watch_background.store(false, Ordering::SeqCst);
    if counting.background.lock().unwrap().is_empty() {
        eprintln!(
            "attest-bench: the server's background task made no storage call at start-up; \
             its periodic drains, if any, will be counted with the requests they overlap"
        );
    }
    tokio::spawn(serve(listener, app));
    let direct = Arc::new(Counting::new(inner.clone()));
    let bench = Bench {
        http: reqwest::Client::new(),
        base: format!("http://{addr}/api/compliance"),
        secret,
        counting,
        meter,
        backend: inner.clone(),
        direct_state: attest_api::AppState::new(Store::new(direct.clone())),
        direct,
        raw_state: attest_api::AppState::new(Store::new(inner)),
    };

    let mut tenants: Vec<TenantKind> = args.tenants.clone();
    tenants.sort();
    tenants.dedup();
    let mut results: Vec<Measured> = Vec::new();
    let mut shapes: Vec<String> = Vec::new();
    for kind in tenants {
        let tenant = bench.tenant(kind);
        eprintln!(
            "attest-bench: building tenant {} ({})",
            kind.label(),
            tenant.id
        );
        let built = Instant::now();
        let mut measured_assessment = String::new();
        let mut group_ids: Vec<String> = Vec::new();
        let mut catalog_assessment = None;
        let mut catalog_controls = 0;
        let mut catalog_rank = 0;
        let mut catalog_cursor = String::new();
        let (actions, touched, description) = if kind.custom() {
            let (a, regulations) = bench.build_custom(&tenant, args.custom_controls).await;
            measured_assessment = a;
            // Every instance changed once: every other one implemented and passed, the rest
            // given an owner.
            let actions = bench.all_actions(&tenant).await;
            let mut touched = 0;
            for (i, (id, managed_by)) in actions.iter().enumerate() {
                if managed_by != "customer" {
                    continue;
                }
                let body = if i % 2 == 0 {
                    json!({"implementation_status": "implemented", "testing_type": "manual", "test_status": "passed"})
                } else {
                    json!({"owner": "owner@bench.test"})
                };
                bench
                    .send(&tenant, &Req::patch(format!("/actions/{id}"), body))
                    .await;
                touched += 1;
            }
            let groups = if kind == TenantKind::D20 {
                CUSTOM_GROUPS
            } else {
                1
            };
            let description = format!(
                "{} assessments: {regulations} custom regulation(s) of {} controls in each of {groups} group(s)",
                groups * regulations,
                args.custom_controls
            );
            (actions, touched, description)
        } else {
            let groups = if kind == TenantKind::A { 1 } else { GROUPS };
            let regulations = if kind == TenantKind::A {
                1
            } else {
                BUILT_IN.len()
            };
            for g in 1..=groups {
                let mut group_id = String::new();
                for (r, regulation) in BUILT_IN.iter().take(regulations).enumerate() {
                    let name = format!("Group {g}");
                    let target = if r == 0 {
                        Err(name.as_str())
                    } else {
                        Ok(group_id.as_str())
                    };
                    let (id, group) = bench.assess(&tenant, regulation, target).await;
                    if g == 1 && r == 0 {
                        measured_assessment = id;
                    }
                    group_id = group;
                }
                group_ids.push(group_id);
            }
            // Every instance the built-in assessments use, changed once (provider-managed ones
            // cannot be changed and are never stored).
            let actions = bench.all_actions(&tenant).await;
            let mut touched = 0;
            for (id, managed_by) in &actions {
                if managed_by == "customer" {
                    bench
                        .send(
                            &tenant,
                            &Req::patch(
                                format!("/actions/{id}"),
                                json!({"owner": "owner@bench.test"}),
                            ),
                        )
                        .await;
                    touched += 1;
                }
            }
            assert!(
                actions.iter().any(|(id, _)| id == MEASURED_ACTION),
                "the assessments use {MEASURED_ACTION}"
            );
            if kind == TenantKind::C {
                let query = match &map_as {
                    Some(m) => format!("?id={CATALOG_ID}&map_as={m}"),
                    None => format!("?id={CATALOG_ID}"),
                };
                let imported = bench
                    .post_bytes(
                        &tenant,
                        &format!("/regulations/import/oscal{query}"),
                        catalog.clone(),
                    )
                    .await;
                catalog_controls = imported["control_count"].as_u64().unwrap_or(0);
                let (id, group) = bench
                    .assess(&tenant, CATALOG_ID, Err("Imported catalog"))
                    .await;
                catalog_assessment = Some(id);
                // Group instances sort by group id: where the catalog's land decides whether the
                // first page of `GET /actions` holds built-in actions or generated ones.
                catalog_rank = 1 + group_ids.iter().filter(|g| **g < group).count();
                // A cursor just before the catalog group's first instance (cursors are the last
                // instance's sort key, base64url): the page where its generated actions start.
                catalog_cursor =
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("G#{group}#"));
            }
            let description = format!(
                "{} assessments{}",
                groups * regulations + usize::from(catalog_assessment.is_some()),
                if catalog_assessment.is_some() {
                    format!(
                        ", the catalog ({catalog_controls} controls) assessed once in a sixth group, \
                         its instances unchanged (its group's id sorts {} of {} groups in the usage index)",
                        ordinal(catalog_rank),
                        group_ids.len() + 1
                    )
                } else {
                    String::new()
                }
            );
            (actions, touched, description)
        };
        // The action measured: `mfa-admins` (tenant-wide, used by every built-in assessment);
        // in (d1) and (d20) the first instance listed (the first group's instance of
        // `bench-r1`'s first action, used by the group's assessments).
        let measured_action = if kind.custom() {
            actions
                .iter()
                .find(|(_, m)| m == "customer")
                .map(|(id, _)| id.clone())
                .unwrap()
        } else {
            MEASURED_ACTION.to_owned()
        };
        let mut partitions = Vec::new();
        for p in [
            "ASMT",
            "GROUP",
            "USE",
            "INST",
            "REG",
            "ACTDEF",
            "ACTCTL",
            "SCORE",
            "SCOREHIST#tenant",
            "EVENT",
        ] {
            partitions.push(format!("{p} {}", bench.count_items(&tenant, p).await));
        }
        let shape = format!(
            "{} tenant `{}`: {description}; {} instances in use ({} changed once); measured: assessment `{measured_assessment}`, action `{measured_action}`; items: {}; built in {:.1} s",
            kind.label(),
            tenant.id,
            actions.len(),
            touched,
            partitions.join(", "),
            built.elapsed().as_secs_f64()
        );
        eprintln!("{shape}");
        shapes.push(shape);

        let w = args.warmup;
        let a = measured_assessment.clone();
        let act = measured_action.clone();
        if !kind.custom() {
            results.push(
                bench
                    .measure(&tenant, "GET /actions (first page)", w, iterations, |_| {
                        Req::get("/actions")
                    })
                    .await,
            );
            // Cursors are the last instance's sort key, base64url: after "S" comes the first
            // tenant-wide instance ("T#..."), each used by every assessment of its regulations.
            let tenant_wide = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("S");
            results.push(
                bench
                    .measure(
                        &tenant,
                        "GET /actions (page at T#, tenant-wide)",
                        w,
                        iterations,
                        |_| Req::get(format!("/actions?cursor={tenant_wide}")),
                    )
                    .await,
            );
        }
        results.push(
            bench
                .measure(&tenant, "GET /actions/{id}", w, iterations, |_| {
                    Req::get(format!("/actions/{act}"))
                })
                .await,
        );
        if !kind.custom() {
            results.push(
                bench
                    .measure(
                        &tenant,
                        "GET /assessments/{id}/controls",
                        w,
                        iterations,
                        |_| Req::get(format!("/assessments/{a}/controls")),
                    )
                    .await,
            );
        }
        // Stored scores (every event of the set-up was delivered by its request's drain).
        results.push(
            bench
                .measure(&tenant, "GET /score", w, iterations, |_| Req::get("/score"))
                .await,
        );
        let now = bench.send(&tenant, &Req::get("/score")).await["computed_at"]
            .as_str()
            .unwrap()
            .to_owned();
        results.push(
            bench
                .measure(&tenant, "GET /score?as_of={t}", w, iterations, |_| {
                    Req::get(format!("/score?as_of={now}"))
                })
                .await,
        );
        results.push(
            bench
                .measure(&tenant, "GET /score/history", w, iterations, |_| {
                    Req::get("/score/history")
                })
                .await,
        );
        results.push(
            bench
                .measure(&tenant, "GET /assessments", w, iterations, |_| {
                    Req::get("/assessments")
                })
                .await,
        );
        results.push(
            bench
                .measure(&tenant, "GET /assessments/{id}", w, iterations, |_| {
                    Req::get(format!("/assessments/{a}"))
                })
                .await,
        );
        // Changes, each delivered before the answer as `attest serve` does.
        let w = w.min(whole);
        if !kind.custom() {
            results.push(
                bench
                    .measure(&tenant, "PATCH /actions/{id} owner", w, whole, |i| {
                        Req::patch(
                            format!("/actions/{act}"),
                            json!({"owner": format!("owner-{}@bench.test", i % 7)}),
                        )
                    })
                    .await,
            );
        }
        // A status change that moves the score of every scope using the instance: its test
        // flips between failed and passed (implemented, tested manually) at each request.
        let flips = std::sync::atomic::AtomicUsize::new(0);
        let status = |_: usize| {
            let passed = flips.fetch_add(1, Ordering::SeqCst) % 2 == 1;
            Req::patch(
                format!("/actions/{act}"),
                json!({
                    "implementation_status": "implemented",
                    "testing_type": "manual",
                    "test_status": if passed { "passed" } else { "failed_low_risk" },
                }),
            )
        };
        results.push(
            bench
                .measure(&tenant, "PATCH /actions/{id} status", w, whole, &status)
                .await,
        );
        let (own, delivery) = bench
            .measure_split(&tenant, "PATCH /actions/{id} status", w, whole, &status)
            .await;
        results.push(own);
        results.push(delivery);
        if let Some(c) = &catalog_assessment {
            let cursor = catalog_cursor.clone();
            results.push(
                bench
                    .measure(
                        &tenant,
                        "GET /actions (page at the catalog's group)",
                        w,
                        whole,
                        |_| Req::get(format!("/actions?cursor={cursor}")),
                    )
                    .await,
            );
            results.push(
                bench
                    .measure(
                        &tenant,
                        "GET /actions?assessment={catalog}",
                        w,
                        whole,
                        |_| Req::get(format!("/actions?assessment={c}")),
                    )
                    .await,
            );
            results.push(
                bench
                    .measure(
                        &tenant,
                        "GET /assessments/{catalog}/controls",
                        w,
                        whole,
                        |_| Req::get(format!("/assessments/{c}/controls")),
                    )
                    .await,
            );
        }
    }

    report(&args, &store_text, &catalog_name, &shapes, &results);
}

/// Prints the results as Markdown, for docs/benchmarks.md.
fn report(args: &Args, store: &str, catalog: &str, shapes: &[String], results: &[Measured]) {
    let dynamo = args.store == StoreKind::Dynamodb;
    println!(
        "## attest-bench: {store}, loopback HTTP, {} timed requests per kind ({} for the changes delivered before the answer and the catalog's reads), {} warm-up",
        args.iterations, args.whole_iterations, args.warmup
    );
    println!();
    println!("Catalog of tenant (c): {catalog}.");
    println!();
    for s in shapes {
        println!("- {s}");
    }
    println!();
    if dynamo {
        println!("| tenant | request | p50 ms | p99 ms | max ms | storage p50 ms | calls | GetItem | BatchGetItem | Query | Put/DeleteItem | TransactWriteItems | items read | items written | RCU | WCU |");
        println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    } else {
        println!("| tenant | request | p50 ms | p99 ms | max ms | storage p50 ms | calls | GetItem | BatchGetItem | Query | Put/DeleteItem | TransactWriteItems | items read | items written |");
        println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    }
    for m in results {
        let c = m.typical();
        let mut row = format!(
            "| {} | `{}` | {:.3} | {:.3} | {:.3} | {:.3} | {} | {} | {} | {} | {} | {} | {} | {} |",
            m.tenant.label(),
            m.name,
            m.p(0.5),
            m.p(0.99),
            m.max(),
            m.storage_p50(),
            m.calls_text(),
            c.get_item,
            c.batch_get_item,
            c.query,
            c.single_write,
            c.transact_write,
            c.items_read,
            c.items_written
        );
        if dynamo {
            row.push_str(&format!(
                " {:.1} | {:.1} |",
                m.mean(|c| c.read_units).unwrap_or(0.0),
                m.mean(|c| c.write_units).unwrap_or(0.0)
            ));
        }
        println!("{row}");
    }
    println!();
    println!("### Storage calls per request, by tenant");
    println!();
    let present: Vec<TenantKind> = TenantKind::ALL
        .into_iter()
        .filter(|t| results.iter().any(|m| m.tenant == *t))
        .collect();
    let labels: Vec<&str> = present.iter().map(|t| t.label()).collect();
    println!("| request | {} | |", labels.join(" | "));
    println!("|---|{}---|", "---|".repeat(present.len()));
    let mut names: Vec<&str> = Vec::new();
    for m in results {
        if !names.contains(&m.name.as_str()) {
            names.push(&m.name);
        }
    }
    for name in names {
        let per: Vec<Option<&Measured>> = present
            .iter()
            .map(|t| results.iter().find(|m| m.name == name && m.tenant == *t))
            .collect();
        let totals: BTreeSet<u32> = per.iter().flatten().map(|m| m.typical().total()).collect();
        let cell = |m: &Option<&Measured>| m.map_or("–".to_owned(), |m| m.calls_text());
        let verdict = if per.iter().flatten().count() < 2 {
            ""
        } else if totals.len() == 1 {
            "same"
        } else {
            "differs"
        };
        let cells: Vec<String> = per.iter().map(cell).collect();
        println!("| `{name}` | {} | {verdict} |", cells.join(" | "));
    }
    println!();
    println!("### The calls of each request");
    println!();
    for m in results {
        println!(
            "- {} `{}`: {}",
            m.tenant.label(),
            m.name,
            compact(&m.log).join("; ")
        );
        println!("  - by kind: {}", by_kind(&m.log));
        if let Some(d) = m.dynamodb_calls() {
            println!("  - DynamoDB calls (meter): {d}");
        }
        let distinct = m.distinct_calls();
        if distinct.len() > 1 {
            for (c, n) in distinct {
                println!("  - {n} of the timed requests: {c:?}");
            }
        }
    }
}

/// Consecutive identical log lines folded into one with a count.
fn compact(log: &[String]) -> Vec<String> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for line in log {
        match out.last_mut() {
            Some((l, n)) if l == line => *n += 1,
            _ => out.push((line.clone(), 1)),
        }
    }
    out.into_iter()
        .map(|(l, n)| if n > 1 { format!("{l} (x{n})") } else { l })
        .collect()
}

/// The calls of a log counted by operation and item kind, e.g. `GetItem SCORE ×5`
/// (`BatchGetItem`s counted per 100 keys), with the items they read.
fn by_kind(log: &[String]) -> String {
    let mut out: BTreeMap<String, (u32, u64)> = BTreeMap::new();
    for line in log {
        let mut words = line.split(' ');
        let op = words.next().unwrap_or("");
        // "(n items)" of a query, "n found)" of a batch.
        let items = line
            .rsplit_once(" items)")
            .or_else(|| line.rsplit_once(" found)"))
            .and_then(|(head, _)| {
                head.rsplit(' ')
                    .next()?
                    .trim_start_matches('(')
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or(0);
        let (label, n) = match op {
            "BatchGetItem" => {
                let batches = words
                    .next()
                    .and_then(|x| x.trim_start_matches('x').parse().ok())
                    .unwrap_or(1);
                // "(50 INST + 50 ACTDEF keys, ...)" -> "INST+ACTDEF"
                let inner = line
                    .split_once('(')
                    .and_then(|(_, r)| r.split_once(" keys"))
                    .map(|(k, _)| k)
                    .unwrap_or("");
                let kinds: Vec<&str> = inner
                    .split(" + ")
                    .filter_map(|p| p.split(' ').nth(1))
                    .collect();
                (format!("BatchGetItem {}", kinds.join("+")), batches)
            }
            "TransactWriteItems" => {
                let inner = line
                    .split_once('[')
                    .and_then(|(_, r)| r.split_once(']'))
                    .map(|(k, _)| k)
                    .unwrap_or("");
                let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
                for op in inner.split(", ") {
                    *kinds.entry(op).or_default() += 1;
                }
                let kinds: Vec<String> = kinds
                    .iter()
                    .map(|(k, n)| {
                        if *n > 1 {
                            format!("{n} {k}")
                        } else {
                            (*k).to_owned()
                        }
                    })
                    .collect();
                (format!("TransactWriteItems [{}]", kinds.join(", ")), 1)
            }
            _ => (format!("{op} {}", words.next().unwrap_or("")), 1),
        };
        let e = out.entry(label).or_default();
        e.0 += n;
        e.1 += items;
    }
    out.iter()
        .map(|(label, (n, items))| {
            let read = if label.starts_with("GetItem")
                || label.starts_with("Transact")
                || label.ends_with("Item OUTBOX")
            {
                String::new()
            } else {
                format!(", {items} items")
            };
            format!("{label} ×{n}{read}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn ordinal(n: usize) -> String {
    match n {
        1 => "1st".into(),
        2 => "2nd".into(),
        3 => "3rd".into(),
        n => format!("{n}th"),
    }
}
