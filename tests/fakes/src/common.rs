//! Pieces shared by both fakes: the loopback server, the request log, header parsing,
//! JSON pointer editing and random identifiers.

use std::net::SocketAddr;

use axum::{
    http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Router,
};
use base64::Engine as _;
use serde_json::{Map, Value};
use tokio::task::JoinHandle;

/// One request as the fake saw it, recorded after the response was produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// HTTP method, upper case (`GET`, `POST`, ...).
    pub method: String,
    /// Path with the query string exactly as sent (`/v2/report/activities?from=...`).
    pub path: String,
    /// Status code of the response the fake gave.
    pub status: u16,
    /// Whether the request carried an `Authorization: Bearer ...` header (any token, valid or not).
    pub bearer: bool,
}

/// Binds `127.0.0.1:0`; the address is needed for the base URL before the app exists.
pub(crate) async fn bind() -> (tokio::net::TcpListener, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address of the fake");
    (listener, addr)
}

/// Serves `app` on `listener` on a background task.
pub(crate) fn spawn(listener: tokio::net::TcpListener, app: Router) -> JoinHandle<()> {
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    })
}

/// A JSON response with the given status and extra headers.
pub(crate) fn json_response(status: u16, body: &Value, headers: &[(&str, String)]) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (
        status,
        [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
        body.to_string(),
    )
        .into_response();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            resp.headers_mut().insert(name, value);
        }
    }
    resp
}

/// The token of an `Authorization: <scheme> <token>` header when the scheme is one of `schemes`
/// (compared case-insensitively).
pub(crate) fn auth_token(headers: &HeaderMap, schemes: &[&str]) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    if token.is_empty() || !schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
        return None;
    }
    Some(token.to_owned())
}

/// Whether the request carries a bearer token.
pub(crate) fn has_bearer(headers: &HeaderMap) -> bool {
    auth_token(headers, &["Bearer"]).is_some()
}

/// `Authorization: Basic base64(id:secret)`.
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let encoded = auth_token(headers, &["Basic"])?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.as_bytes())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// `application/x-www-form-urlencoded` pairs (query strings and form bodies): `+` and `%XX` decoded.
pub(crate) fn form_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The first value of `name` among `pairs`.
pub(crate) fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

pub(crate) const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
pub(crate) const URL_SAFE: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A random string of `len` characters drawn from `alphabet` (entropy from UUID v4).
pub(crate) fn random_string(len: usize, alphabet: &[u8]) -> String {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for byte in uuid::Uuid::new_v4().as_bytes() {
            if out.len() == len {
                break;
            }
            out.push(alphabet[usize::from(*byte) % alphabet.len()] as char);
        }
    }
    out
}

/// Splits an RFC 6901 pointer into unescaped reference tokens. Panics on a pointer that does not
/// start with `/` (these are test knobs: a bad pointer is a bug in the test).
pub(crate) fn pointer_tokens(pointer: &str) -> Vec<String> {
    assert!(
        pointer.starts_with('/'),
        "JSON pointer must start with '/': {pointer:?}"
    );
    pointer[1..]
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// Sets `value` at `tokens` under `root`, creating missing objects on the way (so a removed field
/// can be put back). An array index must exist, or be `-` to append.
pub(crate) fn set_at(root: &mut Value, tokens: &[String], value: Value, pointer: &str) {
    let Some((last, parents)) = tokens.split_last() else {
        *root = value;
        return;
    };
    let mut cur = root;
    for token in parents {
        cur = match cur {
            Value::Object(map) => map
                .entry(token.clone())
                .or_insert_with(|| Value::Object(Map::new())),
            Value::Array(items) => {
                let idx: usize = token
                    .parse()
                    .unwrap_or_else(|_| panic!("bad array index {token:?} in {pointer:?}"));
                items
                    .get_mut(idx)
                    .unwrap_or_else(|| panic!("array index {idx} out of range in {pointer:?}"))
            }
            other => panic!("cannot descend into {other} at {token:?} in {pointer:?}"),
        };
        if cur.is_null() {
            *cur = Value::Object(Map::new());
        }
    }
    match cur {
        Value::Object(map) => {
            map.insert(last.clone(), value);
        }
        Value::Array(items) if last == "-" => items.push(value),
        Value::Array(items) => {
            let idx: usize = last
                .parse()
                .unwrap_or_else(|_| panic!("bad array index {last:?} in {pointer:?}"));
            let slot = items
                .get_mut(idx)
                .unwrap_or_else(|| panic!("array index {idx} out of range in {pointer:?}"));
            *slot = value;
        }
        other => panic!("cannot set a member of {other} in {pointer:?}"),
    }
}

/// Removes the member at `tokens`; returns whether something was removed.
pub(crate) fn remove_at(root: &mut Value, tokens: &[String]) -> bool {
    let Some((last, parents)) = tokens.split_last() else {
        return false;
    };
    let mut cur = root;
    for token in parents {
        let next = match cur {
            Value::Object(map) => map.get_mut(token),
            Value::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
            _ => None,
        };
        match next {
            Some(v) => cur = v,
            None => return false,
        }
    }
    match cur {
        Value::Object(map) => map.remove(last).is_some(),
        Value::Array(items) => match last.parse::<usize>() {
            Ok(i) if i < items.len() => {
                items.remove(i);
                true
            }
            _ => false,
        },
        _ => false,
    }
}
