//! A dataset's chosen landing files as a DataFusion table, each row
//! numbered as the native validation numbers it: `_row` (its global number
//! in read order), `_partition` (which chosen `ingest_date=D` folder) and
//! `_ingest_date`. The files are read by [`LandingFile::read_as`], the
//! reader the native validation uses, so both see the same values.
//!
//! The scan describes itself in a few plain fields ([`ScanSpec`]) so that a
//! Ballista scheduler and its executors can rebuild it (`codec`): an
//! executor opens each file it reads at its path and refuses one that is
//! no longer what the driver chose (another row count or column type).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, RecordBatch, UInt32Array, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::Statistics;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::object_store::ObjectStoreUrl;
use datafusion::datasource::physical_plan::{
    FileGroup, FileOpenFuture, FileOpener, FileScanConfig, FileScanConfigBuilder, FileSource,
};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::Expr;
use datafusion::object_store::ObjectStore;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::projection::ProjectionExpr;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::ExecutionPlan;
use futures::StreamExt;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use serde::{Deserialize, Serialize};

use crate::base::contract::{ColumnType, Contract};
use crate::base::ids::AsOf;
use crate::base::landing_file::{LandingFile, Seal, Selection};

/// The columns a landing scan adds after the contract's.
fn place_fields() -> [Field; 3] {
    [
        Field::new("_row", DataType::UInt64, false),
        Field::new("_partition", DataType::UInt32, false),
        Field::new("_ingest_date", DataType::Date32, false),
    ]
}

/// One chosen file and where its rows go: in the driver, the file the run
/// opened (sealed with the run); elsewhere only its spec, reopened when read.
#[derive(Clone, Debug)]
struct Placed {
    spec: FileSpec,
    opened: Option<LandingFile>,
}

/// What a landing scan reads, in plain fields: enough to rebuild it in
/// another process.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScanSpec {
    /// The contract's columns and types, in contract order.
    pub columns: Vec<(String, String)>,
    pub files: Vec<FileSpec>,
}

/// One chosen file as the driver saw it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileSpec {
    pub path: PathBuf,
    pub ingest_date: i32,
    pub rows: u64,
    pub first_row: u64,
    pub partition: u32,
    /// For each contract column, its index among the file's columns.
    pub columns: Vec<Option<usize>>,
    pub large_utf8: Vec<bool>,
}

/// The landing rows of one dataset: a table provider.
#[derive(Clone, Debug)]
pub struct LandingScan {
    columns: Vec<(String, ColumnType)>,
    files: Arc<[Placed]>,
    schema: SchemaRef,
}

impl LandingScan {
    /// The rows of `selection`, read in the contract's shape; reads fail
    /// once the files' seal is closed.
    pub fn new(contract: &Contract, selection: &Selection) -> LandingScan {
        let mut files = Vec::new();
        let mut first_row = 0;
        for (p, partition) in selection.partitions.iter().enumerate() {
            for file in &partition.files {
                let spec = FileSpec {
                    path: file.path.clone(),
                    ingest_date: file.ingest_date.days_since_epoch(),
                    rows: file.rows,
                    first_row,
                    partition: p as u32,
                    columns: file.columns.clone(),
                    large_utf8: file.large_utf8.clone(),
                };
                files.push(Placed { spec, opened: Some(file.clone()) });
                first_row += file.rows;
            }
        }
        let columns = contract.columns.iter().map(|c| (c.name.clone(), c.ty)).collect();
        LandingScan::from_parts(columns, files)
    }

    fn from_parts(columns: Vec<(String, ColumnType)>, files: Vec<Placed>) -> LandingScan {
        let mut fields: Vec<Field> = columns.iter().map(|(name, ty)| Field::new(name, ty.arrow(), true)).collect();
        fields.extend(place_fields());
        LandingScan { columns, files: files.into(), schema: Arc::new(Schema::new(fields)) }
    }

