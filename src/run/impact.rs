//! Policy impact before adoption (`credence impact`): the landing zone as
//! of D is validated once, then scored, extended to joint members and
//! reviewed under two policies on the same inputs, with the same decisions
//! and the same publication in force, so that every difference is the
//! policy's. Nothing is published and no mart is replaced: the comparison
//! goes to `warehouse/reports/impact/<id>/` (`report.json`,
//! `changed.parquet`, `changed.csv`, `report.html`, see [`report`]).

pub mod report;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use arrow::array::{Array, AsArray, RecordBatch, StringArray};
use minisign::PublicKey;

use crate::base::contract::{Contracts, Dataset};
use crate::base::engine::{self, EngineLimits};
use crate::base::ids::AsOf;
use crate::base::landing_file::Seal;
use crate::base::marts::listings::{Basis, ListingRow, ReviewStatus};
use crate::base::marts::scores::read_reasons;
use crate::base::store::{RunId, Store};
use crate::base::tables::Inputs;
use crate::base::warehouse::Warehouse;
use crate::config::policy::Policy;
use crate::run::{keep_columns, lists, register_inputs, validate_landing, RunError};
use crate::stages::joint::{self, RegistryColumns};
use crate::stages::publish;
use crate::stages::review::DecisionBook;
use crate::stages::score::{self, NOT_SCORED};

pub use report::ImpactReport;

/// What an impact run compares.
pub struct ImpactOptions {
    pub warehouse: Warehouse,
    pub as_of: AsOf,
    pub baseline: Policy,
    pub policy: Policy,
    pub limits: EngineLimits,
    /// Checks the publications in force before they are read.
    pub public_key: Option<PublicKey>,
    /// How many as-of dates with landing data, the newest being `as_of`,
    /// to follow list sizes over (1: `as_of` alone).
    pub nights: u32,
}

/// Grade names and rule ids of both policies, interned: a [`Side`] holds
/// their indexes, so that 10M entities under two policies fit beside the
/// validated tables.
#[derive(Debug, Default)]
pub struct Names {
    pub grades: Vec<String>,
    pub rules: Vec<String>,
}

impl Names {
    pub fn of(a: &Policy, b: &Policy) -> Names {
        let grades: BTreeSet<String> = a.grades.iter().chain(&b.grades).map(|g| g.grade.clone()).collect();
        let rules: BTreeSet<String> = [a, b]
            .iter()
            .flat_map(|p| p.rules.iter().map(|r| r.id.clone()).chain(p.direct_grades.iter().map(|g| g.id.clone())))
            .collect();
        Names { grades: grades.into_iter().collect(), rules: rules.into_iter().collect() }
    }

    fn index(names: &[String], name: &str) -> u16 {
        names.binary_search_by(|n| n.as_str().cmp(name)).expect("a name of one of the two policies") as u16
    }

    /// The grade of `s`, `-` when not scored.
    pub fn grade(&self, s: &Side) -> String {
        s.grade.map(|g| self.grades[g as usize].clone()).unwrap_or_else(|| "-".into())
    }

    pub fn rule(&self, r: &Reason) -> &str {
        &self.rules[r.rule as usize]
    }
}

/// A reason of a side: its rule, its points and a hash of the record ids
/// behind it (the ids themselves are read again for the movers shown).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reason {
    pub rule: u16,
    pub points: f64,
    pub records: u64,
}

/// One entity under one policy.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Side {
    pub score: Option<f64>,
    /// An index into [`Names::grades`].
    pub grade: Option<u16>,
    pub reasons: Vec<Reason>,
    /// List id → (basis, rules, review status) of each membership.
    pub lists: BTreeMap<String, (Basis, Vec<String>, ReviewStatus)>,
}

/// Registry facts the report groups by.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub name: String,
    pub region: String,
    pub entity_type: String,
}

/// Everything one policy produced on the shared inputs.
pub struct Outcome {
    pub sides: Vec<Side>,
    /// Per list: restricted persons and flagged entities.
    pub related: BTreeMap<String, (u64, u64)>,
    /// The scores written under this policy (for the movers' records).
    scores: tempfile::TempDir,
}

impl Outcome {
    /// The reasons of `ids` as text ("rule points (records)"), by entity.
    pub fn reason_texts(&self, ids: &BTreeSet<String>) -> Result<HashMap<String, Vec<String>>, RunError> {
        let part = self.scores.path().join("part-0.parquet");
        let rows = crate::base::marts::rows_with(&part, "entity_id", ids)
            .map_err(|source| RunError::Parquet { what: "reading the impact scores".into(), source })?;
        let mut out = HashMap::new();
        for b in rows {
            let entity = b.column(0).as_string::<i32>();
            let reasons = b.column(b.schema().index_of("reasons").expect("scores have reasons")).as_list::<i32>();
            for r in 0..b.num_rows() {
                let texts = read_reasons(reasons, r)
                    .into_iter()
                    .map(|x| format!("{} {:.2} ({})", x.rule_id, x.points, x.records.join(", ")))
                    .collect();
                out.insert(entity.value(r).to_string(), texts);
            }
        }
        Ok(out)
    }
}

