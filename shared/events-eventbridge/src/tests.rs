//! The adapter against a scripted EventBridge endpoint on a loopback port: it speaks
//! `PutEvents` (the AWS JSON 1.1 protocol), records every call, refuses chosen entries or
//! whole calls, and accepts the rest.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use attest_domain::event::{EventType, Subject};
use attest_domain::ids::TenantId;
use aws_sdk_eventbridge::config::retry::RetryConfig;
use aws_sdk_eventbridge::config::{BehaviorVersion, Credentials, Region};
use serde_json::{json, Value};

use super::*;

/// What the fake endpoint does.
#[derive(Default)]
struct Script {
    /// Whole-call failures to answer, in turn, before accepting calls: (HTTP status, type).
    call_failures: VecDeque<(u16, &'static str)>,
    /// Event ids whose entries are refused, and how many more times (`u32::MAX`: always).
    refuse: HashMap<String, u32>,
    /// The entries of every call received.
    calls: Vec<Vec<Value>>,
}

#[derive(Clone)]
struct FakeEventBridge {
    endpoint: String,
    script: Arc<Mutex<Script>>,
}

impl FakeEventBridge {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let script = Arc::new(Mutex::new(Script::default()));
        let shared = script.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let script = shared.clone();
                std::thread::spawn(move || serve(stream, &script));
            }
        });
        Self { endpoint, script }
    }

    fn script(&self) -> std::sync::MutexGuard<'_, Script> {
        self.script.lock().unwrap()
    }

    /// The entries of each call received so far.
    fn calls(&self) -> Vec<Vec<Value>> {
        self.script().calls.clone()
    }

    /// A publisher on bus `bus` of this endpoint; the SDK's own retries are off, so that
    /// every retry counted is the publisher's.
    fn publisher(&self, attempts: u32) -> EventBridgePublisher {
        let client = Client::from_conf(
            aws_sdk_eventbridge::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .endpoint_url(&self.endpoint)
                .region(Region::new("us-east-1"))
                .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
                .retry_config(RetryConfig::disabled())
                .build(),
        );
        EventBridgePublisher::new(client, "attest-events")
            .with_retries(attempts, Duration::from_millis(5))
    }
}

/// Serves one connection's requests (HTTP/1.1, kept alive) until the client closes it.
fn serve(stream: TcpStream, script: &Mutex<Script>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut length = 0;
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let (status, answer) = answer(script, serde_json::from_slice(&body).unwrap());
        let answer = answer.to_string();
        write!(
            writer,
            "HTTP/1.1 {status} X\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\n\r\n{answer}",
            answer.len()
        )
        .unwrap();
    }
}

/// The answer to a `PutEvents` request, as the script says.
fn answer(script: &Mutex<Script>, request: Value) -> (u16, Value) {
    let mut script = script.lock().unwrap();
    let entries = request["Entries"].as_array().cloned().unwrap_or_default();
    script.calls.push(entries.clone());
    if let Some((status, kind)) = script.call_failures.pop_front() {
        return (status, json!({"__type": kind, "message": "scripted"}));
    }
    let mut failed = 0;
    let results: Vec<Value> = entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let detail: Value = serde_json::from_str(entry["Detail"].as_str().unwrap()).unwrap();
            let id = detail["id"].as_str().unwrap().to_owned();
            match script.refuse.get_mut(&id) {
                Some(left) if *left > 0 => {
                    *left = left.saturating_sub(if *left == u32::MAX { 0 } else { 1 });
                    failed += 1;
                    json!({"ErrorCode": "InternalFailure", "ErrorMessage": "try again"})
                }
                _ => json!({"EventId": format!("eb-{i}")}),
            }
        })
        .collect();
    (200, json!({"FailedEntryCount": failed, "Entries": results}))
}

fn events(n: usize) -> Vec<Event> {
    let tenant = TenantId::parse("acme").unwrap();
    (0..n)
        .map(|i| {
            Event::new(
                &tenant,
                EventType::ActionUpdated,
                chrono::Utc::now(),
                Some("alice"),
                Subject::new("action", format!("a{i}")),
                json!({"n": i, "assessments": []}),
            )
        })
        .collect()
}

