//! The plans' verdicts on every dataset of a run, to compare with the
//! native validation's (`run --validation-plans`, `run::validate_tests`):
//! each dataset's rejects and data-quality figures, its accepted rows
//! counted in tables of the engine's, none kept by the run.

use arrow::array::AsArray;
use arrow::datatypes::{DataType, UInt64Type};
use datafusion::error::DataFusionError;

use super::judged::{accepted_columns, checked_sql, checked_table, held_sql, judged_sql, HELD, KNOWN_CASES};
use super::keys::{make_key_tables, HASHED_ALIKE};
use super::rules::{col, key_columns};
use super::{accepted_of, create_table, landing_table, plans_planning, register_landing, rejects_in, PlanError};
use crate::base::contract::{Contract, Contracts, Dataset, DatasetKind};
use crate::base::engine::write_parts::PartsSpec;
use crate::base::engine::Engine;
use crate::base::landing_file::Selection;
use crate::base::tables::{locate_row, DatasetReport, Reject, Validated};

/// The verdicts of the plans on one dataset.
#[derive(Debug, PartialEq, Eq)]
pub struct Verdicts {
    pub dataset: Dataset,
    /// Every rejected row, by global row number.
    pub rejects: Vec<Reject>,
    pub report: DatasetReport,
}

impl Verdicts {
    /// Where these verdicts differ from the native validation's of the
    /// same dataset, the first difference described; `None` when they agree.
    pub fn difference(&self, native: &Validated) -> Option<String> {
        let row = |r: Option<&Reject>| match r {
            Some(r) => format!("{} ({})", r.code, r.message),
            None => "accepted".to_string(),
        };
        let (mut p, mut n) = (self.rejects.iter().peekable(), native.rejects.iter().peekable());
        loop {
            match (p.peek(), n.peek()) {
                (None, None) => break,
                (Some(a), Some(b)) if a == b => {
                    p.next();
                    n.next();
                }
                (a, b) => {
                    let at = a.map_or(u64::MAX, |r| r.row).min(b.map_or(u64::MAX, |r| r.row));
                    let (a, b) = (a.filter(|r| r.row == at).copied(), b.filter(|r| r.row == at).copied());
                    let at = match at < native.selection.rows() {
                        true => {
                            let (file, local) = locate_row(&native.selection, at);
                            format!("{} row {local}", file.relative)
                        }
                        false => format!("row {at}, beyond the rows read"),
                    };
                    return Some(format!("{at}: the plans say {}, the native checks {}", row(a), row(b)));
                }
            }
        }
        (self.report != native.report)
            .then(|| format!("the data-quality figures: the plans' {:?}, the native {:?}", self.report, native.report))
    }
}

/// The order datasets are judged in: the registry first (every other
/// dataset's `unknown_entity`), the violations before the repairs
/// (`unknown_case`).
pub(super) const ORDER: [Dataset; 5] =
    [Dataset::Registry, Dataset::Violations, Dataset::Repairs, Dataset::Complaints, Dataset::Holdings];

