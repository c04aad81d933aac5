//! `cargo run --release -p attest-bench --bin attest-bench-connectors -- [--store
//! embedded|dynamodb] [--runs N] [--warmup N] [--fanout 500,5000,20000]`
//!
//! `... -- --part slack [--store embedded|dynamodb]`: a data connector instead, importing Slack
//! messages from the fake (see `slack_import.rs`); the options `--slack-*`.
//!
//! Compliance connectors against the fakes (`tests/fakes`), through the use cases themselves
//! (no HTTP in front: a run is what `attest serve`'s worker and the `connector-run` function
//! call), over the chosen store wrapped in a counting backend:
//!
//! - **Runs.** In tenants of growing size — (a) one assessment of NIST SP 800-53 rev5 moderate
//!   covering `zoom` and `salesforce`; (b) twenty (the four built-in regulations in each of five
//!   groups), the five NIST ones covering both services; (c) the same twenty, all covering
//!   both — one Zoom and one Salesforce connector each. For each connector (Salesforce with
//!   the fake's default page of 2,000 records and with pages of 5), `--runs` timed
//!   `connectors::execute` after `--warmup` untimed ones, in three ways: the source changes
//!   between runs (a setting flipped on the fake: one tested action changes its status at every
//!   run) a day apart on the bench's clock, as the 24-hour schedule runs them; the source
//!   unchanged, a day apart; the source unchanged at the same instant. For each run: wall time,
//!   requests to the fake (token requests apart), storage calls by DynamoDB operation, items
//!   read and written, and on DynamoDB the capacity it reports; then the delivery of the run's
//!   events (`LocalBus::drain`, what `attest serve`'s worker does after each run: score
//!   recomputation, then alerts), counted apart.
//! - **The scheduler's fan-out.** `connectors::schedule_all` over `--fanout` connectors (ten per
//!   tenant, written straight to the store with `Store::create_connector`), into a run queue
//!   that counts its calls (one per chunk of 10, what SQS `SendMessageBatch` takes) and
//!   messages: time, messages, queue calls, storage calls (the `CONNIDX` query pages).

mod local;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use attest_api::bus::LocalBus;
use attest_api::state::{Clock, ConnectorPorts, RunQueue, RunRequest};
use attest_api::usecases::actions::find_instance;
use attest_api::usecases::assessments::{self, CreateAssessment};
use attest_api::usecases::connectors::{self, Executed, NewConnector};
use attest_api::AppState;
use attest_connectors::{Endpoints, HttpClient};
use attest_domain::connector::{Connector, ConnectorState, Outcome, Trigger};
use attest_domain::group::GroupName;
use attest_domain::identity::{Identity, Role};
use attest_domain::ids::{RegulationId, TenantId, UserId};
use attest_fakes::{SalesforceFake, ZoomFake};
use attest_store::backend::MAX_BATCH_GET;
use attest_store::{Backend, BackendError, Item, Key, Page, Query, Store, WriteOp};
use attest_store_dynamodb::{CapacityMeter, Consumed, DynamoDbBackend};
use attest_store_embedded::EmbeddedBackend;
use chrono::{DateTime, TimeDelta, Utc};
use clap::Parser;
use serde_json::{json, Map, Value};

mod slack_import;

/// The built-in regulations, in the order each group gets them; the first covers the services.
const BUILT_IN: [&str; 4] = [
    "nist-800-53-r5-moderate",
    "iso-27001-2022",
    "gdpr",
    "soc2-2017",
];
/// The Zoom setting flipped between runs, and the action its check tests.
const ZOOM_SETTING: &str = "/meeting_security/waiting_room";
const ZOOM_ACTION: &str = "zoom-waiting-room";
/// The Health Check risk flipped between runs, and the action its check tests.
const SALESFORCE_RISK: &str = "Identity.mfaEnabled";
const SALESFORCE_ACTION: &str = "salesforce-mfa";
/// Connectors per tenant in the fan-out.
const FANOUT_PER_TENANT: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum StoreKind {
    Embedded,
    Dynamodb,
}

/// What the bench measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Part {
    /// The Zoom and Salesforce runs and the scheduler's fan-out.
    Compliance,
    /// Importing Slack messages ([`slack_import`]).
    Slack,
}

