//! Evidence files under a local directory, with URLs to the local server's own blob endpoints,
//! signed with HMAC-SHA256 and expiring like S3's presigned URLs. An object is created once and
//! never replaced: a second upload to its key is refused ([`BlobError::Exists`]).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{
    check_key, BlobError, BlobStore, Inspected, Inspector, PresignedPut, MAX_URL_LIFETIME,
};

/// The route the local server serves blobs under.
pub const BLOB_PATH: &str = "/api/compliance/blobs";

/// Where uploads are written before they are linked into place, under the root. Their names
/// are made here (process id and a counter), never from the key or the file name.
const PARTIAL_DIR: &str = ".partial";

pub struct LocalBlobs {
    root: PathBuf,
    secret: Vec<u8>,
    base_url: String,
}

/// What a valid upload URL allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutGrant {
    pub content_type: String,
    pub size: u64,
}

impl PutGrant {
    /// Refuses an upload sent with another `Content-Type` than the URL was signed for (S3
    /// refuses it too: the header is signed).
    pub fn check_content_type(&self, sent: Option<&str>) -> Result<(), BlobError> {
        match sent {
            Some(t) if t == self.content_type => Ok(()),
            other => Err(BlobError::Refused(format!(
                "it was signed for Content-Type {}, not {:?}",
                self.content_type,
                other.unwrap_or("")
            ))),
        }
    }
}

impl LocalBlobs {
    /// `base_url` is where the server answers, e.g. `http://127.0.0.1:8080`.
    pub fn new(root: PathBuf, secret: Vec<u8>, base_url: impl Into<String>) -> Self {
        Self {
            root,
            secret,
            base_url: base_url.into(),
        }
    }

    fn sign(&self, text: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key");
        mac.update(text.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn verify(&self, text: &str, sig: &str) -> bool {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key");
        mac.update(text.as_bytes());
        hex::decode(sig)
            .map(|s| mac.verify_slice(&s).is_ok())
            .unwrap_or(false)
    }

    fn path(&self, key: &str) -> Result<PathBuf, BlobError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }

    fn url(&self, key: &str, params: &[(&str, String)]) -> String {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        format!("{}{BLOB_PATH}/{key}?{query}", self.base_url)
    }

    fn expiry(expires: Duration) -> i64 {
        chrono::Utc::now().timestamp() + expires.min(MAX_URL_LIFETIME).as_secs() as i64
    }

    fn check_expiry(exp: &str) -> Result<(), BlobError> {
        let exp: i64 = exp
            .parse()
            .map_err(|_| BlobError::Refused("bad expiry".into()))?;
        if exp < chrono::Utc::now().timestamp() {
            return Err(BlobError::Refused("the URL has expired".into()));
        }
        Ok(())
    }

    fn param<'a>(query: &'a [(String, String)], name: &str) -> Result<&'a str, BlobError> {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| BlobError::Refused(format!("the URL has no {name}")))
    }

    /// Checks an upload URL's signature and expiry; returns what it allows. A URL that does
    /// not allow the upload is [`BlobError::Refused`].
    pub fn check_put(&self, key: &str, query: &[(String, String)]) -> Result<PutGrant, BlobError> {
        let (op, ct, size, exp, sig) = (
            Self::param(query, "op")?,
            Self::param(query, "ct")?,
            Self::param(query, "size")?,
            Self::param(query, "exp")?,
            Self::param(query, "sig")?,
        );
        if op != "put" || !self.verify(&format!("put\n{key}\n{ct}\n{size}\n{exp}"), sig) {
            return Err(BlobError::Refused(
                "the URL's signature does not match".into(),
            ));
        }
        Self::check_expiry(exp)?;
        Ok(PutGrant {
            content_type: ct.to_owned(),
            size: size
                .parse()
                .map_err(|_| BlobError::Refused("bad size".into()))?,
        })
    }

    /// Checks a download URL's signature and expiry; returns the file name to send (or
    /// [`BlobError::Refused`]).
    pub fn check_get(&self, key: &str, query: &[(String, String)]) -> Result<String, BlobError> {
        let (op, name, exp, sig) = (
            Self::param(query, "op")?,
            Self::param(query, "name")?,
            Self::param(query, "exp")?,
            Self::param(query, "sig")?,
        );
        if op != "get" || !self.verify(&format!("get\n{key}\n{name}\n{exp}"), sig) {
            return Err(BlobError::Refused(
                "the URL's signature does not match".into(),
            ));
        }
        Self::check_expiry(exp)?;
        Ok(name.to_owned())
    }

    /// Stores an uploaded object, once: it is written to a temporary file, then linked into
    /// place, which fails if an object is there already ([`BlobError::Exists`]); so an object
    /// is never replaced, nor seen half-written.
    pub async fn create(&self, key: &str, bytes: &[u8]) -> Result<(), BlobError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = self.path(key)?;
        let io = |e: std::io::Error| BlobError::Unavailable(e.to_string());
        let partial = self.root.join(PARTIAL_DIR);
        tokio::fs::create_dir_all(&partial).await.map_err(io)?;
        tokio::fs::create_dir_all(path.parent().expect("keys have folders"))
            .await
            .map_err(io)?;
        let tmp = partial.join(format!(
            "{}-{}.part",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let written = async {
            // Unique among live processes; one by that name is a crashed process's leftover.
            let mut file = tokio::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)
                .await?;
            file.write_all(bytes).await?;
            file.sync_all().await?;
            drop(file);
            tokio::fs::hard_link(&tmp, &path).await
        }
        .await;
        let _ = tokio::fs::remove_file(&tmp).await;
        match written {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(BlobError::Exists(
                format!("this upload URL was used already (a file arrived at {key}); declare the file again to upload another"),
            )),
            Err(e) => Err(io(e)),
        }
    }

    /// The stored object's bytes.
    pub async fn read(&self, key: &str) -> Result<Option<Vec<u8>>, BlobError> {
        match tokio::fs::read(self.path(key)?).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(BlobError::Unavailable(e.to_string())),
        }
    }
}

