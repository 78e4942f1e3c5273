//! What credit officers do from the command line: `review`, `explain`,
//! `decide`, and managing officer accounts (`officers`).

use std::path::Path;
use std::process::ExitCode;

use credence::base::ids::AsOf;
use credence::base::printable::escaped;
use credence::base::store::{Action, Store};
use credence::base::warehouse::Warehouse;
use credence::config::policy::Policy;
use credence::config::regulator;
use credence::officer::accounts::{hash_password, Role, MIN_PASSWORD_CHARS};
use credence::officer::decide::{DecideError, Desk, Request};
use credence::officer::notice::Notices;
use credence::officer::queue::QueueState;
use credence::officer::{decide as deciding, explain as explaining, queue};
use credence::run::load_policy;

use crate::args::{DecideArgs, DecisionKind, DeskArgs, NoticeCommand, ObjectionCommand, OfficersCommand};
use crate::failure::{CommandResult, Failure};

pub fn review(warehouse: &Path, list: &str, as_of: Option<AsOf>, policy: Option<&Path>) -> CommandResult {
    let wh = Warehouse::existing(warehouse)?;
    let policy = load_policy(policy)?;
    let Some(spec) = policy.list(list) else {
        return Err(Failure::input(format!("'{list}' is not a list of policy {}", policy.id)));
    };
    let store = Store::open(&wh.database())?;
    let Some((at, entries)) = queue::in_review(&wh, &store, spec, as_of, today())? else {
        println!("名单 {list} 尚未生成 / no listing of {list} yet: run the nightly batch first");
        return Ok(ExitCode::SUCCESS);
    };
    println!("{} 个待处理 / in review on {list} as of {at}", entries.len());
    for e in entries.iter() {
        let l = &e.listing;
        let name = e.registry.as_ref().map(|r| escaped(&r.name)).unwrap_or_else(|| "(not in registry)".into());
        let days = (at.date() - e.in_review_since.date()).num_days();
        let grade = e.score.as_ref().map(|s| format!("grade {} (score {:.2})", s.grade, s.score)).unwrap_or_default();
        println!(
            "\n{}  {name}\n  {}; in review {days} days since {}; {grade}",
            l.entity_id,
            state_text(&e.state),
            e.in_review_since
        );
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

/// A queue state in Chinese and English.
fn state_text(s: &QueueState) -> String {
    match s {
        QueueState::Objected => "已提出异议，待答复 / objected: answer needed".into(),
        QueueState::ReadyToDecide => "告知期满无异议，可以决定 / ready to decide: window passed, no objection".into(),
        QueueState::Pending => "待审核 / pending".into(),
        QueueState::Noticed { deadline, days_left } => {
            format!(
                "已告知，剩余 {days_left} 天（截止 {deadline}）/ noticed: {days_left} days left (deadline {deadline})"
            )
        }
        QueueState::AwaitingApproval { decision, proposer } => {
            format!("待复核：{proposer} 的确认 #{decision} / awaiting approval of {proposer}'s confirm #{decision}")
        }
        QueueState::Decided { decision, action, officer } => {
            format!("已决定，下次运行生效 / decided: {action} #{decision} by {officer}, takes effect in the next run")
        }
    }
}

fn today() -> AsOf {
    AsOf::new(chrono::Utc::now().date_naive())
}

pub fn explain(entity: &str, as_of: AsOf, warehouse: &Path, policy: Option<&Path>, json: bool) -> CommandResult {
    let policy = load_policy(policy)?;
    let wh = Warehouse::existing(warehouse)?;
    let store = if wh.database().exists() { Some(Store::open(&wh.database())?) } else { None };
    let e = explaining::explain(&wh, &policy, store.as_ref(), entity, as_of)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&e).expect("an explanation serialises"));
    } else {
        print!("{}", e.render());
    }
    Ok(ExitCode::SUCCESS)
}

/// What the gate needs, opened from the command line's arguments.
struct OpenDesk {
    warehouse: Warehouse,
    policy: Policy,
    store: Store,
    notices: Notices,
}

impl OpenDesk {
    fn open(args: &DeskArgs) -> Result<OpenDesk, Failure> {
        let policy = load_policy(args.policy.as_deref())?;
        let warehouse = Warehouse::existing(&args.warehouse)?;
        let store = Store::open(&warehouse.database())?;
        let regulator = regulator::load_or_default(args.regulator.as_deref())?;
        let notices = Notices::load(args.templates.as_deref(), regulator)?;
        Ok(OpenDesk { warehouse, policy, store, notices })
    }

    fn desk(&self) -> Desk<'_> {
        Desk {
            warehouse: &self.warehouse,
            policy: &self.policy,
            store: &self.store,
            notices: &self.notices,
            listings: &credence::officer::member::FromMarts,
        }
    }
}

