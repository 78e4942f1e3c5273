//! What credit officers do from the command line: `review`, `explain`,
//! `decide`, and managing officer accounts (`officers`).

use std::path::Path;
use std::process::ExitCode;

use credence::base::ids::AsOf;
use credence::base::printable::escaped;
use credence::base::store::{Action, Store};
use credence::base::warehouse::Warehouse;
use credence::officer::accounts::{hash_password, Role, MIN_PASSWORD_CHARS};
use credence::officer::{decide as deciding, explain as explaining, queue};
use credence::run::load_policy;

use crate::args::{DecideArgs, DecisionKind, OfficersCommand};
use crate::failure::{CommandResult, Failure};

pub fn review(warehouse: &Path, list: &str, as_of: Option<AsOf>) -> CommandResult {
    let wh = Warehouse::new(warehouse);
    let Some((at, entries)) = queue::pending(&wh, list, as_of)? else {
        println!("no listing of {list} yet: run the nightly batch first");
        return Ok(ExitCode::SUCCESS);
    };
    println!("{} pending on {list} as of {at}", entries.len());
    for e in &entries {
        let l = &e.listing;
        let name = e.registry.as_ref().map(|r| escaped(&r.name)).unwrap_or_else(|| "(not in registry)".into());
        let days = (at.date() - e.pending_since.date()).num_days();
        let grade = e.score.as_ref().map(|s| format!("grade {} (score {:.2})", s.grade, s.score)).unwrap_or_default();
        println!("\n{}  {name}\n  pending {days} days since {}; {grade}", l.entity_id, e.pending_since);
        if l.depth == 0 {
            println!("  direct member");
        } else {
            let via: Vec<String> = l
                .via
                .iter()
                .map(|v| match v.share_pct {
                    Some(p) => format!("{} {} {p}%", v.id, v.relation),
                    None => format!("{} {}", v.id, v.relation),
                })
                .collect();
            println!(
                "  joint member, round {}, by {}: via {}; roots {}",
                l.depth,
                l.rules.join(", "),
                via.join(", "),
                l.roots.join(", ")
            );
        }
        for r in e.score.iter().flat_map(|s| s.reasons.iter()) {
            println!("  reason {} ({:.2} points): {}", r.rule_id, r.points, r.records.join(", "));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn explain(entity: &str, as_of: AsOf, warehouse: &Path, policy: Option<&Path>, json: bool) -> CommandResult {
    let policy = load_policy(policy)?;
    let wh = Warehouse::new(warehouse);
    let store = if wh.database().exists() { Some(Store::open(&wh.database())?) } else { None };
    let e = explaining::explain(&wh, &policy, store.as_ref(), entity, as_of)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&e).expect("an explanation serialises"));
    } else {
        print!("{}", e.render());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn decide(args: &DecideArgs) -> CommandResult {
    let policy = load_policy(args.policy.as_deref())?;
    let wh = Warehouse::new(&args.warehouse);
    let store = Store::open(&wh.database())?;
    let action = match args.action {
        DecisionKind::Confirm => Action::Confirm,
        DecisionKind::Reject => Action::Reject,
        DecisionKind::Exempt => Action::Exempt,
        DecisionKind::RevokeExemption => Action::RevokeExemption,
    };
    let req = deciding::Request {
        action,
        list: &args.list,
        entity: &args.entity,
        officer: &args.officer,
        reason: &args.reason,
        until: args.until,
    };
    match deciding::decide(&wh, &policy, &store, &req) {
        Ok(id) => {
            println!(
                "decision #{id}: {} {} on {} by {}; it takes effect in the next run",
                action.as_str(),
                args.entity,
                args.list,
                args.officer
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(refusal @ (deciding::Refusal::Read(_) | deciding::Refusal::Store(_))) => Err(refusal.into()),
        Err(refusal) => {
            eprintln!("refused: {refusal}");
            Ok(ExitCode::from(1))
        }
    }
}

pub fn officers(command: OfficersCommand, warehouse: &Path) -> CommandResult {
    let store = Store::open(&Warehouse::new(warehouse).database())?;
    match command {
        OfficersCommand::Add { id, role } => {
            if Role::parse(&role).is_none() {
                eprintln!("refused: role must be officer, senior or auditor, found '{role}'");
                return Ok(ExitCode::from(1));
            }
            if id.trim().is_empty() {
                return Err(Failure::input("the officer id must not be empty"));
            }
            use std::io::IsTerminal;
            let password = if std::io::stdin().is_terminal() {
                rpassword::prompt_password(format!("password for {id}: "))?
            } else {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                line.trim_end_matches(['\r', '\n']).to_string()
            };
            if password.chars().count() < MIN_PASSWORD_CHARS {
                eprintln!("refused: a password has at least {MIN_PASSWORD_CHARS} characters");
                return Ok(ExitCode::from(1));
            }
            store.put_officer(&id, &role, &hash_password(&password)?)?;
            println!("officer {id} ({role}) can log in");
        }
        OfficersCommand::List => {
            for (id, role) in store.officers()? {
                println!("{id}  {role}");
            }
        }
        OfficersCommand::Remove { id } => {
            if !store.remove_officer(&id)? {
                eprintln!("refused: there is no officer '{id}'");
                return Ok(ExitCode::from(1));
            }
            println!("officer {id} removed; their sessions ended, their decisions stay");
        }
    }
    Ok(ExitCode::SUCCESS)
}
