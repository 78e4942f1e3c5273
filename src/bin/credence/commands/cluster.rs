//! `credence cluster scheduler|executor|certs`: the processes of a Ballista
//! cluster that runs credence's plans (`run --engine ballista://HOST:PORT`),
//! and the certificates they secure their connections with.

use credence::base::engine::cluster::{self, ExecutorOptions};
use credence::base::engine::tls::{self, ClusterTls};

use crate::args::ClusterCommand;
use crate::failure::{CommandResult, Failure};

pub fn cluster(command: ClusterCommand) -> CommandResult {
    match command {
        ClusterCommand::Scheduler { bind, tls } => {
            let tls = ClusterTls::load(&tls).map_err(cluster::ClusterError::from)?;
            let rt = crate::runtime::runtime(2)?;
            rt.block_on(async {
                let listener = tokio::net::TcpListener::bind(bind).await?;
                // The address, port 0 resolved, for whoever started the scheduler.
                println!("Ballista scheduler listening on ballista://{}", listener.local_addr()?);
                tracing::info!(bind = %listener.local_addr()?, "Ballista scheduler started");
                cluster::run_scheduler(listener, tls).await.map_err(crate::failure::Failure::from)
            })?;
        }
        ClusterCommand::Executor { scheduler, bind, advertise, engine, work_dir, tls } => {
            // The scheduler hands this address to the driver and the other
            // executors: it must be one they can reach.
            let advertise = advertise.unwrap_or(bind.ip());
            if advertise.is_unspecified() {
                return Err(Failure::usage(format!(
                    "--bind {bind}: an executor's address is the one the driver and the other executors reach it at \
                     (the scheduler hands it out), not {advertise}; give this node's address on the cluster's \
                     network, with --bind or with --advertise"
                )));
            }
            let tls = ClusterTls::load(&tls).map_err(cluster::ClusterError::from)?;
            let limits = engine.limits();
            let rt = crate::runtime::runtime(limits.threads)?;
            tracing::info!(%bind, %scheduler, threads = limits.threads, memory_limit = limits.memory_limit, "Ballista executor starting");
            rt.block_on(cluster::run_executor(ExecutorOptions { scheduler, bind, advertise, limits, work_dir, tls }))?;
        }
        ClusterCommand::Certs { out } => {
            let today = chrono::Utc::now().date_naive();
            tls::make(&out, today).map_err(cluster::ClusterError::from)?;
            println!("The cluster's certificates are in {}: give every node (scheduler, executors, drivers) the three files, and set CREDENCE_CLUSTER_TLS to their folder.", out.display());
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}
