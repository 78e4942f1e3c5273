//! The query engine of a run: a DataFusion session with the run's memory
//! and thread limits, the tables stages read, and every user-defined
//! function, registered here and nowhere else (so that a Ballista cluster,
//! [`cluster`], is given the same catalogue).

pub mod alike_hashes;
mod checks;
#[cfg(feature = "cluster")]
pub mod cluster;
#[cfg(feature = "cluster")]
pub mod codec;
pub mod enumerated;
pub(crate) mod key_forms;
pub mod landing_scan;
mod last_read;
pub mod planning;
pub mod registered;
mod repeats;
mod sorted_runs;
mod sums_over;
#[cfg(feature = "cluster")]
pub mod tls;
pub mod write_parts;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use arrow::array::{Array, AsArray, Float64Array, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Int64Type, SchemaRef};
use arrow::error::ArrowError;
use datafusion::common::ScalarValue;
use datafusion::datasource::file_format::arrow::ArrowFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;
use datafusion::error::Result as DfResult;
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::{create_udf, lit, ColumnarValue, Expr, ScalarUDF, Volatility};
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};

use crate::base::decay::Decay;
use crate::base::rounding::round_score;

/// Limits of a run's engine.
#[derive(Clone, Copy, Debug)]
pub struct EngineLimits {
    pub threads: usize,
    /// Bytes the engine's memory pool may hold; operators spill past it.
    pub memory_limit: usize,
}

impl Default for EngineLimits {
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        EngineLimits { threads, memory_limit: 4 << 30 }
    }
}

/// Where a run's queries execute.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum EngineKind {
    /// In this process, on its threads.
    #[default]
    Local,
    /// On a Ballista cluster: its scheduler's address.
    Ballista(SchedulerAddr),
}

/// The cluster's certificates for engine `kind`, from the environment.
#[cfg(feature = "cluster")]
fn cluster_tls(kind: &EngineKind) -> DfResult<tls::ClusterTls> {
    tls::ClusterTls::from_env().map_err(|e| DataFusionError::Configuration(format!("engine {kind}: {e}")))
}

/// A Ballista scheduler's host and port, written `ballista://HOST:PORT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchedulerAddr {
    pub host: String,
    pub port: u16,
}

impl FromStr for SchedulerAddr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let rest = s.strip_prefix("ballista://").ok_or_else(|| format!("{s:?}: expected `ballista://HOST:PORT`"))?;
        let (host, port) =
            rest.rsplit_once(':').ok_or_else(|| format!("{s:?}: expected `ballista://HOST:PORT`, found no port"))?;
        let port: u16 = port.parse().map_err(|_| format!("{s:?}: the port {port:?} is not a number"))?;
        let valid_host = !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || ".-[]:".contains(c));
        if !valid_host || port == 0 {
            return Err(format!("{s:?}: expected `ballista://HOST:PORT` with a host name or address"));
        }
        Ok(SchedulerAddr { host: host.to_string(), port })
    }
}

impl fmt::Display for SchedulerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl FromStr for EngineKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "local" => Ok(EngineKind::Local),
            _ if s.starts_with("ballista://") => s.parse().map(EngineKind::Ballista).map_err(|e| format!("engine {e}")),
            _ => Err(format!("engine {s:?}: expected `local` or `ballista://HOST:PORT`")),
        }
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineKind::Local => f.write_str("local"),
            EngineKind::Ballista(a) => write!(f, "ballista://{a}"),
        }
    }
}

/// A run's engine: a DataFusion session, in this process or a Ballista
/// cluster's client, and how it is given the tables the run holds.
pub struct Engine {
    ctx: SessionContext,
    /// The cluster's scheduler, for plans sent as they are (`None` locally).
    scheduler: Option<SchedulerAddr>,
    /// For a cluster: a folder every node sees, where the tables the run
    /// holds in memory are written for the executors to read.
    shared: Option<PathBuf>,
    /// Where [`Engine::scratch`] and [`Engine::scratch_near`] make their
    /// folders (when `None`: the system's temporary folder, and beside
    /// the mart).
    scratch_root: Option<PathBuf>,
}

impl Engine {
    /// The engine in this process.
    pub fn local(limits: EngineLimits) -> DfResult<Engine> {
        Ok(Engine { ctx: session(limits)?, scheduler: None, shared: None, scratch_root: None })
    }

