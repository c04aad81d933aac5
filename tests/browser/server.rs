//! `attest serve` on a free port over a fresh data dir, its sign-in link, more sign-in links
//! from `attest token --link`, and API calls for setting up and checking what the browser did.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use reqwest::Method;
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_attest");

pub struct Server {
    child: Child,
    dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// The link `attest serve` printed for its local administrator.
    pub admin_link: String,
    /// The administrator's token (from that link).
    pub admin: String,
    http: reqwest::Client,
}

/// `attest serve` over `dir` with `env`: the process, its address, and its sign-in link.
fn serve(dir: &Path, env: &[(&str, String)]) -> (Child, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args([
        "serve",
        "--port",
        "0",
        "--import-every",
        "off",
        "--data-dir",
    ])
    .arg(dir)
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start attest serve");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = |what: &str| {
        lines
            .next()
            .unwrap_or_else(|| panic!("attest serve prints {what}"))
            .unwrap()
    };
    let _data = next("where data lives");
    let listening = next("where it listens");
    let sign_in = next("a sign-in link");
    let api = listening.rsplit(' ').next().unwrap();
    let base = api.trim_end_matches("/api/compliance").to_owned();
    let admin_link = sign_in
        .strip_prefix("attest: sign in: ")
        .unwrap_or_else(|| panic!("the third line is the sign-in link: {sign_in}"))
        .to_owned();
    assert!(
        admin_link.starts_with(&format!("{base}/#token=")),
        "{admin_link}"
    );
    (child, base, admin_link)
}

impl Server {
    pub fn start(env: &[(&str, String)]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let (child, base, admin_link) = serve(dir.path(), env);
        let admin = admin_link.split_once("#token=").unwrap().1.to_owned();
        Server {
            child,
            dir,
            base,
            admin_link,
            admin,
            http: reqwest::Client::new(),
        }
    }

    /// Stops the server and starts it again over the same data with `env` (on another port:
    /// a browser signs in again; tokens made before stay valid, the secret being in the data).
    pub fn restart(&mut self, env: &[(&str, String)]) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, base, admin_link) = serve(self.dir.path(), env);
        self.child = child;
        self.base = base;
        self.admin = admin_link.split_once("#token=").unwrap().1.to_owned();
        self.admin_link = admin_link;
    }

    /// `attest token --link` for a user of tenant acme with these roles.
    pub fn link(&self, user: &str, roles: &[&str]) -> String {
        let mut cmd = Command::new(BIN);
        cmd.args(["token", "--tenant", "acme", "--user", user, "--link"])
            .args(["--base-url", &self.base, "--data-dir"])
            .arg(self.dir.path());
        for r in roles {
            cmd.args(["--role", r]);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let link = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        assert!(
            link.starts_with(&format!("{}/#token=", self.base)),
            "{link}"
        );
        link
    }

    /// An API call as `token`; panics unless it answers 2xx.
    pub async fn call(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let mut req = self
            .http
            .request(
                method.clone(),
                format!("{}/api/compliance{path}", self.base),
            )
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    pub async fn get(&self, path: &str) -> Value {
        self.call(&self.admin, Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.call(&self.admin, Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Value {
        self.call(&self.admin, Method::PATCH, path, Some(body))
            .await
    }

    /// Uploads a body of `content_type` to a route (HR records).
    pub async fn upload(&self, path: &str, content_type: &str, body: String) -> Value {
        let res = self
            .http
            .post(format!("{}/api/compliance{path}", self.base))
            .bearer_auth(&self.admin)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{}", res.text().await.unwrap());
        res.json().await.unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
