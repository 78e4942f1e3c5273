//! An event dataset judged into the table a run reads
//! (`--plans-make-tables`): its current rows written where they are
//! judged, the rows whose key hash other landing rows hold set aside and
//! judged again with their copies.

use std::sync::Arc;

use arrow::array::AsArray;
use arrow::datatypes::{DataType, SchemaRef, UInt64Type};
use datafusion::error::DataFusionError;

use super::judged::{rejudged_sql, KNOWN_CASES};
use super::keys::copies_among_sql;
use super::rules::{col, key_columns, text};
use super::{accepted_of, landing_table, let_go, prepare_judged, rejects_in, PlanError, Prepared};
use crate::base::contract::{Contract, DatasetKind};
use crate::base::engine::registered::RegisteredIds;
use crate::base::engine::write_parts::{Aside, PartsSpec};
use crate::base::engine::Engine;
use crate::base::landing_file::Selection;
use crate::base::tables::{DatasetReport, Reject, Rows, Validated, ENTITY_IDX};

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
/// figures are those [`super::judge_inputs`] gives. A dataset whose rows name a
/// violation's case (the repairs) is judged against `violations`, the
/// violations' table these plans made (its newest accepted versions),
/// looked up only by the cases its landing rows name. Uses, and removes
/// when done, the tables of [`super::judge_inputs`] but `registered` and
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
    let Prepared { judged, scratch, mut phases, planning: _planning } =
        prepare_judged(engine, contract, &selection, keep, registered, violations).await.map_err(fail)?;
    let passes = Passes { engine, contract, keep, folder, scratch: scratch.path(), names: TableNames::of(dataset) };
    let (schema, alike_schema, mut rejects) = passes.write_settled(&judged).await.map_err(fail)?;
    phases.done(&format!("{dataset}: rows judged"));
    rejects.extend(passes.judge_contested(alike_schema).await.map_err(fail)?);
    rejects.sort_by_key(|r| r.row);
    let accepted = accepted_of(&selection, &rejects).map_err(fail)?;
    phases.done(&format!("{dataset}: keys held twice"));
    let current = passes.write_newest(accepted).await.map_err(fail)?;
    let names = &passes.names;
    let landing = landing_table(dataset);
    let tables = [
        names.current.as_str(),
        &names.contested,
        &names.alike,
        &names.newest,
        NEWEST_ROWS,
        &judged,
        &landing,
        "copies",
        KNOWN_CASES,
    ];
    let_go(engine, &tables, scratch).map_err(fail)?;
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

/// The tables [`judge_into_table`] makes of a dataset: its current rows
/// (`current_<dataset>`, the run's table), the rows set aside
/// (`alike_<dataset>`), the accepted ones among them (`contested_<dataset>`)
/// and the newest of each of their keys (`newest_<dataset>`).
struct TableNames {
    current: String,
    alike: String,
    contested: String,
    newest: String,
}

impl TableNames {
    fn of(dataset: crate::base::contract::Dataset) -> TableNames {
        TableNames {
            current: format!("current_{dataset}"),
            alike: format!("alike_{dataset}"),
            contested: format!("contested_{dataset}"),
            newest: format!("newest_{dataset}"),
        }
    }
}

/// The three passes of [`judge_into_table`] over one dataset, writing its
/// table to `folder` and what they set aside under `scratch`.
struct Passes<'a> {
    engine: &'a Engine,
    contract: &'a Contract,
    keep: &'a [&'a str],
    folder: &'a std::path::Path,
    scratch: &'a std::path::Path,
    names: TableNames,
}