    /// The engine `kind` names. A cluster's executors read the tables this
    /// run holds from files under `shared`, a folder they must see at the
    /// same path; in this process, `shared` is where scratch files go.
    pub async fn connect(kind: &EngineKind, limits: EngineLimits, shared: &Path) -> DfResult<Engine> {
        match kind {
            EngineKind::Local => Ok(Engine {
                ctx: session(limits)?,
                scheduler: None,
                shared: None,
                scratch_root: Some(shared.to_path_buf()),
            }),
            #[cfg(feature = "cluster")]
            EngineKind::Ballista(addr) => {
                let ctx = cluster::client(addr, limits, &cluster_tls(kind)?).await?;
                let shared = std::path::absolute(shared)?;
                Ok(Engine {
                    ctx,
                    scheduler: Some(addr.clone()),
                    shared: Some(shared.clone()),
                    scratch_root: Some(shared),
                })
            }
            #[cfg(not(feature = "cluster"))]
            EngineKind::Ballista(_) => {
                let _ = shared;
                Err(DataFusionError::Configuration(format!(
                    "engine {kind}: this build of credence has no cluster engine (build it with `--features cluster`)"
                )))
            }
        }
    }

    /// For a cluster, checks that its scheduler is up and trusts this
    /// node's certificates ([`cluster::reach`]); nothing to check locally.
    pub async fn reach(kind: &EngineKind) -> DfResult<()> {
        match kind {
            EngineKind::Local => Ok(()),
            #[cfg(feature = "cluster")]
            EngineKind::Ballista(addr) => cluster::reach(addr, &cluster_tls(kind)?).await,
            #[cfg(not(feature = "cluster"))]
            EngineKind::Ballista(_) => Err(DataFusionError::Configuration(format!(
                "engine {kind}: this build of credence has no cluster engine (build it with `--features cluster`)"
            ))),
        }
    }

    pub fn ctx(&self) -> &SessionContext {
        &self.ctx
    }

    /// How many partitions the engine's plans run in (its threads).
    fn threads(&self) -> usize {
        self.ctx.state().config().target_partitions().max(1)
    }

    /// Runs `frame` with each of its partitions writing its rows to an
    /// Arrow file of its own in `spec.folder`, where the partition runs (on
    /// a cluster, an executor: the rows do not travel to this process), and
    /// registers the files as table `name` (not those of rows set aside).
    /// Returns the rows passed on (see [`write_parts::PartsSpec`]).
    pub async fn write_parts(
        &self,
        frame: DataFrame,
        spec: write_parts::PartsSpec,
        name: &str,
    ) -> DfResult<Vec<RecordBatch>> {
        let folder = spec.folder.clone();
        // A plan of no partitions writes no file: the table is then empty, not missing.
        std::fs::create_dir_all(&folder)?;
        if let Some(aside) = &spec.aside {
            std::fs::create_dir_all(&aside.folder)?;
        }
        let (passed, schema) = match &self.scheduler {
            None => {
                let node = Arc::new(write_parts::WriteParts::new(frame.create_physical_plan().await?, spec)?);
                let schema = node.file_schema();
                (self.collect_traced(node, name).await?, schema)
            }
            #[cfg(feature = "cluster")]
            Some(addr) => cluster::write_parts(&self.ctx, addr, frame, spec).await?,
            #[cfg(not(feature = "cluster"))]
            Some(addr) => {
                return Err(DataFusionError::Configuration(format!(
                    "engine ballista://{addr}: this build of credence has no cluster engine"
                )))
            }
        };
        register_arrow_files(&self.ctx, name, schema, &folder)?;
        Ok(passed)
    }

    /// The rows of `plan` run in this process, the plan then logged with
    /// what each of its operators did (at trace level: a profile of the
    /// plans that make table `name`).
    async fn collect_traced(
        &self,
        plan: Arc<dyn datafusion::physical_plan::ExecutionPlan>,
        name: &str,
    ) -> DfResult<Vec<RecordBatch>> {
        let rows = datafusion::physical_plan::collect(plan.clone(), self.ctx.task_ctx()).await?;
        if tracing::enabled!(tracing::Level::TRACE) {
            let shown =
                datafusion::physical_plan::display::DisplayableExecutionPlan::with_metrics(plan.as_ref()).indent(false);
            tracing::trace!(table = name, plan = %shown, "table made");
        }
        Ok(rows)
    }

