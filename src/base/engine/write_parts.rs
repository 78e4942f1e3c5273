//! A plan node that writes each partition of its input to an Arrow IPC
//! file of its own, where the partition runs: on a cluster, the executor
//! that computed the rows writes them into the shared folder, and they
//! never travel to the run's process. Optionally it keeps only the rows
//! whose `split` column is null and streams the others on (validation's
//! plans: the accepted rows go to the files, the rejects to the run), and
//! of those, writes some to files of their own ([`Aside`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::ipc::writer::FileWriter;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning, PlanProperties,
    ReplaceChildrenOptions,
};
use futures::StreamExt;

/// What a [`WriteParts`] node writes and passes on, in plain fields (the
/// cluster's codec sends them to the executors as they are).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PartsSpec {
    /// The folder every partition writes its file into (see `part_paths`).
    pub folder: PathBuf,
    /// The input's columns written, in this order.
    pub kept: Vec<usize>,
    /// With a column, only the rows where it is null are written; the
    /// others are the node's output. Without, every row is written and
    /// the node outputs nothing.
    pub split: Option<usize>,
    /// Of the rows the split passes on, those written to files of their
    /// own instead (with a split only).
    #[serde(default)]
    pub aside: Option<Aside>,
}

/// Rows a split passes on that are written to a second folder instead, a
/// file per partition as in the first: a three-way split (validation's
/// plans: the current rows to the table, the accepted rows whose key
/// other rows may hold aside, the rejects to the run).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Aside {
    pub folder: PathBuf,
    /// The input's columns written, in this order.
    pub kept: Vec<usize>,
    /// The rows passed on where this column is null are the ones written.
    pub when_null: usize,
}

/// Writes each input partition's rows ([`PartsSpec`]) to a file of its
/// own in the folder (`part-<partition>.arrow`; on a Ballista executor the
/// name carries the task too, see `part_paths`), first under a hidden
/// name and renamed once whole, so that a task run again replaces its own
/// file and a scan never sees half of one.
#[derive(Debug)]
pub struct WriteParts {
    input: Arc<dyn ExecutionPlan>,
    spec: PartsSpec,
    file_schema: SchemaRef,
    aside_schema: Option<SchemaRef>,
    properties: Arc<PlanProperties>,
}

impl WriteParts {
    /// The node over `input`; fails if `spec` names a column `input` lacks.
    pub fn new(input: Arc<dyn ExecutionPlan>, spec: PartsSpec) -> DfResult<WriteParts> {
        let schema = input.schema();
        let file_schema = Arc::new(schema.project(&spec.kept)?);
        let columns = schema.fields().len();
        for (what, c) in [("split", spec.split), ("aside", spec.aside.as_ref().map(|a| a.when_null))] {
            if let Some(c) = c.filter(|c| *c >= columns) {
                return Err(DataFusionError::Internal(format!("{what} column {c} of {columns} columns")));
            }
        }
        if spec.aside.is_some() && spec.split.is_none() {
            return Err(DataFusionError::Internal("rows set aside without a split".into()));
        }
        let aside_schema = spec.aside.as_ref().map(|a| schema.project(&a.kept).map(Arc::new)).transpose()?;
        let partitions = input.output_partitioning().partition_count();
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(WriteParts { input, spec, file_schema, aside_schema, properties: Arc::new(properties) })
    }

    /// What the node writes and passes on (what the codec sends).
    pub fn spec(&self) -> &PartsSpec {
        &self.spec
    }

    /// The schema of the written files.
    pub fn file_schema(&self) -> SchemaRef {
        self.file_schema.clone()
    }

    /// The schema of the files of the rows set aside, if any are.
    pub fn aside_schema(&self) -> Option<SchemaRef> {
        self.aside_schema.clone()
    }
}

/// Where partition `n` of the task `task` (the engine's name for it)
/// writes in `folder`, and the file's name while written. Locally a plan
/// is one task and its partitions number the files. A Ballista executor
/// numbers a task's partitions from 0 in every task, so the file also
/// names the task by its stage and its number in the stage, not its
/// attempt: a task run again replaces the same file. The name while
/// written is this writer's own (process, a counter, the time), so that
/// two attempts writing at once (one on an executor given up for lost)
/// never share a file: each renames a whole file over the other.
fn part_paths(folder: &Path, task: Option<&str>, n: usize) -> DfResult<(PathBuf, PathBuf)> {
    let name = match task {
        None => format!("part-{n}"),
        Some(task) => {
            let (stage, number) = ballista_task(task).ok_or_else(|| {
                DataFusionError::Internal(format!(
                    "a task named {task:?}: expected `TID job/stage.attempt/task.attempt`"
                ))
            })?;
            format!("part-{stage}-{number}-{n}")
        }
    };
    static WRITERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let writer = format!(
        "{}-{}-{}",
        std::process::id(),
        WRITERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    );
    Ok((folder.join(format!("{name}.arrow")), folder.join(format!(".{name}.{writer}.partial"))))
}

