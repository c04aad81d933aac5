//! Running `attest serve` and talking to it as a client would.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use reqwest::StatusCode;
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_attest");

/// Where a server keeps its data.
#[derive(Clone)]
pub enum Backend {
    Embedded,
    /// A table in DynamoDB Local (created on the first start).
    DynamoDb {
        endpoint: String,
        table: String,
    },
}

/// A running `attest serve`, stopped when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    pub data_line: String,
}

impl Server {
    pub fn start(data_dir: &Path) -> Server {
        Self::start_with(data_dir, &Backend::Embedded, false)
    }

    pub fn start_with(data_dir: &Path, backend: &Backend, first: bool) -> Server {
        Self::start_env(data_dir, backend, first, &[], None)
    }

    /// A server with more environment variables (and `RUST_LOG=debug`), its log (stderr)
    /// written to `log` when given.
    pub fn start_env(
        data_dir: &Path,
        backend: &Backend,
        first: bool,
        env: &[(&str, String)],
        log: Option<&Path>,
    ) -> Server {
        let mut cmd = Command::new(BIN);
        for (k, v) in env {
            cmd.env(k, v);
        }
        match log {
            Some(path) => {
                cmd.env("RUST_LOG", "debug")
                    .stderr(std::fs::File::create(path).expect("create the server log"));
            }
            None => {
                cmd.stderr(Stdio::null());
            }
        }
        cmd.args(["serve", "--port", "0", "--data-dir"])
            .arg(data_dir);
        if let Backend::DynamoDb { endpoint, table } = backend {
            cmd.args(["--store", "dynamodb", "--table", table])
                .env("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
                .env("AWS_REGION", "us-east-1")
                .env("AWS_ACCESS_KEY_ID", "test")
                .env("AWS_SECRET_ACCESS_KEY", "test")
                .env_remove("AWS_PROFILE");
            if first {
                cmd.arg("--create-table");
            }
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .spawn()
            .expect("start attest serve");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let data_line = lines
            .next()
            .expect("attest serve prints where data lives")
            .unwrap();
        let listen = lines
            .next()
            .expect("attest serve prints where it listens")
            .unwrap();
        let base = listen.rsplit(' ').next().unwrap().to_owned();
        Server {
            child,
            base,
            data_line,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn token(data_dir: &Path, tenant: &str, user: &str, roles: &[&str]) -> String {
    let mut cmd = Command::new(BIN);
    cmd.args(["token", "--tenant", tenant, "--user", user, "--data-dir"])
        .arg(data_dir);
    for r in roles {
        cmd.args(["--role", r]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "attest token prints the token and nothing else: {stdout:?}"
    );
    lines[0].to_owned()
}

/// Sends a request; every error must be problem+json with a matching status, never a 5xx.
pub async fn send(req: reqwest::RequestBuilder) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let res = req.send().await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    assert!(!status.is_server_error(), "server error {status}: {body}");
    if status.is_client_error() {
        assert_eq!(
            headers.get("content-type").map(|v| v.to_str().unwrap()),
            Some("application/problem+json"),
            "errors are problem+json: {body}"
        );
        assert_eq!(body["status"], status.as_u16());
    }
    (status, body, headers)
}

/// Status and body of a [`send`] result.
pub trait IntoParts {
    fn into_parts(self) -> (StatusCode, Value);
}

impl IntoParts for (StatusCode, Value, reqwest::header::HeaderMap) {
    fn into_parts(self) -> (StatusCode, Value) {
        (self.0, self.1)
    }
}

/// NIST's `oscal/NAME` from the data beside the repository (`../shared/data`), or `None` when
/// it is absent: the test then did not run, and [`attest_testkit::shared_data`] has said so
/// (under `CI=true` it fails the test instead).
#[track_caller]
pub fn shared_data(name: &str) -> Option<PathBuf> {
    attest_testkit::shared_data(&format!("oscal/{name}"))
}

/// The project's own small OSCAL catalog (`tests/data/oscal/`), for tests that always run.
pub fn sample_catalog() -> PathBuf {
    attest_testkit::repo_root().join("tests/data/oscal/attest-sample-catalog.json")
}

/// Sends only the head of a request that declares a `length`-byte JSON body and returns the
/// status the server answers with, without sending the body (as a server should refuse it).
pub async fn status_for_declared_body(url: &str, method: &str, token: &str, length: usize) -> u16 {
    status_for_declared_typed_body(url, method, token, "application/json", length).await
}

/// [`status_for_declared_body`] with another content type.
pub async fn status_for_declared_typed_body(
    url: &str,
    method: &str,
    token: &str,
    content_type: &str,
    length: usize,
) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut buf))
        .await
        .expect("an answer")
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    let status = text.split_whitespace().nth(1).expect("a status line");
    assert!(
        text.to_ascii_lowercase()
            .contains("application/problem+json"),
        "{text}"
    );
    status.parse().unwrap()
}
