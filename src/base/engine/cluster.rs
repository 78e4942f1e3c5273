//! The Ballista cluster engine: a run's client session, and the scheduler
//! and executor processes (`credence cluster scheduler|executor`), all with
//! credence's functions ([`super::udfs`]) and codecs ([`super::codec`]) so
//! that a plan the client sends decodes and runs on every node. The nodes read the run's tables from a
//! filesystem they all see, at the paths the driver registered.
//!
//! Every connection between them is mutual TLS ([`super::tls`]): the
//! scheduler's gRPC service and each executor's Flight service are served
//! by credence with TLS, and executors ask the scheduler for work (Ballista's
//! pull scheduling), so that no executor runs a service of its own that
//! could not be secured.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow_flight::flight_service_server::FlightServiceServer;
use ballista::prelude::SessionContextExt;
use ballista_core::config::{TaskSchedulingPolicy, BALLISTA_ADAPTIVE_PLANNER_ENABLED};
use ballista_core::error::BallistaError;
use ballista_core::execution_plans::execute_physical_plan;
use ballista_core::extension::SessionConfigExt;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::serde::protobuf::scheduler_grpc_server::SchedulerGrpcServer;
use ballista_core::serde::protobuf::GetJobStatusParams;
use ballista_core::utils::{create_grpc_server, default_session_builder};
use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};
use ballista_executor::flight_service::BallistaFlightService;
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::create_scheduler;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::execution::FunctionRegistry;
use datafusion::physical_planner::{DefaultPhysicalPlanner, PhysicalPlanner};
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};
use futures::TryStreamExt;

use crate::base::error::{Classify, ErrorKind};

use super::codec::{LogicalCodec, PhysicalCodec};
use super::tls::{ClusterTls, TlsError};
use super::write_parts::{PartsSpec, WriteParts};
use super::{session_config, udafs, udfs, EngineLimits, SchedulerAddr};

/// A cluster process could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("the Ballista {role} failed: {source}")]
    Ballista {
        role: &'static str,
        #[source]
        source: BallistaError,
    },
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("the Ballista scheduler at {target} is unreachable: {source}")]
    Unreachable { target: String, source: std::io::Error },
    /// The scheduler and this node do not trust each other's certificates.
    #[error("{0}")]
    Untrusted(String),
}

impl Classify for ClusterError {
    fn kind(&self) -> ErrorKind {
        match self {
            ClusterError::Ballista { source: ballista_core::error::BallistaError::Configuration(_), .. } => {
                ErrorKind::Input
            }
            ClusterError::Ballista { .. } => ErrorKind::Transient,
            ClusterError::Tls(_) | ClusterError::Untrusted(_) => ErrorKind::Input,
            ClusterError::Unreachable { .. } => ErrorKind::Transient,
        }
    }
}

/// Checks that the scheduler at `addr` is up and that it and this node
/// trust each other's certificates: a scheduler that is down is an I/O
/// failure worth retrying, one that refuses the certificates a
/// configuration error. A run asks before validating, and again when it
/// connects.
pub async fn reach(addr: &SchedulerAddr, tls: &ClusterTls) -> DfResult<()> {
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
    check_trust(&target, tls).await.map_err(DataFusionError::Configuration)
}

/// A client session of the scheduler at `addr`: plans are sent to the
/// cluster, results come back to this process, both over `tls`.
pub async fn client(addr: &SchedulerAddr, limits: EngineLimits, tls: &ClusterTls) -> DfResult<SessionContext> {
    // Ballista connects at the first query: the scheduler is reached here.
    reach(addr, tls).await?;
    // Ballista's adaptive planner re-plans, without end, a shuffle whose
    // input it found empty (a join's build side with no rows, as when no
    // key of a landing table is held twice): the static planner instead.
    let config = session_config(limits)
        .upgrade_for_ballista()
        .set_bool(BALLISTA_ADAPTIVE_PLANNER_ENABLED, false)
        .with_ballista_logical_extension_codec(Arc::new(LogicalCodec::default()))
        .with_ballista_physical_extension_codec(Arc::new(PhysicalCodec::default()))
        .with_ballista_use_tls(true)
        .with_ballista_override_create_grpc_client_endpoint(tls.endpoint_override());
    let state = SessionStateBuilder::new().with_default_features().with_config(config).build();
    let ctx = SessionContext::remote_with_state(&format!("df://{addr}"), state).await?;
    // Ballista's upgrade of the state sets its own function list: ours after it.
    super::register_functions(&ctx);
    Ok(ctx)
}

