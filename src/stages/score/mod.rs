//! Scoring (policy.md, steps 1 to 8): every entity in scope gets a score,
//! a band grade, a final grade and its reasons with the records behind
//! them. Steps 1 to 7 are DataFusion plans ([`plan`]); step 8 orders each
//! entity's rule hits ([`reasons`]) while the `scores` mart is written in
//! entity-id order.

mod plan;
mod reasons;
mod slices;

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, Int64Type, UInt16Type, UInt32Type};
use datafusion::error::DataFusionError;
use futures::StreamExt;
use rayon::prelude::*;

use crate::base::contract::Dataset;
use crate::base::engine::memory_hint;
use crate::base::engine::planning::Planned;
use crate::base::engine::Engine;
use crate::base::entities::EntityIndex;
use crate::base::error::{Classify, ErrorKind};
use crate::base::ids::AsOf;
use crate::base::marts::scores::{scores_schema, ReasonRef, ScoresBatch};
use crate::base::parquet_io::ParquetSink;
use crate::config::policy::Policy;
use reasons::RuleHit;

/// Scoring failed in the engine or while writing.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error("scoring plan failed: {0}{hint}", hint = memory_hint(.0))]
    Engine(#[from] DataFusionError),
    #[error("writing the scores mart: {0}")]
    Write(#[from] parquet::errors::ParquetError),
    #[error("{what}: {source}")]
    Scratch { what: String, source: arrow::error::ArrowError },
}

impl Classify for ScoreError {
    fn kind(&self) -> ErrorKind {
        match self {
            ScoreError::Engine(e) => e.kind(),
            ScoreError::Write(e) => e.kind(),
            ScoreError::Scratch { source, .. } => source.kind(),
        }
    }
}

/// The validated datasets scoring's plans read, each registered in the
/// engine under its name (the holdings are the graph's alone: a cluster
/// run does not write them out for the executors).
pub const TABLES: [Dataset; 4] = [Dataset::Registry, Dataset::Violations, Dataset::Complaints, Dataset::Repairs];

/// Grade of an entity outside the scope.
pub const NOT_SCORED: u8 = u8::MAX;

/// What later stages need of the scores, by dense entity index.
pub struct Scored {
    /// What the lists read of the scores.
    pub grades: Grades,
    /// Score by dense index, NaN out of scope: what a policy's impact
    /// compares (a run lets it go once the scores mart is written).
    pub score: Vec<f64>,
    pub summary: ScoreSummary,
}

/// Each entity's final grade and, for those of a listed grade, the rules
/// of its reasons: all the lists step reads of scoring.
pub struct Grades {
    /// Final grade as a band index, or [`NOT_SCORED`].
    pub grade: Vec<u8>,
    /// Rule ids of each entity's reasons (for reject decisions and removal
    /// reasons), for entities of a listed grade with any.
    pub reason_rules: BTreeMap<u32, Vec<String>>,
}

impl Grades {
    pub fn in_scope(&self, idx: u32) -> bool {
        self.grade[idx as usize] != NOT_SCORED
    }
}

/// Counts for the run summary.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScoreSummary {
    pub entities_scored: u64,
    /// Entities by final grade, best grade first.
    pub by_grade: Vec<(String, u64)>,
    /// How many entities carry each reason, most frequent first.
    pub reasons: Vec<(String, u64)>,
}

/// Entities per written batch.
const BATCH_ENTITIES: usize = 128 * 1024;

/// Batches of entities per slice of evidence held at a time (4M entities).
const SLICE_BATCHES: usize = 32;

/// Scores every entity in scope and writes `scores` as `part-0.parquet`
/// into `out_dir` (a staging folder).
pub async fn score(
    engine: &Engine,
    policy: &Policy,
    as_of: AsOf,
    entities: &EntityIndex,
    out_dir: &Path,
) -> Result<Scored, ScoreError> {
    score_in_chunks(engine, policy, as_of, entities, out_dir, None, BATCH_ENTITIES, SLICE_BATCHES).await
}

/// [`score`], handing each scored entity's index and reasons to `visit`
/// as they are written, in entity index order (what policy impact
/// compares, without reading the scores back).
pub async fn score_visiting(
    engine: &Engine,
    policy: &Policy,
    as_of: AsOf,
    entities: &EntityIndex,
    out_dir: &Path,
    visit: &mut (dyn FnMut(u32, &[ReasonRef]) + Send),
) -> Result<Scored, ScoreError> {
    score_in_chunks(engine, policy, as_of, entities, out_dir, Some(visit), BATCH_ENTITIES, SLICE_BATCHES).await
}