fn records_hash(records: &[String]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    records.hash(&mut h);
    h.finish()
}

/// The registry's column `name` as text (enumerated columns are dictionaries).
fn text_column(batch: &RecordBatch, name: &str) -> Option<StringArray> {
    let i = batch.schema().index_of(name).ok()?;
    let a = arrow::compute::cast(batch.column(i), &arrow::datatypes::DataType::Utf8).ok()?;
    Some(a.as_string::<i32>().clone())
}

/// Name, region and type of every entity, by entity index.
pub fn registry_facts(inputs: &Inputs) -> Vec<Facts> {
    let b = &inputs.registry.batches[0];
    let (name, region, kind) = (text_column(b, "name"), text_column(b, "region"), text_column(b, "entity_type"));
    let get = |c: &Option<StringArray>, r: usize| {
        c.as_ref().filter(|c| c.is_valid(r)).map(|c| c.value(r).to_string()).unwrap_or_default()
    };
    (0..b.num_rows())
        .map(|r| Facts { name: get(&name, r), region: get(&region, r), entity_type: get(&kind, r) })
        .collect()
}

/// Scores, reasons and list memberships of every entity under `policy`.
#[allow(clippy::too_many_arguments)]
async fn outcome(
    opts: &ImpactOptions,
    names: &Names,
    as_of: AsOf,
    policy: &Policy,
    inputs: &Inputs,
    ctx: &datafusion::prelude::SessionContext,
    book: &DecisionBook,
    store: &Store,
) -> Result<Outcome, RunError> {
    let wh = &opts.warehouse;
    let dir = tempfile::tempdir().map_err(|source| RunError::Io { what: "a folder for the scores".into(), source })?;
    let scored = score::score(ctx, policy, as_of, &inputs.entities, dir.path()).await?;
    let n = inputs.entities.len();
    let mut sides: Vec<Side> = vec![Side::default(); n];
    for (i, side) in sides.iter_mut().enumerate() {
        if scored.grade[i] != NOT_SCORED {
            side.score = Some(scored.score[i]);
            side.grade = policy.grades.get(scored.grade[i] as usize).map(|g| Names::index(&names.grades, &g.grade));
        }
    }
    // Reasons with their points and records, from the scores the run wrote.
    let part = dir.path().join("part-0.parquet");
    for b in crate::base::parquet_io::read_parquet(&part)
        .map_err(|source| RunError::Parquet { what: "reading the impact scores".into(), source })?
    {
        let ids = b.column(0).as_string::<i32>();
        let reasons = b.column(b.schema().index_of("reasons").expect("scores have reasons")).as_list::<i32>();
        for r in 0..b.num_rows() {
            let Some(idx) = inputs.entities.lookup(ids.value(r)) else { continue };
            sides[idx as usize].reasons = read_reasons(reasons, r)
                .into_iter()
                .map(|x| Reason {
                    rule: Names::index(&names.rules, &x.rule_id),
                    points: x.points,
                    records: records_hash(&x.records),
                })
                .collect();
        }
    }
    let registry = RegistryColumns::from_batch(&inputs.registry.batches[0]);
    let graph = joint::build_graph(&registry, &inputs.holdings.batches, &inputs.entities);
    let tables =
        lists::Tables { policy, as_of: opts.as_of, inputs, scored: &scored, graph: &graph, registry: &registry, book };
    let mut related = BTreeMap::new();
    for list in &policy.lists {
        let in_force = publish::in_force(wh, &list.id, as_of, opts.public_key.as_ref())?;
        let stretch_ends = match &in_force {
            Some(p) => {
                publish::stretch_ends(wh, &list.id, p.id, &|run| store.run_decisions(RunId(run)).ok().flatten())?
            }
            None => HashMap::new(),
        };
        let (rows, rel, summary) = lists::members(&tables, list, in_force.as_ref(), &stretch_ends);
        for r in rows {
            let ListingRow { entity_id, basis, rules, review_status, .. } = r;
            if let Some(idx) = inputs.entities.lookup(&entity_id) {
                sides[idx as usize].lists.insert(list.id.clone(), (basis, rules, review_status));
            }
        }
        drop(rel);
        related.insert(list.id.clone(), (summary.restricted_persons, summary.flagged_entities));
    }
    Ok(Outcome { sides, related, scores: dir })
}

