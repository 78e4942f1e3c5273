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
use parquet::schema::types::ColumnPath;

/// Rows per row group in files we write.
pub const ROW_GROUP_ROWS: usize = 1024 * 1024;

/// Rows per batch when a mart is written from rows: the rows' Arrow form
/// is held one batch at a time, never the whole mart's.
pub const WRITE_BATCH_ROWS: usize = 64 * 1024;

/// Rows per row group in marts sorted by entity id that the faces read a
/// few entities from: small groups, so that the row-group statistics skip
/// all but one.
pub const LOOKUP_ROW_GROUP_ROWS: usize = 16 * 1024;

fn properties(row_group_rows: usize, unique: &[&str]) -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(row_group_rows))
        .set_created_by("credence".to_string());
    for column in unique {
        builder = builder.set_column_dictionary_enabled(ColumnPath::from(*column), false);
    }
    builder.build()
}

/// A Parquet file being written batch by batch.
pub struct ParquetSink {
    writer: ArrowWriter<File>,
    rows: u64,
}

impl ParquetSink {
    pub fn create(path: &Path, schema: SchemaRef) -> Result<ParquetSink, ParquetError> {
        ParquetSink::with_properties(path, schema, properties(ROW_GROUP_ROWS, &[]))
    }

    /// A file of entity-sorted rows read by lookups ([`LOOKUP_ROW_GROUP_ROWS`]).
    /// The `unique` columns (an id per row) are written plain: a dictionary
    /// of values that never repeat costs a hash per value and saves nothing.
    pub fn for_lookups(path: &Path, schema: SchemaRef, unique: &[&str]) -> Result<ParquetSink, ParquetError> {
        ParquetSink::with_properties(path, schema, properties(LOOKUP_ROW_GROUP_ROWS, unique))
    }

    fn with_properties(path: &Path, schema: SchemaRef, props: WriterProperties) -> Result<ParquetSink, ParquetError> {
        let file = File::create(path)?;
        Ok(ParquetSink { writer: ArrowWriter::try_new(file, schema, Some(props))?, rows: 0 })
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::StringArray;
    use arrow::datatypes::{DataType, Field, Schema};
    use parquet::basic::Encoding;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    use super::*;

    #[test]
    fn lookup_files_write_their_unique_columns_without_a_dictionary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part-0.parquet");
        let schema = Arc::new(Schema::new(vec![
            Field::new("entity_id", DataType::Utf8, false),
            Field::new("grade", DataType::Utf8, false),
        ]));
        let ids: Vec<String> = (0..100).map(|i| format!("id-{i:03}")).collect();
        let grades: Vec<&str> = (0..100).map(|i| ["A", "B"][i % 2]).collect();
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(StringArray::from(ids.clone())), Arc::new(StringArray::from(grades))],
        )
        .unwrap();
        let mut sink = ParquetSink::for_lookups(&path, schema, &["entity_id"]).unwrap();
        sink.write(&batch).unwrap();
        assert_eq!(sink.finish().unwrap(), 100);
        let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
        let group = reader.metadata().row_group(0);
        let dictionary = |c: usize| group.column(c).encodings().any(|e| e == Encoding::RLE_DICTIONARY);
        assert!(!dictionary(0), "ids are written plain");
        assert!(dictionary(1), "other columns keep their dictionary");
        let back = read_parquet(&path).unwrap();
        assert_eq!(back[0], batch, "the same rows come back");
    }
}
