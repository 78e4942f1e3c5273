//! `credence bench`: generates a warehouse once (cached by its parameters),
//! runs the nightly job itself for each generated night (the last one a
//! new night as in production) and prints its wall time and peak; then
//! times validation, scoring and the graph step separately, and a
//! policy's impact, with rows per second and the peak resident memory of
//! each.

use std::path::PathBuf;
use std::time::Instant;

use credence::base::contract::{Contracts, Dataset};
use credence::base::engine;
use credence::base::engine::EngineKind;
use credence::base::ids::AsOf;
use credence::base::tables::{Inputs, Rows};
use credence::base::telemetry::{reset_peak_memory, Memory};
use credence::base::warehouse::{StagedDir, Warehouse};
use credence::config::policy::Policy;
use credence::run::{keep_columns, load_policy, register_inputs, RunSettings, DEFAULT_MAX_REJECT_SHARE};
use credence::stages::joint;
use credence::stages::score;
use credence::stages::validate;

use crate::args::{BenchArgs, GenArgs};
use crate::commands::batch::generate;
use crate::failure::{CommandResult, Context, Failure};
use crate::runtime::runtime;

fn gib(bytes: Option<u64>) -> String {
    bytes.map(|b| format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64)).unwrap_or_else(|| "n/a".into())
}

pub fn bench(args: &BenchArgs) -> CommandResult {
    let as_of: AsOf = "2026-11-27".parse().expect("date");
    let dir = generated_warehouse(args, as_of)?;
    let wh = Warehouse::new(&dir);
    let policy = load_policy(None)?;
    let contracts = Contracts::load()?;
    let limits = args.engine.limits();
    let rt = runtime(limits.threads)?;
    // First the nightly job as it runs in production; then each stage on
    // its own, from the landing zone alone again.
    nights(&dir, args, as_of, limits, &rt)?;
    landing_only(&dir)?;

    let (mut inputs, staged_marts, mut nightly) = time_validation(&wh, &contracts, &policy, as_of)?;
    let read: u64 = inputs.all().iter().map(|v| v.report.rows_read).sum();
    if args.validation_plans {
        time_plans(&rt, limits, &contracts, &inputs, read)?;
    }
    let out = tempfile::tempdir_in(&dir)?;
    let (scored, secs) = time_scoring(&rt, limits, &policy, as_of, &inputs, out.path())?;
    nightly += secs;
    nightly += time_graph(&policy, &mut inputs, &scored);

    // Impact: the embedded policy against itself with V_GRAVE's points
    // doubled, from the landing zone again, once the night's tables are gone.
    drop((scored, out, inputs, staged_marts));
    time_impact(&rt, &wh, &contracts, &policy, as_of, limits, read, nightly)?;
    landing_only(&dir)?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// The warehouse bench runs on: generated with `args`' parameters, or the
/// one generated before with the same (`bench.json` names them).
/// Refuses a folder bench did not make that is not empty.
fn generated_warehouse(args: &BenchArgs, as_of: AsOf) -> Result<PathBuf, Failure> {
    let dir = args
        .warehouse
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("target/bench/{}x{}", args.entities, args.days)));
    let marker = dir.join("bench.json");
    let params = serde_json::json!({"entities": args.entities, "days": args.days, "seed": args.seed, "as_of": as_of.to_string(), "generator": 1});
    let cached = std::fs::read_to_string(&marker).ok().and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        == Some(params.clone());
    println!(
        "bench: {} entities, {} nights, seed {}, warehouse {}",
        args.entities,
        args.days,
        args.seed,
        dir.display()
    );
    if cached && !args.regenerate {
        println!("generate  (cached)");
        return Ok(dir);
    }
    // Only a warehouse bench made is made again: any other folder (a real
    // warehouse passed by mistake) is left as it is.
    let made_here = marker.exists();
    // A folder that cannot be read, or a file, counts as not empty.
    let empty = match std::fs::read_dir(&dir) {
        Ok(mut entries) => entries.next().is_none(),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    };
    if !made_here && !empty {
        return Err(Failure::usage(format!(
            "bench: {} is not a warehouse that bench generated (it has no bench.json) and is not an empty \
             folder: bench would replace it; give --warehouse a new or empty folder",
            dir.display()
        )));
    }
    let _ = std::fs::remove_dir_all(&dir);
    let started = Instant::now();
    let g = generate(&GenArgs {
        warehouse: dir.clone(),
        entities: args.entities,
        days: args.days,
        seed: args.seed,
        as_of,
        bad_rate: 0.001,
        violations_per_entity: 1.5,
        complaints_per_entity: 1.0,
        chunk: 250_000,
    })?;
    let secs = started.elapsed().as_secs_f64();
    println!("generate  {:>12} rows  {secs:>8.2} s  {:>10.0} rows/s", g.total(), g.total() as f64 / secs);
    std::fs::write(&marker, params.to_string())?;
    Ok(dir)
}

