//! datasets.md's row and key rules as DataFusion plans: the SQL below is
//! generated from the contracts, one `CASE` per dataset that lists the
//! rules in the spec's order, with the value tests and message pieces as
//! the UDFs every credence session registers (`base::engine`). The landing
//! rows are a [`LandingScan`] of the chosen files: the native validation's
//! reader, as a DataFusion table a Ballista cluster can run.
//!
//! The verdicts (each rejected row's code and message, the data-quality
//! figures) are the native validation's, row for row and byte for byte:
//! `run::validate_tests` runs both on every fixture and compares them, and
//! `run --validation-plans` compares them on a run's landing zone. By
//! default the native validation makes the tables a run reads (it is
//! faster and holds less); with `--plans-make-tables` these plans judge
//! every dataset and make every table but the registry's, whose accepted
//! rows the run reads itself as the plans judge them ([`judge_registry`]).
//!
//! What each dataset's plan computes, per landing row (`_row` numbers the
//! rows in read order as the native validation does; `_partition` and
//! `_ingest_date` say where the row came from):
//!
//! 1. `_rule`: the first row rule the row breaks (`missing_required` to
//!    `future_date`, columns in contract order within a code), its code
//!    (`_rule_code`) and its message; from here on a row carries only
//!    the columns the later steps read (its key, its entity and case,
//!    the shares);
//! 2. `_copies`: how many rows of its partition share its key, from the
//!    keys held more than once (a key with a null column is in no group),
//!    a table of their own made first (`copies`: few rows, whose count the
//!    planner then knows), joined back after step 4's joins. The hashes
//!    (`key_hash`, a number) held by more than one landing row, in any
//!    partition, are found first (`repeated_hashes`, a sort of the
//!    hashes): only their rows are grouped by their values. When the
//!    plans make a run's tables or give the registry's rejects
//!    (`--plans-make-tables`), those hashes go to a file instead, and a
//!    row whose key hash is among them (`key_hash_in`, no join) is
//!    contested (its key may have copies in its partition, or other
//!    versions): it is judged but for its copies and set aside, and the
//!    copies are then counted among the rows set aside (0.9M of 15.4M
//!    violations at 10M entities), which are judged again
//!    (`alike_judged_sql`, `registry_rejects_sql`; the holdings' checked
//!    rows, `write_checked`): no second read of the landing rows' keys;
//! 3. `_held`: the shares held in its owned entity by rows that passed
//!    1–2, from the entities held over 100 (holdings), their shares
//!    summed by the entity id's packed bits (`entity_bits`) in sorted
//!    runs (`sums_over`): a table made first (`held`);
//! 4. whether its entity is among the accepted registry rows (their ids'
//!    bits), and whether
//!    its case is the newest accepted version of a violation of the same
//!    entity (repairs);
//! 5. `_code` and `_message`: the first of these that applies.

mod keys;
mod rules;

use std::fmt::Write as _;
use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, UInt64Type};
use datafusion::error::DataFusionError;

use self::keys::{copies_among_sql, make_key_tables, write_alike_hashes, HASHED_ALIKE};
use self::rules::{col, concat, key_columns, row_rules, text};
use crate::base::contract::{Check, Contract, Contracts, Dataset, DatasetKind, FaultCode};
use crate::base::engine::alike_hashes::AlikeHashes;
use crate::base::engine::landing_scan::LandingScan;
use crate::base::engine::planning::{Planned, Settings};
use crate::base::engine::registered::RegisteredIds;
use crate::base::engine::write_parts::{Aside, PartsSpec};
use crate::base::engine::Engine;
use crate::base::landing_file::Selection;
use crate::base::tables::{locate_row, DatasetReport, Reject, Rows, Share, Validated, ENTITY_IDX};

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

/// Validation by plans failed: the engine failed (out of memory, say), or
/// a landing file could not be read by the landing scan.
#[derive(Debug, thiserror::Error)]
#[error("validating {dataset} by plans: {source}{hint}", hint = crate::base::engine::memory_hint(source))]
pub struct PlanError {
    pub dataset: Dataset,
    pub source: DataFusionError,
}

impl crate::base::error::Classify for PlanError {
    fn kind(&self) -> crate::base::error::ErrorKind {
        self.source.kind()
    }
}

/// The order datasets are judged in: the registry first (every other
/// dataset's `unknown_entity`), the violations before the repairs
/// (`unknown_case`).
const ORDER: [Dataset; 5] =
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

