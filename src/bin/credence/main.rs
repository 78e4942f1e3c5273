//! The `credence` command line: the edge where arguments become typed
//! settings, and failures become messages and exit codes.
//!
//! Exit codes: 0 success; 1 the command failed on its input (bad landing
//! files, the rejection threshold, an invalid policy, a refused decision)
//! or on a bug; 2 a usage error; 3 a failure worth retrying (I/O, a full
//! disk, a busy database, a held lock).

mod args;
mod bench;
mod commands;
mod demo;
mod failure;
mod runtime;

use std::process::ExitCode;

use clap::Parser;

use credence::base::telemetry::{self, LogFormat};

fn main() -> ExitCode {
    credence::base::engine::tune_heap();
    let cli = args::Cli::parse();
    telemetry::init(LogFormat::detect());
    match commands::dispatch(cli.command) {
        Ok(code) => code,
        Err(failure) => {
            failure.report();
            failure.exit_code()
        }
    }
}
