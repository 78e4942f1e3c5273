//! Tonight's run without its effects (`credence run --dry-run`): the
//! landing zone is validated, scored, extended to joint members and
//! reviewed exactly as a run would, and each list's publication is
//! previewed against the publication in force. No mart, quarantine,
//! publication, staging folder or ledger row is written and the run lock
//! is not taken: the only trace is the dry-run record,
//! `warehouse/reports/dry-run/<id>/` (`summary.json`, `changes.csv`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, StringArray};
use serde::Serialize;

use super::impact::report::{new_id, PolicyName};
use super::{
    keep_columns, lists, plan_list, register_inputs, validate_landing, within_threshold, Decided, RunError, RunOptions,
};
use crate::base::contract::{Contracts, Dataset};
use crate::base::engine::Engine;
use crate::base::landing_file::Seal;
use crate::base::marts::listings::ReviewStatus;
use crate::base::marts::registry::RegistryFacts;
use crate::base::store::Store;
use crate::base::tables::{Inputs, QualityReport};
use crate::base::warehouse::Warehouse;
use crate::config::policy::ListSpec;
use crate::stages::joint;
use crate::stages::publish::entries::{Action, Change};
use crate::stages::publish::{self, files::InputInfo};
use crate::stages::review::DecisionBook;
use crate::stages::score;

/// Rows read and rejected of one dataset.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct DatasetFigures {
    pub dataset: String,
    pub rows_read: u64,
    pub rows_rejected: u64,
}

/// What one list's publication would be tonight.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
pub struct ListPreview {
    pub list: String,
    /// The publication in force it is compared with.
    pub previous: Option<String>,
    /// `publish`, `unchanged` (nothing new) or `older` (a newer
    /// publication exists: a list never goes back in time).
    pub outcome: String,
    pub entries: u64,
    pub added: u64,
    pub removed: u64,
    /// Removals by their reason (publication.md v2).
    pub removed_by_reason: BTreeMap<String, u64>,
    pub changed: u64,
    /// New members that would wait for an officer instead of being published.
    pub awaiting_review: u64,
}

/// The dry-run record (`summary.json`).
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct DryRunReport {
    pub id: String,
    pub as_of: String,
    pub policy: PolicyName,
    /// The newest decision the run would use.
    pub decisions_through: i64,
    pub datasets: Vec<DatasetFigures>,
    /// Why the run would fail (the rejection threshold); then no list is previewed.
    pub would_fail: Option<String>,
    pub entities_scored: u64,
    pub lists: Vec<ListPreview>,
}

/// One line of `changes.csv`.
struct ChangeLine {
    list: String,
    action: &'static str,
    entity_id: String,
    name: String,
    region: String,
    basis: String,
    rules: String,
    removal_reason: String,
}

/// The registry facts the entries of a publication carry, from the
/// validated registry (the run would read them from its registry mart,
/// written from the same rows).
fn facts_from_inputs(inputs: &Inputs, ids: &BTreeSet<String>) -> HashMap<String, RegistryFacts> {
    let b = &inputs.registry.batches()[0];
    let text = |name: &str| -> Option<StringArray> {
        let i = b.schema().index_of(name).ok()?;
        let a = arrow::compute::cast(b.column(i), &arrow::datatypes::DataType::Utf8).ok()?;
        Some(a.as_string::<i32>().clone())
    };
    let (name, region, store) = (text("name"), text("region"), text("online_store"));
    let get = |c: &Option<StringArray>, r: usize| c.as_ref().filter(|c| c.is_valid(r)).map(|c| c.value(r).to_string());
    ids.iter()
        .filter_map(|id| {
            let r = inputs.entities.lookup(id)? as usize;
            let f = RegistryFacts {
                entity_id: id.clone(),
                name: get(&name, r).unwrap_or_default(),
                region: get(&region, r).unwrap_or_default(),
                online_store: get(&store, r),
                ..RegistryFacts::default()
            };
            Some((id.clone(), f))
        })
        .collect()
}

