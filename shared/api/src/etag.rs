//! Versions as ETags, and If-Match.

use axum::http::{header, HeaderMap, HeaderValue};

use crate::ApiError;

pub fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).expect("digits are a valid header")
}

/// A JSON response that carries the resource's version as its ETag.
pub fn versioned_json(
    status: axum::http::StatusCode,
    version: u64,
    body: impl serde::Serialize,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(header::ETAG, etag(version));
    response
}

/// The version an `If-Match` header names: `None` without one (or with `*`).
pub fn if_match(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let bad = || ApiError::BadRequest {
        detail: "If-Match must be an ETag this API returned, such as \"3\"".into(),
        errors: vec![attest_domain::FieldError::new(
            "If-Match",
            "not a version ETag",
        )],
    };
    let text = value.to_str().map_err(|_| bad())?.trim();
    if text == "*" {
        return Ok(None);
    }
    let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    text.parse().map(Some).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_forms() {
        let mut h = HeaderMap::new();
        assert_eq!(if_match(&h).unwrap(), None);
        h.insert(header::IF_MATCH, etag(7));
        assert_eq!(if_match(&h).unwrap(), Some(7));
        h.insert(header::IF_MATCH, HeaderValue::from_static("W/\"8\""));
        assert_eq!(if_match(&h).unwrap(), Some(8));
        h.insert(header::IF_MATCH, HeaderValue::from_static("*"));
        assert_eq!(if_match(&h).unwrap(), None);
        h.insert(header::IF_MATCH, HeaderValue::from_static("\"abc\""));
        assert!(matches!(if_match(&h), Err(ApiError::BadRequest { .. })));
    }
}