#[derive(Parser, Debug)]
#[command(
    about = "Connector runs against the fakes and the scheduler's fan-out: time, requests, storage calls."
)]
struct Args {
    /// The store.
    #[arg(long, value_enum, default_value = "embedded")]
    store: StoreKind,
    /// What to measure: the compliance connectors' runs and the fan-out, or a Slack import.
    #[arg(long, value_enum, default_value = "compliance")]
    part: Part,
    #[command(flatten)]
    slack: slack_import::SlackArgs,
    /// Timed runs of each connector, in each way, in each tenant.
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Untimed runs before them.
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Connectors of the fan-out, in increasing order (ten per tenant).
    #[arg(long, value_delimiter = ',', default_value = "500,5000,20000")]
    fanout: Vec<usize>,
    /// Timed fan-outs at each size (after one untimed).
    #[arg(long, default_value_t = 5)]
    fanout_repeats: usize,
    /// The tenants of the runs (`--tenants ""`: none, the fan-out only).
    #[arg(long, value_delimiter = ',', default_value = "a,b,c")]
    tenants: Vec<String>,
    /// Concurrent writers of the fan-out's connectors (set-up only).
    #[arg(long, default_value_t = 8)]
    fanout_writers: usize,
}

/// The storage calls of one measured piece, as the DynamoDB calls they are: a `get` is a
/// GetItem, a `get_many` one BatchGetItem per 100 distinct keys, a query page a Query, a write
/// of one Put or Delete a PutItem/DeleteItem, any other write a TransactWriteItems.
#[derive(Debug, Clone, Default)]
struct Calls {
    get_item: u32,
    batch_get_item: u32,
    query: u32,
    put_item: u32,
    delete_item: u32,
    transact_write: u32,
    /// Items the reads returned.
    items_read: u32,
    /// Items the writes put, deleted or checked.
    items_written: u32,
    /// Action instances (`INST`) the writes put.
    instances_written: u32,
    /// Each call, in order (unless the counting backend's log is off).
    log: Vec<String>,
    /// Time spent in the backend's calls (summed; concurrent calls overlap).
    store_time: Duration,
    /// Items the writes put, deleted or checked, by item kind (`REC`, `RECP`, ...).
    written_by_kind: BTreeMap<String, u32>,
}

impl Calls {
    fn total(&self) -> u32 {
        self.get_item
            + self.batch_get_item
            + self.query
            + self.put_item
            + self.delete_item
            + self.transact_write
    }

    /// The counts, without the log (what must be the same from run to run).
    fn shape(&self) -> [u32; 9] {
        [
            self.get_item,
            self.batch_get_item,
            self.query,
            self.put_item,
            self.delete_item,
            self.transact_write,
            self.items_read,
            self.items_written,
            self.instances_written,
        ]
    }

    fn by_operation(&self) -> String {
        let mut parts = Vec::new();
        for (n, name) in [
            (self.get_item, "GetItem"),
            (self.batch_get_item, "BatchGetItem"),
            (self.query, "Query"),
            (self.put_item, "PutItem"),
            (self.delete_item, "DeleteItem"),
            (self.transact_write, "TransactWriteItems"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {name}"));
            }
        }
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join(", ")
        }
    }
}

/// Counts the primitive calls that reach the backend.
struct Counting {
    inner: Arc<dyn Backend>,
    calls: Mutex<Calls>,
    /// Whether each call goes in [`Calls::log`] (off for the Slack import's large runs: a log
    /// of 4,000 calls would weigh in the process's memory being measured).
    log_on: AtomicBool,
}

impl Counting {
    fn new(inner: Arc<dyn Backend>) -> Self {
        Self {
            inner,
            calls: Mutex::new(Calls::default()),
            log_on: AtomicBool::new(true),
        }
    }

    fn set_log(&self, on: bool) {
        self.log_on.store(on, Ordering::SeqCst);
    }

    /// The calls since the last take, and zero again.
    fn take(&self) -> Calls {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }

    fn add(&self, took: Duration, f: impl FnOnce(&mut Calls)) {
        let mut calls = self.calls.lock().unwrap();
        let logged = calls.log.len();
        f(&mut calls);
        calls.store_time += took;
        if !self.log_on.load(Ordering::SeqCst) {
            calls.log.truncate(logged);
        }
    }
}

/// The item kind of a partition key: `T#{tenant}#{KIND}[#...]` -> `KIND`; `CONNIDX`, `OUTBOX`.
fn kind(pk: &str) -> &str {
    pk.split('#').nth(2).unwrap_or(pk)
}

