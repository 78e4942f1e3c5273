//! The registry's rejects by its plans (`--plans-make-tables`): the run
//! reads the accepted rows itself, to number every entity in id order.

use datafusion::error::DataFusionError;

use super::judged::{judged_sql_keeping, rejudged_sql};
use super::keys::{copies_among_sql, write_alike_hashes};
use super::rules::key_columns;
use super::{
    accepted_of, create_table, landing_table, let_go, plans_planning, register_landing, rejects_in, PlanError,
};
use crate::base::contract::Contract;
use crate::base::engine::Engine;
use crate::base::landing_file::Selection;
use crate::base::tables::Reject;

/// The registry's rejects by its plans on `engine` (`--plans-make-tables`),
/// in row order: the rows the run then numbers, sorts and writes to its
/// registry mart are the others. Only the rejects reach the run's process
/// from the plans; the run reads the accepted rows itself, as it must to
/// number every entity in id order. Uses, and removes when done, the
/// tables `landing_registry`, `judged_registry`, `alike_registry` and
/// `copies`.
pub async fn judge_registry(
    engine: &Engine,
    contract: &Contract,
    selection: &Selection,
) -> Result<Vec<Reject>, PlanError> {
    let dataset = contract.dataset;
    let fail = |source| PlanError { dataset, source };
    if !crate::stages::validate::judged_on_its_own_rows(contract) {
        return Err(fail(DataFusionError::Internal(format!(
            "{dataset}: only a snapshot judged on its own rows gives its rejects alone"
        ))));
    }
    let ctx = engine.ctx();
    let mut phases = crate::base::telemetry::Phases::start("validation_plans");
    let _planning = plans_planning(engine, selection.rows());
    register_landing(engine, contract, selection).map_err(fail)?;
    let scratch = engine.scratch().map_err(|e| fail(e.into()))?;
    let alike = write_alike_hashes(engine, contract, &scratch.path().join("alike-hashes")).await.map_err(fail)?;
    phases.done(&format!("{dataset}: key hashes held twice"));
    // One pass judges every row but for its key's copies and keeps the
    // rejects and the rows whose key hash other rows hold (few); the
    // copies are counted among the latter, and those rows judged again.
    let judged = format!("judged_{dataset}");
    let sql = judged_sql_keeping(contract, &[], None, Some(&alike));
    ctx.sql(&format!("CREATE OR REPLACE VIEW {judged} AS {sql}")).await.map_err(fail)?;
    let aside = format!("alike_{dataset}");
    create_table(engine, &aside, &registry_aside_sql(contract, &judged)).await.map_err(fail)?;
    phases.done(&format!("{dataset}: rows judged"));
    let contested = format!("(SELECT * FROM {aside} WHERE _contested)");
    let copies = ctx.sql(&copies_among_sql(contract, &contested)).await.map_err(fail)?;
    engine.create_counted_table("copies", copies).await.map_err(fail)?;
    let mut rejects = Vec::new();
    for b in ctx.sql(&registry_rejects_sql(contract, &aside)).await.map_err(fail)?.collect().await.map_err(fail)? {
        rejects.extend(rejects_in(&b).map_err(fail)?);
    }
    rejects.sort_by_key(|r| r.row);
    accepted_of(selection, &rejects).map_err(fail)?;
    let_go(engine, &[judged.as_str(), &aside, &landing_table(dataset), "copies"], scratch).map_err(fail)?;
    phases.done(&format!("{dataset}: keys held twice"));
    Ok(rejects)
}

/// The registry's rows to judge again once their key's copies are counted
/// ([`judge_registry`]): the rows its `judged` view rejects, and those
/// whose key hash other landing rows hold (`_contested`, judged but for
/// their copies).
pub(super) fn registry_aside_sql(contract: &Contract, judged: &str) -> String {
    let key = key_columns(contract);
    format!(
        "SELECT _row, _code, _message, _ruled, _partition, _ingest_date, _contested, {}\nFROM {judged}\n\
         WHERE _code IS NOT NULL OR _contested",
        key.join(", ")
    )
}

/// The registry's rejects among its `aside` rows ([`registry_aside_sql`])
/// judged again with their key's copies (the `copies` table, counted
/// among the contested ones).
pub(super) fn registry_rejects_sql(contract: &Contract, aside: &str) -> String {
    let key = key_columns(contract);
    format!(
        "SELECT _row, _code, _message FROM ({})\nWHERE _code IS NOT NULL",
        rejudged_sql(contract, aside, &key.join(", "))
    )
}
