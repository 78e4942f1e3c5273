//! `policy check`: every problem of a policy file at once.

use std::process::ExitCode;

use credence::base::contract::Contracts;
use credence::config::policy::Policy;

use crate::args::PolicyCommand;
use crate::failure::CommandResult;

pub fn policy(command: PolicyCommand) -> CommandResult {
    let PolicyCommand::Check { file } = command;
    let contracts = Contracts::load()?;
    match Policy::load(&file, &contracts) {
        Ok(p) => {
            println!(
                "{}: policy {} version {} is valid: {} score rules, {} direct grades, {} lists, {} joint rules",
                file.display(),
                p.id,
                p.version,
                p.rules.len(),
                p.direct_grades.len(),
                p.lists.len(),
                p.joint.rules.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            for p in &errors.problems {
                println!("{p}");
            }
            eprintln!("{} problem(s) found", errors.problems.len());
            Ok(ExitCode::from(1))
        }
    }
}