/// Previews tonight's run as of `opts.as_of` and writes the dry-run record;
/// returns its folder and figures.
pub async fn dry_run(opts: &RunOptions) -> Result<(PathBuf, DryRunReport), RunError> {
    let wh = &opts.warehouse;
    let policy = &opts.policy;
    let as_of = opts.as_of;
    let contracts = Contracts::load().expect("embedded contracts are valid");
    let io = |what: &str| {
        let what = what.to_string();
        move |source| RunError::Io { what, source }
    };
    // Without a database there are no decisions nor runs: an empty one
    // outside the warehouse stands in, so that nothing is created there.
    let scratch = tempfile::tempdir().map_err(io("a scratch folder"))?;
    let db = if wh.database().exists() { wh.database() } else { scratch.path().join("credence.db") };
    let store = Store::open(&db)?;
    let decisions_through = store.last_decision_id()?;

    let seal = Seal::new();
    let keep = |d: Dataset| {
        let mut cols = keep_columns(policy, d);
        if d == Dataset::Registry {
            for c in ["name", "region", "online_store"] {
                if !cols.iter().any(|x| x == c) {
                    cols.push(c.to_string());
                }
            }
        }
        cols
    };
    let (mut inputs, _) = tokio::task::block_in_place(|| {
        validate_landing(wh, &contracts, as_of, &keep, crate::run::ValidationMarts::Nothing, &seal)
    })?;
    seal.close();
    let quality = QualityReport {
        as_of: as_of.to_string(),
        max_reject_share: opts.max_reject_share,
        datasets: inputs.all().iter().map(|v| v.report.clone()).collect(),
    };
    let mut report = DryRunReport {
        id: new_id(as_of),
        as_of: as_of.to_string(),
        policy: PolicyName { id: policy.id.clone(), version: policy.version.clone(), sha256: policy.sha256.clone() },
        decisions_through,
        datasets: quality
            .datasets
            .iter()
            .map(|d| DatasetFigures {
                dataset: d.dataset.clone(),
                rows_read: d.rows_read,
                rows_rejected: d.rows_rejected,
            })
            .collect(),
        would_fail: within_threshold(&quality).err().map(|e| e.to_string()),
        entities_scored: 0,
        lists: Vec::new(),
    };
    let mut lines = Vec::new();
    if report.would_fail.is_none() {
        let engine = Engine::local(opts.limits)?;
        register_inputs(&engine, &inputs)?;
        let scores = tempfile::tempdir().map_err(io("a folder for the scores"))?;
        let scored = score::score(&engine, policy, as_of, &inputs.entities, scores.path()).await?;
        drop(engine);
        report.entities_scored = scored.summary.entities_scored;
        let graph = joint::build_graph(std::mem::take(&mut inputs.parents), std::mem::take(&mut inputs.shares));
        let used = store.decisions(decisions_through, None, None)?;
        let book = DecisionBook::new(used.clone());
        let tables =
            lists::Tables { policy, as_of, inputs: &inputs, grades: &scored.grades, graph: &graph, book: &book };
        let key = opts.signer.as_ref().and_then(|s| s.public_key());
        let decided = Decided { store: &store, used: &used, through: decisions_through, key };
        let previews = Previews { opts, tables, decided };
        for list in &policy.lists {
            report.lists.push(previews.list(list, &mut lines)?);
        }
    }
    let dir = write(wh, &report, &lines)?;
    Ok((dir, report))
}

/// What every list's preview reads: the night's tables, and the ledger
/// and decisions the run would use.
struct Previews<'a> {
    opts: &'a RunOptions,
    tables: lists::Tables<'a>,
    decided: Decided<'a>,
}

