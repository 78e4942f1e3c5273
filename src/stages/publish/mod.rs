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
pub mod rebuild;
pub mod views;

#[cfg(test)]
mod property_tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use entries::{Change, Entry, PublicationId, RemovalFacts, RemovalReason};
use files::{FileError, FileInfo, InputInfo, Manifest, PolicyInfo};
use views::Cut;

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
    /// `what`: "the previous publication" (a run builds on it) or "the
    /// publication" (its views are rebuilt).
    #[error("{what} {id} of {list} does not match its manifest; nothing is built on it:\n  - {}", problems.join("\n  - "))]
    Tampered { what: &'static str, list: String, id: PublicationId, problems: Vec<String> },
    #[error("{what} {id} of {list} is signed: give the signing key (its public half checks the signature) before building on it")]
    CannotVerify { what: &'static str, list: String, id: PublicationId },
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

/// A publication of a list as a run builds on it: its id, manifest and
/// entries (checked against the manifest when read).
pub struct Previous {
    pub id: PublicationId,
    pub manifest: Manifest,
    pub entries: Vec<Entry>,
}

impl Previous {
    /// The view of `partner` in this publication: what it showed and the
    /// entries it held (cut again from the whole publication, as the view's
    /// manifest recorded its regions and columns); `None` without a view.
    pub fn view(&self, wh: &Warehouse, list: &str, partner: &str) -> Result<Option<(Cut, Vec<Entry>)>, PublishError> {
        let dir = folder(wh, list, self.id).join("partners").join(partner);
        if !dir.join("manifest.json").exists() {
            return Ok(None);
        }
        let m = Manifest::read(&dir)?;
        let cut = Cut { regions: m.regions.clone(), columns: m.columns.clone().unwrap_or_else(files::all_columns) };
        let entries = cut.entries(&self.entries);
        Ok(Some((cut, entries)))
    }
}

/// The publication `LATEST` names, checked before anything builds on it:
/// its files against its manifest, no file added, every partner view, and
/// the signature with `key`. A signed publication cannot be checked
/// without the key: that refuses too.
pub fn previous(wh: &Warehouse, list: &str, key: Option<&PublicKey>) -> Result<Option<Previous>, PublishError> {
    let Some(id) = latest(wh, list)? else { return Ok(None) };
    read_checked(wh, list, id, key, PREVIOUS).map(Some)
}

/// The publication in force for a run as of `as_of` (publication.md v2):
/// the newest whose date is on or before `as_of`, checked like [`previous`].
pub fn in_force(
    wh: &Warehouse,
    list: &str,
    as_of: AsOf,
    key: Option<&PublicKey>,
) -> Result<Option<Previous>, PublishError> {
    let Some(id) = history(wh, list)?.into_iter().rfind(|id| id.date <= as_of) else { return Ok(None) };
    read_checked(wh, list, id, key, PREVIOUS).map(Some)
}

/// How messages name the publication a run builds on.
const PREVIOUS: &str = "the previous publication";

/// Publication `id` of `list`, checked against its manifest (and, with
/// `key`, its signature) before anything is built on it; `what` names it in
/// a refusal ("the previous publication", "the publication").
fn read_checked(
    wh: &Warehouse,
    list: &str,
    id: PublicationId,
    key: Option<&PublicKey>,
    what: &'static str,
) -> Result<Previous, PublishError> {
    let dir = folder(wh, list, id);
    let expect = check::Expect { list: Some(list), id: Some(id), partner: None };
    let manifest = check::check(&dir, key, expect).map_err(|m| PublishError::Tampered {
        what,
        list: list.to_string(),
        id,
        problems: m.0,
    })?;
    if manifest.signed && key.is_none() {
        return Err(PublishError::CannotVerify { what, list: list.to_string(), id });
    }
    if !manifest.signed {
        tracing::warn!(%list, publication = %id, "the publication is unsigned: only its hashes were checked");
    }
    let entries = files::read_entries(&dir.join("entries.parquet"))?;
    Ok(Previous { id, manifest, entries })
}

/// For each entity removed from the list in a publication up to `through`,
/// the newest `decisions_through` of a publication that removed it: a
/// review decision with an id up to it was made before the entity left
/// the list, and covers nothing of a later stretch. `run_decisions` gives
/// the decisions a run used, for manifests that predate
/// `decisions_through`.
pub fn stretch_ends(
    wh: &Warehouse,
    list: &str,
    through: PublicationId,
    run_decisions: &dyn Fn(i64) -> Option<i64>,
) -> Result<HashMap<String, i64>, PublishError> {
    let mut out = HashMap::new();
    for id in history(wh, list)?.into_iter().filter(|id| *id <= through) {
        let dir = folder(wh, list, id);
        let manifest = Manifest::read(&dir)?;
        if manifest.counts.removed == 0 {
            continue;
        }
        let cut = manifest.decisions_through.or_else(|| run_decisions(manifest.run_id)).unwrap_or(0);
        for c in files::read_changes(&dir.join("changes.parquet"))? {
            if c.action == entries::Action::Removed {
                out.insert(c.entry.entity_id.clone(), cut);
            }
        }
    }
    Ok(out)
}

/// The decisions a run used, as the manifest names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecisionsUsed {
    /// The newest decision id the run used.
    pub through: i64,
    /// SHA-256 of the decisions used, one JSON object a line in id order.
    pub sha256: String,
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
    /// The publication `LATEST` names (checked).
    pub previous: Option<&'a Previous>,
    pub inputs: Vec<InputInfo>,
    pub partners: &'a [Partner],
    pub signer: Option<&'a Signer>,
    pub decisions: &'a DecisionsUsed,
}

/// What a publication step did.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Published {
        id: PublicationId,
        counts: files::Counts,
    },
    /// The entries, and every partner's view, equal the newest publication
    /// of the same date.
    Unchanged {
        latest: PublicationId,
    },
    /// The newest publication is of a later date: a list never goes back in time.
    Older {
        latest: PublicationId,
    },
}

