//! `attest-bench-connectors --part slack [--store embedded|dynamodb]`: a data connector's
//! import, the `slack` kind against `SlackFake` (`tests/fakes`), through the use cases
//! themselves (`connectors::create`, then `connectors::execute` as `attest serve`'s worker and
//! the `connector-run` function call it), over the chosen store wrapped in the counting backend:
//!
//! 1. **The import.** `--slack-channels` channels × `--slack-per-channel` messages (4 × 25,000)
//!    evenly spread over the `--slack-days` (6) before the bench's clock, authors taken in turn
//!    from `--slack-users` (50) users with an e-mail; a connector with `backfill_days`
//!    `--slack-backfill` (7), whose first run imports every message.
//! 2. **The next runs.** Right after (the clock moved by the first run's wall time, nothing
//!    new: the window is the overlap of 10 minutes and that time), then an hour later with
//!    `--slack-new` (1,000) messages posted in that hour.
//! 3. **Growth with the window.** A fresh store (a new redb file, a new DynamoDB table) and a
//!    fresh fake with the same messages for each of `--slack-windows` (1, 2, 4, 6 days): one
//!    connector with that `backfill_days`, one run.
//!
//! For each run: wall time; the process's peak resident memory (`VmHWM` of
//! `/proc/self/status`, reset with `/proc/self/clear_refs` before the run when the kernel
//! allows it, so it is the peak during the run, the fake's messages included; with DynamoDB
//! Local, the emulator's too, a child process); requests to the fake by method; storage calls
//! by DynamoDB operation, the items written by kind, the time spent in them, DynamoDB's
//! capacity; on the embedded store the bytes the process wrote to disk (`/proc/self/io`) and
//! the file's size.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use attest_api::state::{Clock, ConnectorPorts, RunRequest};
use attest_api::usecases::connectors::{self, Executed, NewConnector};
use attest_api::AppState;
use attest_connectors::{Endpoints, HttpClient};
use attest_domain::connector::{Outcome, RunRecord, Trigger};
use attest_domain::identity::{Identity, Role};
use attest_domain::ids::{TenantId, UserId};
use attest_fakes::SlackFake;
use attest_store::Store;
use attest_store_dynamodb::{CapacityMeter, Consumed};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use super::{compact, open_store, BenchClock, Calls, Counting, CountingQueue, StoreKind};

/// The options of `--part slack`.
#[derive(clap::Args, Debug, Clone)]
pub struct SlackArgs {
    /// Slack import: channels of the fake, the bot a member of each.
    #[arg(long, default_value_t = 4)]
    pub slack_channels: usize,
    /// Slack import: messages per channel, evenly spread over `--slack-days`.
    #[arg(long, default_value_t = 25_000)]
    pub slack_per_channel: usize,
    /// Slack import: the days before the bench's clock the messages span.
    #[arg(long, default_value_t = 6)]
    pub slack_days: u32,
    /// Slack import: `backfill_days` of the first connector.
    #[arg(long, default_value_t = 7)]
    pub slack_backfill: u32,
    /// Slack import: authors, each with an e-mail (so each record has a person copy).
    #[arg(long, default_value_t = 50)]
    pub slack_users: usize,
    /// Slack import: messages posted in the hour before the third run.
    #[arg(long, default_value_t = 1_000)]
    pub slack_new: usize,
    /// Slack import: windows (days) of the growth runs, each on a fresh store.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,6")]
    pub slack_windows: Vec<u32>,
}

/// kB in a MB (MiB), for `/proc` figures.
const MB: f64 = 1024.0;

/// A field of `/proc/{pid}/status` in kB (`VmHWM`, `VmRSS`).
fn status_kb(pid: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Resets the process's peak resident set (`VmHWM`) to its current one (Linux ≥ 4.0).
fn reset_peak(pid: &str) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// Bytes this process caused to be written to disk (`write_bytes` of `/proc/self/io`).
fn disk_writes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/io").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))
        .and_then(|v| v.trim().parse().ok())
}

/// The pid of DynamoDB Local: a `java` child of this process.
fn java_child() -> Option<String> {
    let me = std::process::id().to_string();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{name}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let Some((comm, rest)) = stat.split_once(") ") else {
            continue;
        };
        let ppid = rest.split(' ').nth(1).unwrap_or("");
        if ppid == me && comm.ends_with("(java") {
            return Some(name);
        }
    }
    None
}

/// The whole seconds of now.
fn whole_seconds(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(at.timestamp(), 0).unwrap()
}

