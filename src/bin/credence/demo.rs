//! `credence demo`: a small generated warehouse, one nightly run, and a
//! summary of what came out and where it is.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use credence::base::ids::AsOf;
use credence::base::warehouse::Warehouse;
use credence::run::{self, RunOptions, RunReport, RunSettings, DEFAULT_MAX_REJECT_SHARE};

use crate::args::{DemoArgs, GenArgs};
use crate::commands::batch::generate;
use crate::failure::CommandResult;
use crate::runtime::runtime;

pub fn demo(args: &DemoArgs) -> CommandResult {
    let gen = GenArgs {
        warehouse: args.warehouse.clone(),
        entities: args.entities,
        days: args.days,
        seed: args.seed,
        as_of: args.as_of,
        bad_rate: args.bad_rate,
        violations_per_entity: 1.5,
        complaints_per_entity: 1.0,
        chunk: 250_000,
    };
    let generated = generate(&gen)?;
    println!(
        "generated {} entities over {} nights ({} rows) into {}",
        args.entities,
        args.days,
        generated.total(),
        args.warehouse.join("landing").display()
    );
    let settings = RunSettings {
        warehouse: args.warehouse.clone(),
        policy: None,
        partners: None,
        signing_key: Some(demo_key(&args.warehouse)?),
        unsigned: false,
        limits: args.engine.limits(),
        engine: Default::default(),
        engine_scratch: None,
        max_reject_share: DEFAULT_MAX_REJECT_SHARE,
        validation_plans: false,
        plans_make_tables: false,
        trigger: "demo".into(),
    };
    let opts = settings.lower(args.as_of)?;
    let rt = runtime(opts.limits.threads)?;
    // The earlier nights first, so that the pages have a history to show.
    for back in (1..args.days).rev() {
        let night = AsOf::new(args.as_of.date() - chrono::Days::new(u64::from(back)));
        print_outcomes(&rt.block_on(run::run(&RunOptions { as_of: night, ..opts.clone() }))?);
    }
    print_outcomes(&rt.block_on(run::run(&opts))?);
    // Due process on the new direct additions (publication.md v2): a notice
    // for each, one objection, a confirm that answers it, a second officer's
    // approval, and the batch again, which publishes the approved one. The
    // others stay noticed until their window passes; the joint additions
    // stay pending for a person to review on the officer pages.
    let walk = due_process(&opts.warehouse, &opts.policy)?;
    println!("{walk}");
    let report = rt.block_on(run::run(&opts))?;
    print_summary(&report, &opts);
    print_outputs(&report, args);
    Ok(ExitCode::SUCCESS)
}

/// The demo warehouse's development key pair, made once; the secret key's path.
fn demo_key(warehouse: &Path) -> Result<PathBuf, crate::failure::Failure> {
    let keys = warehouse.join("keys");
    let (secret, public) = (keys.join("demo.key"), keys.join("demo.pub"));
    if !secret.exists() {
        credence::base::sign::generate(&secret, &public, None)?;
    }
    Ok(secret)
}

/// One line per list of a run: what its publication did.
fn print_outcomes(report: &RunReport) {
    for p in &report.publications {
        println!("run {} as of {}: list {}: {}", report.run_id, report.as_of, p.list_id, p.outcome);
    }
}

/// The last run in figures: grades, reasons, lists, publications, rejects.
fn print_summary(report: &RunReport, opts: &RunOptions) {
    let total: f64 = report.steps.iter().map(|s| s.duration.as_secs_f64()).sum();
    println!(
        "\nrun {} as of {} with policy {} {}: succeeded in {total:.2} s",
        report.run_id, report.as_of, opts.policy.id, opts.policy.version
    );
    let scored = report.scores.entities_scored.max(1) as f64;
    println!("  entities scored: {}", report.scores.entities_scored);
    println!("  by grade:");
    for (grade, n) in &report.scores.by_grade {
        println!("    {grade:<3} {n:>8}  {:>5.1}%", *n as f64 * 100.0 / scored);
    }
    println!("  most frequent reasons:");
    for (rule, n) in report.scores.reasons.iter().take(5) {
        println!("    {rule:<14} {n:>8}");
    }
    for l in &report.lists {
        println!(
            "  list {}: {} members ({} direct, {} joint): {} published, {} pending review, {} noticed, {} objected, {} awaiting approval, {} held, {} rejected; {} restricted persons, {} flagged entities",
            l.list_id, l.members, l.direct, l.joint, l.published, l.pending, l.noticed, l.objected, l.awaiting_approval, l.held, l.rejected, l.restricted_persons, l.flagged_entities
        );
    }
    for p in &report.publications {
        println!("  publication of {}: {}", p.list_id, p.outcome);
    }
    let rejected = report.quality.rejected_by_code();
    if !rejected.is_empty() {
        println!("  rejected input rows (in quarantine):");
        for (code, n) in rejected {
            println!("    {code:<18} {n:>6}");
        }
    }
}