/// Validation alone, as a run does it: prints its rows per second, its
/// peak, and where each dataset's table is held; gives the inputs, the
/// staged marts and the seconds it took.
fn time_validation(
    wh: &Warehouse,
    contracts: &Contracts,
    policy: &Policy,
    as_of: AsOf,
) -> Result<(Inputs, Vec<StagedDir>, f64), Failure> {
    reset_peak_memory();
    let started = Instant::now();
    let keep = |d: Dataset| keep_columns(policy, d);
    let (mut inputs, staged_marts) = credence::run::validate_landing(
        wh,
        contracts,
        as_of,
        &keep,
        credence::run::ValidationMarts::Staged,
        &credence::base::landing_file::Seal::new(),
    )
    .context("validation")?;
    let secs = started.elapsed().as_secs_f64();
    let read: u64 = inputs.all().iter().map(|v| v.report.rows_read).sum();
    let rejected: u64 = inputs.all().iter().map(|v| v.report.rows_rejected).sum();
    println!(
        "validate  {read:>12} rows  {secs:>8.2} s  {:>10.0} rows/s  peak RSS {}  ({rejected} rejected)",
        read as f64 / secs,
        gib(Memory::now().peak)
    );
    for v in inputs.all() {
        let (bytes, place) = match &v.rows {
            Rows::Memory(batches) => {
                (batches.iter().map(|b| b.get_array_memory_size() as u64).sum::<u64>(), "in memory")
            }
            Rows::File { path, .. } => {
                let files = std::fs::read_dir(path).into_iter().flatten().flatten();
                (files.filter_map(|f| f.metadata().ok()).map(|m| m.len()).sum(), "on disk for the engine")
            }
            Rows::Released { .. } => (0, "released"),
        };
        println!(
            "          {:<11} {:>12} read {:>12} current  {:>7.0} MiB {place}",
            v.report.dataset,
            v.report.rows_read,
            v.report.rows_current,
            bytes as f64 / (1 << 20) as f64
        );
    }
    // As in a run: the graph's parents were looked up in validation.
    inputs.entities.drop_table();
    engine::return_free_memory();
    println!("          resident now {}", gib(Memory::now().resident));
    Ok((inputs, staged_marts, secs))
}

/// Validation's plans on the same landing zone, with the validated tables
/// held: their rows per second, peak, and whether their verdicts are the
/// native validation's.
fn time_plans(
    rt: &tokio::runtime::Runtime,
    limits: engine::EngineLimits,
    contracts: &Contracts,
    inputs: &Inputs,
    read: u64,
) -> Result<(), Failure> {
    reset_peak_memory();
    let started = Instant::now();
    let selections = Dataset::ALL.map(|d| inputs.get(d).selection.clone());
    let verdicts = rt.block_on(async {
        let engine = engine::Engine::local(limits)?;
        Ok::<_, Failure>(validate::judge_inputs(&engine, contracts, &selections).await?)
    })?;
    let secs = started.elapsed().as_secs_f64();
    let differences: Vec<String> = verdicts
        .iter()
        .filter_map(|v| v.difference(inputs.get(v.dataset)).map(|d| format!("{}: {d}", v.dataset)))
        .collect();
    println!(
        "plans     {read:>12} rows  {secs:>8.2} s  {:>10.0} rows/s  peak RSS {} (with the validated tables held)  {}",
        read as f64 / secs,
        gib(Memory::now().peak),
        match differences.first() {
            None => "the same verdicts as the native validation".to_string(),
            Some(d) => format!("DIFFERENT verdicts: {d}"),
        }
    );
    engine::return_free_memory();
    Ok(())
}

/// Scoring alone, its mart written to `out`: its rows per second and peak;
/// gives the scores and the seconds it took.
fn time_scoring(
    rt: &tokio::runtime::Runtime,
    limits: engine::EngineLimits,
    policy: &Policy,
    as_of: AsOf,
    inputs: &Inputs,
    out: &std::path::Path,
) -> Result<(score::Scored, f64), Failure> {
    reset_peak_memory();
    let started = Instant::now();
    let scored = rt.block_on(async {
        let engine = engine::Engine::local(limits)?;
        register_inputs(&engine, inputs)?;
        Ok::<_, Failure>(score::score(&engine, policy, as_of, &inputs.entities, out).await?)
    })?;
    let secs = started.elapsed().as_secs_f64();
    let event_rows: usize =
        [Dataset::Violations, Dataset::Complaints, Dataset::Repairs].iter().map(|d| inputs.get(*d).num_rows()).sum();
    let rows = event_rows + inputs.registry.num_rows();
    println!(
        "score     {rows:>12} rows  {secs:>8.2} s  {:>10.0} rows/s  peak RSS {}  ({} entities scored)",
        rows as f64 / secs,
        gib(Memory::now().peak),
        scored.summary.entities_scored
    );
    engine::return_free_memory();
    Ok((scored, secs))
}

