//! The Attest web app (API.md, "Web app"): one HTML shell, a style sheet and hand-written
//! JavaScript modules, embedded in the binary and served over the same JSON API in AWS (the
//! `web` function) and by `attest serve`.
//!
//! * `GET /` — the shell, the same for every page (the app routes on the address's fragment:
//!   `/#/assessments/{id}`); never cached.
//! * `GET /assets/{version}/{file}` — the style sheet, icon and modules; `version` is a hash
//!   of every asset, so an asset under the current version never changes and is cached for a
//!   year. The modules import each other relatively and so stay under the same version.
//! * `GET /config.json` — how the app signs in ([`Config::client_json`]); never cached.
//!
//! None of these needs a token: the app holds the user's and sends it on every API call.
//! Every answer carries the [`Config::content_security_policy`], `nosniff` and
//! `Referrer-Policy: no-referrer`.

mod assets;
mod config;

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

pub use assets::{Asset, ASSETS};
pub use config::{
    Cognito, Config, ConfigError, SignIn, ENV_COGNITO_CLIENT_ID, ENV_COGNITO_DOMAIN,
    ENV_EVIDENCE_ORIGIN, ENV_REDIRECT_URI,
};

/// The routes the web app answers (method, path), for the template and its checks.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/config.json"),
    ("GET", "/assets/{version}/{file}"),
];

/// What every answer of the app is served with.
struct Served {
    headers: Vec<(HeaderName, HeaderValue)>,
    config_json: String,
}

/// The web app's routes, to serve alone (the `web` function) or merged with the API's.
pub fn router(config: Config) -> Router {
    let csp = config.content_security_policy();
    let served = Arc::new(Served {
        headers: vec![
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_str(&csp).expect("the policy is checked ASCII"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            (
                HeaderName::from_static("cross-origin-opener-policy"),
                HeaderValue::from_static("same-origin"),
            ),
        ],
        config_json: config.client_json().to_string(),
    });
    Router::new()
        .route("/", get(shell))
        .route("/config.json", get(config_json))
        .route("/assets/{version}/{file}", get(asset))
        .layer(axum::middleware::map_response_with_state(
            served.clone(),
            secure,
        ))
        .with_state(served)
}

async fn secure(State(served): State<Arc<Served>>, mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in &served.headers {
        headers.insert(name.clone(), value.clone());
    }
    response
}

const NO_CACHE: &str = "no-cache";
const FOREVER: &str = "public, max-age=31536000, immutable";

async fn shell() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, NO_CACHE),
        ],
        assets::shell(),
    )
        .into_response()
}

async fn config_json(State(served): State<Arc<Served>>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        served.config_json.clone(),
    )
        .into_response()
}

/// An asset of any version is the current one (a shell loaded just before a deployment still
/// works), cached for good only under the current version.
async fn asset(Path((version, file)): Path<(String, String)>) -> Response {
    let Some(asset) = assets::find(&file) else {
        return (StatusCode::NOT_FOUND, [(header::CACHE_CONTROL, NO_CACHE)]).into_response();
    };
    let cache = if version == assets::version() {
        FOREVER
    } else {
        NO_CACHE
    };
    (
        [
            (header::CONTENT_TYPE, asset.content_type),
            (header::CACHE_CONTROL, cache),
        ],
        asset.body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn get(path: &str) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let response = router(Config::local())
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, body.to_vec())
    }

    fn header<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> &'a str {
        headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
    }

    #[tokio::test]
    async fn the_shell_is_served_uncached_with_the_security_headers() {
        let (status, headers, body) = get("/").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(header(&headers, "content-type"), "text/html; charset=utf-8");
        assert_eq!(header(&headers, "cache-control"), "no-cache");
        assert_eq!(
            header(&headers, "content-security-policy"),
            Config::local().content_security_policy()
        );
        assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
        assert_eq!(header(&headers, "referrer-policy"), "no-referrer");
        let html = String::from_utf8(body).unwrap();
        let v = assets::version();
        assert!(
            html.contains(&format!("src=\"/assets/{v}/app.js\"")),
            "{html}"
        );
        assert!(html.contains(&format!("href=\"/assets/{v}/app.css\"")));
    }

    #[tokio::test]
    async fn assets_are_cached_for_good_under_the_current_version_only() {
        let v = assets::version();
        for a in ASSETS {
            let (status, headers, body) = get(&format!("/assets/{v}/{}", a.name)).await;
            assert_eq!(status, StatusCode::OK, "{}", a.name);
            assert_eq!(header(&headers, "content-type"), a.content_type);
            assert_eq!(header(&headers, "cache-control"), FOREVER);
            assert!(!header(&headers, "content-security-policy").is_empty());
            assert_eq!(body, a.body);
        }
        let (status, headers, _) = get("/assets/0123456789ab/app.js").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(header(&headers, "cache-control"), "no-cache");
        for missing in ["/assets/x/nope.js", "/assets/x/..%2Fsrc%2Flib.rs"] {
            let (status, headers, _) = get(missing).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
            assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
        }
    }

    #[tokio::test]
    async fn config_json_says_how_to_sign_in() {
        let (status, headers, body) = get("/config.json").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(header(&headers, "cache-control"), "no-store");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v, serde_json::json!({"sign_in": "local"}));
    }
}