    /// Whether the plans run in this process (not on a cluster).
    pub fn is_local(&self) -> bool {
        self.shared.is_none()
    }

    /// Registers batches the run holds as table `name`: in memory for the
    /// local engine, as Arrow IPC files under the shared folder for a
    /// cluster.
    pub fn register(&self, name: &str, schema: SchemaRef, batches: &[RecordBatch]) -> DfResult<()> {
        match &self.shared {
            None => register(&self.ctx, name, schema, batches),
            Some(shared) => {
                let folder = emptied(shared, name)?;
                write_arrow_files(&folder, &schema, batches.iter().cloned(), self.threads())?;
                register_arrow_files(&self.ctx, name, schema, &folder)
            }
        }
    }

    /// The rows of `frame` as table `name`: held in memory by the local
    /// engine; on a cluster, written by the executors into the shared
    /// folder (`<shared>/<name>`), so that they never travel through this
    /// process.
    pub async fn create_table(&self, name: &str, frame: DataFrame) -> DfResult<()> {
        match &self.shared {
            None => {
                let schema = Arc::new(frame.schema().as_arrow().clone());
                let batches = self.collect_traced(frame.create_physical_plan().await?, name).await?;
                register(&self.ctx, name, schema, &batches)
            }
            Some(shared) => {
                let folder = emptied(shared, name)?;
                let kept = (0..frame.schema().fields().len()).collect();
                self.write_parts(frame, write_parts::PartsSpec { folder, kept, split: None, aside: None }, name)
                    .await?;
                Ok(())
            }
        }
    }

    /// The rows of `frame`, expected to be few, as table `name` whose row
    /// count the planner knows: held in memory by the local engine; on a
    /// cluster, brought to this process a batch at a time and written as
    /// one Parquet file into the shared folder (`<shared>/<name>-<n>`), whose
    /// statistics let the planner send a join's small build side to every
    /// task instead of shuffling every row of the other side by its key.
    pub async fn create_counted_table(&self, name: &str, frame: DataFrame) -> DfResult<()> {
        let Some(shared) = &self.shared else {
            return self.create_table(name, frame).await;
        };
        // A folder of its own each time (`<name>-<n>`): the nodes cache a
        // folder's listing and a Parquet file's footer by their paths, and
        // a table made again under the same name (each dataset's `copies`)
        // was read from the one before.
        static MADE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let folder = emptied(shared, &format!("{name}-{n}"))?;
        std::fs::create_dir_all(&folder)?;
        let schema = Arc::new(frame.schema().as_arrow().clone());
        let file = std::fs::File::create(folder.join("part-0.parquet"))?;
        let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema.clone(), None)?;
        let mut rows = frame.execute_stream().await?;
        while let Some(batch) = futures::StreamExt::next(&mut rows).await {
            writer.write(&batch?)?;
        }
        writer.close()?;
        register_parquet_files(&self.ctx, name, schema, &folder)
    }

    /// A folder, removed when dropped, for files a step writes for the
    /// engine to scan: under the folder the engine was connected with (a
    /// run's engine scratch; for a cluster the shared folder, whose
    /// executors must read them), else beside `near` (a staging folder).
    pub fn scratch_near(&self, near: &Path) -> std::io::Result<tempfile::TempDir> {
        scratch_in(Some(self.scratch_root.as_deref().unwrap_or(near.parent().unwrap_or(near))))
    }

    /// A folder, removed when dropped, for files written for the engine to
    /// scan: under the folder the engine was connected with (a run's
    /// staging; the shared folder for a cluster), else in the system's
    /// temporary folder.
    pub fn scratch(&self) -> std::io::Result<tempfile::TempDir> {
        scratch_in(self.scratch_root.as_deref())
    }

    /// Registers the Arrow IPC files of `folder` as table `name` (see
    /// [`register_arrow_files`]).
    pub fn register_arrow_files(&self, name: &str, schema: SchemaRef, folder: &Path) -> DfResult<()> {
        register_arrow_files(&self.ctx, name, schema, folder)
    }
}