/// Runs `frame` on the cluster with each partition written to its own
/// Arrow file where it runs ([`WriteParts`]). The plan is made here, from
/// this session's tables, and sent as a physical plan: the scheduler
/// knows no logical form of the node. Returns the rows passed on and the
/// written files' schema.
pub async fn write_parts(
    ctx: &SessionContext,
    addr: &SchedulerAddr,
    frame: DataFrame,
    spec: PartsSpec,
) -> DfResult<(Vec<RecordBatch>, SchemaRef)> {
    let state = ctx.state();
    let logical = frame.into_optimized_plan()?;
    let plan = DefaultPhysicalPlanner::default().create_physical_plan(&logical, &state).await?;
    let node = Arc::new(WriteParts::new(plan, spec)?);
    let schema = node.file_schema();
    let config = state.config().clone();
    let stream = execute_physical_plan::<PhysicalPlanNode>(
        format!("http://{addr}"),
        &config.ballista_config(),
        node,
        &PhysicalCodec::default(),
        ctx.session_id(),
        config,
    )
    .await?;
    Ok((stream.try_collect().await?, schema))
}

/// Asks the scheduler at `target` one question over `tls`, so that a
/// scheduler and a node that do not trust each other's certificates are
/// told as such, before any plan is sent or any work asked for. The error
/// says why, for the caller to wrap.
async fn check_trust(target: &str, tls: &ClusterTls) -> Result<(), String> {
    let refused = |detail: String| {
        format!(
            "the Ballista scheduler at {target} and this node do not trust each other's certificates \
             (this node's are in {}; every node needs the same cluster's): {detail}",
            tls.dir().display()
        )
    };
    let endpoint = tonic::transport::Endpoint::from_shared(format!("https://{target}"))
        .and_then(|e| e.connect_timeout(std::time::Duration::from_secs(10)).tls_config(tls.client()))
        .map_err(|e| refused(super::tls::full(&e)))?;
    let channel = endpoint.connect().await.map_err(|e| refused(super::tls::full(&e)))?;
    let question = GetJobStatusParams { job_id: "credence-trust-check".into() };
    match SchedulerGrpcClient::new(channel).get_job_status(question).await {
        Ok(_) => Ok(()),
        Err(status) => Err(refused(match std::error::Error::source(&status) {
            Some(source) => super::tls::full(source),
            None => status.message().to_string(),
        })),
    }
}

/// Runs a scheduler on `listener` until the process is stopped: its gRPC
/// service alone, over `tls` (no REST or Flight proxy beside it).
pub async fn run_scheduler(listener: tokio::net::TcpListener, tls: ClusterTls) -> Result<(), ClusterError> {
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
            for f in udafs() {
                state.register_udaf(Arc::new(f))?;
            }
            Ok(state)
        }));
    config.scheduling_policy = TaskSchedulingPolicy::PullStaged;
    config.override_logical_codec = Some(Arc::new(LogicalCodec::default()));
    config.override_physical_codec = Some(Arc::new(PhysicalCodec::default()));
    config.override_create_grpc_client_endpoint = Some(tls.endpoint_override());
    let (max_decoding, max_encoding) =
        (config.grpc_server_max_decoding_message_size as usize, config.grpc_server_max_encoding_message_size as usize);
    let cluster = BallistaCluster::new_from_config(&config).await.map_err(fail)?;
    let scheduler =
        create_scheduler::<LogicalPlanNode, PhysicalPlanNode>(cluster, Arc::new(config)).await.map_err(fail)?;
    let service = SchedulerGrpcServer::new(scheduler)
        .max_decoding_message_size(max_decoding)
        .max_encoding_message_size(max_encoding);
    tonic::transport::Server::builder()
        .tls_config(tls.server())
        .map_err(|e| fail(BallistaError::TonicError(e)))?
        .add_service(service)
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
        .await
        .map_err(|e| fail(BallistaError::TonicError(e)))
}

/// What an executor process needs.
#[derive(Clone, Debug)]
pub struct ExecutorOptions {
    pub scheduler: SchedulerAddr,
    /// Address of the executor's Arrow Flight service (its results and
    /// shuffle files), served over the cluster's TLS.
    pub bind: SocketAddr,
    /// The address the scheduler hands out for it (with `bind`'s port).
    pub advertise: IpAddr,
    /// Tasks at once and the memory they share before spilling.
    pub limits: EngineLimits,
    /// Where shuffle and spill files go (a temporary folder when absent).
    pub work_dir: Option<PathBuf>,
    /// The cluster's certificates.
    pub tls: ClusterTls,
}

