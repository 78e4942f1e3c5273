//! The `registry` mart: the registry snapshot a run used, as validation
//! accepted it (quarantined rows excluded), sorted by entity id. Later
//! stages and every face read registry facts here, never in the landing
//! zone.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Date32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Date32Type, Decimal128Type, Field, Schema, SchemaRef};
use parquet::errors::ParquetError;

use super::rows_with;
use crate::base::ids::{days_to_date, AsOf};
use crate::base::parquet_io::ParquetSink;
use crate::base::warehouse::{Mart, Warehouse};

/// The registry contract columns the mart carries, in contract order.
pub const COLUMNS: [&str; 11] = [
    "entity_id",
    "name",
    "entity_type",
    "legal_rep_id",
    "parent_id",
    "region",
    "industry",
    "online_store",
    "established_on",
    "status",
    "registered_capital",
];

/// The mart's schema: the contract columns, then `snapshot`, the ingest
/// date of the registry partition.
pub fn schema() -> SchemaRef {
    let text = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    Arc::new(Schema::new(vec![
        text("entity_id", false),
        text("name", false),
        text("entity_type", false),
        text("legal_rep_id", true),
        text("parent_id", true),
        text("region", false),
        text("industry", true),
        text("online_store", true),
        Field::new("established_on", DataType::Date32, false),
        text("status", false),
        Field::new("registered_capital", DataType::Decimal128(18, 2), true),
        Field::new("snapshot", DataType::Date32, false),
    ]))
}

/// Writes the mart into `dir` (a staging folder), batch by batch, as the
/// validated rows arrive in entity-id order.
pub struct RegistryWriter {
    sink: ParquetSink,
    snapshot: i32,
}

impl RegistryWriter {
    /// A writer of `dir/part-0.parquet` for the snapshot of `snapshot`.
    pub fn create(dir: &Path, snapshot: AsOf) -> Result<RegistryWriter, ParquetError> {
        let sink = ParquetSink::for_lookups(
            &dir.join("part-0.parquet"),
            schema(),
            "entity_id",
            &["entity_id", "name", "legal_rep_id"],
        )?;
        Ok(RegistryWriter { sink, snapshot: snapshot.days_since_epoch() })
    }

    /// Appends accepted rows holding at least [`COLUMNS`] (by name, with
    /// the contract's types; accepted rows have no null in a required one).
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), ParquetError> {
        self.sink.write(&mart_rows(batch, self.snapshot)?)
    }

    /// Appends `rows` accepted rows (as [`RegistryWriter::write`] takes
    /// them) that `make` makes on the core that encodes them.
    pub fn write_group(
        &mut self,
        rows: usize,
        make: impl FnOnce() -> RecordBatch + Send + 'static,
    ) -> Result<(), ParquetError> {
        let snapshot = self.snapshot;
        self.sink.write_group(rows, Box::new(move || mart_rows(&make(), snapshot)))
    }

    /// Finishes the file, flushed to disk before its staging folder is
    /// committed (in the background until then); returns the rows written.
    pub fn finish(self) -> Result<u64, ParquetError> {
        self.sink.finish_staged()
    }
}

/// The mart's rows of accepted rows: their [`COLUMNS`] as the mart types
/// them, and the snapshot.
fn mart_rows(batch: &RecordBatch, snapshot: i32) -> Result<RecordBatch, ParquetError> {
    let target = schema();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(COLUMNS.len() + 1);
    for (name, field) in COLUMNS.iter().zip(target.fields()) {
        let i = batch.schema().index_of(name).map_err(|e| ParquetError::General(e.to_string()))?;
        // Enumerated columns arrive as dictionaries.
        columns.push(arrow::compute::cast(batch.column(i), field.data_type())?);
    }
    columns.push(Arc::new(Date32Array::from(vec![snapshot; batch.num_rows()])));
    Ok(RecordBatch::try_new(target, columns)?)
}

/// Registry facts of an entity, as the run that wrote the mart accepted them.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct RegistryFacts {
    pub entity_id: String,
    pub name: String,
    pub entity_type: String,
    pub legal_rep_id: Option<String>,
    pub parent_id: Option<String>,
    pub region: String,
    pub industry: Option<String>,
    pub online_store: Option<String>,
    pub established_on: Option<String>,
    pub status: String,
    pub registered_capital: Option<String>,
    /// The snapshot's ingest date.
    pub snapshot: String,
}

fn facts_of(b: &RecordBatch) -> Vec<RegistryFacts> {
    let s = |i: usize| b.column(i).as_string::<i32>().clone();
    let opt = |a: &StringArray, r: usize| a.is_valid(r).then(|| a.value(r).to_string());
    let (id, name, kind, rep, parent, region, industry, store, status) =
        (s(0), s(1), s(2), s(3), s(4), s(5), s(6), s(7), s(9));
    let est = b.column(8).as_primitive::<Date32Type>();
    let cap = b.column(10).as_primitive::<Decimal128Type>();
    let snap = b.column(11).as_primitive::<Date32Type>();
    let date = |d: i32| days_to_date(d).map(|d| d.to_string()).unwrap_or_default();
    (0..b.num_rows())
        .map(|r| RegistryFacts {
            entity_id: id.value(r).to_string(),
            name: name.value(r).to_string(),
            entity_type: kind.value(r).to_string(),
            legal_rep_id: opt(&rep, r),
            parent_id: opt(&parent, r),
            region: region.value(r).to_string(),
            industry: opt(&industry, r),
            online_store: opt(&store, r),
            established_on: est.is_valid(r).then(|| date(est.value(r))),
            status: status.value(r).to_string(),
            registered_capital: cap.is_valid(r).then(|| cap.value_as_string(r)),
            snapshot: date(snap.value(r)),
        })
        .collect()
}

fn part(wh: &Warehouse, as_of: AsOf) -> std::path::PathBuf {
    wh.mart(Mart::Registry, as_of).join("part-0.parquet")
}

/// The registry facts of `ids` in the registry mart of the run as of
/// `as_of` (absent ids were not accepted in that snapshot).
pub fn facts(
    wh: &Warehouse,
    as_of: AsOf,
    ids: &BTreeSet<String>,
) -> Result<HashMap<String, RegistryFacts>, ParquetError> {
    let mut out = HashMap::new();
    for b in rows_with(&part(wh, as_of), "entity_id", ids)? {
        for f in facts_of(&b) {
            out.insert(f.entity_id.clone(), f);
        }
    }
    Ok(out)
}

/// The ingest date of the registry snapshot behind the mart as of `as_of`
/// (`None` for an empty snapshot).
pub fn snapshot(wh: &Warehouse, as_of: AsOf) -> Result<Option<AsOf>, ParquetError> {
    let file = std::fs::File::open(part(wh, as_of))?;
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)?;
    let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), [COLUMNS.len()]);
    let mut reader = builder.with_projection(mask).with_batch_size(1).with_limit(1).build()?;
    Ok(match reader.next().transpose()? {
        Some(b) if b.num_rows() > 0 => AsOf::from_days_since_epoch(b.column(0).as_primitive::<Date32Type>().value(0)),
        _ => None,
    })
}