/// What sees each scored entity's index and reasons, in index order.
type Visit<'v> = dyn FnMut(u32, &[ReasonRef]) + Send + 'v;

/// [`score_visiting`], its reasons built `chunk` entity indexes at a time,
/// from the evidence of `slice` chunks at a time. Without a `visit`, each
/// entity's reasons are dropped where they were built, once written.
#[allow(clippy::too_many_arguments)]
async fn score_in_chunks(
    engine: &Engine,
    policy: &Policy,
    as_of: AsOf,
    entities: &EntityIndex,
    out_dir: &Path,
    mut visit: Option<&mut Visit<'_>>,
    chunk: usize,
    slice: usize,
) -> Result<Scored, ScoreError> {
    let ctx = engine.ctx();
    let n = entities.len();
    let mut phases = crate::base::telemetry::Phases::start("score");
    // The evidence rows, once, to disk a slice of entities per file: their
    // sums are the deductions, their record ids the reasons' records.
    let scratch = engine
        .scratch_near(out_dir)
        .map_err(|e| ScoreError::Scratch { what: "a folder for the evidence".into(), source: e.into() })?;
    // On a cluster the repairs' anti join is hashed rather than
    // sort-merged (which sorted every violation in a rule's window): its
    // build side is the repairs, at most their rows.
    let planned = match engine.is_local() {
        true => None,
        false => {
            let repairs = ctx.table(plan::REPAIRS).await?.count().await? as u64;
            Some(Planned::set(ctx, |now| now.cluster_hash_joins(repairs)))
        }
    };
    let evidence = match plan::evidence(ctx, policy, as_of).await? {
        Some(ev) => {
            let folder = scratch.path().join("evidence");
            Some(slices::Slices::write(ev.execute_stream().await?, n, chunk * slice, &folder).await?)
        }
        None => None,
    };
    drop(planned);
    phases.done("evidence to slices");
    let deductions = match &evidence {
        Some(ev) if ev.rows > 0 => {
            engine.register_arrow_files("evidence", ev.schema.clone(), &ev.folder)?;
            plan::deductions(ctx.table("evidence").await?, policy)?.collect().await?
        }
        _ => vec![],
    };
    phases.done("deductions");
    let Scores { score, band, grade } = grade_entities(engine, policy, &deductions, n).await?;
    ctx.deregister_table("evidence")?;

    // Deduction rows grouped by entity (a counting sort on entity_idx).
    let (ded_starts, ded_rows) = group_by_entity(&deductions, 0..n);
    phases.done("grades and grouping");
    let rule_ids = plan::rule_ids(policy);
    let first_direct = policy.rules.len();
    // The columns, once per batch: no allocation per value.
    let ded_cols: Vec<(&[u16], &[f64])> = deductions
        .iter()
        .map(|b| {
            (
                b.column(1).as_primitive::<UInt16Type>().values().as_ref(),
                b.column(2).as_primitive::<Float64Type>().values().as_ref(),
            )
        })
        .collect();
    // Reason rule ids are kept for the entities a list may hold (reject decisions).
    let listed_grade: Vec<bool> =
        (0..policy.grades.len()).map(|g| policy.lists.iter().any(|l| l.grades.contains(&g))).collect();

    let schema = scores_schema();
    // Entity and record ids hardly repeat: no dictionary for them.
    let unique = ["entity_id", "reasons.list.item.records.list.item"];
    let mut sink = ParquetSink::for_lookups(&out_dir.join("part-0.parquet"), schema.clone(), "entity_id", &unique)?;
    // Batches are encoded on a second thread while the next ones are built.
    let (to_writer, batches_in) = std::sync::mpsc::sync_channel::<RecordBatch>(2);
    let writer = std::thread::spawn(move || -> Result<u64, parquet::errors::ParquetError> {
        for b in batches_in {
            sink.write(&b)?;
        }
        // Flushed to disk in the background: a run commits `out_dir`, its
        // staging folder, once the flush is done (a dry run's temporary
        // folder is never committed, and nothing waits for its flush).
        sink.finish_staged()
    });
    let mut summary_grades = vec![0u64; policy.grades.len()];
    let mut summary_reasons: Vec<(String, u64)> = Vec::new();
    let mut reason_rules = BTreeMap::new();
    let window = 2 * rayon::current_num_threads().max(1);
    let visiting = visit.is_some();
    let slices = evidence.as_ref().map_or(1, |ev| ev.count());
    'slices: for s in 0..slices {
        // This slice's evidence rows, grouped by entity; the columns once
        // per batch: no allocation per value.
        let (range, batches) = match &evidence {
            Some(ev) => (ev.range(s), ev.read(s)?),
            None => (0..n, Vec::new()),
        };
        let (ev_starts, ev_rows) = group_by_entity(&batches, range.clone());
        let ev_cols: Vec<(&[u16], &arrow::array::StringArray)> = batches
            .iter()
            .map(|b| (b.column(1).as_primitive::<UInt16Type>().values().as_ref(), b.column(2).as_string::<i32>()))
            .collect();
        // Entities in chunks of `chunk` indexes: each chunk's reasons and
        // batch are built on the rayon pool, a window of chunks at a time,
        // then visited, counted and written in index order.
        let build = |c: usize| {
            let mut part = Chunk {
                batch: None,
                grades: vec![0u64; policy.grades.len()],
                reasons: Vec::new(),
                reason_rules: Vec::new(),
                visits: Vec::new(),
            };
            let mut out = ScoresBatch::new(&policy.id, &policy.version, as_of);
            // An entity's evidence (rule, record id), read once from the
            // slice's batches and then filtered per rule where it is cached.
            let mut evidence: Vec<(u16, &str)> = Vec::new();
            for i in c * chunk..((c + 1) * chunk).min(n) {
                if grade[i] == NOT_SCORED {
                    continue;
                }
                let at = i - range.start;
                evidence.clear();
                evidence.extend(ev_rows[ev_starts[at] as usize..ev_starts[at + 1] as usize].iter().map(|(eb, er)| {
                    let (rules, records) = ev_cols[*eb as usize];
                    (rules[*er as usize], records.value(*er as usize))
                }));
                let hits: Vec<RuleHit> = ded_rows[ded_starts[i] as usize..ded_starts[i + 1] as usize]
                    .iter()
                    .map(|(bi, r)| {
                        let (rules, ded) = ded_cols[*bi as usize];
                        let no = rules[*r as usize];
                        let records = evidence.iter().filter(|(rule, _)| *rule == no).map(|(_, id)| *id).collect();
                        RuleHit {
                            rule_id: rule_ids[no as usize],
                            direct: no as usize >= first_direct,
                            ded: ded[*r as usize],
                            records,
                        }
                    })
                    .collect();
                let reasons = reasons::reasons(hits);
                part.grades[grade[i] as usize] += 1;
                for r in &reasons {
                    match part.reasons.iter_mut().find(|(id, _)| *id == r.rule_id) {
                        Some((_, n)) => *n += 1,
                        None => part.reasons.push((r.rule_id, 1)),
                    }
                }
                if !reasons.is_empty() && listed_grade[grade[i] as usize] {
                    part.reason_rules.push((i as u32, reasons.iter().map(|r| r.rule_id.to_string()).collect()));
                }
                let id = entities.id(i as u32).to_bytes();
                out.push(
                    std::str::from_utf8(&id).expect("ids are ASCII"),
                    score[i],
                    policy.grade_name(band[i] as usize),
                    policy.grade_name(grade[i] as usize),
                    &reasons,
                );
                if visiting {
                    part.visits.push((i as u32, reasons));
                }
            }
            if !out.is_empty() {
                part.batch = Some(out.finish(&schema));
            }
            part
        };
        let chunks = range.start / chunk..range.end.div_ceil(chunk);
        for first in chunks.clone().step_by(window) {
            let built: Vec<Chunk> = (first..(first + window).min(chunks.end)).into_par_iter().map(&build).collect();
            for chunk in built {
                if let Some(visit) = visit.as_mut() {
                    for (i, reasons) in &chunk.visits {
                        visit(*i, reasons);
                    }
                }
                for (g, k) in summary_grades.iter_mut().zip(&chunk.grades) {
                    *g += k;
                }
                for (id, k) in chunk.reasons {
                    match summary_reasons.iter_mut().find(|(x, _)| x == id) {
                        Some((_, n)) => *n += k,
                        None => summary_reasons.push((id.to_string(), k)),
                    }
                }
                reason_rules.extend(chunk.reason_rules);
                if let Some(b) = chunk.batch {
                    if to_writer.send(b).is_err() {
                        break 'slices;
                    }
                }
            }
        }
    }
    drop(to_writer);
    let scored_rows = writer.join().expect("the writer thread does not panic")?;
    phases.done("reasons and mart");

    let mut reasons_ranked = summary_reasons;
    reasons_ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(Scored {
        grades: Grades { grade, reason_rules },
        score,
        summary: ScoreSummary {
            entities_scored: scored_rows,
            by_grade: policy.grades.iter().map(|b| b.grade.clone()).zip(summary_grades).collect(),
            reasons: reasons_ranked,
        },
    })
}

