//! `credence demo`: a small generated warehouse, one nightly run, and a
//! summary of what came out and where it is.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use credence::base::ids::AsOf;
use credence::base::warehouse::Warehouse;
use credence::run::{self, RunOptions, RunSettings, DEFAULT_MAX_REJECT_SHARE};

use crate::args::{EngineArgs, GenArgs};
use crate::commands::{generate, runtime};
use crate::failure::CommandResult;

#[derive(Args)]
pub struct DemoArgs {
    #[arg(long, default_value = "warehouse")]
    warehouse: PathBuf,
    #[arg(long, default_value_t = 3000)]
    entities: u64,
    #[arg(long, default_value_t = 3)]
    days: u32,
    #[arg(long, default_value = "2026-11-27")]
    as_of: AsOf,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Share of generated rows that break a rule, to show the quarantine.
    #[arg(long, default_value_t = 0.003)]
    bad_rate: f64,
    #[command(flatten)]
    engine: EngineArgs,
}

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
    // A development key pair for the demo warehouse, made once.
    let keys = args.warehouse.join("keys");
    let (secret, public) = (keys.join("demo.key"), keys.join("demo.pub"));
    if !secret.exists() {
        credence::base::sign::generate(&secret, &public, None)?;
    }
    let settings = RunSettings {
        warehouse: args.warehouse.clone(),
        policy: None,
        partners: None,
        signing_key: Some(secret),
        unsigned: false,
        limits: args.engine.limits(),
        max_reject_share: DEFAULT_MAX_REJECT_SHARE,
        trigger: "demo".into(),
    };
    let opts = settings.lower(args.as_of)?;
    let limits = opts.limits;
    let rt = runtime(limits.threads)?;
    // The earlier nights first, so that the pages have a history to show.
    for back in (1..args.days).rev() {
        let night = AsOf::new(args.as_of.date() - chrono::Days::new(u64::from(back)));
        let report = rt.block_on(run::run(&RunOptions { as_of: night, ..opts.clone() }))?;
        for p in &report.publications {
            println!("run {} as of {night}: list {}: {}", report.run_id, p.list_id, p.outcome);
        }
    }
    let first = rt.block_on(run::run(&opts))?;
    for p in &first.publications {
        println!("run {} as of {}: list {}: {}", first.run_id, args.as_of, p.list_id, p.outcome);
    }
    // The demo officer confirms the pending direct additions; the batch runs
    // again and publishes them as a second publication of the same date. The
    // joint additions stay pending for a person to review on the officer pages.
    let wh = Warehouse::new(&args.warehouse);
    let store = credence::base::store::Store::open(&wh.database())?;
    let (mut confirmed, mut left) = (0, 0);
    for list in &opts.policy.lists {
        if let Some((_, pending)) = credence::officer::queue::pending(&wh, &list.id, Some(args.as_of))? {
            for e in pending {
                if e.listing.basis != credence::base::marts::listings::Basis::Direct {
                    left += 1;
                    continue;
                }
                let req = credence::officer::decide::Request {
                    action: credence::base::store::Action::Confirm,
                    list: &list.id,
                    entity: &e.listing.entity_id,
                    officer: "demo-officer",
                    reason: "confirmed by the demo officer after review",
                    until: None,
                };
                credence::officer::decide::decide(&wh, &opts.policy, &store, &req)?;
                confirmed += 1;
            }
        }
    }
    println!(
        "the demo officer confirmed {confirmed} pending direct additions and left {left} joint ones for review; running again"
    );
    let report = rt.block_on(run::run(&opts))?;
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
            "  list {}: {} members ({} direct, {} joint): {} published, {} pending review, {} rejected; {} restricted persons, {} flagged entities",
            l.list_id, l.members, l.direct, l.joint, l.published, l.pending, l.rejected, l.restricted_persons, l.flagged_entities
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
    println!("\noutputs:");
    for o in &report.outputs {
        println!("  {}", o.display());
    }
    println!(
        "  {}",
        Warehouse::new(&args.warehouse)
            .root()
            .join("reports/quality")
            .join(format!("as_of={}", args.as_of))
            .join("quality.json")
            .display()
    );
    println!(
        "  {}  (the run ledger: credence runs --warehouse {})",
        args.warehouse.join("credence.db").display(),
        args.warehouse.display()
    );
    let w = args.warehouse.display();
    println!("\nofficer pages (the pending joint additions are in the review queue):");
    println!("  credence officers add YOUR-ID --role senior --warehouse {w}");
    println!("  credence serve --warehouse {w} --ui-listen 127.0.0.1:8081   then open http://127.0.0.1:8081/");
    Ok(ExitCode::SUCCESS)
}