/// The entries of a list's publication as of `as_of`: its published
/// members, sorted by entity id. A joint member names only the roots that
/// are published too.
pub fn build_entries(input: &Input) -> Vec<Entry> {
    let previous: HashMap<String, Entry> = input
        .previous
        .map(|p| p.entries.iter().map(|e| (e.entity_id.clone(), e.clone())).collect())
        .unwrap_or_default();
    let published: std::collections::HashSet<&str> = input
        .members
        .iter()
        .filter(|m| m.review_status == ReviewStatus::Published)
        .map(|m| m.entity_id.as_str())
        .collect();
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
                roots: m.roots.iter().filter(|r| published.contains(r.as_str())).cloned().collect(),
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

/// One partner's view of a publication: what it shows and its changes.
struct PartnerView<'a> {
    partner: &'a Partner,
    cut: Cut,
    entries: Vec<Entry>,
    changes: Vec<Change>,
    /// The same partner's view in the previous publication, if any.
    before: Option<Vec<Entry>>,
}

/// The entries a publication of `input` would hold and its changes
/// against the previous publication (every column but `listed_since`).
fn preview(input: &Input) -> (Vec<Entry>, Vec<Change>) {
    let entries = build_entries(input);
    let previous_entries: &[Entry] = input.previous.map(|p| p.entries.as_slice()).unwrap_or(&[]);
    let reason_of = |e: &str| {
        let facts = input.removed.get(e).copied().unwrap_or(RemovalFacts { in_scope: true, ..RemovalFacts::default() });
        entries::removal_reason(&facts)
    };
    let changes =
        entries::changes(&entries, previous_entries, &files::all_columns(), &|last| reason_of(&last.entity_id));
    (entries, changes)
}

/// What publishing a list would do, worked out before anything is
/// written: the publication's id, or why there is none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// A new publication with this id.
    New(PublicationId),
    /// The entries, and every partner's view, equal those of the newest
    /// publication (of the same date).
    Unchanged(PublicationId),
    /// The newest publication is of a later date.
    Older(PublicationId),
}

