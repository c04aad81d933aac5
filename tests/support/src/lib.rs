//! Test set-up shared by the test suites: starts AWS's DynamoDB Local on a free loopback port,
//! once per test process, and stops it when the process ends; finds the data written by others
//! that some tests read ([`shared_data`]).
//!
//! The emulator comes from the npm package `amplify-dynamodb-simulator`, which ships AWS's
//! `DynamoDBLocal.jar`; `infra/install-test-tools.sh` fetches it into `.tools/`. Set
//! `ATTEST_DYNAMODB_LOCAL_DIR` to use another copy (the folder holding `DynamoDBLocal.jar`).

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// The folder of data written by others that some tests read (NIST's published OSCAL catalogs
/// under `oscal/`): the one `ATTEST_TEST_DATA` names, else `../shared/data` beside the
/// repository. CI always has it; a user's clone does not, and the always-run tests need none
/// of it.
pub fn shared_data_dir() -> PathBuf {
    match std::env::var_os("ATTEST_TEST_DATA") {
        Some(dir) => PathBuf::from(dir),
        None => repo_root().join("../shared/data"),
    }
}

/// Whether this is a CI run (`CI=true`), where every test must run.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// The file `relative` (e.g. `oscal/basic-catalog-min.json`) of [`shared_data_dir`], for a test
/// that cannot run without it. When the file is absent, under `CI=true` this panics naming
/// the path (a test CI does not run is a failure); otherwise it says on stderr, past the test
/// harness's output capture, that the calling test did not run and why, and returns `None`:
/// the test then returns without checking anything.
#[track_caller]
pub fn shared_data(relative: &str) -> Option<PathBuf> {
    let path = shared_data_dir().join(relative);
    if path.is_file() {
        return Some(path);
    }
    let why = format!(
        "{} is absent (NIST's published OSCAL content, https://github.com/usnistgov/oscal-content, \
         kept in ../shared/data beside the repository; ATTEST_TEST_DATA names another folder)",
        path.display()
    );
    if in_ci() {
        panic!("CI=true and {why}");
    }
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    // Straight to stderr: the harness captures eprintln! of passing tests.
    let _ = writeln!(std::io::stderr(), "NOT RUN: {test}: {why}");
    None
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts connections on `addr`.
pub fn wait_for_port(addr: SocketAddr, timeout: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn dynamodb_local_dir() -> PathBuf {
    match std::env::var_os("ATTEST_DYNAMODB_LOCAL_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => repo_root().join(".tools/dynamodb-local/package/emulator"),
    }
}

/// Runs `command` so that it dies with this test process (PR_SET_PDEATHSIG), from a thread
/// that lives as long as the child: the signal follows the spawning thread, not the process.
fn spawn_tied_to_process(mut command: Command) -> std::io::Result<u32> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        match command.spawn() {
            Ok(mut child) => {
                let _ = tx.send(Ok(child.id()));
                let _ = child.wait();
            }
            Err(e) => {
                let _ = tx.send(Err(e));
            }
        }
    });
    rx.recv().expect("spawner thread answers")
}

/// A running DynamoDB Local.
pub struct DynamoDbLocal {
    pub endpoint: String,
}

/// DynamoDB Local for this test process, started on first use.
pub fn dynamodb_local() -> &'static DynamoDbLocal {
    static INSTANCE: OnceLock<DynamoDbLocal> = OnceLock::new();
    INSTANCE.get_or_init(|| {
        let dir = dynamodb_local_dir();
        let jar = dir.join("DynamoDBLocal.jar");
        assert!(
            jar.is_file(),
            "DynamoDB Local is not installed at {}: run `infra/install-test-tools.sh` (the README's test command does) or set ATTEST_DYNAMODB_LOCAL_DIR",
            jar.display()
        );
        let port = free_port();
        let mut cmd = Command::new("java");
        cmd.current_dir(&dir)
            .arg(format!("-Djava.library.path={}", dir.join("DynamoDBLocal_lib").display()))
            .args(["-Xmx512m", "-jar", "DynamoDBLocal.jar", "-inMemory", "-port"])
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        spawn_tied_to_process(cmd).expect("start java for DynamoDB Local (is Java 17 installed?)");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        assert!(
            wait_for_port(addr, Duration::from_secs(60)),
            "DynamoDB Local did not listen on {addr} within 60 s"
        );
        DynamoDbLocal { endpoint: format!("http://{addr}") }
    })
}

