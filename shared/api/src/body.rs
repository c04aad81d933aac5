//! JSON request bodies: content type checked, size bounded, and every error naming the field.

use attest_domain::FieldError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;

use crate::ApiError;

/// The largest JSON body a route accepts unless it says otherwise.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// A JSON body, parsed into `T`.
pub struct JsonBody<T>(pub T);

fn is_json(content_type: &str) -> bool {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// The media type of an Excel workbook (`.xlsx`), in and out.
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// A workbook body (`.xlsx`, sent as it is, no multipart), as bytes: another content type is
/// 415, a body over the route's limit 413.
pub struct XlsxBody(pub Bytes);

/// The request's media type, lowercased, without parameters (`None` without a Content-Type).
fn media_type(req: &Request) -> Option<String> {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
}

/// 415 naming what the route takes and what came.
fn unsupported(wanted: &str, got: Option<String>) -> ApiError {
    ApiError::UnsupportedMediaType(format!(
        "send the body as {wanted} (got {})",
        got.as_deref().unwrap_or("no Content-Type")
    ))
}

/// The whole body, within the route's limit (413 past it).
async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge("the request body is larger than this route accepts".into())
        } else {
            ApiError::BadRequest {
                detail: format!("could not read the request body: {rejection}"),
                errors: vec![],
            }
        }
    })
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let mime = media_type(&req);
        if !mime.as_deref().is_some_and(is_json) {
            return Err(unsupported("application/json", mime));
        }
        parse_json(&read_body(req, state).await?).map(JsonBody)
    }
}

impl<S: Send + Sync> FromRequest<S> for XlsxBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let mime = media_type(&req);
        if mime.as_deref() != Some(XLSX) {
            return Err(unsupported(&format!("{XLSX} (an .xlsx workbook)"), mime));
        }
        Ok(XlsxBody(read_body(req, state).await?))
    }
}

/// Parses JSON: malformed text is 400; well-formed JSON of the wrong shape is 422 naming the
/// field (wrong type, unknown value, missing or unknown field).
///
/// The text is read into a JSON value first, so that only real syntax errors are 400: read
/// straight from text, serde_json reports a number where an enum's string belongs
/// (`{"test_status": 1}`) as a syntax error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let json: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| shape_error(e, "."))?;
    serde_path_to_error::deserialize(json).map_err(|err| {
        let path = err.path().to_string();
        shape_error(err.into_inner(), &path)
    })
}

fn shape_error(inner: serde_json::Error, path: &str) -> ApiError {
    let message = inner.to_string();
    // serde_json appends " at line 1 column 7"; keep the message itself.
    let message = match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message,
    };
    if inner.is_syntax() || inner.is_eof() || inner.is_io() {
        return ApiError::BadRequest {
            detail: format!(
                "the body is not valid JSON: {message} (line {}, column {})",
                inner.line(),
                inner.column()
            ),
            errors: vec![],
        };
    }
    let field = match message.strip_prefix("missing field `") {
        Some(rest) => {
            let name = rest.trim_end_matches('`');
            if path == "." {
                name.to_owned()
            } else {
                format!("{path}.{name}")
            }
        }
        None if path == "." => "body".to_owned(),
        None => path.to_owned(),
    };
    ApiError::Unprocessable {
        detail: format!("invalid {field}: {message}"),
        errors: vec![FieldError::new(field, message)],
    }
}

/// Refuses a body whose declared `Content-Length` is over `max` bytes (413) without reading it.
pub async fn refuse_declared_oversize(
    axum::extract::State(max): axum::extract::State<usize>,
    req: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return ApiError::PayloadTooLarge(format!(
            "the request body is larger than the {max} bytes this route accepts"
        ))
        .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use attest_domain::vocab::TestStatus;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        inner: Option<Inner>,
    }
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Inner {
        status: TestStatus,
    }

    fn field(err: ApiError) -> (u16, String) {
        let status = err.status().as_u16();
        match err {
            ApiError::Unprocessable { errors, .. } => (status, errors[0].field.clone()),
            other => (status, other.to_string()),
        }
    }

    #[test]
    fn errors_name_the_problem() {
        assert_eq!(
            field(parse_json::<Body>(br#"{"name": 3}"#).unwrap_err()),
            (422, "name".into())
        );
        assert_eq!(
            field(parse_json::<Body>(br#"{}"#).unwrap_err()),
            (422, "name".into())
        );
        assert_eq!(
            field(parse_json::<Body>(br#"{"name":"a","inner":{"status":"great"}}"#).unwrap_err()),
            (422, "inner.status".into())
        );
        assert_eq!(
            field(parse_json::<Body>(br#"{"name":"a","extra":1}"#).unwrap_err()).0,
            422
        );
        assert_eq!(field(parse_json::<Body>(br#"[1,2]"#).unwrap_err()).0, 422);
        assert_eq!(
            field(parse_json::<Body>(br#""text""#).unwrap_err()),
            (422, "body".into())
        );
        let (status, detail) = field(parse_json::<Body>(br#"{"name": "a""#).unwrap_err());
        assert_eq!(status, 400);
        assert!(detail.contains("not valid JSON"), "{detail}");
        assert_eq!(
            field(parse_json::<Body>(br#"{"name":"a"} x"#).unwrap_err()).0,
            400
        );
        assert!(parse_json::<Body>(br#"{"name":"a","inner":{"status":"passed"}}"#).is_ok());
        // Well-formed JSON with a value of the wrong type for an enum is 422, not 400.
        for body in [
            &br#"{"name":"a","inner":{"status":1}}"#[..],
            br#"{"name":"a","inner":{"status":true}}"#,
            br#"{"name":"a","inner":{"status":["passed"]}}"#,
            br#"{"name":"a","inner":{"status":null}}"#,
        ] {
            assert_eq!(
                field(parse_json::<Body>(body).unwrap_err()),
                (422, "inner.status".into()),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn json_content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("application/json; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
    }
}
