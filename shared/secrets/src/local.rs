//! Secrets sealed in files of the data dir, for `attest serve`.
//!
//! Layout under the directory given to [`LocalSecrets::open`]:
//! - `secrets.key`: the 32-byte key, raw, created on first open from the OS's random source,
//!   mode 0600. It is reused as it is; one of another size is an error, never replaced (that
//!   would lose every secret sealed with it).
//! - `secrets/{hex(sha256(tenant \0 connector))}.sealed`: one secret, sealed with
//!   XChaCha20-Poly1305: a format byte (1), a fresh random 24-byte nonce, then the ciphertext
//!   and tag of the secret's JSON. The associated data is `tenant \0 connector`, so a file
//!   copied or renamed to another connector's name does not open. Written to a temporary file
//!   (mode 0600) and renamed over the old one, so a reader sees the old or the new secret,
//!   never a mix.
//!
//! The ids never appear in paths raw: any tenant or connector id is fine.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::rngs::OsRng;
use rand::TryRngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::{Plain, Secret, SecretError, SecretRef, SecretStore};

const KEY_FILE: &str = "secrets.key";
const SECRETS_DIR: &str = "secrets";
const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// The first byte of a sealed file: the format (XChaCha20-Poly1305, nonce, ciphertext+tag).
const FORMAT_V1: u8 = 1;

/// The local [`SecretStore`]: each secret sealed in its own file under the data dir (see the
/// module's documentation for the layout). File operations are small and synchronous.
pub struct LocalSecrets {
    dir: PathBuf,
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for LocalSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalSecrets")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn unavailable(what: impl std::fmt::Display) -> SecretError {
    SecretError::Unavailable(what.to_string())
}

fn random_bytes(buf: &mut [u8]) -> Result<(), SecretError> {
    OsRng
        .try_fill_bytes(buf)
        .map_err(|e| unavailable(format!("the OS random source failed: {e}")))
}

/// A file created new (never an existing one followed), mode 0600 on unix.
fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// A name for a temporary file beside the real one, no other writer picks.
fn temp_path(dir: &Path, name: &str) -> Result<PathBuf, SecretError> {
    let mut tag = [0u8; 8];
    random_bytes(&mut tag)?;
    Ok(dir.join(format!(".{name}.{}.tmp", hex::encode(tag))))
}

/// Makes the directory `path` (and its parents) if missing; the ones made are 0700 on unix.
fn create_private_dir(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}

/// Flushes a directory's entries (a rename or link in it) to disk; best effort.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