/// The stage and the task's number in it, from a Ballista task's name
/// (`TID <job>/<stage>.<attempt>/<task>.<attempt>`).
fn ballista_task(name: &str) -> Option<(u64, u64)> {
    let mut parts = name.strip_prefix("TID ")?.split('/');
    let (_job, stage, task) = (parts.next()?, parts.next()?, parts.next()?);
    let number = |s: &str| s.split_once('.').and_then(|(n, attempt)| attempt.parse::<u64>().ok().and(n.parse().ok()));
    match parts.next() {
        None => Some((number(stage)?, number(task)?)),
        Some(_) => None,
    }
}

impl DisplayAs for WriteParts {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "WriteParts: folder={}, kept={:?}, split={:?}",
            self.spec.folder.display(),
            self.spec.kept,
            self.spec.split
        )
    }
}

impl ExecutionPlan for WriteParts {
    fn name(&self) -> &'static str {
        "WriteParts"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return Err(DataFusionError::Internal(format!("WriteParts takes one input, given {}", children.len())));
        }
        Ok(Arc::new(WriteParts::new(children.swap_remove(0), self.spec.clone())?))
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> DfResult<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(datafusion::physical_plan::ChildrenPropertiesMode::Recompute),
        )
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> DfResult<SendableRecordBatchStream> {
        let task = context.task_id();
        let input = self.input.execute(partition, context)?;
        let file = PartFile::create(&self.spec.folder, task.as_deref(), partition, &self.spec.kept, &self.file_schema)?;
        let aside = match (&self.spec.aside, &self.aside_schema) {
            (Some(a), Some(schema)) => {
                Some((PartFile::create(&a.folder, task.as_deref(), partition, &a.kept, schema)?, a.when_null))
            }
            _ => None,
        };
        let part = Part { input, file, split: self.spec.split, aside };
        let stream = futures::stream::try_unfold(part, |mut part| async move {
            while let Some(batch) = part.input.next().await {
                if let Some(passed) = part.take(&batch?)? {
                    return Ok(Some((passed, part)));
                }
            }
            part.finish()?;
            Ok(None)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(self.schema(), stream)))
    }
}

/// One partition being written.
struct Part {
    input: SendableRecordBatchStream,
    file: PartFile,
    split: Option<usize>,
    /// The file of the rows set aside, and the column null in them.
    aside: Option<(PartFile, usize)>,
}

impl Part {
    /// Writes the rows of `batch` the files keep; returns those passed on, if any.
    fn take(&mut self, batch: &RecordBatch) -> DfResult<Option<RecordBatch>> {
        let Some(c) = self.split else {
            self.file.write(batch)?;
            return Ok(None);
        };
        let (written, passed) = split_by_null(batch, c)?;
        self.file.write(&written)?;
        let passed = match &mut self.aside {
            None => passed,
            Some((file, c)) => {
                let (aside, passed) = split_by_null(&passed, *c)?;
                file.write(&aside)?;
                passed
            }
        };
        Ok(Some(passed).filter(|p| p.num_rows() > 0))
    }

    /// Ends the files and gives them their names.
    fn finish(&mut self) -> DfResult<()> {
        self.file.finish()?;
        if let Some((file, _)) = &mut self.aside {
            file.finish()?;
        }
        Ok(())
    }
}

/// The rows of `batch` whose column `c` is null, and the others.
fn split_by_null(batch: &RecordBatch, c: usize) -> DfResult<(RecordBatch, RecordBatch)> {
    let null = arrow::compute::is_null(batch.column(c))?;
    let others = arrow::compute::filter_record_batch(batch, &arrow::compute::not(&null)?)?;
    Ok((arrow::compute::filter_record_batch(batch, &null)?, others))
}

/// One partition's file being written, under its hidden name until whole.
struct PartFile {
    writer: Option<FileWriter<std::io::BufWriter<std::fs::File>>>,
    kept: Vec<usize>,
    schema: SchemaRef,
    path: PathBuf,
    partial: PathBuf,
}