impl Passes<'_> {
    /// Where the first pass sets aside the rows whose key hash other
    /// landing rows hold.
    fn alike_dir(&self) -> std::path::PathBuf {
        self.scratch.join("alike")
    }

    /// One pass over the `judged` rows: an accepted row whose key hash no
    /// other landing row holds is its key's one version, a current row,
    /// written to the table's files; the rows whose key hash others hold
    /// (few) are set aside in files of their own, judged but for their
    /// copies. Gives the table's schema, that of the rows set aside, and
    /// the other rejects.
    async fn write_settled(&self, judged: &str) -> Result<(SchemaRef, SchemaRef, Vec<Reject>), DataFusionError> {
        let (sql, current_columns, alike_columns) = judged_once_into_table_sql(self.contract, judged, self.keep);
        let frame = self.engine.ctx().sql(&sql).await?;
        let columns = frame.schema().as_arrow().clone();
        let schema = Arc::new(columns.project(&current_columns)?);
        let alike_schema = Arc::new(columns.project(&alike_columns)?);
        let aside = Aside { folder: self.alike_dir(), kept: alike_columns, when_null: SETTLED };
        let spec =
            PartsSpec { folder: self.folder.to_path_buf(), kept: current_columns, split: Some(3), aside: Some(aside) };
        let mut rejects = Vec::new();
        for b in self.engine.write_parts(frame, spec, &self.names.current).await? {
            rejects.extend(rejects_in(&b)?);
        }
        Ok((schema, alike_schema, rejects))
    }

    /// The rows set aside, judged again with their copies counted among
    /// them: gives their rejects; the accepted ones (contested) are
    /// written to files of their own.
    async fn judge_contested(&self, alike_schema: SchemaRef) -> Result<Vec<Reject>, DataFusionError> {
        let (ctx, names) = (self.engine.ctx(), &self.names);
        self.engine.register_arrow_files(&names.alike, alike_schema, &self.alike_dir())?;
        let copies = ctx.sql(&copies_among_sql(self.contract, &names.alike)).await?;
        self.engine.create_counted_table("copies", copies).await?;
        let frame = ctx.sql(&alike_judged_sql(self.contract, &names.alike, self.keep)).await?;
        let kept = std::iter::once(0).chain(4..frame.schema().fields().len()).collect();
        let spec = PartsSpec { folder: self.scratch.join("contested"), kept, split: Some(3), aside: None };
        let mut rejects = Vec::new();
        for b in self.engine.write_parts(frame, spec, &names.contested).await? {
            rejects.extend(rejects_in(&b)?);
        }
        Ok(rejects)
    }

    /// The newest of each contested key's accepted rows is current too,
    /// written to the table's folder (files named apart). Every accepted
    /// row went one way or the other, and each contested key has its
    /// newest row: gives the table's rows, checked against the `accepted`.
    async fn write_newest(&self, accepted: u64) -> Result<u64, DataFusionError> {
        let (ctx, names) = (self.engine.ctx(), &self.names);
        let newest_rows = ctx.sql(&newest_rows_sql(self.contract, &names.contested)).await?;
        self.engine.create_counted_table(NEWEST_ROWS, newest_rows).await?;
        let frame = ctx.sql(&newest_current_sql(self.contract, &names.contested, self.keep)).await?;
        let kept = (0..frame.schema().fields().len()).collect();
        let newest_dir = self.scratch.join("newest");
        let spec = PartsSpec { folder: newest_dir.clone(), kept, split: None, aside: None };
        self.engine.write_parts(frame, spec, &names.newest).await?;
        // The table's folder is first listed once whole (the engine keeps
        // a folder's listing).
        move_parts(&newest_dir, self.folder, "newest-")?;
        let (current, several, newest_rows) = (
            count_rows(self.engine, &names.current).await?,
            count_rows(self.engine, &names.contested).await?,
            count_rows(self.engine, NEWEST_ROWS).await?,
        );
        let single = current.checked_sub(newest_rows);
        if single.map(|single| single + several) != Some(accepted) {
            return Err(DataFusionError::Internal(format!(
                "{current} current rows ({newest_rows} of them the newest of {several} contested) written of \
                 {accepted} accepted: the plans disagree with themselves"
            )));
        }
        Ok(current)
    }
}

/// The table of the newest accepted row of each contested key (held by
/// rows whose key hash other landing rows hold).
pub(super) const NEWEST_ROWS: &str = "newest_rows";

/// The newest row (`_newest`, the last read: partitions are read in
/// ingest order) of each key among an event dataset's `contested` rows
/// (the accepted rows whose key hash other landing rows hold).
pub(super) fn newest_rows_sql(contract: &Contract, contested: &str) -> String {
    let key = key_columns(contract);
    format!("SELECT max(_row) AS _newest FROM {contested}\nGROUP BY {}", key.join(", "))
}

/// The `keep` columns and `entity_idx` of the `contested` rows that are
/// their key's newest.
pub(super) fn newest_current_sql(contract: &Contract, contested: &str, keep: &[&str]) -> String {
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
pub(super) fn judged_once_into_table_sql(
    contract: &Contract,
    judged: &str,
    keep: &[&str],
) -> (String, Vec<usize>, Vec<usize>) {
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
pub(super) fn alike_judged_sql(contract: &Contract, alike: &str, keep: &[&str]) -> String {
    let columns = table_and_key(contract, keep);
    let enumerated: Vec<String> = columns.iter().map(|c| enumerated_sql(contract, c)).collect();
    format!(
        "SELECT _row, _code, _message, CASE WHEN _code IS NOT NULL THEN true END AS _rejected, {}\nFROM ({})",
        enumerated.join(", "),
        rejudged_sql(contract, alike, &columns.join(", "))
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
