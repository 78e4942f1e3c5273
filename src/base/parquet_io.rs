//! Writing Parquet files the same way everywhere: fixed writer settings so
//! that the same batches always give the same bytes.

use std::fs::File;
use std::path::Path;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::arrow_writer::{
    compute_leaves, ArrowColumnChunk, ArrowColumnWriter, ArrowLeafColumn, ArrowRowGroupWriterFactory,
};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use rayon::prelude::*;

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
        let path = ColumnPath::new(column.split('.').map(String::from).collect());
        builder = builder.set_column_dictionary_enabled(path, false);
    }
    builder.build()
}

/// A Parquet file being written batch by batch, encoded on every core.
/// The bytes are those Arrow's own `ArrowWriter` writes from the same
/// batches (same row groups, each column fed the same slices in the same
/// order); only the work is spread.
pub struct ParquetSink {
    file: SerializedFileWriter<File>,
    columns: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    spread: Spread,
    group_rows: usize,
    max_group_rows: usize,
    rows: u64,
}

/// How a sink spreads its encoding over the cores.
enum Spread {
    /// Large row groups: each batch's columns at once, as it arrives; the
    /// row group's column writers hold its encoded pages until it is full.
    Columns(Option<Vec<ArrowColumnWriter>>),
    /// Small row groups (lookup files): whole row groups at once, a few
    /// full ones held as Arrow batches until then. A small group's columns
    /// are too little work to share, and the costliest column (the ids)
    /// would set the pace.
    Groups { open: Vec<RecordBatch>, full: Vec<Vec<RecordBatch>> },
}

impl ParquetSink {
    pub fn create(path: &Path, schema: SchemaRef) -> Result<ParquetSink, ParquetError> {
        ParquetSink::with_properties(path, schema, properties(ROW_GROUP_ROWS, &[]))
    }

    /// A file of entity-sorted rows read by lookups ([`LOOKUP_ROW_GROUP_ROWS`]).
    /// The `unique` columns (ids that hardly repeat; a nested column by its
    /// dotted Parquet path) are written plain: a dictionary of values that
    /// never repeat costs a hash per value and saves nothing.
    pub fn for_lookups(path: &Path, schema: SchemaRef, unique: &[&str]) -> Result<ParquetSink, ParquetError> {
        ParquetSink::with_properties(path, schema, properties(LOOKUP_ROW_GROUP_ROWS, unique))
    }

    fn with_properties(path: &Path, schema: SchemaRef, props: WriterProperties) -> Result<ParquetSink, ParquetError> {
        let small = props.max_row_group_row_count().is_some_and(|rows| rows <= LOOKUP_ROW_GROUP_ROWS);
        let spread = match small {
            true => Spread::Groups { open: Vec::new(), full: Vec::new() },
            false => Spread::Columns(None),
        };
        ParquetSink::with_spread(path, schema, props, spread)
    }

    fn with_spread(
        path: &Path,
        schema: SchemaRef,
        props: WriterProperties,
        spread: Spread,
    ) -> Result<ParquetSink, ParquetError> {
        let max_group_rows = props.max_row_group_row_count().unwrap_or(usize::MAX);
        let file = File::create(path)?;
        // The Arrow writer puts the Arrow schema in the footer's metadata,
        // as every file we wrote before does; its halves then do the work.
        let (file, columns) = ArrowWriter::try_new(file, schema.clone(), Some(props))?.into_serialized_writer()?;
        Ok(ParquetSink { file, columns, schema, spread, group_rows: 0, max_group_rows, rows: 0 })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), ParquetError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        // A batch that crosses a row group's end is cut there, as Arrow's writer cuts it.
        let room = self.max_group_rows - self.group_rows;
        if batch.num_rows() > room {
            self.write(&batch.slice(0, room))?;
            return self.write(&batch.slice(room, batch.num_rows() - room));
        }
        self.rows += batch.num_rows() as u64;
        self.group_rows += batch.num_rows();
        let group_full = self.group_rows == self.max_group_rows;
        match &mut self.spread {
            Spread::Columns(group) => {
                let writers = match group {
                    Some(writers) => writers,
                    none => none.insert(self.columns.create_column_writers(self.file.flushed_row_groups().len())?),
                };
                let leaves = leaves(&self.schema, batch)?;
                writers.par_iter_mut().zip(leaves.par_iter()).try_for_each(|(writer, leaf)| writer.write(leaf))?;
            }
            Spread::Groups { open, full } => {
                open.push(batch.clone());
                if group_full {
                    full.push(std::mem::take(open));
                }
            }
        }
        if group_full {
            self.group_rows = 0;
            self.flush(false)?;
        }
        Ok(())
    }

    /// Appends the full row groups to the file (every one held, when
    /// `all`; otherwise small ones once there are enough to share).
    fn flush(&mut self, all: bool) -> Result<(), ParquetError> {
        let first = self.file.flushed_row_groups().len();
        let groups: Vec<Vec<ArrowColumnChunk>> = match &mut self.spread {
            Spread::Columns(group) => match group.take() {
                Some(writers) => {
                    vec![writers.into_par_iter().map(ArrowColumnWriter::close).collect::<Result<_, _>>()?]
                }
                None => Vec::new(),
            },
            Spread::Groups { open, full } => {
                if all && !open.is_empty() {
                    full.push(std::mem::take(open));
                }
                if !all && full.len() < 2 * rayon::current_num_threads() {
                    return Ok(());
                }
                let (columns, schema) = (&self.columns, &self.schema);
                let encoded = full.par_iter().enumerate().map(|(n, batches)| {
                    let mut writers = columns.create_column_writers(first + n)?;
                    for batch in batches {
                        for (writer, leaf) in writers.iter_mut().zip(leaves(schema, batch)?) {
                            writer.write(&leaf)?;
                        }
                    }
                    writers.into_iter().map(ArrowColumnWriter::close).collect::<Result<Vec<_>, _>>()
                });
                let encoded = encoded.collect::<Result<Vec<_>, _>>()?;
                full.clear();
                encoded
            }
        };
        for chunks in groups {
            let mut out = self.file.next_row_group()?;
            for chunk in chunks {
                chunk.append_to_row_group(&mut out)?;
            }
            out.close()?;
        }
        Ok(())
    }

    /// Finishes the file and flushes it to disk; returns the rows written.
    pub fn finish(mut self) -> Result<u64, ParquetError> {
        self.flush(true)?;
        let file = self.file.into_inner()?;
        file.sync_all()?;
        Ok(self.rows)
    }
}