impl PartFile {
    fn create(
        folder: &Path,
        task: Option<&str>,
        partition: usize,
        kept: &[usize],
        schema: &SchemaRef,
    ) -> DfResult<PartFile> {
        let (path, partial) = part_paths(folder, task, partition)?;
        // An executor must be able to write into the shared folder: the
        // error names where (ops/systemd: the warehouse is read-only to
        // executors; a run's --engine-scratch folder is what they may write).
        let writing = |e: std::io::Error| {
            DataFusionError::Context(format!("writing {}", partial.display()), Box::new(DataFusionError::IoError(e)))
        };
        std::fs::create_dir_all(folder).map_err(writing)?;
        let file = std::io::BufWriter::new(std::fs::File::create(&partial).map_err(writing)?);
        let writer = FileWriter::try_new(file, schema)?;
        Ok(PartFile { writer: Some(writer), kept: kept.to_vec(), schema: schema.clone(), path, partial })
    }

    /// Writes the file's columns of `rows`.
    fn write(&mut self, rows: &RecordBatch) -> DfResult<()> {
        if rows.num_rows() == 0 {
            return Ok(());
        }
        let columns = rows.project(&self.kept)?.columns().to_vec();
        let writer =
            self.writer.as_mut().ok_or_else(|| DataFusionError::Internal("a part written after its end".into()))?;
        writer.write(&RecordBatch::try_new(self.schema.clone(), columns)?)?;
        Ok(())
    }

