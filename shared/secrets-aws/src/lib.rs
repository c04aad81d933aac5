//! Connector credentials in AWS Secrets Manager: the [`SecretStore`] adapter for the Lambda
//! functions.
//!
//! Each connector instance of a tenant is one secret, named
//! `{prefix}{tenant}/connectors/{connector}` (see [`SecretsManagerStore::secret_name`]), whose
//! `SecretString` is the JSON object of the credentials' fields. The prefix (`attest/` unless
//! `ATTEST_SECRET_PREFIX` says otherwise; the stack sets `attest/{stack name}/`) is what IAM
//! policies scope to: the functions that handle connector credentials get
//! `secretsmanager:CreateSecret`, `PutSecretValue`, `GetSecretValue`, `DeleteSecret` and
//! `RestoreSecret` on `secret:attest/{stack name}/*`, and nothing else does.
//!
//! Secret names may hold only ASCII letters, digits and `/_+=.@-` (at most 512 characters),
//! while tenant and connector ids are opaque strings here; they are encoded so that any pair
//! gives a valid name, and different pairs different names:
//! - letters, digits and `_ . @ + -` stay as they are (so a tenant `acme-corp` is the folder
//!   `attest/acme-corp/`, and a policy can scope to one tenant);
//! - every other byte of the id's UTF-8 (`/`, `=`, `:`, spaces, non-ASCII, ...) becomes `=XX`,
//!   its value in upper-case hex; the empty id is `=` alone;
//! - an id whose encoding would be longer than 200 characters is `=h` followed by the hex
//!   SHA-256 of the id;
//! - a name ending with a hyphen and six characters is avoided (Secrets Manager could take it
//!   for a partial ARN, the random suffix it adds to ARNs): such a hyphen becomes `=2D`.
//!
//! No `=` is followed by anything but two upper-case hex digits or `h` except in the empty
//! id's `=`, so the encoding is reversible (or, for hashed ids, distinct with overwhelming
//! probability). With a prefix of at most 98 characters every name fits in 512.
//!
//! Errors are [`SecretError::Unavailable`] with the operation, the secret's name and the
//! service's error code and message; never the secret's value.

use std::fmt::Write as _;
use std::time::Duration;

use async_trait::async_trait;
use attest_secrets::{Secret, SecretError, SecretRef, SecretStore};
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::Client;
use sha2::{Digest, Sha256};

/// The prefix of the secrets' names unless `ATTEST_SECRET_PREFIX` names another.
pub const DEFAULT_PREFIX: &str = "attest/";

/// The environment variable naming the prefix.
pub const PREFIX_VAR: &str = "ATTEST_SECRET_PREFIX";

/// An id's encoding longer than this is replaced by its hash.
const MAX_SEGMENT: usize = 200;

/// The description given to the secrets this store creates.
const DESCRIPTION: &str = "Attest connector credentials";

/// How many times [`SecretStore::put`] goes around create / put value while the secret is
/// being deleted (a forced deletion completes asynchronously), and the pause between rounds.
const PUT_ROUNDS: u32 = 6;
const FIRST_PAUSE: Duration = Duration::from_millis(250);
const MAX_PAUSE: Duration = Duration::from_secs(2);

/// Connector credentials in AWS Secrets Manager, one secret per connector instance of a tenant,
/// named under `prefix` (see the crate's documentation).
#[derive(Debug, Clone)]
pub struct SecretsManagerStore {
    client: Client,
    prefix: String,
}

impl SecretsManagerStore {
    /// The store of `client`'s account and region, naming its secrets under `prefix` (e.g.
    /// `attest/`; include the trailing `/`).
    pub fn new(client: Client, prefix: impl Into<String>) -> Self {
        Self {
            client,
            prefix: prefix.into(),
        }
    }

    /// The store in the account and region of the AWS configuration found in the environment
    /// (`aws_config::defaults(BehaviorVersion::latest())`), under the prefix
    /// `ATTEST_SECRET_PREFIX` (default `attest/`).
    pub async fn from_env() -> SecretsManagerStore {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        Self::from_config(&config)
    }

