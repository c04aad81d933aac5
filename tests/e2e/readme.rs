//! The README's "Try the API" walkthrough, run as a reader would run it: its `sh` blocks, in
//! order, in one `bash -euo pipefail`, against a fresh `attest serve` (the built binary, on a
//! free port, over a temporary data dir). Three rewrites make that possible, and nothing else
//! of the text is changed:
//!
//! - `cargo run -q -p attest -- token` becomes the built binary with the server's `--data-dir`
//!   (so the tokens are signed with the server's secret);
//! - the README's `http://127.0.0.1:8080/api/compliance` becomes the server's address;
//! - the step that downloads NIST's moderate baseline from GitHub becomes a copy of the
//!   project's own small catalog (`tests/data/oscal/`) under the same file name: the tests must
//!   run without the network, and NIST's files are not kept in the repository. The import step
//!   itself then runs as written.
//!
//! Every `call` line whose comment starts with a status (`# 409: ...`) must answer it, and a
//! few outputs of the evidence steps are checked.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{sample_catalog, Server, BIN};

const SECTION: &str = "### Try the API";
const README_API: &str = "http://127.0.0.1:8080/api/compliance";
const TOKEN_COMMAND: &str = "cargo run -q -p attest -- token";
const NIST_DOWNLOAD: &str = "curl -sLO https://raw.githubusercontent.com/usnistgov/oscal-content/";

/// The `sh` code blocks of the README's walkthrough section (up to the next heading).
fn walkthrough(readme: &str) -> Vec<String> {
    let start = readme
        .find(SECTION)
        .unwrap_or_else(|| panic!("README.md has no {SECTION:?} section"));
    let mut blocks = Vec::new();
    // The block being read, and whether it is an `sh` one.
    let mut current: Option<(String, bool)> = None;
    for line in readme[start + SECTION.len()..].lines() {
        let fence = line.trim_end().strip_prefix("```");
        match (&mut current, fence) {
            (None, Some(lang)) => current = Some((String::new(), lang == "sh")),
            (None, None) if line.starts_with('#') => break,
            (None, None) => {}
            (Some((block, sh)), Some(_)) => {
                if *sh {
                    blocks.push(std::mem::take(block));
                }
                current = None;
            }
            (Some((block, _)), None) => {
                block.push_str(line);
                block.push('\n');
            }
        }
    }
    blocks
}

/// The `<something>` placeholders a reader would have to fill in, outside comments.
fn placeholders(script: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in script.lines() {
        let code = line.split(" # ").next().unwrap_or_default();
        if code.trim_start().starts_with('#') {
            continue;
        }
        let mut rest = code;
        while let Some(open) = rest.find('<') {
            rest = &rest[open + 1..];
            let Some(close) = rest.find('>') else { break };
            let inner = &rest[..close];
            if !inner.is_empty()
                && inner
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ' '))
            {
                found.push(format!("<{inner}>"));
            }
        }
    }
    found
}

/// The walkthrough's commands (continuation lines joined), in order.
fn commands(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in script.lines() {
        match line.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(line);
                out.push(std::mem::take(&mut current));
            }
        }
    }
    out
}

/// For each `call` command, the status its comment promises, if it names one.
fn promised_statuses(script: &str) -> Vec<Option<u16>> {
    commands(script)
        .iter()
        .filter(|c| c.starts_with("call ") && !c.starts_with("call()"))
        .map(|c| {
            let comment = c.rsplit_once(" # ")?.1.trim();
            comment.get(..3)?.parse().ok()
        })
        .collect()
}

/// The statuses `call` printed (` -> NNN` ending a line), in order.
fn printed_statuses(stdout: &str) -> Vec<u16> {
    stdout
        .lines()
        .filter_map(|l| l.rsplit_once(" -> ")?.1.trim().parse().ok())
        .collect()
}

