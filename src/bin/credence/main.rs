//! The `credence` command line: the edge where arguments become typed
//! options, errors become messages and exit codes.
//!
//! Exit codes: 0 success; 1 the command failed on its input (bad landing
//! files, the rejection threshold, an invalid policy, a refused decision);
//! 2 a usage error; 3 a failure worth retrying (I/O, a busy database).

mod bench;
mod demo;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use credence::base::contract::Contracts;
use credence::base::engine::EngineLimits;
use credence::base::ids::AsOf;
use credence::base::sign::Signer;
use credence::base::store::Store;
use credence::base::telemetry::{self, LogFormat};
use credence::base::warehouse::Warehouse;
use credence::config::policy::Policy;
use credence::run::{self, RunError, RunOptions, DEFAULT_MAX_REJECT_SHARE};
use credence::tools::gen::{self, GenOptions};

#[derive(Parser)]
#[command(name = "credence", version, about = "Nightly credit scoring, joint sanctions and signed blacklists")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a demo warehouse, run the nightly batch on it and print a summary.
    Demo(demo::DemoArgs),
    /// Run the nightly batch as of a date.
    Run(RunArgs),
    /// List the runs of a warehouse, newest first.
    Runs {
        #[arg(long, default_value = "warehouse")]
        warehouse: PathBuf,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Write a synthetic landing zone.
    Gen(GenArgs),
    /// Check policy files.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Time validation and scoring on a generated warehouse; print rows/s and peak memory.
    Bench(bench::BenchArgs),
    /// Run the scheduled jobs until SIGTERM or SIGINT.
    Schedule {
        /// Folder of job files.
        #[arg(long, default_value = "jobs")]
        jobs: PathBuf,
        /// Serve Prometheus metrics on this address, such as 127.0.0.1:9464.
        #[arg(long)]
        metrics_listen: Option<String>,
    },
    /// Run every as-of date from --from to --to in order; rerun it to resume.
    Backfill(BackfillArgs),
    /// Serve the partner download API.
    Serve {
        #[arg(long, default_value = "warehouse")]
        warehouse: PathBuf,
        /// Address of the partner API, such as 127.0.0.1:8080.
        #[arg(long)]
        listen: Option<String>,
        /// Address of the officer pages, such as 127.0.0.1:8081 (its own listener).
        #[arg(long)]
        ui_listen: Option<String>,
        /// A translation of the officer pages' message catalogue.
        #[arg(long)]
        ui_messages: Option<PathBuf>,
        /// Minutes without a request after which an officer's session ends.
        #[arg(long, default_value_t = 30)]
        ui_idle_minutes: i64,
        /// Partner entitlements (default: the embedded ops/partners.yaml).
        #[arg(long, env = "CREDENCE_PARTNERS")]
        partners: Option<PathBuf>,
        #[arg(long)]
        policy: Option<PathBuf>,
    },
    /// Officer accounts of the officer pages.
    Officers {
        #[command(subcommand)]
        command: OfficersCommand,
        #[arg(long, default_value = "warehouse", global = true)]
        warehouse: PathBuf,
    },
    /// Partner agencies: check the entitlements, issue and revoke tokens.
    Partners {
        #[command(subcommand)]
        command: PartnersCommand,
    },
    /// Print the audit log, newest first.
    Audit {
        #[arg(long, default_value = "warehouse")]
        warehouse: PathBuf,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Manage the regulator's signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Verify a downloaded publication: every file's hash and the manifest's signature.
    Verify {
        dir: PathBuf,
        #[arg(long)]
        public_key: PathBuf,
    },
    /// Record an officer's decision: confirm or reject a pending member, exempt or revoke an exemption.
    Decide(DecideArgs),
    /// Print a list's pending review queue with grades, reasons and joint paths.
    Review {
        #[arg(long, default_value = "warehouse")]
        warehouse: PathBuf,
        #[arg(long)]
        list: String,
        /// The listing to review (default: the newest).
        #[arg(long)]
        as_of: Option<AsOf>,
    },
    /// Explain an entity: score, grade, reasons with their records, lists, restrictions, decisions.
    Explain {
        entity: String,
        #[arg(long)]
        as_of: AsOf,
        #[arg(long, default_value = "warehouse")]
        warehouse: PathBuf,
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum DecisionKind {
    Confirm,
    Reject,
    Exempt,
    RevokeExemption,
}

#[derive(Args)]
struct DecideArgs {
    action: DecisionKind,
    #[arg(long)]
    list: String,
    #[arg(long)]
    entity: String,
    #[arg(long)]
    officer: String,
    /// Why (at least 10 characters); kept with the decision forever.
    #[arg(long)]
    reason: String,
    /// For exempt: the last day the exemption is in force.
    #[arg(long)]
    until: Option<AsOf>,
    #[arg(long, default_value = "warehouse")]
    warehouse: PathBuf,
    #[arg(long)]
    policy: Option<PathBuf>,
}

#[derive(Subcommand)]
enum OfficersCommand {
    /// Add an officer (or reset one); the password is read from a prompt, or from stdin.
    Add {
        id: String,
        #[arg(long)]
        role: String,
    },
    /// Every officer and role.
    List,
    /// Remove an officer: their sessions end, their decisions stay.
    Remove { id: String },
}

#[derive(Subcommand)]
enum PartnersCommand {
    /// Check a partners file; print every problem.
    Check {
        #[arg(long)]
        partners: Option<PathBuf>,
        #[arg(long)]
        policy: Option<PathBuf>,
    },
    /// Issue, revoke or list API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
        #[arg(long, default_value = "warehouse", global = true)]
        warehouse: PathBuf,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print a new token for PARTNER once; only its SHA-256 is stored.
    Issue {
        partner: String,
        #[arg(long, env = "CREDENCE_PARTNERS")]
        partners: Option<PathBuf>,
        #[arg(long)]
        policy: Option<PathBuf>,
    },
    /// End a token by its id (see `list`).
    Revoke { token_id: i64 },
    /// Every token with its partner and state (never the token itself).
    List,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Write a new minisign key pair (passphrase from CREDENCE_SIGNING_KEY_PASSWORD).
    Generate {
        #[arg(long)]
        secret_key: PathBuf,
        #[arg(long)]
        public_key: PathBuf,
        /// Write the secret key without a passphrase (development warehouses only).
        #[arg(long)]
        unencrypted: bool,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Print every problem of a policy file; exit non-zero if there is any.
    Check { file: PathBuf },
}

#[derive(Args, Clone)]
pub struct EngineArgs {
    /// Memory the query engine may hold before spilling, such as 2G or 512M.
    #[arg(long, value_parser = parse_size, default_value = "4G")]
    pub memory_limit: usize,
    /// Worker threads (default: the machine's cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

impl EngineArgs {
    pub fn limits(&self) -> EngineLimits {
        let mut l = EngineLimits { memory_limit: self.memory_limit, ..EngineLimits::default() };
        if let Some(t) = self.threads {
            l.threads = t.max(1);
        }
        l
    }
}

#[derive(Args)]
struct RunArgs {
    #[arg(long, default_value = "warehouse")]
    warehouse: PathBuf,
    #[arg(long)]
    as_of: AsOf,
    /// Policy file (default: the embedded policies/online-market.yaml).
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Largest share of rejected rows per dataset before the run fails.
    #[arg(long, default_value_t = DEFAULT_MAX_REJECT_SHARE)]
    max_reject_share: f64,
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    publish: PublishArgs,
}

/// How a run publishes.
#[derive(Args, Clone)]
pub struct PublishArgs {
    /// The regulator's minisign secret key (passphrase in CREDENCE_SIGNING_KEY_PASSWORD).
    #[arg(long, env = "CREDENCE_SIGNING_KEY")]
    pub signing_key: Option<PathBuf>,
    /// Publish unsigned manifests: for development warehouses only.
    #[arg(long)]
    pub unsigned: bool,
    /// Partner entitlements (default: the embedded ops/partners.yaml).
    #[arg(long, env = "CREDENCE_PARTNERS")]
    pub partners: Option<PathBuf>,
}

impl PublishArgs {
    /// The signer and partners a run publishes with.
    pub fn load(
        &self,
        policy: &Policy,
    ) -> Result<(Option<std::sync::Arc<Signer>>, Vec<credence::config::partners::Partner>)> {
        let signer = match &self.signing_key {
            Some(p) => {
                Some(std::sync::Arc::new(Signer::load(p, std::env::var(credence::base::sign::PASSWORD_ENV).ok())?))
            }
            None => None,
        };
        let lists: Vec<&str> = policy.lists.iter().map(|l| l.id.as_str()).collect();
        let partners = credence::config::partners::load_or_default(self.partners.as_deref(), &lists)?;
        Ok((signer, partners))
    }
}

#[derive(Args)]
struct BackfillArgs {
    #[arg(long, default_value = "warehouse")]
    warehouse: PathBuf,
    #[arg(long)]
    from: AsOf,
    #[arg(long)]
    to: AsOf,
    #[arg(long)]
    policy: Option<PathBuf>,
    #[arg(long, default_value_t = DEFAULT_MAX_REJECT_SHARE)]
    max_reject_share: f64,
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    publish: PublishArgs,
}

#[derive(Args)]
pub struct GenArgs {
    #[arg(long)]
    pub warehouse: PathBuf,
    #[arg(long)]
    pub entities: u64,
    /// Nightly partitions, ending at --as-of.
    #[arg(long, default_value_t = 3)]
    pub days: u32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long)]
    pub as_of: AsOf,
    /// Share of rows that break a rule of the contract.
    #[arg(long, default_value_t = 0.0)]
    pub bad_rate: f64,
    #[arg(long, default_value_t = 1.5)]
    pub violations_per_entity: f64,
    #[arg(long, default_value_t = 1.0)]
    pub complaints_per_entity: f64,
    /// Entities per file.
    #[arg(long, default_value_t = 250_000)]
    pub chunk: u64,
}

impl GenArgs {
    pub fn options(&self) -> GenOptions {
        let mut o = GenOptions::new(self.entities, self.days, self.seed, self.as_of);
        o.bad_rate = self.bad_rate;
        o.violations_per_entity = self.violations_per_entity;
        o.complaints_per_entity = self.complaints_per_entity;
        o.chunk = self.chunk.max(1);
        o
    }
}

fn parse_size(s: &str) -> Result<usize, String> {
    credence::config::job::parse_size(s).ok_or_else(|| format!("'{s}' is not a size such as 4G, 512M or 1048576"))
}

/// Loads `--policy FILE`, or the embedded default.
pub fn load_policy(file: Option<&PathBuf>) -> Result<Policy> {
    let contracts = Contracts::load()?;
    Ok(match file {
        Some(f) => Policy::load(f, &contracts)?,
        None => Policy::default_policy(&contracts),
    })
}

pub fn runtime(threads: usize) -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(threads.max(1)).enable_all().build()?)
}

/// Generates with a progress bar on a terminal.
pub fn generate(args: &GenArgs) -> Result<gen::GenSummary> {
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(LogFormat::detect());
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            match e.downcast_ref::<RunError>() {
                Some(r) if r.retryable() => ExitCode::from(3),
                _ => ExitCode::from(1),
            }
        }
    }
}

fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Demo(args) => demo::demo(&args),
        Command::Run(args) => {
            let policy = load_policy(args.policy.as_ref())?;
            let limits = args.engine.limits();
            let (signer, partners) = args.publish.load(&policy)?;
            let opts = RunOptions {
                warehouse: Warehouse::new(&args.warehouse),
                as_of: args.as_of,
                policy,
                limits,
                max_reject_share: args.max_reject_share,
                trigger: "manual".into(),
                signer,
                unsigned: args.publish.unsigned,
                partners,
            };
            let report = runtime(limits.threads)?.block_on(run::run(&opts))?;
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
        Command::Runs { warehouse, limit } => {
            let wh = Warehouse::new(&warehouse);
            if !wh.database().exists() {
                anyhow::bail!("{} has no operational database: no run has been made there", warehouse.display());
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
        Command::Gen(args) => {
            let s = generate(&args)?;
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
        Command::Policy { command: PolicyCommand::Check { file } } => {
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
        Command::Bench(args) => bench::bench(&args).context("benchmark"),
        Command::Schedule { jobs, metrics_listen } => {
            let specs = credence::config::job::load_dir(&jobs)?;
            let prepared = specs.into_iter().map(credence::run::schedule::prepare).collect::<Result<Vec<_>, _>>()?;
            let threads = prepared.iter().map(|p| p.template.limits.threads).max().unwrap_or(2);
            runtime(threads)?.block_on(credence::run::schedule::run_daemon(prepared, metrics_listen))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Backfill(args) => {
            if args.from > args.to {
                anyhow::bail!("--from {} is after --to {}", args.from, args.to);
            }
            let policy = load_policy(args.policy.as_ref())?;
            let limits = args.engine.limits();
            let (signer, partners) = args.publish.load(&policy)?;
            let template = RunOptions {
                warehouse: Warehouse::new(&args.warehouse),
                as_of: args.from,
                policy,
                limits,
                max_reject_share: args.max_reject_share,
                trigger: "backfill".into(),
                signer,
                unsigned: args.publish.unsigned,
                partners,
            };
            let result = runtime(limits.threads)?.block_on(credence::run::backfill::backfill(
                &template,
                args.from,
                args.to,
                |d, o| match o {
                    credence::run::backfill::DateOutcome::AlreadyDone => println!("{d}: already done"),
                    credence::run::backfill::DateOutcome::Ran { run_id, publications } => {
                        println!("{d}: run {run_id} succeeded; {}", publications.join("; "))
                    }
                },
            ));
            match result {
                Ok(()) => Ok(ExitCode::SUCCESS),
                Err((date, e)) => {
                    eprintln!(
                        "error: {date}: {e:#}\nthe backfill stopped at {date}; run the same command again to resume"
                    );
                    Ok(ExitCode::from(if e.retryable() { 3 } else { 1 }))
                }
            }
        }
        Command::Serve { warehouse, listen, ui_listen, ui_messages, ui_idle_minutes, partners, policy } => {
            if listen.is_none() && ui_listen.is_none() {
                anyhow::bail!("give --listen (the partner API), --ui-listen (the officer pages), or both");
            }
            let policy = load_policy(policy.as_ref())?;
            let lists: Vec<&str> = policy.lists.iter().map(|l| l.id.as_str()).collect();
            let partners = credence::config::partners::load_or_default(partners.as_deref(), &lists)?;
            let wh = Warehouse::new(&warehouse);
            let messages = match &ui_messages {
                Some(f) => credence::serve::officer_ui::Messages::load(f).map_err(anyhow::Error::msg)?,
                None => credence::serve::officer_ui::Messages::english(),
            };
            let api = std::sync::Arc::new(credence::serve::partner_api::ApiState {
                warehouse: wh.clone(),
                partners,
                store: Store::open(&wh.database())?,
            });
            let ui = std::sync::Arc::new(credence::serve::officer_ui::UiState {
                warehouse: wh.clone(),
                policy,
                store: Store::open(&wh.database())?,
                messages,
                idle_seconds: ui_idle_minutes * 60,
            });
            let rt = runtime(2)?;
            rt.block_on(async {
                let mut servers = Vec::new();
                if let Some(listen) = &listen {
                    let listener = tokio::net::TcpListener::bind(listen)
                        .await
                        .with_context(|| format!("listening on {listen}"))?;
                    let addr = listener.local_addr()?;
                    tracing::info!(%addr, "partner API listening");
                    println!("partner API listening on http://{addr}/api/v1/ (health: /healthz)");
                    servers.push(tokio::spawn(credence::serve::partner_api::serve(api, listener)));
                }
                if let Some(listen) = &ui_listen {
                    let listener = tokio::net::TcpListener::bind(listen)
                        .await
                        .with_context(|| format!("listening on {listen}"))?;
                    let addr = listener.local_addr()?;
                    tracing::info!(%addr, "officer pages listening");
                    println!("officer pages on http://{addr}/");
                    servers.push(tokio::spawn(credence::serve::officer_ui::serve(ui, listener)));
                }
                for s in servers {
                    s.await??;
                }
                anyhow::Ok(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Officers { command, warehouse } => {
            let store = Store::open(&Warehouse::new(&warehouse).database())?;
            match command {
                OfficersCommand::Add { id, role } => {
                    if credence::serve::officer_ui::Role::parse(&role).is_none() {
                        eprintln!("refused: role must be officer, senior or auditor, found '{role}'");
                        return Ok(ExitCode::from(1));
                    }
                    if id.trim().is_empty() {
                        anyhow::bail!("the officer id must not be empty");
                    }
                    use std::io::IsTerminal;
                    let password = if std::io::stdin().is_terminal() {
                        rpassword::prompt_password(format!("password for {id}: "))?
                    } else {
                        let mut line = String::new();
                        std::io::stdin().read_line(&mut line)?;
                        line.trim_end_matches(['\r', '\n']).to_string()
                    };
                    if password.chars().count() < 12 {
                        eprintln!("refused: a password has at least 12 characters");
                        return Ok(ExitCode::from(1));
                    }
                    let hash = credence::serve::officer_ui::hash_password(&password).map_err(anyhow::Error::msg)?;
                    store.put_officer(&id, &role, &hash)?;
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
        Command::Partners { command: PartnersCommand::Check { partners, policy } } => {
            let policy = load_policy(policy.as_ref())?;
            let lists: Vec<&str> = policy.lists.iter().map(|l| l.id.as_str()).collect();
            match credence::config::partners::load_or_default(partners.as_deref(), &lists) {
                Ok(ps) => {
                    for p in ps {
                        println!(
                            "{}: {} — lists {}; columns {}; formats {}; regions {}",
                            p.id,
                            p.name,
                            p.lists.join(", "),
                            p.columns.join(", "),
                            p.formats.iter().map(|f| f.extension()).collect::<Vec<_>>().join(", "),
                            if p.regions.is_empty() { "all".to_string() } else { p.regions.join(", ") }
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    for p in &e.problems {
                        println!("{}: {p}", e.file);
                    }
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Partners { command: PartnersCommand::Token { command, warehouse } } => {
            let wh = Warehouse::new(&warehouse);
            let store = Store::open(&wh.database())?;
            match command {
                TokenCommand::Issue { partner, partners, policy } => {
                    let policy = load_policy(policy.as_ref())?;
                    let lists: Vec<&str> = policy.lists.iter().map(|l| l.id.as_str()).collect();
                    let known = credence::config::partners::load_or_default(partners.as_deref(), &lists)?;
                    if !known.iter().any(|p| p.id == partner) {
                        eprintln!(
                            "refused: '{partner}' is not a partner (partners: {})",
                            known.iter().map(|p| p.id.as_str()).collect::<Vec<_>>().join(", ")
                        );
                        return Ok(ExitCode::from(1));
                    }
                    let token = credence::serve::partner_api::new_token();
                    let id = store.add_token(&partner, &credence::serve::partner_api::token_hash(&token))?;
                    eprintln!("token #{id} for {partner}; it is shown once and only its SHA-256 is stored:");
                    println!("{token}");
                }
                TokenCommand::Revoke { token_id } => {
                    if store.revoke_token(token_id)? {
                        println!("token #{token_id} revoked");
                    } else {
                        eprintln!("refused: no live token #{token_id}");
                        return Ok(ExitCode::from(1));
                    }
                }
                TokenCommand::List => {
                    for (id, partner, issued, revoked) in store.tokens()? {
                        println!(
                            "#{id}  {partner:<24} issued {issued}  {}",
                            revoked.map(|r| format!("revoked {r}")).unwrap_or_else(|| "live".into())
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit { warehouse, limit } => {
            let store = Store::open(&Warehouse::new(&warehouse).database())?;
            for a in store.audit_log(limit)? {
                println!(
                    "{:>6} {} {:<22} {} {} {} {}B{}",
                    a.id,
                    a.at,
                    a.actor.as_deref().unwrap_or("-"),
                    a.method,
                    a.path,
                    a.status,
                    a.bytes,
                    a.detail.map(|d| format!(" {d}")).unwrap_or_default()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys { command: KeysCommand::Generate { secret_key, public_key, unencrypted } } => {
            let password = if unencrypted {
                None
            } else {
                Some(std::env::var(credence::base::sign::PASSWORD_ENV).map_err(|_| {
                    anyhow::anyhow!(
                        "set {} to the passphrase of the new key (or pass --unencrypted for a development key)",
                        credence::base::sign::PASSWORD_ENV
                    )
                })?)
            };
            credence::base::sign::generate(&secret_key, &public_key, password)?;
            println!(
                "wrote the secret key {} (mode 0600) and the public key {}; give partners the public key",
                secret_key.display(),
                public_key.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { dir, public_key } => match credence::tools::verify::verify(&dir, &public_key) {
            Ok(v) => {
                println!(
                    "OK: publication {} of {}{}: {} files match the signed manifest",
                    v.manifest.publication_id,
                    v.manifest.list_id,
                    v.manifest.partner.as_ref().map(|p| format!(" (view of {p})")).unwrap_or_default(),
                    v.files
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(problems) => {
                for p in &problems {
                    eprintln!("FAILED: {p}");
                }
                Ok(ExitCode::from(1))
            }
        },
        Command::Decide(args) => {
            use credence::base::store::Action;
            let policy = load_policy(args.policy.as_ref())?;
            let wh = Warehouse::new(&args.warehouse);
            let store = Store::open(&wh.database())?;
            let action = match args.action {
                DecisionKind::Confirm => Action::Confirm,
                DecisionKind::Reject => Action::Reject,
                DecisionKind::Exempt => Action::Exempt,
                DecisionKind::RevokeExemption => Action::RevokeExemption,
            };
            let req = credence::officer::decide::Request {
                action,
                list: &args.list,
                entity: &args.entity,
                officer: &args.officer,
                reason: &args.reason,
                until: args.until,
            };
            match credence::officer::decide::decide(&wh, &policy, &store, &req) {
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
                Err(refusal) => {
                    eprintln!("refused: {refusal}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Review { warehouse, list, as_of } => {
            let wh = Warehouse::new(&warehouse);
            let Some((at, entries)) =
                credence::officer::queue::pending(&wh, &list, as_of).map_err(anyhow::Error::msg)?
            else {
                println!("no listing of {list} yet: run the nightly batch first");
                return Ok(ExitCode::SUCCESS);
            };
            println!("{} pending on {list} as of {at}", entries.len());
            for e in &entries {
                let l = &e.listing;
                let name = e.registry.as_ref().map(|r| r.name.as_str()).unwrap_or("(not in registry)");
                let days = (at.date() - e.pending_since.date()).num_days();
                let grade =
                    e.score.as_ref().map(|s| format!("grade {} (score {:.2})", s.grade, s.score)).unwrap_or_default();
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
        Command::Explain { entity, as_of, warehouse, policy, json } => {
            let policy = load_policy(policy.as_ref())?;
            let wh = Warehouse::new(&warehouse);
            let store = if wh.database().exists() { Some(Store::open(&wh.database())?) } else { None };
            let e = credence::officer::explain::explain(&wh, &policy, store.as_ref(), &entity, as_of)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&e)?);
            } else {
                print!("{}", e.render());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
