//! Writing Parquet files the same way everywhere: fixed writer settings so
//! that the same batches always give the same bytes.

use std::collections::VecDeque;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::arrow_writer::{
    compute_leaves, ArrowColumnChunk, ArrowColumnWriter, ArrowLeafColumn, ArrowRowGroupWriterFactory,
};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::errors::ParquetError;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
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

/// The writer settings: row groups of `row_group_rows`; the `unique`
/// columns without a dictionary; with a `key`, statistics for that column
/// alone (the only one lookups prune by).
fn properties(row_group_rows: usize, key: Option<&str>, unique: &[&str]) -> WriterProperties {
    let path = |column: &str| ColumnPath::new(column.split('.').map(String::from).collect());
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(row_group_rows))
        .set_created_by("credence".to_string());
    if let Some(key) = key {
        builder = builder
            .set_statistics_enabled(EnabledStatistics::None)
            .set_column_statistics_enabled(path(key), EnabledStatistics::Page);
    }
    for column in unique {
        builder = builder.set_column_dictionary_enabled(path(column), false);
    }
    builder.build()
}

/// A Parquet file being written batch by batch, encoded on every core.
/// The bytes are those Arrow's own `ArrowWriter` writes from the same
/// batches (same row groups, each column fed the same slices in the same
/// order); only the work is spread.
pub struct ParquetSink {
    path: PathBuf,
    file: SerializedFileWriter<File>,
    columns: Arc<ArrowRowGroupWriterFactory>,
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
    /// would set the pace. Written from outside the rayon pool, the full
    /// groups are encoded while the next ones come in (`encoding`, oldest
    /// first, each with its number of groups, appended in that order).
    Groups { open: Vec<RecordBatch>, full: Vec<GroupRows>, encoding: VecDeque<(usize, Encoding)> },
}

/// A full row group's rows: batches, or the work that makes them, done
/// on the core that encodes the group.
enum GroupRows {
    Batches(Vec<RecordBatch>),
    Deferred { rows: usize, make: DeferredRows },
}

/// Makes a row group's rows when it is encoded ([`ParquetSink::write_group`]).
pub type DeferredRows = Box<dyn FnOnce() -> Result<RecordBatch, ParquetError> + Send>;

/// How many encodings may be under way before the sink waits for the
/// oldest: with two, the pool has the next groups to take up as it
/// finishes one.
const ENCODINGS_UNDER_WAY: usize = 2;

/// Row groups being encoded on the rayon pool.
type Encoding = std::thread::JoinHandle<Result<Vec<Vec<ArrowColumnChunk>>, ParquetError>>;

impl Spread {
    fn groups() -> Spread {
        Spread::Groups { open: Vec::new(), full: Vec::new(), encoding: VecDeque::new() }
    }
}

/// Encodes whole row groups on every core, the first of them being the
/// file's `first`-th row group.
fn encode_groups(
    columns: &ArrowRowGroupWriterFactory,
    schema: &SchemaRef,
    first: usize,
    groups: Vec<GroupRows>,
) -> Result<Vec<Vec<ArrowColumnChunk>>, ParquetError> {
    let encoded = groups.into_par_iter().enumerate().map(|(n, group)| {
        let batches = match group {
            GroupRows::Batches(batches) => batches,
            GroupRows::Deferred { rows, make } => {
                let batch = make()?;
                if batch.num_rows() != rows {
                    let found = batch.num_rows();
                    return Err(ParquetError::General(format!("a row group promised {rows} rows and made {found}")));
                }
                vec![batch]
            }
        };
        let mut writers = columns.create_column_writers(first + n)?;
        for batch in &batches {
            for (writer, leaf) in writers.iter_mut().zip(leaves(schema, batch)?) {
                writer.write(&leaf)?;
            }
        }
        writers.into_iter().map(ArrowColumnWriter::close).collect::<Result<Vec<_>, _>>()
    });
    encoded.collect()
}

impl ParquetSink {
    pub fn create(path: &Path, schema: SchemaRef) -> Result<ParquetSink, ParquetError> {
        ParquetSink::with_properties(path, schema, properties(ROW_GROUP_ROWS, None, &[]))
    }

