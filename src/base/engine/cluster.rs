//! The Ballista cluster engine: a run's client session, and the scheduler
//! and executor processes (`credence cluster scheduler|executor`), all with
//! credence's functions ([`super::udfs`]) and codecs ([`super::codec`]) so
//! that a plan the client sends decodes and runs on every node. The nodes read the run's tables from a
//! filesystem they all see, at the paths the driver registered.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ballista::prelude::SessionContextExt;
use ballista_core::config::BALLISTA_ADAPTIVE_PLANNER_ENABLED;
use ballista_core::extension::SessionConfigExt;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::utils::default_session_builder;
use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::{create_scheduler, start_grpc_service_with_listener};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::execution::FunctionRegistry;
use datafusion::prelude::SessionContext;
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};

use crate::base::error::{Classify, ErrorKind};

use super::codec::{LogicalCodec, PhysicalCodec};
use super::{session_config, udfs, EngineLimits, SchedulerAddr};

/// A cluster process could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("the Ballista {role} failed: {source}")]
    Ballista {
        role: &'static str,
        #[source]
        source: ballista_core::error::BallistaError,
    },
}

impl Classify for ClusterError {
    fn kind(&self) -> ErrorKind {
        match self {
            ClusterError::Ballista { source: ballista_core::error::BallistaError::Configuration(_), .. } => {
                ErrorKind::Input
            }
            ClusterError::Ballista { .. } => ErrorKind::Transient,
        }
    }
}

/// A client session of the scheduler at `addr`: plans are sent to the
/// cluster, results come back to this process.
pub async fn client(addr: &SchedulerAddr, limits: EngineLimits) -> DfResult<SessionContext> {
    // Ballista connects at the first query; a scheduler that is down is
    // told here, as an I/O failure worth retrying.
    let target = addr.to_string();
    let reach = tokio::time::timeout(std::time::Duration::from_secs(10), tokio::net::TcpStream::connect(&target)).await;
    let unreachable = |e: std::io::Error| {
        DataFusionError::Context(format!("the Ballista scheduler at {target} is unreachable"), Box::new(e.into()))
    };
    match reach {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(unreachable(e)),
        Err(_) => return Err(unreachable(std::io::ErrorKind::TimedOut.into())),
    }
    // Ballista's adaptive planner re-plans, without end, a shuffle whose
    // input it found empty (a join's build side with no rows, as when no
    // key of a landing table is held twice): the static planner instead.
    let config = session_config(limits)
        .upgrade_for_ballista()
        .set_bool(BALLISTA_ADAPTIVE_PLANNER_ENABLED, false)
        .with_ballista_logical_extension_codec(Arc::new(LogicalCodec::default()))
        .with_ballista_physical_extension_codec(Arc::new(PhysicalCodec::default()));
    let state = SessionStateBuilder::new().with_default_features().with_config(config).build();
    let ctx = SessionContext::remote_with_state(&format!("df://{addr}"), state).await?;
    // Ballista's upgrade of the state sets its own function list: ours after it.
    for f in udfs() {
        ctx.register_udf(f);
    }
    Ok(ctx)
}

/// Runs a scheduler on `listener` until the process is stopped.
pub async fn run_scheduler(listener: tokio::net::TcpListener) -> Result<(), ClusterError> {
    let fail = |source| ClusterError::Ballista { role: "scheduler", source };
    let bind = listener.local_addr().map_err(|e| fail(e.into()))?;
    let mut config = SchedulerConfig::default()
        .with_hostname(bind.ip().to_string())
        .with_port(bind.port())
        .with_override_session_builder(Arc::new(|config| {
            let mut state = default_session_builder(config)?;
            for f in udfs() {
                state.register_udf(Arc::new(f))?;
            }
            Ok(state)
        }));
    config.override_logical_codec = Some(Arc::new(LogicalCodec::default()));
    config.override_physical_codec = Some(Arc::new(PhysicalCodec::default()));
    let cluster = BallistaCluster::new_from_config(&config).await.map_err(fail)?;
    let scheduler =
        create_scheduler::<LogicalPlanNode, PhysicalPlanNode>(cluster, Arc::new(config)).await.map_err(fail)?;
    start_grpc_service_with_listener(listener, scheduler).await.map_err(fail)
}

/// What an executor process needs.
#[derive(Clone, Debug)]
pub struct ExecutorOptions {
    pub scheduler: SchedulerAddr,
    /// Address of the executor's Arrow Flight service (its results and
    /// shuffle files); the gRPC service listens on the next port.
    pub bind: SocketAddr,
    /// Tasks at once and the memory they share before spilling.
    pub limits: EngineLimits,
    /// Where shuffle and spill files go (a temporary folder when absent).
    pub work_dir: Option<PathBuf>,
}

/// Runs an executor registered with its scheduler until the process is
/// stopped.
pub async fn run_executor(opts: ExecutorOptions) -> Result<(), ClusterError> {
    let mut functions = BallistaFunctionRegistry::default();
    for f in udfs() {
        functions.scalar_functions.insert(f.name().to_string(), Arc::new(f));
    }
    let config = ExecutorProcessConfig {
        bind_host: opts.bind.ip().to_string(),
        external_host: Some(opts.bind.ip().to_string()),
        port: opts.bind.port(),
        grpc_port: opts.bind.port().saturating_add(1),
        scheduler_host: opts.scheduler.host.clone(),
        scheduler_port: opts.scheduler.port,
        scheduler_connect_timeout_seconds: 30,
        vcores: opts.limits.threads.max(1),
        work_dir: opts.work_dir.as_ref().and_then(|p| p.to_str()).map(str::to_string),
        print_thread_info: false,
        executor_heartbeat_interval_seconds: 5,
        memory_pool_size: Some(opts.limits.memory_limit as u64),
        override_function_registry: Some(Arc::new(functions)),
        override_logical_codec: Some(Arc::new(LogicalCodec::default())),
        override_physical_codec: Some(Arc::new(PhysicalCodec::default())),
        ..ExecutorProcessConfig::default()
    };
    start_executor_process(Arc::new(config)).await.map_err(|source| ClusterError::Ballista { role: "executor", source })
}
