//! A nightly run as of date D, the only place that knows the order of the
//! stages:
//!
//! ```text
//! landing ──validate──▶ accepted tables (memory) ──score──▶ grades ──graph, rounds──▶ lists
//!    │                                                                 │  review (decisions)
//!    └──▶ quarantine/<ds>/as_of=D/, reports/quality/as_of=D/          ▼
//!         (always, even when the rejection         marts/scores/, marts/listings/list=L/,
//!          threshold fails the run)                marts/related/list=L/  (committed together)
//! ```
//!
//! Every output partition is staged and renamed into place whole; the marts
//! of a run are committed together after every stage succeeded. The run,
//! what it read, rejected and produced, and the decisions it used go into
//! the ledger.

pub mod backfill;
pub mod dry_run;
#[cfg(test)]
mod engine_scratch_tests;
pub mod impact;
mod lists;
pub mod metrics;
pub mod options;
pub mod schedule;
pub mod summary;
#[cfg(test)]
mod validate_tests;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::error::DataFusionError;
use tracing::{info, info_span, Instrument};

use crate::base::contract::{Contract, Contracts, Dataset};
use crate::base::engine::registered::RegisteredIds;
use crate::base::engine::{self, Engine};
use crate::base::entities::EntityIndex;
use crate::base::error::{Classify, ErrorKind};
use crate::base::ids::AsOf;
use crate::base::landing_file::{Seal, Selection};
use crate::base::lock::{LockError, RunLock};
use crate::base::marts;
use crate::base::marts::listings::{self, ListingRow, ReviewStatus, Stamp};
use crate::base::marts::related;
use crate::base::store::{Decision, PolicyRef, RunId, Store, StoreError};
use crate::base::tables::{Inputs, QualityReport, Reject, Rows, Share, Validated};
use crate::base::warehouse::StagedDir;
use crate::base::warehouse::{Mart, Warehouse};
use crate::config::policy::ListSpec;
use crate::config::policy::{EventDataset, Policy};
use crate::stages::joint;
use crate::stages::landing::{self, LandingError};
use crate::stages::publish::entries::RemovalFacts;
use crate::stages::publish::files::{InputInfo, PartitionInfo};
use crate::stages::publish::{self, PublishError};
use crate::stages::quarantine::{self, QuarantineError};
use crate::stages::review::DecisionBook;
use crate::stages::score::{self, ScoreError, ScoreSummary};
use crate::stages::validate::{self, ReadError};
pub use options::{load_policy, RunOptions, RunSettings, SettingsError, DEFAULT_MAX_REJECT_SHARE};
pub use summary::{ListSummary, PublicationSummary, RunSummary};