/// A batch's columns as the leaves the column writers take, in order.
fn leaves(schema: &SchemaRef, batch: &RecordBatch) -> Result<Vec<ArrowLeafColumn>, ParquetError> {
    let mut out = Vec::with_capacity(batch.num_columns());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        out.extend(compute_leaves(field, column)?);
    }
    Ok(out)
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

    /// Batches of uneven sizes across row-group ends, nulls, a dictionary
    /// column and repeated text: the file's bytes are exactly those of
    /// Arrow's own writer given the same batches and settings.
    #[test]
    fn the_sink_writes_the_bytes_arrows_writer_writes() {
        use arrow::array::{DictionaryArray, Int64Array};
        use arrow::datatypes::Int32Type;
        let schema = Arc::new(Schema::new(vec![
            Field::new("entity_id", DataType::Utf8, false),
            Field::new("score", DataType::Int64, true),
            Field::new("grade", DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)), false),
        ]));
        let batch = |from: usize, rows: usize| {
            let ids: Vec<String> = (from..from + rows).map(|i| format!("id-{i:06}")).collect();
            let scores: Int64Array = (from..from + rows).map(|i| (i % 7 != 0).then_some(i as i64 * 3)).collect();
            let grades: DictionaryArray<Int32Type> = (from..from + rows).map(|i| ["A", "B", "C"][i % 3]).collect();
            RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(StringArray::from(ids)), Arc::new(scores), Arc::new(grades)],
            )
            .unwrap()
        };
        let sizes = [5000, 20000, 1, 0, 16384, 40000, 3, 16384, 1000, 200000];
        let rows: usize = sizes.iter().sum();
        // Both ways of spreading the work, each with row groups that batches cross.
        let ways = [
            (LOOKUP_ROW_GROUP_ROWS, Spread::Groups { open: Vec::new(), full: Vec::new() }),
            (30000, Spread::Columns(None)),
        ];
        for (group_rows, spread) in ways {
            let dir = tempfile::tempdir().unwrap();
            let ours = dir.path().join("ours.parquet");
            let theirs = dir.path().join("theirs.parquet");
            let props = || properties(group_rows, &["entity_id"]);
            let mut sink = ParquetSink::with_spread(&ours, schema.clone(), props(), spread).unwrap();
            let mut arrow =
                ArrowWriter::try_new(File::create(&theirs).unwrap(), schema.clone(), Some(props())).unwrap();
            let mut from = 0;
            for rows in sizes {
                let b = batch(from, rows);
                sink.write(&b).unwrap();
                arrow.write(&b).unwrap();
                from += rows;
            }
            assert_eq!(sink.finish().unwrap(), rows as u64);
            arrow.close().unwrap();
            let reader = SerializedFileReader::new(File::open(&ours).unwrap()).unwrap();
            assert_eq!(reader.metadata().num_row_groups(), rows.div_ceil(group_rows));
            let (ours, theirs) = (std::fs::read(&ours).unwrap(), std::fs::read(&theirs).unwrap());
            assert!(
                ours == theirs,
                "with row groups of {group_rows} rows, the sink's file differs from Arrow's writer's"
            );
        }
    }

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