fn ids(calls: &[Vec<Value>]) -> Vec<Vec<String>> {
    calls
        .iter()
        .map(|call| {
            call.iter()
                .map(|e| {
                    let detail: Value =
                        serde_json::from_str(e["Detail"].as_str().unwrap()).unwrap();
                    detail["id"].as_str().unwrap().to_owned()
                })
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn a_batch_of_25_goes_in_three_calls_of_at_most_10() {
    let fake = FakeEventBridge::start();
    let events = events(25);
    assert_eq!(fake.publisher(3).publish(&events).await, vec![]);
    let calls = fake.calls();
    assert_eq!(calls.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 5]);
    let sent: Vec<&Value> = calls.iter().flatten().collect();
    for (entry, event) in sent.iter().zip(&events) {
        assert_eq!(entry["Source"], "attest");
        assert_eq!(entry["DetailType"], "ActionUpdated");
        assert_eq!(entry["EventBusName"], "attest-events");
        let detail: Value = serde_json::from_str(entry["Detail"].as_str().unwrap()).unwrap();
        assert_eq!(detail, serde_json::to_value(event).unwrap(), "the envelope");
        let time = entry["Time"].as_f64().unwrap();
        assert_eq!((time * 1000.0).round() as i64, event.at.timestamp_millis());
    }
}

#[tokio::test]
async fn refused_entries_are_tried_again_alone() {
    let fake = FakeEventBridge::start();
    let events = events(4);
    fake.script().refuse = HashMap::from([(events[1].id.clone(), 1), (events[3].id.clone(), 2)]);
    assert_eq!(fake.publisher(3).publish(&events).await, vec![]);
    let all: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
    assert_eq!(
        ids(&fake.calls()),
        vec![
            all.clone(),
            vec![all[1].clone(), all[3].clone()],
            vec![all[3].clone()]
        ]
    );
}

#[tokio::test]
async fn entries_refused_every_time_are_handed_back() {
    let fake = FakeEventBridge::start();
    let events = events(12);
    fake.script().refuse = HashMap::from([
        (events[2].id.clone(), u32::MAX),
        (events[11].id.clone(), u32::MAX),
    ]);
    let unpublished = fake.publisher(3).publish(&events).await;
    assert_eq!(
        unpublished,
        vec![
            Unpublished {
                event_id: events[2].id.clone(),
                reason: "InternalFailure: try again".into()
            },
            Unpublished {
                event_id: events[11].id.clone(),
                reason: "InternalFailure: try again".into()
            },
        ]
    );
    // First chunk: 10 entries, then event 2 twice more; second chunk: 2, then event 11 twice.
    let sizes: Vec<usize> = fake.calls().iter().map(Vec::len).collect();
    assert_eq!(sizes, [10, 1, 1, 2, 1, 1]);
}

#[tokio::test]
async fn throttled_and_failing_calls_are_tried_again() {
    let fake = FakeEventBridge::start();
    fake.script().call_failures = VecDeque::from([
        (400, "ThrottlingException"),
        (500, "InternalException"),
        (503, "ServiceUnavailable"),
    ]);
    let events = events(3);
    assert_eq!(fake.publisher(4).publish(&events).await, vec![]);
    assert_eq!(fake.calls().len(), 4);

    // Out of attempts: every entry of the call is handed back with the last failure.
    let fake = FakeEventBridge::start();
    fake.script().call_failures = VecDeque::from([(500, "InternalException"); 3]);
    let unpublished = fake.publisher(3).publish(&events).await;
    assert_eq!(unpublished.len(), 3);
    assert!(
        unpublished[0].reason.contains("InternalException"),
        "{unpublished:?}"
    );
    assert_eq!(fake.calls().len(), 3);
}

#[tokio::test]
async fn a_refused_call_is_not_tried_again() {
    let fake = FakeEventBridge::start();
    fake.script().call_failures = VecDeque::from([(400, "ResourceNotFoundException")]);
    let events = events(2);
    let unpublished = fake.publisher(4).publish(&events).await;
    assert_eq!(
        unpublished.iter().map(|u| &u.event_id).collect::<Vec<_>>(),
        events.iter().map(|e| &e.id).collect::<Vec<_>>()
    );
    assert!(unpublished[0].reason.contains("ResourceNotFoundException"));
    assert_eq!(fake.calls().len(), 1);
}

#[test]
fn calls_are_cut_at_10_entries_and_256_kib() {
    let sizes = |sized: Vec<usize>| -> Vec<Vec<usize>> {
        chunks(sized.into_iter().map(|s| (s, s)).collect())
    };
    assert_eq!(
        sizes(vec![1; 21]).iter().map(Vec::len).collect::<Vec<_>>(),
        [10, 10, 1]
    );
    let big = MAX_BYTES_PER_CALL / 2;
    assert_eq!(
        sizes(vec![big, big, 1, MAX_BYTES_PER_CALL + 1, 1]),
        vec![
            vec![big, big],
            vec![1],
            vec![MAX_BYTES_PER_CALL + 1],
            vec![1]
        ]
    );
    assert!(sizes(vec![]).is_empty());
}
