//! Signed publications of each list (publication.md, "Publication" and
//! "Atomicity").
//!
//! ```text
//!  .staging/<unique>/                       entries.{parquet,csv} changes.{parquet,csv}
//!      │                                    partners/<p>/{entries,changes}.*, manifest.json(.minisig)
//!      │                                    manifest.json  manifest.json.minisig
//!      │ 1. every file and folder flushed (fsync)
//!      │ 2. rename(2) → published/<L>/<id>/, flush published/<L>/
//!      ▼       a reader sees no folder or the whole folder
//!  published/<L>/LATEST
//!        3. .LATEST.tmp written, flushed, renamed over LATEST, folder flushed
//! ```
//!
//! A crash before step 3 leaves `LATEST` naming the previous publication;
//! the folder renamed in step 2 was never named by `LATEST` and is removed
//! by the next publication of the list (readers only follow `LATEST` and
//! the ids up to it). Relied on: rename within a filesystem is atomic, and
//! the staging area is on the warehouse's filesystem.

pub mod check;
pub mod entries;
pub mod files;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use entries::{Change, Entry, PublicationId, RemovalFacts};
use files::{FileError, FileInfo, InputInfo, Manifest, PolicyInfo};

use minisign::PublicKey;

use crate::base::error::{Classify, ErrorKind};
use crate::base::ids::AsOf;
use crate::base::marts::listings::{ListingRow, ReviewStatus};
use crate::base::marts::registry::RegistryFacts;
use crate::base::sign::{SignError, Signer};
use crate::base::warehouse::{sync_dir, write_file_atomically, Warehouse};
use crate::config::partners::{Format, Partner};
use crate::config::policy::{ListSpec, Policy};

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("published/{list}/LATEST names '{found}', which is not a publication of the list")]
    BadLatest { list: String, found: String },
    #[error("the previous publication {id} of {list} does not match its manifest; nothing is built on it:\n  - {}", problems.join("\n  - "))]
    Tampered { list: String, id: PublicationId, problems: Vec<String> },
    #[error("the previous publication {id} of {list} is signed: give the signing key (its public half checks the signature) before building on it")]
    CannotVerify { list: String, id: PublicationId },
}

impl Classify for PublishError {
    fn kind(&self) -> ErrorKind {
        match self {
            PublishError::File(e) => e.kind(),
            PublishError::Sign(e) => e.kind(),
            PublishError::Io { source, .. } => Classify::kind(source),
            PublishError::BadLatest { .. } | PublishError::Tampered { .. } | PublishError::CannotVerify { .. } => {
                ErrorKind::Input
            }
        }
    }
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> PublishError {
    let what = what.into();
    move |source| PublishError::Io { what, source }
}

/// The id `published/<L>/LATEST` names, if any.
pub fn latest(wh: &Warehouse, list: &str) -> Result<Option<PublicationId>, PublishError> {
    let path = wh.published(list).join("LATEST");
    match std::fs::read_to_string(&path) {
        Ok(text) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| PublishError::BadLatest { list: list.into(), found: text.trim().into() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(format!("reading {}", wh.relative(&path)))(e)),
    }
}

/// The folder of a publication.
pub fn folder(wh: &Warehouse, list: &str, id: PublicationId) -> PathBuf {
    wh.published(list).join(id.to_string())
}

/// The publications of a list up to `LATEST`, oldest first.
pub fn history(wh: &Warehouse, list: &str) -> Result<Vec<PublicationId>, PublishError> {
    let Some(last) = latest(wh, list)? else { return Ok(vec![]) };
    let mut ids: Vec<PublicationId> = std::fs::read_dir(wh.published(list))
        .map_err(io(format!("listing published/{list}")))?
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
        .filter(|id| *id <= last)
        .collect();
    ids.sort();
    Ok(ids)
}

/// The previous publication of a list: its id, manifest and entries.
pub struct Previous {
    pub id: PublicationId,
    pub manifest: Manifest,
    pub entries: Vec<Entry>,
}

/// The publication `LATEST` names, checked before anything builds on it:
/// its files against its manifest, no file added, every partner view, and
/// the signature with `key`. A signed publication cannot be checked
/// without the key: that refuses too.
pub fn previous(wh: &Warehouse, list: &str, key: Option<&PublicKey>) -> Result<Option<Previous>, PublishError> {
    let Some(id) = latest(wh, list)? else { return Ok(None) };
    let dir = folder(wh, list, id);
    let expect = check::Expect { list: Some(list), id: Some(id), partner: None };
    let manifest = check::check(&dir, key, expect).map_err(|problems| PublishError::Tampered {
        list: list.to_string(),
        id,
        problems,
    })?;
    if manifest.signed && key.is_none() {
        return Err(PublishError::CannotVerify { list: list.to_string(), id });
    }
    if !manifest.signed {
        tracing::warn!(%list, publication = %id, "the previous publication is unsigned: only its hashes were checked");
    }
    let entries = files::read_entries(&dir.join("entries.parquet"))?;
    Ok(Some(Previous { id, manifest, entries }))
}

/// Everything a publication of one list is made from.
pub struct Input<'a> {
    pub policy: &'a Policy,
    pub list: &'a ListSpec,
    pub as_of: AsOf,
    pub run_id: i64,
    /// The run's listing of the list (every review status).
    pub members: &'a [ListingRow],
    /// Registry facts (name, region, store) of the published members.
    pub facts: &'a HashMap<String, RegistryFacts>,
    /// For each member of the previous publication that left: why.
    pub removed: &'a HashMap<String, RemovalFacts>,
    pub previous: Option<&'a Previous>,
    pub inputs: Vec<InputInfo>,
    pub partners: &'a [Partner],
    pub signer: Option<&'a Signer>,
}

