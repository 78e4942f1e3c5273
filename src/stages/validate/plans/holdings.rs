//! The holdings judged by their plans (`--plans-make-tables`): their
//! checked rows written once and read twice (the shares held, then the
//! verdicts), and the shares between registered entities the graph reads.

use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, UInt64Type};
use datafusion::error::DataFusionError;

use super::judged::{carried_sql, checked_steps, checked_table, copies_join, copies_on, HELD};
use super::keys::copies_among_sql;
use super::rules::key_columns;
use super::{accepted_of, create_table, landing_table, let_go, prepare_judged, rejects_in, PlanError, Prepared};
use crate::base::contract::{Contract, Dataset};
use crate::base::engine::alike_hashes::AlikeHashes;
use crate::base::engine::registered::RegisteredIds;
use crate::base::engine::write_parts::{Aside, PartsSpec};
use crate::base::engine::Engine;
use crate::base::landing_file::Selection;
use crate::base::tables::{DatasetReport, Rows, Share, Validated, ENTITY_IDX};

/// Validates the holdings by their plans on `engine`, against the
/// `registered` ids (the native validation's), and gives what a run
/// keeps of them: their rejects and figures (their rows let go, as the
/// native validation lets them go), and the shares one registered entity
/// holds in another (holder, owned, share) in the order of their rows, as
/// the native validation gives them. Only those shares and the rejects
/// reach the run's process, from one pass over the judged rows; `keep`
/// names the columns the shares are read from (`holder_id`,
/// `holder_kind`, `share_pct`).
pub async fn judge_holdings(
    engine: &Engine,
    contract: &Contract,
    selection: Selection,
    keep: &[&str],
    registered: &RegisteredIds,
) -> Result<(Validated, Vec<Share>), PlanError> {
    let dataset = contract.dataset;
    let fail = |source| PlanError { dataset, source };
    let Some(table) = checked_table(contract) else {
        return Err(fail(DataFusionError::Internal(format!("{dataset}: only the holdings' shares are judged so"))));
    };
    let ctx = engine.ctx();
    let Prepared { judged, scratch, mut phases, planning: _planning } =
        prepare_judged(engine, contract, &selection, keep, registered, None).await.map_err(fail)?;
    let mut rejects = Vec::new();
    let mut shares: Vec<(u64, Share)> = Vec::new();
    let found =
        ctx.sql(&rejects_and_shares_sql(&judged, registered)).await.map_err(fail)?.collect().await.map_err(fail)?;
    for b in found {
        rejects.extend(rejects_in(&b).map_err(fail)?);
        let column = |n: usize, to: &DataType| arrow::compute::cast(b.column(n), to).map_err(|e| fail(e.into()));
        let (row, holder, owned, share) = (
            column(0, &DataType::UInt64)?,
            column(3, &DataType::UInt32)?,
            column(4, &DataType::UInt32)?,
            column(5, &DataType::Float64)?,
        );
        let (row, holder, owned, share) = (
            row.as_primitive::<UInt64Type>(),
            holder.as_primitive::<arrow::datatypes::UInt32Type>(),
            owned.as_primitive::<arrow::datatypes::UInt32Type>(),
            share.as_primitive::<arrow::datatypes::Float64Type>(),
        );
        shares.extend(
            (0..b.num_rows())
                .filter(|i| holder.is_valid(*i))
                .map(|i| (row.value(i), (holder.value(i), owned.value(i), share.value(i)))),
        );
    }
    rejects.sort_by_key(|r| r.row);
    shares.sort_unstable_by_key(|(row, _)| *row);
    let shares = shares.into_iter().map(|(_, s)| s).collect();
    let accepted = accepted_of(&selection, &rejects).map_err(fail)?;
    let (settled, alike, contested) = checked_parts(dataset);
    let landing = landing_table(dataset);
    let_go(engine, &[table.as_str(), &judged, &landing, &settled, &alike, &contested, "copies", HELD], scratch)
        .map_err(fail)?;
    phases.done(&format!("{dataset}: rejects and shares"));
    let report = DatasetReport::new(contract, &selection, &rejects, accepted, selection.rows());
    let schema = Arc::new(arrow::datatypes::Schema::empty());
    let rows = Rows::Released { rows: accepted as usize };
    Ok((Validated { contract: contract.clone(), selection, schema, rows, report, rejects }, shares))
}

