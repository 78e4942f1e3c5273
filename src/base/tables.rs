//! The run's validated tables: what validation accepted (the newest
//! accepted version of each key, with each row's dense `entity_idx`), what
//! it rejected, and the data-quality figures. Validation makes them; the
//! quarantine, scoring and the graph read them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use arrow::array::{Array, RecordBatch, UInt64Array, UInt64Builder};
use arrow::datatypes::SchemaRef;
use rayon::prelude::*;
use serde::Serialize;

use crate::base::contract::{Contract, Dataset, FaultCode};
use crate::base::entities::EntityIndex;
use crate::base::ids::PersonId;
use crate::base::landing_file::{LandingFile, Selection};

/// The column a validated table adds: the entity's dense index.
pub const ENTITY_IDX: &str = "entity_idx";

/// A rejected row: its global row number (see [`keys`]), code and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    pub row: u64,
    pub code: FaultCode,
    pub message: String,
}

/// Rows read from one partition.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct PartitionRead {
    pub ingest_date: String,
    pub files: usize,
    pub rows: u64,
}

/// The data-quality figures of one dataset in one run.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct DatasetReport {
    pub dataset: String,
    pub partitions: Vec<PartitionRead>,
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    /// Accepted rows the run uses: the newest version of each key.
    pub rows_current: u64,
    pub rejected_by_code: BTreeMap<String, u64>,
}

impl DatasetReport {
    /// The figures of `contract`'s dataset: `read` rows of `selection`,
    /// of which `rejects` were rejected and `current` are used.
    pub fn new(
        contract: &Contract,
        selection: &Selection,
        rejects: &[Reject],
        current: u64,
        read: u64,
    ) -> DatasetReport {
        let mut rejected_by_code = BTreeMap::new();
        for r in rejects {
            *rejected_by_code.entry(r.code.as_str().to_string()).or_insert(0) += 1;
        }
        DatasetReport {
            dataset: contract.dataset.name().to_string(),
            partitions: selection
                .partitions
                .iter()
                .map(|p| PartitionRead { ingest_date: p.ingest_date.to_string(), files: p.files.len(), rows: p.rows() })
                .collect(),
            rows_read: read,
            rows_accepted: read - rejects.len() as u64,
            rows_rejected: rejects.len() as u64,
            rows_current: current,
            rejected_by_code,
        }
    }
}

/// A validated dataset: the current accepted rows with the columns asked
/// for (plus `entity_idx` where rows name a registered entity), and every
/// rejected row.
pub struct Validated {
    pub contract: Contract,
    pub selection: Selection,
    pub schema: SchemaRef,
    pub rows: Rows,
    pub report: DatasetReport,
    pub rejects: Vec<Reject>,
}

/// Where a validated table's rows are. The events, the largest tables, are
/// written to run-scoped files (a folder of Arrow IPC files) that the
/// engine scans under its memory pool, so that a run does not hold them;
/// the tables the graph and the lists read row by row stay in memory.
pub enum Rows {
    Memory(Vec<RecordBatch>),
    File {
        path: PathBuf,
        rows: usize,
    },
    /// Let go after their last reader (the holdings, once the graph is built).
    Released {
        rows: usize,
    },
}

impl Validated {
    pub fn num_rows(&self) -> usize {
        match &self.rows {
            Rows::Memory(batches) => batches.iter().map(|b| b.num_rows()).sum(),
            Rows::File { rows, .. } | Rows::Released { rows } => *rows,
        }
    }

    /// Lets the rows go from memory once their last reader is done; the
    /// report and the rejects stay.
    pub fn release(&mut self) {
        self.rows = Rows::Released { rows: self.num_rows() };
    }

    /// What `f` makes of every batch of the rows, in the rows' order: those
    /// held, or those of the table's files, each file read back one batch
    /// at a time on a core of its own.
    pub fn scan<T: Send>(&self, f: &(dyn Fn(&RecordBatch) -> T + Sync)) -> Result<Vec<T>, arrow::error::ArrowError> {
        match &self.rows {
            Rows::Memory(batches) => Ok(batches.par_iter().map(f).collect()),
            Rows::File { path, .. } => {
                let mut files: Vec<PathBuf> =
                    std::fs::read_dir(path)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
                files.retain(|p| p.extension().is_some_and(|x| x == "arrow"));
                files.sort();
                let per_file = files.par_iter().map(|file| {
                    let reader = arrow::ipc::reader::FileReader::try_new(std::fs::File::open(file)?, None)?;
                    reader.map(|batch| batch.map(|b| f(&b))).collect::<Result<Vec<T>, _>>()
                });
                Ok(per_file.collect::<Result<Vec<Vec<T>>, _>>()?.into_iter().flatten().collect())
            }
            Rows::Released { .. } => panic!("{} was read after its rows were released", self.contract.dataset),
        }
    }