    /// The store for an AWS configuration already loaded (a Lambda function's), under the prefix
    /// `ATTEST_SECRET_PREFIX` (default `attest/`).
    pub fn from_config(config: &aws_config::SdkConfig) -> SecretsManagerStore {
        let prefix = std::env::var(PREFIX_VAR)
            .ok()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| DEFAULT_PREFIX.to_string());
        Self::new(Client::new(config), prefix)
    }

    /// The prefix of the secrets' names.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The name of the secret at `at`: `{prefix}{tenant}/connectors/{connector}`, the ids
    /// encoded as the crate's documentation says.
    pub fn secret_name(&self, at: &SecretRef) -> String {
        let mut name = format!(
            "{}{}/connectors/{}",
            self.prefix,
            encode_id(&at.tenant),
            encode_id(&at.connector)
        );
        // Not a hyphen followed by six characters at the end: the last 7 bytes are in
        // "connectors/{connector}", ASCII, so the index is a char boundary.
        let dash = name.len() - 7;
        if name.as_bytes()[dash] == b'-' {
            name.replace_range(dash..dash + 1, "=2D");
        }
        name
    }

    /// Creates the secret, or (it exists) puts the new value as its current version.
    async fn create_or_replace(&self, name: &str, value: &str) -> Result<(), SecretError> {
        let mut pause = FIRST_PAUSE;
        let mut round = 1;
        loop {
            let last = round == PUT_ROUNDS;
            let created = self
                .client
                .create_secret()
                .name(name)
                .description(DESCRIPTION)
                .secret_string(value)
                .send()
                .await;
            match created {
                Ok(_) => return Ok(()),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_exists_exception()) => {}
                Err(e) if marked_for_deletion(&e) => {
                    // Deleted with a recovery window (by hand): restore it, then replace its
                    // value. A forced deletion under way cannot be restored: wait for it.
                    if let Err(restore) = self.client.restore_secret().secret_id(name).send().await
                    {
                        if last {
                            return Err(unavailable("CreateSecret", name, &e));
                        }
                        tracing::warn!(
                            secret = name,
                            error = %error_detail(&restore),
                            "the secret is being deleted; waiting to create it again"
                        );
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(MAX_PAUSE);
                        round += 1;
                        continue;
                    }
                }
                Err(e) => return Err(unavailable("CreateSecret", name, &e)),
            }
            let put = self
                .client
                .put_secret_value()
                .secret_id(name)
                .secret_string(value)
                .send()
                .await;
            match put {
                Ok(_) => return Ok(()),
                // Deleted between the two calls: create it again.
                Err(e)
                    if !last
                        && (marked_for_deletion(&e)
                            || e.as_service_error()
                                .is_some_and(|s| s.is_resource_not_found_exception())) =>
                {
                    tracing::warn!(
                        secret = name,
                        error = %error_detail(&e),
                        "the secret was deleted meanwhile; creating it again"
                    );
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_PAUSE);
                    round += 1;
                }
                Err(e) => return Err(unavailable("PutSecretValue", name, &e)),
            }
        }
    }
}

/// An id as a part of a secret name (see the crate's documentation).
fn encode_id(id: &str) -> String {
    if id.is_empty() {
        return "=".to_string();
    }
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'@' | b'+' | b'-') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "={b:02X}");
        }
    }
    if out.len() > MAX_SEGMENT {
        return format!("=h{}", hex::encode(Sha256::digest(id.as_bytes())));
    }
    out
}

/// Whether the service refused the call because the secret is marked for deletion (an
/// `InvalidRequestException` saying so).
fn marked_for_deletion<E, R>(err: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    err.as_service_error().is_some_and(|s| {
        s.code() == Some("InvalidRequestException")
            && s.message().is_some_and(|m| {
                let m = m.to_ascii_lowercase();
                m.contains("deletion") || m.contains("deleted")
            })
    })
}

/// The service's error code and message, or what kept the call from getting an answer. Never
/// the response's body (a GetSecretValue response holds the secret).
fn error_detail<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err {
        SdkError::ServiceError(_) => format!(
            "{}: {}",
            err.code().unwrap_or("unknown error"),
            err.message().unwrap_or("no message")
        ),
        SdkError::ResponseError(_) => "the response could not be read".to_string(),
        _ => DisplayErrorContext(err).to_string(),
    }
}

fn unavailable<E, R>(operation: &str, name: &str, err: &SdkError<E, R>) -> SecretError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    SecretError::Unavailable(format!(
        "Secrets Manager {operation} of {name} failed: {}",
        error_detail(err)
    ))
}

#[async_trait]
impl SecretStore for SecretsManagerStore {
    async fn put(&self, at: &SecretRef, secret: &Secret) -> Result<(), SecretError> {
        let name = self.secret_name(at);
        let value = String::from_utf8(secret.to_json_bytes())
            .map_err(|_| SecretError::Unavailable("the secret's JSON is not UTF-8".into()))?;
        self.create_or_replace(&name, &value).await
    }

    async fn get(&self, at: &SecretRef) -> Result<Secret, SecretError> {
        let name = self.secret_name(at);
        let output = match self.client.get_secret_value().secret_id(&name).send().await {
            Ok(output) => output,
            Err(e)
                if marked_for_deletion(&e)
                    || e.as_service_error()
                        .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return Err(SecretError::NotFound)
            }
            Err(e) => return Err(unavailable("GetSecretValue", &name, &e)),
        };
        let value = output.secret_string().ok_or_else(|| {
            SecretError::Unavailable(format!(
                "the secret {name} has no SecretString (not one this store wrote)"
            ))
        })?;
        Secret::from_json_bytes(value.as_bytes()).map_err(|e| match e {
            SecretError::Unavailable(why) => {
                SecretError::Unavailable(format!("the secret {name}: {why}"))
            }
            other => other,
        })
    }

    async fn delete(&self, at: &SecretRef) -> Result<(), SecretError> {
        let name = self.secret_name(at);
        let deleted = self
            .client
            .delete_secret()
            .secret_id(&name)
            .force_delete_without_recovery(true)
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(unavailable("DeleteSecret", &name, &e)),
        }
    }
}

#[cfg(test)]
mod tests;
