//! Headless Chromium driven through chromedriver (Debian's `chromium` and `chromium-driver`),
//! with the few moves the tests make: open a page and wait until the app has drawn it, read
//! text, type, choose, click, and keep a screenshot of what the page looks like.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// Where the screenshots are kept: `target/screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target dir")
        .join("screenshots");
    std::fs::create_dir_all(&dir).expect("create target/screenshots");
    dir
}

/// A program on PATH (or named by `env`), or a failure saying how to install it.
fn program(env: &str, names: &[&str]) -> PathBuf {
    if let Ok(p) = std::env::var(env) {
        return PathBuf::from(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in names {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "{} is not installed: the browser tests need headless Chromium and its WebDriver \
         (Debian: apt-get install chromium chromium-driver; infra/install-test-tools.sh installs \
         them), or set {env}",
        names[0]
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    pub downloads: tempfile::TempDir,
}

impl Drop for Browser {
    /// Also when a test fails: chromedriver and every Chromium process of the session (its
    /// process group) are ended, so that none outlives the test.
    fn drop(&mut self) {
        #[cfg(unix)]
        // SAFETY: kill only sends a signal, to the group made for this chromedriver.
        unsafe {
            libc::kill(-(self.driver.id() as libc::pid_t), libc::SIGKILL);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    /// A fresh browser: a new profile, no cache, downloads into a temporary folder.
    pub async fn start() -> Browser {
        let chromedriver = program("ATTEST_CHROMEDRIVER", &["chromedriver"]);
        let chromium = program(
            "ATTEST_CHROMIUM",
            &["chromium", "chromium-browser", "google-chrome"],
        );
        let port = free_port();
        let mut command = Command::new(&chromedriver);
        command
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // A process group of its own, shared by the Chromium it starts: ended as one.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let driver = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", chromedriver.display()));
        let webdriver = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while reqwest::get(format!("{webdriver}/status")).await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let downloads = tempfile::tempdir().unwrap();
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                    "--window-size=1440,1000", "--force-device-scale-factor=1", "--lang=en-US",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                "prefs": {
                    "download.default_directory": downloads.path(),
                    "download.prompt_for_download": false,
                    "intl.accept_languages": "en-US",
                }
            }
        });
        let mut builder = ClientBuilder::rustls().expect("a TLS setup (unused: loopback HTTP)");
        let client = builder
            .capabilities(caps.as_object().unwrap().clone())
            .connect(&webdriver)
            .await
            .expect("a Chromium session");
        Browser {
            client,
            driver,
            _profile: profile,
            downloads,
        }
    }

    /// Ends the session (then, on drop, whatever is left of chromedriver and Chromium).
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// Opens an app address (`#/actions`, another than the current one) as a click on a link
    /// would, and waits until it is drawn.
    pub async fn open(&self, hash: &str, page: &str) {
        self.mark().await;
        self.js(&format!("location.hash = {}", json!(hash))).await;
        self.redrawn(page).await;
    }

    pub async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    /// Waits until `script` (an expression) is truthy; panics after 20 s with `what`.
    pub async fn until(&self, script: &str, what: &str) -> Value {
        let started = Instant::now();
        loop {
            let v = self.js(&format!("return ({script});")).await;
            if !(v.is_null() || v == json!(false) || v == json!("") || v == json!(0)) {
                return v;
            }
            if started.elapsed() > Duration::from_secs(20) {
                let main = self
                    .js("return document.querySelector('main').innerText")
                    .await;
                panic!("waited 20 s for {what}; the page shows: {main}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the app has drawn `page` (its `main` says which and is no longer busy).
    pub async fn page(&self, page: &str) {
        self.until(
            &format!(
                "document.querySelector('main[data-page=\"{page}\"][aria-busy=\"false\"]') !== null"
            ),
            &format!("the {page} page"),
        )
        .await;
    }

    /// Marks what the page shows now, so that [`Browser::redrawn`] can tell a new drawing
    /// from the old one.
    pub async fn mark(&self) {
        self.js("document.querySelector('main').firstElementChild?.setAttribute('data-old', '1')")
            .await;
    }

    /// Waits until the app has drawn `page` anew since [`Browser::mark`].
    pub async fn redrawn(&self, page: &str) {
        self.until(
            &format!(
                "document.querySelector('main[data-page=\"{page}\"][aria-busy=\"false\"]') !== null \
                 && document.querySelector('main [data-old]') === null"
            ),
            &format!("the {page} page drawn again"),
        )
        .await;
    }

    pub async fn text(&self, css: &str) -> String {
        self.element(css).await.text().await.unwrap()
    }

    pub async fn texts(&self, css: &str) -> Vec<String> {
        let v = self
            .js(&format!(
                "return [...document.querySelectorAll({})].map(e => e.textContent.trim())",
                json!(css)
            ))
            .await;
        serde_json::from_value(v).unwrap()
    }

    pub async fn count(&self, css: &str) -> usize {
        self.js(&format!(
            "return document.querySelectorAll({}).length",
            json!(css)
        ))
        .await
        .as_u64()
        .unwrap() as usize
    }

    /// The element `css` finds, once it is there (20 s at most).
    async fn element(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
    }

    pub async fn click(&self, css: &str) {
        let el = self.element(css).await;
        el.click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Clicks the button (or link styled as one) whose text is `label`, within `scope` (CSS),
    /// once there is one (20 s at most).
    pub async fn press(&self, scope: &str, label: &str) {
        let find = format!(
            "const b = [...document.querySelectorAll({scope} + ' button, ' + {scope} + ' a.button')]\
             .find(b => b.textContent.trim() === {label}); \
             if (b) {{ b.setAttribute('data-press', '1'); }} return !!b;",
            scope = json!(scope),
            label = json!(label)
        );
        let started = Instant::now();
        while self.js(&find).await != json!(true) {
            if started.elapsed() > Duration::from_secs(20) {
                let shot = self.shot("failure").await;
                let html = self
                    .js(&format!(
                        "return document.querySelector({})?.outerHTML",
                        json!(scope)
                    ))
                    .await;
                panic!(
                    "no button {label:?} in {scope} (see {}): {html}",
                    shot.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.click("[data-press='1']").await;
        self.js("document.querySelector('[data-press]')?.removeAttribute('data-press')")
            .await;
    }

    /// Types into a field (after clearing it), as a person would.
    pub async fn fill(&self, css: &str, value: &str) {
        let el = self.element(css).await;
        el.clear().await.unwrap();
        el.send_keys(value).await.unwrap();
    }

    /// Presses Enter in a field (a form submits from the keyboard).
    pub async fn enter(&self, css: &str) {
        let el = self.element(css).await;
        el.send_keys(&fantoccini::key::Key::Enter.to_string())
            .await
            .unwrap();
    }

    /// What a person with a screen reader or a keyboard needs of the page drawn now: one
    /// heading, every field labelled, every button and image named.
    pub async fn check_accessible(&self, page: &str) {
        let problems = self
            .js(
                "const out = [];\
                 const main = document.querySelector('main');\
                 if (main.querySelectorAll('h1').length !== 1) out.push('not one h1');\
                 for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {\
                   if (!(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby')) out.push('unlabelled ' + el.outerHTML.slice(0, 80));\
                 }\
                 for (const el of document.querySelectorAll('button, a[href]')) {\
                   if (!(el.textContent.trim() || el.getAttribute('aria-label'))) out.push('unnamed ' + el.outerHTML.slice(0, 80));\
                 }\
                 for (const el of document.querySelectorAll('img')) if (!el.hasAttribute('alt')) out.push('no alt ' + el.src);\
                 return out;",
            )
            .await;
        assert_eq!(problems, json!([]), "accessibility of the {page} page");
    }

    /// Chooses an option of a select by its value.
    pub async fn choose(&self, css: &str, value: &str) {
        let el = self.element(css).await;
        el.select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("choose {value} in {css}: {e}"));
    }

    /// Sets a date field (typing dates depends on the locale's format).
    pub async fn set_date(&self, css: &str, value: &str) {
        self.js(&format!(
            "const e = document.querySelector({}); e.value = {}; \
             e.dispatchEvent(new Event('input', {{bubbles: true}})); \
             e.dispatchEvent(new Event('change', {{bubbles: true}}));",
            json!(css),
            json!(value)
        ))
        .await;
    }

    /// Hands a file to a file input.
    pub async fn attach(&self, css: &str, file: &Path) {
        let el = self.element(css).await;
        el.send_keys(&file.display().to_string()).await.unwrap();
    }

    /// Waits (20 s at most) for a finished download whose name ends with `suffix`.
    pub async fn downloaded(&self, suffix: &str) -> PathBuf {
        let started = Instant::now();
        loop {
            let done = std::fs::read_dir(self.downloads.path())
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| p.to_string_lossy().ends_with(suffix));
            if let Some(path) = done {
                // Chrome renames the finished file into place: it is complete.
                return path;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no download ending with {suffix}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Keeps a screenshot of the whole page as `target/screenshots/{name}.png`.
    pub async fn shot(&self, name: &str) -> PathBuf {
        let height = self
            .js("return Math.max(document.documentElement.scrollHeight, 700)")
            .await
            .as_u64()
            .unwrap()
            .min(4000) as u32;
        self.js("window.scrollTo(0, 0)").await;
        self.client
            .set_window_size(1440, height + 90)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
        let png = self.client.screenshot().await.unwrap();
        self.client.set_window_size(1440, 1000).await.unwrap();
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// CSP violations the app counted (there must be none).
    pub async fn csp_violations(&self) -> Value {
        self.js("return globalThis.attestDiagnostics ? globalThis.attestDiagnostics.violations : ['the app did not start']")
            .await
    }
}
