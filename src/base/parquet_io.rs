//! Writing Parquet files the same way everywhere: fixed writer settings so
//! that the same batches always give the same bytes.

use std::fs::File;
use std::path::Path;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;

/// Rows per row group in files we write.
pub const ROW_GROUP_ROWS: usize = 1024 * 1024;

/// Rows per row group in marts sorted by entity id that the faces read a
/// few entities from: small groups, so that the row-group statistics skip
/// all but one.
pub const LOOKUP_ROW_GROUP_ROWS: usize = 16 * 1024;

fn properties(row_group_rows: usize) -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(row_group_rows))
        .set_created_by("credence".to_string())
        .build()
}

/// A Parquet file being written batch by batch.
pub struct ParquetSink {
    writer: ArrowWriter<File>,
    rows: u64,
}

impl ParquetSink {
    pub fn create(path: &Path, schema: SchemaRef) -> Result<ParquetSink, ParquetError> {
        ParquetSink::with_row_groups(path, schema, ROW_GROUP_ROWS)
    }

    /// A file of entity-sorted rows read by lookups ([`LOOKUP_ROW_GROUP_ROWS`]).
    pub fn for_lookups(path: &Path, schema: SchemaRef) -> Result<ParquetSink, ParquetError> {
        ParquetSink::with_row_groups(path, schema, LOOKUP_ROW_GROUP_ROWS)
    }

    fn with_row_groups(path: &Path, schema: SchemaRef, rows: usize) -> Result<ParquetSink, ParquetError> {
        let file = File::create(path)?;
        Ok(ParquetSink { writer: ArrowWriter::try_new(file, schema, Some(properties(rows)))?, rows: 0 })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), ParquetError> {
        self.rows += batch.num_rows() as u64;
        self.writer.write(batch)
    }

    /// Finishes the file and flushes it to disk; returns the rows written.
    pub fn finish(self) -> Result<u64, ParquetError> {
        let file = self.writer.into_inner()?;
        file.sync_all()?;
        Ok(self.rows)
    }
}

/// Writes `batches` (possibly none) as one Parquet file.
pub fn write_parquet(path: &Path, schema: SchemaRef, batches: &[RecordBatch]) -> Result<u64, ParquetError> {
    let mut sink = ParquetSink::create(path, schema)?;
    for b in batches {
        sink.write(b)?;
    }
    sink.finish()
}

/// Reads a whole Parquet file into batches.
pub fn read_parquet(path: &Path) -> Result<Vec<RecordBatch>, ParquetError> {
    let file = File::open(path)?;
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)?
        .build()?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ParquetError::ArrowError(e.to_string()))
}
