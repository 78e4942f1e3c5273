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
use std::sync::Arc;

use std::hash::{Hash, Hasher};

use arrow::array::{Array, AsArray, RecordBatch, StringArray};
use minisign::PublicKey;

use crate::base::contract::{Contracts, Dataset};
use crate::base::engine::{self, Engine, EngineLimits};
use crate::base::ids::AsOf;
use crate::base::landing_file::Seal;
use crate::base::marts::listings::{Basis, ListingRow, ReviewStatus};
use crate::base::marts::scores::{read_reasons, ReasonRef};
use crate::base::store::{RunId, Store};
use crate::base::tables::Inputs;
use crate::base::warehouse::Warehouse;
use crate::config::policy::Policy;
use crate::run::{keep_columns, lists, register_inputs, validate_landing, RunError, ValidationMarts};
use crate::stages::joint;
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

    /// The name of a grade index, `-` when not scored.
    pub fn grade(&self, g: Option<u16>) -> &str {
        g.map(|g| self.grades[g as usize].as_str()).unwrap_or("-")
    }

    pub fn rule(&self, r: u16) -> &str {
        &self.rules[r as usize]
    }
}

/// A list membership as the report compares it: basis, rules, review status.
pub type Membership = (Basis, Vec<String>, ReviewStatus);

/// A grade index meaning "not scored".
const NO_GRADE: u16 = u16::MAX;

/// Everything one policy produced on the shared inputs, by entity index,
/// in columns (about 22 bytes an entity and 2 a reason, list members
/// apart), so that two policies at 10M entities fit beside the validated
/// tables.
pub struct Outcome {
    /// Score by entity; NaN when not scored.
    score: Vec<f64>,
    /// Grade by entity as an index into [`Names::grades`]; [`NO_GRADE`] when not scored.
    grade: Vec<u16>,
    /// A hash of each entity's reasons (rules, points, records); 0 for none.
    reasons: Vec<u64>,
    /// Entity i's reasons' rules are `rule_index[rule_start[i]..rule_start[i + 1]]`.
    rule_start: Vec<u32>,
    rule_index: Vec<u16>,
    /// By rule index ([`Names::rules`]): entities it fires on, points it deducts.
    pub tally: Vec<(u64, f64)>,
    /// By list (every list of the policy): its members by entity index.
    pub lists: BTreeMap<String, HashMap<u32, Membership>>,
    /// Per list: restricted persons and flagged entities.
    pub related: BTreeMap<String, (u64, u64)>,
    /// The scores written under this policy (for the movers' records).
    scores: tempfile::TempDir,
}

impl Outcome {
    /// The number of entities.
    pub fn len(&self) -> usize {
        self.score.len()
    }

    pub fn is_empty(&self) -> bool {
        self.score.is_empty()
    }

    pub fn score(&self, i: usize) -> Option<f64> {
        Some(self.score[i]).filter(|s| !s.is_nan())
    }

    /// The grade of entity `i` as an index into [`Names::grades`].
    pub fn grade(&self, i: usize) -> Option<u16> {
        Some(self.grade[i]).filter(|g| *g != NO_GRADE)
    }

    /// The rule indexes of entity `i`'s reasons, in the scores' order.
    pub fn rules(&self, i: usize) -> &[u16] {
        &self.rule_index[self.rule_start[i] as usize..self.rule_start[i + 1] as usize]
    }

    pub fn membership(&self, list: &str, i: usize) -> Option<&Membership> {
        self.lists.get(list).and_then(|m| m.get(&(i as u32)))
    }

    /// The lists entity `i` is a member of.
    pub fn lists_of(&self, i: usize) -> impl Iterator<Item = (&String, &Membership)> {
        self.lists.iter().filter_map(move |(l, m)| m.get(&(i as u32)).map(|x| (l, x)))
    }

