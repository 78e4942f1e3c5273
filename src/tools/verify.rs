//! Checking a downloaded publication as a partner would: every file the
//! manifest names is present with its size and SHA-256, and the manifest's
//! signature verifies with the regulator's public key.

use std::path::Path;

use crate::base::error::{Classify, ErrorKind};
use crate::base::sign;
use crate::stages::publish::check::{check, Expect};
use crate::stages::publish::entries::PublicationId;
use crate::stages::publish::files::Manifest;

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

/// Verifies the publication (or partner view) in `dir` with the public key
/// file `key`: the signature, every file's size and hash, no file the
/// manifest does not name, every partner view of a whole publication, and
/// (when given) that the manifest names `list` and `id`.
pub fn verify(dir: &Path, key: &Path, list: Option<&str>, id: Option<PublicationId>) -> Result<Verified, VerifyFailed> {
    let fail = |problems| VerifyFailed { problems };
    let pk = sign::load_public_key(key).map_err(|e| fail(vec![e.to_string()]))?;
    let head = Manifest::read(dir).map_err(|e| fail(vec![e.to_string()]))?;
    let expect = Expect { list, id, partner: head.partner.as_deref() };
    let manifest = check(dir, Some(&pk), expect).map_err(|m| fail(m.0))?;
    if !manifest.signed {
        return Err(fail(vec!["the manifest says the publication is unsigned".to_string()]));
    }
    Ok(Verified { files: manifest.files.len(), manifest })
}