/// A `scratch-*` folder, removed when dropped, in `root` (created if
/// need be), else in the system's temporary folder.
fn scratch_in(root: Option<&Path>) -> std::io::Result<tempfile::TempDir> {
    let builder = tempfile::Builder::new().prefix("scratch-").to_owned();
    match root {
        Some(root) => {
            std::fs::create_dir_all(root)?;
            builder.tempdir_in(root)
        }
        None => builder.tempdir(),
    }
}

/// The folder of table `name` under a cluster's shared folder, with
/// whatever an earlier table of that name left there removed.
fn emptied(shared: &Path, name: &str) -> std::io::Result<PathBuf> {
    let folder = shared.join(name);
    if folder.exists() {
        std::fs::remove_dir_all(&folder)?;
    }
    Ok(folder)
}

/// The session settings of a run, local or on a cluster's executors.
fn session_config(limits: EngineLimits) -> SessionConfig {
    SessionConfig::new()
        .with_target_partitions(limits.threads.max(1))
        .with_batch_size(8192)
        .with_information_schema(false)
        // The tables a run scans from disk are its validated events (Arrow
        // IPC files): read whole, a file streams batch by batch, but a
        // byte-range split is read into memory at once, beside the pool.
        .with_repartition_file_scans(false)
}

/// What to do when an engine's memory pool could not hold a join's build
/// side (which cannot spill): the run's own pool, or a cluster executor's.
pub fn memory_hint(e: &DataFusionError) -> &'static str {
    match e.find_root() {
        DataFusionError::ResourcesExhausted(_) => {
            " (the engine's memory pool is too small for this input: raise --memory-limit, or memory_limit in the job file)"
        }
        DataFusionError::Execution(text) if crate::base::error::executor_pool_exhausted(text) => {
            " (a cluster executor's memory pool is too small for this input: raise the executors' --memory-limit, or \
             give the run more partitions, each holding less, with --threads; see ops/sizing.md)"
        }
        _ => "",
    }
}

/// Every user-defined function of credence's plans.
pub fn udfs() -> Vec<ScalarUDF> {
    let mut all = vec![credit_round_udf(), credit_weight_udf()];
    all.extend(checks::udfs());
    all.extend(key_forms::udfs());
    all.push(registered::udf());
    all.push(alike_hashes::udf());
    all.push(enumerated::udf());
    all
}

/// Every user-defined aggregate function of credence's plans.
pub fn udafs() -> Vec<datafusion::logical_expr::AggregateUDF> {
    vec![repeats::repeated_hashes(), sums_over::sums_over()]
}

/// A session with the limits and the UDFs of credence.
///
/// The pool is fair to the operators that can spill: each gets an equal
/// part of what those that cannot spill (a hash join's build side) leave.
/// With DataFusion's default first-come pool, a repartition upstream of a
/// join took 2.8 GB of a 4 GiB pool at 50M entities and the join's build
/// side then failed the run.
pub fn session(limits: EngineLimits) -> DfResult<SessionContext> {
    let pool = TrackConsumersPool::new(
        FairSpillPool::new(limits.memory_limit),
        std::num::NonZeroUsize::new(5).expect("five is not zero"),
    );
    let runtime = RuntimeEnvBuilder::new().with_memory_pool(Arc::new(pool)).build_arc()?;
    let ctx = SessionContext::new_with_config_rt(session_config(limits), runtime);
    register_functions(&ctx);
    Ok(ctx)
}

/// Registers every function of credence's plans ([`udfs`], [`udafs`]) in
/// `ctx`.
fn register_functions(ctx: &SessionContext) {
    for f in udfs() {
        ctx.register_udf(f);
    }
    for f in udafs() {
        ctx.register_udaf(f);
    }
}