    /// Whether entity `i`'s score, grade, reasons or memberships differ
    /// between `self` and `other`.
    pub fn differs(&self, other: &Outcome, i: usize) -> bool {
        self.score(i) != other.score(i)
            || self.grade[i] != other.grade[i]
            || self.reasons[i] != other.reasons[i]
            || self.lists.keys().chain(other.lists.keys()).any(|l| self.membership(l, i) != other.membership(l, i))
    }

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

/// The registry columns the report groups by, written by validation.
const FACTS: [&str; 4] = ["entity_id", "name", "entity_type", "region"];
const FACTS_FILE: &str = "registry-facts.parquet";

/// A night's validated inputs, and the registry columns validation wrote
/// beside them (the report reads names, regions and types there, at the
/// end, instead of holding them through both policies' scoring).
pub struct Validated {
    inputs: Inputs,
    registry: tempfile::TempDir,
}

/// Registry facts the report groups by, as columns of the validated
/// registry (not copied).
pub struct Facts {
    name: StringArray,
    region: StringArray,
    entity_type: StringArray,
}

impl Facts {
    /// Name, region and type of every entity, by entity index, from the
    /// registry columns validation wrote (its rows are the accepted
    /// entities in id order, as the entity index numbers them).
    pub fn of(v: &Validated) -> Result<Facts, RunError> {
        let unreadable = |source| RunError::Parquet { what: "reading the impact's registry columns".into(), source };
        let file = v.registry.path().join(FACTS_FILE);
        let batches = crate::base::parquet_io::read_parquet(&file).map_err(unreadable)?;
        let all = match batches.first() {
            Some(first) => {
                arrow::compute::concat_batches(&first.schema(), &batches).map_err(|e| unreadable(e.into()))?
            }
            // No entity: every column is empty (see `text_column`).
            None => RecordBatch::new_empty(Arc::new(arrow::datatypes::Schema::empty())),
        };
        let entities = &v.inputs.entities;
        let ids = text_column(&all, "entity_id");
        let aligned = ids.len() == entities.len()
            && (0..ids.len())
                .step_by(997)
                .chain(ids.len().checked_sub(1))
                .all(|r| entities.lookup(ids.value(r)) == Some(r as u32));
        if !aligned {
            return Err(unreadable(parquet::errors::ParquetError::General(format!(
                "{}: {} rows, not the {} accepted entities in id order",
                file.display(),
                ids.len(),
                entities.len()
            ))));
        }
        Ok(Facts {
            name: text_column(&all, "name"),
            region: text_column(&all, "region"),
            entity_type: text_column(&all, "entity_type"),
        })
    }

    pub fn name(&self, i: usize) -> &str {
        text_at(&self.name, i)
    }

    pub fn region(&self, i: usize) -> &str {
        text_at(&self.region, i)
    }