/// Where the outputs are, and the commands that show the rest.
fn print_outputs(report: &RunReport, args: &DemoArgs) {
    println!("\noutputs:");
    for o in &report.outputs {
        println!("  {}", o.display());
    }
    let quality = args.warehouse.join("reports/quality").join(format!("as_of={}", args.as_of)).join("quality.json");
    println!("  {}", quality.display());
    println!(
        "  {}  (the run ledger: credence runs --warehouse {})",
        args.warehouse.join("credence.db").display(),
        args.warehouse.display()
    );
    let w = args.warehouse.display();
    println!("\nnotices: {}  (credence notice list --warehouse {w})", args.warehouse.join("notices").display());
    println!("\nofficer pages (the pending joint additions are in the review queue):");
    println!("  credence officers add YOUR-ID --role senior --warehouse {w}");
    println!("  credence serve --warehouse {w} --ui-listen 127.0.0.1:8081   then open http://127.0.0.1:8081/");
}

/// The demo's officers walk the due process of each list's new direct
/// additions through the gate, as people would from the pages; returns
/// what they did, in words.
fn due_process(wh: &Warehouse, policy: &credence::config::policy::Policy) -> Result<String, crate::failure::Failure> {
    use credence::base::marts::listings::Basis;
    use credence::base::store::{Action, Store};
    use credence::officer::decide::{self, Desk, Request};
    use credence::officer::queue::{self, QueueState};

    let store = Store::open(&wh.database())?;
    // Demo accounts with passwords nobody knows: they decide here, never log in.
    let unknown = hex::encode(rand::random::<[u8; 24]>());
    let hash = credence::officer::accounts::hash_password(&unknown)?;
    store.put_officer("demo-officer", "officer", &hash)?;
    store.put_officer("demo-senior", "senior", &hash)?;
    let regulator = credence::config::regulator::load_or_default(None)?;
    let notices = credence::officer::notice::Notices::load(None, regulator)?;
    let desk = Desk {
        warehouse: wh,
        policy,
        store: &store,
        notices: &notices,
        listings: &credence::officer::member::FromMarts,
    };
    let today = AsOf::new(chrono::Utc::now().date_naive());
    let mut out = String::new();
    let gate = |req: Request| decide::decide(&desk, &req);
    for list in &policy.lists {
        let Some((_, entries)) = queue::in_review(wh, &store, list, None, today)? else { continue };
        let direct: Vec<String> = entries
            .iter()
            .filter(|e| e.listing.basis == Basis::Direct && e.state == QueueState::Pending)
            .map(|e| e.listing.entity_id.clone())
            .collect();
        let joint = entries.iter().filter(|e| e.listing.basis == Basis::Joint).count();
        let (mut noticed, mut first_notice) = (0, None);
        for e in &direct {
            let r = gate(Request {
                action: Some(Action::Notify),
                list: &list.id,
                entity: e,
                officer: "demo-officer",
                reason: "已向当事人发出列入事先告知书 / advance notice issued to the party",
                ..Request::default()
            })?;
            noticed += 1;
            first_notice.get_or_insert((e.clone(), r));
        }
        out.push_str(&format!("list {}: the demo officer notified {noticed} new direct additions", list.id));
        let Some((entity, notice)) = first_notice else {
            out.push_str(&format!("; {joint} joint additions wait in the review queue\n"));
            continue;
        };
        if let Some(doc) = &notice.document {
            out.push_str(&format!(" (the first notice: {})", wh.root().join(doc).display()));
        }
        let objection = (list.notice_days > 0).then(|| {
            gate(Request {
                action: Some(Action::Object),
                list: &list.id,
                entity: &entity,
                officer: "demo-officer",
                reason: "当事人书面陈述：处罚已履行完毕，请求不予列入 / the party states the penalty was paid and asks not to be listed",
                received_on: Some(today),
                ..Request::default()
            })
        });
        if let Some(o) = objection {
            out.push_str(&format!("; {entity} objected (#{})", o?.id));
        }
        let confirm = gate(Request {
            action: Some(Action::Confirm),
            list: &list.id,
            entity: &entity,
            officer: "demo-officer",
            reason: "已审查当事人陈述，违法事实清楚，维持列入 / statement reviewed; the facts stand, the listing is confirmed",
            ..Request::default()
        })?;
        out.push_str(&format!("; demo-officer confirmed it (#{})", confirm.id));
        if confirm.needs_approval {
            let a = gate(Request {
                action: Some(Action::Approve),
                approves: Some(confirm.id),
                officer: "demo-senior",
                reason: "复核同意：程序完备，证据充分 / approved: due process followed, evidence sufficient",
                ..Request::default()
            })?;
            out.push_str(&format!(" and demo-senior approved (#{})", a.id));
        }
        out.push_str(&format!(
            "; the other {} stay noticed until their window passes; {joint} joint additions wait in the review queue; running again\n",
            noticed - 1
        ));
    }
    Ok(out)
}