    /// The same table with its rows held: read back if they are in files
    /// (the repairs the plans made, few, which the lists read after the
    /// plans' files are gone).
    pub fn into_held(self) -> Result<Validated, arrow::error::ArrowError> {
        match &self.rows {
            Rows::File { .. } => {
                let batches = self.scan(&|b| b.clone())?;
                Ok(Validated { rows: Rows::Memory(batches), ..self })
            }
            Rows::Memory(_) | Rows::Released { .. } => Ok(self),
        }
    }

    /// The rows of a table validation keeps in memory (the registry,
    /// holdings and repairs; see [`Rows`]).
    pub fn batches(&self) -> &[RecordBatch] {
        match &self.rows {
            Rows::Memory(batches) => batches,
            Rows::File { path, .. } => {
                panic!("{} was written to {} for the engine, not kept in memory", self.contract.dataset, path.display())
            }
            Rows::Released { .. } => panic!("{} was read after its rows were released", self.contract.dataset),
        }
    }
}

/// Where a global row lives: the file and the row within it.
pub fn locate_row(selection: &Selection, row: u64) -> (&LandingFile, u64) {
    let mut start = 0u64;
    for f in selection.files() {
        if row < start + f.rows {
            return (f, row - start);
        }
        start += f.rows;
    }
    panic!("row {row} beyond the selection");
}

/// A share one registered entity holds in another, by dense indexes:
/// `(holder, owned, share_pct)`. The one thing the run reads of the
/// holdings after validation (the joint-sanction graph's ownership edges):
/// a share held by a person, or by an entity outside the registry
/// snapshot, can never extend a listing.
pub type Share = (u32, u32, f64);

/// Each entity's legal representative (`legal_rep_id`) by dense index,
/// null for none: 8 bytes an entity instead of the text's 21.
#[derive(Clone, Debug)]
pub struct LegalReps(UInt64Array);

impl LegalReps {
    /// Packs `count` accepted person ids (`None`: no representative); the
    /// first text that is not a person id is returned instead.
    pub fn pack<'a>(texts: impl IntoIterator<Item = Option<&'a str>>, count: usize) -> Result<LegalReps, NotAPersonId> {
        let mut out = UInt64Builder::with_capacity(count);
        for t in texts {
            match t.map(|t| PersonId::parse(t).ok_or(t)).transpose() {
                Ok(p) => out.append_option(p.map(PersonId::bits)),
                Err(t) => return Err(NotAPersonId(t.to_string())),
            }
        }
        Ok(LegalReps(out.finish()))
    }

    /// The representatives at positions `order`, in that order.
    pub fn reordered(&self, order: &[u32]) -> LegalReps {
        let mut out = UInt64Builder::with_capacity(order.len());
        for p in order {
            let p = *p as usize;
            out.append_option(self.0.is_valid(p).then(|| self.0.value(p)));
        }
        LegalReps(out.finish())
    }

    /// Entity `entity`'s representative.
    pub fn of(&self, entity: u32) -> Option<PersonId> {
        let i = entity as usize;
        (i < self.0.len() && self.0.is_valid(i)).then(|| PersonId::from_bits(self.0.value(i)))
    }
}

/// A text that is not a person id where one was required.
#[derive(Debug, thiserror::Error)]
#[error("'{0}' is not a person id (P and 16 lowercase hex digits)")]
pub struct NotAPersonId(pub String);

/// The five validated datasets of a run.
pub struct Inputs {
    pub registry: Validated,
    pub entities: EntityIndex,
    /// The holdings' report and rejects; their rows are released once
    /// validation has turned them into [`Inputs::shares`].
    pub holdings: Validated,
    /// The accepted holdings between registered entities, in the holdings'
    /// row order.
    pub shares: Vec<Share>,
    /// Each entity's legal representative, packed: what the lists'
    /// restrictions read of the registry.
    pub legal_reps: LegalReps,
    /// Each entity's registered parent (`parent_id`) by dense index, or
    /// `u32::MAX`: the graph's branch edges, looked up while the index
    /// still has its hash table.
    pub parents: Vec<u32>,
    pub violations: Validated,
    pub complaints: Validated,
    pub repairs: Validated,
    /// The run-scoped folder of the tables written for the engine
    /// ([`Rows::File`]), removed with the inputs.
    pub scratch: Option<tempfile::TempDir>,
}

