//! Landing files as a run reads them: the partitions chosen for a run
//! ([`Selection`]), each file's footer and column layout ([`LandingFile`]),
//! and a reader that yields a file's rows in the contract's shape.
//!
//! Only validation opens landing files; every later stage and every face
//! reads the marts validation wrote.

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arrow::array::{new_null_array, ArrayRef, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
};
use parquet::arrow::ProjectionMask;

use crate::base::contract::Contract;
use crate::base::ids::AsOf;

/// Rows per batch when reading landing files.
pub const BATCH_ROWS: usize = 64 * 1024;

/// One Parquet file of a partition the run reads.
#[derive(Clone, Debug)]
pub struct LandingFile {
    pub path: PathBuf,
    /// Path relative to the warehouse root (`landing/<ds>/ingest_date=D/x.parquet`).
    pub relative: String,
    pub ingest_date: AsOf,
    pub rows: u64,
    /// For each contract column, its index among the file's top-level
    /// columns, or `None` for an absent optional column.
    pub columns: Vec<Option<usize>>,
    /// Contract columns the file stores as LargeUtf8.
    pub large_utf8: Vec<bool>,
    pub metadata: ArrowReaderMetadata,
    /// Closed once validation is done: a read after that is refused.
    pub seal: Seal,
}

/// Marks the end of validation for the landing files of one run: once
/// [`Seal::close`] is called, every [`LandingFile::read`] of those files
/// fails (a bug: later stages read marts, never the landing zone).
#[derive(Clone, Debug, Default)]
pub struct Seal(Arc<AtomicBool>);

impl Seal {
    pub fn new() -> Seal {
        Seal::default()
    }

