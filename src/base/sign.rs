//! The regulator's minisign key pair: generating it, loading the secret
//! key for signing (path and passphrase from configuration or the
//! environment, never logged), signing a manifest, and verifying a
//! signature as a partner would.
//!
//! Signatures are minisign's prehashed (Ed25519 over BLAKE2b) format, which
//! the stock `minisign -V` command verifies.

use std::fs::{self, OpenOptions};
use std::io::{Cursor, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::base::error::{Classify, ErrorKind};
use minisign::{KeyPair, PublicKey, PublicKeyBox, SecretKey, SecretKeyBox, SignatureBox};

/// The environment variable naming the secret key file.
pub const KEY_ENV: &str = "CREDENCE_SIGNING_KEY";
/// The environment variable holding the secret key's passphrase.
pub const PASSWORD_ENV: &str = "CREDENCE_SIGNING_KEY_PASSWORD";

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path} already exists: refusing to overwrite a key")]
    Exists { path: String },
    #[error("{path}: not a minisign secret key, or the passphrase ({PASSWORD_ENV}) is wrong: {reason}")]
    BadSecretKey { path: String, reason: String },
    #[error("{path}: not a minisign public key: {reason}")]
    BadPublicKey { path: String, reason: String },
    #[error("signing failed: {0}")]
    Sign(String),
    #[error("the signature does not verify: {0}")]
    Verify(String),
}

impl Classify for SignError {
    fn kind(&self) -> ErrorKind {
        match self {
            SignError::Io { source, .. } => Classify::kind(source),
            SignError::Sign(_) => ErrorKind::Bug,
            _ => ErrorKind::Input,
        }
    }
}

/// Writes a new key pair: the secret key with mode 0600, encrypted with
/// `password` (unencrypted when `None`, for development warehouses only).
pub fn generate(secret: &Path, public: &Path, password: Option<String>) -> Result<(), SignError> {
    for p in [secret, public] {
        if p.exists() {
            return Err(SignError::Exists { path: p.display().to_string() });
        }
    }
    let kp = match password {
        Some(pw) => KeyPair::generate_encrypted_keypair(Some(pw)),
        None => KeyPair::generate_unencrypted_keypair(),
    }
    .map_err(|e| SignError::Sign(e.to_string()))?;
    let io = |p: &Path| {
        let path = p.display().to_string();
        move |source| SignError::Io { path, source }
    };
    if let Some(dir) = secret.parent() {
        fs::create_dir_all(dir).map_err(io(dir))?;
    }
    if let Some(dir) = public.parent() {
        fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let sk_box = kp.sk.to_box(Some("credence signing key")).map_err(|e| SignError::Sign(e.to_string()))?;
    let mut f = OpenOptions::new().write(true).create_new(true).mode(0o600).open(secret).map_err(io(secret))?;
    f.write_all(sk_box.into_string().as_bytes()).map_err(io(secret))?;
    f.sync_all().map_err(io(secret))?;
    let pk_box = kp.pk.to_box().map_err(|e| SignError::Sign(e.to_string()))?;
    fs::write(public, pk_box.into_string()).map_err(io(public))?;
    Ok(())
}

/// A loaded secret key, ready to sign.
pub struct Signer {
    sk: SecretKey,
    pk: Option<PublicKey>,
    /// Hex key id, as minisign prints it.
    pub key_id: String,
}

impl Signer {
    /// Loads the secret key at `path`, decrypting it with `password`.
    pub fn load(path: &Path, password: Option<String>) -> Result<Signer, SignError> {
        let shown = path.display().to_string();
        let text = fs::read_to_string(path).map_err(|source| SignError::Io { path: shown.clone(), source })?;
        let bad = |e: minisign::PError| SignError::BadSecretKey { path: shown.clone(), reason: e.to_string() };
        let sk_box = SecretKeyBox::from_string(&text).map_err(bad)?;
        let encrypted = sk_box.clone().into_unencrypted_secret_key().map(|k| k.is_encrypted()).unwrap_or(true);
        let sk = if encrypted {
            sk_box.into_secret_key(Some(password.unwrap_or_default())).map_err(bad)?
        } else {
            sk_box.into_unencrypted_secret_key().map_err(bad)?
        };
        let pk = PublicKey::from_secret_key(&sk).ok();
        let key_id = pk.as_ref().map(key_id).unwrap_or_default();
        Ok(Signer { sk, pk, key_id })
    }

    /// The key named by `--signing-key` or the environment; `None` when neither is set.
    pub fn from_config(path: Option<PathBuf>) -> Result<Option<Signer>, SignError> {
        let path = path.or_else(|| std::env::var_os(KEY_ENV).map(PathBuf::from));
        match path {
            None => Ok(None),
            Some(p) => Signer::load(&p, std::env::var(PASSWORD_ENV).ok()).map(Some),
        }
    }

    /// The public half of the key, to check what was signed with it.
    pub fn public_key(&self) -> Option<&PublicKey> {
        self.pk.as_ref()
    }

    /// The minisign signature file content for `data`.
    pub fn sign(&self, data: &[u8], trusted_comment: &str) -> Result<String, SignError> {
        let sig = minisign::sign(
            self.pk.as_ref(),
            &self.sk,
            Cursor::new(data),
            Some(trusted_comment),
            Some("signature from the credence signing key"),
        )
        .map_err(|e| SignError::Sign(e.to_string()))?;
        Ok(sig.into_string())
    }
}

fn key_id(pk: &PublicKey) -> String {
    pk.keynum().iter().rev().map(|b| format!("{b:02X}")).collect()
}

/// Reads a public key file.
pub fn load_public_key(path: &Path) -> Result<PublicKey, SignError> {
    let shown = path.display().to_string();
    let text = fs::read_to_string(path).map_err(|source| SignError::Io { path: shown.clone(), source })?;
    PublicKeyBox::from_string(&text)
        .and_then(|b| b.into_public_key())
        .map_err(|e| SignError::BadPublicKey { path: shown, reason: e.to_string() })
}

/// Verifies a minisign signature (file content `signature`) of `data`.
pub fn verify(pk: &PublicKey, data: &[u8], signature: &str) -> Result<(), SignError> {
    let sig = SignatureBox::from_string(signature).map_err(|e| SignError::Verify(e.to_string()))?;
    minisign::verify(pk, &sig, Cursor::new(data), true, false, false).map_err(|e| SignError::Verify(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_signs_and_verifies_and_detects_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let (sk, pk) = (dir.path().join("k.key"), dir.path().join("k.pub"));
        generate(&sk, &pk, Some("s3cret pass".into())).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(fs::metadata(&sk).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(matches!(generate(&sk, &pk, None), Err(SignError::Exists { .. })));

        let signer = Signer::load(&sk, Some("s3cret pass".into())).unwrap();
        let sig = signer.sign(b"manifest", "publication 2026-11-27").unwrap();
        let public = load_public_key(&pk).unwrap();
        verify(&public, b"manifest", &sig).unwrap();
        assert!(verify(&public, b"manifesT", &sig).is_err());
        assert!(matches!(Signer::load(&sk, Some("wrong".into())), Err(SignError::BadSecretKey { .. })));
    }
}
