//! `cargo run --release -p attest-bench --bin attest-bench-reports -- [--store
//! embedded|dynamodb] [--iterations N] [--groups N] [--rows N]`
//!
//! Reports and interchange as workbooks (api.md "Reports and interchange"), over loopback HTTP
//! against the local server's application in-process (as `attest-bench` starts it), on the
//! chosen store:
//!
//! - **The report** of the built-in NIST SP 800-53 rev5 moderate assessment (287 controls)
//!   whose customer-managed actions were each changed once (owner, implementation status and
//!   notes) with a link of evidence on one in ten: `GET /assessments/{id}/report.xlsx` now and
//!   `?as_of=` an instant halfway through those changes (the score from the history, every
//!   instance's history read back to it); and, for growth, the reports of GDPR, SOC 2 and ISO
//!   27001 in the same group.
//! - **Export and import** in a tenant of `--groups` groups (18) each assessing the four
//!   built-in regulations, so that the non-technical actions repeat per group: more than
//!   1,000 action instances. `GET /actions/export.xlsx` of every instance; then `POST
//!   /actions/import.xlsx` of that export with `--rows` rows (1,000) edited (a new owner on
//!   customer-managed rows), all or nothing, each iteration on a fresh export (untimed) so that
//!   every row changes something. For growth: exports of 1, 4, 9 and every group (the `group`
//!   filter) and imports of 100, 250, 500 and `--rows` rows.
//!
//! For each: p50, p90 and max wall time of `--iterations` requests (after one untimed), the
//! workbook's size, and the process's peak resident memory while they ran (`VmHWM` reset just
//! before, Linux ≥ 4.0): the server and this client share the process, so the peak includes
//! both the workbook being built or read and the bench holding it.

mod local;
use std::sync::Arc;
use std::time::{Duration, Instant};

use attest_store::{Backend, Store};
use attest_store_dynamodb::DynamoDbBackend;
use attest_store_embedded::EmbeddedBackend;
use calamine::{Data, Reader, Xlsx};
use chrono::Utc;
use clap::Parser;
use serde_json::{json, Value};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const BUILT_IN: [&str; 4] = [
    "nist-800-53-r5-moderate",
    "iso-27001-2022",
    "gdpr",
    "soc2-2017",
];

#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
enum StoreKind {
    Embedded,
    Dynamodb,
}

#[derive(Parser)]
#[command(
    name = "attest-bench-reports",
    about = "Latency and peak memory of the Excel report, export and import"
)]
struct Args {
    #[arg(long, value_enum, default_value = "embedded")]
    store: StoreKind,
    /// Timed requests of each kind (after one untimed).
    #[arg(long, default_value_t = 20)]
    iterations: usize,
    /// Groups of the export/import tenant, each assessing the four built-in regulations
    /// (55 tenant-wide instances, and 65 more per group).
    #[arg(long, default_value_t = 18)]
    groups: usize,
    /// Rows an import edits.
    #[arg(long, default_value_t = 1000)]
    rows: usize,
}

/// kB in a MB (MiB), for `/proc` figures.
const MB: f64 = 1024.0;

fn status_kb(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Resets the process's peak resident set to its current one; whether it could.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    async fn json(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{method} {path}: {status} {body}");
        body
    }

    async fn get(&self, path: &str) -> Value {
        self.json(reqwest::Method::GET, path, None).await
    }

    async fn workbook(&self, path: &str) -> Vec<u8> {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "GET {path}: {}", res.status());
        res.bytes().await.unwrap().to_vec()
    }

    async fn import(&self, bytes: Vec<u8>) -> Value {
        let res = self
            .http
            .post(format!("{}/actions/import.xlsx", self.base))
            .bearer_auth(&self.token)
            .header("content-type", XLSX)
            .body(bytes)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        assert!(status.is_success(), "import: {status} {body}");
        body
    }
}

/// Timings and memory of one kind of request.
struct Row {
    what: String,
    samples: Vec<Duration>,
    bytes: usize,
    rss_before: Option<u64>,
    peak: Option<u64>,
    note: String,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl Row {
    fn pct(&self, p: f64) -> f64 {
        let mut s = self.samples.clone();
        s.sort();
        ms(s[((s.len() as f64 - 1.0) * p).round() as usize])
    }

    fn print(&self) {
        let mb = |kb: Option<u64>| kb.map_or("?".into(), |k| format!("{:.0}", k as f64 / MB));
        println!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.0} | {} → {} | {} |",
            self.what,
            self.pct(0.5),
            self.pct(0.9),
            self.pct(1.0),
            self.bytes as f64 / 1024.0,
            mb(self.rss_before),
            mb(self.peak),
            self.note
        );
    }
}