/// What a successful run produced.
#[derive(Clone, Debug)]
pub struct RunReport {
    pub run_id: RunId,
    pub as_of: AsOf,
    pub quality: QualityReport,
    pub scores: ScoreSummary,
    pub lists: Vec<ListSummary>,
    pub publications: Vec<PublicationSummary>,
    pub outputs: Vec<PathBuf>,
    pub steps: Vec<StepTiming>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct StepTiming {
    pub step: String,
    pub duration: Duration,
    pub rows: Option<u64>,
}

/// Why a run failed. Only transient failures ([`Classify::retryable`]) are
/// worth running again unchanged.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(
        "no signing key: set {} or pass --signing-key, or pass --unsigned for a development warehouse",
        crate::base::sign::KEY_ENV
    )]
    NoSigningKey,
    #[error(transparent)]
    Locked(#[from] LockError),
    #[error(transparent)]
    Landing(#[from] LandingError),
    #[error(transparent)]
    Validate(#[from] ReadError),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error("the rejection threshold was exceeded (more than {:.1}% of the rows read): {}; the quarantine and the data-quality report were written, nothing else", share * 100.0, datasets.join("; "))]
    Threshold { share: f64, datasets: Vec<String> },
    #[error(transparent)]
    Quarantine(#[from] QuarantineError),
    #[error(transparent)]
    Score(#[from] ScoreError),
    /// Not the source of the chain: DataFusion's message already holds its
    /// causes, and the run's ledger keeps this one line.
    #[error("query engine: {0}")]
    Engine(DataFusionError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Plans(#[from] validate::PlanError),
    #[error("validation's plans and its native checks disagree on {dataset}: {difference}; nothing was written (a bug: keep the landing files and report it)")]
    PlansDisagree { dataset: Dataset, difference: String },
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("{what}: {source}")]
    Parquet { what: String, source: parquet::errors::ParquetError },
    #[error(transparent)]
    Mart(#[from] marts::MartError),
}

impl From<DataFusionError> for RunError {
    fn from(e: DataFusionError) -> RunError {
        RunError::Engine(e)
    }
}

impl Classify for RunError {
    fn kind(&self) -> ErrorKind {
        match self {
            RunError::NoSigningKey | RunError::Landing(_) | RunError::Threshold { .. } => ErrorKind::Input,
            RunError::Locked(e) => e.kind(),
            RunError::Validate(e) => e.kind(),
            RunError::Settings(e) => e.kind(),
            RunError::Publish(e) => e.kind(),
            RunError::Quarantine(e) => e.kind(),
            RunError::Score(e) => e.kind(),
            RunError::Engine(e) => e.kind(),
            RunError::Store(e) => e.kind(),
            RunError::Io { source, .. } => Classify::kind(source),
            RunError::Parquet { source, .. } => source.kind(),
            RunError::Mart(e) => e.kind(),
            RunError::Plans(e) => e.kind(),
            RunError::PlansDisagree { .. } => ErrorKind::Bug,
        }
    }
}

/// The contract columns each stage needs of each dataset.
pub fn keep_columns(policy: &Policy, dataset: Dataset) -> Vec<String> {
    let mut cols: Vec<String> = match dataset {
        Dataset::Registry => Vec::new(),
        Dataset::Holdings => ["holder_id", "holder_kind", "share_pct"].map(String::from).to_vec(),
        Dataset::Violations => ["case_id", "decided_on"].map(String::from).to_vec(),
        Dataset::Complaints => ["complaint_id", "received_on"].map(String::from).to_vec(),
        Dataset::Repairs => ["case_id", "approved_on"].map(String::from).to_vec(),
    };
    let mut add = |names: std::collections::BTreeSet<String>| {
        for n in names {
            if !cols.contains(&n) {
                cols.push(n);
            }
        }
    };
    match dataset {
        Dataset::Registry => {
            if let Some(s) = &policy.scope {
                add(s.columns());
            }
        }
        Dataset::Violations | Dataset::Complaints => {
            let wanted =
                if dataset == Dataset::Violations { EventDataset::Violations } else { EventDataset::Complaints };
            for r in policy.rules.iter().filter(|r| r.dataset == wanted) {
                add(r.predicate.columns());
            }
            for g in policy.direct_grades.iter().filter(|g| g.dataset == wanted) {
                add(g.predicate.columns());
            }
        }
        _ => {}
    }
    cols
}

/// Which marts validation writes as it reads the landing zone.
#[derive(Clone, Copy, Debug)]
pub enum ValidationMarts<'a> {
    /// The registry and records marts, staged into the warehouse (a run, the benchmark).
    Staged,
    /// None (a dry run).
    Nothing,
    /// Some registry columns alone, into a Parquet file of the caller's
    /// (impact reads its report's names there at the end instead of
    /// holding them meanwhile).
    RegistryColumns(&'a std::path::Path, &'a [&'a str]),
}

/// Chooses the landing partitions of a run as of `as_of`, checks every
/// file, and validates the five datasets: the one trip through the
/// landing files.
/// The staged marts validation writes are returned, to be committed with
/// the run's other marts.
pub fn validate_landing(
    wh: &Warehouse,
    contracts: &Contracts,
    as_of: AsOf,
    keep: &dyn Fn(Dataset) -> Vec<String>,
    marts_out: ValidationMarts,
    seal: &Seal,
) -> Result<(Inputs, Vec<StagedDir>), RunError> {
    validate_landing_with(wh, contracts, as_of, keep, marts_out, seal, None)
}

/// [`validate_landing`], every dataset judged by `by_plans` when given
/// (their plans, `--plans-make-tables`).
pub fn validate_landing_with(
    wh: &Warehouse,
    contracts: &Contracts,
    as_of: AsOf,
    keep: &dyn Fn(Dataset) -> Vec<String>,
    marts_out: ValidationMarts,
    seal: &Seal,
    by_plans: Option<&dyn validate::ByPlans>,
) -> Result<(Inputs, Vec<StagedDir>), RunError> {
    let selections = landing::select_all(wh, contracts, as_of, seal)?;
    let io = |what: String| move |source| RunError::Io { what, source };
    let mut staged = Vec::new();
    let write_marts = matches!(marts_out, ValidationMarts::Staged);
    let registry = if write_marts {
        Some(wh.stage(wh.mart(Mart::Registry, as_of)).map_err(io("staging the registry mart".into()))?)
    } else {
        None
    };
    let registry_out = match marts_out {
        ValidationMarts::Staged => registry.as_ref().map(|d| validate::RegistryOut::Mart(d.path())),
        ValidationMarts::RegistryColumns(file, columns) => Some(validate::RegistryOut::Columns(file, columns)),
        ValidationMarts::Nothing => None,
    };
    // Records are written for the event partitions that have none, or whose files changed.
    let mut records: Vec<(Dataset, Vec<Option<PathBuf>>)> = Vec::new();
    let mut record_dirs: Vec<(StagedDir, Dataset, usize)> = Vec::new();
    if write_marts {
        for d in marts::records::DATASETS {
            let mut dirs = Vec::new();
            for (i, p) in selections[d as usize].partitions.iter().enumerate() {
                if marts::records::up_to_date(wh, d, p) {
                    dirs.push(None);
                } else {
                    let dir = wh
                        .stage(marts::records::partition_dir(wh, d, p.ingest_date))
                        .map_err(io(format!("staging the records of {d} ingest_date={}", p.ingest_date)))?;
                    dirs.push(Some(dir.path().to_path_buf()));
                    record_dirs.push((dir, d, i));
                }
            }
            records.push((d, dirs));
        }
    }
    // The validated events go to a run-scoped folder: under the staging
    // area for a run (cleared under the lock if the process dies), in the
    // system's temporary folder for what takes no lock.
    let scratch = if write_marts {
        std::fs::create_dir_all(wh.staging_root())
            .and_then(|()| tempfile::Builder::new().prefix("validated-").tempdir_in(wh.staging_root()))
    } else {
        tempfile::Builder::new().prefix("credence-validated-").tempdir()
    }
    .map_err(io("a folder for the validated events".into()))?;
    let out = validate::Outputs { registry: registry_out, records: &records, events: Some(scratch.path()), by_plans };
    let mut inputs = validate::validate_inputs(contracts, selections, keep, &out)?;
    inputs.scratch = Some(scratch);
    for (dir, d, i) in record_dirs {
        let partition = &inputs.get(d).selection.partitions[i];
        marts::records::write_sources(dir.path(), partition)
            .map_err(io(format!("writing the sources of the records of {d}")))?;
        staged.push(dir);
    }
    staged.extend(registry);
    Ok((inputs, staged))
}

/// Validation's plans judging every dataset and making the violations',
/// repairs', complaints' and holdings' tables on an engine of the run's
/// (`--plans-make-tables`): the events' tables go to `dir`, which lives
/// until scoring has read them.
struct PlansOnEngine {
    engine: Engine,
    dir: tempfile::TempDir,
    /// The run's runtime, which the plans run on from validation's thread.
    runtime: tokio::runtime::Handle,
}

impl PlansOnEngine {
    /// An engine of the run's for the plans, its tables in a folder of
    /// their own under the run's `engine_scratch` (else the warehouse's
    /// staging area).
    async fn start(opts: &RunOptions, engine_scratch: Option<&tempfile::TempDir>) -> Result<PlansOnEngine, RunError> {
        let root = match engine_scratch {
            Some(dir) => dir.path().to_path_buf(),
            None => opts.warehouse.staging_root(),
        };
        let io =
            |source| RunError::Io { what: format!("a folder for the plans' tables in {}", root.display()), source };
        std::fs::create_dir_all(&root).map_err(io)?;
        let dir = tempfile::Builder::new().prefix("plans-").tempdir_in(&root).map_err(io)?;
        let engine = Engine::connect(&opts.engine, opts.limits, &dir.path().join("engine")).await?;
        Ok(PlansOnEngine { engine, dir, runtime: tokio::runtime::Handle::current() })
    }
}

impl validate::ByPlans for PlansOnEngine {
    fn registry(&self, contract: &Contract, selection: &Selection) -> Result<Vec<Reject>, ReadError> {
        Ok(self.runtime.block_on(validate::judge_registry(&self.engine, contract, selection))?)
    }

    fn register(&self, entities: &Arc<EntityIndex>) -> Result<RegisteredIds, ReadError> {
        let path = self.dir.path().join("registered-ids");
        RegisteredIds::write(entities, &path).map_err(|e| ReadError::Scratch {
            what: format!("writing the registered ids to {}", path.display()),
            source: e.into(),
        })
    }

    fn events(
        &self,
        contract: &Contract,
        selection: Selection,
        keep: &[&str],
        registered: &RegisteredIds,
        violations: Option<&Validated>,
    ) -> Result<Validated, ReadError> {
        let folder = self.dir.path().join("tables").join(contract.dataset.name());
        let judged =
            validate::judge_into_table(&self.engine, contract, selection, keep, registered, violations, &folder);
        Ok(self.runtime.block_on(judged)?)
    }

    fn holdings(
        &self,
        contract: &Contract,
        selection: Selection,
        keep: &[&str],
        registered: &RegisteredIds,
    ) -> Result<(Validated, Vec<Share>), ReadError> {
        Ok(self.runtime.block_on(validate::judge_holdings(&self.engine, contract, selection, keep, registered))?)
    }
}

/// A folder of this run's, removed when dropped, in this warehouse's folder
/// under the engine scratch root `root` (cleared under the run lock if the
/// process dies).
fn run_scratch_in(wh: &Warehouse, root: &Path) -> Result<tempfile::TempDir, RunError> {
    let io = |source| RunError::Io { what: format!("a folder for the engine's tables in {}", root.display()), source };
    let mine = wh.engine_scratch(root).map_err(io)?;
    std::fs::create_dir_all(&mine).map_err(io)?;
    tempfile::Builder::new().prefix("run-").tempdir_in(&mine).map_err(io)
}

/// Runs the nightly batch as of `opts.as_of`.
pub async fn run(opts: &RunOptions) -> Result<RunReport, RunError> {
    if !opts.policy.lists.is_empty() && opts.signer.is_none() && !opts.unsigned {
        return Err(RunError::NoSigningKey);
    }
    let wh = &opts.warehouse;
    // One run at a time per warehouse; whatever a crashed run left is cleared under the lock.
    let _lock = RunLock::acquire(wh, &format!("credence {} run as of {}", opts.trigger, opts.as_of))?;
    wh.clear_staging().map_err(|source| RunError::Io { what: "clearing .staging".into(), source })?;
    if let Some(root) = &opts.engine_scratch {
        wh.clear_engine_scratch(root).map_err(|source| RunError::Io {
            what: format!("clearing this warehouse's folder in {}", root.display()),
            source,
        })?;
    }
    let store = Store::open(&wh.database())?;
    store.mark_interrupted()?;
    let policy = &opts.policy;
    let run_id = store.begin_run(
        opts.as_of,
        &opts.trigger,
        &PolicyRef { id: &policy.id, version: &policy.version, sha256: &policy.sha256 },
    )?;
    let span = info_span!("run", run_id = run_id.0, as_of = %opts.as_of, policy = %policy.id);
    let result = run_stages(opts, &store, run_id).instrument(span).await;
    match &result {
        Ok(report) => {
            let summary = RunSummary {
                scores: report.scores.clone(),
                lists: report.lists.clone(),
                publications: report.publications.clone(),
                rejected_by_code: report.quality.rejected_by_code(),
            };
            store.finish_run(run_id, true, None, Some(&summary.to_json()))?;
            info!(run_id = run_id.0, as_of = %opts.as_of, outcome = "succeeded", entities = report.scores.entities_scored, "run finished");
        }
        Err(e) => {
            store.finish_run(run_id, false, Some(&e.to_string()), None)?;
            tracing::error!(run_id = run_id.0, as_of = %opts.as_of, outcome = "failed", retryable = e.retryable(), error = %e, "run failed");
        }
    }
    result
}

/// Times a step, records it in the ledger and in a tracing span.
struct Steps<'a> {
    store: &'a Store,
    run: RunId,
    done: Vec<StepTiming>,
    /// A progress bar of the steps on a terminal.
    progress: tracing::Span,
}

/// The steps of a run, in order.
pub const STEPS: [&str; 6] = ["validate", "quarantine", "score", "graph", "lists", "publish"];

impl Steps<'_> {
    fn record(&mut self, step: &str, started: Instant, rows: Option<u64>) -> Result<(), RunError> {
        let duration = started.elapsed();
        self.store.record_step(self.run, step, duration, rows)?;
        let memory = crate::base::telemetry::Memory::now();
        info!(
            step,
            rows,
            duration_ms = duration.as_millis() as u64,
            resident_mib = memory.resident_mib(),
            peak_mib = memory.peak_mib(),
            "step finished"
        );
        self.done.push(StepTiming { step: step.to_string(), duration, rows });
        use tracing_indicatif::span_ext::IndicatifSpanExt;
        self.progress.pb_inc(1);
        // The cross-check of validation, when asked for, comes between
        // validation and the quarantine.
        let step = if step == "validation_plans" { "validate" } else { step };
        if let Some(next) = STEPS.iter().skip_while(|s| **s != step).nth(1) {
            self.progress.pb_set_message(next);
        }
        Ok(())
    }
}

async fn run_stages(opts: &RunOptions, store: &Store, run_id: RunId) -> Result<RunReport, RunError> {
    let wh = &opts.warehouse;
    let policy = &opts.policy;
    let as_of = opts.as_of;
    let contracts = Contracts::load().expect("embedded contracts are valid");
    let progress = crate::base::telemetry::progress_span(
        "run",
        (STEPS.len() + usize::from(opts.validation_plans)) as u64,
        "steps",
    );
    let mut steps = Steps { store, run: run_id, done: Vec::new(), progress };
    // A cluster that is down or does not trust this node fails the run
    // now, not after validation.
    Engine::reach(&opts.engine).await?;
    // A run uses the decisions made before it started.
    let decisions_through = store.last_decision_id()?;
    store.record_decisions_used(run_id, decisions_through)?;

    // Validate: file-level faults stop here, before anything is written.
    // After the quarantine, no landing file is read again (the seal).
    let seal = Seal::new();
    let started = Instant::now();
    let keep = |d: Dataset| keep_columns(policy, d);
    // The engine's tables go to a folder of this run's (a cluster's
    // executors read them there, and write them with --validation-plans
    // and --plans-make-tables): under the operators' engine scratch root,
    // else in the warehouse's staging area. Every node sees either at the
    // same path.
    let engine_scratch = opts.engine_scratch.as_deref().map(|root| run_scratch_in(wh, root)).transpose()?;
    // Every dataset judged by its plans: on an engine of their own, the
    // events' tables in a folder of this run's that lives until scoring
    // is done.
    let plans = match opts.plans_make_tables {
        false => None,
        true => Some(PlansOnEngine::start(opts, engine_scratch.as_ref()).await?),
    };
    let (mut inputs, mut staged) = info_span!("step", name = "validate").in_scope(|| {
        tokio::task::block_in_place(|| {
            let by_plans = plans.as_ref().map(|p| p as &dyn validate::ByPlans);
            validate_landing_with(wh, &contracts, as_of, &keep, ValidationMarts::Staged, &seal, by_plans)
        })
    })?;
    let read = record_validation(store, run_id, &inputs)?;
    steps.record("validate", started, Some(read))?;
    let shared = match (&engine_scratch, &inputs.scratch) {
        (Some(dir), _) | (None, Some(dir)) => dir.path().join("engine"),
        (None, None) => wh.staging_root().join("engine"),
    };
    if opts.validation_plans {
        let started = Instant::now();
        let engine = Engine::connect(&opts.engine, opts.limits, &shared.join("validation-plans")).await?;
        cross_check(&engine, &contracts, &inputs).instrument(info_span!("step", name = "validation_plans")).await?;
        steps.record("validation_plans", started, Some(read))?;
    }
    inputs.entities.drop_table();
    engine::return_free_memory();

    // Quarantine and the data-quality report: always written.
    let started = Instant::now();
    let quality = QualityReport {
        as_of: as_of.to_string(),
        max_reject_share: opts.max_reject_share,
        datasets: inputs.all().iter().map(|v| v.report.clone()).collect(),
    };
    let (rejected, mut outputs) =
        info_span!("step", name = "quarantine").in_scope(|| write_quarantine(wh, &inputs, &quality, as_of))?;
    steps.record("quarantine", started, Some(rejected))?;
    seal.close();
    within_threshold(&quality)?;

    // Score.
    let started = Instant::now();
    let engine = Engine::connect(&opts.engine, opts.limits, &shared).await?;
    register_inputs(&engine, &inputs)?;
    let io = |what: String| move |source| RunError::Io { what, source };
    let scores_dir = wh.stage(wh.mart(Mart::Scores, as_of)).map_err(io("staging the scores mart".into()))?;
    let scored = score::score(&engine, policy, as_of, &inputs.entities, scores_dir.path())
        .instrument(info_span!("step", name = "score"))
        .await?;
    steps.record("score", started, Some(scored.summary.entities_scored))?;
    // The scores are in their mart now; the lists read only the grades.
    let score::Scored { grades, summary: scores_summary, score } = scored;
    drop(score);
    drop(engine);
    drop(plans);
    drop(engine_scratch);
    // Scoring was the registry table's last reader: the lists read the
    // entity index, the legal representatives and the repairs.
    inputs.registry.release();
    engine::return_free_memory();

    // Graph.
    let started = Instant::now();
    let graph = info_span!("step", name = "graph")
        .in_scope(|| joint::build_graph(std::mem::take(&mut inputs.parents), std::mem::take(&mut inputs.shares)));
    steps.record("graph", started, Some((graph.owns.edge_count() + graph.branches.edge_count()) as u64))?;

    // Lists: candidates, rounds, legal representatives, review status.
    let started = Instant::now();
    let used = store.decisions(decisions_through, None, None)?;
    let book = DecisionBook::new(used.clone());
    let stamp = Stamp { policy_id: &policy.id, policy_version: &policy.version, as_of };
    staged.push(scores_dir);
    let tables = lists::Tables { policy, as_of, inputs: &inputs, grades: &grades, graph: &graph, book: &book };
    let key = opts.signer.as_ref().and_then(|s| s.public_key());
    let decided = Decided { store, used: &used, through: decisions_through, key };
    let (lists, listings) =
        info_span!("step", name = "lists").in_scope(|| plan_lists(wh, &tables, &decided, &stamp, &mut staged))?;
    steps.record("lists", started, Some(lists.iter().map(|l| l.members).sum()))?;

    // Every stage succeeded: the marts of the run become visible.
    for dir in staged {
        let dest = dir.destination().to_path_buf();
        dir.commit().map_err(io(format!("publishing {}", wh.relative(&dest))))?;
        outputs.push(dest);
    }

    // Publish each list from the committed marts.
    let started = Instant::now();
    let span = info_span!("step", name = "publish").entered();
    let publications = Publish { opts, run_id, quality: &quality }.all(&listings, &mut outputs)?;
    drop(span);
    steps.record("publish", started, Some(publications.len() as u64))?;

    Ok(RunReport { run_id, as_of, quality, scores: scores_summary, lists, publications, outputs, steps: steps.done })
}

/// Records each dataset's partitions read and rejects by code in the
/// run's ledger; gives the rows read.
fn record_validation(store: &Store, run_id: RunId, inputs: &Inputs) -> Result<u64, RunError> {
    for v in inputs.all() {
        for p in &v.report.partitions {
            store.record_partition(run_id, &v.report.dataset, &p.ingest_date, p.files as u64, p.rows)?;
        }
        for (code, n) in &v.report.rejected_by_code {
            store.record_rejects(run_id, &v.report.dataset, code, *n)?;
        }
    }
    Ok(inputs.all().iter().map(|v| v.report.rows_read).sum())
}

/// Fails the run when a dataset's rejected rows are over the share the
/// run allows (datasets.md), naming each such dataset and its counts.
pub(crate) fn within_threshold(quality: &QualityReport) -> Result<(), RunError> {
    let over = quality.over_threshold();
    if over.is_empty() {
        return Ok(());
    }
    Err(RunError::Threshold {
        share: quality.max_reject_share,
        datasets: over
            .iter()
            .map(|d| format!("{}: {} of {} rows rejected", d.dataset, d.rows_rejected, d.rows_read))
            .collect(),
    })
}

/// What a run's lists are planned against: the ledger, the decisions it
/// uses (those up to `through`), and the key previous publications are
/// checked with.
pub(crate) struct Decided<'a> {
    pub(crate) store: &'a Store,
    pub(crate) used: &'a [Decision],
    pub(crate) through: i64,
    pub(crate) key: Option<&'a minisign::PublicKey>,
}

/// Every list of the policy planned ([`plan_list`]) and its listings and
/// related marts written to staging folders (added to `staged`): each
/// list's summary and what its publication is made from.
fn plan_lists<'a>(
    wh: &Warehouse,
    tables: &lists::Tables<'a>,
    decided: &Decided,
    stamp: &Stamp,
    staged: &mut Vec<StagedDir>,
) -> Result<(Vec<ListSummary>, Vec<Listed<'a>>), RunError> {
    let io = |what: String| move |source| RunError::Io { what, source };
    let mut lists = Vec::new();
    let mut listings = Vec::new();
    let mut phases = crate::base::telemetry::Phases::start("lists");
    for list in &tables.policy.lists {
        let (listed, related, summary) = plan_list(wh, tables, list, decided)?;
        phases.done("list planned");
        let dir = wh
            .stage(wh.list_mart(Mart::Listings, &list.id, tables.as_of))
            .map_err(io(format!("staging listings of {}", list.id)))?;
        listings::write_listings(dir.path(), &listed.rows, stamp)
            .map_err(parquet(format!("writing listings of {}", list.id)))?;
        phases.done("listings written");
        staged.push(dir);
        let dir = wh
            .stage(wh.list_mart(Mart::Related, &list.id, tables.as_of))
            .map_err(io(format!("staging related of {}", list.id)))?;
        related::write_related(dir.path(), &related, |r, out| r.append_row(&tables.inputs.entities, out), stamp)
            .map_err(parquet(format!("writing related of {}", list.id)))?;
        phases.done("related written");
        staged.push(dir);
        lists.push(summary);
        listings.push(listed);
    }
    Ok((lists, listings))
}

/// Writes every dataset's quarantine and the data-quality report (always,
/// whatever the rejects' share): how many rows were rejected, and the
/// folders written.
fn write_quarantine(
    wh: &Warehouse,
    inputs: &Inputs,
    quality: &QualityReport,
    as_of: AsOf,
) -> Result<(u64, Vec<PathBuf>), RunError> {
    let mut phases = crate::base::telemetry::Phases::start("quarantine");
    let (mut rejected, mut outputs) = (0, Vec::new());
    for v in inputs.all() {
        rejected += quarantine::write(wh, v, as_of)?;
        outputs.push(wh.quarantine(v.contract.dataset, as_of));
        phases.done(v.contract.dataset.name());
    }
    quarantine::write_report(wh, quality, as_of)?;
    phases.done("quality report");
    Ok((rejected, outputs))
}

fn parquet(what: String) -> impl FnOnce(parquet::errors::ParquetError) -> RunError {
    move |source| RunError::Parquet { what, source }
}

fn outcome_text(o: &publish::Outcome) -> String {
    match o {
        publish::Outcome::Published { id, counts } => format!(
            "published {id}: {} entries, {} added, {} removed, {} changed",
            counts.entries, counts.added, counts.removed, counts.changed
        ),
        publish::Outcome::Unchanged { latest } => format!("nothing new: the entries equal publication {latest}"),
        publish::Outcome::Older { latest } => {
            format!("not published: publication {latest} is newer, a list never goes back in time")
        }
    }
}

/// The decisions of `list` a run used (ids up to `through`), as the
/// manifest names them: their SHA-256 over one JSON object a line, in id
/// order, with every stored field.
fn decisions_used(all: &[Decision], list: &str, through: i64) -> publish::DecisionsUsed {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    for d in all.iter().filter(|d| d.list_id == list) {
        hash.update(d.stored_json().as_bytes());
        hash.update(b"\n");
    }
    publish::DecisionsUsed { through, sha256: format!("{:x}", hash.finalize()) }
}

/// A list's members as of the run (against the publication in force on
/// that date), its restricted persons and flagged entities, and what its
/// publication is built on: the previous publication (checked), the
/// decisions used and why each member of it left. Writes nothing.
fn plan_list<'a>(
    wh: &Warehouse,
    tables: &lists::Tables<'a>,
    list: &'a ListSpec,
    decided: &Decided,
) -> Result<(Listed<'a>, Vec<joint::Related<'a>>, ListSummary), RunError> {
    let (as_of, key, store) = (tables.as_of, decided.key, decided.store);
    // The previous publication (LATEST) and, for an older as-of, the
    // publication in force on that date: both checked before use.
    let latest = publish::previous(wh, &list.id, key)?;
    let older = match &latest {
        Some(p) if p.id.date > as_of => publish::in_force(wh, &list.id, as_of, key)?,
        _ => None,
    };
    let in_force = if latest.as_ref().is_some_and(|p| p.id.date > as_of) { older.as_ref() } else { latest.as_ref() };
    let stretch_ends = match in_force {
        Some(p) => publish::stretch_ends(wh, &list.id, p.id, &|run| store.run_decisions(RunId(run)).ok().flatten())?,
        None => HashMap::new(),
    };
    let (rows, related, summary) = lists::members(tables, list, in_force, &stretch_ends);
    let decisions = decisions_used(decided.used, &list.id, decided.through);
    // Why each member of the previous publication left: read now, while
    // the marts of the previous publication's run are still those on
    // disk (a same-day run replaces them when it commits).
    let removed = match &latest {
        Some(p) if p.id.date <= as_of => lists::removal_facts(wh, tables, list, &rows, p)?,
        _ => HashMap::new(),
    };
    Ok((Listed { list, rows, previous: latest, decisions, removed }, related, summary))
}

/// A list after the lists step: what its publication is made from.
struct Listed<'a> {
    list: &'a ListSpec,
    rows: Vec<ListingRow>,
    /// The publication `LATEST` names (checked).
    previous: Option<publish::Previous>,
    decisions: publish::DecisionsUsed,
    /// For each member of `previous` that left: why.
    removed: HashMap<String, RemovalFacts>,
}

/// What publishing a list needs of the run.
struct Publish<'a> {
    opts: &'a RunOptions,
    run_id: RunId,
    quality: &'a QualityReport,
}