fn secs(at: DateTime<Utc>) -> f64 {
    at.timestamp_micros() as f64 / 1e6
}

fn channel_id(c: usize) -> String {
    format!("C{c:08}")
}

/// The fake's workspace: users with e-mails, channels the bot is in, and per channel
/// `per_channel` messages spread evenly over the `days` before `end` (the channels' messages
/// interleaved); all of them in `[end - days, end)`.
fn populate(fake: &SlackFake, a: &SlackArgs, end: DateTime<Utc>) -> usize {
    let ids: Vec<String> = (0..a.slack_users.max(1))
        .map(|i| format!("U{i:08}"))
        .collect();
    for (i, id) in ids.iter().enumerate() {
        fake.add_user(
            id,
            &format!("user{i}"),
            Some(&format!("user{i}@example.com")),
        );
    }
    let users: Vec<&str> = ids.iter().map(String::as_str).collect();
    let span = f64::from(a.slack_days) * 86_400.0;
    let step = span / a.slack_per_channel.max(1) as f64;
    let channels = a.slack_channels.max(1);
    let mut n = 0;
    for c in 0..channels {
        fake.add_channel(&channel_id(c), &format!("bench-{c}"), true, false);
        let offset = step * (c as f64 + 0.5) / channels as f64;
        n += fake
            .post_many(
                &channel_id(c),
                &users,
                secs(end) - span + offset,
                step,
                a.slack_per_channel,
            )
            .len();
    }
    n
}

/// `n` more messages over the hour after `from`, spread over the channels.
fn post_hour(fake: &SlackFake, a: &SlackArgs, from: DateTime<Utc>, n: usize) {
    let ids: Vec<String> = (0..a.slack_users.max(1))
        .map(|i| format!("U{i:08}"))
        .collect();
    let users: Vec<&str> = ids.iter().map(String::as_str).collect();
    let channels = a.slack_channels.max(1);
    for c in 0..channels {
        let here = n / channels + usize::from(c < n % channels);
        if here == 0 {
            continue;
        }
        let step = 3_600.0 / here as f64;
        let offset = step * (c as f64 + 0.5) / channels as f64;
        fake.post_many(&channel_id(c), &users, secs(from) + offset, step, here);
    }
}

/// One store and the application over it.
struct Bench {
    state: AppState,
    raw: Store,
    counting: Arc<Counting>,
    meter: Option<Arc<CapacityMeter>>,
    clock: Arc<BenchClock>,
    admin: Identity,
    text: String,
    file: Option<PathBuf>,
    table: Option<String>,
    backend: Arc<dyn attest_store::Backend>,
}

/// What the store holds after a part: the mean size of a record and of a person copy
/// (`Item::size`: keys, version and body JSON, a sample of 200 each), and on DynamoDB what
/// `DescribeTable` says (items, bytes).
struct Held {
    record_bytes: f64,
    copy_bytes: f64,
    table: Option<(i64, i64)>,
}

async fn local_client() -> aws_sdk_dynamodb::Client {
    crate::local::dynamodb_local().await.0
}

/// What one run cost.
struct Measured {
    label: String,
    run: RunRecord,
    wall: Duration,
    slack: BTreeMap<String, usize>,
    calls: Calls,
    consumed: Option<Consumed>,
    /// VmRSS before the run, kB.
    rss_before: Option<u64>,
    /// VmHWM after the run, kB (the peak during the run when `reset`).
    peak: Option<u64>,
    reset: bool,
    /// DynamoDB Local's (VmHWM, VmRSS) after the run, kB, and whether its peak was reset
    /// before the run.
    java: Option<(u64, u64, bool)>,
    disk_written: Option<u64>,
    file_size: Option<u64>,
}

impl Measured {
    fn window_text(&self) -> String {
        let w = &self.run.window;
        let d = w.to - w.from;
        if d >= TimeDelta::days(1) {
            format!("{:.2} days", d.num_seconds() as f64 / 86_400.0)
        } else if d >= TimeDelta::hours(1) {
            format!("{:.2} h", d.num_seconds() as f64 / 3_600.0)
        } else {
            format!("{:.1} min", d.num_seconds() as f64 / 60.0)
        }
    }

    fn slack_text(&self) -> String {
        let total: usize = self.slack.values().sum();
        let parts: Vec<String> = self.slack.iter().map(|(m, n)| format!("{n} {m}")).collect();
        format!("{total}: {}", parts.join(", "))
    }

