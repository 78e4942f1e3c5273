//! One module per group of commands; [`dispatch`] sends each command to
//! its module.

pub mod batch;
#[cfg(feature = "cluster")]
mod cluster;

mod officer;
mod partners;
mod policy;
mod publication;
mod serve;

use crate::args::Command;
use crate::failure::CommandResult;

/// Runs one command.
pub fn dispatch(command: Command) -> CommandResult {
    match command {
        Command::Demo(args) => crate::demo::demo(&args),
        Command::Bench(args) => crate::bench::bench(&args),
        Command::Run(args) => batch::run(&args),
        Command::Impact(args) => batch::impact(&args),
        Command::Runs { warehouse, limit } => batch::runs(&warehouse, limit),
        Command::Gen(args) => batch::gen(&args),
        Command::Schedule { jobs, metrics_listen, clock_start } => batch::schedule(&jobs, metrics_listen, clock_start),
        Command::Backfill(args) => batch::backfill(&args),
        Command::Policy { command } => policy::policy(command),
        Command::Serve(args) => serve::serve(&args),
        Command::Officers { command, warehouse } => officer::officers(command, &warehouse),
        Command::Decide(args) => officer::decide(&args),
        Command::Notice { command } => officer::notice(command),
        Command::Objection { command } => officer::objection(command),
        Command::Review { warehouse, list, as_of, policy } => {
            officer::review(&warehouse, &list, as_of, policy.as_deref())
        }
        Command::Explain { entity, as_of, warehouse, policy, json } => {
            officer::explain(&entity, as_of, &warehouse, policy.as_deref(), json)
        }
        Command::Partners { command } => partners::partners(command),
        Command::Audit { command: None, warehouse, limit } => partners::audit(&warehouse, limit),
        Command::Audit { command: Some(command), .. } => partners::archive(command),
        #[cfg(feature = "cluster")]
        Command::Cluster { command } => cluster::cluster(command),
        Command::Keys { command } => publication::keys(command),
        Command::Verify { dir, public_key, list, id } => {
            publication::verify(&dir, &public_key, list.as_deref(), id.as_deref())
        }
    }
}
