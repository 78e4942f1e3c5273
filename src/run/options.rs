//! How a run is configured, in two steps (as ripgrep lowers its flags): the
//! [`RunSettings`] the command line and job files say, unchecked paths and
//! numbers; and the [`RunOptions`] a run executes, with the policy,
//! partners and signing key loaded and checked. [`RunSettings::lower`] is
//! the only place that makes one from the other.

use std::path::PathBuf;
use std::sync::Arc;

use crate::base::contract::{ContractError, Contracts};
use crate::base::diagnostics::Problems;
use crate::base::engine::{EngineKind, EngineLimits};
use crate::base::error::{Classify, ErrorKind};
use crate::base::ids::AsOf;
use crate::base::sign::{SignError, Signer};
use crate::base::warehouse::Warehouse;
use crate::config::partners::{self, Partner};
use crate::config::policy::Policy;

/// The default share of rejected rows per dataset above which a run fails.
pub const DEFAULT_MAX_REJECT_SHARE: f64 = 0.05;

/// What the command line or a job file says about runs.
#[derive(Clone, Debug)]
pub struct RunSettings {
    pub warehouse: PathBuf,
    /// The policy file; the embedded `policies/online-market.yaml` when absent.
    pub policy: Option<PathBuf>,
    /// The partner entitlements; the embedded `ops/partners.yaml` when absent.
    pub partners: Option<PathBuf>,
    /// The minisign secret key; `CREDENCE_SIGNING_KEY` when absent.
    pub signing_key: Option<PathBuf>,
    /// Publish unsigned manifests (development warehouses only).
    pub unsigned: bool,
    pub limits: EngineLimits,
    /// Where the queries run: this process or a Ballista cluster.
    pub engine: EngineKind,
    /// Where the engine's scratch tables go; the warehouse's `.staging/` when absent.
    pub engine_scratch: Option<PathBuf>,
    pub max_reject_share: f64,
    /// Validation's DataFusion plans judge the rows too (a cross-check).
    pub validation_plans: bool,
    /// Every dataset is judged by its plans, which make the events' and
    /// holdings' tables (on a cluster, on the executors).
    pub plans_make_tables: bool,
    /// Who starts the runs: `manual`, `backfill`, `schedule:<job>`, `demo`.
    pub trigger: String,
}

/// What a run executes: every file loaded and checked.
#[derive(Clone)]
pub struct RunOptions {
    pub warehouse: Warehouse,
    pub as_of: AsOf,
    pub policy: Policy,
    pub limits: EngineLimits,
    pub engine: EngineKind,
    /// A folder every node of the engine sees, where the run's engine
    /// writes the tables its plans scan (under the warehouse's own
    /// subfolder, [`Warehouse::engine_scratch`]); the warehouse's
    /// `.staging/` when `None`. On a cluster it lets the executors write
    /// there while the warehouse stays read-only to them.
    pub engine_scratch: Option<PathBuf>,
    pub max_reject_share: f64,
    /// Validation's DataFusion plans judge the landing rows too; the run
    /// stops before the quarantine if they disagree with the native checks.
    pub validation_plans: bool,
    /// Every dataset is judged by its plans on the run's engine instead of
    /// by the native checks in this process; the plans write the events'
    /// tables where they run, and the registry's accepted rows are still
    /// read here, where its entities are numbered and its mart written
    /// (as are the events' records marts).
    pub plans_make_tables: bool,
    /// Who started the run: `manual`, `schedule`, `backfill`, ...
    pub trigger: String,
    /// The regulator's signing key; publishing without one needs `unsigned`.
    pub signer: Option<Arc<Signer>>,
    /// Publish unsigned manifests (development warehouses only).
    pub unsigned: bool,
    pub partners: Vec<Partner>,
}

#[cfg(test)]
impl RunOptions {
    /// The run tests start: unsigned, no partners, the default rejection
    /// threshold, triggered by `test`.
    pub(crate) fn unsigned_for_test(
        warehouse: Warehouse,
        as_of: AsOf,
        policy: Policy,
        limits: EngineLimits,
    ) -> RunOptions {
        RunOptions {
            warehouse,
            as_of,
            policy,
            limits,
            engine: EngineKind::Local,
            engine_scratch: None,
            max_reject_share: DEFAULT_MAX_REJECT_SHARE,
            validation_plans: false,
            plans_make_tables: false,
            trigger: "test".into(),
            signer: None,
            unsigned: true,
            partners: vec![],
        }
    }
}

/// A setting that does not hold: a policy, partners file or key that does
/// not load, a share outside (0, 1], publishing with no key.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The policy or the partners file.
    #[error(transparent)]
    Config(#[from] Problems),
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error(transparent)]
    Contracts(#[from] ContractError),
    #[error(transparent)]
    Warehouse(#[from] crate::base::warehouse::NoWarehouse),
    #[error("max_reject_share must be a number from 0 to 1, found {0}")]
    RejectShare(f64),
    #[error("engine scratch: must be a folder, found '{}'", .0.display())]
    EngineScratch(PathBuf),
    #[error(
        "engine scratch: must be outside the warehouse {} (without --engine-scratch its tables go to the warehouse's .staging/), found '{}'",
        .warehouse.display(),
        .scratch.display()
    )]
    EngineScratchInWarehouse { scratch: PathBuf, warehouse: PathBuf },
    #[error(
        "no signing key: set {} or pass --signing-key, or pass --unsigned for a development warehouse (the passphrase goes in {})",
        crate::base::sign::KEY_ENV,
        crate::base::sign::PASSWORD_ENV
    )]
    NoSigningKey,
    /// A cluster engine without the cluster's certificates.
    #[cfg(feature = "cluster")]
    #[error("engine {engine}: {tls}")]
    ClusterTls { engine: EngineKind, tls: crate::base::engine::tls::TlsError },
}

