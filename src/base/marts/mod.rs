//! The marts later stages and the faces read: one module per mart with its
//! schema, writer and reader, and lookups of a few entities that skip the
//! row groups of entity-sorted files whose statistics cannot hold them.

pub mod listings;
pub mod records;
pub mod registry;
pub mod related;
pub mod scores;

use std::collections::BTreeSet;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray, ListBuilder, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReaderBuilder, RowSelection};
use parquet::arrow::ProjectionMask;
use parquet::errors::ParquetError;
use parquet::file::statistics::Statistics;

use crate::base::error::{Classify, ErrorKind};

/// Rows of `path` whose utf8 column `column` is one of `ids`. Row groups
/// whose min/max statistics exclude every id are not read.
pub fn rows_with(path: &Path, column: &str, ids: &BTreeSet<String>) -> Result<Vec<RecordBatch>, ParquetError> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path)?)?;
    let ci = builder.schema().index_of(column).map_err(|e| ParquetError::General(e.to_string()))?;
    let groups: Vec<usize> = builder
        .metadata()
        .row_groups()
        .iter()
        .enumerate()
        .filter(|(_, rg)| match rg.column(ci).statistics() {
            Some(Statistics::ByteArray(s)) => match (s.min_opt(), s.max_opt()) {
                (Some(lo), Some(hi)) => ids.iter().any(|id| lo.data() <= id.as_bytes() && id.as_bytes() <= hi.data()),
                _ => true,
            },
            _ => true,
        })
        .map(|(i, _)| i)
        .collect();
    // Two passes: the key column alone picks the rows, then only those rows
    // of the other columns are decoded (a queue of 50,000 among 1M scores
    // would otherwise build every row's reasons).
    let keep: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
    let keys_only = ProjectionMask::roots(builder.parquet_schema(), [ci]);
    let mut picks = Vec::new();
    for b in builder.with_row_groups(groups.clone()).with_projection(keys_only).build()? {
        let b = b?;
        let keys = b.column(0).as_string::<i32>();
        let hits = arrow::buffer::BooleanBuffer::collect_bool(b.num_rows(), |r| keep.contains(keys.value(r)));
        picks.push(BooleanArray::new(hits, None));
    }
    let selection = RowSelection::from_filters(&picks);
    if selection.row_count() == 0 {
        return Ok(Vec::new());
    }
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path)?)?
        .with_row_groups(groups)
        .with_row_selection(selection)
        .build()?;
    reader.map(|b| b.map_err(|e| ParquetError::ArrowError(e.to_string()))).collect()
}

/// A builder of `list<utf8>` columns.
pub fn string_list_builder() -> ListBuilder<StringBuilder> {
    ListBuilder::new(StringBuilder::new()).with_field(Arc::new(Field::new("item", DataType::Utf8, false)))
}

/// Appends one list of strings to a `list<utf8>` builder.
pub fn append_strings(b: &mut ListBuilder<StringBuilder>, items: &[String]) {
    for i in items {
        b.values().append_value(i);
    }
    b.append(true);
}

/// The strings of row `row` of a `list<utf8>` column.
pub fn strings_at(list: &arrow::array::ListArray, row: usize) -> Vec<String> {
    let v = list.value(row);
    let s = v.as_string::<i32>();
    (0..s.len()).map(|i| s.value(i).to_string()).collect()
}

/// A mart could not be read: the file is missing, unreadable, or not the
/// mart it should be.
#[derive(Debug, thiserror::Error)]
#[error("reading {what}: {source}")]
pub struct MartError {
    pub what: String,
    #[source]
    pub source: ParquetError,
}

impl Classify for MartError {
    fn kind(&self) -> ErrorKind {
        self.source.kind()
    }
}

/// Wraps a Parquet error of reading `what`.
pub fn mart_error(what: impl Into<String>) -> impl FnOnce(ParquetError) -> MartError {
    let what = what.into();
    move |source| MartError { what, source }
}
