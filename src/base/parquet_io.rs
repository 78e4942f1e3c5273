//! Writing Parquet files the same way everywhere: fixed writer settings so
//! that the same batches always give the same bytes.

use std::fs::File;
use std::path::Path;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::arrow_writer::{compute_leaves, ArrowRowGroupWriterFactory};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use rayon::prelude::*;

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
    sink: Sink,
    rows: u64,
}

enum Sink {
    /// Row groups encoded as the batches arrive.
    Serial(Box<ArrowWriter<File>>),
    /// Small row groups encoded on the rayon pool, a window at a time, and
    /// appended in order: the same bytes as one thread would write.
    Parallel(Box<RowGroups>),
}

impl ParquetSink {
    pub fn create(path: &Path, schema: SchemaRef) -> Result<ParquetSink, ParquetError> {
        let writer = ArrowWriter::try_new(File::create(path)?, schema, Some(properties(ROW_GROUP_ROWS)))?;
        Ok(ParquetSink { sink: Sink::Serial(Box::new(writer)), rows: 0 })
    }

    /// A file of entity-sorted rows read by lookups ([`LOOKUP_ROW_GROUP_ROWS`]),
    /// its row groups encoded in parallel.
    pub fn for_lookups(path: &Path, schema: SchemaRef) -> Result<ParquetSink, ParquetError> {
        let props = properties(LOOKUP_ROW_GROUP_ROWS);
        let (file, factory) =
            ArrowWriter::try_new(File::create(path)?, schema.clone(), Some(props))?.into_serialized_writer()?;
        let groups = RowGroups { file, factory, schema, group_rows: LOOKUP_ROW_GROUP_ROWS, pending: Vec::new() };
        Ok(ParquetSink { sink: Sink::Parallel(Box::new(groups)), rows: 0 })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), ParquetError> {
        self.rows += batch.num_rows() as u64;
        match &mut self.sink {
            Sink::Serial(w) => w.write(batch),
            Sink::Parallel(g) => g.write(batch),
        }
    }

    /// Finishes the file and flushes it to disk; returns the rows written.
    pub fn finish(self) -> Result<u64, ParquetError> {
        let file = match self.sink {
            Sink::Serial(w) => w.into_inner()?,
            Sink::Parallel(mut g) => {
                g.encode(true)?;
                g.file.into_inner()?
            }
        };
        file.sync_all()?;
        Ok(self.rows)
    }
}

/// Row groups of `group_rows` rows, encoded in parallel.
struct RowGroups {
    file: SerializedFileWriter<File>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    group_rows: usize,
    /// Rows not yet encoded (less than a window of groups).
    pending: Vec<RecordBatch>,
}

impl RowGroups {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), ParquetError> {
        if batch.num_rows() > 0 {
            self.pending.push(batch.clone());
        }
        let window = 4 * rayon::current_num_threads().max(1);
        if self.pending.iter().map(|b| b.num_rows()).sum::<usize>() >= window * self.group_rows {
            self.encode(false)?;
        }
        Ok(())
    }

    /// Encodes every full group pending (and the last, short one when
    /// `all`) and appends them to the file in order.
    fn encode(&mut self, all: bool) -> Result<(), ParquetError> {
        let mut groups = Vec::new();
        let mut group: Vec<RecordBatch> = Vec::new();
        let mut in_group = 0;
        for b in std::mem::take(&mut self.pending) {
            let mut offset = 0;
            while offset < b.num_rows() {
                let take = (self.group_rows - in_group).min(b.num_rows() - offset);
                group.push(b.slice(offset, take));
                offset += take;
                in_group += take;
                if in_group == self.group_rows {
                    groups.push(std::mem::take(&mut group));
                    in_group = 0;
                }
            }
        }
        if all && !group.is_empty() {
            groups.push(std::mem::take(&mut group));
        }
        self.pending = group;
        let first = self.file.flushed_row_groups().len();
        let (factory, schema) = (&self.factory, &self.schema);
        let encoded = groups
            .par_iter()
            .enumerate()
            .map(|(k, parts)| {
                let batch = arrow::compute::concat_batches(schema, parts)?;
                let mut writers = factory.create_column_writers(first + k)?;
                let mut next = writers.iter_mut();
                for (field, column) in schema.fields().iter().zip(batch.columns()) {
                    for leaf in compute_leaves(field, column)? {
                        next.next().expect("a column writer per leaf").write(&leaf)?;
                    }
                }
                writers.into_iter().map(|w| w.close()).collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, ParquetError>>()?;
        for chunks in encoded {
            let mut row_group = self.file.next_row_group()?;
            for chunk in chunks {
                chunk.append_to_row_group(&mut row_group)?;
            }
            row_group.close()?;
        }
        Ok(())
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

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn batch(schema: &SchemaRef, from: i64, n: usize) -> RecordBatch {
        let ids: Vec<i64> = (from..from + n as i64).collect();
        let names: Vec<String> = ids.iter().map(|i| format!("entity-{i}")).collect();
        RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(ids)), Arc::new(StringArray::from(names))])
            .unwrap()
    }

    #[test]
    fn lookup_files_are_the_same_bytes_however_the_rows_arrive() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new("s", DataType::Utf8, false),
        ]));
        let total = 5 * LOOKUP_ROW_GROUP_ROWS + 123;
        let dir = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        for (k, sizes) in [vec![total], vec![1000, 0, 40_000, 7], vec![LOOKUP_ROW_GROUP_ROWS; 6]].iter().enumerate() {
            let path = dir.path().join(format!("{k}.parquet"));
            let mut sink = ParquetSink::for_lookups(&path, schema.clone()).unwrap();
            let mut from = 0;
            for (i, size) in sizes.iter().enumerate() {
                let n = if i + 1 == sizes.len() { total - from } else { (*size).min(total - from) };
                sink.write(&batch(&schema, from as i64, n)).unwrap();
                from += n;
            }
            assert_eq!(sink.finish().unwrap(), total as u64);
            files.push(std::fs::read(&path).unwrap());
        }
        assert!(files.iter().all(|f| *f == files[0]), "the batches' sizes change nothing");
        let path = dir.path().join("0.parquet");
        let reader =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
        let groups: Vec<i64> = reader.metadata().row_groups().iter().map(|g| g.num_rows()).collect();
        assert_eq!(groups, [16384, 16384, 16384, 16384, 16384, 123]);
        let back = read_parquet(&path).unwrap();
        assert_eq!(arrow::compute::concat_batches(&schema, &back).unwrap(), batch(&schema, 0, total));
    }
}