impl Inputs {
    pub fn all(&self) -> [&Validated; 5] {
        [&self.registry, &self.holdings, &self.violations, &self.complaints, &self.repairs]
    }

    pub fn get(&self, dataset: Dataset) -> &Validated {
        match dataset {
            Dataset::Registry => &self.registry,
            Dataset::Holdings => &self.holdings,
            Dataset::Violations => &self.violations,
            Dataset::Complaints => &self.complaints,
            Dataset::Repairs => &self.repairs,
        }
    }
}

/// The data-quality report of a run: per dataset, rows read, accepted and
/// rejected by code.
#[derive(Clone, Debug, Serialize)]
pub struct QualityReport {
    pub as_of: String,
    pub max_reject_share: f64,
    pub datasets: Vec<DatasetReport>,
}

impl QualityReport {
    /// The datasets whose rejected rows exceed the allowed share of the rows
    /// read, with their counts.
    pub fn over_threshold(&self) -> Vec<&DatasetReport> {
        self.datasets
            .iter()
            .filter(|d| d.rows_read > 0 && d.rows_rejected as f64 > self.max_reject_share * d.rows_read as f64)
            .collect()
    }

    /// Rejected rows by code over all datasets.
    pub fn rejected_by_code(&self) -> BTreeMap<String, u64> {
        let mut all = BTreeMap::new();
        for d in &self.datasets {
            for (code, n) in &d.rejected_by_code {
                *all.entry(code.clone()).or_insert(0) += n;
            }
        }
        all
    }
}

#[cfg(test)]
mod legal_reps_tests {
    use arrow::array::StringArray;

    use super::*;

    #[test]
    fn representatives_read_in_one_order_are_put_in_another() {
        let texts = StringArray::from(vec![Some("P0000000000000001"), None, Some("P0000000000000003")]);
        let reps = LegalReps::pack(texts.iter(), texts.len()).unwrap().reordered(&[2, 0, 1]);
        let shown: Vec<Option<String>> = (0..3).map(|e| reps.of(e).map(|p| p.to_string())).collect();
        assert_eq!(shown, [Some("P0000000000000003".to_string()), Some("P0000000000000001".to_string()), None]);
    }

    #[test]
    fn representatives_pack_by_index_and_a_text_that_is_not_a_person_id_is_named() {
        let texts = StringArray::from(vec![Some("P0a1b2c3d4e5f6a7b"), None, Some("Pffffffffffffffff")]);
        let reps = LegalReps::pack(texts.iter(), texts.len()).unwrap();
        let shown: Vec<Option<String>> = (0..4).map(|e| reps.of(e).map(|p| p.to_string())).collect();
        assert_eq!(shown, [Some("P0a1b2c3d4e5f6a7b".into()), None, Some("Pffffffffffffffff".into()), None]);
        let err =
            LegalReps::pack(StringArray::from(vec![Some("P0a1b2c3d4e5f6a7b"), Some("P12")]).iter(), 2).unwrap_err();
        assert_eq!(err.to_string(), "'P12' is not a person id (P and 16 lowercase hex digits)");
    }
}

#[cfg(test)]
mod threshold_tests {
    use super::*;

    fn report(share: f64, read: u64, rejected: u64) -> QualityReport {
        let d = DatasetReport {
            dataset: "registry".into(),
            partitions: vec![],
            rows_read: read,
            rows_accepted: read - rejected,
            rows_rejected: rejected,
            rows_current: read - rejected,
            rejected_by_code: BTreeMap::new(),
        };
        QualityReport { as_of: "2026-11-27".into(), max_reject_share: share, datasets: vec![d] }
    }

    /// datasets.md: a run fails when a dataset's rejected rows are *more
    /// than* its allowed share of the rows read; exactly the share passes.
    #[test]
    fn a_run_fails_only_above_the_allowed_share() {
        assert!(report(0.05, 20, 1).over_threshold().is_empty(), "1 of 20 is exactly 5%");
        assert_eq!(report(0.05, 20, 2).over_threshold().len(), 1);
        assert!(report(0.0, 20, 0).over_threshold().is_empty(), "no rejects never fail");
        assert_eq!(report(0.0, 20, 1).over_threshold().len(), 1, "a share of 0 allows none");
        assert!(report(1.0, 20, 20).over_threshold().is_empty(), "a share of 1 allows all");
        assert!(report(0.05, 0, 0).over_threshold().is_empty(), "an absent dataset");
    }
}