#[async_trait]
impl BlobStore for LocalBlobs {
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        expires: Duration,
    ) -> Result<PresignedPut, BlobError> {
        self.path(key)?;
        let exp = Self::expiry(expires).to_string();
        let sig = self.sign(&format!("put\n{key}\n{content_type}\n{size}\n{exp}"));
        Ok(PresignedPut {
            url: self.url(
                key,
                &[
                    ("op", "put".into()),
                    ("ct", content_type.into()),
                    ("size", size.to_string()),
                    ("exp", exp),
                    ("sig", sig),
                ],
            ),
            headers: vec![("content-type".into(), content_type.into())],
        })
    }

    async fn presign_get(
        &self,
        key: &str,
        file_name: &str,
        expires: Duration,
    ) -> Result<String, BlobError> {
        self.path(key)?;
        let exp = Self::expiry(expires).to_string();
        let sig = self.sign(&format!("get\n{key}\n{file_name}\n{exp}"));
        Ok(self.url(
            key,
            &[
                ("op", "get".into()),
                ("name", file_name.into()),
                ("exp", exp),
                ("sig", sig),
            ],
        ))
    }

    async fn inspect(&self, key: &str, sniff: usize) -> Result<Option<Inspected>, BlobError> {
        let mut file = match tokio::fs::File::open(self.path(key)?).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(BlobError::Unavailable(e.to_string())),
        };
        let mut inspector = Inspector::new(sniff);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = file
                .read(&mut buf)
                .await
                .map_err(|e| BlobError::Unavailable(e.to_string()))?;
            if n == 0 {
                return Ok(Some(inspector.finish()));
            }
            inspector.update(&buf[..n]);
        }
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(BlobError::Unavailable(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(url: &str) -> (String, Vec<(String, String)>) {
        let (path, q) = url.split_once('?').unwrap();
        let key = path
            .split_once(BLOB_PATH)
            .unwrap()
            .1
            .trim_start_matches('/')
            .to_owned();
        (
            key,
            form_urlencoded::parse(q.as_bytes()).into_owned().collect(),
        )
    }

    #[tokio::test]
    async fn signed_urls_allow_what_they_say_until_they_expire() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = LocalBlobs::new(
            dir.path().to_owned(),
            b"secret".to_vec(),
            "http://127.0.0.1:1",
        );
        let put = blobs
            .presign_put(
                "evidence/acme/e1",
                "application/pdf",
                8,
                Duration::from_secs(60),
            )
            .await
            .unwrap();
        assert_eq!(
            put.headers,
            [("content-type".to_owned(), "application/pdf".to_owned())]
        );
        let (key, q) = query(&put.url);
        let grant = blobs.check_put(&key, &q).unwrap();
        assert_eq!(
            grant,
            PutGrant {
                content_type: "application/pdf".into(),
                size: 8
            }
        );
        assert_eq!(grant.check_content_type(Some("application/pdf")), Ok(()));
        for other in [Some("image/png"), Some("application/pdf; x=1"), None] {
            assert!(matches!(
                grant.check_content_type(other),
                Err(BlobError::Refused(_))
            ));
        }
        // Tampered: another key, another size, another signature; refused, not invalid.
        let refused = |r: Result<PutGrant, BlobError>| matches!(r, Err(BlobError::Refused(_)));
        assert!(refused(blobs.check_put("evidence/acme/e2", &q)));
        let mut bigger = q.clone();
        bigger.iter_mut().find(|(k, _)| k == "size").unwrap().1 = "9999".into();
        assert!(refused(blobs.check_put(&key, &bigger)));
        let unsigned: Vec<_> = q.iter().filter(|(k, _)| k != "sig").cloned().collect();
        assert!(refused(blobs.check_put(&key, &unsigned)));
        // A download URL is no upload URL.
        let get = blobs
            .presign_get(&key, "a.pdf", Duration::from_secs(60))
            .await
            .unwrap();
        let (_, gq) = query(&get);
        assert!(blobs.check_put(&key, &gq).is_err());
        assert_eq!(blobs.check_get(&key, &gq).unwrap(), "a.pdf");
        // Expired.
        let old = blobs
            .presign_get(&key, "a.pdf", Duration::from_secs(0))
            .await
            .unwrap();
        let (_, oq) = query(&old);
        std::thread::sleep(Duration::from_millis(1100));
        let expired = blobs.check_get(&key, &oq).unwrap_err();
        assert!(
            matches!(&expired, BlobError::Refused(m) if m.contains("expired")),
            "{expired:?}"
        );
        // Another secret does not verify.
        let other = LocalBlobs::new(
            dir.path().to_owned(),
            b"other".to_vec(),
            "http://127.0.0.1:1",
        );
        assert!(other.check_put(&key, &q).is_err());
    }

    #[tokio::test]
    async fn create_once_inspect_delete() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = LocalBlobs::new(dir.path().to_owned(), b"s".to_vec(), "http://x");
        assert_eq!(blobs.inspect("evidence/t/e", 4).await.unwrap(), None);
        blobs.create("evidence/t/e", b"hello").await.unwrap();
        let i = blobs.inspect("evidence/t/e", 4).await.unwrap().unwrap();
        assert_eq!((i.size, i.head.as_slice()), (5, &b"hell"[..]));
        // Not replaced: the first object stays.
        assert!(matches!(
            blobs.create("evidence/t/e", b"HELLO").await,
            Err(BlobError::Exists(_))
        ));
        assert_eq!(blobs.read("evidence/t/e").await.unwrap().unwrap(), b"hello");
        // No temporary file is left behind.
        let mut partial = tokio::fs::read_dir(dir.path().join(PARTIAL_DIR))
            .await
            .unwrap();
        assert!(partial.next_entry().await.unwrap().is_none());
        blobs.delete("evidence/t/e").await.unwrap();
        blobs.delete("evidence/t/e").await.unwrap();
        assert!(matches!(
            blobs.create("../../etc/passwd", b"x").await,
            Err(BlobError::Invalid(_))
        ));
        assert!(matches!(
            blobs
                .presign_get("evidence/t/../../x", "a.pdf", Duration::from_secs(1))
                .await,
            Err(BlobError::Invalid(_))
        ));
    }

    #[tokio::test]
    async fn of_concurrent_uploads_to_one_key_one_wins() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = std::sync::Arc::new(LocalBlobs::new(
            dir.path().to_owned(),
            b"s".to_vec(),
            "http://x",
        ));
        let tasks: Vec<_> = (0..8u8)
            .map(|n| {
                let blobs = blobs.clone();
                tokio::spawn(async move { blobs.create("evidence/t/race", &[n; 4096]).await })
            })
            .collect();
        let mut won = Vec::new();
        for (n, t) in tasks.into_iter().enumerate() {
            match t.await.unwrap() {
                Ok(()) => won.push(n as u8),
                Err(BlobError::Exists(_)) => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(won.len(), 1, "{won:?}");
        assert_eq!(
            blobs.read("evidence/t/race").await.unwrap().unwrap(),
            vec![won[0]; 4096]
        );
    }
}
