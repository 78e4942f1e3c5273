//! The `related` mart of joint-sanctions.md "Outputs": one row per
//! restricted person or flagged entity and rule of a list.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, ListBuilder, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::errors::ParquetError;
use rayon::prelude::*;

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

/// A batch of the mart being built a row at a time from borrowed text, so
/// that rows made from dense indexes need no strings of their own.
pub struct RelatedBuilder {
    subject: StringBuilder,
    kind: StringBuilder,
    rule: StringBuilder,
    measures: ListBuilder<StringBuilder>,
    roots: ListBuilder<StringBuilder>,
    list: StringBuilder,
    rows: usize,
}

impl Default for RelatedBuilder {
    fn default() -> Self {
        RelatedBuilder {
            subject: StringBuilder::new(),
            kind: StringBuilder::new(),
            rule: StringBuilder::new(),
            measures: string_list_builder(),
            roots: string_list_builder(),
            list: StringBuilder::new(),
            rows: 0,
        }
    }
}

impl RelatedBuilder {
    /// Appends one row; `roots` are the ids of the list members behind it.
    pub fn append<'a>(
        &mut self,
        subject: &str,
        kind: &str,
        rule: &str,
        measures: &[String],
        roots: impl IntoIterator<Item = &'a str>,
        list: &str,
    ) {
        self.subject.append_value(subject);
        self.kind.append_value(kind);
        self.rule.append_value(rule);
        append_strings(&mut self.measures, measures);
        for root in roots {
            self.roots.values().append_value(root);
        }
        self.roots.append(true);
        self.list.append_value(list);
        self.rows += 1;
    }

    /// The rows appended, stamped, as one batch of the mart's schema.
    pub fn finish(mut self, stamp: &Stamp) -> RecordBatch {
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.subject.finish()),
            Arc::new(self.kind.finish()),
            Arc::new(self.rule.finish()),
            Arc::new(self.measures.finish()),
            Arc::new(self.roots.finish()),
            Arc::new(self.list.finish()),
        ];
        columns.extend(stamp_columns(stamp, self.rows));
        RecordBatch::try_new(related_schema(), columns).expect("related schema")
    }
}

/// The rows as one batch of the mart's schema.
pub fn related_batch(rows: impl IntoIterator<Item = RelatedRow>, stamp: &Stamp) -> RecordBatch {
    let mut b = RelatedBuilder::default();
    for r in rows {
        b.append(
            &r.subject_id,
            &r.subject_kind,
            &r.rule_id,
            &r.measures,
            r.roots.iter().map(|s| s.as_str()),
            &r.list_id,
        );
    }
    b.finish(stamp)
}

/// Writes one row per item, made by `append`, as `part-0.parquet` into a
/// (staged) folder: batches of [`WRITE_BATCH_ROWS`] built on every core a
/// few at a time, written in the items' order.
pub fn write_related<T: Sync>(
    dir: &Path,
    items: &[T],
    append: impl Fn(&T, &mut RelatedBuilder) + Sync,
    stamp: &Stamp,
) -> Result<u64, ParquetError> {
    let mut sink = ParquetSink::create(&dir.join("part-0.parquet"), related_schema())?;
    let at_once = WRITE_BATCH_ROWS * rayon::current_num_threads().max(1);
    for window in items.chunks(at_once) {
        let batches: Vec<RecordBatch> = window
            .par_chunks(WRITE_BATCH_ROWS)
            .map(|chunk| {
                let mut b = RelatedBuilder::default();
                chunk.iter().for_each(|item| append(item, &mut b));
                b.finish(stamp)
            })
            .collect();
        for batch in &batches {
            sink.write(batch)?;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_built_on_every_core_are_written_in_the_items_order() {
        let dir = tempfile::tempdir().unwrap();
        let stamp = Stamp { policy_id: "p", policy_version: "1", as_of: "2026-11-27".parse().unwrap() };
        // More rows than one window of batches, so that windows follow windows.
        let items: Vec<u32> = (0..(WRITE_BATCH_ROWS * rayon::current_num_threads() * 2 + 7) as u32).collect();
        let measures = vec!["m".to_string()];
        let written = write_related(
            dir.path(),
            &items,
            |i, out| {
                let (subject, root) = (format!("S{i:08}"), format!("R{}", i % 3));
                out.append(&subject, "entity", "r", &measures, [root.as_str()], "l")
            },
            &stamp,
        )
        .unwrap();
        assert_eq!(written, items.len() as u64);
        let rows = read_related(dir.path()).unwrap();
        assert_eq!(rows.len(), items.len());
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(row.subject_id, format!("S{i:08}"));
            assert_eq!(row.roots, vec![format!("R{}", i % 3)]);
        }
    }
}