/// A list's publication as [`plan`] works it out: its entries, its
/// changes, each partner's view and what publishing it does.
pub struct Planned<'a> {
    pub entries: Vec<Entry>,
    pub changes: Vec<Change>,
    views: Vec<PartnerView<'a>>,
    pub step: Step,
}

/// Works out the publication of one list as of `input.as_of` against the
/// previous one in `wh`, reading only: what [`publish`] would write, and
/// what a dry run shows.
pub fn plan<'a>(wh: &Warehouse, input: &Input<'a>) -> Result<Planned<'a>, PublishError> {
    let list = &input.list.id;
    let all = files::all_columns();
    let (entries, changes) = preview(input);
    let reasons: HashMap<String, RemovalReason> =
        changes.iter().filter_map(|c| c.removal_reason.map(|r| (c.entry.entity_id.clone(), r))).collect();

    // Each partner's view, against its own view in the previous publication.
    let mut views = Vec::new();
    for p in input.partners.iter().filter(|p| p.may_read(list)) {
        let cut = Cut { regions: p.regions.clone(), columns: p.columns.clone() };
        let before = match input.previous {
            Some(prev) => prev.view(wh, list, &p.id)?,
            None => None,
        };
        let view_changes = views::view_changes(&cut, &entries, before.as_ref().map(|(c, e)| (c, e.clone())), &reasons);
        views.push(PartnerView {
            partner: p,
            entries: cut.entries(&entries),
            cut,
            changes: view_changes,
            before: before.map(|(_, e)| e),
        });
    }

    let step = match input.previous.map(|p| p.id) {
        Some(last) if last.date > input.as_of => Step::Older(last),
        Some(last) if last.date == input.as_of => {
            // publication.md v2: a same-day rerun publishes when the entries
            // of the list or of any partner's view differ, or when a partner
            // entitled to the list has no view in the previous publication.
            let same_entries = input.previous.is_some_and(|p| same(&p.entries, &entries, &all));
            let same_views = views.iter().all(|v| {
                v.before.as_ref().is_some_and(|b| same(b, &v.entries, &v.cut.columns)) && v.changes.is_empty()
            });
            match same_entries && same_views {
                true => Step::Unchanged(last),
                false => Step::New(last.next_same_day()),
            }
        }
        _ => Step::New(PublicationId::first(input.as_of)),
    };
    Ok(Planned { entries, changes, views, step })
}

/// Publishes one list as of `input.as_of` into `wh`, or says why not.
pub fn publish(wh: &Warehouse, input: &Input) -> Result<Outcome, PublishError> {
    let list = &input.list.id;
    let all = files::all_columns();
    let Planned { entries, changes, views, step } = plan(wh, input)?;
    let id = match step {
        Step::New(id) => id,
        Step::Unchanged(latest) => return Ok(Outcome::Unchanged { latest }),
        Step::Older(latest) => return Ok(Outcome::Older { latest }),
    };

    // Folders newer than LATEST were never visible: a crashed publication's.
    remove_orphans(wh, list, input.previous.map(|p| p.id))?;

    let dest = folder(wh, list, id);
    let staged = wh.stage(dest.clone()).map_err(io(format!("staging {}", wh.relative(&dest))))?;
    let view = View {
        entries: &entries,
        changes: &changes,
        columns: &all,
        formats: &[Format::Parquet, Format::Csv],
        regions: &[],
    };
    let head = Head::of_run(input, id);
    let counts = write_view(staged.path(), &head, None, &view)?;
    for v in &views {
        let dir = staged.path().join("partners").join(&v.partner.id);
        std::fs::create_dir_all(&dir).map_err(io(format!("creating partners/{}", v.partner.id)))?;
        let view = View {
            entries: &v.entries,
            changes: &v.changes,
            columns: &v.cut.columns,
            formats: &v.partner.formats,
            regions: &v.cut.regions,
        };
        write_view(&dir, &head, Some(&v.partner.id), &view)?;
    }
    staged.commit().map_err(io(format!("publishing {}", wh.relative(&dest))))?;
    write_file_atomically(&wh.published(list).join("LATEST"), format!("{id}\n").as_bytes())
        .map_err(io(format!("replacing published/{list}/LATEST")))?;
    Ok(Outcome::Published { id, counts })
}