    fn written_text(&self) -> String {
        let parts: Vec<String> = self
            .calls
            .written_by_kind
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        format!("{}: {}", self.calls.items_written, parts.join(", "))
    }

    fn units(&self) -> String {
        self.consumed
            .as_ref()
            .map(|c| format!("{:.0} / {:.0}", c.read_units, c.write_units))
            .unwrap_or_else(|| "–".into())
    }

    fn memory(&self) -> String {
        let mb = |kb: Option<u64>| {
            kb.map(|k| format!("{:.0}", k as f64 / MB))
                .unwrap_or_else(|| "?".into())
        };
        let mut s = format!(
            "{} → {}{}",
            mb(self.rss_before),
            mb(self.peak),
            if self.reset { "" } else { " (since start)" }
        );
        if let Some((hwm, rss, reset)) = self.java {
            s.push_str(&format!(
                "; DynamoDB Local peak {:.0}{} (RSS after {:.0})",
                hwm as f64 / MB,
                if reset { "" } else { " since start" },
                rss as f64 / MB
            ));
        }
        s
    }

    fn disk(&self) -> String {
        match (self.disk_written, self.file_size) {
            (Some(w), Some(f)) => format!("{:.1} / {:.1}", w as f64 / 1e6, f as f64 / 1e6),
            (None, Some(f)) => format!("? / {:.1}", f as f64 / 1e6),
            _ => "–".into(),
        }
    }
}

impl Bench {
    async fn open(
        kind: StoreKind,
        dir: &Path,
        name: &str,
        fake: &SlackFake,
        base: DateTime<Utc>,
    ) -> Self {
        let opened = open_store(kind, dir, name).await;
        let counting = Arc::new(Counting::new(opened.backend.clone()));
        let clock = Arc::new(BenchClock {
            base,
            offset_secs: AtomicI64::new(0),
        });
        let http = HttpClient::new(
            Endpoints::for_tests("http://127.0.0.1:9/v2", "http://127.0.0.1:9")
                .with_slack(&fake.api_url()),
        );
        let state = AppState::new(Store::new(counting.clone()))
            .with_clock(clock.clone())
            .with_connectors(ConnectorPorts {
                secrets: Arc::new(attest_secrets::MemorySecrets::new()),
                queue: Arc::new(CountingQueue::default()),
                http: Arc::new(http),
            });
        let admin = Identity {
            tenant: TenantId::parse(format!("slack-{name}")).unwrap(),
            user: UserId::parse("bench-admin").unwrap(),
            name: None,
            email: None,
            roles: std::collections::BTreeSet::from([Role::GlobalAdmin]),
        };
        Bench {
            state,
            backend: opened.backend.clone(),
            raw: Store::new(opened.backend.clone()),
            counting,
            meter: opened.meter,
            clock,
            admin,
            text: opened.text,
            file: (kind == StoreKind::Embedded).then(|| dir.join(format!("{name}.redb"))),
            table: (kind == StoreKind::Dynamodb).then(|| format!("attest-bench-{name}")),
        }
    }

    /// A Slack connector with this `backfill_days` (its credentials checked with `auth.test`).
    async fn connector(&self, fake: &SlackFake, backfill: u32) -> String {
        let c = connectors::create(
            &self.state,
            &self.admin,
            NewConnector {
                kind: "slack".into(),
                name: format!("Slack {backfill}d"),
                credentials: json!({"bot_token": fake.bot_token()})
                    .as_object()
                    .unwrap()
                    .clone(),
                settings: json!({"backfill_days": backfill})
                    .as_object()
                    .unwrap()
                    .clone(),
            },
        )
        .await
        .unwrap();
        self.take();
        c.value.id
    }

    fn take(&self) -> (Calls, Option<Consumed>) {
        (self.counting.take(), self.meter.as_ref().map(|m| m.take()))
    }