/// The walkthrough with the three rewrites the module comment lists.
fn rewrite(script: &str, data_dir: &Path, api: &str) -> String {
    let quote = |p: &Path| format!("'{}'", p.display());
    assert!(
        script.contains(TOKEN_COMMAND),
        "the walkthrough mints tokens with `{TOKEN_COMMAND}`"
    );
    let script = script.replace(
        TOKEN_COMMAND,
        &format!("'{BIN}' token --data-dir {}", quote(data_dir)),
    );
    assert!(
        !script.contains("cargo "),
        "a cargo command the test does not rewrite:\n{script}"
    );
    assert_eq!(
        script.matches(README_API).count(),
        1,
        "the walkthrough sets API={README_API} once"
    );
    let script = script.replace(README_API, api);
    let mut downloads = 0;
    let lines: Vec<String> = script
        .lines()
        .map(|line| match line.strip_prefix(NIST_DOWNLOAD) {
            Some(rest) => {
                downloads += 1;
                let name = rest.rsplit('/').next().unwrap().trim();
                assert!(name.ends_with(".json"), "{line}");
                format!("cp {} '{name}'", quote(&sample_catalog()))
            }
            None => line.to_owned(),
        })
        .collect();
    assert_eq!(
        downloads, 1,
        "the walkthrough downloads NIST's catalog with `{NIST_DOWNLOAD}...` once"
    );
    lines.join("\n") + "\n"
}

/// Runs `script` with `bash -euo pipefail` in `dir`; (success, stdout, stderr).
fn run_bash(script: &str, dir: &Path) -> (bool, String, String) {
    let mut child = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir)
        .env_remove("ATTEST_TOKEN_SECRET")
        .env_remove("ATTEST_DATA_DIR")
        // `mktemp -d` makes the walkthrough's scratch folder inside the test's.
        .env("TMPDIR", dir)
        // curl would send loopback requests to a proxy if the environment names one.
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash runs");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).unwrap();
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(180) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the walkthrough did not finish in 180 s; output so far:\n{}",
                out.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (status.success(), out.join().unwrap(), err.join().unwrap())
}

#[test]
fn the_readme_walkthrough_runs_as_written() {
    let readme = std::fs::read_to_string(attest_testkit::repo_root().join("README.md")).unwrap();
    let blocks = walkthrough(&readme);
    assert!(blocks.len() >= 2, "the walkthrough's sh blocks: {blocks:?}");
    let script = blocks.concat();
    assert_eq!(
        placeholders(&script),
        Vec::<String>::new(),
        "no placeholders to fill in by hand"
    );

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let server = Server::start(&data);
    let (ok, stdout, stderr) = run_bash(&rewrite(&script, &data, &server.base), &work);
    assert!(
        ok,
        "the walkthrough failed.\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );

    let promised = promised_statuses(&script);
    let printed = printed_statuses(&stdout);
    assert_eq!(
        printed.len(),
        promised.len(),
        "one status per `call`: {printed:?}\nstdout:\n{stdout}"
    );
    for (i, (want, got)) in promised.iter().zip(&printed).enumerate() {
        if let Some(want) = want {
            assert_eq!(
                want,
                got,
                "`call` number {} answered {got}, its comment says {want}\nstdout:\n{stdout}",
                i + 1
            );
        }
    }
    for status in [200, 401, 403, 409, 412, 201] {
        assert!(
            promised.contains(&Some(status)),
            "the walkthrough shows {status}"
        );
    }
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("group ") && l.len() == "group ".len() + 32),
        "{stdout}"
    );
    assert!(stdout.contains(r#""status":"verified""#), "{stdout}");
    assert!(stdout.contains("the same file came back"), "{stdout}");
}

#[test]
fn the_walkthrough_parsing() {
    let readme = "# T\n### Try the API\ntext\n```sh\n# a comment, not a heading\ncall a   # 200, ok\ncall() { x; }\n```\nmore\n```json\n{}\n```\n```sh\ncall -X b \\\n  -d c     # 409: no\nV=$(curl x)\ncall d\n```\n## Next\n```sh\ncall e # 500\n```\n";
    let blocks = walkthrough(readme);
    assert_eq!(blocks.len(), 2, "{blocks:?}");
    let script = blocks.concat();
    assert_eq!(promised_statuses(&script), [Some(200), Some(409), None]);
    assert_eq!(
        printed_statuses("{\"a\": 1} -> 200\n -> 201\nno status\n"),
        [200, 201]
    );
    assert_eq!(
        placeholders("# see <id>\ncurl $API/x/<id> -d \"$(wc -c < f)\" # a <b>\n"),
        ["<id>"]
    );
}