impl Classify for SettingsError {
    fn kind(&self) -> ErrorKind {
        match self {
            SettingsError::Sign(e) => e.kind(),
            SettingsError::Contracts(e) => e.kind(),
            _ => ErrorKind::Input,
        }
    }
}

/// Loads `file`, or the embedded default policy.
pub fn load_policy(file: Option<&std::path::Path>) -> Result<Policy, SettingsError> {
    let contracts = Contracts::load()?;
    Ok(match file {
        Some(f) => Policy::load(f, &contracts)?,
        None => Policy::default_policy(&contracts),
    })
}

impl RunSettings {
    /// Loads and checks everything the settings name; the runs it makes
    /// start as of `as_of`.
    pub fn lower(&self, as_of: AsOf) -> Result<RunOptions, SettingsError> {
        let warehouse = Warehouse::existing(&self.warehouse)?;
        if !(0.0..=1.0).contains(&self.max_reject_share) {
            return Err(SettingsError::RejectShare(self.max_reject_share));
        }
        if let Some(dir) = &self.engine_scratch {
            if dir.as_os_str().is_empty() || (dir.exists() && !dir.is_dir()) {
                return Err(SettingsError::EngineScratch(dir.clone()));
            }
            // Inside the warehouse it would put the engine's tables among
            // its marts and publications, and executors would need to
            // write the warehouse after all.
            let resolved = |p: &std::path::Path| std::fs::canonicalize(p).or_else(|_| std::path::absolute(p)).ok();
            if let (Some(scratch), Some(warehouse)) = (resolved(dir), resolved(&self.warehouse)) {
                if scratch.starts_with(&warehouse) {
                    return Err(SettingsError::EngineScratchInWarehouse { scratch: dir.clone(), warehouse });
                }
            }
        }
        let policy = load_policy(self.policy.as_deref())?;
        let lists: Vec<&str> = policy.lists.iter().map(|l| l.id.as_str()).collect();
        let partners = partners::load_or_default(self.partners.as_deref(), &lists)?;
        let signer = Signer::from_config(self.signing_key.clone())?.map(Arc::new);
        if signer.is_none() && !self.unsigned && !policy.lists.is_empty() {
            return Err(SettingsError::NoSigningKey);
        }
        // A cluster run is refused now, not after validation, when its
        // certificates are missing or unusable.
        #[cfg(feature = "cluster")]
        if let EngineKind::Ballista(_) = &self.engine {
            crate::base::engine::tls::ClusterTls::from_env()
                .map_err(|tls| SettingsError::ClusterTls { engine: self.engine.clone(), tls })?;
        }
        Ok(RunOptions {
            warehouse,
            as_of,
            policy,
            limits: self.limits,
            engine: self.engine.clone(),
            engine_scratch: self.engine_scratch.clone(),
            max_reject_share: self.max_reject_share,
            validation_plans: self.validation_plans,
            plans_make_tables: self.plans_make_tables,
            trigger: self.trigger.clone(),
            signer,
            unsigned: self.unsigned,
            partners,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(engine_scratch: Option<PathBuf>) -> RunSettings {
        RunSettings {
            // A folder that exists, outside the temporary folders the tests make.
            warehouse: crate::repo_root().join("tests"),
            policy: None,
            partners: None,
            signing_key: None,
            unsigned: true,
            limits: EngineLimits::default(),
            engine: EngineKind::Local,
            engine_scratch,
            max_reject_share: DEFAULT_MAX_REJECT_SHARE,
            validation_plans: false,
            plans_make_tables: false,
            trigger: "test".into(),
        }
    }

    #[test]
    fn an_engine_scratch_that_is_no_folder_or_inside_the_warehouse_is_refused_before_the_run() {
        let as_of: AsOf = "2026-11-27".parse().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        for bad in [file.clone(), PathBuf::new()] {
            let e = settings(Some(bad.clone())).lower(as_of).err().expect("refused");
            assert!(matches!(&e, SettingsError::EngineScratch(p) if *p == bad), "{e}");
            assert_eq!(e.kind(), ErrorKind::Input, "a setting to fix, not a failure to retry");
        }
        let warehouse = dir.path().join("w");
        std::fs::create_dir_all(warehouse.join("marts")).unwrap();
        for inside in [warehouse.clone(), warehouse.join("marts"), warehouse.join("new").join("folder")] {
            let settings = RunSettings { warehouse: warehouse.clone(), ..settings(Some(inside.clone())) };
            let e = settings.lower(as_of).err().expect("refused");
            assert!(matches!(&e, SettingsError::EngineScratchInWarehouse { scratch, .. } if *scratch == inside), "{e}");
            assert!(e.to_string().contains("must be outside the warehouse"), "{e}");
        }
        let missing = dir.path().join("made-by-the-run");
        assert_eq!(settings(Some(missing.clone())).lower(as_of).unwrap().engine_scratch, Some(missing));
        assert_eq!(settings(None).lower(as_of).unwrap().engine_scratch, None);
    }

    /// A mistyped warehouse is refused before anything is made there.
    #[test]
    fn a_warehouse_that_is_not_there_is_refused_before_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let typo = dir.path().join("warehous");
        let e = RunSettings { warehouse: typo.clone(), ..settings(None) }
            .lower("2026-11-27".parse().unwrap())
            .err()
            .expect("refused");
        assert!(e.to_string().starts_with(&format!("the warehouse {} does not exist", typo.display())), "{e}");
        assert_eq!(e.kind(), ErrorKind::Input);
        assert!(!typo.exists(), "nothing made");
    }
}