    /// One run of the connector, measured. `log`: keep the storage calls' log (small runs).
    async fn run(&self, fake: &SlackFake, connector: &str, label: &str, log: bool) -> Measured {
        let java = java_child();
        self.counting.set_log(log);
        self.take();
        let requests_before = fake.requests().len();
        let rss_before = status_kb("self", "VmRSS");
        let disk_before = disk_writes();
        let java_reset = java.as_deref().is_some_and(reset_peak);
        let reset = reset_peak("self");
        let request = RunRequest {
            tenant: self.admin.tenant.to_string(),
            connector_id: connector.to_owned(),
            run_id: uuid::Uuid::now_v7().hyphenated().to_string(),
            trigger: Trigger::Manual,
        };
        let started = Instant::now();
        let done = connectors::execute(&self.state, &request).await.unwrap();
        let wall = started.elapsed();
        let peak = status_kb("self", "VmHWM");
        let disk_after = disk_writes();
        let (calls, consumed) = self.take();
        self.counting.set_log(true);
        let java = java.and_then(|pid| {
            Some((
                status_kb(&pid, "VmHWM")?,
                status_kb(&pid, "VmRSS")?,
                java_reset,
            ))
        });
        let run = self
            .raw
            .connector_stats(&self.admin.tenant, connector)
            .await
            .unwrap()
            .last_run
            .unwrap();
        assert_eq!(
            done,
            Executed::Ran(Outcome::Succeeded),
            "{label}: {:?}",
            run.errors
        );
        let mut slack = BTreeMap::new();
        for r in &fake.requests()[requests_before..] {
            let method = r.path.split('?').next().unwrap_or("");
            let method = method.strip_prefix("/api/").unwrap_or(method);
            *slack.entry(method.to_owned()).or_default() += 1;
        }
        Measured {
            label: label.to_owned(),
            run,
            wall,
            slack,
            calls,
            consumed,
            rss_before,
            peak,
            reset,
            java,
            disk_written: disk_before
                .zip(disk_after)
                .map(|(b, a)| a.saturating_sub(b)),
            file_size: self
                .file
                .as_ref()
                .and_then(|f| std::fs::metadata(f).ok())
                .map(|m| m.len()),
        }
    }

    /// The mean stored size of the connector's records and of their person copies (user 0's).
    async fn held(&self, connector: &str) -> Held {
        let tenant = &self.admin.tenant;
        let mut means = Vec::new();
        for pk in [
            format!("T#{tenant}#REC#{connector}"),
            "T#{tenant}#RECP#user0@example.com".replace("{tenant}", tenant.as_str()),
        ] {
            let mut q = attest_store::Query::prefix(pk, "");
            q.limit = Some(200);
            let page = self.backend.query(&q).await.unwrap();
            let n = page.items.len().max(1) as f64;
            means.push(page.items.iter().map(|i| i.size() as f64).sum::<f64>() / n);
        }
        let table = match &self.table {
            Some(table) => local_client()
                .await
                .describe_table()
                .table_name(table)
                .send()
                .await
                .ok()
                .and_then(|d| d.table)
                .map(|t| (t.item_count.unwrap_or(0), t.table_size_bytes.unwrap_or(0))),
            None => None,
        };
        Held {
            record_bytes: means[0],
            copy_bytes: means[1],
            table,
        }
    }

    /// Gives the store back: the redb file removed, the DynamoDB table deleted.
    async fn close(self) {
        let Bench { file, table, .. } = self;
        if let Some(file) = file {
            let _ = std::fs::remove_file(file);
        }
        if let Some(table) = table {
            if let Err(e) = local_client()
                .await
                .delete_table()
                .table_name(&table)
                .send()
                .await
            {
                eprintln!("attest-bench-connectors: table {table} not deleted: {e}");
            }
        }
    }
}

fn per_thousand(x: f64, messages: u64) -> String {
    if messages == 0 {
        "–".into()
    } else {
        format!("{:.1}", x * 1000.0 / messages as f64)
    }
}

/// Least squares `y = a + b x`: (a, b, r²).
fn fit(points: &[(f64, f64)]) -> Option<(f64, f64, f64)> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let syy: f64 = points.iter().map(|p| (p.1 - my).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let b = sxy / sxx;
    let a = my - b * mx;
    let r2 = if syy == 0.0 {
        1.0
    } else {
        sxy * sxy / (sxx * syy)
    };
    Some((a, b, r2))
}

fn report_runs(title: &str, rows: &[Measured], with_duplicates: bool) {
    println!("\n### {title}\n");
    println!("| run | window | messages fetched | imported{} | wall s | in storage calls s | Slack requests | storage calls | by operation | items read | items written | RCU / WCU | RSS before → peak MB | disk written / file MB |",
        if with_duplicates { " / duplicates" } else { "" });
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for m in rows {
        println!(
            "| {} | {} | {} | {}{} | {:.2} | {:.2} | {} | {} | {} | {} | {} | {} | {} | {} |",
            m.label,
            m.window_text(),
            m.run.items_fetched,
            m.run.items_imported,
            if with_duplicates {
                format!(" / {}", m.run.duplicates_skipped)
            } else {
                String::new()
            },
            m.wall.as_secs_f64(),
            m.calls.store_time.as_secs_f64(),
            m.slack_text(),
            m.calls.total(),
            m.calls.by_operation(),
            m.calls.items_read,
            m.written_text(),
            m.units(),
            m.memory(),
            m.disk(),
        );
    }
}