    /// The same scan, decoding only the contract columns among `wanted`
    /// (positions in its schema): the others come as nulls, for a
    /// projection above it to drop. A plan that needs a dataset's key alone
    /// does not decode its every column.
    fn reading(&self, wanted: &[usize]) -> LandingScan {
        let masked = |columns: &[Option<usize>]| -> Vec<Option<usize>> {
            columns.iter().enumerate().map(|(i, at)| at.filter(|_| wanted.contains(&i))).collect()
        };
        let files: Vec<Placed> = self
            .files
            .iter()
            .map(|p| Placed {
                spec: FileSpec { columns: masked(&p.spec.columns), ..p.spec.clone() },
                opened: p.opened.as_ref().map(|f| LandingFile { columns: masked(&f.columns), ..f.clone() }),
            })
            .collect();
        LandingScan { columns: self.columns.clone(), files: files.into(), schema: self.schema.clone() }
    }

    /// The scan in plain fields.
    pub fn spec(&self) -> ScanSpec {
        ScanSpec {
            columns: self.columns.iter().map(|(n, t)| (n.clone(), t.to_string())).collect(),
            files: self.files.iter().map(|p| p.spec.clone()).collect(),
        }
    }

    /// Rebuilds a scan from its spec in this process. Its files are opened
    /// when read, and refused unless they still hold the rows and column
    /// types the driver chose.
    pub fn from_spec(spec: &ScanSpec) -> DfResult<LandingScan> {
        let columns = spec
            .columns
            .iter()
            .map(|(name, ty)| {
                ColumnType::parse(ty)
                    .map(|t| (name.clone(), t))
                    .ok_or_else(|| DataFusionError::Internal(format!("landing scan: unknown column type {ty:?}")))
            })
            .collect::<DfResult<Vec<_>>>()?;
        if let Some(f) =
            spec.files.iter().find(|f| f.columns.len() != columns.len() || f.large_utf8.len() != columns.len())
        {
            return Err(DataFusionError::Internal(format!(
                "landing scan: {} has not one entry per column",
                f.path.display()
            )));
        }
        let files = spec.files.iter().map(|f| Placed { spec: f.clone(), opened: None }).collect();
        Ok(LandingScan::from_parts(columns, files))
    }

    /// The scan's files in at most `parts` groups of about equal rows (one
    /// group at least), as indexes into its files.
    pub fn groups(&self, parts: usize) -> Vec<Vec<usize>> {
        let mut groups: Vec<(u64, Vec<usize>)> = vec![(0, Vec::new()); parts.clamp(1, self.files.len().max(1))];
        let mut order: Vec<usize> = (0..self.files.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(self.files[i].spec.rows));
        for i in order {
            let lightest = groups.iter_mut().min_by_key(|(rows, _)| *rows).expect("one group at least");
            lightest.0 += self.files[i].spec.rows;
            lightest.1.push(i);
        }
        groups
            .into_iter()
            .map(|(_, mut g)| {
                g.sort_unstable();
                g
            })
            .collect()
    }

    /// The plan that reads the files of `groups` (indexes into the scan's
    /// files), one partition per group: a `DataSourceExec`, so that a
    /// Ballista scheduler gives each task only its own groups.
    pub fn plan(&self, groups: &[Vec<usize>], limit: Option<usize>) -> Arc<dyn ExecutionPlan> {
        let source = LandingSource {
            scan: self.clone(),
            table_schema: TableSchema::from(self.schema.clone()),
            metrics: ExecutionPlanMetricsSet::new(),
        };
        // The row count lets the planner build a join's hash table on the
        // smaller side: the few repairs, not the millions of known cases.
        let rows: u64 =
            groups.iter().flat_map(|g| g.iter()).filter_map(|&i| self.files.get(i)).map(|p| p.spec.rows).sum();
        let statistics = Statistics::new_unknown(&self.schema).with_num_rows(Precision::Exact(rows as usize));
        let groups = groups
            .iter()
            .map(|g| {
                FileGroup::new(
                    g.iter()
                        .map(|&i| PartitionedFile::new(location(i), self.files.get(i).map_or(0, |p| p.spec.rows)))
                        .collect(),
                )
            })
            .collect();
        let config = FileScanConfigBuilder::new(ObjectStoreUrl::local_filesystem(), Arc::new(source))
            .with_file_groups(groups)
            .with_statistics(statistics)
            .with_limit(limit)
            .build();
        DataSourceExec::from_data_source(config)
    }
}

