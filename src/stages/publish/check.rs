//! Checking a publication folder as it is on disk, before anything builds
//! on it or hands it out: the manifest names the list and id expected, its
//! signature verifies (when a key is given), every file it names is a
//! regular file with the size and SHA-256 it says, no other file is there,
//! and (for a whole publication) every partner view passes the same checks.

use std::path::Path;

use minisign::PublicKey;

use super::entries::PublicationId;
use super::files::{sha256_file, Manifest};
use crate::base::sign;

/// What a folder must be.
#[derive(Clone, Copy, Debug)]
pub struct Expect<'a> {
    pub list: Option<&'a str>,
    pub id: Option<PublicationId>,
    /// `Some(p)`: a view of partner `p`; `None`: the whole publication.
    pub partner: Option<&'a str>,
}

/// A plain file name: no folder, no dot first.
fn plain(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Every way a publication on disk differs from its manifest.
#[derive(Debug, PartialEq, Eq)]
pub struct Mismatches(pub Vec<String>);

/// Checks the publication (or view) in `dir`. With `key`, a signed
/// manifest must verify and an unsigned one is a problem; without, only
/// the hashes are checked. Returns the manifest, or every problem found.
pub fn check(dir: &Path, key: Option<&PublicKey>, expect: Expect) -> Result<Manifest, Mismatches> {
    check_under(dir, "", key, expect).map_err(Mismatches)
}

/// [`check`], naming files by `prefix` + name (`partners/<p>/` for a view).
fn check_under(dir: &Path, prefix: &str, key: Option<&PublicKey>, expect: Expect) -> Result<Manifest, Vec<String>> {
    let shown = |name: &str| format!("{prefix}{name}");
    let mut problems = Vec::new();
    let manifest = match Manifest::read(dir) {
        Ok(m) => m,
        Err(e) => return Err(vec![format!("{}: {e}", shown("manifest.json"))]),
    };
    if let Some(list) = expect.list {
        if manifest.list_id != list {
            problems.push(format!("{}: names list {}, expected {list}", shown("manifest.json"), manifest.list_id));
        }
    }
    if let Some(id) = expect.id {
        if manifest.publication_id != id.to_string() {
            problems.push(format!(
                "{}: names publication {}, expected {id}",
                shown("manifest.json"),
                manifest.publication_id
            ));
        }
    }
    if manifest.partner.as_deref() != expect.partner {
        problems.push(format!(
            "{}: is the view of {:?}, expected {:?}",
            shown("manifest.json"),
            manifest.partner,
            expect.partner
        ));
    }
    match key {
        Some(pk) if manifest.signed => {
            let checked = std::fs::read(dir.join("manifest.json"))
                .map_err(|source| sign::SignError::Io { path: shown("manifest.json"), source })
                .and_then(|data| {
                    let sig = std::fs::read_to_string(dir.join("manifest.json.minisig"))
                        .map_err(|source| sign::SignError::Io { path: shown("manifest.json.minisig"), source })?;
                    sign::verify(pk, &data, &sig)
                });
            if let Err(e) = checked {
                problems.push(format!("{}: {e}", shown("manifest.json")));
            }
        }
        Some(_) => problems.push(format!("{}: the manifest says the publication is unsigned", shown("manifest.json"))),
        None => {}
    }
    for f in &manifest.files {
        if !plain(&f.name) {
            problems.push(format!("{}: names a file outside the folder: {:?}", shown("manifest.json"), f.name));
            continue;
        }
        let path = dir.join(&f.name);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() || !m.is_file() => {
                problems.push(format!("{}: not a regular file", shown(&f.name)));
                continue;
            }
            Err(e) => {
                problems.push(format!("{}: {e}", shown(&f.name)));
                continue;
            }
            Ok(_) => {}
        }
        match sha256_file(&path) {
            Err(e) => problems.push(format!("{}: {e}", shown(&f.name))),
            Ok((sha, bytes)) => {
                if bytes != f.bytes {
                    problems.push(format!("{}: {bytes} bytes, the manifest says {}", shown(&f.name), f.bytes));
                }
                if sha != f.sha256 {
                    problems.push(format!("{}: SHA-256 {sha}, the manifest says {}", shown(&f.name), f.sha256));
                }
            }
        }
    }
    // Nothing else is in the folder.
    let mut expected: Vec<&str> = manifest.files.iter().map(|f| f.name.as_str()).collect();
    expected.extend(["manifest.json", "manifest.json.minisig"]);
    let entries = std::fs::read_dir(dir).map_err(|e| vec![format!("{prefix}: {e}")])?;
    let mut partners = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name == "partners" && expect.partner.is_none() && e.path().is_dir() {
            partners.push(e.path());
        } else if !expected.contains(&name.as_str()) {
            problems.push(format!("{}: a file the manifest does not name", shown(&name)));
        } else if name == "manifest.json.minisig" && !manifest.signed {
            problems.push(format!("{}: a signature of an unsigned manifest", shown(&name)));
        }
    }
    let id_here = expect.id.or_else(|| manifest.publication_id.parse().ok());
    for p in partners {
        let mut views: Vec<_> =
            std::fs::read_dir(&p).map(|r| r.flatten().map(|e| e.path()).collect()).unwrap_or_default();
        views.sort();
        for v in views {
            let partner = v.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if !v.is_dir() || !plain(&partner) {
                problems.push(format!("{prefix}partners/{partner}: not a partner view"));
                continue;
            }
            let view_expect = Expect { list: Some(&manifest.list_id), id: id_here, partner: Some(&partner) };
            let view_prefix = format!("{prefix}partners/{partner}/");
            if let Err(view_problems) = check_under(&v, &view_prefix, key, view_expect) {
                problems.extend(view_problems);
            }
        }
    }
    if problems.is_empty() {
        Ok(manifest)
    } else {
        Err(problems)
    }
}