/// Each entity's score, band and grade by index ([`NOT_SCORED`] and NaN
/// for an entity out of the policy's scope).
struct Scores {
    score: Vec<f64>,
    band: Vec<u8>,
    grade: Vec<u8>,
}

/// Scores the `n` entities: every entity in scope with nothing deducted,
/// then those in scope with `deductions` (policy.md's steps 5–7) by what
/// was deducted.
async fn grade_entities(
    engine: &Engine,
    policy: &Policy,
    deductions: &[RecordBatch],
    n: usize,
) -> Result<Scores, ScoreError> {
    let ctx = engine.ctx();
    let mut grade = vec![NOT_SCORED; n];
    let mut band = vec![NOT_SCORED; n];
    let mut score = vec![f64::NAN; n];
    let plain = plan::plain_score(ctx, policy)?.collect().await?;
    let (plain_score, plain_band, plain_grade) = Graded::of(&plain[0]).row(0);
    let mut scope = plan::in_scope(ctx, policy).await?.execute_stream().await?;
    while let Some(b) = scope.next().await {
        for i in b?.column(0).as_primitive::<UInt32Type>().values() {
            let i = *i as usize;
            (score[i], band[i], grade[i]) = (plain_score, plain_band, plain_grade);
        }
    }
    if let Some(b) = deductions.first() {
        engine.register("deductions", b.schema(), deductions)?;
        let mut per_entity = plan::entity_scores(policy, ctx.table("deductions").await?)?.execute_stream().await?;
        while let Some(b) = per_entity.next().await {
            let b = b?;
            let graded = Graded::of(&b);
            for r in 0..b.num_rows() {
                let i = graded.entity.value(r) as usize;
                if grade[i] != NOT_SCORED {
                    (score[i], band[i], grade[i]) = graded.row(r);
                }
            }
        }
        ctx.deregister_table("deductions")?;
    }
    Ok(Scores { score, band, grade })
}