/// Whether two sorted entry lists hold the same entities with the same
/// `columns` (and the same `listed_since`).
fn same(a: &[Entry], b: &[Entry], columns: &[String]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.entity_id == y.entity_id && !x.differs(y, columns) && x.listed_since == y.listed_since)
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

/// What every manifest of one publication shares: taken from a run's
/// input, or from the publication's own manifest when views are rebuilt.
struct Head<'a> {
    list_id: String,
    list_title: String,
    id: PublicationId,
    previous: Option<String>,
    as_of: String,
    run_id: i64,
    policy: PolicyInfo,
    decisions_through: Option<i64>,
    decisions_sha256: Option<String>,
    inputs: Vec<InputInfo>,
    signer: Option<&'a Signer>,
}

impl<'a> Head<'a> {
    fn of_run(input: &Input<'a>, id: PublicationId) -> Head<'a> {
        Head {
            list_id: input.list.id.clone(),
            list_title: input.list.title.clone(),
            id,
            previous: input.previous.map(|p| p.id.to_string()),
            as_of: input.as_of.to_string(),
            run_id: input.run_id,
            policy: PolicyInfo {
                id: input.policy.id.clone(),
                version: input.policy.version.clone(),
                sha256: input.policy.sha256.clone(),
            },
            decisions_through: Some(input.decisions.through),
            decisions_sha256: Some(input.decisions.sha256.clone()),
            inputs: input.inputs.clone(),
            signer: input.signer,
        }
    }

    fn of_manifest(m: &Manifest, id: PublicationId, signer: Option<&'a Signer>) -> Head<'a> {
        Head {
            list_id: m.list_id.clone(),
            list_title: m.list_title.clone(),
            id,
            previous: m.previous_publication_id.clone(),
            as_of: m.as_of.clone(),
            run_id: m.run_id,
            policy: m.policy.clone(),
            decisions_through: m.decisions_through,
            decisions_sha256: m.decisions_sha256.clone(),
            inputs: m.inputs.clone(),
            signer,
        }
    }
}

fn write_view(dir: &Path, head: &Head, partner: Option<&str>, view: &View) -> Result<files::Counts, PublishError> {
    let entries: Vec<&Entry> = view.entries.iter().collect();
    let changes: Vec<&Change> = view.changes.iter().collect();
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
        list_id: head.list_id.clone(),
        list_title: head.list_title.clone(),
        publication_id: head.id.to_string(),
        previous_publication_id: head.previous.clone(),
        as_of: head.as_of.clone(),
        run_id: head.run_id,
        policy: head.policy.clone(),
        partner: partner.map(str::to_string),
        regions: view.regions.to_vec(),
        columns: Some(view.columns.to_vec()),
        decisions_through: head.decisions_through,
        decisions_sha256: head.decisions_sha256.clone(),
        inputs: head.inputs.clone(),
        files: written,
        counts: counts.clone(),
        signed: head.signer.is_some(),
        key_id: head.signer.map(|s| s.key_id.clone()),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    let json = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
    std::fs::write(dir.join("manifest.json"), &json).map_err(io("writing manifest.json"))?;
    if let Some(signer) = head.signer {
        let comment = format!(
            "credence publication {} of {}{}",
            head.id,
            head.list_id,
            partner.map(|p| format!(" for {p}")).unwrap_or_default()
        );
        let sig = signer.sign(&json, &comment)?;
        std::fs::write(dir.join("manifest.json.minisig"), sig).map_err(io("writing manifest.json.minisig"))?;
    }
    Ok(counts)
}
