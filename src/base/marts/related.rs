//! The `related` mart of joint-sanctions.md "Outputs": one row per
//! restricted person or flagged entity and rule of a list.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::errors::ParquetError;

use super::listings::{stamp_columns, Stamp};
use super::{append_strings, string_list_builder, strings_at};
use crate::base::parquet_io::{read_parquet, ParquetSink, WRITE_BATCH_ROWS};

fn utf8_list() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, false)))
}

/// One row of the `related` mart.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RelatedRow {
    pub subject_id: String,
    /// `person` (restricted) or `entity` (flagged).
    pub subject_kind: String,
    pub rule_id: String,
    pub measures: Vec<String>,
    pub roots: Vec<String>,
    pub list_id: String,
}

pub fn related_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("subject_id", DataType::Utf8, false),
        Field::new("subject_kind", DataType::Utf8, false),
        Field::new("rule_id", DataType::Utf8, false),
        Field::new("measures", utf8_list(), false),
        Field::new("roots", utf8_list(), false),
        Field::new("list_id", DataType::Utf8, false),
        Field::new("policy_id", DataType::Utf8, false),
        Field::new("policy_version", DataType::Utf8, false),
        Field::new("as_of", DataType::Date32, false),
    ]))
}

/// The rows as one batch of the mart's schema. Each row is read once, so
/// rows made on the fly are never all held.
pub fn related_batch(rows: impl IntoIterator<Item = RelatedRow>, stamp: &Stamp) -> RecordBatch {
    let (mut subject, mut kind, mut rule, mut list) =
        (StringBuilder::new(), StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
    let mut measures = string_list_builder();
    let mut roots = string_list_builder();
    let mut n = 0;
    for r in rows {
        subject.append_value(&r.subject_id);
        kind.append_value(&r.subject_kind);
        rule.append_value(&r.rule_id);
        append_strings(&mut measures, &r.measures);
        append_strings(&mut roots, &r.roots);
        list.append_value(&r.list_id);
        n += 1;
    }
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(subject.finish()),
        Arc::new(kind.finish()),
        Arc::new(rule.finish()),
        Arc::new(measures.finish()),
        Arc::new(roots.finish()),
        Arc::new(list.finish()),
    ];
    columns.extend(stamp_columns(stamp, n));
    RecordBatch::try_new(related_schema(), columns).expect("related schema")
}

/// Writes `related` rows as `part-0.parquet` into a (staged) folder, a
/// batch of [`WRITE_BATCH_ROWS`] at a time.
pub fn write_related(
    dir: &Path,
    rows: impl IntoIterator<Item = RelatedRow>,
    stamp: &Stamp,
) -> Result<u64, ParquetError> {
    let mut sink = ParquetSink::create(&dir.join("part-0.parquet"), related_schema())?;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        sink.write(&related_batch(rows.by_ref().take(WRITE_BATCH_ROWS), stamp))?;
    }
    sink.finish()
}

/// Reads a `related` partition folder.
pub fn read_related(dir: &Path) -> Result<Vec<RelatedRow>, ParquetError> {
    related_rows(read_parquet(&dir.join("part-0.parquet"))?)
}

/// The rows of a `related` partition folder about one of `subjects`.
pub fn read_related_of(
    dir: &Path,
    subjects: &std::collections::BTreeSet<String>,
) -> Result<Vec<RelatedRow>, ParquetError> {
    related_rows(super::rows_with(&dir.join("part-0.parquet"), "subject_id", subjects)?)
}

fn related_rows(batches: Vec<RecordBatch>) -> Result<Vec<RelatedRow>, ParquetError> {
    let mut out = Vec::new();
    for b in batches {
        let s = |i: usize| b.column(i).as_string::<i32>().clone();
        let (subject, kind, rule, list) = (s(0), s(1), s(2), s(5));
        let measures = b.column(3).as_list::<i32>();
        let roots = b.column(4).as_list::<i32>();
        for r in 0..b.num_rows() {
            out.push(RelatedRow {
                subject_id: subject.value(r).to_string(),
                subject_kind: kind.value(r).to_string(),
                rule_id: rule.value(r).to_string(),
                measures: strings_at(measures, r),
                roots: strings_at(roots, r),
                list_id: list.value(r).to_string(),
            });
        }
    }
    Ok(out)
}