/// Validates an event dataset by its plans on `engine` and makes its
/// table for the run: the current rows (the newest accepted version of
/// each key) with the `keep` columns and their entity's index among the
/// `registered` ids (`entity_idx`, as the native validation numbers
/// them, looked up where each row is judged), written to Arrow files in
/// `folder` where they are judged (on a cluster, by the executors: no
/// landing row of the dataset reaches the run's process). One pass over
/// the judged rows writes every accepted row whose key hash no other
/// landing row holds (its key's one version) and sets the others aside
/// (0.9M of 15.4M violations at 10M entities), judged but for their
/// key's copies; those are then counted among them and the rows judged
/// again, and of the accepted ones (contested) the newest row of each
/// key is written beside the others. The rejects and
/// figures are those [`judge_inputs`] gives. A dataset whose rows name a
/// violation's case (the repairs) is judged against `violations`, the
/// violations' table these plans made (its newest accepted versions),
/// looked up only by the cases its landing rows name. Uses, and removes
/// when done, the tables of [`judge_inputs`] but `registered` and
/// `several_versions`, and `newest_rows`, `alike_<dataset>`,
/// `contested_<dataset>`, `current_<dataset>` and `newest_<dataset>`.
pub async fn judge_into_table(
    engine: &Engine,
    contract: &Contract,
    selection: Selection,
    keep: &[&str],
    registered: &RegisteredIds,
    violations: Option<&Validated>,
    folder: &std::path::Path,
) -> Result<Validated, PlanError> {
    let dataset = contract.dataset;
    let fail = |source| PlanError { dataset, source };
    if contract.kind != DatasetKind::Event || contract.unknown_entity.is_none() {
        return Err(fail(DataFusionError::Internal(format!(
            "{dataset}: only an event dataset of entities is judged into a table"
        ))));
    }
    let ctx = engine.ctx();
    let Prepared { judged, scratch, mut phases, planning: _planning } =
        prepare_judged(engine, contract, &selection, keep, registered, violations).await.map_err(fail)?;
    // One pass over the judged rows: an accepted row whose key hash no
    // other landing row holds is its key's one version, a current row,
    // written to the table's files; the rows whose key hash others hold
    // (few) are set aside in files of their own, judged but for their
    // copies; the other rejects come here.
    let (sql, current_columns, alike_columns) = judged_once_into_table_sql(contract, &judged, keep);
    let frame = ctx.sql(&sql).await.map_err(fail)?;
    let columns = frame.schema().as_arrow().clone();
    let schema = Arc::new(columns.project(&current_columns).map_err(|e| fail(e.into()))?);
    let alike_dir = scratch.path().join("alike");
    let aside = Aside { folder: alike_dir.clone(), kept: alike_columns.clone(), when_null: SETTLED };
    let spec = PartsSpec { folder: folder.to_path_buf(), kept: current_columns, split: Some(3), aside: Some(aside) };
    let table = format!("current_{dataset}");
    let mut rejects = Vec::new();
    for b in engine.write_parts(frame, spec, &table).await.map_err(fail)? {
        rejects.extend(rejects_in(&b).map_err(fail)?);
    }
    phases.done(&format!("{dataset}: rows judged"));
    // The rows set aside, judged again with their copies counted among
    // them: their rejects come here, the accepted ones (contested) are
    // written to files of their own.
    let alike = format!("alike_{dataset}");
    let alike_schema = Arc::new(columns.project(&alike_columns).map_err(|e| fail(e.into()))?);
    engine.register_arrow_files(&alike, alike_schema, &alike_dir).map_err(fail)?;
    engine
        .create_counted_table("copies", ctx.sql(&copies_among_sql(contract, &alike)).await.map_err(fail)?)
        .await
        .map_err(fail)?;
    let frame = ctx.sql(&alike_judged_sql(contract, &alike, keep)).await.map_err(fail)?;
    let kept = std::iter::once(0).chain(4..frame.schema().fields().len()).collect();
    let contested = format!("contested_{dataset}");
    let spec = PartsSpec { folder: scratch.path().join("contested"), kept, split: Some(3), aside: None };
    for b in engine.write_parts(frame, spec, &contested).await.map_err(fail)? {
        rejects.extend(rejects_in(&b).map_err(fail)?);
    }
    rejects.sort_by_key(|r| r.row);
    let accepted = accepted_of(&selection, &rejects).map_err(fail)?;
    phases.done(&format!("{dataset}: keys held twice"));
    // The newest of each contested key's accepted rows is current too,
    // written to the table's folder (files named apart).
    engine
        .create_counted_table(NEWEST_ROWS, ctx.sql(&newest_rows_sql(contract, &contested)).await.map_err(fail)?)
        .await
        .map_err(fail)?;
    let frame = ctx.sql(&newest_current_sql(contract, &contested, keep)).await.map_err(fail)?;
    let kept = (0..frame.schema().fields().len()).collect();
    let (newest_dir, newest) = (scratch.path().join("newest"), format!("newest_{dataset}"));
    let spec = PartsSpec { folder: newest_dir.clone(), kept, split: None, aside: None };
    engine.write_parts(frame, spec, &newest).await.map_err(fail)?;
    // The table's folder is first listed once whole (the engine keeps a
    // folder's listing). Every accepted row went one way or the other,
    // and each contested key has its newest row: the table's rows are the
    // keys counted.
    move_parts(&newest_dir, folder, "newest-").map_err(|e| fail(e.into()))?;
    let (current, several, newest_rows) = (
        count_rows(engine, &table).await.map_err(fail)?,
        count_rows(engine, &contested).await.map_err(fail)?,
        count_rows(engine, NEWEST_ROWS).await.map_err(fail)?,
    );
    let single = current.checked_sub(newest_rows);
    if single.map(|single| single + several) != Some(accepted) {
        return Err(fail(DataFusionError::Internal(format!(
            "{current} current rows ({newest_rows} of them the newest of {several} contested) written of \
             {accepted} accepted: the plans disagree with themselves"
        ))));
    }
    for t in [
        table.as_str(),
        &contested,
        &alike,
        &newest,
        NEWEST_ROWS,
        &judged,
        &landing_table(dataset),
        "copies",
        KNOWN_CASES,
    ] {
        ctx.deregister_table(t).map_err(fail)?;
    }
    crate::base::engine::alike_hashes::forget();
    drop(scratch);
    crate::base::engine::return_free_memory();
    phases.done(&format!("{dataset}: current rows"));
    let report = DatasetReport::new(contract, &selection, &rejects, current, selection.rows());
    Ok(Validated {
        contract: contract.clone(),
        selection,
        schema,
        rows: Rows::File { path: folder.to_path_buf(), rows: current as usize },
        report,
        rejects,
    })
}

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
    if !super::judged_on_its_own_rows(contract) {
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
    for t in [judged.as_str(), &aside, &landing_table(dataset), "copies"] {
        ctx.deregister_table(t).map_err(fail)?;
    }
    crate::base::engine::alike_hashes::forget();
    drop(scratch);
    crate::base::engine::return_free_memory();
    phases.done(&format!("{dataset}: keys held twice"));
    Ok(rejects)
}

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
    for t in [table.as_str(), &judged, &landing_table(dataset), &settled, &alike, &contested, "copies", HELD] {
        ctx.deregister_table(t).map_err(fail)?;
    }
    crate::base::engine::alike_hashes::forget();
    drop(scratch);
    crate::base::engine::return_free_memory();
    phases.done(&format!("{dataset}: rejects and shares"));
    let report = DatasetReport::new(contract, &selection, &rejects, accepted, selection.rows());
    let schema = Arc::new(arrow::datatypes::Schema::empty());
    let rows = Rows::Released { rows: accepted as usize };
    Ok((Validated { contract: contract.clone(), selection, schema, rows, report, rejects }, shares))
}

/// What [`prepare_judged`] leaves: the judged view and the tables it
/// reads, registered until the caller is done (those written in files
/// under `scratch`).
struct Prepared {
    judged: String,
    scratch: tempfile::TempDir,
    /// The phases logged so far (the first steps', each when done).
    phases: crate::base::telemetry::Phases,
    /// How the plans are planned, until the caller is done.
    planning: Planned,
}

/// How many of `selection`'s rows were accepted, given its `rejects`.
fn accepted_of(selection: &Selection, rejects: &[Reject]) -> Result<u64, DataFusionError> {
    selection.rows().checked_sub(rejects.len() as u64).ok_or_else(|| {
        DataFusionError::Internal(format!(
            "{} rejects of {} landing rows: the engine read some rows twice",
            rejects.len(),
            selection.rows()
        ))
    })
}

/// The first steps of the plans that make a run's tables: registers the
/// landing table, writes the key hashes held twice (for `key_hash_in`),
/// registers the checked rows' view and its tables if the dataset has
/// one ([`write_checked`]), the known cases if its rows name a case (from
/// `violations`' table) and the judged view, which keeps the `keep`
/// columns and each row's entity index (looked up among `registered`),
/// and leaves the session planned as the plans are ([`plans_planning`])
/// while the caller holds the result.
async fn prepare_judged(
    engine: &Engine,
    contract: &Contract,
    selection: &Selection,
    keep: &[&str],
    registered: &RegisteredIds,
    violations: Option<&Validated>,
) -> Result<Prepared, DataFusionError> {
    let (ctx, dataset) = (engine.ctx(), contract.dataset);
    let mut phases = crate::base::telemetry::Phases::start("validation_plans");
    let planning = plans_planning(engine, selection.rows().max(registered.count() as u64));
    register_landing(engine, contract, selection)?;
    if let Some(uc) = contract.unknown_case {
        let Some(Validated { rows: Rows::File { path, .. }, schema, .. }) = violations else {
            return Err(DataFusionError::Internal(format!(
                "{dataset}: its cases are judged against the violations' table the plans made"
            )));
        };
        engine.register_arrow_files(CURRENT_VIOLATIONS, schema.clone(), path)?;
        let named = col(&contract.columns[uc].name);
        create_table(engine, KNOWN_CASES, &current_cases_sql(&named, &landing_table(dataset))).await?;
        ctx.deregister_table(CURRENT_VIOLATIONS)?;
        phases.done(&format!("{dataset}: known cases"));
    }
    let scratch = engine.scratch()?;
    // A key's copies are counted among the contested rows alone: an event
    // dataset's after its rows are judged, among the rows its judged pass
    // sets aside ([`judge_into_table`]); the holdings' as their checked
    // rows are written ([`write_checked`]).
    let alike = write_alike_hashes(engine, contract, &scratch.path().join("alike-hashes")).await?;
    phases.done(&format!("{dataset}: key hashes held twice"));
    if let Some(table) = checked_table(contract) {
        write_checked(engine, contract, keep, &alike, &table, scratch.path()).await?;
        phases.done(&format!("{dataset}: checked rows"));
    }
    if let Some(sql) = held_sql(contract) {
        engine.create_counted_table(HELD, ctx.sql(&sql).await?).await?;
        phases.done(&format!("{dataset}: entities held over 100"));
    }
    let judged = format!("judged_{dataset}");
    let sql = judged_sql_keeping(contract, keep, Some(registered), Some(&alike));
    ctx.sql(&format!("CREATE OR REPLACE VIEW {judged} AS {sql}")).await?;
    Ok(Prepared { judged, scratch, phases, planning })
}

