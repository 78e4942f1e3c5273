//! The nightly batch: `run`, `runs`, `backfill`, `schedule`, `gen`.

use std::path::Path;
use std::process::ExitCode;

use credence::base::error::Classify;
use credence::base::store::Store;
use credence::base::telemetry;
use credence::base::warehouse::Warehouse;
use credence::run::backfill::{self, DateOutcome};
use credence::run::schedule::{self, Clock};
use credence::tools::gen::{self, GenSummary};

use crate::args::{BackfillArgs, GenArgs, RunArgs};
use crate::failure::{CommandResult, Failure};
use crate::runtime::runtime;

pub fn run(args: &RunArgs) -> CommandResult {
    if args.dry_run {
        if args.settings.engine_kind != credence::base::engine::EngineKind::Local {
            // A dry run takes no lock and keeps its files outside the warehouse, where executors cannot read them.
            return Err(Failure::usage("--dry-run runs on the local engine: leave out --engine"));
        }
        return dry_run(args);
    }
    let opts = args.settings.lower("manual").lower(args.as_of)?;
    let report = runtime(opts.limits.threads)?.block_on(credence::run::run(&opts))?;
    println!("run {} as of {} succeeded", report.run_id, report.as_of);
    for s in &report.steps {
        println!("  {:<12} {:>9.2} s  {} rows", s.step, s.duration.as_secs_f64(), s.rows.unwrap_or(0));
    }
    for p in &report.publications {
        println!("  list {}: {}", p.list_id, p.outcome);
    }
    println!("outputs:");
    for o in &report.outputs {
        println!("  {}", o.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `run --dry-run`: what each list's publication would be tonight.
fn dry_run(args: &RunArgs) -> CommandResult {
    let mut settings = args.settings.lower("dry-run");
    // Nothing is signed: a key, when given, only checks the publications in force.
    settings.unsigned |= settings.signing_key.is_none();
    let opts = settings.lower(args.as_of)?;
    let (dir, report) = runtime(opts.limits.threads)?.block_on(credence::run::dry_run::dry_run(&opts))?;
    println!(
        "dry run as of {} (policy {} {}): nothing was written but {}",
        report.as_of,
        report.policy.id,
        report.policy.version,
        dir.display()
    );
    for d in &report.datasets {
        println!("  {:<12} {:>9} rows read, {} rejected", d.dataset, d.rows_read, d.rows_rejected);
    }
    if let Some(why) = &report.would_fail {
        println!("the run would fail: {why}");
        return Ok(ExitCode::SUCCESS);
    }
    for l in &report.lists {
        let reasons: Vec<String> = l.removed_by_reason.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!(
            "  list {}: would {} ({} entries): {} added, {} removed ({}), {} changed; {} additions would wait for review",
            l.list,
            match l.outcome.as_str() {
                "publish" => "publish",
                "unchanged" => "publish nothing new",
                _ => "not publish (a newer publication exists)",
            },
            l.entries,
            l.added,
            l.removed,
            if reasons.is_empty() { "-".to_string() } else { reasons.join(", ") },
            l.changed,
            l.awaiting_review
        );
    }
    println!("changes: {}", dir.join("changes.csv").display());
    Ok(ExitCode::SUCCESS)
}

pub fn impact(args: &crate::args::ImpactArgs) -> CommandResult {
    use credence::run::impact::{impact, ImpactOptions};
    let wh = Warehouse::existing(&args.warehouse)?;
    // The new policy first, with every problem at once: nothing runs if it has any.
    let policy = credence::run::load_policy(Some(&args.policy))?;
    let baseline = credence::run::load_policy(args.baseline.as_deref())?;
    if args.baseline.is_none() {
        let store = Store::open(&wh.database())?;
        if let Some((id, version, sha)) = store.last_success_policy()? {
            if sha != baseline.sha256 {
                return Err(Failure::input(format!(
                    "the newest successful run used policy {id} {version} (SHA-256 {sha}), not the embedded one: give it with --baseline FILE"
                )));
            }
        }
    }
    let public_key = match &args.public_key {
        Some(p) => Some(credence::base::sign::load_public_key(p)?),
        None => None,
    };
    let opts = ImpactOptions {
        warehouse: wh,
        as_of: args.as_of,
        baseline,
        policy,
        limits: args.engine.limits(),
        public_key,
        nights: args.nights,
    };
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let b = indicatif::ProgressBar::new(u64::from(opts.nights) + 1);
        b.set_style(indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}").expect("a valid template"));
        Some(b)
    } else {
        None
    };
    let step = |name: &str| {
        if let Some(b) = &bar {
            b.set_message(name.to_string());
            b.inc(1);
        }
        tracing::info!(step = name, "impact step");
    };
    let (dir, report) = runtime(opts.limits.threads)?.block_on(impact(&opts, &step))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    println!("{}", report.summary_zh);
    println!("{}", report.summary_en);
    println!("report: {}", dir.join("report.html").display());
    println!(
        "        {}  {}  {}",
        dir.join("report.json").display(),
        dir.join("changed.parquet").display(),
        dir.join("changed.csv").display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn runs(warehouse: &Path, limit: usize) -> CommandResult {
    let wh = Warehouse::existing(warehouse)?;
    if !wh.database().exists() {
        return Err(Failure::input(format!(
            "{} has no operational database: no run has been made there",
            warehouse.display()
        )));
    }
    let store = Store::open(&wh.database())?;
    println!(
        "{:>5}  {:<10}  {:<9}  {:<8}  {:<24}  {:<24}  policy",
        "run", "as_of", "outcome", "trigger", "started", "finished"
    );
    for r in store.runs(limit)? {
        println!(
            "{:>5}  {:<10}  {:<9}  {:<8}  {:<24}  {:<24}  {}",
            r.run_id,
            r.as_of,
            r.outcome,
            r.trigger,
            r.started_at,
            r.finished_at.unwrap_or_default(),
            r.policy
        );
        if let Some(e) = r.error {
            println!("       {}", e.lines().next().unwrap_or_default());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Generates with a progress bar on a terminal.
pub fn generate(args: &GenArgs) -> Result<GenSummary, Failure> {
    let o = args.options();
    let wh = Warehouse::new(&args.warehouse);
    let span = telemetry::progress_span("generate", o.entities, "entities");
    let _enter = span.enter();
    let progress = |done: u64| {
        use tracing_indicatif::span_ext::IndicatifSpanExt;
        span.pb_set_position(done);
    };
    let summary = gen::generate(&wh, &o, &progress)?;
    tracing::info!(
        entities = o.entities,
        nights = o.days,
        rows = summary.total(),
        files = summary.files,
        "generated {}",
        args.warehouse.display()
    );
    Ok(summary)
}

pub fn gen(args: &GenArgs) -> CommandResult {
    let s = generate(args)?;
    println!(
        "wrote {} rows in {} files to {}: registry {}, holdings {}, violations {}, complaints {}, repairs {}",
        s.total(),
        s.files,
        args.warehouse.join("landing").display(),
        s.registry,
        s.holdings,
        s.violations,
        s.complaints,
        s.repairs
    );
    Ok(ExitCode::SUCCESS)
}

pub fn schedule(
    jobs: &Path,
    metrics_listen: Option<String>,
    clock_start: Option<chrono::DateTime<chrono::Utc>>,
) -> CommandResult {
    let specs = credence::config::job::load_dir(jobs)?;
    let prepared = specs.into_iter().map(schedule::prepare).collect::<Result<Vec<_>, _>>()?;
    let threads = prepared.iter().map(|p| p.template.limits.threads).max().unwrap_or(2);
    let clock = clock_start.map(Clock::starting_at).unwrap_or_else(Clock::system);
    runtime(threads)?.block_on(schedule::run_daemon(
        prepared,
        metrics_listen,
        clock,
        credence::serve::shutdown::signal(),
    ))?;
    Ok(ExitCode::SUCCESS)
}

pub fn backfill(args: &BackfillArgs) -> CommandResult {
    if args.from > args.to {
        return Err(Failure::usage(format!("--from {} is after --to {}", args.from, args.to)));
    }
    let template = args.settings.lower("backfill").lower(args.from)?;
    let result =
        runtime(template.limits.threads)?.block_on(backfill::backfill(&template, args.from, args.to, |d, o| match o {
            DateOutcome::AlreadyDone => println!("{d}: already done"),
            DateOutcome::Ran { run_id, publications } => {
                println!("{d}: run {run_id} succeeded; {}", publications.join("; "))
            }
        }));
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err((date, e)) => {
            eprintln!("error: {date}: {e}\nthe backfill stopped at {date}; run the same command again to resume");
            Ok(ExitCode::from(e.kind().exit_code()))
        }
    }
}