impl Publish<'_> {
    /// Publishes every list, in the policy's order, adding each new
    /// publication's folder to `outputs`; says what became of each.
    fn all(&self, listings: &[Listed], outputs: &mut Vec<PathBuf>) -> Result<Vec<PublicationSummary>, RunError> {
        let (wh, as_of) = (&self.opts.warehouse, self.opts.as_of);
        let mut publications = Vec::new();
        for l in listings {
            let list = l.list;
            let outcome = self.list(l)?;
            match &outcome {
                publish::Outcome::Published { id, counts } => {
                    info!(list = %list.id, publication = %id, entries = counts.entries, added = counts.added, removed = counts.removed, changed = counts.changed, "published");
                    outputs.push(publish::folder(wh, &list.id, *id));
                }
                publish::Outcome::Unchanged { latest } => {
                    info!(list = %list.id, latest = %latest, "not published: the entries equal publication {latest}");
                }
                publish::Outcome::Older { latest } => {
                    tracing::warn!(list = %list.id, latest = %latest, "not published: publication {latest} is newer than {as_of}, and a list never goes back in time");
                }
            }
            publications.push(PublicationSummary { list_id: list.id.clone(), outcome: outcome_text(&outcome) });
        }
        Ok(publications)
    }

    /// Publishes one list from the run's listing, against the previous publication.
    fn list(&self, l: &Listed) -> Result<publish::Outcome, RunError> {
        let (list, rows, previous) = (l.list, &l.rows, l.previous.as_ref());
        let wh = &self.opts.warehouse;
        let as_of = self.opts.as_of;
        let published: BTreeSet<String> =
            rows.iter().filter(|r| r.review_status == ReviewStatus::Published).map(|r| r.entity_id.clone()).collect();
        let facts =
            marts::registry::facts(wh, as_of, &published).map_err(parquet("reading the registry mart".into()))?;
        let inputs = self
            .quality
            .datasets
            .iter()
            .map(|d| InputInfo {
                dataset: d.dataset.clone(),
                partitions: d
                    .partitions
                    .iter()
                    .map(|p| PartitionInfo { ingest_date: p.ingest_date.clone(), rows: p.rows })
                    .collect(),
            })
            .collect();
        let input = publish::Input {
            policy: &self.opts.policy,
            list,
            as_of,
            run_id: self.run_id.0,
            members: rows,
            facts: &facts,
            removed: &l.removed,
            previous,
            inputs,
            partners: &self.opts.partners,
            signer: self.opts.signer.as_deref(),
            decisions: &l.decisions,
        };
        Ok(publish::publish(wh, &input)?)
    }
}

