//! Evidence files in a private S3 bucket. Clients upload and download with presigned URLs
//! (the PUT URL binds the content type, the size and `If-None-Match: *`, so that it creates
//! the object once and cannot replace it); the `evidence-uploaded` function inspects what
//! arrived by streaming it once.

use std::time::Duration;

use async_trait::async_trait;
use attest_blobs::{
    attachment_disposition, check_key, BlobError, BlobStore, Inspected, Inspector, PresignedPut,
    MAX_URL_LIFETIME,
};
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::Client;

#[derive(Clone)]
pub struct S3Blobs {
    client: Client,
    bucket: String,
}

impl S3Blobs {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

fn presigning(expires: Duration) -> Result<PresigningConfig, BlobError> {
    PresigningConfig::expires_in(expires.min(MAX_URL_LIFETIME))
        .map_err(|e| BlobError::Invalid(e.to_string()))
}

/// What S3 or the way to it failed with: an outage, whatever the cause (a request of ours S3
/// refuses is a bug or a misconfiguration, not the caller's fault). Requests are checked
/// ([`check_key`], sizes, lifetimes) before they are sent.
fn unavailable(e: impl std::error::Error + 'static) -> BlobError {
    BlobError::Unavailable(DisplayErrorContext(&e).to_string())
}

#[async_trait]
impl BlobStore for S3Blobs {
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        expires: Duration,
    ) -> Result<PresignedPut, BlobError> {
        // `If-None-Match: *` is a signed header: a PUT without it fails the signature, and with
        // it S3 refuses (412) to write where an object is already current. So a replayed URL
        // cannot replace a file that was checked.
        check_key(key)?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(
                i64::try_from(size)
                    .map_err(|_| BlobError::Invalid(format!("a size of {size} bytes")))?,
            )
            .if_none_match("*")
            .presigned(presigning(expires)?)
            .await
            .map_err(unavailable)?;
        Ok(PresignedPut {
            url: request.uri().to_owned(),
            headers: request
                .headers()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
                .collect(),
        })
    }

    async fn presign_get(
        &self,
        key: &str,
        file_name: &str,
        expires: Duration,
    ) -> Result<String, BlobError> {
        check_key(key)?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(attachment_disposition(file_name))
            .presigned(presigning(expires)?)
            .await
            .map_err(unavailable)?;
        Ok(request.uri().to_owned())
    }

    async fn inspect(&self, key: &str, sniff: usize) -> Result<Option<Inspected>, BlobError> {
        check_key(key)?;
        let object = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) => {
                let e = e.into_service_error();
                if e.is_no_such_key() {
                    return Ok(None);
                }
                return Err(unavailable(e));
            }
        };
        let mut body = object.body;
        let mut inspector = Inspector::new(sniff);
        while let Some(chunk) = body.try_next().await.map_err(unavailable)? {
            inspector.update(&chunk);
        }
        Ok(Some(inspector.finish()))
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        check_key(key)?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        Ok(())
    }
}