/// Writes `batches` as Arrow IPC files `part-<n>.arrow` (n below `parts`,
/// batches dealt in turn) into `folder`, which is created; returns the
/// rows written. Each file is written on a thread of its own while the
/// caller makes the next batches: copying them into the page cache is
/// most of a write's time, and the threads do it side by side.
pub fn write_arrow_files(
    folder: &Path,
    schema: &SchemaRef,
    batches: impl IntoIterator<Item = RecordBatch>,
    parts: usize,
) -> Result<usize, ArrowError> {
    std::fs::create_dir_all(folder)?;
    let files = (0..parts.max(1))
        .map(|n| {
            let file = std::fs::File::create(folder.join(format!("part-{n}.arrow")))?;
            arrow::ipc::writer::FileWriter::try_new(std::io::BufWriter::new(file), schema)
        })
        .collect::<Result<Vec<_>, _>>()?;
    std::thread::scope(|scope| {
        let (senders, writers): (Vec<_>, Vec<_>) = files
            .into_iter()
            .map(|mut writer| {
                let (send, receive) = std::sync::mpsc::sync_channel::<RecordBatch>(1);
                let handle = scope.spawn(move || -> Result<(), ArrowError> {
                    for b in receive {
                        writer.write(&b)?;
                    }
                    writer.finish()
                });
                (send, handle)
            })
            .unzip();
        let mut rows = 0;
        for (i, b) in batches.into_iter().enumerate() {
            rows += b.num_rows();
            // A closed channel: that writer failed, and its error is returned below.
            if senders[i % senders.len()].send(b).is_err() {
                break;
            }
        }
        drop(senders);
        for w in writers {
            w.join().expect("an Arrow writer does not panic")?;
        }
        Ok(rows)
    })
}

/// Registers in-memory batches as table `name`, split into as many
/// partitions as the engine has threads so scans run in parallel.
pub fn register(ctx: &SessionContext, name: &str, schema: SchemaRef, batches: &[RecordBatch]) -> DfResult<()> {
    let parts = ctx.state().config().target_partitions().max(1);
    let mut partitions: Vec<Vec<RecordBatch>> = vec![Vec::new(); parts];
    let mut i = 0;
    for b in batches {
        let mut offset = 0;
        while offset < b.num_rows() {
            let len = (b.num_rows() - offset).min(64 * 1024);
            partitions[i % parts].push(b.slice(offset, len));
            offset += len;
            i += 1;
        }
    }
    ctx.deregister_table(name)?;
    ctx.register_table(name, Arc::new(MemTable::try_new(schema, partitions)?))?;
    Ok(())
}

/// Registers the Arrow IPC files (`*.arrow`) of `folder`, rows of
/// `schema`, as table `name`; the engine streams each file on one of its
/// threads, under its memory pool.
pub fn register_arrow_files(ctx: &SessionContext, name: &str, schema: SchemaRef, folder: &Path) -> DfResult<()> {
    let url = literal_url(folder, PathKind::Folder)?;
    let options = ListingOptions::new(Arc::new(ArrowFormat)).with_file_extension(".arrow");
    let config = ListingTableConfig::new(url).with_listing_options(options).with_schema(schema);
    ctx.deregister_table(name)?;
    ctx.register_table(name, Arc::new(ListingTable::try_new(config)?))?;
    Ok(())
}

/// Registers the Parquet files (`*.parquet`) of `folder`, rows of
/// `schema`, as table `name`: their footers give the planner their row
/// counts (Arrow IPC files give none).
pub fn register_parquet_files(ctx: &SessionContext, name: &str, schema: SchemaRef, folder: &Path) -> DfResult<()> {
    let url = literal_url(folder, PathKind::Folder)?;
    let options = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config = ListingTableConfig::new(url).with_listing_options(options).with_schema(schema);
    ctx.deregister_table(name)?;
    ctx.register_table(name, Arc::new(ListingTable::try_new(config)?))?;
    Ok(())
}

/// What a path given to [`literal_url`] names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathKind {
    File,
    Folder,
}

/// `path` as a listing table's URL, taken literally: DataFusion reads `[`,
/// `*` and `?` in a path it parses as a glob pattern, and a warehouse under
/// `/srv/data[1]/` or a landing file `part-[0].parquet` would then be
/// listed wrongly (or not at all) instead of refused.
pub fn literal_url(path: &Path, kind: PathKind) -> DfResult<ListingTableUrl> {
    let absolute = std::path::absolute(path)?;
    let url = match kind {
        PathKind::File => url::Url::from_file_path(&absolute),
        PathKind::Folder => url::Url::from_directory_path(&absolute),
    }
    .map_err(|()| DataFusionError::Plan(format!("{}: not a path a URL can name", absolute.display())))?;
    ListingTableUrl::try_new(url, None)
}