/// Reads a chosen file's footer again and checks it against what the
/// driver saw.
fn reopen(spec: &FileSpec, columns: &[(String, ColumnType)]) -> DfResult<LandingFile> {
    let path = spec.path.display().to_string();
    let changed =
        |what: String| DataFusionError::Execution(format!("landing file {path} is not the file the run chose: {what}"));
    let file = std::fs::File::open(&spec.path).map_err(|e| changed(e.to_string()))?;
    let metadata = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(|e| changed(e.to_string()))?;
    let rows = metadata.metadata().file_metadata().num_rows() as u64;
    if rows != spec.rows {
        return Err(changed(format!("{rows} rows, {} expected", spec.rows)));
    }
    let fields = metadata.schema().fields().clone();
    for (((name, ty), at), large) in columns.iter().zip(&spec.columns).zip(&spec.large_utf8) {
        let Some(at) = at else { continue };
        let expected = if *large { DataType::LargeUtf8 } else { ty.arrow() };
        match fields.get(*at) {
            Some(f) if f.name() == name && *f.data_type() == expected => {}
            found => {
                return Err(changed(format!(
                    "column {name} expected as {expected} at {at}, found {:?}",
                    found.map(|f| (f.name(), f.data_type()))
                )))
            }
        }
    }
    let ingest_date = AsOf::from_days_since_epoch(spec.ingest_date)
        .ok_or_else(|| changed(format!("ingest date {} out of range", spec.ingest_date)))?;
    Ok(LandingFile {
        path: spec.path.clone(),
        relative: path,
        ingest_date,
        rows,
        columns: spec.columns.clone(),
        large_utf8: spec.large_utf8.clone(),
        metadata,
        seal: Seal::new(),
    })
}

#[async_trait]
impl TableProvider for LandingScan {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let groups = self.groups(state.config().target_partitions());
        match projection {
            None => Ok(self.plan(&groups, None)),
            Some(columns) => {
                let scan = self.reading(columns).plan(&groups, None);
                let exprs = columns.iter().map(|&i| {
                    let name = self.schema.field(i).name();
                    ProjectionExpr::new(Arc::new(Column::new(name, i)), name.clone())
                });
                Ok(Arc::new(ProjectionExec::try_new(exprs, scan)?))
            }
        }
    }
}

/// The file source of a landing scan's `DataSourceExec`: each file is read
/// whole (never split), by [`LandingFile::read_as`] on a blocking thread.
#[derive(Clone, Debug)]
pub struct LandingSource {
    scan: LandingScan,
    table_schema: TableSchema,
    metrics: ExecutionPlanMetricsSet,
}

impl LandingSource {
    pub fn scan(&self) -> &LandingScan {
        &self.scan
    }
}

/// A file of a landing scan's file groups names its index in the scan:
/// the object store is never asked for it.
fn location(index: usize) -> String {
    format!("landing-scan/{index}")
}

/// The index of the scan's file that `file` stands for.
pub fn file_index(file: &PartitionedFile) -> DfResult<usize> {
    let path = file.path().as_ref();
    path.strip_prefix("landing-scan/")
        .and_then(|i| i.parse().ok())
        .ok_or_else(|| DataFusionError::Internal(format!("landing scan: {path} is not one of its files")))
}

impl FileSource for LandingSource {
    fn create_file_opener(
        &self,
        _object_store: Arc<dyn ObjectStore>,
        _base_config: &FileScanConfig,
        _partition: usize,
    ) -> DfResult<Arc<dyn FileOpener>> {
        Ok(Arc::new(LandingOpener { scan: self.scan.clone() }))
    }