/// Runs an executor registered with its scheduler until the process is
/// stopped.
pub async fn run_executor(opts: ExecutorOptions) -> Result<(), ClusterError> {
    // The scheduler's port awaited for a minute, then the trust check: an
    // executor given another cluster's certificates stops here and says
    // why, instead of asking for work it will never get.
    let target = opts.scheduler.to_string();
    let since = std::time::Instant::now();
    while let Err(source) = tokio::net::TcpStream::connect(&target).await {
        if since.elapsed() > std::time::Duration::from_secs(60) {
            return Err(ClusterError::Unreachable { target, source });
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    check_trust(&target, &opts.tls).await.map_err(ClusterError::Untrusted)?;
    let config = executor_config(&opts);
    start_executor_process(Arc::new(config)).await.map_err(|source| ClusterError::Ballista { role: "executor", source })
}

/// How long an executor keeps a job's shuffle files: longer than any one
/// of a night's queries runs, so that none loses its inputs.
const SHUFFLE_TTL_SECONDS: u64 = 12 * 3600;

/// How often an executor removes the shuffle files older than that.
const SHUFFLE_CLEAN_UP_SECONDS: u64 = 600;

/// The Ballista executor `opts` describe: pulling its work, serving its
/// Flight service over the cluster's TLS, and removing its own old
/// shuffle files (with pulled work, the scheduler cannot tell it to).
fn executor_config(opts: &ExecutorOptions) -> ExecutorProcessConfig {
    let endpoint = opts.tls.endpoint_override();
    let server = opts.tls.server();
    let max_message = ExecutorProcessConfig::default().grpc_max_encoding_message_size as usize;
    let mut functions = BallistaFunctionRegistry::default();
    for f in udfs() {
        functions.scalar_functions.insert(f.name().to_string(), Arc::new(f));
    }
    for f in udafs() {
        functions.aggregate_functions.insert(f.name().to_string(), Arc::new(f));
    }
    ExecutorProcessConfig {
        bind_host: opts.bind.ip().to_string(),
        external_host: Some(opts.advertise.to_string()),
        port: opts.bind.port(),
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
        // It asks the scheduler for work: no gRPC service of its own.
        task_scheduling_policy: TaskSchedulingPolicy::PullStaged,
        override_create_grpc_client_endpoint: Some(endpoint.clone()),
        // Its tasks' reads of other executors' shuffle files go over TLS too.
        override_config_producer: Some(Arc::new(move || {
            SessionConfig::new_with_ballista()
                .with_ballista_use_tls(true)
                .with_ballista_override_create_grpc_client_endpoint(endpoint.clone())
        })),
        override_arrow_flight_service: Some(Arc::new(move |work_dir, address, mut shutdown, grpc| {
            let server = server.clone();
            tokio::spawn(async move {
                let flight = FlightServiceServer::new(BallistaFlightService::new(work_dir))
                    .max_decoding_message_size(max_message)
                    .max_encoding_message_size(max_message);
                create_grpc_server(&grpc)
                    .tls_config(server)
                    .map_err(BallistaError::TonicError)?
                    .add_service(flight)
                    .serve_with_shutdown(address, shutdown.recv())
                    .await
                    .map_err(BallistaError::TonicError)
            })
        })),
        job_data_ttl_seconds: SHUFFLE_TTL_SECONDS,
        job_data_clean_up_interval_seconds: SHUFFLE_CLEAN_UP_SECONDS,
        ..ExecutorProcessConfig::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_executor_pulls_its_work_over_tls_and_removes_its_old_shuffle_files() {
        let dir = tempfile::tempdir().unwrap();
        super::super::tls::make(dir.path(), chrono::NaiveDate::from_ymd_opt(2026, 12, 5).unwrap()).unwrap();
        let opts = ExecutorOptions {
            scheduler: "ballista://10.0.0.10:50050".parse().unwrap(),
            bind: "0.0.0.0:50051".parse().unwrap(),
            advertise: "10.0.0.21".parse().unwrap(),
            limits: EngineLimits::default(),
            work_dir: None,
            tls: ClusterTls::load(dir.path()).unwrap(),
        };
        let c = executor_config(&opts);
        assert!(matches!(c.task_scheduling_policy, TaskSchedulingPolicy::PullStaged), "no task service of its own");
        assert_eq!((c.bind_host.as_str(), c.external_host.as_deref(), c.port), ("0.0.0.0", Some("10.0.0.21"), 50051));
        assert!(c.override_arrow_flight_service.is_some(), "its Flight service is credence's, over TLS");
        assert!(c.override_create_grpc_client_endpoint.is_some(), "its connections are TLS");
        let tasks = c.override_config_producer.as_ref().expect("its tasks' sessions")();
        assert!(tasks.ballista_use_tls() && tasks.ballista_override_create_grpc_client_endpoint().is_some());
        assert!(c.job_data_clean_up_interval_seconds > 0, "old shuffle files are removed");
        assert!(c.job_data_ttl_seconds >= 3600, "but not under a running query");
    }
}