/// The as-of dates an impact follows: the `nights` newest dates with a
/// landing partition of any dataset, up to and ending with `as_of`.
pub fn nights(wh: &Warehouse, as_of: AsOf, nights: u32) -> Vec<AsOf> {
    let mut dates: BTreeSet<AsOf> =
        Dataset::ALL.iter().flat_map(|d| wh.landing_dates(*d)).filter(|d| *d < as_of).collect();
    let earlier = dates.len().saturating_sub(nights.saturating_sub(1) as usize);
    let mut out: Vec<AsOf> = std::mem::take(&mut dates).into_iter().skip(earlier).collect();
    out.push(as_of);
    out
}

/// Validates the landing zone as of `as_of` once and works out both
/// policies' outcomes on it.
async fn night(
    opts: &ImpactOptions,
    names: &Names,
    as_of: AsOf,
    book: &DecisionBook,
    store: &Store,
) -> Result<(Inputs, Outcome, Outcome), RunError> {
    let wh = &opts.warehouse;
    let contracts = Contracts::load().expect("embedded contracts are valid");
    let keep = |d: Dataset| {
        let mut cols = keep_columns(&opts.baseline, d);
        for c in keep_columns(&opts.policy, d) {
            if !cols.contains(&c) {
                cols.push(c);
            }
        }
        if d == Dataset::Registry {
            for c in ["name", "region", "entity_type"] {
                if !cols.iter().any(|x| x == c) {
                    cols.push(c.to_string());
                }
            }
        }
        cols
    };
    let seal = Seal::new();
    let (inputs, _) = tokio::task::block_in_place(|| validate_landing(wh, &contracts, as_of, &keep, false, &seal))?;
    seal.close();
    let ctx = engine::session(opts.limits)?;
    register_inputs(&ctx, &inputs)?;
    let before = outcome(opts, names, as_of, &opts.baseline, &inputs, &ctx, book, store).await?;
    let after = outcome(opts, names, as_of, &opts.policy, &inputs, &ctx, book, store).await?;
    Ok((inputs, before, after))
}

/// Compares `opts.policy` with `opts.baseline` as of `opts.as_of` (and
/// the list sizes over `opts.nights`) and writes the report; returns its
/// folder and figures. `progress` is told each night as it starts.
pub async fn impact(opts: &ImpactOptions, progress: &dyn Fn(&str)) -> Result<(PathBuf, ImpactReport), RunError> {
    let wh = &opts.warehouse;
    let store = Store::open(&wh.database())?;
    let book = DecisionBook::new(store.decisions(store.last_decision_id()?, None, None)?);
    let dates = nights(wh, opts.as_of, opts.nights.max(1));
    let names = Names::of(&opts.baseline, &opts.policy);
    let mut sizes = Vec::new();
    for d in &dates[..dates.len() - 1] {
        progress(&format!("as of {d}"));
        let (_, before, after) = night(opts, &names, *d, &book, &store).await?;
        sizes.extend(report::list_sizes(*d, &before, &after));
    }
    progress(&format!("as of {}", opts.as_of));
    let (inputs, before, after) = night(opts, &names, opts.as_of, &book, &store).await?;
    sizes.extend(report::list_sizes(opts.as_of, &before, &after));
    progress("report");
    let facts = registry_facts(&inputs);
    let ids: Vec<String> = (0..inputs.entities.len() as u32).map(|i| inputs.entities.id(i).to_string()).collect();
    let id = report::new_id(opts.as_of);
    let dir = wh.root().join("reports/impact").join(&id);
    let mut report = report::build(&id, opts, &names, &ids, &facts, &before, &after);
    report.nights = sizes;
    let shown: BTreeSet<String> = report.movers.iter().map(|m| m.entity_id.clone()).collect();
    let (mut was, mut is) = (before.reason_texts(&shown)?, after.reason_texts(&shown)?);
    for m in &mut report.movers {
        m.reasons_before = was.remove(&m.entity_id).unwrap_or_default();
        m.reasons_after = is.remove(&m.entity_id).unwrap_or_default();
    }
    report::write(wh, &dir, &report, &names, &ids, &facts, &before, &after)?;
    Ok((dir, report))
}

/// The ids of impact reports in the warehouse, newest first.
pub fn reports(wh: &Warehouse) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(wh.root().join("reports/impact"))
        .map(|d| {
            d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| report::is_id(n)).collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids.reverse();
    ids
}

/// The entities whose score, grade, reasons or memberships differ.
pub fn changed(before: &[Side], after: &[Side]) -> BTreeSet<usize> {
    before.iter().zip(after).enumerate().filter(|(_, (b, a))| b != a).map(|(i, _)| i).collect()
}