impl<'a> Previews<'a> {
    /// The preview of `list`: what its publication would hold and change
    /// against the previous one, and its members awaiting review; each
    /// change and each waiting member is added to `lines`.
    fn list(&self, list: &'a ListSpec, lines: &mut Vec<ChangeLine>) -> Result<ListPreview, RunError> {
        let (opts, as_of) = (self.opts, self.tables.as_of);
        let (l, _, _) = plan_list(&opts.warehouse, &self.tables, list, &self.decided)?;
        let published: BTreeSet<String> =
            l.rows.iter().filter(|r| r.review_status == ReviewStatus::Published).map(|r| r.entity_id.clone()).collect();
        let was: BTreeSet<&str> =
            l.previous.iter().flat_map(|p| p.entries.iter().map(|e| e.entity_id.as_str())).collect();
        let waiting: Vec<_> = l
            .rows
            .iter()
            .filter(|r| r.review_status != ReviewStatus::Published && !was.contains(r.entity_id.as_str()))
            .collect();
        let mut shown = published;
        shown.extend(waiting.iter().map(|r| r.entity_id.clone()));
        let facts = facts_from_inputs(self.tables.inputs, &shown);
        let input = publish::Input {
            policy: self.tables.policy,
            list,
            as_of,
            run_id: 0,
            members: &l.rows,
            facts: &facts,
            removed: &l.removed,
            previous: l.previous.as_ref(),
            inputs: Vec::<InputInfo>::new(),
            partners: &opts.partners,
            signer: None,
            decisions: &l.decisions,
        };
        let publish::Planned { entries, changes, step, .. } = publish::plan(&opts.warehouse, &input)?;
        let mut p = ListPreview {
            list: list.id.clone(),
            previous: l.previous.as_ref().map(|p| p.id.to_string()),
            entries: entries.len() as u64,
            awaiting_review: waiting.len() as u64,
            ..ListPreview::default()
        };
        for c in &changes {
            match c.action {
                Action::Added => p.added += 1,
                Action::Changed => p.changed += 1,
                Action::Removed => {
                    p.removed += 1;
                    let why = c.removal_reason.map(|r| r.as_str()).unwrap_or("-");
                    *p.removed_by_reason.entry(why.to_string()).or_default() += 1;
                }
            }
            lines.push(change_line(&list.id, c));
        }
        for r in waiting {
            lines.push(ChangeLine {
                list: list.id.clone(),
                action: "awaiting_review",
                entity_id: r.entity_id.clone(),
                name: facts.get(&r.entity_id).map(|f| f.name.clone()).unwrap_or_default(),
                region: facts.get(&r.entity_id).map(|f| f.region.clone()).unwrap_or_default(),
                basis: r.basis.as_str().to_string(),
                rules: r.rules.join(";"),
                removal_reason: String::new(),
            });
        }
        p.outcome = match step {
            publish::Step::Older(_) => "older",
            publish::Step::Unchanged(_) => "unchanged",
            publish::Step::New(_) => "publish",
        }
        .to_string();
        Ok(p)
    }
}

fn change_line(list: &str, c: &Change) -> ChangeLine {
    let e = &c.entry;
    ChangeLine {
        list: list.to_string(),
        action: c.action.as_str(),
        entity_id: e.entity_id.clone(),
        name: e.name.clone(),
        region: e.region.clone(),
        basis: e.basis.clone(),
        rules: e.rules.join(";"),
        removal_reason: c.removal_reason.map(|r| r.as_str().to_string()).unwrap_or_default(),
    }
}

/// Writes `summary.json` and `changes.csv` into a hidden folder beside the
/// record's and renames it into place.
fn write(wh: &Warehouse, report: &DryRunReport, lines: &[ChangeLine]) -> Result<PathBuf, RunError> {
    let io = |what: &str| {
        let what = what.to_string();
        move |source| RunError::Io { what, source }
    };
    let root = dry_runs(wh);
    std::fs::create_dir_all(&root).map_err(io("creating reports/dry-run"))?;
    let tmp = root.join(format!(".{}.tmp", report.id));
    std::fs::create_dir(&tmp).map_err(io("staging the dry-run record"))?;
    std::fs::write(tmp.join("summary.json"), serde_json::to_vec_pretty(report).expect("a report serialises"))
        .map_err(io("writing summary.json"))?;
    let mut csv = csv_writer(&tmp.join("changes.csv")).map_err(io("writing changes.csv"))?;
    let header = ["list_id", "action", "entity_id", "name", "region", "basis", "rules", "removal_reason"];
    csv.write_record(header).map_err(|e| RunError::Io { what: "writing changes.csv".into(), source: e.into() })?;
    for l in lines {
        let row = [&l.list, l.action, &l.entity_id, &l.name, &l.region, &l.basis, &l.rules, &l.removal_reason];
        csv.write_record(row.map(|c| publish::files::defused(c.to_string())))
            .map_err(|e| RunError::Io { what: "writing changes.csv".into(), source: e.into() })?;
    }
    csv.flush().map_err(io("writing changes.csv"))?;
    let dir = root.join(&report.id);
    std::fs::rename(&tmp, &dir).map_err(io("publishing the dry-run record"))?;
    Ok(dir)
}

fn csv_writer(path: &Path) -> std::io::Result<csv::Writer<std::fs::File>> {
    Ok(csv::Writer::from_writer(std::fs::File::create(path)?))
}

/// The folder of dry-run records.
pub fn dry_runs(wh: &Warehouse) -> PathBuf {
    wh.root().join("reports/dry-run")
}

/// The newest dry-run record's id, if any.
pub fn latest(wh: &Warehouse) -> Option<String> {
    std::fs::read_dir(dry_runs(wh))
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| super::impact::report::is_id(n))
        .max()
}