impl LocalSecrets {
    /// The store in `dir` (the data dir): creates `dir`, its `secrets/` folder and the key on
    /// first use, reuses the key after.
    pub fn open(dir: &Path) -> Result<Self, SecretError> {
        let sealed = dir.join(SECRETS_DIR);
        create_private_dir(&sealed)
            .map_err(|e| unavailable(format!("cannot create {}: {e}", sealed.display())))?;
        let key = load_or_create_key(dir)?;
        let cipher = XChaCha20Poly1305::new_from_slice(&key[..])
            .map_err(|_| unavailable("the secrets key has the wrong length"))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            cipher,
        })
    }

    /// The sealed file of `at`: named by a hash of both ids, never by the ids themselves.
    fn path_of(&self, at: &SecretRef) -> PathBuf {
        let name = hex::encode(Sha256::digest(associated_data(at)));
        self.dir.join(SECRETS_DIR).join(format!("{name}.sealed"))
    }

    fn seal(&self, at: &SecretRef, secret: &Secret) -> Result<Vec<u8>, SecretError> {
        let plain: Plain = Zeroizing::new(secret.to_json_bytes());
        let mut nonce = [0u8; NONCE_LEN];
        random_bytes(&mut nonce)?;
        let aad = associated_data(at);
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: &aad,
                },
            )
            .map_err(|_| unavailable("sealing the secret failed"))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    fn open_sealed(&self, at: &SecretRef, bytes: &[u8]) -> Result<Secret, SecretError> {
        if bytes.len() < 1 + NONCE_LEN + TAG_LEN || bytes[0] != FORMAT_V1 {
            return Err(unavailable(
                "the sealed secret file is damaged (unknown format or too short)",
            ));
        }
        let (nonce, sealed) = bytes[1..].split_at(NONCE_LEN);
        let aad = associated_data(at);
        let plain: Plain = Zeroizing::new(
            self.cipher
                .decrypt(
                    XNonce::from_slice(nonce),
                    Payload {
                        msg: sealed,
                        aad: &aad,
                    },
                )
                .map_err(|_| {
                    unavailable(
                        "the sealed secret does not open: altered, sealed with another key, \
                         or another connector's file",
                    )
                })?,
        );
        Secret::from_json_bytes(&plain)
    }

    fn write_atomically(&self, path: &Path, bytes: &[u8]) -> Result<(), SecretError> {
        let folder = self.dir.join(SECRETS_DIR);
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("secret");
        let temp = temp_path(&folder, name)?;
        let written = (|| {
            let mut file = create_private(&temp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            fs::rename(&temp, path)
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(unavailable(format!("cannot write {}: {e}", path.display())));
        }
        sync_dir(&folder);
        Ok(())
    }
}

/// `tenant \0 connector`: what each sealed file is bound to, and (hashed) its name.
fn associated_data(at: &SecretRef) -> Vec<u8> {
    let mut aad = Vec::with_capacity(at.tenant.len() + 1 + at.connector.len());
    aad.extend_from_slice(at.tenant.as_bytes());
    aad.push(0);
    aad.extend_from_slice(at.connector.as_bytes());
    aad
}

/// The key in `{dir}/secrets.key`, made if there is none. A new key is written to a temporary
/// file and hard-linked into place, which fails if another process made one meanwhile: then
/// that one is used. Never replaces an existing key.
fn load_or_create_key(dir: &Path) -> Result<Zeroizing<[u8; KEY_LEN]>, SecretError> {
    let path = dir.join(KEY_FILE);
    match read_key(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        other => return key_or_error(&path, other),
    }
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    random_bytes(&mut key[..])?;
    let temp = temp_path(dir, KEY_FILE)?;
    let created = (|| {
        let mut file = create_private(&temp)?;
        file.write_all(&key[..])?;
        file.sync_all()?;
        fs::hard_link(&temp, &path)
    })();
    let _ = fs::remove_file(&temp);
    match created {
        Ok(()) => {
            sync_dir(dir);
            Ok(key)
        }
        // Another process made the key first: use theirs.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => key_or_error(&path, read_key(&path)),
        Err(e) => Err(unavailable(format!(
            "cannot create the secrets key {}: {e}",
            path.display()
        ))),
    }
}

/// The key file's bytes, whatever their number (checked by [`key_or_error`]).
fn read_key(path: &Path) -> io::Result<Zeroizing<Vec<u8>>> {
    let file = File::open(path)?;
    let mut bytes = Zeroizing::new(Vec::with_capacity(KEY_LEN + 1));
    // One byte more than a key, to tell a longer file from a key.
    file.take(KEY_LEN as u64 + 1).read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn key_or_error(
    path: &Path,
    read: io::Result<Zeroizing<Vec<u8>>>,
) -> Result<Zeroizing<[u8; KEY_LEN]>, SecretError> {
    let bytes = read.map_err(|e| {
        unavailable(format!(
            "cannot read the secrets key {}: {e}",
            path.display()
        ))
    })?;
    if bytes.len() != KEY_LEN {
        return Err(unavailable(format!(
            "the secrets key {} is not {KEY_LEN} bytes long; it is left as it is \
             (replacing it would lose every stored secret)",
            path.display()
        )));
    }
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    key.copy_from_slice(&bytes);
    Ok(key)
}

#[async_trait]
impl SecretStore for LocalSecrets {
    async fn put(&self, at: &SecretRef, secret: &Secret) -> Result<(), SecretError> {
        let sealed = self.seal(at, secret)?;
        self.write_atomically(&self.path_of(at), &sealed)
    }

    async fn get(&self, at: &SecretRef) -> Result<Secret, SecretError> {
        let path = self.path_of(at);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(SecretError::NotFound),
            Err(e) => return Err(unavailable(format!("cannot read {}: {e}", path.display()))),
        };
        self.open_sealed(at, &bytes)
    }

    async fn delete(&self, at: &SecretRef) -> Result<(), SecretError> {
        let path = self.path_of(at);
        match fs::remove_file(&path) {
            Ok(()) => {
                sync_dir(&self.dir.join(SECRETS_DIR));
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(unavailable(format!(
                "cannot delete {}: {e}",
                path.display()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the system's temporary one, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let path = std::env::temp_dir().join(format!(
                "attest-secrets-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = fs::remove_dir_all(&path);
            fs::create_dir_all(&path).unwrap();
            Self(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn zoom() -> Secret {
        Secret::from_iter([
            ("client_id", "zoom-client-id"),
            ("client_secret", "PLAINTEXT-client-secret-4711"),
        ])
    }

    fn at(tenant: &str, connector: &str) -> SecretRef {
        SecretRef::new(tenant, connector)
    }

    fn sealed_files(dir: &Path) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = fs::read_dir(dir.join(SECRETS_DIR))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files
    }

    #[tokio::test]
    async fn round_trip() {
        let dir = TempDir::new();
        let store = LocalSecrets::open(&dir.0).unwrap();
        store.put(&at("acme", "zoom"), &zoom()).await.unwrap();
        assert_eq!(store.get(&at("acme", "zoom")).await.unwrap(), zoom());
    }

    #[tokio::test]
    async fn put_replaces_the_whole_secret() {
        let dir = TempDir::new();
        let store = LocalSecrets::open(&dir.0).unwrap();
        let place = at("acme", "zoom");
        store.put(&place, &zoom()).await.unwrap();
        let other = Secret::from_iter([("token", "t2")]);
        store.put(&place, &other).await.unwrap();
        assert_eq!(store.get(&place).await.unwrap(), other);
        // One file, no temporary left behind.
        assert_eq!(sealed_files(&dir.0).len(), 1);
    }

    #[tokio::test]
    async fn delete_removes_and_is_idempotent() {
        let dir = TempDir::new();
        let store = LocalSecrets::open(&dir.0).unwrap();
        let place = at("acme", "zoom");
        store.put(&place, &zoom()).await.unwrap();
        store.delete(&place).await.unwrap();
        assert_eq!(store.get(&place).await, Err(SecretError::NotFound));
        store.delete(&place).await.unwrap();
        assert!(sealed_files(&dir.0).is_empty());
    }

    #[tokio::test]
    async fn missing_is_not_found() {
        let dir = TempDir::new();
        let store = LocalSecrets::open(&dir.0).unwrap();
        store.put(&at("acme", "zoom"), &zoom()).await.unwrap();
        assert_eq!(
            store.get(&at("acme", "salesforce")).await,
            Err(SecretError::NotFound)
        );
        assert_eq!(
            store.get(&at("other", "zoom")).await,
            Err(SecretError::NotFound)
        );
    }

    #[tokio::test]
    async fn ids_are_opaque_and_distinct() {
        let dir = TempDir::new();
        let store = LocalSecrets::open(&dir.0).unwrap();
        // Would collide if the ids were joined without the separator, or escape the folder
        // if used raw in a path.
        let places = [
            at("a", "bc"),
            at("ab", "c"),
            at("../..", "../../etc/passwd"),
            at("", ""),
            at("tenant/ü", "zoom\n"),
        ];
        for (i, place) in places.iter().enumerate() {
            let secret = Secret::from_iter([("n", i.to_string())]);
            store.put(place, &secret).await.unwrap();
        }
        for (i, place) in places.iter().enumerate() {
            let secret = store.get(place).await.unwrap();
            assert_eq!(secret.get("n"), Some(i.to_string().as_str()));
        }
        assert_eq!(sealed_files(&dir.0).len(), places.len());
        for file in sealed_files(&dir.0) {
            let name = file.file_name().unwrap().to_str().unwrap();
            assert_eq!(name.len(), 64 + ".sealed".len(), "{name}");
        }
    }

    #[tokio::test]
    async fn a_tampered_file_is_unavailable() {
        let dir = TempDir::new();
        let store = LocalSecrets::open(&dir.0).unwrap();
        let place = at("acme", "zoom");
        store.put(&place, &zoom()).await.unwrap();
        let file = store.path_of(&place);
        let original = fs::read(&file).unwrap();
        // A flipped bit anywhere: format byte, nonce, ciphertext, tag.
        for index in [0, 1, 1 + NONCE_LEN, original.len() - 1] {
            let mut bytes = original.clone();
            bytes[index] ^= 0x01;
            fs::write(&file, &bytes).unwrap();
            let err = store.get(&place).await.unwrap_err();
            assert!(
                matches!(err, SecretError::Unavailable(_)),
                "{index}: {err:?}"
            );
        }
        // Truncated, and empty.
        fs::write(&file, &original[..original.len() - 1]).unwrap();
        assert!(matches!(
            store.get(&place).await,
            Err(SecretError::Unavailable(_))
        ));
        fs::write(&file, b"").unwrap();
        assert!(matches!(
            store.get(&place).await,
            Err(SecretError::Unavailable(_))
        ));
    }

    #[tokio::test]
    async fn a_file_copied_to_another_connector_does_not_open() {
        let dir = TempDir::new();
        let store = LocalSecrets::open(&dir.0).unwrap();
        let zoom_place = at("acme", "zoom");
        store.put(&zoom_place, &zoom()).await.unwrap();
        for other in [at("acme", "salesforce"), at("evil", "zoom")] {
            fs::copy(store.path_of(&zoom_place), store.path_of(&other)).unwrap();
            let err = store.get(&other).await.unwrap_err();
            let SecretError::Unavailable(message) = &err else {
                panic!("{err:?}")
            };
            assert!(!message.contains("PLAINTEXT"), "{message}");
        }
        // The original still opens.
        assert_eq!(store.get(&zoom_place).await.unwrap(), zoom());
    }

    #[tokio::test]
    async fn reopening_with_the_same_key_works() {
        let dir = TempDir::new();
        let key_before = {
            let store = LocalSecrets::open(&dir.0).unwrap();
            store.put(&at("acme", "zoom"), &zoom()).await.unwrap();
            fs::read(dir.0.join(KEY_FILE)).unwrap()
        };
        let store = LocalSecrets::open(&dir.0).unwrap();
        assert_eq!(fs::read(dir.0.join(KEY_FILE)).unwrap(), key_before);
        assert_eq!(store.get(&at("acme", "zoom")).await.unwrap(), zoom());
    }

    #[tokio::test]
    async fn another_key_does_not_open_the_files() {
        let dir = TempDir::new();
        let store = LocalSecrets::open(&dir.0).unwrap();
        store.put(&at("acme", "zoom"), &zoom()).await.unwrap();
        drop(store);
        fs::remove_file(dir.0.join(KEY_FILE)).unwrap();
        let store = LocalSecrets::open(&dir.0).unwrap();
        assert!(matches!(
            store.get(&at("acme", "zoom")).await,
            Err(SecretError::Unavailable(_))
        ));
    }

    #[test]
    fn a_key_file_of_the_wrong_size_is_an_error_and_kept() {
        for len in [0usize, 16, 31, 33, 64] {
            let dir = TempDir::new();
            let bad = vec![7u8; len];
            fs::write(dir.0.join(KEY_FILE), &bad).unwrap();
            let err = LocalSecrets::open(&dir.0).unwrap_err();
            assert!(matches!(err, SecretError::Unavailable(_)), "{len}: {err:?}");
            assert_eq!(fs::read(dir.0.join(KEY_FILE)).unwrap(), bad, "{len}");
        }
    }

    #[test]
    fn the_key_is_random_and_32_bytes() {
        let (a, b) = (TempDir::new(), TempDir::new());
        LocalSecrets::open(&a.0).unwrap();
        LocalSecrets::open(&b.0).unwrap();
        let key_a = fs::read(a.0.join(KEY_FILE)).unwrap();
        let key_b = fs::read(b.0.join(KEY_FILE)).unwrap();
        assert_eq!(key_a.len(), KEY_LEN);
        assert_ne!(key_a, key_b);
        // No temporary file left beside it.
        let names: Vec<_> = fs::read_dir(&a.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        let mut names = names;
        names.sort();
        assert_eq!(names, [SECRETS_DIR, KEY_FILE]);
    }

    #[test]
    fn open_creates_a_missing_data_dir() {
        let dir = TempDir::new();
        let nested = dir.0.join("a/b");
        LocalSecrets::open(&nested).unwrap();
        assert!(nested.join(KEY_FILE).is_file());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_key_and_sealed_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = TempDir::new();
        let store = LocalSecrets::open(&dir.0).unwrap();
        store.put(&at("acme", "zoom"), &zoom()).await.unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.0.join(KEY_FILE)), 0o600);
        assert_eq!(mode(&dir.0.join(SECRETS_DIR)), 0o700);
        let files = sealed_files(&dir.0);
        assert_eq!(files.len(), 1);
        assert_eq!(mode(&files[0]), 0o600);
        // Still private after a replace.
        store.put(&at("acme", "zoom"), &zoom()).await.unwrap();
        assert_eq!(mode(&sealed_files(&dir.0)[0]), 0o600);
    }

    #[tokio::test]
    async fn the_sealed_file_holds_no_plaintext() {
        let dir = TempDir::new();
        let store = LocalSecrets::open(&dir.0).unwrap();
        store
            .put(&at("acme-tenant", "zoom-connector"), &zoom())
            .await
            .unwrap();
        let bytes = fs::read(&sealed_files(&dir.0)[0]).unwrap();
        let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
        for needle in [
            &b"PLAINTEXT-client-secret-4711"[..],
            b"PLAINTEXT",
            b"client_secret",
            b"zoom-client-id",
            b"acme-tenant",
            b"zoom-connector",
        ] {
            assert!(!contains(needle), "{}", String::from_utf8_lossy(needle));
        }
        // Sealing twice gives different files (fresh nonce).
        let place = at("acme-tenant", "zoom-connector");
        store.put(&place, &zoom()).await.unwrap();
        let again = fs::read(store.path_of(&place)).unwrap();
        assert_ne!(bytes, again);
    }

    #[test]
    fn debug_shows_no_key() {
        let dir = TempDir::new();
        let store = LocalSecrets::open(&dir.0).unwrap();
        let printed = format!("{store:?}");
        assert!(printed.starts_with("LocalSecrets"), "{printed}");
        assert!(!printed.contains("cipher"), "{printed}");
    }
}