/// Runs `once` untimed, then `n` times, with the peak memory reset before those; `once`
/// returns the time of what it measures, the workbook's size and a note.
async fn measure<F, Fut>(what: &str, n: usize, mut once: F) -> Row
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = (Duration, usize, String)>,
{
    once().await;
    let rss_before = status_kb("VmRSS");
    let reset = reset_peak();
    let mut samples = Vec::with_capacity(n);
    let mut bytes = 0;
    let mut note = String::new();
    for _ in 0..n {
        let (took, b, text) = once().await;
        samples.push(took);
        bytes = b;
        note = text;
    }
    Row {
        what: what.to_owned(),
        samples,
        bytes,
        rss_before,
        peak: if reset { status_kb("VmHWM") } else { None },
        note,
    }
}

/// The sheet's rows of cells.
fn cells(bytes: &[u8]) -> Vec<Vec<Data>> {
    let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    let range = book.worksheet_range("Actions").unwrap();
    range.rows().map(|r| r.to_vec()).collect()
}

/// An export with `rows` customer-managed rows given a new owner (`tag` makes it new), written
/// back as a workbook; the other rows as they were.
fn edit(bytes: &[u8], rows: usize, tag: usize) -> Vec<u8> {
    let sheet = cells(bytes);
    let col = |name: &str| {
        sheet[0]
            .iter()
            .position(|h| *h == Data::String(name.to_owned()))
            .unwrap()
    };
    let (owner, managed) = (col("owner"), col("managed_by"));
    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet();
    ws.set_name("Actions").unwrap();
    let day = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
    let mut edited = 0;
    for (r, row) in sheet.iter().enumerate() {
        let change = r > 0 && edited < rows && row[managed] == Data::String("customer".into());
        if change {
            edited += 1;
        }
        for (c, cell) in row.iter().enumerate() {
            let (rr, cc) = (r as u32, c as u16);
            if change && c == owner {
                ws.write_string(rr, cc, format!("owner-{tag}-{r}@bench.test"))
                    .unwrap();
                continue;
            }
            match cell {
                Data::String(s) => {
                    ws.write_string(rr, cc, s).unwrap();
                }
                Data::Float(f) => {
                    ws.write_number(rr, cc, *f).unwrap();
                }
                Data::DateTime(d) => {
                    ws.write_with_format(rr, cc, d.as_f64(), &day).unwrap();
                }
                _ => {}
            }
        }
    }
    assert_eq!(edited, rows, "the tenant has fewer customer-managed rows");
    book.save_to_buffer().unwrap()
}

async fn open(kind: StoreKind, dir: &std::path::Path) -> (Arc<dyn Backend>, String) {
    match kind {
        StoreKind::Embedded => {
            let path = dir.join("bench.redb");
            let text = format!("embedded redb store ({})", path.display());
            (Arc::new(EmbeddedBackend::open(&path).unwrap()), text)
        }
        StoreKind::Dynamodb => {
            let table = "attest-bench-reports";
            let (client, endpoint) = local::dynamodb_local_table(table).await;
            let text = format!("DynamoDB Local at {} (in memory)", endpoint);
            (Arc::new(DynamoDbBackend::new(client, table)), text)
        }
    }
}

async fn client(base: &str, secret: &[u8], tenant: &str) -> Client {
    let token = attest::token::mint(
        secret,
        &attest::token::TokenRequest {
            tenant,
            user: "bench",
            roles: &[attest_domain::identity::Role::Administrator],
            name: None,
            email: None,
            ttl: attest::token::Duration::hours(24),
        },
    )
    .unwrap();
    Client {
        http: reqwest::Client::new(),
        base: base.to_owned(),
        token,
    }
}

async fn all_ids(c: &Client, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(k) => format!("/actions?{query}limit=200&cursor={k}"),
            None => format!("/actions?{query}limit=200"),
        };
        let page = c.get(&path).await;
        out.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(k) => cursor = Some(k.to_owned()),
            None => return out,
        }
    }
}