#[async_trait]
impl Backend for Counting {
    async fn get(&self, key: &Key) -> Result<Option<Item>, BackendError> {
        let started = Instant::now();
        let found = self.inner.get(key).await?;
        let took = started.elapsed();
        let n = u32::from(found.is_some());
        self.add(took, |c| {
            c.get_item += 1;
            c.items_read += n;
            c.log.push(format!(
                "GetItem {}{}",
                kind(&key.pk),
                if n == 0 { " (none)" } else { "" }
            ));
        });
        Ok(found)
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, BackendError> {
        let started = Instant::now();
        let found = self.inner.get_many(keys).await?;
        let took = started.elapsed();
        let distinct: BTreeSet<&Key> = keys.iter().collect();
        let batches = distinct.len().div_ceil(MAX_BATCH_GET) as u32;
        let n = found.iter().flatten().count() as u32;
        let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
        for k in &distinct {
            *kinds.entry(kind(&k.pk)).or_default() += 1;
        }
        let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
        self.add(took, |c| {
            c.batch_get_item += batches;
            c.items_read += n;
            c.log.push(format!(
                "BatchGetItem x{batches} ({} keys, {n} found)",
                kinds.join(" + ")
            ));
        });
        Ok(found)
    }

    async fn query(&self, query: &Query) -> Result<Page, BackendError> {
        let started = Instant::now();
        let page = self.inner.query(query).await?;
        let took = started.elapsed();
        let n = page.items.len() as u32;
        self.add(took, |c| {
            c.query += 1;
            c.items_read += n;
            let limit = query
                .limit
                .map(|l| format!(" limit {l}"))
                .unwrap_or_default();
            c.log
                .push(format!("Query {}{limit} ({n} items)", kind(&query.pk)));
        });
        Ok(page)
    }

    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), BackendError> {
        let n = ops.len() as u32;
        let instances = ops
            .iter()
            .filter(|op| matches!(op, WriteOp::Put { .. }) && kind(&op.key().pk) == "INST")
            .count() as u32;
        let described: Vec<String> = ops
            .iter()
            .map(|op| {
                let verb = match op {
                    WriteOp::Put { .. } => "Put",
                    WriteOp::Delete { .. } => "Delete",
                    WriteOp::Check { .. } => "ConditionCheck",
                };
                format!("{verb} {}", kind(&op.key().pk))
            })
            .collect();
        let single = matches!(
            ops.as_slice(),
            [WriteOp::Put { .. } | WriteOp::Delete { .. }]
        );
        let put = matches!(ops.as_slice(), [WriteOp::Put { .. }]);
        let mut by_kind: BTreeMap<String, u32> = BTreeMap::new();
        for op in &ops {
            *by_kind.entry(kind(&op.key().pk).to_owned()).or_default() += 1;
        }
        let started = Instant::now();
        let result = self.inner.write(ops).await;
        let took = started.elapsed();
        self.add(took, |c| {
            match (single, put) {
                (true, true) => c.put_item += 1,
                (true, false) => c.delete_item += 1,
                _ => c.transact_write += 1,
            }
            c.items_written += n;
            c.instances_written += instances;
            for (k, n) in by_kind {
                *c.written_by_kind.entry(k).or_default() += n;
            }
            c.log.push(if single {
                let (verb, what) = described[0].split_once(' ').unwrap_or(("", ""));
                format!("{verb}Item {what}")
            } else {
                format!("TransactWriteItems [{}]", described.join(", "))
            });
        });
        result
    }
}

/// The bench's clock: a fixed instant the bench moves forward (a day between scheduled runs).
struct BenchClock {
    base: DateTime<Utc>,
    offset_secs: AtomicI64,
}

impl BenchClock {
    fn advance(&self, by: TimeDelta) {
        self.offset_secs
            .fetch_add(by.num_seconds(), Ordering::SeqCst);
    }
}

impl Clock for BenchClock {
    fn now(&self) -> DateTime<Utc> {
        self.base + TimeDelta::seconds(self.offset_secs.load(Ordering::SeqCst))
    }
}

/// A run queue that counts its calls (one per `enqueue`: the use case sends chunks of 10, one
/// SQS `SendMessageBatch` each) and messages.
#[derive(Default)]
struct CountingQueue {
    calls: AtomicUsize,
    messages: AtomicUsize,
    largest: AtomicUsize,
}

#[async_trait]
impl RunQueue for CountingQueue {
    async fn enqueue(&self, requests: &[RunRequest]) -> Result<(), String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.messages.fetch_add(requests.len(), Ordering::SeqCst);
        self.largest.fetch_max(requests.len(), Ordering::SeqCst);
        Ok(())
    }
}

