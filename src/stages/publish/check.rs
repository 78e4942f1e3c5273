//! Checking a publication folder as it is on disk, before anything builds
//! on it or hands it out: the manifest names the list and id expected, its
//! signature verifies (when a key is given), every file it names is a
//! regular file with the size and SHA-256 it says, no other file is there,
//! and (for a whole publication) every partner view passes the same checks.

use std::path::Path;

use minisign::PublicKey;

use super::entries::PublicationId;
use super::files::{audience, sha256_file, Manifest};
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
    let manifest = match Manifest::read(dir) {
        Ok(m) => m,
        Err(e) => return Err(vec![format!("{}: {e}", shown("manifest.json"))]),
    };
    let mut problems = named_problems(&manifest, expect, &shown);
    problems.extend(signature_problems(dir, key, &manifest, &shown));
    problems.extend(manifest.files.iter().flat_map(|f| file_problems(dir, f, &shown)));
    let (strays, partners) = folder_problems(dir, &manifest, expect, prefix);
    problems.extend(strays);
    let id_here = expect.id.or_else(|| manifest.publication_id.parse().ok());
    if let Some(p) = partners {
        problems.extend(view_problems(&p, prefix, key, &manifest.list_id, id_here));
    }
    if problems.is_empty() {
        Ok(manifest)
    } else {
        Err(problems)
    }
}

/// Whether the manifest names the list, the publication and the partner expected.
fn named_problems(manifest: &Manifest, expect: Expect, shown: &dyn Fn(&str) -> String) -> Vec<String> {
    let mut problems = Vec::new();
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
            "{}: is {}, expected {}",
            shown("manifest.json"),
            audience(manifest.partner.as_deref()),
            audience(expect.partner)
        ));
    }
    problems
}

/// With `key`, the manifest must say it is signed and its signature verify.
fn signature_problems(
    dir: &Path,
    key: Option<&PublicKey>,
    manifest: &Manifest,
    shown: &dyn Fn(&str) -> String,
) -> Option<String> {
    match key {
        Some(pk) if manifest.signed => {
            let checked = std::fs::read(dir.join("manifest.json"))
                .map_err(|source| sign::SignError::Io { path: shown("manifest.json"), source })
                .and_then(|data| {
                    let sig = std::fs::read_to_string(dir.join("manifest.json.minisig"))
                        .map_err(|source| sign::SignError::Io { path: shown("manifest.json.minisig"), source })?;
                    sign::verify(pk, &data, &sig)
                });
            checked.err().map(|e| format!("{}: {e}", shown("manifest.json")))
        }
        Some(_) => Some(format!("{}: the manifest says the publication is unsigned", shown("manifest.json"))),
        None => None,
    }
}

/// How a file the manifest names differs from it: a name outside the
/// folder, not a regular file, or another size or SHA-256.
fn file_problems(dir: &Path, f: &super::files::FileInfo, shown: &dyn Fn(&str) -> String) -> Vec<String> {
    if !plain(&f.name) {
        return vec![format!("{}: names a file outside the folder: {:?}", shown("manifest.json"), f.name)];
    }
    let path = dir.join(&f.name);
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.file_type().is_symlink() || !m.is_file() => {
            return vec![format!("{}: not a regular file", shown(&f.name))]
        }
        Err(e) => return vec![format!("{}: {e}", shown(&f.name))],
        Ok(_) => {}
    }
    let (sha, bytes) = match sha256_file(&path) {
        Ok(found) => found,
        Err(e) => return vec![format!("{}: {e}", shown(&f.name))],
    };
    let mut problems = Vec::new();
    if bytes != f.bytes {
        problems.push(format!("{}: {bytes} bytes, the manifest says {}", shown(&f.name), f.bytes));
    }
    if sha != f.sha256 {
        problems.push(format!("{}: SHA-256 {sha}, the manifest says {}", shown(&f.name), f.sha256));
    }
    problems
}

/// Nothing is in the folder but the manifest, its signature (of a signed
/// manifest), the files it names and, for a whole publication, the
/// `partners` folder (returned). A folder that cannot be listed is a
/// problem, never a folder found clean.
fn folder_problems(
    dir: &Path,
    manifest: &Manifest,
    expect: Expect,
    prefix: &str,
) -> (Vec<String>, Option<std::path::PathBuf>) {
    let shown = |name: &str| format!("{prefix}{name}");
    let mut expected: Vec<&str> = manifest.files.iter().map(|f| f.name.as_str()).collect();
    expected.extend(["manifest.json", "manifest.json.minisig"]);
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return (vec![format!("{}: {e}", shown("."))], None),
    };
    let (mut problems, mut partners) = (Vec::new(), None);
    for e in entries {
        let e = match e {
            Ok(e) => e,
            Err(e) => {
                problems.push(format!("{}: {e}", shown(".")));
                continue;
            }
        };
        let name = e.file_name().to_string_lossy().into_owned();
        if name == "partners" && expect.partner.is_none() && e.path().is_dir() {
            partners = Some(e.path());
        } else if !expected.contains(&name.as_str()) {
            problems.push(format!("{}: a file the manifest does not name", shown(&name)));
        } else if name == "manifest.json.minisig" && !manifest.signed {
            problems.push(format!("{}: a signature of an unsigned manifest", shown(&name)));
        }
    }
    (problems, partners)
}

/// Every partner view under `partners`, in name order, checked as a view
/// of `list` and publication `id`.
fn view_problems(
    partners: &Path,
    prefix: &str,
    key: Option<&PublicKey>,
    list: &str,
    id: Option<PublicationId>,
) -> Vec<String> {
    let listed: std::io::Result<Vec<std::path::PathBuf>> =
        std::fs::read_dir(partners).and_then(|r| r.map(|e| e.map(|e| e.path())).collect());
    let mut views = match listed {
        Ok(views) => views,
        Err(e) => return vec![format!("{prefix}partners: {e}")],
    };
    views.sort();
    let mut problems = Vec::new();
    for v in views {
        let partner = v.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if !v.is_dir() || !plain(&partner) {
            problems.push(format!("{prefix}partners/{partner}: not a partner view"));
            continue;
        }
        let expect = Expect { list: Some(list), id, partner: Some(&partner) };
        if let Err(view_problems) = check_under(&v, &format!("{prefix}partners/{partner}/"), key, expect) {
            problems.extend(view_problems);
        }
    }
    problems
}