    /// Ends the file and gives it its name.
    fn finish(&mut self) -> DfResult<()> {
        if let Some(mut writer) = self.writer.take() {
            writer.finish()?;
            std::fs::rename(&self.partial, &self.path)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{AsArray, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Int64Type, Schema};
    use datafusion::datasource::memory::MemorySourceConfig;

    fn input(partitions: Vec<Vec<RecordBatch>>, schema: SchemaRef) -> Arc<dyn ExecutionPlan> {
        MemorySourceConfig::try_new_exec(&partitions, schema, None).unwrap()
    }

    fn batch(schema: &SchemaRef, rows: &[(i64, Option<&str>)]) -> RecordBatch {
        let n = Int64Array::from_iter_values(rows.iter().map(|r| r.0));
        let code = StringArray::from_iter(rows.iter().map(|r| r.1));
        RecordBatch::try_new(schema.clone(), vec![Arc::new(n), Arc::new(code)]).unwrap()
    }

    /// A number and a code (null for a row that is kept).
    fn n_and_code() -> SchemaRef {
        Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false), Field::new("code", DataType::Utf8, true)]))
    }

    fn read_part(path: &Path) -> Vec<i64> {
        let reader = arrow::ipc::reader::FileReader::try_new(std::fs::File::open(path).unwrap(), None).unwrap();
        reader.flat_map(|b| b.unwrap().column(0).as_primitive::<Int64Type>().values().to_vec()).collect()
    }

    #[tokio::test]
    async fn each_partition_writes_its_kept_rows_and_passes_the_others_on() {
        let schema = n_and_code();
        let dir = tempfile::tempdir().unwrap();
        let partitions = vec![
            vec![batch(&schema, &[(1, None), (2, Some("bad")), (3, None)])],
            vec![batch(&schema, &[(4, Some("worse"))]), batch(&schema, &[(5, None)])],
            vec![],
        ];
        let spec = PartsSpec { folder: dir.path().join("accepted"), kept: vec![0], split: Some(1), aside: None };
        let node = Arc::new(WriteParts::new(input(partitions, schema.clone()), spec).unwrap());
        assert_eq!(node.file_schema().fields().len(), 1);
        let out = datafusion::physical_plan::collect(node, Arc::new(TaskContext::default())).await.unwrap();
        let mut passed: Vec<i64> =
            out.iter().flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec()).collect();
        passed.sort();
        assert_eq!(passed, [2, 4], "the rows with a code are the node's output");
        let folder = dir.path().join("accepted");
        assert_eq!(read_part(&folder.join("part-0.arrow")), [1, 3]);
        assert_eq!(read_part(&folder.join("part-1.arrow")), [5]);
        assert_eq!(read_part(&folder.join("part-2.arrow")), Vec::<i64>::new(), "an empty partition still has its file");
        let mut names: Vec<String> =
            std::fs::read_dir(&folder).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(names, ["part-0.arrow", "part-1.arrow", "part-2.arrow"], "no partial file is left");
    }

    #[tokio::test]
    async fn rows_set_aside_go_to_files_of_their_own_and_only_the_rest_is_passed_on() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new("code", DataType::Utf8, true),
            Field::new("contested", DataType::Utf8, true),
        ]));
        let rows = |rows: &[(i64, Option<&str>, Option<&str>)]| {
            let n = Int64Array::from_iter_values(rows.iter().map(|r| r.0));
            let code = StringArray::from_iter(rows.iter().map(|r| r.1));
            let contested = StringArray::from_iter(rows.iter().map(|r| r.2));
            RecordBatch::try_new(schema.clone(), vec![Arc::new(n), Arc::new(code), Arc::new(contested)]).unwrap()
        };
        // A row with neither mark is written; one contested and without a
        // code is set aside; one with a code is passed on.
        let partitions = vec![
            vec![rows(&[(1, None, None), (2, None, Some("yes")), (3, Some("bad"), Some("yes"))])],
            vec![rows(&[(4, Some("worse"), None), (5, None, Some("yes"))])],
        ];
        let dir = tempfile::tempdir().unwrap();
        let aside = Aside { folder: dir.path().join("aside"), kept: vec![0, 2], when_null: 1 };
        let spec = PartsSpec { folder: dir.path().join("kept"), kept: vec![0], split: Some(2), aside: Some(aside) };
        let node = Arc::new(WriteParts::new(input(partitions, schema.clone()), spec).unwrap());
        assert_eq!(node.aside_schema().unwrap().fields().len(), 2);
        let out = datafusion::physical_plan::collect(node, Arc::new(TaskContext::default())).await.unwrap();
        let mut passed: Vec<i64> =
            out.iter().flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec()).collect();
        passed.sort();
        assert_eq!(passed, [3], "only the marked rows with a code are passed on");
        assert_eq!(read_part(&dir.path().join("kept/part-0.arrow")), [1]);
        assert_eq!(read_part(&dir.path().join("kept/part-1.arrow")), [4], "a row with a code but no mark is kept");
        assert_eq!(read_part(&dir.path().join("aside/part-0.arrow")), [2]);
        assert_eq!(read_part(&dir.path().join("aside/part-1.arrow")), [5]);
        let bad = PartsSpec {
            folder: dir.path().join("x"),
            kept: vec![0],
            split: None,
            aside: Some(Aside { folder: dir.path().join("y"), kept: vec![0], when_null: 1 }),
        };
        assert!(
            WriteParts::new(input(vec![vec![]], schema.clone()), bad).is_err(),
            "nothing set aside without a split"
        );
    }

    #[test]
    fn a_ballista_task_names_its_files_by_stage_and_task_not_attempt() {
        let folder = Path::new("/shared/t");
        let name = |task: Option<&str>, n| part_paths(folder, task, n).map(|(p, _)| p);
        assert_eq!(name(None, 3).unwrap(), folder.join("part-3.arrow"));
        let first = name(Some("TID 038J957TXT000/4.0/1.0"), 0).unwrap();
        assert_eq!(first, folder.join("part-4-1-0.arrow"));
        assert_eq!(name(Some("TID 038J957TXT000/4.1/1.2"), 0).unwrap(), first, "a retry replaces its own file");
        let partial = |task| part_paths(folder, Some(task), 0).unwrap().1;
        let (a, b) = (partial("TID 038J957TXT000/4.0/1.0"), partial("TID 038J957TXT000/4.1/1.1"));
        assert_ne!(a, b, "two attempts at once write files of their own");
        assert!(a.file_name().unwrap().to_str().unwrap().starts_with(".part-4-1-0."), "{a:?}");
        assert!(!a.to_str().unwrap().ends_with(".arrow"), "a scan of the folder never reads a partial file");
        assert_ne!(name(Some("TID 038J957TXT000/4.0/0.0"), 0).unwrap(), first, "another task, another file");
        for odd in ["task 7", "TID a/b/c", "TID j/4.0/1.0/x", "TID j/4/1.0"] {
            assert!(name(Some(odd), 0).is_err(), "{odd}: an unknown name fails, no file is shared");
        }
    }

    #[tokio::test]
    async fn without_a_split_every_row_is_written_and_nothing_passed_on() {
        let schema = n_and_code();
        let dir = tempfile::tempdir().unwrap();
        let partitions = vec![vec![batch(&schema, &[(1, None), (2, Some("x"))])]];
        let spec = PartsSpec { folder: dir.path().to_path_buf(), kept: vec![1, 0], split: None, aside: None };
        let node = Arc::new(WriteParts::new(input(partitions, schema.clone()), spec).unwrap());
        let out = datafusion::physical_plan::collect(node, Arc::new(TaskContext::default())).await.unwrap();
        assert_eq!(out.iter().map(|b| b.num_rows()).sum::<usize>(), 0);
        let reader = arrow::ipc::reader::FileReader::try_new(
            std::fs::File::open(dir.path().join("part-0.arrow")).unwrap(),
            None,
        )
        .unwrap();
        assert_eq!(reader.schema().field(0).name(), "code", "the kept columns in their order");
        let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
        assert_eq!(rows, 2);
    }
}