/// What a publication step did.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Published {
        id: PublicationId,
        counts: files::Counts,
    },
    /// The entries equal the newest publication of the same date.
    Unchanged {
        latest: PublicationId,
    },
    /// The newest publication is of a later date: a list never goes back in time.
    Older {
        latest: PublicationId,
    },
}

/// The entries of a list's publication as of `as_of`: its published
/// members, sorted by entity id.
pub fn build_entries(input: &Input) -> Vec<Entry> {
    let previous: HashMap<String, Entry> = input
        .previous
        .map(|p| p.entries.iter().map(|e| (e.entity_id.clone(), e.clone())).collect())
        .unwrap_or_default();
    let mut out: Vec<Entry> = input
        .members
        .iter()
        .filter(|m| m.review_status == ReviewStatus::Published)
        .map(|m| {
            let f = input.facts.get(&m.entity_id);
            Entry {
                entity_id: m.entity_id.clone(),
                name: f.map(|f| f.name.clone()).unwrap_or_default(),
                region: f.map(|f| f.region.clone()).unwrap_or_default(),
                online_store: f.and_then(|f| f.online_store.clone()),
                list_id: m.list_id.clone(),
                basis: m.basis.as_str().to_string(),
                depth: m.depth,
                rules: m.rules.clone(),
                roots: m.roots.clone(),
                listed_since: entries::listed_since(&m.entity_id, &previous, input.as_of),
                measures: measures(input.policy, input.list, m),
            }
        })
        .collect();
    out.sort_by(|a, b| a.entity_id.cmp(&b.entity_id));
    out
}

/// A member's measures: the list's for a direct member; for a joint member
/// those of the rules that fired (a rule without its own takes the list's).
fn measures(policy: &Policy, list: &ListSpec, m: &ListingRow) -> Vec<String> {
    let mut out: Vec<String> = if m.rules.is_empty() {
        list.measures.clone()
    } else {
        m.rules
            .iter()
            .flat_map(|r| {
                policy
                    .joint
                    .rules
                    .iter()
                    .find(|j| &j.id == r)
                    .and_then(|j| j.measures.clone())
                    .unwrap_or_else(|| list.measures.clone())
            })
            .collect()
    };
    out.sort();
    out.dedup();
    out
}

/// Publishes one list as of `input.as_of` into `wh`, or says why not.
pub fn publish(wh: &Warehouse, input: &Input) -> Result<Outcome, PublishError> {
    let list = &input.list.id;
    let entries = build_entries(input);
    let id = match input.previous.map(|p| p.id) {
        Some(last) if last.date > input.as_of => return Ok(Outcome::Older { latest: last }),
        Some(last) if last.date == input.as_of => {
            if input.previous.is_some_and(|p| p.entries == entries) {
                return Ok(Outcome::Unchanged { latest: last });
            }
            last.next_same_day()
        }
        _ => PublicationId::first(input.as_of),
    };
    let previous_entries: &[Entry] = input.previous.map(|p| p.entries.as_slice()).unwrap_or(&[]);
    let changes = entries::changes(&entries, previous_entries, &|last| {
        let facts = input.removed.get(&last.entity_id).unwrap_or(&RemovalFacts {
            exempt: false,
            in_scope: true,
            repaired: false,
        });
        entries::removal_reason(last, facts)
    });

    // Folders newer than LATEST were never visible: a crashed publication's.
    remove_orphans(wh, list, input.previous.map(|p| p.id))?;

    let dest = folder(wh, list, id);
    let staged = wh.stage(dest.clone()).map_err(io(format!("staging {}", wh.relative(&dest))))?;
    let all = files::all_columns();
    let view = View {
        entries: &entries,
        changes: &changes,
        columns: &all,
        formats: &[Format::Parquet, Format::Csv],
        regions: &[],
    };
    let counts = write_view(staged.path(), input, id, None, &view)?;
    for p in input.partners.iter().filter(|p| p.may_read(list)) {
        let dir = staged.path().join("partners").join(&p.id);
        std::fs::create_dir_all(&dir).map_err(io(format!("creating partners/{}", p.id)))?;
        let view = View {
            entries: &entries,
            changes: &changes,
            columns: &p.columns,
            formats: &p.formats,
            regions: &p.regions,
        };
        write_view(&dir, input, id, Some(&p.id), &view)?;
    }
    staged.commit().map_err(io(format!("publishing {}", wh.relative(&dest))))?;
    write_file_atomically(&wh.published(list).join("LATEST"), format!("{id}\n").as_bytes())
        .map_err(io(format!("replacing published/{list}/LATEST")))?;
    Ok(Outcome::Published { id, counts })
}

