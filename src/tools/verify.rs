//! Checking a downloaded publication as a partner would: every file the
//! manifest names is present with its size and SHA-256, and the manifest's
//! signature verifies with the regulator's public key.

use std::path::Path;

use crate::base::error::{Classify, ErrorKind};
use crate::base::sign;
use crate::stages::publish::files::{sha256_file, Manifest};

/// What was checked, or every problem found.
#[derive(Debug)]
pub struct Verified {
    pub manifest: Manifest,
    pub files: usize,
}

/// Every problem found in a publication, each naming the file.
#[derive(Debug, thiserror::Error)]
#[error("the publication does not verify: {}", problems.join("; "))]
pub struct VerifyFailed {
    pub problems: Vec<String>,
}

impl Classify for VerifyFailed {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Input
    }
}

/// Verifies the publication (or partner view) in `dir` with the public key file `key`.
pub fn verify(dir: &Path, key: &Path) -> Result<Verified, VerifyFailed> {
    let manifest = Manifest::read(dir).map_err(|e| VerifyFailed { problems: vec![e.to_string()] })?;
    let mut problems = Vec::new();
    for f in &manifest.files {
        let path = dir.join(&f.name);
        match sha256_file(&path) {
            Err(e) => problems.push(format!("{}: {e}", f.name)),
            Ok((sha, bytes)) => {
                if bytes != f.bytes {
                    problems.push(format!("{}: {bytes} bytes, the manifest says {}", f.name, f.bytes));
                }
                if sha != f.sha256 {
                    problems.push(format!("{}: SHA-256 {sha}, the manifest says {}", f.name, f.sha256));
                }
            }
        }
    }
    if !manifest.signed {
        problems.push("the manifest says the publication is unsigned".to_string());
    } else {
        let checked = sign::load_public_key(key).and_then(|pk| {
            let data = std::fs::read(dir.join("manifest.json"))
                .map_err(|source| sign::SignError::Io { path: "manifest.json".into(), source })?;
            let sig = std::fs::read_to_string(dir.join("manifest.json.minisig"))
                .map_err(|source| sign::SignError::Io { path: "manifest.json.minisig".into(), source })?;
            sign::verify(&pk, &data, &sig)
        });
        if let Err(e) = checked {
            problems.push(format!("manifest.json: {e}"));
        }
    }
    if problems.is_empty() {
        Ok(Verified { files: manifest.files.len(), manifest })
    } else {
        Err(VerifyFailed { problems })
    }
}