/// Judges the five datasets of a run from their chosen partitions
/// (`selections` in `Dataset::ALL` order) on `engine`, whose session
/// carries credence's UDFs. Uses, and removes when done, the tables
/// `landing_`, `checked_` (holdings), `judged_` and `accepted_<dataset>`,
/// `hashed_alike`, `copies`, `held` (holdings), `registered`,
/// `known_cases` and `several_versions`.
pub async fn judge_inputs(
    engine: &Engine,
    contracts: &Contracts,
    selections: &[Selection],
) -> Result<Vec<Verdicts>, PlanError> {
    let ctx = engine.ctx();
    let mut out = Vec::with_capacity(ORDER.len());
    let mut phases = crate::base::telemetry::Phases::start("validation_plans");
    let largest = selections.iter().map(Selection::rows).max().unwrap_or(0);
    let _planning = plans_planning(engine, largest);
    for dataset in ORDER {
        let contract = contracts.get(dataset);
        let selection = &selections[dataset as usize];
        let fail = |source| PlanError { dataset, source };
        register_landing(engine, contract, selection).map_err(fail)?;
        let scratch = engine.scratch().map_err(|e| fail(e.into()))?;
        make_key_tables(engine, contract).await.map_err(fail)?;
        if let Some(table) = checked_table(contract) {
            write_table(engine, &table, &checked_sql(contract), &scratch.path().join("checked")).await.map_err(fail)?;
        }
        if let Some(sql) = held_sql(contract) {
            engine.create_counted_table(HELD, ctx.sql(&sql).await.map_err(fail)?).await.map_err(fail)?;
        }
        let judged = format!("judged_{dataset}");
        ctx.sql(&format!("CREATE OR REPLACE VIEW {judged} AS {}", judged_sql(contract))).await.map_err(fail)?;
        // One pass over the judged rows: the rejects, and the columns the
        // counts below need of the accepted rows, kept in a scratch file.
        let accepted_table = format!("accepted_{dataset}");
        let accepted_dir = scratch.path().join("accepted");
        let rejects = judge_once(engine, &judged, &accepted_columns(contract), &accepted_table, &accepted_dir)
            .await
            .map_err(fail)?;
        phases.done(&format!("{dataset}: rejects"));
        // The rows the run uses: every accepted row of a snapshot, the
        // newest accepted version of each key of an event dataset (the
        // known cases are the violations').
        let accepted = accepted_of(selection, &rejects).map_err(fail)?;
        let current = match dataset {
            Dataset::Registry => {
                create_table(engine, "registered", &registered_sql(&accepted_table)).await.map_err(fail)?;
                accepted
            }
            Dataset::Violations => {
                // The known cases are looked up only by the cases the
                // landing rows name (the repairs'), not kept for every
                // violation (15M at 10M entities, 0.7 GiB held).
                let naming = naming_cases(contracts);
                for (d, _) in &naming {
                    register_landing(engine, contracts.get(*d), &selections[*d as usize]).map_err(fail)?;
                }
                create_table(engine, KNOWN_CASES, &known_cases_sql(&accepted_table, &naming)).await.map_err(fail)?;
                for (d, _) in &naming {
                    ctx.deregister_table(landing_table(*d)).map_err(fail)?;
                }
                newest_count(engine, contract, &accepted_table, accepted).await.map_err(fail)?
            }
            _ if contract.kind == DatasetKind::Snapshot => accepted,
            _ => newest_count(engine, contract, &accepted_table, accepted).await.map_err(fail)?,
        };
        for table in [Some(accepted_table), checked_table(contract)].into_iter().flatten() {
            ctx.deregister_table(&table).map_err(fail)?;
        }
        drop(scratch);
        // What this dataset's plans freed goes back to the system before
        // the next one's (glibc keeps it otherwise).
        crate::base::engine::return_free_memory();
        phases.done(&format!("{dataset}: current rows"));
        for table in [judged, landing_table(dataset), HASHED_ALIKE.to_string(), "copies".to_string(), HELD.to_string()]
        {
            ctx.deregister_table(&table).map_err(fail)?;
        }
        let report = DatasetReport::new(contract, selection, &rejects, current, selection.rows());
        out.push(Verdicts { dataset, rejects, report });
    }
    for table in ["registered", KNOWN_CASES] {
        ctx.deregister_table(table).map_err(|source| PlanError { dataset: Dataset::Holdings, source })?;
    }
    out.sort_by_key(|v| v.dataset as usize);
    Ok(out)
}

/// How many keys of an event dataset's `rows` accepted rows have an
/// accepted version (a key's columns are required, so never null here,
/// and nor is its hash): a row whose hash no other row holds is a key of
/// its own; the rows of the hashes held by several (a key's versions, or
/// keys that hash alike, found by [`versions_sql`]) are counted by their
/// values ([`several_versions_sql`]).
async fn newest_count(engine: &Engine, contract: &Contract, accepted: &str, rows: u64) -> Result<u64, DataFusionError> {
    engine.create_counted_table(SEVERAL_VERSIONS, engine.ctx().sql(&versions_sql(contract, accepted)).await?).await?;
    let counted = count_versions(engine, contract, accepted, rows).await;
    engine.ctx().deregister_table(SEVERAL_VERSIONS)?;
    counted
}

/// [`newest_count`] once its table of the hashes held by several rows
/// ([`SEVERAL_VERSIONS`]) is made.
async fn count_versions(
    engine: &Engine,
    contract: &Contract,
    accepted: &str,
    rows: u64,
) -> Result<u64, DataFusionError> {
    let counted = engine.ctx().sql(&several_versions_sql(contract, accepted)).await?.collect().await;
    let (mut keys, mut versions) = (0, 0);
    for b in counted? {
        let column = |n: usize| arrow::compute::cast(b.column(n), &DataType::UInt64);
        let (k, v) = (column(0)?, column(1)?);
        keys += k.as_primitive::<UInt64Type>().iter().flatten().sum::<u64>();
        versions += v.as_primitive::<UInt64Type>().iter().flatten().sum::<u64>();
    }
    rows.checked_sub(versions).map(|single| single + keys).ok_or_else(|| {
        DataFusionError::Internal(format!("{versions} rows of hashes held twice among {rows} accepted rows"))
    })
}

/// The table of the key hashes held by several accepted rows.
pub(super) const SEVERAL_VERSIONS: &str = "several_versions";

/// The key hashes of an event dataset's accepted rows held by several
/// rows (`repeated_hashes`), as a counted table: few, so that a cluster
/// sends them to every task of the join that counts their rows.
pub(super) fn versions_sql(contract: &Contract, accepted: &str) -> String {
    let key = key_columns(contract);
    format!(
        "SELECT unnest(_repeated) AS _alike\n\
         FROM (SELECT repeated_hashes(key_hash({})) AS _repeated FROM {accepted})",
        key.join(", ")
    )
}

