//! The command line as clap reads it, and the one lowering of run
//! arguments into [`RunSettings`] (job files are lowered the same way by
//! the scheduler).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use credence::base::engine::{EngineKind, EngineLimits};
use credence::base::ids::AsOf;
use credence::run::{RunSettings, DEFAULT_MAX_REJECT_SHARE};
use credence::tools::gen::GenOptions;

#[derive(Parser)]
#[command(name = "credence", version, about = "Nightly credit scoring, joint sanctions and signed blacklists")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Generate a demo warehouse, run the nightly batch on it and print a summary.
    Demo(DemoArgs),
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
    Bench(BenchArgs),
    /// Run the scheduled jobs until SIGTERM or SIGINT.
    Schedule {
        /// Folder of job files.
        #[arg(long, default_value = "jobs")]
        jobs: PathBuf,
        /// Serve Prometheus metrics on this address, such as 127.0.0.1:9464.
        #[arg(long)]
        metrics_listen: Option<String>,
        /// Start the daemon's clock at this instant (RFC 3339) instead of
        /// the system time: for tests and drills.
        #[arg(long, hide = true)]
        clock_start: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Run every as-of date from --from to --to in order; rerun it to resume.
    Backfill(BackfillArgs),
    /// Serve the partner download API and the officer pages.
    Serve(ServeArgs),
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
    /// Print the audit log, newest first; or archive and rotate it.
    #[command(args_conflicts_with_subcommands = true)]
    Audit {
        #[command(subcommand)]
        command: Option<AuditCommand>,
        #[arg(long, default_value = "warehouse")]
        warehouse: PathBuf,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Run a Ballista scheduler or executor for `run --engine ballista://HOST:PORT`.
    #[cfg(feature = "cluster")]
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
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
        /// The list the publication must be of.
        #[arg(long)]
        list: Option<String>,
        /// The publication id it must be, such as 2026-11-27 or 2026-11-27.2.
        #[arg(long)]
        id: Option<String>,
    },
    /// Record an officer's decision (confirm, reject, approve, send-back, exempt,
    /// revoke-exemption) through the same gate as the officer pages; prints `#ID`.
    Decide(DecideArgs),
    /// What a new policy would change, before it is adopted: scores, grades and
    /// lists under both policies on the same inputs; writes reports/impact/<id>/.
    Impact(ImpactArgs),
    /// Notices of proposed listings: issue one (the `notify` decision), or list them.
    Notice {
        #[command(subcommand)]
        command: NoticeCommand,
    },
    /// Objections: record a statement or objection received from a party.
    Objection {
        #[command(subcommand)]
        command: ObjectionCommand,
    },
    /// Print a list's pending review queue with grades, reasons and joint paths.
    Review {
        #[arg(long, default_value = "warehouse")]
        warehouse: PathBuf,
        #[arg(long)]
        list: String,
        /// The listing to review (default: the newest).
        #[arg(long)]
        as_of: Option<AsOf>,
        #[arg(long)]
        policy: Option<PathBuf>,
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

#[derive(Args)]
pub struct ServeArgs {
    #[arg(long, default_value = "warehouse")]
    pub warehouse: PathBuf,
    /// Address of the partner API, such as 127.0.0.1:8080.
    #[arg(long)]
    pub listen: Option<String>,
    /// Address of the officer pages, such as 127.0.0.1:8081 (its own listener).
    #[arg(long)]
    pub ui_listen: Option<String>,
    /// Another language for the officer pages: a copy of messages/en.yaml, translated.
    #[arg(long)]
    pub ui_messages: Option<PathBuf>,
    /// The pages' default language (an officer may choose another): zh-CN or en.
    #[arg(long, default_value = "zh-CN")]
    pub ui_language: String,
    /// The regulator's time zone, in which the pages show times.
    #[arg(long, default_value = "Asia/Shanghai")]
    pub ui_time_zone: String,
    /// Minutes without a request after which an officer's session ends (1 to 1440).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(i64).range(1..=1440))]
    pub ui_idle_minutes: i64,
    /// The officer pages are reached over HTTPS (a TLS proxy in front):
    /// cookies become `__Host-` and `Secure`.
    #[arg(long)]
    pub ui_behind_tls: bool,
    /// Partner entitlements (default: the embedded ops/partners.yaml).
    #[arg(long, env = "CREDENCE_PARTNERS")]
    pub partners: Option<PathBuf>,
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// The regulator's minisign public key: every manifest served must
    /// verify with it (without one, only the hashes are checked).
    #[arg(long, env = "CREDENCE_PUBLIC_KEY")]
    pub public_key: Option<PathBuf>,
    /// Folder of the notice templates; default: the embedded ones of ops/templates.
    #[arg(long, env = "CREDENCE_TEMPLATES")]
    pub templates: Option<PathBuf>,
    /// The regulator file notices name; default: the embedded ops/regulator.yaml.
    #[arg(long, env = "CREDENCE_REGULATOR")]
    pub regulator: Option<PathBuf>,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// The limits of each listener (serve/listener.rs); the defaults are far
/// above a partner's sync or an officer's work.
#[derive(Args, Clone)]
pub struct LimitArgs {
    /// Connections open at once per listener (1 to 65536).
    #[arg(long, default_value_t = 256, value_parser = parse_connections)]
    pub max_connections: usize,
    /// Seconds to send a request's headers (1 to 3600).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout_seconds: u64,
    /// Seconds a connection may stay silent or stall (1 to 3600).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub idle_timeout_seconds: u64,
    /// Requests per minute from one address (1 to 1000000).
    #[arg(long, default_value_t = 1200, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rate_per_address: u32,
    /// Requests per minute from one address without a valid token or session (1 to 1000000).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rate_unauthenticated: u32,
    /// Requests per minute with one partner token (1 to 1000000).
    #[arg(long, default_value_t = 1200, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rate_per_token: u32,
}

impl LimitArgs {
    pub fn limits(&self) -> credence::serve::listener::Limits {
        credence::serve::listener::Limits {
            max_connections: self.max_connections.max(1),
            header_read_timeout: std::time::Duration::from_secs(self.header_timeout_seconds.max(1)),
            idle_timeout: std::time::Duration::from_secs(self.idle_timeout_seconds.max(1)),
            per_address_per_minute: self.rate_per_address,
            unauthenticated_per_address_per_minute: self.rate_unauthenticated,
            per_token_per_minute: self.rate_per_token,
        }
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum DecisionKind {
    Confirm,
    Reject,
    Approve,
    SendBack,
    Exempt,
    RevokeExemption,
}

/// Where decisions are checked and recorded.
#[derive(Args, Clone)]
pub struct DeskArgs {
    #[arg(long, default_value = "warehouse")]
    pub warehouse: PathBuf,
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Folder of the notice templates (notice.zh-CN.html, notice.en.html); default: the embedded ones of ops/templates.
    #[arg(long, env = "CREDENCE_TEMPLATES")]
    pub templates: Option<PathBuf>,
    /// The regulator file notices name; default: the embedded ops/regulator.yaml.
    #[arg(long, env = "CREDENCE_REGULATOR")]
    pub regulator: Option<PathBuf>,
}

#[derive(Args)]
pub struct DecideArgs {
    pub action: DecisionKind,
    /// The list (approve, send-back: taken from the decision).
    #[arg(long, default_value = "")]
    pub list: String,
    /// The entity (approve, send-back: taken from the decision).
    #[arg(long, default_value = "")]
    pub entity: String,
    /// For approve and send-back: the id of the confirm or exempt.
    #[arg(long)]
    pub decision: Option<i64>,
    #[arg(long)]
    pub officer: String,
    /// Why (at least 10 characters); kept with the decision forever.
    #[arg(long)]
    pub reason: String,
    /// For exempt: the last day the exemption is in force (required).
    #[arg(long)]
    pub until: Option<AsOf>,
    #[command(flatten)]
    pub desk: DeskArgs,
}

#[derive(Subcommand)]
pub enum NoticeCommand {
    /// Render the notice of a proposed listing, store it under warehouse/notices/ and record the notify decision.
    Issue {
        #[arg(long)]
        list: String,
        #[arg(long)]
        entity: String,
        #[arg(long)]
        officer: String,
        /// The notice's language: zh-CN (default) or en.
        #[arg(long, default_value = "zh-CN")]
        lang: credence::officer::notice::Lang,
        /// The decision's reason (at least 10 characters).
        #[arg(
            long,
            default_value = "已向当事人发出列入事先告知书 / advance notice of the proposed listing issued to the party"
        )]
        reason: String,
        #[command(flatten)]
        desk: DeskArgs,
    },
    /// Every notice with its deadline and what came of it.
    List {
        #[arg(long)]
        list: Option<String>,
        #[command(flatten)]
        desk: DeskArgs,
    },
}

#[derive(Subcommand)]
pub enum ObjectionCommand {
    /// Record the party's statement or objection to a notice in force.
    Record {
        #[arg(long)]
        list: String,
        #[arg(long)]
        entity: String,
        #[arg(long)]
        officer: String,
        /// The day the statement was received.
        #[arg(long)]
        received: AsOf,
        /// What the party says (at least 10 characters).
        #[arg(long)]
        summary: String,
        /// A document the party sent, stored beside the notice with its SHA-256.
        #[arg(long)]
        attachment: Option<PathBuf>,
        #[command(flatten)]
        desk: DeskArgs,
    },
}

#[derive(Subcommand)]
pub enum OfficersCommand {
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
    /// Lift the lockout of an officer after too many failed logins.
    Unlock { id: String },
}

#[derive(Subcommand)]
pub enum PartnersCommand {
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
    /// Cut a publication's partner views again after entitlements changed
    /// (checked first, signed, swapped in atomically; the publication itself is untouched).
    RebuildViews {
        #[arg(long)]
        list: String,
        /// The publication (default: LATEST).
        #[arg(long)]
        id: Option<String>,
        #[arg(long, env = "CREDENCE_PARTNERS")]
        partners: Option<PathBuf>,
        #[arg(long)]
        policy: Option<PathBuf>,
        #[arg(long, default_value = "warehouse")]
        warehouse: PathBuf,
        /// The regulator's signing key (or CREDENCE_SIGNING_KEY): checks the publication and signs the views.
        #[arg(long)]
        signing_key: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum TokenCommand {
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
pub enum AuditCommand {
    /// Write the rows before a date to a signed Parquet file, then remove
    /// them from the database (audited).
    Archive {
        /// Rows recorded before this date (YYYY-MM-DD) or time (RFC 3339).
        #[arg(long)]
        before: String,
        /// Who archives (kept in the archive and in the audit log).
        #[arg(long)]
        operator: String,
        /// The regulator's minisign secret key.
        #[arg(long, env = "CREDENCE_SIGNING_KEY")]
        signing_key: PathBuf,
        #[arg(long, default_value = "warehouse")]
        warehouse: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum KeysCommand {
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

/// The processes of a Ballista cluster.
#[cfg(feature = "cluster")]
#[derive(Subcommand)]
pub enum ClusterCommand {
    /// Run a scheduler until stopped.
    Scheduler {
        /// Address of its gRPC service.
        #[arg(long, default_value = "127.0.0.1:50050")]
        bind: std::net::SocketAddr,
        /// The cluster's certificates (the folder `cluster certs` wrote).
        #[arg(long, env = "CREDENCE_CLUSTER_TLS")]
        tls: PathBuf,
    },
    /// Run an executor, registered with a scheduler, until stopped.
    Executor {
        /// The scheduler, as ballista://HOST:PORT.
        #[arg(long)]
        scheduler: credence::base::engine::SchedulerAddr,
        /// Address of its Arrow Flight service (its shuffle files and results).
        #[arg(long, default_value = "127.0.0.1:50051")]
        bind: std::net::SocketAddr,
        /// The address the scheduler hands to the driver and the other
        /// executors (default: --bind's; needed when --bind is 0.0.0.0).
        #[arg(long)]
        advertise: Option<std::net::IpAddr>,
        /// The cluster's certificates (the folder `cluster certs` wrote).
        #[arg(long, env = "CREDENCE_CLUSTER_TLS")]
        tls: PathBuf,
        #[command(flatten)]
        engine: EngineArgs,
        /// Folder for shuffle and spill files (default: a temporary folder).
        #[arg(long)]
        work_dir: Option<PathBuf>,
    },
    /// Make a new cluster's certificates: its authority's certificate
    /// (`ca.pem`) and the certificate and key every node is given
    /// (`node.pem`, `node.key`), valid two years. Existing files are never
    /// overwritten.
    Certs {
        /// The folder to write them into.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Print every problem of a policy file; exit non-zero if there is any.
    Check { file: PathBuf },
}

/// The query engine's limits.
#[derive(Args, Clone)]
pub struct EngineArgs {
    /// Memory the query engine may hold before spilling, such as 2G or 512M.
    #[arg(long, value_parser = parse_size, default_value = "4G")]
    pub memory_limit: usize,
    /// Worker threads, from 1 to 256 (default: the machine's cores).
    #[arg(long, value_parser = parse_threads)]
    pub threads: Option<usize>,
}

impl EngineArgs {
    pub fn limits(&self) -> EngineLimits {
        let mut l = EngineLimits { memory_limit: self.memory_limit, ..EngineLimits::default() };
        if let Some(t) = self.threads {
            l.threads = t;
        }
        l
    }
}

#[derive(Args)]
pub struct RunArgs {
    #[arg(long)]
    pub as_of: AsOf,
    /// Show what the run would publish, writing nothing but a record under reports/dry-run/.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub settings: SettingsArgs,
}

#[derive(Args)]
pub struct BackfillArgs {
    #[arg(long)]
    pub from: AsOf,
    #[arg(long)]
    pub to: AsOf,
    #[command(flatten)]
    pub settings: SettingsArgs,
}

/// What every run command takes.
#[derive(Args, Clone)]
pub struct SettingsArgs {
    #[arg(long, default_value = "warehouse")]
    pub warehouse: PathBuf,
    /// Policy file (default: the embedded policies/online-market.yaml).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Largest share of rejected rows per dataset before the run fails.
    #[arg(long, default_value_t = DEFAULT_MAX_REJECT_SHARE)]
    pub max_reject_share: f64,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Where the queries run: `local`, or a Ballista cluster's scheduler
    /// as `ballista://HOST:PORT` (its executors must see the warehouse at
    /// the same path).
    #[arg(long = "engine", default_value = "local")]
    pub engine_kind: EngineKind,
    /// Where the engine writes the tables its plans scan (default: the
    /// warehouse's .staging/). For a cluster, a folder every node sees at
    /// the same path: the executors then need to write only there, not in
    /// the warehouse.
    #[arg(long, env = "CREDENCE_ENGINE_SCRATCH")]
    pub engine_scratch: Option<PathBuf>,
    /// The regulator's minisign secret key (passphrase in CREDENCE_SIGNING_KEY_PASSWORD).
    #[arg(long, env = "CREDENCE_SIGNING_KEY")]
    pub signing_key: Option<PathBuf>,
    /// Publish unsigned manifests: for development warehouses only.
    #[arg(long)]
    pub unsigned: bool,
    /// Partner entitlements (default: the embedded ops/partners.yaml).
    #[arg(long, env = "CREDENCE_PARTNERS")]
    pub partners: Option<PathBuf>,
    /// Judge the landing rows a second time with validation's DataFusion
    /// plans; the run stops before the quarantine if their verdicts differ
    /// from the native validation's.
    #[arg(long)]
    pub validation_plans: bool,
    /// Validate every dataset with its DataFusion plans, on the run's
    /// engine (a cluster's executors with --engine), which write the
    /// events' tables where they run; this process still reads the
    /// registry's accepted rows, to number its entities and write its mart.
    #[arg(long)]
    pub plans_make_tables: bool,
}

impl SettingsArgs {
    /// The run settings these arguments give, for runs started by `trigger`.
    pub fn lower(&self, trigger: &str) -> RunSettings {
        RunSettings {
            warehouse: self.warehouse.clone(),
            policy: self.policy.clone(),
            partners: self.partners.clone(),
            signing_key: self.signing_key.clone(),
            unsigned: self.unsigned,
            limits: self.engine.limits(),
            engine: self.engine_kind.clone(),
            engine_scratch: self.engine_scratch.clone(),
            max_reject_share: self.max_reject_share,
            validation_plans: self.validation_plans,
            plans_make_tables: self.plans_make_tables,
            trigger: trigger.to_string(),
        }
    }
}

#[derive(Args)]
pub struct GenArgs {
    #[arg(long)]
    pub warehouse: PathBuf,
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub entities: u64,
    /// Nightly partitions, ending at --as-of.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=366))]
    pub days: u32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long)]
    pub as_of: AsOf,
    /// Share of rows that break a rule of the contract, from 0 to 1.
    #[arg(long, default_value_t = 0.0, value_parser = parse_share)]
    pub bad_rate: f64,
    /// Mean violations of an entity, from 0 to 100.
    #[arg(long, default_value_t = 1.5, value_parser = parse_per_entity)]
    pub violations_per_entity: f64,
    /// Mean complaints of an entity, from 0 to 100.
    #[arg(long, default_value_t = 1.0, value_parser = parse_per_entity)]
    pub complaints_per_entity: f64,
    /// Entities per file.
    #[arg(long, default_value_t = 250_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub chunk: u64,
}

impl GenArgs {
    pub fn options(&self) -> GenOptions {
        let mut o = GenOptions::new(self.entities, self.days, self.seed, self.as_of);
        o.bad_rate = self.bad_rate;
        o.violations_per_entity = self.violations_per_entity;
        o.complaints_per_entity = self.complaints_per_entity;
        o.chunk = self.chunk;
        o
    }
}

/// `s` as a `kind` ("an integer", "a number") within `range`, or what it is not.
fn ranged<T>(s: &str, range: std::ops::RangeInclusive<T>, kind: &str) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    s.parse::<T>()
        .ok()
        .filter(|v| range.contains(v))
        .ok_or_else(|| format!("'{s}' is not {kind} from {} to {}", range.start(), range.end()))
}

/// Connections open at once per listener: from 1 to 65536.
fn parse_connections(s: &str) -> Result<usize, String> {
    ranged(s, 1..=65_536, "an integer")
}

/// Worker threads: from 1 to 256, as a job file's `threads`.
fn parse_threads(s: &str) -> Result<usize, String> {
    ranged(s, 1..=256, "an integer")
}

/// A share of rows: a number from 0 to 1.
fn parse_share(s: &str) -> Result<f64, String> {
    ranged(s, 0.0..=1.0, "a number")
}

/// A mean count of records per entity: a number from 0 to 100.
fn parse_per_entity(s: &str) -> Result<f64, String> {
    ranged(s, 0.0..=100.0, "a number")
}

fn parse_size(s: &str) -> Result<usize, clap::Error> {
    credence::config::job::parse_size(s).ok_or_else(|| {
        clap::Error::raw(
            clap::error::ErrorKind::ValueValidation,
            format!("'{s}' is not {}\n", credence::config::job::SIZE_RULE),
        )
    })
}

#[derive(Args)]
pub struct ImpactArgs {
    #[arg(long, default_value = "warehouse")]
    pub warehouse: PathBuf,
    #[arg(long)]
    pub as_of: AsOf,
    /// The policy to assess.
    #[arg(long)]
    pub policy: PathBuf,
    /// The policy to compare with (default: the embedded policy, which must be
    /// the one of the newest successful run).
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// The regulator's public key: the publications in force are checked with it.
    #[arg(long, env = "CREDENCE_PUBLIC_KEY")]
    pub public_key: Option<PathBuf>,
    /// Also follow list sizes over the K newest as-of dates with landing data.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=366))]
    pub nights: u32,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Args)]
pub struct DemoArgs {
    #[arg(long, default_value = "warehouse")]
    pub warehouse: PathBuf,
    #[arg(long, default_value_t = 3000, value_parser = clap::value_parser!(u64).range(1..))]
    pub entities: u64,
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=366))]
    pub days: u32,
    #[arg(long, default_value = "2026-11-27")]
    pub as_of: AsOf,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Share of generated rows that break a rule, to show the quarantine (0 to 1).
    #[arg(long, default_value_t = 0.003, value_parser = parse_share)]
    pub bad_rate: f64,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Args)]
pub struct BenchArgs {
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub entities: u64,
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=366))]
    pub days: u32,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Where the generated warehouse is kept between runs (default: target/bench/<entities>x<days>).
    #[arg(long)]
    pub warehouse: Option<PathBuf>,
    /// Generate again even if a warehouse with these parameters exists.
    #[arg(long)]
    pub regenerate: bool,
    /// Also time validation's DataFusion plans on the same landing zone
    /// (and check that they agree with the native validation).
    #[arg(long)]
    pub validation_plans: bool,
    /// Run the nights with `--plans-make-tables`: every dataset judged by
    /// validation's plans, which make the run's tables.
    #[arg(long)]
    pub plans_make_tables: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}