/// The graph step alone: the graph built from the inputs' parents and
/// shares (taken), and every list's rounds and legal representatives;
/// prints its edges, time and the memory it added; gives the seconds.
fn time_graph(policy: &Policy, inputs: &mut Inputs, scored: &score::Scored) -> f64 {
    reset_peak_memory();
    let before = Memory::now().resident;
    let started = Instant::now();
    let graph = joint::build_graph(std::mem::take(&mut inputs.parents), std::mem::take(&mut inputs.shares));
    let built = started.elapsed().as_secs_f64();
    let mut members = 0;
    let mut related = 0;
    for list in &policy.lists {
        let outcome = joint::list_outcome(
            &graph,
            policy,
            list,
            &scored.grades.grade,
            &|e| scored.grades.in_scope(e),
            &|_| false,
            &inputs.legal_reps,
            &inputs.entities,
        );
        members += outcome.members.len();
        related += outcome.related.len();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "graph     {:>12} edges {secs:>8.2} s  (build {built:.2} s, rounds and legal representatives {:.2} s)  peak RSS {} = {} held before + {} for the step  ({members} members, {related} restricted or flagged)",
        graph.owns.edge_count() + graph.branches.edge_count(),
        secs - built,
        gib(Memory::now().peak),
        gib(before),
        gib(Memory::now().peak.zip(before).map(|(p, b)| p.saturating_sub(b)))
    );
    secs
}

/// A policy's impact (the embedded policy against itself with V_GRAVE's
/// points doubled) from the landing zone: its rows per second, peak, and
/// how it compares with the `nightly` seconds of validation, scoring and
/// the graph.
#[allow(clippy::too_many_arguments)]
fn time_impact(
    rt: &tokio::runtime::Runtime,
    wh: &Warehouse,
    contracts: &Contracts,
    policy: &Policy,
    as_of: AsOf,
    limits: engine::EngineLimits,
    read: u64,
    nightly: f64,
) -> Result<(), Failure> {
    engine::return_free_memory();
    reset_peak_memory();
    let doubled = credence::config::policy::Policy::parse(
        "bench-doubled.yaml",
        &credence::config::policy::DEFAULT_POLICY.replace("points: 40", "points: 80"),
        contracts,
    )?;
    let opts = credence::run::impact::ImpactOptions {
        warehouse: wh.clone(),
        as_of,
        baseline: policy.clone(),
        policy: doubled,
        limits,
        public_key: None,
        nights: 1,
    };
    let started = Instant::now();
    let (report_dir, report) = rt.block_on(credence::run::impact::impact(&opts, &|_| {}))?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "impact    {read:>12} rows  {secs:>8.2} s  {:>10.0} rows/s  peak RSS {}  ({} changed, {} change grade)  {:.2}x validate+score+graph ({nightly:.2} s)",
        read as f64 / secs,
        gib(Memory::now().peak),
        report.changed,
        report.grade_changed,
        secs / nightly
    );
    let _ = std::fs::remove_dir_all(report_dir);
    Ok(())
}

/// Removes what runs wrote in bench's own warehouse (marts, publications,
/// ledger, reports), keeping its landing zone.
fn landing_only(dir: &std::path::Path) -> Result<(), Failure> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == "landing" || name == "bench.json" {
            continue;
        }
        match entry.file_type()?.is_dir() {
            true => std::fs::remove_dir_all(entry.path())?,
            false => std::fs::remove_file(entry.path())?,
        }
    }
    Ok(())
}

/// The nightly job itself (`credence run`, unsigned), night after night
/// over the generated days up to `last`, from a warehouse that holds only the landing
/// zone: each night reads the events of every night so far, writes its
/// own partition's record marts, a new registry snapshot's mart, scores
/// and lists, and publishes, as in production. Prints each night's wall
/// time, steps and peak resident memory.
fn nights(
    dir: &std::path::Path,
    args: &BenchArgs,
    last: AsOf,
    limits: engine::EngineLimits,
    rt: &tokio::runtime::Runtime,
) -> Result<(), Failure> {
    landing_only(dir)?;
    let settings = RunSettings {
        warehouse: dir.to_path_buf(),
        policy: None,
        partners: None,
        signing_key: None,
        unsigned: true,
        limits,
        engine: EngineKind::Local,
        engine_scratch: None,
        max_reject_share: DEFAULT_MAX_REJECT_SHARE,
        validation_plans: false,
        plans_make_tables: args.plans_make_tables,
        trigger: "bench".into(),
    };
    for n in 0..args.days {
        let night = last.plus_days(n as i64 + 1 - args.days as i64);
        let opts = settings.lower(night)?;
        engine::return_free_memory();
        reset_peak_memory();
        let started = Instant::now();
        let report = rt.block_on(credence::run::run(&opts))?;
        let secs = started.elapsed().as_secs_f64();
        let read: u64 = report.quality.datasets.iter().map(|d| d.rows_read).sum();
        let steps: Vec<String> =
            report.steps.iter().map(|s| format!("{} {:.2} s", s.step, s.duration.as_secs_f64())).collect();
        println!(
            "night     {read:>12} rows  {secs:>8.2} s  {:>10.0} rows/s  peak RSS {}  ({night}, run {}: the events of {} \
             night{} read, its own written to the record marts; {}; {})",
            read as f64 / secs,
            gib(Memory::now().peak),
            report.run_id,
            n + 1,
            if n == 0 { "" } else { "s" },
            steps.join(", "),
            report.publications.iter().map(|p| format!("{}: {}", p.list_id, p.outcome)).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(())
}