/// The columns of a batch of [`plan::entity_scores`] or
/// [`plan::plain_score`], taken once per batch.
struct Graded<'a> {
    entity: &'a arrow::array::UInt32Array,
    score: &'a arrow::array::Float64Array,
    band: &'a arrow::array::Int64Array,
    grade: &'a arrow::array::Int64Array,
}

impl<'a> Graded<'a> {
    fn of(b: &'a RecordBatch) -> Graded<'a> {
        Graded {
            entity: b.column(0).as_primitive::<UInt32Type>(),
            score: b.column(1).as_primitive::<Float64Type>(),
            band: b.column(2).as_primitive::<Int64Type>(),
            grade: b.column(3).as_primitive::<Int64Type>(),
        }
    }

    /// Row `r`'s score, band and grade.
    fn row(&self, r: usize) -> (f64, u8, u8) {
        (self.score.value(r), self.band.value(r) as u8, self.grade.value(r) as u8)
    }
}

/// What scoring one chunk of entities gives, to be taken in index order.
struct Chunk<'a> {
    batch: Option<RecordBatch>,
    /// Entities by final grade.
    grades: Vec<u64>,
    /// Entities carrying each reason.
    reasons: Vec<(&'a str, u64)>,
    /// Reason rule ids of the entities a list may hold.
    reason_rules: Vec<(u32, Vec<String>)>,
    /// Each scored entity's reasons, for the visitor.
    visits: Vec<(u32, Vec<ReasonRef<'a>>)>,
}

/// Rows of `batches` (first column `entity_idx`, every index in
/// `entities`) grouped by entity: the rows of entity `entities.start + e`
/// are `rows[starts[e]..starts[e + 1]]` as (batch, row).
fn group_by_entity(batches: &[RecordBatch], entities: std::ops::Range<usize>) -> (Vec<u32>, Vec<(u32, u32)>) {
    let (first, n) = (entities.start, entities.len());
    let mut starts = vec![0u32; n + 1];
    for b in batches {
        for v in b.column(0).as_primitive::<UInt32Type>().values() {
            starts[*v as usize - first + 1] += 1;
        }
    }
    for i in 0..n {
        starts[i + 1] += starts[i];
    }
    let mut fill = starts.clone();
    let mut rows = vec![(0u32, 0u32); starts[n] as usize];
    for (bi, b) in batches.iter().enumerate() {
        for (r, v) in b.column(0).as_primitive::<UInt32Type>().values().iter().enumerate() {
            let e = *v as usize - first;
            rows[fill[e] as usize] = (bi as u32, r as u32);
            fill[e] += 1;
        }
    }
    (starts, rows)
}

#[cfg(test)]
mod tests;
