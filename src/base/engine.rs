//! The query engine of a run: a DataFusion session with the run's memory
//! and thread limits, the tables stages read, and every user-defined
//! function, registered here and nowhere else (so that another DataFusion
//! engine can be given the same catalogue).

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, AsArray, Float64Array, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Int64Type, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::datasource::file_format::arrow::ArrowFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;
use datafusion::error::Result as DfResult;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::{create_udf, lit, ColumnarValue, Expr, ScalarUDF, Volatility};
use datafusion::prelude::{SessionConfig, SessionContext};

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

/// A session with the limits and the UDFs of credence.
pub fn session(limits: EngineLimits) -> DfResult<SessionContext> {
    let config = SessionConfig::new()
        .with_target_partitions(limits.threads.max(1))
        .with_batch_size(8192)
        .with_information_schema(false)
        // The tables a run scans from disk are its validated events (Arrow
        // IPC files): read whole, a file streams batch by batch, but a
        // byte-range split is read into memory at once, beside the pool.
        .with_repartition_file_scans(false);
    let runtime = RuntimeEnvBuilder::new().with_memory_limit(limits.memory_limit, 1.0).build_arc()?;
    let ctx = SessionContext::new_with_config_rt(config, runtime);
    ctx.register_udf(credit_round_udf());
    ctx.register_udf(credit_weight_udf());
    Ok(ctx)
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
    let path = folder
        .to_str()
        .ok_or_else(|| DataFusionError::Plan(format!("{}: a table's path must be UTF-8", folder.display())))?;
    let url = ListingTableUrl::parse(format!("{}/", path.trim_end_matches('/')))?;
    let options = ListingOptions::new(Arc::new(ArrowFormat)).with_file_extension(".arrow");
    let config = ListingTableConfig::new(url).with_listing_options(options).with_schema(schema);
    ctx.deregister_table(name)?;
    ctx.register_table(name, Arc::new(ListingTable::try_new(config)?))?;
    Ok(())
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

/// Keeps the heap in two arenas. glibc gives each thread that allocates
/// concurrently an arena of its own (up to eight per core), and memory one
/// thread frees is reused only by allocations from the same arena: with
/// rayon's threads, a dataset validated after another grew the heap
/// instead of reusing it (10M entities: validation peak 3.6 → 2.6 GiB, no
/// slower). Call once, before any thread starts.
pub fn limit_heap_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's tuning parameters.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
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