/// Steps 1–2 of a dataset whose plan reads them twice (the holdings),
/// made once as view `table` over two tables: the rows whose key hash no
/// other landing row holds (`settled_<dataset>`, written to files in
/// `scratch` as they are checked, their copies known to be none), and
/// the contested rows (`contested_<dataset>`), set aside as they are
/// checked and then joined with their key's copies, counted among them.
/// No second read of the landing keys, and no join of every row.
pub(super) async fn write_checked(
    engine: &Engine,
    contract: &Contract,
    keep: &[&str],
    alike: &AlikeHashes,
    table: &str,
    scratch: &std::path::Path,
) -> Result<(), DataFusionError> {
    let (ctx, dataset) = (engine.ctx(), contract.dataset);
    let (sql, settled_columns, alike_columns) = checked_split_sql(contract, keep, alike);
    let frame = ctx.sql(&sql).await?;
    let columns = frame.schema().as_arrow().clone();
    let (split, settled_when) = (columns.index_of("_aside")?, columns.index_of("_settled")?);
    let alike_dir = scratch.join("alike");
    let aside = Aside { folder: alike_dir.clone(), kept: alike_columns.clone(), when_null: settled_when };
    let spec =
        PartsSpec { folder: scratch.join("checked"), kept: settled_columns, split: Some(split), aside: Some(aside) };
    let (settled, alike_table, contested) = checked_parts(dataset);
    let passed = engine.write_parts(frame, spec, &settled).await?;
    if passed.iter().any(|b| b.num_rows() > 0) {
        return Err(DataFusionError::Internal(format!("{dataset}: a checked row neither settled nor contested")));
    }
    engine.register_arrow_files(&alike_table, Arc::new(columns.project(&alike_columns)?), &alike_dir)?;
    engine.create_counted_table("copies", ctx.sql(&copies_among_sql(contract, &alike_table)).await?).await?;
    create_table(engine, &contested, &copies_join(&alike_table, &copies_on(contract))).await?;
    let view = checked_view_sql(contract, keep, &settled, &contested);
    ctx.sql(&format!("CREATE OR REPLACE VIEW {table} AS {view}")).await?;
    Ok(())
}

/// The tables [`write_checked`] makes of a dataset's checked rows: its
/// settled rows, the rows set aside, and those with their copies.
pub(super) fn checked_parts(dataset: Dataset) -> (String, String, String) {
    (format!("settled_{dataset}"), format!("alike_{dataset}"), format!("contested_{dataset}"))
}

/// The pass that checks a dataset's rows ([`write_checked`]): steps 1–2's
/// columns but `_copies` (the carried columns, `_row`, `_rule_code`,
/// `_rule_message`, `_partition`, `_ingest_date`), then `_aside` (true for
/// a row whose key hash other landing rows hold: contested) and
/// `_settled` (null for those). Also the positions of the settled rows'
/// columns (the carried columns to `_rule_message`) and of the contested
/// rows' (to `_ingest_date`).
pub(super) fn checked_split_sql(
    contract: &Contract,
    keep: &[&str],
    alike: &AlikeHashes,
) -> (String, Vec<usize>, Vec<usize>) {
    let (steps, _) = checked_steps(contract, keep);
    let carried = carried_sql(contract, keep);
    let held = alike.hold(&format!("key_hash({})", key_columns(contract).join(", ")));
    let sql = format!(
        "WITH {steps}\nSELECT {}, _row, _rule_code, _rule_message, _partition, _ingest_date,\n  \
         nullif(_contested, false) AS _aside, nullif(NOT _contested, false) AS _settled\n\
         FROM (SELECT *, {held} AS _contested FROM ruled)",
        carried.join(", ")
    );
    let n = carried.len();
    (sql, (0..n + 3).collect(), (0..n + 5).collect())
}

/// Steps 1–2's rows of a dataset checked by [`write_checked`]: its
/// `settled` rows (no copies) and its `contested` rows with their
/// copies, as one table (the columns [`super::judged::checked_sql_keeping`] gives but
/// `_partition`).
pub(super) fn checked_view_sql(contract: &Contract, keep: &[&str], settled: &str, contested: &str) -> String {
    let carried = carried_sql(contract, keep).join(", ");
    format!(
        "SELECT {carried}, _row, _rule_code, _rule_message, CAST(NULL AS DATE) AS _ingest_date, \
         CAST(NULL AS BIGINT) AS _copies\n  FROM {settled}\nUNION ALL\n\
         SELECT {carried}, _row, _rule_code, _rule_message, _ingest_date, _copies\n  FROM {contested}"
    )
}

/// The holdings' rejects (`_code` not null) and the accepted holdings
/// whose holder is a registered entity (`_holder` not null: the holder's
/// index, the owned entity's, and the share held), each with its row, in
/// one pass over the judged rows.
pub(super) fn rejects_and_shares_sql(judged: &str, registered: &RegisteredIds) -> String {
    format!(
        "SELECT * FROM (\n  SELECT _row, _code, _message,\n    \
         CASE WHEN _code IS NULL AND holder_kind = 'entity' THEN {} END AS _holder,\n    \
         {ENTITY_IDX} AS _owned, share_pct\n  FROM {judged})\n\
         WHERE _code IS NOT NULL OR _holder IS NOT NULL",
        registered.index_of("holder_id")
    )
}