fn header() {
    println!("| request | p50 ms | p90 ms | max ms | workbook KB | RSS before → peak MB | |");
    println!("|---|---|---|---|---|---|---|");
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let dir = tempfile::tempdir().unwrap();
    let (backend, store_text) = open(args.store, dir.path()).await;
    let secret = b"bench-secret".to_vec();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = attest::server::app(
        Store::new(backend),
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
    tokio::spawn(async move { attest::server::serve(listener, app).await.unwrap() });
    let base = format!("http://{addr}/api/compliance");
    eprintln!("attest-bench-reports: {store_text}");
    let n = args.iterations;

    // The report: NIST moderate, every customer action changed once, evidence on one in ten.
    let c = client(&base, &secret, "bench-report").await;
    let nist = c
        .json(
            reqwest::Method::POST,
            "/assessments",
            Some(json!({"regulation_id": BUILT_IN[0], "group_name": "G0", "services": ["aws"]})),
        )
        .await;
    let (nist_id, group) = (
        nist["id"].as_str().unwrap().to_owned(),
        nist["group_id"].as_str().unwrap().to_owned(),
    );
    for reg in &BUILT_IN[1..] {
        c.json(
            reqwest::Method::POST,
            "/assessments",
            Some(json!({"regulation_id": reg, "group_id": group, "services": ["aws"]})),
        )
        .await;
    }
    let ids: Vec<String> = all_ids(&c, &format!("assessment={nist_id}&"))
        .await
        .into_iter()
        .filter(|a| a["managed_by"] == "customer")
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    let mut halfway = Utc::now();
    for (i, id) in ids.iter().enumerate() {
        if i == ids.len() / 2 {
            halfway = Utc::now();
        }
        c.json(
            reqwest::Method::PATCH,
            &format!("/actions/{id}"),
            Some(json!({"owner": format!("owner-{i}@bench.test"), "implementation_status": "implemented",
                "implementation_notes": format!("Implemented as described in policy {i}.")})),
        )
        .await;
        if i % 10 == 0 {
            c.json(
                reqwest::Method::POST,
                &format!("/actions/{id}/evidence"),
                Some(json!({"kind": "link", "name": format!("Evidence {i}"), "url": format!("https://intranet.bench.test/{i}")})),
            )
            .await;
        }
    }
    let assessments = c.get("/assessments").await;
    let mut rows = Vec::new();
    for a in assessments["items"].as_array().unwrap() {
        let id = a["id"].as_str().unwrap().to_owned();
        let controls = a["progress"]["controls_total"].as_u64().unwrap_or(0);
        let regulation = a["regulation_id"].as_str().unwrap().to_owned();
        let path = format!("/assessments/{id}/report.xlsx");
        let c = &c;
        let row = measure(&format!("report {regulation}"), n, || {
            let path = path.clone();
            async move {
                let started = Instant::now();
                let b = c.workbook(&path).await;
                (started.elapsed(), b.len(), format!("{controls} controls"))
            }
        })
        .await;
        rows.push((regulation == BUILT_IN[0], row));
    }
    rows.sort_by_key(|(nist, _)| !*nist);
    let as_of: String = form_urlencoded::byte_serialize(halfway.to_rfc3339().as_bytes()).collect();
    let path = format!("/assessments/{nist_id}/report.xlsx?as_of={as_of}");
    let c2 = &c;
    let instances = ids.len();
    let with_as_of = measure("report nist-800-53-r5-moderate ?as_of= halfway", n, || {
        let path = path.clone();
        async move {
            let started = Instant::now();
            let b = c2.workbook(&path).await;
            (
                started.elapsed(),
                b.len(),
                format!("{instances} customer instances changed"),
            )
        }
    })
    .await;
    println!("\n### Report ({store_text})\n");
    header();
    for (_, r) in &rows {
        r.print();
    }
    with_as_of.print();

    // Export and import: a tenant of `groups` groups of the four built-in regulations.
    let c = client(&base, &secret, "bench-exchange").await;
    let mut groups = Vec::new();
    for g in 0..args.groups {
        let first = c
            .json(
                reqwest::Method::POST,
                "/assessments",
                Some(json!({"regulation_id": BUILT_IN[0], "group_name": format!("G{g}"), "services": ["aws"]})),
            )
            .await;
        let group = first["group_id"].as_str().unwrap().to_owned();
        for reg in &BUILT_IN[1..] {
            c.json(
                reqwest::Method::POST,
                "/assessments",
                Some(json!({"regulation_id": reg, "group_id": group, "services": ["aws"]})),
            )
            .await;
        }
        groups.push(group);
    }
    let instances = all_ids(&c, "").await.len();
    println!(
        "\n### Export and import ({store_text}): {} groups, {instances} action instances\n",
        args.groups
    );
    header();
    let c = &c;
    let mut sizes: Vec<usize> = [1, 4, 9].into_iter().filter(|k| *k < args.groups).collect();
    sizes.push(args.groups);
    for k in sizes {
        let query: String = groups[..k].iter().map(|g| format!("group={g}&")).collect();
        let path = format!("/actions/export.xlsx?{}", query.trim_end_matches('&'));
        let path = if k == args.groups {
            "/actions/export.xlsx".to_owned()
        } else {
            path
        };
        let rows = all_ids(c, &query).await.len();
        let row = measure(&format!("export, {k} of {} groups", args.groups), n, || {
            let path = path.clone();
            async move {
                let started = Instant::now();
                let b = c.workbook(&path).await;
                (started.elapsed(), b.len(), format!("{rows} rows"))
            }
        })
        .await;
        row.print();
    }
    let mut edits: Vec<usize> = [100, 250, 500]
        .into_iter()
        .filter(|r| *r < args.rows)
        .collect();
    edits.push(args.rows);
    let tag = std::sync::atomic::AtomicUsize::new(0);
    let tag = &tag;
    for rows in edits {
        // Each import on the export of now (current versions), edited anew: only the import
        // itself is timed.
        let row = measure(&format!("import, {rows} rows changed"), n, || async move {
            let t = tag.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let export = c.workbook("/actions/export.xlsx").await;
            let bytes = edit(&export, rows, t);
            let len = bytes.len();
            let started = Instant::now();
            let body = c.import(bytes).await;
            let took = started.elapsed();
            assert_eq!(body["applied"], rows, "{body}");
            (took, len, format!("{} rows skipped", body["skipped"]))
        })
        .await;
        row.print();
    }
}