/// `credit_round(x)`: policy.md step 5's rounding (to 9 decimals, then to
/// 2 decimals half away from zero).
pub fn credit_round_udf() -> ScalarUDF {
    create_udf(
        "credit_round",
        vec![DataType::Float64],
        DataType::Float64,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let x = arrays[0].as_primitive::<Float64Type>();
            let out: Float64Array = x.iter().map(|v| v.map(round_score)).collect();
            let out: Arc<dyn Array> = Arc::new(out);
            Ok(ColumnarValue::Array(out))
        }),
    )
}

/// `credit_weight(decay_code, window_days, half_life_days, age_days)`:
/// policy.md step 3's weight, computed by [`Decay::weight`] (the first
/// three arguments are [`Decay::to_code`] and the rule's window).
pub fn credit_weight_udf() -> ScalarUDF {
    create_udf(
        "credit_weight",
        vec![DataType::Int32, DataType::Int64, DataType::Float64, DataType::Int64],
        DataType::Float64,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let scalar = |i: usize| match &args[i] {
                ColumnarValue::Scalar(v) => Ok(v.clone()),
                ColumnarValue::Array(_) => {
                    Err(DataFusionError::Internal("credit_weight takes its decay as literals".into()))
                }
            };
            let (ScalarValue::Int32(Some(code)), ScalarValue::Int64(Some(window)), ScalarValue::Float64(Some(h))) =
                (scalar(0)?, scalar(1)?, scalar(2)?)
            else {
                return Err(DataFusionError::Internal("credit_weight: null decay arguments".into()));
            };
            let decay = Decay::from_code(code, h)
                .ok_or_else(|| DataFusionError::Internal(format!("credit_weight: decay code {code}")))?;
            let ages = args[3].to_array(1)?;
            let ages = ages.as_primitive::<Int64Type>();
            let out: Float64Array = ages.iter().map(|a| a.map(|a| decay.weight(window, a))).collect();
            Ok(ColumnarValue::Array(Arc::new(out)))
        }),
    )
}

/// The expression `credit_weight(...)` of a record of age `age` under a
/// rule with `decay` and `window_days`.
pub fn credit_weight(decay: Decay, window_days: i64, age: Expr) -> Expr {
    let (code, h) = decay.to_code();
    credit_weight_udf().call(vec![lit(code), lit(window_days), lit(h), age])
}

/// The expression `credit_round(e)`.
pub fn credit_round(e: Expr) -> Expr {
    credit_round_udf().call(vec![e])
}

/// Tunes glibc's heap for a run's large, short-lived Arrow buffers; call
/// once, before any thread starts.
///
/// Two arenas: glibc gives each thread that allocates concurrently an
/// arena of its own (up to eight per core), and memory one thread frees is
/// reused only by allocations from the same arena: with rayon's threads, a
/// dataset validated after another grew the heap instead of reusing it
/// (10M entities: validation peak 3.6 → 2.6 GiB, no slower).
///
/// Fixed thresholds, so that glibc does not move them as it goes: a block
/// of 4 MiB or more is mapped on its own and goes back to the system when
/// freed, and up to 64 MiB free at an arena's top stays for reuse. Every
/// page the system hands out costs a fault and is zeroed: with 1 MiB and
/// the default 128 KiB a 10M-entity rerun took 2.7M page faults and
/// 10–13 s of system time, with these 1.8M and 8–10 s; a 50M rerun 240 →
/// 209 s (system time 74 → 51 s). Memory kept for reuse can
/// raise a peak, so a phase that frees much at once gives it back
/// (validation does, as it builds its output). glibc's default threshold
/// rises up to 32 MiB each time a mapped block is freed, after which big
/// buffers came from the arenas and left them fragmented: the same 10M
/// run peaked anywhere between 2.1 and 2.4 GiB.
pub fn tune_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's tuning parameters.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
    }
}

