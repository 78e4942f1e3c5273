//! Scoring (policy.md, steps 1 to 8): every entity in scope gets a score,
//! a band grade, a final grade and its reasons with the records behind
//! them. Steps 1 to 7 are DataFusion plans ([`plan`]); step 8 orders each
//! entity's rule hits ([`reasons`]) while the `scores` mart is written in
//! entity-id order.

mod grade;
mod plan;
mod reasons;
mod rows;
mod slices;

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::RecordBatch;
use datafusion::error::DataFusionError;
use rayon::prelude::*;

use crate::base::contract::Dataset;
use crate::base::engine::memory_hint;
use crate::base::engine::planning::Planned;
use crate::base::engine::Engine;
use crate::base::entities::EntityIndex;
use crate::base::error::{Classify, ErrorKind};
use crate::base::ids::AsOf;
use crate::base::marts::scores::{scores_schema, ReasonRef};
use crate::base::parquet_io::ParquetSink;
use crate::config::policy::Policy;
use grade::grade_entities;
pub use grade::NOT_SCORED;
use rows::{Chunk, RowsOf, SliceEvidence, Tally};

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
    let evidence = evidence_slices(engine, policy, as_of, n, chunk * slice, scratch.path()).await?;
    phases.done("evidence to slices");
    let deductions = match &evidence {
        Some(ev) if ev.rows > 0 => {
            engine.register_arrow_files("evidence", ev.schema.clone(), &ev.folder)?;
            plan::deductions(ctx.table("evidence").await?, policy)?.collect().await?
        }
        _ => vec![],
    };
    phases.done("deductions");
    let scores = grade_entities(engine, policy, &deductions, n).await?;
    ctx.deregister_table("evidence")?;
    let rows = RowsOf::new(policy, as_of, entities, &scores, &deductions, scores_schema(), chunk, visit.is_some());
    phases.done("grades and grouping");

    let (to_writer, writer) = write_scores(out_dir, rows.schema.clone())?;
    let mut tally = Tally::new(policy.grades.len());
    let window = 2 * rayon::current_num_threads().max(1);
    let slices = evidence.as_ref().map_or(1, |ev| ev.count());
    'slices: for s in 0..slices {
        let (range, batches) = match &evidence {
            Some(ev) => (ev.range(s), ev.read(s)?),
            None => (0..n, Vec::new()),
        };
        let slice = SliceEvidence::new(&batches, range.clone());
        // Entities in chunks of `chunk` indexes: each chunk's reasons and
        // batch are built on the rayon pool, a window of chunks at a time,
        // then visited, counted and written in index order.
        let chunks = range.start / chunk..range.end.div_ceil(chunk);
        for first in chunks.clone().step_by(window) {
            let built: Vec<Chunk> =
                (first..(first + window).min(chunks.end)).into_par_iter().map(|c| rows.build(c, &slice)).collect();
            for chunk in built {
                if let Some(visit) = visit.as_mut() {
                    for (i, reasons) in &chunk.visits {
                        visit(*i, reasons);
                    }
                }
                if let Some(b) = tally.add(chunk) {
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

    tally.rank_reasons();
    let Tally { grades: by_grade, reasons, reason_rules } = tally;
    Ok(Scored {
        grades: Grades { grade: scores.grade, reason_rules },
        score: scores.score,
        summary: ScoreSummary {
            entities_scored: scored_rows,
            by_grade: policy.grades.iter().map(|b| b.grade.clone()).zip(by_grade).collect(),
            reasons,
        },
    })
}

/// The evidence rows of every rule (policy.md's records behind each
/// reason), written to `scratch` a slice of `per_slice` entity indexes per
/// file; none when the policy has no rule.
async fn evidence_slices(
    engine: &Engine,
    policy: &Policy,
    as_of: AsOf,
    n: usize,
    per_slice: usize,
    scratch: &Path,
) -> Result<Option<slices::Slices>, ScoreError> {
    let ctx = engine.ctx();
    // On a cluster the repairs' anti join is hashed rather than
    // sort-merged (which sorted every violation in a rule's window): its
    // build side is the repairs, at most their rows.
    let _planned = match engine.is_local() {
        true => None,
        false => {
            let repairs = ctx.table(plan::REPAIRS).await?.count().await? as u64;
            Some(Planned::set(ctx, |now| now.cluster_hash_joins(repairs)))
        }
    };
    match plan::evidence(ctx, policy, as_of).await? {
        Some(ev) => {
            let folder = scratch.join("evidence");
            Ok(Some(slices::Slices::write(ev.execute_stream().await?, n, per_slice, &folder).await?))
        }
        None => Ok(None),
    }
}

/// The scores mart's writer, on a thread of its own (batches are encoded
/// while the next ones are built): the batches sent go to `part-0.parquet`
/// in `out_dir`, and the thread gives how many rows it wrote once the
/// sender is dropped.
#[allow(clippy::type_complexity)]
fn write_scores(
    out_dir: &Path,
    schema: arrow::datatypes::SchemaRef,
) -> Result<
    (std::sync::mpsc::SyncSender<RecordBatch>, std::thread::JoinHandle<Result<u64, parquet::errors::ParquetError>>),
    ScoreError,
> {
    // Entity and record ids hardly repeat: no dictionary for them.
    let unique = ["entity_id", "reasons.list.item.records.list.item"];
    let mut sink = ParquetSink::for_lookups(&out_dir.join("part-0.parquet"), schema, "entity_id", &unique)?;
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
    Ok((to_writer, writer))
}

#[cfg(test)]
mod tests;
