//! `attest serve` closes connections whose clients stop sending: a request head that does not
//! arrive within the header timeout, and a body that does not arrive within the body timeout.
//! The timeouts are shortened through the environment so that each test takes a second or two.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BIN: &str = env!("CARGO_BIN_EXE_attest");

/// A running `attest serve` with the given timeouts, stopped when dropped.
struct Server {
    child: Child,
    /// `127.0.0.1:port`
    addr: String,
}

impl Server {
    fn start(data_dir: &Path, header_timeout: &str, body_timeout: &str) -> Server {
        let mut child = Command::new(BIN)
            .args(["serve", "--port", "0", "--data-dir"])
            .arg(data_dir)
            .env("ATTEST_HEADER_TIMEOUT", header_timeout)
            .env("ATTEST_BODY_TIMEOUT", body_timeout)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start attest serve");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let listening = lines
            .find_map(|l| {
                l.unwrap()
                    .strip_prefix("attest: listening on http://")
                    .map(str::to_owned)
            })
            .expect("attest serve prints where it listens");
        let addr = listening.split('/').next().unwrap().to_owned();
        Server { child, addr }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn token(data_dir: &Path, role: &str) -> String {
    let out = Command::new(BIN)
        .args([
            "token", "--tenant", "acme", "--user", "alice", "--role", role,
        ])
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Reads until the server closes the connection (or resets it), giving up after `limit`.
/// Returns what was read, or `None` if the connection was still open.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    read_until_closed_by(stream, tokio::time::Instant::now() + limit).await
}

async fn read_until_closed_by(
    stream: &mut TcpStream,
    deadline: tokio::time::Instant,
) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Opens a connection and sends the start of a request head, never its end.
async fn stall_in_head(addr: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /api/compliance/health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .unwrap();
    stream
}

/// One complete GET on a fresh connection; the status code.
async fn status_of(addr: &str, path: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let text = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .expect("the server answers and closes");
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"))
}

#[tokio::test]
async fn a_request_head_that_stalls_is_closed_after_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "0.5", "5");

    let started = Instant::now();
    let mut partial = stall_in_head(&server.addr).await;
    let mut silent = TcpStream::connect(&server.addr).await.unwrap();
    assert!(
        read_until_closed(&mut partial, Duration::from_secs(5))
            .await
            .is_some(),
        "a connection that sent part of a request head is still open after 5 s"
    );
    assert!(
        read_until_closed(&mut silent, Duration::from_secs(5))
            .await
            .is_some(),
        "a connection that sent nothing is still open after 5 s"
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(3),
        "closed after {took:?}, expected about 0.5 s"
    );

    // A kept-alive connection gets the same time for its next request, then is closed too.
    let mut kept = TcpStream::connect(&server.addr).await.unwrap();
    kept.write_all(b"GET /api/compliance/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let text = read_until_closed(&mut kept, Duration::from_secs(5))
        .await
        .expect("an idle kept-alive connection is closed");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
}

#[tokio::test]
async fn a_body_that_stalls_is_answered_408_and_closed_after_the_body_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "5", "0.5");
    let token = token(dir.path(), "administrator");

    let mut stream = TcpStream::connect(&server.addr).await.unwrap();
    let head = format!(
        "POST /api/compliance/regulations HTTP/1.1\r\nHost: localhost\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\n\r\n{{\"name\": "
    );
    let started = Instant::now();
    stream.write_all(head.as_bytes()).await.unwrap();
    let text = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .expect("a connection whose body stalled is still open after 5 s");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(3),
        "answered after {took:?}, expected about 0.5 s"
    );
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    let lower = text.to_ascii_lowercase();
    assert!(
        lower.contains("content-type: application/problem+json"),
        "{text}"
    );
    assert!(lower.contains("connection: close"), "{text}");
    assert!(text.contains("\"status\":408"), "{text}");
    assert!(text.contains("did not arrive"), "{text}");

    // A body that arrives in time is read as usual: here, well-formed JSON missing fields.
    let mut stream = TcpStream::connect(&server.addr).await.unwrap();
    let request = format!(
        "POST /api/compliance/regulations HTTP/1.1\r\nHost: localhost\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let text = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .expect("an answer");
    assert!(text.starts_with("HTTP/1.1 422"), "{text}");
}

#[tokio::test]
async fn health_answers_while_hundreds_of_connections_stall_and_they_are_all_closed() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "2", "2");

    let started = Instant::now();
    let mut stalled = Vec::new();
    for _ in 0..300 {
        stalled.push(stall_in_head(&server.addr).await);
    }
    // Still within the header timeout: every one of them is open, and the server answers.
    let asked = Instant::now();
    assert_eq!(status_of(&server.addr, "/api/compliance/health").await, 200);
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "/health took {:?} with 300 stalled connections",
        asked.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_millis(1800),
        "opening the connections took too long to test the timeout: {:?}",
        started.elapsed()
    );

    // Then all of them are closed by the header timeout (one deadline for all of them).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut open = 0;
    for stream in &mut stalled {
        if read_until_closed_by(stream, deadline).await.is_none() {
            open += 1;
        }
    }
    assert_eq!(open, 0, "{open} of 300 stalled connections are still open");
    assert!(started.elapsed() < Duration::from_secs(6));
    assert_eq!(status_of(&server.addr, "/api/compliance/health").await, 200);
}