/// Gives the heap's free pages back to the operating system (glibc keeps
/// them otherwise): called between stages, so that the peak of a run is
/// its largest stage, not the sum of what earlier stages freed.
pub fn return_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory the allocator holds unused.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The few keys held twice, as a cluster's run makes them: from
    /// Parquet files the planner knows their row count, and sends them to
    /// every task of the join (`CollectLeft`) rather than shuffling every
    /// landing row by its key; from Arrow IPC files it cannot.
    #[tokio::test]
    async fn a_counted_table_of_few_rows_is_joined_whole_in_every_task_on_a_cluster() {
        use planning::tests::{ballista_like, plan_text};
        let ctx = ballista_like();
        let _cluster = planning::Planned::set(&ctx, |now| now.cluster_hash_joins(1000));
        let keys = |n: i64| {
            let k = Arc::new(arrow::array::Int64Array::from_iter_values(0..n)) as arrow::array::ArrayRef;
            RecordBatch::try_from_iter([("k", k)]).unwrap()
        };
        let dir = tempfile::tempdir().unwrap();
        let rows = dir.path().join("rows");
        write_arrow_files(&rows, &keys(1).schema(), [keys(5000)], 2).unwrap();
        register_arrow_files(&ctx, "rows", keys(1).schema(), &rows).unwrap();
        let counted = dir.path().join("counted");
        std::fs::create_dir(&counted).unwrap();
        let file = std::fs::File::create(counted.join("part-0.parquet")).unwrap();
        let mut writer = parquet::arrow::ArrowWriter::try_new(file, keys(1).schema(), None).unwrap();
        writer.write(&keys(10)).unwrap();
        writer.close().unwrap();
        let uncounted = dir.path().join("uncounted");
        write_arrow_files(&uncounted, &keys(1).schema(), [keys(10)], 1).unwrap();
        let join = "SELECT * FROM copies c RIGHT JOIN rows l ON l.k = c.k";
        register_parquet_files(&ctx, "copies", keys(1).schema(), &counted).unwrap();
        let broadcast = plan_text(&ctx, join).await;
        assert!(broadcast.contains("HashJoinExec: mode=CollectLeft, join_type=Right"), "{broadcast}");
        assert!(!broadcast.contains("RepartitionExec"), "no landing row is shuffled by its key: {broadcast}");
        register_arrow_files(&ctx, "copies", keys(1).schema(), &uncounted).unwrap();
        let shuffled = plan_text(&ctx, join).await;
        assert!(shuffled.contains("HashJoinExec: mode=Partitioned"), "{shuffled}");
    }

    #[test]
    fn arrow_files_get_the_batches_dealt_in_turn_and_keep_their_order() {
        use arrow::array::{AsArray, Int64Array};
        use arrow::datatypes::{DataType, Field, Int64Type, Schema};
        let schema: SchemaRef = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let batch = |from: i64| {
            let values = Int64Array::from_iter_values(from..from + 3);
            RecordBatch::try_new(schema.clone(), vec![Arc::new(values)]).unwrap()
        };
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("t");
        let rows = write_arrow_files(&folder, &schema, (0..5).map(|b| batch(b * 10)), 2).unwrap();
        assert_eq!(rows, 15);
        let read = |folder: &Path, n: usize| -> Vec<i64> {
            let file = std::fs::File::open(folder.join(format!("part-{n}.arrow"))).unwrap();
            let reader = arrow::ipc::reader::FileReader::try_new(file, None).unwrap();
            reader.flat_map(|b| b.unwrap().column(0).as_primitive::<Int64Type>().values().to_vec()).collect()
        };
        assert_eq!(read(&folder, 0), [0, 1, 2, 20, 21, 22, 40, 41, 42]);
        assert_eq!(read(&folder, 1), [10, 11, 12, 30, 31, 32]);
        let blocked = dir.path().join("a-file");
        std::fs::write(&blocked, "").unwrap();
        assert!(write_arrow_files(&blocked, &schema, (0..2).map(batch), 2).is_err(), "no folder, no files");
    }

    #[tokio::test]
    async fn written_parts_become_a_table_and_the_rest_comes_back() {
        use arrow::array::{Int64Array, StringArray};
        use arrow::datatypes::{DataType, Field, Schema};
        let engine = Engine::local(EngineLimits { threads: 2, memory_limit: 64 << 20 }).unwrap();
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new("code", DataType::Utf8, true),
        ]));
        let rows = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from_iter_values(0..10)),
                Arc::new(StringArray::from_iter((0..10).map(|i| (i % 4 == 0).then_some("bad")))),
            ],
        )
        .unwrap();
        engine.register("rows", schema, &[rows.slice(0, 5), rows.slice(5, 5)]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let spec =
            write_parts::PartsSpec { folder: dir.path().join("good"), kept: vec![0], split: Some(1), aside: None };
        let frame = engine.ctx().sql("SELECT n, code FROM rows").await.unwrap();
        let passed = engine.write_parts(frame, spec, "good").await.unwrap();
        let mut bad: Vec<i64> =
            passed.iter().flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec()).collect();
        bad.sort();
        assert_eq!(bad, [0, 4, 8]);
        let good =
            engine.ctx().sql("SELECT sum(n) AS s, count(*) AS c FROM good").await.unwrap().collect().await.unwrap();
        assert_eq!(good[0].column(0).as_primitive::<Int64Type>().value(0), 45 - 12);
        assert_eq!(good[0].column(1).as_primitive::<Int64Type>().value(0), 7);
        // A table made from another: locally, held in memory.
        let frame = engine.ctx().sql("SELECT n FROM good WHERE n > 5").await.unwrap();
        engine.create_table("big", frame).await.unwrap();
        let big = engine.ctx().sql("SELECT count(*) FROM big").await.unwrap().collect().await.unwrap();
        assert_eq!(big[0].column(0).as_primitive::<Int64Type>().value(0), 3);
    }

    #[test]
    fn an_engine_is_local_or_a_ballista_scheduler_with_host_and_port() {
        assert_eq!("local".parse::<EngineKind>(), Ok(EngineKind::Local));
        let kind: EngineKind = "ballista://10.0.0.7:50050".parse().unwrap();
        assert_eq!(kind, EngineKind::Ballista(SchedulerAddr { host: "10.0.0.7".into(), port: 50050 }));
        assert_eq!(kind.to_string(), "ballista://10.0.0.7:50050");
        for bad in [
            "ballista://host",
            "ballista://:50050",
            "ballista://host:0",
            "ballista://host:port",
            "df://h:1",
            "ballista://a b:1",
        ] {
            assert!(bad.parse::<EngineKind>().is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_cluster_engine_writes_the_tables_the_run_holds_where_executors_read_them() {
        let dir = tempfile::tempdir().unwrap();
        let schema =
            Arc::new(arrow::datatypes::Schema::new(vec![arrow::datatypes::Field::new("n", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(arrow::array::Int64Array::from(vec![1, 2, 3]))])
            .unwrap();
        let limits = EngineLimits { threads: 2, memory_limit: 64 << 20 };
        // A local session given a shared folder behaves as a cluster client
        // does; a folder's name that looks like a pattern is taken as named.
        let shared = dir.path().join("data[1] *?");
        let engine = Engine {
            ctx: session(limits).unwrap(),
            scheduler: None,
            shared: Some(shared.clone()),
            scratch_root: Some(shared.clone()),
        };
        engine.register("t", schema.clone(), &[batch.clone(), batch]).unwrap();
        let files: Vec<_> = std::fs::read_dir(shared.join("t")).unwrap().flatten().collect();
        assert_eq!(files.len(), 2, "one file per engine thread");
        let sum = engine.ctx().sql("select sum(n) from t").await.unwrap().collect().await.unwrap();
        assert_eq!(sum[0].column(0).as_primitive::<Int64Type>().value(0), 12);
    }

    /// A run's plans write their scratch files under the run's staging
    /// folder (cleaned with the run), not the system's temporary folder.
    #[tokio::test]
    async fn scratch_folders_go_under_the_folder_the_engine_was_given() {
        let dir = tempfile::tempdir().unwrap();
        let staging = dir.path().join("staging").join("engine");
        let engine = Engine::connect(&EngineKind::Local, EngineLimits::default(), &staging).await.unwrap();
        let scratch = engine.scratch().unwrap();
        assert!(scratch.path().starts_with(&staging), "{}", scratch.path().display());
        let path = scratch.path().to_path_buf();
        drop(scratch);
        assert!(!path.exists(), "removed when dropped");
        // Scoring's evidence too, whatever folder it writes its mart into.
        let near = engine.scratch_near(&dir.path().join("elsewhere").join("scores")).unwrap();
        assert!(near.path().starts_with(&staging), "{}", near.path().display());
        let alone = Engine::local(EngineLimits::default()).unwrap();
        let beside = alone.scratch_near(&dir.path().join("scores")).unwrap();
        assert_eq!(beside.path().parent(), Some(dir.path()), "an engine given no folder: beside the mart");
    }
}