/// Steps 1–2 of a dataset whose plan reads them twice (the holdings),
/// made once as view `table` over two tables: the rows whose key hash no
/// other landing row holds (`settled_<dataset>`, written to files in
/// `scratch` as they are checked, their copies known to be none), and
/// the contested rows (`contested_<dataset>`), set aside as they are
/// checked and then joined with their key's copies, counted among them.
/// No second read of the landing keys, and no join of every row.
async fn write_checked(
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
fn checked_parts(dataset: Dataset) -> (String, String, String) {
    (format!("settled_{dataset}"), format!("alike_{dataset}"), format!("contested_{dataset}"))
}

/// The pass that checks a dataset's rows ([`write_checked`]): steps 1–2's
/// columns but `_copies` (the carried columns, `_row`, `_rule_code`,
/// `_rule_message`, `_partition`, `_ingest_date`), then `_aside` (true for
/// a row whose key hash other landing rows hold: contested) and
/// `_settled` (null for those). Also the positions of the settled rows'
/// columns (the carried columns to `_rule_message`) and of the contested
/// rows' (to `_ingest_date`).
fn checked_split_sql(contract: &Contract, keep: &[&str], alike: &AlikeHashes) -> (String, Vec<usize>, Vec<usize>) {
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
/// copies, as one table (the columns [`checked_sql_keeping`] gives but
/// `_partition`).
fn checked_view_sql(contract: &Contract, keep: &[&str], settled: &str, contested: &str) -> String {
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
fn rejects_and_shares_sql(judged: &str, registered: &RegisteredIds) -> String {
    format!(
        "SELECT * FROM (\n  SELECT _row, _code, _message,\n    \
         CASE WHEN _code IS NULL AND holder_kind = 'entity' THEN {} END AS _holder,\n    \
         {ENTITY_IDX} AS _owned, share_pct\n  FROM {judged})\n\
         WHERE _code IS NOT NULL OR _holder IS NOT NULL",
        registered.index_of("holder_id")
    )
}

/// The table of the newest accepted row of each contested key (held by
/// rows whose key hash other landing rows hold).
const NEWEST_ROWS: &str = "newest_rows";

/// The known violations a dataset's cases are looked up in (`known_case`,
/// `known_entity`).
const KNOWN_CASES: &str = "known_cases";

/// The violations' table the plans made, while the known cases are read from it.
const CURRENT_VIOLATIONS: &str = "current_violations";

/// The known violations whose case a landing row of `landing` names (its
/// column `named`): each case's newest accepted version is the one row
/// the violations' table the plans made holds of it, with the index of
/// its entity (`known_entity`), which a row's own entity index is then
/// compared with. The named cases, at most the landing rows, are the
/// join's build side (the left of a RIGHT SEMI JOIN).
fn current_cases_sql(named: &str, landing: &str) -> String {
    format!(
        "SELECT case_id AS known_case, {ENTITY_IDX} AS known_entity\n\
         FROM (SELECT {named} AS named_case FROM {landing}) RIGHT SEMI JOIN {CURRENT_VIOLATIONS} ON case_id = named_case"
    )
}

/// The newest row (`_newest`, the last read: partitions are read in
/// ingest order) of each key among an event dataset's `contested` rows
/// (the accepted rows whose key hash other landing rows hold).
fn newest_rows_sql(contract: &Contract, contested: &str) -> String {
    let key = key_columns(contract);
    format!("SELECT max(_row) AS _newest FROM {contested}\nGROUP BY {}", key.join(", "))
}

/// The `keep` columns and `entity_idx` of the `contested` rows that are
/// their key's newest.
fn newest_current_sql(contract: &Contract, contested: &str, keep: &[&str]) -> String {
    let mut out: Vec<String> = keep.iter().map(|k| enumerated_sql(contract, &col(k))).collect();
    out.push(ENTITY_IDX.to_string());
    format!("SELECT {} FROM {NEWEST_ROWS} RIGHT SEMI JOIN {contested} ON _newest = _row", out.join(", "))
}

/// The pass over an event dataset's `judged` rows that makes its table:
/// `_row`, `_code`, `_message`, `_aside` (null for an accepted row no
/// other landing row's key hash shares), `_settled` (null for a row whose
/// key hash other landing rows hold: set aside with its copies not yet
/// counted), `_ruled`, `_partition`, `_ingest_date`, then the `keep`
/// columns, `entity_idx` and the key's columns not kept. Also the
/// positions of the table's columns (`keep`, `entity_idx`) and of the
/// rows set aside (`_row`, `_code`, `_message`, `_ruled`, `_partition`,
/// `_ingest_date`, those, and the key), read by [`alike_judged_sql`].
fn judged_once_into_table_sql(contract: &Contract, judged: &str, keep: &[&str]) -> (String, Vec<usize>, Vec<usize>) {
    let columns = table_and_key(contract, keep);
    let table: Vec<usize> = (8..8 + keep.len() + 1).collect();
    let alike: Vec<usize> = [0, 1, 2, 5, 6, 7].into_iter().chain(8..8 + columns.len()).collect();
    let enumerated: Vec<String> = columns.iter().map(|c| enumerated_sql(contract, c)).collect();
    let sql = format!(
        "SELECT _row, _code, _message, nullif(_code IS NOT NULL OR _contested, false) AS _aside,\n  \
         nullif(NOT _contested, false) AS _settled, _ruled, _partition, _ingest_date, {}\nFROM {judged}",
        enumerated.join(", ")
    );
    (sql, table, alike)
}

/// `column` (quoted) of an event dataset's table as the native validation
/// keeps it: an enumerated column that no later rule reads (not the key,
/// not a case named) as a dictionary over the contract's values
/// (`enumerated`), any other as it is. Every pass that writes the table's
/// files encodes it so, those over files it wrote before too: an Arrow
/// IPC file holds one dictionary a column, and batches read from two
/// files (two copies of the values, merged by the engine as they meet)
/// would give it two.
fn enumerated_sql(contract: &Contract, column: &str) -> String {
    let listed = contract
        .columns
        .iter()
        .enumerate()
        .find(|(ci, c)| col(&c.name) == column && !contract.key.contains(ci) && contract.unknown_case != Some(*ci));
    match listed.and_then(|(_, c)| c.one_of.as_ref()) {
        Some(values) => {
            let values: Vec<String> = values.iter().map(|v| text(v)).collect();
            format!("enumerated({column}, {}) AS {column}", values.join(", "))
        }
        None => column.to_string(),
    }
}

/// The column of [`judged_once_into_table_sql`] that is null for the rows
/// set aside.
const SETTLED: usize = 4;

/// The `keep` columns, `entity_idx` and the key's columns not kept: what
/// an event dataset's table and its contested rows carry.
fn table_and_key(contract: &Contract, keep: &[&str]) -> Vec<String> {
    let mut columns: Vec<String> = keep.iter().map(|k| col(k)).collect();
    columns.push(ENTITY_IDX.to_string());
    for k in &contract.key {
        let name = &contract.columns[*k].name;
        if !keep.contains(&name.as_str()) {
            columns.push(col(name));
        }
    }
    columns
}

/// The rows an event dataset's judged pass set aside (`alike`: those whose
/// key hash other landing rows hold), judged again with their key's
/// copies in their partition (the `copies` table, [`copies_among_sql`]):
/// a row that broke a row rule keeps its code, one whose key its
/// partition holds twice is a `duplicate_key`, any other keeps the code
/// its judged pass gave it. `_row`, `_code`, `_message`, `_rejected`
/// (null for an accepted row, a contested one), then the `keep` columns,
/// `entity_idx` and the key's columns not kept.
fn alike_judged_sql(contract: &Contract, alike: &str, keep: &[&str]) -> String {
    let columns = table_and_key(contract, keep);
    let enumerated: Vec<String> = columns.iter().map(|c| enumerated_sql(contract, c)).collect();
    format!(
        "SELECT _row, _code, _message, CASE WHEN _code IS NOT NULL THEN true END AS _rejected, {}\nFROM ({})",
        enumerated.join(", "),
        rejudged_sql(contract, alike, &columns.join(", "))
    )
}

/// The rows of `alike` (rows judged but for their key's copies, with
/// `_ruled`, `_partition` and `_ingest_date`) judged again with those
/// copies (the `copies` table): `_row`, `columns`, `_code`, `_message`.
fn rejudged_sql(contract: &Contract, alike: &str, columns: &str) -> String {
    format!(
        "\n  SELECT _row, {columns},\n    \
         CASE WHEN _ruled THEN _code WHEN _copies IS NOT NULL THEN {} ELSE _code END AS _code,\n    \
         CASE WHEN _ruled THEN _message WHEN _copies IS NOT NULL THEN {} ELSE _message END AS _message\n  \
         FROM ({})",
        text(FaultCode::DuplicateKey.as_str()),
        duplicate_message(contract),
        copies_join(alike, &copies_on(contract))
    )
}

/// The registry's rows to judge again once their key's copies are counted
/// ([`judge_registry`]): the rows its `judged` view rejects, and those
/// whose key hash other landing rows hold (`_contested`, judged but for
/// their copies).
fn registry_aside_sql(contract: &Contract, judged: &str) -> String {
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
fn registry_rejects_sql(contract: &Contract, aside: &str) -> String {
    let key = key_columns(contract);
    format!(
        "SELECT _row, _code, _message FROM ({})\nWHERE _code IS NOT NULL",
        rejudged_sql(contract, aside, &key.join(", "))
    )
}

/// How many rows table `name` holds.
async fn count_rows(engine: &Engine, name: &str) -> Result<u64, DataFusionError> {
    let counted = engine.ctx().sql(&format!("SELECT count(*) FROM {name}")).await?.collect().await?;
    counted
        .iter()
        .map(|b| arrow::compute::cast(b.column(0), &DataType::UInt64).map(|c| c.as_primitive::<UInt64Type>().value(0)))
        .sum::<Result<u64, _>>()
        .map_err(Into::into)
}

/// Moves the Arrow files of `from` into `to`, their names given `prefix`
/// (the table's other files keep theirs).
fn move_parts(from: &std::path::Path, to: &std::path::Path, prefix: &str) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let path = entry?.path();
        if let (Some(name), true) = (path.file_name(), path.extension().is_some_and(|x| x == "arrow")) {
            std::fs::rename(&path, to.join(format!("{prefix}{}", name.to_string_lossy())))?;
        }
    }
    Ok(())
}

/// How validation's plans are planned (dropped, the session's settings
/// are restored: the run's later plans are planned as before).
///
/// In one process (the local engine):
///
/// - joins unpartitioned: a join's build side (the registry's ids, a
///   partition's key copies) is built once and probed by every thread,
///   and the probe side, every row of a dataset, is not first copied into
///   partitions by the hash of its key (at 10M, the plans took 31.0–31.2 s
///   against 35.0–35.2 s);
/// - an aggregate's partial step passes its rows on unaggregated when its
///   groups are more than half its rows, as the shares held per entity
///   are (9.2M entities for 13.6M holdings at 10M): the final step groups
///   them once, where both steps did (at 10M the holdings' plans took
///   6.65 s against 7.24 s on average, faster in seven of eight
///   interleaved pairs).
///
/// On a cluster (where every row an aggregate passes on would cross the
/// network, and every task of an unpartitioned join would hold a whole
/// build side): hash joins partitioned by the key
/// ([`Settings::cluster_hash_joins`]; at 10M the plans took 40.3–44.8 s
/// against 74.4–80.4 s with sort-merge joins on two one-thread
/// executors). Every build side is the left one as written, none with
/// more rows than the largest landing dataset (`largest_rows`), and all
/// but one hold each key once (the registry's ids, the keys and hashes
/// held twice, the entities held over 100, the known cases); the cases
/// the repairs name may repeat, but are at most the repairs' rows.
fn plans_planning(engine: &Engine, largest_rows: u64) -> Planned {
    match engine.is_local() {
        true => Planned::set(engine.ctx(), |now| Settings { repartition_joins: false, skip_partial_above: 0.5, ..now }),
        false => Planned::set(engine.ctx(), |now| now.cluster_hash_joins(largest_rows)),
    }
}

fn landing_table(dataset: Dataset) -> String {
    format!("landing_{}", dataset.name())
}

/// Registers the selection's rows as `landing_<dataset>`: a
/// [`LandingScan`], which reads the chosen files with the native
/// validation's reader and numbers each row (`_row`, `_partition`,
/// `_ingest_date`) as the native validation does.
fn register_landing(engine: &Engine, contract: &Contract, selection: &Selection) -> Result<(), DataFusionError> {
    let table = landing_table(contract.dataset);
    engine.ctx().deregister_table(&table)?;
    engine.ctx().register_table(table, Arc::new(LandingScan::new(contract, selection)))?;
    Ok(())
}

/// Steps 1–2 as a query of its own: each landing row with the first row
/// rule it breaks (`_rule_code`, `_rule_message`) and how many rows of
/// its partition share its key (`_copies`).
fn checked_sql(contract: &Contract) -> String {
    checked_sql_keeping(contract, &[])
}

/// [`checked_sql`] whose rows also carry the `keep` columns.
fn checked_sql_keeping(contract: &Contract, keep: &[&str]) -> String {
    let (steps, on) = checked_steps(contract, keep);
    format!("WITH {steps}\n{}", copies_join("ruled", &on))
}

/// Step 1, the `ruled` step, and the condition that joins a partition's
/// key copies (the table [`keys::copies_sql`] makes) to its rows.
fn checked_steps(contract: &Contract, keep: &[&str]) -> (String, String) {
    let rules = row_rules(contract);
    let table = landing_table(contract.dataset);
    // 1. The first row rule broken, its code and its message: from here
    // on, a row carries only the columns the later steps read. A `CASE
    // _rule WHEN n` sets the rows that break no rule aside at once (its
    // value is null), where `WHEN _rule = n` would test each of them for
    // every rule.
    let mut first_rule = String::from("CASE");
    let (mut rule_code, mut rule_message) = (String::from("CASE _rule"), String::from("CASE _rule"));
    for (n, r) in rules.iter().enumerate() {
        let _ = write!(first_rule, "\n          WHEN {} THEN {n}", r.when);
        let _ = write!(rule_code, "\n      WHEN {n} THEN {}", text(r.code.as_str()));
        let _ = write!(rule_message, "\n      WHEN {n} THEN {}", r.message);
    }
    first_rule.push_str("\n        END");
    rule_code.push_str("\n    END");
    rule_message.push_str("\n    END");
    let carried = carried_sql(contract, keep);
    let ruled = format!(
        "ruled AS (\n  SELECT {}, _row, _partition, _ingest_date,\n    {rule_code} AS _rule_code,\n    {rule_message} AS _rule_message\n  FROM (SELECT *,\n        {first_rule} AS _rule\n      FROM {table}))",
        carried.join(", ")
    );
    (ruled, copies_on(contract))
}

/// The condition that joins a partition's key copies (`c`, a table
/// [`keys::copies_sql`] makes) to its rows (`l`).
fn copies_on(contract: &Contract) -> String {
    let on: Vec<String> = key_columns(contract).iter().enumerate().map(|(i, k)| format!("l.{k} = c._key{i}")).collect();
    format!("l._partition = c._key_partition AND {}", on.join(" AND "))
}

/// The rows of `input` with their key's copies (`_copies`, null for a key
/// held once).
fn copies_join(input: &str, on: &str) -> String {
    format!("SELECT l.*, c._copies\n  FROM copies c RIGHT JOIN {input} l ON {on}")
}

/// The contract columns a row carries past the row rules, in contract
/// order: its key, the columns the later rules and their messages read,
/// and those kept of the accepted rows.
fn carried(contract: &Contract, keep: &[&str]) -> Vec<usize> {
    let mut columns = contract.key.clone();
    columns.extend(keep.iter().filter_map(|k| contract.column_index(k)));
    if let Some(s) = &contract.shares_over_100 {
        columns.extend([s.group_by, s.column]);
    }
    columns.extend(contract.unknown_entity);
    columns.extend(contract.unknown_case);
    for kept in accepted_columns(contract) {
        columns.extend(contract.columns.iter().position(|c| c.name == kept));
    }
    columns.sort_unstable();
    columns.dedup();
    columns
}

/// The [`carried`] columns, quoted.
fn carried_sql(contract: &Contract, keep: &[&str]) -> Vec<String> {
    carried(contract, keep).iter().map(|c| col(&contract.columns[*c].name)).collect()
}

/// The table a dataset's [`checked_sql`] is written to first, when its
/// plan reads it twice (the shares held are summed from it, then joined
/// back to it): DataFusion would otherwise judge every row twice.
fn checked_table(contract: &Contract) -> Option<String> {
    contract.shares_over_100.as_ref().map(|_| format!("checked_{}", contract.dataset))
}

/// The message of a row whose key its partition holds `_copies` times.
fn duplicate_message(contract: &Contract) -> String {
    let names: Vec<&str> = contract.key.iter().map(|k| contract.columns[*k].name.as_str()).collect();
    let quoted: Vec<String> = names.iter().map(|k| format!("quoted({})", col(k))).collect();
    concat(&[
        &text(&format!("key ({}) = (", names.join(", "))),
        &quoted.join(", ', ', "),
        "') appears '",
        "CAST(_copies AS VARCHAR)",
        "' times in partition ingest_date='",
        "CAST(_ingest_date AS VARCHAR)",
    ])
}

/// The plan of one dataset: every landing row with `_code` (null: the row
/// is accepted) and `_message`, and the contract's columns. Steps 1–5 of
/// the module's documentation are its common table expressions (steps
/// 1–2 read from their table when [`checked_table`] names one).
fn judged_sql(contract: &Contract) -> String {
    judged_sql_keeping(contract, &[], None, None)
}

/// [`judged_sql`] whose rows also carry the `keep` columns and, for a
/// dataset whose rows name an entity, that entity's index (`entity_idx`):
/// the plan of a run's table ([`judge_into_table`]). With `registered`,
/// an entity is looked up among those ids where its row is judged
/// (`entity_index`) instead of joined with the `registered` table. With
/// `alike` (`--plans-make-tables`: an event dataset's table, the
/// registry's rejects), a row whose key hash other landing rows hold is
/// contested and judged but for its copies.
fn judged_sql_keeping(
    contract: &Contract,
    keep: &[&str],
    registered: Option<&RegisteredIds>,
    alike: Option<&AlikeHashes>,
) -> String {
    let name = |ci: usize| contract.columns[ci].name.as_str();
    let key = key_columns(contract);
    let mut steps: Vec<String> = Vec::new();

    // 1–2, as steps of this query or from their table.
    let (checked, copies_on) = match checked_table(contract) {
        Some(table) => (table, None),
        None => {
            let (checked, on) = checked_steps(contract, keep);
            steps.push(checked);
            ("ruled".to_string(), Some(on))
        }
    };
    // 3. The entities held over 100 by rows that passed 1–2: a table made
    // first ([`held_sql`]).
    // 4. Against the registry and the known violations. Each join's
    // build side is written as the left (RIGHT JOIN): the registry's ids
    // and the known cases, which are fewer than most datasets' rows; the
    // planner swaps the sides when the landing rows are fewer (it knows
    // their count), as the repairs' are. The entities held over 100 and
    // a partition's key copies, tables made before the plan, are joined
    // last.
    /// A join step, given the name of the step it reads.
    type Join = Box<dyn Fn(&str) -> String>;
    fn right_join(table: &'static str, on: String) -> Join {
        Box::new(move |input| format!("SELECT * FROM {table} RIGHT JOIN {input} ON {on}"))
    }
    let mut joins: Vec<(&str, Join)> = Vec::new();
    // The registry's accepted ids are valid entity ids, held as their bits:
    // text that does not pack is in it no more than text that packs to
    // bits of no registered id.
    let unregistered = match (contract.unknown_entity, registered) {
        (Some(ue), Some(ids)) => {
            let index = ids.index_of(&col(name(ue)));
            let step: Join = Box::new(move |input: &str| format!("SELECT *, {index} AS registered_idx FROM {input}"));
            joins.push(("registered", step));
            "registered_idx IS NULL"
        }
        (Some(ue), None) => {
            let on = format!("entity_bits({}) = registered_id", col(name(ue)));
            joins.push(("registered", right_join("registered", on)));
            "registered_id IS NULL"
        }
        (None, _) => "",
    };
    if let Some(uc) = contract.unknown_case {
        joins.push((KNOWN_CASES, right_join(KNOWN_CASES, format!("{} = known_case", col(name(uc))))));
    }
    if let Some(s) = &contract.shares_over_100 {
        let on = format!("{} = _held_entity", grouped(contract, s.group_by));
        joins.push((HELD, right_join(HELD, on)));
    }
    // With `alike` (the plans that make a run's tables), a row whose key
    // hash other landing rows hold is contested: its key
    // may have other versions, or copies in its partition. Such rows are
    // judged here but for their copies, which are counted among them
    // once they are set aside ([`judge_into_table`]); the hash is looked
    // up where the row is judged, with no join.
    let contested = alike.is_some() && copies_on.is_some();
    match (copies_on, alike) {
        (Some(_), Some(alike)) => {
            let held = alike.hold(&format!("key_hash({})", key.join(", ")));
            let step: Join = Box::new(move |input: &str| format!("SELECT *, {held} AS _contested FROM {input}"));
            joins.push(("alike", step));
        }
        (Some(on), None) => joins.push(("copies", Box::new(move |input: &str| copies_join(input, &on)))),
        (None, _) => {}
    }
    let mut last = checked;
    for (n, (table, join)) in joins.iter().enumerate() {
        let step = if n + 1 == joins.len() { "found".to_string() } else { format!("with_{table}") };
        steps.push(format!("{step} AS (\n  {})", join(&last)));
        last = step;
    }
    let found = last;

    // 5. The first code that applies, and its message.
    let mut code = String::from("CASE");
    let mut message = String::from("CASE");
    code.push_str("\n      WHEN _rule_code IS NOT NULL THEN _rule_code");
    message.push_str("\n      WHEN _rule_code IS NOT NULL THEN _rule_message");
    let mut when = |condition: &str, c: &str, m: &str| {
        let _ = write!(code, "\n      WHEN {condition} THEN {}", text(c));
        let _ = write!(message, "\n      WHEN {condition} THEN {m}");
    };
    if !contested {
        when("_copies > 1", FaultCode::DuplicateKey.as_str(), &duplicate_message(contract));
    }
    if let Some(s) = &contract.shares_over_100 {
        let owned = name(s.group_by);
        when(
            &format!("_held > {}", s.max_sum),
            FaultCode::SharesOver100.as_str(),
            &concat(&[
                &text(&format!("shares held in {owned} ")),
                &format!("quoted({})", col(owned)),
                "' add up to '",
                "float_text(round(_held * 1000000) / 1000000)",
                "', expected at most 100 (0.01 tolerance)'",
            ]),
        );
    }
    if let Some(ue) = contract.unknown_entity {
        when(
            unregistered,
            FaultCode::UnknownEntity.as_str(),
            &concat(&[
                &text(&format!("column {}: entity ", name(ue))),
                &format!("quoted({})", col(name(ue))),
                "' is not in the registry snapshot the run uses'",
            ]),
        );
    }
    if let (Some(uc), Some(ue)) = (contract.unknown_case, contract.unknown_entity) {
        let why = "CASE WHEN known_case IS NULL THEN 'is no known violation' ELSE 'is a violation of another entity, not' END";
        // With the registered ids, the known cases carry their entity's
        // index ([`current_cases_sql`]); a row of an unregistered entity
        // was rejected above.
        let entity = match registered {
            Some(_) => "registered_idx".to_string(),
            None => col(name(ue)),
        };
        when(
            &format!("known_case IS NULL OR known_entity <> {entity}"),
            FaultCode::UnknownCase.as_str(),
            &concat(&[
                &text(&format!("column {}: case ", name(uc))),
                &format!("quoted({})", col(name(uc))),
                "' '",
                why,
                "' of this row''s entity'",
            ]),
        );
    }
    code.push_str("\n    END");
    message.push_str("\n    END");
    let mut columns: Vec<String> = carried(contract, keep).iter().map(|c| col(name(*c))).collect();
    if !keep.is_empty() && contract.unknown_entity.is_some() {
        columns.push(format!("registered_idx AS {ENTITY_IDX}"));
    }
    if contested {
        columns
            .extend(["_contested", "_rule_code IS NOT NULL AS _ruled", "_partition", "_ingest_date"].map(String::from));
    }
    format!(
        "WITH {}\nSELECT {}, _row,\n    {code} AS _code,\n    {message} AS _message\nFROM {found}",
        steps.join(",\n"),
        columns.join(", ")
    )
}

/// The table of the entities held over 100 (step 3).
const HELD: &str = "held";

/// Step 3, as a query of its own over the checked rows' table: the
/// entities whose shares held by rows that passed steps 1–2 add up to
/// over 100, and that sum. They are few, and their table
/// ([`Engine::create_counted_table`]) tells the planner so, so that a
/// cluster sends them to every task of the join instead of every
/// holding to the task of its entity. The shares are summed by sorting
/// them (`sums_over`) instead of by a hash table of every entity; its key
/// is an entity id's packed bits, which the embedded holdings contract
/// groups by (another column would fail to plan).
fn held_sql(contract: &Contract) -> Option<String> {
    let (s, checked) = (contract.shares_over_100.as_ref()?, checked_table(contract)?);
    let (owned, share) = (grouped(contract, s.group_by), col(&contract.columns[s.column].name));
    Some(format!(
        "SELECT _over['key'] AS _held_entity, _over['sum'] AS _held\n  \
         FROM (SELECT unnest(sums_over({owned}, {share}, {:?})) AS _over FROM {checked}\n    \
         WHERE _rule_code IS NULL AND _copies IS NULL)",
        s.max_sum
    ))
}

/// How the rows that passed steps 1–2 are grouped by `column`: a column
/// checked as an entity id by its packed bits (exact, and a number to
/// group by), any other by its text.
fn grouped(contract: &Contract, column: usize) -> String {
    let c = &contract.columns[column];
    match c.check {
        Some(Check::EntityId) => format!("entity_bits({})", col(&c.name)),
        _ => col(&c.name),
    }
}

/// The columns of the accepted rows (`_code IS NULL`) that the queries
/// after the rejects need: the registry's entities, the violations' cases,
/// an event dataset's keys; none for the holdings.
fn accepted_columns(contract: &Contract) -> Vec<String> {
    let names = |cols: &[&str]| cols.iter().map(|c| c.to_string()).collect();
    match contract.dataset {
        Dataset::Registry => names(&["entity_id"]),
        Dataset::Violations => names(&["case_id", "entity_id", "_row"]),
        _ if contract.kind == DatasetKind::Snapshot => Vec::new(),
        _ => contract.key.iter().map(|k| contract.columns[*k].name.clone()).collect(),
    }
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
const SEVERAL_VERSIONS: &str = "several_versions";

/// The key hashes of an event dataset's accepted rows held by several
/// rows (`repeated_hashes`), as a counted table: few, so that a cluster
/// sends them to every task of the join that counts their rows.
fn versions_sql(contract: &Contract, accepted: &str) -> String {
    let key = key_columns(contract);
    format!(
        "SELECT unnest(_repeated) AS _alike\n\
         FROM (SELECT repeated_hashes(key_hash({})) AS _repeated FROM {accepted})",
        key.join(", ")
    )
}

/// How many keys the accepted rows of the hashes held by several have,
/// and how many rows those are.
fn several_versions_sql(contract: &Contract, accepted: &str) -> String {
    let key = key_columns(contract);
    format!(
        "SELECT count(*) AS _keys, sum(_versions) AS _rows\n\
         FROM (SELECT {0}, count(*) AS _versions FROM {SEVERAL_VERSIONS} RIGHT SEMI JOIN {accepted} ON _alike = key_hash({0}) GROUP BY {0})",
        key.join(", ")
    )
}

/// The accepted registry rows' entities.
fn registered_sql(accepted: &str) -> String {
    format!("SELECT entity_bits(entity_id) AS registered_id FROM {accepted}")
}

/// The datasets whose rows name a violation's case, and the column.
fn naming_cases(contracts: &Contracts) -> Vec<(Dataset, String)> {
    Dataset::ALL
        .into_iter()
        .filter_map(|d| contracts.get(d).unknown_case.map(|c| (d, contracts.get(d).columns[c].name.clone())))
        .collect()
}

/// The newest accepted version of each violation whose case a landing row
/// of `naming` names: its case and entity. The named cases, few, are the
/// join's build side (the left of a RIGHT SEMI JOIN).
fn known_cases_sql(accepted: &str, naming: &[(Dataset, String)]) -> String {
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
fn judged_once_sql(judged: &str, columns: &[String]) -> String {
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

/// The rows of `sql`, registered as table `name` for the later datasets'
/// plans ([`Engine::create_table`]).
async fn create_table(engine: &Engine, name: &str, sql: &str) -> Result<(), DataFusionError> {
    engine.create_table(name, engine.ctx().sql(sql).await?).await
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

/// The rejects among `batch`'s rows, whose first three columns are
/// `_row`, `_code` and `_message`: those with a code.
fn rejects_in(batch: &arrow::array::RecordBatch) -> Result<Vec<Reject>, DataFusionError> {
    let rows = arrow::compute::cast(batch.column(0), &DataType::UInt64)?;
    let rows = rows.as_primitive::<UInt64Type>();
    // The engine may give text as any of Arrow's string types.
    let codes = arrow::compute::cast(batch.column(1), &DataType::Utf8)?;
    let messages = arrow::compute::cast(batch.column(2), &DataType::Utf8)?;
    let (codes, messages) = (codes.as_string::<i32>(), messages.as_string::<i32>());
    let mut out = Vec::new();
    for i in (0..batch.num_rows()).filter(|i| codes.is_valid(*i)) {
        let code = FaultCode::ALL
            .into_iter()
            .find(|c| c.as_str() == codes.value(i))
            .ok_or_else(|| DataFusionError::Internal(format!("a plan gave code {}", codes.value(i))))?;
        let message = if messages.is_null(i) { String::new() } else { messages.value(i).to_string() };
        out.push(Reject { row: rows.value(i), code, message });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::keys::{alike_hashes_sql, copies_sql, hashed_alike_sql};
    use super::*;

    #[test]
    fn the_local_plans_settings_are_set_and_left_as_they_were_found() {
        let engine = Engine::local(crate::base::engine::EngineLimits::default()).unwrap();
        let defaults = Planned::read(engine.ctx());
        assert_eq!((defaults.repartition_joins, defaults.skip_partial_above), (true, 0.8), "DataFusion's defaults");
        let local = plans_planning(&engine, 1 << 30);
        assert_eq!(
            Planned::read(engine.ctx()),
            Settings { repartition_joins: false, skip_partial_above: 0.5, ..defaults },
            "no partitions added, whatever the rows"
        );
        drop(local);
        assert_eq!(Planned::read(engine.ctx()), defaults, "the run's later plans are planned as before");
    }

    #[test]
    fn a_pool_too_small_for_the_plans_says_whose_memory_to_raise() {
        use crate::base::error::{Classify, ErrorKind};
        let local = PlanError {
            dataset: Dataset::Violations,
            source: DataFusionError::ResourcesExhausted("Failed to allocate for HashJoinInput[0]".into()),
        };
        let text = local.to_string();
        assert!(text.starts_with("validating violations by plans: Resources exhausted"), "{text}");
        assert!(text.contains("raise --memory-limit"), "{text}");
        // As a Ballista job's failure reaches the driver.
        let cluster = PlanError {
            dataset: Dataset::Violations,
            source: DataFusionError::Execution(
                "Job 038JAKZWR4000 failed: Job failed due to stage 7 failed: Task failed due to runtime execution \
                 error: DataFusionError(Shared(ResourcesExhausted(\"Failed to allocate additional 136.0 MB for \
                 HashJoinInput[0]\")))"
                    .into(),
            ),
        };
        let text = cluster.to_string();
        assert!(text.contains("HashJoinInput") && text.contains("raise the executors' --memory-limit"), "{text}");
        assert_eq!((local.kind(), cluster.kind()), (ErrorKind::Input, ErrorKind::Input));
        let other = PlanError { dataset: Dataset::Holdings, source: DataFusionError::Plan("no such column".into()) };
        assert!(!other.to_string().contains("--memory-limit"), "{other}");
    }

    /// The plans' SQL, for a reader to check against datasets.md:
    /// `tests/golden/validation-plans.sql` (`UPDATE_GOLDEN=1` rewrites it).
    #[test]
    fn the_plans_sql_is_the_golden_file() {
        let contracts = Contracts::load().unwrap();
        let mut sql =
            String::from("-- Validation's plans, generated from the contracts (src/stages/validate/plans/).\n\
                          -- key_hash(...) is a 64-bit hash of its values: it only narrows the rows then grouped by\n\
                          -- their values. entity_bits(id) is an entity id's packed bits: exact (src/base/engine/key_forms.rs).\n");
        for d in ORDER {
            let contract = contracts.get(d);
            let _ = write!(
                sql,
                "\n-- {d}: the key hashes held twice, then the keys held twice, first (tables whose row counts the planner knows)\nCREATE TABLE {HASHED_ALIKE} AS\n{};\nCREATE TABLE copies AS\n{};\n",
                hashed_alike_sql(contract),
                copies_sql(contract)
            );
            if let Some(table) = checked_table(contract) {
                let _ = write!(
                    sql,
                    "\n-- {d}: steps 1-2 first, read twice below\nCREATE TABLE {table} AS\n{};\n",
                    checked_sql(contract)
                );
            }
            if let Some(held) = held_sql(contract) {
                let _ = write!(sql, "-- {d}: step 3, the entities held over 100\nCREATE TABLE {HELD} AS\n{held};\n");
            }
            let _ = write!(sql, "\n-- {d}\nCREATE VIEW judged_{d} AS\n{};\n", judged_sql(contract));
            let kept = accepted_columns(contract);
            let _ = write!(
                sql,
                "-- run once: {}\n{};\n",
                match kept.is_empty() {
                    true => "its rows are the rejects".to_string(),
                    false => format!(
                        "the rejects are its rows with _code IS NOT NULL; accepted_{d} keeps the others' {}",
                        kept.join(", ")
                    ),
                },
                judged_once_sql(&format!("judged_{d}"), &kept)
            );
            if contract.kind == DatasetKind::Event {
                let accepted = format!("accepted_{d}");
                let _ = write!(
                    sql,
                    "-- its current rows: the key hashes held by several rows ({SEVERAL_VERSIONS}), then those rows' keys and count\n{};\n{};\n",
                    versions_sql(contract, &accepted),
                    several_versions_sql(contract, &accepted)
                );
            }
        }
        let _ = write!(
            sql,
            "\n-- the accepted registry rows, for unknown_entity\nCREATE TABLE registered AS {};\n",
            registered_sql("accepted_registry")
        );
        let _ = write!(
            sql,
            "\n-- the known violations, for unknown_case\nCREATE TABLE known_cases AS {};\n",
            known_cases_sql("accepted_violations", &naming_cases(&contracts))
        );
        // --plans-make-tables, with columns a policy may keep.
        let registered = RegisteredIds::at("/run/plans/registered-ids", 0);
        let registry = contracts.get(Dataset::Registry);
        let alike = AlikeHashes::at("/run/plans/alike-hashes", 0);
        let _ = write!(
            sql,
            "\n-- With --plans-make-tables, the plans judge the registry, and the run reads its accepted rows as they do\n\
             -- (it numbers the entities and writes the registry mart itself); only the rejects reach the run.\n\
             -- The key hashes held twice, one list the run writes for key_hash_in (alike-hashes):\n{};\n\
             -- every row judged but for its key's copies:\nCREATE VIEW judged_registry AS\n{};\n\
             -- its rejects, and the rows whose key hash other rows hold:\nCREATE TABLE alike_registry AS\n{};\n\
             -- the keys held twice among the latter, then the rejects, those rows judged again:\nCREATE TABLE copies AS\n{};\n{};\n\
             -- then the plans make the violations', repairs', complaints' and holdings' tables,\n\
             -- looking each entity up in the registered ids the run wrote (entity_index), with no join.\n",
            alike_hashes_sql(registry),
            judged_sql_keeping(registry, &[], None, Some(&alike)),
            registry_aside_sql(registry, "judged_registry"),
            copies_among_sql(registry, "(SELECT * FROM alike_registry WHERE _contested)"),
            registry_rejects_sql(registry, "alike_registry")
        );
        let kept = [
            (Dataset::Violations, &["case_id", "decided_on", "category", "severity", "status"][..]),
            (Dataset::Repairs, &["repair_id", "case_id", "approved_on"][..]),
            (Dataset::Complaints, &["complaint_id", "received_on", "verified", "outcome"][..]),
            (Dataset::Holdings, &["holder_id", "holder_kind", "share_pct"][..]),
        ];
        for (d, keep) in kept {
            let contract = contracts.get(d);
            if let Some(uc) = contract.unknown_case {
                let _ = write!(
                    sql,
                    "\n-- {d}: the known violations, from the violations' table made above ({CURRENT_VIOLATIONS})\nCREATE TABLE {KNOWN_CASES} AS\n{};\n",
                    current_cases_sql(&col(&contract.columns[uc].name), &landing_table(d))
                );
            }
            let alike = AlikeHashes::at("/run/plans/alike-hashes", 0);
            let _ = write!(
                sql,
                "\n-- {d}: the key hashes held twice, one list the run writes for key_hash_in (alike-hashes)\n{};\n",
                alike_hashes_sql(contract)
            );
            if let Some(table) = checked_table(contract) {
                let (settled, aside, contested) = checked_parts(d);
                let (split, _, _) = checked_split_sql(contract, keep, &alike);
                let _ = write!(
                    sql,
                    "\n-- {d}: steps 1-2 first, run once: the rows with _aside null are {settled} (the columns to _rule_message),\n\
                     -- those with _settled null are set aside ({aside}: the columns to _ingest_date)\n{split};\n\
                     -- the keys held twice among the rows set aside, then those rows with their copies ({contested})\n\
                     CREATE TABLE copies AS\n{};\nCREATE TABLE {contested} AS\n{};\n\
                     -- both, read twice below\nCREATE VIEW {table} AS\n{};\n",
                    copies_among_sql(contract, &aside),
                    copies_join(&aside, &copies_on(contract)),
                    checked_view_sql(contract, keep, &settled, &contested)
                );
            }
            if let Some(held) = held_sql(contract) {
                let _ = write!(sql, "-- {d}: step 3, the entities held over 100\nCREATE TABLE {HELD} AS\n{held};\n");
            }
            let alike = Some(alike);
            let _ = write!(
                sql,
                "\n-- {d}, keeping {}\nCREATE VIEW judged_{d} AS\n{};\n",
                keep.join(", "),
                judged_sql_keeping(contract, keep, Some(&registered), alike.as_ref())
            );
            match contract.kind {
                DatasetKind::Event => {
                    let (contested, alike) = (format!("contested_{d}"), format!("alike_{d}"));
                    let (once, _, _) = judged_once_into_table_sql(contract, &format!("judged_{d}"), keep);
                    let _ = write!(
                        sql,
                        "-- run once: the rows with _aside null are current rows (current_{d}: the kept\n\
                         -- columns and entity_idx), those with _settled null are set aside ({alike}: _row, _code, _message, _ruled,\n\
                         -- _partition, _ingest_date, those, the key), and the others are rejects\n\
                         {once};\n\
                         -- the keys held twice among the rows set aside, then those rows judged again with their copies:\n\
                         -- the rejects are its rows with _rejected, the others {contested} (_row, those, the key)\n\
                         CREATE TABLE copies AS\n{};\n{};\n\
                         -- the newest row of each contested key, current too\n\
                         CREATE TABLE {NEWEST_ROWS} AS\n{};\n{};\n",
                        copies_among_sql(contract, &alike),
                        alike_judged_sql(contract, &alike, keep),
                        newest_rows_sql(contract, &contested),
                        newest_current_sql(contract, &contested, keep)
                    );
                }
                DatasetKind::Snapshot => {
                    let _ = write!(
                        sql,
                        "-- run once: its rejects, and the shares between registered entities\n{};\n",
                        rejects_and_shares_sql(&format!("judged_{d}"), &registered)
                    );
                }
            }
        }
        let path = crate::repo_root().join("tests/golden/validation-plans.sql");
        if std::env::var("UPDATE_GOLDEN").is_ok() {
            std::fs::write(&path, &sql).unwrap();
        }
        let golden = std::fs::read_to_string(&path).unwrap();
        let first = golden.lines().zip(sql.lines()).position(|(g, s)| g != s);
        assert!(
            golden == sql,
            "{} differs at line {:?} (UPDATE_GOLDEN=1 rewrites it):\n- {:?}\n+ {:?}",
            path.display(),
            first.map(|n| n + 1),
            first.and_then(|n| golden.lines().nth(n)),
            first.and_then(|n| sql.lines().nth(n)),
        );
    }
}