/// How many keys the accepted rows of the hashes held by several have,
/// and how many rows those are.
pub(super) fn several_versions_sql(contract: &Contract, accepted: &str) -> String {
    let key = key_columns(contract);
    format!(
        "SELECT count(*) AS _keys, sum(_versions) AS _rows\n\
         FROM (SELECT {0}, count(*) AS _versions FROM {SEVERAL_VERSIONS} RIGHT SEMI JOIN {accepted} ON _alike = key_hash({0}) GROUP BY {0})",
        key.join(", ")
    )
}

/// The accepted registry rows' entities.
pub(super) fn registered_sql(accepted: &str) -> String {
    format!("SELECT entity_bits(entity_id) AS registered_id FROM {accepted}")
}

/// The datasets whose rows name a violation's case, and the column.
pub(super) fn naming_cases(contracts: &Contracts) -> Vec<(Dataset, String)> {
    Dataset::ALL
        .into_iter()
        .filter_map(|d| contracts.get(d).unknown_case.map(|c| (d, contracts.get(d).columns[c].name.clone())))
        .collect()
}

/// The newest accepted version of each violation whose case a landing row
/// of `naming` names: its case and entity. The named cases, few, are the
/// join's build side (the left of a RIGHT SEMI JOIN).
pub(super) fn known_cases_sql(accepted: &str, naming: &[(Dataset, String)]) -> String {
    let named: Vec<String> = naming
        .iter()
        .map(|(d, column)| format!("SELECT {} AS named_case FROM {}", col(column), landing_table(*d)))
        .collect();
    let named = match named.is_empty() {
        true => "SELECT CAST(NULL AS VARCHAR) AS named_case".to_string(),
        false => named.join(" UNION ALL "),
    };
    format!(
        "SELECT case_id AS known_case, first_value(entity_id ORDER BY _row DESC) AS known_entity\n\
         FROM ({named}) RIGHT SEMI JOIN {accepted} ON case_id = named_case\n\
         GROUP BY case_id"
    )
}

/// The query that gives the rejects and the accepted rows' `columns`
/// (`_row` is its first column already): the rejects alone when no
/// column is asked for, so that the accepted rows do not reach the driver
/// (over Flight, from a cluster).
pub(super) fn judged_once_sql(judged: &str, columns: &[String]) -> String {
    let more: String = columns.iter().filter(|c| *c != "_row").map(|c| format!(", {}", col(c))).collect();
    let rejects_only = if columns.is_empty() { "\nWHERE _code IS NOT NULL" } else { "" };
    format!("SELECT _row, _code, _message{more} FROM {judged}{rejects_only}")
}

/// Where each of `columns` is in [`judged_once_sql`]'s rows.
fn judged_once_positions(columns: &[String]) -> Vec<usize> {
    let mut next = 3;
    columns
        .iter()
        .map(|c| match c.as_str() {
            "_row" => 0,
            _ => {
                next += 1;
                next - 1
            }
        })
        .collect()
}

/// Writes the rows of `sql` to Arrow files in `dir`, each partition's
/// where it runs, and registers them as table `name`.
async fn write_table(engine: &Engine, name: &str, sql: &str, dir: &std::path::Path) -> Result<(), DataFusionError> {
    let frame = engine.ctx().sql(sql).await?;
    let kept = (0..frame.schema().fields().len()).collect();
    engine.write_parts(frame, PartsSpec { folder: dir.to_path_buf(), kept, split: None, aside: None }, name).await?;
    Ok(())
}

/// Runs `judged` once: returns its rejects in row order, and registers
/// the accepted rows' `columns` as table `accepted`, written to Arrow
/// files in `dir` where they are judged (so that no query judges the rows
/// twice, no accepted row is held in memory, and on a cluster none
/// travels to the run's process).
async fn judge_once(
    engine: &Engine,
    judged: &str,
    columns: &[String],
    accepted: &str,
    dir: &std::path::Path,
) -> Result<Vec<Reject>, DataFusionError> {
    let frame = engine.ctx().sql(&judged_once_sql(judged, columns)).await?;
    let kept = judged_once_positions(columns);
    // The accepted rows go to their files where the engine judged them
    // (the column after `_row` is the code, null for them); only the
    // rejects come here (the holdings' query selects them alone).
    let rejects = match kept.is_empty() {
        true => frame.collect().await?,
        false => {
            let spec = PartsSpec { folder: dir.to_path_buf(), kept, split: Some(1), aside: None };
            engine.write_parts(frame, spec, accepted).await?
        }
    };
    let mut out = Vec::new();
    for r in rejects {
        out.extend(rejects_in(&r)?);
    }
    out.sort_by_key(|r| r.row);
    Ok(out)
}