    pub fn entity_type(&self, i: usize) -> &str {
        text_at(&self.entity_type, i)
    }
}

fn text_at(c: &StringArray, i: usize) -> &str {
    if c.is_valid(i) {
        c.value(i)
    } else {
        ""
    }
}

/// The registry's column `name` as text (enumerated columns are
/// dictionaries and are cast; text columns are shared, not copied).
fn text_column(batch: &RecordBatch, name: &str) -> StringArray {
    let Ok(i) = batch.schema().index_of(name) else { return StringArray::new_null(batch.num_rows()) };
    match arrow::compute::cast(batch.column(i), &arrow::datatypes::DataType::Utf8) {
        Ok(a) => a.as_string::<i32>().clone(),
        Err(_) => StringArray::new_null(batch.num_rows()),
    }
}

/// Scores and reasons of every entity under `policy` (its list
/// memberships come later, from [`with_lists`]), with what the lists need.
async fn scored(
    names: &Names,
    as_of: AsOf,
    policy: &Policy,
    inputs: &Inputs,
    engine: &Engine,
) -> Result<(Outcome, score::Scored), RunError> {
    let dir = tempfile::tempdir().map_err(|source| RunError::Io { what: "a folder for the scores".into(), source })?;
    let n = inputs.entities.len();
    // Each entity's reasons as scoring writes them: a hash of rules,
    // points and records, its rules, and the tallies per rule.
    let mut reasons = vec![0u64; n];
    let mut pairs: Vec<(u32, u16)> = Vec::new();
    let mut tally = vec![(0u64, 0.0f64); names.rules.len()];
    let mut visit = |idx: u32, found: &[ReasonRef]| {
        if found.is_empty() {
            return;
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for r in found {
            let rule = Names::index(&names.rules, r.rule_id);
            (rule, r.points.to_bits(), r.records.len() as i32).hash(&mut h);
            for record in &r.records {
                record.hash(&mut h);
            }
            pairs.push((idx, rule));
            tally[rule as usize].0 += 1;
            tally[rule as usize].1 += r.points;
        }
        reasons[idx as usize] = h.finish().max(1);
    };
    let scored = score::score_visiting(engine, policy, as_of, &inputs.entities, dir.path(), &mut visit).await?;
    engine::return_free_memory();
    // The scores stay in `scored` until the lists are drawn (see `with_lists`).
    let score = Vec::new();
    let mut grade = vec![NO_GRADE; n];
    for (g, &s) in grade.iter_mut().zip(&scored.grades.grade) {
        if s != NOT_SCORED {
            *g = policy.grades.get(s as usize).map(|p| Names::index(&names.grades, &p.grade)).unwrap_or(NO_GRADE);
        }
    }
    // `pairs` is in entity order: scoring visits entities by index.
    let mut rule_start = Vec::with_capacity(n + 1);
    let mut at = 0;
    for i in 0..n as u32 {
        rule_start.push(at as u32);
        while at < pairs.len() && pairs[at].0 == i {
            at += 1;
        }
    }
    rule_start.push(at as u32);
    let rule_index: Vec<u16> = pairs.into_iter().map(|p| p.1).collect();
    let lists = BTreeMap::new();
    let related = BTreeMap::new();
    Ok((Outcome { score, grade, reasons, rule_start, rule_index, tally, lists, related, scores: dir }, scored))
}

/// Adds the list memberships under `policy` to its scored outcome.
#[allow(clippy::too_many_arguments)]
fn with_lists(
    opts: &ImpactOptions,
    as_of: AsOf,
    policy: &Policy,
    (mut o, mut scored): (Outcome, score::Scored),
    night: &Night<'_>,
    book: &DecisionBook,
    store: &Store,
) -> Result<Outcome, RunError> {
    let (wh, inputs) = (&opts.warehouse, night.inputs);
    let tables = lists::Tables { policy, as_of: opts.as_of, inputs, grades: &scored.grades, graph: night.graph, book };
    for list in &policy.lists {
        let in_force = publish::in_force(wh, &list.id, as_of, opts.public_key.as_ref())?;
        let stretch_ends = match &in_force {
            Some(p) => {
                publish::stretch_ends(wh, &list.id, p.id, &|run| store.run_decisions(RunId(run)).ok().flatten())?
            }
            None => HashMap::new(),
        };
        let (rows, rel, summary) = lists::members(&tables, list, in_force.as_ref(), &stretch_ends);
        drop(rel);
        let mut of_list = HashMap::new();
        for r in rows {
            let ListingRow { entity_id, basis, rules, review_status, .. } = r;
            if let Some(idx) = inputs.entities.lookup(&entity_id) {
                of_list.insert(idx, (basis, rules, review_status));
            }
        }
        o.lists.insert(list.id.clone(), of_list);
        o.related.insert(list.id.clone(), (summary.restricted_persons, summary.flagged_entities));
    }
    o.score = std::mem::take(&mut scored.score);
    for (s, g) in o.score.iter_mut().zip(&scored.grades.grade) {
        if *g == NOT_SCORED {
            *s = f64::NAN;
        }
    }
    Ok(o)
}

/// What both policies share on one night: the validated inputs and the
/// ownership graph.
struct Night<'a> {
    inputs: &'a Inputs,
    graph: &'a joint::graph::EntityGraph,
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
) -> Result<(Validated, Outcome, Outcome), RunError> {
    let wh = &opts.warehouse;
    let contracts = Contracts::load().expect("embedded contracts are valid");
    let keep = |d: Dataset| {
        let mut cols = keep_columns(&opts.baseline, d);
        for c in keep_columns(&opts.policy, d) {
            if !cols.contains(&c) {
                cols.push(c);
            }
        }
        cols
    };
    let seal = Seal::new();
    let registry_mart = tempfile::tempdir()
        .map_err(|source| RunError::Io { what: "a folder for the impact's registry columns".into(), source })?;
    let facts_file = registry_mart.path().join(FACTS_FILE);
    let marts = ValidationMarts::RegistryColumns(&facts_file, &FACTS);
    let (mut inputs, _) = tokio::task::block_in_place(|| validate_landing(wh, &contracts, as_of, &keep, marts, &seal))?;
    seal.close();
    engine::return_free_memory();
    // Both policies are scored first (the engine scans the events from the
    // files validation wrote), then the engine is let go and the graph is
    // built, so that the engine's working memory and the graph are never
    // held together (as in a nightly run).
    let engine = Engine::local(opts.limits)?;
    register_inputs(&engine, &inputs)?;
    let before = scored(names, as_of, &opts.baseline, &inputs, &engine).await?;
    let after = scored(names, as_of, &opts.policy, &inputs, &engine).await?;
    drop(engine);
    engine::return_free_memory();
    let graph = joint::build_graph(std::mem::take(&mut inputs.parents), std::mem::take(&mut inputs.shares));
    let shared = Night { inputs: &inputs, graph: &graph };
    let before = with_lists(opts, as_of, &opts.baseline, before, &shared, book, store)?;
    let after = with_lists(opts, as_of, &opts.policy, after, &shared, book, store)?;
    drop(graph);
    engine::return_free_memory();
    Ok((Validated { inputs, registry: registry_mart }, before, after))
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
    let (validated, before, after) = night(opts, &names, opts.as_of, &book, &store).await?;
    let inputs = &validated.inputs;
    sizes.extend(report::list_sizes(opts.as_of, &before, &after));
    progress("report");
    let facts = Facts::of(&validated)?;
    let ids = |i: usize| inputs.entities.id(i as u32).to_string();
    let changed = changed(&before, &after);
    let id = report::new_id(opts.as_of);
    let dir = wh.root().join("reports/impact").join(&id);
    let mut report = report::build(&id, opts, &names, &ids, &facts, &before, &after, &changed);
    report.nights = sizes;
    let shown: BTreeSet<String> = report.movers.iter().map(|m| m.entity_id.clone()).collect();
    let (mut was, mut is) = (before.reason_texts(&shown)?, after.reason_texts(&shown)?);
    for m in &mut report.movers {
        m.reasons_before = was.remove(&m.entity_id).unwrap_or_default();
        m.reasons_after = is.remove(&m.entity_id).unwrap_or_default();
    }
    report::write(wh, &dir, &report, &names, &ids, &facts, &before, &after, &changed)?;
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

/// The entities whose score, grade, reasons or memberships differ, in index order.
pub fn changed(before: &Outcome, after: &Outcome) -> Vec<u32> {
    (0..before.len()).filter(|i| before.differs(after, *i)).map(|i| i as u32).collect()
}
