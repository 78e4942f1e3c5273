//! The scoring plans, steps 1 to 7 of policy.md, as DataFusion plans over
//! the run's registered tables. Each function below names the spec step it
//! implements; read them side by side with policy.md "Semantics".
//!
//! Tables read: `registry` (entity_idx + scope columns), `violations`,
//! `complaints` (entity_idx, record id, event date, predicate columns) and
//! `repairs` (entity_idx, case_id, approved_on).

use arrow::datatypes::DataType;
use datafusion::common::JoinType;
use datafusion::error::Result as DfResult;
use datafusion::functions::expr_fn::{coalesce, greatest, least};
use datafusion::functions_aggregate::expr_fn::{max, sum};
use datafusion::logical_expr::{cast, col, lit, when, Expr, ExprFunctionExt};
use datafusion::prelude::{DataFrame, SessionContext};

use crate::base::engine::{credit_round, credit_weight};
use crate::base::ids::AsOf;
use crate::config::policy::{EventDataset, Policy};

/// Registered table names.
pub(super) const REGISTRY: &str = "registry";
pub(super) const VIOLATIONS: &str = "violations";
pub(super) const COMPLAINTS: &str = "complaints";
pub(super) const REPAIRS: &str = "repairs";
pub(super) const ENTITY_IDX: &str = crate::base::tables::ENTITY_IDX;

/// `CASE WHEN c1 THEN v1 WHEN c2 THEN v2 ... ELSE otherwise END`.
fn searched_case(arms: Vec<(Expr, Expr)>, otherwise: Expr) -> DfResult<Expr> {
    let mut arms = arms.into_iter();
    let Some((c, v)) = arms.next() else {
        return Ok(otherwise);
    };
    let mut builder = when(c, v);
    for (c, v) in arms {
        builder = builder.when(c, v);
    }
    builder.otherwise(otherwise)
}

/// The entities in scope: `entity_idx` of every registry row for which the
/// policy's scope is true (every row without a scope).
pub(super) async fn in_scope(ctx: &SessionContext, policy: &Policy) -> DfResult<DataFrame> {
    let registry = ctx.table(REGISTRY).await?;
    let registry = match &policy.scope {
        Some(p) => registry.filter(p.to_expr())?,
        None => registry,
    };
    registry.select(vec![col(ENTITY_IDX)])
}

/// Step 1: the violations that count, without those a repair of the same
/// entity and case approved on or before D took away. Written as the
/// repairs' right anti join so that the hash table is built from the few
/// repairs: built from the violations it held every one of them (3 GiB at
/// 50M entities), and a join's build side cannot spill.
async fn counted_violations(ctx: &SessionContext, as_of: AsOf) -> DfResult<DataFrame> {
    let repaired = ctx
        .table(REPAIRS)
        .await?
        .filter(col("approved_on").lt_eq(lit(date(as_of))))?
        .select(vec![col(ENTITY_IDX).alias("r_entity"), col("case_id").alias("r_case")])?;
    repaired.join(
        ctx.table(VIOLATIONS).await?,
        JoinType::RightAnti,
        &["r_entity", "r_case"],
        &[ENTITY_IDX, "case_id"],
        None,
    )
}

fn date(as_of: AsOf) -> datafusion::common::ScalarValue {
    datafusion::common::ScalarValue::Date32(Some(as_of.days_since_epoch()))
}

/// Step 2: a record's age `D - event_date` in whole days.
fn age(dataset: EventDataset, as_of: AsOf) -> Expr {
    lit(as_of.days_since_epoch() as i64) - cast(cast(col(dataset.date_column()), DataType::Int32), DataType::Int64)
}

/// Step 2: `0 <= age < window_days`.
fn in_window(dataset: EventDataset, as_of: AsOf, window_days: i64) -> Expr {
    age(dataset, as_of).gt_eq(lit(0i64)).and(age(dataset, as_of).lt(lit(window_days)))
}

/// Rules are numbered in the plans: the score rules in policy order, then
/// the direct-grade rules (`rule_no`, a UInt16).
pub(super) fn rule_ids(policy: &Policy) -> Vec<&str> {
    policy.rules.iter().map(|r| r.id.as_str()).chain(policy.direct_grades.iter().map(|g| g.id.as_str())).collect()
}

