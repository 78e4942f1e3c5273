//! Small hand-made landing zones for tests and examples: rows written as
//! JSON lines in a dataset's contract schema, one Parquet file per call.

use std::io::Cursor;
use std::path::PathBuf;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use crate::base::contract::{jobs_schema, Dataset};
use crate::base::ids::EntityId;
use crate::base::landing_file::nullable;
use crate::base::parquet_io::write_parquet;
use crate::base::warehouse::Warehouse;

/// A valid entity id numbered `n` (distinct for distinct `n`, ascending in `n`).
pub fn entity(n: u32) -> String {
    let mut tail = String::new();
    let mut v = n;
    for _ in 0..7 {
        tail.insert(0, crate::base::ids::ENTITY_ALPHABET[(v % 31) as usize] as char);
        v /= 31;
    }
    EntityId::with_check_char(&format!("9135010MA{tail}H")).expect("alphabet").to_string()
}

/// A valid person id numbered `n`.
pub fn person(n: u32) -> String {
    format!("P{:016x}", 0xa000_0000_0000_0000u64 + n as u64)
}

/// Parses JSON lines into a batch of `schema` (missing keys read as null).
pub fn batch(schema: SchemaRef, lines: &[&str]) -> RecordBatch {
    let text = lines.join("\n");
    let mut reader = arrow::json::ReaderBuilder::new(nullable(&schema))
        .with_batch_size(lines.len().max(1))
        .build(Cursor::new(text.into_bytes()))
        .expect("reader");
    match reader.next() {
        Some(b) => b.expect("fixture rows match the schema"),
        None => RecordBatch::new_empty(nullable(&schema)),
    }
}

/// Writes `lines` (JSON objects in the dataset's contract columns) as
/// `landing/<dataset>/ingest_date=<date>/<file>.parquet`.
pub fn land(wh: &Warehouse, dataset: Dataset, ingest_date: &str, file: &str, lines: &[&str]) -> PathBuf {
    land_with_schema(wh, dataset, ingest_date, file, jobs_schema(dataset), lines)
}

/// Like [`land`] with a schema of the caller's, to write files that break
/// the contract.
pub fn land_with_schema(
    wh: &Warehouse,
    dataset: Dataset,
    ingest_date: &str,
    file: &str,
    schema: SchemaRef,
    lines: &[&str],
) -> PathBuf {
    let dir = wh.landing(dataset).join(format!("ingest_date={ingest_date}"));
    std::fs::create_dir_all(&dir).expect("partition folder");
    let path = dir.join(format!("{file}.parquet"));
    let b = batch(schema.clone(), lines);
    write_parquet(&path, b.schema(), &[b]).expect("write fixture");
    path
}
