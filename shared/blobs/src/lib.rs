//! Where evidence files live: a port with two adapters, S3 (`attest-blobs-s3`) and a local
//! directory ([`local::LocalBlobs`]) for `attest serve`. Files never pass through the API:
//! clients upload and download them with short-lived signed URLs.

pub mod local;

use std::time::Duration;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

/// Longest lifetime of an upload or download URL.
pub const MAX_URL_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// What can go wrong with evidence files. Only [`BlobError::Unavailable`] is an outage; the
/// others are refusals of what was asked (the API answers them with a 4xx).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    /// The storage could not be reached or failed.
    #[error("blob storage failed: {0}")]
    Unavailable(String),
    /// A request no blob store accepts: a malformed key, an impossible size or lifetime.
    #[error("invalid blob request: {0}")]
    Invalid(String),
    /// A signed URL that does not allow this: tampered, expired, or used for another
    /// operation, key or content type than it was signed for.
    #[error("this URL does not allow it: {0}")]
    Refused(String),
    /// Something is stored at the key already: an upload URL works once.
    #[error("{0}")]
    Exists(String),
}

/// The longest object key S3 accepts, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// Checks an object key before any adapter uses it: `/`-separated parts of letters, digits
/// and `. - _ @ : +`, none empty, `.` or `..`, at most [`MAX_KEY_BYTES`] long. Evidence keys
/// are made of validated ids and always pass.
pub fn check_key(key: &str) -> Result<(), BlobError> {
    let valid = !key.is_empty()
        && key.len() <= MAX_KEY_BYTES
        && key
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..")
        && key.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '@' | ':' | '+')
        });
    if valid {
        Ok(())
    } else {
        Err(BlobError::Invalid(format!("bad key {key:?}")))
    }
}

/// An upload URL and the headers its PUT must carry, exactly as given: they are part of what
/// was signed (S3 refuses the request without them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedPut {
    pub url: String,
    /// Lower-case header names with their values, at least `content-type`.
    pub headers: Vec<(String, String)>,
}

/// What an uploaded object holds, read once from start to end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspected {
    pub size: u64,
    /// The first bytes, up to the number asked for.
    pub head: Vec<u8>,
    /// Hex SHA-256 of the whole object.
    pub sha256: String,
}

/// Accumulates an object read in chunks into an [`Inspected`].
pub struct Inspector {
    want: usize,
    head: Vec<u8>,
    size: u64,
    hasher: Sha256,
}

impl Inspector {
    pub fn new(want: usize) -> Self {
        Self {
            want,
            head: Vec::new(),
            size: 0,
            hasher: Sha256::new(),
        }
    }

    pub fn update(&mut self, chunk: &[u8]) {
        if self.head.len() < self.want {
            let take = (self.want - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.size += chunk.len() as u64;
        self.hasher.update(chunk);
    }

    pub fn finish(self) -> Inspected {
        Inspected {
            size: self.size,
            head: self.head,
            sha256: hex::encode(self.hasher.finalize()),
        }
    }
}

#[async_trait]
pub trait BlobStore: Send + Sync {
    /// A URL that accepts one PUT of `size` bytes of `content_type` at `key` until it expires,
    /// and only while nothing is stored at `key`: once an object arrived, the URL cannot
    /// replace it (what was checked is what stays).
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        expires: Duration,
    ) -> Result<PresignedPut, BlobError>;

    /// A URL that downloads `key` as an attachment named `file_name` until it expires.
    async fn presign_get(
        &self,
        key: &str,
        file_name: &str,
        expires: Duration,
    ) -> Result<String, BlobError>;

    /// Reads the object, if there is one: size, first `sniff` bytes and SHA-256.
    async fn inspect(&self, key: &str, sniff: usize) -> Result<Option<Inspected>, BlobError>;

    /// Removes the object; removing a missing one is fine.
    async fn delete(&self, key: &str) -> Result<(), BlobError>;
}

/// The object key of an evidence file: `evidence/{tenant}/{evidence_id}`. Both are validated
/// identifiers of bounded length; the file name stays in the record (and comes back in
/// `Content-Disposition`), so no user input sets a storage name's length.
pub fn evidence_key(tenant: &str, evidence_id: &str) -> String {
    format!("evidence/{tenant}/{evidence_id}")
}

/// Tenant and evidence id from an evidence object key.
pub fn parse_evidence_key(key: &str) -> Option<(&str, &str)> {
    let mut parts = key.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("evidence"), Some(tenant), Some(id), None)
            if !tenant.is_empty() && !id.is_empty() =>
        {
            Some((tenant, id))
        }
        _ => None,
    }
}

/// `Content-Disposition: attachment` with the original name, safe for any name (RFC 6266).
pub fn attachment_disposition(file_name: &str) -> String {
    let ascii: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = form_urlencoded::byte_serialize(file_name.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        let key = evidence_key("acme", "e1");
        assert_eq!(key, "evidence/acme/e1");
        assert_eq!(parse_evidence_key(&key), Some(("acme", "e1")));
        assert_eq!(parse_evidence_key("other/acme/e1"), None);
        assert_eq!(parse_evidence_key("evidence/acme"), None);
        assert_eq!(parse_evidence_key("evidence/acme/"), None);
        assert_eq!(parse_evidence_key("evidence/acme/e1/x.pdf"), None);
    }

    #[test]
    fn keys_are_checked() {
        assert_eq!(check_key("evidence/acme/e1"), Ok(()));
        assert_eq!(check_key("evidence/acme-1/0f8e:x@y+z.v_w"), Ok(()));
        for bad in [
            "",
            "/evidence/a",
            "evidence//a",
            "evidence/../a",
            "evidence/./a",
            "evidence/a/",
            "evidence/a b",
            "evidence/a?b",
            "evidence/é",
        ] {
            assert!(
                matches!(check_key(bad), Err(BlobError::Invalid(_))),
                "{bad:?}"
            );
        }
        assert!(check_key(&"a".repeat(MAX_KEY_BYTES)).is_ok());
        assert!(check_key(&"a".repeat(MAX_KEY_BYTES + 1)).is_err());
    }

    #[test]
    fn dispositions_keep_the_name() {
        assert_eq!(
            attachment_disposition("a b.pdf"),
            "attachment; filename=\"a b.pdf\"; filename*=UTF-8''a%20b.pdf"
        );
        assert!(attachment_disposition("Prüfung \"x\".pdf")
            .contains("filename*=UTF-8''Pr%C3%BCfung%20%22x%22.pdf"));
    }

    #[test]
    fn inspection_hashes_everything_and_keeps_the_head() {
        let mut i = Inspector::new(4);
        i.update(b"ab");
        i.update(b"cdef");
        let r = i.finish();
        assert_eq!((r.size, r.head.as_slice()), (6, &b"abcd"[..]));
        assert_eq!(
            r.sha256,
            "bef57ec7f53a6d40beb640a780a639c83bc29ac8a9816f1fc6c5c6dcd93c4721"
        );
    }
}