    fn table_schema(&self) -> &TableSchema {
        &self.table_schema
    }

    fn with_batch_size(&self, _batch_size: usize) -> Arc<dyn FileSource> {
        Arc::new(self.clone())
    }

    fn metrics(&self) -> &ExecutionPlanMetricsSet {
        &self.metrics
    }

    fn file_type(&self) -> &str {
        "landing"
    }

    /// A row's number is its place in its whole file: files are not split.
    fn supports_repartitioning(&self) -> bool {
        false
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }
}

/// Opens one file of a landing scan.
struct LandingOpener {
    scan: LandingScan,
}

impl FileOpener for LandingOpener {
    fn open(&self, file: PartitionedFile) -> DfResult<FileOpenFuture> {
        let placed = self
            .scan
            .files
            .get(file_index(&file)?)
            .cloned()
            .ok_or_else(|| DataFusionError::Internal(format!("landing scan: no file {}", file.path())))?;
        let (columns, full) = (self.scan.columns.clone(), self.scan.schema.clone());
        Ok(Box::pin(async move {
            let (tx, rx) = tokio::sync::mpsc::channel(2);
            let reader = tokio::task::spawn_blocking(move || read(&placed, &columns, &full, &tx));
            // The batches, then the reader's end: a reader that failed or
            // panicked is an error, never a silently short file.
            let stream = futures::stream::unfold((rx, Some(reader)), |(mut rx, reader)| async move {
                if let Some(batch) = rx.recv().await {
                    return Some((batch, (rx, reader)));
                }
                let outcome = match reader?.await {
                    Ok(()) => return None,
                    Err(e) => Err(DataFusionError::Execution(format!("landing scan: the reader stopped: {e}"))),
                };
                Some((outcome, (rx, None)))
            });
            Ok(stream.boxed())
        }))
    }
}

/// Reads `placed` into `tx`, each batch with its rows' place, then the
/// error that stopped it if any; stops early when the receiver is gone.
fn read(
    placed: &Placed,
    columns: &[(String, ColumnType)],
    full: &SchemaRef,
    tx: &tokio::sync::mpsc::Sender<DfResult<RecordBatch>>,
) {
    if let Err(e) = send_batches(placed, columns, full, tx) {
        let _ = tx.blocking_send(Err(e));
    }
}

fn send_batches(
    placed: &Placed,
    columns: &[(String, ColumnType)],
    full: &SchemaRef,
    tx: &tokio::sync::mpsc::Sender<DfResult<RecordBatch>>,
) -> DfResult<()> {
    let file = match &placed.opened {
        Some(f) => f.clone(),
        None => reopen(&placed.spec, columns)?,
    };
    let fail = |e: &dyn fmt::Display| DataFusionError::Execution(format!("landing file {}: {e}", file.relative));
    let target = Schema::new(full.fields()[..columns.len()].to_vec());
    let mut row = placed.spec.first_row;
    for batch in file.read_as(&target, None).map_err(|e| fail(&e))? {
        let batch = with_place(full, batch.map_err(|e| fail(&e))?, row, placed)?;
        row += batch.num_rows() as u64;
        if tx.blocking_send(Ok(batch)).is_err() {
            break;
        }
    }
    Ok(())
}

/// The batch with its rows' place appended (the scan's `full` schema):
/// global row numbers from `first`, the partition and the ingest date.
fn with_place(full: &SchemaRef, batch: RecordBatch, first: u64, placed: &Placed) -> DfResult<RecordBatch> {
    let n = batch.num_rows();
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    columns.push(Arc::new(UInt64Array::from_iter_values(first..first + n as u64)));
    columns.push(Arc::new(UInt32Array::from_value(placed.spec.partition, n)));
    columns.push(Arc::new(Date32Array::from_value(placed.spec.ingest_date, n)));
    Ok(RecordBatch::try_new(full.clone(), columns)?)
}