/// Passes a request through the gate and prints `#ID` and what follows,
/// or the refusal (exit 1).
fn through_gate(open: &OpenDesk, req: &Request) -> CommandResult {
    match deciding::decide(&open.desk(), req) {
        Ok(r) => {
            println!("#{}", r.id);
            println!("{} {} on {} by {}", r.action.as_str(), r.entity, r.list, req.officer.trim());
            if let Some(doc) = &r.document {
                println!("document: {}", open.warehouse.root().join(doc).display());
            }
            if let Some(d) = r.deadline {
                println!("陈述申辩截止 / objections until {d}");
            }
            if r.needs_approval {
                println!("待另一名高级审核人员复核 / awaits a second, senior officer's approval: credence decide approve --decision {}", r.id);
            } else {
                println!("下次运行生效 / it takes effect in the next run");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(DecideError::Refused(refusal)) => {
            eprintln!("refused / 拒绝:\n  {}\n  {}", refusal.zh(), refusal.en());
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.into()),
    }
}

pub fn decide(args: &DecideArgs) -> CommandResult {
    let open = OpenDesk::open(&args.desk)?;
    let action = match args.action {
        DecisionKind::Confirm => Action::Confirm,
        DecisionKind::Reject => Action::Reject,
        DecisionKind::Approve => Action::Approve,
        DecisionKind::SendBack => Action::SendBack,
        DecisionKind::Exempt => Action::Exempt,
        DecisionKind::RevokeExemption => Action::RevokeExemption,
    };
    let req = Request {
        action: Some(action),
        list: &args.list,
        entity: &args.entity,
        officer: &args.officer,
        reason: &args.reason,
        until: args.until,
        approves: args.decision,
        ..Request::default()
    };
    through_gate(&open, &req)
}

pub fn notice(command: NoticeCommand) -> CommandResult {
    match command {
        NoticeCommand::Issue { list, entity, officer, lang, reason, desk } => {
            let open = OpenDesk::open(&desk)?;
            let req = Request {
                action: Some(Action::Notify),
                list: &list,
                entity: &entity,
                officer: &officer,
                reason: &reason,
                lang,
                ..Request::default()
            };
            through_gate(&open, &req)
        }
        NoticeCommand::List { list, desk } => {
            let open = OpenDesk::open(&desk)?;
            let today = today();
            let all = open.store.decisions(open.store.last_decision_id()?, list.as_deref(), None)?;
            let book = credence::stages::review::DecisionBook::new(all.clone());
            println!(
                "{:<24} {:<20} {:<18} {:<10} {:<10} {:>9}  then",
                "notice", "list", "entity", "issued", "deadline", "days left"
            );
            for n in all.iter().filter(|d| d.action == Action::Notify) {
                let deadline = n.deadline.map(|d| d.to_string()).unwrap_or_default();
                let left = n.deadline.map(|d| (d.date() - today.date()).num_days()).unwrap_or(0);
                let later: Vec<String> = book
                    .review_decisions(&n.list_id, &n.entity_id)
                    .iter()
                    .filter(|d| d.id > n.id)
                    .map(|d| format!("{} #{}", d.action.as_str(), d.id))
                    .collect();
                let doc = n
                    .document
                    .as_deref()
                    .and_then(|p| Path::new(p).file_stem())
                    .map(|s| s.to_string_lossy().into_owned());
                println!(
                    "{:<24} {:<20} {:<18} {:<10} {:<10} {:>9}  {}",
                    format!("#{} {}", n.id, doc.unwrap_or_default()),
                    n.list_id,
                    n.entity_id,
                    n.day().map(|d| d.to_string()).unwrap_or_default(),
                    deadline,
                    left.max(0),
                    if later.is_empty() { "—".to_string() } else { later.join(", ") }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub fn objection(command: ObjectionCommand) -> CommandResult {
    let ObjectionCommand::Record { list, entity, officer, received, summary, attachment, desk } = command;
    let open = OpenDesk::open(&desk)?;
    let attachment = match attachment {
        Some(p) => Some(credence::officer::notice::read_attachment(&p)?),
        None => None,
    };
    let req = Request {
        action: Some(Action::Object),
        list: &list,
        entity: &entity,
        officer: &officer,
        reason: &summary,
        received_on: Some(received),
        attachment,
        ..Request::default()
    };
    through_gate(&open, &req)
}

pub fn officers(command: OfficersCommand, warehouse: &Path) -> CommandResult {
    let store = Store::open(&Warehouse::existing(warehouse)?.database())?;
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
        OfficersCommand::Unlock { id } => {
            if store.login_succeeded(&format!("officer:{id}"))? {
                println!("officer {id} may log in again");
            } else {
                println!("officer {id} had no failed logins to forget");
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