impl CountingQueue {
    fn take(&self) -> (usize, usize, usize) {
        (
            self.calls.swap(0, Ordering::SeqCst),
            self.messages.swap(0, Ordering::SeqCst),
            self.largest.swap(0, Ordering::SeqCst),
        )
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A store: the backend, its meter on DynamoDB, and a description.
struct Opened {
    backend: Arc<dyn Backend>,
    meter: Option<Arc<CapacityMeter>>,
    text: String,
}

async fn open_store(kind: StoreKind, dir: &Path, name: &str) -> Opened {
    match kind {
        StoreKind::Embedded => {
            let path = dir.join(format!("{name}.redb"));
            Opened {
                text: format!("embedded redb store ({})", path.display()),
                backend: Arc::new(EmbeddedBackend::open(&path).unwrap()),
                meter: None,
            }
        }
        StoreKind::Dynamodb => {
            let table = format!("attest-bench-{name}");
            let (client, endpoint) = local::dynamodb_local_table(&table).await;
            // The table's stream off: DynamoDB Local answers each write to a table with a
            // stream after a query over the stream records it keeps, which slows every write
            // as they pile up (a 500-connector index took 2 minutes to write after the runs).
            // The stream changes neither the calls nor the capacity of a write.
            client
                .update_table()
                .table_name(&table)
                .stream_specification(
                    aws_sdk_dynamodb::types::StreamSpecification::builder()
                        .stream_enabled(false)
                        .build()
                        .unwrap(),
                )
                .send()
                .await
                .unwrap();
            let meter = Arc::new(CapacityMeter::new());
            Opened {
                text: format!("DynamoDB Local at {}, table {table} (in memory)", endpoint),
                backend: Arc::new(DynamoDbBackend::new(client, &table).with_meter(meter.clone())),
                meter: Some(meter),
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Zoom,
    Salesforce { page: usize },
}

impl Source {
    fn label(self) -> String {
        match self {
            Source::Zoom => "Zoom".into(),
            Source::Salesforce { page } => format!("Salesforce, pages of {page}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The setting flips before each run; the clock moves a day.
    Flip,
    /// Nothing changes at the source; the clock moves a day.
    Daily,
    /// Nothing changes at the source; the clock stays.
    SameInstant,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::Flip => "a setting flips; a day later",
            Mode::Daily => "none; a day later",
            Mode::SameInstant => "none; same instant",
        }
    }
}

struct World {
    state: AppState,
    bus: Arc<LocalBus>,
    counting: Arc<Counting>,
    meter: Option<Arc<CapacityMeter>>,
    clock: Arc<BenchClock>,
    raw: Store,
    zoom: ZoomFake,
    salesforce: SalesforceFake,
    zoom_on: AtomicBool,
    salesforce_on: AtomicBool,
}

struct Tenant {
    label: String,
    admin: Identity,
    assessments: usize,
    covering: usize,
    zoom: String,
    salesforce: String,
}

/// One run, measured.
struct RunSample {
    run: Duration,
    calls: Calls,
    consumed: Option<Consumed>,
    http: usize,
    tokens: usize,
    http_log: Vec<String>,
    drain: Duration,
    drain_calls: Calls,
    drain_consumed: Option<Consumed>,
    delivered: usize,
    status: String,
}

struct Row {
    tenant: String,
    source: Source,
    mode: Mode,
    samples: Vec<RunSample>,
}

/// Distinct values, most frequent first, as `a` or `a/b`.
fn values<T: Ord + Clone + std::fmt::Display>(xs: impl Iterator<Item = T>) -> String {
    let mut counts: BTreeMap<T, usize> = BTreeMap::new();
    for x in xs {
        *counts.entry(x).or_default() += 1;
    }
    let mut v: Vec<(T, usize)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.iter()
        .map(|(x, _)| x.to_string())
        .collect::<Vec<_>>()
        .join("/")
}

fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = xs.collect();
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Consecutive equal lines as one `line ×n`.
fn compact(log: &[String]) -> Vec<String> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for line in log {
        match out.last_mut() {
            Some((last, n)) if last == line => *n += 1,
            _ => out.push((line.clone(), 1)),
        }
    }
    out.into_iter()
        .map(|(l, n)| if n > 1 { format!("{l} ×{n}") } else { l })
        .collect()
}

/// A request's path without its query's values, for the log.
fn short_path(path: &str) -> String {
    let (p, q) = path.split_once('?').unwrap_or((path, ""));
    if q.is_empty() {
        return p.to_owned();
    }
    let keys: Vec<&str> = q
        .split('&')
        .map(|kv| kv.split('=').next().unwrap_or(""))
        .collect();
    let option = q
        .split('&')
        .find_map(|kv| kv.strip_prefix("option="))
        .map(|o| format!(" (option={o})"))
        .unwrap_or_default();
    format!("{p}?{}{option}", keys.join("&"))
}

impl World {
    fn take(&self) -> (Calls, Option<Consumed>) {
        (self.counting.take(), self.meter.as_ref().map(|m| m.take()))
    }

    async fn build_tenant(
        &self,
        label: &str,
        groups: usize,
        regulations: usize,
        all_cover: bool,
    ) -> Tenant {
        let admin = Identity {
            tenant: TenantId::parse(format!("conn-{label}")).unwrap(),
            user: UserId::parse("bench-admin").unwrap(),
            name: None,
            email: None,
            roles: BTreeSet::from([Role::GlobalAdmin]),
        };
        let mut covering = 0;
        let mut count = 0;
        for g in 0..groups {
            let mut group_id = None;
            for (r, regulation) in BUILT_IN.iter().take(regulations).enumerate() {
                let covers = r == 0 || all_cover;
                let services: Vec<String> = if covers {
                    vec!["zoom".into(), "salesforce".into()]
                } else {
                    vec!["aws".into()]
                };
                let body = CreateAssessment {
                    regulation_id: RegulationId::parse(*regulation).unwrap(),
                    group_id: group_id.clone(),
                    group_name: if group_id.is_none() {
                        Some(GroupName::parse(&format!("Group {}", g + 1)).unwrap())
                    } else {
                        None
                    },
                    copy_from: None,
                    services,
                    connectors: None,
                    name: None,
                };
                let view = assessments::create(&self.state, &admin, body)
                    .await
                    .unwrap();
                group_id = Some(view.group_id.clone());
                count += 1;
                covering += usize::from(covers);
            }
        }
        let creds = |v: Value| v.as_object().unwrap().clone();
        let zoom = connectors::create(
            &self.state,
            &admin,
            NewConnector {
                kind: "zoom".into(),
                name: "Zoom".into(),
                credentials: creds(json!({
                    "account_id": self.zoom.account_id(),
                    "client_id": self.zoom.client_id(),
                    "client_secret": self.zoom.client_secret(),
                })),
                settings: Map::new(),
            },
        )
        .await
        .unwrap();
        let salesforce = connectors::create(
            &self.state,
            &admin,
            NewConnector {
                kind: "salesforce".into(),
                name: "Salesforce".into(),
                credentials: creds(json!({
                    "instance_url": self.salesforce.instance_url(),
                    "client_id": self.salesforce.client_id(),
                    "client_secret": self.salesforce.client_secret(),
                })),
                settings: Map::new(),
            },
        )
        .await
        .unwrap();
        // The events of the set-up delivered (scores stored), uncounted.
        while self.bus.drain().await > 0 {}
        self.take();
        Tenant {
            label: format!("({label})"),
            admin,
            assessments: count,
            covering,
            zoom: zoom.value.id,
            salesforce: salesforce.value.id,
        }
    }

    fn flip(&self, source: Source) {
        match source {
            Source::Zoom => {
                let on = !self.zoom_on.fetch_xor(true, Ordering::SeqCst);
                self.zoom.set(ZOOM_SETTING, json!(on));
            }
            Source::Salesforce { .. } => {
                let on = !self.salesforce_on.fetch_xor(true, Ordering::SeqCst);
                if on {
                    self.salesforce
                        .set_risk(SALESFORCE_RISK, "MEETS_STANDARD", "Enabled");
                } else {
                    self.salesforce
                        .set_risk(SALESFORCE_RISK, "HIGH_RISK", "Disabled");
                }
            }
        }
    }

    fn requests(&self, source: Source) -> (Vec<attest_fakes::Recorded>, usize) {
        match source {
            Source::Zoom => (self.zoom.requests(), self.zoom.tokens_issued()),
            Source::Salesforce { .. } => {
                (self.salesforce.requests(), self.salesforce.tokens_issued())
            }
        }
    }

    async fn run_once(&self, t: &Tenant, source: Source, mode: Mode) -> RunSample {
        match mode {
            Mode::Flip => {
                self.flip(source);
                self.clock.advance(TimeDelta::days(1));
            }
            Mode::Daily => self.clock.advance(TimeDelta::days(1)),
            Mode::SameInstant => {}
        }
        let (connector, action) = match source {
            Source::Zoom => (&t.zoom, ZOOM_ACTION),
            Source::Salesforce { page } => {
                self.salesforce.set_page_size(page);
                (&t.salesforce, SALESFORCE_ACTION)
            }
        };
        let (before, tokens_before) = self.requests(source);
        let request = RunRequest {
            tenant: t.admin.tenant.to_string(),
            connector_id: connector.clone(),
            run_id: uuid::Uuid::now_v7().hyphenated().to_string(),
            trigger: Trigger::Schedule,
        };
        self.take();
        let started = Instant::now();
        let done = connectors::execute(&self.state, &request).await.unwrap();
        let run = started.elapsed();
        let (calls, consumed) = self.take();
        assert_eq!(
            done,
            Executed::Ran(Outcome::Succeeded),
            "{}",
            source.label()
        );
        let (after, tokens_after) = self.requests(source);
        let http_log = after[before.len()..]
            .iter()
            .map(|r| format!("{} {} → {}", r.method, short_path(&r.path), r.status))
            .collect();
        let started = Instant::now();
        let delivered = self.bus.drain().await;
        let drain = started.elapsed();
        let (drain_calls, drain_consumed) = self.take();
        let status = find_instance(&self.raw, &t.admin.tenant, action)
            .await
            .map(|i| i.status.test_status.to_string())
            .unwrap_or_else(|e| format!("? {e}"));
        RunSample {
            run,
            calls,
            consumed,
            http: after.len() - before.len(),
            tokens: tokens_after - tokens_before,
            http_log,
            drain,
            drain_calls,
            drain_consumed,
            delivered,
            status,
        }
    }

    async fn measure(
        &self,
        t: &Tenant,
        source: Source,
        mode: Mode,
        warmup: usize,
        runs: usize,
    ) -> Row {
        for _ in 0..warmup {
            self.run_once(t, source, mode).await;
        }
        let mut samples = Vec::with_capacity(runs);
        for _ in 0..runs {
            samples.push(self.run_once(t, source, mode).await);
        }
        Row {
            tenant: t.label.clone(),
            source,
            mode,
            samples,
        }
    }
}

fn times(samples: &[RunSample], f: impl Fn(&RunSample) -> Duration) -> (f64, f64) {
    let mut v: Vec<Duration> = samples.iter().map(f).collect();
    v.sort();
    (ms(percentile(&v, 0.5)), ms(percentile(&v, 0.95)))
}

fn units(samples: &[RunSample], f: impl Fn(&RunSample) -> Option<&Consumed>) -> String {
    if samples.iter().all(|s| f(s).is_none()) {
        return "–".into();
    }
    let r = mean(samples.iter().filter_map(&f).map(|c| c.read_units));
    let w = mean(samples.iter().filter_map(&f).map(|c| c.write_units));
    format!("{r:.1} / {w:.1}")
}

fn report_runs(store: &str, rows: &[Row], tenants: &[Tenant]) {
    println!("\n## Connector runs ({store})\n");
    println!("| tenant | assessments (covering zoom, salesforce) |");
    println!("|---|---|");
    for t in tenants {
        println!("| {} | {} ({}) |", t.label, t.assessments, t.covering);
    }
    println!();
    println!("| tenant | connector | change at the source; clock | runs | p50 ms | p95 ms | HTTP requests (token) | storage calls | by operation | items read | items written | actions written | RCU / WCU |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let s = &r.samples;
        let (p50, p95) = times(s, |x| x.run);
        println!(
            "| {} | {} | {} | {} | {:.3} | {:.3} | {} ({}) | {} | {} | {} | {} | {} | {} |",
            r.tenant,
            r.source.label(),
            r.mode.label(),
            s.len(),
            p50,
            p95,
            values(s.iter().map(|x| x.http)),
            values(s.iter().map(|x| x.tokens)),
            values(s.iter().map(|x| x.calls.total())),
            values(s.iter().map(|x| x.calls.by_operation())),
            values(s.iter().map(|x| x.calls.items_read)),
            values(s.iter().map(|x| x.calls.items_written)),
            values(s.iter().map(|x| x.calls.instances_written)),
            units(s, |x| x.consumed.as_ref()),
        );
    }
    println!("\n### The delivery of each run's events (`LocalBus::drain` after the run)\n");
    println!("| tenant | connector | change at the source; clock | events delivered | p50 ms | p95 ms | storage calls | by operation | items read | items written | RCU / WCU |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let s = &r.samples;
        let (p50, p95) = times(s, |x| x.drain);
        println!(
            "| {} | {} | {} | {} | {:.3} | {:.3} | {} | {} | {} | {} | {} |",
            r.tenant,
            r.source.label(),
            r.mode.label(),
            values(s.iter().map(|x| x.delivered)),
            p50,
            p95,
            values(s.iter().map(|x| x.drain_calls.total())),
            values(s.iter().map(|x| x.drain_calls.by_operation())),
            values(s.iter().map(|x| x.drain_calls.items_read)),
            values(s.iter().map(|x| x.drain_calls.items_written)),
            units(s, |x| x.drain_consumed.as_ref()),
        );
    }
    println!("\n### Details\n");
    for r in rows {
        let s = &r.samples;
        let shapes: BTreeSet<[u32; 9]> = s.iter().map(|x| x.calls.shape()).collect();
        let statuses: Vec<&str> = s.iter().map(|x| x.status.as_str()).collect();
        println!(
            "- {} {}, {}: {} call shape(s); the tested action's status after each run: {}",
            r.tenant,
            r.source.label(),
            r.mode.label(),
            shapes.len(),
            values(statuses.iter().copied())
        );
        let last = s.last().unwrap();
        println!(
            "  - HTTP (last run): {}",
            compact(&last.http_log).join("; ")
        );
        println!(
            "  - storage (last run): {}",
            compact(&last.calls.log).join("; ")
        );
        if let Some(c) = &last.consumed {
            println!(
                "  - DynamoDB calls (meter, last run): {:?}, {} RCU, {} WCU",
                c.calls, c.read_units, c.write_units
            );
        }
        println!(
            "  - delivery (last run, {} events): {}",
            last.delivered,
            compact(&last.drain_calls.log).join("; ")
        );
    }
}

struct FanoutRow {
    connectors: usize,
    tenants: usize,
    times: Vec<Duration>,
    scheduled: usize,
    queue_calls: usize,
    largest: usize,
    calls: Calls,
    consumed: Option<Consumed>,
}

async fn fanout(args: &Args, dir: &Path) -> (String, Vec<FanoutRow>) {
    let opened = open_store(args.store, dir, "fanout").await;
    let counting = Arc::new(Counting::new(opened.backend.clone()));
    let queue = Arc::new(CountingQueue::default());
    let state = AppState::new(Store::new(counting.clone())).with_connectors(ConnectorPorts {
        secrets: Arc::new(attest_secrets::MemorySecrets::new()),
        queue: queue.clone(),
        http: Arc::new(HttpClient::new(Endpoints::for_tests(
            "http://127.0.0.1:9/v2",
            "http://127.0.0.1:9",
        ))),
    });
    let raw = Store::new(opened.backend.clone());
    let mut sizes = args.fanout.clone();
    sizes.sort();
    let mut made = 0;
    let mut rows = Vec::new();
    let now = Utc::now();
    for size in sizes {
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        while made < size {
            let (t, i) = (made / FANOUT_PER_TENANT, made % FANOUT_PER_TENANT);
            let tenant = TenantId::parse(format!("fan{t:05}")).unwrap();
            let c = Connector {
                id: attest_domain::ids::new_id(),
                kind: if i % 2 == 0 { "zoom" } else { "salesforce" }.into(),
                service: if i % 2 == 0 { "zoom" } else { "salesforce" }.into(),
                name: format!("Connector {i}"),
                state: ConnectorState::Active,
                settings: Map::new(),
                credential_fields: vec!["client_id".into(), "client_secret".into()],
                created_at: now,
                created_by: "bench-admin".into(),
                updated_at: now,
            };
            let unique = c.name.to_lowercase();
            let store = raw.clone();
            tasks.spawn(async move {
                store
                    .create_connector(&tenant, &c, &unique, &[])
                    .await
                    .unwrap();
            });
            if tasks.len() >= args.fanout_writers.max(1) {
                tasks.join_next().await.unwrap().unwrap();
            }
            made += 1;
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap();
        }
        eprintln!(
            "attest-bench-connectors: {size} connectors in the index ({:.1} s to write)",
            started.elapsed().as_secs_f64()
        );
        // One untimed fan-out, then the timed ones.
        connectors::schedule_all(&state).await.unwrap();
        counting.take();
        queue.take();
        if let Some(m) = &opened.meter {
            m.take();
        }
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..args.fanout_repeats.max(1) {
            let started = Instant::now();
            let n = connectors::schedule_all(&state).await.unwrap();
            times.push(started.elapsed());
            let calls = counting.take();
            let (queue_calls, messages, largest) = queue.take();
            assert_eq!(messages, n);
            let consumed = opened.meter.as_ref().map(|m| m.take());
            last = Some((n, queue_calls, largest, calls, consumed));
        }
        let (scheduled, queue_calls, largest, calls, consumed) = last.unwrap();
        times.sort();
        rows.push(FanoutRow {
            connectors: size,
            tenants: size.div_ceil(FANOUT_PER_TENANT),
            times,
            scheduled,
            queue_calls,
            largest,
            calls,
            consumed,
        });
    }
    (opened.text, rows)
}

fn report_fanout(store: &str, rows: &[FanoutRow]) {
    println!("\n## The scheduler's fan-out ({store})\n");
    println!("| connectors (tenants) | fan-outs | p50 ms | max ms | messages | queue calls (largest) | storage calls | by operation | items read | items written | RCU / WCU |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let units = r
            .consumed
            .as_ref()
            .map(|c| format!("{:.1} / {:.1}", c.read_units, c.write_units))
            .unwrap_or_else(|| "–".into());
        println!(
            "| {} ({}) | {} | {:.3} | {:.3} | {} | {} ({}) | {} | {} | {} | {} | {} |",
            r.connectors,
            r.tenants,
            r.times.len(),
            ms(percentile(&r.times, 0.5)),
            ms(*r.times.last().unwrap()),
            r.scheduled,
            r.queue_calls,
            r.largest,
            r.calls.total(),
            r.calls.by_operation(),
            r.calls.items_read,
            r.calls.items_written,
            units,
        );
    }
    for r in rows {
        println!(
            "- {} connectors: {}",
            r.connectors,
            compact(&r.calls.log).join("; ")
        );
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let dir = tempfile::tempdir().unwrap();
    if args.part == Part::Slack {
        slack_import::run(args.store, &args.slack, dir.path()).await;
        return;
    }
    let opened = open_store(args.store, dir.path(), "runs").await;
    let counting = Arc::new(Counting::new(opened.backend.clone()));
    let zoom = ZoomFake::start().await;
    let salesforce = SalesforceFake::start().await;
    let clock = Arc::new(BenchClock {
        base: Utc::now(),
        offset_secs: AtomicI64::new(0),
    });
    let secrets = attest_secrets::LocalSecrets::open(&dir.path().join("secrets")).unwrap();
    let state = AppState::new(Store::new(counting.clone()))
        .with_clock(clock.clone())
        .with_connectors(ConnectorPorts {
            secrets: Arc::new(secrets),
            queue: Arc::new(CountingQueue::default()),
            http: Arc::new(HttpClient::new(Endpoints::for_tests(
                &zoom.api_url(),
                &zoom.oauth_url(),
            ))),
        });
    let world = World {
        bus: LocalBus::new(state.clone()),
        state,
        counting,
        meter: opened.meter.clone(),
        clock,
        raw: Store::new(opened.backend.clone()),
        zoom,
        salesforce,
        zoom_on: AtomicBool::new(false),
        salesforce_on: AtomicBool::new(false),
    };
    let started = Instant::now();
    let mut tenants = Vec::new();
    for label in args.tenants.iter().filter(|l| !l.is_empty()) {
        let t = match label.as_str() {
            "a" => world.build_tenant("a", 1, 1, false).await,
            "b" => world.build_tenant("b", 5, 4, false).await,
            "c" => world.build_tenant("c", 5, 4, true).await,
            other => panic!("unknown tenant {other:?}: a, b or c"),
        };
        eprintln!(
            "attest-bench-connectors: tenant {} built ({:.1} s so far)",
            t.label,
            started.elapsed().as_secs_f64()
        );
        tenants.push(t);
    }
    let mut rows = Vec::new();
    for t in &tenants {
        for source in [
            Source::Zoom,
            Source::Salesforce { page: 2000 },
            Source::Salesforce { page: 5 },
        ] {
            for mode in [Mode::Flip, Mode::Daily, Mode::SameInstant] {
                let row = world
                    .measure(t, source, mode, args.warmup, args.runs.max(1))
                    .await;
                let (p50, _) = times(&row.samples, |x| x.run);
                eprintln!(
                    "attest-bench-connectors: {} {}, {}: run p50 {p50:.3} ms ({:.1} s so far)",
                    t.label,
                    source.label(),
                    mode.label(),
                    started.elapsed().as_secs_f64()
                );
                rows.push(row);
            }
        }
        eprintln!(
            "attest-bench-connectors: tenant {} measured ({:.1} s so far)",
            t.label,
            started.elapsed().as_secs_f64()
        );
    }
    let (fanout_store, fanout_rows) = fanout(&args, dir.path()).await;
    println!("# attest-bench-connectors");
    println!(
        "\nStore: {}; fan-out: {}. {} timed runs after {} warm-ups; {} timed fan-outs after one. Total {:.1} s.",
        opened.text,
        fanout_store,
        args.runs,
        args.warmup,
        args.fanout_repeats,
        started.elapsed().as_secs_f64()
    );
    report_runs(&opened.text, &rows, &tenants);
    report_fanout(&fanout_store, &fanout_rows);
}