    /// A file of rows sorted by the column `key`, read by lookups of a few
    /// keys ([`LOOKUP_ROW_GROUP_ROWS`]). Only `key` has statistics: the
    /// lookups skip row groups by its range, and the other columns' minima
    /// and maxima would cost two comparisons per value to skip nothing.
    /// The `unique` columns (ids that hardly repeat; a nested column by its
    /// dotted Parquet path) are written plain: a dictionary of values that
    /// never repeat costs a hash per value and saves nothing.
    pub fn for_lookups(
        path: &Path,
        schema: SchemaRef,
        key: &str,
        unique: &[&str],
    ) -> Result<ParquetSink, ParquetError> {
        ParquetSink::with_properties(path, schema, properties(LOOKUP_ROW_GROUP_ROWS, Some(key), unique))
    }

    fn with_properties(path: &Path, schema: SchemaRef, props: WriterProperties) -> Result<ParquetSink, ParquetError> {
        let small = props.max_row_group_row_count().is_some_and(|rows| rows <= LOOKUP_ROW_GROUP_ROWS);
        let spread = match small {
            true => Spread::groups(),
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
        let columns = Arc::new(columns);
        Ok(ParquetSink {
            path: path.to_path_buf(),
            file,
            columns,
            schema,
            spread,
            group_rows: 0,
            max_group_rows,
            rows: 0,
        })
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
            Spread::Groups { open, full, .. } => {
                open.push(batch.clone());
                if group_full {
                    full.push(GroupRows::Batches(std::mem::take(open)));
                }
            }
        }
        if group_full {
            self.group_rows = 0;
            self.flush(false)?;
        }
        Ok(())
    }

    /// Appends a whole row group of `rows` rows that `make` makes when the
    /// group is encoded, on the core that encodes it: what making them
    /// costs is spread too. Where the group would not be whole (a lookup
    /// file's group not yet begun, `rows` its size), they are made now.
    pub fn write_group(&mut self, rows: usize, make: DeferredRows) -> Result<(), ParquetError> {
        match &mut self.spread {
            Spread::Groups { full, .. } if self.group_rows == 0 && rows == self.max_group_rows => {
                self.rows += rows as u64;
                full.push(GroupRows::Deferred { rows, make });
                self.flush(false)
            }
            _ => self.write(&make()?),
        }
    }