/// The evidence of every rule: one row per (entity, rule, record) for each
/// record in the rule's window that satisfies its `where`, with
/// `pts = points * weight` (0 for a direct-grade rule). Entities out of
/// scope are not filtered here: step 5 starts from the scope, and reasons
/// are built for scored entities only. (A semi join with the scope held
/// every entity's index in a hash table the pool cannot spill: 1.5 GiB at
/// 50M entities.)
pub(super) async fn evidence(ctx: &SessionContext, policy: &Policy, as_of: AsOf) -> DfResult<Option<DataFrame>> {
    let mut parts: Vec<DataFrame> = Vec::new();
    let source = |dataset: EventDataset| async move {
        match dataset {
            EventDataset::Violations => counted_violations(ctx, as_of).await,
            EventDataset::Complaints => ctx.table(COMPLAINTS).await,
        }
    };
    for (no, r) in policy.rules.iter().enumerate() {
        // Step 3: the weight, by the one formula of `base::decay`.
        let pts = lit(r.points) * credit_weight(r.decay, r.window_days, age(r.dataset, as_of));
        parts.push(
            source(r.dataset)
                .await?
                .filter(in_window(r.dataset, as_of, r.window_days).and(r.predicate.to_expr()))?
                .select(vec![
                    col(ENTITY_IDX),
                    lit(no as u16).alias("rule_no"),
                    col(r.dataset.record_column()).alias("record_id"),
                    pts.alias("pts"),
                ])?,
        );
    }
    for (k, g) in policy.direct_grades.iter().enumerate() {
        let no = (policy.rules.len() + k) as u16;
        parts.push(
            source(g.dataset)
                .await?
                .filter(in_window(g.dataset, as_of, g.window_days).and(g.predicate.to_expr()))?
                .select(vec![
                    col(ENTITY_IDX),
                    lit(no).alias("rule_no"),
                    col(g.dataset.record_column()).alias("record_id"),
                    lit(0.0f64).alias("pts"),
                ])?,
        );
    }
    let Some(mut all) = parts.pop() else {
        return Ok(None);
    };
    while let Some(p) = parts.pop() {
        all = p.union(all)?;
    }
    Ok(Some(all))
}

/// Step 4: per (entity, rule), `ded = min(cap, sum of points * weight)`
/// (no min without a cap). The records behind it are the evidence rows.
pub(super) fn deductions(evidence: DataFrame, policy: &Policy) -> DfResult<DataFrame> {
    let summed = evidence.aggregate(vec![col(ENTITY_IDX), col("rule_no")], vec![sum(col("pts")).alias("raw")])?;
    let caps = policy
        .rules
        .iter()
        .enumerate()
        .filter_map(|(no, r)| r.cap.map(|cap| (col("rule_no").eq(lit(no as u16)), least(vec![col("raw"), lit(cap)]))))
        .collect();
    let ded = searched_case(caps, col("raw"))?;
    summed.select(vec![col(ENTITY_IDX), col("rule_no"), ded.alias("ded")])
}

/// Steps 5 to 7 for every entity with a deduction row (in scope or not:
/// the caller keeps those in scope): `score = max(floor, base - sum of
/// ded)` rounded, the band grade (first band whose `min <= score`) and the
/// final grade (the worse of the band and every direct grade that fired),
/// as band indexes (larger is worse). One aggregate, no join: joining the
/// scope would hold every entity in a hash table the pool cannot spill.
pub(super) fn entity_scores(policy: &Policy, deductions: DataFrame) -> DfResult<DataFrame> {
    let score_rules = lit(policy.rules.len() as u16);
    let total = sum(col("ded")).filter(col("rule_no").lt(score_rules.clone())).build()?.alias("total");
    let direct_grade = if policy.direct_grades.is_empty() {
        None
    } else {
        let grade_of = searched_case(
            policy
                .direct_grades
                .iter()
                .enumerate()
                .map(|(k, g)| (col("rule_no").eq(lit((policy.rules.len() + k) as u16)), lit(g.grade as i64)))
                .collect(),
            lit(0i64),
        )?;
        Some(max(grade_of).filter(col("rule_no").gt_eq(score_rules)).build()?.alias("direct_grade"))
    };
    let aggregates = std::iter::once(total).chain(direct_grade.clone()).collect();
    let summed = deductions.aggregate(vec![col(ENTITY_IDX)], aggregates)?;
    let direct_grade = match direct_grade {
        Some(_) => col("direct_grade"),
        None => lit(0i64),
    };
    graded(summed, policy, col("total"), direct_grade)
}

/// Steps 5 to 7 for an entity in scope without any deduction row: one row
/// (`entity_idx` 0), graded by the same expressions with nothing deducted.
pub(super) fn plain_score(ctx: &SessionContext, policy: &Policy) -> DfResult<DataFrame> {
    let nothing = ctx.read_empty()?.select(vec![lit(0u32).alias(ENTITY_IDX)])?;
    graded(nothing, policy, lit(0.0f64), lit(0i64))
}

/// `entity_idx`, score, band and grade from each row's sum of score
/// deductions (`total`, null for none) and worst direct grade (null for
/// none).
fn graded(rows: DataFrame, policy: &Policy, total: Expr, direct_grade: Expr) -> DfResult<DataFrame> {
    let total = coalesce(vec![total, lit(0.0f64)]);
    let direct_grade = coalesce(vec![direct_grade, lit(0i64)]);
    let score = credit_round(greatest(vec![lit(policy.floor), lit(policy.base) - total]));
    let with_score = rows.select(vec![col(ENTITY_IDX), score.alias("score"), direct_grade.alias("direct_grade")])?;
    let last = policy.grades.len() as i64 - 1;
    let band = searched_case(
        policy
            .grades
            .iter()
            .enumerate()
            .take(policy.grades.len() - 1)
            .map(|(i, b)| (col("score").gt_eq(lit(b.min)), lit(i as i64)))
            .collect(),
        lit(last),
    )?;
    with_score.select(vec![
        col(ENTITY_IDX),
        col("score"),
        band.clone().alias("band"),
        greatest(vec![band, col("direct_grade")]).alias("grade"),
    ])
}
