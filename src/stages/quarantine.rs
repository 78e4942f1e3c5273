//! Rejected rows and the data-quality report (datasets.md, "Bad input").
//!
//! A dataset's quarantine of a run is one Parquet file under
//! `quarantine/<dataset>/as_of=D/`: every rejected row of the partitions the
//! run reads, with its contract columns as found, `ingest_date`,
//! `source_file`, `source_row`, `error_code` and `error_message`. Rejected
//! rows are read again from their files by row number, so validation keeps
//! only what it needs in memory.

use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, Int64Array, RecordBatch, StringArray};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::{RowSelection, RowSelector};
use rayon::prelude::*;

use crate::base::contract::Contract;
use crate::base::error::{Classify, ErrorKind};
use crate::base::ids::AsOf;
use crate::base::landing_file::nullable;
use crate::base::parquet_io::write_parquet;
use crate::base::tables::{QualityReport, Validated};
use crate::base::warehouse::{write_file_atomically, Warehouse};

/// Writing the quarantine or the report failed.
#[derive(Debug, thiserror::Error)]
pub enum QuarantineError {
    #[error("writing {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("reading back rejected rows of {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("writing {path}: {source}")]
    Parquet { path: String, source: parquet::errors::ParquetError },
}

impl Classify for QuarantineError {
    fn kind(&self) -> ErrorKind {
        match self {
            QuarantineError::Io { source, .. } => Classify::kind(source),
            QuarantineError::Read { .. } => ErrorKind::Input,
            QuarantineError::Parquet { source, .. } => source.kind(),
        }
    }
}

/// The schema of a dataset's quarantine: the contract columns, all
/// nullable, then where each row came from and why it was rejected.
pub fn schema(contract: &Contract) -> SchemaRef {
    let mut fields: Vec<Field> =
        nullable(&contract.arrow_schema()).fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend([
        Field::new("ingest_date", DataType::Date32, false),
        Field::new("source_file", DataType::Utf8, false),
        Field::new("source_row", DataType::Int64, false),
        Field::new("error_code", DataType::Utf8, false),
        Field::new("error_message", DataType::Utf8, false),
    ]);
    Arc::new(Schema::new(fields))
}

/// Writes the quarantine partition of one dataset (empty when nothing was
/// rejected, so a rerun never leaves stale rejects behind).
pub fn write(wh: &Warehouse, v: &Validated, as_of: AsOf) -> Result<u64, QuarantineError> {
    let dest = wh.quarantine(v.contract.dataset, as_of);
    let rel = wh.relative(&dest);
    let io = |source| QuarantineError::Io { path: rel.clone(), source };
    let staged = wh.stage(dest.clone()).map_err(io)?;
    let out_schema = schema(&v.contract);
    // Each file's rejects, then the files read on every core.
    let mut rejects = v.rejects.iter().peekable();
    let mut file_start = 0u64;
    let mut per_file = Vec::new();
    for file in v.selection.files() {
        let file_end = file_start + file.rows;
        let mut here = Vec::new();
        while let Some(r) = rejects.next_if(|r| r.row < file_end) {
            here.push(r);
        }
        if !here.is_empty() {
            per_file.push((file, file_start, here));
        }
        file_start = file_end;
    }
    let batches: Vec<RecordBatch> = per_file
        .par_iter()
        .map(|(file, file_start, here)| {
            let local: Vec<u64> = here.iter().map(|r| r.row - file_start).collect();
            let read_err = |e: &dyn std::fmt::Display| QuarantineError::Read {
                path: file.relative.clone(),
                reason: e.to_string(),
            };
            let found: Vec<RecordBatch> = file
                .read(&v.contract, Some(selection(&local, file.rows)))
                .map_err(|e| read_err(&e))?
                .collect::<Result<_, _>>()
                .map_err(|e| read_err(&e))?;
            let found = concat_batches(&nullable(&v.contract.arrow_schema()), &found).map_err(|e| read_err(&e))?;
            let n = here.len();
            let mut columns: Vec<ArrayRef> = found.columns().to_vec();
            columns.push(Arc::new(Date32Array::from(vec![file.ingest_date.days_since_epoch(); n])));
            columns.push(Arc::new(StringArray::from(vec![file.relative.as_str(); n])));
            columns.push(Arc::new(Int64Array::from_iter_values(local.iter().map(|r| *r as i64))));
            columns.push(Arc::new(StringArray::from_iter_values(here.iter().map(|r| r.code.as_str()))));
            columns.push(Arc::new(StringArray::from_iter_values(here.iter().map(|r| r.message.as_str()))));
            Ok(RecordBatch::try_new(out_schema.clone(), columns).expect("quarantine schema"))
        })
        .collect::<Result<_, QuarantineError>>()?;
    let path = staged.path().join("part-0.parquet");
    let rows = write_parquet(&path, out_schema, &batches)
        .map_err(|source| QuarantineError::Parquet { path: rel.clone(), source })?;
    staged.commit().map_err(io)?;
    Ok(rows)
}

/// A row selection of the given sorted row numbers of a file.
fn selection(rows: &[u64], total: u64) -> RowSelection {
    let mut selectors = Vec::new();
    let mut at = 0u64;
    let mut i = 0;
    while i < rows.len() {
        let start = rows[i];
        let mut end = start + 1;
        while i + 1 < rows.len() && rows[i + 1] == end {
            i += 1;
            end += 1;
        }
        if start > at {
            selectors.push(RowSelector::skip((start - at) as usize));
        }
        selectors.push(RowSelector::select((end - start) as usize));
        at = end;
        i += 1;
    }
    if total > at {
        selectors.push(RowSelector::skip((total - at) as usize));
    }
    selectors.into()
}

/// Writes the report as `reports/quality/as_of=D/quality.json`.
pub fn write_report(wh: &Warehouse, report: &QualityReport, as_of: AsOf) -> Result<(), QuarantineError> {
    let path = wh.root().join("reports").join("quality").join(format!("as_of={as_of}")).join("quality.json");
    let json = serde_json::to_vec_pretty(report).expect("report serialises");
    write_file_atomically(&path, &json).map_err(|source| QuarantineError::Io { path: wh.relative(&path), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections_skip_and_select_runs() {
        let s = selection(&[0, 1, 5, 9], 12);
        let v: Vec<RowSelector> = s.into();
        assert_eq!(
            v,
            vec![
                RowSelector::select(2),
                RowSelector::skip(3),
                RowSelector::select(1),
                RowSelector::skip(3),
                RowSelector::select(1),
                RowSelector::skip(2)
            ]
        );
    }
}
