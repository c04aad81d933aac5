//! The app's files, embedded at compile time, and the version (a hash of them all) they are
//! served under.

use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// One embedded file, served at `/assets/{version}/{name}`.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

const JS: &str = "text/javascript; charset=utf-8";

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_bytes!(concat!("../assets/", $name)),
        }
    };
}

/// Every file the shell loads, directly or through a module's imports.
pub static ASSETS: &[Asset] = &[
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("auth.js", JS),
    asset!("ui.js", JS),
    asset!("labels.js", JS),
    asset!("signin.js", JS),
    asset!("dashboard.js", JS),
    asset!("assessment.js", JS),
    asset!("actions.js", JS),
    asset!("action.js", JS),
    asset!("updates.js", JS),
    asset!("groups.js", JS),
    asset!("connectors.js", JS),
    asset!("alerts.js", JS),
    asset!("people.js", JS),
    asset!("users.js", JS),
];

/// The shell's source: `{{v}}` stands for the version, `{{preload}}` for the modules' preload
/// links (so the browser fetches them all at once rather than import by import).
const SHELL: &str = include_str!("../assets/index.html");

pub fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// The first 12 hex digits of a SHA-256 over every asset's name and content.
pub fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut hash = Sha256::new();
        for a in ASSETS {
            hash.update(a.name.as_bytes());
            hash.update([0]);
            hash.update((a.body.len() as u64).to_le_bytes());
            hash.update(a.body);
        }
        hex::encode(hash.finalize())[..12].to_owned()
    })
}

/// The shell with the current version filled in.
pub fn shell() -> &'static str {
    static SHELL_HTML: OnceLock<String> = OnceLock::new();
    SHELL_HTML.get_or_init(|| {
        let preload: String = ASSETS
            .iter()
            .filter(|a| a.content_type == JS && a.name != "app.js")
            .map(|a| {
                format!(
                    "<link rel=\"modulepreload\" href=\"/assets/{{{{v}}}}/{}\">\n  ",
                    a.name
                )
            })
            .collect();
        SHELL
            .replace("{{preload}}", preload.trim_end())
            .replace("{{v}}", version())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(a: &Asset) -> &'static str {
        std::str::from_utf8(a.body).unwrap()
    }

    /// Issue 13: the whole of the app's JavaScript and CSS under 150 KB uncompressed.
    #[test]
    fn the_app_fits_its_size_budget() {
        let total: usize = ASSETS
            .iter()
            .filter(|a| a.name.ends_with(".js") || a.name.ends_with(".css"))
            .map(|a| a.body.len())
            .sum();
        println!("JavaScript and CSS: {total} bytes");
        assert!(total < 150 * 1024, "{total} bytes of JavaScript and CSS");
    }

    /// Every relative import of every module names an embedded module, and every embedded
    /// module is imported by another (or is the entry point).
    #[test]
    fn the_modules_import_only_embedded_modules() {
        let mut imported = std::collections::BTreeSet::new();
        for a in ASSETS.iter().filter(|a| a.content_type == JS) {
            for line in text(a).lines() {
                let line = line.trim();
                if !(line.starts_with("import ") || line.starts_with("} from ")) {
                    continue;
                }
                if let Some(spec) = line.split('"').nth(1) {
                    let name = spec
                        .strip_prefix("./")
                        .unwrap_or_else(|| panic!("{}: import {spec} is not relative", a.name));
                    assert!(find(name).is_some(), "{} imports {spec}", a.name);
                    imported.insert(name.to_owned());
                }
            }
        }
        for a in ASSETS.iter().filter(|a| a.content_type == JS) {
            assert!(
                a.name == "app.js" || imported.contains(a.name),
                "{} is never imported",
                a.name
            );
        }
    }

    /// Nothing a strict policy would block: no inline script or style, no event handler
    /// attributes, no markup or code built from strings.
    #[test]
    fn nothing_inline_and_no_string_built_markup() {
        let shell = shell();
        let scripts = shell.matches("<script").count();
        assert_eq!(scripts, 1, "one module script");
        assert!(shell.contains("<script type=\"module\" src=\"/assets/"));
        for banned in [" style=", "<style", " onload=", " onclick=", "javascript:"] {
            assert!(!shell.contains(banned), "the shell holds {banned:?}");
        }
        for a in ASSETS.iter().filter(|a| a.content_type == JS) {
            let code = text(a);
            for banned in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
                "new Function",
                "setAttribute(\"style\"",
                "localStorage",
            ] {
                assert!(!code.contains(banned), "{} uses {banned}", a.name);
            }
        }
    }

    #[test]
    fn the_shell_preloads_every_module_under_the_version() {
        let shell = shell();
        assert!(!shell.contains("{{"), "{shell}");
        for a in ASSETS
            .iter()
            .filter(|a| a.content_type == JS && a.name != "app.js")
        {
            assert!(
                shell.contains(&format!(
                    "<link rel=\"modulepreload\" href=\"/assets/{}/{}\">",
                    version(),
                    a.name
                )),
                "{}",
                a.name
            );
        }
        assert_eq!(version().len(), 12);
    }
}