/// A name no other test in this run uses.
/// Removes the folders `unique_name(prefix)` made in the temporary directory for test
/// processes that have ended (a server's folder lives as long as its test process, which
/// cannot clean up after a static).
fn remove_left_by_ended_processes(prefix: &str) {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let alive = pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists();
        if !alive {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A running S3-compatible server (s3s-fs, which checks SigV4 signatures, presigned URL
/// expiry and signed headers like S3 does).
pub struct S3Server {
    pub endpoint: String,
    pub access_key: &'static str,
    pub secret_key: &'static str,
}

/// The S3 server for this test process, started on first use on a free loopback port, over a
/// fresh directory.
pub fn s3_server() -> &'static S3Server {
    static INSTANCE: OnceLock<S3Server> = OnceLock::new();
    INSTANCE.get_or_init(|| {
        let bin = match std::env::var_os("ATTEST_S3S_FS") {
            Some(p) => PathBuf::from(p),
            None => repo_root().join(".tools/s3s/bin/s3s-fs"),
        };
        assert!(
            bin.is_file(),
            "s3s-fs is not installed at {}: run `infra/install-test-tools.sh` (the README's test command does) or set ATTEST_S3S_FS",
            bin.display()
        );
        remove_left_by_ended_processes("attest-s3");
        let root = std::env::temp_dir().join(unique_name("attest-s3"));
        std::fs::create_dir_all(&root).unwrap();
        let port = free_port();
        let (access_key, secret_key) = ("attest-test", "attest-test-secret");
        let mut cmd = Command::new(bin);
        cmd.args(["--host", "127.0.0.1", "--port", &port.to_string(), "--access-key", access_key, "--secret-key", secret_key])
            .arg(&root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        spawn_tied_to_process(cmd).expect("start s3s-fs");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        assert!(wait_for_port(addr, Duration::from_secs(30)), "s3s-fs did not listen on {addr}");
        S3Server { endpoint: format!("http://{addr}"), access_key, secret_key }
    })
}

impl S3Server {
    /// A client of this server (path-style addressing, its credentials).
    pub fn client(&self) -> aws_sdk_s3::Client {
        use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .endpoint_url(&self.endpoint)
                .region(Region::new("us-east-1"))
                .force_path_style(true)
                .credentials_provider(Credentials::new(
                    self.access_key,
                    self.secret_key,
                    None,
                    None,
                    "tests",
                ))
                .build(),
        )
    }
}

/// A running moto server: one process speaking, among others, EventBridge and SQS (any
/// credentials, region `us-east-1`, account 123456789012).
pub struct MotoServer {
    pub endpoint: String,
    pub region: &'static str,
    pub access_key: &'static str,
    pub secret_key: &'static str,
}

/// The moto server for this test process, started on first use on a free loopback port, and
/// ready (it answered over HTTP). `infra/install-test-tools.sh` installs it into
/// `.tools/venv`; set `ATTEST_MOTO_SERVER` to use another `moto_server` executable.
pub fn moto_server() -> &'static MotoServer {
    static INSTANCE: OnceLock<MotoServer> = OnceLock::new();
    INSTANCE.get_or_init(|| {
        let bin = match std::env::var_os("ATTEST_MOTO_SERVER") {
            Some(p) => PathBuf::from(p),
            None => repo_root().join(".tools/venv/bin/moto_server"),
        };
        assert!(
            bin.is_file(),
            "moto_server is not installed at {}: run `infra/install-test-tools.sh` (the README's test command does) or set ATTEST_MOTO_SERVER",
            bin.display()
        );
        let port = free_port();
        let mut cmd = Command::new(bin);
        cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        spawn_tied_to_process(cmd).expect("start moto_server");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        assert!(
            wait_for_http(addr, "/moto-api/", Duration::from_secs(60)),
            "moto_server did not answer on {addr} within 60 s"
        );
        MotoServer {
            endpoint: format!("http://{addr}"),
            region: "us-east-1",
            access_key: "attest-test",
            secret_key: "attest-test-secret",
        }
    })
}

/// Waits until a server on `addr` answers `GET path` with any HTTP status line.
pub fn wait_for_http(addr: SocketAddr, path: &str, timeout: Duration) -> bool {
    use std::io::Read;
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let request =
                format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
            let mut head = [0u8; 12];
            if stream.write_all(request.as_bytes()).is_ok()
                && stream.read_exact(&mut head).is_ok()
                && head.starts_with(b"HTTP/1.")
            {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// compliance-trestle's command (NIST's OSCAL models), from `.tools/venv` where
/// `infra/install-test-tools.sh` installs it, else from `PATH`. Panics (the test fails) when it
/// is in neither.
pub fn trestle() -> PathBuf {
    let pinned = repo_root().join(".tools/venv/bin/trestle");
    if pinned.is_file() {
        return pinned;
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("trestle"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "compliance-trestle is not installed: run infra/install-test-tools.sh \
                 (it installs trestle into .tools/venv), or put trestle on PATH"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moto_answers_on_a_loopback_port() {
        let moto = moto_server();
        assert!(
            moto.endpoint.starts_with("http://127.0.0.1:"),
            "{}",
            moto.endpoint
        );
        let addr: SocketAddr = moto.endpoint["http://".len()..].parse().unwrap();
        assert!(wait_for_http(addr, "/moto-api/", Duration::from_secs(1)));
        // The same server for the whole test process.
        assert!(std::ptr::eq(moto, moto_server()));
    }

    #[test]
    fn nothing_answers_on_a_free_port() {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        assert!(!wait_for_http(addr, "/", Duration::from_millis(300)));
    }
}