fn remove_orphans(wh: &Warehouse, list: &str, latest: Option<PublicationId>) -> Result<(), PublishError> {
    let dir = wh.published(list);
    let Ok(entries) = std::fs::read_dir(&dir) else { return Ok(()) };
    let mut removed = false;
    for e in entries.flatten() {
        if let Ok(id) = e.file_name().to_string_lossy().parse::<PublicationId>() {
            if latest.is_none_or(|l| id > l) {
                std::fs::remove_dir_all(e.path()).map_err(io(format!("removing orphan publication {id}")))?;
                removed = true;
            }
        }
    }
    if removed {
        sync_dir(&dir).map_err(io(format!("flushing published/{list}")))?;
    }
    Ok(())
}

/// What one manifest covers: the whole list, or a partner's part of it.
struct View<'a> {
    entries: &'a [Entry],
    changes: &'a [Change],
    columns: &'a [String],
    formats: &'a [Format],
    regions: &'a [String],
}

fn write_view(
    dir: &Path,
    input: &Input,
    id: PublicationId,
    partner: Option<&str>,
    view: &View,
) -> Result<files::Counts, PublishError> {
    let sees = |region: &str| view.regions.is_empty() || view.regions.iter().any(|p| region.starts_with(p.as_str()));
    let entries: Vec<&Entry> = view.entries.iter().filter(|e| sees(&e.region)).collect();
    let changes: Vec<&Change> = view.changes.iter().filter(|c| sees(&c.entry.region)).collect();
    let entries_batch = files::entries_batch(&entries, view.columns);
    let changes_batch = files::changes_batch(&changes, view.columns);
    let mut written: Vec<FileInfo> = Vec::new();
    for f in view.formats {
        written.push(files::write(dir, "entries", *f, &entries_batch)?);
        written.push(files::write(dir, "changes", *f, &changes_batch)?);
    }
    let count = |a: entries::Action| changes.iter().filter(|c| c.action == a).count() as u64;
    let counts = files::Counts {
        entries: entries.len() as u64,
        added: count(entries::Action::Added),
        removed: count(entries::Action::Removed),
        changed: count(entries::Action::Changed),
    };
    let manifest = Manifest {
        format: files::MANIFEST_FORMAT.to_string(),
        list_id: input.list.id.clone(),
        list_title: input.list.title.clone(),
        publication_id: id.to_string(),
        previous_publication_id: input.previous.map(|p| p.id.to_string()),
        as_of: input.as_of.to_string(),
        run_id: input.run_id,
        policy: PolicyInfo {
            id: input.policy.id.clone(),
            version: input.policy.version.clone(),
            sha256: input.policy.sha256.clone(),
        },
        partner: partner.map(str::to_string),
        regions: view.regions.to_vec(),
        columns: Some(view.columns.to_vec()),
        inputs: input.inputs.clone(),
        files: written,
        counts: counts.clone(),
        signed: input.signer.is_some(),
        key_id: input.signer.map(|s| s.key_id.clone()),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    let json = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
    std::fs::write(dir.join("manifest.json"), &json).map_err(io("writing manifest.json"))?;
    if let Some(signer) = input.signer {
        let comment = format!(
            "credence publication {} of {}{}",
            id,
            input.list.id,
            partner.map(|p| format!(" for {p}")).unwrap_or_default()
        );
        let sig = signer.sign(&json, &comment)?;
        std::fs::write(dir.join("manifest.json.minisig"), sig).map_err(io("writing manifest.json.minisig"))?;
    }
    Ok(counts)
}