    /// No landing file of this run is read after this.
    pub fn close(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_closed(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// One `ingest_date=D` folder and its files, in name order.
#[derive(Clone, Debug)]
pub struct Partition {
    pub ingest_date: AsOf,
    pub files: Vec<LandingFile>,
}

impl Partition {
    pub fn rows(&self) -> u64 {
        self.files.iter().map(|f| f.rows).sum()
    }
}

/// The partitions of one dataset a run reads, oldest first.
#[derive(Clone, Debug)]
pub struct Selection {
    pub partitions: Vec<Partition>,
}

impl Selection {
    pub fn files(&self) -> impl Iterator<Item = &LandingFile> {
        self.partitions.iter().flat_map(|p| p.files.iter())
    }

    pub fn rows(&self) -> u64 {
        self.partitions.iter().map(|p| p.rows()).sum()
    }
}

impl LandingFile {
    /// Reads the file's rows as batches with exactly the contract's columns
    /// (absent optional columns as nulls, strings as Utf8), optionally only
    /// the rows of `selection`.
    pub fn read(
        &self,
        contract: &Contract,
        selection: Option<RowSelection>,
    ) -> Result<impl Iterator<Item = Result<RecordBatch, arrow::error::ArrowError>> + '_, parquet::errors::ParquetError>
    {
        self.read_as(&contract.arrow_schema(), selection)
    }

    /// [`LandingFile::read`], except that the contract columns `enumerated`
    /// (text with a closed list of values) come as dictionaries
    /// ([`enumerated_type`]) where the file stores them as Utf8: the Parquet
    /// dictionary is handed on instead of each row's text, so that a check
    /// runs once per value.
    pub fn read_enumerated(
        &self,
        contract: &Contract,
        enumerated: &[usize],
    ) -> Result<impl Iterator<Item = Result<RecordBatch, arrow::error::ArrowError>> + '_, parquet::errors::ParquetError>
    {
        let mut target = contract.arrow_schema().as_ref().clone();
        let mut hint = self.metadata.schema().as_ref().clone();
        for ci in enumerated {
            if let (Some(fc), false) = (self.columns[*ci], self.large_utf8[*ci]) {
                let retyped = |f: &arrow::datatypes::Field| Arc::new(f.clone().with_data_type(enumerated_type()));
                let mut fields = target.fields().to_vec();
                fields[*ci] = retyped(&fields[*ci]);
                target = arrow::datatypes::Schema::new(fields);
                let mut fields = hint.fields().to_vec();
                fields[fc] = retyped(&fields[fc]);
                hint = arrow::datatypes::Schema::new_with_metadata(fields, hint.metadata().clone());
            }
        }
        let options = ArrowReaderOptions::new().with_schema(Arc::new(hint));
        let metadata = ArrowReaderMetadata::try_new(self.metadata.metadata().clone(), options)?;
        self.read_with(metadata, &target, None)
    }

    /// [`LandingFile::read`] with the contract's columns given as `target`
    /// (one field per contract column, in order).
    pub fn read_as(
        &self,
        target: &arrow::datatypes::Schema,
        selection: Option<RowSelection>,
    ) -> Result<impl Iterator<Item = Result<RecordBatch, arrow::error::ArrowError>> + '_, parquet::errors::ParquetError>
    {
        self.read_with(self.metadata.clone(), target, selection)
    }

    fn read_with(
        &self,
        metadata: ArrowReaderMetadata,
        target: &arrow::datatypes::Schema,
        selection: Option<RowSelection>,
    ) -> Result<impl Iterator<Item = Result<RecordBatch, arrow::error::ArrowError>> + '_, parquet::errors::ParquetError>
    {
        if self.seal.is_closed() {
            return Err(parquet::errors::ParquetError::General(format!(
                "{}: a landing file read after validation (a bug: later stages read the marts)",
                self.relative
            )));
        }
        let file = File::open(&self.path)?;
        let present: Vec<usize> = self.columns.iter().flatten().copied().collect();
        let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata);
        let mask = ProjectionMask::roots(builder.parquet_schema(), present.iter().copied());
        let mut builder = builder.with_projection(mask).with_batch_size(BATCH_ROWS);
        if let Some(s) = selection {
            builder = builder.with_row_selection(s);
        }
        let reader = builder.build()?;
        let target = nullable(target);
        // The reader yields the projected columns in file order.
        let mut sorted = present.clone();
        sorted.sort_unstable();
        Ok(reader.map(move |batch| {
            let batch = batch?;
            let rows = batch.num_rows();
            let mut out: Vec<ArrayRef> = Vec::with_capacity(self.columns.len());
            for (ci, file_col) in self.columns.iter().enumerate() {
                let array = match file_col {
                    Some(fc) => {
                        let pos = sorted.binary_search(fc).expect("projected column");
                        let a = batch.column(pos).clone();
                        if self.large_utf8[ci] {
                            cast(&a, &DataType::Utf8)?
                        } else {
                            a
                        }
                    }
                    None => new_null_array(target.field(ci).data_type(), rows),
                };
                out.push(array);
            }
            // Nullability is the contract's promise, checked row by row later:
            // the batch carries a fully nullable schema until then.
            RecordBatch::try_new(target.clone(), out)
        }))
    }
}

/// How [`LandingFile::read_enumerated`] hands on an enumerated column.
pub fn enumerated_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// `field` with the type it has in the contract: a column
/// [`LandingFile::read_enumerated`] handed on as a dictionary is text.
pub fn as_text_field(field: &arrow::datatypes::Field) -> arrow::datatypes::Field {
    match field.data_type() {
        DataType::Dictionary(_, value) => field.clone().with_data_type(value.as_ref().clone()),
        _ => field.clone(),
    }
}

/// `batch` with the dictionaries of [`LandingFile::read_enumerated`] cast
/// back to text: what is written keeps the contract's types.
pub fn as_text(batch: &RecordBatch) -> Result<RecordBatch, arrow::error::ArrowError> {
    let fields: Vec<arrow::datatypes::Field> = batch.schema().fields().iter().map(|f| as_text_field(f)).collect();
    let columns = batch
        .columns()
        .iter()
        .zip(&fields)
        .map(|(c, f)| match c.data_type() == f.data_type() {
            true => Ok(c.clone()),
            false => cast(c, f.data_type()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), columns)
}

/// The same schema with every field nullable.
pub fn nullable(schema: &arrow::datatypes::Schema) -> Arc<arrow::datatypes::Schema> {
    Arc::new(arrow::datatypes::Schema::new(
        schema.fields().iter().map(|f| f.as_ref().clone().with_nullable(true)).collect::<Vec<_>>(),
    ))
}
