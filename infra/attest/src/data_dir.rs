//! The local data directory: the database file and the token signing secret.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use rand::RngCore;

pub const DEFAULT_DATA_DIR: &str = ".attest";
const SECRET_FILE: &str = "token-secret";
const DATABASE_FILE: &str = "attest.redb";

#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("cannot use data directory {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the token secret in {0} is empty or unreadable; delete it to have a new one made")]
    BadSecret(PathBuf),
}

/// A data directory, created on first use.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn open(path: &Path) -> Result<Self, DataDirError> {
        std::fs::create_dir_all(path).map_err(|source| DataDirError::Io {
            path: path.into(),
            source,
        })?;
        let root = path.canonicalize().map_err(|source| DataDirError::Io {
            path: path.into(),
            source,
        })?;
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn database(&self) -> PathBuf {
        self.root.join(DATABASE_FILE)
    }

    /// The HS256 secret that signs and verifies local tokens, generated on first use and
    /// readable by the owner only. `ATTEST_TOKEN_SECRET` overrides it.
    pub fn token_secret(&self) -> Result<Vec<u8>, DataDirError> {
        if let Ok(secret) = std::env::var("ATTEST_TOKEN_SECRET") {
            if !secret.is_empty() {
                return Ok(secret.into_bytes());
            }
        }
        let path = self.root.join(SECRET_FILE);
        let io = |source| DataDirError::Io {
            path: path.clone(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .ok()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| DataDirError::BadSecret(path.clone())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut secret = vec![0u8; 32];
                rand::rng().fill_bytes(&mut secret);
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                match options.open(&path) {
                    Ok(mut file) => {
                        let text = base64::engine::general_purpose::STANDARD.encode(&secret);
                        file.write_all(text.as_bytes()).map_err(io)?;
                        Ok(secret)
                    }
                    // Someone else made it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => self.token_secret(),
                    Err(e) => Err(io(e)),
                }
            }
            Err(e) => Err(io(e)),
        }
    }
}