/// A transaction's line with its operations counted: `TransactWriteItems [50 Put REC, 50 Put
/// RECP]`.
fn summarize(line: &str) -> String {
    let Some(inner) = line
        .strip_prefix("TransactWriteItems [")
        .and_then(|l| l.strip_suffix(']'))
    else {
        return line.to_owned();
    };
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for op in inner.split(", ") {
        match counts.iter_mut().find(|(o, _)| *o == op) {
            Some((_, n)) => *n += 1,
            None => counts.push((op, 1)),
        }
    }
    let parts: Vec<String> = counts
        .iter()
        .map(|(op, n)| {
            if *n > 1 {
                format!("{n} {op}")
            } else {
                (*op).to_owned()
            }
        })
        .collect();
    format!("TransactWriteItems [{}]", parts.join(", "))
}

pub async fn run(kind: StoreKind, a: &SlackArgs, dir: &Path) {
    let started = Instant::now();
    let base = whole_seconds(Utc::now());
    let memory_at_start = status_kb("self", "VmRSS");

    // 1 and 2: the import, then the next runs.
    let fake = SlackFake::start().await;
    let posted_at = Instant::now();
    let posted = populate(&fake, a, base);
    let posting = posted_at.elapsed();
    let memory_after_posting = status_kb("self", "VmRSS");
    let bench = Bench::open(kind, dir, "import", &fake, base).await;
    let store_text = bench.text.clone();
    let connector = bench.connector(&fake, a.slack_backfill).await;
    eprintln!(
        "attest-bench-connectors: {posted} messages posted in {:.2} s; importing",
        posting.as_secs_f64()
    );
    let mut runs = Vec::new();
    let first = bench
        .run(
            &fake,
            &connector,
            &format!("first run (backfill {} days)", a.slack_backfill),
            false,
        )
        .await;
    eprintln!(
        "attest-bench-connectors: first run {:.1} s ({:.1} s so far)",
        first.wall.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    // Right after: the clock moves by the run's wall time (whole seconds, at least one).
    let after = (first.wall.as_secs_f64().ceil() as i64).max(1);
    runs.push(first);
    bench.clock.advance(TimeDelta::seconds(after));
    runs.push(
        bench
            .run(&fake, &connector, "right after, nothing new", true)
            .await,
    );
    // An hour later, with new messages in that hour.
    let now = bench.clock.now();
    post_hour(&fake, a, now, a.slack_new);
    bench.clock.advance(TimeDelta::hours(1));
    runs.push(
        bench
            .run(
                &fake,
                &connector,
                &format!("an hour later, {} new", a.slack_new),
                true,
            )
            .await,
    );
    eprintln!(
        "attest-bench-connectors: next runs done ({:.1} s so far)",
        started.elapsed().as_secs_f64()
    );
    let held = bench.held(&connector).await;
    bench.close().await;
    drop(fake);

    // 3: growth with the window, each on a fresh store and a fresh fake of the same messages.
    let mut growth = Vec::new();
    let mut windows = a.slack_windows.clone();
    windows.sort();
    for days in windows {
        let fake = SlackFake::start().await;
        populate(&fake, a, base);
        let bench = Bench::open(kind, dir, &format!("w{days}"), &fake, base).await;
        let connector = bench.connector(&fake, days).await;
        let m = bench
            .run(&fake, &connector, &format!("{days} day(s)"), false)
            .await;
        eprintln!(
            "attest-bench-connectors: window {days} day(s): {} messages, {:.1} s ({:.1} s so far)",
            m.run.items_fetched,
            m.wall.as_secs_f64(),
            started.elapsed().as_secs_f64()
        );
        growth.push(m);
        bench.close().await;
    }

    println!("# attest-bench-connectors --part slack");
    println!(
        "\nStore: {store_text} (a fresh one for each growth run). The fake: {} channels × {} messages over the {} days before the bench's clock ({}), authors {} users with an e-mail, posted in {:.2} s. Process RSS at start {:.0} MB, after posting {:.0} MB. Total {:.1} s.",
        a.slack_channels,
        a.slack_per_channel,
        a.slack_days,
        base.to_rfc3339(),
        a.slack_users,
        posting.as_secs_f64(),
        memory_at_start.unwrap_or(0) as f64 / MB,
        memory_after_posting.unwrap_or(0) as f64 / MB,
        started.elapsed().as_secs_f64()
    );
    report_runs("The import and the next runs", &runs, true);
    println!(
        "\nThe store after these runs: a record {:.0} bytes, a person copy {:.0} bytes on average (`Item::size`: keys, version and body JSON; 200 of each){}.",
        held.record_bytes,
        held.copy_bytes,
        held.table
            .map(|(items, bytes)| format!(
                "; DynamoDB's DescribeTable: {items} items, {bytes} bytes ({:.0} bytes an item)",
                bytes as f64 / items.max(1) as f64
            ))
            .unwrap_or_default()
    );
    report_runs(
        "Growth with the window (a fresh store each)",
        &growth,
        false,
    );

    println!("\n### Per 1,000 messages fetched\n");
    println!("| window | messages | wall s | ms per 1,000 | Slack requests per 1,000 | storage calls per 1,000 | items written per 1,000 | WCU per 1,000 | peak MB |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for m in runs.iter().take(1).chain(&growth) {
        let n = m.run.items_fetched;
        let requests: usize = m.slack.values().sum();
        println!(
            "| {} | {} | {:.2} | {} | {} | {} | {} | {} | {} |",
            m.label,
            n,
            m.wall.as_secs_f64(),
            per_thousand(m.wall.as_secs_f64() * 1000.0, n),
            per_thousand(requests as f64, n),
            per_thousand(f64::from(m.calls.total()), n),
            per_thousand(f64::from(m.calls.items_written), n),
            m.consumed
                .as_ref()
                .map(|c| per_thousand(c.write_units, n))
                .unwrap_or_else(|| "–".into()),
            m.peak
                .map(|k| format!("{:.0}", k as f64 / MB))
                .unwrap_or_else(|| "?".into()),
        );
    }
    let line = |name: &str, unit: &str, y: &dyn Fn(&Measured) -> f64| {
        let points: Vec<(f64, f64)> = growth
            .iter()
            .map(|m| (m.run.items_fetched as f64, y(m)))
            .collect();
        if let Some((a0, b, r2)) = fit(&points) {
            println!(
                "- {name}: {a0:.2} {unit} + {:.3} {unit} per 1,000 messages (r² {r2:.5})",
                b * 1000.0
            );
        }
    };
    println!("\nLeast squares over the growth runs (y = fixed + per message):\n");
    line("wall time", "s", &|m: &Measured| m.wall.as_secs_f64());
    line("time in storage calls", "s", &|m: &Measured| {
        m.calls.store_time.as_secs_f64()
    });
    line("Slack requests", "", &|m: &Measured| {
        m.slack.values().sum::<usize>() as f64
    });
    line("storage calls", "", &|m: &Measured| {
        f64::from(m.calls.total())
    });
    line("items written", "", &|m: &Measured| {
        f64::from(m.calls.items_written)
    });
    if growth.iter().all(|m| m.consumed.is_some()) {
        line("WCU", "", &|m: &Measured| {
            m.consumed.as_ref().map_or(0.0, |c| c.write_units)
        });
        line("RCU", "", &|m: &Measured| {
            m.consumed.as_ref().map_or(0.0, |c| c.read_units)
        });
    }
    line("peak memory", "MB", &|m: &Measured| {
        m.peak.unwrap_or(0) as f64 / MB
    });

    println!("\n### Details\n");
    for m in runs.iter().chain(&growth) {
        println!(
            "- {}: window {} → {}; fetched {}, imported {}, duplicates {}, unmapped {}, errors {}; Slack {}",
            m.label,
            m.run.window.from.to_rfc3339(),
            m.run.window.to.to_rfc3339(),
            m.run.items_fetched,
            m.run.items_imported,
            m.run.duplicates_skipped,
            m.run.unmapped_users,
            m.run.errors.len(),
            m.slack_text()
        );
        if !m.calls.log.is_empty() {
            let lines: Vec<String> = m.calls.log.iter().map(|l| summarize(l)).collect();
            println!("  - storage: {}", compact(&lines).join("; "));
        }
        if let Some(c) = &m.consumed {
            println!(
                "  - DynamoDB calls (meter): {:?}, {:.1} RCU, {:.1} WCU",
                c.calls, c.read_units, c.write_units
            );
        }
    }
}
