//! Steps 5 to 7 of policy.md applied by index: each entity's score, its
//! band grade and its final grade, from the plans' scores of the entities
//! with deductions and the one score of those in scope with none.

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, Int64Type, UInt32Type};
use futures::StreamExt;

use super::{plan, ScoreError};
use crate::base::engine::Engine;
use crate::config::policy::Policy;

/// Grade of an entity outside the scope.
pub const NOT_SCORED: u8 = u8::MAX;

/// Each entity's score, band and grade by index ([`NOT_SCORED`] and NaN
/// for an entity out of the policy's scope).
pub(super) struct Scores {
    pub(super) score: Vec<f64>,
    pub(super) band: Vec<u8>,
    pub(super) grade: Vec<u8>,
}

/// Scores the `n` entities: every entity in scope with nothing deducted,
/// then those in scope with `deductions` (policy.md's steps 5–7) by what
/// was deducted.
pub(super) async fn grade_entities(
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