/// Judges the landing rows again with validation's DataFusion plans on the
/// run's engine (this process or a Ballista cluster) and fails the run if
/// any dataset's verdicts differ from `inputs`'.
async fn cross_check(engine: &Engine, contracts: &Contracts, inputs: &Inputs) -> Result<(), RunError> {
    let selections = Dataset::ALL.map(|d| inputs.get(d).selection.clone());
    let verdicts = validate::judge_inputs(engine, contracts, &selections).await?;
    for v in &verdicts {
        if let Some(difference) = v.difference(inputs.get(v.dataset)) {
            return Err(RunError::PlansDisagree { dataset: v.dataset, difference });
        }
    }
    let rejected: usize = verdicts.iter().map(|v| v.rejects.len()).sum();
    tracing::info!(rejected, "validation's plans agree with the native checks");
    Ok(())
}

/// Registers the validated datasets scoring reads as the engine's tables.
pub fn register_inputs(engine: &Engine, inputs: &Inputs) -> Result<(), DataFusionError> {
    for d in score::TABLES {
        let v = inputs.get(d);
        match &v.rows {
            Rows::Memory(batches) => engine.register(d.name(), v.schema.clone(), batches)?,
            Rows::File { path, .. } => engine.register_arrow_files(d.name(), v.schema.clone(), path)?,
            Rows::Released { .. } => {
                return Err(DataFusionError::Internal(format!("{d}: registered after its rows were released")))
            }
        }
    }
    Ok(())
}