    /// Appends the full row groups to the file (every one held, when
    /// `all`; otherwise small ones once there are enough to share, those
    /// being encoded in the background first).
    fn flush(&mut self, all: bool) -> Result<(), ParquetError> {
        let groups: Vec<Vec<ArrowColumnChunk>> = match &mut self.spread {
            Spread::Columns(group) => match group.take() {
                Some(writers) => {
                    vec![writers.into_par_iter().map(ArrowColumnWriter::close).collect::<Result<_, _>>()?]
                }
                None => Vec::new(),
            },
            Spread::Groups { open, full, encoding } => {
                if all && !open.is_empty() {
                    full.push(GroupRows::Batches(std::mem::take(open)));
                }
                if !all && full.len() < 2 * rayon::current_num_threads() {
                    return Ok(());
                }
                let first = self.file.flushed_row_groups().len() + encoding.iter().map(|(n, _)| n).sum::<usize>();
                let groups = std::mem::take(full);
                let join = |(_, handle): (usize, Encoding)| {
                    handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                };
                let mut encoded = Vec::new();
                // Inside the pool a worker must not wait on work queued behind it.
                if all || rayon::current_thread_index().is_some() {
                    for under_way in encoding.drain(..) {
                        encoded.extend(join(under_way)?);
                    }
                    encoded.extend(encode_groups(&self.columns, &self.schema, first, groups)?);
                } else {
                    let (columns, schema) = (self.columns.clone(), self.schema.clone());
                    let count = groups.len();
                    let handle = std::thread::Builder::new()
                        .name("parquet-encode".into())
                        .spawn(move || encode_groups(&columns, &schema, first, groups))?;
                    encoding.push_back((count, handle));
                    while encoding.len() > ENCODINGS_UNDER_WAY {
                        encoded.extend(join(encoding.pop_front().expect("more than one under way"))?);
                    }
                }
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
    pub fn finish(self) -> Result<u64, ParquetError> {
        let (_, file, rows) = self.close()?;
        file.sync_all()?;
        Ok(rows)
    }

    /// Finishes a file of a staging folder, whose flush to disk goes on in
    /// the background: the folder's commit waits for it ([`crate::base::flush`]).
    /// Returns the rows written.
    pub fn finish_staged(self) -> Result<u64, ParquetError> {
        let (path, file, rows) = self.close()?;
        crate::base::flush::in_background(&path, file)?;
        Ok(rows)
    }

    /// Writes what is pending and the file's footer: the file, not yet
    /// flushed to disk, with its path and the rows written.
    fn close(mut self) -> Result<(PathBuf, File, u64), ParquetError> {
        self.flush(true)?;
        let file = self.file.into_inner()?;
        Ok((self.path, file, self.rows))
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

    use arrow::array::{ArrayRef, StringArray};
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
        let ways = [(LOOKUP_ROW_GROUP_ROWS, Spread::groups()), (30000, Spread::Columns(None))];
        for (group_rows, spread) in ways {
            let dir = tempfile::tempdir().unwrap();
            let ours = dir.path().join("ours.parquet");
            let theirs = dir.path().join("theirs.parquet");
            let props = || properties(group_rows, Some("entity_id"), &["entity_id"]);
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

    /// Whole row groups made when they are encoded give the bytes of the
    /// same rows written at once; a group that is not whole is made at
    /// once; a group that makes other than the rows it promised fails.
    #[test]
    fn deferred_groups_write_the_bytes_of_rows_written_at_once() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("entity_id", DataType::Utf8, false),
            Field::new("grade", DataType::Utf8, false),
        ]));
        fn rows(schema: &SchemaRef, from: usize, n: usize) -> RecordBatch {
            let ids: Vec<String> = (from..from + n).map(|i| format!("id-{i:07}")).collect();
            let grades: Vec<&str> = (from..from + n).map(|i| ["A", "B", "C"][i % 3]).collect();
            let columns: Vec<ArrayRef> = vec![Arc::new(StringArray::from(ids)), Arc::new(StringArray::from(grades))];
            RecordBatch::try_new(schema.clone(), columns).unwrap()
        }
        let group = LOOKUP_ROW_GROUP_ROWS;
        // Thirteen whole groups (encoded in the background a few at a time,
        // more at once than the sink lets be under way), then a short one.
        let sizes: Vec<usize> = std::iter::repeat_n(group, 13).chain([100]).collect();
        let dir = tempfile::tempdir().unwrap();
        let (deferred, at_once) = (dir.path().join("deferred.parquet"), dir.path().join("at-once.parquet"));
        let mut sink = ParquetSink::for_lookups(&deferred, schema.clone(), "entity_id", &["entity_id"]).unwrap();
        let mut plain = ParquetSink::for_lookups(&at_once, schema.clone(), "entity_id", &["entity_id"]).unwrap();
        let mut from = 0;
        for n in sizes {
            let theirs = schema.clone();
            sink.write_group(n, Box::new(move || Ok(rows(&theirs, from, n)))).unwrap();
            plain.write(&rows(&schema, from, n)).unwrap();
            from += n;
        }
        assert_eq!(sink.finish().unwrap(), from as u64);
        plain.finish().unwrap();
        assert!(std::fs::read(&deferred).unwrap() == std::fs::read(&at_once).unwrap(), "the files differ");

        let broken = dir.path().join("broken.parquet");
        let mut sink = ParquetSink::for_lookups(&broken, schema.clone(), "entity_id", &[]).unwrap();
        let theirs = schema.clone();
        sink.write_group(group, Box::new(move || Ok(rows(&theirs, 0, group - 1)))).unwrap();
        let err = sink.finish().unwrap_err().to_string();
        assert!(err.contains(&format!("promised {group} rows and made {}", group - 1)), "{err}");
    }

    #[test]
    fn lookup_files_write_unique_columns_without_a_dictionary_and_only_the_key_with_statistics() {
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
        let mut sink = ParquetSink::for_lookups(&path, schema, "entity_id", &["entity_id"]).unwrap();
        sink.write(&batch).unwrap();
        assert_eq!(sink.finish().unwrap(), 100);
        let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
        let group = reader.metadata().row_group(0);
        let dictionary = |c: usize| group.column(c).encodings().any(|e| e == Encoding::RLE_DICTIONARY);
        assert!(!dictionary(0), "ids are written plain");
        assert!(dictionary(1), "other columns keep their dictionary");
        assert!(group.column(0).statistics().is_some(), "the key has its range, for lookups to skip by");
        assert!(group.column(1).statistics().is_none(), "no other column has statistics");
        let back = read_parquet(&path).unwrap();
        assert_eq!(back[0], batch, "the same rows come back");
    }
}
